/* test_global.c - an enode node in OTP's `global`: global:sync() returns,
 * names registered on OTP nodes reach every node and our replica, locks
 * work across the C node, a C node may join a cluster that has names, and
 * a C node leaving (or losing one connection) never makes OTP nodes drop
 * each other (prevent_overlapping_partitions, on by default since 25).
 *
 * The suite global_names: C mailboxes holding global names
 * (enode_global_register and the rest), as every OTP node sees them. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
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

/* ---- global names held by C mailboxes ------------------------------------- */

/* A mailbox answered by a thread of its own: {ping, From} gets {pong,
 * Self}, which shows who received it; the last other message is kept as
 * text. The thread ends when the mailbox dies or stop is set. */
typedef struct echo {
    enode_mbox_t *mb;
    pthread_t thread;
    volatile int stop, closed;
    pthread_mutex_t lock;
    char last[512];
} echo_t;

static void *echo_loop(void *arg)
{
    echo_t *e = arg;
    while (!e->stop) {
        enode_msg_t m;
        int rc = enode_receive(e->mb, &m, 100);
        if (rc == ENODE_ECLOSED) {
            e->closed = 1;
            break;
        }
        if (rc < 0)
            continue;
        int i = 1, arity;
        char atom[MAXATOMLEN_UTF8];
        erlang_pid from;
        if (ei_decode_tuple_header(m.msg.buff, &i, &arity) == 0 &&
            arity == 2 && ei_decode_atom(m.msg.buff, &i, atom) == 0 &&
            strcmp(atom, "ping") == 0 &&
            ei_decode_pid(m.msg.buff, &i, &from) == 0) {
            ei_x_buff x;
            ei_x_new_with_version(&x);
            ei_x_encode_tuple_header(&x, 2);
            ei_x_encode_atom(&x, "pong");
            ei_x_encode_pid(&x, enode_mbox_pid(e->mb));
            enode_send(e->mb, &from, &x);
            ei_x_free(&x);
        } else {
            char *text = NULL;
            i = 1;
            ei_s_print_term(&text, m.msg.buff, &i);
            pthread_mutex_lock(&e->lock);
            snprintf(e->last, sizeof e->last, "%s", text ? text : "?");
            pthread_mutex_unlock(&e->lock);
            free(text);
        }
        enode_msg_free(&m);
    }
    return NULL;
}

static echo_t *echo_new(void)
{
    echo_t *e = calloc(1, sizeof *e);
    cr_assert_not_null(e);
    pthread_mutex_init(&e->lock, NULL);
    cr_assert_eq(enode_mbox_new(node, &e->mb), 0);
    cr_assert_eq(pthread_create(&e->thread, NULL, echo_loop, e), 0);
    return e;
}

/* Stops the thread; the mailbox stays, for enode_free. */
static void echo_stop(echo_t *e)
{
    e->stop = 1;
    pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* global:whereis_name(name) on n is a process of the C node that
 * global:send/2 reaches, and that answers as the process it is. */
static void otp_finds(h_node_t *n, const char *name)
{
    char expr[1024];
    snprintf(expr, sizeof expr,
             "case global:whereis_name(%s) of undefined -> undefined; "
             "P -> global:send(%s, {ping, self()}), "
             "receive {pong, Q} -> {node(P) =:= '%s', Q =:= P} "
             "after 5000 -> no_pong end end",
             name, name, enode_name(node));
    cr_assert(h_eval_expect(n, expr, "{true,true}"), "%s does not find %s",
              h_node_name(n), name);
}

/* global:whereis_name(name) on n is undefined within a few seconds. */
static void otp_lacks(h_node_t *n, const char *name)
{
    char expr[256];
    snprintf(expr, sizeof expr, "global:whereis_name(%s)", name);
    cr_assert(h_wait_until(n, expr, "undefined", 10000), "%s kept %s",
              h_node_name(n), name);
}

/* A C node in the partition of a and b, in sync with both. */
static void c_node_in_sync(const char *name)
{
    start_c_node(name);
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);
    sync_quickly(a);
    sees_c_node(b);
    sync_quickly(b);
    /* The OTP nodes are in sync with us once their global:sync() returns,
     * but our own session with each may still await its last message:
     * until it comes, a registration would lock on a alone. Wait until we
     * know both. */
    en_global_stats_t st;
    uint64_t until = now_ms() + 10000;
    do {
        en_global_stats(node->global, &st);
        if (st.known == 2 && st.sessions == 0)
            return;
        usleep(20000);
    } while (now_ms() < until);
    cr_assert_fail("the C node knows %zu nodes, %zu sessions under way",
                   st.known, st.sessions);
}

