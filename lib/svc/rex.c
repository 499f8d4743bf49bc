/* rex.c - the rex server of rpc, as OTP's rpc module, ei_rpc() and
 * erl_call speak to it (rpc.erl: handle_call, handle_cast, handle_info):
 *
 *   {'$gen_call', From, {call, M, F, A, GL}}        -> {Tag, Result}
 *   {'$gen_call', From, {block_call, M, F, A, GL}}  -> {Tag, Result}
 *                                                      (rpc:block_call)
 *   {'$gen_cast', {cast, M, F, A, GL}}              runs, no answer
 *   {Caller, {call, M, F, A, GL}}                   -> {rex, Result}
 *                                                      (ei_rpc, erl_call)
 *   {Caller, {sbcast, Name, Msg}}   Name ! Msg     -> {rex, Node, Node}
 *   {Caller, {send, Name, Msg}}     Name ! {Caller, Msg}
 *       (both answer {rex, Node, {nonexisting_name, Name}} when no
 *        process is registered as Name: rpc:sbcast, multi_server_call)
 *   {Caller, features_request}      -> {features_reply, Node, [erpc]}
 *
 * Result is the function's value, or {badrpc, {'EXIT', {Reason, Stack}}}
 * as rpc reports a failure. Anything else rex ignores, as OTP's does.
 * enode runs every call on the loop's thread, so a call and a block_call
 * are the same here; the group leader GL is not used (C functions do no
 * Erlang I/O).
 */
#include "svc/rpc.h"

#include <string.h>

/* For {Op, M, F, Args, GL} at buf[*i] with Op `call` or `block_call`:
 * the result rpc:call gives, the value or {badrpc, {'EXIT', {Reason,
 * Stack}}}, into x. -1 if buf holds no such request. */
static int rex_call_result(en_rpc_t *r, const char *buf, int *i, size_t len,
                           int cast, ei_x_buff *x)
{
    char atom[MAXATOMLEN_UTF8], m[MAXATOMLEN_UTF8], f[MAXATOMLEN_UTF8];
    int arity, args_at, end;
    ei_x_buff body;

    if (ei_decode_tuple_header(buf, i, &arity) < 0 || arity != 5 ||
        ei_decode_atom(buf, i, atom) < 0 ||
        (cast ? strcmp(atom, "cast") != 0
              : strcmp(atom, "call") != 0 && strcmp(atom, "block_call") != 0) ||
        en_decode_name(buf, i, m) < 0 || en_decode_name(buf, i, f) < 0)
        return -1;
    args_at = end = *i;
    if (ei_skip_term(buf, &end) < 0 || (size_t)end > len || ei_x_new(&body) < 0)
        return -1;
    int kind = en_rpc_apply(r, m, f, buf + args_at, end - args_at, &body);
    if (kind != EN_RPC_RETURN) {
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_atom(x, "badrpc");
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_atom(x, "EXIT");
        ei_x_encode_tuple_header(x, 2); /* {Reason, Stack} */
    }
    ei_x_append_buf(x, body.buff, body.index);
    ei_x_free(&body);
    return 0;
}

static void send_to(en_rpc_t *r, const erlang_pid *to, ei_x_buff *x)
{
    en_send_locked(r->proc, en_mbox_self(r->rex), to, x->buff,
                   (size_t)x->index);
}

/* {rex, Node, What}: the answer of sbcast and send. */
static void reply_node(en_rpc_t *r, const erlang_pid *caller,
                       const char *missing)
{
    ei_x_buff x;

    if (ei_x_new_with_version(&x) < 0)
        return;
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "rex");
    en_encode_name(&x, r->proc->core->name);
    if (missing) {
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "nonexisting_name");
        en_encode_name(&x, missing);
    } else {
        en_encode_name(&x, r->proc->core->name);
    }
    send_to(r, caller, &x);
    ei_x_free(&x);
}

