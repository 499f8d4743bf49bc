/* send.c - sending from a mailbox: to a pid, a registered name or an
 * alias, on this node or another. Like Erlang's `!`, a send returns once the
 * message is queued; a connection is dialled first when there is none. */
#include "proc/mbox.h"

#include <string.h>

int en_send_locked(en_proc_t *p, const erlang_pid *from, const erlang_pid *to,
                   const char *msg, size_t len)
{
    if (en_core_is_local(p->core, to->node)) {
        en_mbox_t *mb = en_mbox_by_pid(p, to);
        return mb ? en_mbox_deliver(mb, from, NULL, msg, len) : 0;
    }
    en_sig_t sig = {.op = EN_DOP_SEND, .from = from, .to = to, .msg = msg,
                    .msg_len = len};
    return en_emit(p, to->node, 1, &sig);
}

int en_reg_send_locked(en_proc_t *p, const erlang_pid *from,
                       const char *node_name, const char *name,
                       const char *msg, size_t len)
{
    char why[200];

    /* before dialling: no node could take it */
    if (en_name_too_long("registered name", name, why, sizeof why)) {
        en_core_error(p->core, "cannot send: %s", why);
        return ENODE_EINVAL;
    }
    if (en_core_is_local(p->core, node_name)) {
        en_mbox_t *mb = en_mbox_by_name(p, name);
        return mb ? en_mbox_deliver(mb, from, name, msg, len) : 0;
    }
    en_sig_t sig = {.op = EN_DOP_REG_SEND, .from = from, .to_name = name,
                    .msg = msg, .msg_len = len};
    return en_emit(p, node_name, 1, &sig);
}

int en_alias_send_locked(en_proc_t *p, const erlang_pid *from,
                         const erlang_ref *alias, const char *msg,
                         size_t len)
{
    if (en_core_is_local(p->core, alias->node)) {
        en_mbox_t *mb = en_mbox_by_alias(p, alias);
        return mb ? en_mbox_deliver(mb, from, NULL, msg, len) : 0;
    }
    en_sig_t sig = {.op = EN_DOP_ALIAS_SEND, .from = from, .ref = alias,
                    .msg = msg, .msg_len = len};
    return en_emit(p, alias->node, 1, &sig);
}

/* An application's send to node waits while the connection is busy
 * (dist_buf_busy_limit), as OTP suspends the sending process; the node's
 * own sends (replies, signals) never do. */
static int room_for(en_proc_t *p, const char *node)
{
    if (!node || en_core_is_local(p->core, node))
        return 0;
    return en_net_wait_room(p->net, node);
}

int enode_send(enode_mbox_t *from, const erlang_pid *to, const ei_x_buff *msg)
{
    if (!to || !msg || msg->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(from));
    int rc = room_for(from->proc, to->node);
    if (rc == 0)
        rc = en_send_locked(from->proc, &from->pid, to, msg->buff,
                            (size_t)msg->index);
    pthread_mutex_unlock(en_mbox_lock(from));
    return rc;
}

int enode_reg_send(enode_mbox_t *from, const char *node_name,
                   const char *name, const ei_x_buff *msg)
{
    if (!name || !*name || !msg || msg->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(from));
    int rc = room_for(from->proc, node_name);
    if (rc == 0)
        rc = en_reg_send_locked(from->proc, &from->pid, node_name, name,
                                msg->buff, (size_t)msg->index);
    pthread_mutex_unlock(en_mbox_lock(from));
    return rc;
}
