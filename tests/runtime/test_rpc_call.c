/* test_rpc_call.c - C calling Erlang (enode_rpc_call, enode_rpc_cast), as
 * a fake peer plays the node called.
 *
 * A call is erpc's: SPAWN_REQUEST {29, ReqId, Mailbox, GL, {erpc,
 * execute_call, 4}, [monitor]} with [ResRef, M, F, Args]; the peer
 * answers SPAWN_REPLY {31, ReqId, Mailbox, 2, Pid}, then the monitor's
 * exit, whose reason is the outcome: {ResRef, return, Value}, {ResRef,
 * throw|exit, X} or {ResRef, error, Reason, Stack}. A peer without SPAWN,
 * or one that answers notsup, gets rex's gen_server call {call, M, F,
 * Args, user} instead. A cast is SPAWN_REQUEST of {erpc, execute_cast, 3}
 * with no options, or a gen_server cast to rex.
 *
 * The node runs in event-loop mode: the call waits on a thread of its
 * own, which runs the node's loop meanwhile, while the test's thread
 * plays the peer (fp_set_passive) and answers.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "rt.h"

#define PEER FP_DEFAULT_NAME

static enode_mbox_t *mb;

/* t:sum(A, B) -> A + B, for calls to the node itself. */
static int fn_sum(void *user, const char *args, int index, int arity,
                  ei_x_buff *result)
{
    long a, b;
    (void)user;
    if (arity != 2 || ei_decode_long(args, &index, &a) < 0 ||
        ei_decode_long(args, &index, &b) < 0) {
        ei_x_encode_atom(result, "badarg");
        return 1;
    }
    ei_x_encode_long(result, a + b);
    return 0;
}

static void up(void)
{
    rt_setup();
    mb = rt_mbox(NULL, 0);
    cr_assert_eq(enode_rpc_register(rt_node, "t", "sum", fn_sum, NULL), 0);
}

static void down(void)
{
    fp_set_passive(rt_fp, 0);
    rt_teardown();
}

TestSuite(rpc_call, .init = up, .fini = down, .timeout = 30);

/* ---- a call on a thread of its own --------------------------------------- */

typedef struct {
    enode_mbox_t *mb;
    const char *node, *m, *f;
    const ei_x_buff *args;
    int timeout_ms;
    int rc;
    ei_x_buff result;
    pthread_t thread;
} call_t;

static void *run_call(void *ud)
{
    call_t *c = ud;
    c->rc = enode_rpc_call(c->mb, c->node, c->m, c->f, c->args, &c->result,
                           c->timeout_ms);
    return NULL;
}

/* m:f(Args...) on the peer, Args an rt_term format; the peer stops
 * running the node, which the call's thread runs while it waits. */
static void start_call(call_t *c, enode_mbox_t *from, const char *m,
                       const char *f, const ei_x_buff *args, int timeout_ms)
{
    *c = (call_t){.mb = from, .node = PEER, .m = m, .f = f, .args = args,
                  .timeout_ms = timeout_ms};
    fp_set_passive(rt_fp, 1);
    cr_assert_eq(pthread_create(&c->thread, NULL, run_call, c), 0);
}

/* Wait for the call to return: its code; the peer runs the node again. */
static int finish_call(call_t *c)
{
    pthread_join(c->thread, NULL);
    fp_set_passive(rt_fp, 0);
    return c->rc;
}

/* The result of a call that returned 0 or ENODE_ERAISED, as text. */
static const char *result_text(call_t *c)
{
    const char *t = fp_xtext(&c->result);
    ei_x_free(&c->result);
    return t;
}

/* ---- the peer's side ------------------------------------------------------ */

typedef struct {
    erlang_ref req_id, res;
    erlang_pid from, gl;
    char args[512]; /* the text of the argument list */
} request_t;

/* The SPAWN_REQUEST of a call (execute_call/4, [monitor]) or a cast
 * (execute_cast/3, []). */
