/* fakepeer.h - a fake Erlang node that tests drive by hand.
 *
 * A fake peer speaks the distribution protocol to a real enode node that
 * lives in the same process, over plain TCP on loopback, so that a test
 * can play the other node's part packet by packet: no OTP, no EPMD, no
 * threads. It is built from the library's pure codecs only -- the
 * handshake state machine (proto/handshake.h), the control message codec
 * (proto/ctrl.h), framing and fragments -- and touches the node under test
 * through the public API (enode.h) alone, so tests written with it hold
 * whatever the runtime's insides look like.
 *
 * The node runs in event-loop mode on the test's own thread. Whenever the
 * peer waits (for a packet, for the handshake, for room to write) it
 * pumps the node: it polls the node's fd and its own socket together and
 * calls enode_process(node, 0) whenever it wakes. Everything therefore
 * happens in a fixed order, and a test never sleeps. A test that waits on
 * a mailbox instead (enode_receive) runs the node the same way, while the
 * peer's socket simply buffers what the node sends.
 *
 * Both roles:
 *
 *     fp_t *fp;
 *     fp_connect(&fp, node, NULL);       the peer dials the node
 *
 *     fp_listen(&fp, node, NULL);        the node will dial the peer, as
 *     enode_send(mb, &peer_pid, &msg);   any send to one of its pids makes
 *     fp_accept(fp, 2000);               it do
 *
 * Then the peer sends control messages (fp_link, fp_send, fp_exit2, ...)
 * and waits for the node's (fp_expect, fp_expect_op). Packets the peer
 * received but no fp_expect asked for stay queued, in order, as in a
 * selective receive. fp_sync() is a round trip through the node's
 * net_kernel: when it returns, the node has handled everything the peer
 * sent before it, and everything the node sent before its answer is in
 * the peer's queue. That makes "nothing happened" checks exact: sync, then
 * look at the queue (fp_count) or the mailbox (enode_receive, 0 ms).
 *
 * The peer's processes are pids on the peer's node name (fp_pid), so the
 * node sees them as remote; references come from fp_ref.
 *
 * Terms are ei_x_buffs, with or without the version byte. Terms the peer
 * receives are bare (no 131), as en_ctrl_decode hands them out;
 * fp_text() prints either kind the way ei_print_term does, which makes
 * readable assertions: "{'EXIT', <peer@localhost.3.0>, boom}".
 *
 * Every function that can fail returns 0 (or a pointer) on success and -1
 * (or NULL) on failure, with a sentence in fp_error(). Nothing here calls
 * Criterion: the peer is usable from any test framework or program.
 */
#ifndef FAKEPEER_H
#define FAKEPEER_H

#include <stddef.h>
#include <stdint.h>

#include <enode.h>

#include "base/buf.h"
#include "proto/ctrl.h"
#include "proto/dflags.h"
#include "proto/handshake.h"

/* The peer's name unless the config gives one. */
#define FP_DEFAULT_NAME "peer@localhost"

/* What OTP 26 and later advertise, minus PUBLISHED: by default the peer
 * is a hidden node, so the node's global service stays quiet (a visible
 * peer gets global's init_connect right after the handshake). Add
 * EN_DFLAG_PUBLISHED to be visible; take flags away to play an older or
 * smaller peer (without FRAGMENTS the node must write the pass-through
 * form, without DIST_MONITOR it must send no MONITOR_P, ...). */
#define FP_FLAGS_DEFAULT                                                       \
    (EN_DFLAGS_MANDATORY_26 | EN_DFLAG_DIST_MONITOR |                          \
     EN_DFLAG_DIST_MONITOR_NAME | EN_DFLAG_SEND_SENDER |                       \
     EN_DFLAG_BIG_SEQTRACE_LABELS | EN_DFLAG_UNICODE_IO |                      \
     EN_DFLAG_EXIT_PAYLOAD | EN_DFLAG_FRAGMENTS | EN_DFLAG_SPAWN |             \
     EN_DFLAG_ALIAS)

