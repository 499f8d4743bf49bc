/* test_partition.c - a network partition between the C node and an OTP
 * node, and its end.
 *
 * The OTP node runs in a network namespace of its own, joined to ours by
 * a veth pair; setting our end of the pair down cuts the network without
 * closing a socket, as a failed switch or cable does. Nothing arrives and
 * nothing is refused: only the tick timeout can tell. Both nodes run
 * without EPMD on one port (-erl_epmd_port), since an EPMD in our
 * namespace cannot be reached from theirs. Needs root and `ip netns`;
 * skipped, saying why, where a namespace cannot be made.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

#define TICKTIME 4 /* seconds, on both nodes */

static h_cluster_t *cluster;
static h_node_t *otp;
static enode_t *node;
static char ns[32], veth_ours[16], veth_theirs[16];
static char addr_ours[32], addr_theirs[32];
static int have_ns;

/* Run a shell command quietly; its exit status. */
static int run(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char quiet[600];
    snprintf(quiet, sizeof quiet, "%s >/dev/null 2>&1", cmd);
    int st = system(quiet);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void ns_delete(void)
{
    if (!have_ns)
        return;
    run("ip netns delete %s", ns); /* takes its end of the pair along */
    run("ip link delete %s", veth_ours);
    have_ns = 0;
}

/* A namespace with a veth pair to ours, addresses from the test's pid so
 * that two runs never share one. 0, or -1 when it cannot be made. */
static int ns_make(void)
{
    int me = (int)getpid();
    int a = 100 + me % 100, b = (me / 100) % 250;

    snprintf(ns, sizeof ns, "enode-part-%d", me);
    snprintf(veth_ours, sizeof veth_ours, "enp%da", me % 100000);
    snprintf(veth_theirs, sizeof veth_theirs, "enp%db", me % 100000);
    snprintf(addr_ours, sizeof addr_ours, "10.%d.%d.1", a, b);
    snprintf(addr_theirs, sizeof addr_theirs, "10.%d.%d.2", a, b);
    if (geteuid() != 0 || run("ip netns add %s", ns) != 0)
        return -1;
    have_ns = 1;
    if (run("ip link add %s type veth peer name %s", veth_ours,
            veth_theirs) != 0 ||
        run("ip link set %s netns %s", veth_theirs, ns) != 0 ||
        run("ip addr add %s/30 dev %s", addr_ours, veth_ours) != 0 ||
        run("ip link set %s up", veth_ours) != 0 ||
        run("ip netns exec %s ip addr add %s/30 dev %s", ns, addr_theirs,
            veth_theirs) != 0 ||
        run("ip netns exec %s ip link set %s up", ns, veth_theirs) != 0 ||
        run("ip netns exec %s ip link set lo up", ns) != 0) {
        ns_delete();
        return -1;
    }
    return 0;
}

/* A port free on our side; the namespace has all its ports free. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* The cluster's TLS options, but without the host name check: the
 * certificates name this host, not the namespace's addresses. */
static const char *optfile_without_sni(void)
{
    static char path[1024];
    char pki[1024];

    snprintf(path, sizeof path, "%s/partition.conf", h_cluster_dir(cluster));
    snprintf(pki, sizeof pki, "%s", h_cluster_pki_dir(cluster));
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "[{server,[{certfile,\"%s/node.pem\"},{keyfile,\"%s/node.key\"},"
            "{cacertfile,\"%s/ca.pem\"},{verify,verify_peer},"
            "{fail_if_no_peer_cert,true}]},\n"
            " {client,[{certfile,\"%s/node.pem\"},{keyfile,\"%s/node.key\"},"
            "{cacertfile,\"%s/ca.pem\"},{verify,verify_peer},"
            "{server_name_indication,disable}]}].\n",
            pki, pki, pki, pki, pki, pki);
    cr_assert_eq(fclose(f), 0);
    return path;
}

