/* enode-soak - a C node under churn for a long while, watched for leaks.
 *
 *   enode-soak [--minutes N]        (./dev soak; default 10 minutes)
 *
 * One C node, "soak", has a mailbox `sink` that traps exits. Four peers
 * work it at once:
 *   otp_a    an OTP node that streams numbered messages to it, small ones
 *            and a 1 MiB binary every 200th, on one lasting connection;
 *   c_a      a C node (in this process) doing the same;
 *   otp_b    an OTP node that, over and over, connects, links a process
 *            to the sink and monitors it, sends it a burst, and
 *            disconnects (erlang:disconnect_node/1);
 *   c_b      a C node doing the same with enode_connect/enode_disconnect.
 * The sink checks that each stream's numbers come in order: the lasting
 * ones must lose nothing, the churning ones may lose only the tail of a
 * burst that a disconnect cut. The streamers wait for an
 * acknowledgement every 500 messages, so no queue grows. All nodes run
 * without global (-connect_all false), whose partition prevention would
 * answer each disconnect by cutting the lasting connections too.
 *
 * Links and monitors churn too: each burst's sender links to the sink
 * and monitors it, and the sink monitors the sender when its burst
 * begins, so every disconnect must bring the sink one EXIT and one DOWN
 * with reason noconnection (the sender's side gets the same of the sink).
 *
 * Every minute it prints the process's RSS and open descriptors, the
 * messages each stream sent and the sink received, and the bursts, EXITs
 * and DOWNs so far. It fails (exit 1) on a message out of order or lost,
 * on a stream that stops, on a burst whose disconnect brought no EXIT or
 * no DOWN (or one with another reason), or on RSS or descriptors that
 * grow after the first minute: RSS by more than 8 MiB (1 MiB messages in
 * flight and the allocator's free lists make it move by a few MiB),
 * descriptors by more than 2.
 */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <enode.h>

#include "harness.h"

#define ACK_EVERY 500
#define N_STREAMS 4

enum { S_OTP_A, S_C_A, S_OTP_B, S_C_B };
static const char *const stream_names[N_STREAMS] = {"otp_a", "c_a", "otp_b",
                                                    "c_b"};

typedef struct stream {
    long next;    /* the number expected next */
    long got;     /* messages delivered */
    long bursts;  /* churning streams: bursts begun */
    long errors;  /* out of order, or lost */
} stream_t;

typedef struct soak {
    h_cluster_t *cluster;
    h_node_t *otp_a, *otp_b;
    enode_t *node, *c_a, *c_b;
    enode_mbox_t *sink;
    char sink_expr[512]; /* the sink's pid as Erlang text */
    pthread_mutex_t mu;
    stream_t streams[N_STREAMS];
    long exits, downs, bad_reasons; /* of the churning streams' signals */
    long c_sent[N_STREAMS];          /* the C streams' messages sent */
    volatile int stopping;      /* the streamers stop */
    volatile int sink_stopping; /* then the sink */
} soak_t;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "enode-soak: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- the process's own resources --------------------------------------- */

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = -1; /* the directory's own descriptor */

    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 2; /* . and .. */
}

/* ---- the sink ----------------------------------------------------------- */

static int stream_of(const char *name)
{
    for (int i = 0; i < N_STREAMS; i++)
        if (strcmp(name, stream_names[i]) == 0)
            return i;
    return -1;
}

/* Check one {soak, Stream, From, Seq, Payload}; the ack due, if any. */
static void take_data(soak_t *s, int id, long seq, erlang_pid *from,
                      int *ack)
{
    stream_t *st = &s->streams[id];
    int churning = id == S_OTP_B || id == S_C_B;

    pthread_mutex_lock(&s->mu);
    if (churning && seq == 0) {
        st->bursts++; /* a new burst; the last one may have lost its tail */
        erlang_ref ref;
        if (enode_monitor(s->sink, from, &ref) < 0)
            die("the sink cannot monitor %s's sender", stream_names[id]);
    } else if (seq != st->next) {
        st->errors++;
        fprintf(stderr, "enode-soak: %s: got %ld, expected %ld\n",
                stream_names[id], seq, st->next);
    }
    st->next = seq + 1;
    st->got++;
    pthread_mutex_unlock(&s->mu);
    *ack = seq % ACK_EVERY == ACK_EVERY - 1;
}

