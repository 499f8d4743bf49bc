/* global_lock.c - locking our partition for a session. The peer's locker
 * (the_locker_message :2432) takes the lock {global, lists:sort([ItsLocker,
 * OurLocker])} on its partition and on us, and casts lock_set. We then
 * lock the nodes we already know under the same id (set_lock calls: the
 * boss of our partition first, as lock_nodes_safely :2556 does, then the
 * others at once) and answer with our lock_set: true, followed by our
 * exchange, or false, after which his locker tries again later. */
#include "svc/global_int.h"

/* ---- letting go ------------------------------------------------------------- */

/* {del_lock, {global, Req}} to node; nobody waits for the reply (its tag
 * matches no call, so it is dropped). */
static void send_del_lock(en_global_t *g, const char *node, const gterm_t *req)
{
    erlang_ref tag;
    ei_x_buff x;

    en_make_ref(g->proc, &tag);
    if (g_call_begin(&x, g, &tag) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 2) == 0 && put_atom(&x, "del_lock") == 0 &&
        ei_x_encode_tuple_header(&x, 2) == 0 && put_atom(&x, "global") == 0 &&
        put_term(&x, req) == 0)
        g_send_gns(g, node, &x, 1);
    ei_x_free(&x);
}

void g_sess_unlock(en_global_t *g, g_sess_t *s)
{
    uint64_t sid = s->id;
    gterm_t req = s->req;
    g_node_t *locked = s->locked;
    s->locked = NULL;
    s->req.b = NULL;
    s->req.len = 0;
    s->calls_out = 0;
    /* Calls still out for s are answered by a del_lock when they come
     * back true (g_on_lock_reply). */
    for (g_call_t *k = g->calls; k; k = k->next)
        if (k->sess == sid && k->kind == G_CALL_LOCK)
            k->sess = 0;
    if (req.b) {
        size_t k;
        char (*v)[EN_HS_NAME_MAX] = nl_copy(locked, &k);
        for (size_t j = 0; v && j < k; j++)
            send_del_lock(g, v[j], &req);
        free(v);
        g_lock_t *lk = g_global_lock(g);
        if (lk && gt_eq(&lk->req, req.b, req.len))
            g_lock_release(g, lk, g_self(g), 0);
    }
    nl_free(&locked);
    gt_free(&req);
}

/* ---- asking our partition ------------------------------------------------- */

/* Is req the pair lists:sort([A, B]) of these two pids? */
static int req_is_pair(const gterm_t *req, const erlang_pid *a,
                       const erlang_pid *b)
{
    erlang_pid p, q;
    int i = 0, arity;
    if (ei_decode_list_header(req->b, &i, &arity) < 0 || arity != 2 ||
        ei_decode_pid(req->b, &i, &p) < 0 || ei_decode_pid(req->b, &i, &q) < 0)
        return 0;
    return (en_pid_eq(&p, a) && en_pid_eq(&q, b)) ||
           (en_pid_eq(&p, b) && en_pid_eq(&q, a));
}

static void send_lock_set(en_global_t *g, const g_sess_t *s, int set)
{
    ei_x_buff x;
    if (g_cast_begin(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, s->his_vsn >= 8 ? 5 : 4) == 0 &&
        put_atom(&x, "lock_set") == 0 && ei_x_encode_pid(&x, g_self(g)) == 0 &&
        ei_x_encode_boolean(&x, set) == 0 && g_put_known(&x, g, 0) == 0 &&
        (s->his_vsn < 8 || put_term(&x, &s->his_tag) == 0)) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", s->node);
        g_send_gns(g, node, &x, 0);
    }
    ei_x_free(&x);
}

/* The known nodes answered (or went): answer the peer's locker. */
static void lock_done(en_global_t *g, uint64_t sid)
{
    g_sess_t *s = g_sess_by_id(g, sid);
    if (!s || !g_sess_locking(s) || s->calls_out > 0)
        return;
    int refused = s->state == G_SESS_LOCK_REFUSED;
    g_lock_t *lk = g_global_lock(g);
    if (!refused && lk && gt_eq(&lk->req, s->req.b, s->req.len) &&
        g_lock_set(g, lk->res.b, lk->res.len, s->req.b, s->req.len, g_self(g)) ==
            1) {
        s->state = G_SESS_LOCKED;
        en_core_log(g->proc->core, ENODE_LOG_DEBUG, "global: locked for %s",
                    s->node);
        send_lock_set(g, s, 1);
        if ((s = g_sess_by_id(g, sid)))
            g_send_exchange(g, s);
        if ((s = g_sess_by_id(g, sid)) && g_sess_got_exchange(s))
            g_resolve(g, sid);
        return;
    }
    s->state = G_SESS_PENDING;
    en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                "global: cannot lock our partition for %s now", s->node);
    g_sess_unlock(g, s);
    if ((s = g_sess_by_id(g, sid)))
        send_lock_set(g, s, 0);
}

