/* global_sync.c - merging two partitions: when a session has resolved
 * on both sides (resolved() :1928), and when a node of our partition
 * tells us of the nodes it merged with (new_nodes) or says it is in sync
 * with us (in_sync). */
#include "svc/global_int.h"

/* ---- applying ops ---------------------------------------------------------- */

/* The RegNode of {Name, Pid, RegNode} in names_ext, if there. */
static int ext_reg_node(const gterm_t *ext, const char *name, int name_len,
                        const erlang_pid *pid, char *reg_node)
{
    int i = 0, count;
    if (!ext->b || ei_decode_list_header(ext->b, &i, &count) < 0)
        return 0;
    for (int k = 0; k < count; k++) {
        const char *nm;
        int nm_len, arity;
        erlang_pid p;
        if (ei_decode_tuple_header(ext->b, &i, &arity) < 0 || arity != 3 ||
            span(ext->b, &i, &nm, &nm_len) < 0 ||
            ei_decode_pid(ext->b, &i, &p) < 0 ||
            get_atom(ext->b, &i, reg_node) < 0)
            return 0;
        if (nm_len == name_len && memcmp(nm, name, (size_t)name_len) == 0 &&
            en_pid_eq(&p, pid))
            return 1;
    }
    return 0;
}

/* do_ops :2153 over an encoded list of ops, under lock req. */
static void do_ops_term(en_global_t *g, const char *ops, int ops_len,
                        const gterm_t *ext, const char *req, int req_len)
{
    int i = 0, count;
    (void)ops_len;
    if (!ops || ei_decode_list_header(ops, &i, &count) < 0)
        return;
    for (int k = 0; k < count; k++) {
        const char *name, *method;
        int name_len, method_len, arity;
        erlang_pid pid;
        char reg_node[MAXATOMLEN_UTF8];
        if (ei_decode_tuple_header(ops, &i, &arity) < 0 || arity != 2)
            return;
        int at = i;
        if (is_atom(ops, &i, "delete")) {
            if (span(ops, &i, &name, &name_len) < 0)
                return;
            g_name_delete(g, name, name_len);
            continue;
        }
        i = at;
        if (!is_atom(ops, &i, "insert") ||
            ei_decode_tuple_header(ops, &i, &arity) < 0 || arity != 3 ||
            span(ops, &i, &name, &name_len) < 0 ||
            ei_decode_pid(ops, &i, &pid) < 0 ||
            span(ops, &i, &method, &method_len) < 0)
            return;
        int is_ext = ext_reg_node(ext, name, name_len, &pid, reg_node);
        g_name_insert(g, name, name_len, &pid, method, method_len,
                      is_ext ? reg_node : NULL, NULL, req, req_len);
    }
}

static void do_ops_list(en_global_t *g, const g_ops_t *o, const gterm_t *ext,
                        const char *req, int req_len)
{
    for (size_t k = 0; k < o->n; k++) {
        const g_op_t *op = &o->v[k];
        char reg_node[MAXATOMLEN_UTF8];
        if (op->del) {
            g_name_delete(g, op->name.b, op->name.len);
            continue;
        }
        int is_ext =
            ext_reg_node(ext, op->name.b, op->name.len, &op->pid, reg_node);
        g_name_insert(g, op->name.b, op->name.len, &op->pid, op->method.b,
                      op->method.len, is_ext ? reg_node : NULL, NULL, req,
                      req_len);
    }
}

/* ---- nodes
 * -------------------------------------------------------------------- */

/* [Node | {Node, Vsn}] into a node list with versions (0 if unknown). */
static int parse_node_list(en_global_t *g, const char *buf, int len,
                           g_node_t **out)
{
    int i = 0, count;
    (void)len;
    if (!buf || ei_decode_list_header(buf, &i, &count) < 0)
        return -1;
    for (int k = 0; k < count; k++) {
        char node[MAXATOMLEN_UTF8];
        long vsn = 0;
        int arity, at = i;
        if (get_atom(buf, &i, node) < 0) {
            i = at;
            if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 2 ||
                get_atom(buf, &i, node) < 0 ||
                ei_decode_long(buf, &i, &vsn) < 0)
                return -1;
        }
        if (!en_core_is_local(g->proc->core, node) &&
            nl_add(out, node, vsn) < 0)
            return -1;
    }
    return 0;
}

/* sync_other :2208 to each node: connect and say we are in sync. */
static void sync_others(en_global_t *g, const g_node_t *nodes)
{
    size_t k;
    char (*v)[EN_HS_NAME_MAX] = nl_copy(nodes, &k);
    for (size_t j = 0; v && j < k; j++) {
        ei_x_buff x;
        if (g_cast_begin(&x) < 0)
            break;
        if (ei_x_encode_tuple_header(&x, 3) == 0 &&
            put_atom(&x, "in_sync") == 0 &&
            put_atom(&x, g->proc->core->name) == 0 &&
            ei_x_encode_boolean(&x, 1) == 0)
            g_send_gns(g, v[j], &x, 0);
        ei_x_free(&x);
    }
    free(v);
}

