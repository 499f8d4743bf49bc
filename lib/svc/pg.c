/* pg.c - enode's part in OTP's process groups (`pg`), so that C mailboxes
 * can be members of groups that Erlang processes find with
 * pg:get_members/1,2.
 *
 * Sources: lib/kernel/src/pg.erl of OTP 25.2.3 (kernel 8.5.3) and 27.3.4.1
 * (kernel 10.2.7.1), and pg.erl with data_publisher.erl of OTP 29.1.2
 * (kernel 11.0.4), which speaks the same messages to a peer that announces
 * no protocol version (25 and 29 read from the debug_info of their beams).
 *
 * THE PROTOCOL
 *
 *   A scope is a process registered under the scope's name (an atom; the
 *   default scope is `pg`) on every node that runs it. Scopes of the same
 *   name on visible nodes find each other and keep a replica of each
 *   other's members; a scope monitors no remote member, only the remote
 *   scopes. Hidden nodes take no part.
 *
 *     at start, and on each {nodeup, N}:
 *       {discover, Self}                      to {Scope, N}
 *     OTP 26+ may send {discover, Self, Version}; OTP 25 takes only the
 *     two-element form, and OTP 29 treats it as "protocol 0", the one
 *     described here.
 *     on {discover, Peer}:
 *       {'$gen_cast', {sync, Self, [{Group, [Pid]}]}}  to Peer (our
 *       members), and if Peer is new: monitor it, {discover, Self} to it
 *     on {'$gen_cast', {sync, Peer, Groups}}: Groups replaces all that was
 *       known of Peer's members (a new Peer is monitored)
 *     a local process joins or leaves, or dies (its own node says so):
 *       {join, Self, Group, PidOrPids}        to every known peer
 *       {leave, Self, PidOrPids, [Group]}     to every known peer
 *     a join or leave from a scope not known (neither discovered nor
 *       synced) is dropped; the DOWN of a peer scope (noconnection when
 *       its node goes) drops all its members.
 *
 *   An OTP scope crashes on anything else (its handle_info and
 *   handle_cast raise badarg), and OTP 25-27 crash on a leave of a group
 *   they do not hold for us (maps:get/2 in leave_remote). So enode sends
 *   only the messages above, and sends its joins and leaves only to a
 *   peer that has its sync ("told"): before that the peer would drop a
 *   join, and a leave could name a group the peer never saw; the sync it
 *   gets later carries all of it.
 *
 * WHAT ENODE DOES
 *
 *   - Runs a scope from the first call of the C API that names it (or
 *     enode_pg_start), as a service process registered under the scope's
 *     name, and keeps it as long as the node. A scope that C code never
 *     names does not run here: an OTP scope's discover to it finds no
 *     process and is dropped, and that OTP scope never hears of us.
 *   - Answers both discover forms, syncs, joins and leaves as above, and
 *     monitors each peer scope; its members are dropped on its DOWN.
 *   - Monitors its member mailboxes: a member that exits or is freed
 *     leaves all its groups, and the peers are told. When the node goes
 *     (enode_free), the scopes exit and the peers, which monitor them,
 *     drop their members.
 *   - Keeps the members of every peer scope, so enode_pg_members is
 *     answered here, cluster-wide.
 *   - Sends monitors {Ref, join, Group, Pids} and {Ref, leave, Group,
 *     Pids}, the notices of pg:monitor/2 and pg:monitor_scope/1.
 *   - Decodes everything from a peer before it changes anything: a
 *     message of the wrong shape is logged and dropped whole.
 *
 * WHAT ENODE DOES NOT DO
 *
 *   - Speak data_publisher's own protocol (version 1, OTP 29 between OTP
 *     29 nodes): an OTP 29 node speaks version 0 to a peer that announces
 *     none, as enode does.
 *   - Answer gen_server calls to a scope (pg's API calls only its own
 *     node's scope): they are logged and dropped.
 */
#include "svc/pg_int.h"

#include <stdarg.h>
#include <stdio.h>

#include "proto/dflags.h"

/* ---- sending and logging ------------------------------------------------- */

const erlang_pid *pg_self(const pg_scope_t *s)
{
    return en_mbox_self(s->self);
}

