/* test_core.c - a C node in a real OTP cluster: both roles, TLS and TCP,
 * IPv4 and IPv6, visible and hidden, echo of every term type, cookies,
 * simultaneous connects, and two C nodes together. */
#include "config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
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

/* Start enode-echo named `name` with extra flags (NULL-terminated). */
static h_cnode_t *start_echo(const char *name, const char *const *extra)
{
    char prog[1024];
    const char *argv[32];
    int i = 0;

    argv[i++] = h_build_path("examples/echo/enode-echo", prog, sizeof prog);
    argv[i++] = "-sname";
    argv[i++] = name;
    argv[i++] = "-setcookie";
    argv[i++] = h_cluster_cookie(cluster);
    argv[i++] = "-proto_dist";
    argv[i++] = "inet_tls";
    argv[i++] = "-ssl_dist_optfile";
    argv[i++] = h_cluster_optfile(cluster);
    argv[i++] = "-v";
    for (; extra && *extra && i < 30; extra++) {
        /* a later -sname/-name/-proto_dist replaces the one above */
        argv[i++] = *extra;
    }
    argv[i] = NULL;
    h_cnode_t *n = h_cnode_start(cluster, argv, 15000);
    cr_assert_not_null(n, "enode-echo %s did not come up", name);
    return n;
}

/* Wait until OTP node a lists `node` in nodes() (or nodes(hidden)). The
 * C side is up once it has the challenge ack; the OTP acceptor registers
 * the node a moment after sending it, as between two Erlang nodes. */
static int otp_sees(h_node_t *a, const char *node, int hidden)
{
    char expr[512];
    snprintf(expr, sizeof expr, "lists:member('%s', nodes(%s)).", node,
             hidden ? "hidden" : "");
    return h_wait_until(a, expr, "true", 5000);
}

/* Erlang: send {self(), T} to echo on node N and wait for T back. */
#define ECHO_FUN                                                             \
    "Echo = fun(T) -> {echo, '%s'} ! {self(), T}, "                          \
    "receive R -> R =:= T after 5000 -> timeout end end, "

Test(core, otp_pings_and_echoes_over_tls, .init = up, .fini = down,
     .timeout = 120)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    h_cnode_t *e = start_echo("echo_tls", NULL);
    const char *en = h_cnode_name(e);

    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').", en));
    cr_assert(h_eval_expectf(a, "true", "lists:member('%s', nodes()).", en));
    cr_assert(h_eval_expectf(a, "[]", "lists:member('%s', nodes(hidden)) "
                             "andalso error(also_hidden), [].", en));
    /* Over 200 terms of every type OTP sends; each must come back =:=. */
    cr_assert(h_eval_expectf(a, "{ok,[]}", ECHO_FUN
        "Port = hd(erlang:ports()), "
        "Fixed = [0, 1, -1, 255, 256, 16#7fffffff, -16#80000000, 16#ffffffff, "
        "1 bsl 64, -(1 bsl 64), 1 bsl 1000, -(1 bsl 2000), 3.14, -0.0, "
        "1.0e300, 2.2250738585072014e-308, a, 'Hello World', '', "
        "'\\x{fc}n\\x{ef}c\\x{f8}d\\x{e9}', list_to_atom([16#65e5, 16#672c]), "
        "\"\", \"abc\", [1, 2 | 3], [a | b], [[[]]], {}, {a, b}, "
        "list_to_tuple(lists:seq(1, 300)), #{}, #{a => #{b => [1, {c}]}}, "
        "maps:from_list([{I, I} || I <- lists:seq(1, 100)]), "
        "<<>>, <<1, 2, 3>>, binary:copy(<<\"x\">>, 1048576), "
        "binary:copy(<<7>>, 65536), <<1:3>>, <<255, 1:7>>, self(), "
        "make_ref(), Port, fun erlang:node/0, fun(X) -> X end, "
        "[self() | make_ref()], {self(), [Port], #{r => make_ref()}}, "
        "unicode:characters_to_binary(\"\\x{65e5}\\x{672c}\")], "
        "Gen = [case I rem 5 of 0 -> I * 1000003; 1 -> float(I) / 7; "
        "2 -> lists:seq(1, I); 3 -> list_to_binary(lists:seq(0, I rem 256)); "
        "4 -> {I, integer_to_list(I), [I]} end || I <- lists:seq(1, 180)], "
        "Ts = Fixed ++ Gen, true = length(Ts) >= 200, "
        "{ok, [T || T <- Ts, Echo(T) =/= true]}.", en));
    h_cnode_stop(e);
}