static void ack(soak_t *s, const erlang_pid *to, long seq)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "soak_ack");
    ei_x_encode_long(&x, seq);
    enode_send(s->sink, to, &x);
    ei_x_free(&x);
}

/* One message to the sink: data, or an EXIT or DOWN of the churn. */
static void sink_take(soak_t *s, const ei_x_buff *m)
{
    int i = 0, v, arity, id, a;
    char tag[MAXATOMLEN_UTF8], name[MAXATOMLEN_UTF8];
    erlang_pid from;
    long seq;

    if (ei_decode_version(m->buff, &i, &v) < 0 ||
        ei_decode_tuple_header(m->buff, &i, &arity) < 0 ||
        ei_decode_atom(m->buff, &i, tag) < 0)
        die("the sink got a message it cannot read");
    if (strcmp(tag, "EXIT") == 0 || strcmp(tag, "DOWN") == 0) {
        /* {'EXIT', Pid, Reason} or {'DOWN', Ref, process, Pid, Reason} */
        int down = tag[0] == 'D', ok = arity == (down ? 5 : 3);
        for (int k = 2; ok && k < arity; k++)
            ok = ei_skip_term(m->buff, &i) == 0;
        ok = ok && ei_decode_atom(m->buff, &i, name) == 0 &&
             strcmp(name, "noconnection") == 0;
        pthread_mutex_lock(&s->mu);
        *(down ? &s->downs : &s->exits) += 1;
        s->bad_reasons += !ok;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (strcmp(tag, "soak") != 0 || arity != 5 ||
        ei_decode_atom(m->buff, &i, name) < 0 ||
        (id = stream_of(name)) < 0 || ei_decode_pid(m->buff, &i, &from) < 0 ||
        ei_decode_long(m->buff, &i, &seq) < 0)
        die("the sink got a message it does not know (tag %s)", tag);
    take_data(s, id, seq, &from, &a);
    if (a)
        ack(s, &from, seq);
}

static void *sink_loop(void *arg)
{
    soak_t *s = arg;

    while (!s->sink_stopping) {
        enode_msg_t m;
        if (enode_receive(s->sink, &m, 200) < 0)
            continue;
        sink_take(s, &m.msg);
        enode_msg_free(&m);
    }
    return NULL;
}

/* ---- C streamers ---------------------------------------------------------- */

static enode_t *c_node(soak_t *s, const char *alive)
{
    enode_config_t *cfg;
    enode_t *n;
    char name[64], err[512];

    snprintf(name, sizeof name, "%s_%d", alive, (int)getpid());
    if (enode_config_new(&cfg) < 0 || enode_config_set_name(cfg, name, 0) < 0 ||
        enode_config_set_cookie(cfg, h_cluster_cookie(s->cluster)) < 0 ||
        enode_config_set_ssl_dist_optfile(cfg,
                                          h_cluster_optfile(s->cluster)) < 0 ||
        enode_config_set_epmd_port(cfg, h_cluster_epmd_port(s->cluster)) < 0 ||
        enode_config_set_connect_all(cfg, 0) < 0)
        die("cannot configure %s", name);
    if (enode_new(&n, cfg, err, sizeof err) < 0)
        die("%s: %s", name, err);
    enode_config_free(cfg);
    if (enode_start_thread(n) < 0)
        die("%s: no loop thread", name);
    return n;
}

/* Send message `seq` of `stream` to the sink; on every ACK_EVERY-th,
 * wait until the sink has acknowledged all but the last 2 windows. */
static int c_send_one(soak_t *s, enode_mbox_t *mb, const char *stream,
                      long seq, long *acked)
{
    ei_x_buff x;
    static char big[1 << 20];
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 5);
    ei_x_encode_atom(&x, "soak");
    ei_x_encode_atom(&x, stream);
    ei_x_encode_pid(&x, enode_mbox_pid(mb));
    ei_x_encode_long(&x, seq);
    if (seq % 200 == 0)
        ei_x_encode_binary(&x, big, sizeof big);
    else
        ei_x_encode_binary(&x, &seq, sizeof seq);
    int rc = enode_send(mb, enode_mbox_pid(s->sink), &x);
    ei_x_free(&x);
    if (rc == 0) {
        pthread_mutex_lock(&s->mu);
        s->c_sent[strcmp(stream, "c_a") == 0 ? S_C_A : S_C_B]++;
        pthread_mutex_unlock(&s->mu);
    }
    while (rc == 0 && seq % ACK_EVERY == ACK_EVERY - 1 &&
           *acked < seq - 2 * ACK_EVERY && !s->stopping) {
        enode_msg_t m;
        int i = 0, v, a;
        char tag[MAXATOMLEN_UTF8];
        if (enode_receive(mb, &m, 30000) < 0)
            return -1;
        if (ei_decode_version(m.msg.buff, &i, &v) == 0 &&
            ei_decode_tuple_header(m.msg.buff, &i, &a) == 0 &&
            ei_decode_atom(m.msg.buff, &i, tag) == 0 &&
            strcmp(tag, "soak_ack") == 0)
            ei_decode_long(m.msg.buff, &i, acked);
        enode_msg_free(&m);
    }
    return rc;
}

