/* global_resolve.c - once both sides are locked, the names: we send ours
 * (exchange), compare his with ours and resolve each clash as global.erl
 * does (exchange_names :2837), and send the outcome (resolved). */
#include "svc/global_int.h"

/* {exchange, Me, [{Name, Pid, Method}], [], HisTag}: the replica of our
 * partition's names. */
void g_send_exchange(en_global_t *g, const g_sess_t *s)
{
    ei_x_buff x;
    size_t k = 0;

    g_purge_local_names(g);
    for (g_name_t *e = g->names; e; e = e->next)
        k++;
    if (g_cast_begin(&x) < 0)
        return;
    int rc = ei_x_encode_tuple_header(&x, 5) | put_atom(&x, "exchange") |
             put_atom(&x, g->proc->core->name);
    if (k)
        rc |= ei_x_encode_list_header(&x, (long)k);
    for (g_name_t *e = g->names; e && rc == 0; e = e->next)
        rc |= ei_x_encode_tuple_header(&x, 3) | put_term(&x, &e->name) |
              ei_x_encode_pid(&x, &e->pid) | put_term(&x, &e->method);
    rc |= ei_x_encode_empty_list(&x) | ei_x_encode_empty_list(&x) |
          put_term(&x, &s->his_tag);
    if (rc == 0) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", s->node);
        g_send_gns(g, node, &x, 0);
    }
    ei_x_free(&x);
}

/* ---- resolving
 * ---------------------------------------------------------------- */

static void send_resolved(en_global_t *g, uint64_t sid);

/* rpc:call(node(Pid2), global, resolve_it, [Method2, Name, Pid, Pid2])
 * through rex, for session s; his registration wins if it cannot go. */
static void call_resolve_it(en_global_t *g, g_sess_t *s, const g_name_t *e,
                            const char *name, int name_len,
                            const erlang_pid *pid, const char *method,
                            int method_len)
{
    g_call_t *k = g_call_new(g, G_CALL_RESOLVE, s->id, e->pid.node);
    if (!k || gt_set(&k->name, name, name_len) < 0 ||
        gt_set(&k->his_method, method, method_len) < 0 ||
        gt_set(&k->my_method, e->method.b, e->method.len) < 0) {
        if (k) {
            g_call_unlink(g, k);
            g_call_free(k);
        }
        ops_add(&s->ops, 0, name, name_len, pid, method, method_len);
        return;
    }
    k->his_pid = *pid;
    k->my_pid = e->pid;
    ei_x_buff x;
    if (g_call_begin(&x, g, &k->tag) < 0) {
        g_call_unlink(g, k);
        g_call_free(k);
        ops_add(&s->ops, 0, name, name_len, pid, method, method_len);
        return;
    }
    if (ei_x_encode_tuple_header(&x, 5) == 0 && put_atom(&x, "call") == 0 &&
        put_atom(&x, "global") == 0 && put_atom(&x, "resolve_it") == 0 &&
        ei_x_encode_list_header(&x, 4) == 0 &&
        put_term(&x, &k->my_method) == 0 && put_term(&x, &k->name) == 0 &&
        ei_x_encode_pid(&x, &k->his_pid) == 0 &&
        ei_x_encode_pid(&x, &k->my_pid) == 0 &&
        ei_x_encode_empty_list(&x) == 0 && put_atom(&x, "user") == 0) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", k->node);
        en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                    "global: a name clash with %s; %s runs the method", s->node,
                    node);
        s->rpcs_out++;
        en_reg_send_locked(g->proc, g_self(g), node, "rex", x.buff,
                           (size_t)x.index);
    }
    ei_x_free(&x);
}

/* exchange_names :2846 once the method has run: his registration
 * stays (his), ours does (mine), or the name goes everywhere. */
static void resolution(g_sess_t *s, const char *name, int name_len,
                       const erlang_pid *his_pid, const gterm_t *his_method,
                       const erlang_pid *my_pid, const gterm_t *my_method,
                       int his, int mine)
{
    if (his) {
        ops_add(&s->ops, 0, name, name_len, his_pid, his_method->b,
                his_method->len);
    } else if (mine) {
        ops_add(&s->res, 0, name, name_len, my_pid, my_method->b,
                my_method->len);
    } else {
        ops_add(&s->ops, 1, name, name_len, NULL, NULL, 0);
        ops_add(&s->res, 1, name, name_len, NULL, NULL, 0);
    }
}

/* Our process lives here: run its method here (global_method.c), as
 * global:resolve_it/4 would on its node. A method we cannot run leaves
 * his registration, as a resolving rpc that fails does. */
