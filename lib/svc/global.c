/* global.c - enode's part in OTP's `global` name server.
 *
 * Every visible OTP node runs global_name_server, and on each nodeup it
 * starts a "connect session" with the new node's global_name_server. A
 * node that never answers (ergo, enode before this file) keeps OTP's
 * session pending forever: global:sync() on the OTP node waits for it
 * without a time limit, and the OTP node's global never learns of it.
 * enode now takes part in global as a node with no names of its own.
 *
 * Sources: lib/kernel/src/global.erl of OTP 25.2.3 (kernel 8.5.3), 27.3.4.1
 * (kernel 10.2.7.1) and 29.1.2 (kernel 11.0.4); the three speak protocol
 * version 8 and differ in no message (K25/K27/K29 below; 25 and 29 read
 * from the debug_info of global.beam). Line numbers are K27's.
 *
 * THE CONNECT SESSION (global.erl :930-:1000, handle_nodeup :2983)
 *
 *   on nodeup, each side sends, as gen_server casts to
 *   {global_name_server, Peer} ('$gen_cast' wraps every "cast" below):
 *     {init_connect, {8, MyTag}, MyNode, {locker, no_longer_a_pid,
 *                                         Known, MyLocker}}
 *   and, once it has the other's init_connect (a plain message):
 *     {init_connect_ack, MyNode, HisTag, MyTag}
 *   A tag pair that does not match makes the node send
 *     {cancel_connect, MyNode, HisTag}        (plain)
 *   and start over with a new tag (restart_connect :1865).
 *
 *   The OTP node's locker then takes the lock {global, lists:sort([ItsLocker,
 *   OurLocker])} on its whole partition and on us (a gen_server:multi_call
 *   {set_lock, LockId} to our global_name_server), and casts
 *     {lock_set, ItsLocker, true, ItsKnown, OurTag}
 *   We answer, once our own partition is locked under the same id:
 *     {lock_set, OurLocker, true|false, OurKnown, ItsTag}      (cast)
 *   then both sides exchange their names (cast):
 *     {exchange, MyNode, [{Name, Pid, Method}], [], HisTag}
 *   resolve clashes, and tell each other the outcome (cast):
 *     {resolved, MyNode, OpsForHim, MyKnown, unused, NamesExt, HisTag}
 *   with MyKnown = [{Node, Vsn}] (global's "known" nodes, vsn >= 7).
 *   The node that receives `resolved` applies the ops, sends
 *     {new_nodes, MyNode, Ops, NamesExt, [{Node, Vsn}], [{vsn, V},
 *                                         {lock, LockId}]}        (cast)
 *   to the nodes it already knew, {in_sync, MyNode, true} (cast) to the
 *   nodes the other side knew (connecting to them), adds them all to its
 *   known nodes, counts the peer as synced, and lets go of the lock.
 *
 *   global:sync() returns once every node in nodes() is "synced": it
 *   resolved a session with us, or sent {in_sync, ...} (sync_loop :3270).
 *
 * PREVENT OVERLAPPING PARTITIONS (default true since OTP 25; :1000-:1050)
 *
 *   A node that loses a connection to a known node sends
 *     {lost_connection, MyNode, XCreation, OpId, LostNode}     (plain)
 *   to every known node; a receiver passes it on once, and if it knows
 *   LostNode it sends {remove_connection, MyNode} (plain) to it and forgets
 *   it; the node receiving remove_connection disconnects the sender.
 *
 * WHAT ENODE DOES
 *
 *   - It sends init_connect on every nodeup of a visible peer (if we are
 *     visible ourselves and the peer is not already known), acks the
 *     peer's, and cancels and restarts sessions exactly where global.erl
 *     does. It never starts locking itself: OTP's locker does (every OTP
 *     node does after init_connect), and we answer its lock_set.
 *   - When a peer's locker has locked us, we lock the nodes we already
 *     know under the same id (set_lock calls: the boss of our partition
 *     first, as lock_nodes_safely does, then the others at once), answer
 *     lock_set, exchange our names (the replica of our partition's
 *     names), resolve clashes as global.erl does (when our node name is
 *     the smaller, by calling global:resolve_it/4 through rex on the
 *     node of our registered process), send resolved, and when the
 *     peer's resolved arrives apply the ops, send new_nodes and in_sync,
 *     and release the locks.
 *   - It answers the calls other nodes make to every global_name_server:
 *     register, register_ext, unregister, set_lock, del_lock (with real
 *     locks: a held resource is refused to another requester), get_known,
 *     get_synced, get_protocol_version, get_names_ext, and {sync, _}.
 *   - It keeps the names it learns (register calls, exchange, new_nodes)
 *     and forgets a name or lock when its process dies (it monitors
 *     each, from global's own pid) or its node goes. en_global_whereis()
 *     reads that replica.
 *   - It handles new_nodes, in_sync, cancel_connect, init_connect_ack,
 *     lost_connection (passed on once; we forget the lost node and ask
 *     it to disconnect from us) and remove_connection (we disconnect).
 *
 * WHAT ENODE DOES NOT DO
 *
 *   - Register names itself, or offer global:register_name from C.
 *   - Originate lost_connection when it loses a node: the OTP nodes that
 *     lost the same node already do, and a C node's report would only make
 *     them drop more connections (global.erl :1032 "take down more
 *     connections than the minimum"). An enode node leaving therefore never
 *     makes OTP nodes disconnect from each other.
 *   - Retry a lock it could not get: it answers lock_set false, and the
 *     peer's locker, which drives the session, tries again later.
 *   - global groups, and the old (< 7) forms of the protocol beyond what
 *     OTP 25-29 send.
 *   - Call a clash resolution method on a process that lives on this C
 *     node (the method is an Erlang fun): the other side's name wins, as
 *     global.erl does when the resolving rpc fails.
 *
 * Everything from the peer is decoded defensively: a message of the wrong
 * shape is logged at debug level and dropped. Handlers never keep pointers
 * across a send: sending may dial, a dial may fail at once, and nodedown
 * then arrives re-entrantly; such events are queued and handled when the
 * outermost handler returns.
 */
#include "node/node_int.h"

#include "proto/dflags.h"
#include "svc/global.h"

#include <stdlib.h>
#include <string.h>

#define G_VSN 8      /* the protocol version OTP 25-29 speak */
#define G_POP_VSN 7  /* lost_connection / remove_connection */
#define G_PGPV_VSN 7 /* known lists carry versions */
#define G_LOST_MAX 1024              /* lost_connection records kept */
#define G_LOST_TTL_MS (60 * 60 * 1000) /* as global.erl keeps them */

/* ---- state ---------------------------------------------------------------- */

typedef struct { /* one external term, without 131, owned */
    char *b;
    int len;
} gterm_t;

typedef struct g_node { /* a node in a list: known, synced */
    struct g_node *next;
    char node[EN_HS_NAME_MAX];
    long vsn;
} g_node_t;

typedef struct g_name {
    struct g_name *next;
    gterm_t name, method;
    erlang_pid pid;
    int ext;                       /* registered by an external node */
    char reg_node[EN_HS_NAME_MAX]; /* ...through this node */
} g_name_t;

typedef struct g_holder {
    struct g_holder *next;
    erlang_pid pid;
} g_holder_t;

typedef struct g_lock {
    struct g_lock *next;
    gterm_t res, req; /* {ResourceId, LockRequesterId} */
    int is_global;    /* ResourceId is the atom global */
    g_holder_t *holders;
} g_lock_t;

typedef struct g_watch { /* our monitor on a process of another node */
    struct g_watch *next;
    erlang_pid pid;
    erlang_ref ref;
} g_watch_t;

typedef struct g_lost { /* a lost_connection we have handled */
    struct g_lost *next;
    char a[EN_HS_NAME_MAX], b[EN_HS_NAME_MAX];
    long long xcre, opid;
    uint64_t at;
} g_lost_t;

typedef struct g_op { /* {insert, {Name, Pid, Method}} or {delete, Name} */
    int del;
    gterm_t name, method;
    erlang_pid pid;
} g_op_t;

typedef struct g_ops {
    g_op_t *v;
    size_t n, cap;
} g_ops_t;

enum { G_CALL_LOCK, G_CALL_RESOLVE };

typedef struct g_call { /* a call we made and wait for */
    struct g_call *next;
    erlang_ref tag;
    int kind;
    uint64_t sess;
    char node[EN_HS_NAME_MAX];
    gterm_t req; /* G_CALL_LOCK: the LockRequesterId asked for */
    /* G_CALL_RESOLVE: the clash being resolved */
    gterm_t name, his_method, my_method;
    erlang_pid his_pid, my_pid;
} g_call_t;

typedef struct g_sess { /* a connect session with one node */
    struct g_sess *next;
    uint64_t id;
    char node[EN_HS_NAME_MAX];
    long long my_tag;
    int pending;       /* got his init_connect: {pending, Node} */
    gterm_t his_tag;
    long his_vsn, prot_vsn;
    erlang_pid his_locker;
    int locking;       /* set_lock calls out to our known nodes: */
    int lock_stage;    /* 0: to the boss, 1: to the others */
    int lock_fail;
    int calls_out;
    g_node_t *locked;  /* known nodes we hold the lock on */
    int lock_set;      /* our side is locked; exchange sent */
    gterm_t req;       /* the lock's LockRequesterId */
    int got_exchange;
    gterm_t his_names;
    int resolving;     /* exchange being resolved */
    int rpcs_out;
    g_ops_t ops, res;  /* ops for us, ops for him */
    int resolved_sent;
    int got_resolved;
    gterm_t his_resolved, his_known, his_ext;
} g_sess_t;

typedef struct g_event { /* nodeup/nodedown seen inside a handler */
    struct g_event *next;
    int up;
    char node[EN_HS_NAME_MAX];
} g_event_t;

struct en_global {
    erlang_pid pid; /* our locker, caller and monitor owner */
    int depth;      /* handlers under way */
    g_event_t *events, **events_tail;
    uint64_t next_sess;
    long long next_tag;
    int lock_down;  /* global.erl's global_lock_down */
    g_node_t *known, *synced;
    g_sess_t *sessions;
    g_name_t *names;
    g_lock_t *locks;
    g_watch_t *watches;
    g_call_t *calls;
    g_lost_t *lost;
};

