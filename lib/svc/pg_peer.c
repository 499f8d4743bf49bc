/* pg_peer.c - what the scopes of other nodes send, and our replica of
 * their members.
 *
 *   {discover, Peer} | {discover, Peer, _}
 *   {'$gen_cast', {sync, Peer, [{Group, [Pid]}]}}
 *   {join, Peer, Group, Pid | [Pid]}
 *   {leave, Peer, Pid | [Pid], [Group]}
 *
 * Peer must be a scope on a visible node other than ours, and the sender's
 * node when the sender is known. A message is decoded whole before it
 * changes anything; one of the wrong shape is logged and dropped. Groups
 * are kept in their canonical form (proto/term_canon.h), so that a group
 * C code names matches the same group sent by any peer.
 */
#include "svc/pg_int.h"

#include "proto/term_canon.h"

/* ---- decoding ------------------------------------------------------------ */

/* One pid at msg[*i], as the tables keep it. */
static int get_pid(en_pg_t *pg, const char *msg, int *i, pg_pid_t *out)
{
    erlang_pid pid;
    return ei_decode_pid(msg, i, &pid) < 0 || pg_pid_in(pg, &pid, out) < 0
               ? -1
               : 0;
}

/* The pids of a Pid or [Pid] at msg[*i], into a new array. */
static int get_pids(en_pg_t *pg, const char *msg, int *i, pg_pid_t **out,
                    size_t *n)
{
    int type, size;

    *out = NULL;
    *n = 0;
    if (ei_get_type(msg, i, &type, &size) < 0)
        return -1;
    if (type == ERL_PID_EXT || type == ERL_NEW_PID_EXT) {
        if (!(*out = malloc(sizeof **out)) || get_pid(pg, msg, i, *out) < 0)
            return -1;
        *n = 1;
        return 0;
    }
    if (type == ERL_NIL_EXT)
        return ei_skip_term(msg, i);
    if (type != ERL_LIST_EXT || ei_decode_list_header(msg, i, &size) < 0 ||
        size <= 0 || !(*out = malloc((size_t)size * sizeof **out)))
        return -1;
    for (; *n < (size_t)size; (*n)++)
        if (get_pid(pg, msg, i, &(*out)[*n]) < 0)
            return -1;
    return ei_decode_list_header(msg, i, &size) == 0 && size == 0 ? 0 : -1;
}

/* The group term at msg[*i] (within the len bytes of msg), canonical,
 * appended to x; where it starts in x goes to *at. */
static int get_group(const char *msg, size_t len, int *i, ei_x_buff *x,
                     size_t *at)
{
    int start = *i;
    *at = (size_t)x->index;
    if (ei_skip_term(msg, i) < 0 || (size_t)*i > len)
        return -1;
    return en_term_canon(msg + start, (size_t)(*i - start), x, NULL);
}

/* [{Group, [Pid]}] at msg[*i] into a group table. */
static int get_groups(en_pg_t *pg, const char *msg, size_t len, int *i,
                      pg_group_t **out)
{
    int n, arity;
    ei_x_buff x;

    *out = NULL;
    if (ei_x_new(&x) < 0)
        return -1;
    int rc = ei_decode_list_header(msg, i, &n);
    for (int k = 0; rc == 0 && k < n; k++) {
        pg_pid_t *pids = NULL;
        size_t at, n_pids;
        x.index = 0;
        rc = ei_decode_tuple_header(msg, i, &arity) < 0 || arity != 2 ||
                     get_group(msg, len, i, &x, &at) < 0 ||
                     get_pids(pg, msg, i, &pids, &n_pids) < 0
                 ? -1
                 : n_pids == 0 ? 0
                               : pg_group_add(out, x.buff, (size_t)x.index,
                                              pids, n_pids);
        free(pids);
    }
    if (rc == 0 && n > 0 && (ei_decode_list_header(msg, i, &n) < 0 || n != 0))
        rc = -1;
    ei_x_free(&x);
    if (rc < 0)
        pg_groups_free(out);
    return rc;
}

