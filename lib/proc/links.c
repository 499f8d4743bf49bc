/* links.c - links between mailboxes and processes on any node: the link
 * set of a mailbox, LINK and UNLINK_ID both ways, and the API.
 *
 * Links are dropped on our side as soon as we unlink (OTP 23+ UNLINK_ID),
 * so a link exit that crosses our unlink finds no link and is ignored
 * (exit.c), as the protocol wants.
 */
#include "proc/links.h"
#include "base/list.h"

#include <stdlib.h>
#include <string.h>

/* ---- the link set of one mailbox --------------------------------------- */

int en_linked(const en_mbox_t *mb, const erlang_pid *pid)
{
    for (const en_link_t *l = mb->links; l; l = l->next)
        if (en_pid_eq(&l->pid, pid))
            return 1;
    return 0;
}

int en_link_add(en_mbox_t *mb, const erlang_pid *pid)
{
    en_link_t *l;

    if (en_linked(mb, pid))
        return 0;
    if (!(l = malloc(sizeof *l)))
        return ENODE_ENOMEM;
    l->pid = *pid;
    l->next = mb->links;
    mb->links = l;
    return 0;
}

/* 1 if there was a link to remove. */
int en_link_remove(en_mbox_t *mb, const erlang_pid *pid)
{
    en_link_t *l;
    EN_LIST_UNLINK(&mb->links, l, en_pid_eq(&l->pid, pid));
    free(l);
    return l != NULL;
}

/* ---- signals from a peer -------------------------------------------------- */

static void on_link(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    en_mbox_t *mb = en_mbox_live(p, &m->to_pid);
    ei_x_buff noproc;

    if (mb) {
        en_link_add(mb, &m->from);
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
    en_mbox_t *mb = en_mbox_live(p, &m->to_pid);

    if (mb)
        en_link_remove(mb, &m->from);
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
    default:
        return 0;
    }
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
        else if ((rc = en_link_add(mb, pid)) == 0)
            rc = en_link_add(other, &mb->pid);
    } else if (!en_linked(mb, pid) && (rc = en_link_add(mb, pid)) == 0) {
        en_sig_t sig = {.op = EN_DOP_LINK, .from = &mb->pid, .to = pid};
        if (en_emit(p, pid->node, 1, &sig) == ENODE_ECONN) {
            en_link_remove(mb, pid); /* not a node name */
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
    if (en_link_remove(mb, pid)) {
        if (en_core_is_local(p->core, pid->node)) {
            en_mbox_t *other = en_mbox_by_pid(p, pid);
            if (other)
                en_link_remove(other, &mb->pid);
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
