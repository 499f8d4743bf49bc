/* global.c - enode's part in OTP's `global` name server.
 *
 * Every visible OTP node runs global_name_server, and on each nodeup it
 * starts a "connect session" with the new node's global_name_server. A
 * node that never answers (ergo, enode before this file) keeps OTP's
 * session pending forever: global:sync() on the OTP node waits for it
 * without a time limit, and the OTP node's global never learns of it.
 * enode takes part in global as an Erlang node does, and its mailboxes
 * may hold global names.
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
 *     each, from global's own pid) or its node goes. enode_global_whereis()
 *     reads that replica.
 *   - It handles new_nodes, in_sync, cancel_connect, init_connect_ack,
 *     lost_connection (passed on once; we forget the lost node and ask
 *     it to disconnect from us) and remove_connection (we disconnect).
 *   - It registers and unregisters names for its mailboxes as
 *     global:register_name/2 and unregister_name/1 do (global_trans.c):
 *     a registrar process of ours takes the lock {global, Registrar} on
 *     the boss of [us | known] and then on all of them (set_lock calls;
 *     refused: let go, random_sleep, try again), checks that the name is
 *     free and the process has no name, sends {register, Name, Pid, fun
 *     global:random_exit_name/3} or {unregister, Name} to every one, and
 *     lets go of the lock, the boss last. The API waits for it with a
 *     time limit; given up, what was done is undone. Other nodes monitor
 *     the mailbox and drop its name when it exits.
 *   - It runs global's resolve methods (random_exit_name,
 *     random_notify_name, notify_all_name) for a clash over one of its
 *     mailboxes: within its own sessions, and when an OTP node calls
 *     global:resolve_it/4 here through rpc (global_method.c).
 *   - With -connect_all false (or hidden) it takes no part in connect
 *     sessions, as erl's global does then, and registers no names.
 *
 * WHAT ENODE DOES NOT DO
 *
 *   - Run a resolve method that is any other Erlang fun: for a clash
 *     over one of our mailboxes, the other registration wins, as when
 *     the resolving rpc fails.
 *   - global_multi_name_action: a mailbox holds one global name.
 *   - register_name_external, re_register_name, or locks (set_lock,
 *     trans) for C code.
 *   - Originate lost_connection when it loses a node: the OTP nodes that
 *     lost the same node already do, and a C node's report would only make
 *     them drop more connections (global.erl :1032 "take down more
 *     connections than the minimum"). An enode node leaving therefore never
 *     makes OTP nodes disconnect from each other.
 *   - Retry a lock it could not get: it answers lock_set false, and the
 *     peer's locker, which drives the session, tries again later.
 *   - global groups, and the old (< 7) forms of the protocol beyond what
 *     OTP 25-29 send.
 *
 * Everything from the peer is decoded defensively: a message of the wrong
 * shape, or a cast enode does not serve, is logged as a warning and
 * dropped (global.erl warns of an unexpected cast too); a plain message
 * with an unknown tag is dropped with a debug line, as global.erl's
 * handle_info drops it silently. Handlers never keep pointers
 * across a send: sending may dial, a dial may fail at once, and nodedown
 * then arrives re-entrantly; such events are queued and handled when the
 * outermost handler returns.
 *
 * THE FILES
 *
 *   global runs as a service process (proc/proc.h), registered as
 *   global_name_server, and its registrar as a second one with no name.
 *   This file holds the start and end of global (global.h) and the
 *   handler of global_name_server: what other nodes' global servers send, the answers to
 *   the calls global makes and the DOWN messages of the processes it
 *   monitors all come to that one process; nodeup and nodedown come
 *   through a node watch and are queued. The rest is split by concept,
 *   listed in global_int.h; a session's states are documented at enum
 *   g_sess_state there.
 */
#include "svc/global_int.h"

/* ---- deferred events
 * ---------------------------------------------------------- */

static void node_down_now(en_global_t *g, const char *node)
{
    g_call_t *k;
    /* Calls to that node end: lock calls as a bad node of multi_call,
     * rpcs as {badrpc, nodedown}. */
    for (;;) {
        EN_LIST_UNLINK(&g->calls, k, strcmp(k->node, node) == 0);
        if (!k)
            break;
        if (k->kind == G_CALL_LOCK) {
            g_sess_t *s = k->sess ? g_sess_by_id(g, k->sess) : NULL;
            if (s && g_sess_locking(s)) {
                s->calls_out--;
                g_lock_step(g, s->id);
            }
        } else if (k->kind == G_CALL_TRANS) {
            g_trans_on_reply(g, k, NULL, 0);
        } else {
            g_on_resolve_reply(g, k, NULL, 0);
        }
        g_call_free(k);
    }
    g_forget_node(g, node);
    g_node_resources_gone(g, node);
}

