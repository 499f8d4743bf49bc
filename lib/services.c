/* services.c - the answers every real node gives (PROTOCOL.md section 7).
 *
 *  net_kernel          {'$gen_call', {Pid, Tag}, {is_auth, Node}} -> yes,
 *                      which makes net_adm:ping/1 say pong;
 *  rex                 {Pid, features_request} -> {features_reply, Node, []};
 *  global_name_server  init_connect is logged and ignored: enode takes no
 *                      part in global's name registry (yet).
 */
#include "node_int.h"

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

static void rex(en_conn_t *c, const char *msg)
{
    erlang_pid caller;
    char atom[MAXATOMLEN_UTF8];
    int i = 0, arity;
    ei_x_buff x;

    if (ei_decode_tuple_header(msg, &i, &arity) < 0 || arity != 2 ||
        ei_decode_pid(msg, &i, &caller) < 0 ||
        ei_decode_atom(msg, &i, atom) < 0 ||
        strcmp(atom, "features_request") != 0) {
        en_log(c->node, ENODE_LOG_INFO,
               "rex: a request from %s that enode does not serve; ignored",
               c->peer);
        return;
    }
    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 3) == 0 &&
        ei_x_encode_atom(&x, "features_reply") == 0 &&
        ei_x_encode_atom(&x, c->node->name) == 0 &&
        ei_x_encode_empty_list(&x) == 0)
        en_send_locked(c->node, &c->node->system_pid, &caller, x.buff,
                       (size_t)x.index);
    ei_x_free(&x);
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
        rex(c, msg);
        return 1;
    }
    if (strcmp(name, "global_name_server") == 0) {
        en_log(c->node, ENODE_LOG_DEBUG,
               "global_name_server: message from %s ignored (enode does not "
               "take part in global)", c->peer);
        return 1;
    }
    return 0;
}
