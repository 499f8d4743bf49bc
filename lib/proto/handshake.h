/* handshake.h - the distribution handshake, both roles, as a pure state
 * machine.
 *
 * The machine is fed the peer's bytes and appends the bytes to send to an
 * en_buf_t.  It owns no socket and reads no clock: the caller runs the
 * setup timer (OTP's net_setuptime, 7 s by default) and closes the
 * connection when the machine reports EN_HS_FAILED.  Message layouts and
 * the order of steps are in doc/internals.md section 5.
 *
 * Typical use:
 *
 *     en_hs_t hs;
 *     if (en_hs_init(&hs, &cfg) < 0 || en_hs_start(&hs, &out) < 0)
 *         fail(hs.errmsg);
 *     ... send `out`; for every chunk read, appended to `in`:
 *     size_t used;
 *     enum en_hs_state st = en_hs_feed(&hs, in.data, in.len, &used, &out);
 *     en_buf_consume(&in, used);
 *     ... send `out` even if st is EN_HS_FAILED: it may hold a refusal
 *     ("not_allowed", "nok") that the peer should see before the close.
 *     if (st == EN_HS_DONE) the connection is up; `in` may already hold
 *     distribution data, which now belongs to the connection.
 *     On EOF or when the setup timer fires while still RUNNING, call
 *     en_hs_peer_closed() or en_hs_timed_out() for a message in words.
 *
 * An en_hs_t is about 5 KiB and holds no pointers to memory it owns, so
 * it needs no destructor.
 */
#ifndef ENODE_HANDSHAKE_H
#define ENODE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Bytes in a node name or cookie, plus the NUL.  Both are atoms in OTP,
 * at most 255 characters, which UTF-8 may spell in up to 1020 bytes. */
#define EN_HS_NAME_MAX   1024
#define EN_HS_COOKIE_MAX 1024
/* The largest handshake message accepted.  Plain TCP cannot frame more;
 * under TLS the 4-byte length could, so anything larger is refused
 * before it is buffered. */
#define EN_HS_MSG_MAX    65535
#define EN_HS_ERRMSG_MAX 512

enum en_hs_role { EN_HS_INITIATOR, EN_HS_ACCEPTOR };

/* The acceptor's verdict on a connection attempt, sent as 's' Text. */
enum en_hs_status {
    EN_HS_STATUS_OK,              /* "ok" */
    EN_HS_STATUS_OK_SIMULTANEOUS, /* "ok_simultaneous": we drop our own
                                     pending attempt to the peer */
    EN_HS_STATUS_NOK,             /* "nok": our own attempt wins */
    EN_HS_STATUS_NOT_ALLOWED,     /* "not_allowed": refused */
    EN_HS_STATUS_ALIVE            /* "alive": we already have a connection;
                                     the peer confirms it should replace it */
};

enum en_hs_state { EN_HS_RUNNING, EN_HS_DONE, EN_HS_FAILED };

enum en_hs_err {
    EN_HS_ERR_NONE = 0,
    EN_HS_ERR_CONFIG,      /* bad configuration, or a call out of order */
    EN_HS_ERR_INTERNAL,    /* out of memory, or no random numbers */
    EN_HS_ERR_PROTOCOL,    /* malformed, oversized or unexpected message */
    EN_HS_ERR_NAME,        /* the peer is not the node we dialled */
    EN_HS_ERR_FLAGS,       /* the peer lacks required distribution flags */
    EN_HS_ERR_COOKIE,      /* a digest did not match: different cookies */
    EN_HS_ERR_NOK,         /* "nok": the other side's attempt wins */
    EN_HS_ERR_NOT_ALLOWED, /* "not_allowed" was sent or received */
    EN_HS_ERR_ABANDONED,   /* after "alive" the initiator answered "false" */
    EN_HS_ERR_CLOSED,      /* reported by en_hs_peer_closed() */
    EN_HS_ERR_TIMEOUT,     /* reported by en_hs_timed_out() */
};

typedef struct en_hs_config {
    enum en_hs_role role;
    unsigned lenbytes;       /* 2 (inet_tcp_dist) or 4 (inet_tls_dist) */
    const char *self_name;   /* full node name, "a@host" */
    uint32_t self_creation;
    uint64_t self_flags;     /* the flags we advertise */
    uint64_t required_flags; /* a peer lacking any of these is refused */
    const char *cookie;
    /* Initiator only: the node we dial.  The challenge must carry exactly
     * this name, as OTP requires. */
    const char *dialled_name;
    /* Acceptor only, optional (NULL means always OK): called once with the
     * peer's full name when its send_name has passed the flag check.  The
     * node answers from its connection table: ALIVE if a connection to the
     * peer is up, NOK or OK_SIMULTANEOUS if it is itself dialling the peer
     * (en_hs_simultaneous_status() compares names as OTP does), NOT_ALLOWED
     * to refuse, else OK. */
    enum en_hs_status (*resolve)(void *ud, const char *peer_name);
    /* Acceptor only, optional (NULL allows every node): called once with
     * the peer's full name as soon as its send_name is read, before the
     * flag check, as dist_util checks net_kernel:allow/1's list; false
     * refuses the peer with "not_allowed". */
    bool (*allowed)(void *ud, const char *peer_name);
    /* Source of the 32-bit challenge, injectable for tests; NULL means
     * wolfCrypt's RNG. */
    uint32_t (*random32)(void *ud);
    void *ud;
} en_hs_config_t;

