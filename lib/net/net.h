/* net.h - the network layer: connections to other nodes, the event loop
 * that drives them, and the one way the layers above send to a peer.
 *
 * The layer knows sockets, TLS, EPMD, the distribution handshake,
 * framing, ticks and fragments. It knows nothing of processes: a whole
 * message from a peer goes up through en_net_hooks_t, and the layers
 * above send through en_net_out_begin()/en_net_out_end(), which hand
 * them the connection's queue, its wire form and the flags the peer
 * negotiated, and then have the queue written.
 *
 * Everything here expects the node's lock held (base/core.h), except
 * where a comment says the function takes it.
 */
#ifndef ENODE_NET_H
#define ENODE_NET_H

#include <pthread.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "enode.h"
#include "base/buf.h"
#include "base/core.h"
#include "proto/allow.h"
#include "proto/handshake.h"
#include "tls/tls_rx.h"
#include "tls/tlsconf.h"

typedef struct en_conn en_conn_t;

/* What the layer above hears. Called with the lock held, from the loop
 * or from a send that dialled and failed at once. */
typedef struct en_net_hooks {
    void *ud;
    /* A whole message from c's peer, fragments already joined: the data
     * of one packet (after its length), in the distribution header form
     * or the pass-through form. When body is not NULL, the packet came in
     * fragments and its message lies apart: data ends with the control
     * term and body holds 131 | Msg (proto/fragment.h en_frag_msg_t); the
     * hook may take body's buffer. The hook may fail c. */
    void (*packet)(void *ud, en_conn_t *c, const uint8_t *data, size_t len,
                   en_buf_t *body);
    /* The connection to peer is up; visible when both sides set
     * PUBLISHED (else one of them is a hidden node). */
    void (*node_up)(void *ud, const char *peer, int visible);
    /* The node is gone: its connection that was up failed or was
     * replaced by a new one (the new one's node_up follows), or the last
     * attempt to reach it failed (was_up = 0: a failed dial). */
    void (*node_down)(void *ud, const char *peer, int was_up, int visible);
} en_net_hooks_t;

/* A C function registered as the verify fun module:function/3. */
typedef struct en_verify_fun_entry {
    char *module, *function;
    enode_verify_fun_fn fn;
    void *user;
} en_verify_fun_entry_t;

/* How the node speaks to others: from enode_config_t. Strings are
 * borrowed during en_net_open(). */
typedef struct en_net_settings {
    enode_proto_t proto;
    int ipv6;
    int hidden;
    unsigned ticktime_ms;
    unsigned setup_ms;
    size_t max_message;
    unsigned max_fragmented; /* 0: ENODE_DEFAULT_MAX_FRAGMENTED */
    size_t busy_limit;       /* 0: ENODE_DEFAULT_DIST_BUF_BUSY_LIMIT */
    int epmd_port;  /* 0: $ERL_EPMD_PORT, else 4369 */
    int dist_port;  /* > 0: no EPMD; every node listens on this port */
    int listen_min, listen_max;
    const char *listen_addr; /* an IP literal; NULL: any address */
    enode_auto_connect_t auto_connect; /* dist_auto_connect */
    const char *cookie; /* NULL: ~/.erlang.cookie */
    const char *ssl_dist_optfile;
    const char *const *ssl_dist_opts; /* key, value, key, value... */
    int n_ssl_dist_opts;              /* pairs */
    enode_verify_fn verify;
    void *verify_user;
    const en_verify_fun_entry_t *verify_funs; /* for verify_fun options */
    int n_verify_funs;
    const en_allow_t *allowed; /* nodes that may connect; NULL or empty:
                                  every node */
} en_net_settings_t;

/* A peer reached at a fixed port, without EPMD. */
struct en_peer_port {
    struct en_peer_port *next;
    char peer[EN_HS_NAME_MAX];
    uint16_t port;
};

