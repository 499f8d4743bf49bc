/* erpc.c - Erlang calling C through erpc: the spawn requests of
 * erpc:execute_call/4 and erpc:execute_cast/3.
 *
 * Since OTP 25, rpc:call, rpc:multicall, rpc:async_call and rpc:cast are
 * erpc's call, multicall, send_request and cast (rpc.erl), and all of
 * them spawn a process on the target node with spawn_request/5:
 *
 *   calls   erpc:execute_call(ResRef, M, F, Args) with [monitor]; the
 *           caller waits for the DOWN of that monitor, whose reason is
 *           {ResRef, return, Value}, or {ResRef, error, Reason, Stack}
 *           when the function failed (erpc.erl: execute_call/4);
 *   casts   erpc:execute_cast(M, F, Args) without options; nobody waits.
 *
 * enode answers as if a process had run the call and exited: SPAWN_REPLY
 * with a fresh pid, then the monitor's exit (and a link's, if asked for)
 * with the reason above; for a cast, SPAWN_REPLY, the call, and a log
 * line if it failed, where OTP writes an error report.
 */
#include "svc/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parts of an argument list [A1, ..., An] of n elements. */
typedef struct {
    const char *at[4];
    int len[4];
} args_t;

static int split_args(const char *argl, size_t len, int n, args_t *a)
{
    int i = 0, arity;

    if (ei_decode_list_header(argl, &i, &arity) < 0 || arity != n)
        return -1;
    for (int k = 0; k < n; k++) {
        a->at[k] = argl + i;
        if (ei_skip_term(argl, &i) < 0 || (size_t)i > len)
            return -1;
        a->len[k] = (int)(argl + i - a->at[k]);
    }
    return 0;
}

/* M:F(Args) from the last three of the parts; out as en_rpc_apply. */
static int apply_parts(en_rpc_t *r, const args_t *a, int first,
                       ei_x_buff *out, char *m, char *f)
{
    int i = 0, j = 0;

    if (en_decode_name(a->at[first], &i, m) < 0 ||
        en_decode_name(a->at[first + 1], &j, f) < 0)
        return -1;
    return en_rpc_apply(r, m, f, a->at[first + 2], a->len[first + 2], out);
}

/* The reason execute_call/4 exits with: {ResRef, return, Value} or
 * {ResRef, error, Reason, Stack}. */
static int call_reason(en_rpc_t *r, const char *argl, size_t len,
                       ei_x_buff *reason)
{
    char m[MAXATOMLEN_UTF8], f[MAXATOMLEN_UTF8];
    args_t a;
    ei_x_buff body;

    if (split_args(argl, len, 4, &a) < 0 || ei_x_new(&body) < 0)
        return -1;
    int kind = apply_parts(r, &a, 1, &body, m, f);
    if (kind < 0 || ei_x_new_with_version(reason) < 0) {
        ei_x_free(&body);
        return -1;
    }
    ei_x_encode_tuple_header(reason, kind == EN_RPC_RETURN ? 3 : 4);
    ei_x_append_buf(reason, a.at[0], a.len[0]);
    ei_x_encode_atom(reason, kind == EN_RPC_RETURN ? "return" : "error");
    ei_x_append_buf(reason, body.buff, body.index);
    ei_x_free(&body);
    return 0;
}

/* execute_cast/3: run the call; the reason the pretend process exits
 * with is `normal`, or {{exception, {Reason, Stack}}, Stack'} when the
 * function failed, as erpc:execute_cast raises it. */
static int cast_reason(en_rpc_t *r, const char *argl, size_t len,
                       const char *caller, ei_x_buff *reason)
{
    char m[MAXATOMLEN_UTF8], f[MAXATOMLEN_UTF8], *text = NULL;
    args_t a;
    ei_x_buff body;

    if (split_args(argl, len, 3, &a) < 0 || ei_x_new(&body) < 0)
        return -1;
    int kind = apply_parts(r, &a, 0, &body, m, f);
    if (kind < 0 || ei_x_new_with_version(reason) < 0) {
        ei_x_free(&body);
        return -1;
    }
    if (kind == EN_RPC_RETURN) {
        ei_x_encode_atom(reason, "normal");
    } else {
        int i = 0;
        ei_s_print_term(&text, body.buff, &i);
        en_core_log(r->proc->core, ENODE_LOG_WARNING,
                    "erpc:cast from %s: %.200s:%.200s failed: %.400s", caller,
                    m, f, text ? text : "?");
        free(text);
        ei_x_encode_tuple_header(reason, 2);
        ei_x_encode_tuple_header(reason, 2);
        ei_x_encode_atom(reason, "exception");
        ei_x_encode_tuple_header(reason, 2);
        ei_x_append_buf(reason, body.buff, body.index);
        ei_x_encode_list_header(reason, 1);
        ei_x_encode_tuple_header(reason, 4);
        ei_x_encode_atom(reason, "erpc");
        ei_x_encode_atom(reason, "execute_cast");
        ei_x_encode_long(reason, 3);
        ei_x_encode_empty_list(reason);
        ei_x_encode_empty_list(reason);
    }
    ei_x_free(&body);
    return 0;
}

