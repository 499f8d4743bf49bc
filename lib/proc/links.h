/* links.h - the link set of a mailbox, and LINK / UNLINK_ID from peers
 * (private to proc/). */
#ifndef ENODE_PROC_LINKS_H
#define ENODE_PROC_LINKS_H

#include "proc/mbox.h"

int en_linked(const en_mbox_t *mb, const erlang_pid *pid);
/* 0, or ENODE_ENOMEM; a link that is there already is left alone. */
int en_link_add(en_mbox_t *mb, const erlang_pid *pid);
/* 1 if there was a link to remove. */
int en_link_remove(en_mbox_t *mb, const erlang_pid *pid);
/* 1 if m was LINK, UNLINK, UNLINK_ID or its ack, now handled. */
int en_links_dispatch(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m);

#endif
