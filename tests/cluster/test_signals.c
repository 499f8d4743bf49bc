/* test_signals.c - links, exit signals and monitors between C mailboxes
 * and real Erlang processes, in both directions, and what a lost node
 * does to them. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnode.h"
#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *otp;
static enode_t *node;

static void up(void)
{
    char err[512];

    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    otp = h_node_start(cluster, "erl", NULL);
    cr_assert_not_null(otp);
    cr_assert_eq(h_enode_new(cluster, &node, "sig", NULL, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(enode_start_thread(node), 0);
    cr_assert_eq(enode_connect(node, h_node_name(otp)), 0, "%s",
                 enode_last_error(node));
}

static void down(void)
{
    enode_free(node);
    h_cluster_stop(cluster);
}

/* An Erlang expression that evaluates to the pid: binary_to_term(<<...>>). */
static const char *pid_expr(const erlang_pid *pid, char *buf, size_t len)
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
    return buf;
}

/* Start an Erlang process registered as `name` that records every
 * message; `setup` runs first in it (e.g. a link). {get, From} returns
 * the record. */
static void recorder(const char *name, const char *setup)
{
    cr_assert(h_eval_expectf(otp, "true",
        "Self = self(), P = spawn(fun() -> register(%s, self()), %s, "
        "Self ! ready, Loop = fun L(Acc) -> receive {get, F} -> "
        "F ! {got, lists:reverse(Acc)}, L(Acc); M -> L([M | Acc]) end end, "
        "Loop([]) end), receive ready -> is_pid(P) after 5000 -> false end.",
        name, setup));
}

/* Whether what the recorder got, the list L, satisfies the Erlang
 * expression `test` (over L) within a few seconds. */
static int recorded(const char *name, const char *test)
{
    char out[1024];
    for (int tries = 0; tries < 50; tries++) {
        if (h_evalf(otp, out, sizeof out, 5000,
                    "%s ! {get, self()}, receive {got, L} -> case %s of "
                    "true -> true; _ -> L end after 3000 -> timeout end.",
                    name, test) == H_OK && strcmp(out, "true") == 0)
            return 1;
        usleep(100000);
    }
    fprintf(stderr, "recorder %s has %s, for which %s is not true\n", name,
            out, test);
    return 0;
}

static int atom_is(const ei_x_buff *x, int *i, const char *want)
{
    char a[MAXATOMLEN_UTF8];
    return ei_decode_atom(x->buff, i, a) == 0 && strcmp(a, want) == 0;
}

/* Receive and check that the next message is {Tag, ...} with the atom
 * `last` as its final element. */
static void expect_msg(enode_mbox_t *mb, const char *tag, int arity,
                       const char *last)
{
    enode_msg_t m;
    int i = 0, v, a;

    cr_assert_eq(enode_receive(mb, &m, 10000), 0, "no %s message", tag);
    cr_assert_eq(ei_decode_version(m.msg.buff, &i, &v), 0);
    cr_assert_eq(ei_decode_tuple_header(m.msg.buff, &i, &a), 0);
    cr_assert_eq(a, arity);
    cr_assert(atom_is(&m.msg, &i, tag), "tag %s", tag);
    for (int k = 1; k < arity - 1; k++)
        ei_skip_term(m.msg.buff, &i);
    cr_assert(atom_is(&m.msg, &i, last), "ends with %s", last);
    enode_msg_free(&m);
}

/* The next message is the atom `want`. */
static void expect_atom(enode_mbox_t *mb, const char *want)
{
    enode_msg_t m;
    int i = 0, v;

    cr_assert_eq(enode_receive(mb, &m, 10000), 0, "no '%s'", want);
    cr_assert_eq(ei_decode_version(m.msg.buff, &i, &v), 0);
    cr_assert(atom_is(&m.msg, &i, want), "expected '%s'", want);
    enode_msg_free(&m);
}

static void reason_is(enode_mbox_t *mb, const char *atom)
{
    const ei_x_buff *r = enode_mbox_exit_reason(mb);
    int i = 0, v;
    cr_assert_not_null(r);
    cr_assert_eq(ei_decode_version(r->buff, &i, &v), 0);
    cr_assert(atom_is(r, &i, atom), "exit reason should be %s", atom);
}

/* An Erlang process that waits for `stop` and then exits with Reason. */
static void victim(const char *name)
{
    cr_assert(h_eval_expectf(otp, "true",
        "P = spawn(fun() -> register(%s, self()), "
        "receive {stop, R} -> exit(R) end end), timer:sleep(50), is_pid(P).",
        name));
}

