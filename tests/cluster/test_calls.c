/* test_calls.c - gen:call from C to Erlang servers and from Erlang to C
 * mailboxes, and the test peer (enode-peer) driven from Erlang. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    cr_assert_eq(h_enode_new(cluster, &node, "caller", NULL, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(enode_start_thread(node), 0);
}

static void down(void)
{
    enode_free(node);
    h_cluster_stop(cluster);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

TestSuite(calls, .init = up, .fini = down, .timeout = 90);

Test(calls, c_calls_an_erlang_gen_server)
{
    enode_mbox_t *mb;
    ei_x_buff req, rep;
    char atom[MAXATOMLEN_UTF8];
    int i = 0, v;

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    /* net_kernel is a gen_server: {is_auth, Node} -> yes. */
    ei_x_new_with_version(&req);
    ei_x_encode_tuple_header(&req, 2);
    ei_x_encode_atom(&req, "is_auth");
    ei_x_encode_atom(&req, enode_name(node));
    cr_assert_eq(enode_call(mb, NULL, "net_kernel", h_node_name(otp), &req,
                            &rep, 5000), 0, "%s", enode_last_error(node));
    ei_decode_version(rep.buff, &i, &v);
    cr_assert_eq(ei_decode_atom(rep.buff, &i, atom), 0);
    cr_assert_str_eq(atom, "yes");
    ei_x_free(&rep);
    ei_x_free(&req);

    /* A server written for the test: the reply depends on the request. */
    cr_assert(h_eval_expect(otp,
        "P = spawn(fun L() -> receive {'$gen_call', From, {double, X}} -> "
        "gen:reply(From, 2 * X), L() end end), register(doubler, P), ok.",
        "ok"));
    ei_x_new_with_version(&req);
    ei_x_encode_tuple_header(&req, 2);
    ei_x_encode_atom(&req, "double");
    ei_x_encode_long(&req, 21);
    cr_assert_eq(enode_call(mb, NULL, "doubler", h_node_name(otp), &req, &rep,
                            5000), 0, "%s", enode_last_error(node));
    long got;
    i = 0;
    ei_decode_version(rep.buff, &i, &v);
    cr_assert_eq(ei_decode_long(rep.buff, &i, &got), 0);
    cr_assert_eq(got, 42);
    ei_x_free(&rep);
    ei_x_free(&req);
    enode_mbox_free(mb);
}

Test(calls, a_dead_server_or_node_is_a_prompt_error)
{
    enode_mbox_t *mb;
    ei_x_buff req, rep;
    long t0;

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    ei_x_new_with_version(&req);
    ei_x_encode_atom(&req, "hello");

    t0 = now_ms();
    cr_assert_eq(enode_call(mb, NULL, "nobody", h_node_name(otp), &req, &rep,
                            10000), ENODE_ENOTFOUND);
    cr_assert_lt(now_ms() - t0, 3000, "prompt, not the timeout");
    cr_assert(strstr(enode_last_error(node), "noproc"), "%s",
              enode_last_error(node));

    t0 = now_ms();
    cr_assert_eq(enode_call(mb, NULL, "srv", "absent@localhost", &req, &rep,
                            10000), ENODE_ECONN);
    cr_assert_lt(now_ms() - t0, 9000);

    /* A server that never answers: the timeout, and the mailbox is clean. */
    cr_assert(h_eval_expect(otp,
        "register(mute, spawn(fun() -> receive stop -> ok end end)), ok.",
        "ok"));
    cr_assert_eq(enode_call(mb, NULL, "mute", h_node_name(otp), &req, &rep,
                            500), ENODE_ETIMEOUT);
    enode_msg_t m;
    cr_assert_eq(enode_receive(mb, &m, 300), ENODE_ETIMEOUT,
                 "no DOWN left behind");
    ei_x_free(&req);
    enode_mbox_free(mb);
}

/* A C server: answers {add, A, B} with A + B until it gets `stop`. */
static void *adder(void *arg)
{
    enode_mbox_t *mb = arg;
    for (;;) {
        enode_msg_t m;
        enode_from_t from;
        int at, arity;
        long a, b;
        if (enode_receive(mb, &m, 20000) < 0)
            return NULL;
        if (!enode_gen_call_parse(&m, &from, &at)) {
            enode_msg_free(&m);
            return NULL;
        }
        ei_x_buff rep;
        ei_x_new_with_version(&rep);
        if (ei_decode_tuple_header(m.msg.buff, &at, &arity) == 0 &&
            arity == 3 && ei_skip_term(m.msg.buff, &at) == 0 &&
            ei_decode_long(m.msg.buff, &at, &a) == 0 &&
            ei_decode_long(m.msg.buff, &at, &b) == 0)
            ei_x_encode_long(&rep, a + b);
        else
            ei_x_encode_atom(&rep, "badarg");
        enode_gen_reply(mb, &from, &rep);
        ei_x_free(&rep);
        enode_msg_free(&m);
    }
}

