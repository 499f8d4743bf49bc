/* test_rpc.c - Erlang calling C functions with rpc:call and erpc:call,
 * and the rex protocol that ei_rpc speaks. */
#include <criterion/criterion.h>
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
    cr_assert(h_eval_expectf(otp, "{badrpc,undef}",
                             "{badrpc, {'EXIT', {R, _}}} = rpc:call('%s', math,"
                             " nope, []), {badrpc, R}.", n));
    cr_assert(h_eval_expectf(otp, "{error,undef}",
                             "try erpc:call('%s', nosuch, f, [1]) catch "
                             "error:{exception, R, _} -> {error, R} end.", n));
    cr_assert(h_eval_expectf(otp, "{error,{failed,on_purpose}}",
                             "try erpc:call('%s', math, fail, []) catch "
                             "error:{exception, R, _} -> {error, R} end.", n));
    cr_assert(h_eval_expectf(otp, "{badrpc,{failed,on_purpose}}",
                             "{badrpc, {'EXIT', {R, _}}} = rpc:call('%s', "
                             "math, fail, []), {badrpc, R}.", n));
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
