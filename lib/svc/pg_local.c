/* pg_local.c - this node's members of a scope: joins, leaves, deaths,
 * and what the peer scopes are told of them.
 *
 * The scope monitors each member mailbox once, however many groups it is
 * in; when it exits or is freed the DOWN makes it leave everything, as
 * OTP's scope does for a local process. Peers get {join, Self, Group,
 * Pid} and {leave, Self, Pid, Groups} -- only those that have our sync
 * (pg.c explains why).
 */
#include "svc/pg_int.h"

static pg_member_t *member_find(pg_scope_t *s, const erlang_pid *pid)
{
    for (pg_member_t *m = s->members; m; m = m->next)
        if (en_pid_eq(&m->pid, pid))
            return m;
    return NULL;
}

/* x to every peer that has our sync. The pids are copied first: a send
 * that fails at once drops peers from the list. */
static void tell_peers(pg_scope_t *s, const ei_x_buff *x)
{
    size_t n = 0, k = 0;

    for (pg_peer_t *p = s->peers; p; p = p->next)
        n += p->told;
    if (n == 0)
        return;
    erlang_pid *to = malloc(n * sizeof *to);
    if (!to) {
        pg_log(s, ENODE_LOG_ERROR, "out of memory: peers not told");
        return;
    }
    for (pg_peer_t *p = s->peers; p; p = p->next)
        if (p->told)
            to[k++] = p->scope;
    for (k = 0; k < n; k++)
        pg_send(s, &to[k], x);
    free(to);
}

/* The member is in no group any more: the scope stops watching it. */
static void member_done(pg_scope_t *s, const erlang_pid *pid)
{
    pg_member_t *m;

    EN_LIST_UNLINK(&s->members, m, en_pid_eq(&m->pid, pid));
    if (m)
        en_demonitor_locked(s->self, &m->mon);
    free(m);
}

/* {join, Self, Group, Pid} or {leave, Self, Pid, [Group]} into x, set up
 * here; built before anything changes, so that what the peers are told
 * cannot be lost for want of memory. */
static int change(pg_scope_t *s, int join, const erlang_pid *pid,
                  const char *group, size_t len, ei_x_buff *x)
{
    if (ei_x_new_with_version(x) < 0)
        return ENODE_ENOMEM;
    int rc = ei_x_encode_tuple_header(x, 4) |
             ei_x_encode_atom(x, join ? "join" : "leave") |
             ei_x_encode_pid(x, pg_self(s));
    if (join)
        rc |= ei_x_append_buf(x, group, (int)len) | ei_x_encode_pid(x, pid);
    else
        rc |= ei_x_encode_pid(x, pid) | ei_x_encode_list_header(x, 1) |
              ei_x_append_buf(x, group, (int)len) | ei_x_encode_empty_list(x);
    if (rc) {
        ei_x_free(x);
        return ENODE_ENOMEM;
    }
    return 0;
}

/* The member, watched by the scope from its first join on. */
static pg_member_t *member_get(pg_scope_t *s, const erlang_pid *pid, int *rc)
{
    pg_member_t *m = member_find(s, pid);

    *rc = 0;
    if (m)
        return m;
    if (!(m = calloc(1, sizeof *m))) {
        *rc = ENODE_ENOMEM;
        return NULL;
    }
    m->pid = *pid;
    /* It lives (the caller checked): no DOWN comes back from this. */
    if ((*rc = en_monitor_locked(s->self, pid, NULL, pid->node, &m->mon)) <
        0) {
        free(m);
        return NULL;
    }
    m->next = s->members;
    s->members = m;
    return m;
}

int pg_local_join(pg_scope_t *s, const erlang_pid *member, const char *group,
                  size_t len)
{
    pg_member_t *m;
    pg_pid_t pid;
    ei_x_buff x;
    int rc;

    if (!en_pid_alive(s->pg->proc, member))
        return ENODE_ECLOSED;
    if ((rc = pg_pid_in(s->pg, member, &pid)) < 0 ||
        (rc = change(s, 1, member, group, len, &x)) < 0)
        return rc;
    if (!(m = member_get(s, member, &rc)) ||
        (rc = pg_group_add(&s->local, group, len, &pid, 1)) < 0) {
        if (m && m->joins == 0)
            member_done(s, member);
        ei_x_free(&x);
        return rc;
    }
    m->joins++;
    pg_notify(s, "join", group, len, &pid, 1);
    tell_peers(s, &x);
    ei_x_free(&x);
    return 0;
}