static void expect_request(request_t *r, int call)
{
    const fp_pkt_t *p = fp_expect_op(rt_fp, EN_DOP_SPAWN_REQUEST, T_MS);
    int i = 0, n;

    cr_assert(p, "no SPAWN_REQUEST: %s\nnode log:\n%s", fp_error(rt_fp),
              rt_log());
    cr_assert_str_eq(p->m.spawn_module, "erpc");
    cr_assert_str_eq(p->m.spawn_function, call ? "execute_call" : "execute_cast");
    cr_assert_eq(p->m.spawn_arity, call ? 4 : 3);
    cr_assert_str_eq(fp_text(p->m.spawn_opts, p->m.spawn_opts_len),
                     call ? "[monitor]" : "[]");
    cr_assert(fp_pid_eq(&p->m.from, enode_mbox_pid(mb)));
    cr_assert_str_eq(p->m.group_leader.node, RT_NODE);
    r->req_id = p->m.ref;
    r->from = p->m.from;
    r->gl = p->m.group_leader;
    snprintf(r->args, sizeof r->args, "%s", fp_text(p->m.msg, p->m.msg_len));
    if (call) {
        cr_assert_eq(ei_decode_list_header(p->m.msg, &i, &n), 0);
        cr_assert_eq(ei_decode_ref(p->m.msg, &i, &r->res), 0);
    }
}

/* SPAWN_REPLY: a process was made (flags 2: monitored), or not (error). */
static void reply_spawned(const request_t *r, long flags, erlang_pid *worker)
{
    ei_x_buff *c = rt_term_slot();

    fp_pid(rt_fp, 100, worker);
    ei_x_encode_tuple_header(c, 5);
    ei_x_encode_long(c, EN_DOP_SPAWN_REPLY);
    ei_x_encode_ref(c, &r->req_id);
    ei_x_encode_pid(c, &r->from);
    ei_x_encode_long(c, flags);
    ei_x_encode_pid(c, worker);
    cr_assert_eq(fp_send_ctrl(rt_fp, c, NULL), 0, "%s", fp_error(rt_fp));
}

static void reply_failed(const request_t *r, const char *why)
{
    ei_x_buff *c = rt_term_slot();

    ei_x_encode_tuple_header(c, 5);
    ei_x_encode_long(c, EN_DOP_SPAWN_REPLY);
    ei_x_encode_ref(c, &r->req_id);
    ei_x_encode_pid(c, &r->from);
    ei_x_encode_long(c, 0);
    ei_x_encode_atom(c, why);
    cr_assert_eq(fp_send_ctrl(rt_fp, c, NULL), 0, "%s", fp_error(rt_fp));
}

/* {ResRef, Class, X}, or {ResRef, error, X, Stack}; X and Stack are
 * rt_term formats. */
static const ei_x_buff *outcome(const request_t *r, const char *class,
                                const char *x, const char *stack)
{
    ei_x_buff *t = rt_term_slot();

    ei_x_encode_tuple_header(t, stack ? 4 : 3);
    ei_x_encode_ref(t, &r->res);
    ei_x_encode_atom(t, class);
    cr_assert_eq(ei_x_format_wo_ver(t, x), 0);
    if (stack)
        cr_assert_eq(ei_x_format_wo_ver(t, stack), 0);
    return t;
}

/* The process ends: the monitor's exit, with reason. */
static void reply_down(const request_t *r, const erlang_pid *worker,
                       const ei_x_buff *reason)
{
    cr_assert_eq(fp_payload_monitor_exit(rt_fp, worker, NULL, &r->from,
                                         &r->req_id, reason),
                 0, "%s", fp_error(rt_fp));
}

/* A whole call whose process ends with reason (from outcome()): the
 * call's code, and its result's text in *text. */
static int call_ending(const char *class, const char *x, const char *stack,
                       const char **text)
{
    call_t c;
    request_t r;
    erlang_pid worker;

    start_call(&c, mb, "m", "f", rt_term("[1]"), 5000);
    expect_request(&r, 1);
    reply_spawned(&r, 2, &worker);
    if (class)
        reply_down(&r, &worker, outcome(&r, class, x, stack));
    else
        reply_down(&r, &worker, rt_term(x));
    int rc = finish_call(&c);
    *text = rc == 0 || rc == ENODE_ERAISED ? result_text(&c) : "(none)";
    return rc;
}

/* ---- calls ----------------------------------------------------------------- */

