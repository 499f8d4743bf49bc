/* test_rpc.c - Erlang calling C functions, as a fake peer plays the
 * caller's node.
 *
 * rpc:call and erpc:call (OTP 23+) arrive as SPAWN_REQUEST
 * {29, ReqId, Caller, GL, {erpc, execute_call, 4}, [monitor]} followed by
 * [ResRef, M, F, Args]. The node answers SPAWN_REPLY {31, ReqId, Caller,
 * Flags, Pid} and then, as the pretend process exits, a MONITOR_P_EXIT
 * for ReqId whose reason is the result: {ResRef, return, Value}, or
 * {ResRef, error, Reason, Stack}. rpc:cast and erpc:cast arrive as
 * SPAWN_REQUEST of {erpc, execute_cast, 3} with no options: SPAWN_REPLY,
 * and the function runs. The rex server answers {Caller, {call, M, F,
 * Args, GL}} (ei_rpc, erl_call) with {rex, Result}, its gen_server forms
 * (call, block_call; cast), sbcast, send and features_request. The node's
 * `user` answers the io protocol.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rt.h"

static enode_mbox_t *sender; /* what t:send/1 sends from */

/* lists:reverse/1 of a proper list. */
static int fn_reverse(void *user, const char *args, int index, int arity,
                      ei_x_buff *result)
{
    int starts[64], n, i = index;
    (void)user;
    if (arity != 1 || ei_decode_list_header(args, &i, &n) < 0 || n > 64) {
        ei_x_encode_atom(result, "badarg");
        return 1;
    }
    for (int k = 0; k < n; k++) {
        starts[k] = i;
        ei_skip_term(args, &i);
    }
    ei_x_encode_list_header(result, n);
    for (int k = n - 1; k >= 0; k--) {
        int end = starts[k];
        ei_skip_term(args, &end);
        ei_x_append_buf(result, args + starts[k], end - starts[k]);
    }
    ei_x_encode_empty_list(result);
    return 0;
}

/* t:sum/N: the sum of N integers. */
static int fn_sum(void *user, const char *args, int index, int arity,
                  ei_x_buff *result)
{
    long sum = 0, v;
    (void)user;
    for (int k = 0; k < arity; k++) {
        if (ei_decode_long(args, &index, &v) < 0) {
            ei_x_encode_atom(result, "badarg");
            return 1;
        }
        sum += v;
    }
    ei_x_encode_long(result, sum);
    return 0;
}

/* t:fail/N fails with {failed, N}. */
static int fn_fail(void *user, const char *args, int index, int arity,
                   ei_x_buff *result)
{
    (void)user;
    (void)args;
    (void)index;
    ei_x_format_wo_ver(result, "{failed, ~i}", arity);
    return 1;
}

/* t:send(Pid) sends {rpc_sent, hello} to Pid, then returns ok. */
static int fn_send(void *user, const char *args, int index, int arity,
                   ei_x_buff *result)
{
    erlang_pid to;
    (void)user;
    if (arity != 1 || ei_decode_pid(args, &index, &to) < 0) {
        ei_x_encode_atom(result, "badarg");
        return 1;
    }
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_format_wo_ver(&x, "{rpc_sent, hello}");
    int rc = enode_send(sender, &to, &x);
    ei_x_free(&x);
    ei_x_encode_atom(result, rc == 0 ? "ok" : "failed");
    return 0;
}

/* t:big(N) returns a binary of N bytes. */
static int fn_big(void *user, const char *args, int index, int arity,
                  ei_x_buff *result)
{
    static char bytes[1 << 20];
    long n;
    (void)user;
    if (arity != 1 || ei_decode_long(args, &index, &n) < 0 || n < 0 ||
        n > (long)sizeof bytes) {
        ei_x_encode_atom(result, "badarg");
        return 1;
    }
    memset(bytes, 'b', (size_t)n);
    ei_x_encode_binary(result, bytes, n);
    return 0;
}

