/* rpc.c - Erlang calling C functions: the table, and erpc's spawn
 * requests.
 *
 * Since OTP 23, rpc:call and erpc:call spawn erpc:execute_call/4 on the
 * target node with a monitor (SPAWN_REQUEST), and wait for the DOWN of
 * that monitor, whose reason carries the result: {ResRef, return, Value},
 * or {ResRef, error, Reason, Stack} and the like. enode answers such a
 * request by calling the C function registered for Module:Function:
 * SPAWN_REPLY with a fresh pid, then MONITOR_P_EXIT with the result, as if
 * a process had run the call and exited.
 *
 * The older protocol of the `rex` server, {Caller, {call, M, F, A, GL}}
 * and its gen_server form, which ei_rpc() speaks, is answered from the
 * same table (rex.c).
 */
#include "svc/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct en_rpc_fn {
    struct en_rpc_fn *next;
    char module[MAXATOMLEN_UTF8], function[MAXATOMLEN_UTF8];
    enode_rpc_fn fn;
    void *user;
};

int en_rpc_register_locked(en_rpc_t *r, const char *module,
                           const char *function, enode_rpc_fn fn, void *user)
{
    struct en_rpc_fn *f;

    if (!module || !function || !fn || strlen(module) >= MAXATOMLEN_UTF8 ||
        strlen(function) >= MAXATOMLEN_UTF8)
        return ENODE_EINVAL;
    if (!(f = calloc(1, sizeof *f)))
        return ENODE_ENOMEM;
    strcpy(f->module, module);
    strcpy(f->function, function);
    f->fn = fn;
    f->user = user;
    f->next = r->fns;
    r->fns = f;
    return 0;
}

void en_rpc_free(en_rpc_t *r)
{
    while (r->fns) {
        struct en_rpc_fn *f = r->fns;
        r->fns = f->next;
        free(f);
    }
}

static struct en_rpc_fn *find_fn(en_rpc_t *r, const char *m, const char *f)
{
    for (struct en_rpc_fn *fn = r->fns; fn; fn = fn->next)
        if (strcmp(fn->module, m) == 0 && strcmp(fn->function, f) == 0)
            return fn;
    return NULL;
}

/* Encode {M, F, Args, []}, the stack frame of an undefined function. */
static void encode_undef_frame(ei_x_buff *x, const char *m, const char *f,
                               const char *args, int args_len)
{
    ei_x_encode_list_header(x, 1);
    ei_x_encode_tuple_header(x, 4);
    ei_x_encode_atom(x, m);
    ei_x_encode_atom(x, f);
    ei_x_append_buf(x, args, args_len);
    ei_x_encode_empty_list(x);
    ei_x_encode_empty_list(x);
}

/* Erlang sends a list of small integers, such as [2, 3], as a string
 * (STRING_EXT), which ei_decode_list_header refuses: rewrite it as the
 * list of integers it is, so that functions see one shape. */
static int as_proper_list(const char *args, ei_x_buff *list)
{
    int i = 0, type, size;
    char *bytes;

    if (ei_get_type(args, &i, &type, &size) < 0 || type != ERL_STRING_EXT)
        return 0;
    if (!(bytes = malloc((size_t)size + 1)) ||
        ei_decode_string(args, &i, bytes) < 0 || ei_x_new(list) < 0) {
        free(bytes);
        return -1;
    }
    ei_x_encode_list_header(list, size);
    for (int k = 0; k < size; k++)
        ei_x_encode_long(list, (unsigned char)bytes[k]);
    ei_x_encode_empty_list(list);
    free(bytes);
    return 1;
}

int en_rpc_apply(en_rpc_t *rpc, const char *m, const char *f,
                 const char *args, int args_len, ei_x_buff *out)
{
    struct en_rpc_fn *r = find_fn(rpc, m, f);
    pthread_mutex_t *lock = &rpc->proc->core->lock;
    int i = 0, arity, rc;
    ei_x_buff result, list;

    if (!r) {
        encode_undef_frame(out, m, f, args, args_len);
        return EN_RPC_UNDEF;
    }
    int rewritten = as_proper_list(args, &list);
    if (rewritten > 0)
        args = list.buff;
    if (rewritten < 0 || ei_decode_list_header(args, &i, &arity) < 0) {
        if (rewritten > 0)
            ei_x_free(&list);
        ei_x_encode_atom(out, "badarg");
        return EN_RPC_ERROR;
    }
    if (ei_x_new_with_version(&result) < 0) {
        if (rewritten > 0)
            ei_x_free(&list);
        return EN_RPC_ERROR;
    }
    /* The function may call back into the node (to send, say), so it
     * runs without the node's lock; what it reads lies in the packet,
     * which only this thread touches. */
    pthread_mutex_unlock(lock);
    rc = r->fn(r->user, args, i, arity, &result);
    pthread_mutex_lock(lock);
    ei_x_append_buf(out, result.buff + 1, result.index - 1);
    ei_x_free(&result);
    if (rewritten > 0)
        ei_x_free(&list);
    return rc == 0 ? EN_RPC_RETURN : EN_RPC_ERROR;
}

