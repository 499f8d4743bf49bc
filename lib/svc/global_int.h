/* global_int.h - what the files of enode's `global` share (private).
 *
 * global.c says what enode does in OTP's global and holds the entry
 * points; the state below is split among
 *   global_data.c       owned terms, node lists, op lists
 *   global_send.c       messages to other global_name_servers, replies,
 *                       and the calls we make
 *   global_table.c      the replica: names, locks, the processes watched
 *   global_session.c    a connect session's life: init_connect, its ack,
 *                       cancel_connect
 *   global_lock.c       locking our partition for a session (lock_set)
 *   global_resolve.c    exchange, resolving clashes, resolved
 *   global_sync.c       merging the partitions: ops, new_nodes, in_sync
 *   global_partition.c  lost_connection, remove_connection
 *   global_calls.c      the calls other nodes make to global_name_server
 *   global_trans.c      the registrar: register_name and unregister_name
 *                       as global.erl's trans_all_known runs them
 *   global_names.c      the entry points of the registrar and the replica
 *                       (global.h): waiting, time limits, listing names
 *   global_method.c     the resolve methods of global.erl, run here for
 *                       the processes of this node
 * Every function expects the node's lock held and g set.
 */
#ifndef ENODE_GLOBAL_INT_H
#define ENODE_GLOBAL_INT_H

#include "proc/proc.h"
#include "svc/global.h"

#include "base/list.h"
#include "proto/dflags.h"
#include "svc/global.h"

#include <stdlib.h>
#include <string.h>

#define G_VSN 8         /* the protocol version OTP 25-29 speak */
#define G_POP_VSN 7     /* lost_connection / remove_connection */
#define G_PGPV_VSN 7    /* known lists carry versions */
#define G_LOST_MAX 1024 /* lost_connection records kept */
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
    int answer; /* in a transaction's list: the node's answer (G_ANS_*) */
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

enum { G_CALL_LOCK, G_CALL_RESOLVE, G_CALL_TRANS };

typedef struct g_call { /* a call we made and wait for */
    struct g_call *next;
    erlang_ref tag;
    int kind;
    uint64_t sess; /* G_CALL_TRANS: the transaction's id */
    char node[EN_HS_NAME_MAX];
    gterm_t req; /* G_CALL_LOCK, and G_CALL_TRANS's set_lock: the
                    LockRequesterId asked for */
    /* G_CALL_RESOLVE: the clash being resolved */
    gterm_t name, his_method, my_method;
    erlang_pid his_pid, my_pid;
} g_call_t;

/* Where our side of a connect session stands, in the order a session
 * goes through the states. The peer's global runs a machine of its own;
 * these are the steps of ours, and where each transition is made:
 *
 *   INIT_SENT    --his init_connect (g_on_init_connect)----> PENDING
 *   PENDING      --his locker's lock_set, once it holds the lock
 *                  {global, [its pid, ours]} on us
 *                  (g_on_lock_set)---------------------------> LOCK_BOSS
 *   LOCK_BOSS    --the boss of our partition said yes, or is us, or
 *                  is not there (g_lock_step)----------------> LOCK_OTHERS
 *   LOCK_BOSS,   --a node said no, or a set_lock call could not be
 *   LOCK_OTHERS    made (g_on_lock_reply, call_set_lock)-----> LOCK_REFUSED
 *   LOCK_OTHERS  --every node answered; our own table locked:
 *                  lock_set true and our exchange sent
 *                  (lock_done)-------------------------------> LOCKED
 *   LOCK_OTHERS, --every node answered, but we cannot lock: the
 *   LOCK_REFUSED   locks go, lock_set false (lock_done); his
 *                  locker tries again later------------------> PENDING
 *   LOCKED       --his exchange is here (g_resolve)----------> RESOLVING
 *   RESOLVING    --no clash waits for a resolving rpc; our
 *                  resolved sent (send_resolved)-------------> RESOLVED
 *   RESOLVED     --his resolved is here (g_finish): the partitions
 *                  merge, the locks go, the session ends.
 *
 * A set_lock call to a node that goes counts as answered, not as a no
 * (multi_call's bad node). His exchange and his resolved are not states
 * of ours: he may send them before we get there, so they are held
 * (his_names, his_resolved) until the state that reads them; see
 * g_sess_got_exchange and g_sess_got_resolved. In any state the session
 * may end at once (g_sess_cancel): cancel_connect or a new init_connect
 * (a restart), nodedown, in_sync, lost_connection, remove_connection, or
 * the end of another session whose peer knew this node. */
