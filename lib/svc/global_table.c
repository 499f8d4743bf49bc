/* global_table.c - this node's replica of global's table: the names
 * registered in our partition, the locks set on this node, and the
 * processes of other nodes we monitor so that their names and locks go
 * when they die (global.erl's erlang:monitor on each). */
#include "svc/global_int.h"

/* ---- watching processes ---------------------------------------------------- */

static int pid_in_use(const en_global_t *g, const erlang_pid *pid)
{
    for (const g_name_t *e = g->names; e; e = e->next)
        if (en_pid_eq(&e->pid, pid))
            return 1;
    for (const g_lock_t *l = g->locks; l; l = l->next)
        for (const g_holder_t *h = l->holders; h; h = h->next)
            if (en_pid_eq(&h->pid, pid))
                return 1;
    return 0;
}

void g_watch(en_global_t *g, const erlang_pid *pid)
{
    if (en_core_is_local(g->proc->core, pid->node))
        return; /* our mailboxes are checked when names are read */
    for (g_watch_t *w = g->watches; w; w = w->next)
        if (en_pid_eq(&w->pid, pid))
            return;
    g_watch_t *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->pid = *pid;
    w->next = g->watches;
    g->watches = w;
    /* From global's own process: the DOWN comes to its handler. */
    en_monitor_locked(g->self, pid, NULL, pid->node, &w->ref);
}

static void unwatch_if_unused(en_global_t *g, const erlang_pid *pid)
{
    g_watch_t *w;
    if (pid_in_use(g, pid))
        return;
    EN_LIST_UNLINK(&g->watches, w, en_pid_eq(&w->pid, pid));
    if (!w)
        return;
    en_demonitor_locked(g->self, &w->ref);
    free(w);
}

/* ---- names ------------------------------------------------------------------ */

g_name_t *g_name_find(en_global_t *g, const char *name, int len)
{
    for (g_name_t *e = g->names; e; e = e->next)
        if (gt_eq(&e->name, name, len))
            return e;
    return NULL;
}

void g_name_free(g_name_t *e)
{
    gt_free(&e->name);
    gt_free(&e->method);
    free(e);
}

void g_name_delete(en_global_t *g, const char *name, int len)
{
    g_name_t *e;
    EN_LIST_UNLINK(&g->names, e, gt_eq(&e->name, name, len));
    if (!e)
        return;
    erlang_pid pid = e->pid;
    g_name_free(e);
    unwatch_if_unused(g, &pid);
}

/* A process of this node that is gone (no mailbox, or a dead one). */
static int local_pid_gone(en_global_t *g, const erlang_pid *pid)
{
    return en_core_is_local(g->proc->core, pid->node) &&
           !en_pid_alive(g->proc, pid);
}

void g_purge_local_names(en_global_t *g)
{
    g_name_t *e;
    EN_LIST_UNLINK_EACH(&g->names, e, local_pid_gone(g, &e->pid))
    g_name_free(e);
}

/* Is the lock under which a name arrives still ours? (global.erl
 * lock_still_set :2241.) from_pid for a register call, else the
 * LockRequesterId of the session or new_nodes that carried it. */
static int lock_still_set(en_global_t *g, const erlang_pid *from_pid,
                          const char *req, int req_len)
{
    for (g_lock_t *l = g->locks; l; l = l->next) {
        if (!l->is_global)
            continue;
        if (from_pid) {
            for (g_holder_t *h = l->holders; h; h = h->next)
                if (en_pid_eq(&h->pid, from_pid))
                    return 1;
            return 0;
        }
        return !req || gt_eq(&l->req, req, req_len);
    }
    return !g->lock_down;
}

void g_name_insert(en_global_t *g, const char *name, int name_len,
                   const erlang_pid *pid, const char *method, int method_len,
                   const char *reg_node, const erlang_pid *from_pid,
                   const char *req, int req_len)
{
    g_name_delete(g, name, name_len);
    g_name_t *e = calloc(1, sizeof *e);
    if (!e || gt_set(&e->name, name, name_len) < 0 ||
        gt_set(&e->method, method, method_len) < 0) {
        if (e) {
            gt_free(&e->name);
            free(e);
        }
        en_core_log(g->proc->core, ENODE_LOG_ERROR,
                    "global: out of memory; a name is lost");
        return;
    }
    e->pid = *pid;
    if (reg_node) {
        e->ext = 1;
        snprintf(e->reg_node, sizeof e->reg_node, "%s", reg_node);
    }
    e->next = g->names;
    g->names = e;
    g_watch(g, pid);
    if (!lock_still_set(g, from_pid, req, req_len))
        g_name_delete(g, name, name_len);
}