static void start_otp(const char *optfile, int port)
{
    static char port_arg[16], tick_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    snprintf(tick_arg, sizeof tick_arg, "%d", TICKTIME);
    const char *wrapper[] = {"ip", "netns", "exec", ns, NULL};
    const char *extra[] = {"-erl_epmd_port", port_arg, "-kernel",
                           "net_ticktime", tick_arg, NULL};
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.longnames = true;
    o.host = addr_theirs;
    o.optfile = optfile;
    o.wrapper = wrapper;
    o.extra_args = extra;
    o.start_timeout_ms = 60000;
    otp = h_node_start(cluster, "part", &o);
    cr_assert_not_null(otp, "the OTP node in %s did not start", ns);
}

static void start_c_node(const char *optfile, int port)
{
    enode_config_t *cfg;
    char name[64], err[512];

    snprintf(name, sizeof name, "cpart_%d@%s", (int)getpid(), addr_ours);
    cr_assert_eq(enode_config_new(&cfg), 0);
    cr_assert_eq(enode_config_set_name(cfg, name, 1), 0);
    cr_assert_eq(enode_config_set_cookie(cfg, h_cluster_cookie(cluster)), 0);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(cfg, optfile), 0);
    cr_assert_eq(enode_config_set_dist_port(cfg, port), 0);
    cr_assert_eq(enode_config_set_net_ticktime(cfg, TICKTIME), 0);
    int rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(enode_start_thread(node), 0);
}

static void up(void)
{
    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    if (ns_make() < 0)
        return; /* the test says why it skips */
    int port = free_port();
    cr_assert_gt(port, 0);
    const char *optfile = optfile_without_sni();
    start_otp(optfile, port);
    start_c_node(optfile, port);
}