typedef struct en_net {
    en_core_t *core;
    en_net_hooks_t hooks;

    /* settings */
    enode_proto_t proto;
    int ipv6;
    unsigned ticktime_ms;
    unsigned setup_ms;
    size_t max_message; /* a peer sending more loses its connection */
    unsigned max_fragmented; /* fragmented messages open per connection */
    size_t busy_limit;  /* dist_buf_busy_limit: unsent bytes before a send
                           from the API waits (en_net_wait_room) */
    int busy_waiters;   /* threads waiting in en_net_wait_room */
    uint64_t conn_serial; /* the last serial a connection got */
    int epmd_port;
    int dist_port;
    uint64_t flags;    /* what we advertise */
    uint64_t required; /* what a peer must have */
    char cookie[EN_HS_COOKIE_MAX];

    /* descriptors */
    int epfd;    /* the one fd users poll */
    int wakefd;  /* eventfd: wakes the loop for new work */
    int lfd;     /* listening socket */
    int epmd_fd; /* our EPMD registration, open while we live */
    uint16_t port;

    /* TLS */
    en_tls_conf_t tlsconf;
    WOLFSSL_CTX *tls_server, *tls_client;
    enode_verify_fn verify; /* the application's TLS check, or NULL */
    void *verify_user;
    /* the C functions that the server and client sides' verify_fun
     * options name (verifyfun.c); fn NULL: none, or the built-in
     * inet_tls_dist:verify_client when builtin is set */
    struct en_side_fun {
        enode_verify_fun_fn fn;
        void *user;
        int builtin;
    } server_fun, client_fun;
    en_tls_rx_pool_t tls_rx; /* where TLS sessions read into */
    /* net_kernel:allow/1's list: the nodes that may connect to us; empty:
     * every node (allow.c) */
    en_allow_t allowed;

    /* connections */
    en_conn_t *conns;
    int corked;   /* some connection has packets waiting */
    int bursting; /* some connection wrote since the loop's turn */
    uint64_t ecc_forget_at; /* when to empty wolfSSL's ECC point cache
                             * (en_tls_forget_ecc_points); 0: no need */
    int in_loop;  /* the loop is handling events: it flushes after */
    int rx_turn;  /* a connection that is up read input in this turn */
    uint64_t last_wait_us; /* how long the loop's last wait took (loop.c) */
    en_buf_t rx;  /* where connections that are up read into */
    struct en_peer_port *peer_ports;
    int last_conn_code; /* why the last connection failed */
    enode_auto_connect_t auto_connect;
    struct en_barred *barred; /* nodes a send may not connect to (once) */

    /* the loop's own thread (enode_start_thread) */
    pthread_t thread;
    int thread_on;
    int looping; /* a thread waiting in en_net_wait_locked runs the loop */
    int stopping;
} en_net_t;

/* ---- the layer's life (net.c) ----------------------------------------- */

/* An empty layer on core, that en_net_close() can take down. */
void en_net_init(en_net_t *net, en_core_t *core);
/* Set up everything but the EPMD registration: the cookie, TLS contexts,
 * the epoll fd, the listening socket. The core's name must be set. 0, or
 * a code with the reason in err. en_net_close() undoes it, also after a
 * failure. */
int en_net_open(en_net_t *net, const en_net_settings_t *s, char *err,
                size_t errlen);

/* Register with EPMD (or, without EPMD, pick a random creation): sets
 * core->creation. */
int en_net_publish(en_net_t *net, char *err, size_t errlen);

/* Write what was queued, then close every connection and descriptor. */
void en_net_close(en_net_t *net);

/* The port to reach peer at without EPMD, or 0 to ask its EPMD. */
int en_net_peer_port(const en_net_t *net, const char *peer);
int en_net_set_peer_port(en_net_t *net, const char *peer, int port);

/* ---- the allow list (allow.c) ----------------------------------------- */

/* Add names[0..n) to the nodes that may connect, as net_kernel:allow/1
 * does: all of them, or none when one is not a valid entry
 * (ENODE_EINVAL, the error set). Connections already up stay. */
int en_net_allow(en_net_t *net, const char *const *names, size_t n);

/* ---- dist_auto_connect (autoconn.c) ------------------------------------ */

/* 1 if a send (a link, a monitor, a call) toward peer, which is not
 * connected, may connect to it; 0 if dist_auto_connect forbids it. */
int en_net_may_dial(en_net_t *net, const char *peer);
/* Say why a send did not connect to peer; returns ENODE_ECONN. */
int en_net_refuse_dial(en_net_t *net, const char *peer);
/* The connection to peer went down (once: a send may not connect again);
 * a connection to peer came up (it may). */
void en_net_bar(en_net_t *net, const char *peer);
void en_net_unbar(en_net_t *net, const char *peer);
void en_net_free_bars(en_net_t *net);

/* ---- connections (conn.c) ---------------------------------------------- */

/* The connection to peer: one that is up if there is one, else one being
 * set up; NULL if none. */
en_conn_t *en_net_find(en_net_t *net, const char *peer);
/* The same, dialling the peer when there is none. NULL if the peer's
 * name is bad or a socket cannot be had (the error is set). */
