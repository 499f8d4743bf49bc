/* links.c - links and exit signals between mailboxes and processes on
 * any node, and what happens when a mailbox exits.
 *
 * The rules are Erlang's: a link exit signal whose reason is `normal` is
 * ignored unless the mailbox traps exits; any other reason kills it; a
 * trapping mailbox gets {'EXIT', From, Reason} instead; exit/2 with `kill`
 * kills even a trapping mailbox, with reason `killed`. Links are dropped
 * on our side as soon as we unlink (OTP 23+ UNLINK_ID), so a link exit
 * that crosses our unlink finds no link and is ignored, as the protocol
 * wants.
 */
#include "node/node_int.h"

#include <stdlib.h>
#include <string.h>

#include "proto/ctrl.h"

int en_atom_term(ei_x_buff *x, const char *atom)
{
    if (ei_x_new_with_version(x) < 0)
        return -1;
    if (ei_x_encode_atom(x, atom) < 0) {
        ei_x_free(x);
        return -1;
    }
    return 0;
}

/* Whether the term (bare or with its version byte) is the atom `atom`. */
static int term_is_atom(const char *t, size_t len, const char *atom)
{
    char buf[MAXATOMLEN_UTF8];
    int i = 0;

    en_skip_version(&t, &len);
    return len > 0 && ei_decode_atom(t, &i, buf) == 0 && (size_t)i <= len &&
           strcmp(buf, atom) == 0;
}

/* Append a term given bare or with a version byte, without the byte. */
static int append_bare(ei_x_buff *x, const char *t, size_t len)
{
    en_skip_version(&t, &len);
    return ei_x_append_buf(x, t, (int)len);
}

/* ---- the link set of one mailbox --------------------------------------- */

static int linked(const struct enode_mbox *mb, const erlang_pid *pid)
{
    for (const en_link_t *l = mb->links; l; l = l->next)
        if (en_pid_eq(&l->pid, pid))
            return 1;
    return 0;
}

static int add_link(struct enode_mbox *mb, const erlang_pid *pid)
{
    en_link_t *l;

    if (linked(mb, pid))
        return 0;
    if (!(l = malloc(sizeof *l)))
        return ENODE_ENOMEM;
    l->pid = *pid;
    l->next = mb->links;
    mb->links = l;
    return 0;
}

/* 1 if there was a link to remove. */
static int remove_link(struct enode_mbox *mb, const erlang_pid *pid)
{
    for (en_link_t **pp = &mb->links; *pp; pp = &(*pp)->next) {
        if (en_pid_eq(&(*pp)->pid, pid)) {
            en_link_t *l = *pp;
            *pp = l->next;
            free(l);
            return 1;
        }
    }
    return 0;
}

/* ---- exit signals ------------------------------------------------------- */