typedef struct en_global en_global_t;

/* ---- small helpers ---------------------------------------------------------- */

static en_global_t *g_get(enode_t *n)
{
    if (!n->global) {
        en_global_t *g = calloc(1, sizeof *g);
        if (!g)
            return NULL;
        en_make_pid(n, &g->pid);
        g->events_tail = &g->events;
        g->next_tag = 1;
        n->global = g;
    }
    return n->global;
}

static void gt_free(gterm_t *t)
{
    free(t->b);
    t->b = NULL;
    t->len = 0;
}

static int gt_set(gterm_t *t, const char *b, int len)
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

static int gt_eq(const gterm_t *a, const char *b, int len)
{
    return a->b && a->len == len && memcmp(a->b, b, (size_t)len) == 0;
}

/* The term at buf[*i] (within a term that passed en_term_size): where it
 * starts and how long it is; *i moves past it. */
static int span(const char *buf, int *i, const char **start, int *len)
{
    int s = *i;
    if (ei_skip_term(buf, i) < 0)
        return -1;
    *start = buf + s;
    *len = *i - s;
    return 0;
}

static int get_atom(const char *buf, int *i, char *out)
{
    return ei_decode_atom_as(buf, i, out, MAXATOMLEN_UTF8, ERLANG_UTF8, NULL,
                             NULL);
}

static int is_atom(const char *buf, int *i, const char *want)
{
    char a[MAXATOMLEN_UTF8];
    return get_atom(buf, i, a) == 0 && strcmp(a, want) == 0;
}

static int put_atom(ei_x_buff *x, const char *a)
{
    return ei_x_encode_atom_as(x, a, ERLANG_UTF8, ERLANG_UTF8);
}

static int put_term(ei_x_buff *x, const gterm_t *t)
{
    return ei_x_append_buf(x, t->b, t->len);
}

static int node_of_pid_is(const erlang_pid *p, const char *node)
{
    return strcmp(p->node, node) == 0;
}

/* ---- node lists ---------------------------------------------------------- */

static g_node_t *nl_find(g_node_t *l, const char *node)
{
    for (; l; l = l->next)
        if (strcmp(l->node, node) == 0)
            return l;
    return NULL;
}

/* 1 if added, 0 if there already, -1 out of memory. */
static int nl_add(g_node_t **l, const char *node, long vsn)
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

static void nl_del(g_node_t **l, const char *node)
{
    for (g_node_t **pp = l; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->node, node) == 0) {
            g_node_t *e = *pp;
            *pp = e->next;
            free(e);
            return;
        }
}

static void nl_free(g_node_t **l)
{
    while (*l) {
        g_node_t *e = *l;
        *l = e->next;
        free(e);
    }
}

static size_t nl_len(const g_node_t *l)
{
    size_t k = 0;
    for (; l; l = l->next)
        k++;
    return k;
}

/* A copy of list l's names, for loops that send (which may change l). */
static char (*nl_copy(const g_node_t *l, size_t *count))[EN_HS_NAME_MAX]
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

/* ---- sessions ---------------------------------------------------------- */

static g_sess_t *sess_by_node(en_global_t *g, const char *node)
{
    for (g_sess_t *s = g->sessions; s; s = s->next)
        if (strcmp(s->node, node) == 0)
            return s;
    return NULL;
}