Test(rpc_call, a_call_spawns_erpc_execute_call_and_returns_the_value)
{
    call_t c;
    request_t r;
    erlang_pid worker;

    start_call(&c, mb, "lists", "reverse", rt_term("[[1, two]]"), 5000);
    expect_request(&r, 1);
    cr_assert_str_eq(r.args, rt_fmt("[%s, lists, reverse, [[1, two]]]",
                                    fp_ref_text(&r.res)));
    reply_spawned(&r, 2, &worker);
    reply_down(&r, &worker, outcome(&r, "return", "[two, 1]", NULL));
    cr_assert_eq(finish_call(&c), 0, "%s", enode_last_error(rt_node));
    cr_assert_str_eq(result_text(&c), "[two, 1]");
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)"); /* nothing left behind */
}

Test(rpc_call, each_exception_class_is_raised_with_its_reason)
{
    const char *t;

    cr_assert_eq(call_ending("throw", "oops", NULL, &t), ENODE_ERAISED);
    cr_assert_str_eq(t, "{throw, oops}");
    cr_assert_eq(call_ending("exit", "{shutdown, 1}", NULL, &t), ENODE_ERAISED);
    cr_assert_str_eq(t, "{exit, {shutdown, 1}}");
    cr_assert_eq(call_ending("error", "badarg", "[{m, f, [1], []}]", &t),
                 ENODE_ERAISED);
    cr_assert_str_eq(t, "{error, badarg}");
    cr_assert_eq(call_ending("error", "{erpc, system_limit}", NULL, &t),
                 ENODE_ERAISED);
    cr_assert_str_eq(t, "{error, {erpc, system_limit}}");
    /* The process was killed by an exit signal. */
    cr_assert_eq(call_ending(NULL, "killed", NULL, &t), ENODE_ERAISED);
    cr_assert_str_eq(t, "{exit, killed}");
    cr_assert_str_eq(enode_strerror(ENODE_ERAISED),
                     "the function called raised an exception");
}

Test(rpc_call, a_large_result_arrives_in_fragments)
{
    static char bytes[1 << 20];
    call_t c;
    request_t r;
    erlang_pid worker;
    ei_x_buff *value = rt_term_slot();

    memset(bytes, 'x', sizeof bytes);
    start_call(&c, mb, "m", "big", rt_term("[]"), 10000);
    expect_request(&r, 1);
    reply_spawned(&r, 2, &worker);
    ei_x_encode_tuple_header(value, 3);
    ei_x_encode_ref(value, &r.res);
    ei_x_encode_atom(value, "return");
    ei_x_encode_binary(value, bytes, sizeof bytes);
    fp_set_fragment_size(rt_fp, 64 * 1024);
    reply_down(&r, &worker, value);
    cr_assert_eq(finish_call(&c), 0, "%s", enode_last_error(rt_node));
    int i = 1, type, size;
    cr_assert_eq(ei_get_type(c.result.buff, &i, &type, &size), 0);
    cr_assert_eq(type, ERL_BINARY_EXT);
    cr_assert_eq(size, (int)sizeof bytes);
    ei_x_free(&c.result);
}

Test(rpc_call, other_messages_stay_queued_in_order)
{
    call_t c;
    request_t r;
    erlang_pid worker, sender = rt_peer_pid(7);

    cr_assert_eq(fp_send(rt_fp, enode_mbox_pid(mb), rt_term("first")), 0);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0);
    start_call(&c, mb, "m", "f", rt_term("[]"), 5000);
    expect_request(&r, 1);
    reply_spawned(&r, 2, &worker);
    cr_assert_eq(fp_send_sender(rt_fp, &sender, enode_mbox_pid(mb),
                                rt_term("second")), 0);
    reply_down(&r, &worker, outcome(&r, "return", "ok", NULL));
    cr_assert_eq(finish_call(&c), 0, "%s", enode_last_error(rt_node));
    cr_assert_str_eq(result_text(&c), "ok");
    cr_assert_str_eq(rt_next(mb, 0), "first");
    cr_assert_str_eq(rt_next(mb, 0), "second");
}

/* The group leader of the process is the node's `user`, which answers
 * the io protocol: a function that prints does not hang. */
Test(rpc_call, the_group_leader_answers_io_requests)
{
    call_t c;
    request_t r;
    erlang_pid worker;

    start_call(&c, mb, "io", "format", rt_term("[\"hi\"]"), 5000);
    expect_request(&r, 1);
    reply_spawned(&r, 2, &worker);
    cr_assert_eq(fp_send_sender(rt_fp, &worker, &r.gl,
                                rt_term("{io_request, ~p, tag, {put_chars, "
                                        "unicode, \"hi\"}}", &worker)),
                 0);
    const fp_pkt_t *p = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &worker, T_MS);
    cr_assert(p, "no io_reply: %s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(p->m.msg, p->m.msg_len), "{io_reply, tag, ok}");
    reply_down(&r, &worker, outcome(&r, "return", "ok", NULL));
    cr_assert_eq(finish_call(&c), 0, "%s", enode_last_error(rt_node));
    cr_assert_str_eq(result_text(&c), "ok");
}

