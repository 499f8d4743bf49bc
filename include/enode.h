/* enode.h - join an Erlang/OTP cluster as a full distribution node.
 *
 * enode speaks the Erlang distribution protocol over TLS (wire-compatible
 * with OTP's inet_tls_dist) or plain TCP (inet_tcp_dist). Terms are ei's
 * (erl_interface) types: build messages with ei_x_encode_*, read them with
 * ei_decode_*. libenode contains ei, so linking with enode is enough.
 *
 * Two ways to run a node:
 *
 *  - Event-loop mode: the host program owns the loop. It polls the one fd
 *    enode_fd() returns (readable means "call enode_process") and calls
 *    enode_process() when it is readable or when enode_timeout() expires.
 *    enode_receive() with a timeout drives the loop itself, so a simple
 *    program needs nothing but enode_receive().
 *
 *  - Threaded mode: enode_start_thread() runs the loop on a thread of its
 *    own. Sends are then safe from any thread and enode_receive() blocks on
 *    the mailbox.
 *
 * Every call that can fail returns 0 or a negative ENODE_E* code;
 * enode_strerror() names the code and enode_last_error() says what happened
 * on that node in words.
 *
 * Copyright (C) 2026 the enode authors. GPL-3.0-or-later.
 */
#ifndef ENODE_H
#define ENODE_H

#include <stddef.h>
#include <stdint.h>

#include <ei.h>

#include <enode_version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version -------------------------------------------------------------- */

/* The version of these headers: ENODE_VERSION_MAJOR, ENODE_VERSION_MINOR,
 * ENODE_VERSION_PATCH and ENODE_VERSION_STRING ("0.2.0") come from
 * enode_version.h, and ENODE_VERSION_NUMBER packs the three numbers as
 * MAJOR * 10000 + MINOR * 100 + PATCH (0.2.0 is 200, 1.12.3 is 11203). */
#define ENODE_VERSION_NUMBER                                                   \
    ((unsigned long)ENODE_VERSION_MAJOR * 10000UL +                            \
     (unsigned long)ENODE_VERSION_MINOR * 100UL +                              \
     (unsigned long)ENODE_VERSION_PATCH)

/* The version of the library the program runs with, e.g. "0.2.0". A
 * static string; never freed. */
const char *enode_version(void);

/* The same as a number packed like ENODE_VERSION_NUMBER, to compare the
 * library with the headers the program was built with. */
unsigned long enode_version_number(void);

/* ---- errors --------------------------------------------------------------- */

enum {
    ENODE_OK = 0,
    ENODE_EINVAL = -1,     /* bad argument or configuration */
    ENODE_ENOMEM = -2,     /* out of memory */
    ENODE_ESYS = -3,       /* a system call failed (see enode_last_error) */
    ENODE_EEPMD = -4,      /* EPMD unreachable, or it refused */
    ENODE_ENAMETAKEN = -5, /* the node name is registered already */
    ENODE_ETLS = -6,       /* TLS set-up or handshake failed */
    ENODE_EHANDSHAKE = -7, /* the distribution handshake failed */
    ENODE_ECOOKIE = -8,    /* the peer's cookie does not match ours */
    ENODE_ENOTFOUND = -9,  /* no such node, name or mailbox */
    ENODE_ETIMEOUT = -10,  /* nothing arrived in time */
    ENODE_ECLOSED = -11,   /* the node or mailbox is closed */
    ENODE_EBADTERM = -12,  /* a term that cannot be encoded or decoded */
    ENODE_EEXIST = -13,    /* the name is in use */
    ENODE_ECONN = -14,     /* the connection to the node failed or was lost */
    ENODE_ERAISED = -15,   /* the function called raised an exception */
    ENODE_EBUSY = -16,     /* the connection is busy (dist_buf_busy_limit) */
};

/* A static English name for an ENODE_E* code. Never NULL. */
const char *enode_strerror(int code);

/* ---- configuration ---------------------------------------------------------- */

typedef enum enode_proto {
    ENODE_PROTO_TLS = 0, /* inet_tls_dist / inet6_tls_dist (the default) */
    ENODE_PROTO_TCP = 1, /* inet_tcp_dist / inet6_tcp_dist */
} enode_proto_t;

enum enode_log_level {
    ENODE_LOG_ERROR = 0,
    ENODE_LOG_WARNING = 1,
    ENODE_LOG_INFO = 2,
    ENODE_LOG_DEBUG = 3,
};

/* A log sink; `message` is one line without a newline. Called with the
 * node's lock held, from whichever thread runs the loop: do not call back
 * into the node from it. */
typedef void (*enode_log_fn)(void *user, int level, const char *message);

/* The peer's certificate, for an application's own TLS check (see
 * enode_config_set_verify). Strings are valid during the call. */
