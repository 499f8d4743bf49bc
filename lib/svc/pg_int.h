/* pg_int.h - what the files of pg share (private to svc/pg*.c).
 *
 *   pg.c        the service: scopes as processes, nodes, the handler
 *   pg_group.c  tables of members by group
 *   pg_local.c  this node's members: join, leave, death; what peers get
 *   pg_peer.c   what peer scopes send: discover, sync, join, leave
 *   pg_watch.c  monitors: join and leave notices to mailboxes
 *   pg_query.c  members and groups, cluster-wide or local
 *
 * Nothing here keeps a pointer across a send to a peer: a send that
 * fails at once takes the connection down, and the DOWN of the peer's
 * scope then arrives re-entrantly and changes the lists.
 */
#ifndef ENODE_SVC_PG_INT_H
#define ENODE_SVC_PG_INT_H

#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/term.h"
#include "svc/pg.h"

/* A member's pid as the tables keep it: an erlang_pid holds a node name
 * of over a kilobyte, and a replica may hold a whole cluster's members,
 * so the name is kept once per node (pg_intern) and pointed to. */
typedef struct pg_pid {
    const char *node;
    unsigned num, serial, creation;
} pg_pid_t;

/* One group's members as one place knows them (this node, or one peer
 * scope): a pid once per join, as pg keeps them. */
typedef struct pg_group {
    struct pg_group *next;
    char *term; /* the group, a canonical bare term */
    size_t len;
    pg_pid_t *pids;
    size_t n, cap;
} pg_group_t;

/* A scope of the same name on another node. */
typedef struct pg_peer {
    struct pg_peer *next;
    erlang_pid scope; /* its process */
    erlang_ref mon;   /* our monitor on it */
    int told;         /* it has our sync, so it gets our joins and leaves */
    pg_group_t *groups;
} pg_peer_t;

/* A local mailbox in at least one group of the scope. */
typedef struct pg_member {
    struct pg_member *next;
    erlang_pid pid;
    erlang_ref mon; /* the scope's monitor on it */
    size_t joins;   /* in how many groups, counted once per join */
} pg_member_t;

/* A mailbox that gets join and leave notices. */
typedef struct pg_sub {
    struct pg_sub *next;
    erlang_ref ref;     /* the notices' tag */
    erlang_ref mon;     /* the scope's monitor on the watcher */
    erlang_pid watcher;
    char *group;        /* NULL: every group of the scope */
    size_t len;
} pg_sub_t;

typedef struct pg_scope {
    struct pg_scope *next;
    en_pg_t *pg;
    char name[MAXATOMLEN_UTF8];
    en_mbox_t *self;   /* the scope's process */
    pg_group_t *local; /* this node's members */
    pg_member_t *members;
    pg_peer_t *peers;
    pg_sub_t *subs;
} pg_scope_t;

/* A node that is up and visible. */
typedef struct pg_node {
    struct pg_node *next;
    char name[EN_HS_NAME_MAX];
} pg_node_t;

/* A node name that pids point to, kept until pg goes. */
typedef struct pg_name {
    struct pg_name *next;
    char name[];
} pg_name_t;

struct en_pg {
    en_proc_t *proc;
    pg_scope_t *scopes;
    pg_node_t *nodes;
    pg_name_t *names;
    en_node_watch_t watch;
    int watching; /* watch is registered */
};

/* ---- pg.c ---- */
pg_scope_t *pg_scope_find(en_pg_t *pg, const char *name);
/* The scope, started if need be; NULL with *rc set if it cannot be. */
pg_scope_t *pg_scope_get(en_pg_t *pg, const char *name, int *rc);
const erlang_pid *pg_self(const pg_scope_t *s);
/* Whether node is up and visible to us (pg runs only between those). */
int pg_node_visible(en_pg_t *pg, const char *node);
/* Send the term in x (version byte first) from the scope, to a pid, or
 * to the scope of the same name on node. Never dials, as pg sends with
 * [noconnect]. */