/* ---- erpc: SPAWN_REQUEST of erpc:execute_call/4 --------------------------- */

/* The reason the pretend process exits with: {ResRef, return, Value},
 * {ResRef, error, Reason, []}, or undef as erpc reports it. */
static int call_reason(en_rpc_t *r, const char *argl, size_t len,
                       ei_x_buff *reason)
{
    char m[MAXATOMLEN_UTF8], f[MAXATOMLEN_UTF8];
    int i = 0, arity, ref_at, ref_end, args_at, end;
    ei_x_buff body;

    if (ei_decode_list_header(argl, &i, &arity) < 0 || arity != 4)
        return -1;
    ref_at = i;
    if (ei_skip_term(argl, &i) < 0)
        return -1;
    ref_end = i;
    if (ei_decode_atom(argl, &i, m) < 0 || ei_decode_atom(argl, &i, f) < 0)
        return -1;
    args_at = end = i;
    if (ei_skip_term(argl, &end) < 0 || (size_t)end > len)
        return -1;
    if (ei_x_new(&body) < 0)
        return -1;
    int kind = en_rpc_apply(r, m, f, argl + args_at, end - args_at, &body);
    ei_x_new_with_version(reason);
    ei_x_encode_tuple_header(reason, kind == EN_RPC_RETURN ? 3 : 4);
    ei_x_append_buf(reason, argl + ref_at, ref_end - ref_at);
    ei_x_encode_atom(reason, kind == EN_RPC_RETURN ? "return" : "error");
    if (kind == EN_RPC_UNDEF) {
        ei_x_encode_atom(reason, "undef");
        ei_x_append_buf(reason, body.buff, body.index);
    } else {
        ei_x_append_buf(reason, body.buff, body.index);
        if (kind != EN_RPC_RETURN)
            ei_x_encode_empty_list(reason);
    }
    ei_x_free(&body);
    return 0;
}

/* Whether the spawn options ask for a monitor or a link. */
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
            ei_skip_term(opts, &i);
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

/* Answer a SPAWN_REQUEST (erpc:call) from c's peer. */
static void spawn_request(void *ud, en_conn_t *c, const en_dmsg_t *m)
{
    en_rpc_t *r = ud;
    en_proc_t *p = r->proc;
    erlang_pid worker;
    ei_x_buff pid_term, reason;

    if (strcmp(m->spawn_module, "erpc") != 0 ||
        strcmp(m->spawn_function, "execute_call") != 0 ||
        m->spawn_arity != 4 || !m->msg) {
        en_core_log(p->core, ENODE_LOG_INFO,
                    "%s asked to spawn %s:%s/%ld; enode runs only erpc calls",
                    en_conn_peer(c), m->spawn_module, m->spawn_function,
                    m->spawn_arity);
        reply_notsup(p, c, m);
        return;
    }
    long flags = spawn_flags(m->spawn_opts, m->spawn_opts_len);
    en_make_pid(p, &worker);
    ei_x_new_with_version(&pid_term);
    ei_x_encode_pid(&pid_term, &worker);
    en_sig_t reply = {.op = EN_DOP_SPAWN_REPLY, .ref = &m->ref,
                      .to = &m->from, .flags = flags, .msg = pid_term.buff,
                      .msg_len = (size_t)pid_term.index};
    en_emit_on(p, c, &reply);
    ei_x_free(&pid_term);
    if (call_reason(r, m->msg, m->msg_len, &reason) < 0) {
        en_core_log(p->core, ENODE_LOG_WARNING,
                    "a malformed erpc request from %s", m->from.node);
        en_atom_term(&reason, "badarg");
    }
    /* The connection may have gone while the function ran. */
    if (en_conn_is_up(c)) {
        en_sig_t down = {.op = EN_DOP_MONITOR_P_EXIT, .from = &worker,
                         .to = &m->from, .ref = &m->ref, .msg = reason.buff,
                         .msg_len = (size_t)reason.index};
        en_sig_t exit = {.op = EN_DOP_EXIT, .from = &worker, .to = &m->from,
                         .msg = reason.buff, .msg_len = (size_t)reason.index};
        if (flags & 2)
            en_emit_on(p, c, &down);
        if (flags & 1)
            en_emit_on(p, c, &exit);
    }
    ei_x_free(&reason);
}

int en_rpc_start(en_rpc_t *r, en_proc_t *p)
{
    r->proc = p;
    en_proc_on_spawn(p, spawn_request, r);
    return 0;
}
