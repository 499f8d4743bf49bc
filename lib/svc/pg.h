/* pg.h - enode's part in OTP's process groups, `pg` (internal).
 *
 * How it works is described at the top of pg.c. The node layer calls
 * these with the node's lock held; groups are given as canonical bare
 * terms (proto/term_canon.h), scopes as atom texts.
 */
#ifndef ENODE_SVC_PG_H
#define ENODE_SVC_PG_H

#include <stddef.h>

#include <ei.h>

#include "proc/proc.h"

typedef struct en_pg en_pg_t;

/* Follow nodes for pg; no scope runs yet. 0, or a code. */
int en_pg_start(en_pg_t **pg, en_proc_t *p);
/* The node is going: pg stops following nodes, before the mailboxes go
 * (a scope's process may go first, and nodes may go down meanwhile). */
void en_pg_stop(en_pg_t *pg);
/* Free pg's state once the mailboxes are gone (NULL is allowed). */
void en_pg_free(en_pg_t *pg);

/* Start the scope on this node if it does not run: a service process
 * registered under its name, which then discovers the scopes of the same
 * name on the visible nodes. ENODE_EEXIST if a mailbox that is not a
 * scope holds the name. */
int en_pg_scope(en_pg_t *pg, const char *scope);

/* member joins or leaves group; member must be a live local mailbox.
 * leave: ENODE_ENOTFOUND if it was not in the group. */
int en_pg_join(en_pg_t *pg, const char *scope, const erlang_pid *member,
               const char *group, size_t len);
int en_pg_leave(en_pg_t *pg, const char *scope, const erlang_pid *member,
                const char *group, size_t len);

/* The members of group (local ones only if local_only) into pids, up to
 * max; how many there are. */
int en_pg_members(en_pg_t *pg, const char *scope, const char *group,
                  size_t len, int local_only, erlang_pid *pids, int max);

/* The groups that have members (local ones if local_only), as a list
 * term appended to out; how many. */
int en_pg_groups(en_pg_t *pg, const char *scope, int local_only,
                 ei_x_buff *out);

/* watcher gets {Ref, join | leave, Group, [Pid]} for group (NULL: every
 * group of the scope), the current members first as joins. */
int en_pg_monitor(en_pg_t *pg, const char *scope, const erlang_pid *watcher,
                  const char *group, size_t len, erlang_ref *ref);
/* ENODE_ENOTFOUND if watcher holds no such monitor. */
int en_pg_demonitor(en_pg_t *pg, const char *scope, const erlang_pid *watcher,
                    const erlang_ref *ref);

#endif
