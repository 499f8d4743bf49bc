/* global_send.c - what global sends: messages to the global_name_server
 * of other nodes, replies to the calls they make, and the calls we make
 * from global's own pid (set_lock to our partition, resolve_it through
 * rex), each kept in g->calls until its answer comes. */
#include "svc/global_int.h"

/* ---- messages ------------------------------------------------------------- */

void g_send_gns(en_global_t *g, const char *node, ei_x_buff *x, int noconnect)
{
    if (noconnect && !en_net_find(g->proc->net, node))
        return;
    en_reg_send_locked(g->proc, g_self(g), node, "global_name_server", x->buff,
                       (size_t)x->index);
}

int g_cast_begin(ei_x_buff *x)
{
    if (ei_x_new_with_version(x) < 0)
        return -1;
    if (ei_x_encode_tuple_header(x, 2) < 0 || put_atom(x, "$gen_cast") < 0) {
        ei_x_free(x);
        return -1;
    }
    return 0;
}

int g_put_known(ei_x_buff *x, const en_global_t *g, int withvsn)
{
    size_t k = nl_len(g->known);
    if (k && ei_x_encode_list_header(x, (long)k) < 0)
        return -1;
    for (const g_node_t *e = g->known; e; e = e->next) {
        if (withvsn &&
            (ei_x_encode_tuple_header(x, 2) < 0 || put_atom(x, e->node) < 0 ||
             ei_x_encode_long(x, e->vsn) < 0))
            return -1;
        if (!withvsn && put_atom(x, e->node) < 0)
            return -1;
    }
    return ei_x_encode_empty_list(x);
}

/* ---- replies ---------------------------------------------------------------- */

/* As gen:reply/2: to the caller's alias when the tag names one. */
void g_reply(en_global_t *g, const erlang_pid *caller, const char *tag,
             int tag_len, const ei_x_buff *reply)
{
    en_gen_reply_locked(g->proc, g_self(g), caller, tag, tag_len,
                        reply->buff, (size_t)reply->index);
}

void g_reply_atom(en_global_t *g, const erlang_pid *caller, const char *tag,
                  int tag_len, const char *atom)
{
    ei_x_buff r;
    if (ei_x_new(&r) < 0)
        return;
    if (put_atom(&r, atom) == 0)
        g_reply(g, caller, tag, tag_len, &r);
    ei_x_free(&r);
}

/* ---- our calls
 * ---------------------------------------------------------------- */

g_call_t *g_call_new(en_global_t *g, int kind, uint64_t sess, const char *node)
{
    g_call_t *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    en_make_ref(g->proc, &k->tag);
    k->kind = kind;
    k->sess = sess;
    snprintf(k->node, sizeof k->node, "%s", node);
    k->next = g->calls;
    g->calls = k;
    return k;
}

int g_call_begin(ei_x_buff *x, const en_global_t *g, const erlang_ref *tag)
{
    return g_call_begin_as(x, g_self(g), tag);
}

int g_call_begin_as(ei_x_buff *x, const erlang_pid *from,
                    const erlang_ref *tag)
{
    if (ei_x_new_with_version(x) < 0)
        return -1;
    if (ei_x_encode_tuple_header(x, 3) < 0 || put_atom(x, "$gen_call") < 0 ||
        ei_x_encode_tuple_header(x, 2) < 0 || ei_x_encode_pid(x, from) < 0 ||
        ei_x_encode_ref(x, tag) < 0) {
        ei_x_free(x);
        return -1;
    }
    return 0;
}

void g_call_unlink(en_global_t *g, g_call_t *k)
{
    g_call_t *e;
    EN_LIST_UNLINK(&g->calls, e, e == k);
}

void g_call_free(g_call_t *k)
{
    gt_free(&k->req);
    gt_free(&k->name);
    gt_free(&k->his_method);
    gt_free(&k->my_method);
    free(k);
}
