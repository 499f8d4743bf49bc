/* global_session.c - a connect session's life (global.erl :930-:1000,
 * handle_nodeup :2983): started at nodeup with our init_connect, made
 * pending by his, checked by his init_connect_ack, and cancelled and
 * restarted with a new tag where global.erl does (restart_connect
 * :1865). Its states are documented at enum g_sess_state. */
#include "svc/global_int.h"

g_sess_t *g_sess_by_node(en_global_t *g, const char *node)
{
    for (g_sess_t *s = g->sessions; s; s = s->next)
        if (strcmp(s->node, node) == 0)
            return s;
    return NULL;
}

g_sess_t *g_sess_by_id(en_global_t *g, uint64_t id)
{
    for (g_sess_t *s = g->sessions; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

void g_sess_free(g_sess_t *s)
{
    gt_free(&s->his_tag);
    gt_free(&s->req);
    gt_free(&s->his_names);
    gt_free(&s->his_resolved);
    gt_free(&s->his_known);
    gt_free(&s->his_ext);
    ops_clear(&s->ops);
    ops_clear(&s->res);
    nl_free(&s->locked);
    free(s);
}

/* ---- session life ----------------------------------------------------------- */

void g_sess_cancel(en_global_t *g, const char *node)
{
    g_sess_t *s = g_sess_by_node(g, node);
    if (!s)
        return;
    g_sess_unlock(g, s);
    for (g_call_t *k = g->calls; k; k = k->next)
        if (k->sess == s->id)
            k->sess = 0;
    g_sess_t *e;
    EN_LIST_UNLINK(&g->sessions, e, e == s);
    g_sess_free(s);
}

static void send_init_connect(en_global_t *g, const g_sess_t *s)
{
    ei_x_buff x;
    if (g_cast_begin(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 4) == 0 &&
        put_atom(&x, "init_connect") == 0 &&
        ei_x_encode_tuple_header(&x, 2) == 0 &&
        ei_x_encode_long(&x, G_VSN) == 0 &&
        ei_x_encode_longlong(&x, s->my_tag) == 0 &&
        put_atom(&x, g->proc->core->name) == 0 &&
        ei_x_encode_tuple_header(&x, 4) == 0 && put_atom(&x, "locker") == 0 &&
        put_atom(&x, "no_longer_a_pid") == 0 && g_put_known(&x, g, 1) == 0 &&
        ei_x_encode_pid(&x, g_self(g)) == 0) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", s->node);
        g_send_gns(g, node, &x, 0);
    }
    ei_x_free(&x);
}

void g_sess_start(en_global_t *g, const char *node)
{
    if (g->hidden || g->off || en_core_is_local(g->proc->core, node) ||
        nl_find(g->known, node) || g_sess_by_node(g, node))
        return;
    en_conn_t *c = en_net_find(g->proc->net, node);
    if (!c || !en_conn_is_up(c) || !(en_conn_flags(c) & EN_DFLAG_PUBLISHED))
        return;
    g_sess_t *s = calloc(1, sizeof *s);
    if (!s)
        return;
    s->id = ++g->next_sess;
    snprintf(s->node, sizeof s->node, "%s", node);
    s->state = G_SESS_INIT_SENT;
    s->my_tag = g->next_tag++;
    s->next = g->sessions;
    g->sessions = s;
    en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                "global: connect session %lld with %s", s->my_tag, node);
    send_init_connect(g, s);
}

/* restart_connect :1865: this session is out of sync; start over. */
static void sess_restart(en_global_t *g, const char *node)
{
    g_sess_cancel(g, node);
    g_node_resources_gone(g, node);
    g_sess_start(g, node);
}

static void send_cancel_connect(en_global_t *g, const char *node,
                                const char *his_tag, int his_tag_len)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 3) == 0 &&
        put_atom(&x, "cancel_connect") == 0 &&
        put_atom(&x, g->proc->core->name) == 0 &&
        ei_x_append_buf(&x, his_tag, his_tag_len) == 0)
        g_send_gns(g, node, &x, 1);
    ei_x_free(&x);
}

void g_forget_node(en_global_t *g, const char *node)
{
    g_sess_cancel(g, node);
    nl_del(&g->known, node);
    nl_del(&g->synced, node);
}

int g_potentially_known(en_global_t *g, const char *node)
{
    g_sess_t *s;
    return nl_find(g->known, node) ||
           ((s = g_sess_by_node(g, node)) && g_sess_pending(s));
}

/* ---- init_connect, its ack, cancel_connect --------------------------------- */

long long g_tag_value(const char *b, int len, int *ok)
{
    long long v = 0;
    int i = 0;
    *ok = ei_decode_longlong(b, &i, &v) == 0 && i == len;
    return v;
}

