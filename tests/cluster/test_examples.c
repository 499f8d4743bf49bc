/* test_examples.c - the example programs of examples/, each run as its
 * own process against real OTP nodes over mutual TLS, driven from both
 * sides: Erlang through the agent, TCP clients from here.
 *   pubsub    pg broadcasts reach the C subscriber, which calls back
 *             into the publisher's node; its global name takes requests;
 *   epoll_kv  the key-value store in an epoll loop: TCP clients and
 *   uv_kv     Erlang (rpc, change notices) see the same data; the same
 *             service in a libuv loop (skipped when libuv is missing);
 *   workers   a pool of threads, each with its own mailbox, answering
 *             concurrently; shutdown by message and by signal.
 * Each program must exit with status 0 when asked to stop: under ASan
 * (./dev check --sanitize) a leak would make that status nonzero. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cnode.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *a, *b;

/* OTP starts the default pg scope only when asked. */
static const char *const pg_args[] = {"-kernel", "start_pg", "true", NULL};

static void up_one(void)
{
    cluster = h_cluster_new();
    cr_assert_not_null(cluster);
    cr_assert_gt(h_epmd_start(cluster), 0);
    a = h_node_start(cluster, "exa", NULL);
    cr_assert_not_null(a);
}

static void up_two_with_pg(void)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.extra_args = pg_args;
    cluster = h_cluster_new();
    cr_assert_not_null(cluster);
    cr_assert_gt(h_epmd_start(cluster), 0);
    a = h_node_launch(cluster, "psa", &o);
    b = h_node_launch(cluster, "psb", &o);
    cr_assert(a && b);
    cr_assert_eq(h_node_wait_ready(a, 30000), 0);
    cr_assert_eq(h_node_wait_ready(b, 30000), 0);
    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').", h_node_name(b)));
}

static void down(void)
{
    h_cluster_stop(cluster); /* C nodes a failed test left: cnode.c */
    cluster = NULL;
    a = b = NULL;
}

/* Start examples/<rel> as node `name`, connected to a, with extra flags. */
static h_cnode_t *start_example(const char *rel, const char *name,
                                const char *const *extra)
{
    char prog[1024];
    const char *argv[32];
    int i = 0;
    argv[i++] = h_build_path(rel, prog, sizeof prog);
    argv[i++] = "-sname";
    argv[i++] = name;
    argv[i++] = "-setcookie";
    argv[i++] = h_cluster_cookie(cluster);
    argv[i++] = "-proto_dist";
    argv[i++] = "inet_tls";
    argv[i++] = "-ssl_dist_optfile";
    argv[i++] = h_cluster_optfile(cluster);
    argv[i++] = "-connect";
    argv[i++] = h_node_name(a);
    for (; extra && *extra && i < 31; extra++)
        argv[i++] = *extra;
    argv[i] = NULL;
    h_cnode_t *n = h_cnode_start(cluster, argv, 20000);
    cr_assert_not_null(n, "%s did not come up", rel);
    return n;
}

/* Ask the program to stop with SIGTERM: it must exit by itself, with 0. */
static void stops_cleanly_on_sigterm(h_cnode_t *n)
{
    cr_assert_eq(kill(h_cnode_pid(n), SIGTERM), 0);
    cr_assert_eq(h_cnode_wait_exit(n, 10000), 0, "see %s", h_cnode_log(n));
    h_cnode_stop(n);
}

/* ---- pubsub ------------------------------------------------------------------ */

/* Loads module pubsub_sink on n: handle(Event) sends {handled, Event} to
 * the process registered as sink there, and returns {ok, Event}. */
static void load_sink(h_node_t *n)
{
    cr_assert(h_eval_expect(n,
        "Src = [\"-module(pubsub_sink).\", \"-export([handle/1]).\", "
        "\"handle(E) -> sink ! {handled, E}, {ok, E}.\"], "
        "Forms = [begin {ok, T, _} = erl_scan:string(S), "
        "{ok, F} = erl_parse:parse_form(T), F end || S <- Src], "
        "{ok, M, Bin} = compile:forms(Forms), "
        "element(1, code:load_binary(M, \"pubsub_sink.erl\", Bin))",
        "module"));
}