enum g_sess_state {
    G_SESS_INIT_SENT,    /* our init_connect sent; his not here yet */
    G_SESS_PENDING,      /* his init_connect acked: {pending, Node} */
    G_SESS_LOCK_BOSS,    /* set_lock out to the boss of our partition */
    G_SESS_LOCK_OTHERS,  /* set_lock out to our other known nodes */
    G_SESS_LOCK_REFUSED, /* a node said no: waiting for the calls out */
    G_SESS_LOCKED,       /* both sides locked, exchange sent */
    G_SESS_RESOLVING,    /* comparing names; rpcs out for clashes */
    G_SESS_RESOLVED      /* our resolved sent; waiting for his */
};

typedef struct g_sess { /* a connect session with one node */
    struct g_sess *next;
    uint64_t id;
    char node[EN_HS_NAME_MAX];
    enum g_sess_state state;
    long long my_tag;
    gterm_t his_tag; /* from PENDING on */
    long his_vsn, prot_vsn;
    erlang_pid his_locker;
    int calls_out;     /* LOCK_*: set_lock calls not answered yet */
    g_node_t *locked;  /* known nodes we hold the lock on */
    gterm_t req;       /* the lock's LockRequesterId */
    gterm_t his_names; /* his exchange, held until we resolve */
    int rpcs_out;      /* RESOLVING: resolving rpcs not answered yet */
    g_ops_t ops, res;  /* ops for us, ops for him */
    gterm_t his_resolved, his_known, his_ext; /* his resolved, held */
} g_sess_t;

/* A transaction of the registrar: global:register_name/2 or
 * unregister_name/1 as global.erl runs them (trans_all_known :923 with
 * the Fun of register_name :111 or unregister_name :156), the registrar
 * being a process of ours whose pid is the LockRequesterId. Each step
 * asks a list of nodes at once (gen_server:multi_call to their
 * global_name_servers; this node's own table is asked directly) and goes
 * on once every node has answered or gone. The states, in order:
 *
 *   QUEUED      --the transaction ahead of it is done-------> LOCK_BOSS
 *   LOCK_BOSS   --set_lock {global, Registrar} on the boss of
 *                 [us | known]: yes, or it went----------------> LOCK_ALL
 *               --no----------------------------------------> SLEEP
 *   LOCK_ALL    --set_lock on all of [us | known]: yes or gone
 *                 everywhere, and known has not grown----------> APPLY
 *               --a no, or a node became known---------------> BACK_OFF
 *   BACK_OFF    --the nodes that said yes let go (del_lock)----> SLEEP
 *   SLEEP       --random_sleep(Times) is over (the waiting
 *                 caller sees to it)--------------------------> LOCK_BOSS
 *   APPLY       --{register, Name, Pid, Method} or {unregister,
 *                 Name} answered by every node, or at once when
 *                 the name is taken (register_name says no)----> UNLOCK
 *   UNLOCK      --del_lock answered by all but the boss--------> UNLOCK_BOSS
 *   UNLOCK_BOSS --del_lock answered by the boss----------------> DONE
 *
 * One transaction runs at a time, as global.erl's registrar runs one Fun
 * at a time: they share the lock id. A caller that stops waiting
 * (g_trans_abandon) takes its transaction out in any state; whatever it
 * set on other nodes is undone without waiting for answers. */