typedef struct enode_peer_cert {
    int we_are_server;     /* 1: the peer connected to us (we are the TLS
                              server); 0: we dialled it (TLS client) */
    const char *peer_addr; /* "127.0.0.1:4711" */
    const char *peer_node; /* the node we dialled, or NULL when the peer
                              connected to us (its name comes later) */
    int present;           /* 0: the peer sent no certificate (a client,
                              when the server does not insist on one) */
    int preverify;         /* 1: the chain verified against cacertfile;
                              0: not checked (verify_none) */
    const char *sha256;    /* SHA-256 of the DER certificate, 64 lowercase
                              hex digits ("" when not present) */
    const char *subject;   /* "/CN=node1/O=Example", "" when not present */
    const char *issuer;
} enode_peer_cert_t;

/* The application's final word on a peer, called after the TLS handshake
 * (and after enode's own checks passed) from the thread that runs the
 * loop, with the node's lock held: do not call back into the node. Return
 * 0 to accept the peer; nonzero to refuse it, with a reason written to
 * why (a sentence, at most whylen bytes) that enode logs and keeps as the
 * connection's error. */
typedef int (*enode_verify_fn)(void *user, const enode_peer_cert_t *cert,
                               char *why, size_t whylen);

/* One certificate of the peer's chain, shown to a C verify function that
 * a verify_fun option names (enode_config_add_verify_fun). The function
 * runs once the handshake and enode's own checks passed, on each
 * certificate the peer sent: the CAs first, the one furthest from the
 * peer first (OTP's `valid` events), and the peer's own last (depth 0,
 * OTP's `valid_peer`). Pointers are valid during the call. */
typedef struct enode_cert_event {
    int we_are_server;        /* 1: the peer connected to us */
    const char *peer_addr;    /* "127.0.0.1:4711" */
    int depth;                /* 0: the peer's certificate; 1, 2...: CAs */
    const unsigned char *der; /* the certificate, DER */
    size_t der_len;
    const char *sha256;  /* of der, 64 lowercase hex digits */
    const char *subject; /* "/CN=node1/O=Example" */
    const char *issuer;
    const char *state; /* State of {fun M:F/3, State}: term_to_binary(State),
                          for ei_decode_version() and ei_decode_*() */
    int state_len;
} enode_cert_event_t;

/* Called with the node's lock held, from the loop's thread: do not call
 * back into the node. Return 0 to let the certificate pass (OTP's
 * {valid, State}); nonzero to refuse the peer, with a sentence in why
 * (OTP's {fail, Reason}). */
typedef int (*enode_verify_fun_fn)(void *user, const enode_cert_event_t *ev,
                                   char *why, size_t whylen);

#define ENODE_DEFAULT_MAX_MESSAGE ((size_t)256 * 1024 * 1024)
#define ENODE_DEFAULT_MAX_FRAGMENTED 1024u
#define ENODE_DEFAULT_DIST_BUF_BUSY_LIMIT ((size_t)1024 * 1024)

/* A node's configuration, opaque: made by enode_config_new(), filled by
 * the setters below and by enode_config_from_args(), read by enode_new(),
 * freed by enode_config_free(). It keeps copies of the strings it is
 * given. One thread at a time may use a configuration.
 *
 * Every setter returns 0, or ENODE_EINVAL for a bad value (config NULL
 * included; the configuration is then unchanged), or ENODE_ENOMEM. */
typedef struct enode_config enode_config_t;

/* A new configuration with the defaults: no name; the cookie from
 * ~/.erlang.cookie; TLS over IPv4; a visible node; net_ticktime 60 s; a
 * setup time of 7 s; EPMD on $ERL_EPMD_PORT, else 4369; any port to
 * listen on; messages up to ENODE_DEFAULT_MAX_MESSAGE; no TLS options;
 * errors and warnings to stderr; no verify callback. */
int enode_config_new(enode_config_t **config);

/* Free a configuration and its strings. NULL is allowed. */
void enode_config_free(enode_config_t *config);

/* The node's name, "alive" or "alive@host" (alive takes letters, digits,
 * '_' and '-'); required. long_names 1: like -name (a missing host is the
 * fully qualified one), 0: like -sname (the default). */
int enode_config_set_name(enode_config_t *config, const char *name,
                          int long_names);

/* The cookie, like -setcookie; NULL: read ~/.erlang.cookie (the default).
 * An empty cookie is refused. */
int enode_config_set_cookie(enode_config_t *config, const char *cookie);

/* ENODE_PROTO_TLS (the default) or ENODE_PROTO_TCP. */
int enode_config_set_proto(enode_config_t *config, enode_proto_t proto);

/* 1: IPv6, like inet6_tls and inet6_tcp; 0: IPv4 (the default). */
int enode_config_set_ipv6(enode_config_t *config, int ipv6);

/* 1: a hidden node, like -hidden; 0: visible (the default). */
int enode_config_set_hidden(enode_config_t *config, int hidden);

/* 1 (the default): take part in OTP's global name server, as every visible
 * Erlang node does. 0, like erl's -connect_all false: global is off (no
 * connect sessions with other nodes, no global names from this node). */
int enode_config_set_connect_all(enode_config_t *config, int connect_all);

/* Like the kernel parameter net_ticktime: 1 to 86400 seconds (default 60). */
int enode_config_set_net_ticktime(enode_config_t *config, unsigned seconds);

/* The time a connection has to come up: 1 to 3600000 ms (default 7000;
 * -kernel net_setuptime gives it in seconds). */
