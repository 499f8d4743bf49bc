/* pg_query.c - what a scope knows, asked from C: the members of a group
 * (this node's and the replica of every peer scope's, as
 * pg:get_members/2, or this node's alone, as pg:get_local_members/2) and
 * the groups that have members (pg:which_groups/1,
 * pg:which_local_groups/1). Answered here, without a message.
 */
#include "svc/pg_int.h"

/* Copy g's pids after the *n already counted, as far as max allows. */
static void collect_from(const pg_group_t *g, pg_pid_t *pids, size_t max,
                         size_t *n)
{
    for (size_t k = 0; g && k < g->n; k++, (*n)++)
        if (*n < max)
            pids[*n] = g->pids[k];
}

size_t pg_collect(pg_scope_t *s, const char *group, size_t len,
                  int local_only, pg_pid_t *pids, size_t max)
{
    size_t n = 0;

    collect_from(pg_group_find(s->local, group, len), pids, max, &n);
    for (pg_peer_t *p = s->peers; p && !local_only; p = p->next)
        collect_from(pg_group_find(p->groups, group, len), pids, max, &n);
    return n;
}

int pg_each_group(pg_scope_t *s, int local_only, pg_group_fn fn, void *ud)
{
    int rc;

    for (pg_group_t *g = s->local; g; g = g->next)
        if ((rc = fn(s, g, ud)) < 0)
            return rc;
    for (pg_peer_t *p = s->peers; p && !local_only; p = p->next) {
        for (pg_group_t *g = p->groups; g; g = g->next) {
            /* Once only: skip a group met here or at an earlier peer. */
            int seen = pg_group_find(s->local, g->term, g->len) != NULL;
            for (pg_peer_t *q = s->peers; !seen && q != p; q = q->next)
                seen = pg_group_find(q->groups, g->term, g->len) != NULL;
            if (!seen && (rc = fn(s, g, ud)) < 0)
                return rc;
        }
    }
    return 0;
}

int en_pg_members(en_pg_t *pg, const char *name, const char *group,
                  size_t len, int local_only, erlang_pid *pids, int max)
{
    int rc;
    pg_scope_t *s = pg_scope_get(pg, name, &rc);
    if (!s)
        return rc;
    size_t want = max > 0 ? (size_t)max : 0;
    pg_pid_t *found = malloc((want ? want : 1) * sizeof *found);
    if (!found)
        return ENODE_ENOMEM;
    size_t n = pg_collect(s, group, len, local_only, found, want);
    for (size_t k = 0; k < n && k < want; k++)
        pg_pid_out(&found[k], &pids[k]);
    free(found);
    return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

typedef struct group_list {
    ei_x_buff terms;
    long n;
} group_list_t;

static int add_group(pg_scope_t *s, const pg_group_t *g, void *ud)
{
    group_list_t *l = ud;

    (void)s;
    l->n++;
    return ei_x_append_buf(&l->terms, g->term, (int)g->len) < 0 ? ENODE_ENOMEM
                                                                  : 0;
}

int en_pg_groups(en_pg_t *pg, const char *name, int local_only,
                 ei_x_buff *out)
{
    group_list_t l = {.n = 0};
    int rc;
    pg_scope_t *s = pg_scope_get(pg, name, &rc);

    if (!s)
        return rc;
    if (ei_x_new(&l.terms) < 0)
        return ENODE_ENOMEM;
    rc = pg_each_group(s, local_only, add_group, &l);
    if (rc == 0 && l.n > 0 &&
        (ei_x_encode_list_header(out, l.n) < 0 ||
         ei_x_append_buf(out, l.terms.buff, l.terms.index) < 0))
        rc = ENODE_ENOMEM;
    if (rc == 0 && ei_x_encode_empty_list(out) < 0)
        rc = ENODE_ENOMEM;
    ei_x_free(&l.terms);
    return rc < 0 ? rc : (int)l.n;
}