enum g_trans_state {
    G_TRANS_QUEUED,      /* behind another transaction */
    G_TRANS_LOCK_BOSS,   /* set_lock out to the boss */
    G_TRANS_LOCK_ALL,    /* set_lock out to [us | known] */
    G_TRANS_BACK_OFF,    /* refused: del_lock out to who said yes */
    G_TRANS_SLEEP,       /* waiting until wake_at to try again */
    G_TRANS_APPLY,       /* register or unregister calls out */
    G_TRANS_UNLOCK,      /* del_lock out to all but the boss */
    G_TRANS_UNLOCK_BOSS, /* del_lock out to the boss */
    G_TRANS_DONE         /* result is the answer */
};

enum g_trans_kind { G_TRANS_REGISTER, G_TRANS_UNREGISTER };

/* A node's answer in a transaction's step. */
enum { G_ANS_NONE, G_ANS_WAIT, G_ANS_YES, G_ANS_NO, G_ANS_GONE };

typedef struct g_trans {
    struct g_trans *next;
    uint64_t id;
    enum g_trans_kind kind;
    enum g_trans_state state;
    gterm_t name;      /* the name, an atom */
    erlang_pid pid;    /* REGISTER: the process that gets the name */
    int times;         /* lock attempts so far (random_sleep's Times) */
    uint64_t wake_at;  /* SLEEP: when to try again */
    uint64_t deadline; /* when the caller gives up */
    g_node_t *nodes;   /* [us | known] of this attempt, with answers */
    char boss[EN_HS_NAME_MAX];
    int calls_out;     /* calls of the step not answered yet */
    int applied;       /* APPLY's calls went out */
    int result;        /* DONE: 0, or ENODE_EEXIST (register_name's no) */
    char why[160];     /* DONE with a code: why, for enode_last_error */
} g_trans_t;

typedef struct g_event { /* nodeup/nodedown seen inside a handler */
    struct g_event *next;
    int up;
    char node[EN_HS_NAME_MAX];
} g_event_t;

struct en_global {
    en_proc_t *proc;
    en_mbox_t *self; /* global's process, registered global_name_server:
                        our locker, caller and monitor owner */
    int hidden;      /* a hidden node takes no part */
    int off;         /* -connect_all false: no connect sessions */
    en_mbox_t *registrar; /* runs our transactions (global_trans.c): its
                             pid is their LockRequesterId and caller */
    g_trans_t *trans;     /* in order: the first not DONE runs */
    uint64_t next_trans;
    uint64_t rand;        /* random_sleep's generator */
    int timeout_ms;       /* how long the entry points wait */
    en_node_watch_t watch;
    int depth; /* handlers under way */
    g_event_t *events, **events_tail;
    uint64_t next_sess;
    long long next_tag;
    int lock_down; /* global.erl's global_lock_down */
    g_node_t *known, *synced;
    g_sess_t *sessions;
    g_name_t *names;
    g_lock_t *locks;
    g_watch_t *watches;
    g_call_t *calls;
    g_lost_t *lost;
};

/* Global's own pid. */
static inline const erlang_pid *g_self(const en_global_t *g)
{
    return en_mbox_self(g->self);
}

/* The registrar's pid. */
static inline const erlang_pid *g_registrar(const en_global_t *g)
{
    return en_mbox_self(g->registrar);
}

/* A handler (or an entry point) begins and ends: nodeup and nodedown
 * that arrive meanwhile wait until the outermost one ends (global.c). */
void g_enter(en_global_t *g);
void g_leave(en_global_t *g);

/* ---- decoding and encoding ------------------------------------------------ */

static inline int gt_eq(const gterm_t *a, const char *b, int len)
{
    return a->b && a->len == len && memcmp(a->b, b, (size_t)len) == 0;
}