int pg_local_leave(pg_scope_t *s, const erlang_pid *member, const char *group,
                   size_t len)
{
    pg_member_t *m = member_find(s, member);
    pg_pid_t pid, gone;
    size_t n_gone = 0;
    ei_x_buff x;
    int rc;

    if (!m)
        return ENODE_ENOTFOUND;
    if ((rc = pg_pid_in(s->pg, member, &pid)) < 0)
        return rc;
    if (!pg_group_count(pg_group_find(s->local, group, len), &pid))
        return ENODE_ENOTFOUND;
    if ((rc = change(s, 0, member, group, len, &x)) < 0)
        return rc;
    if ((rc = pg_group_remove(&s->local, group, len, &pid, 1, &gone,
                              &n_gone)) < 0) {
        ei_x_free(&x);
        return rc;
    }
    if (--m->joins == 0)
        member_done(s, member);
    pg_notify(s, "leave", group, len, &pid, 1);
    tell_peers(s, &x);
    ei_x_free(&x);
    return 0;
}

/* pid leaves every group it is in, each as many times as it joined;
 * the leave for the peers names each group that many times, as OTP's
 * scope does for a process that dies. */
static void leave_all(pg_scope_t *s, const erlang_pid *member, ei_x_buff *x)
{
    size_t total = 0;
    pg_pid_t pp, *pid = &pp;
    int rc = pg_pid_in(s->pg, member, &pp);

    if (rc < 0) /* never here: the member's node is ours, kept at its join */
        return;
    for (pg_group_t *g = s->local; g; g = g->next)
        total += pg_group_count(g, pid);
    rc |= ei_x_encode_tuple_header(x, 4) | ei_x_encode_atom(x, "leave") |
          ei_x_encode_pid(x, pg_self(s)) | ei_x_encode_pid(x, member);
    if (total > 0)
        rc |= ei_x_encode_list_header(x, (long)total);
    for (pg_group_t **link = &s->local, *g; (g = *link);) {
        size_t n = pg_group_count(g, pid), keep = 0;
        for (size_t k = 0; k < n; k++)
            rc |= ei_x_append_buf(x, g->term, (int)g->len);
        for (size_t k = 0; k < g->n; k++)
            if (!pg_pid_eq(&g->pids[k], pid))
                g->pids[keep++] = g->pids[k];
        g->n = keep;
        for (size_t k = 0; k < n; k++) /* one notice per join */
            pg_notify(s, "leave", g->term, g->len, pid, 1);
        if (keep == 0) {
            *link = g->next;
            pg_group_free(g);
        } else {
            link = &g->next;
        }
    }
    rc |= ei_x_encode_empty_list(x);
    if (rc) {
        pg_log(s, ENODE_LOG_ERROR, "out of memory: the peers are not told "
                                   "that a member left");
        x->index = 0;
    }
}

int pg_local_down(pg_scope_t *s, const erlang_ref *ref)
{
    pg_member_t *m;
    ei_x_buff x;

    EN_LIST_UNLINK(&s->members, m, en_ref_eq(&m->mon, ref));
    if (!m)
        return 0;
    erlang_pid pid = m->pid;
    free(m);
    if (ei_x_new_with_version(&x) < 0)
        return 1;
    leave_all(s, &pid, &x);
    if (x.index > 0)
        tell_peers(s, &x);
    ei_x_free(&x);
    return 1;
}

int pg_local_sync(pg_scope_t *s, const erlang_pid *peer)
{
    size_t n = 0;
    int rc;
    ei_x_buff x; /* {'$gen_cast', {sync, Self, [{Group, [Pid]}]}} */

    for (pg_group_t *g = s->local; g; g = g->next)
        n++;
    if (ei_x_new_with_version(&x) < 0)
        return ENODE_ENOMEM;
    rc = ei_x_encode_tuple_header(&x, 2) | ei_x_encode_atom(&x, "$gen_cast") |
         ei_x_encode_tuple_header(&x, 3) | ei_x_encode_atom(&x, "sync") |
         ei_x_encode_pid(&x, pg_self(s));
    if (n > 0)
        rc |= ei_x_encode_list_header(&x, (long)n);
    for (pg_group_t *g = s->local; g; g = g->next)
        rc |= pg_put_group(&x, g);
    rc |= ei_x_encode_empty_list(&x);
    if (rc == 0)
        pg_send(s, peer, &x);
    else
        pg_log(s, ENODE_LOG_ERROR, "out of memory: no sync for %s",
               peer->node);
    ei_x_free(&x);
    return rc ? ENODE_ENOMEM : 0;
}

void pg_local_free(pg_scope_t *s)
{
    pg_groups_free(&s->local);
    while (s->members) {
        pg_member_t *m = s->members;
        s->members = m->next;
        free(m);
    }
}
