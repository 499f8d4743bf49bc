/* rex.c - the rex server of rpc, as OTP's rpc module and ei_rpc() speak
 * to it:
 *
 *   {Caller, features_request}      -> {features_reply, Node, []}
 *   {Caller, {call, M, F, Args, GL}} -> {rex, Result}        (ei_rpc, erl_call)
 *   {'$gen_call', {Pid, Tag}, {call, M, F, Args, GL}} -> {Tag, Result}
 *
 * Result is the C function's value, or {badrpc, {'EXIT', ...}} as
 * rpc:call reports a failure.
 */
#include "svc/rpc.h"

#include <string.h>

/* The result rpc:call gives for a {call, M, F, Args, GL} at buf[*i]:
 * the value, or {badrpc, {'EXIT', ...}}, into x. -1 if not a call. */
static int rex_call_result(en_rpc_t *r, const char *buf, int *i, size_t len,
                           ei_x_buff *x)
{
    char atom[MAXATOMLEN_UTF8], m[MAXATOMLEN_UTF8], f[MAXATOMLEN_UTF8];
    int arity, args_at, end;
    ei_x_buff body;

    if (ei_decode_tuple_header(buf, i, &arity) < 0 || arity != 5 ||
        ei_decode_atom(buf, i, atom) < 0 || strcmp(atom, "call") != 0 ||
        ei_decode_atom(buf, i, m) < 0 || ei_decode_atom(buf, i, f) < 0)
        return -1;
    args_at = end = *i;
    if (ei_skip_term(buf, &end) < 0 || (size_t)end > len || ei_x_new(&body) < 0)
        return -1;
    int kind = en_rpc_apply(r, m, f, buf + args_at, end - args_at, &body);
    if (kind == EN_RPC_RETURN) {
        ei_x_append_buf(x, body.buff, body.index);
    } else { /* {badrpc, {'EXIT', {Reason, Stack}}} */
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_atom(x, "badrpc");
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_atom(x, "EXIT");
        ei_x_encode_tuple_header(x, 2);
        if (kind == EN_RPC_UNDEF) {
            ei_x_encode_atom(x, "undef");
            ei_x_append_buf(x, body.buff, body.index);
        } else {
            ei_x_append_buf(x, body.buff, body.index);
            ei_x_encode_empty_list(x);
        }
    }
    ei_x_free(&body);
    return 0;
}

/* {Caller, features_request} -> {features_reply, Node, []};
 * {Caller, {call, M, F, A, GL}} -> {rex, Result}, as ei_rpc expects. */
static void rex_plain(en_rpc_t *r, const char *msg, size_t len,
                      const erlang_pid *caller, int i)
{
    char atom[MAXATOMLEN_UTF8];
    int at = i;
    ei_x_buff x;

    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_decode_atom(msg, &at, atom) == 0 &&
        strcmp(atom, "features_request") == 0) {
        ei_x_encode_tuple_header(&x, 3);
        ei_x_encode_atom(&x, "features_reply");
        ei_x_encode_atom(&x, r->proc->core->name);
        ei_x_encode_empty_list(&x);
    } else {
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "rex");
        if (rex_call_result(r, msg, &i, len, &x) < 0) {
            en_core_log(r->proc->core, ENODE_LOG_INFO,
                        "rex: a request from %s that enode does not serve; "
                        "ignored", caller->node);
            ei_x_free(&x);
            return;
        }
    }
    en_send_locked(r->proc, en_mbox_self(r->rex), caller, x.buff,
                   (size_t)x.index);
    ei_x_free(&x);
}

static void rex(void *ud, en_mbox_t *self, const erlang_pid *from,
                const char *msg, size_t len)
{
    en_rpc_t *r = ud;

    erlang_pid caller;
    int i = 0, arity, tag_at, tag_len;
    ei_x_buff x;

    if (en_parse_gen_call(msg, len, &caller, &tag_at, &tag_len, &i) == 0) {
        /* gen_server:call(rex, {call, ...}) -> {Tag, Result} */
        if (ei_x_new_with_version(&x) < 0)
            return;
        ei_x_encode_tuple_header(&x, 2);
        ei_x_append_buf(&x, msg + tag_at, tag_len);
        if (rex_call_result(r, msg, &i, len, &x) == 0)
            en_send_locked(r->proc, en_mbox_self(self), &caller, x.buff,
                           (size_t)x.index);
        ei_x_free(&x);
        return;
    }
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
