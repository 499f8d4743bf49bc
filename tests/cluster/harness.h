/*
 * harness.h - bring up real OTP nodes over TLS distribution for tests.
 *
 * A cluster is a private temp directory (certificates, ssl_dist_optfile,
 * one log file per process), a private epmd on a free port, and any number
 * of OTP nodes that use that epmd. Each node runs a small agent
 * (harness_agent.erl) that evaluates Erlang expressions sent by the test and
 * answers with the result printed by ~w, so a C test can drive and inspect
 * the Erlang side:
 *
 *     h_cluster_t *c = h_cluster_new();
 *     h_epmd_start(c);
 *     h_node_t *a = h_node_start(c, "a", NULL);
 *     h_node_t *b = h_node_start(c, "b", NULL);
 *     h_eval_expectf(a, "pong", "net_adm:ping('%s').", h_node_name(b));
 *     h_cluster_stop(c);
 *
 * Processes: every child (epmd, each node) leads its own process group, gets
 * SIGKILL if the thread that started it dies (PR_SET_PDEATHSIG; start
 * clusters from a thread that outlives them), halts when its control socket
 * closes, and is stopped by PID/PGID only. An atexit handler stops clusters
 * that a failing test left running. Nodes never start an epmd of their own
 * (-start_epmd false).
 *
 * h_cluster_new() makes the calling process a child subreaper
 * (PR_SET_CHILD_SUBREAPER): OTP's helpers (erl_child_setup, inet_gethost)
 * put themselves in sessions of their own and are orphaned when their
 * parent exits; the harness reaps those zombies (only zombie children in a
 * session other than the caller's) so teardown can prove nothing is left.
 * A test killed outright (Criterion timeout, SIGKILL) still takes its nodes
 * and epmd down through PDEATHSIG, but its temp dir stays behind.
 *
 * Environment:
 *   ERL       the erl binary to run (default: erl from PATH)
 *   H_SRCDIR  directory holding mkcerts.sh and harness_agent.erl
 *             (default: -DH_SRCDIR, then the executable's directory,
 *             then this source file's directory, then ./tests/cluster)
 *   H_KEEP=1  keep the cluster's temp dir (logs, certificates) after stop
 *   TMPDIR    where temp dirs are created (default /tmp)
 *
 * Errors are printed to stderr with an "h: " prefix; functions return NULL
 * or a negative value so tests can assert on them.
 *
 * Not thread-safe: use one cluster from one thread.
 */
#ifndef ENODE_TESTS_HARNESS_H
#define ENODE_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct h_cluster h_cluster_t;
typedef struct h_node h_node_t;

/* h_eval() results. */
enum {
    H_OK = 0,
    H_EERL = -1,     /* the expression raised or did not parse; out = reason */
    H_ETIMEOUT = -2, /* no reply in time (the node may still be evaluating) */
    H_EIO = -3,      /* the node is gone or the harness failed; out = why */
};

/* --- Certificates ------------------------------------------------------ */

/* Writes a fresh CA and a node certificate into dir (created if needed):
 * ca.pem, ca.key, node.pem, node.key (ECDSA P-256, PKCS#8). The node cert
 * is a server and client cert for this host (see mkcerts.sh for the SANs).
 * Each call makes a new, unrelated CA. Returns 0 or -1. */
int h_pki_make(const char *dir);
/* Same, for another host name (the SANs use it instead of gethostname()). */
int h_pki_make_host(const char *dir, const char *hostname);
/* Same, with a CA whose key is of type ca_key, and for each of the
 * NULL-terminated keys (may be NULL) node_<key>.pem and node_<key>.key, a
 * node certificate with a key of that type. Types: "rsa2048", "rsa4096",
 * "p256", "p384". Returns 0 or -1. */
int h_pki_make_keys(const char *dir, const char *ca_key,
                    const char *const *keys);

/* Writes an ssl_dist_optfile for mutual TLS with the PKI in pki_dir:
 * both sides present node.pem, verify the peer against ca.pem, and the
 * server insists on a client certificate. Returns 0 or -1. */
int h_write_optfile(const char *pki_dir, const char *path);

/* --- Cluster ----------------------------------------------------------- */

/* Creates the temp dir, a PKI in <dir>/pki and an optfile <dir>/ssl_dist.conf
 * for it, and a random cookie. No process is started yet. NULL on error. */
h_cluster_t *h_cluster_new(void);

/* Starts a private epmd on a free loopback port and waits until it answers.
 * Returns the port (> 0), or -1. Must precede h_node_start(). */
int h_epmd_start(h_cluster_t *c);

/* Stops every node, then epmd (SIGTERM to each process group, up to ~3 s,
 * then SIGKILL), reaps them, removes the temp dir unless H_KEEP=1, and frees
 * c and all its nodes. NULL is a no-op. */
void h_cluster_stop(h_cluster_t *c);

const char *h_cluster_dir(const h_cluster_t *c);     /* the temp dir */
const char *h_cluster_pki_dir(const h_cluster_t *c); /* <dir>/pki */
const char *h_cluster_optfile(const h_cluster_t *c); /* <dir>/ssl_dist.conf */
const char *h_cluster_cookie(const h_cluster_t *c);
int h_cluster_epmd_port(const h_cluster_t *c);       /* 0 before start */
pid_t h_cluster_epmd_pid(const h_cluster_t *c);      /* 0 before start */