int enode_config_set_setup_time_ms(enode_config_t *config, unsigned ms);

/* The port of EPMD, 1 to 65535; 0: $ERL_EPMD_PORT, else 4369 (default). */
int enode_config_set_epmd_port(enode_config_t *config, int port);

/* 1 to 65535: run without EPMD, like -erl_epmd_port: listen on this port
 * and reach every other node on it. 0: use EPMD (the default). */
int enode_config_set_dist_port(enode_config_t *config, int port);

/* Listen on the first free port from min to max, like
 * inet_dist_listen_min and _max; max 0: min alone. min 0 (and max 0): any
 * port the system gives (the default). Ports up to 65535, min <= max. */
int enode_config_set_listen_range(enode_config_t *config, int min, int max);

/* The largest message a peer may send, in bytes; a peer that sends a
 * bigger one loses its connection. 0: ENODE_DEFAULT_MAX_MESSAGE. */
int enode_config_set_max_message_size(enode_config_t *config, size_t bytes);

/* The most messages a peer may have half sent in fragments at once on
 * one connection; a peer that starts one more loses its connection.
 * OTP has one open per process sending a message over 64 KiB to this
 * node, so the default, ENODE_DEFAULT_MAX_FRAGMENTED (1024), is far from
 * what real traffic meets. The bytes of those messages together are
 * bounded by max_message_size. 0: the default. */
int enode_config_set_max_fragmented_messages(enode_config_t *config,
                                             unsigned count);

/* A file of TLS options, like -ssl_dist_optfile; NULL: none. */
int enode_config_set_ssl_dist_optfile(enode_config_t *config,
                                      const char *path);

/* One more TLS option, like -ssl_dist_opt Key Value; as many as wanted,
 * applied in order after the optfile. The key must not be empty;
 * enode_new() checks key and value. */
int enode_config_add_ssl_dist_opt(enode_config_t *config, const char *key,
                                  const char *value);

/* Where log messages go: fn (NULL: standard error), with user, and which:
 * those at level or below (ENODE_LOG_ERROR to ENODE_LOG_DEBUG; default
 * ENODE_LOG_WARNING). */
int enode_config_set_log(enode_config_t *config, enode_log_fn fn, void *user,
                         int level);

/* Like erl's +zdbbl (in KiB there) and -kernel dist_buf_busy_limit: when
 * more than this many bytes wait to be written to a peer, the connection
 * is busy and enode_send() to it waits, or returns ENODE_EBUSY in
 * event-loop mode (see enode_send). 0: ENODE_DEFAULT_DIST_BUF_BUSY_LIMIT,
 * 1 MiB, as in OTP. */
int enode_config_set_dist_buf_busy_limit(enode_config_t *config,
                                         size_t bytes);

/* The queue limits every mailbox starts with (see enode_mbox_set_limit):
 * max_len messages, max_bytes bytes; 0: no limit on that one (the
 * default, as in Erlang, where max_heap_size is off unless set). */
int enode_config_set_mbox_limit(enode_config_t *config, size_t max_len,
                                size_t max_bytes);

/* The application's own check of a peer's certificate, called with user;
 * NULL: enode's own TLS checks only (the default). */
int enode_config_set_verify(enode_config_t *config, enode_verify_fn fn,
                            void *user);

/* Register fn as the verify fun Module:Function/3, called with user, for
 * option files that hold {verify_fun, {fun Module:Function/3, State}} (or
 * -ssl_dist_opt server_verify_fun "{Module,Function,State}"). A verify_fun
 * naming a function not registered stops enode_new();
 * inet_tls_dist:verify_client is built in. ENODE_EINVAL also for the
 * built-in's name or a name registered already. */
int enode_config_add_verify_fun(enode_config_t *config, const char *module,
                                const char *function, enode_verify_fun_fn fn,
                                void *user);

/* The address to listen on, like -kernel inet_dist_use_interface: an IP
 * literal of the node's family ("127.0.0.1", or "::1" with IPv6); NULL:
 * every address (the default). A literal of the other family makes
 * enode_new() fail. */
int enode_config_set_listen_address(enode_config_t *config,
                                    const char *address);

/* When a send connects by itself, like the kernel parameter
 * dist_auto_connect. */
typedef enum enode_auto_connect {
    ENODE_AUTO_CONNECT_ALWAYS = 0, /* a send, link, monitor or call toward
                                      a node not connected connects (the
                                      default) */
    ENODE_AUTO_CONNECT_NEVER = 1,  /* none does; enode_connect() does */
    ENODE_AUTO_CONNECT_ONCE = 2,   /* as ALWAYS until a connection that was
                                      up goes down; then none does toward
                                      that node until it is connected again
                                      (by enode_connect() or by the peer) */
} enode_auto_connect_t;

int enode_config_set_auto_connect(enode_config_t *config,
                                  enode_auto_connect_t mode);

