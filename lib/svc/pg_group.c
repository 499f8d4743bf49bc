/* pg_group.c - members by group, as one place (this node or one peer
 * scope) knows them.
 *
 * A group is keyed by its canonical term (proto/term_canon.h), so the
 * bytes a peer sends and the bytes C code gives compare equal. A pid is
 * in a group once per join, as in pg: a process that joined twice must
 * leave twice. Taking many pids out of a large group (a sync, a leave of
 * many) sorts them once rather than searching the group for each.
 */
#include "svc/pg_int.h"

#include <stdint.h>
#include <stdio.h>

/* ---- pids ---------------------------------------------------------------- */

int pg_pid_in(en_pg_t *pg, const erlang_pid *pid, pg_pid_t *out)
{
    pg_name_t *n;

    for (n = pg->names; n; n = n->next)
        if (strcmp(n->name, pid->node) == 0)
            break;
    if (!n) {
        size_t len = strnlen(pid->node, sizeof pid->node - 1);
        if (!(n = malloc(sizeof *n + len + 1)))
            return ENODE_ENOMEM;
        memcpy(n->name, pid->node, len);
        n->name[len] = '\0';
        n->next = pg->names;
        pg->names = n;
    }
    out->node = n->name;
    out->num = pid->num;
    out->serial = pid->serial;
    out->creation = pid->creation;
    return 0;
}

void pg_pid_out(const pg_pid_t *pid, erlang_pid *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->node, sizeof out->node, "%s", pid->node);
    out->num = pid->num;
    out->serial = pid->serial;
    out->creation = pid->creation;
}

/* Same name, same pointer: the names are kept once. */
int pg_pid_eq(const pg_pid_t *a, const pg_pid_t *b)
{
    return a->node == b->node && a->num == b->num && a->serial == b->serial &&
           a->creation == b->creation;
}

void pg_names_free(en_pg_t *pg)
{
    while (pg->names) {
        pg_name_t *n = pg->names;
        pg->names = n->next;
        free(n);
    }
}

/* An order of pids, for the bags below (not Erlang's order). */
static int pid_cmp(const void *pa, const void *pb)
{
    const pg_pid_t *a = pa, *b = pb;
    if (a->node != b->node)
        return (uintptr_t)a->node < (uintptr_t)b->node ? -1 : 1;
    if (a->num != b->num)
        return a->num < b->num ? -1 : 1;
    if (a->serial != b->serial)
        return a->serial < b->serial ? -1 : 1;
    if (a->creation != b->creation)
        return a->creation < b->creation ? -1 : 1;
    return 0;
}

int pg_put_pids(ei_x_buff *x, const pg_pid_t *pids, size_t n)
{
    erlang_pid pid;
    int rc = n > 0 ? ei_x_encode_list_header(x, (long)n) : 0;

    for (size_t k = 0; k < n; k++) {
        pg_pid_out(&pids[k], &pid);
        rc |= ei_x_encode_pid(x, &pid);
    }
    return rc | ei_x_encode_empty_list(x);
}

/* ---- a bag of pids: each distinct pid with how many times it is there -- */

typedef struct pid_bag {
    pg_pid_t *pids; /* sorted, distinct */
    size_t *count;
    size_t n;
} pid_bag_t;

static int bag_make(pid_bag_t *bag, const pg_pid_t *pids, size_t n)
{
    bag->n = 0;
    bag->pids = malloc((n ? n : 1) * sizeof *bag->pids);
    bag->count = malloc((n ? n : 1) * sizeof *bag->count);
    if (!bag->pids || !bag->count) {
        free(bag->pids);
        free(bag->count);
        return ENODE_ENOMEM;
    }
    if (n > 0)
        memcpy(bag->pids, pids, n * sizeof *pids);
    qsort(bag->pids, n, sizeof *bag->pids, pid_cmp);
    for (size_t k = 0; k < n; k++) {
        if (bag->n > 0 && pid_cmp(&bag->pids[bag->n - 1], &bag->pids[k]) == 0) {
            bag->count[bag->n - 1]++;
        } else {
            bag->pids[bag->n] = bag->pids[k];
            bag->count[bag->n++] = 1;
        }
    }
    return 0;
}