en_conn_t *en_net_get(en_net_t *net, const char *peer);

int en_conn_is_up(const en_conn_t *c);
/* The peer's node name ("" until an acceptor learns it). */
const char *en_conn_peer(const en_conn_t *c);
/* The distribution flags both sides negotiated (0 before it is up). */
uint64_t en_conn_flags(const en_conn_t *c);

/* c failed: log why, close it, and (if it was the node's last connection
 * to its peer) tell the layer above. */
void en_conn_fail(en_conn_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Close the connection to peer, as erlang:disconnect_node/1 does, after
 * writing what was queued. ENODE_ENOTFOUND if there is none. */
int en_net_disconnect(en_net_t *net, const char *peer);

/* Connect to peer and wait (at most the setup time) until it is up.
 * 0, or a code with the error set. */
int en_net_connect_wait(en_net_t *net, const char *peer);
/* The same, waiting until `until` (monotonic ms) at most: ENODE_ETIMEOUT
 * if the connection is still being set up then. */
int en_net_connect_until(en_net_t *net, const char *peer, uint64_t until);

/* fn for each peer whose connection is up; visible: both sides published
 * (it is in Erlang's nodes(), else in nodes(hidden)). */
typedef void (*en_peer_fn)(void *ud, const char *peer, int visible);
void en_net_each_peer(en_net_t *net, en_peer_fn fn, void *ud);

/* ---- sending (out.c) ----------------------------------------------------- */

/* Where one packet for a peer goes: append it to *buf in the form `wire`
 * (EN_WIRE_*), encoded for `flags`: what the peer negotiated, or, while
 * the connection is being set up, EN_CTRL_FLAGS_PENDING (proto/ctrl.h):
 * such packets are encoded again once the flags are known. */
typedef struct en_out {
    en_conn_t *conn;
    en_buf_t *buf;
    int wire;
    uint64_t flags;
    size_t start; /* where the packet begins in *buf */
} en_out_t;

/* Begin a packet to peer, on the connection to it (dialled if `dial` and
 * there is none, and dist_auto_connect allows it). ENODE_ECONN if there
 * is no connection (the error is set when a dial failed or was not
 * allowed). */
int en_net_out_begin(en_net_t *net, const char *peer, int dial, en_out_t *o);
/* Begin a packet on c itself, e.g. an answer to what c brought. */
void en_net_out_on(en_conn_t *c, en_out_t *o);
/* The packet is appended (rc == 0) or was not (rc != 0): have c write
 * it, at once or at the loop's next turn (see en_conn_kick in conn.h),
 * cut into fragments first if it is too big for one. 0, or ENODE_ENOMEM
 * when it cannot be cut: the packet is then dropped, which costs this
 * send alone, never the connection. */
int en_net_out_end(en_out_t *o, int rc);

/* Before an application's send to peer: while more than busy_limit
 * bytes wait to be written to it, the connection is busy, as OTP's
 * dist_buf_busy_limit makes it. With a loop thread, a caller on another
 * thread waits (the lock released) until the loop has written enough:
 * 0, or ENODE_ECONN if the connection went meanwhile. Without one, or on
 * the loop's own thread (an rpc function), waiting would stop the very
 * loop that drains the queue: ENODE_EBUSY at once, the error set. 0 when
 * there is no connection up to peer. */
int en_net_wait_room(en_net_t *net, const char *peer);

/* ---- the loop (loop.c) ----------------------------------------------------- */

/* One turn of the loop: wait at most timeout_ms (-1: until something
 * happens), then handle what is ready. Takes the lock itself. */
int en_net_process(en_net_t *net, int timeout_ms);
/* Milliseconds until the loop must turn, or -1. Takes the lock. */
int en_net_timeout(en_net_t *net);
/* Wake the loop (the epoll fd turns readable). */
void en_net_wake(en_net_t *net);
/* Wait for the core's condition until `until` (monotonic ms), running the
 * loop when no thread does (once, without waiting, if until is now).
 * Called and returns with the lock held. */
void en_net_wait_locked(en_net_t *net, uint64_t until);
/* Run the loop on a thread of the library's; stop it. */
int en_net_start_thread(en_net_t *net);
void en_net_stop_thread(en_net_t *net);

/* ---- EPMD (epmd_client.c) ---------------------------------------------------- */

/* port if > 0, else $ERL_EPMD_PORT, else 4369. */
int en_epmd_default_port(int port);

#endif