void g_enter(en_global_t *g)
{
    g->depth++;
}

void g_leave(en_global_t *g)
{
    while (g->depth == 1 && g->events) {
        g_event_t *e = g->events;
        g->events = e->next;
        if (!g->events)
            g->events_tail = &g->events;
        if (e->up)
            g_sess_start(g, e->node);
        else
            node_down_now(g, e->node);
        free(e);
    }
    g->depth--;
}

static void queue_event(en_global_t *g, int up, const char *node)
{
    g_event_t *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->up = up;
    snprintf(e->node, sizeof e->node, "%s", node);
    *g->events_tail = e;
    g->events_tail = &e->next;
    if (g->depth == 0) {
        g_enter(g);
        g_leave(g);
    }
}

static void on_node_up(void *ud, const char *peer)
{
    queue_event(ud, 1, peer);
}

static void on_node_down(void *ud, const char *peer)
{
    queue_event(ud, 0, peer);
}

/* ---- messages to global_name_server ----------------------------------------- */

static void dispatch_cast(en_global_t *g, const char *peer, const char *buf,
                          int i)
{
    char what[MAXATOMLEN_UTF8];
    int arity;

    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity < 2 ||
        get_atom(buf, &i, what) < 0)
        goto bad;
    if (strcmp(what, "init_connect") == 0 && arity == 4)
        g_on_init_connect(g, peer, buf, i);
    else if (strcmp(what, "lock_set") == 0 && (arity == 4 || arity == 5))
        g_on_lock_set(g, peer, buf, i, arity);
    else if (strcmp(what, "exchange") == 0 && arity == 5)
        g_on_exchange(g, buf, i);
    else if (strcmp(what, "resolved") == 0 && arity == 7)
        g_on_resolved(g, buf, i);
    else if (strcmp(what, "new_nodes") == 0 && arity == 6)
        g_on_new_nodes(g, peer, buf, i);
    else if (strcmp(what, "in_sync") == 0 && arity == 3)
        g_on_in_sync(g, buf, i);
    else if (strcmp(what, "async_del_name") == 0 ||
             strcmp(what, "async_del_lock") == 0)
        ; /* pre-R14 messages; DOWN signals do this */
    else
        goto bad;
    return;
bad:
    en_core_log(g->proc->core, ENODE_LOG_WARNING,
                "global: a cast from %s that enode does not serve; dropped",
                peer);
}

/* A plain message (not a cast or a call): {What, ...}. */
static void dispatch_plain(en_global_t *g, const char *peer, const char *what,
                           int arity, const char *msg, int i, size_t len)
{
    if (strcmp(what, "$gen_cast") == 0 && arity == 2)
        dispatch_cast(g, peer, msg, i);
    else if (strcmp(what, "init_connect_ack") == 0 && arity == 4)
        g_on_init_connect_ack(g, peer, msg, i);
    else if (strcmp(what, "cancel_connect") == 0 && arity == 3)
        g_on_cancel_connect(g, msg, i);
    else if (strcmp(what, "lost_connection") == 0 && arity == 5)
        g_on_lost_connection(g, msg, (int)len);
    else if (strcmp(what, "remove_connection") == 0 && arity == 2)
        g_on_remove_connection(g, msg, i);
    else
        en_core_log(g->proc->core, ENODE_LOG_DEBUG,
                    "global: a message {%s, ...} from %s; dropped", what, peer);
}

/* What other nodes' global_name_servers send: casts, calls, and plain
 * messages. */
static void from_servers(en_global_t *g, const char *peer, const char *msg,
                         size_t len)
{
    char what[MAXATOMLEN_UTF8];
    int i = 0, arity, tag_at, tag_len, req_at;
    erlang_pid caller;

    if (en_parse_gen_call(msg, len, &caller, &tag_at, &tag_len, &req_at) == 0)
        g_on_call(g, peer, &caller, msg + tag_at, tag_len, msg, req_at);
    else if (ei_decode_tuple_header(msg, &i, &arity) == 0 && arity >= 2 &&
             get_atom(msg, &i, what) == 0)
        dispatch_plain(g, peer, what, arity, msg, i, len);
    else
        en_core_log(g->proc->core, ENODE_LOG_WARNING,
                    "global: a message from %s; dropped", peer);
}