/* {Caller, {sbcast|send, Name, Msg}} at buf[i]: 0, or -1 if it is not. */
static int rex_relay(en_rpc_t *r, const char *buf, size_t len, int i,
                     const erlang_pid *caller)
{
    char op[MAXATOMLEN_UTF8], name[MAXATOMLEN_UTF8];
    int arity, msg_at, end;
    ei_x_buff x;

    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 3 ||
        ei_decode_atom(buf, &i, op) < 0 ||
        (strcmp(op, "sbcast") != 0 && strcmp(op, "send") != 0) ||
        en_decode_name(buf, &i, name) < 0)
        return -1;
    msg_at = end = i;
    if (ei_skip_term(buf, &end) < 0 || (size_t)end > len)
        return -1;
    int sbcast = strcmp(op, "sbcast") == 0;
    en_mbox_t *to = en_mbox_by_name(r->proc, name);
    if (!to || !en_pid_alive(r->proc, en_mbox_self(to))) {
        reply_node(r, caller, name);
        return 0;
    }
    if (ei_x_new_with_version(&x) < 0)
        return 0;
    if (!sbcast) { /* {Caller, Msg} */
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_pid(&x, caller);
    }
    ei_x_append_buf(&x, buf + msg_at, end - msg_at);
    en_reg_send_locked(r->proc, en_mbox_self(r->rex), NULL, name, x.buff,
                       (size_t)x.index);
    ei_x_free(&x);
    if (sbcast)
        reply_node(r, caller, NULL);
    return 0;
}

/* The messages {Caller, Request}. */
static void rex_plain(en_rpc_t *r, const char *msg, size_t len,
                      const erlang_pid *caller, int i)
{
    char atom[MAXATOMLEN_UTF8];
    int at = i;
    ei_x_buff x;

    if (rex_relay(r, msg, len, i, caller) == 0 ||
        ei_x_new_with_version(&x) < 0)
        return;
    if (ei_decode_atom(msg, &at, atom) == 0 &&
        strcmp(atom, "features_request") == 0) {
        ei_x_encode_tuple_header(&x, 3);
        ei_x_encode_atom(&x, "features_reply");
        en_encode_name(&x, r->proc->core->name);
        ei_x_encode_list_header(&x, 1);
        ei_x_encode_atom(&x, "erpc"); /* erpc.c serves spawn requests */
        ei_x_encode_empty_list(&x);
    } else {
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "rex");
        if (rex_call_result(r, msg, &i, len, 0, &x) < 0) {
            en_core_log(r->proc->core, ENODE_LOG_INFO,
                        "rex: a request from %s that enode does not serve; "
                        "ignored", caller->node);
            ei_x_free(&x);
            return;
        }
    }
    send_to(r, caller, &x);
    ei_x_free(&x);
}

/* gen_server:cast(rex, {cast, M, F, A, GL}): run it, answer nothing. */
static int rex_cast(en_rpc_t *r, const char *msg, size_t len)
{
    char atom[MAXATOMLEN_UTF8];
    int i = 0, arity;
    ei_x_buff ignored;

    if (ei_decode_tuple_header(msg, &i, &arity) < 0 || arity != 2 ||
        ei_decode_atom(msg, &i, atom) < 0 || strcmp(atom, "$gen_cast") != 0)
        return -1;
    if (ei_x_new(&ignored) == 0) {
        if (rex_call_result(r, msg, &i, len, 1, &ignored) < 0)
            en_core_log(r->proc->core, ENODE_LOG_INFO,
                        "rex: a cast that enode does not serve; ignored");
        ei_x_free(&ignored);
    }
    return 0;
}

static void rex(void *ud, en_mbox_t *self, const erlang_pid *from,
                const char *msg, size_t len)
{
    en_rpc_t *r = ud;
    erlang_pid caller;
    int i = 0, arity, tag_at, tag_len;
    ei_x_buff x;

    if (en_parse_gen_call(msg, len, &caller, &tag_at, &tag_len, &i) == 0) {
        /* gen_server:call(rex, {call|block_call, ...}) -> {Tag, Result};
         * other calls get no answer, as from OTP's rex. */
        if (ei_x_new_with_version(&x) < 0)
            return;
        ei_x_encode_tuple_header(&x, 2);
        ei_x_append_buf(&x, msg + tag_at, tag_len);
        if (rex_call_result(r, msg, &i, len, 0, &x) == 0)
            en_send_locked(r->proc, en_mbox_self(self), &caller, x.buff,
                           (size_t)x.index);
        ei_x_free(&x);
        return;
    }
    if (rex_cast(r, msg, len) == 0)
        return;
    i = 0;
    if (ei_decode_tuple_header(msg, &i, &arity) == 0 && arity == 2 &&
        ei_decode_pid(msg, &i, &caller) == 0)
        rex_plain(r, msg, len, &caller, i);
    else
        en_core_log(r->proc->core, ENODE_LOG_INFO,
                    "rex: a message from %s that enode does not serve; "
                    "ignored", from ? from->node : "an unknown sender");
}

int en_rex_start(en_rpc_t *r)
{
    return en_service_new(r->proc, "rex", rex, r, &r->rex);
}
