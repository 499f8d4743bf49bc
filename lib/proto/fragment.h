/* fragment.h - fragmented distribution messages, both directions.
 *
 * With DFLAG_FRAGMENTS negotiated, OTP cuts a message whose control term
 * and payload together exceed 64 KiB into fragments (doc/internals.md
 * section 7; erl_ext_dist's section on fragments):
 *
 *   first      131 69 SeqId:64 FragId:64 N | Ctrl + start of the message
 *   following  131 70 SeqId:64 FragId:64   | more of the message
 *
 * FragId starts at the number of fragments and counts down to 1, so the
 * first fragment says how many follow and FragId 1 ends the message.
 * SeqId names the sequence (OTP uses the sending process), and fragments
 * of different sequences may interleave on one connection. N is the
 * number of atom cache references; this node never negotiates the atom
 * cache, so N is always 0 and the cache flags and refs are absent.
 *
 * Receiving: an en_frag_table_t per connection collects the fragments of
 * each sequence. The control term comes whole in the first fragment
 * (OTP never cuts it), so the table keeps it apart, as `131 68 0 | Ctrl`,
 * and gathers the message behind a version byte, `131 | Msg`, in a
 * buffer of its own sized up front from the first fragment's FragId
 * (the number of fragments). en_frag_feed_msg() hands the two out, and
 * the message buffer may be taken as it is: a mailbox queues it without
 * a copy, and a large message costs its own size once, in pages written
 * once. en_frag_feed() joins the two into the plain header form
 * `131 68 0 | Ctrl | Msg` that en_ctrl_decode() reads (one copy more).
 * Each fragment's data is copied exactly once into its sequence.
 *
 * Sending: en_frag_split() cuts one encoded packet into fragments the way
 * OTP does, or passes it through when it is small enough;
 * en_frag_split_tail() does it in place, for a packet just queued.
 *
 * Both are pure: no sockets, no clocks, no logging.
 */
#ifndef ENODE_FRAGMENT_H
#define ENODE_FRAGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Message bytes (control term and payload) per fragment, as OTP uses
 * (dist.h ERTS_DIST_FRAGMENT_SIZE). */
#define EN_FRAG_SIZE (64 * 1024)

/* Bytes in front of the data of a first (131 69 SeqId FragId N) and of a
 * following (131 70 SeqId FragId) fragment. */
#define EN_FRAG_FIRST_HDR_LEN 19
#define EN_FRAG_CONT_HDR_LEN 18

/* Bytes reserved behind a message gathered apart for its last fragment
 * (of unknown size) and, what that leaves, for whoever takes the buffer
 * to put its bookkeeping there without reallocating a large block. */
#define EN_FRAG_BODY_ROOM 4096

/* Most bytes reserved up front for one message, whatever its first
 * fragment announces; a larger one grows geometrically from there. */
#define EN_FRAG_PRESIZE_MAX ((size_t)256 * 1024 * 1024)

/* Return codes of en_frag_feed(). */
#define EN_FRAG_PENDING 0    /* fragment stored; the message is not whole */
#define EN_FRAG_COMPLETE 1   /* the message is whole: see *msg */
#define EN_FRAG_EPROTO (-1)  /* the peer broke the fragment rules */
#define EN_FRAG_ETOOBIG (-2) /* a message grew past max_message */
#define EN_FRAG_ENOMEM (-3)  /* out of memory */
#define EN_FRAG_ETOOMANY (-4) /* a sequence past max_sequences */

struct en_frag_seq; /* one sequence being received; private */

/* The fragments being received on one connection. Embed it, initialise
 * it with en_frag_init() and release it with en_frag_free(). */
typedef struct en_frag_table {
    struct en_frag_seq *slots; /* open-addressing hash on SeqId */
    size_t nslots;             /* 0 or a power of two */
    size_t live;               /* sequences with fragments outstanding */
    size_t pending;            /* bytes allocated for them */
    size_t held;               /* bytes received for them (headers too) */
    size_t max_message;        /* limit on held, and so on each message */
    size_t max_sequences;      /* limit on live; 0: none */
    en_buf_t done;             /* the message the last call completed: */
    en_buf_t done_body;        /* its head, and its message if apart */
} en_frag_table_t;

/* A whole message, as en_frag_feed_msg() hands it out. */
typedef struct en_frag_msg {
    const uint8_t *head; /* 131 68 0 | Ctrl, and Msg too when body is NULL */
    size_t head_len;
    /* NULL, or the message (the term after Ctrl) with a version byte in
     * front, 131 | Msg, in a buffer of its own, most often with some
     * spare bytes behind it (up to EN_FRAG_BODY_ROOM, what its last
     * fragment left of the reservation). The caller may take the
     * buffer (copy the en_buf_t and en_buf_init() this one); else it
     * stays the table's, like head. */
    en_buf_t *body;
} en_frag_msg_t;

