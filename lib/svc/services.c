/* services.c - the answers every real node gives (PROTOCOL.md section 7).
 *
 *  net_kernel          {'$gen_call', {Pid, Tag}, {is_auth, Node}} -> yes,
 *                      which makes net_adm:ping/1 say pong;
 *  rex                 {Pid, features_request} -> {features_reply, Node, []},
 *                      and the call forms of rpc (see rpc.c);
 *  global_name_server  enode's part in OTP's global: see global.c.
 */
#include "node/node_int.h"

#include <string.h>

/* {Tag, Reply}: the gen:call reply, with the tag copied as it came
 * (it may be [alias|Ref]). */
static void reply_gen_call(en_conn_t *c, const erlang_pid *caller,
                           const char *tag, int tag_len, const char *reply)
{
    ei_x_buff x;

    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 2) == 0 &&
        ei_x_append_buf(&x, tag, tag_len) == 0 &&
        ei_x_encode_atom(&x, reply) == 0)
        en_send_locked(c->node, &c->node->system_pid, caller, x.buff,
                       (size_t)x.index);
    ei_x_free(&x);
}

static void net_kernel(en_conn_t *c, const char *msg, size_t len)
{
    erlang_pid caller;
    char atom[MAXATOMLEN_UTF8];
    int tag_at, tag_len, i, arity;

    if (en_parse_gen_call(msg, len, &caller, &tag_at, &tag_len, &i) < 0) {
        en_log(c->node, ENODE_LOG_DEBUG,
               "net_kernel: a message from %s that is no call; dropped",
               c->peer);
        return;
    }
    if (ei_decode_tuple_header(msg, &i, &arity) == 0 && arity == 2 &&
        ei_decode_atom(msg, &i, atom) == 0 && strcmp(atom, "is_auth") == 0) {
        reply_gen_call(c, &caller, msg + tag_at, tag_len, "yes");
        return;
    }
    en_log(c->node, ENODE_LOG_INFO,
           "net_kernel: a call from %s that enode does not serve; ignored",
           c->peer);
}

/* The result rpc:call gives for a {call, M, F, Args, GL} at buf[*i]:
 * the value, or {badrpc, {'EXIT', ...}}, into x. -1 if not a call. */
static int rex_call_result(enode_t *n, const char *buf, int *i, size_t len,
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
    int kind = en_rpc_apply(n, m, f, buf + args_at, end - args_at, &body);
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
static void rex_plain(en_conn_t *c, const char *msg, size_t len,
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
        ei_x_encode_atom(&x, c->node->name);
        ei_x_encode_empty_list(&x);
    } else {
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "rex");
        if (rex_call_result(c->node, msg, &i, len, &x) < 0) {
            en_log(c->node, ENODE_LOG_INFO,
                   "rex: a request from %s that enode does not serve; "
                   "ignored", c->peer);
            ei_x_free(&x);
            return;
        }
    }
    en_send_locked(c->node, &c->node->system_pid, caller, x.buff,
                   (size_t)x.index);
    ei_x_free(&x);
}

static void rex(en_conn_t *c, const char *msg, size_t len)
{
    erlang_pid caller;
    int i = 0, arity, tag_at, tag_len;
    ei_x_buff x;

    if (en_parse_gen_call(msg, len, &caller, &tag_at, &tag_len, &i) == 0) {
        /* gen_server:call(rex, {call, ...}) -> {Tag, Result} */
        if (ei_x_new_with_version(&x) < 0)
            return;
        ei_x_encode_tuple_header(&x, 2);
        ei_x_append_buf(&x, msg + tag_at, tag_len);
        if (rex_call_result(c->node, msg, &i, len, &x) == 0)
            en_send_locked(c->node, &c->node->system_pid, &caller, x.buff,
                           (size_t)x.index);
        ei_x_free(&x);
        return;
    }
    i = 0;
    if (ei_decode_tuple_header(msg, &i, &arity) == 0 && arity == 2 &&
        ei_decode_pid(msg, &i, &caller) == 0)
        rex_plain(c, msg, len, &caller, i);
    else
        en_log(c->node, ENODE_LOG_INFO,
               "rex: a message from %s that enode does not serve; ignored",
               c->peer);
}

int en_services_handle(en_conn_t *c, const erlang_pid *from, const char *name,
                       const char *msg, size_t len)
{
    (void)from;
    if (strcmp(name, "net_kernel") == 0) {
        net_kernel(c, msg, len);
        return 1;
    }
    if (strcmp(name, "rex") == 0) {
        rex(c, msg, len);
        return 1;
    }
    if (strcmp(name, "global_name_server") == 0) {
        en_global_handle(c, msg, len);
        return 1;
    }
    return 0;
}