/* erlang:node() -> mine, to replace the built-in in one test. */
static int fn_my_node(void *user, const char *args, int index, int arity,
                      ei_x_buff *result)
{
    (void)user, (void)args, (void)index, (void)arity;
    ei_x_encode_atom(result, "mine");
    return 0;
}

static void up(void)
{
    rt_setup();
    cr_assert_eq(
        enode_rpc_register(rt_node, "lists", "reverse", fn_reverse, NULL), 0);
    cr_assert_eq(enode_rpc_register(rt_node, "t", "sum", fn_sum, NULL), 0);
    cr_assert_eq(enode_rpc_register(rt_node, "t", "fail", fn_fail, NULL), 0);
    cr_assert_eq(enode_rpc_register(rt_node, "t", "send", fn_send, NULL), 0);
    cr_assert_eq(enode_rpc_register(rt_node, "t", "big", fn_big, NULL), 0);
    sender = rt_mbox(NULL, 0);
}

TestSuite(rpc, .init = up, .fini = rt_teardown, .timeout = 20);

/* ---- erpc: SPAWN_REQUEST ------------------------------------------------- */

/* What erpc:call(Node, M, F, Args) sends, Args given as a term. */
static void erpc_call(const erlang_ref *req, const erlang_ref *res_ref,
                      const erlang_pid *caller, const char *opts, const char *m,
                      const char *f, const ei_x_buff *args)
{
    erlang_pid gl = rt_peer_pid(2);
    ei_x_buff *argl = rt_term_slot();

    ei_x_encode_list_header(argl, 4);
    ei_x_encode_ref(argl, res_ref);
    ei_x_encode_atom(argl, m);
    ei_x_encode_atom(argl, f);
    ei_x_append_buf(argl, args->buff + 1, args->index - 1);
    ei_x_encode_empty_list(argl);
    cr_assert_eq(fp_spawn_request(rt_fp, req, caller, &gl, "erpc",
                                  "execute_call", 4, rt_term(opts), argl),
                 0, "%s", fp_error(rt_fp));
}

/* The SPAWN_REPLY to caller for req; returns the new process's pid. */
static erlang_pid expect_spawn_reply(const erlang_pid *caller,
                                     const erlang_ref *req, long flags)
{
    const fp_pkt_t *r = fp_expect_op(rt_fp, EN_DOP_SPAWN_REPLY, T_MS);
    erlang_pid worker;
    int i = 0;

    cr_assert(r, "no SPAWN_REPLY: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&r->m.to_pid, caller));
    cr_assert(fp_ref_eq(&r->m.ref, req));
    cr_assert_eq(r->m.spawn_flags, flags);
    cr_assert_eq(ei_decode_pid(r->m.spawn_result, &i, &worker), 0, "result %s",
                 fp_text(r->m.spawn_result, r->m.spawn_result_len));
    cr_assert_str_eq(worker.node, RT_NODE);
    return worker;
}

static int is_monitor_exit(const fp_pkt_t *p, void *ud)
{
    (void)ud;
    return p->rc == 0 && (p->m.op == EN_DOP_MONITOR_P_EXIT ||
                          p->m.op == EN_DOP_PAYLOAD_MONITOR_P_EXIT);
}

/* The result of the call: the reason of the monitor's exit, as text. */
static const char *expect_result(const erlang_pid *worker,
                                 const erlang_pid *caller,
                                 const erlang_ref *req)
{
    const fp_pkt_t *x = fp_expect(rt_fp, is_monitor_exit, NULL, T_MS);
    cr_assert(x, "no MONITOR_P_EXIT: %s\nnode log:\n%s", fp_error(rt_fp),
              rt_log());
    cr_assert(x->m.has_from && fp_pid_eq(&x->m.from, worker));
    cr_assert(fp_pid_eq(&x->m.to_pid, caller));
    cr_assert(fp_ref_eq(&x->m.ref, req));
    return fp_text(x->m.reason, x->m.reason_len);
}

Test(rpc, erpc_call_gets_spawn_reply_then_the_value_as_down_reason)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref req, res;

    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    erpc_call(&req, &res, &caller, "[monitor]", "lists", "reverse",
              rt_term("[[1, two, {3}]]"));
    erlang_pid worker = expect_spawn_reply(&caller, &req, 2);
    cr_assert_str_eq(expect_result(&worker, &caller, &req),
                     rt_fmt("{%s, return, [{3}, two, 1]}", fp_ref_text(&res)));
}

