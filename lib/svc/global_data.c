/* global_data.c - the values global's state is made of: owned copies of
 * terms, lists of nodes, and lists of name operations. */
#include "svc/global_int.h"

/* ---- owned terms ------------------------------------------------------------ */

void gt_free(gterm_t *t)
{
    free(t->b);
    t->b = NULL;
    t->len = 0;
}

int gt_set(gterm_t *t, const char *b, int len)
{
    char *p = malloc(len > 0 ? (size_t)len : 1);
    if (!p)
        return -1;
    memcpy(p, b, (size_t)len);
    free(t->b);
    t->b = p;
    t->len = len;
    return 0;
}

/* ---- node lists ---------------------------------------------------------- */

g_node_t *nl_find(g_node_t *l, const char *node)
{
    for (; l; l = l->next)
        if (strcmp(l->node, node) == 0)
            return l;
    return NULL;
}

int nl_add(g_node_t **l, const char *node, long vsn)
{
    if (nl_find(*l, node))
        return 0;
    g_node_t *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    snprintf(e->node, sizeof e->node, "%s", node);
    e->vsn = vsn;
    e->next = *l;
    *l = e;
    return 1;
}

void nl_del(g_node_t **l, const char *node)
{
    g_node_t *e;
    EN_LIST_UNLINK(l, e, strcmp(e->node, node) == 0);
    free(e);
}

void nl_free(g_node_t **l)
{
    while (*l) {
        g_node_t *e = *l;
        *l = e->next;
        free(e);
    }
}

size_t nl_len(const g_node_t *l)
{
    size_t k = 0;
    for (; l; l = l->next)
        k++;
    return k;
}

char (*nl_copy(const g_node_t *l, size_t *count))[EN_HS_NAME_MAX]
{
    size_t k = nl_len(l), j = 0;
    char (*v)[EN_HS_NAME_MAX] = calloc(k ? k : 1, sizeof *v);
    if (!v) {
        *count = 0;
        return NULL;
    }
    for (; l; l = l->next)
        snprintf(v[j++], EN_HS_NAME_MAX, "%s", l->node);
    *count = k;
    return v;
}

/* ---- op lists -------------------------------------------------------------- */

void ops_clear(g_ops_t *o)
{
    for (size_t k = 0; k < o->n; k++) {
        gt_free(&o->v[k].name);
        gt_free(&o->v[k].method);
    }
    free(o->v);
    memset(o, 0, sizeof *o);
}

int ops_add(g_ops_t *o, int del, const char *name, int name_len,
            const erlang_pid *pid, const char *method, int method_len)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        g_op_t *v = realloc(o->v, cap * sizeof *v);
        if (!v)
            return -1;
        o->v = v;
        o->cap = cap;
    }
    g_op_t *op = &o->v[o->n];
    memset(op, 0, sizeof *op);
    op->del = del;
    if (gt_set(&op->name, name, name_len) < 0)
        return -1;
    if (!del) {
        op->pid = *pid;
        if (gt_set(&op->method, method, method_len) < 0) {
            gt_free(&op->name);
            return -1;
        }
    }
    o->n++;
    return 0;
}