/* Whether the spawn options ask for a link (1) or a monitor (2). */
static long spawn_flags(const char *opts, size_t len)
{
    long flags = 0;
    int i = 0, arity;
    char atom[MAXATOMLEN_UTF8];

    if (!opts || ei_decode_list_header(opts, &i, &arity) < 0)
        return 0;
    for (int k = 0; k < arity && (size_t)i < len; k++) {
        int at = i;
        if (ei_decode_atom(opts, &i, atom) == 0) {
            flags |= strcmp(atom, "link") == 0 ? 1 : 0;
            flags |= strcmp(atom, "monitor") == 0 ? 2 : 0;
        } else {
            i = at;
            if (ei_skip_term(opts, &i) < 0)
                break;
        }
    }
    return flags;
}

static void reply_notsup(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    ei_x_buff notsup;
    if (en_atom_term(&notsup, "notsup") < 0)
        return;
    en_sig_t sig = {.op = EN_DOP_SPAWN_REPLY, .ref = &m->ref, .to = &m->from,
                    .msg = notsup.buff, .msg_len = (size_t)notsup.index};
    en_emit_on(p, c, &sig);
    ei_x_free(&notsup);
}

/* SPAWN_REPLY with a fresh pid into *worker. */
static void reply_spawned(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m,
                          long flags, erlang_pid *worker)
{
    ei_x_buff pid_term;

    en_make_pid(p, worker);
    if (ei_x_new_with_version(&pid_term) < 0)
        return;
    ei_x_encode_pid(&pid_term, worker);
    en_sig_t reply = {.op = EN_DOP_SPAWN_REPLY, .ref = &m->ref,
                      .to = &m->from, .flags = flags, .msg = pid_term.buff,
                      .msg_len = (size_t)pid_term.index};
    en_emit_on(p, c, &reply);
    ei_x_free(&pid_term);
}

/* The pretend process exits: the monitor and the link fire. */
static void worker_exits(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m,
                         long flags, const erlang_pid *worker,
                         const ei_x_buff *reason)
{
    /* The connection may have gone while the function ran. */
    if (!en_conn_is_up(c))
        return;
    en_sig_t down = {.op = EN_DOP_MONITOR_P_EXIT, .from = worker,
                     .to = &m->from, .ref = &m->ref, .msg = reason->buff,
                     .msg_len = (size_t)reason->index};
    en_sig_t exit = {.op = EN_DOP_EXIT, .from = worker, .to = &m->from,
                     .msg = reason->buff, .msg_len = (size_t)reason->index};
    if (flags & 2)
        en_emit_on(p, c, &down);
    if (flags & 1)
        en_emit_on(p, c, &exit);
}

/* Answer a SPAWN_REQUEST from c's peer. */
static void spawn_request(void *ud, en_conn_t *c, const en_dmsg_t *m)
{
    en_rpc_t *r = ud;
    en_proc_t *p = r->proc;
    int is_call = strcmp(m->spawn_function, "execute_call") == 0 &&
                  m->spawn_arity == 4;
    int is_cast = strcmp(m->spawn_function, "execute_cast") == 0 &&
                  m->spawn_arity == 3;
    erlang_pid worker;
    ei_x_buff reason;

    if (strcmp(m->spawn_module, "erpc") != 0 || !(is_call || is_cast) ||
        !m->msg) {
        en_core_log(p->core, ENODE_LOG_INFO,
                    "%s asked to spawn %s:%s/%ld; enode runs only erpc calls",
                    en_conn_peer(c), m->spawn_module, m->spawn_function,
                    m->spawn_arity);
        reply_notsup(p, c, m);
        return;
    }
    long flags = spawn_flags(m->spawn_opts, m->spawn_opts_len);
    reply_spawned(p, c, m, flags, &worker);
    int rc = is_call ? call_reason(r, m->msg, m->msg_len, &reason)
                     : cast_reason(r, m->msg, m->msg_len, m->from.node,
                                   &reason);
    if (rc < 0) {
        en_core_log(p->core, ENODE_LOG_WARNING,
                    "a malformed erpc request from %s", m->from.node);
        if (en_atom_term(&reason, "badarg") < 0)
            return;
    }
    worker_exits(p, c, m, flags, &worker, &reason);
    ei_x_free(&reason);
}

void en_erpc_start(en_rpc_t *r)
{
    en_proc_on_spawn(r->proc, spawn_request, r);
}
