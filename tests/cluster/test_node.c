/* test_node.c - a node's life around EPMD and its connections: names,
 * refused registrations, running without EPMD, ticks, and the loop in
 * the host program's hands. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cnode.h"
#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;

static void up(void)
{
    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
}

static void down(void)
{
    h_cluster_stop(cluster);
}

static int make_node(enode_t **n, const char *name, void (*tweak)(enode_config_t *),
                     char *err, size_t errlen)
{
    return h_enode_new(cluster, n, name, tweak, err, errlen);
}

struct seen {
    char names[16][64];
    int ports[16];
    int count;
};

static void collect(void *user, const char *name, int port)
{
    struct seen *s = user;
    if (s->count < 16) {
        snprintf(s->names[s->count], sizeof s->names[0], "%s", name);
        s->ports[s->count++] = port;
    }
}

Test(node, registers_and_epmd_lists_it, .init = up, .fini = down,
     .timeout = 60)
{
    enode_t *n;
    char err[512];
    struct seen s = {0};

    cr_assert_eq(make_node(&n, "listed", NULL, err, sizeof err), 0, "%s", err);
    cr_assert_neq(enode_creation(n), 0);
    cr_assert_eq(enode_epmd_names("localhost", 0, collect, &s, err,
                                  sizeof err), 0, "%s", err);
    int found = 0;
    for (int i = 0; i < s.count; i++)
        if (strcmp(s.names[i], "listed") == 0 && s.ports[i] == enode_port(n))
            found = 1;
    cr_assert(found, "EPMD lists our name and port");

    /* The same name again is refused, in words. */
    enode_t *dup;
    cr_assert_eq(make_node(&dup, "listed", NULL, err, sizeof err),
                 ENODE_ENAMETAKEN);
    cr_assert(strstr(err, "'listed' is taken"), "%s", err);

    /* Freeing the node unregisters it. */
    enode_free(n);
    s.count = 0;
    usleep(200000);
    cr_assert_eq(enode_epmd_names("localhost", 0, collect, &s, err,
                                  sizeof err), 0);
    for (int i = 0; i < s.count; i++)
        cr_assert_str_neq(s.names[i], "listed");
}

Test(node, no_epmd_is_a_clear_error, .init = up, .fini = down,
     .timeout = 30)
{
    enode_t *n;
    char err[512];

    setenv("ERL_EPMD_PORT", "1", 1); /* nothing listens on port 1 */
    cr_assert_eq(make_node(&n, "lonely", NULL, err, sizeof err), ENODE_EEPMD);
    /* what happened over IPv4, not that 127.0.0.1 has no IPv6 address */
    cr_assert(strstr(err, "cannot reach EPMD on 127.0.0.1 port 1 (connect "
                          "to 127.0.0.1:1: Connection refused)"),
              "%s", err);
    cr_assert(!strstr(err, "IPv6") && !strstr(err, "resolve"), "%s", err);
}

/* A message to a node whose host has no EPMD: the lookup's failure, in
 * words about EPMD, whether the send or the loop meets it first. */
Test(node, a_refused_epmd_lookup_says_so, .init = up, .fini = down,
     .timeout = 30)
{
    enode_t *n;
    enode_mbox_t *mb;
    char err[512];
    ei_x_buff x;

    cr_assert_eq(make_node(&n, "asker", NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(enode_start_thread(n), 0);
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    /* the cluster's EPMD, which this test started, goes */
    cr_assert_eq(kill(h_cluster_epmd_pid(cluster), SIGKILL), 0);
    struct seen s;
    for (int i = 0; i < 100 && enode_epmd_names("localhost", 0, collect, &s,
                                                err, sizeof err) == 0;
         i++)
        usleep(20000);
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "hello");
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(enode_reg_send(mb, "nobody@localhost", "p", &x), 0);
        for (int i = 0; i < 100 && !strstr(enode_last_error(n), "nobody");
             i++)
            usleep(20000);
        const char *e = enode_last_error(n);
        cr_assert(strstr(e, "nobody@localhost: cannot reach EPMD on "
                            "localhost: Connection refused"), "%s", e);
        cr_assert(!strstr(e, "write:"), "%s", e);
        cr_assert_neq(enode_connect(n, "nobody@localhost"), 0);
        cr_assert(strstr(enode_last_error(n), "cannot reach EPMD"), "%s",
                  enode_last_error(n));
    }
    ei_x_free(&x);
    enode_free(n);
}