/* add_to_known :3148: the nodes of list not known yet, added. */
static void add_to_known(en_global_t *g, const g_node_t *list, g_node_t **added)
{
    for (const g_node_t *e = list; e; e = e->next)
        if (nl_add(&g->known, e->node, e->vsn) == 1 && added)
            nl_add(added, e->node, e->vsn);
}

/* ---- a session resolved on both sides -------------------------------------- */

/* What a session that resolved brings, taken out of it: sending may end
 * the session. */
typedef struct merge {
    char node[EN_HS_NAME_MAX];
    long prot;            /* the protocol version we speak with node */
    gterm_t req;          /* the lock's LockRequesterId (a copy) */
    gterm_t his_res, ext; /* his ops for us, his names_ext */
    g_ops_t ops;          /* our ops for us */
    g_node_t *his_known;  /* the nodes he knew */
    g_node_t *new_nodes;  /* node and those he knew, with versions */
} merge_t;

static void merge_free(merge_t *m)
{
    nl_free(&m->his_known);
    nl_free(&m->new_nodes);
    gt_free(&m->req);
    gt_free(&m->his_res);
    gt_free(&m->ext);
    ops_clear(&m->ops);
}

/* {new_nodes, Me, Ops, NamesExt, NewNodes, [{vsn, V}, {lock, {global,
 * Req}}]} for a node that knows versions (withvsn) or not. */
static int put_new_nodes(ei_x_buff *x, en_global_t *g, const merge_t *m,
                         int withvsn)
{
    const gterm_t *his_res = &m->his_res;
    int rc, hi = 0, hcount = 0;
    if (!his_res->b || ei_decode_list_header(his_res->b, &hi, &hcount) < 0)
        hcount = 0;
    rc = ei_x_encode_tuple_header(x, 6) | put_atom(x, "new_nodes") |
         put_atom(x, g->proc->core->name);
    /* Ops = ours ++ his resolved */
    if (m->ops.n + (size_t)hcount)
        rc |= ei_x_encode_list_header(x, (long)(m->ops.n + (size_t)hcount));
    for (size_t o = 0; o < m->ops.n && rc == 0; o++)
        rc |= g_put_op(x, &m->ops.v[o]);
    for (int o = 0; o < hcount && rc == 0; o++) {
        int at = hi;
        if (ei_skip_term(his_res->b, &hi) < 0)
            return -1;
        rc |= ei_x_append_buf(x, his_res->b + at, hi - at);
    }
    rc |= ei_x_encode_empty_list(x);
    rc |= m->ext.b ? put_term(x, &m->ext) : ei_x_encode_empty_list(x);
    size_t nn = nl_len(m->new_nodes);
    if (nn)
        rc |= ei_x_encode_list_header(x, (long)nn);
    for (const g_node_t *e = m->new_nodes; e && rc == 0; e = e->next)
        rc |= withvsn ? (ei_x_encode_tuple_header(x, 2) | put_atom(x, e->node) |
                         ei_x_encode_long(x, e->vsn))
                      : put_atom(x, e->node);
    rc |= ei_x_encode_empty_list(x);
    rc |= ei_x_encode_list_header(x, 2) | ei_x_encode_tuple_header(x, 2) |
          put_atom(x, "vsn") | ei_x_encode_long(x, m->prot) |
          ei_x_encode_tuple_header(x, 2) | put_atom(x, "lock") |
          ei_x_encode_tuple_header(x, 2) | put_atom(x, "global");
    rc |= m->req.b ? put_term(x, &m->req) : ei_x_encode_empty_list(x);
    return rc | ei_x_encode_empty_list(x);
}

/* new_nodes to the nodes we knew, before the lock goes. */
static void send_new_nodes(en_global_t *g, const merge_t *m)
{
    size_t k;
    char (*v)[EN_HS_NAME_MAX] = nl_copy(g->known, &k);
    for (size_t j = 0; v && j < k; j++) {
        g_node_t *kn = nl_find(g->known, v[j]);
        ei_x_buff x;
        if (g_cast_begin(&x) < 0)
            break;
        if (put_new_nodes(&x, g, m, kn && kn->vsn >= G_PGPV_VSN) == 0)
            g_send_gns(g, v[j], &x, 0);
        ei_x_free(&x);
    }
    free(v);
}

/* Takes out of s what merging needs; 0, or -1 out of memory (s as it
 * was). s keeps its lock id until the locks go. */