/* {'EXIT', From, Reason} into a trapping mailbox. */
static void deliver_exit_message(struct enode_mbox *mb, const erlang_pid *from,
                                 const char *reason, size_t len)
{
    ei_x_buff x;

    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 3) == 0 &&
        ei_x_encode_atom(&x, "EXIT") == 0 && ei_x_encode_pid(&x, from) == 0 &&
        append_bare(&x, reason, len) == 0)
        en_mbox_deliver(mb, from, NULL, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

void en_exit_signal(struct enode_mbox *mb, const erlang_pid *from_ptr,
                    const char *reason, size_t len, int kind)
{
    /* A copy: from_ptr may point into the link that is about to go. */
    erlang_pid from_copy = *from_ptr;
    const erlang_pid *from = &from_copy;

    if (mb->dead)
        return;
    if (kind == EN_SIG_LINK && !remove_link(mb, from))
        return; /* no link (any more): the signal has no effect */
    if (kind == EN_SIG_EXIT2 && term_is_atom(reason, len, "kill")) {
        ei_x_buff killed;
        if (en_atom_term(&killed, "killed") == 0) {
            en_mbox_exit_locked(mb, killed.buff, (size_t)killed.index);
            ei_x_free(&killed);
        }
        return;
    }
    if (mb->trap_exit)
        deliver_exit_message(mb, from, reason, len);
    else if (!term_is_atom(reason, len, "normal"))
        en_mbox_exit_locked(mb, reason, len);
}

/* Send an exit signal from `from` to `to`, wherever it lives. */
static void send_exit(enode_t *n, const erlang_pid *from, const erlang_pid *to,
                      const char *reason, size_t len, int kind)
{
    en_conn_t *c;

    if (en_is_local_node(n, to->node)) {
        struct enode_mbox *target = en_mbox_by_pid(n, to);
        if (target)
            en_exit_signal(target, from, reason, len, kind);
        return;
    }
    if (!(c = en_conn_get(n, to->node)))
        return;
    int rc = kind == EN_SIG_LINK
                 ? en_ctrl_exit(en_conn_sendbuf(c), en_conn_wire(c), from, to,
                                reason, len)
                 : en_ctrl_exit2(en_conn_sendbuf(c), en_conn_wire(c), from,
                                 to, reason, len);
    if (rc == 0)
        en_conn_kick(c);
}

/* ---- a mailbox exits ------------------------------------------------------ */

static void keep_reason(struct enode_mbox *mb, const char *reason, size_t len)
{
    if (ei_x_new_with_version(&mb->exit_reason) == 0 &&
        append_bare(&mb->exit_reason, reason, len) < 0)
        ei_x_free(&mb->exit_reason);
}

static void drop_queue(struct enode_mbox *mb)
{
    while (mb->head) {
        en_qmsg_t *q = mb->head;
        mb->head = q->next;
        en_qmsg_free(q);
    }
    mb->tail = NULL;
}

void en_mbox_exit_locked(struct enode_mbox *mb, const char *reason,
                         size_t len)
{
    enode_t *n = mb->node;
    char name[MAXATOMLEN_UTF8];

    if (mb->dead)
        return;
    mb->dead = 1;
    keep_reason(mb, reason, len);
    strcpy(name, mb->name);
    mb->name[0] = '\0';
    drop_queue(mb);
    while (mb->links) {
        en_link_t *l = mb->links;
        mb->links = l->next;
        send_exit(n, &mb->pid, &l->pid, reason, len, EN_SIG_LINK);
        free(l);
    }
    en_monitors_on_exit(mb, name, reason, len);
    pthread_cond_broadcast(&n->cond);
}

/* ---- signals from a peer -------------------------------------------------- */

/* The mailbox a signal is for, or NULL if it is gone. */
static struct enode_mbox *target(en_conn_t *c, const erlang_pid *pid)
{
    struct enode_mbox *mb = en_is_local_node(c->node, pid->node)
                                ? en_mbox_by_pid(c->node, pid)
                                : NULL;
    return mb && !mb->dead ? mb : NULL;
}

static void on_link(en_conn_t *c, const en_dmsg_t *m)
{
    struct enode_mbox *mb = target(c, &m->to_pid);
    ei_x_buff noproc;

    if (en_pid_eq(&m->to_pid, &c->node->system_pid))
        return; /* the built-in services never die */
    if (mb) {
        add_link(mb, &m->from);
        return;
    }
    /* Linking to a process that does not exist gets noproc back. */
    if (en_atom_term(&noproc, "noproc") < 0)
        return;
    if (en_ctrl_exit(en_conn_sendbuf(c), en_conn_wire(c), &m->to_pid,
                     &m->from, noproc.buff, (size_t)noproc.index) == 0)
        en_conn_kick(c);
    ei_x_free(&noproc);
}

static void on_unlink(en_conn_t *c, const en_dmsg_t *m)
{
    struct enode_mbox *mb = target(c, &m->to_pid);

    if (mb)
        remove_link(mb, &m->from);
    /* The ack must come before any other signal from us to them; it
     * goes out first because nothing else is queued in between. */
    if (m->op == EN_DOP_UNLINK_ID &&
        en_ctrl_unlink_id_ack(en_conn_sendbuf(c), en_conn_wire(c),
                              &m->to_pid, &m->from, m->unlink_id) == 0)
        en_conn_kick(c);
}

int en_links_dispatch(en_conn_t *c, const en_dmsg_t *m)
{
    struct enode_mbox *mb;

    switch (m->op) {
    case EN_DOP_LINK:
        on_link(c, m);
        return 1;
    case EN_DOP_UNLINK:
    case EN_DOP_UNLINK_ID:
        on_unlink(c, m);
        return 1;
    case EN_DOP_UNLINK_ID_ACK:
        return 1;
    case EN_DOP_EXIT:
    case EN_DOP_EXIT_TT:
    case EN_DOP_PAYLOAD_EXIT:
    case EN_DOP_PAYLOAD_EXIT_TT:
        if ((mb = target(c, &m->to_pid)))
            en_exit_signal(mb, &m->from, m->reason, m->reason_len,
                           EN_SIG_LINK);
        return 1;
    case EN_DOP_EXIT2:
    case EN_DOP_EXIT2_TT:
    case EN_DOP_PAYLOAD_EXIT2:
    case EN_DOP_PAYLOAD_EXIT2_TT:
        if ((mb = target(c, &m->to_pid)))
            en_exit_signal(mb, &m->from, m->reason, m->reason_len,
                           EN_SIG_EXIT2);
        return 1;
    default:
        return 0;
    }
}

/* ---- the peer is gone ----------------------------------------------------- */

void en_links_node_down(enode_t *n, const char *peer)
{
    ei_x_buff noconn;

    if (en_atom_term(&noconn, "noconnection") < 0)
        return;
    for (struct enode_mbox *mb = n->mboxes; mb; mb = mb->next) {
        en_link_t *l = mb->links;
        while (l && !mb->dead) {
            en_link_t *next = l->next;
            if (strcmp(l->pid.node, peer) == 0)
                en_exit_signal(mb, &l->pid, noconn.buff,
                               (size_t)noconn.index, EN_SIG_LINK);
            l = next;
        }
    }
    ei_x_free(&noconn);
}

/* ---- the API ---------------------------------------------------------------- */

int enode_link(enode_mbox_t *mb, const erlang_pid *pid)
{
    enode_t *n = mb->node;
    int rc = 0;

    pthread_mutex_lock(&n->lock);
    if (mb->dead) {
        rc = ENODE_ECLOSED;
    } else if (en_is_local_node(n, pid->node)) {
        struct enode_mbox *other = en_mbox_by_pid(n, pid);
        if (!other || other->dead)
            rc = ENODE_ENOTFOUND;
        else if ((rc = add_link(mb, pid)) == 0)
            rc = add_link(other, &mb->pid);
    } else if (!linked(mb, pid)) {
        en_conn_t *c = en_conn_get(n, pid->node);
        if (!c)
            rc = ENODE_ECONN;
        else if ((rc = add_link(mb, pid)) == 0 &&
                 en_ctrl_link(en_conn_sendbuf(c), en_conn_wire(c), &mb->pid,
                              pid) == 0)
            en_conn_kick(c);
    }
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int enode_unlink(enode_mbox_t *mb, const erlang_pid *pid)
{
    enode_t *n = mb->node;

    pthread_mutex_lock(&n->lock);
    if (remove_link(mb, pid)) {
        if (en_is_local_node(n, pid->node)) {
            struct enode_mbox *other = en_mbox_by_pid(n, pid);
            if (other)
                remove_link(other, &mb->pid);
        } else {
            en_conn_t *c = en_conn_get(n, pid->node);
            if (c && en_ctrl_unlink_id(en_conn_sendbuf(c), en_conn_wire(c),
                                       &mb->pid, pid, ++n->unlink_id) == 0)
                en_conn_kick(c);
        }
    }
    pthread_mutex_unlock(&n->lock);
    return 0;
}

int enode_trap_exit(enode_mbox_t *mb, int on)
{
    pthread_mutex_lock(&mb->node->lock);
    mb->trap_exit = on != 0;
    pthread_mutex_unlock(&mb->node->lock);
    return 0;
}

int enode_exit(enode_mbox_t *mb, const erlang_pid *pid, const ei_x_buff *reason)
{
    enode_t *n = mb->node;

    if (!pid || !reason || reason->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->lock);
    send_exit(n, &mb->pid, pid, reason->buff, (size_t)reason->index,
              EN_SIG_EXIT2);
    pthread_mutex_unlock(&n->lock);
    return 0;
}

int enode_mbox_exit(enode_mbox_t *mb, const ei_x_buff *reason)
{
    if (!reason || reason->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(&mb->node->lock);
    en_mbox_exit_locked(mb, reason->buff, (size_t)reason->index);
    pthread_mutex_unlock(&mb->node->lock);
    return 0;
}

const ei_x_buff *enode_mbox_exit_reason(const enode_mbox_t *mb)
{
    return mb->dead && mb->exit_reason.buff ? &mb->exit_reason : NULL;
}