Test(core, c_connects_to_otp_over_tls, .init = up, .fini = down,
     .timeout = 60)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    const char *extra[] = {"-connect", h_node_name(a), NULL};
    h_cnode_t *e = start_echo("echo_cli", extra);
    const char *en = h_cnode_name(e);

    /* Connected before it said ready: no ping needed. */
    cr_assert(otp_sees(a, en, 0));
    cr_assert(h_eval_expectf(a, "true", ECHO_FUN "Echo({hello, 42, [1,2,3]}).",
                             en));
    h_cnode_stop(e);
}

Test(core, hidden_node_only_in_nodes_hidden, .init = up, .fini = down,
     .timeout = 60)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    const char *extra[] = {"-hidden", "-connect", h_node_name(a), NULL};
    h_cnode_t *e = start_echo("echo_hid", extra);
    const char *en = h_cnode_name(e);

    cr_assert(otp_sees(a, en, 1));
    cr_assert(h_eval_expectf(a, "false", "lists:member('%s', nodes()).", en));
    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').", en));
    h_cnode_stop(e);
}

Test(core, plain_tcp_both_roles, .init = up, .fini = down, .timeout = 60)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.tcp = true;
    h_node_t *a = h_node_start(cluster, "a", &o);
    const char *srv[] = {"-proto_dist", "inet_tcp", NULL};
    h_cnode_t *e = start_echo("echo_tcp", srv);

    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').",
                             h_cnode_name(e)));
    cr_assert(h_eval_expectf(a, "true", ECHO_FUN "Echo(<<0:800000>>).",
                             h_cnode_name(e)));
    const char *cli[] = {"-proto_dist", "inet_tcp", "-connect", h_node_name(a),
                         NULL};
    h_cnode_t *e2 = start_echo("echo_tcp2", cli);
    cr_assert(otp_sees(a, h_cnode_name(e2), 0));
    h_cnode_stop(e2);
    h_cnode_stop(e);
}

Test(core, ipv6_long_names_both_roles, .init = up, .fini = down,
     .timeout = 60)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.longnames = true;
    o.host = "::1";
    o.ipv6 = true;
    h_node_t *a = h_node_start(cluster, "a6", &o);
    const char *srv[] = {"-name", "echo6@::1", "-proto_dist", "inet6_tls",
                         NULL};
    h_cnode_t *e = start_echo("unused", srv);

    cr_assert_str_eq(h_cnode_name(e), "echo6@::1");
    cr_assert(h_eval_expect(a, "net_adm:ping('echo6@::1').", "pong"));
    const char *cli[] = {"-name", "echo6b@::1", "-proto_dist", "inet6_tls",
                         "-connect", h_node_name(a), NULL};
    h_cnode_t *e2 = start_echo("unused2", cli);
    cr_assert(otp_sees(a, "echo6b@::1", 0));
    h_cnode_stop(e2);
    h_cnode_stop(e);
}

static int log_has(const char *path, const char *needle)
{
    char line[2048];
    int found = 0;
    FILE *f = fopen(path, "r");
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

Test(core, wrong_cookie_refused_both_ways, .init = up, .fini = down,
     .timeout = 90)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    const char *bad[] = {"-setcookie", "not_the_cookie", NULL};
    h_cnode_t *e = start_echo("echo_badck", bad);

    /* OTP dials us: our acceptor sees a wrong digest. */
    cr_assert(h_eval_expectf(a, "pang", "net_adm:ping('%s').",
                             h_cnode_name(e)));
    cr_assert(log_has(h_cnode_log(e), "cookie"),
              "the C node's log names the cookie mismatch");
    /* It keeps serving peers with the right cookie. */
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.cookie = "not_the_cookie";
    h_node_t *b = h_node_start(cluster, "b", &o);
    cr_assert(h_eval_expectf(b, "pong", "net_adm:ping('%s').",
                             h_cnode_name(e)));

    /* We dial OTP with the wrong cookie: refused, and said so. */
    char prog[1024], cmd[4096], out[4096] = "";
    snprintf(cmd, sizeof cmd,
             "ERL_EPMD_PORT=%d %s -sname echo_badck2 -setcookie wrong "
             "-proto_dist inet_tls -ssl_dist_optfile %s -connect %s 2>&1",
             h_cluster_epmd_port(cluster),
             h_build_path("examples/echo/enode-echo", prog, sizeof prog),
             h_cluster_optfile(cluster), h_node_name(a));
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    cr_assert_neq(status, 0, "enode-echo must fail: %s", out);
    cr_assert(strstr(out, "cookie") != NULL, "names the cookie: %s", out);
    h_cnode_stop(e);
}

