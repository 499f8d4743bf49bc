/* enode-bench - ./dev bench: enode side by side with OTP's own distribution.
 *
 *   enode-bench [--quick] [--json FILE] [--paths ID,...] [--workloads W,...]
 *               [--reps N] [--secs S] [--window MARKS]
 *
 * One run, one machine, one cluster (private EPMD, throwaway certificates:
 * tests/cluster/harness.h). Every path runs the same workloads through the
 * same protocol (bench_proto.h, bench_erl.erl):
 *
 *   erl_erl_tls  Erlang -> Erlang over inet_tls_dist: the anchor
 *   erl_c_tls    Erlang -> enode C node over TLS
 *   c_erl_tls    enode C node -> Erlang over TLS
 *   c_c_tls      enode C node -> enode C node over TLS
 *   erl_erl_tcp  Erlang -> Erlang over inet_tcp_dist (reference)
 *   erl_ei_tcp   Erlang -> ei C node over TCP (reference: erl_interface)
 *   erl_c_tcp    Erlang -> enode C node over TCP (beside ei, same sender)
 *   c_erl_tcp    enode C node -> Erlang over TCP
 *   c_c_tcp      enode C node -> enode C node over TCP (reference)
 *
 * Workloads: small tuples (msg/s), binaries of 1 KiB, 64 KiB and 1 MiB
 * (MB/s of binary payload, MB = 10^6 bytes), ping-pong round trips (p50,
 * p99), connection set-up (median of 50), and the resident memory of an
 * idle C node with 1 and 100 TLS connections. Throughput figures are
 * medians of --reps runs, each about --secs seconds long (its message count
 * comes from a warm-up run): 7 runs of 1.5 s, or with --quick 3 of 0.2 s.
 * Receivers count every message and byte and check the order; any loss or
 * disorder fails the whole run (exit 1), and every receiver must first
 * prove that it notices both.
 *
 * --paths and --workloads pick a subset (for profiling one path): path ids
 * as above plus "memory"; workloads small, bin_1k, bin_64k, bin_1m, rtt,
 * setup.
 *
 * Results: a table on stdout, and JSON in --json FILE.
 */
#include "config.h"

#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>

#include <enode.h>

#include "bench_proto.h"
#include "cnode.h"
#include "enode_fixture.h"
#include "harness.h"

#ifndef BENCH_SRCDIR
#define BENCH_SRCDIR "bench"
#endif

#define N_SETUP 50      /* connections timed per path */
#define N_MEM_CONNS 100 /* idle TLS connections for the memory figure */
#define MAX_SAMPLES 64  /* per figure: repetitions, or N_SETUP */
#define EVAL_MS 600000  /* the longest an Erlang-side step may take */

/* Marks a sender may have unacknowledged (--window): about 2 MiB of
 * binaries, or 8192 small tuples, in flight. */
static int window = 8;

/* ---- options ------------------------------------------------------------- */

typedef struct opts {
    int quick;
    int reps;
    double secs; /* target length of one throughput run */
    int pings;   /* round trips per run */
    const char *json;
    const char *paths;     /* comma-separated ids, NULL: all */
    const char *workloads; /* the same */
} opts_t;

static void usage(void)
{
    fprintf(stderr,
            "usage: enode-bench [--quick] [--json FILE] [--paths ID,...] "
            "[--workloads W,...] [--reps N] [--secs S] [--window MARKS]\n");
    exit(2);
}

static void parse_opts(int argc, char **argv, opts_t *o)
{
    int reps = 0;
    double secs = 0;

    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            o->quick = 1;
        else if (strcmp(a, "--json") == 0 && v)
            o->json = argv[++i];
        else if (strcmp(a, "--paths") == 0 && v)
            o->paths = argv[++i];
        else if (strcmp(a, "--workloads") == 0 && v)
            o->workloads = argv[++i];
        else if (strcmp(a, "--reps") == 0 && v)
            reps = atoi(argv[++i]);
        else if (strcmp(a, "--secs") == 0 && v)
            secs = atof(argv[++i]);
        else if (strcmp(a, "--window") == 0 && v)
            window = atoi(argv[++i]);
        else
            usage();
    }
    if (window < 1 || reps > MAX_SAMPLES)
        usage();
    o->reps = reps > 0 ? reps : o->quick ? 3 : 7;
    o->secs = secs > 0 ? secs : o->quick ? 0.2 : 1.5;
    o->pings = o->quick ? 1000 : 5000;
}

/* ---- small utilities ----------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A failed measurement fails the run: the atexit handlers of the harness
 * stop every process it started. */
