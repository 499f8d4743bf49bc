/* global_partition.c - prevent overlapping partitions (the default since
 * OTP 25; global.erl :1000-:1050). A node that loses a connection to a
 * known node sends lost_connection to every known node; a receiver
 * passes it on once, and if it knows the lost node it sends
 * remove_connection to it and forgets it; the node receiving
 * remove_connection disconnects the sender. enode never originates
 * lost_connection (see global.c). */
#include "svc/global_int.h"

/* Whether record r goes: too old, or beyond the first G_LOST_MAX kept
 * (which *kept counts). */
static int lost_expired(const g_lost_t *r, uint64_t now, size_t *kept)
{
    if (now - r->at > G_LOST_TTL_MS || *kept >= G_LOST_MAX)
        return 1;
    (*kept)++;
    return 0;
}

/* Records lost_connection {a, xcre, opid, b}: 0 if it is new, 1 if we
 * have handled it already. */
static int lost_seen(en_global_t *g, const char *a, const char *b,
                     long long xcre, long long opid)
{
    uint64_t now = en_now_ms();
    g_lost_t *rec = NULL, *r;
    size_t kept = 0;

    EN_LIST_UNLINK_EACH(&g->lost, r, lost_expired(r, now, &kept))
    free(r);
    for (r = g->lost; r; r = r->next)
        if (strcmp(r->a, a) == 0 && strcmp(r->b, b) == 0)
            rec = r;
    if (rec && rec->xcre == xcre && opid <= rec->opid)
        return 1;
    if (!rec && (rec = calloc(1, sizeof *rec))) {
        snprintf(rec->a, sizeof rec->a, "%s", a);
        snprintf(rec->b, sizeof rec->b, "%s", b);
        rec->next = g->lost;
        g->lost = rec;
    }
    if (rec) {
        rec->xcre = xcre;
        rec->opid = opid;
        rec->at = now;
    }
    return 0;
}

/* The message as it came, to every node that speaks this but a (the
 * node it came from): our known nodes, and those of pending sessions. */
static void lost_pass_on(en_global_t *g, const char *a, const char *buf,
                         int len)
{
    size_t k;
    char (*v)[EN_HS_NAME_MAX] = NULL;
    g_node_t *targets = NULL;
    for (g_node_t *e = g->known; e; e = e->next)
        if (e->vsn >= G_POP_VSN && strcmp(e->node, a) != 0)
            nl_add(&targets, e->node, e->vsn);
    for (g_sess_t *s = g->sessions; s; s = s->next)
        if (g_sess_pending(s) && s->his_vsn >= G_POP_VSN &&
            strcmp(s->node, a) != 0)
            nl_add(&targets, s->node, s->his_vsn);
    v = nl_copy(targets, &k);
    nl_free(&targets);
    for (size_t j = 0; v && j < k; j++) {
        ei_x_buff x;
        if (ei_x_new_with_version(&x) < 0)
            break;
        if (ei_x_append_buf(&x, buf, len) == 0)
            g_send_gns(g, v[j], &x, 1);
        ei_x_free(&x);
    }
    free(v);
}

/* {lost_connection, NodeA, XCreationA, OpIdA, NodeB} :1466 */
void g_on_lost_connection(en_global_t *g, const char *buf, int len)
{
    char a[MAXATOMLEN_UTF8], b[MAXATOMLEN_UTF8];
    long long xcre, opid;
    int i = 0, arity;

    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 5 ||
        ei_skip_term(buf, &i) < 0 || get_atom(buf, &i, a) < 0 ||
        ei_decode_longlong(buf, &i, &xcre) < 0 ||
        ei_decode_longlong(buf, &i, &opid) < 0 || get_atom(buf, &i, b) < 0)
        return;
    if (g->off)
        return; /* global.erl :763: only with connect_all */
    if (lost_seen(g, a, b, xcre, opid))
        return; /* handled already */
    lost_pass_on(g, a, buf, len);

    /* The side of the lost link that is not us: we leave it. */
    const char *rm = en_core_is_local(g->proc->core, b) ? a : b;
    if (!g_potentially_known(g, rm))
        return;
    ei_x_buff x;
    if (ei_x_new_with_version(&x) == 0) {
        if (ei_x_encode_tuple_header(&x, 2) == 0 &&
            put_atom(&x, "remove_connection") == 0 &&
            put_atom(&x, g->proc->core->name) == 0)
            g_send_gns(g, rm, &x, 1);
        ei_x_free(&x);
    }
    en_core_log(g->proc->core, ENODE_LOG_WARNING,
                "global: %s lost its connection to %s: we leave %s, to prevent "
                "overlapping partitions",
                a, b, rm);
    char rm_node[EN_HS_NAME_MAX];
    snprintf(rm_node, sizeof rm_node, "%s", rm);
    g_forget_node(g, rm_node);
}

/* {remove_connection, Node} :1552: Node forgot us; disconnect from it. */
void g_on_remove_connection(en_global_t *g, const char *buf, int i)
{
    char node[MAXATOMLEN_UTF8];
    if (get_atom(buf, &i, node) < 0 || !g_potentially_known(g, node))
        return;
    g_forget_node(g, node);
    en_core_log(g->proc->core, ENODE_LOG_WARNING,
                "global: disconnecting from %s, which asked us to, to prevent "
                "overlapping partitions",
                node);
    en_conn_t *rc = en_net_find(g->proc->net, node);
    if (rc)
        en_conn_fail(rc, ENODE_ECLOSED,
                     "global: removed to prevent overlapping partitions");
}