/* ---- peers --------------------------------------------------------------- */

static pg_peer_t *peer_find(pg_scope_t *s, const erlang_pid *scope)
{
    for (pg_peer_t *p = s->peers; p; p = p->next)
        if (en_pid_eq(&p->scope, scope))
            return p;
    return NULL;
}

/* A peer scope we did not know, now monitored. */
static pg_peer_t *peer_add(pg_scope_t *s, const erlang_pid *scope)
{
    pg_peer_t *p = calloc(1, sizeof *p);

    if (!p || en_monitor_locked(s->self, scope, NULL, scope->node,
                                &p->mon) < 0) {
        free(p);
        pg_log(s, ENODE_LOG_ERROR, "out of memory: %s ignored", scope->node);
        return NULL;
    }
    p->scope = *scope;
    p->next = s->peers;
    s->peers = p;
    pg_log(s, ENODE_LOG_DEBUG, "a peer scope on %s", scope->node);
    return p;
}

/* Its members are gone: monitors hear of each group. */
static void peer_free(pg_scope_t *s, pg_peer_t *p)
{
    for (pg_group_t *g = p->groups; g; g = g->next)
        pg_notify(s, "leave", g->term, g->len, g->pids, g->n);
    pg_groups_free(&p->groups);
    free(p);
}

int pg_peer_down(pg_scope_t *s, const erlang_ref *ref)
{
    pg_peer_t *p;

    EN_LIST_UNLINK(&s->peers, p, en_ref_eq(&p->mon, ref));
    if (!p)
        return 0;
    pg_log(s, ENODE_LOG_DEBUG, "the peer scope on %s is gone", p->scope.node);
    peer_free(s, p);
    return 1;
}

void pg_peer_node_down(pg_scope_t *s, const char *node)
{
    pg_peer_t *p;

    EN_LIST_UNLINK_EACH(&s->peers, p, strcmp(p->scope.node, node) == 0)
    {
        en_demonitor_locked(s->self, &p->mon);
        peer_free(s, p);
    }
}

void pg_peers_free(pg_scope_t *s)
{
    while (s->peers) {
        pg_peer_t *p = s->peers;
        s->peers = p->next;
        pg_groups_free(&p->groups);
        free(p);
    }
}

void pg_peer_discover(pg_scope_t *s, const char *node)
{
    ei_x_buff x;

    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 2) == 0 &&
        ei_x_encode_atom(&x, "discover") == 0 &&
        ei_x_encode_pid(&x, pg_self(s)) == 0)
        pg_send_scope(s, node, &x);
    ei_x_free(&x);
}

/* ---- the messages -------------------------------------------------------- */

static void on_discover(pg_scope_t *s, const erlang_pid *scope)
{
    pg_peer_t *p = peer_find(s, scope);
    int fresh = !p;
    erlang_pid to = *scope;
    ei_x_buff x;

    if (fresh && !peer_add(s, scope))
        return;
    /* From our sync on, the peer gets our joins and leaves. A send that
     * fails at once takes the peer away: it is looked up again. */
    if (pg_local_sync(s, &to) == 0 && (p = peer_find(s, &to)))
        p->told = 1;
    if (fresh && ei_x_new_with_version(&x) == 0) {
        if (ei_x_encode_tuple_header(&x, 2) == 0 &&
            ei_x_encode_atom(&x, "discover") == 0 &&
            ei_x_encode_pid(&x, pg_self(s)) == 0)
            pg_send(s, &to, &x);
        ei_x_free(&x);
    }
}

/* Each group's members that came and went, to the monitors. */
static void notify_changes(pg_scope_t *s, pg_group_t *old, pg_group_t *now)
{
    for (int pass = 0; pass < 2; pass++) {
        pg_group_t *from = pass ? now : old, *to = pass ? old : now;
        for (pg_group_t *g = from; g; g = g->next) {
            pg_group_t *o = pg_group_find(to, g->term, g->len);
            pg_pid_t *diff = malloc((g->n ? g->n : 1) * sizeof *diff);
            size_t n = 0;
            if (diff && pg_pids_minus(g->pids, g->n, o ? o->pids : NULL,
                                      o ? o->n : 0, diff, &n) == 0)
                pg_notify(s, pass ? "join" : "leave", g->term, g->len, diff,
                          n);
            free(diff);
        }
    }
}