static int merge_take(en_global_t *g, g_sess_t *s, merge_t *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->node, sizeof m->node, "%s", s->node);
    m->prot = s->prot_vsn;
    if (s->req.b && gt_set(&m->req, s->req.b, s->req.len) < 0)
        return -1;
    m->his_res = s->his_resolved;
    m->ext = s->his_ext;
    m->ops = s->ops;
    memset(&s->his_resolved, 0, sizeof s->his_resolved);
    memset(&s->his_ext, 0, sizeof s->his_ext);
    memset(&s->ops, 0, sizeof s->ops);
    parse_node_list(g, s->his_known.b, s->his_known.len, &m->his_known);

    nl_add(&m->new_nodes, m->node, s->his_vsn);
    for (g_node_t *e = m->his_known; e; e = e->next) {
        g_node_t *kn = nl_find(g->known, e->node);
        nl_add(&m->new_nodes, e->node, e->vsn ? e->vsn : kn ? kn->vsn : 0);
    }
    return 0;
}

void g_finish(en_global_t *g, uint64_t sid)
{
    g_sess_t *s = g_sess_by_id(g, sid);
    merge_t m;

    if (!s || merge_take(g, s, &m) < 0)
        return;
    sync_others(g, m.his_known);
    do_ops_list(g, &m.ops, &m.ext, m.req.b, m.req.len);
    do_ops_term(g, m.his_res.b, m.his_res.len, &m.ext, m.req.b, m.req.len);
    nl_add(&g->synced, m.node, 0);
    for (g_node_t *e = m.his_known; e; e = e->next) /* cancel_resolved_locker */
        g_sess_cancel(g, e->node);
    send_new_nodes(g, &m);

    /* The lock goes, and with it the session. */
    if ((s = g_sess_by_id(g, sid))) {
        g_sess_unlock(g, s);
        EN_LIST_UNLINK(&g->sessions, s, s->id == sid);
        if (s)
            g_sess_free(s);
    }
    add_to_known(g, m.new_nodes, NULL);
    en_core_log(g->proc->core, ENODE_LOG_INFO,
                "global: in sync with %s (%zu known nodes)", m.node,
                nl_len(g->known));
    merge_free(&m);
}

/* ---- new_nodes, in_sync
 * --------------------------------------------------------- */

/* The ReqId of {lock, {global, ReqId}} in new_nodes' ExtraInfo
 * ([{vsn, V}, {lock, {global, ReqId}}]), if there. */
static void extra_lock_req(const char *extra, const char **req, int *req_len)
{
    int count, k = 0;
    if (ei_decode_list_header(extra, &k, &count) < 0)
        return;
    for (int e = 0; e < count; e++) {
        int arity, at;
        if (ei_decode_tuple_header(extra, &k, &arity) < 0 || arity != 2)
            break;
        at = k;
        if (is_atom(extra, &k, "lock") &&
            ei_decode_tuple_header(extra, &k, &arity) == 0 && arity == 2 &&
            ei_skip_term(extra, &k) == 0 && span(extra, &k, req, req_len) == 0)
            break;
        k = at;
        if (ei_skip_term(extra, &k) < 0 || ei_skip_term(extra, &k) < 0)
            break;
    }
}

/* {new_nodes, Node, Ops, NamesExt, Nodes, ExtraInfo} :2000 */
void g_on_new_nodes(en_global_t *g, const char *peer, const char *buf, int i)
{
    char node[MAXATOMLEN_UTF8];
    const char *ops, *ext, *nodes, *extra;
    int ops_len, ext_len, nodes_len, extra_len;
    g_node_t *list = NULL, *added = NULL;
    gterm_t ext_t = {0};

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &ops, &ops_len) < 0 ||
        span(buf, &i, &ext, &ext_len) < 0 ||
        span(buf, &i, &nodes, &nodes_len) < 0 ||
        span(buf, &i, &extra, &extra_len) < 0 ||
        parse_node_list(g, nodes, nodes_len, &list) < 0) {
        nl_free(&list);
        en_core_log(g->proc->core, ENODE_LOG_WARNING,
                    "global: malformed new_nodes from %s", peer);
        return;
    }
    const char *req = NULL;
    int req_len = 0;
    extra_lock_req(extra, &req, &req_len);
    if (gt_set(&ext_t, ext, ext_len) < 0) {
        nl_free(&list);
        return;
    }
    add_to_known(g, list, &added);
    sync_others(g, added);
    do_ops_term(g, ops, ops_len, &ext_t, req, req_len);
    en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                "global: %s told us of %zu new nodes", node, nl_len(added));
    gt_free(&ext_t);
    nl_free(&list);
    nl_free(&added);
}

/* {in_sync, Node, IsKnown} :1313 */
void g_on_in_sync(en_global_t *g, const char *buf, int i)
{
    char node[MAXATOMLEN_UTF8];
    if (get_atom(buf, &i, node) < 0 || en_core_is_local(g->proc->core, node))
        return;
    nl_add(&g->synced, node, 0);
    g_sess_cancel(g, node);
    en_core_log(g->proc->core, ENODE_LOG_DEBUG, "global: in sync with %s",
                node);
}