/* ---- in-process C nodes --------------------------------------------------- */

static enode_t *new_node(const char *name, int threaded)
{
    enode_t *n;
    char err[512];

    cr_assert_eq(h_enode_new(cluster, &n, name, NULL, err, sizeof err),
                 0, "%s", err);
    if (threaded)
        cr_assert_eq(enode_start_thread(n), 0);
    return n;
}

struct dial {
    enode_t *node;
    const char *peer;
    int rc;
};

static void *dial_thread(void *arg)
{
    struct dial *d = arg;
    d->rc = enode_connect(d->node, d->peer);
    return NULL;
}

Test(core, simultaneous_connect_50_times, .init = up, .fini = down,
     .timeout = 240)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    enode_t *c = new_node("simul", 1);
    const char *cn = enode_name(c);

    for (int round = 0; round < 50; round++) {
        struct dial d = {c, h_node_name(a), -1};
        pthread_t t;
        /* Both sides dial at the same moment. */
        pthread_create(&t, NULL, dial_thread, &d);
        cr_assert(h_eval_expectf(a, "true", "net_kernel:connect_node('%s').",
                                 cn), "round %d", round);
        pthread_join(t, NULL);
        cr_assert_eq(d.rc, 0, "round %d: %s", round, enode_last_error(c));
        /* Exactly one working connection, usable both ways. */
        cr_assert(h_eval_expectf(a, "{1,pong}",
                                 "{length([N || N <- nodes(), N =:= '%s']), "
                                 "net_adm:ping('%s')}.", cn, cn),
                  "round %d", round);
        cr_assert(enode_is_connected(c, h_node_name(a)));
        cr_assert(h_eval_expectf(a, "true", "erlang:disconnect_node('%s').",
                                 cn));
        for (int i = 0; i < 100 && enode_is_connected(c, h_node_name(a)); i++)
            usleep(20000);
    }
    enode_free(c);
}

Test(core, two_c_nodes_over_tls, .init = up, .fini = down, .timeout = 60)
{
    h_cnode_t *e = start_echo("echo_cc", NULL);
    enode_t *c = new_node("cc_client", 0);
    enode_mbox_t *mb;
    ei_x_buff x;
    enode_msg_t m;

    cr_assert_eq(enode_mbox_new(c, &mb), 0);
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, enode_mbox_pid(mb));
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "hello");
    ei_x_encode_long(&x, 42);
    ei_x_encode_string(&x, "from C");
    cr_assert_eq(enode_reg_send(mb, h_cnode_name(e), "echo", &x), 0);
    ei_x_free(&x);
    cr_assert_eq(enode_receive(mb, &m, 10000), 0, "%s", enode_last_error(c));

    int i = 0, v, arity;
    long num;
    char atom[MAXATOMLEN_UTF8], str[32];
    cr_assert_eq(ei_decode_version(m.msg.buff, &i, &v), 0);
    cr_assert_eq(ei_decode_tuple_header(m.msg.buff, &i, &arity), 0);
    cr_assert_eq(arity, 3);
    cr_assert_eq(ei_decode_atom(m.msg.buff, &i, atom), 0);
    cr_assert_str_eq(atom, "hello");
    cr_assert_eq(ei_decode_long(m.msg.buff, &i, &num), 0);
    cr_assert_eq(num, 42);
    cr_assert_eq(ei_decode_string(m.msg.buff, &i, str), 0);
    cr_assert_str_eq(str, "from C");
    cr_assert(m.has_from);
    enode_msg_free(&m);
    enode_free(c);
    h_cnode_stop(e);
}