Test(examples, pubsub, .init = up_two_with_pg, .fini = down, .timeout = 120)
{
    load_sink(a);
    const char *extra[] = {"-handler", "pubsub_sink:handle", NULL};
    h_cnode_t *p = start_example("examples/pubsub/enode-pubsub", "pubsub",
                                 extra);
    char cn[256], expr[1024];
    snprintf(cn, sizeof cn, "%s", h_cnode_name(p)); /* outlives p */

    /* It is the group's one member, seen from both OTP nodes. */
    snprintf(expr, sizeof expr,
             "[node(P) || P <- pg:get_members(events)] =:= ['%s']", cn);
    cr_assert(h_wait_until(a, expr, "true", 10000));
    cr_assert(h_wait_until(b, expr, "true", 10000));
    /* And the global name is its mailbox, on both. */
    snprintf(expr, sizeof expr,
             "node(global:whereis_name(enode_pubsub)) =:= '%s'", cn);
    cr_assert(h_wait_until(a, expr, "true", 10000));
    cr_assert(h_wait_until(b, expr, "true", 10000));

    /* A broadcast from a reaches it, and it calls pubsub_sink back on a. */
    cr_assert(h_eval_expect(a,
        "register(sink, self()), "
        "[P ! {temperature, 21} || P <- pg:get_members(events)], "
        "receive {handled, E} -> E after 10000 -> timeout end",
        "{temperature,21}"));
    /* From b, which has no pubsub_sink: the callback fails there, the
     * subscriber lives on and counts it. */
    cr_assert(h_eval_expect(b, "[P ! {pressure, 1013} || P <- "
                               "pg:get_members(events)], ok", "ok"));
    cr_assert(h_wait_until(b,
        "global:send(enode_pubsub, {self(), stats}), "
        "receive {pubsub_stats, _, _, _} = S -> S after 5000 -> timeout end",
        "{pubsub_stats,2,1,1}", 10000));

    /* It publishes for Erlang: an Erlang member on b gets the event, the
     * subscriber itself does not (the stats stay at 2 events). */
    cr_assert(h_eval_expect(b,
        "Self = self(), "
        "spawn(fun() -> pg:join(events, self()), Self ! joined, "
        "receive E -> Self ! {got, E} end end), "
        "receive joined -> ok end, "
        "Pub = fun Pub(0) -> gave_up; "
        "Pub(K) -> global:send(enode_pubsub, {self(), publish, hello}), "
        "receive {published, 0} -> timer:sleep(100), Pub(K - 1); "
        "{published, N} -> N end end, "
        "Sent = Pub(50), receive {got, G} -> {Sent, G} after 5000 -> "
        "{Sent, nothing} end",
        "{1,hello}"));
    cr_assert(h_eval_expect(b,
        "global:send(enode_pubsub, {self(), stats}), "
        "receive {pubsub_stats, _, _, _} = S -> S after 5000 -> timeout end",
        "{pubsub_stats,2,1,1}"));

    /* stop: it leaves, drops the name, exits 0. */
    cr_assert(h_eval_expect(a, "global:send(enode_pubsub, stop), ok", "ok"));
    cr_assert_eq(h_cnode_wait_exit(p, 10000), 0, "see %s", h_cnode_log(p));
    h_cnode_stop(p);
    snprintf(expr, sizeof expr,
             "[P || P <- pg:get_members(events), node(P) =:= '%s']", cn);
    cr_assert(h_wait_until(a, expr, "[]", 10000));
    cr_assert(h_wait_until(a, "global:whereis_name(enode_pubsub)",
                           "undefined", 10000));
}

/* ---- the key-value store, in epoll and in libuv -------------------------------- */

/* A TCP client of the store: connected, with a 5 s receive timeout. */
static int kv_connect(h_cnode_t *kv)
{
    int port = 0;
    const char *at = strstr(h_cnode_banner(kv), "kv port ");
    cr_assert(at && sscanf(at, "kv port %d", &port) == 1 && port > 0,
              "no port in '%s'", h_cnode_banner(kv));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* One reply line (without its newline) into line: 0; KV_EOF when the
 * server closed the connection, KV_TIMEOUT when nothing came in 5 s. */
enum { KV_EOF = -1, KV_TIMEOUT = -2 };
static int kv_read_line(int fd, char *line, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        char c;
        ssize_t r = recv(fd, &c, 1, 0);
        if (r == 0)
            return KV_EOF;
        if (r < 0)
            return KV_TIMEOUT;
        if (c == '\n')
            break;
        line[n++] = c;
    }
    line[n] = '\0';
    return 0;
}

