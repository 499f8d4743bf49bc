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

#include <ei.h>

#include "proc/proc.h"

typedef struct en_global en_global_t;

/* Start global's service on p. 0, or a code. */
int en_global_start(en_global_t **g, en_proc_t *p);

/* Frees global's state when the node goes (NULL is allowed). */
void en_global_free(en_global_t *g);

/* Looks up a globally registered name that is an atom in this node's
 * replica of global's table: 1 and *pid if registered, else 0. Takes the
 * node's lock. */
int en_global_whereis(en_global_t *g, const char *atom, erlang_pid *pid);

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
