/* test_global.c - an enode node in OTP's `global`: global:sync() returns,
 * names registered on OTP nodes reach every node and our replica, locks
 * work across the C node, a C node may join a cluster that has names, and
 * a C node leaving (or losing one connection) never makes OTP nodes drop
 * each other (prevent_overlapping_partitions, on by default since 25). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enode.h"
#include "enode_fixture.h"
#include "node/node.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *a, *b;
static enode_t *node;

static void up(void)
{
    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    /* Two OTP nodes, connected to each other. */
    a = h_node_launch(cluster, "ga", NULL);
    b = h_node_launch(cluster, "gb", NULL);
    cr_assert(a && b);
    cr_assert_eq(h_node_wait_ready(a, 30000), 0);
    cr_assert_eq(h_node_wait_ready(b, 30000), 0);
    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').", h_node_name(b)));
    cr_assert(h_eval_expect(a, "global:sync()", "ok"));
}

static void down(void)
{
    enode_free(node);
    node = NULL;
    h_cluster_stop(cluster);
}

static void start_c_node(const char *name)
{
    enode_config_t *cfg = h_enode_config(cluster, name);
    char err[512];

    cr_assert_not_null(cfg);
    if (getenv("TEST_GLOBAL_DEBUG")) /* the protocol, step by step */
        enode_config_set_log(cfg, NULL, NULL, ENODE_LOG_DEBUG);
    int rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(enode_start_thread(node), 0);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* global:sync() on n returns ok within a few seconds (it has no limit of
 * its own: without enode's part it never returns). */
static void sync_quickly(h_node_t *n)
{
    char out[256];
    uint64_t t0 = now_ms();
    int rc = h_evalf(n, out, sizeof out, 15000,
                     "Self = self(), P = spawn(fun() -> Self ! {synced, "
                     "global:sync()} end), receive {synced, R} -> R after "
                     "8000 -> exit(P, kill), timeout end.");
    uint64_t took = now_ms() - t0;
    cr_assert_eq(rc, H_OK, "global:sync() on %s: %s", h_node_name(n), out);
    cr_assert_str_eq(out, "ok", "global:sync() on %s: %s", h_node_name(n),
                     out);
    cr_assert_lt(took, 8000, "global:sync() took %llu ms",
                 (unsigned long long)took);
    fprintf(stderr, "global:sync() on %s: %llu ms\n", h_node_name(n),
            (unsigned long long)took);
}

/* n sees the C node in nodes(). */
static void sees_c_node(h_node_t *n)
{
    char expr[512];
    snprintf(expr, sizeof expr, "lists:member('%s', nodes())",
             enode_name(node));
    cr_assert(h_wait_until(n, expr, "true", 10000), "%s does not see %s",
              h_node_name(n), enode_name(node));
}

/* Our replica of global's names has (or lacks) atom within a few s. */
static int replica_has(const char *atom, int want)
{
    erlang_pid pid;
    for (int i = 0; i < 100; i++) {
        if (en_global_whereis(node->global, atom, &pid) == want)
            return 1;
        usleep(50000);
    }
    return 0;
}

/* Spawns a process on n that lives until told `stop`, and registers it
 * globally as name; "yes" on success. */
static void register_on(h_node_t *n, const char *name)
{
    cr_assert(h_eval_expectf(n, "yes",
                             "P = spawn(fun() -> receive stop -> ok end end), "
                             "global:register_name(%s, P).", name));
}

/* No line of n's log says that global dropped `other` to prevent
 * overlapping partitions (dropping the C node is fine: that is OTP's
 * answer to a node that lost the C node). */
static int dropped_no(h_node_t *n, const char *other)
{
    char line[4096];
    int ok = 1;
    FILE *f = fopen(h_node_log(n), "r");
    if (!f)
        return 1;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "overlapping partitions") && strstr(line, other)) {
            fprintf(stderr, "%s: %s", h_node_name(n), line);
            ok = 0;
        }
    fclose(f);
    return ok;
}

/* A and B stay connected to each other for the next `ms`. */
static void a_and_b_stay_connected(int ms)
{
    char expr[512];
    snprintf(expr, sizeof expr, "lists:member('%s', nodes())",
             h_node_name(b));
    for (int waited = 0; waited < ms; waited += 250) {
        cr_assert(h_eval_expect(a, expr, "true"), "a lost b");
        usleep(250000);
    }
    cr_assert(dropped_no(a, h_node_name(b)));
    cr_assert(dropped_no(b, h_node_name(a)));
}