/* The term at buf[*i] (within a term that passed en_term_size): where it
 * starts and how long it is; *i moves past it. */
static inline int span(const char *buf, int *i, const char **start, int *len)
{
    int s = *i;
    if (ei_skip_term(buf, i) < 0)
        return -1;
    *start = buf + s;
    *len = *i - s;
    return 0;
}

static inline int get_atom(const char *buf, int *i, char *out)
{
    return ei_decode_atom_as(buf, i, out, MAXATOMLEN_UTF8, ERLANG_UTF8, NULL,
                             NULL);
}

static inline int is_atom(const char *buf, int *i, const char *want)
{
    char a[MAXATOMLEN_UTF8];
    return get_atom(buf, i, a) == 0 && strcmp(a, want) == 0;
}

static inline int put_atom(ei_x_buff *x, const char *a)
{
    return ei_x_encode_atom_as(x, a, ERLANG_UTF8, ERLANG_UTF8);
}

static inline int put_term(ei_x_buff *x, const gterm_t *t)
{
    return ei_x_append_buf(x, t->b, t->len);
}

static inline int node_of_pid_is(const erlang_pid *p, const char *node)
{
    return strcmp(p->node, node) == 0;
}

/* ---- global_data.c: owned terms, node lists, op lists ---------------------- */

void gt_free(gterm_t *t);
int gt_set(gterm_t *t, const char *b, int len);

g_node_t *nl_find(g_node_t *l, const char *node);
/* 1 if added, 0 if there already, -1 out of memory. */
int nl_add(g_node_t **l, const char *node, long vsn);
void nl_del(g_node_t **l, const char *node);
void nl_free(g_node_t **l);
size_t nl_len(const g_node_t *l);
/* A copy of list l's names, for loops that send (which may change l). */
char (*nl_copy(const g_node_t *l, size_t *count))[EN_HS_NAME_MAX];

void ops_clear(g_ops_t *o);
int ops_add(g_ops_t *o, int del, const char *name, int name_len,
            const erlang_pid *pid, const char *method, int method_len);

/* ---- global_send.c: sending, replying, our calls --------------------------- */

/* x to {global_name_server, node}; with noconnect, only over a connection
 * that is there already (erlang:send(..., [noconnect])). */
void g_send_gns(en_global_t *g, const char *node, ei_x_buff *x, int noconnect);
/* A new buffer for a cast: 131, {'$gen_cast', ...then the caller's term. */
int g_cast_begin(ei_x_buff *x);
/* [{Node, Vsn}] (withvsn) or [Node] of our known nodes. */
int g_put_known(ei_x_buff *x, const en_global_t *g, int withvsn);
/* {Tag, Reply} to the caller of a gen_server call. */
void g_reply(en_global_t *g, const erlang_pid *caller, const char *tag,
             int tag_len, const ei_x_buff *reply);
void g_reply_atom(en_global_t *g, const erlang_pid *caller, const char *tag,
                  int tag_len, const char *atom);
/* A call of ours, with a new tag, to node for session sess: the record,
 * now in g->calls, or NULL. */
g_call_t *g_call_new(en_global_t *g, int kind, uint64_t sess, const char *node);
/* 131, {'$gen_call', {OurPid, Tag}, ...then the caller's request. */
int g_call_begin(ei_x_buff *x, const en_global_t *g, const erlang_ref *tag);
/* The same from another of our processes (the registrar). */
int g_call_begin_as(ei_x_buff *x, const erlang_pid *from,
                    const erlang_ref *tag);
void g_call_unlink(en_global_t *g, g_call_t *k);
void g_call_free(g_call_t *k);

/* ---- global_table.c: names, locks, watched processes ----------------------- */

/* Monitor pid (on another node) so that its names and locks go when it
 * dies, as global.erl's erlang:monitor does. */
