/* global_trans.c - the registrar: global:register_name/2 and
 * unregister_name/1 made from this node, run as global.erl's registrar
 * runs them (trans_all_known :923, set_lock_known :927): lock {global,
 * Registrar} on the boss of [us | known] and then on all of them,
 * register or unregister the name on every one of them, and let go of
 * the lock, the boss last. A refusal lets go of what was locked, sleeps
 * a random while (random_sleep :2219) and starts over. The registrar is
 * a process of ours with no name: the answers to its calls come to its
 * handler here. The states are documented at enum g_trans_state in
 * global_int.h. */
#include "svc/global_int.h"

/* What a step asks each node's global_name_server (handle_call :367). */
enum ask { ASK_SET_LOCK, ASK_DEL_LOCK, ASK_REGISTER, ASK_UNREGISTER };

static void step(en_global_t *g, g_trans_t *t);
static void attempt(en_global_t *g, g_trans_t *t);

/* ---- the transactions ------------------------------------------------------ */

g_trans_t *g_trans_by_id(en_global_t *g, uint64_t id)
{
    for (g_trans_t *t = g->trans; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

/* The transaction that runs: the first that is not done. */
static g_trans_t *running(en_global_t *g)
{
    for (g_trans_t *t = g->trans; t; t = t->next)
        if (t->state != G_TRANS_DONE)
            return t;
    return NULL;
}

static void trans_free(g_trans_t *t)
{
    gt_free(&t->name);
    nl_free(&t->nodes);
    free(t);
}

static void start_next(en_global_t *g)
{
    g_trans_t *t = running(g);
    if (t && t->state == G_TRANS_QUEUED)
        attempt(g, t);
}

static void done(en_global_t *g, g_trans_t *t)
{
    t->state = G_TRANS_DONE;
    en_core_broadcast(g->proc->core); /* the caller waits for this */
    start_next(g);
}

/* ---- asking nodes ----------------------------------------------------------- */

/* {global, Registrar}, the lock's id. */
static int put_lock_id(ei_x_buff *x, const en_global_t *g)
{
    return ei_x_encode_tuple_header(x, 2) | put_atom(x, "global") |
           ei_x_encode_pid(x, g_registrar(g));
}

static int put_request(ei_x_buff *x, const en_global_t *g, const g_trans_t *t,
                       enum ask ask)
{
    switch (ask) {
    case ASK_SET_LOCK:
    case ASK_DEL_LOCK:
        return ei_x_encode_tuple_header(x, 2) |
               put_atom(x, ask == ASK_SET_LOCK ? "set_lock" : "del_lock") |
               put_lock_id(x, g);
    case ASK_REGISTER:
        return ei_x_encode_tuple_header(x, 4) | put_atom(x, "register") |
               put_term(x, &t->name) | ei_x_encode_pid(x, &t->pid) |
               g_put_default_method(x);
    case ASK_UNREGISTER:
        return ei_x_encode_tuple_header(x, 2) | put_atom(x, "unregister") |
               put_term(x, &t->name);
    }
    return -1;
}

/* The lock and name operations on our own table, answered at once. */
static int ask_here(en_global_t *g, const g_trans_t *t, enum ask ask)
{
    ei_x_buff x; /* ResourceId global, then LockRequesterId */
    int res_len, got = G_ANS_YES;

    if (ei_x_new(&x) < 0)
        return G_ANS_NO;
    if (put_atom(&x, "global") < 0 ||
        (res_len = x.index, ei_x_encode_pid(&x, g_registrar(g)) < 0)) {
        ei_x_free(&x);
        return G_ANS_NO;
    }
    const char *req = x.buff + res_len;
    int req_len = x.index - res_len;
    if (ask == ASK_SET_LOCK) {
        if (g_lock_set(g, x.buff, res_len, req, req_len, g_registrar(g)) != 1)
            got = G_ANS_NO;
    } else if (ask == ASK_DEL_LOCK) {
        g_lock_del(g, x.buff, res_len, req, req_len, g_registrar(g));
    } else if (ask == ASK_REGISTER) {
        ei_x_buff m;
        if (ei_x_new(&m) < 0) {
            ei_x_free(&x);
            return G_ANS_NO;
        }
        if (g_put_default_method(&m) == 0)
            g_name_insert(g, t->name.b, t->name.len, &t->pid, m.buff, m.index,
                          NULL, g_registrar(g), NULL, 0);
        ei_x_free(&m);
    } else {
        g_name_delete(g, t->name.b, t->name.len);
    }
    ei_x_free(&x);
    return got;
}

/* The request as a gen_server call from the registrar to node's
 * global_name_server, under tag, connecting to node if need be (as
 * multi_call does). 0, ENODE_ECONN if node cannot be reached, or -1. */
static int call_out(en_global_t *g, const g_trans_t *t, const char *node,
                    const erlang_ref *tag, enum ask ask)
{
    ei_x_buff x;
    if (g_call_begin_as(&x, g_registrar(g), tag) < 0)
        return -1;
    int rc = put_request(&x, g, t, ask) ? -1 : 0;
    if (rc == 0)
        rc = en_reg_send_locked(g->proc, g_registrar(g), node,
                                "global_name_server", x.buff,
                                (size_t)x.index);
    ei_x_free(&x);
    return rc;
}

/* A call nobody waits for: its answer matches no call and is dropped.
 * t may be NULL for the lock calls. */
static void tell(en_global_t *g, const g_trans_t *t, const char *node,
                 enum ask ask)
{
    erlang_ref tag;
    en_make_ref(g->proc, &tag);
    call_out(g, t, node, &tag, ask);
}

/* A set_lock call remembers the lock it asked for: a yes that comes
 * once its transaction is gone is given back. 0, or -1. */
static int remember_lock_id(en_global_t *g, g_call_t *k)
{
    ei_x_buff id;
    if (ei_x_new(&id) < 0)
        return -1;
    int rc = put_lock_id(&id, g) ? -1 : gt_set(&k->req, id.buff, id.index);
    ei_x_free(&id);
    return rc;
}

/* Ask node, which is not us: G_ANS_WAIT if the call went out (its
 * answer comes, or node goes), G_ANS_GONE if node cannot be reached (a
 * bad node of multi_call), G_ANS_NO if out of memory. */
static int ask_there(en_global_t *g, const g_trans_t *t, const char *node,
                     enum ask ask)
{
    g_call_t *k = g_call_new(g, G_CALL_TRANS, t->id, node);
    if (!k)
        return G_ANS_NO;
    int rc = ask == ASK_SET_LOCK ? remember_lock_id(g, k) : 0;
    int sent = rc == 0 ? call_out(g, t, node, &k->tag, ask) : -1;
    if (sent != 0) {
        g_call_unlink(g, k);
        g_call_free(k);
        return sent == ENODE_ECONN ? G_ANS_GONE : G_ANS_NO;
    }
    return G_ANS_WAIT;
}

/* Which nodes of t->nodes a step asks. */
typedef int (*pick_fn)(const g_trans_t *t, const g_node_t *e);

static int pick_all(const g_trans_t *t, const g_node_t *e)
{
    (void)t;
    (void)e;
    return 1;
}

static int pick_boss(const g_trans_t *t, const g_node_t *e)
{
    return strcmp(e->node, t->boss) == 0;
}

static int pick_others(const g_trans_t *t, const g_node_t *e)
{
    return !pick_boss(t, e);
}

/* The nodes that said yes in the step before, and the boss. */
static int pick_locked(const g_trans_t *t, const g_node_t *e)
{
    return e->answer == G_ANS_YES || pick_boss(t, e);
}

/* One step: ask every node pick chooses at once (gen_server:multi_call);
 * the next step comes when the last has answered or gone. */
static void ask_nodes(en_global_t *g, g_trans_t *t, enum ask ask, pick_fn pick)
{
    t->calls_out = 0;
    for (g_node_t *e = t->nodes; e; e = e->next) {
        if (!pick(t, e))
            e->answer = G_ANS_NONE;
        else if (en_core_is_local(g->proc->core, e->node))
            e->answer = ask_here(g, t, ask);
        else if ((e->answer = ask_there(g, t, e->node, ask)) == G_ANS_WAIT)
            t->calls_out++;
    }
    if (t->calls_out == 0)
        step(g, t);
}

/* ---- the steps -------------------------------------------------------------- */

static int any_answer(const g_trans_t *t, int answer)
{
    for (const g_node_t *e = t->nodes; e; e = e->next)
        if (e->answer == answer)
            return 1;
    return 0;
}

/* lock_on_known_nodes :945: get_known() -- Known =/= [] */
static int known_grew(en_global_t *g, const g_trans_t *t)
{
    for (const g_node_t *e = g->known; e; e = e->next)
        if (!nl_find(t->nodes, e->node))
            return 1;
    return 0;
}

/* random_sleep :2219: up to 1/8 s the first time, doubling each time up
 * to 8 s. The caller that waits wakes at wake_at and tries again. */
static void sleep_then_retry(en_global_t *g, g_trans_t *t)
{
    unsigned tmax = t->times > 5 ? 8000u : (1u << t->times) * 1000u / 8u;
    g->rand ^= g->rand << 13;
    g->rand ^= g->rand >> 7;
    g->rand ^= g->rand << 17;
    t->state = G_TRANS_SLEEP;
    t->wake_at = en_now_ms() + 1 + g->rand % tmax;
    en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                "global: the lock is taken; registrar tries again in %llu ms",
                (unsigned long long)(t->wake_at - en_now_ms()));
    en_core_broadcast(g->proc->core); /* the caller's wake-up moved */
}

/* The name is taken, or the process has a name already (check_dupname
 * :132, without global_multi_name_action): register_name says no. */
static int name_taken(en_global_t *g, g_trans_t *t)
{
    g_purge_local_names(g);
    if (g_name_find(g, t->name.b, t->name.len)) {
        snprintf(t->why, sizeof t->why, "global: the name is registered");
        return 1;
    }
    for (const g_name_t *e = g->names; e; e = e->next)
        if (en_pid_eq(&e->pid, &t->pid)) {
            snprintf(t->why, sizeof t->why,
                     "global: the process has a global name already "
                     "(global allows one)");
            return 1;
        }
    return 0;
}

/* The Fun of register_name :111 or unregister_name :156. */
static void apply(en_global_t *g, g_trans_t *t)
{
    t->state = G_TRANS_APPLY;
    if (t->kind == G_TRANS_REGISTER && name_taken(g, t)) {
        t->result = ENODE_EEXIST;
        step(g, t);
        return;
    }
    t->applied = 1;
    ask_nodes(g, t,
              t->kind == G_TRANS_REGISTER ? ASK_REGISTER : ASK_UNREGISTER,
              pick_all);
}

static void step(en_global_t *g, g_trans_t *t)
{
    switch (t->state) {
    case G_TRANS_LOCK_BOSS:
        if (any_answer(t, G_ANS_NO)) {
            sleep_then_retry(g, t);
        } else {
            t->state = G_TRANS_LOCK_ALL;
            ask_nodes(g, t, ASK_SET_LOCK, pick_all);
        }
        break;
    case G_TRANS_LOCK_ALL:
        if (any_answer(t, G_ANS_NO) || known_grew(g, t)) {
            /* check_replies :971 and set_lock_known :927 */
            t->state = G_TRANS_BACK_OFF;
            ask_nodes(g, t, ASK_DEL_LOCK, pick_locked);
        } else {
            apply(g, t);
        }
        break;
    case G_TRANS_BACK_OFF:
        sleep_then_retry(g, t);
        break;
    case G_TRANS_APPLY: /* delete_global_lock :1785 */
        t->state = G_TRANS_UNLOCK;
        ask_nodes(g, t, ASK_DEL_LOCK, pick_others);
        break;
    case G_TRANS_UNLOCK:
        t->state = G_TRANS_UNLOCK_BOSS;
        ask_nodes(g, t, ASK_DEL_LOCK, pick_boss);
        break;
    case G_TRANS_UNLOCK_BOSS:
        done(g, t);
        break;
    default:
        break;
    }
}

/* set_lock_known :927: Nodes = [node() | get_known()], the boss first. */
static void attempt(en_global_t *g, g_trans_t *t)
{
    const char *me = g->proc->core->name;
    int rc = 0;

    nl_free(&t->nodes);
    rc |= nl_add(&t->nodes, me, 0);
    for (const g_node_t *e = g->known; e && rc >= 0; e = e->next)
        rc |= nl_add(&t->nodes, e->node, 0);
    if (rc < 0) {
        t->result = ENODE_ENOMEM;
        snprintf(t->why, sizeof t->why, "global: out of memory");
        done(g, t);
        return;
    }
    snprintf(t->boss, sizeof t->boss, "%s", me); /* the_boss :1789 */
    for (const g_node_t *e = t->nodes; e; e = e->next)
        if (strcmp(e->node, t->boss) > 0)
            snprintf(t->boss, sizeof t->boss, "%s", e->node);
    t->state = G_TRANS_LOCK_BOSS;
    ask_nodes(g, t, ASK_SET_LOCK, pick_boss);
}

/* ---- what the callers use -------------------------------------------------- */

g_trans_t *g_trans_new(en_global_t *g, enum g_trans_kind kind,
                       const char *name, int name_len, const erlang_pid *pid)
{
    g_trans_t *t = calloc(1, sizeof *t), **tail = &g->trans;
    if (!t || gt_set(&t->name, name, name_len) < 0) {
        free(t);
        return NULL;
    }
    t->id = ++g->next_trans;
    t->kind = kind;
    t->state = G_TRANS_QUEUED;
    if (pid)
        t->pid = *pid;
    while (*tail)
        tail = &(*tail)->next;
    *tail = t;
    start_next(g);
    return t;
}

void g_trans_tick(en_global_t *g, g_trans_t *t)
{
    if (t->state == G_TRANS_SLEEP && en_now_ms() >= t->wake_at) {
        t->times++;
        attempt(g, t);
    }
}

/* What t holds on other nodes goes, without waiting for answers: the
 * name, if it may have been registered and is not yet everywhere, then
 * the locks. */
static void undo(en_global_t *g, g_trans_t *t)
{
    int unregister = t->kind == G_TRANS_REGISTER && t->applied &&
                     t->state < G_TRANS_UNLOCK;
    size_t k;
    char(*v)[EN_HS_NAME_MAX] = nl_copy(t->nodes, &k);

    for (size_t j = 0; v && j < k; j++) {
        if (en_core_is_local(g->proc->core, v[j])) {
            g_name_t *e = g_name_find(g, t->name.b, t->name.len);
            if (unregister && e && en_pid_eq(&e->pid, &t->pid))
                ask_here(g, t, ASK_UNREGISTER);
            ask_here(g, t, ASK_DEL_LOCK);
            continue;
        }
        if (unregister)
            tell(g, t, v[j], ASK_UNREGISTER);
        tell(g, t, v[j], ASK_DEL_LOCK);
    }
    free(v);
}

void g_trans_abandon(en_global_t *g, g_trans_t *t)
{
    g_trans_t *e;

    if (t->state != G_TRANS_DONE && t->state != G_TRANS_QUEUED &&
        t->state != G_TRANS_SLEEP)
        undo(g, t);
    for (g_call_t *k = g->calls; k; k = k->next)
        if (k->kind == G_CALL_TRANS && k->sess == t->id)
            k->sess = 0; /* answers now go nowhere */
    EN_LIST_UNLINK(&g->trans, e, e == t);
    trans_free(t);
    start_next(g);
}

void g_trans_on_reply(en_global_t *g, g_call_t *k, const char *reply,
                      int reply_len)
{
    g_trans_t *t = k->sess ? g_trans_by_id(g, k->sess) : NULL;
    int i = 0;
    int yes = reply && is_atom(reply, &i, "true") && i == reply_len;
    g_node_t *e = t ? nl_find(t->nodes, k->node) : NULL;

    if (!e || e->answer != G_ANS_WAIT) {
        /* Its transaction is gone: a lock it got is given back. */
        if (k->req.b && yes)
            tell(g, NULL, k->node, ASK_DEL_LOCK);
        return;
    }
    if (!reply)
        e->answer = G_ANS_GONE;
    else if (k->req.b) /* check_replies :971 takes true or false */
        e->answer = yes ? G_ANS_YES : G_ANS_NO;
    else
        e->answer = G_ANS_YES; /* multi_call's answers are not read */
    if (--t->calls_out == 0)
        step(g, t);
}

/* ---- the registrar's process ---------------------------------------------- */

/* Its handler: {Tag, Reply} answers our calls; anything else is dropped. */
static void on_message(void *ud, en_mbox_t *self, const erlang_pid *from,
                       const char *msg, size_t len)
{
    en_global_t *g = ud;
    erlang_ref tag;
    int i = 0, arity, at;
    g_call_t *k = NULL;

    (void)self;
    if (len > (size_t)0x7fffffff)
        return;
    g_enter(g);
    if (ei_decode_tuple_header(msg, &i, &arity) == 0 && arity == 2 &&
        ei_decode_ref(msg, &i, &tag) == 0) {
        EN_LIST_UNLINK(&g->calls, k,
                       k->kind == G_CALL_TRANS && en_ref_eq(&k->tag, &tag));
    }
    if (k) {
        at = i;
        if (ei_skip_term(msg, &i) < 0)
            i = at;
        g_trans_on_reply(g, k, msg + at, i - at);
        g_call_free(k);
    } else {
        en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                    "global: a message for the registrar from %s that "
                    "answers none of its calls; dropped",
                    from ? from->node : "an unknown node");
    }
    g_leave(g);
}

int g_trans_init(en_global_t *g)
{
    g->rand = en_now_ms() * 0x9E3779B97F4A7C15ull | 1;
    return en_service_new(g->proc, NULL, on_message, g, &g->registrar);
}

void g_trans_free_all(en_global_t *g)
{
    while (g->trans) {
        g_trans_t *t = g->trans;
        g->trans = t->next;
        trans_free(t);
    }
}