static void on_sync(pg_scope_t *s, const erlang_pid *scope, pg_group_t *now)
{
    pg_peer_t *p = peer_find(s, scope);

    if (!p && !(p = peer_add(s, scope))) {
        pg_groups_free(&now);
        return;
    }
    pg_group_t *old = p->groups;
    p->groups = now;
    if (s->subs)
        notify_changes(s, old, now);
    pg_groups_free(&old);
}

static void on_join(pg_scope_t *s, const erlang_pid *scope, const char *group,
                    size_t len, const pg_pid_t *pids, size_t n)
{
    pg_peer_t *p = peer_find(s, scope);

    if (!p) {
        pg_log(s, ENODE_LOG_DEBUG, "a join from a scope on %s that has not "
                                   "synced; dropped", scope->node);
        return;
    }
    if (pg_group_add(&p->groups, group, len, pids, n) < 0) {
        pg_log(s, ENODE_LOG_ERROR, "out of memory: a join from %s is lost",
               scope->node);
        return;
    }
    pg_notify(s, "join", group, len, pids, n);
}

/* The groups of a leave, canonical, one after another in x. */
typedef struct pg_names {
    ei_x_buff x;
    size_t *at; /* where each starts in x; at[n] is the end */
    size_t n;
} pg_names_t;

static void on_leave(pg_scope_t *s, const erlang_pid *scope,
                     const pg_pid_t *pids, size_t n, const pg_names_t *groups)
{
    pg_peer_t *p = peer_find(s, scope);
    pg_pid_t *gone;

    if (!p) {
        pg_log(s, ENODE_LOG_DEBUG, "a leave from a scope on %s that has not "
                                   "synced; dropped", scope->node);
        return;
    }
    if (!(gone = malloc((n ? n : 1) * sizeof *gone)))
        return;
    for (size_t k = 0; k < groups->n; k++) {
        const char *g = groups->x.buff + groups->at[k];
        size_t len = groups->at[k + 1] - groups->at[k], n_gone;
        if (pg_group_remove(&p->groups, g, len, pids, n, gone, &n_gone) == 0)
            pg_notify(s, "leave", g, len, gone, n_gone);
    }
    free(gone);
}

/* ---- telling them apart -------------------------------------------------- */

/* Whether scope, named in a message from `from`, may be a peer: a scope
 * on a visible node other than ours, the sender's own. */
static int peer_ok(pg_scope_t *s, const erlang_pid *from,
                   const erlang_pid *scope, const char *what)
{
    if (en_core_is_local(s->pg->proc->core, scope->node) ||
        (from && strcmp(from->node, scope->node) != 0)) {
        pg_log(s, ENODE_LOG_WARNING, "a %s from %s names a scope on %s; "
                                     "dropped",
               what, from ? from->node : "an unknown sender", scope->node);
        return 0;
    }
    if (!pg_node_visible(s->pg, scope->node)) {
        pg_log(s, ENODE_LOG_DEBUG, "a %s from %s, which is not a visible "
                                   "node; dropped", what, scope->node);
        return 0;
    }
    return 1;
}

static int get_names(const char *msg, size_t len, int *i, pg_names_t *g)
{
    int n;

    if (ei_decode_list_header(msg, i, &n) < 0 || n < 0 ||
        !(g->at = malloc(((size_t)n + 1) * sizeof *g->at)))
        return -1;
    for (g->n = 0; g->n < (size_t)n; g->n++)
        if (get_group(msg, len, i, &g->x, &g->at[g->n]) < 0)
            return -1;
    g->at[g->n] = (size_t)g->x.index;
    return n == 0 || (ei_decode_list_header(msg, i, &n) == 0 && n == 0) ? 0
                                                                        : -1;
}