TestSuite(global_names, .init = up, .fini = down, .timeout = 120);

Test(global_names, a_c_mailbox_registered_is_found_everywhere)
{
    c_node_in_sync("gnreg");
    echo_t *e = echo_new();
    cr_assert_eq(enode_global_register(e->mb, "cname"), 0, "%s",
                 enode_last_error(node));
    /* register_name returns once every node has the name: no waiting. */
    otp_finds(a, "cname");
    otp_finds(b, "cname");
    erlang_pid pid;
    cr_assert_eq(enode_global_whereis(node, "cname", &pid), 0);
    cr_assert(en_pid_eq(&pid, enode_mbox_pid(e->mb)));
    cr_assert(h_eval_expect(a, "lists:member(cname, "
                               "global:registered_names())", "true"));
    echo_stop(e);
}

/* The same in event-loop mode: no loop thread, and the register call
 * runs the loop itself while it waits for the cluster. */
Test(global_names, register_runs_the_loop_in_event_loop_mode)
{
    enode_config_t *cfg;
    enode_mbox_t *mb;
    enode_msg_t m;
    char err[512];

    cfg = h_enode_config(cluster, "gnloop");
    cr_assert_not_null(cfg);
    int new_rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(new_rc, 0, "%s", err);
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    en_global_stats_t st = {0};
    for (int i = 0; i < 100 && st.known < 2; i++) {
        enode_receive(mb, &m, 100); /* runs the loop */
        en_global_stats(node->global, &st);
    }
    cr_assert_eq(st.known, 2, "not in sync with a and b");
    cr_assert_eq(enode_global_register(mb, "loopname"), 0, "%s",
                 enode_last_error(node));
    char expr[256];
    snprintf(expr, sizeof expr, "node(global:whereis_name(loopname)) =:= '%s'",
             enode_name(node));
    cr_assert(h_eval_expect(a, expr, "true"));
    cr_assert(h_eval_expect(b, expr, "true"));
}

Test(global_names, a_taken_name_gives_eexist)
{
    c_node_in_sync("gntaken");
    register_on(a, "taken");
    echo_t *e = echo_new();
    cr_assert_eq(enode_global_register(e->mb, "taken"), ENODE_EEXIST);
    cr_assert(h_eval_expectf(b, "true",
                             "node(global:whereis_name(taken)) =:= '%s'",
                             h_node_name(a)));
    /* One name per process, as global allows by default. */
    cr_assert_eq(enode_global_register(e->mb, "first"), 0);
    cr_assert_eq(enode_global_register(e->mb, "second"), ENODE_EEXIST);
    cr_assert(strstr(enode_last_error(node), "name already"), "%s",
              enode_last_error(node));
    cr_assert(h_eval_expect(a, "global:whereis_name(second)", "undefined"));
    /* An Erlang process cannot take a name a mailbox holds. */
    cr_assert(h_eval_expect(b, "global:register_name(first, self())", "no"));
    otp_finds(b, "first");
    echo_stop(e);
}