static void get_pid(const char *name, erlang_pid *pid)
{
    enode_mbox_t *mb;
    enode_msg_t m;
    int i = 0, v, a;

    /* Ask the agent for the pid: it sends {pid, P} to a fresh mailbox. */
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    char me[256];
    cr_assert(h_eval_expectf(otp, "ok", "%s ! {pid, whereis(%s)}, ok.",
                             pid_expr(enode_mbox_pid(mb), me, sizeof me),
                             name));
    cr_assert_eq(enode_receive(mb, &m, 5000), 0);
    ei_decode_version(m.msg.buff, &i, &v);
    ei_decode_tuple_header(m.msg.buff, &i, &a);
    ei_skip_term(m.msg.buff, &i);
    cr_assert_eq(ei_decode_pid(m.msg.buff, &i, pid), 0);
    enode_msg_free(&m);
    enode_mbox_free(mb);
}

static void stop_victim(const char *name, const char *reason)
{
    cr_assert(h_eval_expectf(otp, "ok", "%s ! {stop, %s}, ok.", name,
                             reason));
}

TestSuite(signals, .init = up, .fini = down, .timeout = 90);

Test(signals, c_exit_reaches_a_linked_erlang_process)
{
    enode_mbox_t *mb;
    char setup[1024], p[256];
    ei_x_buff reason;

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    /* Signals between two processes keep their order: once `linked`
     * arrives, so has the LINK. */
    pid_expr(enode_mbox_pid(mb), p, sizeof p);
    snprintf(setup, sizeof setup,
             "process_flag(trap_exit, true), link(%s), %s ! linked", p, p);
    recorder("rec1", setup);
    expect_atom(mb, "linked");
    ei_x_new_with_version(&reason);
    ei_x_encode_tuple_header(&reason, 2);
    ei_x_encode_atom(&reason, "shutdown");
    ei_x_encode_atom(&reason, "bye");
    cr_assert_eq(enode_mbox_exit(mb, &reason), 0);
    ei_x_free(&reason);
    cr_assert(recorded("rec1", "[R || {'EXIT', _, R} <- L] =:= [{shutdown, bye}]"));
    cr_assert_eq(enode_receive(mb, &(enode_msg_t){0}, 0), ENODE_ECLOSED);
    enode_mbox_free(mb);
}

Test(signals, erlang_exit_kills_a_linked_mailbox_or_is_trapped)
{
    enode_mbox_t *plain, *trapping;
    erlang_pid v1, v2;

    victim("v1");
    victim("v2");
    get_pid("v1", &v1);
    get_pid("v2", &v2);
    cr_assert_eq(enode_mbox_new(node, &plain), 0);
    cr_assert_eq(enode_mbox_new(node, &trapping), 0);
    cr_assert_eq(enode_trap_exit(trapping, 1), 0);
    cr_assert_eq(enode_link(plain, &v1), 0);
    cr_assert_eq(enode_link(trapping, &v2), 0);
    usleep(200000); /* the LINK signals get there first */
    stop_victim("v1", "boom");
    stop_victim("v2", "boom");
    enode_msg_t m;
    cr_assert_eq(enode_receive(plain, &m, 10000), ENODE_ECLOSED);
    reason_is(plain, "boom");
    expect_msg(trapping, "EXIT", 3, "boom");
    enode_mbox_free(plain);
    enode_mbox_free(trapping);
}

Test(signals, normal_is_ignored_and_kill_cannot_be_trapped)
{
    enode_mbox_t *mb;
    erlang_pid v;
    enode_msg_t m;

    victim("v3");
    get_pid("v3", &v);
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_link(mb, &v), 0);
    usleep(200000);
    stop_victim("v3", "normal");
    cr_assert_eq(enode_receive(mb, &m, 1000), ENODE_ETIMEOUT,
                 "a normal exit leaves a non-trapping mailbox alone");

    cr_assert_eq(enode_trap_exit(mb, 1), 0);
    char p[256];
    cr_assert(h_eval_expectf(otp, "true", "exit(%s, kill).",
                             pid_expr(enode_mbox_pid(mb), p, sizeof p)));
    cr_assert_eq(enode_receive(mb, &m, 10000), ENODE_ECLOSED);
    reason_is(mb, "killed");
    enode_mbox_free(mb);
}

Test(signals, unlink_means_no_exit_afterwards)
{
    enode_mbox_t *mb;
    erlang_pid v;
    enode_msg_t m;

    victim("v4");
    get_pid("v4", &v);
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_link(mb, &v), 0);
    usleep(100000);
    cr_assert_eq(enode_unlink(mb, &v), 0);
    stop_victim("v4", "boom");
    cr_assert_eq(enode_receive(mb, &m, 1500), ENODE_ETIMEOUT);
    cr_assert_null(enode_mbox_exit_reason(mb), "still alive");
    enode_mbox_free(mb);
}