void pg_send(pg_scope_t *s, const erlang_pid *to, const ei_x_buff *x)
{
    en_sig_t sig = {.op = EN_DOP_SEND, .from = pg_self(s), .to = to,
                    .msg = x->buff, .msg_len = (size_t)x->index};
    char node[MAXATOMLEN_UTF8];

    snprintf(node, sizeof node, "%s", to->node); /* to may go meanwhile */
    if (en_emit(s->pg->proc, node, 0, &sig) < 0)
        pg_log(s, ENODE_LOG_DEBUG, "%s is not connected; not sent", node);
}

void pg_send_scope(pg_scope_t *s, const char *node, const ei_x_buff *x)
{
    en_sig_t sig = {.op = EN_DOP_REG_SEND, .from = pg_self(s),
                    .to_name = s->name, .msg = x->buff,
                    .msg_len = (size_t)x->index};

    if (en_emit(s->pg->proc, node, 0, &sig) < 0)
        pg_log(s, ENODE_LOG_DEBUG, "%s is not connected; not sent", node);
}

void pg_log(const pg_scope_t *s, int level, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    en_core_log(s->pg->proc->core, level, "pg scope %s: %s", s->name, text);
}

/* ---- nodes --------------------------------------------------------------- */

int pg_node_visible(en_pg_t *pg, const char *node)
{
    en_conn_t *c = en_net_find(pg->proc->net, node);
    return c && en_conn_is_up(c) && (en_conn_flags(c) & EN_DFLAG_PUBLISHED);
}

static void on_node_up(void *ud, const char *node)
{
    en_pg_t *pg = ud;
    pg_node_t *n;

    if (!pg_node_visible(pg, node) || !(n = calloc(1, sizeof *n)))
        return;
    snprintf(n->name, sizeof n->name, "%s", node);
    n->next = pg->nodes;
    pg->nodes = n;
    /* Scopes are never taken away while the node lives: no snapshot. */
    for (pg_scope_t *s = pg->scopes; s; s = s->next)
        pg_peer_discover(s, n->name);
}

static void on_node_down(void *ud, const char *node)
{
    en_pg_t *pg = ud;
    pg_node_t *n;

    EN_LIST_UNLINK_EACH(&pg->nodes, n, strcmp(n->name, node) == 0)
        free(n);
    for (pg_scope_t *s = pg->scopes; s; s = s->next)
        pg_peer_node_down(s, node);
}

/* ---- the scope's process ------------------------------------------------- */

/* {'DOWN', Ref, process, _, _}: *ref. */
static int is_down(const char *msg, erlang_ref *ref)
{
    char atom[MAXATOMLEN_UTF8];
    int i = 0, arity;

    return ei_decode_tuple_header(msg, &i, &arity) == 0 && arity == 5 &&
           ei_decode_atom(msg, &i, atom) == 0 && strcmp(atom, "DOWN") == 0 &&
           ei_decode_ref(msg, &i, ref) == 0;
}

static void on_message(void *ud, en_mbox_t *self, const erlang_pid *from,
                       const char *msg, size_t len)
{
    pg_scope_t *s = ud;
    erlang_ref ref;

    (void)self;
    if (len > (size_t)0x7fffffff)
        return;
    if (is_down(msg, &ref)) {
        if (!pg_peer_down(s, &ref) && !pg_local_down(s, &ref) &&
            !pg_watch_down(s, &ref))
            pg_log(s, ENODE_LOG_DEBUG, "a DOWN of no monitor of ours");
        return;
    }
    if (pg_peer_message(s, from, msg, len))
        return;
    /* Exit signals of links (a service traps exits), calls, strays. */
    pg_log(s, ENODE_LOG_INFO,
           "a message from %s that pg does not serve; dropped",
           from ? from->node : "an unknown sender");
}

