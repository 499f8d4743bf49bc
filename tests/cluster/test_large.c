/* test_large.c - large messages through fragments: 64 MiB both ways,
 * concurrent senders into one mailbox, and the maximum message size. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnode.h"
#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *otp;

static void up(void)
{
    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    otp = h_node_start(cluster, "erl", NULL);
    cr_assert_not_null(otp);
}

static void down(void)
{
    h_cluster_stop(cluster);
}

static enode_t *new_node(const char *name, size_t max_message)
{
    enode_config_t *cfg = h_enode_config(cluster, name);
    enode_t *n;
    char err[512];

    cr_assert_not_null(cfg);
    cr_assert_eq(enode_config_set_max_message_size(cfg, max_message), 0);
    int rc = enode_new(&n, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(enode_start_thread(n), 0);
    return n;
}

TestSuite(large, .init = up, .fini = down, .timeout = 180);

Test(large, sixty_four_mib_both_ways_intact)
{
    char prog[1024];
    const char *argv[] = {h_build_path("examples/echo/enode-echo", prog,
                                       sizeof prog),
                          "-sname", "bigecho", "-setcookie",
                          h_cluster_cookie(cluster), "-proto_dist", "inet_tls",
                          "-ssl_dist_optfile", h_cluster_optfile(cluster),
                          NULL};
    h_cnode_t *e = h_cnode_start(cluster, argv, 15000);
    cr_assert_not_null(e);
    /* 64 MiB of varied bytes to the C node and back; compare hashes. */
    char out[256];
    cr_assert_eq(h_evalf(otp, out, sizeof out, 120000,
        "B = crypto:strong_rand_bytes(64 * 1024 * 1024), "
        "{echo, '%s'} ! {self(), B}, "
        "receive R when is_binary(R) -> "
        "{byte_size(R), crypto:hash(sha256, R) =:= crypto:hash(sha256, B)} "
        "after 100000 -> timeout end.", h_cnode_name(e)), H_OK, "%s", out);
    cr_assert_str_eq(out, "{67108864,true}");
    h_cnode_stop(e);
}

Test(large, two_senders_of_8_mib_into_one_mailbox)
{
    enode_t *n = new_node("sink", 0);
    enode_mbox_t *mb;
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    cr_assert_eq(enode_register(mb, "sink"), 0);
    /* Two processes, each sending its 8 MiB binary at the same time. */
    cr_assert(h_eval_expectf(otp, "ok",
        "[spawn(fun() -> {sink, '%s'} ! {K, binary:copy(<<K>>, 8388608)} end) "
        "|| K <- [1, 2]], ok.", enode_name(n)));
    int seen[3] = {0};
    for (int k = 0; k < 2; k++) {
        enode_msg_t m;
        int i = 0, v, arity, type, size;
        long key;
        cr_assert_eq(enode_receive(mb, &m, 60000), 0);
        ei_decode_version(m.msg.buff, &i, &v);
        ei_decode_tuple_header(m.msg.buff, &i, &arity);
        cr_assert_eq(ei_decode_long(m.msg.buff, &i, &key), 0);
        cr_assert(key == 1 || key == 2);
        cr_assert_eq(ei_get_type(m.msg.buff, &i, &type, &size), 0);
        cr_assert_eq(size, 8388608);
        char *bin = malloc((size_t)size);
        long got;
        cr_assert_eq(ei_decode_binary(m.msg.buff, &i, bin, &got), 0);
        for (long b = 0; b < got; b++)
            if (bin[b] != (char)key)
                cr_assert_fail("byte %ld of message %ld is wrong", b, key);
        free(bin);
        seen[key]++;
        enode_msg_free(&m);
    }
    cr_assert(seen[1] == 1 && seen[2] == 1);
    enode_free(n);
}

Test(large, a_message_over_the_limit_costs_the_connection_only)
{
    enode_t *n = new_node("small", 1024 * 1024);
    enode_mbox_t *mb;
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    cr_assert_eq(enode_register(mb, "box"), 0);
    cr_assert(h_eval_expectf(otp, "pong", "net_adm:ping('%s').",
                             enode_name(n)));
    /* 2 MiB against a 1 MiB limit: the connection goes. (Watched with a
     * node monitor: global may well connect again right after.) */
    cr_assert(h_eval_expectf(otp, "down",
        "erlang:monitor_node('%s', true), "
        "{box, '%s'} ! binary:copy(<<1>>, 2097152), "
        "receive {nodedown, _} -> down after 10000 -> still_up end.",
        enode_name(n), enode_name(n)));
    cr_assert(strstr(enode_last_error(n), "limit"), "%s",
              enode_last_error(n));
    /* The node lives on: another peer, and the same one again, are served. */
    h_node_t *b = h_node_start(cluster, "other", NULL);
    cr_assert(h_eval_expectf(b, "pong", "net_adm:ping('%s').", enode_name(n)));
    cr_assert(h_eval_expectf(otp, "{pong,small}",
        "{net_adm:ping('%s'), begin {box, '%s'} ! small, small end}.",
        enode_name(n), enode_name(n)));
    enode_msg_t m;
    cr_assert_eq(enode_receive(mb, &m, 5000), 0);
    enode_msg_free(&m);
    enode_free(n);
}

/* Four OTP processes flood a mailbox that nobody reads: over its limit
 * it exits with `killed`, as a process over max_heap_size does, and the
 * OTP side's monitor says so; the connection and the node stay. */
Test(large, a_flooded_mailbox_over_its_limit_is_killed)
{
    enode_t *n = new_node("flooded", 0);
    enode_mbox_t *mb;
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    cr_assert_eq(enode_register(mb, "box"), 0);
    cr_assert_eq(enode_mbox_set_limit(mb, 2000, 0), 0);
    char out[256];
    cr_assert_eq(h_evalf(otp, out, sizeof out, 30000,
        "N = '%s', pong = net_adm:ping(N), "
        "Ref = monitor(process, {box, N}), "
        "[spawn(fun() -> [{box, N} ! {K, I} || I <- lists:seq(1, 1000)] end) "
        "|| K <- [1, 2, 3, 4]], "
        "receive {'DOWN', Ref, process, {box, N}, R} -> R "
        "after 20000 -> timeout end.", enode_name(n)), H_OK, "%s", out);
    cr_assert_str_eq(out, "killed");
    const ei_x_buff *why = enode_mbox_exit_reason(mb);
    char atom[MAXATOMLEN] = "";
    int i = 0, v;
    cr_assert_not_null(why);
    cr_assert_eq(ei_decode_version(why->buff, &i, &v), 0);
    cr_assert_eq(ei_decode_atom(why->buff, &i, atom), 0);
    cr_assert_str_eq(atom, "killed");
    size_t len = 1;
    cr_assert_eq(enode_mbox_info(mb, &len, NULL), 0);
    cr_assert_eq(len, 0);
    cr_assert(h_eval_expectf(otp, "pong", "net_adm:ping('%s').",
                             enode_name(n)));
    enode_free(n);
}
