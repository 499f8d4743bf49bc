/* mbox.h - a mailbox and what it holds (private to proc/).
 *
 * The modules of proc/, each using only those listed before it:
 *   ids.c       fresh pids and references
 *   remote.c    the one way a signal leaves for another node
 *   mbox.c      the mailbox: its queue, name, aliases; services
 *   send.c      messages from a mailbox
 *   links.c     the link set, LINK and UNLINK_ID (links.h)
 *   monitors.c  monitors both ways, node monitors (monitors.h)
 *   spawn.c     our spawn requests to other nodes, and their replies
 *   exit.c      exit signals, a mailbox's exit and end (exit.h)
 *   call.c      gen:call both ways
 *   dispatch.c  a peer's packets to the modules above
 *   proc.c      the layer: its hooks into the network layer
 */
#ifndef ENODE_PROC_MBOX_H
#define ENODE_PROC_MBOX_H

#include <stdlib.h>

#include "proc/proc.h"

/* A message waiting in a mailbox. It lives at the end of the allocation
 * that holds the term, which the receiver gets as msg.buff and frees, so
 * a queued message costs one malloc and little more than its own size
 * (an enode_msg_t, with its two atom-sized arrays, is over 2 KiB). A
 * message that came in fragments is queued in the buffer it was gathered
 * in (en_mbox_deliver_buf), the entry in that buffer's spare room. */
typedef struct en_qmsg {
    struct en_qmsg *next;
    char *term;      /* the allocation: version byte 131, then the term */
    int len;         /* bytes at term */
    size_t size;     /* bytes allocated at term, this entry included,
                      * counted in queue_bytes */
    int has_from;
    unsigned from_num, from_serial, from_creation;
    size_t from_node_len, to_name_len;
    char names[];    /* the sender's node, then to_name, each ending in NUL */
} en_qmsg_t;

/* Drop a queued message (the allocation holds q itself). */
static inline void en_qmsg_free(en_qmsg_t *q)
{
    free(q->term);
}

/* A link of a mailbox to a process, here or on another node. */
typedef struct en_link {
    struct en_link *next;
    erlang_pid pid;
} en_link_t;

/* A monitor a mailbox holds on a process (by pid, or by name on a node). */
typedef struct en_mon {
    struct en_mon *next;
    erlang_ref ref;
    int by_name;
    erlang_pid pid;             /* when !by_name */
    char name[MAXATOMLEN_UTF8]; /* when by_name */
    char node[EN_HS_NAME_MAX];  /* the target's node */
} en_mon_t;

/* An alias of a mailbox: a reference that messages can be sent to. */
typedef struct en_alias {
    struct en_alias *next;
    erlang_ref ref;
} en_alias_t;

/* A monitor some process holds on a mailbox. */
typedef struct en_watcher {
    struct en_watcher *next;
    erlang_ref ref;
    erlang_pid watcher;
    int by_name; /* the monitor named us: DOWN says {Name, Node} */
} en_watcher_t;

struct enode_mbox {
    struct enode_mbox *next;
    en_proc_t *proc;
    erlang_pid pid;
    char name[MAXATOMLEN_UTF8]; /* registered name or "" */
    en_qmsg_t *head, *tail;
    size_t queue_len, queue_bytes; /* messages in the queue, their size */
    size_t max_len, max_bytes;     /* over either, the mailbox exits; 0: none */
    en_link_t *links;
    en_mon_t *mons;
    en_watcher_t *watchers;
    en_alias_t *aliases;
    int trap_exit;
    int monitor_nodes;     /* gets {nodeup, N} and {nodedown, N} */
    int dead;              /* exited: receive says ENODE_ECLOSED */
    ei_x_buff exit_reason; /* why, once dead (version byte first) */
    en_handler_fn handler; /* a service: messages go here, not the queue */
    void *handler_ud;
};

/* The node's lock, from a mailbox. */
#define en_mbox_lock(mb) (&(mb)->proc->core->lock)

/* ---- mbox.c ---- */
en_mbox_t *en_mbox_by_alias(en_proc_t *p, const erlang_ref *alias);
/* The mailbox of this node that pid names, if it has not exited. */
en_mbox_t *en_mbox_live(en_proc_t *p, const erlang_pid *pid);
/* Put a message in mb's queue, or hand it to its service. The term is
 * with or without its version byte. A message that would take the queue
 * over the mailbox's limit makes it exit instead (mbox_over). */
int en_mbox_deliver(en_mbox_t *mb, const erlang_pid *from,
                    const char *to_name, const char *msg, size_t len);
/* The same for a term in a buffer of its own, 131 first (a message that
 * came in fragments): when it goes to the queue, the buffer itself is
 * queued, its allocation growing only if the entry does not fit behind
 * the term, and *term is left empty. Otherwise (a service, a dead
 * mailbox, no memory) *term is left as it was. The
 * mailbox's limit counts the buffer as it does any message. */
int en_mbox_deliver_buf(en_mbox_t *mb, const erlang_pid *from,
                        const char *to_name, en_buf_t *term);
/* Drop every queued message. */
void en_mbox_clear_queue(en_mbox_t *mb);

#endif