Test(rpc, an_undefined_function_is_undef)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref req, res;

    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    erpc_call(&req, &res, &caller, "[monitor]", "no", "such", rt_term("[1]"));
    erlang_pid worker = expect_spawn_reply(&caller, &req, 2);
    cr_assert_str_eq(
        expect_result(&worker, &caller, &req),
        rt_fmt("{%s, error, undef, [{no, such, [1], []}]}", fp_ref_text(&res)));
}

Test(rpc, a_failing_function_is_an_error_with_its_reason)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref req, res;

    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    erpc_call(&req, &res, &caller, "[monitor]", "t", "fail", rt_term("[a, b]"));
    erlang_pid worker = expect_spawn_reply(&caller, &req, 2);
    cr_assert_str_eq(expect_result(&worker, &caller, &req),
                     rt_fmt("{%s, error, {failed, 2}, [{t, fail, 2, []}]}",
                            fp_ref_text(&res)));
}

Test(rpc, arguments_erlang_sends_as_a_string_are_a_list)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref req, res;
    ei_x_buff *args = rt_term_slot();

    /* erpc:call(N, t, sum, [2, 3, 4]): term_to_binary makes the list of
     * small integers a STRING_EXT. */
    ei_x_encode_string_len(args, "\2\3\4", 3);
    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    erpc_call(&req, &res, &caller, "[monitor]", "t", "sum", args);
    erlang_pid worker = expect_spawn_reply(&caller, &req, 2);
    cr_assert_str_eq(expect_result(&worker, &caller, &req),
                     rt_fmt("{%s, return, 9}", fp_ref_text(&res)));
}

Test(rpc, with_link_the_result_comes_as_an_exit_signal_too)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref req, res;

    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    erpc_call(&req, &res, &caller, "[link, monitor]", "t", "sum",
              rt_term("[[]]") /* arity 1, not an integer: fails */);
    erlang_pid worker = expect_spawn_reply(&caller, &req, 3);
    const char *want =
        rt_fmt("{%s, error, badarg, [{t, sum, 1, []}]}", fp_ref_text(&res));
    cr_assert_str_eq(expect_result(&worker, &caller, &req), want);
    const fp_pkt_t *x = fp_expect_to(rt_fp, EN_DOP_PAYLOAD_EXIT, &caller,
                                     T_MS);
    cr_assert(x, "no PAYLOAD_EXIT: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&x->m.from, &worker));
    cr_assert_str_eq(fp_text(x->m.reason, x->m.reason_len), want);
}

Test(rpc, a_function_may_send_before_it_returns)
{
    erlang_pid caller = rt_peer_pid(1), inbox = rt_peer_pid(3);
    erlang_ref req, res;

    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    erpc_call(&req, &res, &caller, "[monitor]", "t", "send",
              rt_term("[~p]", &inbox));
    erlang_pid worker = expect_spawn_reply(&caller, &req, 2);
    cr_assert_str_eq(expect_result(&worker, &caller, &req),
                     rt_fmt("{%s, return, ok}", fp_ref_text(&res)));
    /* The message went before the result, which fp_expect skipped. */
    const fp_pkt_t *m = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &inbox, 0);
    cr_assert(m, "no message from the function: %s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(m->m.msg, m->m.msg_len), "{rpc_sent, hello}");
}

