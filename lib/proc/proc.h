/* proc.h - the processes of a node: mailboxes, the services that live as
 * processes too, and the signals between them and other nodes' processes.
 *
 * A mailbox is a C "process": a pid, perhaps a registered name, a queue,
 * links, monitors and aliases. A service (net_kernel, rex, global, ...)
 * is a mailbox with a handler: what is sent to it goes to a function
 * instead of a queue, so a service is reached, monitored and linked like
 * any Erlang process, and the layers below never name one.
 *
 * This layer sits on the network layer: it takes the packets the
 * connections bring (net/net.h hooks), and sends signals to other nodes
 * through en_emit(), its one way out.
 *
 * Everything expects the node's lock held unless it says otherwise.
 */
#ifndef ENODE_PROC_H
#define ENODE_PROC_H

#include <stddef.h>
#include <stdint.h>

#include <ei.h>

#include "enode.h"
#include "base/core.h"
#include "base/term.h"
#include "net/net.h"
#include "proto/ctrl.h"

typedef struct enode_mbox en_mbox_t;

/* What a service does with a message sent to it: msg is the bare term
 * (no version byte), from the sender when known. Exit signals reach a
 * service as {'EXIT', From, Reason} and monitors as DOWN messages, as
 * they reach a process that traps exits. Called with the lock held. */
typedef void (*en_handler_fn)(void *ud, en_mbox_t *self,
                              const erlang_pid *from, const char *msg,
                              size_t len);

/* A service that follows nodes coming up and going down (global, pg).
 * The caller owns the struct; it stays registered until the node goes. */
typedef struct en_node_watch {
    struct en_node_watch *next;
    void (*up)(void *ud, const char *node);
    void (*down)(void *ud, const char *node);
    void *ud;
} en_node_watch_t;

/* Who answers a SPAWN_REQUEST from a peer (erpc). */
typedef void (*en_spawn_fn)(void *ud, en_conn_t *c, const en_dmsg_t *m);

typedef struct en_proc {
    en_core_t *core;
    en_net_t *net;
    en_mbox_t *mboxes;
    unsigned next_pid_num, next_pid_serial;
    uint64_t unlink_id; /* the last UNLINK_ID we sent */
    uint32_t ref_words[3];
    en_node_watch_t *watches;
    en_spawn_fn spawn;
    void *spawn_ud;
    struct en_spawn_req *spawns; /* our spawn requests awaiting a reply */
    /* Queue limits a new mailbox starts with (0: none), and what a
     * mailbox does when a message would pass its own: the exit, which
     * exit.c owns (mbox.c comes before it). */
    size_t mbox_max_len, mbox_max_bytes;
    void (*mbox_over)(en_mbox_t *mb, size_t incoming);
} en_proc_t;

/* ---- the layer (proc.c) ------------------------------------------------ */

/* Set up, and take the network layer's packets and node events. */
void en_proc_init(en_proc_t *p, en_core_t *core, en_net_t *net);
/* Every mailbox exits (normal) and is freed, services included. */
void en_proc_free(en_proc_t *p);

void en_proc_watch_nodes(en_proc_t *p, en_node_watch_t *w);
/* w hears of nodes no more (a service that goes before the node). */
void en_proc_unwatch_nodes(en_proc_t *p, en_node_watch_t *w);
void en_proc_on_spawn(en_proc_t *p, en_spawn_fn fn, void *ud);

/* A fresh pid and reference on this node. */
void en_make_pid(en_proc_t *p, erlang_pid *pid);
void en_make_ref(en_proc_t *p, erlang_ref *ref);

/* ---- mailboxes and services (mbox.c) --------------------------------------- */

int en_mbox_new_locked(en_proc_t *p, en_mbox_t **out);
/* A service process registered as name (NULL: none), whose messages go
 * to fn. It lives until the node goes. */
int en_service_new(en_proc_t *p, const char *name, en_handler_fn fn,
                   void *ud, en_mbox_t **out);
const erlang_pid *en_mbox_self(const en_mbox_t *mb);
/* The process layer a mailbox belongs to (the node's, for the API). */
en_proc_t *en_mbox_proc(const en_mbox_t *mb);

en_mbox_t *en_mbox_by_pid(en_proc_t *p, const erlang_pid *pid);
/* Whether pid is a mailbox of this node that has not exited. */
int en_pid_alive(en_proc_t *p, const erlang_pid *pid);
en_mbox_t *en_mbox_by_name(en_proc_t *p, const char *name);
/* Drop the messages queued in mb that match accepts (the term with its
 * version byte), as a flush of those messages would. */