void pg_send(pg_scope_t *s, const erlang_pid *to, const ei_x_buff *x);
void pg_send_scope(pg_scope_t *s, const char *node, const ei_x_buff *x);
/* Log at level, prefixed with the scope's name. */
void pg_log(const pg_scope_t *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- pg_group.c ---- */
/* pid as the tables keep it (ENODE_ENOMEM if its node's name cannot be
 * kept), and back. */
int pg_pid_in(en_pg_t *pg, const erlang_pid *pid, pg_pid_t *out);
void pg_pid_out(const pg_pid_t *pid, erlang_pid *out);
int pg_pid_eq(const pg_pid_t *a, const pg_pid_t *b);
void pg_names_free(en_pg_t *pg);
pg_group_t *pg_group_find(pg_group_t *list, const char *term, size_t len);
/* Add n pids to the group in *list (made if new). 0, or ENODE_ENOMEM. */
int pg_group_add(pg_group_t **list, const char *term, size_t len,
                 const pg_pid_t *pids, size_t n);
/* Take each of rm[0..n) out of the group once, where it is; what was
 * taken goes to gone (room for n), its count to *n_gone. A group left
 * empty goes. 0, or ENODE_ENOMEM (nothing taken). */
int pg_group_remove(pg_group_t **list, const char *term, size_t len,
                    const pg_pid_t *rm, size_t n, pg_pid_t *gone,
                    size_t *n_gone);
/* How many times pid is in the group g (NULL: none). */
size_t pg_group_count(const pg_group_t *g, const pg_pid_t *pid);
void pg_group_free(pg_group_t *g);
void pg_groups_free(pg_group_t **list);
/* The pids of a that b lacks, as multisets, into out (room for na). */
int pg_pids_minus(const pg_pid_t *a, size_t na, const pg_pid_t *b,
                  size_t nb, pg_pid_t *out, size_t *n_out);
/* [Pid, ...] appended to x. */
int pg_put_pids(ei_x_buff *x, const pg_pid_t *pids, size_t n);
/* {Group, [Pid, ...]} appended to x. */
int pg_put_group(ei_x_buff *x, const pg_group_t *g);

/* ---- pg_local.c ---- */
int pg_local_join(pg_scope_t *s, const erlang_pid *member, const char *group,
                  size_t len);
int pg_local_leave(pg_scope_t *s, const erlang_pid *member, const char *group,
                   size_t len);
/* A DOWN for one of the scope's members: 1 if ref was one (handled). */
int pg_local_down(pg_scope_t *s, const erlang_ref *ref);
/* {'$gen_cast', {sync, Self, [{Group, [Pid]}]}} to the peer scope. 0,
 * or ENODE_ENOMEM (nothing sent). */
int pg_local_sync(pg_scope_t *s, const erlang_pid *peer);
void pg_local_free(pg_scope_t *s);

/* ---- pg_peer.c ---- */
/* {discover, Self} to the scope of our name on node. */
void pg_peer_discover(pg_scope_t *s, const char *node);
/* A message for the scope from another node's scope: 1 if it was one of
 * pg's (handled, or logged and dropped if malformed). */
int pg_peer_message(pg_scope_t *s, const erlang_pid *from, const char *msg,
                    size_t len);
/* A DOWN for a peer scope: 1 if ref was one (its members are gone). */
int pg_peer_down(pg_scope_t *s, const erlang_ref *ref);
/* The node is gone: so are the scopes on it (their DOWN did it already,
 * unless a monitor could not be set). */
void pg_peer_node_down(pg_scope_t *s, const char *node);
void pg_peers_free(pg_scope_t *s);

/* ---- pg_watch.c ---- */
/* Tell the scope's monitors that pids joined or left group ("join",
 * "leave"); nothing if n is 0. */
void pg_notify(pg_scope_t *s, const char *what, const char *group, size_t len,
               const pg_pid_t *pids, size_t n);
/* A DOWN for a monitoring mailbox: 1 if ref was one. */
int pg_watch_down(pg_scope_t *s, const erlang_ref *ref);
int pg_watch_add(pg_scope_t *s, const erlang_pid *watcher, const char *group,
                 size_t len, erlang_ref *ref);
int pg_watch_remove(pg_scope_t *s, const erlang_pid *watcher,
                    const erlang_ref *ref);
void pg_watch_free(pg_scope_t *s);

/* ---- pg_query.c ---- */
/* The members of group into pids (up to max); how many there are. */
size_t pg_collect(pg_scope_t *s, const char *group, size_t len,
                  int local_only, pg_pid_t *pids, size_t max);
/* fn for each group that has members (local ones if local_only), once. */
typedef int (*pg_group_fn)(pg_scope_t *s, const pg_group_t *g, void *ud);
int pg_each_group(pg_scope_t *s, int local_only, pg_group_fn fn, void *ud);

#endif