/* Copies the PIDs of every process the cluster started (epmd and nodes,
 * including stopped ones) into pids; each is also its process group id.
 * Returns how many there are (which may exceed max). */
size_t h_cluster_pids(const h_cluster_t *c, pid_t *pids, size_t max);

/* --- Nodes ------------------------------------------------------------- */

typedef struct h_node_opts {
    bool tcp;            /* plain inet_tcp_dist instead of inet_tls_dist */
    bool hidden;         /* -hidden */
    bool longnames;      /* -name prefix_..@host instead of -sname */
    bool ipv6;           /* inet6_tls / inet6_tcp (use with host "::1") */
    const char *host;    /* host part of the name; default: erl's own short
                          * host name for -sname, "127.0.0.1" for -name.
                          * With TLS it must be in the certificate's
                          * dNSName SANs (see mkcerts.sh). */
    const char *cookie;  /* default: the cluster's cookie */
    const char *optfile; /* default: the cluster's ssl_dist_optfile */
    const char *const *extra_args; /* NULL-terminated extra erl arguments */
    /* NULL-terminated command that runs erl, its first word looked up in
     * PATH: {"ip", "netns", "exec", "ns1", NULL} runs the node in a
     * network namespace. The node's process is then the wrapper's. */
    const char *const *wrapper;
    int start_timeout_ms; /* readiness timeout; default 20000 */
} h_node_opts_t;

#define H_NODE_OPTS_INIT {0}

/* Starts an OTP node named <prefix>_<pid>_<n> (unique per process) and waits
 * until its agent answers node(). opts may be NULL for the defaults (TLS,
 * -sname, visible). On failure, prints the tail of the node's log and
 * returns NULL. The node belongs to c; do not free it. */
h_node_t *h_node_start(h_cluster_t *c, const char *prefix,
                       const h_node_opts_t *opts);

/* The two halves of h_node_start(), to boot several nodes in parallel:
 * launch them all, then wait for each. h_node_wait_ready returns 0 or -1. */
h_node_t *h_node_launch(h_cluster_t *c, const char *prefix,
                        const h_node_opts_t *opts);
int h_node_wait_ready(h_node_t *n, int timeout_ms);

/* Stops one node gracefully (as h_cluster_stop does) or abruptly
 * (SIGKILL to its process group, e.g. to test nodedown handling). The node
 * handle stays valid (h_node_name, h_node_pid) until h_cluster_stop. */
void h_node_stop(h_node_t *n);
void h_node_kill(h_node_t *n);

/* Full node name as the node reports it, e.g. "a_4242_1@myhost". In
 * Erlang expressions, quote it: "net_adm:ping('%s')". */
const char *h_node_name(const h_node_t *n);
/* Host part of the node name ("myhost"). */
const char *h_node_host(const h_node_t *n);
pid_t h_node_pid(const h_node_t *n);
const char *h_node_log(const h_node_t *n); /* path of its log file */
/* Prints the last `lines` lines of the node's log to stderr. */
void h_node_print_log_tail(const h_node_t *n, int lines);
/* True if the node's log (its stdout and stderr) contains needle, e.g. a
 * TLS alert such as "Unknown CA". */
bool h_node_log_contains(const h_node_t *n, const char *needle);

/* --- Evaluating Erlang on a node --------------------------------------- */

/* Evaluates expr (Erlang expressions; the final '.' is optional; newlines
 * are sent as spaces, so keep them out of string literals) with fresh
 * bindings in a fresh process on node n. On H_OK, out holds the result
 * printed with ~w; on H_EERL, "{Class,Reason}"; on other errors a message.
 * out is always NUL-terminated and truncated to outlen (outlen may be 0 with
 * out NULL). timeout_ms <= 0 means 10 s. */
int h_eval(h_node_t *n, const char *expr, char *out, size_t outlen,
           int timeout_ms);
int h_evalf(h_node_t *n, char *out, size_t outlen, int timeout_ms,
            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* True when expr evaluates to a term that prints (~w) exactly as expected.
 * On mismatch, prints expression, expected and actual to stderr. */
bool h_eval_expect(h_node_t *n, const char *expr, const char *expected);
bool h_eval_expectf(h_node_t *n, const char *expected, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Polls expr (every 50-200 ms) until it prints as expected or timeout_ms
 * passes; prints the last value on failure. */
bool h_wait_until(h_node_t *n, const char *expr, const char *expected,
                  int timeout_ms);

/* --- Process checks ---------------------------------------------------- */

/* True if a process with this PID exists (kill(pid, 0) does not fail with
 * ESRCH). A zombie counts as alive. */
bool h_pid_alive(pid_t pid);
/* True if any process is left in process group pgid. */
bool h_pgrp_alive(pid_t pgid);

/* --- Misc -------------------------------------------------------------- */

/* Directory with mkcerts.sh and harness_agent.erl (see H_SRCDIR above), or
 * NULL if none was found. */
const char *h_srcdir(void);
/* The erl binary used ($ERL or "erl"). */
const char *h_erl(void);

#endif
