/* spawn.h - the replies to this node's spawn requests (private to
 * proc/). */
#ifndef ENODE_PROC_SPAWN_H
#define ENODE_PROC_SPAWN_H

#include "proc/mbox.h"

/* A SPAWN_REPLY from c's peer. */
void en_spawn_reply(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m);
/* The peer is gone: its requests fail with noconnection. */
void en_spawn_node_down(en_proc_t *p, const char *peer);
/* The layer goes: drop every request. */
void en_spawn_free_all(en_proc_t *p);

#endif