/* {Tag, Reply}: 1 if it answered one of our calls, now handled. */
static int call_reply(en_global_t *g, const char *msg)
{
    erlang_ref tag;
    int i = 0, arity;
    g_call_t *k;

    if (ei_decode_tuple_header(msg, &i, &arity) < 0 || arity != 2 ||
        ei_decode_ref(msg, &i, &tag) < 0)
        return 0;
    /* The registrar's calls are answered to the registrar. */
    EN_LIST_UNLINK(&g->calls, k,
                   k->kind != G_CALL_TRANS && en_ref_eq(&k->tag, &tag));
    if (!k)
        return 1; /* a late answer: the call was given up */
    if (k->kind == G_CALL_LOCK) {
        g_on_lock_reply(g, k, msg, i);
    } else {
        int at = i;
        if (ei_skip_term(msg, &i) == 0)
            g_on_resolve_reply(g, k, msg + at, i - at);
    }
    g_call_free(k);
    return 1;
}

/* {'DOWN', Ref, process, Pid, Reason}: 1 if it was one of our monitors
 * (a process with a name or a lock died), now handled. */
static int watch_down(en_global_t *g, const char *msg)
{
    char atom[MAXATOMLEN_UTF8];
    erlang_ref ref;
    int i = 0, arity;
    g_watch_t *w;

    if (ei_decode_tuple_header(msg, &i, &arity) < 0 || arity != 5 ||
        get_atom(msg, &i, atom) < 0 || strcmp(atom, "DOWN") != 0 ||
        ei_decode_ref(msg, &i, &ref) < 0)
        return 0;
    EN_LIST_UNLINK(&g->watches, w, en_ref_eq(&w->ref, &ref));
    if (w) {
        erlang_pid pid = w->pid;
        free(w);
        g_pid_gone(g, &pid);
    }
    return 1;
}

/* The handler of global's process: what other nodes' servers send to
 * global_name_server, the answers to our calls, and our monitors' DOWN
 * messages. */
static void on_message(void *ud, en_mbox_t *self, const erlang_pid *from,
                       const char *msg, size_t len)
{
    en_global_t *g = ud;

    (void)self;
    if (len > (size_t)0x7fffffff)
        return;
    g_enter(g);
    if (!call_reply(g, msg) && !watch_down(g, msg))
        from_servers(g, from ? from->node : "an unknown node", msg, len);
    g_leave(g);
}

int en_global_start(en_global_t **out, en_proc_t *p)
{
    en_global_t *g = calloc(1, sizeof *g);
    int rc;

    *out = NULL;
    if (!g)
        return ENODE_ENOMEM;
    g->proc = p;
    g->hidden = !(p->net->flags & EN_DFLAG_PUBLISHED);
    g->events_tail = &g->events;
    g->next_tag = 1;
    g->timeout_ms = EN_GLOBAL_TIMEOUT_MS;
    rc = en_service_new(p, "global_name_server", on_message, g, &g->self);
    if (rc == 0)
        rc = g_trans_init(g);
    if (rc < 0) {
        free(g);
        return rc;
    }
    g->watch.up = on_node_up;
    g->watch.down = on_node_down;
    g->watch.ud = g;
    en_proc_watch_nodes(p, &g->watch);
    *out = g;
    return 0;
}

/* ---- the node's life
 * ---------------------------------------------------------- */

void en_global_free(en_global_t *g)
{
    if (!g)
        return;
    /* Nodes that go down as the node closes are no news to us now. */
    en_proc_unwatch_nodes(g->proc, &g->watch);
    while (g->events) {
        g_event_t *e = g->events;
        g->events = e->next;
        free(e);
    }
    while (g->sessions) {
        g_sess_t *s = g->sessions;
        g->sessions = s->next;
        g_sess_free(s);
    }
    g_trans_free_all(g);
    while (g->calls) {
        g_call_t *k = g->calls;
        g->calls = k->next;
        g_call_free(k);
    }
    while (g->names) {
        g_name_t *e = g->names;
        g->names = e->next;
        g_name_free(e);
    }
    while (g->locks)
        g_lock_unlink_free(g, g->locks);
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
}

void en_global_stats(en_global_t *g, en_global_stats_t *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&g->proc->core->lock);
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
    pthread_mutex_unlock(&g->proc->core->lock);
}