/* Let only listed nodes connect, like net_kernel:allow/1 before the node
 * starts: one entry per call, "name@host" (that node), "host" (any node
 * on that host) or "name@" (that name on any host), as OTP reads its
 * list. No entry (the default): every node may connect. A node not
 * allowed is refused once it has sent its name, with the status
 * "not_allowed"; over TLS with a client certificate (verify_peer), only
 * the hosts of the list that the certificate names count, as hosts (any
 * node there; see enode_allow(3)).
 * ENODE_EINVAL for an entry that can match no node ("", "@host",
 * "a@b@c"). Entries given twice are kept once. */
int enode_config_add_allowed_node(enode_config_t *config, const char *node);

/* What a configuration holds, for a program to read back what
 * enode_config_from_args() found. The name ("alive" or "alive@host", NULL
 * when there is none yet), valid until the name changes or the
 * configuration is freed; *long_names gets 1 for -name (long_names may be
 * NULL). */
const char *enode_config_get_name(const enode_config_t *config,
                                  int *long_names);

/* 1 if a cookie was given (else ~/.erlang.cookie is read), 0 if not. */
int enode_config_has_cookie(const enode_config_t *config);

enode_proto_t enode_config_get_proto(const enode_config_t *config);
int enode_config_get_hidden(const enode_config_t *config);
int enode_config_get_connect_all(const enode_config_t *config);
/* 0 when the node uses EPMD. */
int enode_config_get_dist_port(const enode_config_t *config);

/* Read erl's flags from argv into config: -sname N, -name N, -setcookie C,
 * -hidden, -proto_dist inet_tls|inet6_tls|inet_tcp|inet6_tcp,
 * -ssl_dist_optfile F, -ssl_dist_opt K V [K V ...],
 * -kernel net_ticktime S | net_setuptime S | inet_dist_listen_min P |
 * inet_dist_listen_max P | connect_all true|false |
 * inet_dist_use_interface {A,B,C,D} | dist_auto_connect never|once |
 * dist_buf_busy_limit Bytes, +zdbbl KiB, -erl_epmd_port P, -epmd_port P,
 * -connect_all true|false, and -args_file F (erl's flags from the file
 * F: words separated by blanks, '#' to the end of the line a comment,
 * -args_file nested).
 * Flags it knows are removed from argv (argc is updated); others stay, in
 * order, for the program. On failure returns ENODE_EINVAL (or
 * ENODE_ENOMEM) and writes a sentence to err; config may then hold some
 * of the flags. config copies what it keeps: argv may go afterwards. */
int enode_config_from_args(enode_config_t *config, int *argc, char **argv,
                           char *err, size_t errlen);

/* Read erl's flags from where erl reads them, in erl's order: the
 * environment variable ERL_AFLAGS, then the command line (as
 * enode_config_from_args), then ERL_FLAGS, then ERL_ZFLAGS; a flag read
 * later overrides one read before. The variables are split into words
 * as erl splits them (blanks separate words; "...", '...' and a
 * backslash quote). From the variables and from -args_file files, flags
 * enode does not know are skipped (they are erl's: +K true, -kernel
 * shell_history enabled, ...); a known flag with a bad value is an error
 * that names where it came from. Codes as for enode_config_from_args. */
int enode_config_from_env_args(enode_config_t *config, int *argc,
                               char **argv, char *err, size_t errlen);

/* ---- nodes -------------------------------------------------------------------- */

typedef struct enode enode_t;
typedef struct enode_mbox enode_mbox_t;

/* Create a node from config: resolve its name, read the cookie and the
 * TLS options, open the listening socket and register with EPMD. On
 * success *node is ready to send and accept connections. On failure
 * returns a code, and if err is not NULL writes the reason there. The
 * node keeps nothing of config, which may be freed as soon as this
 * returns. Free the node with enode_free(). */
int enode_new(enode_t **node, const enode_config_t *config, char *err,
              size_t errlen);

/* Stop the loop thread if any, close every connection and mailbox,
 * unregister from EPMD and free the node. Mailboxes must not be used
 * afterwards. NULL is allowed. */
void enode_free(enode_t *node);

/* The full node name, "alive@host". Valid until enode_free(). */
const char *enode_name(const enode_t *node);

/* The creation EPMD gave this node. */
uint32_t enode_creation(const enode_t *node);

/* The TCP port the node listens on. */
int enode_port(const enode_t *node);

/* The reason for the last failure on this node, in words. One buffer per
 * node: the next failure on the node, from any thread (the loop's own
 * included), overwrites it, so a program with several threads should use
 * enode_last_error_r() instead. */
const char *enode_last_error(const enode_t *node);

/* The same, copied into buf (at most len bytes, NUL-terminated) while no
 * other thread can be writing it. 0, or ENODE_EINVAL. */
int enode_last_error_r(enode_t *node, char *buf, size_t len);

/* Connect to `peer` ("alive@host") now and wait for the handshake to end,
 * at most the setup time. 0 if connected (or already connected). Sends to
 * an unconnected node connect by themselves; this is for when the
 * application wants to know. */
int enode_connect(enode_t *node, const char *peer);

/* Close the connection to `peer`, like erlang:disconnect_node/1. */
int enode_disconnect(enode_t *node, const char *peer);

/* Whether `peer` is connected: 1 yes, 0 no. */
int enode_is_connected(enode_t *node, const char *peer);