void g_watch(en_global_t *g, const erlang_pid *pid);
g_name_t *g_name_find(en_global_t *g, const char *name, int len);
void g_name_free(g_name_t *e);
void g_name_delete(en_global_t *g, const char *name, int len);
/* ins_name / ins_name_ext: the name now means pid. */
void g_name_insert(en_global_t *g, const char *name, int name_len,
                   const erlang_pid *pid, const char *method, int method_len,
                   const char *reg_node, const erlang_pid *from_pid,
                   const char *req, int req_len);
/* Names of processes that died here: our mailboxes are not monitored. */
void g_purge_local_names(en_global_t *g);
/* The lock on the resource `global`, if set. */
g_lock_t *g_global_lock(en_global_t *g);
void g_lock_unlink_free(en_global_t *g, g_lock_t *lk);
/* handle_set_lock: 1 if pid now holds {res, req}, 0 if another requester
 * holds res, -1 out of memory. */
int g_lock_set(en_global_t *g, const char *res, int res_len, const char *req,
               int req_len, const erlang_pid *pid);
/* pid lets go of lk (handle_del_lock, or a DOWN when down). */
void g_lock_release(en_global_t *g, g_lock_t *lk, const erlang_pid *pid,
                    int down);
void g_lock_del(en_global_t *g, const char *res, int res_len, const char *req,
                int req_len, const erlang_pid *pid);
/* Every name and lock of pid goes (it died). */
void g_pid_gone(en_global_t *g, const erlang_pid *pid);
/* Everything of the processes of node: delete_node_resources, or the
 * DOWN signals a lost node brings. Our monitors there are gone too. */
void g_node_resources_gone(en_global_t *g, const char *node);

/* ---- global_session.c: a session's life ------------------------------------ */

g_sess_t *g_sess_by_node(en_global_t *g, const char *node);
g_sess_t *g_sess_by_id(en_global_t *g, uint64_t id);
void g_sess_free(g_sess_t *s);
/* handle_nodeup: make ourselves known to node, unless it is known. */
void g_sess_start(en_global_t *g, const char *node);
/* cancel_locker without the cancel_connect message: the session goes,
 * with its locks. */
void g_sess_cancel(en_global_t *g, const char *node);
/* handle_nodedown (What = disconnected or remove_connection). */
void g_forget_node(en_global_t *g, const char *node);
/* Known, or his init_connect is here. */
int g_potentially_known(en_global_t *g, const char *node);
/* A session tag (an integer) from its encoding; *ok says if it was one. */
long long g_tag_value(const char *b, int len, int *ok);
void g_on_init_connect(en_global_t *g, const char *peer, const char *buf,
                       int i);
void g_on_init_connect_ack(en_global_t *g, const char *peer, const char *buf,
                           int i);
void g_on_cancel_connect(en_global_t *g, const char *buf, int i);

/* His init_connect is here (global.erl's {pending, Node}). */
static inline int g_sess_pending(const g_sess_t *s)
{
    return s->state != G_SESS_INIT_SENT;
}

/* set_lock calls to our partition are under way, or their answers. */
static inline int g_sess_locking(const g_sess_t *s)
{
    return s->state == G_SESS_LOCK_BOSS || s->state == G_SESS_LOCK_OTHERS ||
           s->state == G_SESS_LOCK_REFUSED;
}

/* His exchange came: held, or read once we resolved. */
static inline int g_sess_got_exchange(const g_sess_t *s)
{
    return s->his_names.b || s->state >= G_SESS_RESOLVING;
}

/* His resolved came (held until g_finish). */
static inline int g_sess_got_resolved(const g_sess_t *s)
{
    return s->his_resolved.b != NULL;
}

/* ---- global_lock.c: locking our partition for a session -------------------- */

/* Let go of everything session s locked: the known nodes, and our own
 * table (delete_global_lock :2721). s and its state stay. */
void g_sess_unlock(en_global_t *g, g_sess_t *s);
/* The next step of locking for session sid, once no call is out. */
void g_lock_step(en_global_t *g, uint64_t sid);
void g_on_lock_set(en_global_t *g, const char *peer, const char *buf, int i,
                   int arity);