Test(global, sync_returns_with_a_c_node, .init = up, .fini = down,
     .timeout = 120)
{
    start_c_node("gsync");
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0, "%s",
                 enode_last_error(node));
    sees_c_node(a);
    sync_quickly(a);
    /* global meshes the cluster: b learns of us through a, and connects. */
    sees_c_node(b);
    sync_quickly(b);
    /* Both OTP nodes count us among global's known nodes, and we them. */
    char expr[512];
    snprintf(expr, sizeof expr,
             "lists:member('%s', gen_server:call(global_name_server, "
             "get_known))", enode_name(node));
    cr_assert(h_wait_until(a, expr, "true", 10000));
    cr_assert(h_wait_until(b, expr, "true", 10000));
    snprintf(expr, sizeof expr,
             "lists:sort(gen_server:call({global_name_server, '%s'}, "
             "get_known)) =:= lists:sort(['%s', '%s'])",
             enode_name(node), h_node_name(a), h_node_name(b));
    cr_assert(h_wait_until(a, expr, "true", 10000));
    en_global_stats_t st;
    en_global_stats(node->global, &st);
    cr_assert_eq(st.known, 2);
    cr_assert_eq(st.sessions, 0);
}

Test(global, names_and_locks_across_a_c_node, .init = up, .fini = down,
     .timeout = 120)
{
    char expr[512];

    start_c_node("gnames");
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);
    sync_quickly(a);
    sees_c_node(b);
    sync_quickly(b);

    /* register_name on a locks every known node, us included. */
    register_on(a, "foo");
    cr_assert(h_eval_expectf(b, "true",
                             "node(global:whereis_name(foo)) =:= '%s'",
                             h_node_name(a)));
    cr_assert(h_eval_expect(b, "lists:member(foo, global:registered_names())",
                            "true"));
    cr_assert(replica_has("foo", 1), "our replica never got foo");
    erlang_pid pid;
    cr_assert_eq(en_global_whereis(node->global, "foo", &pid), 1);
    cr_assert_str_eq(pid.node, h_node_name(a));

    /* A name already taken is refused, and unregister reaches us. */
    cr_assert(h_eval_expect(b, "global:register_name(foo, self())", "no"));
    cr_assert(h_eval_expect(b, "global:unregister_name(foo)", "ok"));
    cr_assert(replica_has("foo", 0), "foo stayed in our replica");
    cr_assert(h_eval_expect(a, "global:whereis_name(foo)", "undefined"));

    /* The name of a process that dies goes from the replica too. */
    register_on(b, "bar");
    cr_assert(replica_has("bar", 1));
    cr_assert(h_eval_expect(a, "global:send(bar, stop), ok", "ok"));
    cr_assert(replica_has("bar", 0), "a dead process kept its name");

    /* global:trans over nodes(), which includes the C node. */
    cr_assert(h_eval_expect(a, "global:trans({res, self()}, fun() -> done "
                               "end)", "done"));
    snprintf(expr, sizeof expr,
             "lists:member('%s', nodes())", enode_name(node));
    cr_assert(h_eval_expect(a, expr, "true"));

    /* Our lock table: a resource held by one requester is refused to
     * another, and free again once the holder dies (we monitor it). */
    snprintf(expr, sizeof expr,
             "Self = self(), spawn(fun() -> register(lockholder, self()), "
             "R = global:set_lock({myres, r1}, ['%s'], 0), Self ! {r, R}, "
             "receive stop -> ok end end), receive {r, R} -> R end",
             enode_name(node));
    cr_assert(h_eval_expect(a, expr, "true"));
    snprintf(expr, sizeof expr, "global:set_lock({myres, r2}, ['%s'], 0)",
             enode_name(node));
    cr_assert(h_eval_expect(b, expr, "false"));
    snprintf(expr, sizeof expr,
             "global:set_lock({myres, r1}, ['%s'], 0) andalso "
             "global:del_lock({myres, r1}, ['%s'])",
             enode_name(node), enode_name(node));
    cr_assert(h_eval_expect(b, expr, "true"), "same requester shares");
    cr_assert(h_eval_expect(a, "exit(whereis(lockholder), kill)", "true"));
    snprintf(expr, sizeof expr,
             "global:set_lock({myres, r2}, ['%s'], 0) andalso "
             "global:del_lock({myres, r2}, ['%s'])",
             enode_name(node), enode_name(node));
    cr_assert(h_wait_until(b, expr, "true", 10000),
              "the lock outlived its holder");
    en_global_stats_t st;
    en_global_stats(node->global, &st);
    cr_assert_eq(st.locks, 0);

    /* sync still returns at once with a quiet cluster. */
    sync_quickly(a);
    sync_quickly(b);
}