static g_sess_t *sess_by_id(en_global_t *g, uint64_t id)
{
    for (g_sess_t *s = g->sessions; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void ops_clear(g_ops_t *o)
{
    for (size_t k = 0; k < o->n; k++) {
        gt_free(&o->v[k].name);
        gt_free(&o->v[k].method);
    }
    free(o->v);
    memset(o, 0, sizeof *o);
}

static int ops_add(g_ops_t *o, int del, const char *name, int name_len,
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

static void sess_free(g_sess_t *s)
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

static void call_free(g_call_t *k)
{
    gt_free(&k->req);
    gt_free(&k->name);
    gt_free(&k->his_method);
    gt_free(&k->my_method);
    free(k);
}

/* ---- sending -------------------------------------------------------------- */

/* x to {global_name_server, node}; with noconnect, only over a connection
 * that is there already (erlang:send(..., [noconnect])). */
static void send_gns(enode_t *n, const char *node, ei_x_buff *x,
                     int noconnect)
{
    en_global_t *g = n->global;
    if (noconnect && !en_conn_find(n, node))
        return;
    en_reg_send_locked(n, &g->pid, node, "global_name_server", x->buff,
                       (size_t)x->index);
}

/* A new buffer for a cast: 131, {'$gen_cast', ...then the caller's term. */
static int cast_begin(ei_x_buff *x)
{
    if (ei_x_new_with_version(x) < 0)
        return -1;
    if (ei_x_encode_tuple_header(x, 2) < 0 || put_atom(x, "$gen_cast") < 0) {
        ei_x_free(x);
        return -1;
    }
    return 0;
}

/* [{Node, Vsn}] (withvsn) or [Node] of our known nodes. */
static int put_known(ei_x_buff *x, const en_global_t *g, int withvsn)
{
    size_t k = nl_len(g->known);
    if (k && ei_x_encode_list_header(x, (long)k) < 0)
        return -1;
    for (const g_node_t *e = g->known; e; e = e->next) {
        if (withvsn && (ei_x_encode_tuple_header(x, 2) < 0 ||
                        put_atom(x, e->node) < 0 ||
                        ei_x_encode_long(x, e->vsn) < 0))
            return -1;
        if (!withvsn && put_atom(x, e->node) < 0)
            return -1;
    }
    return ei_x_encode_empty_list(x);
}

/* {Tag, Reply} to the caller of a gen_server call. */
static void reply_call(enode_t *n, const erlang_pid *caller, const char *tag,
                       int tag_len, const ei_x_buff *reply)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 2) == 0 &&
        ei_x_append_buf(&x, tag, tag_len) == 0 &&
        ei_x_append_buf(&x, reply->buff, reply->index) == 0)
        en_send_locked(n, &n->global->pid, caller, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

static void reply_atom(enode_t *n, const erlang_pid *caller, const char *tag,
                       int tag_len, const char *atom)
{
    ei_x_buff r;
    if (ei_x_new(&r) < 0)
        return;
    if (put_atom(&r, atom) == 0)
        reply_call(n, caller, tag, tag_len, &r);
    ei_x_free(&r);
}

/* A gen_server call to {Name, node} from our pid; the new call's record
 * (its tag) is returned, or NULL. `request` is appended by the caller's
 * encoder through fill. */
static g_call_t *call_new(enode_t *n, int kind, uint64_t sess,
                          const char *node)
{
    en_global_t *g = n->global;
    g_call_t *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    en_make_ref_locked(n, &k->tag);
    k->kind = kind;
    k->sess = sess;
    snprintf(k->node, sizeof k->node, "%s", node);
    k->next = g->calls;
    g->calls = k;
    return k;
}

static void call_unlink(en_global_t *g, g_call_t *k)
{
    for (g_call_t **pp = &g->calls; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            return;
        }
}

/* 131, {'$gen_call', {OurPid, Tag}, ...then the caller's request. */
static int call_begin(ei_x_buff *x, const en_global_t *g,
                      const erlang_ref *tag)
{
    if (ei_x_new_with_version(x) < 0)
        return -1;
    if (ei_x_encode_tuple_header(x, 3) < 0 || put_atom(x, "$gen_call") < 0 ||
        ei_x_encode_tuple_header(x, 2) < 0 || ei_x_encode_pid(x, &g->pid) < 0 ||
        ei_x_encode_ref(x, tag) < 0) {
        ei_x_free(x);
        return -1;
    }
    return 0;
}

/* ---- watching processes ---------------------------------------------------- */

static int pid_in_use(const en_global_t *g, const erlang_pid *pid)
{
    for (const g_name_t *e = g->names; e; e = e->next)
        if (en_pid_eq(&e->pid, pid))
            return 1;
    for (const g_lock_t *l = g->locks; l; l = l->next)
        for (const g_holder_t *h = l->holders; h; h = h->next)
            if (en_pid_eq(&h->pid, pid))
                return 1;
    return 0;
}

/* Monitor pid (on another node) so that its names and locks go when it
 * dies, as global.erl's erlang:monitor does. */
static void watch(enode_t *n, const erlang_pid *pid)
{
    en_global_t *g = n->global;
    if (en_is_local_node(n, pid->node))
        return; /* our mailboxes are checked when names are read */
    for (g_watch_t *w = g->watches; w; w = w->next)
        if (en_pid_eq(&w->pid, pid))
            return;
    g_watch_t *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->pid = *pid;
    en_make_ref_locked(n, &w->ref);
    w->next = g->watches;
    g->watches = w;
    en_conn_t *c = en_conn_get(n, pid->node);
    if (c && en_ctrl_monitor_p(en_conn_sendbuf(c), en_conn_wire(c), &g->pid,
                               pid, NULL, &w->ref) == 0)
        en_conn_kick(c);
}

static void unwatch_if_unused(enode_t *n, const erlang_pid *pid)
{
    en_global_t *g = n->global;
    if (pid_in_use(g, pid))
        return;
    for (g_watch_t **pp = &g->watches; *pp; pp = &(*pp)->next) {
        g_watch_t *w = *pp;
        if (!en_pid_eq(&w->pid, pid))
            continue;
        *pp = w->next;
        en_conn_t *c = en_conn_find(n, w->pid.node);
        if (c && en_ctrl_demonitor_p(en_conn_sendbuf(c), en_conn_wire(c),
                                     &g->pid, &w->pid, NULL, &w->ref) == 0)
            en_conn_kick(c);
        free(w);
        return;
    }
}

/* ---- names ------------------------------------------------------------------ */

static g_name_t *name_find(en_global_t *g, const char *name, int len)
{
    for (g_name_t *e = g->names; e; e = e->next)
        if (gt_eq(&e->name, name, len))
            return e;
    return NULL;
}

static void name_delete(enode_t *n, const char *name, int len)
{
    en_global_t *g = n->global;
    for (g_name_t **pp = &g->names; *pp; pp = &(*pp)->next) {
        g_name_t *e = *pp;
        if (!gt_eq(&e->name, name, len))
            continue;
        *pp = e->next;
        erlang_pid pid = e->pid;
        gt_free(&e->name);
        gt_free(&e->method);
        free(e);
        unwatch_if_unused(n, &pid);
        return;
    }
}

/* Names of processes that died here: our mailboxes are not monitored. */
static void purge_local_names(enode_t *n)
{
    en_global_t *g = n->global;
    for (g_name_t **pp = &g->names; *pp;) {
        g_name_t *e = *pp;
        struct enode_mbox *mb;
        if (en_is_local_node(n, e->pid.node) &&
            (!(mb = en_mbox_by_pid(n, &e->pid)) || mb->dead)) {
            *pp = e->next;
            gt_free(&e->name);
            gt_free(&e->method);
            free(e);
        } else {
            pp = &e->next;
        }
    }
}

/* Is the lock under which a name arrives still ours? (global.erl
 * lock_still_set :2241.) from_pid for a register call, else the
 * LockRequesterId of the session or new_nodes that carried it. */
static int lock_still_set(en_global_t *g, const erlang_pid *from_pid,
                          const char *req, int req_len)
{
    for (g_lock_t *l = g->locks; l; l = l->next) {
        if (!l->is_global)
            continue;
        if (from_pid) {
            for (g_holder_t *h = l->holders; h; h = h->next)
                if (en_pid_eq(&h->pid, from_pid))
                    return 1;
            return 0;
        }
        return !req || gt_eq(&l->req, req, req_len);
    }
    return !g->lock_down;
}

/* ins_name / ins_name_ext: the name now means pid. */
static void name_insert(enode_t *n, const char *name, int name_len,
                        const erlang_pid *pid, const char *method,
                        int method_len, const char *reg_node,
                        const erlang_pid *from_pid, const char *req,
                        int req_len)
{
    en_global_t *g = n->global;
    name_delete(n, name, name_len);
    g_name_t *e = calloc(1, sizeof *e);
    if (!e || gt_set(&e->name, name, name_len) < 0 ||
        gt_set(&e->method, method, method_len) < 0) {
        if (e) {
            gt_free(&e->name);
            free(e);
        }
        en_log(n, ENODE_LOG_ERROR, "global: out of memory; a name is lost");
        return;
    }
    e->pid = *pid;
    if (reg_node) {
        e->ext = 1;
        snprintf(e->reg_node, sizeof e->reg_node, "%s", reg_node);
    }
    e->next = g->names;
    g->names = e;
    watch(n, pid);
    if (!lock_still_set(g, from_pid, req, req_len))
        name_delete(n, name, name_len);
}

/* ---- locks ------------------------------------------------------------------ */

static g_lock_t *lock_find(en_global_t *g, const char *res, int res_len)
{
    for (g_lock_t *l = g->locks; l; l = l->next)
        if (gt_eq(&l->res, res, res_len))
            return l;
    return NULL;
}

static g_lock_t *global_lock(en_global_t *g)
{
    for (g_lock_t *l = g->locks; l; l = l->next)
        if (l->is_global)
            return l;
    return NULL;
}

static void lock_unlink_free(en_global_t *g, g_lock_t *lk)
{
    for (g_lock_t **pp = &g->locks; *pp; pp = &(*pp)->next)
        if (*pp == lk) {
            *pp = lk->next;
            break;
        }
    while (lk->holders) {
        g_holder_t *h = lk->holders;
        lk->holders = h->next;
        free(h);
    }
    gt_free(&lk->res);
    gt_free(&lk->req);
    free(lk);
}

/* handle_set_lock: 1 if pid now holds {res, req}, 0 if another requester
 * holds res, -1 out of memory. */
static int lock_set(enode_t *n, const char *res, int res_len,
                    const char *req, int req_len, const erlang_pid *pid)
{
    en_global_t *g = n->global;
    g_lock_t *lk = lock_find(g, res, res_len);
    if (lk && !gt_eq(&lk->req, req, req_len))
        return 0;
    if (!lk) {
        int i = 0;
        lk = calloc(1, sizeof *lk);
        if (!lk || gt_set(&lk->res, res, res_len) < 0 ||
            gt_set(&lk->req, req, req_len) < 0) {
            if (lk) {
                gt_free(&lk->res);
                free(lk);
            }
            return -1;
        }
        lk->is_global = is_atom(res, &i, "global") && i == res_len;
        lk->next = g->locks;
        g->locks = lk;
    }
    for (g_holder_t *h = lk->holders; h; h = h->next)
        if (en_pid_eq(&h->pid, pid))
            return 1;
    g_holder_t *h = calloc(1, sizeof *h);
    if (!h) {
        if (!lk->holders)
            lock_unlink_free(g, lk);
        return -1;
    }
    h->pid = *pid;
    h->next = lk->holders;
    lk->holders = h;
    watch(n, pid);
    return 1;
}

/* pid lets go of lk (handle_del_lock, or a DOWN when down). */
static void lock_release(enode_t *n, g_lock_t *lk, const erlang_pid *pid,
                         int down)
{
    en_global_t *g = n->global;
    for (g_holder_t **pp = &lk->holders; *pp; pp = &(*pp)->next) {
        g_holder_t *h = *pp;
        if (!en_pid_eq(&h->pid, pid))
            continue;
        *pp = h->next;
        free(h);
        if (!lk->holders) {
            if (lk->is_global)
                g->lock_down = down;
            lock_unlink_free(g, lk);
        }
        break;
    }
    unwatch_if_unused(n, pid);
}

static void lock_del(enode_t *n, const char *res, int res_len,
                     const char *req, int req_len, const erlang_pid *pid)
{
    g_lock_t *lk = lock_find(n->global, res, res_len);
    if (lk && gt_eq(&lk->req, req, req_len))
        lock_release(n, lk, pid, 0);
}

/* Every name and lock of pid goes (it died). */
static void pid_gone(enode_t *n, const erlang_pid *pid)
{
    en_global_t *g = n->global;
    for (g_name_t **pp = &g->names; *pp;) {
        g_name_t *e = *pp;
        if (en_pid_eq(&e->pid, pid)) {
            *pp = e->next;
            gt_free(&e->name);
            gt_free(&e->method);
            free(e);
        } else {
            pp = &e->next;
        }
    }
    for (g_lock_t *l = g->locks, *next; l; l = next) {
        next = l->next;
        lock_release(n, l, pid, 1);
    }
}

/* Everything of the processes of node: delete_node_resources, or the
 * DOWN signals a lost node brings. Our monitors there are gone too. */
static void node_resources_gone(enode_t *n, const char *node)
{
    en_global_t *g = n->global;
    for (g_watch_t **pp = &g->watches; *pp;) {
        g_watch_t *w = *pp;
        if (node_of_pid_is(&w->pid, node)) {
            *pp = w->next;
            free(w);
        } else {
            pp = &w->next;
        }
    }
    for (g_name_t **pp = &g->names; *pp;) {
        g_name_t *e = *pp;
        if (node_of_pid_is(&e->pid, node)) {
            *pp = e->next;
            gt_free(&e->name);
            gt_free(&e->method);
            free(e);
        } else {
            pp = &e->next;
        }
    }
    for (g_lock_t *l = g->locks, *next; l; l = next) {
        next = l->next;
        for (g_holder_t **hp = &l->holders; *hp;) {
            g_holder_t *h = *hp;
            if (node_of_pid_is(&h->pid, node)) {
                *hp = h->next;
                free(h);
            } else {
                hp = &h->next;
            }
        }
        if (!l->holders) {
            if (l->is_global)
                g->lock_down = 1;
            lock_unlink_free(g, l);
        }
    }
}

/* ---- the session's locks ------------------------------------------------- */

/* {del_lock, {global, Req}} to node; nobody waits for the reply (its tag
 * matches no call, so it is dropped). */
static void send_del_lock(enode_t *n, const char *node, const gterm_t *req)
{
    en_global_t *g = n->global;
    erlang_ref tag;
    ei_x_buff x;

    en_make_ref_locked(n, &tag);
    if (call_begin(&x, g, &tag) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 2) == 0 && put_atom(&x, "del_lock") == 0 &&
        ei_x_encode_tuple_header(&x, 2) == 0 && put_atom(&x, "global") == 0 &&
        put_term(&x, req) == 0)
        send_gns(n, node, &x, 1);
    ei_x_free(&x);
}

/* Let go of everything session s locked: the known nodes, and our own
 * table (delete_global_lock :2721). s stays. */
static void sess_unlock(enode_t *n, g_sess_t *s)
{
    en_global_t *g = n->global;
    uint64_t sid = s->id;
    gterm_t req = s->req;
    g_node_t *locked = s->locked;
    s->locked = NULL;
    s->req.b = NULL;
    s->req.len = 0;
    s->locking = s->lock_fail = s->lock_set = 0;
    s->calls_out = 0;
    /* Calls still out for s are answered by a del_lock when they come
     * back true (on_lock_reply). */
    for (g_call_t *k = g->calls; k; k = k->next)
        if (k->sess == sid && k->kind == G_CALL_LOCK)
            k->sess = 0;
    if (req.b) {
        size_t k;
        char(*v)[EN_HS_NAME_MAX] = nl_copy(locked, &k);
        for (size_t j = 0; v && j < k; j++)
            send_del_lock(n, v[j], &req);
        free(v);
        g_lock_t *lk = global_lock(g);
        if (lk && gt_eq(&lk->req, req.b, req.len))
            lock_release(n, lk, &g->pid, 0);
    }
    nl_free(&locked);
    gt_free(&req);
}

/* ---- session life ----------------------------------------------------------- */

static void sess_unlink(en_global_t *g, g_sess_t *s)
{
    for (g_sess_t **pp = &g->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            return;
        }
}

/* cancel_locker without the cancel_connect message: the session goes,
 * with its locks. */
static void sess_cancel(enode_t *n, const char *node)
{
    en_global_t *g = n->global;
    g_sess_t *s = sess_by_node(g, node);
    if (!s)
        return;
    sess_unlock(n, s);
    for (g_call_t *k = g->calls; k; k = k->next)
        if (k->sess == s->id)
            k->sess = 0;
    sess_unlink(g, s);
    sess_free(s);
}

static void send_init_connect(enode_t *n, const g_sess_t *s)
{
    en_global_t *g = n->global;
    ei_x_buff x;
    if (cast_begin(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 4) == 0 &&
        put_atom(&x, "init_connect") == 0 &&
        ei_x_encode_tuple_header(&x, 2) == 0 && ei_x_encode_long(&x, G_VSN) == 0 &&
        ei_x_encode_longlong(&x, s->my_tag) == 0 && put_atom(&x, n->name) == 0 &&
        ei_x_encode_tuple_header(&x, 4) == 0 && put_atom(&x, "locker") == 0 &&
        put_atom(&x, "no_longer_a_pid") == 0 && put_known(&x, g, 1) == 0 &&
        ei_x_encode_pid(&x, &g->pid) == 0) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", s->node);
        send_gns(n, node, &x, 0);
    }
    ei_x_free(&x);
}

