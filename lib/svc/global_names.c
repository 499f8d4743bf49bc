/* global_names.c - what the API asks of global: register and unregister
 * a name (a transaction of the registrar, global_trans.c, waited for with
 * a time limit), list the names of our replica, and whether global is on.
 *
 * The waiting caller runs the loop when no other thread does (event-loop
 * mode) or sleeps on the node's condition (threaded mode), as enode_call
 * does; it also sees to the registrar's sleeps between lock attempts,
 * which need a clock, not a message. */
#include "svc/global_int.h"

/* ---- names ------------------------------------------------------------------ */

/* The length of the UTF-8 sequence that starts with b, given what
 * follows it (an atom's text: no overlong forms, no surrogates, nothing
 * past U+10FFFF); 0 if it is not one. */
static int utf8_seq(const unsigned char *b)
{
    int n = b[0] < 0x80 ? 1 : b[0] < 0xc2 ? 0 : b[0] < 0xe0 ? 2
                                     : b[0] < 0xf0 ? 3 : b[0] < 0xf5 ? 4 : 0;
    for (int k = 1; k < n; k++)
        if ((b[k] & 0xc0) != 0x80)
            return 0;
    if ((b[0] == 0xe0 && b[1] < 0xa0) || (b[0] == 0xed && b[1] >= 0xa0) ||
        (b[0] == 0xf0 && b[1] < 0x90) || (b[0] == 0xf4 && b[1] >= 0x90))
        return 0;
    return n;
}

/* name as an atom term, into a new x: 0, or ENODE_EINVAL if name is not
 * the text of an atom (UTF-8, at most 255 characters). */
static int encode_name(ei_x_buff *x, const char *name)
{
    const unsigned char *p = (const unsigned char *)name;
    int chars = 0, n;

    if (!name)
        return ENODE_EINVAL;
    for (; *p; p += n)
        if (!(n = utf8_seq(p)) || ++chars > 255)
            return ENODE_EINVAL;
    if (ei_x_new(x) < 0)
        return ENODE_ENOMEM;
    if (put_atom(x, name) < 0) {
        ei_x_free(x);
        return ENODE_EINVAL;
    }
    return 0;
}

int en_global_whereis(en_global_t *g, const char *atom, erlang_pid *pid)
{
    ei_x_buff x;
    int found = encode_name(&x, atom);

    if (found < 0)
        return found;
    pthread_mutex_lock(&g->proc->core->lock);
    g_purge_local_names(g); /* where :1205 checks that ours are alive */
    g_name_t *e = g_name_find(g, x.buff, x.index);
    if (e) {
        *pid = e->pid;
        found = 1;
    }
    pthread_mutex_unlock(&g->proc->core->lock);
    ei_x_free(&x);
    return found;
}

/* ---- transactions ----------------------------------------------------------- */

void en_global_set_connect_all(en_global_t *g, int on)
{
    g->off = !on;
}

void en_global_set_timeout(en_global_t *g, int timeout_ms)
{
    pthread_mutex_lock(&g->proc->core->lock);
    g->timeout_ms = timeout_ms > 0 ? timeout_ms : EN_GLOBAL_TIMEOUT_MS;
    pthread_mutex_unlock(&g->proc->core->lock);
}

static int start_locked(en_global_t *g, const erlang_pid *pid,
                        const char *name, uint64_t *id)
{
    en_core_t *core = g->proc->core;
    ei_x_buff x;
    int rc;

    if (g->off || g->hidden) {
        en_core_error(core, "global is off on this node (%s)",
                      g->off ? "-connect_all false"
                             : "a hidden node takes no part in global");
        return ENODE_EINVAL;
    }
    if ((rc = encode_name(&x, name)) < 0) {
        en_core_error(core, "global: a name must be an atom's text (UTF-8, "
                            "at most 255 characters)");
        return rc;
    }
    g_enter(g);
    g_trans_t *t = g_trans_new(g, pid ? G_TRANS_REGISTER : G_TRANS_UNREGISTER,
                               x.buff, x.index, pid);
    if (t) {
        t->deadline = en_now_ms() + (uint64_t)g->timeout_ms;
        *id = t->id;
    }
    g_leave(g);
    ei_x_free(&x);
    return t ? 0 : ENODE_ENOMEM;
}

int en_global_trans_start(en_global_t *g, const erlang_pid *pid,
                          const char *name, uint64_t *id)
{
    pthread_mutex_lock(&g->proc->core->lock);
    int rc = start_locked(g, pid, name, id);
    pthread_mutex_unlock(&g->proc->core->lock);
    return rc;
}