Test(rpc, a_spawn_of_anything_but_erpc_is_notsup)
{
    erlang_pid caller = rt_peer_pid(1), gl = rt_peer_pid(2);
    erlang_ref req;

    fp_ref(rt_fp, &req);
    cr_assert_eq(fp_spawn_request(rt_fp, &req, &caller, &gl, "io", "format", 1,
                                  rt_term("[monitor]"), rt_term("[\"hi\"]")),
                 0);
    const fp_pkt_t *r = fp_expect_op(rt_fp, EN_DOP_SPAWN_REPLY, T_MS);
    cr_assert(r, "no SPAWN_REPLY: %s", fp_error(rt_fp));
    cr_assert(fp_ref_eq(&r->m.ref, &req));
    cr_assert_str_eq(fp_text(r->m.spawn_result, r->m.spawn_result_len),
                     "notsup");
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, is_monitor_exit, NULL), 0);
}

/* A result travels as the reason of the monitor's exit; over 64 KiB it
 * can only go as the payload of PAYLOAD_MONITOR_P_EXIT (a control tuple
 * is never fragmented), which it does with EXIT_PAYLOAD agreed. */
Test(rpc, a_result_over_64_kib_arrives)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref req, res;

    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    erpc_call(&req, &res, &caller, "[monitor]", "t", "big", rt_term("[70000]"));
    erlang_pid worker = expect_spawn_reply(&caller, &req, 2);
    const fp_pkt_t *x = fp_expect(rt_fp, is_monitor_exit, NULL, T_MS);
    cr_assert(x, "no MONITOR_P_EXIT: %s\nnode log:\n%s", fp_error(rt_fp),
              rt_log());
    cr_assert(fp_pid_eq(&x->m.from, &worker));
    cr_assert_eq(x->m.op, EN_DOP_PAYLOAD_MONITOR_P_EXIT);
    cr_assert_gt(x->m.reason_len, 70000);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

/* erpc:cast(Node, M, F, Args): {erpc, execute_cast, 3}, no options. */
static void erpc_cast(const erlang_ref *req, const erlang_pid *caller,
                      const char *m, const char *f, const ei_x_buff *args)
{
    erlang_pid gl = rt_peer_pid(2);
    ei_x_buff *argl = rt_term_slot();

    ei_x_encode_list_header(argl, 3);
    ei_x_encode_atom(argl, m);
    ei_x_encode_atom(argl, f);
    ei_x_append_buf(argl, args->buff + 1, args->index - 1);
    ei_x_encode_empty_list(argl);
    cr_assert_eq(fp_spawn_request(rt_fp, req, caller, &gl, "erpc",
                                  "execute_cast", 3, rt_term("[]"), argl),
                 0, "%s", fp_error(rt_fp));
}

static int is_exit_or_down(const fp_pkt_t *p, void *ud)
{
    (void)ud;
    return is_monitor_exit(p, NULL) || p->m.op == EN_DOP_EXIT ||
           p->m.op == EN_DOP_PAYLOAD_EXIT;
}

Test(rpc, a_cast_runs_the_function_and_answers_only_the_spawn)
{
    erlang_pid caller = rt_peer_pid(1), inbox = rt_peer_pid(3);
    erlang_ref req;

    fp_ref(rt_fp, &req);
    erpc_cast(&req, &caller, "t", "send", rt_term("[~p]", &inbox));
    expect_spawn_reply(&caller, &req, 0);
    const fp_pkt_t *m = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &inbox, T_MS);
    cr_assert(m, "the function did not run: %s\nnode log:\n%s",
              fp_error(rt_fp), rt_log());
    cr_assert_str_eq(fp_text(m->m.msg, m->m.msg_len), "{rpc_sent, hello}");
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, is_exit_or_down, NULL), 0);
}

Test(rpc, a_cast_that_fails_is_logged_and_answers_nothing_more)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref req;

    fp_ref(rt_fp, &req);
    erpc_cast(&req, &caller, "t", "fail", rt_term("[x]"));
    expect_spawn_reply(&caller, &req, 0);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, is_exit_or_down, NULL), 0);
    cr_assert(strstr(rt_log(), "t:fail failed: {failed, 1}"), "log:\n%s",
              rt_log());
}

