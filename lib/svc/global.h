/* global.h - enode's part in OTP's `global` name server (internal).
 *
 * What enode does and does not do is described at the top of global.c.
 * Every function expects the node's lock held, except en_global_whereis
 * and en_global_stats, which take it.
 */
#ifndef ENODE_GLOBAL_H
#define ENODE_GLOBAL_H

#include <stddef.h>

#include <ei.h>

#include "proto/ctrl.h"

struct enode;
struct en_conn;

/* A message sent to {global_name_server, us} over c (bare term). */
void en_global_handle(struct en_conn *c, const char *msg, size_t len);

/* A message to a pid of ours: 1 if it was for global's own process (the
 * replies to the calls global makes) and is now handled, else 0. */
int en_global_to_pid(struct en_conn *c, const en_dmsg_t *m);

/* 1 if pid is global's own process, which lives as long as the node
 * (monitors on it must not fire noproc). */
int en_global_is_pid(struct enode *n, const erlang_pid *pid);

/* A monitor exit signal for `to`: 1 if it was for one of global's
 * monitors (a registered process or a lock holder died), now handled. */
int en_global_monitor_exit(struct enode *n, const erlang_pid *to,
                           const erlang_ref *ref);

/* A connection came up, or the node went away. */
void en_global_node_up(struct enode *n, const char *peer);
void en_global_node_down(struct enode *n, const char *peer);

/* Frees global's state when the node goes. */
void en_global_free(struct enode *n);

/* Looks up a globally registered name that is an atom in this node's
 * replica of global's table: 1 and *pid if registered, else 0. Takes the
 * node's lock. */
int en_global_whereis(struct enode *n, const char *atom, erlang_pid *pid);

/* Counters for tests and logs. Takes the node's lock. */
typedef struct en_global_stats {
    size_t known;    /* nodes in our partition (global's `known`) */
    size_t synced;   /* nodes we are in sync with */
    size_t names;    /* registered names in our replica */
    size_t locks;    /* locks set on this node */
    size_t sessions; /* connect sessions under way */
    size_t watched;  /* processes we monitor for names and locks */
} en_global_stats_t;
void en_global_stats(struct enode *n, en_global_stats_t *st);

#endif
