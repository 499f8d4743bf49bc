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
#include "proc/mbox.h"

#include <stdlib.h>
#include <string.h>


/* Append a term given bare or with a version byte, without the byte. */
static int append_bare(ei_x_buff *x, const char *t, size_t len)
{
    en_skip_version(&t, &len);
    return ei_x_append_buf(x, t, (int)len);
}

/* ---- the link set of one mailbox --------------------------------------- */

static int linked(const en_mbox_t *mb, const erlang_pid *pid)
{
    for (const en_link_t *l = mb->links; l; l = l->next)
        if (en_pid_eq(&l->pid, pid))
            return 1;
    return 0;
}

static int add_link(en_mbox_t *mb, const erlang_pid *pid)
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
static int remove_link(en_mbox_t *mb, const erlang_pid *pid)
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
static void deliver_exit_message(en_mbox_t *mb, const erlang_pid *from,
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

void en_exit_signal(en_mbox_t *mb, const erlang_pid *from_ptr,
                    const char *reason, size_t len, int kind)
{
    /* A copy: from_ptr may point into the link that is about to go. */
    erlang_pid from_copy = *from_ptr;
    const erlang_pid *from = &from_copy;

    if (mb->dead)
        return;
    if (mb->handler && kind == EN_SIG_EXIT2 &&
        en_term_is_atom(reason, len, "kill"))
        return; /* the built-in services live as long as the node */
    if (kind == EN_SIG_LINK && !remove_link(mb, from))
        return; /* no link (any more): the signal has no effect */
    if (kind == EN_SIG_EXIT2 && en_term_is_atom(reason, len, "kill")) {
        ei_x_buff killed;
        if (en_atom_term(&killed, "killed") == 0) {
            en_mbox_exit_locked(mb, killed.buff, (size_t)killed.index);
            ei_x_free(&killed);
        }
        return;
    }
    if (mb->trap_exit)
        deliver_exit_message(mb, from, reason, len);
    else if (!en_term_is_atom(reason, len, "normal"))
        en_mbox_exit_locked(mb, reason, len);
}

/* Send an exit signal from `from` to `to`, wherever it lives. */
static void send_exit(en_proc_t *p, const erlang_pid *from,
                      const erlang_pid *to, const char *reason, size_t len,
                      int kind)
{
    if (en_core_is_local(p->core, to->node)) {
        en_mbox_t *target = en_mbox_by_pid(p, to);
        if (target)
            en_exit_signal(target, from, reason, len, kind);
        return;
    }
    en_sig_t sig = {.op = kind == EN_SIG_LINK ? EN_DOP_EXIT : EN_DOP_EXIT2,
                    .from = from, .to = to, .msg = reason, .msg_len = len};
    en_emit(p, to->node, 1, &sig);
}

void en_exit_locked(en_proc_t *p, const erlang_pid *from,
                    const erlang_pid *to, const char *reason, size_t len)
{
    send_exit(p, from, to, reason, len, EN_SIG_EXIT2);
}

/* ---- a mailbox exits ------------------------------------------------------ */

static void keep_reason(en_mbox_t *mb, const char *reason, size_t len)
{
    if (ei_x_new_with_version(&mb->exit_reason) == 0 &&
        append_bare(&mb->exit_reason, reason, len) < 0)
        ei_x_free(&mb->exit_reason);
}

static void drop_queue(en_mbox_t *mb)
{
    while (mb->head) {
        en_qmsg_t *q = mb->head;
        mb->head = q->next;
        en_qmsg_free(q);
    }
    mb->tail = NULL;
}

void en_mbox_exit_locked(en_mbox_t *mb, const char *reason,
                         size_t len)
{
    en_proc_t *p = mb->proc;
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
        send_exit(p, &mb->pid, &l->pid, reason, len, EN_SIG_LINK);
        free(l);
    }
    en_monitors_on_exit(mb, name, reason, len);
    en_core_broadcast(p->core);
}

/* ---- signals from a peer -------------------------------------------------- */

/* The mailbox a signal is for, or NULL if it is gone. */
static en_mbox_t *target(en_proc_t *p, const erlang_pid *pid)
{
    en_mbox_t *mb = en_core_is_local(p->core, pid->node)
                        ? en_mbox_by_pid(p, pid)
                        : NULL;
    return mb && !mb->dead ? mb : NULL;
}

static void on_link(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    en_mbox_t *mb = target(p, &m->to_pid);
    ei_x_buff noproc;

    if (mb) {
        add_link(mb, &m->from);
        return;
    }
    /* Linking to a process that does not exist gets noproc back. */
    if (en_atom_term(&noproc, "noproc") < 0)
        return;
    en_sig_t sig = {.op = EN_DOP_EXIT, .from = &m->to_pid, .to = &m->from,
                    .msg = noproc.buff, .msg_len = (size_t)noproc.index};
    en_emit_on(p, c, &sig);
    ei_x_free(&noproc);
}

