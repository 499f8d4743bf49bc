/* test_rpc.c - Erlang calling C functions: every form of OTP's rpc and
 * erpc modules (call, block_call, cast, multicall, send_request,
 * async_call), the built-in functions every node answers, exceptions as
 * an Erlang node reports them, and the rex protocol that ei_rpc speaks. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *otp;
static enode_t *node;
static enode_mbox_t *notes; /* where math:note/1 sends what it is given */

/* math:add(A, B) -> A + B */
static int add(void *user, const char *args, int i, int arity,
               ei_x_buff *result)
{
    long a, b;
    (void)user;
    if (arity != 2 || ei_decode_long(args, &i, &a) < 0 ||
        ei_decode_long(args, &i, &b) < 0) {
        ei_x_encode_atom(result, "badarg");
        return 1;
    }
    ei_x_encode_long(result, a + b);
    return 0;
}

/* math:fail() -> error:{failed, on_purpose} */
static int fail(void *user, const char *args, int i, int arity,
                ei_x_buff *result)
{
    (void)user, (void)args, (void)i, (void)arity;
    ei_x_encode_tuple_header(result, 2);
    ei_x_encode_atom(result, "failed");
    ei_x_encode_atom(result, "on_purpose");
    return 1;
}

/* math:note(Term) -> ok, after sending Term to the `notes` mailbox:
 * a function may use the node while it runs. */
static int note(void *user, const char *args, int i, int arity,
                ei_x_buff *result)
{
    ei_x_buff x;
    int start = i;
    (void)user;
    if (arity != 1 || ei_skip_term(args, &i) < 0)
        return 1;
    ei_x_new_with_version(&x);
    ei_x_append_buf(&x, args + start, i - start);
    enode_send(notes, enode_mbox_pid(notes), &x);
    ei_x_free(&x);
    ei_x_encode_atom(result, "ok");
    return 0;
}