Test(global_names, a_name_that_is_not_an_atom_gives_einval)
{
    enode_mbox_t *mb;
    char name[300];
    erlang_pid pid;

    c_node_in_sync("gninval");
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_global_register(mb, "\xff"), ENODE_EINVAL);
    cr_assert_eq(enode_global_register(mb, "caf\xc3"), ENODE_EINVAL);
    cr_assert_eq(enode_global_register(mb, NULL), ENODE_EINVAL);
    cr_assert_eq(enode_global_whereis(node, "\xed\xa0\x80", &pid),
                 ENODE_EINVAL); /* a surrogate */
    memset(name, 'x', sizeof name);
    name[256] = '\0';
    cr_assert_eq(enode_global_register(mb, name), ENODE_EINVAL);
    cr_assert_eq(enode_global_unregister(node, name), ENODE_EINVAL);
    /* 255 characters, some of them two bytes long, is an atom. */
    for (int i = 0; i < 20; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2); /* e acute */
    name[256] = 'x';
    name[255 + 20] = '\0';
    cr_assert_eq(enode_global_register(mb, name), 0, "%s",
                 enode_last_error(node));
    cr_assert(h_eval_expectf(a, "true",
                             "N = binary_to_atom(unicode:characters_to_binary("
                             "lists:duplicate(20, 233) ++ "
                             "lists:duplicate(235, $x)), utf8), "
                             "node(global:whereis_name(N)) =:= '%s'",
                             enode_name(node)));
}

Test(global_names, unregister_takes_the_name_from_every_node)
{
    c_node_in_sync("gnunreg");
    echo_t *e = echo_new();
    erlang_pid pid;

    cr_assert_eq(enode_global_register(e->mb, "gone"), 0);
    otp_finds(a, "gone");
    cr_assert_eq(enode_global_unregister(node, "gone"), 0);
    cr_assert(h_eval_expect(a, "global:whereis_name(gone)", "undefined"));
    cr_assert(h_eval_expect(b, "global:whereis_name(gone)", "undefined"));
    cr_assert_eq(enode_global_whereis(node, "gone", &pid), ENODE_ENOTFOUND);
    /* A name nobody has: ok, as unregister_name says. */
    cr_assert_eq(enode_global_unregister(node, "never"), 0);
    /* The name of an Erlang process, unregistered from C. */
    register_on(a, "erlname");
    cr_assert_eq(enode_global_whereis(node, "erlname", &pid), 0);
    cr_assert_eq(enode_global_unregister(node, "erlname"), 0);
    cr_assert(h_eval_expect(b, "global:whereis_name(erlname)", "undefined"));
    cr_assert(h_eval_expect(a, "global:whereis_name(erlname)", "undefined"));
    /* The mailbox may take a name again. */
    cr_assert_eq(enode_global_register(e->mb, "again"), 0);
    otp_finds(b, "again");
    echo_stop(e);
}

Test(global_names, a_mailbox_that_goes_loses_its_name)
{
    enode_mbox_t *freed, *exited;
    erlang_pid pid;
    ei_x_buff reason;

    c_node_in_sync("gndeath");
    cr_assert_eq(enode_mbox_new(node, &freed), 0);
    cr_assert_eq(enode_mbox_new(node, &exited), 0);
    cr_assert_eq(enode_global_register(freed, "freed"), 0);
    cr_assert_eq(enode_global_register(exited, "exited"), 0);
    cr_assert(h_eval_expect(a, "is_pid(global:whereis_name(freed))", "true"));

    enode_mbox_free(freed);
    otp_lacks(a, "freed");
    otp_lacks(b, "freed");
    cr_assert_eq(enode_global_whereis(node, "freed", &pid), ENODE_ENOTFOUND);

    ei_x_new_with_version(&reason);
    ei_x_format_wo_ver(&reason, "{shutdown, test}");
    cr_assert_eq(enode_mbox_exit(exited, &reason), 0);
    ei_x_free(&reason);
    otp_lacks(a, "exited");
    otp_lacks(b, "exited");
    cr_assert_eq(enode_global_whereis(node, "exited", &pid), ENODE_ENOTFOUND);
    /* The names are free again. */
    register_on(a, "freed");
    register_on(b, "exited");
}