Test(global, c_node_joins_a_cluster_with_names, .init = up, .fini = down,
     .timeout = 120)
{
    register_on(a, "early_a");
    register_on(b, "early_b");
    sync_quickly(a);

    start_c_node("glate");
    cr_assert_eq(enode_connect(node, h_node_name(b)), 0);
    sees_c_node(b);
    sync_quickly(b);
    sees_c_node(a);
    sync_quickly(a);
    cr_assert(replica_has("early_a", 1));
    cr_assert(replica_has("early_b", 1));
    cr_assert(h_eval_expectf(a, "true",
                             "node(global:whereis_name(early_b)) =:= '%s'",
                             h_node_name(b)));
    cr_assert(h_eval_expectf(b, "true",
                             "node(global:whereis_name(early_a)) =:= '%s'",
                             h_node_name(a)));
    /* Registration still works with us in the partition. */
    register_on(b, "later");
    cr_assert(h_eval_expectf(a, "true",
                             "node(global:whereis_name(later)) =:= '%s'",
                             h_node_name(b)));
    cr_assert(replica_has("later", 1));
}

Test(global, c_node_leaving_disconnects_nobody, .init = up, .fini = down,
     .timeout = 120)
{
    start_c_node("gleave");
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);
    sync_quickly(a);
    sees_c_node(b);
    sync_quickly(b);
    register_on(a, "survivor");

    enode_free(node);
    node = NULL;
    a_and_b_stay_connected(3000);
    sync_quickly(a);
    sync_quickly(b);
    cr_assert(h_eval_expectf(b, "true",
                             "node(global:whereis_name(survivor)) =:= '%s'",
                             h_node_name(a)));
}

Test(global, c_node_losing_one_link_disconnects_no_otp_node, .init = up,
     .fini = down, .timeout = 120)
{
    start_c_node("glink");
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);
    sync_quickly(a);
    sees_c_node(b);
    sync_quickly(b);

    /* We drop a only. a tells b it lost us; b asks us to go, as OTP's
     * prevent_overlapping_partitions does: we end up alone, and a and b
     * stay together. */
    cr_assert_eq(enode_disconnect(node, h_node_name(a)), 0);
    a_and_b_stay_connected(3000);
    sync_quickly(a);
    sync_quickly(b);
    char expr[512];
    snprintf(expr, sizeof expr, "lists:member('%s', nodes())",
             enode_name(node));
    cr_assert(h_wait_until(b, expr, "false", 10000));
    cr_assert(h_wait_until(a, expr, "false", 10000));
}

/* Our partition {a, b, us} meets {d} through us alone: we lock a and b
 * for d's locker, resolve the clash over a name both sides registered
 * (we are the smaller node name, so we ask a to run the method), and
 * tell a and b of d (new_nodes), which then mesh with it. */
Test(global, c_node_bridges_two_partitions, .init = up, .fini = down,
     .timeout = 180)
{
    h_node_t *d = h_node_start(cluster, "gd", NULL);
    cr_assert_not_null(d);
    register_on(a, "clash");
    register_on(a, "aonly");
    register_on(d, "clash");
    register_on(d, "donly");

    start_c_node("gc"); /* "gc..." < "gd...": the clash is ours to resolve */
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);
    sync_quickly(a);
    sees_c_node(b);
    sync_quickly(b);
    cr_assert(replica_has("aonly", 1));

    cr_assert_eq(enode_connect(node, h_node_name(d)), 0);
    sees_c_node(d);
    char expr[512];
    snprintf(expr, sizeof expr, "lists:member('%s', nodes())",
             h_node_name(d));
    cr_assert(h_wait_until(a, expr, "true", 15000), "a never met d");
    cr_assert(h_wait_until(b, expr, "true", 15000), "b never met d");
    sync_quickly(d);
    sync_quickly(a);
    sync_quickly(b);

    cr_assert(h_eval_expectf(a, "true",
                             "node(global:whereis_name(donly)) =:= '%s'",
                             h_node_name(d)));
    cr_assert(h_eval_expectf(b, "true",
                             "node(global:whereis_name(donly)) =:= '%s'",
                             h_node_name(d)));
    cr_assert(h_eval_expectf(d, "true",
                             "node(global:whereis_name(aonly)) =:= '%s'",
                             h_node_name(a)));
    cr_assert(replica_has("donly", 1));

    /* One winner for clash, the same everywhere, alive; the loser was
     * killed by random_exit_name. */
    char pa[256], pb[256], pd[256];
    const char *where = "P = global:whereis_name(clash), {node(P), "
                        "rpc:call(node(P), erlang, is_process_alive, [P])}";
    cr_assert_eq(h_eval(a, where, pa, sizeof pa, 10000), H_OK, "%s", pa);
    cr_assert_eq(h_eval(b, where, pb, sizeof pb, 10000), H_OK, "%s", pb);
    cr_assert_eq(h_eval(d, where, pd, sizeof pd, 10000), H_OK, "%s", pd);
    cr_assert_str_eq(pa, pb);
    cr_assert_str_eq(pa, pd);
    cr_assert(strstr(pa, ",true}"), "the winner is dead: %s", pa);
    erlang_pid won;
    cr_assert(replica_has("clash", 1));
    cr_assert_eq(en_global_whereis(node->global, "clash", &won), 1);
    cr_assert(strstr(pa, won.node), "replica says %s, a says %s", won.node,
              pa);
    en_global_stats_t st;
    en_global_stats(node->global, &st);
    cr_assert_eq(st.known, 3);
}