/* An expected text with node names in it (~w prints them unquoted). */
static const char *want(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static const char *want(const char *fmt, ...)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

static void up(void)
{
    char err[512];

    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    otp = h_node_start(cluster, "erl", NULL);
    cr_assert_not_null(otp);
    cr_assert_eq(h_enode_new(cluster, &node, "cfuns", NULL, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(enode_rpc_register(node, "math", "add", add, NULL), 0);
    cr_assert_eq(enode_rpc_register(node, "math", "fail", fail, NULL), 0);
    cr_assert_eq(enode_rpc_register(node, "math", "note", note, NULL), 0);
    cr_assert_eq(enode_mbox_new(node, &notes), 0);
    cr_assert_eq(enode_start_thread(node), 0);
}

static void down(void)
{
    enode_free(node);
    h_cluster_stop(cluster);
}

TestSuite(rpc, .init = up, .fini = down, .timeout = 60);

Test(rpc, rpc_and_erpc_call_c_functions)
{
    const char *n = enode_name(node);
    cr_assert(h_eval_expectf(otp, "{5,42}",
                             "{rpc:call('%s', math, add, [2, 3]), "
                             "erpc:call('%s', math, add, [40, 2])}.", n, n));
    /* Many in a row over one connection. */
    cr_assert(h_eval_expectf(otp, "true",
                             "lists:all(fun(I) -> rpc:call('%s', math, add, "
                             "[I, I]) =:= 2 * I end, lists:seq(1, 200)).", n));
}

Test(rpc, undefined_and_failing_functions_fail_like_erlang)
{
    const char *n = enode_name(node);
    cr_assert(h_eval_expectf(otp, "{badrpc,{'EXIT',{undef,[{math,nope,[],[]}]}}}",
                             "rpc:call('%s', math, nope, []).", n));
    cr_assert(h_eval_expectf(otp, "{exception,undef,[{nosuch,f,[1],[]}]}",
                             "try erpc:call('%s', nosuch, f, [1]) catch "
                             "error:E -> E end.", n));
    /* A C function that fails is error:Reason in that function. */
    cr_assert(h_eval_expectf(otp,
                             "{exception,{failed,on_purpose},[{math,fail,0,[]}]}",
                             "try erpc:call('%s', math, fail, []) catch "
                             "error:E -> E end.", n));
    cr_assert(h_eval_expectf(otp,
                             "{badrpc,{'EXIT',{{failed,on_purpose},[{math,fail,0,[]}]}}}",
                             "rpc:call('%s', math, fail, []).", n));
}

/* The same calls to an OTP node and to the C node give the same
 * answers, exception for exception. */
Test(rpc, exceptions_look_as_on_an_erlang_node)
{
    h_node_t *otp2 = h_node_start(cluster, "erl2", NULL);
    const char *n = enode_name(node);

    cr_assert_not_null(otp2);
    const char *o = h_node_name(otp2);
    cr_assert(h_eval_expectf(otp, "true",
                             "rpc:call('%s', nosuch, f, [1]) =:= "
                             "rpc:call('%s', nosuch, f, [1]).", o, n));
    cr_assert(h_eval_expectf(otp, "true",
                             "rpc:block_call('%s', nosuch, f, [x], 5000) =:= "
                             "rpc:block_call('%s', nosuch, f, [x], 5000).", o, n));
    cr_assert(h_eval_expectf(otp, "true",
                             "E = fun(N) -> try erpc:call(N, nosuch, f, [1]) "
                             "catch C:R -> {C, R} end end, "
                             "E('%s') =:= E('%s').", o, n));
    cr_assert(h_eval_expectf(otp, "true",
                             "erpc:multicall(['%s'], nosuch, f, []) =:= "
                             "erpc:multicall(['%s'], nosuch, f, []).", o, n));
    /* Built-ins fail with badarg as OTP's do; OTP adds error_info. */
    cr_assert(h_eval_expectf(otp, "{error,{exception,badarg,[{erlang,system_time,[bad],[]}]}}",
                             "try erpc:call('%s', erlang, system_time, [bad]) "
                             "catch C:R -> {C, R} end.", n));
    cr_assert(h_eval_expectf(otp, "{error,{exception,badarg,[{erlang,system_time,[bad],1}]}}",
                             "try erpc:call('%s', erlang, system_time, [bad]) "
                             "catch C:{exception, R, [{M, F, A, I}]} -> "
                             "{C, {exception, R, [{M, F, A, length(I)}]}} end.", o));
}

/* rpc:block_call is a gen_server call to rex, {block_call, M, F, A, GL},
 * with an infinite timeout by default: without an answer it hangs. */
Test(rpc, block_call)
{
    const char *n = enode_name(node);
    cr_assert(h_eval_expectf(otp, "5", "rpc:block_call('%s', math, add, [2, 3]).", n));
    cr_assert(h_eval_expectf(otp, "42",
                             "rpc:block_call('%s', math, add, [40, 2], 5000).", n));
    cr_assert(h_eval_expectf(otp, "{badrpc,{'EXIT',{undef,[{math,nope,[1],[]}]}}}",
                             "rpc:block_call('%s', math, nope, [1]).", n));
    cr_assert(h_eval_expectf(otp,
                             "{badrpc,{'EXIT',{{failed,on_purpose},[{math,fail,0,[]}]}}}",
                             "rpc:block_call('%s', math, fail, []).", n));
}

/* The next message of notes, an atom, as text. */
static const char *next_note(int timeout_ms)
{
    static char atom[MAXATOMLEN_UTF8];
    enode_msg_t m;
    int i = 0, v;

    if (enode_receive(notes, &m, timeout_ms) < 0)
        return "(none)";
    ei_decode_version(m.msg.buff, &i, &v);
    if (ei_decode_atom(m.msg.buff, &i, atom) < 0)
        strcpy(atom, "(not an atom)");
    enode_msg_free(&m);
    return atom;
}

/* rpc:cast and erpc:cast spawn erpc:execute_cast/3 without a monitor:
 * nobody waits, but the function must run. */
Test(rpc, casts_run_the_function)
{
    const char *n = enode_name(node);
    cr_assert(h_eval_expectf(otp, "true", "rpc:cast('%s', math, note, [by_rpc]).", n));
    cr_assert_str_eq(next_note(5000), "by_rpc");
    cr_assert(h_eval_expectf(otp, "ok", "erpc:cast('%s', math, note, [by_erpc]).", n));
    cr_assert_str_eq(next_note(5000), "by_erpc");
    cr_assert(h_eval_expectf(otp, "ok",
                             "erpc:multicast(['%s'], math, note, [by_multicast]).", n));
    cr_assert_str_eq(next_note(5000), "by_multicast");
    cr_assert(h_eval_expectf(otp, "abcast",
                             "rpc:eval_everywhere(['%s'], math, note, [everywhere]).", n));
    cr_assert_str_eq(next_note(5000), "everywhere");
    /* gen_server:cast to rex, as rpc:cast did before erpc. */
    cr_assert(h_eval_expectf(otp, "ok",
                             "gen_server:cast({rex, '%s'}, {cast, math, note, "
                             "[by_rex], group_leader()}).", n));
    cr_assert_str_eq(next_note(5000), "by_rex");
    /* A cast that fails costs nothing but a log line. */
    cr_assert(h_eval_expectf(otp, "ok", "erpc:cast('%s', math, fail, []).", n));
    cr_assert(h_eval_expectf(otp, "5", "rpc:call('%s', math, add, [2, 3]).", n));
}

Test(rpc, multicall)
{
    const char *n = enode_name(node), *o = h_node_name(otp);
    cr_assert(h_eval_expectf(otp, "[{ok,3},{ok,3}]",
                             "erpc:multicall(['%s', '%s'], math, add, [1, 2]).", n, n));
    cr_assert(h_eval_expectf(otp, want("{[%s,%s],[]}", n, o),
                             "rpc:multicall(['%s', node()], erlang, node, []).", n));
    cr_assert(h_eval_expectf(otp, "[{ok,3},{error,{exception,{failed,on_purpose},[{math,fail,0,[]}]}}]",
                             "[hd(erpc:multicall(['%s'], math, add, [1, 2], 5000)), "
                             "hd(erpc:multicall(['%s'], math, fail, []))].", n, n));
    cr_assert(h_eval_expectf(otp, "{[7],[nosuch@nohost]}",
                             "rpc:multicall(['%s', nosuch@nohost], math, add, [3, 4], 5000).", n));
}

Test(rpc, send_request_and_async_call)
{
    const char *n = enode_name(node);
    cr_assert(h_eval_expectf(otp, "3",
                             "erpc:receive_response(erpc:send_request('%s', math, add, "
                             "[1, 2]), 5000).", n));
    cr_assert(h_eval_expectf(otp, "{response,9}",
                             "erpc:wait_response(erpc:send_request('%s', math, add, "
                             "[4, 5]), 5000).", n));
    cr_assert(h_eval_expectf(otp, "[3,7]",
                             "Ks = [rpc:async_call('%s', math, add, [I, I + 1]) || "
                             "I <- [1, 3]], [rpc:yield(K) || K <- Ks].", n));
    cr_assert(h_eval_expectf(otp, "{value,11}",
                             "rpc:nb_yield(rpc:async_call('%s', math, add, [5, 6]), 5000).", n));
    cr_assert(h_eval_expectf(otp, "{badrpc,{'EXIT',{{failed,on_purpose},[{math,fail,0,[]}]}}}",
                             "rpc:yield(rpc:async_call('%s', math, fail, [])).", n));
}

/* What every node answers, with no function registered. */
Test(rpc, built_in_liveness_checks)
{
    const char *n = enode_name(node), *o = h_node_name(otp);
    cr_assert(h_eval_expectf(otp, want("%s", n), "rpc:call('%s', erlang, node, []).", n));
    cr_assert(h_eval_expectf(otp, "true", "erpc:call('%s', erlang, is_alive, []).", n));
    cr_assert(h_eval_expectf(otp, want("[%s]", o), "erpc:call('%s', erlang, nodes, []).", n));
    cr_assert(h_eval_expectf(otp, want("[%s]", o), "erpc:call('%s', erlang, nodes, [visible]).", n));
    cr_assert(h_eval_expectf(otp, want("[%s,%s]", n, o),
                             "erpc:call('%s', erlang, nodes, [[this, connected]]).", n));
    cr_assert(h_eval_expectf(otp, want("{[],[%s]}", n),
                             "{erpc:call('%s', erlang, nodes, [hidden]), "
                             "erpc:call('%s', erlang, nodes, [this])}.", n, n));
    cr_assert(h_eval_expectf(otp, "[]", "erpc:call('%s', erlang, nodes, [[]]).", n));
    cr_assert(h_eval_expectf(otp, "{exception,badarg,[{erlang,nodes,[bad],[]}]}",
                             "try erpc:call('%s', erlang, nodes, [bad]) catch "
                             "error:E -> E end.", n));
    /* The time agrees with the OTP node's, in each unit. */
    cr_assert(h_eval_expectf(otp, "[true,true,true,true,true]",
                             "[abs(erpc:call('%s', erlang, system_time, U) - "
                             "apply(erlang, system_time, U)) < 2 * "
                             "erlang:convert_time_unit(1, second, "
                             "case U of [] -> native; [X] -> X end) "
                             "|| U <- [[], [second], [millisecond], [native], [1000]]].", n));
    cr_assert(h_eval_expectf(otp, "{exception,undef,[{erlang,nope,[],[]}]}",
                             "try erpc:call('%s', erlang, nope, []) catch "
                             "error:E -> E end.", n));
}

/* erlang:is_alive() -> overridden */
static int overriding(void *user, const char *args, int i, int arity,
                      ei_x_buff *result)
{
    (void)user, (void)args, (void)i, (void)arity;
    ei_x_encode_atom(result, "overridden");
    return 0;
}

Test(rpc, a_registered_function_wins_over_the_built_in)
{
    cr_assert_eq(enode_rpc_register(node, "erlang", "is_alive", overriding, NULL), 0);
    cr_assert(h_eval_expectf(otp, "overridden", "erpc:call('%s', erlang, is_alive, []).",
                             enode_name(node)));
}

/* OTP's rex asks each node that comes up for its features, and uses
 * erpc with those that answer [erpc]. */
Test(rpc, rex_says_enode_serves_erpc)
{
    char expr[512];
    snprintf(expr, sizeof expr,
             "ets:lookup(persistent_term:get(rex_nodes_observer), '%s').",
             enode_name(node));
    cr_assert(h_eval_expectf(otp, "pong", "net_adm:ping('%s').", enode_name(node)));
    cr_assert(h_wait_until(otp, expr, want("[{%s,true}]", enode_name(node)),
                           5000));
}

/* rpc:sbcast and rpc:multi_server_call relay through rex. */
Test(rpc, sbcast_through_rex)
{
    const char *n = enode_name(node);
    cr_assert_eq(enode_register(notes, "notes"), 0);
    cr_assert(h_eval_expectf(otp, want("{[%s],[]}", n), "rpc:sbcast(['%s'], notes, relayed).", n));
    cr_assert_str_eq(next_note(5000), "relayed");
    cr_assert(h_eval_expectf(otp, want("{[],[%s]}", n), "rpc:sbcast(['%s'], nobody, x).", n));
}

Test(rpc, a_function_may_use_the_node)
{
    enode_msg_t m;
    char atom[MAXATOMLEN_UTF8];
    int i = 0, v;

    cr_assert(h_eval_expectf(otp, "ok", "rpc:call('%s', math, note, [hi]).",
                             enode_name(node)));
    cr_assert_eq(enode_receive(notes, &m, 5000), 0);
    ei_decode_version(m.msg.buff, &i, &v);
    cr_assert_eq(ei_decode_atom(m.msg.buff, &i, atom), 0);
    cr_assert_str_eq(atom, "hi");
    enode_msg_free(&m);
}

Test(rpc, the_rex_protocol_of_ei_rpc)
{
    enode_t *client;
    enode_mbox_t *mb;
    char err[512];
    ei_x_buff x;
    enode_msg_t m;

    int rc = h_enode_new(cluster, &client, "rexclient", NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(enode_mbox_new(client, &mb), 0);
    /* {Self, {call, math, add, [1, 2], user}} to rex -> {rex, 3} */
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, enode_mbox_pid(mb));
    ei_x_encode_tuple_header(&x, 5);
    ei_x_encode_atom(&x, "call");
    ei_x_encode_atom(&x, "math");
    ei_x_encode_atom(&x, "add");
    ei_x_encode_list_header(&x, 2);
    ei_x_encode_long(&x, 1);
    ei_x_encode_long(&x, 2);
    ei_x_encode_empty_list(&x);
    ei_x_encode_atom(&x, "user");
    cr_assert_eq(enode_reg_send(mb, enode_name(node), "rex", &x), 0);
    ei_x_free(&x);
    cr_assert_eq(enode_receive(mb, &m, 10000), 0, "%s",
                 enode_last_error(client));
    int i = 0, v, arity;
    char atom[MAXATOMLEN_UTF8];
    long sum;
    ei_decode_version(m.msg.buff, &i, &v);
    cr_assert_eq(ei_decode_tuple_header(m.msg.buff, &i, &arity), 0);
    cr_assert_eq(ei_decode_atom(m.msg.buff, &i, atom), 0);
    cr_assert_str_eq(atom, "rex");
    cr_assert_eq(ei_decode_long(m.msg.buff, &i, &sum), 0);
    cr_assert_eq(sum, 3);
    enode_msg_free(&m);
    enode_free(client);
}