/* ---- locks ------------------------------------------------------------------ */

static g_lock_t *lock_find(en_global_t *g, const char *res, int res_len)
{
    for (g_lock_t *l = g->locks; l; l = l->next)
        if (gt_eq(&l->res, res, res_len))
            return l;
    return NULL;
}

g_lock_t *g_global_lock(en_global_t *g)
{
    for (g_lock_t *l = g->locks; l; l = l->next)
        if (l->is_global)
            return l;
    return NULL;
}

void g_lock_unlink_free(en_global_t *g, g_lock_t *lk)
{
    g_lock_t *e;
    EN_LIST_UNLINK(&g->locks, e, e == lk);
    while (lk->holders) {
        g_holder_t *h = lk->holders;
        lk->holders = h->next;
        free(h);
    }
    gt_free(&lk->res);
    gt_free(&lk->req);
    free(lk);
}

int g_lock_set(en_global_t *g, const char *res, int res_len, const char *req,
               int req_len, const erlang_pid *pid)
{
    g_lock_t *lk = lock_find(g, res, res_len);
    if (lk && !gt_eq(&lk->req, req, req_len))
        return 0;
    if (!lk) {
        int i = 0;
        lk = calloc(1, sizeof *lk);
        if (!lk || gt_set(&lk->res, res, res_len) < 0 ||
            gt_set(&lk->req, req, req_len) < 0) {
            if (lk) {
                gt_free(&lk->res);
                free(lk);
            }
            return -1;
        }
        lk->is_global = is_atom(res, &i, "global") && i == res_len;
        lk->next = g->locks;
        g->locks = lk;
    }
    for (g_holder_t *h = lk->holders; h; h = h->next)
        if (en_pid_eq(&h->pid, pid))
            return 1;
    g_holder_t *h = calloc(1, sizeof *h);
    if (!h) {
        if (!lk->holders)
            g_lock_unlink_free(g, lk);
        return -1;
    }
    h->pid = *pid;
    h->next = lk->holders;
    lk->holders = h;
    g_watch(g, pid);
    return 1;
}

/* The lock goes once its last holder has: global_lock_down says whether
 * the holder died (down) rather than let go. */
static void lock_drop_if_unheld(en_global_t *g, g_lock_t *lk, int down)
{
    if (lk->holders)
        return;
    if (lk->is_global)
        g->lock_down = down;
    g_lock_unlink_free(g, lk);
}

void g_lock_release(en_global_t *g, g_lock_t *lk, const erlang_pid *pid,
                    int down)
{
    g_holder_t *h;
    EN_LIST_UNLINK(&lk->holders, h, en_pid_eq(&h->pid, pid));
    if (h) {
        free(h);
        lock_drop_if_unheld(g, lk, down);
    }
    unwatch_if_unused(g, pid);
}

void g_lock_del(en_global_t *g, const char *res, int res_len, const char *req,
                int req_len, const erlang_pid *pid)
{
    g_lock_t *lk = lock_find(g, res, res_len);
    if (lk && gt_eq(&lk->req, req, req_len))
        g_lock_release(g, lk, pid, 0);
}

/* ---- processes and nodes that go ------------------------------------------ */

void g_pid_gone(en_global_t *g, const erlang_pid *pid)
{
    g_name_t *e;
    EN_LIST_UNLINK_EACH(&g->names, e, en_pid_eq(&e->pid, pid))
    g_name_free(e);
    for (g_lock_t *l = g->locks, *next; l; l = next) {
        next = l->next;
        g_lock_release(g, l, pid, 1);
    }
}

void g_node_resources_gone(en_global_t *g, const char *node)
{
    g_watch_t *w;
    g_name_t *e;
    g_holder_t *h;

    EN_LIST_UNLINK_EACH(&g->watches, w, node_of_pid_is(&w->pid, node))
    free(w);
    EN_LIST_UNLINK_EACH(&g->names, e, node_of_pid_is(&e->pid, node))
    g_name_free(e);
    for (g_lock_t *l = g->locks, *next; l; l = next) {
        next = l->next;
        EN_LIST_UNLINK_EACH(&l->holders, h, node_of_pid_is(&h->pid, node))
        free(h);
        lock_drop_if_unheld(g, l, 1);
    }
}
