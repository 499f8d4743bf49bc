/* exit.h - exit signals, and a mailbox's exit and end (private to
 * proc/). */
#ifndef ENODE_PROC_EXIT_H
#define ENODE_PROC_EXIT_H

#include "proc/mbox.h"

enum { EN_SIG_LINK, EN_SIG_EXIT2 }; /* a link broke; exit/2 */
/* An exit signal from `from` arrives at mb (reason bare or versioned). */
void en_exit_signal(en_mbox_t *mb, const erlang_pid *from,
                    const char *reason, size_t len, int kind);
/* The mailbox exits with reason: links, watchers and monitors learn. */
void en_mbox_exit_locked(en_mbox_t *mb, const char *reason, size_t len);
/* A message would take mb over its queue limit: it exits with `killed`,
 * saying why in the log (proc.c makes this en_proc_t's mbox_over). */
void en_mbox_over_limit(en_mbox_t *mb, size_t incoming);
/* Exits normally if it has not exited, then goes. */
void en_mbox_free_locked(en_mbox_t *mb);
/* 1 if m was an exit signal (EXIT, EXIT2 and their forms), now handled. */
int en_exit_dispatch(en_proc_t *p, const en_dmsg_t *m);
/* The peer is gone: every link to it breaks with noconnection. */
void en_exit_node_down(en_proc_t *p, const char *peer);

#endif