/* {set_lock, {global, Req}} to node, for session sid. */
static void call_set_lock(en_global_t *g, uint64_t sid, const char *node)
{
    g_sess_t *s = g_sess_by_id(g, sid);
    en_conn_t *kc = en_net_find(g->proc->net, node);
    ei_x_buff x;

    if (!s || !kc || !en_conn_is_up(kc))
        return; /* a node that is not there: multi_call's bad node */
    g_call_t *call = g_call_new(g, G_CALL_LOCK, sid, node);
    if (!call)
        return;
    if (gt_set(&call->req, s->req.b, s->req.len) < 0 ||
        g_call_begin(&x, g, &call->tag) < 0) {
        g_call_unlink(g, call);
        g_call_free(call);
        s->state = G_SESS_LOCK_REFUSED;
        return;
    }
    if (ei_x_encode_tuple_header(&x, 2) == 0 && put_atom(&x, "set_lock") == 0 &&
        ei_x_encode_tuple_header(&x, 2) == 0 && put_atom(&x, "global") == 0 &&
        put_term(&x, &s->req) == 0) {
        s->calls_out++;
        g_send_gns(g, node, &x, 1);
    } else {
        g_call_unlink(g, call);
        g_call_free(call);
        s->state = G_SESS_LOCK_REFUSED;
    }
    ei_x_free(&x);
}

/* The boss of our partition: the greatest node name, ours included, so
 * that the lockers of one partition meet there. */
static void partition_boss(en_global_t *g, char boss[EN_HS_NAME_MAX])
{
    const char *b = g->proc->core->name;
    for (g_node_t *e = g->known; e; e = e->next)
        if (strcmp(e->node, b) > 0)
            b = e->node;
    snprintf(boss, EN_HS_NAME_MAX, "%s", b);
}

/* lock_nodes_safely :2556 for our side, once the peer's locker has
 * locked our own table under this id: the boss first. */
static void lock_boss(en_global_t *g, g_sess_t *s)
{
    uint64_t sid = s->id;
    char boss[EN_HS_NAME_MAX];

    s->state = G_SESS_LOCK_BOSS;
    s->calls_out = 0;
    partition_boss(g, boss);
    if (!en_core_is_local(g->proc->core, boss))
        call_set_lock(g, sid, boss);
    g_lock_step(g, sid);
}

void g_lock_step(en_global_t *g, uint64_t sid)
{
    g_sess_t *s = g_sess_by_id(g, sid);
    if (!s || !g_sess_locking(s) || s->calls_out > 0)
        return;
    if (s->state == G_SESS_LOCK_BOSS) {
        /* The boss said yes: the other known nodes, at once. */
        char boss[EN_HS_NAME_MAX];
        size_t k;
        partition_boss(g, boss);
        s->state = G_SESS_LOCK_OTHERS;
        char (*v)[EN_HS_NAME_MAX] = nl_copy(g->known, &k);
        for (size_t j = 0; v && j < k; j++)
            if (strcmp(v[j], boss) != 0)
                call_set_lock(g, sid, v[j]);
        free(v);
        if ((s = g_sess_by_id(g, sid)) && s->calls_out > 0)
            return;
    }
    lock_done(g, sid);
}

/* {lock_set, Pid, Set, HisKnown[, MyTag]}: the peer's locker has locked
 * its partition and us; lock ours (the_locker_message :2432). */
void g_on_lock_set(en_global_t *g, const char *peer, const char *buf, int i,
                   int arity)
{
    erlang_pid pid;
    int set, ok = 1;
    const char *tag = NULL;
    int tag_len = 0;

    if (ei_decode_pid(buf, &i, &pid) < 0 ||
        ei_decode_boolean(buf, &i, &set) < 0 || ei_skip_term(buf, &i) < 0 ||
        (arity == 5 && span(buf, &i, &tag, &tag_len) < 0)) {
        en_core_log(g->proc->core, ENODE_LOG_WARNING,
                    "global: malformed lock_set from %s", peer);
        return;
    }
    g_sess_t *s = g_sess_by_node(g, pid.node);
    long long v = tag ? g_tag_value(tag, tag_len, &ok) : 0;
    if (!s || (tag && (!ok || v != s->my_tag)))
        return; /* a stale session's: global_name_server drops it too */
    if (!set || s->state != G_SESS_PENDING)
        return; /* spurious, as the_locker says */
    g_lock_t *lk = g_global_lock(g);
    if (!lk || !req_is_pair(&lk->req, g_self(g), &pid)) {
        send_lock_set(g, s, 0);
        return;
    }
    if (gt_set(&s->req, lk->req.b, lk->req.len) < 0)
        return;
    lock_boss(g, s);
}

void g_on_lock_reply(en_global_t *g, g_call_t *k, const char *buf, int i)
{
    int yes = 0;
    g_sess_t *s = k->sess ? g_sess_by_id(g, k->sess) : NULL;

    if (ei_decode_boolean(buf, &i, &yes) < 0)
        yes = 0;
    if (!s || !g_sess_locking(s)) {
        /* The session went or gave up meanwhile: give the lock back. */
        if (yes && k->req.b)
            send_del_lock(g, k->node, &k->req);
        return;
    }
    if (yes)
        nl_add(&s->locked, k->node, 0);
    else
        s->state = G_SESS_LOCK_REFUSED;
    s->calls_out--;
    g_lock_step(g, s->id);
}