Test(global_names, enode_free_takes_the_names_away)
{
    enode_mbox_t *mb;

    c_node_in_sync("gnfree");
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_global_register(mb, "cfree"), 0);
    cr_assert(h_eval_expect(b, "is_pid(global:whereis_name(cfree))", "true"));
    enode_free(node);
    node = NULL;
    otp_lacks(a, "cfree");
    otp_lacks(b, "cfree");
    a_and_b_stay_connected(1000);
    register_on(b, "cfree");
}

Test(global_names, node_loss_takes_names_both_ways)
{
    c_node_in_sync("gnloss");
    register_on(a, "on_a");
    register_on(b, "on_b");
    echo_t *e = echo_new();
    cr_assert_eq(enode_global_register(e->mb, "on_c"), 0);
    cr_assert(replica_has("on_a", 1) && replica_has("on_b", 1));

    /* a dies: its names go from our table, ours stays with b. */
    h_node_kill(a);
    cr_assert(replica_has("on_a", 0), "a's name outlived a");
    cr_assert(replica_has("on_b", 1));
    otp_finds(b, "on_c");
    /* We lose b: each side forgets the other's names. */
    cr_assert_eq(enode_disconnect(node, h_node_name(b)), 0);
    otp_lacks(b, "on_c");
    cr_assert(replica_has("on_b", 0), "b's name outlived the connection");
    cr_assert(replica_has("on_c", 1), "we lost our own name");
    echo_stop(e);
}

/* enode_global_registered_names' callback: "name name ..." in order. */
static void collect(void *user, const char *name, const erlang_pid *pid)
{
    char *list = user;
    (void)pid;
    strcat(list, name);
    strcat(list, " ");
}

static int by_text(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

Test(global_names, whereis_and_the_list_see_erlang_names)
{
    erlang_pid pid;
    enode_mbox_t *mb;
    char list[256] = "", *words[8], *save = NULL;
    int n = 0;

    c_node_in_sync("gnlist");
    register_on(a, "erl_one");
    register_on(b, "erl_two");
    cr_assert(h_eval_expect(b, "P = spawn(fun() -> receive stop -> ok end "
                               "end), global:register_name({tuple, name}, P)",
                            "yes"));
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_global_register(mb, "c_one"), 0);
    /* register_name returned: every node has it, we included. */
    cr_assert_eq(enode_global_whereis(node, "erl_one", &pid), 0);
    cr_assert_str_eq(pid.node, h_node_name(a));
    cr_assert_eq(enode_global_whereis(node, "erl_two", &pid), 0);
    cr_assert_str_eq(pid.node, h_node_name(b));
    cr_assert_eq(enode_global_registered_names(node, collect, list), 3);
    for (char *w = strtok_r(list, " ", &save); w && n < 8;
         w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    qsort(words, (size_t)n, sizeof *words, by_text);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(words[0], "c_one");
    cr_assert_str_eq(words[1], "erl_one");
    cr_assert_str_eq(words[2], "erl_two");
}

/* enode_global_send reaches an Erlang process by its global name. */
Test(global_names, enode_global_send_reaches_an_erlang_process)
{
    enode_mbox_t *mb;
    ei_x_buff x;

    c_node_in_sync("gnsend");
    cr_assert(h_eval_expect(a, "Self = self(), P = spawn(fun() -> receive "
                               "M -> Self ! {got, M} end end), "
                               "global:register_name(listener, P), ok",
                            "ok"));
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "hello");
    cr_assert_eq(enode_global_send(mb, "listener", &x), 0);
    cr_assert_eq(enode_global_send(mb, "nobody", &x), ENODE_ENOTFOUND);
    ei_x_free(&x);
    /* The listener told the agent's process that evaluated the spawn;
     * that one is gone, so ask the listener's node instead. */
    cr_assert(h_wait_until(a, "global:whereis_name(listener)", "undefined",
                           10000),
              "the listener never got the message");
}

