/* send.c - sending from a mailbox: to a pid or a registered name, on
 * this node or another. Like Erlang's `!`, a send returns once the
 * message is queued; a connection is dialled first when there is none. */
#include "node_int.h"

#include <string.h>

#include "ctrl.h"
#include "dflags.h"

static int ctrl_code(int rc)
{
    return rc == EN_CTRL_ENOMEM ? ENODE_ENOMEM : ENODE_EBADTERM;
}

int en_send_locked(enode_t *n, const erlang_pid *from, const erlang_pid *to,
                   const char *msg, size_t len)
{
    en_conn_t *c;
    int rc;

    if (en_is_local_node(n, to->node)) {
        struct enode_mbox *mb = en_mbox_by_pid(n, to);
        return mb ? en_mbox_deliver(mb, from, NULL, msg, len) : 0;
    }
    c = en_conn_get(n, to->node);
    if (!c)
        return ENODE_ECONN;
    /* SEND_SENDER only once we know the peer negotiated it. */
    int sender = c->phase == EN_PH_UP && (c->flags & EN_DFLAG_SEND_SENDER);
    rc = en_ctrl_send(en_conn_sendbuf(c), en_conn_wire(c), sender, from,
                      to, msg, len);
    if (rc < 0) {
        en_set_error(n, "cannot send: %s", en_ctrl_strerror(rc));
        return ctrl_code(rc);
    }
    en_conn_kick(c);
    return 0;
}

int en_reg_send_locked(enode_t *n, const erlang_pid *from,
                       const char *node_name, const char *name,
                       const char *msg, size_t len)
{
    en_conn_t *c;
    int rc;
    char why[200];

    /* before dialling: no node could take it */
    if (en_name_too_long("registered name", name, why, sizeof why)) {
        en_set_error(n, "cannot send: %s", why);
        return ENODE_EINVAL;
    }
    if (en_is_local_node(n, node_name)) {
        struct enode_mbox *mb = en_mbox_by_name(n, name);
        return mb ? en_mbox_deliver(mb, from, name, msg, len) : 0;
    }
    c = en_conn_get(n, node_name);
    if (!c)
        return ENODE_ECONN;
    rc = en_ctrl_reg_send(en_conn_sendbuf(c), en_conn_wire(c), from, name,
                          msg, len);
    if (rc < 0) {
        en_set_error(n, "cannot send: %s", en_ctrl_strerror(rc));
        return ctrl_code(rc);
    }
    en_conn_kick(c);
    return 0;
}

int enode_send(enode_mbox_t *from, const erlang_pid *to, const ei_x_buff *msg)
{
    enode_t *n = from->node;

    if (!to || !msg || msg->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->lock);
    int rc = en_send_locked(n, &from->pid, to, msg->buff, (size_t)msg->index);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int enode_reg_send(enode_mbox_t *from, const char *node_name,
                   const char *name, const ei_x_buff *msg)
{
    enode_t *n = from->node;

    if (!name || !*name || !msg || msg->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->lock);
    int rc = en_reg_send_locked(n, &from->pid, node_name, name, msg->buff,
                                (size_t)msg->index);
    pthread_mutex_unlock(&n->lock);
    return rc;
}