/* ---- timeouts leave nothing behind ------------------------------------------- */

static int is_demonitor(const fp_pkt_t *p, void *ud)
{
    const erlang_ref *ref = ud;
    return p->rc == 0 && p->m.op == EN_DOP_DEMONITOR_P &&
           fp_ref_eq(&p->m.ref, ref);
}

/* The peer answers only after the call gave up: the node removes the
 * monitor the late reply set up, and the late result is dropped. */
Test(rpc_call, a_timeout_before_the_spawn_reply_leaves_no_late_reply)
{
    call_t c;
    request_t r;
    erlang_pid worker;

    start_call(&c, mb, "timer", "sleep", rt_term("[5000]"), 300);
    expect_request(&r, 1);
    cr_assert_eq(finish_call(&c), ENODE_ETIMEOUT);
    cr_assert(strstr(enode_last_error(rt_node), "no answer in 300 ms"), "%s",
              enode_last_error(rt_node));
    reply_spawned(&r, 2, &worker);
    const fp_pkt_t *d = fp_expect(rt_fp, is_demonitor, &r.req_id, T_MS);
    cr_assert(d, "no DEMONITOR_P for the late spawn: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&d->m.to_pid, &worker));
    reply_down(&r, &worker, outcome(&r, "return", "late", NULL));
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
}

Test(rpc_call, a_timeout_after_the_spawn_reply_leaves_no_late_reply)
{
    call_t c;
    request_t r;
    erlang_pid worker;

    start_call(&c, mb, "timer", "sleep", rt_term("[5000]"), 300);
    expect_request(&r, 1);
    reply_spawned(&r, 2, &worker);
    cr_assert_eq(finish_call(&c), ENODE_ETIMEOUT);
    const fp_pkt_t *d = fp_expect(rt_fp, is_demonitor, &r.req_id, T_MS);
    cr_assert(d, "no DEMONITOR_P: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&d->m.from, enode_mbox_pid(mb)));
    cr_assert(fp_pid_eq(&d->m.to_pid, &worker));
    reply_down(&r, &worker, outcome(&r, "return", "late", NULL));
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
}

/* ---- lost connections and refusals -------------------------------------------- */

Test(rpc_call, a_connection_lost_before_the_spawn_reply_is_econn)
{
    call_t c;
    request_t r;

    start_call(&c, mb, "m", "f", rt_term("[]"), 5000);
    expect_request(&r, 1);
    fp_close(rt_fp);
    cr_assert_eq(finish_call(&c), ENODE_ECONN);
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
}

Test(rpc_call, a_connection_lost_while_the_call_runs_is_econn)
{
    call_t c;
    request_t r;
    erlang_pid worker;

    start_call(&c, mb, "m", "f", rt_term("[]"), 5000);
    expect_request(&r, 1);
    reply_spawned(&r, 2, &worker);
    /* The node has the reply (the call's thread runs it) when the round
     * trip ends: the connection goes while the process runs. */
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    fp_close(rt_fp);
    cr_assert_eq(finish_call(&c), ENODE_ECONN);
}

Test(rpc_call, an_unreachable_node_is_econn)
{
    ei_x_buff result;
    /* No EPMD runs for the node under test: nothing can be reached. */
    int rc = enode_rpc_call(mb, "nobody@localhost", "m", "f", rt_term("[]"),
                            &result, 5000);
    cr_assert_eq(rc, ENODE_ECONN, "%d: %s\n%s", rc, enode_last_error(rt_node),
                 rt_log());
    cr_assert_eq(enode_rpc_cast(mb, "nobody@localhost", "m", "f",
                                rt_term("[]")),
                 ENODE_ECONN);
}

Test(rpc_call, a_spawn_refused_for_another_reason_is_einval)
{
    call_t c;
    request_t r;

    start_call(&c, mb, "m", "f", rt_term("[]"), 5000);
    expect_request(&r, 1);
    reply_failed(&r, "system_limit");
    cr_assert_eq(finish_call(&c), ENODE_EINVAL);
    cr_assert(strstr(enode_last_error(rt_node), "system_limit"), "%s",
              enode_last_error(rt_node));
}

Test(rpc_call, bad_arguments_are_einval_and_send_nothing)
{
    ei_x_buff result, *many = rt_term_slot();

    cr_assert_eq(enode_rpc_call(mb, PEER, "m", "f", rt_term("notalist"),
                                &result, 1000), ENODE_EINVAL);
    ei_x_buff *improper = rt_term_slot(); /* [a | b] */
    ei_x_encode_list_header(improper, 1);
    ei_x_encode_atom(improper, "a");
    ei_x_encode_atom(improper, "b");
    cr_assert_eq(enode_rpc_call(mb, PEER, "m", "f", improper, &result, 1000),
                 ENODE_EINVAL);
    ei_x_encode_list_header(many, 256);
    for (int k = 0; k < 256; k++)
        ei_x_encode_long(many, k);
    ei_x_encode_empty_list(many);
    cr_assert_eq(enode_rpc_call(mb, PEER, "m", "f", many, &result, 1000),
                 ENODE_EINVAL);
    cr_assert_eq(enode_rpc_call(mb, PEER, "m", "f", rt_term("[]"), NULL, 1000),
                 ENODE_EINVAL);
    cr_assert_eq(enode_rpc_call(mb, NULL, "m", "f", rt_term("[]"), &result,
                                1000), ENODE_EINVAL);
    cr_assert_eq(enode_rpc_cast(mb, PEER, "m", NULL, rt_term("[]")),
                 ENODE_EINVAL);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
}

/* ---- several calls at once -------------------------------------------------- */

/* Two threads call through one mailbox; the peer answers the second
 * first; each call gets its own answer. */
Test(rpc_call, calls_from_two_threads_get_their_own_answers)
{
    call_t a, b;
    request_t ra, rb;
    erlang_pid wa, wb;

    start_call(&a, mb, "m", "a", rt_term("[]"), 5000);
    expect_request(&ra, 1);
    start_call(&b, mb, "m", "b", rt_term("[]"), 5000);
    expect_request(&rb, 1);
    reply_spawned(&rb, 2, &wb);
    reply_spawned(&ra, 2, &wa);
    reply_down(&rb, &wb, outcome(&rb, "return", "for_b", NULL));
    reply_down(&ra, &wa, outcome(&ra, "return", "for_a", NULL));
    cr_assert_eq(finish_call(&b), 0, "%s", enode_last_error(rt_node));
    cr_assert_eq(finish_call(&a), 0, "%s", enode_last_error(rt_node));
    cr_assert_str_eq(result_text(&a), "for_a");
    cr_assert_str_eq(result_text(&b), "for_b");
}

/* ---- rex, for a peer that does not spawn -------------------------------------- */

/* The gen_server call to rex the node sends: {'$gen_call', {Mailbox,
 * Tag}, {call, M, F, Args, user}}; the peer answers {Tag, answer}. */
static void rex_answers(const char *m, const char *args, const char *answer)
{
    const fp_pkt_t *p = fp_expect_op(rt_fp, EN_DOP_REG_SEND, T_MS);
    erlang_pid caller;
    erlang_ref tag;
    char text[512];
    int i = 0, n;

    cr_assert(p, "no call to rex: %s\nnode log:\n%s", fp_error(rt_fp),
              rt_log());
    cr_assert_str_eq(p->m.to_name, "rex");
    cr_assert_eq(ei_decode_tuple_header(p->m.msg, &i, &n), 0);
    cr_assert_eq(ei_skip_term(p->m.msg, &i), 0);
    cr_assert_eq(ei_decode_tuple_header(p->m.msg, &i, &n), 0);
    cr_assert_eq(ei_decode_pid(p->m.msg, &i, &caller), 0);
    cr_assert_eq(ei_decode_ref(p->m.msg, &i, &tag), 0);
    snprintf(text, sizeof text, "%s", fp_text(p->m.msg + i, p->m.msg_len - (size_t)i));
    cr_assert_str_eq(text, rt_fmt("{call, %s, f, %s, user}", m, args));
    ei_x_buff *reply = rt_term_slot();
    ei_x_encode_tuple_header(reply, 2);
    ei_x_encode_ref(reply, &tag);
    cr_assert_eq(ei_x_format_wo_ver(reply, answer), 0);
    cr_assert_eq(fp_send(rt_fp, &caller, reply), 0);
}

Test(rpc_call, a_node_that_says_notsup_is_called_through_rex)
{
    call_t c;
    request_t r;

    start_call(&c, mb, "m", "f", rt_term("[1]"), 5000);
    expect_request(&r, 1);
    reply_failed(&r, "notsup");
    rex_answers("m", "[1]", "{value, 1}");
    cr_assert_eq(finish_call(&c), 0, "%s", enode_last_error(rt_node));
    cr_assert_str_eq(result_text(&c), "{value, 1}");
}

static void up_no_spawn(void)
{
    fp_config_t cfg = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_SPAWN};
    rt_setup_with(NULL, &cfg);
    mb = rt_mbox(NULL, 0);
}

TestSuite(rpc_call_rex, .init = up_no_spawn, .fini = down, .timeout = 30);

Test(rpc_call_rex, a_node_without_spawn_is_called_through_rex)
{
    call_t c;
    const char *answers[][2] = {
        {"ok", "ok"},
        {"{badrpc, {'EXIT', {oops, [{m, f, 0, []}]}}}", "{error, oops}"},
        {"{badrpc, {'EXIT', bye}}", "{exit, bye}"},
    };

    for (size_t k = 0; k < sizeof answers / sizeof answers[0]; k++) {
        start_call(&c, mb, "m", "f", rt_term("[]"), 5000);
        rex_answers("m", "[]", answers[k][0]);
        int rc = finish_call(&c);
        cr_assert_eq(rc, k == 0 ? 0 : ENODE_ERAISED, "%s",
                     enode_last_error(rt_node));
        cr_assert_str_eq(result_text(&c), answers[k][1]);
    }
    start_call(&c, mb, "m", "f", rt_term("[]"), 5000);
    rex_answers("m", "[]", "{badrpc, nodedown}");
    cr_assert_eq(finish_call(&c), ENODE_ECONN);
}

Test(rpc_call_rex, a_cast_to_a_node_without_spawn_goes_to_rex)
{
    cr_assert_eq(enode_rpc_cast(mb, PEER, "m", "f", rt_term("[1, 2]")), 0);
    const fp_pkt_t *p = fp_expect_op(rt_fp, EN_DOP_REG_SEND, T_MS);
    cr_assert(p, "no cast to rex: %s", fp_error(rt_fp));
    cr_assert_str_eq(p->m.to_name, "rex");
    cr_assert_str_eq(fp_text(p->m.msg, p->m.msg_len),
                     "{'$gen_cast', {cast, m, f, [1, 2], user}}");
}

/* ---- casts, and calls to the node itself ------------------------------------- */

Test(rpc_call, a_cast_spawns_erpc_execute_cast_and_hears_nothing)
{
    request_t r;
    erlang_pid worker;

    cr_assert_eq(enode_rpc_cast(mb, PEER, "m", "f", rt_term("[1, 2]")), 0);
    expect_request(&r, 0);
    cr_assert_str_eq(r.args, "[m, f, [1, 2]]");
    reply_spawned(&r, 0, &worker);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
}

Test(rpc_call, a_call_to_the_node_itself_runs_here)
{
    ei_x_buff result;

    cr_assert_eq(enode_rpc_call(mb, RT_NODE, "t", "sum", rt_term("[2, 3]"),
                                &result, 1000), 0);
    cr_assert_str_eq(fp_xtext(&result), "5");
    ei_x_free(&result);
    cr_assert_eq(enode_rpc_call(mb, RT_NODE, "erlang", "node", rt_term("[]"),
                                &result, 1000), 0);
    cr_assert_str_eq(fp_xtext(&result), RT_NODE);
    ei_x_free(&result);
    cr_assert_eq(enode_rpc_call(mb, RT_NODE, "no", "such", rt_term("[]"),
                                &result, 1000), ENODE_ERAISED);
    cr_assert_str_eq(fp_xtext(&result), "{error, undef}");
    ei_x_free(&result);
    cr_assert_eq(enode_rpc_call(mb, RT_NODE, "t", "sum", rt_term("[x, 3]"),
                                &result, 1000), ENODE_ERAISED);
    cr_assert_str_eq(fp_xtext(&result), "{error, badarg}");
    ei_x_free(&result);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
}