/* The value of erpc:call(Node, M, F, Args), as the DOWN reason's text. */
static const char *erpc_result(const char *m, const char *f, const char *args)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref req, res;

    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    erpc_call(&req, &res, &caller, "[monitor]", m, f, rt_term(args));
    erlang_pid worker = expect_spawn_reply(&caller, &req, 2);
    const char *r = expect_result(&worker, &caller, &req);
    const char *ref = fp_ref_text(&res);
    cr_assert(strncmp(r + 1, ref, strlen(ref)) == 0, "reason %s", r);
    return r + 1 + strlen(ref) + 2; /* after "{#Ref<...>, " */
}

static long realtime_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long)ts.tv_sec;
}

Test(rpc, built_in_functions_answer_what_every_node_answers)
{
    cr_assert_str_eq(erpc_result("erlang", "node", "[]"),
                     "return, node@localhost}");
    cr_assert_str_eq(erpc_result("erlang", "is_alive", "[]"), "return, true}");
    /* The fake peer is hidden: it is in nodes(hidden), not in nodes(). */
    cr_assert_str_eq(erpc_result("erlang", "nodes", "[]"), "return, []}");
    cr_assert_str_eq(erpc_result("erlang", "nodes", "[hidden]"),
                     "return, [peer@localhost]}");
    cr_assert_str_eq(erpc_result("erlang", "nodes", "[[this, connected]]"),
                     "return, [node@localhost, peer@localhost]}");
    cr_assert_str_eq(erpc_result("erlang", "nodes", "[known]"),
                     "return, [node@localhost, peer@localhost]}");
    cr_assert_str_eq(erpc_result("erlang", "nodes", "[[visible, bad]]"),
                     "error, badarg, [{erlang, nodes, [[visible, bad]], []}]}");
    cr_assert_str_eq(erpc_result("erlang", "system_time", "[0]"),
                     "error, badarg, [{erlang, system_time, [0], []}]}");
    cr_assert_str_eq(erpc_result("erlang", "nodes", "[a, b]"),
                     "error, undef, [{erlang, nodes, [a, b], []}]}");
    /* The time, in seconds, nanoseconds and tenths of a second. (time(2)
     * reads a coarser clock: it may lag the node's by a tick.) */
    long before = realtime_s(), t;
    const char *r = erpc_result("erlang", "system_time", "[second]");
    cr_assert_eq(sscanf(r, "return, %ld}", &t), 1, "%s", r);
    cr_assert(t >= before && t <= realtime_s(), "%ld vs %ld", t, before);
    r = erpc_result("erlang", "system_time", "[]");
    cr_assert_eq(sscanf(r, "return, %ld}", &t), 1, "%s", r);
    cr_assert(t / 1000000000 >= before && t / 1000000000 <= realtime_s(),
              "native %ld vs %ld s", t, before);
    r = erpc_result("erlang", "system_time", "[10]");
    cr_assert_eq(sscanf(r, "return, %ld}", &t), 1, "%s", r);
    cr_assert(t / 10 >= before && t / 10 <= realtime_s());
}

Test(rpc, a_registered_function_replaces_a_built_in)
{
    cr_assert_eq(enode_rpc_register(rt_node, "erlang", "node", fn_my_node,
                                    NULL), 0);
    cr_assert_str_eq(erpc_result("erlang", "node", "[]"), "return, mine}");
}

/* ---- the rex server ------------------------------------------------------ */

/* {Caller, {call, M, F, Args, user}} to rex; the answer's text. */
static const char *rex_call(const char *m, const char *f, const char *args)
{
    erlang_pid caller = rt_peer_pid(1);
    ei_x_buff *x = rt_term_slot();

    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_pid(x, &caller);
    ei_x_encode_tuple_header(x, 5);
    ei_x_encode_atom(x, "call");
    ei_x_encode_atom(x, m);
    ei_x_encode_atom(x, f);
    cr_assert_eq(ei_x_format_wo_ver(x, args), 0);
    ei_x_encode_atom(x, "user");
    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex", x), 0);
    const fp_pkt_t *r = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &caller, T_MS);
    cr_assert(r, "no answer from rex: %s", fp_error(rt_fp));
    return fp_text(r->m.msg, r->m.msg_len);
}