static void fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("enode-bench: FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void progress(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* A "Vm...:" figure (fmt: "VmRSS: %ld") of a process, in KiB; -1 if
 * unreadable. */
static long proc_status_kb(pid_t pid, const char *fmt)
{
    char path[64], line[256];
    long kb = -1;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, fmt, &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* VmRSS of a process, in KiB; -1 if unreadable. */
static long rss_kb(pid_t pid)
{
    return proc_status_kb(pid, "VmRSS: %ld");
}

/* ---- statistics ---------------------------------------------------------- */

typedef struct samples {
    int n;
    double v[MAX_SAMPLES];
} stat_t;

static void stat_add(stat_t *s, double v)
{
    if (s->n < MAX_SAMPLES)
        s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double stat_median(const stat_t *s)
{
    double v[MAX_SAMPLES];

    if (s->n == 0)
        return 0;
    memcpy(v, s->v, sizeof(double) * (size_t)s->n);
    qsort(v, (size_t)s->n, sizeof *v, cmp_double);
    return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

static double stat_min(const stat_t *s)
{
    double m = s->n ? s->v[0] : 0;
    for (int i = 1; i < s->n; i++)
        m = s->v[i] < m ? s->v[i] : m;
    return m;
}

static double stat_max(const stat_t *s)
{
    double m = s->n ? s->v[0] : 0;
    for (int i = 1; i < s->n; i++)
        m = s->v[i] > m ? s->v[i] : m;
    return m;
}

/* ---- metrics ------------------------------------------------------------- */

enum metric {
    M_SMALL,
    M_BIN_1K,
    M_BIN_64K,
    M_BIN_1M,
    M_RTT_P50,
    M_RTT_P99,
    M_SETUP,
    N_METRICS
};

static const struct metric_info {
    const char *key;   /* JSON */
    const char *label; /* table */
    const char *unit;
    int lower_better;
} metrics[N_METRICS] = {
    {"small_msgs_per_s", "small tuple", "msg/s", 0},
    {"bin_1k_mb_per_s", "1 KiB binary", "MB/s", 0},
    {"bin_64k_mb_per_s", "64 KiB binary", "MB/s", 0},
    {"bin_1m_mb_per_s", "1 MiB binary", "MB/s", 0},
    {"rtt_p50_us", "round trip p50", "us", 1},
    {"rtt_p99_us", "round trip p99", "us", 1},
    {"setup_ms", "connection setup", "ms", 1},
};

/* ---- C nodes in this process --------------------------------------------- */

/* A C node of ours that sends, pings and connects; in event-loop mode,
 * so that enode_receive() runs it on this thread. It notes the TLS
 * version and cipher of each connection from enode's log. */
typedef struct cside {
    enode_t *node;
    enode_mbox_t *mbox;
    struct {
        char peer[256];
        char tls[128];
    } seen[16];
    int n_seen;
} cside_t;

/* "connected to PEER (TLSv1.3 TLS_AES_128_GCM_SHA256, visible)" */
static void note_tls(cside_t *cs, const char *line)
{
    char peer[256], tls[128];

    if (sscanf(line, "connected %*s %255s (%127[^,)]", peer, tls) != 2)
        return;
    for (int i = 0; i < cs->n_seen; i++)
        if (strcmp(cs->seen[i].peer, peer) == 0) {
            snprintf(cs->seen[i].tls, sizeof cs->seen[i].tls, "%s", tls);
            return;
        }
    if (cs->n_seen < (int)(sizeof cs->seen / sizeof *cs->seen)) {
        snprintf(cs->seen[cs->n_seen].peer, sizeof cs->seen[0].peer, "%s",
                 peer);
        snprintf(cs->seen[cs->n_seen].tls, sizeof cs->seen[0].tls, "%s", tls);
        cs->n_seen++;
    }
}

/* Warnings and errors go to stderr, except the harness's optfile options
 * that enode says it ignores (once per node: 100 nodes would be noise)
 * and the disconnections the setup timing makes on purpose. */
static void quiet_log(void *user, int level, const char *message)
{
    (void)user;
    if (level <= ENODE_LOG_WARNING &&
        !strstr(message, "has no effect in enode") &&
        !strstr(message, "disconnected by the application"))
        fprintf(stderr, "enode: %s\n", message);
}

static void cside_log(void *user, int level, const char *message)
{
    if (level == ENODE_LOG_INFO)
        note_tls(user, message);
    else
        quiet_log(user, level, message);
}

/* "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384" (enode's log, wolfSSL's names)
 * -> "TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" (the IANA name
 * OTP prints), so that both sides read alike. */
static void cside_tls(const cside_t *cs, const char *peer, char *out,
                      size_t len)
{
    char version[32], suite[96];
    unsigned char s0, s1;
    int flags;

    snprintf(out, len, "?");
    for (int i = 0; i < cs->n_seen; i++) {
        if (strcmp(cs->seen[i].peer, peer) != 0)
            continue;
        snprintf(out, len, "%s", cs->seen[i].tls);
        if (sscanf(cs->seen[i].tls, "%31s %95s", version, suite) == 2 &&
            wolfSSL_get_cipher_suite_from_name(suite, &s0, &s1, &flags) == 0)
            snprintf(out, len, "%s %s", version,
                     wolfSSL_get_cipher_name_iana_from_suite(s0, s1));
    }
}

/* {'tlsv1.2','TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'} -> the same
 * "TLSv1.2 TLS_ECDHE_..." form. */
static void erl_tls(const char *term, char *out, size_t len)
{
    char version[32], suite[96];

    if (sscanf(term, "{'tlsv%31[0-9.]','%95[^']'}", version, suite) == 2)
        snprintf(out, len, "TLSv%s %s", version, suite);
    else
        snprintf(out, len, "%s", term);
}

static int new_node(enode_t **node, h_cluster_t *c, const char *name, int tls,
                    int hidden, enode_log_fn log, void *log_user)
{
    enode_config_t *cfg = h_enode_config(c, name); /* TLS, as the cluster */
    char err[512] = "cannot make its configuration";
    int ok = cfg != NULL, rc = -1;

    if (ok && !tls)
        ok = enode_config_set_proto(cfg, ENODE_PROTO_TCP) == 0 &&
             enode_config_set_ssl_dist_optfile(cfg, NULL) == 0;
    ok = ok && enode_config_set_epmd_port(cfg, h_cluster_epmd_port(c)) == 0 &&
         enode_config_set_hidden(cfg, hidden) == 0 &&
         enode_config_set_log(cfg, log ? log : quiet_log, log_user,
                              log ? ENODE_LOG_INFO : ENODE_LOG_WARNING) == 0;
    if (ok)
        rc = enode_new(node, cfg, err, sizeof err);
    enode_config_free(cfg);
    if (rc < 0)
        fprintf(stderr, "enode-bench: node %s: %s\n", name, err);
    return rc < 0 ? -1 : 0;
}

static void cside_init(cside_t *cs, h_cluster_t *c, const char *name, int tls)
{
    memset(cs, 0, sizeof *cs);
    if (new_node(&cs->node, c, name, tls, 0, cside_log, cs) < 0 ||
        enode_mbox_new(cs->node, &cs->mbox) < 0)
        fail("cannot start the C node %s", name);
}

/* The next reply, or fail after the timeout. */
static void cside_reply(cside_t *cs, bench_reply_t *r, int timeout_ms)
{
    enode_msg_t m;

    if (enode_receive(cs->mbox, &m, timeout_ms) < 0)
        fail("no reply in %d ms (%s)", timeout_ms, enode_last_error(cs->node));
    bench_decode_reply(m.msg.buff, (size_t)m.msg.index, r);
    enode_msg_free(&m);
}

static void cside_drain(cside_t *cs)
{
    enode_msg_t m;
    while (enode_receive(cs->mbox, &m, 0) == 0)
        enode_msg_free(&m);
}

/* Over dist_buf_busy_limit the send is refused (event-loop mode): the
 * loop writes some, and it goes again, as OTP suspends a sender. */
static void cside_send(cside_t *cs, const char *peer, const ei_x_buff *x)
{
    int rc;
    while ((rc = enode_reg_send(cs->mbox, peer, "bench", x)) == ENODE_EBUSY)
        enode_process(cs->node, 10);
    if (rc < 0)
        fail("send to %s: %s", peer, enode_last_error(cs->node));
}

/* Messages per mark: about 256 KiB of binaries, or 1024 small tuples. */
static long chunk_of(bench_kind_t kind)
{
    static const long chunk[BENCH_NKINDS] = {1024, 256, 4, 1};
    return chunk[kind];
}

/* Wait until the receiver acknowledged mark `need`. */
static void wait_acks(cside_t *cs, long need, long *acked)
{
    while (*acked < need) {
        bench_reply_t r;
        cside_reply(cs, &r, 120000);
        if (r.type == BENCH_R_ACK)
            *acked = r.k;
    }
}

/* n messages of `kind` to `bench` on peer; seconds until it confirmed. */
static double c_send_run(cside_t *cs, const char *peer, bench_kind_t kind,
                         long n)
{
    const erlang_pid *self = enode_mbox_pid(cs->mbox);
    bench_payload_t p;
    bench_reply_t r;
    ei_x_buff x;
    long chunk = chunk_of(kind), acked = 0;

    if (bench_payload_init(&p, kind) < 0)
        fail("out of memory");
    cside_drain(cs);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        bench_payload_set_seq(&p, i);
        cside_send(cs, peer, &p.x);
        if ((i + 1) % chunk == 0) {
            long k = (i + 1) / chunk;
            bench_encode_mark(&x, self, k, i + 1);
            cside_send(cs, peer, &x);
            ei_x_free(&x);
            wait_acks(cs, k - window, &acked);
        }
    }
    long long bytes = (long long)n * (long long)bench_kind_bytes(kind);
    bench_encode_end(&x, self, n, bytes);
    cside_send(cs, peer, &x);
    ei_x_free(&x);
    do
        cside_reply(cs, &r, 120000);
    while (r.type == BENCH_R_ACK);
    double secs = now_s() - t0;
    bench_payload_free(&p);
    if (r.type != BENCH_R_DONE || !r.ok || r.count != n || r.bytes != bytes)
        fail("%s -> %s, %s: the receiver got %ld messages, %lld bytes of %ld, "
             "%lld: %s",
             enode_name(cs->node), peer, bench_kind_name(kind), r.count,
             r.bytes, n, bytes, r.ok ? "" : r.result);
    return secs;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Round trips in microseconds: p50 and p99 of n pings after a warm-up. */
static void c_ping_run(cside_t *cs, const char *peer, int n, double *p50,
                       double *p99)
{
    const erlang_pid *self = enode_mbox_pid(cs->mbox);
    long *ns = calloc((size_t)n, sizeof *ns);

    if (!ns)
        fail("out of memory");
    cside_drain(cs);
    for (int i = -200; i < n; i++) {
        ei_x_buff x;
        bench_reply_t r;
        struct timespec t0, t1;
        bench_encode_ping(&x, self, i);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cside_send(cs, peer, &x);
        do
            cside_reply(cs, &r, 10000);
        while (r.type != BENCH_R_PONG || r.k != i);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ei_x_free(&x);
        if (i >= 0)
            ns[i] = (t1.tv_sec - t0.tv_sec) * 1000000000L +
                    (t1.tv_nsec - t0.tv_nsec);
    }
    qsort(ns, (size_t)n, sizeof *ns, cmp_long);
    *p50 = (double)ns[(n * 50 + 99) / 100 - 1] / 1000.0;
    *p99 = (double)ns[(n * 99 + 99) / 100 - 1] / 1000.0;
    free(ns);
}

/* Time enode_connect() from no connection; the peer has had 20 ms to see
 * the previous one close, as bench_erl:connect_times/2 does. */
static double c_connect_ms(cside_t *cs, const char *peer)
{
    enode_disconnect(cs->node, peer);
    enode_process(cs->node, 0);
    sleep_ms(20);
    enode_process(cs->node, 0);
    double t0 = now_s();
    if (enode_connect(cs->node, peer) < 0)
        fail("connect to %s: %s", peer, enode_last_error(cs->node));
    return (now_s() - t0) * 1000.0;
}

/* ---- Erlang nodes -------------------------------------------------------- */

static void erl_eval(h_node_t *n, char *out, size_t outlen, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
static void erl_eval(h_node_t *n, char *out, size_t outlen, const char *fmt,
                     ...)
{
    char expr[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(expr, sizeof expr, fmt, ap);
    va_end(ap);
    int rc = h_eval(n, expr, out, outlen, EVAL_MS);
    if (rc != H_OK)
        fail("on %s: %s -> %s", h_node_name(n), expr, out);
}

static void erl_load(h_node_t *n)
{
    char out[512], src[1024];
    const char *dir = getenv("BENCH_SRCDIR");

    snprintf(src, sizeof src, "%s/bench_erl.erl",
             dir && *dir ? dir : BENCH_SRCDIR);
    if (access(src, R_OK) < 0)
        fail("%s: %s (set BENCH_SRCDIR)", src, strerror(errno));
    erl_eval(n, out, sizeof out,
             "{ok,M,B} = compile:file(\"%s\", [binary,report_errors]), "
             "{module,M} = code:load_binary(M, \"%s\", B), "
             "bench_erl:start_receiver().",
             src, src);
}

static double erl_send_run(h_node_t *n, const char *peer, bench_kind_t kind,
                           long count)
{
    char out[1024];
    long long us;

    erl_eval(n, out, sizeof out,
             "bench_erl:send({bench, '%s'}, %s, %ld, %ld, %d).", peer,
             bench_kind_name(kind), count, chunk_of(kind), window);
    if (sscanf(out, "{ok,%lld}", &us) != 1)
        fail("%s -> %s, %s: %s", h_node_name(n), peer, bench_kind_name(kind),
             out);
    return (double)us / 1e6;
}

static void erl_ping_run(h_node_t *n, const char *peer, int count, double *p50,
                         double *p99)
{
    char out[256];

    erl_eval(n, out, sizeof out, "bench_erl:ping({bench, '%s'}, %d).", peer,
             count);
    if (sscanf(out, "{ok,%lf,%lf}", p50, p99) != 2)
        fail("ping %s -> %s: %s", h_node_name(n), peer, out);
}

/* Connection times in ms, all N_SETUP of them, into s. */
static void erl_connect_run(h_node_t *n, const char *peer, stat_t *s)
{
    char out[4096];

    erl_eval(n, out, sizeof out, "bench_erl:connect_times('%s', %d).", peer,
             N_SETUP);
    if (strncmp(out, "{ok,[", 5) != 0)
        fail("connect %s -> %s: %s", h_node_name(n), peer, out);
    for (char *p = out + 5, *end; *p && *p != ']'; p = end + (*end == ',')) {
        long us = strtol(p, &end, 10);
        if (end == p)
            break;
        stat_add(s, (double)us / 1000.0);
    }
}

static void erl_connect(h_node_t *n, const char *peer)
{
    char out[256];

    erl_eval(n, out, sizeof out, "net_kernel:connect_node('%s').", peer);
    if (strcmp(out, "true") != 0)
        fail("%s cannot connect to %s: %s", h_node_name(n), peer, out);
}

/* Every receiver must report a lost, a reordered and a miscounted message
 * (bench_erl:check_receiver/1) before any figure is believed. */
static void check_receiver(h_node_t *from, const char *receiver)
{
    char out[512];

    erl_eval(from, out, sizeof out, "bench_erl:check_receiver({bench, '%s'}).",
             receiver);
    if (strcmp(out, "ok") != 0)
        fail("the receiver on %s does not check what it gets: %s", receiver,
             out);
}

/* ---- paths --------------------------------------------------------------- */

typedef struct path {
    const char *id;
    const char *label;
    int tls;
    h_node_t *erl_from; /* the sender: an OTP node, */
    cside_t *c_from;    /* or a C node of ours */
    char to[256];       /* the receiving node */
    char tls_info[256];
    int selected;
    long count[BENCH_NKINDS]; /* messages per run, from the warm-up */
    stat_t m[N_METRICS];
} path_t;

enum {
    P_ERL_ERL_TLS,
    P_ERL_C_TLS,
    P_C_ERL_TLS,
    P_C_C_TLS,
    P_ERL_ERL_TCP,
    P_ERL_EI_TCP,
    P_ERL_C_TCP,
    P_C_ERL_TCP,
    P_C_C_TCP,
    N_PATHS
};

static double send_run(path_t *p, bench_kind_t kind, long n)
{
    return p->erl_from ? erl_send_run(p->erl_from, p->to, kind, n)
                       : c_send_run(p->c_from, p->to, kind, n);
}

static void ping_run(path_t *p, int n, double *p50, double *p99)
{
    if (p->erl_from)
        erl_ping_run(p->erl_from, p->to, n, p50, p99);
    else
        c_ping_run(p->c_from, p->to, n, p50, p99);
}

static void connect_path(path_t *p)
{
    if (p->erl_from)
        erl_connect(p->erl_from, p->to);
    else if (enode_connect(p->c_from->node, p->to) < 0)
        fail("connect to %s: %s", p->to, enode_last_error(p->c_from->node));
}

/* ---- everything a run holds ---------------------------------------------- */

typedef struct wolfinfo {
    char version[32];
    char path[512];
    int aesni_built;   /* WOLFSSL_AESNI in its options.h */
    int cpu_aes;       /* the CPU has AES-NI */
    double gcm128_gbs; /* AES-128-GCM encryption, 16 KiB blocks, one core */
} wolfinfo_t;

typedef struct memfig {
    long rss_kb[3]; /* idle with 0, 1 and N_MEM_CONNS connections */
} memfig_t;

/* The peak while a fresh C node receives one large binary over TLS:
 * VmHWM after it, minus VmRSS before it. */
#define PEAK_MSG_BYTES (64L * 1024 * 1024)
typedef struct peakfig {
    long base_kb, hwm_kb; /* 0: not measured */
} peakfig_t;

typedef struct bench {
    opts_t o;
    h_cluster_t *cluster;
    h_node_t *ea, *eb, *ta, *tb, *em; /* OTP: TLS pair, TCP pair, memory */
    h_cnode_t *cn_tls, *cn_tcp, *cn_mem, *ei;
    cside_t c_tls, c_tcp;
    path_t paths[N_PATHS];
    memfig_t mem_c, mem_erl;
    peakfig_t peak;
    wolfinfo_t wolf;
    char otp[256], cpu[128], date[64];
    double load_start;
    double secs_total;
} bench_t;

/* ---- wolfSSL in use ------------------------------------------------------ */

static int find_wolfssl(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "libwolfssl")) {
        char *out = data;
        if (!realpath(info->dlpi_name, out))
            snprintf(out, 512, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

static int cpu_has(const char *flag)
{
    char line[8192], word[64];
    int found = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");

    snprintf(word, sizeof word, " %s ", flag);
    while (!found && f && fgets(line, sizeof line - 1, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        line[strcspn(line, "\n")] = ' ';
        strcat(line, " ");
        found = strstr(line, word) != NULL;
        break;
    }
    if (f)
        fclose(f);
    return found;
}

/* AES-128-GCM throughput of this wolfSSL, 16 KiB at a time, ~0.1 s. */
static double gcm_speed(void)
{
    static unsigned char in[16384], out[16384];
    unsigned char key[16] = {1}, iv[12] = {2}, tag[16];
    Aes aes;
    long blocks = 0;

    if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0 ||
        wc_AesGcmSetKey(&aes, key, sizeof key) != 0)
        return 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < 16; i++, blocks++)
            wc_AesGcmEncrypt(&aes, out, in, sizeof in, iv, sizeof iv, tag,
                             sizeof tag, NULL, 0);
        t = now_s() - t0;
    } while (t < 0.1);
    wc_AesFree(&aes);
    return (double)blocks * sizeof in / t / 1e9;
}

static void wolfssl_info(wolfinfo_t *w)
{
    snprintf(w->version, sizeof w->version, "%s", wolfSSL_lib_version());
    snprintf(w->path, sizeof w->path, "(linked statically)");
    dl_iterate_phdr(find_wolfssl, w->path);
#ifdef WOLFSSL_AESNI
    w->aesni_built = 1;
#endif
    w->cpu_aes = cpu_has("aes");
    w->gcm128_gbs = gcm_speed();
}

/* ---- the machine --------------------------------------------------------- */

static void machine_info(bench_t *b)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    time_t t = time(NULL);

    snprintf(b->cpu, sizeof b->cpu, "?");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(b->cpu, sizeof b->cpu, "%s", colon + 2);
            break;
        }
    }
    if (f)
        fclose(f);
    f = fopen("/proc/loadavg", "r");
    if (!f || fscanf(f, "%lf", &b->load_start) != 1)
        b->load_start = -1;
    if (f)
        fclose(f);
    strftime(b->date, sizeof b->date, "%Y-%m-%dT%H:%M:%S%z", localtime(&t));
}

/* ---- starting the cluster ------------------------------------------------ */

static h_cnode_t *start_cnode(bench_t *b, const char *prog, const char *name,
                              const char *proto)
{
    char path[1024];
    const char *argv[12];
    int i = 0;

    argv[i++] = h_build_path(prog, path, sizeof path);
    argv[i++] = "-sname";
    argv[i++] = name;
    argv[i++] = "-setcookie";
    argv[i++] = h_cluster_cookie(b->cluster);
    if (proto) {
        argv[i++] = "-proto_dist";
        argv[i++] = proto;
        if (strcmp(proto, "inet_tls") == 0) {
            argv[i++] = "-ssl_dist_optfile";
            argv[i++] = h_cluster_optfile(b->cluster);
        }
    }
    argv[i] = NULL;
    h_cnode_t *n = h_cnode_start(b->cluster, argv, 20000);
    if (!n)
        fail("%s did not start", prog);
    return n;
}

static void start_erlang(bench_t *b)
{
    h_node_opts_t tls = H_NODE_OPTS_INIT, tcp = H_NODE_OPTS_INIT;
    char out[256];

    /* global keeps the mesh connected and may dial a node again just
     * after the setup timing closed the connection to it. */
    static const char *const extra[] = {"-connect_all", "false", NULL};

    tcp.tcp = true;
    tls.start_timeout_ms = tcp.start_timeout_ms = 60000;
    tls.extra_args = tcp.extra_args = extra;
    b->ea = h_node_launch(b->cluster, "ea", &tls);
    b->eb = h_node_launch(b->cluster, "eb", &tls);
    b->ta = h_node_launch(b->cluster, "ta", &tcp);
    b->tb = h_node_launch(b->cluster, "tb", &tcp);
    b->em = h_node_launch(b->cluster, "em", &tls);
    h_node_t *all[] = {b->ea, b->eb, b->ta, b->tb, b->em};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!all[i] || h_node_wait_ready(all[i], 60000) < 0)
            fail("an OTP node did not start");
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        erl_load(all[i]);
    /* An atom, so that ~w prints text rather than a list of codes. */
    erl_eval(b->ea, out, sizeof out,
             "list_to_atom(\"OTP \" ++ erlang:system_info(otp_release) ++ \", "
             "erts \" "
             "++ erlang:system_info(version)).");
    out[strcspn(out + 1, "'") + 1] = '\0';
    snprintf(b->otp, sizeof b->otp, "%s", out + 1);
}

static void start_cluster(bench_t *b)
{
    char name[64];
    int me = (int)getpid();

    b->cluster = h_cluster_new();
    if (!b->cluster || h_epmd_start(b->cluster) < 0)
        fail("cannot start the cluster (EPMD)");
    progress("starting 5 OTP nodes and 4 C nodes");
    start_erlang(b);
    snprintf(name, sizeof name, "cn_tls_%d", me);
    b->cn_tls = start_cnode(b, "bench/bench-cnode", name, "inet_tls");
    snprintf(name, sizeof name, "cn_tcp_%d", me);
    b->cn_tcp = start_cnode(b, "bench/bench-cnode", name, "inet_tcp");
    snprintf(name, sizeof name, "cn_mem_%d", me);
    b->cn_mem = start_cnode(b, "bench/bench-cnode", name, "inet_tls");
    snprintf(name, sizeof name, "ei_%d", me);
    b->ei = start_cnode(b, "bench/ei-sink", name, NULL);
    progress("checking that every receiver notices loss and disorder");
    check_receiver(b->ea, h_node_name(b->eb));
    check_receiver(b->ea, h_cnode_name(b->cn_tls));
    check_receiver(b->ta, h_cnode_name(b->cn_tcp));
    check_receiver(b->ta, h_cnode_name(b->ei));
    check_receiver(b->ta, h_node_name(b->tb));
    snprintf(name, sizeof name, "bc_tls_%d", me);
    cside_init(&b->c_tls, b->cluster, name, 1);
    snprintf(name, sizeof name, "bc_tcp_%d", me);
    cside_init(&b->c_tcp, b->cluster, name, 0);
}

/* Whether a comma-separated list has `id`; no list means everything. */
static int in_list(const char *list, const char *id)
{
    if (!list)
        return 1;
    size_t len = strlen(id);
    for (const char *p = list; (p = strstr(p, id)) != NULL; p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
            return 1;
    return 0;
}

static void define_path(bench_t *b, int i, const char *id, const char *label,
                        int tls, h_node_t *erl_from, cside_t *c_from,
                        const char *to)
{
    path_t *p = &b->paths[i];

    p->id = id;
    p->label = label;
    p->tls = tls;
    p->erl_from = erl_from;
    p->c_from = c_from;
    snprintf(p->to, sizeof p->to, "%s", to);
    p->selected = in_list(b->o.paths, id);
}

static void define_paths(bench_t *b)
{
    define_path(b, P_ERL_ERL_TLS, "erl_erl_tls",
                "Erlang -> Erlang, TLS (anchor)", 1, b->ea, NULL,
                h_node_name(b->eb));
    define_path(b, P_ERL_C_TLS, "erl_c_tls", "Erlang -> C node, TLS", 1, b->ea,
                NULL, h_cnode_name(b->cn_tls));
    define_path(b, P_C_ERL_TLS, "c_erl_tls", "C node -> Erlang, TLS", 1, NULL,
                &b->c_tls, h_node_name(b->eb));
    define_path(b, P_C_C_TLS, "c_c_tls", "C node -> C node, TLS", 1, NULL,
                &b->c_tls, h_cnode_name(b->cn_tls));
    define_path(b, P_ERL_ERL_TCP, "erl_erl_tcp", "Erlang -> Erlang, TCP", 0,
                b->ta, NULL, h_node_name(b->tb));
    define_path(b, P_ERL_EI_TCP, "erl_ei_tcp", "Erlang -> ei C node, TCP", 0,
                b->ta, NULL, h_cnode_name(b->ei));
    /* enode beside ei on ei's own ground: plain TCP, the same sender. */
    define_path(b, P_ERL_C_TCP, "erl_c_tcp", "Erlang -> enode, TCP", 0, b->ta,
                NULL, h_cnode_name(b->cn_tcp));
    define_path(b, P_C_ERL_TCP, "c_erl_tcp", "enode -> Erlang, TCP", 0, NULL,
                &b->c_tcp, h_node_name(b->tb));
    define_path(b, P_C_C_TCP, "c_c_tcp", "C node -> C node, TCP", 0, NULL,
                &b->c_tcp, h_cnode_name(b->cn_tcp));
}

/* The TLS version and cipher of a path, as its sender sees it. */
static void path_tls_info(bench_t *b, path_t *p)
{
    char out[256];

    if (!p->tls) {
        snprintf(p->tls_info, sizeof p->tls_info, "plain TCP");
    } else if (p->c_from) {
        cside_tls(p->c_from, p->to, p->tls_info, sizeof p->tls_info);
    } else {
        erl_eval(p->erl_from, out, sizeof out,
                 "harness_agent:dist_tls_info('%s').", p->to);
        erl_tls(out, p->tls_info, sizeof p->tls_info);
    }
    (void)b;
}

/* ---- the measurements ---------------------------------------------------- */

/* Messages per run: what the warm-up says fills o->secs, within bounds. */
static long size_run(const opts_t *o, bench_kind_t kind, long warm_n,
                     double warm_secs)
{
    static const long most[BENCH_NKINDS] = {4000000, 2000000, 40000, 2000};
    long chunk = chunk_of(kind);
    double rate = warm_secs > 0 ? (double)warm_n / warm_secs : (double)warm_n;
    long n = (long)(rate * o->secs);

    n = n < warm_n ? warm_n : n > most[kind] ? most[kind] : n;
    return (n + chunk - 1) / chunk * chunk;
}

static void warm_up(bench_t *b, path_t *p)
{
    static const long warm[BENCH_NKINDS] = {10240, 4096, 64, 8};

    connect_path(p);
    path_tls_info(b, p);
    for (int k = 0; k < BENCH_NKINDS; k++) {
        if (!in_list(b->o.workloads, bench_kind_name((bench_kind_t)k)))
            continue;
        double secs = send_run(p, (bench_kind_t)k, warm[k]);
        p->count[k] = size_run(&b->o, (bench_kind_t)k, warm[k], secs);
    }
}

static void throughput_rep(const bench_t *b, path_t *p)
{
    for (int k = 0; k < BENCH_NKINDS; k++) {
        if (!in_list(b->o.workloads, bench_kind_name((bench_kind_t)k)))
            continue;
        double secs = send_run(p, (bench_kind_t)k, p->count[k]);
        size_t bytes = bench_kind_bytes((bench_kind_t)k);
        double fig = bytes ? (double)p->count[k] * (double)bytes / secs / 1e6
                           : (double)p->count[k] / secs;
        stat_add(&p->m[M_SMALL + k], fig);
    }
}

static void rtt_rep(bench_t *b, path_t *p)
{
    double p50, p99;

    ping_run(p, b->o.pings, &p50, &p99);
    stat_add(&p->m[M_RTT_P50], p50);
    stat_add(&p->m[M_RTT_P99], p99);
}

static void setup_times(path_t *p)
{
    if (p->erl_from) {
        erl_connect_run(p->erl_from, p->to, &p->m[M_SETUP]);
        return;
    }
    for (int i = 0; i < N_SETUP; i++)
        stat_add(&p->m[M_SETUP], c_connect_ms(p->c_from, p->to));
}

/* Repetitions go round the paths, so that a slow moment of the machine
 * does not fall on one path only. */
static void run_paths(bench_t *b)
{
    for (int i = 0; i < N_PATHS; i++)
        if (b->paths[i].selected) {
            progress("warm-up %s", b->paths[i].id);
            warm_up(b, &b->paths[i]);
        }
    for (int r = 0; r < b->o.reps; r++) {
        progress("repetition %d of %d", r + 1, b->o.reps);
        for (int i = 0; i < N_PATHS; i++)
            if (b->paths[i].selected) {
                throughput_rep(b, &b->paths[i]);
                if (in_list(b->o.workloads, "rtt"))
                    rtt_rep(b, &b->paths[i]);
            }
    }
    for (int i = 0; i < N_PATHS; i++)
        if (b->paths[i].selected && in_list(b->o.workloads, "setup")) {
            progress("connection setup %s", b->paths[i].id);
            setup_times(&b->paths[i]);
        }
}

/* ---- memory -------------------------------------------------------------- */

static long erl_rss_kb(h_node_t *n)
{
    char out[64];
    erl_eval(n, out, sizeof out, "bench_erl:rss_kb().");
    return atol(out);
}

static long server_rss(bench_t *b, int erl)
{
    /* Idle: 4 s after the last connection came up, as a node is between
     * bursts; enode empties wolfSSL's cache of ECC points once
     * handshakes stop for 3 s (lib/net/loop.c). The same wait for OTP. */
    sleep_ms(4000);
    return erl ? erl_rss_kb(b->em) : rss_kb(h_cnode_pid(b->cn_mem));
}

/* Idle RSS of a server with 0, 1 and N_MEM_CONNS TLS connections from
 * hidden C nodes that all live in this process. */
static void measure_memory(bench_t *b, enode_t **clients, int erl, memfig_t *m)
{
    const char *server = erl ? h_node_name(b->em) : h_cnode_name(b->cn_mem);

    m->rss_kb[0] = server_rss(b, erl);
    for (int i = 0; i < N_MEM_CONNS; i++) {
        if (enode_connect(clients[i], server) < 0)
            fail("memory client %d -> %s: %s", i, server,
                 enode_last_error(clients[i]));
        if (i == 0)
            m->rss_kb[1] = server_rss(b, erl);
    }
    m->rss_kb[2] = server_rss(b, erl);
}

/* A C node of its own, so that its VmHWM is this message's alone: it
 * gets pinged (connected, warm), then one PEAK_MSG_BYTES binary from
 * the OTP node. */
static void run_peak(bench_t *b)
{
    char name[64], out[256];

    progress("memory: one %ld MiB binary from an OTP node to a fresh C node, "
             "TLS", PEAK_MSG_BYTES >> 20);
    snprintf(name, sizeof name, "cn_peak_%d", (int)getpid());
    h_cnode_t *cn = start_cnode(b, "bench/bench-cnode", name, "inet_tls");
    erl_eval(b->em, out, sizeof out, "bench_erl:ping({bench, '%s'}, 1).",
             h_cnode_name(cn));
    sleep_ms(500);
    b->peak.base_kb = rss_kb(h_cnode_pid(cn));
    erl_eval(b->em, out, sizeof out, "bench_erl:send_one({bench, '%s'}, %ld).",
             h_cnode_name(cn), PEAK_MSG_BYTES);
    if (strcmp(out, "ok") != 0)
        fail("one large message to %s: %s", h_cnode_name(cn), out);
    b->peak.hwm_kb = proc_status_kb(h_cnode_pid(cn), "VmHWM: %ld");
}

/* The peak above the idle node, as a multiple of the message's size. */
static double peak_ratio(const peakfig_t *p)
{
    return p->hwm_kb > 0
               ? (double)(p->hwm_kb - p->base_kb) * 1024 / PEAK_MSG_BYTES
               : 0;
}

static void run_memory(bench_t *b)
{
    enode_t *clients[N_MEM_CONNS];
    char name[64];

    progress("memory: %d C nodes in this process, TLS to one C node, then to "
             "one OTP node",
             N_MEM_CONNS);
    for (int i = 0; i < N_MEM_CONNS; i++) {
        snprintf(name, sizeof name, "mc%d_%d", i, (int)getpid());
        if (new_node(&clients[i], b->cluster, name, 1, 1, NULL, NULL) < 0)
            fail("cannot start memory client %d", i);
    }
    measure_memory(b, clients, 0, &b->mem_c);
    measure_memory(b, clients, 1, &b->mem_erl);
    for (int i = 0; i < N_MEM_CONNS; i++)
        enode_free(clients[i]);
    run_peak(b);
}

static double per_conn_kb(const memfig_t *m)
{
    return (double)(m->rss_kb[2] - m->rss_kb[1]) / (N_MEM_CONNS - 1);
}

/* ---- the table ----------------------------------------------------------- */

/* 1234567 -> "1.23M", 12345 -> "12.3k", 12.3 -> "12.3" */
static const char *human(double v, char *buf, size_t len)
{
    if (v >= 1e6)
        snprintf(buf, len, "%.3gM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, len, "%.3gk", v / 1e3);
    else if (v >= 100)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.3g", v);
    return buf;
}

static const path_t *anchor(const bench_t *b)
{
    return &b->paths[P_ERL_ERL_TLS];
}

/* figure / anchor, for the "beside the anchor" columns. */
static double ratio(const bench_t *b, const path_t *p, int m)
{
    const stat_t *a = &anchor(b)->m[m];
    if (!a->n || !p->m[m].n || stat_median(a) == 0)
        return 0;
    return stat_median(&p->m[m]) / stat_median(a);
}

static void print_cell(const bench_t *b, const path_t *p, int m)
{
    char num[32], cell[64];

    if (!p->selected || !p->m[m].n) {
        printf(" %-17s|", "-");
        return;
    }
    human(stat_median(&p->m[m]), num, sizeof num);
    if (p != anchor(b) && ratio(b, p, m) > 0)
        snprintf(cell, sizeof cell, "%s (%.2fx)", num, ratio(b, p, m));
    else
        snprintf(cell, sizeof cell, "%s", num);
    printf(" %-17s|", cell);
}

static void print_main_table(const bench_t *b)
{
    static const char *const heads[N_PATHS] = {
        "Erl->Erl TLS", "Erl->C TLS",  "C->Erl TLS", "C->C TLS",
        "Erl->Erl TCP", "Erl->ei TCP", "Erl->C TCP", "C->Erl TCP",
        "C->C TCP"};

    printf("| %-24s|", "workload (median)");
    for (int i = 0; i < N_PATHS; i++)
        printf(" %-17s|", heads[i]);
    printf("\n|%s|", "-------------------------");
    for (int i = 0; i < N_PATHS; i++)
        printf("%s|", "------------------");
    printf("\n");
    for (int m = 0; m < N_METRICS; m++) {
        char label[64];
        snprintf(label, sizeof label, "%s, %s", metrics[m].label,
                 metrics[m].unit);
        printf("| %-24s|", label);
        for (int i = 0; i < N_PATHS; i++)
            print_cell(b, &b->paths[i], m);
        printf("\n");
    }
}

static void print_memory(const bench_t *b)
{
    const memfig_t *ms[2] = {&b->mem_c, &b->mem_erl};
    const char *names[2] = {"enode C node", "Erlang node (anchor)"};

    if (b->mem_c.rss_kb[2] <= 0)
        return;
    printf("\nIdle resident memory (VmRSS, KiB, read 4 s after the last "
           "connection came up) of one server with TLS connections "
           "from %d hidden C nodes:\n\n",
           N_MEM_CONNS);
    printf("| %-22s| %-10s| %-10s| %-10s| %-22s|\n", "server", "0 conns",
           "1 conn", "100 conns", "per extra conn");
    printf("|-----------------------|-----------|-----------|-----------|"
           "-----------------------|\n");
    for (int i = 0; i < 2; i++) {
        char per[48];
        double anchor_kb = per_conn_kb(&b->mem_erl);
        if (i == 0 && anchor_kb > 0)
            snprintf(per, sizeof per, "%.1f KiB (%.2fx)", per_conn_kb(ms[i]),
                     per_conn_kb(ms[i]) / anchor_kb);
        else
            snprintf(per, sizeof per, "%.1f KiB", per_conn_kb(ms[i]));
        printf("| %-22s| %-10ld| %-10ld| %-10ld| %-22s|\n", names[i],
               ms[i]->rss_kb[0], ms[i]->rss_kb[1], ms[i]->rss_kb[2], per);
    }
    if (b->peak.hwm_kb > 0)
        printf("\nPeak resident memory of a fresh C node receiving one %ld MiB "
               "binary from an OTP node over TLS (VmHWM after it minus VmRSS "
               "before): +%ld KiB, %.2fx the message\n",
               PEAK_MSG_BYTES >> 20, b->peak.hwm_kb - b->peak.base_kb,
               peak_ratio(&b->peak));
}

/* Detail: every figure with min and max and the number of samples. */
static void print_details(const bench_t *b)
{
    printf("\nDetail: median [min .. max] (samples)\n");
    for (int m = 0; m < N_METRICS; m++) {
        printf("  %s, %s%s\n", metrics[m].label, metrics[m].unit,
               metrics[m].lower_better ? " (lower is better)" : "");
        for (int i = 0; i < N_PATHS; i++) {
            const path_t *p = &b->paths[i];
            char a[32], lo[32], hi[32];
            if (!p->selected || !p->m[m].n)
                continue;
            printf("    %-32s %9s [%s .. %s] (%d)", p->label,
                   human(stat_median(&p->m[m]), a, sizeof a),
                   human(stat_min(&p->m[m]), lo, sizeof lo),
                   human(stat_max(&p->m[m]), hi, sizeof hi), p->m[m].n);
            if (p != anchor(b) && ratio(b, p, m) > 0)
                printf("  %.2fx anchor", ratio(b, p, m));
            printf("\n");
        }
    }
}

/* ---- targets (issue 4) --------------------------------------------------- */

typedef struct target {
    char what[160];
    char figure[160];
    int met;
    int known;
} target_t;

#define MAX_TARGETS 24

static int add_target(target_t *t, int n, int known, int met, const char *what,
                      const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int add_target(target_t *t, int n, int known, int met, const char *what,
                      const char *fmt, ...)
{
    va_list ap;

    if (n >= MAX_TARGETS)
        return n;
    snprintf(t[n].what, sizeof t[n].what, "%s", what);
    va_start(ap, fmt);
    vsnprintf(t[n].figure, sizeof t[n].figure, fmt, ap);
    va_end(ap);
    t[n].known = known;
    t[n].met = met;
    return n + 1;
}

static int have(const path_t *p, int m)
{
    return p->selected && p->m[m].n > 0;
}

/* Erlang -> C and C -> Erlang: as fast as the anchor on every workload. */
static int targets_mixed(const bench_t *b, target_t *t, int n)
{
    const path_t *a = anchor(b);
    const int ids[2] = {P_ERL_C_TLS, P_C_ERL_TLS};

    for (int j = 0; j < 2; j++) {
        const path_t *p = &b->paths[ids[j]];
        for (int m = 0; m < N_METRICS; m++) {
            char what[160];
            int known = have(p, m) && have(a, m);
            double r = ratio(b, p, m);
            int met = metrics[m].lower_better ? r <= 1.0 : r >= 1.0;
            snprintf(what, sizeof what,
                     "%s, %s: at least as fast as the anchor", p->label,
                     metrics[m].label);
            n = add_target(t, n, known, met, what, "%.2fx the anchor's %s%s", r,
                           metrics[m].unit,
                           metrics[m].lower_better ? " (lower is better)" : "");
        }
    }
    return n;
}

static int targets_c_c(const bench_t *b, target_t *t, int n)
{
    const path_t *cc = &b->paths[P_C_C_TLS], *tcp = &b->paths[P_ERL_ERL_TCP];
    const path_t *a = anchor(b);
    double r;

    r = ratio(b, cc, M_BIN_1M);
    n = add_target(t, n, have(cc, M_BIN_1M) && have(a, M_BIN_1M), r >= 10,
                   "C -> C TLS, 1 MiB binaries: at least 10x the anchor",
                   "%.2fx", r);
    r = ratio(b, cc, M_SMALL);
    n = add_target(t, n, have(cc, M_SMALL) && have(a, M_SMALL), r >= 5,
                   "C -> C TLS, small tuples: at least 5x the anchor", "%.2fx",
                   r);
    double c50 = stat_median(&cc->m[M_RTT_P50]),
           t50 = stat_median(&tcp->m[M_RTT_P50]);
    n = add_target(
        t, n, have(cc, M_RTT_P50) && have(tcp, M_RTT_P50), c50 <= t50,
        "C -> C TLS round trip p50: at most Erlang -> Erlang over TCP",
        "%.1f us against %.1f us", c50, t50);
    r = ratio(b, cc, M_SETUP);
    n = add_target(t, n, have(cc, M_SETUP) && have(a, M_SETUP), r <= 0.5,
                   "C -> C TLS connection setup: at most half the anchor's",
                   "%.2fx (%.2f ms against %.2f ms)", r,
                   stat_median(&cc->m[M_SETUP]), stat_median(&a->m[M_SETUP]));
    return n;
}

/* No cliff above 64 KiB: a C node moves 1 MiB binaries to another at
 * least 0.7x as fast as 64 KiB ones, over TCP and over TLS. */
static int targets_no_cliff(const bench_t *b, target_t *t, int n)
{
    const int ids[2] = {P_C_C_TCP, P_C_C_TLS};

    for (int j = 0; j < 2; j++) {
        const path_t *p = &b->paths[ids[j]];
        double big = stat_median(&p->m[M_BIN_1M]),
               mid = stat_median(&p->m[M_BIN_64K]);
        double r = mid > 0 ? big / mid : 0;
        char what[160];
        snprintf(what, sizeof what,
                 "%s, 1 MiB binaries: at least 0.7x its 64 KiB figure",
                 p->label);
        n = add_target(t, n, have(p, M_BIN_1M) && have(p, M_BIN_64K),
                       r >= 0.7, what, "%.2fx (%.0f against %.0f MB/s)", r,
                       big, mid);
    }
    return n;
}

/* enode beside ei: an Erlang sender is no slower to enode than to ei. */
static int targets_beside_ei(const bench_t *b, target_t *t, int n)
{
    const path_t *c = &b->paths[P_ERL_C_TCP], *ei = &b->paths[P_ERL_EI_TCP];
    const struct {
        int m;
        double want;
        const char *what;
    } goals[] = {
        {M_SMALL, 1.0, "Erlang -> enode TCP, small tuples: at least 1.0x ei"},
        {M_BIN_1M, 0.9, "Erlang -> enode TCP, 1 MiB binaries: at least 0.9x ei"},
    };

    for (size_t i = 0; i < sizeof goals / sizeof *goals; i++) {
        int m = goals[i].m;
        double e = stat_median(&ei->m[m]), r = e > 0 ? stat_median(&c->m[m]) / e : 0;
        n = add_target(t, n, have(c, m) && have(ei, m), r >= goals[i].want,
                       goals[i].what, "%.2fx ei's %.0f %s", r, e,
                       metrics[m].unit);
    }
    return n;
}

static int collect_targets(const bench_t *b, target_t *t)
{
    int n = targets_mixed(b, t, 0);
    n = targets_c_c(b, t, n);
    n = targets_no_cliff(b, t, n);
    n = targets_beside_ei(b, t, n);
    double kb = per_conn_kb(&b->mem_c);
    n = add_target(t, n, b->mem_c.rss_kb[2] > 0, kb < 64,
                   "idle memory per additional TLS connection under 64 KiB",
                   "%.1f KiB", kb);
    double peak = peak_ratio(&b->peak);
    return add_target(t, n, b->peak.hwm_kb > 0, peak <= 2.0,
                      "peak memory receiving one 64 MiB message at most 2x "
                      "its size",
                      "%.2fx (+%ld KiB)", peak,
                      b->peak.hwm_kb - b->peak.base_kb);
}

static void print_targets(const target_t *t, int n)
{
    int met = 0, known = 0;

    printf("\nTargets (issue 4; ratios against Erlang -> Erlang over TLS, this "
           "run):\n");
    for (int i = 0; i < n; i++) {
        printf("  [%s] %s: %s\n",
               !t[i].known ? " -- "
               : t[i].met  ? " met"
                           : "MISS",
               t[i].what, t[i].known ? t[i].figure : "not measured");
        known += t[i].known;
        met += t[i].known && t[i].met;
    }
    printf("  %d of %d measured targets met\n", met, known);
}

/* The source revision ./dev passes down (git describe --dirty). */
static const char *revision(void)
{
    const char *r = getenv("ENODE_BENCH_REVISION");
    return r && *r ? r : "revision unknown";
}

static void print_header(const bench_t *b)
{
    printf("\nenode %s (%s) benchmark, %s run, %s\n", enode_version(),
           revision(), b->o.quick ? "quick" : "full", b->date);
    printf("machine: %s, %ld cores, load average %.2f at start\n", b->cpu,
           sysconf(_SC_NPROCESSORS_ONLN), b->load_start);
    printf("OTP: %s\n", b->otp);
    printf("wolfSSL %s: %s\n", b->wolf.version, b->wolf.path);
    printf("  AES-NI: %s (CPU: %s); AES-128-GCM %.2f GB/s on one core; "
           "configure said fast crypto: %s\n",
           b->wolf.aesni_built ? "built in" : "NOT built in",
           b->wolf.cpu_aes ? "yes" : "no", b->wolf.gcm128_gbs,
#ifdef ENODE_WOLFSSL_FAST
           "yes"
#else
           "no"
#endif
    );
    printf("TLS negotiated:\n");
    for (int i = 0; i < N_PATHS; i++)
        if (b->paths[i].selected && b->paths[i].tls)
            printf("  %-32s %s\n", b->paths[i].label, b->paths[i].tls_info);
    printf(
        "method: medians of %d runs of about %.1f s per throughput figure; "
        "%d round trips per run; %d connections for setup; MB = 10^6 bytes of "
        "binary payload\n\n",
        b->o.reps, b->o.secs, b->o.pings, N_SETUP);
}

static void print_report(const bench_t *b, const target_t *t, int n_targets)
{
    print_header(b);
    print_main_table(b);
    printf("(ratios: figure / Erlang -> Erlang over TLS; for round trips and "
           "setup lower is better)\n");
    print_memory(b);
    print_details(b);
    print_targets(t, n_targets);
    printf("\ntotal time %.0f s\n", b->secs_total);
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_stat(FILE *f, const stat_t *s)
{
    fprintf(f,
            "{\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"samples\": [",
            stat_median(s), stat_min(s), stat_max(s));
    for (int i = 0; i < s->n; i++)
        fprintf(f, "%s%.6g", i ? ", " : "", s->v[i]);
    fprintf(f, "]}");
}

static void json_path(FILE *f, const bench_t *b, const path_t *p)
{
    fprintf(f, "    ");
    json_str(f, p->id);
    fprintf(f, ": {\"label\": ");
    json_str(f, p->label);
    fprintf(f, ", \"tls\": ");
    json_str(f, p->tls_info);
    fprintf(f, ", \"messages_per_run\": {");
    for (int k = 0; k < BENCH_NKINDS; k++)
        fprintf(f, "%s\"%s\": %ld", k ? ", " : "",
                bench_kind_name((bench_kind_t)k), p->count[k]);
    fprintf(f, "}");
    for (int m = 0; m < N_METRICS; m++) {
        if (!p->m[m].n)
            continue;
        fprintf(f, ",\n      \"%s\": ", metrics[m].key);
        json_stat(f, &p->m[m]);
        if (p != anchor(b) && ratio(b, p, m) > 0)
            fprintf(f, ", \"%s_vs_anchor\": %.4g", metrics[m].key,
                    ratio(b, p, m));
    }
    fprintf(f, "}");
}

static void json_memory(FILE *f, const char *key, const memfig_t *m)
{
    fprintf(f,
            "    \"%s\": {\"rss_kb_0\": %ld, \"rss_kb_1\": %ld, \"rss_kb_%d\": "
            "%ld, "
            "\"per_extra_conn_kb\": %.2f}",
            key, m->rss_kb[0], m->rss_kb[1], N_MEM_CONNS, m->rss_kb[2],
            per_conn_kb(m));
}

static void json_targets(FILE *f, const target_t *t, int n)
{
    fprintf(f, "  \"targets\": [\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "    {\"target\": ");
        json_str(f, t[i].what);
        fprintf(f, ", \"figure\": ");
        json_str(f, t[i].figure);
        fprintf(f, ", \"measured\": %s, \"met\": %s}%s\n",
                t[i].known ? "true" : "false", t[i].met ? "true" : "false",
                i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n");
}

static void write_json(const bench_t *b, const target_t *t, int n_targets)
{
    FILE *f = fopen(b->o.json, "w");
    int first = 1;

    if (!f)
        fail("%s: %s", b->o.json, strerror(errno));
    fprintf(f, "{\n  \"enode\": ");
    json_str(f, enode_version());
    fprintf(f, ",\n  \"revision\": ");
    json_str(f, revision());
    fprintf(f, ",\n  \"mode\": \"%s\",\n  \"date\": ",
            b->o.quick ? "quick" : "full");
    json_str(f, b->date);
    fprintf(
        f, ",\n  \"seconds\": %.1f,\n  \"machine\": {\"cpu\": ", b->secs_total);
    json_str(f, b->cpu);
    fprintf(f, ", \"cores\": %ld, \"load_at_start\": %.2f},\n  \"otp\": ",
            sysconf(_SC_NPROCESSORS_ONLN), b->load_start);
    json_str(f, b->otp);
    fprintf(f, ",\n  \"wolfssl\": {\"version\": ");
    json_str(f, b->wolf.version);
    fprintf(f, ", \"path\": ");
    json_str(f, b->wolf.path);
    fprintf(
        f, ", \"aesni\": %s, \"cpu_aes\": %s, \"aes128gcm_gb_per_s\": %.3f},\n",
        b->wolf.aesni_built ? "true" : "false",
        b->wolf.cpu_aes ? "true" : "false", b->wolf.gcm128_gbs);
    fprintf(f,
            "  \"method\": {\"reps\": %d, \"secs_per_run\": %.2f, "
            "\"pings_per_run\": %d, "
            "\"setup_connections\": %d, \"window_marks\": %d},\n",
            b->o.reps, b->o.secs, b->o.pings, N_SETUP, window);
    fprintf(f, "  \"anchor\": \"erl_erl_tls\",\n  \"paths\": {\n");
    for (int i = 0; i < N_PATHS; i++) {
        if (!b->paths[i].selected)
            continue;
        fprintf(f, "%s", first ? "" : ",\n");
        json_path(f, b, &b->paths[i]);
        first = 0;
    }
    fprintf(f, "\n  },\n  \"memory\": {\n");
    json_memory(f, "enode_c_node", &b->mem_c);
    fprintf(f, ",\n");
    json_memory(f, "erlang_node", &b->mem_erl);
    fprintf(f, ",\n    \"peak_one_message\": {\"bytes\": %ld, \"rss_kb_before\": "
               "%ld, \"hwm_kb\": %ld, \"ratio\": %.2f}",
            PEAK_MSG_BYTES, b->peak.base_kb, b->peak.hwm_kb,
            peak_ratio(&b->peak));
    fprintf(f, "\n  },\n");
    json_targets(f, t, n_targets);
    fprintf(f, "}\n");
    if (fclose(f) != 0)
        fail("%s: write failed", b->o.json);
}

/* ---- main ---------------------------------------------------------------- */

static void stop_all(bench_t *b)
{
    enode_free(b->c_tls.node);
    enode_free(b->c_tcp.node);
    h_cnode_stop(b->cn_tls);
    h_cnode_stop(b->cn_tcp);
    h_cnode_stop(b->cn_mem);
    h_cnode_stop(b->ei);
    h_cluster_stop(b->cluster);
}

int main(int argc, char **argv)
{
    static bench_t b;
    target_t targets[MAX_TARGETS];
    double t0 = now_s();

    parse_opts(argc, argv, &b.o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    machine_info(&b);
    wolfssl_info(&b.wolf);
    start_cluster(&b);
    define_paths(&b);
    run_paths(&b);
    if (in_list(b.o.paths, "memory"))
        run_memory(&b);
    b.secs_total = now_s() - t0;
    int n_targets = collect_targets(&b, targets);
    print_report(&b, targets, n_targets);
    if (b.o.json)
        write_json(&b, targets, n_targets);
    stop_all(&b);
    return 0;
}