/* How long fp_* calls that wait for the node wait by default: far longer
 * than anything takes on loopback, short enough that a broken test fails
 * quickly. */
#define FP_TIMEOUT_MS 3000

typedef struct fp_config {
    const char *name;   /* full node name; NULL: FP_DEFAULT_NAME */
    const char *cookie; /* must be the node's; NULL: FP_DEFAULT_COOKIE */
    uint64_t flags;     /* advertised; 0: FP_FLAGS_DEFAULT */
    uint32_t creation;  /* 0: FP_DEFAULT_CREATION */
} fp_config_t;

#define FP_DEFAULT_COOKIE "fakepeer-cookie"
#define FP_DEFAULT_CREATION 0x5EED0001u

/* One packet the node sent, whole (fragments already put together). */
typedef struct fp_pkt {
    int rc;        /* what en_ctrl_decode returned: 0, or EN_CTRL_EUNKNOWN
                      for a well-formed op it does not know (m.op) */
    en_dmsg_t m;   /* decoded; its pointers point into data */
    uint8_t *data; /* the packet after its length prefix, as decoded */
    size_t len;
    int passthrough; /* it came in the 112 form (else 131 68 0) */
    int fragments;   /* how many fragments it came in; 0: not fragmented */
    struct fp_pkt *next;
} fp_pkt_t;

typedef struct fakepeer fp_t;

/* ---- life ---------------------------------------------------------------- */

/* Dial the node (at 127.0.0.1:enode_port(node)) and run the handshake as
 * the initiator. cfg may be NULL for the defaults. On failure *out is
 * still set when the peer could be made (read fp_error, then fp_free);
 * NULL only when out of memory. */
int fp_connect(fp_t **out, enode_t *node, const fp_config_t *cfg);

/* Listen on 127.0.0.1 and tell the node where the peer is
 * (enode_set_peer_port), so that the next time the node needs the peer it
 * dials this socket. *out as for fp_connect. */
int fp_listen(fp_t **out, enode_t *node, const fp_config_t *cfg);

/* After fp_listen: wait for the node to connect, at most timeout_ms, and
 * run the handshake as the acceptor. */
int fp_accept(fp_t *fp, int timeout_ms);

/* Close the connection without a word, as a crashed node would. The node
 * notices on its next turn (links and monitors across it fire with
 * noconnection). Packets still queued are kept. */
void fp_close(fp_t *fp);

/* Close the connection and the listening socket, and free the peer. The
 * node is not freed. NULL is allowed. */
void fp_free(fp_t *fp);

/* The reason for the last failure, in words. */
const char *fp_error(const fp_t *fp);

/* ---- what was agreed ----------------------------------------------------- */

const char *fp_name(const fp_t *fp);
/* The flags both sides advertised (the handshake's AND). */
uint64_t fp_flags(const fp_t *fp);
/* EN_WIRE_DISTHDR when FRAGMENTS was agreed, else EN_WIRE_PASSTHROUGH:
 * the form the peer sends in, and the one the node must use. */
int fp_wire(const fp_t *fp);
/* The node's creation and flags as it sent them in the handshake. */
uint32_t fp_node_creation(const fp_t *fp);
uint64_t fp_node_flags(const fp_t *fp);
/* 1 once the node has closed the connection (or fp_close was called). */
int fp_closed(const fp_t *fp);
/* Ticks received from the node so far. */
unsigned fp_ticks(const fp_t *fp);
/* Packets from the node that en_ctrl_decode refused (they are queued
 * too, with rc < 0): a node that sends one is broken, so a test's
 * teardown checks that this is 0. */
unsigned fp_malformed(const fp_t *fp);

/* ---- the peer's processes ------------------------------------------------ */

/* <Name.num.0> with the peer's creation. */
void fp_pid(const fp_t *fp, unsigned num, erlang_pid *pid);
/* A fresh reference on the peer's node. */
void fp_ref(fp_t *fp, erlang_ref *ref);

/* ---- sending ------------------------------------------------------------- */