/* Why t did not end in time, for enode_last_error. */
static void say_timeout(en_global_t *g, const g_trans_t *t)
{
    char waiting[256] = "";
    size_t at = 0;

    for (const g_node_t *e = t->nodes; e && at < sizeof waiting; e = e->next)
        if (e->answer == G_ANS_WAIT)
            at += (size_t)snprintf(waiting + at, sizeof waiting - at, "%s%s",
                                   at ? ", " : "", e->node);
    en_core_error(g->proc->core, "global: the cluster did not answer in %d ms "
                  "(%s%s)", g->timeout_ms,
                  t->state == G_TRANS_QUEUED ? "the registration ahead did "
                                               "not end"
                  : t->state == G_TRANS_SLEEP ? "the lock stayed taken"
                                              : "waiting for ",
                  waiting);
}

/* t is over, or given up: its result, and t is gone. Once it is letting
 * go of the lock, what it did stands. */
static int finish(en_global_t *g, g_trans_t *t)
{
    int rc = ENODE_ETIMEOUT;

    if (t->state >= G_TRANS_UNLOCK) {
        rc = t->result;
        if (rc < 0)
            en_core_error(g->proc->core, "%s", t->why);
    } else {
        say_timeout(g, t);
    }
    g_trans_abandon(g, t);
    return rc;
}

/* poll with the lock held; *wake is when the caller must look again. */
static int poll_locked(en_global_t *g, uint64_t id, int *rc, uint64_t *wake)
{
    g_trans_t *t = g_trans_by_id(g, id);
    int over = 1;

    if (!t) {
        *rc = ENODE_ENOTFOUND;
        return 1;
    }
    g_enter(g);
    g_trans_tick(g, t);
    if (t->state == G_TRANS_DONE || en_now_ms() >= t->deadline) {
        *rc = finish(g, t);
    } else {
        over = 0;
        *wake = t->state == G_TRANS_SLEEP && t->wake_at < t->deadline
                    ? t->wake_at
                    : t->deadline;
    }
    g_leave(g);
    return over;
}

int en_global_trans_poll(en_global_t *g, uint64_t id, int *rc)
{
    uint64_t wake;
    pthread_mutex_lock(&g->proc->core->lock);
    int over = poll_locked(g, id, rc, &wake);
    pthread_mutex_unlock(&g->proc->core->lock);
    return over;
}

static int run(en_global_t *g, const erlang_pid *pid, const char *name)
{
    uint64_t id, wake;
    int rc;

    pthread_mutex_lock(&g->proc->core->lock);
    if ((rc = start_locked(g, pid, name, &id)) == 0)
        while (!poll_locked(g, id, &rc, &wake))
            en_net_wait_locked(g->proc->net, wake);
    pthread_mutex_unlock(&g->proc->core->lock);
    return rc;
}

int en_global_register(en_global_t *g, const erlang_pid *pid,
                       const char *name)
{
    return run(g, pid, name);
}

int en_global_unregister(en_global_t *g, const char *name)
{
    erlang_pid pid;
    /* unregister_name :156: nothing to do for a name nobody has. */
    if (!g->off && !g->hidden && en_global_whereis(g, name, &pid) == 0)
        return 0;
    return run(g, NULL, name);
}

/* ---- listing ---------------------------------------------------------------- */

typedef struct {
    char name[MAXATOMLEN_UTF8];
    erlang_pid pid;
} name_copy_t;

int en_global_names(en_global_t *g, en_global_name_fn fn, void *ud)
{
    name_copy_t *v = NULL;
    int n = 0, cap = 0;

    pthread_mutex_lock(&g->proc->core->lock);
    g_purge_local_names(g);
    for (const g_name_t *e = g->names; e; e = e->next)
        cap++;
    if (cap && !(v = calloc((size_t)cap, sizeof *v)))
        n = ENODE_ENOMEM;
    for (const g_name_t *e = g->names; v && e; e = e->next) {
        int i = 0;
        if (get_atom(e->name.b, &i, v[n].name) == 0 && i == e->name.len)
            v[n++].pid = e->pid;
    }
    pthread_mutex_unlock(&g->proc->core->lock);
    for (int k = 0; fn && k < n; k++)
        fn(ud, v[k].name, &v[k].pid);
    free(v);
    return n;
}