/* {join, Peer, Group, PidOrPids} or {leave, Peer, PidOrPids, Groups}
 * after the atom; -1 if malformed. */
static int join_or_leave(pg_scope_t *s, const erlang_pid *from, int join,
                         const char *msg, size_t len, int i)
{
    erlang_pid scope;
    pg_pid_t *pids = NULL;
    pg_names_t groups = {.at = NULL};
    size_t n = 0, at;
    int rc = -1;

    if (ei_x_new(&groups.x) < 0)
        return 0;
    if (ei_decode_pid(msg, &i, &scope) == 0 &&
        (join ? get_group(msg, len, &i, &groups.x, &at) == 0 &&
                    get_pids(s->pg, msg, &i, &pids, &n) == 0
              : get_pids(s->pg, msg, &i, &pids, &n) == 0 &&
                    get_names(msg, len, &i, &groups) == 0) &&
        (size_t)i == len) {
        rc = 0;
        if (!peer_ok(s, from, &scope, join ? "join" : "leave") || n == 0)
            ;
        else if (join)
            on_join(s, &scope, groups.x.buff, (size_t)groups.x.index, pids, n);
        else
            on_leave(s, &scope, pids, n, &groups);
    }
    free(pids);
    free(groups.at);
    ei_x_free(&groups.x);
    return rc;
}

/* {sync, Peer, Groups} inside a cast; -1 if malformed, 0 if handled, 1
 * if it is no sync. */
static int sync_cast(pg_scope_t *s, const erlang_pid *from, const char *msg,
                     size_t len, int i)
{
    char atom[MAXATOMLEN_UTF8];
    erlang_pid scope;
    pg_group_t *groups;
    int arity;

    if (ei_decode_tuple_header(msg, &i, &arity) < 0 || arity != 3 ||
        ei_decode_atom(msg, &i, atom) < 0 || strcmp(atom, "sync") != 0)
        return 1;
    if (ei_decode_pid(msg, &i, &scope) < 0 ||
        get_groups(s->pg, msg, len, &i, &groups) < 0)
        return -1;
    if ((size_t)i != len) {
        pg_groups_free(&groups);
        return -1;
    }
    if (peer_ok(s, from, &scope, "sync"))
        on_sync(s, &scope, groups);
    else
        pg_groups_free(&groups);
    return 0;
}

int pg_peer_message(pg_scope_t *s, const erlang_pid *from, const char *msg,
                    size_t len)
{
    char what[MAXATOMLEN_UTF8];
    erlang_pid scope;
    int i = 0, arity, rc;

    if (ei_decode_tuple_header(msg, &i, &arity) < 0 ||
        ei_decode_atom(msg, &i, what) < 0)
        return 0;
    if (strcmp(what, "discover") == 0 && (arity == 2 || arity == 3)) {
        /* OTP 26+ may add a protocol version, which we do not need. */
        rc = ei_decode_pid(msg, &i, &scope) == 0 &&
                     (arity == 2 || ei_skip_term(msg, &i) == 0) &&
                     (size_t)i == len
                 ? 0
                 : -1;
        if (rc == 0 && peer_ok(s, from, &scope, "discover"))
            on_discover(s, &scope);
    } else if (strcmp(what, "$gen_cast") == 0 && arity == 2) {
        if ((rc = sync_cast(s, from, msg, len, i)) > 0)
            return 0;
        snprintf(what, sizeof what, "sync");
    } else if ((strcmp(what, "join") == 0 || strcmp(what, "leave") == 0) &&
               arity == 4) {
        rc = join_or_leave(s, from, what[0] == 'j', msg, len, i);
    } else {
        return 0;
    }
    if (rc < 0)
        pg_log(s, ENODE_LOG_WARNING, "a malformed %s from %s; dropped", what,
               from ? from->node : "an unknown sender");
    return 1;
}
