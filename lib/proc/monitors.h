/* monitors.h - monitors held by and on mailboxes, and node monitors
 * (private to proc/). */
#ifndef ENODE_PROC_MONITORS_H
#define ENODE_PROC_MONITORS_H

#include "proc/mbox.h"

/* 1 if m was a monitor signal, now handled. */
int en_monitors_dispatch(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m);
/* mb exits: DOWN to its watchers (named as `name` if they monitored the
 * name), and its own monitors are dropped. */
void en_monitors_on_exit(en_mbox_t *mb, const char *name, const char *reason,
                         size_t len);
/* Every monitor held on, or by, a process of the lost node fires. */
void en_monitors_node_down(en_proc_t *p, const char *peer);
/* {nodeup, Peer} or {nodedown, Peer} to the mailboxes that monitor nodes. */
void en_monitors_tell_nodes(en_proc_t *p, const char *what, const char *peer);

#endif