static void *c_steady(void *arg)
{
    soak_t *s = arg;
    enode_mbox_t *mb;
    long acked = -1;

    if (enode_mbox_new(s->c_a, &mb) < 0)
        die("c_a: no mailbox");
    for (long seq = 0; !s->stopping; seq++)
        if (c_send_one(s, mb, "c_a", seq, &acked) < 0 && !s->stopping)
            die("c_a: a send failed or no ack came: %s",
                enode_last_error(s->c_a));
    return NULL;
}

static void *c_churn(void *arg)
{
    soak_t *s = arg;
    const char *soak_name = enode_name(s->node);

    while (!s->stopping) {
        enode_mbox_t *mb;
        erlang_ref ref;
        long acked = -1;
        if (enode_connect(s->c_b, soak_name) < 0 ||
            enode_mbox_new(s->c_b, &mb) < 0)
            die("c_b: %s", enode_last_error(s->c_b));
        enode_link(mb, enode_mbox_pid(s->sink));
        enode_monitor(mb, enode_mbox_pid(s->sink), &ref);
        for (long seq = 0; seq < 300 && !s->stopping; seq++)
            c_send_one(s, mb, "c_b", seq, &acked);
        usleep(500000);
        enode_disconnect(s->c_b, soak_name);
        enode_mbox_free(mb);
        usleep(300000);
    }
    return NULL;
}

/* ---- OTP streamers ------------------------------------------------------- */

/* An Erlang process on n that streams to the sink as c_send_one() does;
 * with `burst`, 300 messages per connection, disconnecting in between. */
static void otp_stream(soak_t *s, h_node_t *n, const char *stream, int burst)
{
    char expr[4096];
    const char *soak_name = enode_name(s->node);

    snprintf(expr, sizeof expr,
        "Sink = %s, Big = binary:copy(<<1>>, 1048576), "
        "Wait = fun W(N, A) when A >= N - %d -> A; W(N, A) -> "
        "  receive {soak_ack, M} -> W(N, M) after 30000 -> exit(no_ack) end "
        "end, "
        "Send = fun S(N, Max, A) when N >= Max -> A; S(N, Max, A) -> "
        "  P = case N rem 200 of 0 -> Big; _ -> <<N:64>> end, "
        "  Sink ! {soak, %s, self(), N, P}, "
        "  ets:update_counter(soak_sent, n, 1), "
        "  A2 = case N rem %d of %d -> Wait(N, A); _ -> A end, "
        "  S(N + 1, Max, A2) end, "
        "Loop = fun L() -> "
        "  case %d of "
        "    0 -> Send(0, 1 bsl 62, -1); "
        "    _ -> pong = net_adm:ping('%s'), "
        "         process_flag(trap_exit, true), link(Sink), "
        "         monitor(process, Sink), Send(0, 300, -1), "
        "         timer:sleep(500), erlang:disconnect_node('%s'), "
        "         timer:sleep(300), L() "
        "  end end, "
        "register(soak_streamer, spawn(fun() -> "
        "  ets:new(soak_sent, [named_table, public]), "
        "  ets:insert(soak_sent, {n, 0}), Loop() end)), ok.",
        s->sink_expr, 2 * ACK_EVERY, stream, ACK_EVERY, ACK_EVERY - 1, burst,
        soak_name, soak_name);
    if (!h_eval_expect(n, expr, "ok"))
        die("the %s streamer did not start", stream);
}