/* Reach `peer` ("alive@host") at TCP `port` directly, without asking
 * EPMD: for clusters run without EPMD (erl -erl_epmd_port, -start_epmd
 * false). Applies to connections made after the call. */
int enode_set_peer_port(enode_t *node, const char *peer, int port);

/* Add names[0..count) to the nodes allowed to connect, like
 * net_kernel:allow/1 (entries as for enode_config_add_allowed_node):
 * while the list is empty every node may connect; once it holds an entry
 * only the nodes it matches may. Entries are only ever added, and
 * connections already up stay. All or none: ENODE_EINVAL, with
 * enode_last_error() naming the entry, when one is not valid. count 0
 * changes nothing. Any thread. */
int enode_allow(enode_t *node, const char *const *names, size_t count);

/* ---- EPMD ----------------------------------------------------------------- */

/* Called once per node name an EPMD lists. */
typedef void (*enode_names_fn)(void *user, const char *name, int port);

/* Ask the EPMD on `host` (port epmd_port; 0: $ERL_EPMD_PORT or 4369)
 * which nodes it knows, like net_adm:names/1. Blocks, at most about 10 s.
 * 0, or a code with the reason written to err. Needs no node. */
int enode_epmd_names(const char *host, int epmd_port, enode_names_fn fn,
                     void *user, char *err, size_t errlen);

/* ---- the event loop ------------------------------------------------------- */

/* One fd that is readable when the node has work; poll it for POLLIN. */
int enode_fd(const enode_t *node);

/* Milliseconds until enode_process() must run even if the fd stays quiet,
 * or -1 for no deadline. */
int enode_timeout(enode_t *node);

/* Do all the I/O and timer work that is ready, waiting at most timeout_ms
 * (0: do not wait; -1: wait for something to happen). Returns 0 or a code.
 * Only one thread at a time may run it, and not while a loop thread runs. */
int enode_process(enode_t *node, int timeout_ms);

/* Run the loop on a thread of the library's. After this, enode_process()
 * must not be called; enode_free() stops the thread. */
int enode_start_thread(enode_t *node);

/* ---- mailboxes (C "processes") ---------------------------------------- */

/* A message as it arrived. `msg` holds the term in external format with a
 * version byte first: decode with index = 0, ei_decode_version(), then
 * ei_decode_*. */
typedef struct enode_msg {
    int has_from;        /* 1 if the sender is known */
    erlang_pid from;     /* the sender, when has_from */
    char to_name[MAXATOMLEN_UTF8]; /* the registered name it was sent to,
                                      or "" when sent to the pid */
    ei_x_buff msg;       /* owned; release with enode_msg_free().
                            msg.index is the term's length, msg.buffsz
                            the allocation's, which may be larger */
} enode_msg_t;

/* Release what a received message holds (not the struct itself). */
void enode_msg_free(enode_msg_t *msg);

/* Create a mailbox with a fresh pid on this node. Free with
 * enode_mbox_free(), or let enode_free() do it. */
int enode_mbox_new(enode_t *node, enode_mbox_t **mbox);

/* Unregister and free a mailbox; undelivered messages are dropped. */
void enode_mbox_free(enode_mbox_t *mbox);

/* How many messages wait in the mailbox (*len) and the bytes they take
 * (*bytes: their terms and the queue's own bookkeeping), like
 * process_info(P, [message_queue_len, total_heap_size]); either may be
 * NULL. 0, or ENODE_EINVAL. */
int enode_mbox_info(const enode_mbox_t *mbox, size_t *len, size_t *bytes);

/* Limit the mailbox's queue to max_len messages and max_bytes bytes (as
 * enode_mbox_info counts them; 0: no limit on that one). A message that
 * would take the queue over either makes the mailbox exit with reason
 * `killed`, as a process over max_heap_size is killed: trapping exits
 * does not stop it, links and monitors fire, and the log says why. A new
 * mailbox starts with the node's limits (enode_config_set_mbox_limit;
 * none by default). 0, or ENODE_EINVAL. */
int enode_mbox_set_limit(enode_mbox_t *mbox, size_t max_len,
                         size_t max_bytes);

/* The mailbox's pid, valid while the mailbox lives. */
const erlang_pid *enode_mbox_pid(const enode_mbox_t *mbox);

/* Register `name` for the mailbox, like register/2. ENODE_EEXIST if the
 * name is taken, ENODE_EINVAL if the mailbox has a name already. */
int enode_register(enode_mbox_t *mbox, const char *name);

/* Drop the mailbox's registered name, if it has one. */
int enode_unregister(enode_mbox_t *mbox);

/* Wait at most timeout_ms (-1: forever, 0: do not wait) for a message.
 * On success fills *msg, which the caller releases with enode_msg_free().
 * ENODE_ETIMEOUT if nothing came. In event-loop mode this runs the loop
 * while it waits. */
int enode_receive(enode_mbox_t *mbox, enode_msg_t *msg, int timeout_ms);