typedef struct en_hs {
    /* Configuration, copied by en_hs_init(). */
    enum en_hs_role role;
    unsigned lenbytes;
    uint32_t self_creation;
    uint64_t self_flags;
    uint64_t required_flags;
    enum en_hs_status (*resolve)(void *ud, const char *peer_name);
    bool (*allowed)(void *ud, const char *peer_name);
    uint32_t (*random32)(void *ud);
    void *ud;
    char self_name[EN_HS_NAME_MAX];
    char dialled_name[EN_HS_NAME_MAX];
    char cookie[EN_HS_COOKIE_MAX];

    /* Progress; private. */
    enum en_hs_state state;
    int step;               /* what the machine waits for next */
    uint32_t our_challenge; /* the peer must return its digest */
    bool peer_used_v5;      /* name came as 'n': flags complete after 'c' */

    /* Results, read-only for the caller.  peer_name is set as soon as the
     * peer has named itself (so also in most failures); the rest is
     * valid once the state is EN_HS_DONE. */
    char peer_name[EN_HS_NAME_MAX];
    uint64_t peer_flags;    /* as advertised, MANDATORY_25_DIGEST expanded */
    uint32_t peer_creation;
    uint64_t flags;         /* negotiated: self_flags AND peer_flags; the
                               connection is visible iff PUBLISHED is set */
    /* Status was "ok_simultaneous".  Acceptor: the node must drop its own
     * pending attempt to the peer.  Initiator: the peer dropped its
     * attempt to us, so our pending accept from it will die. */
    bool simultaneous;
    /* Status was "alive" and the initiator answered "true".  Acceptor: the
     * node must take down its old connection to the peer and keep this
     * one.  Initiator: the peer still had an old connection to us, which
     * it will now drop. */
    bool replace_old;

    /* Set once the state is EN_HS_FAILED. */
    enum en_hs_err err;
    char errmsg[EN_HS_ERRMSG_MAX]; /* in words, naming the peer */
} en_hs_t;

/* Set up a handshake from cfg, copying the names and cookie.  Returns 0,
 * or -1 with hs in EN_HS_FAILED, err EN_HS_ERR_CONFIG and errmsg saying
 * which field is wrong (a NULL or '@'-less name, lenbytes not 2 or 4, ...). */
int en_hs_init(en_hs_t *hs, const en_hs_config_t *cfg);

/* Initiator: append send_name ('N', version 6) to out.  Acceptor: does
 * nothing, the peer speaks first.  Returns 0, or -1 with hs FAILED. */
int en_hs_start(en_hs_t *hs, en_buf_t *out);

/* Feed bytes read from the peer.  Only whole messages are consumed;
 * *consumed says how many bytes were used, and the caller keeps the rest
 * and feeds it again with more.  Replies are appended to out.  Once the
 * final message has been consumed the state is EN_HS_DONE and any further
 * bytes are left unconsumed: they belong to the connection.  Feeding a
 * finished machine consumes nothing and returns its state. */
enum en_hs_state en_hs_feed(en_hs_t *hs, const uint8_t *data, size_t len,
                            size_t *consumed, en_buf_t *out);

/* The caller saw the connection close, or its setup timer fire, before
 * EN_HS_DONE.  The machine fails with a message that says what it was
 * waiting for and what that usually means: OTP answers a wrong cookie by
 * closing, so "b@host closed the connection while we waited for a
 * challenge ack; the cookies probably differ".  No effect once the
 * machine has finished. */
void en_hs_peer_closed(en_hs_t *hs);
void en_hs_timed_out(en_hs_t *hs, unsigned timeout_ms);

/* What an acceptor answers when it is itself dialling the peer: OTP keeps
 * the attempt of the node whose name is greater (Erlang atom order, i.e.
 * byte order of the UTF-8 names), so NOK if self_name > peer_name, else
 * OK_SIMULTANEOUS. */
enum en_hs_status en_hs_simultaneous_status(const char *self_name,
                                            const char *peer_name);

/* "cookie", "flags", ... : a short name for an error kind. */
const char *en_hs_err_name(enum en_hs_err err);

/* MD5(cookie ++ decimal(challenge)), the handshake digest.  Exposed for
 * tests and tools. */
void en_hs_digest(const char *cookie, uint32_t challenge, uint8_t digest[16]);

#endif