/* One control message each, in the peer's wire form. Terms are one
 * complete external term, with or without the version byte. */

/* SEND {2, '', To} + Msg */
int fp_send(fp_t *fp, const erlang_pid *to, const ei_x_buff *msg);
/* SEND_SENDER {22, From, To} + Msg */
int fp_send_sender(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                   const ei_x_buff *msg);
/* REG_SEND {6, From, '', ToName} + Msg */
int fp_reg_send(fp_t *fp, const erlang_pid *from, const char *to_name,
                const ei_x_buff *msg);
/* ALIAS_SEND {33, From, Alias} + Msg */
int fp_alias_send(fp_t *fp, const erlang_pid *from, const erlang_ref *alias,
                  const ei_x_buff *msg);
/* LINK {1, From, To} */
int fp_link(fp_t *fp, const erlang_pid *from, const erlang_pid *to);
/* UNLINK_ID {35, Id, From, To} and UNLINK_ID_ACK {36, Id, From, To} */
int fp_unlink_id(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                 uint64_t id);
int fp_unlink_id_ack(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                     uint64_t id);
/* EXIT {3, From, To, Reason}: a link's exit signal */
int fp_exit(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
            const ei_x_buff *reason);
/* EXIT2 {8, From, To, Reason}: exit/2 */
int fp_exit2(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
             const ei_x_buff *reason);
/* PAYLOAD_EXIT {24, From, To} + Reason, PAYLOAD_EXIT2 {26, From, To} +
 * Reason: the forms OTP uses when EXIT_PAYLOAD is agreed */
int fp_payload_exit(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                    const ei_x_buff *reason);
int fp_payload_exit2(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                     const ei_x_buff *reason);
/* MONITOR_P {19, From, ToProc, Ref} and DEMONITOR_P {20, ...}: ToProc is
 * to_pid, or the registered name to_name (give exactly one). */
int fp_monitor(fp_t *fp, const erlang_pid *from, const erlang_pid *to_pid,
               const char *to_name, const erlang_ref *ref);
int fp_demonitor(fp_t *fp, const erlang_pid *from, const erlang_pid *to_pid,
                 const char *to_name, const erlang_ref *ref);
/* MONITOR_P_EXIT {21, FromProc, To, Ref, Reason}: the process the node
 * monitored is gone. FromProc is from_pid, or from_name for a monitor by
 * name (give exactly one). PAYLOAD_MONITOR_P_EXIT {28, FromProc, To,
 * Ref} + Reason is the EXIT_PAYLOAD form. */
int fp_monitor_exit(fp_t *fp, const erlang_pid *from_pid, const char *from_name,
                    const erlang_pid *to, const erlang_ref *ref,
                    const ei_x_buff *reason);
int fp_payload_monitor_exit(fp_t *fp, const erlang_pid *from_pid,
                            const char *from_name, const erlang_pid *to,
                            const erlang_ref *ref, const ei_x_buff *reason);
/* SPAWN_REQUEST 29 {29, ReqId, From, GroupLeader, {M, F, Arity}, Opts}
 * followed by the argument list; opts is a list term such as [monitor]. */
int fp_spawn_request(fp_t *fp, const erlang_ref *req_id, const erlang_pid *from,
                     const erlang_pid *group_leader, const char *module,
                     const char *function, long arity, const ei_x_buff *opts,
                     const ei_x_buff *args);

/* Any control tuple, and the term after it (msg may be NULL), framed in
 * the peer's wire form: for ops the helpers above do not cover, the _TT
 * variants, or deliberately wrong tuples. */
int fp_send_ctrl(fp_t *fp, const ei_x_buff *ctrl, const ei_x_buff *msg);
/* Appends the packet fp_send_ctrl would send (length prefix included) to
 * out instead, for a test that cuts or interleaves packets itself. */
int fp_encode_ctrl(const fp_t *fp, en_buf_t *out, const ei_x_buff *ctrl,
                   const ei_x_buff *msg);