Test(rpc, rex_answers_a_call_with_the_value)
{
    cr_assert_str_eq(rex_call("lists", "reverse", "[[1, 2]]"), "{rex, [2, 1]}");
}

Test(rpc, rex_answers_undef_as_badrpc)
{
    cr_assert_str_eq(
        rex_call("no", "such", "[]"),
        "{rex, {badrpc, {'EXIT', {undef, [{no, such, [], []}]}}}}");
}

Test(rpc, rex_answers_a_failure_as_badrpc)
{
    cr_assert_str_eq(rex_call("t", "fail", "[x]"),
                     "{rex, {badrpc, {'EXIT', {{failed, 1}, [{t, fail, 1, []}]}}}}");
}

Test(rpc, rex_answers_the_gen_server_form_with_the_tag)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref tag;
    ei_x_buff *x = rt_term_slot();

    fp_ref(rt_fp, &tag);
    ei_x_encode_tuple_header(x, 3);
    ei_x_encode_atom(x, "$gen_call");
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_pid(x, &caller);
    ei_x_encode_ref(x, &tag);
    ei_x_format_wo_ver(x, "{call, t, sum, [1, 2], user}");
    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex", x), 0);
    const fp_pkt_t *r = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &caller, T_MS);
    cr_assert(r, "no answer from rex: %s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(r->m.msg, r->m.msg_len),
                     rt_fmt("{%s, 3}", fp_ref_text(&tag)));
}

/* A gen_server request to rex from the peer's pid 1: the answer's text. */
static const char *rex_gen(const char *type, const char *request)
{
    erlang_pid caller = rt_peer_pid(1);
    erlang_ref tag;
    ei_x_buff *x = rt_term_slot();

    fp_ref(rt_fp, &tag);
    ei_x_encode_tuple_header(x, strcmp(type, "$gen_call") == 0 ? 3 : 2);
    ei_x_encode_atom(x, type);
    if (strcmp(type, "$gen_call") == 0) {
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_pid(x, &caller);
        ei_x_encode_ref(x, &tag);
    }
    cr_assert_eq(ei_x_format_wo_ver(x, request), 0);
    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex", x), 0);
    if (strcmp(type, "$gen_call") != 0)
        return NULL;
    const fp_pkt_t *r = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &caller, T_MS);
    cr_assert(r, "no answer from rex: %s", fp_error(rt_fp));
    const char *t = fp_text(r->m.msg, r->m.msg_len);
    const char *ref = fp_ref_text(&tag);
    cr_assert(strncmp(t + 1, ref, strlen(ref)) == 0, "answer %s", t);
    return t + 1 + strlen(ref) + 2; /* after "{#Ref<...>, " */
}

/* rpc:block_call(Node, M, F, A): a gen_server call {block_call, ...}. */
Test(rpc, rex_answers_block_call)
{
    cr_assert_str_eq(rex_gen("$gen_call", "{block_call, t, sum, [1, 2, 3], user}"),
                     "6}");
    cr_assert_str_eq(rex_gen("$gen_call", "{block_call, no, such, [1], user}"),
                     "{badrpc, {'EXIT', {undef, [{no, such, [1], []}]}}}}");
}

/* gen_server:cast(rex, {cast, M, F, A, GL}), as rpc:cast sent before
 * erpc: the function runs, nobody is answered. */
Test(rpc, rex_runs_a_cast)
{
    erlang_pid inbox = rt_peer_pid(3);
    char req[256];

    snprintf(req, sizeof req, "{cast, t, send, [~p], user}");
    ei_x_buff *x = rt_term_slot();
    erlang_pid caller = rt_peer_pid(1);
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "$gen_cast");
    cr_assert_eq(ei_x_format_wo_ver(x, req, &inbox), 0);
    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex", x), 0);
    const fp_pkt_t *m = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &inbox, T_MS);
    cr_assert(m, "the function did not run: %s", fp_error(rt_fp));
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
}