Test(signals, c_monitors_by_pid_and_by_name_and_demonitors)
{
    enode_mbox_t *mb;
    erlang_pid v;
    erlang_ref r1, r2, r3, r4;

    victim("v5");
    victim("v6");
    victim("v7");
    get_pid("v5", &v);
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_monitor(mb, &v, &r1), 0);
    cr_assert_eq(enode_monitor_name(mb, "v6", h_node_name(otp), &r2), 0);
    cr_assert_eq(enode_monitor_name(mb, "v7", h_node_name(otp), &r3), 0);
    cr_assert_eq(enode_demonitor(mb, &r3), 0);
    usleep(200000);
    stop_victim("v5", "oops");
    expect_msg(mb, "DOWN", 5, "oops");
    stop_victim("v6", "gone");
    expect_msg(mb, "DOWN", 5, "gone");
    stop_victim("v7", "quiet");
    enode_msg_t m;
    cr_assert_eq(enode_receive(mb, &m, 1000), ENODE_ETIMEOUT,
                 "no DOWN after demonitor");
    /* A name that is not registered: DOWN with noproc at once. */
    cr_assert_eq(enode_monitor_name(mb, "nobody_here", h_node_name(otp), &r4),
                 0);
    expect_msg(mb, "DOWN", 5, "noproc");
    enode_mbox_free(mb);
}

Test(signals, erlang_monitors_a_mailbox_by_pid_and_by_name)
{
    enode_mbox_t *mb;
    char p[256], setup[2048];
    ei_x_buff reason;

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_register(mb, "watched"), 0);
    pid_expr(enode_mbox_pid(mb), p, sizeof p);
    snprintf(setup, sizeof setup,
             "monitor(process, %s), monitor(process, {watched, '%s'}), "
             "monitor(process, {nosuch, '%s'}), %s ! monitoring",
             p, enode_name(node), enode_name(node), p);
    recorder("rec2", setup);
    expect_atom(mb, "monitoring");
    cr_assert(recorded("rec2", "[R || {'DOWN', _, process, {nosuch, _}, R} "
                               "<- L] =:= [noproc]"));
    ei_x_new_with_version(&reason);
    ei_x_encode_atom(&reason, "done");
    cr_assert_eq(enode_mbox_exit(mb, &reason), 0);
    ei_x_free(&reason);
    /* One DOWN per monitor, each naming what it monitored. */
    cr_assert(recorded("rec2",
                       "length(L) =:= 3 andalso "
                       "[R || {'DOWN', _, process, P, R} <- L, is_pid(P)] =:= "
                       "[done] andalso [R || {'DOWN', _, process, {watched, _}, "
                       "R} <- L] =:= [done]"));
    enode_mbox_free(mb);
}

Test(signals, lost_node_fires_links_monitors_and_nodedown)
{
    enode_mbox_t *mb;
    erlang_pid v;
    erlang_ref r;

    victim("v8");
    get_pid("v8", &v);
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_trap_exit(mb, 1), 0);
    cr_assert_eq(enode_monitor_nodes(mb, 1), 0);
    cr_assert_eq(enode_link(mb, &v), 0);
    cr_assert_eq(enode_monitor(mb, &v, &r), 0);
    usleep(200000);
    h_node_kill(otp);
    /* In some order: the DOWN, the EXIT and the nodedown. */
    int down = 0, exit_ = 0, nodedown = 0;
    for (int k = 0; k < 3; k++) {
        enode_msg_t m;
        int i = 0, ver, a;
        char tag[MAXATOMLEN_UTF8];
        cr_assert_eq(enode_receive(mb, &m, 10000), 0, "message %d", k);
        ei_decode_version(m.msg.buff, &i, &ver);
        ei_decode_tuple_header(m.msg.buff, &i, &a);
        ei_decode_atom(m.msg.buff, &i, tag);
        for (int s = 2; s < a; s++)
            ei_skip_term(m.msg.buff, &i);
        if (strcmp(tag, "nodedown") == 0) {
            nodedown++;
        } else {
            char why[MAXATOMLEN_UTF8];
            cr_assert_eq(ei_decode_atom(m.msg.buff, &i, why), 0);
            cr_assert_str_eq(why, "noconnection");
            down += strcmp(tag, "DOWN") == 0;
            exit_ += strcmp(tag, "EXIT") == 0;
        }
        enode_msg_free(&m);
    }
    cr_assert(down == 1 && exit_ == 1 && nodedown == 1);
    enode_mbox_free(mb);
}

