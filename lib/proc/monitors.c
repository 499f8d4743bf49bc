/* monitors.c - process monitors in both directions, and node monitors.
 *
 * A mailbox can monitor a process by pid or by registered name, here or
 * on another node; other processes can monitor a mailbox. The DOWN
 * message is Erlang's {'DOWN', Ref, process, Object, Reason}, where
 * Object is the pid, or {Name, Node} for a monitor by name. A monitor on
 * something that does not exist fires at once with `noproc`, and every
 * monitor across a lost connection fires with `noconnection`.
 */
#include "proc/monitors.h"
#include "base/list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* {'DOWN', Ref, process, Object, Reason} into mb. */
static void deliver_down(en_mbox_t *mb, const en_mon_t *mon,
                         const char *reason, size_t len)
{
    ei_x_buff x;

    en_skip_version(&reason, &len);
    if (ei_x_new_with_version(&x) < 0)
        return;
    int rc = ei_x_encode_tuple_header(&x, 5) | ei_x_encode_atom(&x, "DOWN") |
             ei_x_encode_ref(&x, &mon->ref) | ei_x_encode_atom(&x, "process");
    if (mon->by_name)
        rc |= ei_x_encode_tuple_header(&x, 2) |
              ei_x_encode_atom(&x, mon->name) |
              ei_x_encode_atom(&x, mon->node);
    else
        rc |= ei_x_encode_pid(&x, &mon->pid);
    rc |= ei_x_append_buf(&x, reason, (int)len);
    if (rc == 0)
        en_mbox_deliver(mb, NULL, NULL, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

static en_mon_t *take_mon(en_mbox_t *mb, const erlang_ref *ref)
{
    en_mon_t *m;
    EN_LIST_UNLINK(&mb->mons, m, en_ref_eq(&m->ref, ref));
    return m;
}

static void fire(en_mbox_t *mb, const erlang_ref *ref,
                 const char *reason, size_t len)
{
    en_mon_t *m = take_mon(mb, ref);
    if (m) {
        deliver_down(mb, m, reason, len);
        free(m);
    }
}

static int add_watcher(en_mbox_t *mb, const erlang_ref *ref,
                       const erlang_pid *watcher, int by_name)
{
    en_watcher_t *w = malloc(sizeof *w);
    if (!w)
        return ENODE_ENOMEM;
    w->ref = *ref;
    w->watcher = *watcher;
    w->by_name = by_name;
    w->next = mb->watchers;
    mb->watchers = w;
    return 0;
}

static void remove_watcher(en_mbox_t *mb, const erlang_ref *ref)
{
    en_watcher_t *w;
    EN_LIST_UNLINK(&mb->watchers, w, en_ref_eq(&w->ref, ref));
    free(w);
}

/* The mailbox a monitor names, by pid or by name, if it lives. */
static en_mbox_t *local_target(en_proc_t *p, const erlang_pid *pid,
                               const char *name)
{
    en_mbox_t *mb = name ? en_mbox_by_name(p, name) : en_mbox_by_pid(p, pid);
    return mb && !mb->dead ? mb : NULL;
}

/* mb no longer monitors what m names: the target forgets mb. */
static void drop_monitor(en_mbox_t *mb, const en_mon_t *m)
{
    en_proc_t *p = mb->proc;

    if (en_core_is_local(p->core, m->node)) {
        en_mbox_t *t = local_target(p, &m->pid, m->by_name ? m->name : NULL);
        if (t)
            remove_watcher(t, &m->ref);
        return;
    }
    en_sig_t sig = {.op = EN_DOP_DEMONITOR_P, .from = &mb->pid,
                    .to = m->by_name ? NULL : &m->pid,
                    .to_name = m->by_name ? m->name : NULL, .ref = &m->ref};
    en_emit(p, m->node, 0, &sig);
}

/* ---- a mailbox exits: its watchers learn, its own monitors go ---------- */

void en_monitors_on_exit(en_mbox_t *mb, const char *name,
                         const char *reason, size_t len)
{
    en_proc_t *p = mb->proc;

    while (mb->watchers) {
        en_watcher_t *w = mb->watchers;
        mb->watchers = w->next;
        if (en_core_is_local(p->core, w->watcher.node)) {
            en_mbox_t *who = en_mbox_by_pid(p, &w->watcher);
            if (who)
                fire(who, &w->ref, reason, len);
        } else {
            int named = w->by_name && name[0];
            en_sig_t sig = {.op = EN_DOP_MONITOR_P_EXIT,
                            .from = named ? NULL : &mb->pid,
                            .from_name = named ? name : NULL,
                            .to = &w->watcher, .ref = &w->ref, .msg = reason,
                            .msg_len = len};
            en_emit(p, w->watcher.node, 0, &sig);
        }
        free(w);
    }
    while (mb->mons) {
        en_mon_t *m = mb->mons;
        mb->mons = m->next;
        drop_monitor(mb, m);
        free(m);
    }
}

/* ---- signals from a peer -------------------------------------------------- */

static void on_monitor(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    const char *name = m->has_to_name ? m->to_name : NULL;
    en_mbox_t *mb = local_target(p, &m->to_pid, name);
    ei_x_buff noproc;

    if (mb) {
        add_watcher(mb, &m->ref, &m->from, name != NULL);
        return;
    }
    if (en_atom_term(&noproc, "noproc") < 0)
        return;
    en_sig_t sig = {.op = EN_DOP_MONITOR_P_EXIT,
                    .from = name ? NULL : &m->to_pid, .from_name = name,
                    .to = &m->from, .ref = &m->ref, .msg = noproc.buff,
                    .msg_len = (size_t)noproc.index};
    en_emit_on(p, c, &sig);
    ei_x_free(&noproc);
}

int en_monitors_dispatch(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    en_mbox_t *mb;

    switch (m->op) {
    case EN_DOP_MONITOR_P:
        on_monitor(p, c, m);
        return 1;
    case EN_DOP_DEMONITOR_P:
        mb = local_target(p, &m->to_pid, m->has_to_name ? m->to_name : NULL);
        if (mb)
            remove_watcher(mb, &m->ref);
        return 1;
    case EN_DOP_MONITOR_P_EXIT:
    case EN_DOP_PAYLOAD_MONITOR_P_EXIT:
        mb = local_target(p, &m->to_pid, NULL);
        if (mb)
            fire(mb, &m->ref, m->reason, m->reason_len);
        return 1;
    default:
        return 0;
    }
}

/* ---- nodes coming and going ------------------------------------------------- */

void en_monitors_tell_nodes(en_proc_t *p, const char *what, const char *peer)
{
    for (en_mbox_t *mb = p->mboxes; mb; mb = mb->next) {
        ei_x_buff x;
        if (!mb->monitor_nodes || mb->dead || ei_x_new_with_version(&x) < 0)
            continue;
        if (ei_x_encode_tuple_header(&x, 2) == 0 &&
            ei_x_encode_atom(&x, what) == 0 && ei_x_encode_atom(&x, peer) == 0)
            en_mbox_deliver(mb, NULL, NULL, x.buff, (size_t)x.index);
        ei_x_free(&x);
    }
}

void en_monitors_node_down(en_proc_t *p, const char *peer)
{
    ei_x_buff noconn;

    if (en_atom_term(&noconn, "noconnection") < 0)
        return;
    for (en_mbox_t *mb = p->mboxes; mb; mb = mb->next) {
        en_watcher_t *w;
        EN_LIST_UNLINK_EACH(&mb->watchers, w,
                            strcmp(w->watcher.node, peer) == 0)
            free(w);
        en_mon_t *m = mb->mons;
        /* A DOWN may take mb over its queue limit: it then exits, and its
         * monitors, next among them, are gone. */
        while (m && !mb->dead) {
            en_mon_t *next = m->next;
            if (strcmp(m->node, peer) == 0)
                fire(mb, &m->ref, noconn.buff, (size_t)noconn.index);
            m = next;
        }
    }
    ei_x_free(&noconn);
}

/* ---- the API ---------------------------------------------------------------- */

int en_monitor_locked(en_mbox_t *mb, const erlang_pid *pid, const char *name,
                      const char *node_name, erlang_ref *ref)
{
    en_proc_t *p = mb->proc;
    en_mon_t *m = calloc(1, sizeof *m);

    if (!m)
        return ENODE_ENOMEM;
    en_make_ref(p, ref);
    m->ref = *ref;
    m->by_name = name != NULL;
    if (name)
        snprintf(m->name, sizeof m->name, "%s", name);
    else
        m->pid = *pid;
    snprintf(m->node, sizeof m->node, "%s", node_name);
    m->next = mb->mons;
    mb->mons = m;
    if (en_core_is_local(p->core, node_name)) {
        en_mbox_t *t = local_target(p, pid, name);
        ei_x_buff noproc;
        if (t)
            return add_watcher(t, ref, &mb->pid, name != NULL);
        if (en_atom_term(&noproc, "noproc") == 0) {
            fire(mb, ref, noproc.buff, (size_t)noproc.index);
            ei_x_free(&noproc);
        }
        return 0;
    }
    /* A dial that fails at once takes the node down inside en_emit: the
     * monitor fires, and a service may free what pid, name and ref point
     * into on its DOWN. The signal is made from copies. */
    en_mon_t sent = *m;
    en_sig_t sig = {.op = EN_DOP_MONITOR_P, .from = &mb->pid,
                    .to = sent.by_name ? NULL : &sent.pid,
                    .to_name = sent.by_name ? sent.name : NULL,
                    .ref = &sent.ref};
    en_emit(p, sent.node, 1, &sig);
    return 0;
}

int en_demonitor_locked(en_mbox_t *mb, const erlang_ref *ref)
{
    en_mon_t *m = take_mon(mb, ref);

    if (!m)
        return ENODE_ENOTFOUND;
    drop_monitor(mb, m);
    free(m);
    return 0;
}

int enode_monitor(enode_mbox_t *mb, const erlang_pid *pid, erlang_ref *ref)
{
    if (!pid || !ref)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(mb));
    int rc = mb->dead ? ENODE_ECLOSED
                      : en_monitor_locked(mb, pid, NULL, pid->node, ref);
    pthread_mutex_unlock(en_mbox_lock(mb));
    return rc;
}

int enode_monitor_name(enode_mbox_t *mb, const char *name,
                       const char *node_name, erlang_ref *ref)
{
    if (!name || !*name || strlen(name) >= MAXATOMLEN_UTF8 || !ref)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(mb));
    int rc = mb->dead ? ENODE_ECLOSED
                      : en_monitor_locked(mb, NULL, name,
                                          node_name ? node_name
                                                    : mb->proc->core->name,
                                          ref);
    pthread_mutex_unlock(en_mbox_lock(mb));
    return rc;
}

int enode_demonitor(enode_mbox_t *mb, const erlang_ref *ref)
{
    pthread_mutex_lock(en_mbox_lock(mb));
    int rc = en_demonitor_locked(mb, ref);
    pthread_mutex_unlock(en_mbox_lock(mb));
    return rc;
}

int enode_monitor_nodes(enode_mbox_t *mb, int on)
{
    pthread_mutex_lock(en_mbox_lock(mb));
    mb->monitor_nodes = on != 0;
    pthread_mutex_unlock(en_mbox_lock(mb));
    return 0;
}