/* rpc:sbcast(Nodes, Name, Msg): {Caller, {sbcast, Name, Msg}}. */
Test(rpc, rex_relays_sbcast_and_send)
{
    erlang_pid caller = rt_peer_pid(1);
    enode_mbox_t *target = rt_mbox("target", 0);

    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex",
                             rt_term("{~p, {sbcast, target, hello}}", &caller)),
                 0);
    const fp_pkt_t *r = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &caller, T_MS);
    cr_assert(r, "no answer from rex: %s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(r->m.msg, r->m.msg_len),
                     "{rex, node@localhost, node@localhost}");
    cr_assert_str_eq(rt_next(target, 0), "hello");

    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex",
                             rt_term("{~p, {send, target, hi}}", &caller)),
                 0);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(target, 0),
                     rt_fmt("{%s, hi}", fp_pid_text(&caller)));
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0); /* send answers nothing */

    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex",
                             rt_term("{~p, {sbcast, nobody, hello}}", &caller)),
                 0);
    r = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &caller, T_MS);
    cr_assert(r, "no answer from rex: %s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(r->m.msg, r->m.msg_len),
                     "{rex, node@localhost, {nonexisting_name, nobody}}");
}

/* An io request to `user` from the peer's pid 1: the reply's text. The
 * request is a format for ei_x_format, or NULL for a put_chars of a
 * binary. */
static const char *io_request(const char *request)
{
    erlang_pid caller = rt_peer_pid(1);
    ei_x_buff *x = rt_term_slot();

    ei_x_encode_tuple_header(x, 4);
    ei_x_encode_atom(x, "io_request");
    ei_x_encode_pid(x, &caller);
    ei_x_encode_atom(x, "reply_as");
    if (!request) {
        ei_x_encode_tuple_header(x, 3);
        ei_x_encode_atom(x, "put_chars");
        ei_x_encode_atom(x, "unicode");
        ei_x_encode_binary(x, "hello\n", 6);
    } else {
        cr_assert_eq(ei_x_format_wo_ver(x, request), 0, "%s", request);
    }
    cr_assert_eq(fp_reg_send(rt_fp, &caller, "user", x), 0);
    const fp_pkt_t *r = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &caller, T_MS);
    cr_assert(r, "no io_reply: %s", fp_error(rt_fp));
    return fp_text(r->m.msg, r->m.msg_len);
}

/* The group leader of the calls the node makes answers the io
 * protocol, so that a function that prints does not wait forever. */
Test(rpc, user_answers_the_io_protocol)
{
    cr_assert_str_eq(io_request(NULL),
                     "{io_reply, reply_as, ok}");
    cr_assert(strstr(rt_log(), "output from peer@localhost: hello"), "log:\n%s",
              rt_log());
    cr_assert_str_eq(
        io_request("{put_chars, unicode, io_lib, format, [\"hi\", [x]]}"),
        "{io_reply, reply_as, ok}");
    cr_assert_str_eq(io_request("{get_line, unicode, \"> \"}"),
                     "{io_reply, reply_as, eof}");
    cr_assert_str_eq(io_request("{requests, [{put_chars, unicode, \"a\"}, "
                                "{put_chars, unicode, \"b\"}]}"),
                     "{io_reply, reply_as, ok}");
    cr_assert_str_eq(io_request("getopts"),
                     "{io_reply, reply_as, {error, request}}");
}

Test(rpc, rex_answers_features_request)
{
    erlang_pid caller = rt_peer_pid(1);

    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex",
                             rt_term("{~p, features_request}", &caller)),
                 0);
    const fp_pkt_t *r = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &caller, T_MS);
    cr_assert(r, "no answer from rex: %s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(r->m.msg, r->m.msg_len),
                     "{features_reply, node@localhost, [erpc]}");
}

Test(rpc, rex_ignores_what_it_does_not_serve)
{
    erlang_pid caller = rt_peer_pid(1);

    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex",
                             rt_term("{~p, {what, ever}}", &caller)),
                 0);
    cr_assert_eq(fp_reg_send(rt_fp, &caller, "rex", rt_term("garbage")), 0);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
}