/* Send `msg` (ei_x_buff with or without the version byte first) from
 * `from` to the pid `to`, on this node or another. Like Erlang's `!`, it
 * returns once the message is queued: a send to a node that cannot be
 * reached is dropped (and logged).
 *
 * The first message to a connection since the loop's last turn is written
 * at once; the ones right behind it are gathered into large TLS records
 * and written by the loop's next turn (or as soon as 16 KiB wait), so a
 * burst costs a few records and system calls, not one per message. The
 * loop is woken for it: in event-loop mode enode_fd() turns readable, and
 * the host must call enode_process() then, as for any other event.
 * enode_free() and enode_disconnect() first write what is queued.
 *
 * When more than dist_buf_busy_limit bytes wait to be written to the
 * peer (enode_config_set_dist_buf_busy_limit; 1 MiB), the connection is
 * busy: with a loop thread the send waits until the loop has written
 * enough, as OTP suspends the sender (ENODE_ECONN if the connection goes
 * meanwhile); in event-loop mode, or on the loop's thread (an rpc
 * function), it returns ENODE_EBUSY at once and sends nothing: run
 * enode_process() and send again. enode_reg_send() does the same. */
int enode_send(enode_mbox_t *from, const erlang_pid *to, const ei_x_buff *msg);

/* Send to the process registered as `name` on `node_name` (NULL or this
 * node's name: a local mailbox). */
int enode_reg_send(enode_mbox_t *from, const char *node_name,
                   const char *name, const ei_x_buff *msg);

/* A fresh reference on this node, like make_ref/0. */
int enode_make_ref(enode_t *node, erlang_ref *ref);

/* ---- links, exit signals and monitors ------------------------------------ */

/* A mailbox behaves like an Erlang process toward links and monitors.
 * Exit signals and DOWN messages arrive as ordinary messages:
 *   {'EXIT', From, Reason}                 when the mailbox traps exits;
 *   {'DOWN', Ref, process, Object, Reason} for a monitor (Object is the
 *                                          pid, or {Name, Node});
 *   {nodeup, Node} and {nodedown, Node}    with enode_monitor_nodes().
 * A mailbox that does not trap exits dies from a link exit signal whose
 * reason is not `normal`, and from exit/2 with any reason but `normal`
 * (`kill` cannot be trapped and makes the reason `killed`). A dead mailbox
 * has told its links and monitors; enode_receive() on it returns
 * ENODE_ECLOSED and enode_mbox_exit_reason() says why. Free it with
 * enode_mbox_free() as usual. Links and monitors across a lost connection
 * fire with the reason `noconnection`. */

/* Link the mailbox to pid, like link/1. Remote: returns once the LINK
 * signal is queued; if pid does not exist, an exit signal with `noproc`
 * comes back. Local: ENODE_ENOTFOUND if pid does not exist. */
int enode_link(enode_mbox_t *mbox, const erlang_pid *pid);

/* Remove the link, like unlink/1. No exit signal from that link arrives
 * after this returns. */
int enode_unlink(enode_mbox_t *mbox, const erlang_pid *pid);

/* Trap exits (on = 1) or not, like process_flag(trap_exit, On). */
int enode_trap_exit(enode_mbox_t *mbox, int on);

/* Send an exit signal to pid with reason (a term in an ei_x_buff), like
 * exit(Pid, Reason). */
int enode_exit(enode_mbox_t *mbox, const erlang_pid *pid,
               const ei_x_buff *reason);

/* The mailbox exits with reason, like exit(Reason): its links get exit
 * signals and its monitors DOWN messages. */
int enode_mbox_exit(enode_mbox_t *mbox, const ei_x_buff *reason);

/* Why the mailbox exited (a term, version byte first), or NULL while it
 * lives. Valid until enode_mbox_free(). */
const ei_x_buff *enode_mbox_exit_reason(const enode_mbox_t *mbox);

/* Monitor pid, like monitor(process, Pid). *ref gets the monitor's
 * reference, which the DOWN message carries. */
int enode_monitor(enode_mbox_t *mbox, const erlang_pid *pid, erlang_ref *ref);

/* Monitor the process registered as name on node_name (NULL: this node),
 * like monitor(process, {Name, Node}). */
int enode_monitor_name(enode_mbox_t *mbox, const char *name,
                       const char *node_name, erlang_ref *ref);

/* Remove a monitor, like demonitor/1. ENODE_ENOTFOUND if it has fired or
 * never was. */
int enode_demonitor(enode_mbox_t *mbox, const erlang_ref *ref);

/* Receive {nodeup, Node} and {nodedown, Node} (on = 1) or stop, like
 * net_kernel:monitor_nodes/1. */
int enode_monitor_nodes(enode_mbox_t *mbox, int on);

/* A new alias for the mailbox, like alias/0: a reference that others can
 * send to (erlang:send(Alias, Msg) on OTP 24+); the message arrives in
 * this mailbox. Valid until enode_unalias() or the mailbox goes. */
int enode_alias(enode_mbox_t *mbox, erlang_ref *alias);

/* Deactivate an alias, like unalias/1: later messages to it are dropped. */
int enode_unalias(enode_mbox_t *mbox, const erlang_ref *alias);

/* ---- Erlang calling C: rpc and erpc ---------------------------------------- */