static void on_unlink(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    en_mbox_t *mb = target(p, &m->to_pid);

    if (mb)
        remove_link(mb, &m->from);
    /* The ack must come before any other signal from us to them; it
     * goes out first because nothing else is queued in between. */
    if (m->op == EN_DOP_UNLINK_ID) {
        en_sig_t sig = {.op = EN_DOP_UNLINK_ID_ACK, .from = &m->to_pid,
                        .to = &m->from, .id = m->unlink_id};
        en_emit_on(p, c, &sig);
    }
}

int en_links_dispatch(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    en_mbox_t *mb;

    switch (m->op) {
    case EN_DOP_LINK:
        on_link(p, c, m);
        return 1;
    case EN_DOP_UNLINK:
    case EN_DOP_UNLINK_ID:
        on_unlink(p, c, m);
        return 1;
    case EN_DOP_UNLINK_ID_ACK:
        return 1;
    case EN_DOP_EXIT:
    case EN_DOP_EXIT_TT:
    case EN_DOP_PAYLOAD_EXIT:
    case EN_DOP_PAYLOAD_EXIT_TT:
        if ((mb = target(p, &m->to_pid)))
            en_exit_signal(mb, &m->from, m->reason, m->reason_len,
                           EN_SIG_LINK);
        return 1;
    case EN_DOP_EXIT2:
    case EN_DOP_EXIT2_TT:
    case EN_DOP_PAYLOAD_EXIT2:
    case EN_DOP_PAYLOAD_EXIT2_TT:
        if ((mb = target(p, &m->to_pid)))
            en_exit_signal(mb, &m->from, m->reason, m->reason_len,
                           EN_SIG_EXIT2);
        return 1;
    default:
        return 0;
    }
}

/* ---- the peer is gone ----------------------------------------------------- */

void en_links_node_down(en_proc_t *p, const char *peer)
{
    ei_x_buff noconn;

    if (en_atom_term(&noconn, "noconnection") < 0)
        return;
    for (en_mbox_t *mb = p->mboxes; mb; mb = mb->next) {
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
    en_proc_t *p = mb->proc;
    int rc = 0;

    pthread_mutex_lock(en_mbox_lock(mb));
    if (mb->dead) {
        rc = ENODE_ECLOSED;
    } else if (en_core_is_local(p->core, pid->node)) {
        en_mbox_t *other = en_mbox_by_pid(p, pid);
        if (!other || other->dead)
            rc = ENODE_ENOTFOUND;
        else if ((rc = add_link(mb, pid)) == 0)
            rc = add_link(other, &mb->pid);
    } else if (!linked(mb, pid) && (rc = add_link(mb, pid)) == 0) {
        en_sig_t sig = {.op = EN_DOP_LINK, .from = &mb->pid, .to = pid};
        if (en_emit(p, pid->node, 1, &sig) == ENODE_ECONN) {
            remove_link(mb, pid); /* not a node name */
            rc = ENODE_ECONN;
        }
    }
    pthread_mutex_unlock(en_mbox_lock(mb));
    return rc;
}

int enode_unlink(enode_mbox_t *mb, const erlang_pid *pid)
{
    en_proc_t *p = mb->proc;

    pthread_mutex_lock(en_mbox_lock(mb));
    if (remove_link(mb, pid)) {
        if (en_core_is_local(p->core, pid->node)) {
            en_mbox_t *other = en_mbox_by_pid(p, pid);
            if (other)
                remove_link(other, &mb->pid);
        } else {
            en_sig_t sig = {.op = EN_DOP_UNLINK_ID, .from = &mb->pid,
                            .to = pid, .id = ++p->unlink_id};
            en_emit(p, pid->node, 1, &sig);
        }
    }
    pthread_mutex_unlock(en_mbox_lock(mb));
    return 0;
}

int enode_trap_exit(enode_mbox_t *mb, int on)
{
    pthread_mutex_lock(en_mbox_lock(mb));
    mb->trap_exit = on != 0;
    pthread_mutex_unlock(en_mbox_lock(mb));
    return 0;
}

int enode_exit(enode_mbox_t *mb, const erlang_pid *pid, const ei_x_buff *reason)
{
    if (!pid || !reason || reason->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(mb));
    send_exit(mb->proc, &mb->pid, pid, reason->buff, (size_t)reason->index,
              EN_SIG_EXIT2);
    pthread_mutex_unlock(en_mbox_lock(mb));
    return 0;
}

int enode_mbox_exit(enode_mbox_t *mb, const ei_x_buff *reason)
{
    if (!reason || reason->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(mb));
    en_mbox_exit_locked(mb, reason->buff, (size_t)reason->index);
    pthread_mutex_unlock(en_mbox_lock(mb));
    return 0;
}

const ei_x_buff *enode_mbox_exit_reason(const enode_mbox_t *mb)
{
    return mb->dead && mb->exit_reason.buff ? &mb->exit_reason : NULL;
}
