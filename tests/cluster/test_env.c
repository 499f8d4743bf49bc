/* test_env.c - a C node set up through erl's environment joins real OTP
 * nodes: the TLS options an operator exports in ERL_FLAGS for erl, and
 * -kernel dist_auto_connect never|once, which keep sends from connecting
 * as they keep an Erlang node's. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    unsetenv("ERL_FLAGS");
    h_cluster_stop(cluster);
}

/* A C node called name, configured from ERL_FLAGS (the cluster's TLS
 * options and cookie, then extra) and a command line that names it;
 * the variable is gone again before any OTP node starts. */
static enode_t *node_from_env(const char *name, const char *extra)
{
    char flags[1024], err[512] = "", sname[] = "-sname", *n = (char *)name;
    char prog[] = "prog", own[] = "-own";
    char *argv[] = {prog, sname, n, own, NULL};
    int argc = 4;
    enode_config_t *cfg;
    enode_t *node = NULL;

    snprintf(flags, sizeof flags, "+K true -kernel shell_history enabled "
             "-proto_dist inet_tls -ssl_dist_optfile %s -setcookie %s %s",
             h_cluster_optfile(cluster), h_cluster_cookie(cluster), extra);
    setenv("ERL_FLAGS", flags, 1);
    cr_assert_eq(enode_config_new(&cfg), 0);
    cr_assert_eq(enode_config_from_env_args(cfg, &argc, argv, err,
                                            sizeof err), 0, "%s", err);
    unsetenv("ERL_FLAGS");
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(argv[1], "-own");
    cr_assert_eq(enode_new(&node, cfg, err, sizeof err), 0, "%s", err);
    enode_config_free(cfg);
    cr_assert_eq(enode_start_thread(node), 0);
    return node;
}

/* A process registered as sink on a that keeps what it gets; what it got,
 * as a list, is asked with GOT. */
#define SINK "register(sink, spawn(fun() -> L = fun L(Acc) -> receive " \
    "{get, P} -> P ! lists:reverse(Acc), L(Acc); M -> L([M | Acc]) end " \
    "end, L([]) end)), ok."
#define GOT "begin sink ! {get, self()}, receive L -> L end end."

static int send_atom(enode_mbox_t *mb, const char *node, const char *atom)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, atom);
    int rc = enode_reg_send(mb, node, "sink", &x);
    ei_x_free(&x);
    return rc;
}

Test(env, tls_options_from_erl_flags_reach_an_otp_node, .init = up,
     .fini = down, .timeout = 90)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    cr_assert_not_null(a);
    enode_t *node = node_from_env("envnode", "");

    cr_assert_eq(enode_connect(node, h_node_name(a)), 0, "%s",
                 enode_last_error(node));
    cr_assert(h_eval_expectf(a, "true", "lists:member('%s', nodes()).",
                             enode_name(node)));
    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').",
                             enode_name(node)));
    enode_free(node);
}

Test(env, dist_auto_connect_never_sends_do_not_connect, .init = up,
     .fini = down, .timeout = 90)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    cr_assert_not_null(a);
    cr_assert(h_eval_expect(a, SINK, "ok"));
    enode_t *node = node_from_env("never", "-kernel dist_auto_connect never");
    enode_mbox_t *mb;
    cr_assert_eq(enode_mbox_new(node, &mb), 0);

    cr_assert_eq(send_atom(mb, h_node_name(a), "lost"), ENODE_ECONN);
    cr_assert(strstr(enode_last_error(node), "dist_auto_connect never"),
              "%s", enode_last_error(node));
    cr_assert_eq(enode_is_connected(node, h_node_name(a)), 0);
    cr_assert(h_eval_expectf(a, "false", "lists:member('%s', nodes()).",
                             enode_name(node)));
    /* An explicit connect still connects, as net_kernel:connect_node/1. */
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0, "%s",
                 enode_last_error(node));
    cr_assert_eq(send_atom(mb, h_node_name(a), "kept"), 0);
    cr_assert(h_wait_until(a, GOT, "[kept]", 10000));
    enode_free(node);
}

Test(env, dist_auto_connect_once_bars_a_lost_node, .init = up,
     .fini = down, .timeout = 90)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    cr_assert_not_null(a);
    cr_assert(h_eval_expect(a, SINK, "ok"));
    enode_t *node = node_from_env("once", "-kernel dist_auto_connect once");
    const char *an = h_node_name(a);
    enode_mbox_t *mb;
    cr_assert_eq(enode_mbox_new(node, &mb), 0);

    cr_assert_eq(send_atom(mb, an, "first"), 0); /* connects, once */
    cr_assert(h_wait_until(a, GOT, "[first]", 10000));
    cr_assert(h_eval_expectf(a, "true", "erlang:disconnect_node('%s').",
                             enode_name(node)));
    for (int i = 0; i < 200 && enode_is_connected(node, an); i++)
        usleep(50 * 1000);
    cr_assert_eq(enode_is_connected(node, an), 0);
    cr_assert_eq(send_atom(mb, an, "lost"), ENODE_ECONN);
    cr_assert(strstr(enode_last_error(node), "dist_auto_connect once"),
              "%s", enode_last_error(node));
    cr_assert(h_eval_expectf(a, "false", "lists:member('%s', nodes()).",
                             enode_name(node)));
    /* enode_connect lifts the bar; a send then goes. */
    cr_assert_eq(enode_connect(node, an), 0, "%s", enode_last_error(node));
    cr_assert_eq(send_atom(mb, an, "again"), 0);
    cr_assert(h_wait_until(a, GOT, "[first,again]", 10000));
    enode_free(node);
}

Test(env, without_dist_auto_connect_a_lost_node_is_reached_again,
     .init = up, .fini = down, .timeout = 90)
{
    h_node_t *a = h_node_start(cluster, "a", NULL);
    cr_assert_not_null(a);
    cr_assert(h_eval_expect(a, SINK, "ok"));
    enode_t *node = node_from_env("always", "");
    const char *an = h_node_name(a);
    enode_mbox_t *mb;
    cr_assert_eq(enode_mbox_new(node, &mb), 0);

    cr_assert_eq(send_atom(mb, an, "first"), 0);
    cr_assert(h_wait_until(a, GOT, "[first]", 10000));
    cr_assert(h_eval_expectf(a, "true", "erlang:disconnect_node('%s').",
                             enode_name(node)));
    for (int i = 0; i < 200 && enode_is_connected(node, an); i++)
        usleep(50 * 1000);
    cr_assert_eq(send_atom(mb, an, "again"), 0);
    cr_assert(h_wait_until(a, GOT, "[first,again]", 10000));
    enode_free(node);
}
