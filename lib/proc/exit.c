/* exit.c - exit signals, and a mailbox's exit and end.
 *
 * The rules are Erlang's: a link exit signal whose reason is `normal` is
 * ignored unless the mailbox traps exits; any other reason kills it; a
 * trapping mailbox gets {'EXIT', From, Reason} instead; exit/2 with `kill`
 * kills even a trapping mailbox, with reason `killed`. A mailbox that
 * exits tells its links (exit signals) and its watchers (DOWN), and drops
 * its own monitors; a mailbox freed without having exited exits with
 * `normal` first.
 */
#include "proc/exit.h"
#include "base/list.h"

#include <stdlib.h>
#include <string.h>

#include "proc/links.h"
#include "proc/monitors.h"

/* Append a term given bare or with a version byte, without the byte. */
static int append_bare(ei_x_buff *x, const char *t, size_t len)
{
    en_skip_version(&t, &len);
    return ei_x_append_buf(x, t, (int)len);
}

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
    if (kind == EN_SIG_LINK && !en_link_remove(mb, from))
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

/* Send an exit signal from `from` to `to`, wherever it lives. 0, or the
 * code of a signal that could not be sent to another node. */
static int send_exit(en_proc_t *p, const erlang_pid *from,
                     const erlang_pid *to, const char *reason, size_t len,
                     int kind)
{
    if (en_core_is_local(p->core, to->node)) {
        en_mbox_t *target = en_mbox_by_pid(p, to);
        if (target)
            en_exit_signal(target, from, reason, len, kind);
        return 0;
    }
    en_sig_t sig = {.op = kind == EN_SIG_LINK ? EN_DOP_EXIT : EN_DOP_EXIT2,
                    .from = from, .to = to, .msg = reason, .msg_len = len};
    int rc = en_emit(p, to->node, 1, &sig);
    return rc == ENODE_ECONN ? 0 : rc; /* like exit/2 to a node not there */
}

void en_exit_locked(en_proc_t *p, const erlang_pid *from,
                    const erlang_pid *to, const char *reason, size_t len)
{
    send_exit(p, from, to, reason, len, EN_SIG_EXIT2);
}


static void keep_reason(en_mbox_t *mb, const char *reason, size_t len)
{
    if (ei_x_new_with_version(&mb->exit_reason) == 0 &&
        append_bare(&mb->exit_reason, reason, len) < 0)
        ei_x_free(&mb->exit_reason);
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
    en_mbox_clear_queue(mb);
    while (mb->links) {
        en_link_t *l = mb->links;
        mb->links = l->next;
        send_exit(p, &mb->pid, &l->pid, reason, len, EN_SIG_LINK);
        free(l);
    }
    en_monitors_on_exit(mb, name, reason, len);
    en_core_broadcast(p->core);
}

/* A message would take mb's queue over its limit. As a process over
 * max_heap_size is killed (erlang:process_flag/2), the mailbox exits
 * with `killed`, which trapping exits cannot stop, its links and
 * monitors fire, and the log says why, once, as OTP's error report
 * does. Dropping messages instead would break what senders rely on: a
 * live process gets what is sent to it, in order. */
void en_mbox_over_limit(en_mbox_t *mb, size_t incoming)
{
    ei_x_buff killed;

    en_core_log(mb->proc->core, ENODE_LOG_ERROR,
                "mailbox <%s.%u.%u>%s%s killed: a message of %zu bytes "
                "would take its queue of %zu messages and %zu bytes over "
                "its limit (%zu messages, %zu bytes; 0: none)",
                mb->pid.node, mb->pid.num, mb->pid.serial,
                mb->name[0] ? " registered as " : "", mb->name, incoming,
                mb->queue_len, mb->queue_bytes, mb->max_len, mb->max_bytes);
    if (en_atom_term(&killed, "killed") == 0) {
        en_mbox_exit_locked(mb, killed.buff, (size_t)killed.index);
        ei_x_free(&killed);
    }
}

void en_exit_node_down(en_proc_t *p, const char *peer)
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

/* ---- exit signals from a peer ------------------------------------------- */

int en_exit_dispatch(en_proc_t *p, const en_dmsg_t *m)
{
    int kind;
    en_mbox_t *mb;

    switch (m->op) {
    case EN_DOP_EXIT:
    case EN_DOP_EXIT_TT:
    case EN_DOP_PAYLOAD_EXIT:
    case EN_DOP_PAYLOAD_EXIT_TT:
        kind = EN_SIG_LINK;
        break;
    case EN_DOP_EXIT2:
    case EN_DOP_EXIT2_TT:
    case EN_DOP_PAYLOAD_EXIT2:
    case EN_DOP_PAYLOAD_EXIT2_TT:
        kind = EN_SIG_EXIT2;
        break;
    default:
        return 0;
    }
    if ((mb = en_mbox_live(p, &m->to_pid)))
        en_exit_signal(mb, &m->from, m->reason, m->reason_len, kind);
    return 1;
}

/* ---- the API -------------------------------------------------------------- */

int enode_exit(enode_mbox_t *mb, const erlang_pid *pid, const ei_x_buff *reason)
{
    if (!pid || !reason || reason->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(mb));
    int rc = send_exit(mb->proc, &mb->pid, pid, reason->buff,
                       (size_t)reason->index, EN_SIG_EXIT2);
    pthread_mutex_unlock(en_mbox_lock(mb));
    return rc;
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

/* A mailbox that goes without having exited exits with `normal`. */
static void exit_normally(en_mbox_t *mb)
{
    ei_x_buff normal;
    if (!mb->dead && en_atom_term(&normal, "normal") == 0) {
        en_mbox_exit_locked(mb, normal.buff, (size_t)normal.index);
        ei_x_free(&normal);
    }
}

void en_mbox_free_locked(en_mbox_t *mb)
{
    en_mbox_t *e;

    exit_normally(mb);
    EN_LIST_UNLINK(&mb->proc->mboxes, e, e == mb);
    en_mbox_clear_queue(mb);
    if (mb->exit_reason.buff)
        ei_x_free(&mb->exit_reason);
    while (mb->aliases) {
        en_alias_t *a = mb->aliases;
        mb->aliases = a->next;
        free(a);
    }
    free(mb);
}

void enode_mbox_free(enode_mbox_t *mb)
{
    if (!mb)
        return;
    pthread_mutex_t *lock = en_mbox_lock(mb); /* mb goes */
    pthread_mutex_lock(lock);
    en_mbox_free_locked(mb);
    pthread_mutex_unlock(lock);
}
