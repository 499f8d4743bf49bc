/* test_flood.c - the node stays responsive while an OTP node floods a
 * mailbox that nobody reads.
 *
 * One OTP node sends small messages as fast as it can for twice the tick
 * time to a registered mailbox that the application leaves alone. Another
 * OTP node, meanwhile, dials the C node for the first time: its ping must
 * be answered within the setup time, and the flooding connection must
 * not die of a tick timeout, since the loop keeps writing ticks and
 * reading other peers between the flood's batches. Afterwards every
 * message is in the mailbox, in order.
 *
 * Both ways of running the node: its own loop thread (threaded mode),
 * and event-loop mode, where a loop of the program's (here a thread of
 * the test's that polls enode_fd() and calls enode_process()) drives it.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

#define TICKTIME 4 /* seconds, on all three nodes */

static h_cluster_t *cluster;
static h_node_t *flooder, *pinger;
static enode_t *node;

/* Event-loop mode: the program's loop, on a thread of its own. */
static pthread_t host_loop;
static volatile int host_loop_on, host_loop_stop;

static void *run_host_loop(void *arg)
{
    (void)arg;
    while (!host_loop_stop) {
        struct pollfd p = {.fd = enode_fd(node), .events = POLLIN};
        int t = enode_timeout(node);
        poll(&p, 1, t < 0 || t > 100 ? 100 : t);
        enode_process(node, 0);
    }
    return NULL;
}

/* Stop the program's loop (enode_receive then runs the node itself). */
static void stop_host_loop(void)
{
    if (!host_loop_on)
        return;
    host_loop_stop = 1;
    pthread_join(host_loop, NULL);
    host_loop_on = 0;
}

static void start_nodes(int threaded)
{
    static const char *const tick[] = {"-kernel", "net_ticktime", "4", NULL};
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.extra_args = tick;
    char err[512];

    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    flooder = h_node_launch(cluster, "flooder", &o);
    pinger = h_node_launch(cluster, "pinger", &o);
    cr_assert(flooder && h_node_wait_ready(flooder, 30000) == 0);
    cr_assert(pinger && h_node_wait_ready(pinger, 30000) == 0);
    enode_config_t *cfg = h_enode_config(cluster, "flooded");
    cr_assert_not_null(cfg);
    cr_assert_eq(enode_config_set_net_ticktime(cfg, TICKTIME), 0);
    int rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(rc, 0, "%s", err);
    if (threaded) {
        cr_assert_eq(enode_start_thread(node), 0);
    } else {
        cr_assert_eq(pthread_create(&host_loop, NULL, run_host_loop, NULL), 0);
        host_loop_on = 1;
    }
}

static void up_threaded(void)
{
    start_nodes(1);
}

static void up_event_loop(void)
{
    start_nodes(0);
}

static void down(void)
{
    stop_host_loop();
    enode_free(node);
    h_cluster_stop(cluster);
}

/* Take every message from mb, checking they are {flood, 0}, {flood, 1},
 * ... in order; how many. */
static long drain_in_order(enode_mbox_t *mb)
{
    long n = 0;
    enode_msg_t m;

    while (enode_receive(mb, &m, 2000) == 0) {
        int i = 0, v, a;
        long seq = -1;
        char tag[MAXATOMLEN_UTF8];
        cr_assert(ei_decode_version(m.msg.buff, &i, &v) == 0 &&
                  ei_decode_tuple_header(m.msg.buff, &i, &a) == 0 &&
                  ei_decode_atom(m.msg.buff, &i, tag) == 0 &&
                  ei_decode_long(m.msg.buff, &i, &seq) == 0);
        cr_assert_eq(seq, n, "message %ld is number %ld", n, seq);
        enode_msg_free(&m);
        n++;
    }
    return n;
}

static void flood_and_ping(void)
{
    enode_mbox_t *mb;
    char out[128];

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_register(mb, "flood"), 0);
    /* Flood for twice the tick time, then report how many went. */
    cr_assert(h_eval_expectf(flooder, "ok",
        "Dest = {flood, '%s'}, "
        "spawn(fun() -> register(flood_source, self()), "
        "  End = erlang:monotonic_time(millisecond) + %d, "
        "  Loop = fun L(N) -> Dest ! {flood, N}, "
        "    case N rem 1000 =:= 0 andalso "
        "         erlang:monotonic_time(millisecond) > End of "
        "      true -> N + 1; false -> L(N + 1) end end, "
        "  Sent = Loop(0), "
        "  receive {sent, From} -> From ! {flooded, Sent} end end), "
        "timer:sleep(100), ok.",
        enode_name(node), 2 * TICKTIME * 1000));
    usleep(1000000);
    /* A first ping from a new peer while the flood goes on. */
    cr_assert_eq(h_evalf(pinger, out, sizeof out, 30000,
                         "{T, R} = timer:tc(net_adm, ping, ['%s']), "
                         "{R, T div 1000}.",
                         enode_name(node)),
                 H_OK);
    char result[16];
    int ms = -1;
    cr_assert_eq(sscanf(out, "{%15[a-z],%d}", result, &ms), 2, "%s", out);
    cr_assert_str_eq(result, "pong");
    cr_assert(ms >= 0 && ms < 7000, "the ping took %d ms", ms);
    fprintf(stderr, "flood: a new peer's first ping took %d ms\n", ms);

    /* The flood ends, over a connection that lived through it. */
    long sent = -1;
    cr_assert_eq(h_evalf(flooder, out, sizeof out, 60000,
                         "flood_source ! {sent, self()}, "
                         "receive {flooded, N} -> N after 50000 -> timeout "
                         "end."),
                 H_OK);
    cr_assert_eq(sscanf(out, "%ld", &sent), 1, "%s", out);
    char member[256];
    snprintf(member, sizeof member, "lists:member('%s', nodes()).",
             enode_name(node));
    cr_assert(h_eval_expect(flooder, member, "true"),
              "the flooding connection died");
    cr_assert_eq(enode_is_connected(node, h_node_name(flooder)), 1);
    stop_host_loop();
    long got = drain_in_order(mb);
    fprintf(stderr, "flood: %ld messages in %d s, all in order\n", got,
            2 * TICKTIME);
    cr_assert_eq(got, sent, "%ld sent, %ld in the mailbox", sent, got);
    cr_assert(h_eval_expect(flooder, member, "true"));
    enode_mbox_free(mb);
}

Test(flood, a_new_peer_is_answered_and_ticks_go_on, .init = up_threaded,
     .fini = down, .timeout = 180)
{
    flood_and_ping();
}

Test(flood, the_same_in_event_loop_mode, .init = up_event_loop, .fini = down,
     .timeout = 180)
{
    flood_and_ping();
}