/* handle_nodeup: make ourselves known to node, unless it is known. */
static void sess_start(enode_t *n, const char *node)
{
    en_global_t *g = n->global;
    if (n->hidden || en_is_local_node(n, node) || nl_find(g->known, node) ||
        sess_by_node(g, node))
        return;
    en_conn_t *c = en_conn_find(n, node);
    if (!c || c->phase != EN_PH_UP || !(c->flags & EN_DFLAG_PUBLISHED))
        return;
    g_sess_t *s = calloc(1, sizeof *s);
    if (!s)
        return;
    s->id = ++g->next_sess;
    snprintf(s->node, sizeof s->node, "%s", node);
    s->my_tag = g->next_tag++;
    s->next = g->sessions;
    g->sessions = s;
    en_log(n, ENODE_LOG_DEBUG, "global: connect session %lld with %s",
           s->my_tag, node);
    send_init_connect(n, s);
}

/* restart_connect :1865: this session is out of sync; start over. */
static void sess_restart(enode_t *n, const char *node)
{
    sess_cancel(n, node);
    node_resources_gone(n, node);
    sess_start(n, node);
}

static void send_cancel_connect(enode_t *n, const char *node,
                                const char *his_tag, int his_tag_len)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 3) == 0 &&
        put_atom(&x, "cancel_connect") == 0 && put_atom(&x, n->name) == 0 &&
        ei_x_append_buf(&x, his_tag, his_tag_len) == 0)
        send_gns(n, node, &x, 1);
    ei_x_free(&x);
}

/* handle_nodedown (What = disconnected or remove_connection). */
static void forget_node(enode_t *n, const char *node)
{
    en_global_t *g = n->global;
    sess_cancel(n, node);
    nl_del(&g->known, node);
    nl_del(&g->synced, node);
}

static int potentially_known(en_global_t *g, const char *node)
{
    g_sess_t *s;
    return nl_find(g->known, node) ||
           ((s = sess_by_node(g, node)) && s->pending);
}

/* ---- init_connect, its ack, cancel_connect --------------------------------- */

static long long tag_value(const char *b, int len, int *ok)
{
    long long v = 0;
    int i = 0;
    *ok = ei_decode_longlong(b, &i, &v) == 0 && i == len;
    return v;
}

static void on_init_connect(en_conn_t *c, const char *buf, int i)
{
    enode_t *n = c->node;
    en_global_t *g = n->global;
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
    if (get_atom(buf, &i, node) < 0 || strcmp(node, c->peer) != 0 ||
        ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 4 ||
        !is_atom(buf, &i, "locker") || ei_skip_term(buf, &i) < 0 ||
        ei_skip_term(buf, &i) < 0 || ei_decode_pid(buf, &i, &locker) < 0 ||
        !node_of_pid_is(&locker, node) || his_vsn < 5)
        goto bad;

    g_sess_t *s = sess_by_node(g, node);
    if (!s) {
        /* Known already, or no nodeup yet: global.erl keeps it as
         * pre_connect and acts on it only at a later nodeup. */
        en_log(n, ENODE_LOG_DEBUG,
               "global: init_connect from %s outside a session; ignored",
               node);
        return;
    }
    if (s->pending) {
        /* A second attempt while one is under way (:1808). */
        en_log(n, ENODE_LOG_DEBUG,
               "global: init_connect from %s during a session; restarting",
               node);
        if (his_vsn >= 8) {
            send_cancel_connect(n, node, tag, tag_len);
            sess_restart(n, node);
        } else {
            en_conn_fail(c, ENODE_ECONN, "global: out of sync connect from "
                                         "an old global");
        }
        return;
    }
    if (gt_set(&s->his_tag, tag, tag_len) < 0)
        return;
    s->his_vsn = his_vsn;
    s->prot_vsn = his_vsn > G_VSN ? G_VSN : his_vsn;
    s->his_locker = locker;
    s->pending = 1;
    if (his_vsn >= 8) {
        ei_x_buff x;
        if (ei_x_new_with_version(&x) < 0)
            return;
        if (ei_x_encode_tuple_header(&x, 4) == 0 &&
            put_atom(&x, "init_connect_ack") == 0 && put_atom(&x, n->name) == 0 &&
            ei_x_append_buf(&x, tag, tag_len) == 0 &&
            ei_x_encode_longlong(&x, s->my_tag) == 0)
            send_gns(n, node, &x, 1);
        ei_x_free(&x);
    }
    return;
bad:
    en_log(n, ENODE_LOG_DEBUG, "global: malformed init_connect from %s",
           c->peer);
}

/* {init_connect_ack, Node, HisMyTag, HisHisTag} */
static void on_init_connect_ack(en_conn_t *c, const char *buf, int i)
{
    enode_t *n = c->node;
    char node[MAXATOMLEN_UTF8];
    const char *mine, *his;
    int mine_len, his_len, ok;

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &mine, &mine_len) < 0 ||
        span(buf, &i, &his, &his_len) < 0 || strcmp(node, c->peer) != 0) {
        en_log(n, ENODE_LOG_DEBUG,
               "global: malformed init_connect_ack from %s", c->peer);
        return;
    }
    g_sess_t *s = sess_by_node(n->global, node);
    long long v = tag_value(mine, mine_len, &ok);
    if (s && ok && v == s->my_tag && s->pending &&
        gt_eq(&s->his_tag, his, his_len))
        return;
    en_log(n, ENODE_LOG_DEBUG,
           "global: connect with %s out of sync; cancelled", node);
    send_cancel_connect(n, node, his, his_len);
    if (s)
        sess_restart(n, node);
}

/* {cancel_connect, Node, MyTag} */
static void on_cancel_connect(en_conn_t *c, const char *buf, int i)
{
    enode_t *n = c->node;
    char node[MAXATOMLEN_UTF8];
    const char *tag;
    int tag_len, ok;

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &tag, &tag_len) < 0)
        return;
    g_sess_t *s = sess_by_node(n->global, node);
    long long v = tag_value(tag, tag_len, &ok);
    if (s && ok && v == s->my_tag) {
        en_log(n, ENODE_LOG_DEBUG, "global: %s cancelled our connect", node);
        sess_restart(n, node);
    }
}

/* ---- lock_set ------------------------------------------------------------- */

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

static void send_lock_set(enode_t *n, const g_sess_t *s, int set)
{
    en_global_t *g = n->global;
    ei_x_buff x;
    if (cast_begin(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, s->his_vsn >= 8 ? 5 : 4) == 0 &&
        put_atom(&x, "lock_set") == 0 && ei_x_encode_pid(&x, &g->pid) == 0 &&
        ei_x_encode_boolean(&x, set) == 0 && put_known(&x, g, 0) == 0 &&
        (s->his_vsn < 8 || put_term(&x, &s->his_tag) == 0)) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", s->node);
        send_gns(n, node, &x, 0);
    }
    ei_x_free(&x);
}

static void send_exchange(enode_t *n, const g_sess_t *s)
{
    en_global_t *g = n->global;
    ei_x_buff x;
    size_t k = 0;

    purge_local_names(n);
    for (g_name_t *e = g->names; e; e = e->next)
        k++;
    if (cast_begin(&x) < 0)
        return;
    int rc = ei_x_encode_tuple_header(&x, 5) | put_atom(&x, "exchange") |
             put_atom(&x, n->name);
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
        send_gns(n, node, &x, 0);
    }
    ei_x_free(&x);
}

static void resolve(enode_t *n, uint64_t sid);

/* The known nodes answered (or went): answer the peer's locker. */
static void lock_done(enode_t *n, uint64_t sid)
{
    en_global_t *g = n->global;
    g_sess_t *s = sess_by_id(g, sid);
    if (!s || !s->locking || s->calls_out > 0)
        return;
    s->locking = 0;
    g_lock_t *lk = global_lock(g);
    if (!s->lock_fail && lk && gt_eq(&lk->req, s->req.b, s->req.len) &&
        lock_set(n, lk->res.b, lk->res.len, s->req.b, s->req.len, &g->pid) ==
            1) {
        s->lock_set = 1;
        en_log(n, ENODE_LOG_DEBUG, "global: locked for %s", s->node);
        send_lock_set(n, s, 1);
        if ((s = sess_by_id(g, sid)))
            send_exchange(n, s);
        if ((s = sess_by_id(g, sid)) && s->got_exchange)
            resolve(n, sid);
        return;
    }
    en_log(n, ENODE_LOG_DEBUG,
           "global: cannot lock our partition for %s now", s->node);
    sess_unlock(n, s);
    if ((s = sess_by_id(g, sid)))
        send_lock_set(n, s, 0);
}