/* One packet of len bytes, the length prefix added: for malformed data. */
int fp_send_packet(fp_t *fp, const void *data, size_t len);
/* Bytes as they are, no prefix added. */
int fp_send_bytes(fp_t *fp, const void *data, size_t len);
/* A tick (an empty packet). */
int fp_tick(fp_t *fp);

/* Send in this wire form (EN_WIRE_PASSTHROUGH or EN_WIRE_DISTHDR)
 * whatever was agreed, as a broken peer would; -1 goes back to
 * fp_wire(). */
void fp_force_wire(fp_t *fp, int wire);

/* From now on, cut every message the peer sends whose control tuple and
 * term exceed frag_size bytes into fragments of that size, as OTP does at
 * 64 KiB; 0 turns it off. Needs FRAGMENTS agreed; the control tuple must
 * fit in the first fragment. */
void fp_set_fragment_size(fp_t *fp, size_t frag_size);

/* ---- receiving ----------------------------------------------------------- */

/* A test of one packet; ud is the test's own. */
typedef int (*fp_match_fn)(const fp_pkt_t *pkt, void *ud);

/* The first queued packet that match accepts (NULL match: any packet),
 * waiting at most timeout_ms for it while pumping the node. The packet
 * leaves the queue; it belongs to the peer and stays valid until the next
 * fp_expect* call or fp_free. NULL on timeout or if the connection
 * closed first (see fp_error). Ticks are counted, never queued. */
const fp_pkt_t *fp_expect(fp_t *fp, fp_match_fn match, void *ud,
                          int timeout_ms);
/* The first packet with control op `op`. */
const fp_pkt_t *fp_expect_op(fp_t *fp, int op, int timeout_ms);
/* The first packet with op `op` addressed to the pid `to`. */
const fp_pkt_t *fp_expect_to(fp_t *fp, int op, const erlang_pid *to,
                             int timeout_ms);

/* How many queued packets match accepts (NULL: all), without waiting or
 * taking any. Use after fp_sync for "the node sent no such thing". */
int fp_count(const fp_t *fp, fp_match_fn match, void *ud);
/* Drop every queued packet. */
void fp_flush(fp_t *fp);

/* A round trip: a gen:call {is_auth, PeerName} to the node's net_kernel
 * and its answer, waited for at most timeout_ms. See the top of this
 * file for what it guarantees. */
int fp_sync(fp_t *fp, int timeout_ms);

/* Run the node and read what it sends for ms milliseconds, or until the
 * connection closes. For tests of time itself; others use fp_sync. */
void fp_pump(fp_t *fp, int ms);

/* Stop (1) or resume (0) running the node while the peer waits: for a
 * test in which another thread runs the node's loop, such as a thread
 * waiting in enode_rpc_call or enode_call in event-loop mode, or the
 * node's own thread. The peer then only reads and writes its socket. */
void fp_set_passive(fp_t *fp, int passive);

/* Wait until the node closes the connection. 0, or -1 after timeout_ms. */
int fp_wait_closed(fp_t *fp, int timeout_ms);

/* ---- terms --------------------------------------------------------------- */

/* Longest text fp_text returns; longer texts are cut. */
#define FP_TEXT_MAX 16384

/* The term at term[0..len) (bare, or with its version byte) as text, as
 * ei_print_term writes it: pids as <node.num.serial>, references as
 * #Ref<n0.n1.n2>. A static buffer, one of eight used in turn, so a few
 * calls can share one assertion. "(bad term)" if it does not decode. */
const char *fp_text(const char *term, size_t len);
/* The same for a whole ei_x_buff (a message from enode_receive, say). */
const char *fp_xtext(const ei_x_buff *x);
/* A pid and a reference as fp_text prints them inside a term. */
const char *fp_pid_text(const erlang_pid *pid);
const char *fp_ref_text(const erlang_ref *ref);

/* 1 if the two are the same pid or reference (node, numbers, creation). */
int fp_pid_eq(const erlang_pid *a, const erlang_pid *b);
int fp_ref_eq(const erlang_ref *a, const erlang_ref *b);

#endif