/* 1 if pid was in the bag (once fewer now). */
static int bag_take(pid_bag_t *bag, const pg_pid_t *pid)
{
    pg_pid_t *at = bsearch(pid, bag->pids, bag->n, sizeof *pid, pid_cmp);
    if (!at || bag->count[at - bag->pids] == 0)
        return 0;
    bag->count[at - bag->pids]--;
    return 1;
}

static void bag_free(pid_bag_t *bag)
{
    free(bag->pids);
    free(bag->count);
}

/* ---- groups -------------------------------------------------------------- */

pg_group_t *pg_group_find(pg_group_t *list, const char *term, size_t len)
{
    for (pg_group_t *g = list; g; g = g->next)
        if (g->len == len && memcmp(g->term, term, len) == 0)
            return g;
    return NULL;
}

static pg_group_t *group_new(pg_group_t **list, const char *term, size_t len)
{
    pg_group_t *g = calloc(1, sizeof *g);
    if (!g || !(g->term = malloc(len ? len : 1))) {
        free(g);
        return NULL;
    }
    memcpy(g->term, term, len);
    g->len = len;
    g->next = *list;
    *list = g;
    return g;
}

int pg_group_add(pg_group_t **list, const char *term, size_t len,
                 const pg_pid_t *pids, size_t n)
{
    pg_group_t *g = pg_group_find(*list, term, len);
    int fresh = !g;

    if (!g && !(g = group_new(list, term, len)))
        return ENODE_ENOMEM;
    if (g->n + n > g->cap) {
        size_t cap = g->cap ? g->cap : 4;
        while (cap < g->n + n)
            cap *= 2;
        pg_pid_t *p = realloc(g->pids, cap * sizeof *p);
        if (!p) {
            if (fresh) {
                *list = g->next;
                pg_group_free(g);
            }
            return ENODE_ENOMEM;
        }
        g->pids = p;
        g->cap = cap;
    }
    if (n > 0)
        memcpy(g->pids + g->n, pids, n * sizeof *pids);
    g->n += n;
    return 0;
}

int pg_group_remove(pg_group_t **list, const char *term, size_t len,
                    const pg_pid_t *rm, size_t n, pg_pid_t *gone,
                    size_t *n_gone)
{
    pg_group_t *g;
    pid_bag_t bag;

    *n_gone = 0;
    EN_LIST_UNLINK(list, g, g->len == len && memcmp(g->term, term, len) == 0);
    if (!g)
        return 0;
    if (bag_make(&bag, rm, n) < 0) {
        g->next = *list;
        *list = g;
        return ENODE_ENOMEM;
    }
    size_t keep = 0;
    for (size_t k = 0; k < g->n; k++) {
        if (bag_take(&bag, &g->pids[k]))
            gone[(*n_gone)++] = g->pids[k];
        else
            g->pids[keep++] = g->pids[k];
    }
    bag_free(&bag);
    g->n = keep;
    if (keep == 0) {
        pg_group_free(g);
    } else {
        g->next = *list;
        *list = g;
    }
    return 0;
}

size_t pg_group_count(const pg_group_t *g, const pg_pid_t *pid)
{
    size_t n = 0;
    for (size_t k = 0; g && k < g->n; k++)
        n += pg_pid_eq(&g->pids[k], pid);
    return n;
}

void pg_group_free(pg_group_t *g)
{
    if (!g)
        return;
    free(g->term);
    free(g->pids);
    free(g);
}

void pg_groups_free(pg_group_t **list)
{
    while (*list) {
        pg_group_t *g = *list;
        *list = g->next;
        pg_group_free(g);
    }
}

int pg_pids_minus(const pg_pid_t *a, size_t na, const pg_pid_t *b,
                  size_t nb, pg_pid_t *out, size_t *n_out)
{
    pid_bag_t bag;

    *n_out = 0;
    if (bag_make(&bag, b, nb) < 0)
        return ENODE_ENOMEM;
    for (size_t k = 0; k < na; k++)
        if (!bag_take(&bag, &a[k]))
            out[(*n_out)++] = a[k];
    bag_free(&bag);
    return 0;
}

int pg_put_group(ei_x_buff *x, const pg_group_t *g)
{
    return ei_x_encode_tuple_header(x, 2) |
           ei_x_append_buf(x, g->term, (int)g->len) |
           pg_put_pids(x, g->pids, g->n);
}