/* Starts an empty table. max_message bounds each reassembled message in
 * bytes, counted as *msg_len is (the 3-byte 131 68 0 header included),
 * and also the bytes of all the unfinished messages together: a peer
 * that opens many sequences and never finishes them can make the table
 * hold no more than one message of the largest size would. There is no
 * limit on how many sequences are open until en_frag_set_max_sequences()
 * sets one. */
void en_frag_init(en_frag_table_t *t, size_t max_message);

/* At most max sequences open at once (0: no limit); a first fragment
 * beyond that is refused with EN_FRAG_ETOOMANY. It bounds the
 * bookkeeping of sequences that each hold only a few bytes. Kept by
 * en_frag_free(). */
void en_frag_set_max_sequences(en_frag_table_t *t, size_t max);

/* Frees every half-received message and the last completed one. The
 * table is then empty and may be used again with the same limits. */
void en_frag_free(en_frag_table_t *t);

/* Takes one packet's data (what follows the 4-byte length), which must
 * start with 131 69 or 131 70. Returns
 *   EN_FRAG_PENDING   the fragment is stored; *msg = NULL, *msg_len = 0;
 *   EN_FRAG_COMPLETE  *msg / *msg_len hold the whole message as
 *                     `131 68 0 | Ctrl | Msg`, ready for en_ctrl_decode().
 *                     The bytes belong to the table and stay valid until
 *                     the next en_frag_feed() or en_frag_free();
 *   < 0               an EN_FRAG_E* code, with a sentence in err (if err is
 *                     not NULL): a truncated header, a packet that is not
 *                     a fragment, FragId 0, N > 0, a 131 69 reusing a
 *                     SeqId still being received, a 131 70 for a SeqId
 *                     that is not, a FragId out of order, a message over
 *                     max_message, unfinished messages holding more than
 *                     max_message together (EN_FRAG_ETOOBIG), a sequence
 *                     past max_sequences (EN_FRAG_ETOOMANY). The
 *                     sequence concerned, if any, is discarded; the
 *                     others are kept. Any of these means
 *                     the peer is broken or hostile: drop the connection.
 * Nothing the peer sends makes it read outside data[0..len). */
int en_frag_feed(en_frag_table_t *t, const uint8_t *data, size_t len,
                 const uint8_t **msg, size_t *msg_len, char *err,
                 size_t errlen);

/* The same, handing the message out in two parts (en_frag_msg_t): its
 * head, and when the control term was whole in the first fragment (as
 * OTP always sends it), the message apart, versioned, in a buffer that
 * the caller may take. The head's bytes, and the body's if not taken,
 * stay valid until the next call or en_frag_free(). On anything but
 * EN_FRAG_COMPLETE *out is all zero. */
int en_frag_feed_msg(en_frag_table_t *t, const uint8_t *data, size_t len,
                     en_frag_msg_t *out, char *err, size_t errlen);

/* Bytes allocated for messages still missing fragments. */
size_t en_frag_pending_bytes(const en_frag_table_t *t);

/* Bytes received for them, which max_message bounds. */
size_t en_frag_held_bytes(const en_frag_table_t *t);

/* Appends to out the packet `Len:32 | 131 68 0 | Ctrl | Msg` (as the
 * en_ctrl_* encoders write it with EN_WIRE_DISTHDR) ready for the wire:
 * unchanged when Ctrl + Msg is at most frag_size bytes, otherwise as
 * fragments of sequence seq_id, each a complete `Len:32 | ...` packet
 * carrying at most frag_size bytes of Ctrl + Msg, in order FragId = total
 * down to 1. Use EN_FRAG_SIZE for frag_size, and for seq_id a value no
 * other message on the connection is using while this one is in flight.
 * Returns 0, or leaves out unchanged and returns
 *   EN_CTRL_EINVAL   packet is not one header-form packet with a
 *                    well-formed control term and a matching length,
 *                    frag_size is 0, or the control term is longer than
 *                    frag_size (OTP requires it whole in the first
 *                    fragment);
 *   EN_CTRL_ETOOBIG  a fragment would not fit Len:32;
 *   EN_CTRL_ENOMEM   out of memory.
 * packet must not point into out. */
int en_frag_split(en_buf_t *out, const uint8_t *packet, size_t packet_len,
                  uint64_t seq_id, size_t frag_size);

/* The same, in place: the packet is the last thing in buf, from
 * buf->data[at] to its end, and is cut there, buf growing by the
 * fragment headers only (no second copy of a large message). Returns
 * what en_frag_split() returns; on failure buf is as it was. */
int en_frag_split_tail(en_buf_t *buf, size_t at, uint64_t seq_id,
                       size_t frag_size);

#endif