static void no_certificate(enode_config_t *c)
{
    cr_assert_eq(enode_config_set_ssl_dist_optfile(c, NULL), 0);
}

Test(node, tls_without_certificate_refuses_to_start, .init = up,
     .fini = down, .timeout = 30)
{
    enode_t *n;
    char err[512];

    cr_assert_eq(make_node(&n, "nocert", no_certificate, err, sizeof err),
                 ENODE_ETLS);
    cr_assert(strstr(err, "certificate"), "%s", err);
}

/* A port nothing listens on now: the kernel's pick for port 0. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int fixed_port;
static void without_epmd(enode_config_t *c)
{
    cr_assert_eq(enode_config_set_dist_port(c, fixed_port), 0);
}

Test(node, runs_without_epmd, .init = up, .fini = down, .timeout = 60)
{
    enode_t *a, *b;
    char err[512], name_a[300];
    struct seen s = {0};

    /* Node a listens on a fixed port and never registers. */
    fixed_port = free_port();
    cr_assert_eq(make_node(&a, "noepmd_a", without_epmd, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(enode_port(a), fixed_port);
    cr_assert_eq(enode_epmd_names("localhost", 0, collect, &s, err,
                                  sizeof err), 0);
    for (int i = 0; i < s.count; i++)
        cr_assert_str_neq(s.names[i], "noepmd_a");
    snprintf(name_a, sizeof name_a, "%s", enode_name(a));
    cr_assert_eq(enode_start_thread(a), 0);

    /* An OTP node that neither listens nor asks EPMD reaches it. */
    char portarg[16];
    snprintf(portarg, sizeof portarg, "%d", fixed_port);
    const char *extra[] = {"-erl_epmd_port", portarg, "-dist_listen", "false",
                           NULL};
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.extra_args = extra;
    h_node_t *otp = h_node_start(cluster, "noepmd", &o);
    cr_assert_not_null(otp);
    cr_assert(h_eval_expectf(otp, "pong", "net_adm:ping('%s').", name_a));

    /* A C node told a's port connects without asking EPMD either. */
    cr_assert_eq(make_node(&b, "noepmd_b", NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(enode_set_peer_port(b, name_a, fixed_port), 0);
    cr_assert_eq(enode_connect(b, name_a), 0, "%s", enode_last_error(b));
    enode_free(b);
    enode_free(a);
}

static void short_ticks(enode_config_t *c)
{
    cr_assert_eq(enode_config_set_net_ticktime(c, 4), 0);
}

Test(node, ticks_keep_an_idle_connection_and_a_silent_peer_dies,
     .init = up, .fini = down, .timeout = 120)
{
    enode_t *n;
    char err[512];
    const char *extra[] = {"-kernel", "net_ticktime", "4", NULL};
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.extra_args = extra;
    h_node_t *otp = h_node_start(cluster, "ticker", &o);

    cr_assert_eq(make_node(&n, "ticking", short_ticks, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(enode_start_thread(n), 0);
    cr_assert_eq(enode_connect(n, h_node_name(otp)), 0, "%s",
                 enode_last_error(n));
    /* Idle for 30 s, 7 x net_ticktime: only ticks keep it up, both ways. */
    sleep(30);
    cr_assert(enode_is_connected(n, h_node_name(otp)));
    cr_assert(h_eval_expectf(otp, "true", "lists:member('%s', nodes()).",
                             enode_name(n)));
    /* A stopped peer sends no ticks: down within 2 x net_ticktime. */
    kill(h_node_pid(otp), SIGSTOP);
    int down_after = -1;
    for (int i = 0; i < 80; i++) {
        if (!enode_is_connected(n, h_node_name(otp))) {
            down_after = i * 100;
            break;
        }
        usleep(100000);
    }
    kill(h_node_pid(otp), SIGCONT);
    cr_assert(down_after >= 0, "still connected 8 s after SIGSTOP");
    cr_assert(strstr(enode_last_error(n), "net_ticktime"), "%s",
              enode_last_error(n));
    enode_free(n);
}

Test(node, host_event_loop_drives_the_node, .init = up, .fini = down,
     .timeout = 60)
{
    enode_t *n;
    enode_mbox_t *mb;
    char err[512];
    h_node_t *otp = h_node_start(cluster, "loop", NULL);

    cr_assert_eq(make_node(&n, "looped", NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    cr_assert_eq(enode_register(mb, "inbox"), 0);
    /* The Erlang side sends three messages; we run the loop ourselves,
     * polling enode_fd() like a host event loop would. */
    cr_assert(h_eval_expectf(otp, "ok",
                             "[{inbox, '%s'} ! {n, I} || I <- [1, 2, 3]], ok.",
                             enode_name(n)));
    int got = 0;
    for (int spins = 0; got < 3 && spins < 500; spins++) {
        struct pollfd p = {.fd = enode_fd(n), .events = POLLIN};
        poll(&p, 1, enode_timeout(n) < 0 ? 20 : enode_timeout(n));
        cr_assert_eq(enode_process(n, 0), 0);
        enode_msg_t m;
        while (enode_receive(mb, &m, 0) == 0) {
            int i = 0, v, arity;
            long val;
            char atom[MAXATOMLEN_UTF8];
            ei_decode_version(m.msg.buff, &i, &v);
            ei_decode_tuple_header(m.msg.buff, &i, &arity);
            ei_decode_atom(m.msg.buff, &i, atom);
            ei_decode_long(m.msg.buff, &i, &val);
            cr_assert_eq(val, ++got, "in order");
            cr_assert_str_eq(m.to_name, "inbox");
            enode_msg_free(&m);
        }
    }
    cr_assert_eq(got, 3);
    enode_free(n);
}

static FILE *log_file;

static void to_log_file(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    fprintf(log_file, "%s\n", msg);
    fflush(log_file);
}

static void quick_setup(enode_config_t *c)
{
    cr_assert_eq(enode_config_set_setup_time_ms(c, 1500), 0);
    cr_assert_eq(enode_config_set_log(c, to_log_file, NULL, ENODE_LOG_WARNING),
                 0);
}

/* A raw TCP connection to the node's port. */
static int raw_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* 1 once the node has closed fd (read gives EOF or an error). */
static int closed_by_node(int fd, int timeout_ms)
{
    char buf[256];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, timeout_ms) == 1) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0)
            return 1;
    }
    return 0;
}

Test(node, hostile_peers_are_dropped_and_others_served, .init = up,
     .fini = down, .timeout = 60)
{
    enode_t *n;
    char err[512];
    char log_path[600];
    FILE *log;

    snprintf(log_path, sizeof log_path, "%s/sturdy.log", h_cluster_dir(cluster));
    cr_assert_not_null(log = fopen(log_path, "w+"));
    log_file = log;
    cr_assert_eq(make_node(&n, "sturdy", quick_setup, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(enode_start_thread(n), 0);
    int silent = raw_connect(enode_port(n));
    int plain = raw_connect(enode_port(n));
    /* A distribution name message in the clear, to a TLS port. */
    static const char hello[] = "\x00\x15N\x00\x00\x00\x0d\x07\xdf\x7f\xbc"
                                "\x00\x00\x00\x01\x00\x03x@y";
    cr_assert_eq(write(plain, hello, sizeof hello - 1), sizeof hello - 1);
    int junk = raw_connect(enode_port(n));
    char noise[4096];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (char)(i * 7919 + 13);
    cr_assert_eq(write(junk, noise, sizeof noise), sizeof noise);

    /* Meanwhile a real peer connects and is served. */
    h_node_t *otp = h_node_start(cluster, "good", NULL);
    cr_assert(h_eval_expectf(otp, "pong", "net_adm:ping('%s').",
                             enode_name(n)));
    cr_assert(closed_by_node(plain, 3000), "plaintext peer dropped");
    cr_assert(closed_by_node(junk, 3000), "garbage peer dropped");
    cr_assert(closed_by_node(silent, 4000), "silent peer dropped after the "
                                            "set-up time");
    close(silent);
    close(plain);
    close(junk);
    cr_assert(h_eval_expectf(otp, "pong", "net_adm:ping('%s').",
                             enode_name(n)));
    enode_free(n);
    /* Each refusal said why, with the peer's address. */
    char text[8192];
    size_t got = fread(text, 1, sizeof text - 1, (rewind(log), log));
    text[got] = '\0';
    fclose(log);
    cr_assert(strstr(text, "does not speak TLS"), "%s", text);
    cr_assert(strstr(text, "from 127.0.0.1:"), "%s", text);
    cr_assert(strstr(text, "net_setuptime"), "%s", text);
}

/* ---- packets are corked: bursts share TLS records, nothing is held back */

/* An Erlang process `sink` that takes {seq, 1..N} in order, then answers
 * {get, From} with {ok, N}, or with what went wrong. */
static void start_sink(h_node_t *otp, int n)
{
    cr_assert(h_eval_expectf(
        otp, "true",
        "register(sink, spawn(fun() -> "
        "  Answer = fun(R) -> receive {get, F} -> F ! R end end, "
        "  Loop = fun L(I) when I > %d -> Answer({ok, I - 1}); "
        "             L(I) -> receive {seq, I} -> L(I + 1); "
        "                             {seq, J} -> Answer({out_of_order, I, J}) "
        "                     after 20000 -> Answer({missing, I}) end end, "
        "  Loop(1) end)).",
        n));
}

static void send_seq(enode_mbox_t *mb, const char *to_node, long i)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "seq");
    ei_x_encode_long(&x, i);
    cr_assert_eq(enode_reg_send(mb, to_node, "sink", &x), 0);
    ei_x_free(&x);
}

static void burst_arrives(int threaded)
{
    enode_t *n;
    enode_mbox_t *mb;
    char err[512];
    const int count = 20000;
    h_node_t *otp = h_node_start(cluster, "burst", NULL);

    cr_assert_eq(make_node(&n, threaded ? "burst_t" : "burst_e", NULL, err,
                           sizeof err), 0, "%s", err);
    if (threaded)
        cr_assert_eq(enode_start_thread(n), 0);
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    cr_assert_eq(enode_connect(n, h_node_name(otp)), 0, "%s",
                 enode_last_error(n));
    start_sink(otp, count);
    for (long i = 1; i <= count; i++)
        send_seq(mb, h_node_name(otp), i);
    if (!threaded) /* the host runs the loop until the queue is out */
        for (int k = 0; k < 50; k++)
            enode_process(n, 10);
    cr_assert(h_eval_expectf(otp, "{ok,20000}",
                             "sink ! {get, self()}, "
                             "receive R -> R after 30000 -> timeout end."));
    enode_free(n);
}

Test(node, a_burst_of_small_messages_arrives_whole_and_in_order,
     .init = up, .fini = down, .timeout = 90)
{
    burst_arrives(0);
}

Test(node, a_burst_from_another_thread_arrives_whole_and_in_order,
     .init = up, .fini = down, .timeout = 90)
{
    burst_arrives(1);
}

/* The first send since the loop's turn goes at once; the next ones wait
 * for the loop, and a host event loop learns it: enode_fd() turns
 * readable, and one enode_process() writes them. */
Test(node, a_send_wakes_the_host_loop_and_goes_out, .init = up,
     .fini = down, .timeout = 60)
{
    enode_t *n;
    enode_mbox_t *mb;
    char err[512];
    h_node_t *otp = h_node_start(cluster, "wake", NULL);

    cr_assert_eq(make_node(&n, "waker", NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    cr_assert_eq(enode_connect(n, h_node_name(otp)), 0, "%s",
                 enode_last_error(n));
    start_sink(otp, 3);
    while (enode_process(n, 0) == 0) { /* settle: nothing left to do */
        struct pollfd p = {.fd = enode_fd(n), .events = POLLIN};
        if (poll(&p, 1, 50) == 0)
            break;
    }
    for (long i = 1; i <= 3; i++)
        send_seq(mb, h_node_name(otp), i);
    struct pollfd p = {.fd = enode_fd(n), .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 0), 1, "enode_fd() is not readable after a send");
    cr_assert_eq(enode_process(n, 0), 0);
    cr_assert(h_eval_expectf(otp, "{ok,3}",
                             "sink ! {get, self()}, "
                             "receive R -> R after 5000 -> timeout end."));
    enode_free(n);
}

/* What was sent right before enode_free() is not lost with the node. */
Test(node, a_message_sent_just_before_free_arrives, .init = up,
     .fini = down, .timeout = 60)
{
    enode_t *n;
    enode_mbox_t *mb;
    char err[512];
    h_node_t *otp = h_node_start(cluster, "last", NULL);

    cr_assert_eq(make_node(&n, "lastword", NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    cr_assert_eq(enode_connect(n, h_node_name(otp)), 0, "%s",
                 enode_last_error(n));
    start_sink(otp, 3);
    for (long i = 1; i <= 3; i++)
        send_seq(mb, h_node_name(otp), i);
    enode_free(n);
    cr_assert(h_eval_expectf(otp, "{ok,3}",
                             "sink ! {get, self()}, "
                             "receive R -> R after 5000 -> timeout end."));
}

/* ---- a peer that vanishes costs its connection, never the process ------- */

static void plain_tcp(enode_config_t *c)
{
    cr_assert_eq(enode_config_set_proto(c, ENODE_PROTO_TCP), 0);
}

/* Writing to a socket whose peer is gone raises SIGPIPE, whose default
 * action kills the process: enode must never let it reach the host. */
static void vanishing_peer(int tcp)
{
    enode_t *n;
    enode_mbox_t *mb;
    char err[512];
    h_node_opts_t opts = H_NODE_OPTS_INIT;

    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    signal(SIGPIPE, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &pipe_only, NULL);
    opts.tcp = tcp;
    h_node_t *otp = h_node_start(cluster, "vanish", &opts);
    cr_assert_not_null(otp);
    cr_assert_eq(make_node(&n, tcp ? "survivor_tcp" : "survivor_tls",
                           tcp ? plain_tcp : NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    cr_assert_eq(enode_connect(n, h_node_name(otp)), 0, "%s",
                 enode_last_error(n));
    h_node_kill(otp);
    usleep(300000);
    /* Event-loop mode and no loop run: the writes come from the sends. */
    ei_x_buff x;
    ei_x_new_with_version(&x);
    char kib[1024];
    memset(kib, 7, sizeof kib);
    ei_x_encode_binary(&x, kib, sizeof kib);
    for (int i = 0; i < 2000; i++)
        enode_reg_send(mb, h_node_name(otp), "sink", &x);
    ei_x_free(&x);
    for (int k = 0; k < 20 && enode_is_connected(n, h_node_name(otp)); k++)
        enode_process(n, 50);
    cr_assert(!enode_is_connected(n, h_node_name(otp)));
    enode_free(n);
}

Test(node, a_vanished_tls_peer_raises_no_sigpipe, .init = up, .fini = down,
     .timeout = 60)
{
    vanishing_peer(0);
}

Test(node, a_vanished_tcp_peer_raises_no_sigpipe, .init = up, .fini = down,
     .timeout = 60)
{
    vanishing_peer(1);
}


/* ---- a peer that closes normally is news, not trouble ------------------ */

static pthread_mutex_t levels_mu = PTHREAD_MUTEX_INITIALIZER;
static char levels_text[8192];

/* Each line as "<level> <message>". */
static void log_with_level(void *user, int level, const char *msg)
{
    (void)user;
    pthread_mutex_lock(&levels_mu);
    size_t len = strlen(levels_text);
    snprintf(levels_text + len, sizeof levels_text - len, "%d %s\n", level,
             msg);
    pthread_mutex_unlock(&levels_mu);
}

static void info_log(enode_config_t *c)
{
    cr_assert_eq(enode_config_set_log(c, log_with_level, NULL, ENODE_LOG_INFO),
                 0);
}

static int levels_logged(const char *needle)
{
    pthread_mutex_lock(&levels_mu);
    int found = strstr(levels_text, needle) != NULL;
    pthread_mutex_unlock(&levels_mu);
    return found;
}

Test(node, a_peer_closing_normally_is_logged_as_info, .init = up,
     .fini = down, .timeout = 60)
{
    enode_t *n;
    char err[512], line[300];

    cr_assert_eq(make_node(&n, "calm", info_log, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(enode_start_thread(n), 0);
    h_node_t *otp = h_node_start(cluster, "leaver", NULL);
    cr_assert_not_null(otp);
    cr_assert(h_eval_expectf(otp, "pong", "net_adm:ping('%s').",
                             enode_name(n)));
    cr_assert(h_eval_expect(otp, "global:sync().", "ok"));
    cr_assert(h_eval_expectf(otp, "true", "erlang:disconnect_node('%s').",
                             enode_name(n)));
    snprintf(line, sizeof line, "%d connection to %s closed: ",
             ENODE_LOG_INFO, h_node_name(otp));
    for (int i = 0; i < 100 && !levels_logged(line); i++)
        usleep(50000);
    cr_assert(levels_logged(line), "expected \"%s\" in:\n%s", line,
              levels_text);
    snprintf(line, sizeof line, "%d connection to %s", ENODE_LOG_WARNING,
             h_node_name(otp));
    cr_assert(!levels_logged(line), "%s", levels_text);
    enode_free(n);
}

/* Node and registered names are atoms: past 255 characters, the error
 * says that, wherever the name is given. */
Test(node, a_name_too_long_for_an_atom_is_named_as_such, .init = up,
     .fini = down, .timeout = 60)
{
    enode_t *n;
    enode_mbox_t *mb;
    char err[512], name[400], peer[420];
    ei_x_buff x;

    memset(name, 'a', 300);
    name[300] = 0;
    /* The setter refuses it; -sname says why. */
    enode_config_t *cfg;
    cr_assert_eq(enode_config_new(&cfg), 0);
    cr_assert_eq(enode_config_set_name(cfg, name, 0), ENODE_EINVAL);
    char a0[] = "prog", a1[] = "-sname";
    char *argv[] = {a0, a1, name, NULL};
    int argc = 3;
    cr_assert_eq(enode_config_from_args(cfg, &argc, argv, err, sizeof err),
                 ENODE_EINVAL);
    enode_config_free(cfg);
    cr_assert(strstr(err, "node name 'aaaa"), "%s", err);
    cr_assert(strstr(err, "is too long: 30"), "%s", err);
    cr_assert(strstr(err, "an atom, which holds at most 255"), "%s", err);

    cr_assert_eq(make_node(&n, "short", NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(enode_start_thread(n), 0);
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    /* 250 + "@localhost": a node name no node can have */
    memset(name, 'b', 250);
    name[250] = 0;
    snprintf(peer, sizeof peer, "%s@localhost", name);
    cr_assert_neq(enode_connect(n, peer), 0);
    cr_assert(strstr(enode_last_error(n),
                     "is too long: 260 characters, and an atom holds at "
                     "most 255"),
              "%s", enode_last_error(n));
    cr_assert(!strstr(enode_last_error(n), "not a node name"), "%s",
              enode_last_error(n));

    memset(name, 'c', 300);
    name[300] = 0;
    cr_assert_eq(enode_register(mb, name), ENODE_EINVAL);
    cr_assert(strstr(enode_last_error(n), "registered name 'cccc"), "%s",
                     enode_last_error(n));
    cr_assert(strstr(enode_last_error(n), "300 characters"), "%s",
              enode_last_error(n));
    /* 255 characters, some of two bytes, is fine */
    char wide[600] = "";
    for (int i = 0; i < 255; i++)
        strcat(wide, i % 2 ? "\xc3\xa9" : "e");
    cr_assert_eq(enode_register(mb, wide), 0, "%s", enode_last_error(n));

    h_node_t *otp = h_node_start(cluster, "o", NULL);
    cr_assert_not_null(otp);
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "hello");
    cr_assert_eq(enode_reg_send(mb, h_node_name(otp), name, &x),
                 ENODE_EINVAL);
    cr_assert(strstr(enode_last_error(n), "cannot send: registered name "
                                          "'cccc"),
              "%s", enode_last_error(n));
    cr_assert(!enode_is_connected(n, h_node_name(otp)), "dialled for it");
    ei_x_free(&x);
    enode_free(n);
}