static void kv_send(int fd, const char *text)
{
    size_t len = strlen(text);
    cr_assert_eq(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void kv_reply(int fd, const char *expected)
{
    char line[4096];
    cr_assert_eq(kv_read_line(fd, line, sizeof line), 0, "no reply");
    cr_assert_str_eq(line, expected);
}

/* Send a command, expect this reply. */
static void kv_expect(int fd, const char *command, const char *reply)
{
    kv_send(fd, command);
    kv_reply(fd, reply);
}

/* The next change notice the watcher on a got, compared in Erlang. */
static void notice_is(const char *expected)
{
    cr_assert(h_eval_expectf(a, "true",
        "watcher ! {get, self()}, receive {notice, M} -> M =:= %s end",
        expected), "notice %s", expected);
}

static void kv_service_works(const char *rel)
{
    h_cnode_t *kv = start_example(rel, "kv", NULL);
    const char *cn = h_cnode_name(kv);
    int fd = kv_connect(kv);

    /* An Erlang process subscribes through rpc; it keeps the notices and
     * hands them out one by one. */
    cr_assert(h_eval_expectf(a, "ok",
        "W = spawn(fun Loop() -> receive {get, P} -> "
        "receive {kv_changed, _, _} = M -> P ! {notice, M} "
        "after 5000 -> P ! {notice, none} end, Loop() end end), "
        "register(watcher, W), rpc:call('%s', kv, subscribe, [W])", cn));

    /* TCP writes, Erlang reads and is told. */
    kv_expect(fd, "SET color deep blue\n", "OK");
    notice_is("{kv_changed, <<\"color\">>, <<\"deep blue\">>}");
    cr_assert(h_eval_expectf(a, "true",
        "rpc:call('%s', kv, get, [<<\"color\">>]) =:= {ok, <<\"deep blue\">>}",
        cn));
    /* Erlang writes, TCP reads, the subscriber is told. */
    cr_assert(h_eval_expectf(a, "ok",
        "rpc:call('%s', kv, put, [<<\"shape\">>, <<\"round\">>])", cn));
    notice_is("{kv_changed, <<\"shape\">>, <<\"round\">>}");
    kv_expect(fd, "GET shape\r\n", "VALUE round");
    /* Deletes, both ways. */
    kv_expect(fd, "DEL color\n", "DELETED");
    notice_is("{kv_changed, <<\"color\">>, deleted}");
    cr_assert(h_eval_expectf(a, "not_found",
        "rpc:call('%s', kv, get, [<<\"color\">>])", cn));
    cr_assert(h_eval_expectf(a, "ok",
        "rpc:call('%s', kv, delete, [<<\"shape\">>])", cn));
    notice_is("{kv_changed, <<\"shape\">>, deleted}");
    kv_expect(fd, "GET shape\n", "NOT_FOUND");
    /* Two commands in one write: two replies, in order. */
    kv_send(fd, "SET a 1\nSET b 2\n");
    kv_reply(fd, "OK");
    kv_reply(fd, "OK");
    kv_expect(fd, "GET b\n", "VALUE 2");
    kv_expect(fd, "DEL b\n", "DELETED");
    kv_expect(fd, "KEYS\n", "KEYS a");
    cr_assert(h_eval_expectf(a, "true",
        "rpc:call('%s', kv, keys, []) =:= [<<\"a\">>]", cn));

    /* Bad input from either side: an error, and the service lives on. */
    kv_expect(fd, "FROB x\n", "ERROR unknown command");
    kv_expect(fd, "GET\n", "ERROR usage: SET key value | GET key | DEL key");
    cr_assert(h_eval_expectf(a, "[badarg,badarg,badarg]",
        "[case rpc:call('%s', kv, put, Args) of "
        "{badrpc, {'EXIT', {R, _}}} -> R; X -> X end || Args <- "
        "[[color, <<\"x\">>], [<<\"a b\">>, <<\"x\">>], "
        "[<<\"k\">>, <<\"two\\nlines\">>]]]", cn));
    kv_expect(fd, "GET a\n", "VALUE 1");
    kv_send(fd, "QUIT\n");
    kv_reply(fd, "BYE");
    char line[64];
    cr_assert_eq(kv_read_line(fd, line, sizeof line), KV_EOF, "not closed");
    close(fd);

    /* The subscriber dies: the service drops it on its DOWN, lives on. */
    cr_assert(h_eval_expect(a, "exit(whereis(watcher), kill)", "true"));
    fd = kv_connect(kv);
    kv_expect(fd, "SET after watcher\n", "OK");
    close(fd);
    stops_cleanly_on_sigterm(kv);
}

Test(examples, epoll_kv, .init = up_one, .fini = down, .timeout = 120)
{
    kv_service_works("examples/epoll_kv/enode-epoll-kv");
}

/* The service's own timer beside the node's: a silent client is closed
 * after -idle seconds while the node keeps answering Erlang. */
Test(examples, epoll_kv_closes_idle_clients, .init = up_one, .fini = down,
     .timeout = 60)
{
    const char *extra[] = {"-idle", "1", NULL};
    h_cnode_t *kv = start_example("examples/epoll_kv/enode-epoll-kv", "kvidle",
                                  extra);
    int fd = kv_connect(kv);
    char line[64];
    kv_expect(fd, "SET k v\n", "OK");
    cr_assert_eq(kv_read_line(fd, line, sizeof line), KV_EOF, "not closed");
    close(fd);
    cr_assert(h_eval_expectf(a, "true",
        "rpc:call('%s', kv, get, [<<\"k\">>]) =:= {ok, <<\"v\">>}",
        h_cnode_name(kv)));
    stops_cleanly_on_sigterm(kv);
}

Test(examples, uv_kv, .init = up_one, .fini = down, .timeout = 120)
{
#ifndef ENODE_HAVE_LIBUV
    cr_skip_test("examples/uv_kv was not built: configure found no libuv "
                 "(install libuv1-dev, or run ./dev deps, and configure again)");
#else
    kv_service_works("examples/uv_kv/enode-uv-kv");
#endif
}

/* ---- workers ------------------------------------------------------------------ */

/* 120 jobs spread over the pool from one Erlang process: every answer is
 * right, and every worker answered some. */
static void pool_answers(h_cnode_t *w, int nworkers)
{
    char expect[256];
    int n = snprintf(expect, sizeof expect, "[");
    for (int i = 1; i <= nworkers; i++)
        n += snprintf(expect + n, sizeof expect - (size_t)n, "%s{%d,true}",
                      i > 1 ? "," : "", i);
    snprintf(expect + n, sizeof expect - (size_t)n, "]");
    cr_assert(h_eval_expectf(a, expect,
        "{workers, '%s'} ! {self(), pool}, "
        "Ps = receive {pool, L} -> L after 5000 -> [] end, "
        "Primes = #{1000 => 168, 10000 => 1229, 30000 => 3245}, "
        "Jobs = [{I, lists:nth(1 + I rem 3, [1000, 10000, 30000])} "
        "|| I <- lists:seq(1, 120)], "
        "Refs = [begin R = make_ref(), "
        "lists:nth(1 + I rem length(Ps), Ps) ! {self(), R, {count_primes, N}}, "
        "{R, N} end || {I, N} <- Jobs], "
        "lists:usort([receive {R, W, C} -> {W, C =:= maps:get(N, Primes)} "
        "after 10000 -> timeout end || {R, N} <- Refs])",
        h_cnode_name(w)), "the pool's answers");
}

Test(examples, workers, .init = up_one, .fini = down, .timeout = 120)
{
    const char *extra[] = {"-workers", "4", NULL};
    h_cnode_t *w = start_example("examples/workers/enode-workers", "pool",
                                 extra);
    const char *cn = h_cnode_name(w);

    pool_answers(w, 4);
    /* A bad job gets an error, from the worker registered as worker2. */
    cr_assert(h_eval_expectf(a, "{2,{error,badjob}}",
        "R = make_ref(), {worker2, '%s'} ! {self(), R, {count_primes, -1}}, "
        "receive {R, W, E} -> {W, E} after 5000 -> timeout end", cn));
    /* stop: jobs sent before it are done, then it exits with 0. */
    cr_assert(h_eval_expectf(a, "3245",
        "R = make_ref(), {worker1, '%s'} ! {self(), R, {count_primes, 30000}}, "
        "{workers, '%s'} ! stop, "
        "receive {R, 1, C} -> C after 5000 -> timeout end", cn, cn));
    cr_assert_eq(h_cnode_wait_exit(w, 10000), 0, "see %s", h_cnode_log(w));
    h_cnode_stop(w);

    /* SIGTERM takes the same way out. */
    w = start_example("examples/workers/enode-workers", "pool2", extra);
    pool_answers(w, 4);
    stops_cleanly_on_sigterm(w);
}
