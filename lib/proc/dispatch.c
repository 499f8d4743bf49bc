/* dispatch.c - what to do with a packet a connected peer sent.
 *
 * Messages go to mailboxes or to the built-in services; links, exit
 * signals and monitors to links.c and monitors.c, spawn requests (erpc)
 * to rpc.c. What enode does not handle (group leaders) is logged and
 * dropped.
 * Only a malformed packet costs the peer its connection, as it would with
 * an OTP node.
 */
#include "node/node_int.h"

#include <string.h>

#include "proto/ctrl.h"

static void to_pid(en_conn_t *c, const en_dmsg_t *m)
{
    enode_t *n = c->node;
    struct enode_mbox *mb = NULL;

    if (en_is_local_node(n, m->to_pid.node))
        mb = en_mbox_by_pid(n, &m->to_pid);
    if (!mb && en_global_to_pid(c, m))
        return; /* a reply to a call global.c made */
    if (!mb) {
        en_log(n, ENODE_LOG_DEBUG,
               "message from %s to <%s.%u.%u>, which is not here: dropped",
               c->peer, m->to_pid.node, m->to_pid.num, m->to_pid.serial);
        return;
    }
    if (en_mbox_deliver(mb, m->has_from ? &m->from : NULL, NULL, m->msg,
                        m->msg_len) < 0)
        en_log(n, ENODE_LOG_ERROR, "out of memory: a message from %s is lost",
               c->peer);
}

static void to_name(en_conn_t *c, const en_dmsg_t *m)
{
    enode_t *n = c->node;
    struct enode_mbox *mb = en_mbox_by_name(n, m->to_name);

    if (mb) {
        if (en_mbox_deliver(mb, m->has_from ? &m->from : NULL, m->to_name,
                            m->msg, m->msg_len) < 0)
            en_log(n, ENODE_LOG_ERROR,
                   "out of memory: a message from %s is lost", c->peer);
        return;
    }
    if (en_services_handle(c, m->has_from ? &m->from : NULL, m->to_name,
                           m->msg, m->msg_len))
        return;
    en_log(n, ENODE_LOG_DEBUG,
           "message from %s to '%s', which is not registered: dropped",
           c->peer, m->to_name);
}

/* A message to one of our mailboxes' aliases; dropped, like OTP does, if
 * the alias is no longer active. */
static void to_alias(en_conn_t *c, const en_dmsg_t *m)
{
    struct enode_mbox *mb = en_mbox_by_alias(c->node, &m->ref);

    if (!mb) {
        en_log(c->node, ENODE_LOG_DEBUG,
               "message from %s to an inactive alias: dropped", c->peer);
        return;
    }
    if (en_mbox_deliver(mb, m->has_from ? &m->from : NULL, NULL, m->msg,
                        m->msg_len) < 0)
        en_log(c->node, ENODE_LOG_ERROR,
               "out of memory: a message from %s is lost", c->peer);
}

void en_dispatch_packet(en_conn_t *c, const uint8_t *data, size_t len)
{
    en_dmsg_t m;
    char why[256];
    int rc = en_ctrl_decode(data, len, &m, why, sizeof why);

    if (rc == EN_CTRL_EMALFORMED) {
        en_conn_fail(c, ENODE_ECONN, "malformed packet from the peer: %s",
                     why);
        return;
    }
    if (rc < 0) {
        en_log(c->node, ENODE_LOG_WARNING,
               "from %s: %s; dropped", c->peer, why);
        return;
    }
    switch (m.op) {
    case EN_DOP_SEND:
    case EN_DOP_SEND_TT:
    case EN_DOP_SEND_SENDER:
    case EN_DOP_SEND_SENDER_TT:
        to_pid(c, &m);
        break;
    case EN_DOP_REG_SEND:
    case EN_DOP_REG_SEND_TT:
        to_name(c, &m);
        break;
    case EN_DOP_ALIAS_SEND:
    case EN_DOP_ALIAS_SEND_TT:
        to_alias(c, &m);
        break;
    case EN_DOP_SPAWN_REQUEST:
    case EN_DOP_SPAWN_REQUEST_TT:
        en_rpc_spawn_request(c, &m);
        break;
    default:
        if (en_links_dispatch(c, &m) || en_monitors_dispatch(c, &m))
            break;
        en_log(c->node, ENODE_LOG_DEBUG,
               "from %s: control message %d not handled yet; dropped",
               c->peer, m.op);
        break;
    }
}
