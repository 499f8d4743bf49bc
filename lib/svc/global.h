/* global.h - enode's part in OTP's `global` name server (internal).
 *
 * What enode does and does not do is described at the top of global.c.
 * global runs as a service process (proc/proc.h): a mailbox registered
 * as global_name_server, whose handler takes what other nodes' global
 * servers send, the replies to the calls it makes, and the DOWN messages
 * of the processes it monitors; it follows nodes through a node watch.
 */
#ifndef ENODE_GLOBAL_H
#define ENODE_GLOBAL_H

#include <stddef.h>
#include <stdint.h>

#include <ei.h>

#include "proc/proc.h"

typedef struct en_global en_global_t;

/* Start global's service on p. 0, or a code. */
int en_global_start(en_global_t **g, en_proc_t *p);

/* Frees global's state when the node goes (NULL is allowed). */
void en_global_free(en_global_t *g);

/* Looks up a globally registered name that is an atom in this node's
 * replica of global's table: 1 and *pid if registered, else 0;
 * ENODE_EINVAL if atom is not an atom's text. Takes the node's lock. */
int en_global_whereis(en_global_t *g, const char *atom, erlang_pid *pid);

/* -connect_all false (on = 0): no connect sessions, as erl's global does
 * then; registering and unregistering are refused. Before the loop runs. */
void en_global_set_connect_all(en_global_t *g, int on);

/* How long en_global_register and en_global_unregister wait for the
 * cluster, in ms (default EN_GLOBAL_TIMEOUT_MS). Takes the node's lock. */
#define EN_GLOBAL_TIMEOUT_MS 30000
void en_global_set_timeout(en_global_t *g, int timeout_ms);

/* global:register_name(Name, Pid) from this node, for a process of ours
 * (global_trans.c): 0 (yes), ENODE_EEXIST (no: the name is taken, or pid
 * has a global name), ENODE_EINVAL (name is not an atom's text, or this
 * node takes no part in global), ENODE_ETIMEOUT (the cluster did not
 * answer in time: nothing stays registered or locked). The error is set.
 * Waits, running the loop when no other thread does. Takes the lock. */
int en_global_register(en_global_t *g, const erlang_pid *pid,
                       const char *name);
/* global:unregister_name(Name): 0 (also when the name was not
 * registered), or a code as above. */
int en_global_unregister(en_global_t *g, const char *name);

/* The two halves of those two, for a caller that runs the loop itself
 * (tests): start a transaction (pid NULL: unregister) and get its id,
 * then poll it until it says it is over. 0 or a code. */
int en_global_trans_start(en_global_t *g, const erlang_pid *pid,
                          const char *name, uint64_t *id);
/* 1 and *rc once transaction id is over (it is then gone), 0 while it
 * runs. Past the time limit it is given up (ENODE_ETIMEOUT). */
int en_global_trans_poll(en_global_t *g, uint64_t id, int *rc);

/* Calls fn for each registered name that is an atom (Erlang allows any
 * term), without the lock held, from a copy. How many, or a code. */
typedef void (*en_global_name_fn)(void *ud, const char *name,
                                  const erlang_pid *pid);
int en_global_names(en_global_t *g, en_global_name_fn fn, void *ud);

/* global:resolve_it/4 as an rpc function (enode_rpc_fn, user = g): runs
 * the resolve method of a clash over a process of ours
 * (global_method.c). */
int en_global_resolve_it(void *user, const char *args, int index, int arity,
                         ei_x_buff *result);

/* Counters for tests and logs. Takes the node's lock. */
typedef struct en_global_stats {
    size_t known;    /* nodes in our partition (global's `known`) */
    size_t synced;   /* nodes we are in sync with */
    size_t names;    /* registered names in our replica */
    size_t locks;    /* locks set on this node */
    size_t sessions; /* connect sessions under way */
    size_t watched;  /* processes we monitor for names and locks */
} en_global_stats_t;
void en_global_stats(en_global_t *g, en_global_stats_t *st);

#endif