/* A C function that Erlang calls with rpc:call(Node, Module, Function,
 * Args), erpc:call/4 and the other forms of rpc and erpc (call,
 * block_call, cast, multicall, send_request, async_call). args holds the
 * argument list at args[index] (arity elements: decode them with
 * ei_decode_*, starting at index). Encode the return value into result,
 * which already holds a version byte, and return 0; or encode a reason
 * and return nonzero to make the call fail with error:Reason in
 * Module:Function/Arity (rpc:call returns {badrpc, {'EXIT', {Reason,
 * [{Module, Function, Arity, []}]}}}). It runs on the thread that runs
 * the node's loop, without the node's lock, so it may send messages;
 * keep it short, as the loop waits for it. */
typedef int (*enode_rpc_fn)(void *user, const char *args, int index,
                            int arity, ei_x_buff *result);

/* Make Module:Function callable from Erlang. Without registering
 * anything, a node answers erlang:node/0, erlang:nodes/0,1,
 * erlang:is_alive/0 and erlang:system_time/0,1, as every Erlang node
 * does; a function registered under one of those names replaces it. A
 * call to anything else not registered fails with undef, as it would on
 * an Erlang node. */
int enode_rpc_register(enode_t *node, const char *module,
                       const char *function, enode_rpc_fn fn, void *user);

/* ---- global names (OTP's global) ---------------------------------------- */

/* A visible node takes part in OTP's `global` name server as an Erlang
 * node does, unless connect_all is 0 (erl's -connect_all false). These
 * are global:register_name/2, unregister_name/1, whereis_name/1,
 * registered_names/0 and send/2, for names that are atoms. */

/* Register `name` for the mailbox on every node of the cluster, like
 * global:register_name(Name, Pid): the global lock is taken on every
 * known node, then each registers the name. 0 (yes); ENODE_EEXIST (no:
 * the name is taken, or the mailbox has a global name already);
 * ENODE_EINVAL (name is not an atom's text, or global is off here: a
 * hidden node or connect_all 0); ENODE_ETIMEOUT (the cluster did not
 * answer within 30 s; nothing stays registered or locked). It waits for
 * the cluster: in event-loop mode it runs the loop meanwhile. The name
 * goes when the mailbox exits or is freed and when the node leaves the
 * cluster. When partitions that both have the name meet, global keeps
 * one process and kills the other (the mailbox then exits with reason
 * killed). */
int enode_global_register(enode_mbox_t *mbox, const char *name);

/* Unregister `name` on every node, like global:unregister_name/1 (the
 * name of any process). 0, also when no process has the name; codes as
 * for enode_global_register. */
int enode_global_unregister(enode_t *node, const char *name);

/* The process registered globally as `name`, like global:whereis_name/1:
 * read from this node's copy of global's table, without a message. 0
 * and *pid; ENODE_ENOTFOUND; ENODE_EINVAL if name is not an atom's text. */
int enode_global_whereis(enode_t *node, const char *name, erlang_pid *pid);

/* Called once per global name. */
typedef void (*enode_global_names_fn)(void *user, const char *name,
                                      const erlang_pid *pid);

/* Every global name that is an atom (Erlang allows any term), with its
 * process, like global:registered_names/0: fn is called for each,
 * without the node's lock (fn may call the node). Returns how many, or
 * a code. */
int enode_global_registered_names(enode_t *node, enode_global_names_fn fn,
                                  void *user);

/* Send msg from `from` to the process registered globally as `name`,
 * like global:send/2. ENODE_ENOTFOUND if no process has the name. */
int enode_global_send(enode_mbox_t *from, const char *name,
                      const ei_x_buff *msg);

/* ---- C calling Erlang: erpc -------------------------------------------------- */

/* Call Module:Function(Args...) on node and wait at most timeout_ms (-1:
 * forever). args holds the argument list (with or without the version
 * byte first). On success result holds the value, version byte first. An
 * exception in the call returns a negative code of its own,
 * ENODE_ERAISED, with {Class, Reason} in result: {throw, Value},
 * {exit, Reason} or {error, Reason}. result is allocated by the call
 * (free it with ei_x_free) when it returns 0 or ENODE_ERAISED, and left
 * alone otherwise. The call is erpc's: results and exceptions of any size
 * arrive, and after ENODE_ETIMEOUT nothing of the call reaches the
 * mailbox. An unreachable node gives ENODE_ECONN. Other messages stay
 * queued, in order. In event-loop mode it runs the loop while it waits. */
int enode_rpc_call(enode_mbox_t *mbox, const char *node, const char *module,
                   const char *function, const ei_x_buff *args,
                   ei_x_buff *result, int timeout_ms);

/* Run Module:Function(Args...) on node without waiting for it, like
 * erpc:cast/4: returns once the request is queued (after connecting, at
 * most the setup time). What the function returns or raises is not
 * reported. */
int enode_rpc_cast(enode_mbox_t *mbox, const char *node, const char *module,
                   const char *function, const ei_x_buff *args);

/* ---- calls (gen:call) --------------------------------------------------- */