/* A reply to one of our set_lock calls (k is out of g->calls). */
void g_on_lock_reply(en_global_t *g, g_call_t *k, const char *buf, int i);

/* ---- global_resolve.c: exchange and resolve -------------------------------- */

void g_send_exchange(en_global_t *g, const g_sess_t *s);
/* Both sides are locked and his names are here: compare them with ours. */
void g_resolve(en_global_t *g, uint64_t sid);
/* The answer of global:resolve_it/4 on the node of our process (res is
 * NULL if that node went); k is out of g->calls. */
void g_on_resolve_reply(en_global_t *g, g_call_t *k, const char *res,
                        int res_len);
int g_put_op(ei_x_buff *x, const g_op_t *op);
int g_put_names_ext(ei_x_buff *x, const en_global_t *g);
void g_on_exchange(en_global_t *g, const char *buf, int i);
void g_on_resolved(en_global_t *g, const char *buf, int i);

/* ---- global_sync.c: merging the partitions --------------------------------- */

/* resolved() :1928: both sides have resolved; merge the partitions. */
void g_finish(en_global_t *g, uint64_t sid);
void g_on_new_nodes(en_global_t *g, const char *peer, const char *buf, int i);
void g_on_in_sync(en_global_t *g, const char *buf, int i);

/* ---- global_partition.c: prevent overlapping partitions -------------------- */

void g_on_lost_connection(en_global_t *g, const char *buf, int len);
void g_on_remove_connection(en_global_t *g, const char *buf, int i);

/* ---- global_calls.c: calls to global_name_server --------------------------- */

void g_on_call(en_global_t *g, const char *peer, const erlang_pid *caller,
               const char *tag, int tag_len, const char *buf, int i);

/* ---- global_trans.c: the registrar's transactions -------------------------- */

/* Start the registrar's process. 0, or a code. */
int g_trans_init(en_global_t *g);
void g_trans_free_all(en_global_t *g);
/* A new transaction, queued (and started if none runs); NULL if out of
 * memory. name is an encoded atom; pid only for REGISTER. */
g_trans_t *g_trans_new(en_global_t *g, enum g_trans_kind kind,
                       const char *name, int name_len, const erlang_pid *pid);
g_trans_t *g_trans_by_id(en_global_t *g, uint64_t id);
/* Time passes: a SLEEP that is over tries again. */
void g_trans_tick(en_global_t *g, g_trans_t *t);
/* The caller takes t out (done or not) and frees it; what t holds on
 * other nodes is undone. The next transaction starts. */
void g_trans_abandon(en_global_t *g, g_trans_t *t);
/* A call of a transaction ended: reply is its answer, or NULL if the
 * node went (k is out of g->calls). */
void g_trans_on_reply(en_global_t *g, g_call_t *k, const char *reply,
                      int reply_len);

/* ---- global_method.c: resolve methods --------------------------------------- */

/* The resolve methods of global.erl this node can run itself. */
enum g_method {
    G_METHOD_UNKNOWN,     /* an Erlang fun of some other kind */
    G_METHOD_EXIT,        /* random_exit_name/3 */
    G_METHOD_NOTIFY,      /* random_notify_name/3 */
    G_METHOD_NOTIFY_ALL   /* notify_all_name/3 */
};
/* The method our own registrations carry: fun global:random_exit_name/3. */
int g_put_default_method(ei_x_buff *x);
enum g_method g_method_of(const char *method, int len);
/* global:resolve_it(Method, Name, Pid1, Pid2) run here: 1 and *won if a
 * pid keeps the name, 0 if none does. */
int g_method_run(en_global_t *g, enum g_method m, const char *name,
                 int name_len, const erlang_pid *pid1, const erlang_pid *pid2,
                 erlang_pid *won);

#endif