/* {set_lock, {global, Req}} to node, for session sid. */
static void call_set_lock(enode_t *n, uint64_t sid, const char *node)
{
    en_global_t *g = n->global;
    g_sess_t *s = sess_by_id(g, sid);
    en_conn_t *kc = en_conn_find(n, node);
    ei_x_buff x;

    if (!s || !kc || kc->phase != EN_PH_UP)
        return; /* a node that is not there: multi_call's bad node */
    g_call_t *call = call_new(n, G_CALL_LOCK, sid, node);
    if (!call)
        return;
    if (gt_set(&call->req, s->req.b, s->req.len) < 0 ||
        call_begin(&x, g, &call->tag) < 0) {
        call_unlink(g, call);
        call_free(call);
        s->lock_fail = 1;
        return;
    }
    if (ei_x_encode_tuple_header(&x, 2) == 0 && put_atom(&x, "set_lock") == 0 &&
        ei_x_encode_tuple_header(&x, 2) == 0 && put_atom(&x, "global") == 0 &&
        put_term(&x, &s->req) == 0) {
        s->calls_out++;
        send_gns(n, node, &x, 1);
    } else {
        call_unlink(g, call);
        call_free(call);
        s->lock_fail = 1;
    }
    ei_x_free(&x);
}

/* lock_nodes_safely :2556 for our side: the boss of our partition (the
 * greatest node name) first, so that lockers of one partition meet there,
 * then the other known nodes at once; our own table is already locked
 * under this id by the peer's locker. */
static void lock_step(enode_t *n, uint64_t sid)
{
    en_global_t *g = n->global;
    g_sess_t *s = sess_by_id(g, sid);
    if (!s || !s->locking || s->calls_out > 0)
        return;
    const char *boss = n->name;
    for (g_node_t *e = g->known; e; e = e->next)
        if (strcmp(e->node, boss) > 0)
            boss = e->node;
    char boss_node[EN_HS_NAME_MAX];
    snprintf(boss_node, sizeof boss_node, "%s", boss);
    if (s->lock_stage == 0) {
        s->lock_stage = 1;
        if (!en_is_local_node(n, boss_node)) {
            call_set_lock(n, sid, boss_node);
            if ((s = sess_by_id(g, sid)) && s->calls_out > 0)
                return; /* the others once the boss said yes */
        }
    } else if (s->lock_stage == 1 && !s->lock_fail) {
        s->lock_stage = 2;
        size_t k;
        char(*v)[EN_HS_NAME_MAX] = nl_copy(g->known, &k);
        for (size_t j = 0; v && j < k; j++)
            if (strcmp(v[j], boss_node) != 0)
                call_set_lock(n, sid, v[j]);
        free(v);
        if ((s = sess_by_id(g, sid)) && s->calls_out > 0)
            return;
    }
    if ((s = sess_by_id(g, sid)) && s->lock_stage == 1 && !s->lock_fail) {
        lock_step(n, sid);
        return;
    }
    lock_done(n, sid);
}

/* {lock_set, Pid, Set, HisKnown[, MyTag]}: the peer's locker has locked
 * its partition and us; lock ours (the_locker_message :2432). */
static void on_lock_set(en_conn_t *c, const char *buf, int i, int arity)
{
    enode_t *n = c->node;
    en_global_t *g = n->global;
    erlang_pid pid;
    int set, ok = 1;
    const char *tag = NULL;
    int tag_len = 0;

    if (ei_decode_pid(buf, &i, &pid) < 0 || ei_decode_boolean(buf, &i, &set) < 0 ||
        ei_skip_term(buf, &i) < 0 ||
        (arity == 5 && span(buf, &i, &tag, &tag_len) < 0)) {
        en_log(n, ENODE_LOG_DEBUG, "global: malformed lock_set from %s",
               c->peer);
        return;
    }
    g_sess_t *s = sess_by_node(g, pid.node);
    long long v = tag ? tag_value(tag, tag_len, &ok) : 0;
    if (!s || (tag && (!ok || v != s->my_tag)))
        return; /* a stale session's: global_name_server drops it too */
    if (!set || !s->pending || s->locking || s->lock_set)
        return; /* spurious, as the_locker says */
    g_lock_t *lk = global_lock(g);
    if (!lk || !req_is_pair(&lk->req, &g->pid, &pid)) {
        send_lock_set(n, s, 0);
        return;
    }
    if (gt_set(&s->req, lk->req.b, lk->req.len) < 0)
        return;
    s->locking = 1;
    s->lock_fail = 0;
    s->calls_out = 0;
    s->lock_stage = 0;
    lock_step(n, s->id);
}

/* A reply to one of our set_lock calls. */
static void on_lock_reply(enode_t *n, g_call_t *k, const char *buf, int i)
{
    en_global_t *g = n->global;
    int yes = 0;
    g_sess_t *s = k->sess ? sess_by_id(g, k->sess) : NULL;

    if (ei_decode_boolean(buf, &i, &yes) < 0)
        yes = 0;
    if (!s || !s->locking) {
        /* The session went or gave up meanwhile: give the lock back. */
        if (yes && k->req.b)
            send_del_lock(n, k->node, &k->req);
        return;
    }
    if (yes)
        nl_add(&s->locked, k->node, 0);
    else
        s->lock_fail = 1;
    s->calls_out--;
    lock_step(n, s->id);
}

/* ---- exchange and resolve ----------------------------------------------- */

static void send_resolved(enode_t *n, uint64_t sid);
static void finish(enode_t *n, uint64_t sid);

/* exchange_names :2837, one name: decide, or ask the node of our process
 * to run the resolution method. */
static void resolve_one(enode_t *n, g_sess_t *s, const char *name,
                        int name_len, const erlang_pid *pid,
                        const char *method, int method_len)
{
    en_global_t *g = n->global;
    g_name_t *e = name_find(g, name, name_len);

    if (!e) {
        ops_add(&s->ops, 0, name, name_len, pid, method, method_len);
        return;
    }
    if (en_pid_eq(&e->pid, pid))
        return;
    if (strcmp(n->name, s->node) > 0)
        return; /* the other node resolves the clash */
    if (en_is_local_node(n, e->pid.node)) {
        /* The method is an Erlang fun; we cannot run it: his wins, as
         * when the resolving rpc fails. */
        en_log(n, ENODE_LOG_INFO,
               "global: a name clash with %s over a process of ours; "
               "the other node's registration wins", s->node);
        ops_add(&s->ops, 0, name, name_len, pid, method, method_len);
        return;
    }
    /* rpc:call(node(Pid2), global, resolve_it, [Method2, Name, Pid, Pid2]) */
    g_call_t *k = call_new(n, G_CALL_RESOLVE, s->id, e->pid.node);
    if (!k || gt_set(&k->name, name, name_len) < 0 ||
        gt_set(&k->his_method, method, method_len) < 0 ||
        gt_set(&k->my_method, e->method.b, e->method.len) < 0) {
        if (k) {
            call_unlink(g, k);
            call_free(k);
        }
        ops_add(&s->ops, 0, name, name_len, pid, method, method_len);
        return;
    }
    k->his_pid = *pid;
    k->my_pid = e->pid;
    ei_x_buff x;
    if (call_begin(&x, g, &k->tag) < 0) {
        call_unlink(g, k);
        call_free(k);
        ops_add(&s->ops, 0, name, name_len, pid, method, method_len);
        return;
    }
    if (ei_x_encode_tuple_header(&x, 5) == 0 && put_atom(&x, "call") == 0 &&
        put_atom(&x, "global") == 0 && put_atom(&x, "resolve_it") == 0 &&
        ei_x_encode_list_header(&x, 4) == 0 && put_term(&x, &k->my_method) == 0 &&
        put_term(&x, &k->name) == 0 && ei_x_encode_pid(&x, &k->his_pid) == 0 &&
        ei_x_encode_pid(&x, &k->my_pid) == 0 && ei_x_encode_empty_list(&x) == 0 &&
        put_atom(&x, "user") == 0) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", k->node);
        en_log(n, ENODE_LOG_DEBUG,
               "global: a name clash with %s; %s runs the method", s->node,
               node);
        s->rpcs_out++;
        en_reg_send_locked(n, &g->pid, node, "rex", x.buff, (size_t)x.index);
    }
    ei_x_free(&x);
}

/* Both sides are locked and his names are here: compare them with ours. */
static void resolve(enode_t *n, uint64_t sid)
{
    en_global_t *g = n->global;
    g_sess_t *s = sess_by_id(g, sid);
    if (!s || s->resolving || !s->lock_set || !s->got_exchange)
        return;
    s->resolving = 1;
    purge_local_names(n);

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
            if (ei_decode_tuple_header(names.b, &i, &arity) < 0 ||
                arity != 3 || span(names.b, &i, &name, &name_len) < 0 ||
                ei_decode_pid(names.b, &i, &pid) < 0 ||
                span(names.b, &i, &method, &method_len) < 0)
                break;
            if (!(s = sess_by_id(g, sid)))
                break;
            resolve_one(n, s, name, name_len, &pid, method, method_len);
        }
    }
    gt_free(&names);
    if ((s = sess_by_id(g, sid)) && s->rpcs_out == 0)
        send_resolved(n, sid);
}

/* The answer of global:resolve_it/4 on the node of our process (res is
 * NULL if that node went): exchange_names :2846. */
static void on_resolve_reply(enode_t *n, g_call_t *k, const char *res,
                             int res_len)
{
    g_sess_t *s = k->sess ? sess_by_id(n->global, k->sess) : NULL;
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
    en_log(n, ENODE_LOG_DEBUG, "global: clash resolved: %s",
           his ? "theirs" : mine ? "ours" : "neither");
    if (his) {
        ops_add(&s->ops, 0, k->name.b, k->name.len, &k->his_pid,
                k->his_method.b, k->his_method.len);
    } else if (mine) {
        ops_add(&s->res, 0, k->name.b, k->name.len, &k->my_pid,
                k->my_method.b, k->my_method.len);
    } else {
        ops_add(&s->ops, 1, k->name.b, k->name.len, NULL, NULL, 0);
        ops_add(&s->res, 1, k->name.b, k->name.len, NULL, NULL, 0);
    }
    if (s->rpcs_out == 0 && s->resolving)
        send_resolved(n, s->id);
}

static int put_op(ei_x_buff *x, const g_op_t *op)
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
        rc |= put_op(x, &o->v[k]);
    return rc | ei_x_encode_empty_list(x);
}