pg_scope_t *pg_scope_find(en_pg_t *pg, const char *name)
{
    for (pg_scope_t *s = pg->scopes; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

/* The names of the visible nodes, copied: a discover that fails at once
 * takes a node off the list. */
static char (*visible_nodes(en_pg_t *pg, size_t *n))[EN_HS_NAME_MAX]
{
    size_t count = 0;
    for (pg_node_t *v = pg->nodes; v; v = v->next)
        count++;
    char (*names)[EN_HS_NAME_MAX] = calloc(count ? count : 1, sizeof *names);
    *n = 0;
    if (!names)
        return NULL;
    for (pg_node_t *v = pg->nodes; v; v = v->next)
        memcpy(names[(*n)++], v->name, sizeof v->name);
    return names;
}

int en_pg_scope(en_pg_t *pg, const char *name)
{
    pg_scope_t *s;
    size_t n;
    int rc;

    if (pg_scope_find(pg, name))
        return 0;
    if (!*name || strlen(name) >= sizeof s->name)
        return ENODE_EINVAL;
    if (!(s = calloc(1, sizeof *s)))
        return ENODE_ENOMEM;
    s->pg = pg;
    snprintf(s->name, sizeof s->name, "%s", name);
    if ((rc = en_service_new(pg->proc, name, on_message, s, &s->self)) < 0) {
        free(s);
        return rc;
    }
    s->next = pg->scopes;
    pg->scopes = s;
    pg_log(s, ENODE_LOG_DEBUG, "started");
    char(*nodes)[EN_HS_NAME_MAX] = visible_nodes(pg, &n);
    for (size_t k = 0; nodes && k < n; k++)
        pg_peer_discover(s, nodes[k]);
    free(nodes);
    return 0;
}

/* ---- the service --------------------------------------------------------- */

int en_pg_start(en_pg_t **out, en_proc_t *p)
{
    en_pg_t *pg = calloc(1, sizeof *pg);

    *out = NULL;
    if (!pg)
        return ENODE_ENOMEM;
    pg->proc = p;
    pg->watch.up = on_node_up;
    pg->watch.down = on_node_down;
    pg->watch.ud = pg;
    en_proc_watch_nodes(p, &pg->watch);
    pg->watching = 1;
    *out = pg;
    return 0;
}

void en_pg_stop(en_pg_t *pg)
{
    if (pg && pg->watching) {
        en_proc_unwatch_nodes(pg->proc, &pg->watch);
        pg->watching = 0;
    }
}

void en_pg_free(en_pg_t *pg)
{
    if (!pg)
        return;
    en_pg_stop(pg);
    while (pg->scopes) {
        pg_scope_t *s = pg->scopes;
        pg->scopes = s->next;
        pg_local_free(s);
        pg_peers_free(s);
        pg_watch_free(s);
        free(s);
    }
    while (pg->nodes) {
        pg_node_t *n = pg->nodes;
        pg->nodes = n->next;
        free(n);
    }
    pg_names_free(pg);
    free(pg);
}

/* ---- what the API asks --------------------------------------------------- */

pg_scope_t *pg_scope_get(en_pg_t *pg, const char *name, int *rc)
{
    *rc = en_pg_scope(pg, name);
    return *rc < 0 ? NULL : pg_scope_find(pg, name);
}

int en_pg_join(en_pg_t *pg, const char *name, const erlang_pid *member,
               const char *group, size_t len)
{
    int rc;
    pg_scope_t *s = pg_scope_get(pg, name, &rc);
    return s ? pg_local_join(s, member, group, len) : rc;
}

int en_pg_leave(en_pg_t *pg, const char *name, const erlang_pid *member,
                const char *group, size_t len)
{
    pg_scope_t *s = pg_scope_find(pg, name);
    return s ? pg_local_leave(s, member, group, len) : ENODE_ENOTFOUND;
}

int en_pg_monitor(en_pg_t *pg, const char *name, const erlang_pid *watcher,
                  const char *group, size_t len, erlang_ref *ref)
{
    int rc;
    pg_scope_t *s = pg_scope_get(pg, name, &rc);
    return s ? pg_watch_add(s, watcher, group, len, ref) : rc;
}

int en_pg_demonitor(en_pg_t *pg, const char *name, const erlang_pid *watcher,
                    const erlang_ref *ref)
{
    pg_scope_t *s = pg_scope_find(pg, name);
    return s ? pg_watch_remove(s, watcher, ref) : ENODE_ENOTFOUND;
}