/* ---- setting up ---------------------------------------------------------- */

static void pid_as_erlang(const erlang_pid *pid, char *buf, size_t len)
{
    ei_x_buff x;
    size_t at;

    ei_x_new_with_version(&x);
    ei_x_encode_pid(&x, pid);
    at = (size_t)snprintf(buf, len, "binary_to_term(<<");
    for (int i = 0; i < x.index && at + 5 < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%u", i ? "," : "",
                               (unsigned char)x.buff[i]);
    snprintf(buf + at, len - at, ">>)");
    ei_x_free(&x);
}

static void start(soak_t *s)
{
    s->cluster = h_cluster_new();
    if (!s->cluster || h_epmd_start(s->cluster) < 0)
        die("cannot start EPMD");
    /* global off, as with -connect_all false: since OTP 25 it answers a
     * disconnect by making the nodes that saw it disconnect from each
     * other (prevent_overlapping_partitions), which would cut the lasting
     * streams as well. */
    static const char *const no_global[] = {"-connect_all", "false", NULL};
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.extra_args = no_global;
    s->otp_a = h_node_start(s->cluster, "otp_a", &o);
    s->otp_b = h_node_start(s->cluster, "otp_b", &o);
    if (!s->otp_a || !s->otp_b)
        die("an OTP node did not start");
    s->node = c_node(s, "soak");
    s->c_a = c_node(s, "c_a");
    s->c_b = c_node(s, "c_b");
    if (enode_mbox_new(s->node, &s->sink) < 0 ||
        enode_register(s->sink, "sink") < 0 || enode_trap_exit(s->sink, 1) < 0)
        die("no sink");
    pid_as_erlang(enode_mbox_pid(s->sink), s->sink_expr, sizeof s->sink_expr);
}

/* ---- watching ----------------------------------------------------------- */

typedef struct sample {
    long rss_kb;
    int fds;
    long sent[N_STREAMS]; /* -1 when an OTP node did not say */
    long got[N_STREAMS];
} sample_t;

/* What the streamer on OTP node n has sent so far, or -1. */
static long otp_sent(h_node_t *n)
{
    char out[64];
    if (h_eval(n, "ets:lookup_element(soak_sent, n, 2).", out, sizeof out,
               10000) != H_OK)
        return -1;
    return atol(out);
}

static void take_sample(soak_t *s, sample_t *out)
{
    out->rss_kb = rss_kb();
    out->fds = open_fds();
    out->sent[S_OTP_A] = otp_sent(s->otp_a);
    out->sent[S_OTP_B] = otp_sent(s->otp_b);
    pthread_mutex_lock(&s->mu);
    out->sent[S_C_A] = s->c_sent[S_C_A];
    out->sent[S_C_B] = s->c_sent[S_C_B];
    for (int i = 0; i < N_STREAMS; i++)
        out->got[i] = s->streams[i].got;
    pthread_mutex_unlock(&s->mu);
}

/* The churn's signals: every burst but the one under way (on each of the
 * two churning streams) must have brought one EXIT and one DOWN, all
 * with reason noconnection. The number of failures. */
