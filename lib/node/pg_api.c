/* pg_api.c - the public calls of process groups (enode_pg_*): each checks
 * its arguments, puts the group in its canonical form (so that any way of
 * encoding a term names the same group), takes the node's lock and hands
 * over to the pg service (svc/pg.h).
 */
#include "node/node.h"

#include <stddef.h>
#include <string.h>

#include "proto/ctrl.h"
#include "proto/term_canon.h"

/* The node a mailbox belongs to. */
static enode_t *node_of(enode_mbox_t *mb)
{
    return (enode_t *)(void *)((char *)en_mbox_proc(mb) -
                               offsetof(enode_t, proc));
}

/* A scope name: NULL (the default scope), or an atom's text of 1 to 255
 * characters in valid UTF-8. */
static int scope_ok(const char *scope)
{
    const unsigned char *p = (const unsigned char *)scope;
    size_t chars = 0;

    if (!scope)
        return 1;
    if (!*p || strlen(scope) >= MAXATOMLEN_UTF8)
        return 0;
    while (*p) {
        int more = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1
                                 : (*p & 0xF0) == 0xE0 ? 2
                                 : (*p & 0xF8) == 0xF0 ? 3
                                                        : -1;
        if (more < 0 || (more == 1 && *p < 0xC2) || *p >= 0xF5)
            return 0;
        for (p++; more > 0; more--, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
        chars++;
    }
    return chars <= 255;
}

static const char *scope_name(const char *scope)
{
    return scope ? scope : "pg";
}

/* group as a canonical bare term, set up in *x; ENODE_EINVAL if it is
 * not one whole valid term. */
static int group_term(const ei_x_buff *group, ei_x_buff *x)
{
    const char *t;
    size_t len, term_len;

    if (!group || !group->buff || group->index <= 0)
        return ENODE_EINVAL;
    t = group->buff;
    len = (size_t)group->index;
    en_skip_version(&t, &len);
    if (len == 0 || en_term_size(t, len, &term_len, NULL) < 0 ||
        term_len != len)
        return ENODE_EINVAL;
    if (ei_x_new(x) < 0)
        return ENODE_ENOMEM;
    if (en_term_canon(t, len, x, NULL) < 0) {
        ei_x_free(x);
        return ENODE_EINVAL;
    }
    return 0;
}

int enode_pg_start(enode_t *n, const char *scope)
{
    if (!n || !scope_ok(scope))
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->core.lock);
    int rc = en_pg_scope(n->pg, scope_name(scope));
    pthread_mutex_unlock(&n->core.lock);
    return rc;
}

/* Join (join = 1) or leave. */
static int membership(enode_mbox_t *mb, const char *scope,
                      const ei_x_buff *group, int join)
{
    ei_x_buff g;
    int rc;

    if (!mb || !scope_ok(scope))
        return ENODE_EINVAL;
    if ((rc = group_term(group, &g)) < 0)
        return rc;
    enode_t *n = node_of(mb);
    pthread_mutex_lock(&n->core.lock);
    rc = (join ? en_pg_join : en_pg_leave)(n->pg, scope_name(scope),
                                           enode_mbox_pid(mb), g.buff,
                                           (size_t)g.index);
    pthread_mutex_unlock(&n->core.lock);
    ei_x_free(&g);
    return rc;
}

int enode_pg_join(enode_mbox_t *mb, const char *scope, const ei_x_buff *group)
{
    return membership(mb, scope, group, 1);
}

int enode_pg_leave(enode_mbox_t *mb, const char *scope, const ei_x_buff *group)
{
    return membership(mb, scope, group, 0);
}

static int members(enode_t *n, const char *scope, const ei_x_buff *group,
                   erlang_pid *pids, int max, int local_only)
{
    ei_x_buff g;
    int rc;

    if (!n || !scope_ok(scope) || max < 0 || (max > 0 && !pids))
        return ENODE_EINVAL;
    if ((rc = group_term(group, &g)) < 0)
        return rc;
    pthread_mutex_lock(&n->core.lock);
    rc = en_pg_members(n->pg, scope_name(scope), g.buff, (size_t)g.index,
                       local_only, pids, max);
    pthread_mutex_unlock(&n->core.lock);
    ei_x_free(&g);
    return rc;
}

int enode_pg_members(enode_t *n, const char *scope, const ei_x_buff *group,
                     erlang_pid *pids, int max)
{
    return members(n, scope, group, pids, max, 0);
}

int enode_pg_local_members(enode_t *n, const char *scope,
                           const ei_x_buff *group, erlang_pid *pids, int max)
{
    return members(n, scope, group, pids, max, 1);
}

static int which_groups(enode_t *n, const char *scope, ei_x_buff *groups,
                        int local_only)
{
    if (!n || !scope_ok(scope) || !groups)
        return ENODE_EINVAL;
    if (ei_x_new_with_version(groups) < 0)
        return ENODE_ENOMEM;
    pthread_mutex_lock(&n->core.lock);
    int rc = en_pg_groups(n->pg, scope_name(scope), local_only, groups);
    pthread_mutex_unlock(&n->core.lock);
    if (rc < 0)
        ei_x_free(groups);
    return rc;
}

int enode_pg_which_groups(enode_t *n, const char *scope, ei_x_buff *groups)
{
    return which_groups(n, scope, groups, 0);
}

int enode_pg_which_local_groups(enode_t *n, const char *scope,
                                ei_x_buff *groups)
{
    return which_groups(n, scope, groups, 1);
}

int enode_pg_monitor(enode_mbox_t *mb, const char *scope,
                     const ei_x_buff *group, erlang_ref *ref)
{
    ei_x_buff g = {0};
    int rc;

    if (!mb || !scope_ok(scope) || !ref)
        return ENODE_EINVAL;
    if (group && (rc = group_term(group, &g)) < 0)
        return rc;
    enode_t *n = node_of(mb);
    pthread_mutex_lock(&n->core.lock);
    rc = en_pg_monitor(n->pg, scope_name(scope), enode_mbox_pid(mb),
                       group ? g.buff : NULL, (size_t)g.index, ref);
    pthread_mutex_unlock(&n->core.lock);
    if (group)
        ei_x_free(&g);
    return rc;
}

int enode_pg_demonitor(enode_mbox_t *mb, const char *scope,
                       const erlang_ref *ref)
{
    if (!mb || !scope_ok(scope) || !ref)
        return ENODE_EINVAL;
    enode_t *n = node_of(mb);
    pthread_mutex_lock(&n->core.lock);
    int rc = en_pg_demonitor(n->pg, scope_name(scope), enode_mbox_pid(mb), ref);
    pthread_mutex_unlock(&n->core.lock);
    return rc;
}