/* Log lines of the C node, for what it did unseen. */
static char c_log[16384];
static pthread_mutex_t c_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void capture(void *user, int level, const char *message)
{
    (void)user, (void)level;
    pthread_mutex_lock(&c_log_lock);
    size_t at = strlen(c_log);
    snprintf(c_log + at, sizeof c_log - at, "%s\n", message);
    pthread_mutex_unlock(&c_log_lock);
}

static void start_c_node_logged(const char *name)
{
    enode_config_t *cfg;
    char err[512];

    c_log[0] = '\0';
    cfg = h_enode_config(cluster, name);
    cr_assert_not_null(cfg);
    cr_assert_eq(enode_config_set_log(cfg, capture, NULL, ENODE_LOG_INFO), 0);
    int new_rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(new_rc, 0, "%s", err);
    cr_assert_eq(enode_start_thread(node), 0);
}

/* Partition {a, b, us} has a mailbox called clash, partition {d} an
 * Erlang process called clash; they meet through us. We are the smaller
 * node name, so we resolve: the mailbox's method, random_exit_name, runs
 * here, and keeps the process of the smaller node name (ours): d's is
 * killed. */
Test(global_names, a_clash_the_c_node_resolves, .timeout = 180)
{
    h_node_t *d = h_node_start(cluster, "gd", NULL);
    cr_assert_not_null(d);
    cr_assert(h_eval_expect(d, "P = spawn(fun() -> receive stop -> ok end "
                               "end), register(dproc, P), "
                               "global:register_name(clash, P)",
                            "yes"));
    start_c_node_logged("gc"); /* "gc..." < "gd..." */
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);
    sync_quickly(a);
    sees_c_node(b);
    sync_quickly(b);
    echo_t *e = echo_new();
    cr_assert_eq(enode_global_register(e->mb, "clash"), 0);

    cr_assert_eq(enode_connect(node, h_node_name(d)), 0);
    char expr[512];
    snprintf(expr, sizeof expr, "node(global:whereis_name(clash)) =:= '%s'",
             enode_name(node));
    cr_assert(h_wait_until(d, expr, "true", 15000), "d kept its own");
    cr_assert(h_wait_until(d, "whereis(dproc)", "undefined", 10000),
              "d's process was not killed");
    otp_finds(d, "clash");
    otp_finds(a, "clash");
    otp_finds(b, "clash");
    cr_assert(!e->closed, "the winner died");
    cr_assert(strstr(c_log, "name conflict"), "log:\n%s", c_log);
    echo_stop(e);
}

/* Partition {a, b, us} has a mailbox called clash, {y} an Erlang
 * process; a meets y. a is the smaller node name: it asks the node of
 * its partition's process, us, to run the method (rpc to
 * global:resolve_it/4). y's node name is smaller than ours, so ours is
 * killed, with the reason `killed`, and y's keeps the name. */
Test(global_names, a_clash_an_otp_node_resolves_through_us, .timeout = 180)
{
    h_node_t *y = h_node_start(cluster, "gy", NULL); /* a < y < us */
    cr_assert_not_null(y);
    cr_assert(h_eval_expect(y, "P = spawn(fun() -> receive stop -> ok end "
                               "end), register(yproc, P), "
                               "global:register_name(clash, P)",
                            "yes"));
    start_c_node_logged("gz");
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);
    sync_quickly(a);
    sees_c_node(b);
    sync_quickly(b);
    echo_t *e = echo_new();
    cr_assert_eq(enode_global_register(e->mb, "clash"), 0);

    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s')", h_node_name(y)));
    char expr[512];
    snprintf(expr, sizeof expr, "node(global:whereis_name(clash)) =:= '%s'",
             h_node_name(y));
    cr_assert(h_wait_until(a, expr, "true", 15000), "a kept ours");
    cr_assert(h_wait_until(b, expr, "true", 15000), "b kept ours");
    cr_assert(h_eval_expect(y, "is_pid(whereis(yproc))", "true"));
    for (int i = 0; i < 100 && !e->closed; i++)
        usleep(50000);
    cr_assert(e->closed, "the mailbox lives on");
    const ei_x_buff *why = enode_mbox_exit_reason(e->mb);
    cr_assert_not_null(why);
    int i = 0;
    char atom[MAXATOMLEN_UTF8] = "";
    ei_decode_version(why->buff, &i, NULL);
    ei_decode_atom(why->buff, &i, atom);
    cr_assert_str_eq(atom, "killed");
    cr_assert(strstr(c_log, "asked to resolve a name conflict"), "log:\n%s",
              c_log);
    erlang_pid pid;
    cr_assert(replica_has("clash", 1));
    cr_assert_eq(enode_global_whereis(node, "clash", &pid), 0);
    cr_assert_str_eq(pid.node, h_node_name(y));
    echo_stop(e);
}

