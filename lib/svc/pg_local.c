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

int pg_local_join(pg_scope_t *s, const erlang_pid *member, const char *group,
                  size_t len)
{
    pg_member_t *m = member_find(s, member);
    int rc;

    if (!en_pid_alive(s->pg->proc, member))
        return ENODE_ECLOSED;
    if (!m) {
        if (!(m = calloc(1, sizeof *m)))
            return ENODE_ENOMEM;
        m->pid = *member;
        /* It lives (checked above): no DOWN comes back from this. */
        if ((rc = en_monitor_locked(s->self, member, NULL, member->node,
                                    &m->mon)) < 0) {
            free(m);
            return rc;
        }
        m->next = s->members;
        s->members = m;
    }
    if ((rc = pg_group_add(&s->local, group, len, member, 1)) < 0) {
        if (m->joins == 0)
            member_done(s, member);
        return rc;
    }
    m->joins++;
    pg_notify(s, "join", group, len, member, 1);

    ei_x_buff x; /* {join, Self, Group, Pid} */
    if (ei_x_new_with_version(&x) < 0)
        return 0;
    if (ei_x_encode_tuple_header(&x, 4) == 0 &&
        ei_x_encode_atom(&x, "join") == 0 &&
        ei_x_encode_pid(&x, pg_self(s)) == 0 &&
        ei_x_append_buf(&x, group, (int)len) == 0 &&
        ei_x_encode_pid(&x, member) == 0)
        tell_peers(s, &x);
    ei_x_free(&x);
    return 0;
}

int pg_local_leave(pg_scope_t *s, const erlang_pid *member, const char *group,
                   size_t len)
{
    pg_member_t *m = member_find(s, member);
    erlang_pid gone;
    size_t n_gone = 0;
    int rc;

    if (!m)
        return ENODE_ENOTFOUND;
    rc = pg_group_remove(&s->local, group, len, member, 1, &gone, &n_gone);
    if (rc < 0 || n_gone == 0)
        return rc < 0 ? rc : ENODE_ENOTFOUND;
    if (--m->joins == 0)
        member_done(s, member);
    pg_notify(s, "leave", group, len, member, 1);

    ei_x_buff x; /* {leave, Self, Pid, [Group]} */
    if (ei_x_new_with_version(&x) < 0)
        return 0;
    if (ei_x_encode_tuple_header(&x, 4) == 0 &&
        ei_x_encode_atom(&x, "leave") == 0 &&
        ei_x_encode_pid(&x, pg_self(s)) == 0 &&
        ei_x_encode_pid(&x, member) == 0 &&
        ei_x_encode_list_header(&x, 1) == 0 &&
        ei_x_append_buf(&x, group, (int)len) == 0 &&
        ei_x_encode_empty_list(&x) == 0)
        tell_peers(s, &x);
    ei_x_free(&x);
    return 0;
}

/* pid leaves every group it is in, each as many times as it joined;
 * the leave for the peers names each group that many times, as OTP's
 * scope does for a process that dies. */
static void leave_all(pg_scope_t *s, const erlang_pid *pid, ei_x_buff *x)
{
    size_t total = 0;
    int rc = 0;

    for (pg_group_t *g = s->local; g; g = g->next)
        total += pg_group_count(g, pid);
    rc |= ei_x_encode_tuple_header(x, 4) | ei_x_encode_atom(x, "leave") |
          ei_x_encode_pid(x, pg_self(s)) | ei_x_encode_pid(x, pid);
    if (total > 0)
        rc |= ei_x_encode_list_header(x, (long)total);
    for (pg_group_t **link = &s->local, *g; (g = *link);) {
        size_t n = pg_group_count(g, pid), keep = 0;
        for (size_t k = 0; k < n; k++)
            rc |= ei_x_append_buf(x, g->term, (int)g->len);
        for (size_t k = 0; k < g->n; k++)
            if (!en_pid_eq(&g->pids[k], pid))
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
    if (rc)
        x->index = 0; /* out of memory: the peers will not be told */
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

void pg_local_sync(pg_scope_t *s, const erlang_pid *peer)
{
    size_t n = 0;
    int rc;
    ei_x_buff x; /* {'$gen_cast', {sync, Self, [{Group, [Pid]}]}} */

    for (pg_group_t *g = s->local; g; g = g->next)
        n++;
    if (ei_x_new_with_version(&x) < 0)
        return;
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