static void resolve_here(en_global_t *g, g_sess_t *s, const g_name_t *e,
                         const char *name, int name_len, const erlang_pid *pid,
                         const char *method, int method_len)
{
    enum g_method m = g_method_of(e->method.b, e->method.len);
    gterm_t his_method = {(char *)method, method_len}, my_method = {0};
    erlang_pid mine = e->pid, won;

    if (m == G_METHOD_UNKNOWN) {
        en_core_log(g->proc->core, ENODE_LOG_INFO,
                    "global: a name clash with %s over a process of ours "
                    "whose method is an Erlang fun; the other node's "
                    "registration wins",
                    s->node);
        ops_add(&s->ops, 0, name, name_len, pid, method, method_len);
        return;
    }
    if (gt_set(&my_method, e->method.b, e->method.len) < 0)
        return;
    uint64_t sid = s->id;
    int kept = g_method_run(g, m, name, name_len, pid, &mine, &won);
    if ((s = g_sess_by_id(g, sid)))
        resolution(s, name, name_len, pid, &his_method, &mine, &my_method,
                   kept && en_pid_eq(&won, pid), kept && en_pid_eq(&won, &mine));
    gt_free(&my_method);
}

/* exchange_names :2837, one name: decide, or ask the node of our process
 * to run the resolution method. */
static void resolve_one(en_global_t *g, g_sess_t *s, const char *name,
                        int name_len, const erlang_pid *pid, const char *method,
                        int method_len)
{
    g_name_t *e = g_name_find(g, name, name_len);

    if (!e) {
        ops_add(&s->ops, 0, name, name_len, pid, method, method_len);
        return;
    }
    if (en_pid_eq(&e->pid, pid))
        return;
    if (strcmp(g->proc->core->name, s->node) > 0)
        return; /* the other node resolves the clash */
    if (en_core_is_local(g->proc->core, e->pid.node))
        resolve_here(g, s, e, name, name_len, pid, method, method_len);
    else
        call_resolve_it(g, s, e, name, name_len, pid, method, method_len);
}

void g_resolve(en_global_t *g, uint64_t sid)
{
    g_sess_t *s = g_sess_by_id(g, sid);
    if (!s || s->state != G_SESS_LOCKED || !g_sess_got_exchange(s))
        return;
    s->state = G_SESS_RESOLVING;
    g_purge_local_names(g);

    /* [{Name, Pid, Method}] */
    gterm_t names = s->his_names;
    s->his_names.b = NULL;
    s->his_names.len = 0;
    int i = 0, count;
    if (ei_decode_list_header(names.b, &i, &count) == 0) {
        for (int k = 0; k < count; k++) {
            const char *name, *method;
            int name_len, method_len, arity;
            erlang_pid pid;
            if (ei_decode_tuple_header(names.b, &i, &arity) < 0 || arity != 3 ||
                span(names.b, &i, &name, &name_len) < 0 ||
                ei_decode_pid(names.b, &i, &pid) < 0 ||
                span(names.b, &i, &method, &method_len) < 0)
                break;
            if (!(s = g_sess_by_id(g, sid)))
                break;
            resolve_one(g, s, name, name_len, &pid, method, method_len);
        }
    }
    gt_free(&names);
    if ((s = g_sess_by_id(g, sid)) && s->rpcs_out == 0)
        send_resolved(g, sid);
}

/* exchange_names :2846. */
void g_on_resolve_reply(en_global_t *g, g_call_t *k, const char *res,
                        int res_len)
{
    g_sess_t *s = k->sess ? g_sess_by_id(g, k->sess) : NULL;
    erlang_pid won;
    int i = 0, arity, his = 0, mine = 0;

    if (!s)
        return;
    s->rpcs_out--;
    if (!res) {
        his = 1; /* {badrpc, nodedown} */
    } else if (ei_decode_pid(res, &i, &won) == 0 && i == res_len) {
        his = en_pid_eq(&won, &k->his_pid);
        mine = en_pid_eq(&won, &k->my_pid);
    } else {
        i = 0; /* {badrpc, _}: his wins; none or anything else: neither */
        his = ei_decode_tuple_header(res, &i, &arity) == 0 && arity == 2 &&
              is_atom(res, &i, "badrpc");
    }
    en_core_log(g->proc->core, ENODE_LOG_DEBUG, "global: clash resolved: %s",
                his    ? "theirs"
                : mine ? "ours"
                       : "neither");
    resolution(s, k->name.b, k->name.len, &k->his_pid, &k->his_method,
               &k->my_pid, &k->my_method, his, mine);
    if (s->rpcs_out == 0 && s->state == G_SESS_RESOLVING)
        send_resolved(g, s->id);
}