static int check_signals(soak_t *s)
{
    int bad = 0;
    pthread_mutex_lock(&s->mu);
    long bursts = s->streams[S_OTP_B].bursts + s->streams[S_C_B].bursts;
    if (s->exits < bursts - 2 || s->exits > bursts) {
        printf("  %ld EXITs for %ld bursts\n", s->exits, bursts);
        bad++;
    }
    if (s->downs < bursts - 2 || s->downs > bursts) {
        printf("  %ld DOWNs for %ld bursts\n", s->downs, bursts);
        bad++;
    }
    if (s->bad_reasons) {
        printf("  %ld EXITs or DOWNs with a reason other than noconnection\n",
               s->bad_reasons);
        bad++;
    }
    pthread_mutex_unlock(&s->mu);
    return bad;
}

/* Print one minute; the number of failures it shows. */
static int report(soak_t *s, int minute, const sample_t *now,
                  const sample_t *prev, const sample_t *first)
{
    int bad = 0;

    printf("minute %2d: RSS %6ld KiB, %3d fds, sent/received", minute,
           now->rss_kb, now->fds);
    for (int i = 0; i < N_STREAMS; i++) {
        long delta = now->got[i] - prev->got[i];
        long sent = now->sent[i] < 0 || prev->sent[i] < 0
                        ? -1
                        : now->sent[i] - prev->sent[i];
        printf(" %s %ld/%ld", stream_names[i], sent, delta);
        if (delta == 0) {
            printf(" (STOPPED)");
            bad++;
        }
    }
    pthread_mutex_lock(&s->mu);
    printf("; bursts %ld/%ld, EXITs %ld, DOWNs %ld\n",
           s->streams[S_OTP_B].bursts, s->streams[S_C_B].bursts, s->exits,
           s->downs);
    pthread_mutex_unlock(&s->mu);
    bad += check_signals(s);
    if (first && now->rss_kb > first->rss_kb + 8192) {
        printf("  RSS grew from %ld KiB after the first minute\n",
               first->rss_kb);
        bad++;
    }
    if (first && now->fds > first->fds + 2) {
        printf("  descriptors grew from %d after the first minute\n",
               first->fds);
        bad++;
    }
    fflush(stdout);
    return bad;
}

static int parse_minutes(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--minutes") == 0 && atoi(argv[2]) > 0)
        return atoi(argv[2]);
    if (argc == 1)
        return 10;
    fprintf(stderr, "usage: enode-soak [--minutes N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int minutes = parse_minutes(argc, argv), failures = 0;
    soak_t s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t sink_t, c_a_t, c_b_t;
    sample_t first, prev, now;

    start(&s);
    pthread_create(&sink_t, NULL, sink_loop, &s);
    pthread_create(&c_a_t, NULL, c_steady, &s);
    pthread_create(&c_b_t, NULL, c_churn, &s);
    otp_stream(&s, s.otp_a, "otp_a", 0);
    otp_stream(&s, s.otp_b, "otp_b", 1);
    take_sample(&s, &prev);
    for (int minute = 1; minute <= minutes; minute++) {
        sleep(60);
        take_sample(&s, &now);
        failures += report(&s, minute, &now, &prev, minute > 1 ? &first : NULL);
        if (minute == 1)
            first = now;
        prev = now;
    }
    s.stopping = 1;
    pthread_join(c_a_t, NULL);
    pthread_join(c_b_t, NULL);
    s.sink_stopping = 1;
    pthread_join(sink_t, NULL);
    for (int i = 0; i < N_STREAMS; i++)
        failures += s.streams[i].errors > 0;
    printf("soak: %d minutes, %ld + %ld + %ld + %ld messages, %s\n", minutes,
           s.streams[0].got, s.streams[1].got, s.streams[2].got,
           s.streams[3].got, failures ? "FAILED" : "passed");
    enode_free(s.c_a);
    enode_free(s.c_b);
    enode_free(s.node);
    h_cluster_stop(s.cluster);
    return failures ? 1 : 0;
}
