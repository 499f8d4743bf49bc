/* node_int.h - the node runtime's shared structures (internal).
 *
 * One mutex per node guards everything below: the loop takes it to handle
 * events, API calls take it to send or to look at mailboxes. Functions
 * named *_locked expect it held.
 */
#ifndef ENODE_NODE_INT_H
#define ENODE_NODE_INT_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enode.h"
#include "buf.h"
#include "ctrl.h"
#include "fragment.h"
#include "global.h"
#include "handshake.h"
#include "names.h"
#include "sock.h"
#include "ticker.h"
#include "tls.h"
#include "tlsconf.h"

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

typedef struct en_conn {
    struct en_conn *next;
    enode_t *node;
    en_phase_t phase;
    int initiator;
    int fd;
    WOLFSSL *ssl;
    uint32_t events;                   /* epoll interest registered */
    int tls_wants_write;               /* a TLS read needs the fd writable */
    int drained;                       /* the last read emptied the socket */
    int corked;                        /* has packets waiting for a flush */
    int bursting;                      /* wrote since the loop's last turn */
    char peer[EN_HS_NAME_MAX];   /* "" until an acceptor learns it */
    char peer_host[EN_HS_NAME_MAX];
    en_addr_t addr;
    en_buf_t in;          /* bytes read and not yet used */
    en_buf_t out;         /* bytes to write (plaintext under TLS) */
    size_t out_sent;      /* of which the first out_sent are written */
    size_t out_checked;   /* packets before this are split if need be */
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
} en_conn_t;

/* A peer reached at a fixed port, without EPMD. */
struct en_peer_port {
    struct en_peer_port *next;
    char peer[EN_HS_NAME_MAX];
    uint16_t port;
};

/* A message waiting in a mailbox. It lives at the end of the allocation
 * that holds the term, which the receiver gets as msg.buff and frees, so
 * a queued message costs one malloc and little more than its own size
 * (an enode_msg_t, with its two atom-sized arrays, is over 2 KiB). */
typedef struct en_qmsg {
    struct en_qmsg *next;
    char *term;      /* the allocation: version byte 131, then the term */
    int len;         /* bytes at term */
    int has_from;
    unsigned from_num, from_serial, from_creation;
    size_t from_node_len, to_name_len;
    char names[];    /* the sender's node, then to_name, each ending in NUL */
} en_qmsg_t;

/* Drop a queued message (the allocation holds q itself). */
static inline void en_qmsg_free(en_qmsg_t *q)
{
    free(q->term);
}

/* A link of a mailbox to a process, here or on another node. */
typedef struct en_link {
    struct en_link *next;
    erlang_pid pid;
} en_link_t;

/* A monitor a mailbox holds on a process (by pid, or by name on a node). */
typedef struct en_mon {
    struct en_mon *next;
    erlang_ref ref;
    int by_name;
    erlang_pid pid;             /* when !by_name */
    char name[MAXATOMLEN_UTF8]; /* when by_name */
    char node[EN_HS_NAME_MAX];  /* the target's node */
} en_mon_t;

/* An alias of a mailbox: a reference that messages can be sent to. */
typedef struct en_alias {
    struct en_alias *next;
    erlang_ref ref;
} en_alias_t;

/* A monitor some process holds on a mailbox. */
typedef struct en_watcher {
    struct en_watcher *next;
    erlang_ref ref;
    erlang_pid watcher;
    int by_name; /* the monitor named us: DOWN says {Name, Node} */
} en_watcher_t;

struct enode_mbox {
    struct enode_mbox *next;
    enode_t *node;
    erlang_pid pid;
    char name[MAXATOMLEN_UTF8]; /* registered name or "" */
    en_qmsg_t *head, *tail;
    en_link_t *links;
    en_mon_t *mons;
    en_watcher_t *watchers;
    en_alias_t *aliases;
    int trap_exit;
    int monitor_nodes;   /* gets {nodeup, N} and {nodedown, N} */
    int dead;            /* exited: receive says ENODE_ECLOSED */
    ei_x_buff exit_reason; /* why, once dead (version byte first) */
};

struct enode {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* a message arrived, a connection changed */

    char name[EN_HS_NAME_MAX];
    char alive[EN_NODE_NAME_MAX + 1];
    char host[EN_NODE_NAME_MAX + 1];
    char cookie[EN_HS_COOKIE_MAX];
    uint32_t creation;

    enode_proto_t proto;
    int ipv6;
    int hidden;
    unsigned ticktime_ms;
    unsigned setup_ms;
    size_t max_message; /* a peer sending more loses its connection */
    int epmd_port;
    int dist_port;
    uint64_t flags;    /* what we advertise */
    uint64_t required; /* what a peer must have */

    int epfd;    /* the one fd users poll */
    int wakefd;  /* eventfd: wakes the loop for new work */
    int lfd;     /* listening socket */
    int epmd_fd; /* our EPMD registration, open while we live */
    uint16_t port;

    en_tls_conf_t tlsconf;
    WOLFSSL_CTX *tls_server, *tls_client;
    enode_verify_fn verify; /* the application's TLS check, or NULL */
    void *verify_user;

