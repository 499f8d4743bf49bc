/* core.h - what every layer of a node shares (internal).
 *
 * A node is built in layers (see doc/internals.md): the network layer
 * (net/), the processes (proc/), the services (svc/) and the public API
 * (node/). Each owns its own state; this is the little they all need: the
 * one lock that guards the node, the condition variable that waiters
 * sleep on, the node's identity, its log, and its last error.
 *
 * Locking: one mutex per node guards every layer's state. The loop takes
 * it to handle events; API calls take it to send or to look at
 * mailboxes. Functions named *_locked, and every internal function unless
 * its comment says otherwise, expect it held.
 */
#ifndef ENODE_CORE_H
#define ENODE_CORE_H

#include <pthread.h>
#include <stdint.h>

#include "enode.h"
#include "base/log.h"
#include "base/names.h"

typedef struct en_core {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a message arrived, a connection changed */

    char name[EN_NODE_NAME_BUF]; /* "alive@host" */
    char alive[EN_NODE_NAME_MAX + 1];
    char host[EN_NODE_NAME_MAX + 1];
    uint32_t creation;

    en_log_t log;

    /* enode_last_error(): written by any thread with the node's lock
     * held; read under err_lock too, so a reader never sees half a
     * sentence. */
    pthread_mutex_t err_lock;
    char errbuf[512];
} en_core_t;

/* Set up the lock, the condition (on the monotonic clock) and the empty
 * identity. 0, or -1 if the system has no room for a mutex. */
int en_core_init(en_core_t *core);
void en_core_destroy(en_core_t *core);

/* Log through the node's sink, when level is within its log level. */
void en_core_log(const en_core_t *core, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Remember why the last thing failed, for enode_last_error(). */
void en_core_error(en_core_t *core, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copy the last error into buf (at most len bytes, NUL-terminated). */
void en_core_error_copy(en_core_t *core, char *buf, size_t len);

/* Whether node_name is this node (NULL counts as this node). */
int en_core_is_local(const en_core_t *core, const char *node_name);

/* Wake every thread waiting on the node's condition. */
static inline void en_core_broadcast(en_core_t *core)
{
    pthread_cond_broadcast(&core->cond);
}

/* The monotonic clock, in milliseconds. */
uint64_t en_now_ms(void);

#endif