static int put_names_ext(ei_x_buff *x, const en_global_t *g)
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
static void send_resolved(enode_t *n, uint64_t sid)
{
    en_global_t *g = n->global;
    g_sess_t *s = sess_by_id(g, sid);
    ei_x_buff x;

    if (!s || s->resolved_sent)
        return;
    s->resolved_sent = 1;
    if (cast_begin(&x) < 0)
        return;
    if ((ei_x_encode_tuple_header(&x, 7) | put_atom(&x, "resolved") |
         put_atom(&x, n->name) | put_ops(&x, &s->res) |
         put_known(&x, g, s->prot_vsn >= G_PGPV_VSN) | put_atom(&x, "unused") |
         put_names_ext(&x, g) | put_term(&x, &s->his_tag)) == 0) {
        char node[EN_HS_NAME_MAX];
        snprintf(node, sizeof node, "%s", s->node);
        send_gns(n, node, &x, 0);
    }
    ei_x_free(&x);
    if ((s = sess_by_id(g, sid)) && s->got_resolved)
        finish(n, sid);
}

/* {exchange, Node, NameList, _NameExtList, MyTag} */
static void on_exchange(en_conn_t *c, const char *buf, int i)
{
    enode_t *n = c->node;
    char node[MAXATOMLEN_UTF8];
    const char *names, *tag;
    int names_len, tag_len, ok;

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &names, &names_len) < 0 ||
        ei_skip_term(buf, &i) < 0 || span(buf, &i, &tag, &tag_len) < 0)
        return;
    g_sess_t *s = sess_by_node(n->global, node);
    long long v = tag_value(tag, tag_len, &ok);
    if (!s || !ok || v != s->my_tag || s->got_exchange)
        return; /* an old session's: dropped, as global.erl does */
    if (gt_set(&s->his_names, names, names_len) < 0)
        return;
    s->got_exchange = 1;
    resolve(n, s->id);
}

/* {resolved, Node, HisResolved, HisKnown, _Unused, NamesExt, MyTag} */
static void on_resolved(en_conn_t *c, const char *buf, int i)
{
    enode_t *n = c->node;
    char node[MAXATOMLEN_UTF8];
    const char *res, *known, *ext, *tag;
    int res_len, known_len, ext_len, tag_len, ok;

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &res, &res_len) < 0 ||
        span(buf, &i, &known, &known_len) < 0 || ei_skip_term(buf, &i) < 0 ||
        span(buf, &i, &ext, &ext_len) < 0 || span(buf, &i, &tag, &tag_len) < 0)
        return;
    g_sess_t *s = sess_by_node(n->global, node);
    long long v = tag_value(tag, tag_len, &ok);
    if (!s || !ok || v != s->my_tag || s->got_resolved)
        return;
    if (gt_set(&s->his_resolved, res, res_len) < 0 ||
        gt_set(&s->his_known, known, known_len) < 0 ||
        gt_set(&s->his_ext, ext, ext_len) < 0)
        return;
    s->got_resolved = 1;
    if (s->resolved_sent)
        finish(n, s->id);
}

/* ---- applying ops, new_nodes, in_sync ----------------------------------- */

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
static void do_ops_term(enode_t *n, const char *ops, int ops_len,
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
            name_delete(n, name, name_len);
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
        name_insert(n, name, name_len, &pid, method, method_len,
                    is_ext ? reg_node : NULL, NULL, req, req_len);
    }
}

static void do_ops_list(enode_t *n, const g_ops_t *o, const gterm_t *ext,
                        const char *req, int req_len)
{
    for (size_t k = 0; k < o->n; k++) {
        const g_op_t *op = &o->v[k];
        char reg_node[MAXATOMLEN_UTF8];
        if (op->del) {
            name_delete(n, op->name.b, op->name.len);
            continue;
        }
        int is_ext = ext_reg_node(ext, op->name.b, op->name.len, &op->pid,
                                  reg_node);
        name_insert(n, op->name.b, op->name.len, &op->pid, op->method.b,
                    op->method.len, is_ext ? reg_node : NULL, NULL, req,
                    req_len);
    }
}

/* [Node | {Node, Vsn}] into a node list with versions (0 if unknown). */
static int parse_node_list(enode_t *n, const char *buf, int len,
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
                get_atom(buf, &i, node) < 0 || ei_decode_long(buf, &i, &vsn) < 0)
                return -1;
        }
        if (!en_is_local_node(n, node) && nl_add(out, node, vsn) < 0)
            return -1;
    }
    return 0;
}

/* sync_other :2208 to each node: connect and say we are in sync. */
static void sync_others(enode_t *n, const g_node_t *nodes)
{
    size_t k;
    char(*v)[EN_HS_NAME_MAX] = nl_copy(nodes, &k);
    for (size_t j = 0; v && j < k; j++) {
        ei_x_buff x;
        if (cast_begin(&x) < 0)
            break;
        if (ei_x_encode_tuple_header(&x, 3) == 0 && put_atom(&x, "in_sync") == 0 &&
            put_atom(&x, n->name) == 0 && ei_x_encode_boolean(&x, 1) == 0)
            send_gns(n, v[j], &x, 0);
        ei_x_free(&x);
    }
    free(v);
}

/* add_to_known :3148: the nodes of list not known yet, added. */
static void add_to_known(en_global_t *g, const g_node_t *list,
                         g_node_t **added)
{
    for (const g_node_t *e = list; e; e = e->next)
        if (nl_add(&g->known, e->node, e->vsn) == 1 && added)
            nl_add(added, e->node, e->vsn);
}

/* {new_nodes, Me, Ops, NamesExt, NewNodes, [{vsn, V}, {lock, {global,
 * Req}}]} for a node that knows versions (withvsn) or not. */
static int put_new_nodes(ei_x_buff *x, enode_t *n, const g_ops_t *ops,
                         const gterm_t *his_res, const gterm_t *ext,
                         const g_node_t *new_nodes, int withvsn, long prot,
                         const gterm_t *req)
{
    int rc, hi = 0, hcount = 0;
    if (!his_res->b || ei_decode_list_header(his_res->b, &hi, &hcount) < 0)
        hcount = 0;
    rc = ei_x_encode_tuple_header(x, 6) | put_atom(x, "new_nodes") |
         put_atom(x, n->name);
    /* Ops = ours ++ his resolved */
    if (ops->n + (size_t)hcount)
        rc |= ei_x_encode_list_header(x, (long)(ops->n + (size_t)hcount));
    for (size_t o = 0; o < ops->n && rc == 0; o++)
        rc |= put_op(x, &ops->v[o]);
    for (int o = 0; o < hcount && rc == 0; o++) {
        int at = hi;
        if (ei_skip_term(his_res->b, &hi) < 0)
            return -1;
        rc |= ei_x_append_buf(x, his_res->b + at, hi - at);
    }
    rc |= ei_x_encode_empty_list(x);
    rc |= ext->b ? put_term(x, ext) : ei_x_encode_empty_list(x);
    size_t nn = nl_len(new_nodes);
    if (nn)
        rc |= ei_x_encode_list_header(x, (long)nn);
    for (const g_node_t *e = new_nodes; e && rc == 0; e = e->next)
        rc |= withvsn ? (ei_x_encode_tuple_header(x, 2) | put_atom(x, e->node) |
                         ei_x_encode_long(x, e->vsn))
                      : put_atom(x, e->node);
    rc |= ei_x_encode_empty_list(x);
    rc |= ei_x_encode_list_header(x, 2) | ei_x_encode_tuple_header(x, 2) |
          put_atom(x, "vsn") | ei_x_encode_long(x, prot) |
          ei_x_encode_tuple_header(x, 2) | put_atom(x, "lock") |
          ei_x_encode_tuple_header(x, 2) | put_atom(x, "global");
    rc |= req->b ? put_term(x, req) : ei_x_encode_empty_list(x);
    return rc | ei_x_encode_empty_list(x);
}

/* resolved() :1928: both sides have resolved; merge the partitions. */
static void finish(enode_t *n, uint64_t sid)
{
    en_global_t *g = n->global;
    g_sess_t *s = sess_by_id(g, sid);
    g_node_t *his_known = NULL, *new_nodes = NULL;
    gterm_t req = {0}, his_res = {0}, ext = {0};
    g_ops_t ops = {0};
    char node[EN_HS_NAME_MAX];

    if (!s)
        return;
    /* Take what we need out of s: sending may end it. s keeps its lock
     * id until the locks go. */
    snprintf(node, sizeof node, "%s", s->node);
    long vsn = s->his_vsn, prot = s->prot_vsn;
    if (s->req.b && gt_set(&req, s->req.b, s->req.len) < 0)
        return;
    his_res = s->his_resolved;
    ext = s->his_ext;
    ops = s->ops;
    memset(&s->his_resolved, 0, sizeof s->his_resolved);
    memset(&s->his_ext, 0, sizeof s->his_ext);
    memset(&s->ops, 0, sizeof s->ops);
    parse_node_list(n, s->his_known.b, s->his_known.len, &his_known);

    nl_add(&new_nodes, node, vsn);
    for (g_node_t *e = his_known; e; e = e->next) {
        g_node_t *kn = nl_find(g->known, e->node);
        nl_add(&new_nodes, e->node, e->vsn ? e->vsn : kn ? kn->vsn : 0);
    }

    sync_others(n, his_known);
    do_ops_list(n, &ops, &ext, req.b, req.len);
    do_ops_term(n, his_res.b, his_res.len, &ext, req.b, req.len);
    nl_add(&g->synced, node, 0);
    for (g_node_t *e = his_known; e; e = e->next) /* cancel_resolved_locker */
        sess_cancel(n, e->node);

    /* new_nodes to the nodes we knew, before the lock goes. */
    size_t k;
    char(*v)[EN_HS_NAME_MAX] = nl_copy(g->known, &k);
    for (size_t j = 0; v && j < k; j++) {
        g_node_t *kn = nl_find(g->known, v[j]);
        ei_x_buff x;
        if (cast_begin(&x) < 0)
            break;
        if (put_new_nodes(&x, n, &ops, &his_res, &ext, new_nodes,
                          kn && kn->vsn >= G_PGPV_VSN, prot, &req) == 0)
            send_gns(n, v[j], &x, 0);
        ei_x_free(&x);
    }
    free(v);

    /* The lock goes, and with it the session. */
    if ((s = sess_by_id(g, sid))) {
        sess_unlock(n, s);
        if ((s = sess_by_id(g, sid))) {
            sess_unlink(g, s);
            sess_free(s);
        }
    }
    add_to_known(g, new_nodes, NULL);
    en_log(n, ENODE_LOG_INFO, "global: in sync with %s (%zu known nodes)",
           node, nl_len(g->known));
    nl_free(&his_known);
    nl_free(&new_nodes);
    gt_free(&req);
    gt_free(&his_res);
    gt_free(&ext);
    ops_clear(&ops);
}

