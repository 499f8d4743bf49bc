/* bench_proto.h - the messages of ./dev bench, shared by every C side.
 *
 * The same protocol runs between any sender and receiver, C or Erlang
 * (bench_erl.erl is the Erlang half). A receiver is a process registered
 * as `bench`; it answers:
 *
 *   {hello, 42, [1,2,3]}            the small-tuple workload: counted
 *   {Seq, Binary}                   the binary workloads: Seq must be the
 *                                   number of messages counted so far
 *   {bench_mark, From, K, Sent}     every chunk of messages: Sent must equal
 *                                   the count; answers From ! {bench_ack, K}
 *   {bench_end, From, Sent, Bytes}  answers From ! {bench_done, Result,
 *                                   Count, Bytes} (Result: ok or what went
 *                                   wrong first) and starts counting anew
 *   {bench_ping, From, Seq}         answers From ! {bench_pong, Seq}
 *
 * A sender keeps at most a window of marks unacknowledged, so that a C
 * sender (enode_send never blocks) and an Erlang one (the distribution
 * buffer's busy limit) queue about as much.
 */
#ifndef ENODE_BENCH_PROTO_H
#define ENODE_BENCH_PROTO_H

#include <stddef.h>

#include <ei.h>

/* The throughput workloads. */
typedef enum bench_kind {
    BENCH_SMALL = 0, /* {hello, 42, [1,2,3]} */
    BENCH_BIN_1K,    /* {Seq, <<_:1024/binary>>} */
    BENCH_BIN_64K,
    BENCH_BIN_1M,
    BENCH_NKINDS
} bench_kind_t;

/* Binary size of a workload, 0 for the small tuple. */
size_t bench_kind_bytes(bench_kind_t kind);
/* "small", "bin_1k", "bin_64k", "bin_1m": the names bench_erl knows. */
const char *bench_kind_name(bench_kind_t kind);

/* ---- receiving side ------------------------------------------------------ */

/* What a receiver has counted since the last bench_end. */
typedef struct bench_sink {
    long count;      /* data messages */
    long long bytes; /* binary bytes among them */
    char error[200]; /* the first thing that went wrong, "" if none */
} bench_sink_t;

/* Account for one received message (external format, version byte first,
 * `len` bytes). When it asks for an answer, encodes the answer into
 * `reply` (fresh, with a version byte), copies where it goes into
 * `reply_to` and returns 1; otherwise 0. */
int bench_sink_take(bench_sink_t *sink, const char *msg, size_t len,
                    ei_x_buff *reply, erlang_pid *reply_to);

/* ---- sending side -------------------------------------------------------- */

/* A data message to send again and again: for binaries the Seq in it is
 * rewritten in place (bench_payload_set_seq), never re-encoded. */
typedef struct bench_payload {
    bench_kind_t kind;
    ei_x_buff x;
    int seq_at; /* offset of the 4-byte big-endian Seq, or -1 */
} bench_payload_t;

int bench_payload_init(bench_payload_t *p, bench_kind_t kind);
void bench_payload_set_seq(bench_payload_t *p, long seq);
void bench_payload_free(bench_payload_t *p);

/* {bench_mark, From, K, Sent}, {bench_end, From, Sent, Bytes} and
 * {bench_ping, From, Seq}, into a fresh buffer. */
int bench_encode_mark(ei_x_buff *x, const erlang_pid *from, long k, long sent);
int bench_encode_end(ei_x_buff *x, const erlang_pid *from, long sent,
                     long long bytes);
int bench_encode_ping(ei_x_buff *x, const erlang_pid *from, long seq);

/* What came back to a sender. */
typedef struct bench_reply {
    enum { BENCH_R_ACK, BENCH_R_DONE, BENCH_R_PONG, BENCH_R_OTHER } type;
    long k;           /* ack: K; pong: Seq */
    int ok;           /* done: Result was ok */
    char result[200]; /* done: Result as text when not ok */
    long count;       /* done */
    long long bytes;  /* done */
} bench_reply_t;

void bench_decode_reply(const char *msg, size_t len, bench_reply_t *r);

#endif
