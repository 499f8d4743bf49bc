/* conn.h - one connection to another node (private to net/).
 *
 * A connection walks through phases: (initiator) ask the peer's EPMD for
 * its port, TCP connect; then TLS when the node speaks TLS; then the
 * distribution handshake; then it is up and carries framed packets with
 * ticks. conn.c drives a connection that is up, dial.c one being set up,
 * wire.c the framing of its packets.
 */
#ifndef ENODE_NET_CONN_H
#define ENODE_NET_CONN_H

#include <stdint.h>

#include "base/buf.h"
#include "net/net.h"
#include "net/sock.h"
#include "proto/fragment.h"
#include "proto/handshake.h"
#include "proto/ticker.h"
#include "tls/tls.h"

/* TLS records carry at most 16 KiB: writes hand TLS a record's worth at
 * a time, and a queue that holds that much is written at once. */
#define EN_TLS_WRITE_CHUNK 16384

/* Where a connection is in its life. */
typedef enum en_phase {
    EN_PH_EPMD,      /* initiator: asking the peer's EPMD for its port */
    EN_PH_CONNECT,   /* initiator: TCP connect under way */
    EN_PH_TLS,       /* TLS handshake */
    EN_PH_HANDSHAKE, /* distribution handshake */
    EN_PH_UP,        /* connected */
    EN_PH_WAIT_PEER, /* lost a simultaneous connect ("nok"): the peer's own
                        attempt will come in and take our queued messages */
    EN_PH_DEAD,      /* closed; freed at the end of the loop step */
} en_phase_t;

struct en_conn {
    struct en_conn *next;
    en_net_t *net;
    en_phase_t phase;
    int initiator;
    int fd;
    WOLFSSL *ssl;
    uint32_t events;                   /* epoll interest registered */
    int tls_wants_write;               /* a TLS read needs the fd writable */
    int crl_wait;                      /* TLS done, CRLs being fetched: the
                                          socket is not watched meanwhile */
    int drained;                       /* the last read emptied the socket */
    int corked;                        /* has packets waiting for a flush */
    int bursting;                      /* wrote since the loop's last turn */
    char peer[EN_HS_NAME_MAX];   /* "" until an acceptor learns it */
    char peer_host[EN_HS_NAME_MAX];
    en_addr_t addr;
    en_buf_t in;          /* bytes read and not yet used */
    en_buf_t out;         /* bytes to write (plaintext under TLS) */
    size_t out_sent;      /* of which the first out_sent are written */
    en_frag_table_t frags; /* fragmented messages being received */
    uint64_t frag_seq;    /* the last sequence id we sent fragments with */
    size_t tls_inflight;  /* length of a TLS write to repeat, or 0 */
    en_buf_t pending;     /* packets queued before the connection is up */
    en_hs_t *hs;          /* during EN_PH_HANDSHAKE */
    uint64_t deadline_ms; /* set-up time limit, before EN_PH_UP */
    en_ticker_t ticker;
    uint64_t flags;       /* negotiated distribution flags */
    uint32_t peer_creation;
    int fail_code;        /* ENODE_E* once it failed */
    uint64_t serial;      /* which connection this is, for en_net_wait_room */
    /* Acceptor under TLS with a client certificate and an allow list: the
     * hosts of the list the certificate names (allow.c); NULL: the
     * node's list as it is. */
    en_allow_t *cert_allowed;
};

/* The modules of a connection, each using only those listed before it:
 * conn.c (the object and its I/O), wire.c (framing), up.c (a connection
 * that is up), dial.c (getting one up), event.c (events and timers, by
 * phase). */

/* ---- conn.c: the object, its socket and its queues ---- */
en_conn_t *en_conn_new(en_net_t *net, int initiator);
void en_conn_free(en_conn_t *c);
const char *en_phase_name(en_phase_t p);
/* The buffer a packet for c goes into: out when up, pending before. */
en_buf_t *en_conn_sendbuf(en_conn_t *c);
/* Bytes in c->out not written yet. */
static inline size_t en_conn_unsent(const en_conn_t *c)
{
    return c->out.len - c->out_sent;
}
void en_conn_update_watch(en_conn_t *c);
void en_conn_close_transport(en_conn_t *c);
/* Read what is there into b (c->in for en_conn_read), as much as fits in
 * its spare room; EN_IO_WANT_READ when drained. */
enum en_io en_conn_read_into(en_conn_t *c, en_buf_t *b, char *err,
                             size_t errlen);
enum en_io en_conn_read(en_conn_t *c, char *err, size_t errlen);
/* The peer closed a connection that was up, as nodes do when they
 * disconnect or stop: news, not trouble (logged at info level). */
void en_conn_closed_by_peer(en_conn_t *c, const char *why);
/* This node closes c on purpose (the application's enode_disconnect):
 * logged at info level too; what was queued for it is dropped. */
void en_conn_closed_by_us(en_conn_t *c, const char *why);
/* Write as much of c->out as the socket takes, as it is. -1 if the
 * connection failed (c is then dead). */