/* {new_nodes, Node, Ops, NamesExt, Nodes, ExtraInfo} :2000 */
static void on_new_nodes(en_conn_t *c, const char *buf, int i)
{
    enode_t *n = c->node;
    en_global_t *g = n->global;
    char node[MAXATOMLEN_UTF8];
    const char *ops, *ext, *nodes, *extra;
    int ops_len, ext_len, nodes_len, extra_len;
    g_node_t *list = NULL, *added = NULL;
    gterm_t ext_t = {0};

    if (get_atom(buf, &i, node) < 0 || span(buf, &i, &ops, &ops_len) < 0 ||
        span(buf, &i, &ext, &ext_len) < 0 ||
        span(buf, &i, &nodes, &nodes_len) < 0 ||
        span(buf, &i, &extra, &extra_len) < 0 ||
        parse_node_list(n, nodes, nodes_len, &list) < 0) {
        nl_free(&list);
        en_log(n, ENODE_LOG_DEBUG, "global: malformed new_nodes from %s",
               c->peer);
        return;
    }
    /* ExtraInfo = [{vsn, V}, {lock, {global, ReqId}}] */
    const char *req = NULL;
    int req_len = 0, count, k = 0;
    if (ei_decode_list_header(extra, &k, &count) == 0) {
        for (int e = 0; e < count; e++) {
            int arity, at;
            if (ei_decode_tuple_header(extra, &k, &arity) < 0 || arity != 2)
                break;
            at = k;
            if (is_atom(extra, &k, "lock") &&
                ei_decode_tuple_header(extra, &k, &arity) == 0 && arity == 2 &&
                ei_skip_term(extra, &k) == 0 && span(extra, &k, &req, &req_len) == 0)
                break;
            k = at;
            if (ei_skip_term(extra, &k) < 0 || ei_skip_term(extra, &k) < 0)
                break;
        }
    }
    if (gt_set(&ext_t, ext, ext_len) < 0) {
        nl_free(&list);
        return;
    }
    add_to_known(g, list, &added);
    sync_others(n, added);
    do_ops_term(n, ops, ops_len, &ext_t, req, req_len);
    en_log(n, ENODE_LOG_DEBUG, "global: %s told us of %zu new nodes", node,
           nl_len(added));
    gt_free(&ext_t);
    nl_free(&list);
    nl_free(&added);
}

/* {in_sync, Node, IsKnown} :1313 */
static void on_in_sync(en_conn_t *c, const char *buf, int i)
{
    enode_t *n = c->node;
    char node[MAXATOMLEN_UTF8];
    if (get_atom(buf, &i, node) < 0 || en_is_local_node(n, node))
        return;
    nl_add(&n->global->synced, node, 0);
    sess_cancel(n, node);
    en_log(n, ENODE_LOG_DEBUG, "global: in sync with %s", node);
}

/* ---- prevent overlapping partitions -------------------------------------- */

/* {lost_connection, NodeA, XCreationA, OpIdA, NodeB} :1466 */
static void on_lost_connection(en_conn_t *c, const char *buf, int len)
{
    enode_t *n = c->node;
    en_global_t *g = n->global;
    char a[MAXATOMLEN_UTF8], b[MAXATOMLEN_UTF8];
    long long xcre, opid;
    int i = 0, arity;

    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 5 ||
        ei_skip_term(buf, &i) < 0 || get_atom(buf, &i, a) < 0 ||
        ei_decode_longlong(buf, &i, &xcre) < 0 ||
        ei_decode_longlong(buf, &i, &opid) < 0 || get_atom(buf, &i, b) < 0)
        return;
    uint64_t now = en_now_ms();
    g_lost_t *rec = NULL;
    size_t count = 0;
    for (g_lost_t **pp = &g->lost; *pp;) {
        g_lost_t *r = *pp;
        if (now - r->at > G_LOST_TTL_MS || count >= G_LOST_MAX) {
            *pp = r->next;
            free(r);
            continue;
        }
        if (strcmp(r->a, a) == 0 && strcmp(r->b, b) == 0)
            rec = r;
        count++;
        pp = &r->next;
    }
    if (rec && rec->xcre == xcre && opid <= rec->opid)
        return; /* handled already */
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

    /* Pass it on to every node that speaks this, but NodeA. */
    size_t k;
    char(*v)[EN_HS_NAME_MAX] = NULL;
    g_node_t *targets = NULL;
    for (g_node_t *e = g->known; e; e = e->next)
        if (e->vsn >= G_POP_VSN && strcmp(e->node, a) != 0)
            nl_add(&targets, e->node, e->vsn);
    for (g_sess_t *s = g->sessions; s; s = s->next)
        if (s->pending && s->his_vsn >= G_POP_VSN && strcmp(s->node, a) != 0)
            nl_add(&targets, s->node, s->his_vsn);
    v = nl_copy(targets, &k);
    nl_free(&targets);
    for (size_t j = 0; v && j < k; j++) {
        ei_x_buff x;
        if (ei_x_new_with_version(&x) < 0)
            break;
        if (ei_x_append_buf(&x, buf, len) == 0)
            send_gns(n, v[j], &x, 1);
        ei_x_free(&x);
    }
    free(v);

    const char *rm = en_is_local_node(n, b) ? a : b;
    if (!potentially_known(g, rm))
        return;
    ei_x_buff x;
    if (ei_x_new_with_version(&x) == 0) {
        if (ei_x_encode_tuple_header(&x, 2) == 0 &&
            put_atom(&x, "remove_connection") == 0 && put_atom(&x, n->name) == 0)
            send_gns(n, rm, &x, 1);
        ei_x_free(&x);
    }
    en_log(n, ENODE_LOG_WARNING,
           "global: %s lost its connection to %s: we leave %s, to prevent "
           "overlapping partitions", a, b, rm);
    char rm_node[EN_HS_NAME_MAX];
    snprintf(rm_node, sizeof rm_node, "%s", rm);
    forget_node(n, rm_node);
}

/* {remove_connection, Node} :1552: Node forgot us; disconnect from it. */
static void on_remove_connection(en_conn_t *c, const char *buf, int i)
{
    enode_t *n = c->node;
    char node[MAXATOMLEN_UTF8];
    if (get_atom(buf, &i, node) < 0 || !potentially_known(n->global, node))
        return;
    forget_node(n, node);
    en_log(n, ENODE_LOG_WARNING,
           "global: disconnecting from %s, which asked us to, to prevent "
           "overlapping partitions", node);
    en_conn_t *rc = en_conn_find(n, node);
    if (rc)
        en_conn_fail(rc, ENODE_ECLOSED,
                     "global: removed to prevent overlapping partitions");
}

/* ---- calls to global_name_server ---------------------------------------- */

static void on_call(en_conn_t *c, const erlang_pid *caller, const char *tag,
                    int tag_len, const char *buf, int i)
{
    enode_t *n = c->node;
    en_global_t *g = n->global;
    char what[MAXATOMLEN_UTF8];
    int arity = 0, at = i;

    if (get_atom(buf, &i, what) == 0) {
        ei_x_buff r;
        if (ei_x_new(&r) < 0)
            return;
        int rc = -1;
        if (strcmp(what, "get_known") == 0)
            rc = put_known(&r, g, 0);
        else if (strcmp(what, "get_synced") == 0) {
            size_t k = nl_len(g->synced);
            rc = 0;
            if (k)
                rc |= ei_x_encode_list_header(&r, (long)k);
            for (g_node_t *e = g->synced; e && rc == 0; e = e->next)
                rc |= put_atom(&r, e->node);
            rc |= ei_x_encode_empty_list(&r);
        } else if (strcmp(what, "get_protocol_version") == 0)
            rc = ei_x_encode_long(&r, G_VSN);
        else if (strcmp(what, "get_names_ext") == 0)
            rc = put_names_ext(&r, g);
        if (rc == 0)
            reply_call(n, caller, tag, tag_len, &r);
        else
            en_log(n, ENODE_LOG_INFO,
                   "global: call %s from %s not served", what, c->peer);
        ei_x_free(&r);
        return;
    }
    i = at;
    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity < 2 ||
        get_atom(buf, &i, what) < 0)
        goto bad;
    if (strcmp(what, "register") == 0 || strcmp(what, "register_ext") == 0) {
        /* {register, Name, Pid, Method} | {register_ext, ..., RegNode} */
        const char *name, *method;
        int name_len, method_len;
        erlang_pid pid;
        char reg_node[MAXATOMLEN_UTF8];
        int ext = what[8] == '_';
        if (arity != (ext ? 5 : 4) || span(buf, &i, &name, &name_len) < 0 ||
            ei_decode_pid(buf, &i, &pid) < 0 ||
            span(buf, &i, &method, &method_len) < 0 ||
            (ext && get_atom(buf, &i, reg_node) < 0))
            goto bad;
        name_insert(n, name, name_len, &pid, method, method_len,
                    ext ? reg_node : NULL, caller, NULL, 0);
        reply_atom(n, caller, tag, tag_len, "yes");
    } else if (strcmp(what, "unregister") == 0 && arity == 2) {
        const char *name;
        int name_len;
        if (span(buf, &i, &name, &name_len) < 0)
            goto bad;
        name_delete(n, name, name_len);
        reply_atom(n, caller, tag, tag_len, "ok");
    } else if ((strcmp(what, "set_lock") == 0 || strcmp(what, "del_lock") == 0) &&
               arity == 2) {
        /* {set_lock, {ResourceId, LockRequesterId}} */
        const char *res, *req;
        int res_len, req_len;
        if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 2 ||
            span(buf, &i, &res, &res_len) < 0 || span(buf, &i, &req, &req_len) < 0)
            goto bad;
        if (what[0] == 's') {
            int got = lock_set(n, res, res_len, req, req_len, caller);
            reply_atom(n, caller, tag, tag_len, got == 1 ? "true" : "false");
        } else {
            lock_del(n, res, res_len, req, req_len, caller);
            reply_atom(n, caller, tag, tag_len, "true");
        }
    } else if (strcmp(what, "sync") == 0 && arity == 2) {
        /* Another node's global:sync([.., us, ..]) through us: we keep no
         * syncers; we are as synced as we will get. */
        reply_atom(n, caller, tag, tag_len, "ok");
    } else {
        en_log(n, ENODE_LOG_INFO, "global: call {%s, ...} from %s not served",
               what, c->peer);
    }
    return;