/* b stops answering: the register call gives up at its time limit, and
 * leaves no name and no lock behind once b answers again. */
Test(global_names, a_cluster_that_does_not_answer_times_out_cleanly)
{
    c_node_in_sync("gnstall");
    echo_t *e = echo_new();
    en_global_set_timeout(node->global, 2000);

    cr_assert_eq(kill(-h_node_pid(b), SIGSTOP), 0);
    uint64_t t0 = now_ms();
    int rc = enode_global_register(e->mb, "stalled");
    uint64_t took = now_ms() - t0;
    cr_assert_eq(kill(-h_node_pid(b), SIGCONT), 0);
    cr_assert_eq(rc, ENODE_ETIMEOUT, "%s", enode_strerror(rc));
    cr_assert(took >= 2000 && took < 5000, "took %llu ms",
              (unsigned long long)took);
    cr_assert(strstr(enode_last_error(node), h_node_name(b)), "%s",
              enode_last_error(node));

    cr_assert(h_eval_expect(a, "global:whereis_name(stalled)", "undefined"));
    cr_assert(h_eval_expect(b, "global:whereis_name(stalled)", "undefined"));
    /* The lock is free again: an Erlang process registers at once, and
     * so do we. */
    register_on(a, "after_stall");
    en_global_set_timeout(node->global, 0);
    cr_assert_eq(enode_global_register(e->mb, "stalled"), 0, "%s",
                 enode_last_error(node));
    otp_finds(b, "stalled");
    echo_stop(e);
}

/* -connect_all false: no connect session either way, and no names. */
Test(global_names, connect_all_false_turns_global_off)
{
    enode_config_t *cfg;
    enode_mbox_t *mb;
    char err[512], a0[] = "prog", a1[] = "-connect_all", a2[] = "false";
    char *argv[] = {a0, a1, a2, NULL};
    int argc = 3;
    erlang_pid pid;

    cfg = h_enode_config(cluster, "gnoff");
    cr_assert_not_null(cfg);
    cr_assert_eq(enode_config_from_args(cfg, &argc, argv, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(argc, 1);
    cr_assert_eq(enode_config_get_connect_all(cfg), 0);
    int new_rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(new_rc, 0, "%s", err);
    cr_assert_eq(enode_start_thread(node), 0);
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0);
    sees_c_node(a);

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_global_register(mb, "offname"), ENODE_EINVAL);
    cr_assert(strstr(enode_last_error(node), "global is off"), "%s",
              enode_last_error(node));
    cr_assert_eq(enode_global_unregister(node, "offname"), ENODE_EINVAL);
    /* a's global never counts us in: we never answer its init_connect,
     * as an erl node with -connect_all false does not. */
    register_on(a, "while_off");
    char expr[512];
    snprintf(expr, sizeof expr,
             "lists:member('%s', gen_server:call(global_name_server, "
             "get_known))", enode_name(node));
    cr_assert(h_eval_expect(a, expr, "false"));
    cr_assert_eq(enode_global_whereis(node, "while_off", &pid),
                 ENODE_ENOTFOUND);
    en_global_stats_t st;
    en_global_stats(node->global, &st);
    cr_assert_eq(st.known, 0);
    cr_assert_eq(st.sessions, 0);
}