Test(signals, killed_c_node_is_noconnection_for_erlang)
{
    char prog[1024];
    const char *argv[] = {h_build_path("examples/echo/enode-echo", prog,
                                       sizeof prog),
                          "-sname", "victim_c", "-setcookie",
                          h_cluster_cookie(cluster), "-proto_dist", "inet_tls",
                          "-ssl_dist_optfile", h_cluster_optfile(cluster),
                          NULL};
    h_cnode_t *e = h_cnode_start(cluster, argv, 15000);
    char setup[512];

    cr_assert_not_null(e);
    snprintf(setup, sizeof setup,
             "process_flag(trap_exit, true), monitor(process, {echo, '%s'})",
             h_cnode_name(e));
    recorder("rec3", setup);
    char connected[256];
    snprintf(connected, sizeof connected, "lists:member('%s', nodes()).",
             h_cnode_name(e));
    cr_assert(h_wait_until(otp, connected, "true", 10000));
    h_cnode_kill(e);
    cr_assert(recorded("rec3", "[R || {'DOWN', _, process, {echo, _}, R} <- L]"
                               " =:= [noconnection]"));
    h_cnode_stop(e);
}

Test(signals, messages_to_an_alias_arrive_until_unalias)
{
    enode_mbox_t *mb;
    erlang_ref alias;
    ei_x_buff x;
    char lit[512];
    size_t at;
    enode_msg_t m;

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_alias(mb, &alias), 0);
    ei_x_new_with_version(&x);
    ei_x_encode_ref(&x, &alias);
    at = (size_t)snprintf(lit, sizeof lit, "binary_to_term(<<");
    for (int i = 0; i < x.index; i++)
        at += (size_t)snprintf(lit + at, sizeof lit - at, "%s%u", i ? "," : "",
                               (unsigned char)x.buff[i]);
    snprintf(lit + at, sizeof lit - at, ">>)");
    ei_x_free(&x);

    cr_assert(h_eval_expectf(otp, "hi", "erlang:send(%s, hi).", lit));
    expect_atom(mb, "hi");
    cr_assert_eq(enode_unalias(mb, &alias), 0);
    cr_assert(h_eval_expectf(otp, "late", "erlang:send(%s, late).", lit));
    cr_assert_eq(enode_receive(mb, &m, 1000), ENODE_ETIMEOUT,
                 "nothing arrives through an inactive alias");
    enode_mbox_free(mb);
}

/* A dial that fails brings no nodedown (the node never came up, and
 * net_kernel says nothing then either); a monitor on a process there
 * still fires, with noconnection. */
Test(signals, a_failed_dial_brings_noconnection_but_no_nodedown)
{
    enode_mbox_t *mb;
    erlang_pid ghost;
    erlang_ref r;
    enode_msg_t m;
    char ghost_node[300], tag[MAXATOMLEN_UTF8], reason[MAXATOMLEN_UTF8];
    const char *host = strchr(enode_name(node), '@') + 1;

    snprintf(ghost_node, sizeof ghost_node, "nobody_here@%s", host);
    memset(&ghost, 0, sizeof ghost);
    snprintf(ghost.node, sizeof ghost.node, "%s", ghost_node);
    ghost.num = 42;
    ghost.creation = 1;
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_monitor_nodes(mb, 1), 0);
    cr_assert_eq(enode_monitor(mb, &ghost, &r), 0);
    int i = 0, ver, arity;
    cr_assert_eq(enode_receive(mb, &m, 10000), 0, "no DOWN for the ghost");
    ei_decode_version(m.msg.buff, &i, &ver);
    ei_decode_tuple_header(m.msg.buff, &i, &arity);
    ei_decode_atom(m.msg.buff, &i, tag);
    cr_assert_str_eq(tag, "DOWN");
    cr_assert_eq(arity, 5);
    ei_skip_term(m.msg.buff, &i); /* the ref */
    ei_skip_term(m.msg.buff, &i); /* process */
    ei_skip_term(m.msg.buff, &i); /* the pid */
    ei_decode_atom(m.msg.buff, &i, reason);
    cr_assert_str_eq(reason, "noconnection");
    enode_msg_free(&m);
    cr_assert_eq(enode_receive(mb, &m, 1000), ENODE_ETIMEOUT,
                 "a message after the DOWN: a nodedown for a node never up?");
    enode_mbox_free(mb);
}