int en_conn_flush(en_conn_t *c);
/* Log through c's node. */
#define en_conn_log(c, level, ...) en_core_log((c)->net->core, level, __VA_ARGS__)

/* ---- wire.c: how c frames its packets ---- */
/* EN_WIRE_DISTHDR once FRAGMENTS is negotiated, else EN_WIRE_PASSTHROUGH. */
int en_conn_wire(const en_conn_t *c);
/* A packet from the peer: fragments are collected, the rest go up; a
 * packet in the form the flags do not allow fails c. */
void en_wire_receive(en_conn_t *c, const uint8_t *data, size_t len);
/* The packet at c->out[at..] (the last one queued) goes as fragments if
 * it is too big for one and the peer has FRAGMENTS. 0, or an EN_CTRL_*
 * code with c->out as it was. */
int en_wire_fragment(en_conn_t *c, size_t at);
/* Move what was queued before the handshake to out, encoded for the
 * flags now known; a packet that cannot go is dropped alone. */
void en_wire_adopt_pending(en_conn_t *c);

/* ---- up.c: a connection that is up ---- */
/* The handshake is done: switch c to carrying packets. */
void en_conn_up(en_conn_t *c);
/* Readable or writable while up: read and dispatch all there is, then
 * write. */
void en_up_on_event(en_conn_t *c, uint32_t events);
/* Ticks, and the tick timeout. */
void en_up_on_timer(en_conn_t *c, uint64_t now);
/* Have what was appended to c's queue written: at once if the
 * connection is not up yet, if a TLS record's worth is queued, or if it is
 * the first packet since the loop's last turn; else at the loop's next
 * turn, so that a burst of small packets goes out in a few large writes. */
void en_conn_kick(en_conn_t *c);
/* Write what waits for the loop's turn, on every connection. */
void en_conns_flush_corked(en_net_t *net);

/* ---- dial.c: getting a connection up ---- */
/* Start dialling c->peer (initiator). -1 if it failed at once (c dead). */
int en_dial_start(en_conn_t *c);
/* Drive a connection that is not up yet on a socket event. */
void en_setup_on_event(en_conn_t *c, uint32_t events);
/* Start the distribution handshake once the transport is ready. */
void en_setup_start_handshake(en_conn_t *c);
/* Feed c->in to the handshake. */
void en_setup_feed_handshake(en_conn_t *c);
/* Free the list of peers reached without EPMD. */
void en_dial_free_peer_ports(en_net_t *net);
/* Go on with c, whose TLS handshake waited for CRLs that have come (or
 * failed) since. */
void en_setup_crl_resume(en_conn_t *c);

/* ---- event.c: events and timers, whatever the phase ---- */
void en_conn_on_event(en_conn_t *c, uint32_t events);
/* After driving c's TLS session outside en_conn_on_event. */
void en_conn_end_turn(en_conn_t *c);
void en_conn_on_timer(en_conn_t *c, uint64_t now);
uint64_t en_conn_deadline(const en_conn_t *c);
/* Take the connections waiting on the listening socket. */
void en_conn_accept(en_net_t *net);
/* Go on with the connections whose CRL fetches are over; each turn. */
void en_conns_crl_resume(en_net_t *net);

/* Handshakes stopped for this long: wolfSSL's point cache goes. */
#define EN_ECC_IDLE_MS 3000

/* A TLS handshake ended: the loop empties wolfSSL's point cache once
 * handshakes have stopped for EN_ECC_IDLE_MS (loop.c; see tls.h). Inline:
 * dial.c comes before loop.c. */
static inline void en_net_ecc_used(en_net_t *net)
{
    net->ecc_forget_at = en_now_ms() + EN_ECC_IDLE_MS;
}

/* verifyfun.c: find the C functions that the sides' verify_fun options
 * name (ENODE_EINVAL with err if one is not registered); and run c's
 * side's on the peer's chain after the handshake: 0, or -1 with c
 * failed. */
int en_verify_fun_resolve(en_net_t *net, const en_net_settings_t *s, char *err,
                          size_t errlen);
int en_verify_fun_run(en_conn_t *c);

/* allow.c: the allow list at an acceptor. After its TLS handshake,
 * keep only the hosts of the list the client's certificate names (as
 * inet_tls_dist does): 0 to go on, -1 when none is left (c failed, with
 * no status sent). Then the handshake's hook: may the peer named so
 * connect? */
int en_allow_by_cert(en_conn_t *c);
bool en_conn_allows(void *conn, const char *peer_name);
/* inet_tls_dist:verify_client/3 on the client's own certificate (der):
 * 0 if it names the peer's address or an allowed host, or the node
 * allows every host; else -1 with why. */
int en_allow_verify_client(en_conn_t *c, const unsigned char *der,
                           size_t der_len, char *why, size_t whylen);

/* ---- epmd_client.c ---- */
int en_epmd_register(en_net_t *net, char *err, size_t errlen);

#endif