void en_mbox_drop(en_mbox_t *mb,
                  int (*match)(const char *term, size_t len, void *ud),
                  void *ud);

/* Selective receive: wait for the first message match() accepts (term
 * with its version byte); the others stay queued in order. Takes the
 * lock itself, and runs the loop while it waits when no thread does. */
typedef int (*en_match_fn)(const char *term, int len, void *ud);
int en_receive_match(en_mbox_t *mb, en_match_fn match, void *ud,
                     enode_msg_t *out, int timeout_ms);

/* ---- sending (send.c, remote.c) -------------------------------------------- */

/* A message from `from` to the pid `to` or to name on node_name (NULL:
 * here), delivered here or queued for the peer, like `!`. */
int en_send_locked(en_proc_t *p, const erlang_pid *from, const erlang_pid *to,
                   const char *msg, size_t len);
int en_reg_send_locked(en_proc_t *p, const erlang_pid *from,
                       const char *node_name, const char *name,
                       const char *msg, size_t len);
/* A message to an alias, on the alias's node (the reference's): to the
 * mailbox whose alias it is, if that is active, else nowhere. */
int en_alias_send_locked(en_proc_t *p, const erlang_pid *from,
                         const erlang_ref *alias, const char *msg,
                         size_t len);

/* exit(To, Reason) from `from`, to a process here or on another node,
 * as enode_exit() sends it. */
void en_exit_locked(en_proc_t *p, const erlang_pid *from,
                    const erlang_pid *to, const char *reason, size_t len);

/* The one way a signal leaves for another node: on the connection to
 * node (dialled if `dial`), encoded for what the peer negotiated. 0, or
 * a code (the error is set). */
int en_emit(en_proc_t *p, const char *node, int dial, const en_sig_t *sig);
/* The same, on c itself: an answer to what c brought. */
int en_emit_on(en_proc_t *p, en_conn_t *c, const en_sig_t *sig);

/* ---- monitors (monitors.c) ------------------------------------------------- */

/* mb monitors pid, or name on node_name; the reference goes to *ref. */
int en_monitor_locked(en_mbox_t *mb, const erlang_pid *pid, const char *name,
                      const char *node_name, erlang_ref *ref);
/* ENODE_ENOTFOUND if mb holds no such monitor (it fired, or never was). */
int en_demonitor_locked(en_mbox_t *mb, const erlang_ref *ref);

/* ---- spawning on other nodes (spawn.c) ------------------------------------ */

/* mb asks node to run module:function(Args...) in a new process, as
 * spawn_request/5 does; the caller has checked that the peer speaks
 * SPAWN. args is the argument list (bare or versioned), gl the new
 * process's group leader.
 *
 * With monitor (erpc's [{reply, error_only}, monitor]), the answer
 * arrives in mb: {'DOWN', ReqId, process, Pid, Reason} when the process
 * ends, or {spawn_reply, ReqId, error, Reason} when none was made
 * (`noconnection` if the node goes before it answers). Without, nothing
 * arrives ([{reply, no}]). *req_id gets ReqId. 0, or ENODE_EINVAL (args
 * is not a proper list of at most 255 elements), ENODE_ECONN, ... */
int en_spawn_request_locked(en_mbox_t *mb, const char *node,
                            const erlang_pid *gl, const char *module,
                            const char *function, const char *args,
                            size_t len, int monitor, erlang_ref *req_id);
/* The length of the proper list term t (bare or versioned, checked
 * within len), or -1 if it is no such thing. */
long en_list_length(const char *t, size_t len);
/* Give up waiting for a request with monitor, as erpc does on a timeout
 * (spawn_request_abandon/1, then demonitor/2 with info): 1 if nothing of
 * it will arrive any more; 0 if its answer is in mb's queue already. */
int en_spawn_abandon_locked(en_mbox_t *mb, const erlang_ref *req_id);

/* ---- gen:call (call.c) ------------------------------------------------------ */

/* Decode {'$gen_call', {Pid, Tag}, Request} in buf (bare, no version
 * byte): the caller, where Tag's bytes are, and where Request starts. */
int en_parse_gen_call(const char *buf, size_t len, erlang_pid *caller,
                      int *tag_at, int *tag_len, int *req_at);

/* Answer a gen:call from `self`: {Tag, Reply}, with the tag copied as it
 * came, to the caller's alias when the tag is [alias | Alias] (or
 * [[alias | Alias] | _]), as gen:reply/2 does since OTP 24, else to the
 * caller's pid. reply is a bare term. */
int en_gen_reply_locked(en_proc_t *p, const erlang_pid *self,
                        const erlang_pid *caller, const char *tag,
                        int tag_len, const char *reply, size_t reply_len);

#endif