bad:
    en_log(n, ENODE_LOG_DEBUG, "global: malformed call from %s", c->peer);
}

/* ---- deferred events and the entry points --------------------------------- */

static void node_down_now(enode_t *n, const char *node)
{
    en_global_t *g = n->global;
    /* Calls to that node end: lock calls as a bad node of multi_call,
     * rpcs as {badrpc, nodedown}. */
    for (;;) {
        g_call_t *k;
        for (k = g->calls; k; k = k->next)
            if (strcmp(k->node, node) == 0)
                break;
        if (!k)
            break;
        call_unlink(g, k);
        if (k->kind == G_CALL_LOCK) {
            g_sess_t *s = k->sess ? sess_by_id(g, k->sess) : NULL;
            if (s && s->locking) {
                s->calls_out--;
                lock_step(n, s->id);
            }
        } else {
            on_resolve_reply(n, k, NULL, 0);
        }
        call_free(k);
    }
    forget_node(n, node);
    node_resources_gone(n, node);
}

static void enter(en_global_t *g)
{
    g->depth++;
}

static void leave(enode_t *n)
{
    en_global_t *g = n->global;
    while (g->depth == 1 && g->events) {
        g_event_t *e = g->events;
        g->events = e->next;
        if (!g->events)
            g->events_tail = &g->events;
        if (e->up)
            sess_start(n, e->node);
        else
            node_down_now(n, e->node);
        free(e);
    }
    g->depth--;
}

static void queue_event(enode_t *n, int up, const char *node)
{
    en_global_t *g = g_get(n);
    if (!g)
        return;
    g_event_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->up = up;
    snprintf(e->node, sizeof e->node, "%s", node);
    *g->events_tail = e;
    g->events_tail = &e->next;
    if (g->depth == 0) {
        enter(g);
        leave(n);
    }
}

void en_global_node_up(enode_t *n, const char *peer)
{
    queue_event(n, 1, peer);
}

void en_global_node_down(enode_t *n, const char *peer)
{
    if (n->global)
        queue_event(n, 0, peer);
}

static void dispatch_cast(en_conn_t *c, const char *buf, int i)
{
    char what[MAXATOMLEN_UTF8];
    int arity;

    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity < 2 ||
        get_atom(buf, &i, what) < 0)
        goto bad;
    if (strcmp(what, "init_connect") == 0 && arity == 4)
        on_init_connect(c, buf, i);
    else if (strcmp(what, "lock_set") == 0 && (arity == 4 || arity == 5))
        on_lock_set(c, buf, i, arity);
    else if (strcmp(what, "exchange") == 0 && arity == 5)
        on_exchange(c, buf, i);
    else if (strcmp(what, "resolved") == 0 && arity == 7)
        on_resolved(c, buf, i);
    else if (strcmp(what, "new_nodes") == 0 && arity == 6)
        on_new_nodes(c, buf, i);
    else if (strcmp(what, "in_sync") == 0 && arity == 3)
        on_in_sync(c, buf, i);
    else if (strcmp(what, "async_del_name") == 0 ||
             strcmp(what, "async_del_lock") == 0)
        ; /* pre-R14 messages; DOWN signals do this */
    else
        goto bad;
    return;
bad:
    en_log(c->node, ENODE_LOG_DEBUG,
           "global: a cast from %s that enode does not serve; dropped",
           c->peer);
}

void en_global_handle(en_conn_t *c, const char *msg, size_t len)
{
    enode_t *n = c->node;
    en_global_t *g = g_get(n);
    char what[MAXATOMLEN_UTF8];
    int i = 0, arity, tag_at, tag_len, req_at;
    erlang_pid caller;

    if (!g || len > (size_t)0x7fffffff)
        return;
    enter(g);
    if (en_parse_gen_call(msg, len, &caller, &tag_at, &tag_len, &req_at) == 0) {
        on_call(c, &caller, msg + tag_at, tag_len, msg, req_at);
    } else if (ei_decode_tuple_header(msg, &i, &arity) == 0 && arity >= 2 &&
               get_atom(msg, &i, what) == 0) {
        if (strcmp(what, "$gen_cast") == 0 && arity == 2)
            dispatch_cast(c, msg, i);
        else if (strcmp(what, "init_connect_ack") == 0 && arity == 4)
            on_init_connect_ack(c, msg, i);
        else if (strcmp(what, "cancel_connect") == 0 && arity == 3)
            on_cancel_connect(c, msg, i);
        else if (strcmp(what, "lost_connection") == 0 && arity == 5)
            on_lost_connection(c, msg, (int)len);
        else if (strcmp(what, "remove_connection") == 0 && arity == 2)
            on_remove_connection(c, msg, i);
        else
            en_log(n, ENODE_LOG_DEBUG,
                   "global: a message {%s, ...} from %s; dropped", what,
                   c->peer);
    } else {
        en_log(n, ENODE_LOG_DEBUG, "global: a message from %s; dropped",
               c->peer);
    }
    leave(n);
}

int en_global_is_pid(enode_t *n, const erlang_pid *pid)
{
    return n->global && en_pid_eq(&n->global->pid, pid);
}

int en_global_to_pid(en_conn_t *c, const en_dmsg_t *m)
{
    enode_t *n = c->node;
    en_global_t *g = n->global;
    erlang_ref tag;
    int i = 0, arity;

    if (!g || !en_pid_eq(&g->pid, &m->to_pid))
        return 0;
    /* {Tag, Reply}: the answer to one of our calls */
    if (ei_decode_tuple_header(m->msg, &i, &arity) < 0 || arity != 2 ||
        ei_decode_ref(m->msg, &i, &tag) < 0)
        return 1;
    g_call_t *k;
    for (k = g->calls; k; k = k->next)
        if (en_ref_eq(&k->tag, &tag))
            break;
    if (!k)
        return 1;
    enter(g);
    call_unlink(g, k);
    if (k->kind == G_CALL_LOCK) {
        on_lock_reply(n, k, m->msg, i);
    } else {
        int at = i;
        if (ei_skip_term(m->msg, &i) == 0)
            on_resolve_reply(n, k, m->msg + at, i - at);
    }
    call_free(k);
    leave(n);
    return 1;
}

int en_global_monitor_exit(enode_t *n, const erlang_pid *to,
                           const erlang_ref *ref)
{
    en_global_t *g = n->global;
    if (!g || !en_pid_eq(&g->pid, to))
        return 0;
    enter(g);
    for (g_watch_t **pp = &g->watches; *pp; pp = &(*pp)->next) {
        g_watch_t *w = *pp;
        if (!en_ref_eq(&w->ref, ref))
            continue;
        *pp = w->next;
        erlang_pid pid = w->pid;
        free(w);
        pid_gone(n, &pid);
        break;
    }
    leave(n);
    return 1;
}

void en_global_free(enode_t *n)
{
    en_global_t *g = n->global;
    if (!g)
        return;
    while (g->events) {
        g_event_t *e = g->events;
        g->events = e->next;
        free(e);
    }
    while (g->sessions) {
        g_sess_t *s = g->sessions;
        g->sessions = s->next;
        sess_free(s);
    }
    while (g->calls) {
        g_call_t *k = g->calls;
        g->calls = k->next;
        call_free(k);
    }
    while (g->names) {
        g_name_t *e = g->names;
        g->names = e->next;
        gt_free(&e->name);
        gt_free(&e->method);
        free(e);
    }
    while (g->locks)
        lock_unlink_free(g, g->locks);
    while (g->watches) {
        g_watch_t *w = g->watches;
        g->watches = w->next;
        free(w);
    }
    while (g->lost) {
        g_lost_t *r = g->lost;
        g->lost = r->next;
        free(r);
    }
    nl_free(&g->known);
    nl_free(&g->synced);
    free(g);
    n->global = NULL;
}

int en_global_whereis(enode_t *n, const char *atom, erlang_pid *pid)
{
    ei_x_buff x;
    int found = 0;

    if (ei_x_new(&x) < 0)
        return 0;
    if (put_atom(&x, atom) == 0) {
        pthread_mutex_lock(&n->lock);
        if (n->global) {
            purge_local_names(n);
            g_name_t *e = name_find(n->global, x.buff, x.index);
            if (e) {
                *pid = e->pid;
                found = 1;
            }
        }
        pthread_mutex_unlock(&n->lock);
    }
    ei_x_free(&x);
    return found;
}

void en_global_stats(enode_t *n, en_global_stats_t *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&n->lock);
    en_global_t *g = n->global;
    if (g) {
        st->known = nl_len(g->known);
        st->synced = nl_len(g->synced);
        for (g_name_t *e = g->names; e; e = e->next)
            st->names++;
        for (g_lock_t *l = g->locks; l; l = l->next)
            st->locks++;
        for (g_sess_t *s = g->sessions; s; s = s->next)
            st->sessions++;
        for (g_watch_t *w = g->watches; w; w = w->next)
            st->watched++;
    }
    pthread_mutex_unlock(&n->lock);
}