static void down(void)
{
    enode_free(node);
    node = NULL;
    h_cluster_stop(cluster);
    ns_delete();
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An Erlang process registered as `name` that waits to be stopped. */
static void start_victim(const char *name)
{
    cr_assert(h_eval_expectf(otp, "true",
        "P = spawn(fun() -> register(%s, self()), "
        "receive stop -> ok end end), timer:sleep(50), is_pid(P).", name));
}

/* The pid of the process registered as `name` on the OTP node: its
 * agent sends {pid, Pid} to mb. */
static void victim_pid(enode_mbox_t *mb, const char *name, erlang_pid *pid)
{
    ei_x_buff x;
    char expr[512];
    enode_msg_t m;
    int i = 0, v, a;
    size_t at;

    /* mb's pid as binary_to_term(<<...>>) */
    ei_x_new_with_version(&x);
    ei_x_encode_pid(&x, enode_mbox_pid(mb));
    at = (size_t)snprintf(expr, sizeof expr, "binary_to_term(<<");
    for (int k = 0; k < x.index && at + 5 < sizeof expr; k++)
        at += (size_t)snprintf(expr + at, sizeof expr - at, "%s%u",
                               k ? "," : "", (unsigned char)x.buff[k]);
    snprintf(expr + at, sizeof expr - at, ">>) ! {pid, whereis(%s)}, ok.",
             name);
    ei_x_free(&x);
    cr_assert(h_eval_expect(otp, expr, "ok"));
    cr_assert_eq(enode_receive(mb, &m, 5000), 0);
    ei_decode_version(m.msg.buff, &i, &v);
    ei_decode_tuple_header(m.msg.buff, &i, &a);
    ei_skip_term(m.msg.buff, &i);
    cr_assert_eq(ei_decode_pid(m.msg.buff, &i, pid), 0);
    enode_msg_free(&m);
}

/* The next message's tag, and its last element if that is an atom. */
static void next_signal(enode_mbox_t *mb, char *tag, char *last, int ms)
{
    enode_msg_t m;
    int i = 0, v, arity;

    cr_assert_eq(enode_receive(mb, &m, ms), 0, "no signal within %d ms", ms);
    cr_assert_eq(ei_decode_version(m.msg.buff, &i, &v), 0);
    cr_assert_eq(ei_decode_tuple_header(m.msg.buff, &i, &arity), 0);
    cr_assert_eq(ei_decode_atom(m.msg.buff, &i, tag), 0);
    for (int k = 2; k < arity; k++)
        ei_skip_term(m.msg.buff, &i);
    last[0] = '\0';
    if (arity > 1)
        ei_decode_atom(m.msg.buff, &i, last);
    enode_msg_free(&m);
}

/* Links, monitors and node monitors across a partition fire within the
 * tick time, with noconnection, on both sides; when the network returns,
 * the nodes connect again. */
Test(partition, detected_within_net_ticktime_and_healed, .init = up,
     .fini = down, .timeout = 180)
{
    if (!have_ns)
        cr_skip_test("cannot make a network namespace (needs root and "
                     "iproute2's `ip netns`): no partition test here");
    enode_mbox_t *mb;
    erlang_pid victim;
    erlang_ref mref;
    char peer_expr[256];

    cr_assert_eq(enode_connect(node, h_node_name(otp)), 0, "%s",
                 enode_last_error(node));
    start_victim("pvictim");
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    victim_pid(mb, "pvictim", &victim);
    cr_assert_eq(enode_trap_exit(mb, 1), 0);
    cr_assert_eq(enode_monitor_nodes(mb, 1), 0);
    cr_assert_eq(enode_link(mb, &victim), 0);
    cr_assert_eq(enode_monitor(mb, &victim, &mref), 0);
    /* The OTP side watches us too. */
    cr_assert(h_eval_expectf(otp, "ok",
        "Self = self(), spawn(fun() -> monitor_node('%s', true), "
        "Self ! watching, receive {nodedown, N} -> "
        "register(saw_nodedown, spawn(fun() -> receive _ -> ok end end)) "
        "end end), receive watching -> ok end.", enode_name(node)));
    usleep(300000);

    double cut = now_s();
    cr_assert_eq(run("ip link set %s down", veth_ours), 0);
    int down = 0, exit_ = 0, nodedown = 0;
    for (int k = 0; k < 3; k++) {
        char tag[MAXATOMLEN_UTF8], last[MAXATOMLEN_UTF8];
        next_signal(mb, tag, last, 3 * TICKTIME * 1000);
        if (strcmp(tag, "nodedown") == 0) {
            nodedown++;
            continue;
        }
        cr_assert_str_eq(last, "noconnection", "%s with %s", tag, last);
        down += strcmp(tag, "DOWN") == 0;
        exit_ += strcmp(tag, "EXIT") == 0;
    }
    double took = now_s() - cut;
    fprintf(stderr, "partition: links, monitors and nodedown fired %.1f s "
                    "after the cut (net_ticktime %d s)\n", took, TICKTIME);
    cr_assert(down == 1 && exit_ == 1 && nodedown == 1);
    /* OTP declares a peer dead after net_ticktime, give or take a
     * quarter; enode must not take longer. */
    cr_assert(took <= TICKTIME * 1.25 + 1.0, "took %.1f s", took);
    cr_assert(took >= TICKTIME * 0.5, "only %.1f s: not a tick timeout",
              took);
    cr_assert(h_wait_until(otp, "is_pid(whereis(saw_nodedown)).", "true",
                           3 * TICKTIME * 1000),
              "the OTP node did not see us go");

    /* The network returns: the nodes connect again. The C node dials:
     * OTP 25's inet_tls_dist checks the host name against the
     * certificate whatever the options say, and ours name this host,
     * not the namespace's address. */
    cr_assert_eq(run("ip link set %s up", veth_ours), 0);
    int rc = -1;
    for (int tries = 0; tries < 20 && rc != 0; tries++) {
        rc = enode_connect(node, h_node_name(otp));
        if (rc != 0)
            sleep(1);
    }
    cr_assert_eq(rc, 0, "no connection after the network returned: %s",
                 enode_last_error(node));
    snprintf(peer_expr, sizeof peer_expr, "lists:member('%s', nodes()).",
             enode_name(node));
    cr_assert(h_wait_until(otp, peer_expr, "true", 10000),
              "the OTP node does not list us again");
    cr_assert_eq(enode_is_connected(node, h_node_name(otp)), 1);
    char tag[MAXATOMLEN_UTF8], last[MAXATOMLEN_UTF8];
    next_signal(mb, tag, last, 5000);
    cr_assert_str_eq(tag, "nodeup");
    enode_mbox_free(mb);
}