Test(calls, erlang_calls_a_c_mailbox)
{
    enode_mbox_t *mb;
    pthread_t t;

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_register(mb, "adder"), 0);
    pthread_create(&t, NULL, adder, mb);
    /* gen_server:call uses gen:call, with an [alias|Ref] tag on OTP 24+. */
    cr_assert(h_eval_expectf(otp, "{5,{ok,42}}",
                             "{gen_server:call({adder, '%s'}, {add, 2, 3}), "
                             "gen:call({adder, '%s'}, '$gen_call', "
                             "{add, 40, 2}, 5000)}.",
                             enode_name(node), enode_name(node)));
    /* Ending it: a non-call message makes the thread return. */
    cr_assert(h_eval_expectf(otp, "stop", "{adder, '%s'} ! stop.",
                             enode_name(node)));
    pthread_join(t, NULL);
    enode_mbox_free(mb);
}

/* ---- enode-peer, driven from Erlang ------------------------------------- */

static h_cnode_t *start_peer(void)
{
    char prog[1024];
    const char *argv[] = {h_build_path("tests/cluster/enode-peer", prog,
                                       sizeof prog),
                          "-sname", "peer", "-setcookie",
                          h_cluster_cookie(cluster), "-proto_dist", "inet_tls",
                          "-ssl_dist_optfile", h_cluster_optfile(cluster),
                          NULL};
    h_cnode_t *p = h_cnode_start(cluster, argv, 15000);
    cr_assert_not_null(p);
    return p;
}

/* Erlang: R(Request) sends {self(), Ref, Request} to the peer and waits
 * for {Ref, Reply}. */
#define REQ                                                                  \
    "R = fun(Q) -> Ref = make_ref(), {peer, '%s'} ! {self(), Ref, Q}, "      \
    "receive {Ref, A} -> A after 5000 -> timeout end end, "

Test(calls, peer_links_monitors_calls_and_exits)
{
    h_cnode_t *p = start_peer();
    const char *pn = h_cnode_name(p);

    /* self, echo, trap_exit + link, then a linked Erlang process dies. */
    cr_assert(h_eval_expectf(otp, "{true,hello,ok,ok,ok,{'EXIT',boom}}",
        REQ "Pid = R(self), {peer, '%s'} ! {self(), hello}, "
        "E = receive hello -> hello after 3000 -> none end, "
        "V = spawn(fun() -> receive go -> exit(boom) end end), "
        "T = R({trap_exit, true}), L = R({link, V}), "
        "M = R({send, self(), ok}), receive ok -> ok end, V ! go, "
        "X = receive {'EXIT', V, Why} -> {'EXIT', Why} after 5000 -> none end, "
        "{is_pid(Pid), E, T, L, M, X}.", pn, pn));
    /* A monitor on a process that dies: the DOWN is forwarded to us. */
    cr_assert(h_eval_expectf(otp, "{true,gone}",
        REQ "V = spawn(fun() -> receive go -> exit(gone) end end), "
        "Ref = R({monitor, V}), V ! go, "
        "D = receive {'DOWN', Ref, process, V, Why} -> Why after 5000 -> none "
        "end, {is_reference(Ref), D}.", pn));
    /* The peer calls a server on our node. */
    cr_assert(h_eval_expectf(otp, "{ok,{pong,7}}",
        REQ "register(ponger, spawn(fun() -> receive {'$gen_call', F, {ping, "
        "N}} -> gen:reply(F, {pong, N}) end end)), "
        "R({call, {ponger, node()}, {ping, 7}, 5000}).", pn));
    cr_assert(h_eval_expectf(otp, "{error,noproc}",
        REQ "R({call, {no_such, node()}, x, 2000}).", pn));
    /* {exit, Reason}: a linked Erlang process sees it, a new peer comes. */
    cr_assert(h_eval_expectf(otp, "{{'EXIT',bye},true}",
        REQ "process_flag(trap_exit, true), Old = R(self), link(Old), "
        "{peer, '%s'} ! {self(), make_ref(), {exit, bye}}, "
        "X = receive {'EXIT', Old, Why} -> {'EXIT', Why} after 5000 -> none "
        "end, timer:sleep(100), New = R(self), {X, New =/= Old}.", pn, pn));
    h_cnode_stop(p);
}