/* Call a gen_server, or any server speaking gen:call, like
 * gen_server:call(Server, Request, Timeout). The server is the pid `to`,
 * or (to = NULL) the process registered as `name` on node_name (NULL:
 * this node). On success *reply holds the reply (version byte first;
 * free it with ei_x_free). A dead server gives ENODE_ENOTFOUND, an
 * unreachable node ENODE_ECONN, no reply in time ENODE_ETIMEOUT; then
 * enode_last_error() says what happened. Messages that arrive during the
 * call stay queued, in order. A reply that comes after the timeout stays
 * in the mailbox as {Ref, Reply}. */
int enode_call(enode_mbox_t *mbox, const erlang_pid *to, const char *name,
               const char *node_name, const ei_x_buff *request,
               ei_x_buff *reply, int timeout_ms);

/* Who made a gen:call request, as needed to answer it. */
#define ENODE_TAG_MAX 512
typedef struct enode_from {
    erlang_pid pid;           /* the caller */
    int tag_len;
    char tag[ENODE_TAG_MAX];  /* the request's tag, as it came */
} enode_from_t;

/* If msg is a gen:call request {'$gen_call', From, Request}, fill *from,
 * set *request_index to where Request starts in msg->msg.buff, and return
 * 1; otherwise 0. */
int enode_gen_call_parse(const enode_msg_t *msg, enode_from_t *from,
                         int *request_index);

/* Answer a gen:call request: sends {Tag, Reply} to the caller, which is
 * what gen_server:reply/2 does. */
int enode_gen_reply(enode_mbox_t *mbox, const enode_from_t *from,
                    const ei_x_buff *reply);

/* ---- process groups (pg) ---------------------------------------------------- */

/* C mailboxes as members of OTP's process groups (the pg module): a
 * mailbox that joins a group is among what pg:get_members/1,2 returns on
 * every visible OTP node of the cluster that runs the same scope, and
 * Erlang reaches it with `[P ! Msg || P <- pg:get_members(G)]`.
 *
 * A group is any term (an ei_x_buff, with or without the version byte
 * first); one that is not a whole valid term gives ENODE_EINVAL. A scope
 * is the name of an atom; NULL means the default scope `pg`. A scope
 * runs on this node from the first call that names it (or from
 * enode_pg_start), as a process registered under its name, and lives as
 * long as the node: ENODE_EEXIST if a mailbox of ours holds that name.
 * Its view of the other nodes' members fills as their scopes answer,
 * within a round trip once a connection is up; it follows nodes that
 * come and go. A mailbox that exits or is freed leaves all its groups;
 * when the node goes, its members vanish everywhere. A hidden node takes
 * no part: its scopes know only its own members. */

/* Start `scope` on the node now, so that its view of the cluster is
 * filled before the first question. 0 if it runs. */
int enode_pg_start(enode_t *node, const char *scope);

/* The mailbox joins group, like pg:join/3; a mailbox may join a group
 * several times and is then a member that many times. ENODE_ECLOSED if
 * the mailbox has exited. */
int enode_pg_join(enode_mbox_t *mbox, const char *scope, const ei_x_buff *group);

/* The mailbox leaves group once, like pg:leave/3. ENODE_ENOTFOUND if it
 * is not in the group. */
int enode_pg_leave(enode_mbox_t *mbox, const char *scope, const ei_x_buff *group);

/* Fills up to max pids of the group's members, cluster-wide; returns how
 * many there are (which may exceed max), or a negative code. Like
 * pg:get_members/2, answered from this node's replica without a message.
 * pids may be NULL when max is 0. */
int enode_pg_members(enode_t *node, const char *scope, const ei_x_buff *group,
                     erlang_pid *pids, int max);

/* The same for this node's members only, like pg:get_local_members/2. */
int enode_pg_local_members(enode_t *node, const char *scope,
                           const ei_x_buff *group, erlang_pid *pids, int max);

/* The groups that have members, cluster-wide (pg:which_groups/1) or on
 * this node (pg:which_local_groups/1): *groups is set up by the call and
 * holds a version byte and the list of groups; free it with ei_x_free().
 * Returns how many groups there are, or a negative code. */
int enode_pg_which_groups(enode_t *node, const char *scope, ei_x_buff *groups);
int enode_pg_which_local_groups(enode_t *node, const char *scope,
                                ei_x_buff *groups);

/* The mailbox gets a notice for every member that joins or leaves group
 * anywhere in the cluster (group NULL: any group of the scope), as
 * pg:monitor/2 and pg:monitor_scope/1 send them:
 *   {Ref, join, Group, [Pid]}   {Ref, leave, Group, [Pid]}
 * with Ref the reference put in *ref. The members at the time of the call
 * come first, as join notices (one per group). The monitor ends with
 * enode_pg_demonitor or when the mailbox goes. */
int enode_pg_monitor(enode_mbox_t *mbox, const char *scope,
                     const ei_x_buff *group, erlang_ref *ref);

/* End the monitor and drop its notices still queued in the mailbox, like
 * pg:demonitor/2. ENODE_ENOTFOUND if the mailbox holds no such monitor. */
int enode_pg_demonitor(enode_mbox_t *mbox, const char *scope,
                       const erlang_ref *ref);

#ifdef __cplusplus
}
#endif

#endif /* ENODE_H */
