/* pg_watch.c - mailboxes that watch a scope or one of its groups, as
 * pg:monitor_scope/1 and pg:monitor/2 do on an OTP node.
 *
 * A watcher gets {Ref, join, Group, [Pid]} and {Ref, leave, Group, [Pid]}
 * for every change, local or remote, the message shapes of OTP's pg. It
 * first gets the members of that moment as joins, so what it sees adds up
 * without a race against a separate query. The scope monitors the
 * watcher and forgets it when it goes; removing the monitor drops the
 * notices still queued, as pg:demonitor/2 flushes them.
 */
#include "svc/pg_int.h"

static void notice(pg_scope_t *s, const pg_sub_t *sub, const char *what,
                   const char *group, size_t len, const pg_pid_t *pids,
                   size_t n)
{
    ei_x_buff x;
    int rc;

    if (n == 0 || ei_x_new_with_version(&x) < 0)
        return;
    rc = ei_x_encode_tuple_header(&x, 4) | ei_x_encode_ref(&x, &sub->ref) |
         ei_x_encode_atom(&x, what) | ei_x_append_buf(&x, group, (int)len) |
         pg_put_pids(&x, pids, n);
    /* A local mailbox: delivered at once, nothing re-enters. */
    if (rc == 0)
        en_send_locked(s->pg->proc, pg_self(s), &sub->watcher, x.buff,
                       (size_t)x.index);
    ei_x_free(&x);
}

void pg_notify(pg_scope_t *s, const char *what, const char *group, size_t len,
               const pg_pid_t *pids, size_t n)
{
    for (pg_sub_t *sub = s->subs; n > 0 && sub; sub = sub->next)
        if (!sub->group ||
            (sub->len == len && memcmp(sub->group, group, len) == 0))
            notice(s, sub, what, group, len, pids, n);
}

/* The members of group now, as one join notice to sub. */
static int members_now(pg_scope_t *s, const pg_group_t *g, void *ud)
{
    const pg_sub_t *sub = ud;
    size_t n = pg_collect(s, g->term, g->len, 0, NULL, 0);
    pg_pid_t *pids = malloc((n ? n : 1) * sizeof *pids);

    if (!pids)
        return ENODE_ENOMEM;
    pg_collect(s, g->term, g->len, 0, pids, n);
    notice(s, sub, "join", g->term, g->len, pids, n);
    free(pids);
    return 0;
}

int pg_watch_add(pg_scope_t *s, const erlang_pid *watcher, const char *group,
                 size_t len, erlang_ref *ref)
{
    pg_sub_t *sub;
    int rc;

    if (!en_pid_alive(s->pg->proc, watcher))
        return ENODE_ECLOSED;
    if (!(sub = calloc(1, sizeof *sub)) ||
        (group && !(sub->group = malloc(len ? len : 1)))) {
        free(sub);
        return ENODE_ENOMEM;
    }
    if (group)
        memcpy(sub->group, group, len);
    sub->len = len;
    sub->watcher = *watcher;
    en_make_ref(s->pg->proc, &sub->ref);
    if ((rc = en_monitor_locked(s->self, watcher, NULL, watcher->node,
                                &sub->mon)) < 0) {
        free(sub->group);
        free(sub);
        return rc;
    }
    sub->next = s->subs;
    s->subs = sub;
    *ref = sub->ref;
    if (group) {
        pg_group_t g = {.term = sub->group, .len = len};
        return members_now(s, &g, sub);
    }
    return pg_each_group(s, 0, members_now, sub);
}

/* A queued notice tagged ref. */
static int is_notice(const char *term, size_t len, void *ud)
{
    char atom[MAXATOMLEN_UTF8];
    erlang_ref ref;
    int i = 0, arity;

    (void)len;
    return ei_decode_version(term, &i, &arity) == 0 &&
           ei_decode_tuple_header(term, &i, &arity) == 0 && arity == 4 &&
           ei_decode_ref(term, &i, &ref) == 0 && en_ref_eq(&ref, ud) &&
           ei_decode_atom(term, &i, atom) == 0 &&
           (strcmp(atom, "join") == 0 || strcmp(atom, "leave") == 0);
}

static void sub_free(pg_sub_t *sub)
{
    free(sub->group);
    free(sub);
}

int pg_watch_remove(pg_scope_t *s, const erlang_pid *watcher,
                    const erlang_ref *ref)
{
    pg_sub_t *sub;

    EN_LIST_UNLINK(&s->subs, sub,
                   en_ref_eq(&sub->ref, ref) &&
                       en_pid_eq(&sub->watcher, watcher));
    if (!sub)
        return ENODE_ENOTFOUND;
    en_demonitor_locked(s->self, &sub->mon);
    en_mbox_t *mb = en_mbox_by_pid(s->pg->proc, watcher);
    if (mb)
        en_mbox_drop(mb, is_notice, &sub->ref);
    sub_free(sub);
    return 0;
}

int pg_watch_down(pg_scope_t *s, const erlang_ref *ref)
{
    pg_sub_t *sub;

    EN_LIST_UNLINK(&s->subs, sub, en_ref_eq(&sub->mon, ref));
    if (!sub)
        return 0;
    sub_free(sub);
    return 1;
}

void pg_watch_free(pg_scope_t *s)
{
    while (s->subs) {
        pg_sub_t *sub = s->subs;
        s->subs = sub->next;
        sub_free(sub);
    }
}