/* A second init_connect while one is pending (:1808): start over. */
static void on_second_init_connect(en_global_t *g, const char *node,
                                   long his_vsn, const char *tag, int tag_len)
{
    en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                "global: init_connect from %s during a session; restarting",
                node);
    if (his_vsn >= 8) {
        send_cancel_connect(g, node, tag, tag_len);
        sess_restart(g, node);
    } else {
        en_conn_t *c = en_net_find(g->proc->net, node);
        if (c)
            en_conn_fail(c, ENODE_ECONN,
                         "global: out of sync connect from an old global");
    }
}

static void send_init_connect_ack(en_global_t *g, const char *node,
                                  const char *his_tag, int his_tag_len,
                                  long long my_tag)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 4) == 0 &&
        put_atom(&x, "init_connect_ack") == 0 &&
        put_atom(&x, g->proc->core->name) == 0 &&
        ei_x_append_buf(&x, his_tag, his_tag_len) == 0 &&
        ei_x_encode_longlong(&x, my_tag) == 0)
        g_send_gns(g, node, &x, 1);
    ei_x_free(&x);
}

void g_on_init_connect(en_global_t *g, const char *peer, const char *buf, int i)
{
    char node[MAXATOMLEN_UTF8];
    const char *tag;
    int arity, tag_len;
    long his_vsn;
    erlang_pid locker;

    /* {init_connect, {Vsn, Tag, ...}, Node, {locker, _, _Known, Locker}} */
    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity < 2 ||
        ei_decode_long(buf, &i, &his_vsn) < 0 ||
        span(buf, &i, &tag, &tag_len) < 0)
        goto bad;
    for (int k = 2; k < arity; k++)
        if (ei_skip_term(buf, &i) < 0)
            goto bad;
    if (get_atom(buf, &i, node) < 0 || strcmp(node, peer) != 0 ||
        ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 4 ||
        !is_atom(buf, &i, "locker") || ei_skip_term(buf, &i) < 0 ||
        ei_skip_term(buf, &i) < 0 || ei_decode_pid(buf, &i, &locker) < 0 ||
        !node_of_pid_is(&locker, node) || his_vsn < 5)
        goto bad;

    g_sess_t *s = g_sess_by_node(g, node);
    if (!s) {
        /* Known already, or no nodeup yet: global.erl keeps it as
         * pre_connect and acts on it only at a later nodeup. */
        en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                    "global: init_connect from %s outside a session; ignored",
                    node);
        return;
    }
    if (g_sess_pending(s)) {
        on_second_init_connect(g, node, his_vsn, tag, tag_len);
        return;
    }
    if (gt_set(&s->his_tag, tag, tag_len) < 0)
        return;
    s->his_vsn = his_vsn;
    s->prot_vsn = his_vsn > G_VSN ? G_VSN : his_vsn;
    s->his_locker = locker;
    s->state = G_SESS_PENDING;
    if (his_vsn >= 8)
        send_init_connect_ack(g, node, tag, tag_len, s->my_tag);
    return;
bad:
    en_core_log(g->proc->core, ENODE_LOG_WARNING,
                "global: malformed init_connect from %s", peer);
}

/* {init_connect_ack, Node, HisMyTag, HisHisTag} */
void g_on_init_connect_ack(en_global_t *g, const char *peer, const char *buf,
                           int i)
{
    char node[MAXATOMLEN_UTF8];
    const char *mine, *his;
    int mine_len, his_len, ok;

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &mine, &mine_len) < 0 ||
        span(buf, &i, &his, &his_len) < 0 || strcmp(node, peer) != 0) {
        en_core_log(g->proc->core, ENODE_LOG_WARNING,
                    "global: malformed init_connect_ack from %s", peer);
        return;
    }
    g_sess_t *s = g_sess_by_node(g, node);
    long long v = g_tag_value(mine, mine_len, &ok);
    if (s && ok && v == s->my_tag && g_sess_pending(s) &&
        gt_eq(&s->his_tag, his, his_len))
        return;
    en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                "global: connect with %s out of sync; cancelled", node);
    send_cancel_connect(g, node, his, his_len);
    if (s)
        sess_restart(g, node);
}

/* {cancel_connect, Node, MyTag} */
void g_on_cancel_connect(en_global_t *g, const char *buf, int i)
{
    char node[MAXATOMLEN_UTF8];
    const char *tag;
    int tag_len, ok;

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &tag, &tag_len) < 0)
        return;
    g_sess_t *s = g_sess_by_node(g, node);
    long long v = g_tag_value(tag, tag_len, &ok);
    if (s && ok && v == s->my_tag) {
        en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                    "global: %s cancelled our connect", node);
        sess_restart(g, node);
    }
}