/* Messages of the wrong shape to our global_name_server are dropped: the
 * node lives on, and global with it. */
Test(global, garbage_to_global_is_dropped, .init = up, .fini = down,
     .timeout = 120)
{
    char expr[4096];

    start_c_node("ggarbage");
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);
    sync_quickly(a);
    const char *c = enode_name(node);
    snprintf(expr, sizeof expr,
             "G = {global_name_server, '%s'}, "
             "Cast = fun(M) -> gen_server:cast(G, M) end, "
             "[G ! M || M <- [foo, {}, {'$gen_cast'}, {'$gen_cast', foo}, "
             "  {init_connect_ack, node(), x, y}, {cancel_connect, node(), 1}, "
             "  {cancel_connect, 1, 2}, {lost_connection, a, b, c, d}, "
             "  {lost_connection, 'x@y', 1 bsl 80, 1, 'z@w'}, "
             "  {lost_connection, 'x@y', 1, 1, 'z@w'}, "
             "  {remove_connection, 'nonode@nohost'}, {remove_connection, 1}, "
             "  {'$gen_call', {self(), t}}, {'$gen_call', x, y}]], "
             "[Cast(M) || M <- [{init_connect, x, y, z}, "
             "  {init_connect, {8, 1}, 'other@host', {locker, a, b, self()}}, "
             "  {init_connect, {8, 1}, node(), {locker, a, b, notapid}}, "
             "  {init_connect, {}, node(), x}, "
             "  {lock_set, notapid, true, [], 1}, "
             "  {lock_set, self(), true, [], 1 bsl 90}, "
             "  {lock_set, self(), 'maybe', x}, "
             "  {exchange, node(), [{a, notapid, m}, junk], [], 1}, "
             "  {exchange, node(), [a | b], [], x}, "
             "  {resolved, node(), [junk | improper], x, unused, y, 1}, "
             "  {new_nodes, node(), [{insert, {n, self()}}, {delete}, x], [], "
             "   [junk, {a, b}, {'q@r', x}], [{lock, x}]}, "
             "  {new_nodes, node(), bad, bad, bad, bad}, "
             "  {new_nodes, node(), [{insert, {gone, self(), m}}], bad, [], "
             "   [{lock, {global, [x]}}, {vsn, 8}]}, "
             "  {in_sync, 1, 2}, {in_sync, 'x@y'}, {async_del_lock, a, b}]], "
             "[catch gen_server:call(G, R, 500) || R <- [foo, {set_lock, x}, "
             "  {set_lock, {a}}, {del_lock, 1}, {register, n, notapid, m}, "
             "  {register_ext, n, self(), m, 1}, {unregister}, {sync}, "
             "  get_known, get_synced, get_protocol_version, "
             "  get_names_ext]], ok",
             c);
    cr_assert(h_eval_expect(a, expr, "ok"));
    snprintf(expr, sizeof expr, "net_adm:ping('%s')", c);
    cr_assert(h_eval_expect(a, expr, "pong"));
    snprintf(expr, sizeof expr,
             "gen_server:call({global_name_server, '%s'}, "
             "get_protocol_version, 2000)", c);
    cr_assert(h_eval_expect(a, expr, "8"));
    sync_quickly(a);
    sync_quickly(b);
    register_on(b, "after_garbage");
    cr_assert(replica_has("after_garbage", 1));
    cr_assert(replica_has("gone", 0), "a name of a dead process stayed");
    a_and_b_stay_connected(1000);
}