Test(core, large_messages_both_ways_and_concurrent_senders, .init = up,
     .fini = down, .timeout = 120)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    h_cnode_t *e = start_echo("echo_big", NULL);

    /* 8 MiB out and back: the C node receives, queues and sends it whole. */
    cr_assert(h_eval_expectf(a, "true", ECHO_FUN
                             "Echo(binary:copy(<<1, 2, 3, 4>>, 2097152)).",
                             h_cnode_name(e)));
    /* Four processes at once, each its own stream of replies, in order. */
    cr_assert(h_evalf(a, NULL, 0, 60000,
        "Self = self(), N = '%s', "
        "Run = fun(K) -> [begin {echo, N} ! {self(), {K, I, binary:copy(<<K>>, "
        "100000)}}, receive {K, I, B} when byte_size(B) =:= 100000 -> ok "
        "after 10000 -> exit(timeout) end end || I <- lists:seq(1, 50)], "
        "Self ! {done, K} end, "
        "[spawn(fun() -> Run(K) end) || K <- [1, 2, 3, 4]], "
        "[receive {done, K} -> K after 30000 -> exit({missing, K}) end "
        "|| K <- [1, 2, 3, 4]].", h_cnode_name(e)) == H_OK);
    h_cnode_stop(e);
}

/* An optfile like the harness's, with {versions, ['tlsv1.3']} on both
 * sides. */
static const char *tls13_optfile(char *path, size_t len)
{
    const char *pki = h_cluster_pki_dir(cluster);
    snprintf(path, len, "%s/tls13.conf", h_cluster_dir(cluster));
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int side = 0; side < 2; side++)
        fprintf(f, "%s{%s,[{certfile,\"%s/node.pem\"},{keyfile,\"%s/node.key\"},"
                "{cacertfile,\"%s/ca.pem\"},{verify,verify_peer},%s"
                "{versions,['tlsv1.3']}]}%s\n",
                side == 0 ? "[" : " ", side == 0 ? "server" : "client", pki,
                pki, pki, side == 0 ? "{fail_if_no_peer_cert,true}," : "",
                side == 0 ? "," : "].");
    fclose(f);
    return path;
}

Test(core, tls13_with_otp_both_roles, .init = up, .fini = down,
     .timeout = 60)
{
    char conf[1024];
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.optfile = tls13_optfile(conf, sizeof conf);
    h_node_t *a = h_node_start(cluster, "a13", &o);
    const char *srv[] = {"-ssl_dist_optfile", conf, NULL};
    h_cnode_t *e = start_echo("echo13", srv);

    /* OTP is the TLS 1.3 client: it needs the middlebox CCS from us. */
    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').",
                             h_cnode_name(e)));
    cr_assert(h_eval_expectf(a, "'tlsv1.3'",
                             "element(1, harness_agent:dist_tls_info('%s')).",
                             h_cnode_name(e)));
    /* And the C node as the client. */
    const char *cli[] = {"-ssl_dist_optfile", conf, "-connect", h_node_name(a),
                         NULL};
    h_cnode_t *e2 = start_echo("echo13c", cli);
    cr_assert(otp_sees(a, h_cnode_name(e2), 0));
    cr_assert(h_eval_expectf(a, "'tlsv1.3'",
                             "element(1, harness_agent:dist_tls_info('%s')).",
                             h_cnode_name(e2)));
    h_cnode_stop(e2);
    h_cnode_stop(e);
}

Test(core, default_suite_follows_the_wolfssl_build, .init = up, .fini = down,
     .timeout = 60)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    h_cnode_t *e = start_echo("echo_suite", NULL);

    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').",
                             h_cnode_name(e)));
    /* The harness's optfile gives no versions: TLS 1.2 with OTP 25/27. */
#ifdef ENODE_WOLFSSL_FAST
    const char *want = "AES_256_GCM";
#else
    const char *want = "CHACHA20_POLY1305";
#endif
    char out[256];
    cr_assert_eq(h_evalf(a, out, sizeof out, 0,
                         "harness_agent:dist_tls_info('%s').",
                         h_cnode_name(e)), H_OK);
    if (strstr(out, "tlsv1.2"))
        cr_assert(strstr(out, want), "%s should use %s", out, want);
    h_cnode_stop(e);
}
