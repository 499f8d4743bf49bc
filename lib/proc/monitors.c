/* monitors.c - process monitors in both directions, and node monitors.
 *
 * A mailbox can monitor a process by pid or by registered name, here or
 * on another node; other processes can monitor a mailbox. The DOWN
 * message is Erlang's {'DOWN', Ref, process, Object, Reason}, where
 * Object is the pid, or {Name, Node} for a monitor by name. A monitor on
 * something that does not exist fires at once with `noproc`, and every
 * monitor across a lost connection fires with `noconnection`.
 */
#include "node/node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctrl.h"

/* {'DOWN', Ref, process, Object, Reason} into mb. */
static void deliver_down(struct enode_mbox *mb, const en_mon_t *mon,
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

static en_mon_t *take_mon(struct enode_mbox *mb, const erlang_ref *ref)
{
    for (en_mon_t **pp = &mb->mons; *pp; pp = &(*pp)->next) {
        if (en_ref_eq(&(*pp)->ref, ref)) {
            en_mon_t *m = *pp;
            *pp = m->next;
            return m;
        }
    }
    return NULL;
}

static void fire(struct enode_mbox *mb, const erlang_ref *ref,
                 const char *reason, size_t len)
{
    en_mon_t *m = take_mon(mb, ref);
    if (m) {
        deliver_down(mb, m, reason, len);
        free(m);
    }
}

static int add_watcher(struct enode_mbox *mb, const erlang_ref *ref,
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

static void remove_watcher(struct enode_mbox *mb, const erlang_ref *ref)
{
    for (en_watcher_t **pp = &mb->watchers; *pp; pp = &(*pp)->next) {
        if (en_ref_eq(&(*pp)->ref, ref)) {
            en_watcher_t *w = *pp;
            *pp = w->next;
            free(w);
            return;
        }
    }
}

/* The mailbox a monitor names, by pid or by name, if it lives. */
static struct enode_mbox *local_target(enode_t *n, const erlang_pid *pid,
                                       const char *name)
{
    struct enode_mbox *mb = name ? en_mbox_by_name(n, name)
                                 : en_mbox_by_pid(n, pid);
    return mb && !mb->dead ? mb : NULL;
}

/* ---- a mailbox exits: its watchers learn, its own monitors go ---------- */

void en_monitors_on_exit(struct enode_mbox *mb, const char *name,
                         const char *reason, size_t len)
{
    enode_t *n = mb->node;

    while (mb->watchers) {
        en_watcher_t *w = mb->watchers;
        mb->watchers = w->next;
        if (en_is_local_node(n, w->watcher.node)) {
            struct enode_mbox *who = en_mbox_by_pid(n, &w->watcher);
            if (who)
                fire(who, &w->ref, reason, len);
        } else {
            en_conn_t *c = en_conn_find(n, w->watcher.node);
            int named = w->by_name && name[0];
            if (c && en_ctrl_monitor_p_exit(en_conn_sendbuf(c), en_conn_wire(c),
                                            named ? NULL : &mb->pid,
                                            named ? name : NULL, &w->watcher,
                                            &w->ref, reason, len) == 0)
                en_conn_kick(c);
        }
        free(w);
    }
    while (mb->mons) {
        en_mon_t *m = mb->mons;
        mb->mons = m->next;
        if (en_is_local_node(n, m->node)) {
            struct enode_mbox *t = local_target(n, &m->pid,
                                                m->by_name ? m->name : NULL);
            if (t)
                remove_watcher(t, &m->ref);
        } else {
            en_conn_t *c = en_conn_find(n, m->node);
            if (c && en_ctrl_demonitor_p(en_conn_sendbuf(c), en_conn_wire(c),
                                         &mb->pid, m->by_name ? NULL : &m->pid,
                                         m->by_name ? m->name : NULL,
                                         &m->ref) == 0)
                en_conn_kick(c);
        }
        free(m);
    }
}

/* ---- signals from a peer -------------------------------------------------- */

static int is_service(const char *name)
{
    return strcmp(name, "net_kernel") == 0 || strcmp(name, "rex") == 0 ||
           strcmp(name, "global_name_server") == 0;
}

static void on_monitor(en_conn_t *c, const en_dmsg_t *m)
{
    enode_t *n = c->node;
    const char *name = m->has_to_name ? m->to_name : NULL;
    struct enode_mbox *mb = local_target(n, &m->to_pid, name);
    ei_x_buff noproc;

    if (mb) {
        add_watcher(mb, &m->ref, &m->from, name != NULL);
        return;
    }
    /* The built-in services live as long as the node (net_adm:ping
     * monitors net_kernel around its call). */
    if ((name && is_service(name)) ||
        (!name && (en_pid_eq(&m->to_pid, &n->system_pid) ||
                   en_global_is_pid(n, &m->to_pid))))
        return;
    if (en_atom_term(&noproc, "noproc") < 0)
        return;
    if (en_ctrl_monitor_p_exit(en_conn_sendbuf(c), en_conn_wire(c),
                               name ? NULL : &m->to_pid, name, &m->from,
                               &m->ref, noproc.buff,
                               (size_t)noproc.index) == 0)
        en_conn_kick(c);
    ei_x_free(&noproc);
}

int en_monitors_dispatch(en_conn_t *c, const en_dmsg_t *m)
{
    struct enode_mbox *mb;

    switch (m->op) {
    case EN_DOP_MONITOR_P:
        on_monitor(c, m);
        return 1;
    case EN_DOP_DEMONITOR_P:
        mb = local_target(c->node, &m->to_pid,
                          m->has_to_name ? m->to_name : NULL);
        if (mb)
            remove_watcher(mb, &m->ref);
        return 1;
    case EN_DOP_MONITOR_P_EXIT:
    case EN_DOP_PAYLOAD_MONITOR_P_EXIT:
        if (en_global_monitor_exit(c->node, &m->to_pid, &m->ref))
            return 1;
        mb = local_target(c->node, &m->to_pid, NULL);
        if (mb)
            fire(mb, &m->ref, m->reason, m->reason_len);
        return 1;
    default:
        return 0;
    }
}

/* ---- nodes coming and going ------------------------------------------------- */

static void tell_node_watchers(enode_t *n, const char *what, const char *peer)
{
    for (struct enode_mbox *mb = n->mboxes; mb; mb = mb->next) {
        ei_x_buff x;
        if (!mb->monitor_nodes || mb->dead || ei_x_new_with_version(&x) < 0)
            continue;
        if (ei_x_encode_tuple_header(&x, 2) == 0 &&
            ei_x_encode_atom(&x, what) == 0 && ei_x_encode_atom(&x, peer) == 0)
            en_mbox_deliver(mb, NULL, NULL, x.buff, (size_t)x.index);
        ei_x_free(&x);
    }
}

void en_signal_node_up(enode_t *n, const char *peer)
{
    tell_node_watchers(n, "nodeup", peer);
    en_global_node_up(n, peer);
}

/* Every monitor held on, or by, a process of the lost node. */
static void monitors_node_down(enode_t *n, const char *peer,
                               const ei_x_buff *noconn)
{
    for (struct enode_mbox *mb = n->mboxes; mb; mb = mb->next) {
        for (en_watcher_t **pp = &mb->watchers; *pp;) {
            en_watcher_t *w = *pp;
            if (strcmp(w->watcher.node, peer) == 0) {
                *pp = w->next;
                free(w);
            } else {
                pp = &w->next;
            }
        }
        en_mon_t *m = mb->mons;
        while (m) {
            en_mon_t *next = m->next;
            if (strcmp(m->node, peer) == 0)
                fire(mb, &m->ref, noconn->buff, (size_t)noconn->index);
            m = next;
        }
    }
}

void en_signal_node_down(enode_t *n, const char *peer, int was_up)
{
    ei_x_buff noconn;

    if (en_atom_term(&noconn, "noconnection") < 0)
        return;
    monitors_node_down(n, peer, &noconn);
    ei_x_free(&noconn);
    en_links_node_down(n, peer);
    /* global hears of failed dials too, as its sync_other does through
     * monitor_node: it forgets the node and ends calls waiting on it. */
    en_global_node_down(n, peer);
    /* Like net_kernel: no nodedown for a node that never came up. */
    if (!was_up)
        return;
    tell_node_watchers(n, "nodedown", peer);
}

/* ---- the API ---------------------------------------------------------------- */

/* Monitor pid, or name on node_name; the reference goes to *ref. */
static int monitor_locked(struct enode_mbox *mb, const erlang_pid *pid,
                          const char *name, const char *node_name,
                          erlang_ref *ref)
{
    enode_t *n = mb->node;
    en_mon_t *m = calloc(1, sizeof *m);

    if (!m)
        return ENODE_ENOMEM;
    en_make_ref_locked(n, ref);
    m->ref = *ref;
    m->by_name = name != NULL;
    if (name)
        snprintf(m->name, sizeof m->name, "%s", name);
    else
        m->pid = *pid;
    snprintf(m->node, sizeof m->node, "%s", node_name);
    m->next = mb->mons;
    mb->mons = m;
    if (en_is_local_node(n, node_name)) {
        struct enode_mbox *t = local_target(n, pid, name);
        ei_x_buff noproc;
        if (t)
            return add_watcher(t, ref, &mb->pid, name != NULL);
        if (en_atom_term(&noproc, "noproc") == 0) {
            fire(mb, ref, noproc.buff, (size_t)noproc.index);
            ei_x_free(&noproc);
        }
        return 0;
    }
    en_conn_t *c = en_conn_get(n, node_name);
    if (c && en_ctrl_monitor_p(en_conn_sendbuf(c), en_conn_wire(c), &mb->pid,
                               name ? NULL : pid, name, ref) == 0)
        en_conn_kick(c);
    return 0;
}

int enode_monitor(enode_mbox_t *mb, const erlang_pid *pid, erlang_ref *ref)
{
    if (!pid || !ref)
        return ENODE_EINVAL;
    pthread_mutex_lock(&mb->node->lock);
    int rc = mb->dead ? ENODE_ECLOSED
                      : monitor_locked(mb, pid, NULL, pid->node, ref);
    pthread_mutex_unlock(&mb->node->lock);
    return rc;
}

int enode_monitor_name(enode_mbox_t *mb, const char *name,
                       const char *node_name, erlang_ref *ref)
{
    enode_t *n = mb->node;

    if (!name || !*name || strlen(name) >= MAXATOMLEN_UTF8 || !ref)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->lock);
    int rc = mb->dead ? ENODE_ECLOSED
                      : monitor_locked(mb, NULL, name,
                                       node_name ? node_name : n->name, ref);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int enode_demonitor(enode_mbox_t *mb, const erlang_ref *ref)
{
    enode_t *n = mb->node;

    pthread_mutex_lock(&n->lock);
    en_mon_t *m = take_mon(mb, ref);
    if (m && en_is_local_node(n, m->node)) {
        struct enode_mbox *t = local_target(n, &m->pid,
                                            m->by_name ? m->name : NULL);
        if (t)
            remove_watcher(t, ref);
    } else if (m) {
        en_conn_t *c = en_conn_find(n, m->node);
        if (c && en_ctrl_demonitor_p(en_conn_sendbuf(c), en_conn_wire(c),
                                     &mb->pid, m->by_name ? NULL : &m->pid,
                                     m->by_name ? m->name : NULL, ref) == 0)
            en_conn_kick(c);
    }
    pthread_mutex_unlock(&n->lock);
    int rc = m ? 0 : ENODE_ENOTFOUND;
    free(m);
    return rc;
}

int enode_monitor_nodes(enode_mbox_t *mb, int on)
{
    pthread_mutex_lock(&mb->node->lock);
    mb->monitor_nodes = on != 0;
    pthread_mutex_unlock(&mb->node->lock);
    return 0;
}