    en_conn_t *conns;
    int corked;          /* some connection has packets waiting */
    int bursting;        /* some connection wrote since the loop's turn */
    int in_loop;         /* the loop is handling events: it flushes after */
    en_buf_t rx;         /* where connections that are up read into */
    en_tls_rx_pool_t tls_rx; /* where TLS sessions read into */
    struct en_rpc_fn *rpc_fns; /* C functions Erlang may call */
    struct en_global *global;  /* our part in OTP's global (global.c) */
    struct en_peer_port *peer_ports;
    struct enode_mbox *mboxes;
    erlang_pid system_pid; /* sender of replies from built-in services */
    unsigned next_pid_num, next_pid_serial;
    uint64_t unlink_id; /* the last UNLINK_ID we sent */
    uint32_t ref_words[3];

    enode_log_fn log;
    void *log_user;
    int log_level;

    char errbuf[512];        /* enode_last_error() */
    int last_conn_code;      /* why the last connection failed */

    pthread_t thread;
    int thread_on;
    int looping; /* a thread waiting in en_wait_locked runs the loop */
    int stopping;
};

/* ---- node.c ---- */
uint64_t en_now_ms(void);
void en_log(enode_t *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void en_set_error(enode_t *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int en_is_local_node(const enode_t *n, const char *node_name);
void en_wake(enode_t *n);

/* Wait for the cond until `until` (monotonic ms), running the loop when
 * no thread does (once, without waiting, if until is now). Called and
 * returns with the lock held. */
void en_wait_locked(enode_t *n, uint64_t until);

/* ---- conn.c ---- */
en_conn_t *en_conn_find(enode_t *n, const char *peer);
/* The connection to peer, dialling it if there is none. NULL if the
 * peer's name is bad or a socket cannot be had (logged). */
en_conn_t *en_conn_get(enode_t *n, const char *peer);
void en_conn_accept(enode_t *n);
void en_conn_on_event(en_conn_t *c, uint32_t events);
/* After driving c's TLS session outside en_conn_on_event. */
void en_conn_end_turn(en_conn_t *c);
void en_conn_on_timer(en_conn_t *c, uint64_t now);
uint64_t en_conn_deadline(const en_conn_t *c);
void en_conn_fail(en_conn_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void en_conn_free(en_conn_t *c);
/* The buffer a packet for c goes into: out when up, pending before. */
en_buf_t *en_conn_sendbuf(en_conn_t *c);
/* Have what was appended to c's queue written: at once if the
 * connection is not up yet, if a TLS record's worth is queued, or if it is
 * the first packet since the loop's last turn; else at the loop's next
 * turn, so that a burst of small packets goes out in a few large writes. */
void en_conn_kick(en_conn_t *c);
/* Write what waits for the loop's turn, on every connection. */
void en_conns_flush_corked(enode_t *n);
/* Bytes in c->out not written yet. */
static inline size_t en_conn_unsent(const en_conn_t *c)
{
    return c->out.len - c->out_sent;
}
/* The pieces dial.c and conn.c share. */
en_conn_t *en_conn_new(enode_t *n, int initiator);
const char *en_phase_name(en_phase_t p);
void en_conn_update_watch(en_conn_t *c);
void en_conn_close_transport(en_conn_t *c);
enum en_io en_conn_read(en_conn_t *c, char *err, size_t errlen);
int en_conn_flush(en_conn_t *c);
/* The handshake is done: switch c to carrying packets. */
void en_conn_up(en_conn_t *c);

/* ---- dial.c: getting a connection up ---- */
/* Start dialling c->peer (initiator). -1 if it failed at once (c dead). */
int en_dial_start(en_conn_t *c);
/* Drive a connection that is not up yet on a socket event. */
void en_setup_on_event(en_conn_t *c, uint32_t events);
/* Start the distribution handshake once the transport is ready. */
void en_setup_start_handshake(en_conn_t *c);
/* Feed c->in to the handshake. */
void en_setup_feed_handshake(en_conn_t *c);

/* ---- mbox.c ---- */
struct enode_mbox *en_mbox_by_pid(enode_t *n, const erlang_pid *pid);
struct enode_mbox *en_mbox_by_name(enode_t *n, const char *name);
struct enode_mbox *en_mbox_by_alias(enode_t *n, const erlang_ref *alias);
int en_mbox_deliver(struct enode_mbox *mb, const erlang_pid *from,
                    const char *to_name, const char *msg, size_t len);
void en_mbox_free_locked(struct enode_mbox *mb);
/* Selective receive: wait for the first message match() accepts; the
 * others stay queued in order. Takes the lock itself. */
typedef int (*en_match_fn)(const char *term, int len, void *ud);
int en_receive_match(struct enode_mbox *mb, en_match_fn match, void *ud,
                     enode_msg_t *out, int timeout_ms);
void en_make_pid(enode_t *n, erlang_pid *pid);
void en_make_ref_locked(enode_t *n, erlang_ref *ref);

/* Terms reach the runtime with or without their 131 version byte; this
 * moves *term past it when it is there. */
static inline void en_skip_version(const char **term, size_t *len)
{
    if (*len > 0 && (unsigned char)(*term)[0] == 131) {
        (*term)++;
        (*len)--;
    }
}

static inline int en_pid_eq(const erlang_pid *a, const erlang_pid *b)
{
    return a->num == b->num && a->serial == b->serial &&
           a->creation == b->creation && strcmp(a->node, b->node) == 0;
}

static inline int en_ref_eq(const erlang_ref *a, const erlang_ref *b)
{
    if (a->len != b->len || a->creation != b->creation ||
        strcmp(a->node, b->node) != 0)
        return 0;
    for (int i = 0; i < a->len && i < 5; i++)
        if (a->n[i] != b->n[i])
            return 0;
    return 1;
}

/* ---- wire.c: how c frames its packets ---- */
/* EN_WIRE_DISTHDR once FRAGMENTS is negotiated, else EN_WIRE_PASSTHROUGH. */
int en_conn_wire(const en_conn_t *c);
/* A packet from the peer: fragments are collected, the rest dispatched. */
void en_wire_receive(en_conn_t *c, const uint8_t *data, size_t len);
/* Move what was queued before the handshake to out, in c's form. */
int en_wire_adopt_pending(en_conn_t *c);
/* Split the packets queued since the last call that are too big. */
int en_wire_split_new(en_conn_t *c);

/* ---- dispatch.c: a packet from a connected peer ---- */
void en_dispatch_packet(en_conn_t *c, const uint8_t *data, size_t len);

/* ---- send.c ---- */
int en_send_locked(enode_t *n, const erlang_pid *from, const erlang_pid *to,
                   const char *msg, size_t len);
int en_reg_send_locked(enode_t *n, const erlang_pid *from,
                       const char *node_name, const char *name,
                       const char *msg, size_t len);

/* ---- links.c: links and exit signals ---- */
enum { EN_SIG_LINK, EN_SIG_EXIT2 }; /* a link broke; exit/2 */
/* An exit signal from `from` arrives at mb (reason bare or versioned). */
void en_exit_signal(struct enode_mbox *mb, const erlang_pid *from,
                    const char *reason, size_t len, int kind);
/* The mailbox exits with reason: links, watchers and monitors learn. */
void en_mbox_exit_locked(struct enode_mbox *mb, const char *reason,
                         size_t len);
/* 1 if m was a link or exit signal, now handled. */
int en_links_dispatch(en_conn_t *c, const en_dmsg_t *m);
void en_links_node_down(enode_t *n, const char *peer);
/* A versioned term holding one atom, for reasons such as noproc. */
int en_atom_term(ei_x_buff *x, const char *atom);

/* ---- monitors.c: process and node monitors ---- */
/* 1 if m was a monitor signal, now handled. */
int en_monitors_dispatch(en_conn_t *c, const en_dmsg_t *m);
/* mb exits: DOWN to its watchers (named as `name` if they monitored the
 * name), and its own monitors are dropped. */
void en_monitors_on_exit(struct enode_mbox *mb, const char *name,
                         const char *reason, size_t len);
/* The peer came up or went: node monitors, and (down) every link and
 * monitor across it fires with noconnection. A peer that never came up
 * (a failed dial) fires links and monitors but no nodedown. */
void en_signal_node_up(enode_t *n, const char *peer);
void en_signal_node_down(enode_t *n, const char *peer, int was_up);

/* ---- call.c ---- */
/* Decode {'$gen_call', {Pid, Tag}, Request} in buf (bare, no version
 * byte): the caller, where Tag's bytes are, and where Request starts. */
int en_parse_gen_call(const char *buf, size_t len, erlang_pid *caller,
                      int *tag_at, int *tag_len, int *req_at);

/* ---- rpc.c: Erlang calling C functions ---- */
enum { EN_RPC_RETURN, EN_RPC_ERROR, EN_RPC_UNDEF };
/* Call the C function for m:f with the argument list args. out gets the
 * value (RETURN), the error reason (ERROR) or the stack of an undefined
 * function (UNDEF), without a version byte. Releases the lock meanwhile. */
int en_rpc_apply(enode_t *n, const char *m, const char *f, const char *args,
                 int args_len, ei_x_buff *out);
/* Answer a SPAWN_REQUEST (erpc:call) from c's peer. */
void en_rpc_spawn_request(en_conn_t *c, const en_dmsg_t *m);
void en_rpc_free_all(enode_t *n);

/* ---- services.c: what a real node answers ---- */
/* 1 if a built-in service took the message sent to `name`. */
int en_services_handle(en_conn_t *c, const erlang_pid *from, const char *name,
                       const char *msg, size_t len);

/* The port to reach peer at without EPMD, or 0 to ask its EPMD. */
int en_peer_port(const enode_t *n, const char *peer);

/* ---- epmd_client.c ---- */
int en_epmd_register(enode_t *n, char *err, size_t errlen);
/* port if > 0, else $ERL_EPMD_PORT, else 4369. */
int en_epmd_default_port(int port);

#endif