/* ---- resolved
 * ----------------------------------------------------------------- */

int g_put_op(ei_x_buff *x, const g_op_t *op)
{
    if (op->del)
        return ei_x_encode_tuple_header(x, 2) | put_atom(x, "delete") |
               put_term(x, &op->name);
    return ei_x_encode_tuple_header(x, 2) | put_atom(x, "insert") |
           ei_x_encode_tuple_header(x, 3) | put_term(x, &op->name) |
           ei_x_encode_pid(x, &op->pid) | put_term(x, &op->method);
}

static int put_ops(ei_x_buff *x, const g_ops_t *o)
{
    int rc = 0;
    if (o->n)
        rc |= ei_x_encode_list_header(x, (long)o->n);
    for (size_t k = 0; k < o->n && rc == 0; k++)
        rc |= g_put_op(x, &o->v[k]);
    return rc | ei_x_encode_empty_list(x);
}

int g_put_names_ext(ei_x_buff *x, const en_global_t *g)
{
    size_t k = 0;
    int rc = 0;
    for (const g_name_t *e = g->names; e; e = e->next)
        k += e->ext;
    if (k)
        rc |= ei_x_encode_list_header(x, (long)k);
    for (const g_name_t *e = g->names; e && rc == 0; e = e->next)
        if (e->ext)
            rc |= ei_x_encode_tuple_header(x, 3) | put_term(x, &e->name) |
                  ei_x_encode_pid(x, &e->pid) | put_atom(x, e->reg_node);
    return rc | ei_x_encode_empty_list(x);
}

/* exchange_ops :1222: {resolved, Me, OpsForHim, Known, unused, Ext, Tag} */
static void send_resolved(en_global_t *g, uint64_t sid)
{
    g_sess_t *s = g_sess_by_id(g, sid);
    ei_x_buff x;

    if (!s || s->state != G_SESS_RESOLVING)
        return;
    s->state = G_SESS_RESOLVED;
    if (g_cast_begin(&x) < 0)
        return;
    if ((ei_x_encode_tuple_header(&x, 7) | put_atom(&x, "resolved") |
         put_atom(&x, g->proc->core->name) | put_ops(&x, &s->res) |
         g_put_known(&x, g, s->prot_vsn >= G_PGPV_VSN) |
         put_atom(&x, "unused") | g_put_names_ext(&x, g) |
         put_term(&x, &s->his_tag)) == 0) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", s->node);
        g_send_gns(g, node, &x, 0);
    }
    ei_x_free(&x);
    if ((s = g_sess_by_id(g, sid)) && g_sess_got_resolved(s))
        g_finish(g, sid);
}

/* ---- his messages
 * --------------------------------------------------------------- */

/* {exchange, Node, NameList, _NameExtList, MyTag} */
void g_on_exchange(en_global_t *g, const char *buf, int i)
{
    char node[MAXATOMLEN_UTF8];
    const char *names, *tag;
    int names_len, tag_len, ok;

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &names, &names_len) < 0 ||
        ei_skip_term(buf, &i) < 0 || span(buf, &i, &tag, &tag_len) < 0)
        return;
    g_sess_t *s = g_sess_by_node(g, node);
    long long v = g_tag_value(tag, tag_len, &ok);
    if (!s || !ok || v != s->my_tag || g_sess_got_exchange(s))
        return; /* an old session's: dropped, as global.erl does */
    if (gt_set(&s->his_names, names, names_len) < 0)
        return;
    g_resolve(g, s->id);
}

/* {resolved, Node, HisResolved, HisKnown, _Unused, NamesExt, MyTag} */
void g_on_resolved(en_global_t *g, const char *buf, int i)
{
    char node[MAXATOMLEN_UTF8];
    const char *res, *known, *ext, *tag;
    int res_len, known_len, ext_len, tag_len, ok;

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &res, &res_len) < 0 ||
        span(buf, &i, &known, &known_len) < 0 || ei_skip_term(buf, &i) < 0 ||
        span(buf, &i, &ext, &ext_len) < 0 || span(buf, &i, &tag, &tag_len) < 0)
        return;
    g_sess_t *s = g_sess_by_node(g, node);
    long long v = g_tag_value(tag, tag_len, &ok);
    if (!s || !ok || v != s->my_tag || g_sess_got_resolved(s))
        return;
    if (gt_set(&s->his_known, known, known_len) < 0 ||
        gt_set(&s->his_ext, ext, ext_len) < 0 ||
        gt_set(&s->his_resolved, res, res_len) < 0)
        return; /* his_resolved, set last, says whether it came */
    if (s->state == G_SESS_RESOLVED)
        g_finish(g, s->id);
}
