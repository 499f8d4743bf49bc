/* test_rpc_call.c - C calling Erlang with enode_rpc_call and
 * enode_rpc_cast, against real OTP nodes over TLS: values, each class of
 * exception, results of 1 MiB and 16 MiB, timeouts that leave nothing
 * behind, unreachable and dying nodes, and both ways of running a node
 * (its own thread, several threads calling at once; event-loop mode). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *otp;
static enode_t *node;
static enode_mbox_t *mb;

static void start(int threaded)
{
    enode_config_t *cfg;
    char err[512];

    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    otp = h_node_start(cluster, "erl", NULL);
    cr_assert_not_null(otp);
    cfg = h_enode_config(cluster, "caller");
    cr_assert_not_null(cfg);
    int new_rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(new_rc, 0, "%s", err);
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    if (threaded)
        cr_assert_eq(enode_start_thread(node), 0);
}

static void up_threaded(void)
{
    start(1);
}

static void up_event_loop(void)
{
    start(0);
}

static void down(void)
{
    enode_free(node);
    h_cluster_stop(cluster);
}

/* An argument list from an ei_x_format format. */
static ei_x_buff args_of(const char *fmt)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    cr_assert_eq(ei_x_format_wo_ver(&x, fmt), 0, "%s", fmt);
    return x;
}

/* module:function(Args...) on the OTP node: the code, and the result's
 * text in text (when there is one). */
static int call(enode_mbox_t *from, const char *module, const char *function,
                const char *args, int timeout_ms, char *text, size_t len)
{
    ei_x_buff a = args_of(args), result;
    int rc = enode_rpc_call(from, h_node_name(otp), module, function, &a,
                            &result, timeout_ms);
    ei_x_free(&a);
    snprintf(text, len, "(nothing)");
    if (rc == 0 || rc == ENODE_ERAISED) {
        char *s = NULL;
        int i = 1;
        if (ei_s_print_term(&s, result.buff, &i) >= 0)
            snprintf(text, len, "%s", s);
        free(s);
        ei_x_free(&result);
    }
    return rc;
}

#define expect_call(want_rc, want_text, module, function, args)                \
    do {                                                                       \
        char text_[4096];                                                      \
        int rc_ = call(mb, module, function, args, 10000, text_,               \
                       sizeof text_);                                          \
        cr_assert_eq(rc_, want_rc, "%s:%s: %d (%s) %s", module, function,      \
                     rc_, enode_strerror(rc_), enode_last_error(node));        \
        cr_assert_str_eq(text_, want_text);                                    \
    } while (0)

TestSuite(rpc_call, .init = up_threaded, .fini = down, .timeout = 120);

Test(rpc_call, returns_the_value)
{
    expect_call(0, "[c, b, a]", "lists", "reverse", "[[a, b, c]]");
    expect_call(0, "6", "lists", "sum", "[[1, 2, 3]]");
    expect_call(0, "{ok, \"abc\"}", "erlang", "list_to_tuple", "[[ok, \"abc\"]]");
    char want[256];
    snprintf(want, sizeof want, "%s", h_node_name(otp));
    expect_call(0, want, "erlang", "node", "[]");
}

Test(rpc_call, each_exception_class_stays_distinguishable)
{
    expect_call(ENODE_ERAISED, "{throw, oops}", "erlang", "throw", "[oops]");
    expect_call(ENODE_ERAISED, "{exit, {shutdown, bye}}", "erlang", "exit",
                "[{shutdown, bye}]");
    expect_call(ENODE_ERAISED, "{error, boom}", "erlang", "error", "[boom]");
    expect_call(ENODE_ERAISED, "{error, badarg}", "erlang", "atom_to_list", "[1]");
    expect_call(ENODE_ERAISED, "{error, undef}", "nosuch", "f", "[1]");
    /* A value that looks like an exception is a value. */
    expect_call(0, "{throw, oops}", "erlang", "list_to_tuple", "[[throw, oops]]");
}

/* binary:copy(<<"x">>, size) on the OTP node: the result must be that
 * binary. */
static void expect_big(size_t size)
{
    ei_x_buff a, result;
    int i = 1, type, n;

    ei_x_new_with_version(&a);
    ei_x_encode_list_header(&a, 2);
    ei_x_encode_binary(&a, "x", 1);
    ei_x_encode_long(&a, (long)size);
    ei_x_encode_empty_list(&a);
    int rc = enode_rpc_call(mb, h_node_name(otp), "binary", "copy", &a,
                            &result, 60000);
    ei_x_free(&a);
    cr_assert_eq(rc, 0, "%d %s", rc, enode_last_error(node));
    cr_assert_eq(ei_get_type(result.buff, &i, &type, &n), 0);
    cr_assert_eq(type, ERL_BINARY_EXT);
    cr_assert_eq((size_t)n, size);
    cr_assert_eq(result.buff[result.index - 1], 'x');
    ei_x_free(&result);
}

Test(rpc_call, results_of_1_mib_and_16_mib_arrive)
{
    expect_big((size_t)1 << 20);
    expect_big((size_t)16 << 20);
    /* The connection is still there, and so are small calls. */
    expect_call(0, "[c, b, a]", "lists", "reverse", "[[a, b, c]]");
}

/* erlang:error(Bin) with a binary of `size` bytes: the arguments and the
 * exception are both that large, and the exception comes whole. */
static void raise_binary(size_t size)
{
    char *bytes = malloc(size);
    ei_x_buff a, result;
    char class[MAXATOMLEN_UTF8];
    int i = 1, arity, type, n;

    cr_assert(bytes);
    memset(bytes, 'y', size);
    ei_x_new_with_version(&a);
    ei_x_encode_list_header(&a, 1);
    ei_x_encode_binary(&a, bytes, (long)size);
    ei_x_encode_empty_list(&a);
    free(bytes);
    int rc = enode_rpc_call(mb, h_node_name(otp), "erlang", "error", &a,
                            &result, 60000);
    ei_x_free(&a);
    cr_assert_eq(rc, ENODE_ERAISED, "%zu bytes: %d %s", size, rc,
                 enode_last_error(node));
    cr_assert_eq(ei_decode_tuple_header(result.buff, &i, &arity), 0);
    cr_assert_eq(arity, 2);
    cr_assert_eq(ei_decode_atom(result.buff, &i, class), 0);
    cr_assert_str_eq(class, "error");
    cr_assert_eq(ei_get_type(result.buff, &i, &type, &n), 0);
    cr_assert_eq(type, ERL_BINARY_EXT);
    cr_assert_eq((size_t)n, size);
    ei_x_free(&result);
}

Test(rpc_call, exceptions_of_1_mib_and_16_mib_arrive, .timeout = 120)
{
    raise_binary((size_t)1 << 20);
    raise_binary((size_t)16 << 20);
    /* and the node still answers over the connection that carried them */
    expect_call(0, "ok", "timer", "sleep", "[10]");
}

Test(rpc_call, a_timeout_leaves_no_late_reply)
{
    char text[64];
    enode_msg_t m;

    cr_assert_eq(call(mb, "timer", "sleep", "[1500]", 300, text, sizeof text),
                 ENODE_ETIMEOUT);
    /* The call's process ends a second later: nothing of it comes. */
    cr_assert_eq(enode_receive(mb, &m, 2500), ENODE_ETIMEOUT);
    expect_call(0, "ok", "timer", "sleep", "[10]");
}

Test(rpc_call, an_unreachable_node_is_econn)
{
    char name[300];
    ei_x_buff a = args_of("[]"), result;

    snprintf(name, sizeof name, "nosuch@%s", h_node_host(otp));
    cr_assert_eq(enode_rpc_call(mb, name, "erlang", "node", &a, &result, 5000),
                 ENODE_ECONN, "%s", enode_last_error(node));
    cr_assert_eq(enode_rpc_cast(mb, name, "erlang", "node", &a), ENODE_ECONN);
    ei_x_free(&a);
}

typedef struct {
    enode_mbox_t *mb;
    int rc;
    char text[256];
} pending_t;

static void *sleep_long(void *ud)
{
    pending_t *p = ud;
    p->rc = call(p->mb, "timer", "sleep", "[20000]", 30000, p->text,
                 sizeof p->text);
    return NULL;
}

Test(rpc_call, a_node_that_dies_during_the_call_is_econn)
{
    h_node_t *doomed = h_node_start(cluster, "doomed", NULL);
    pending_t p = {.mb = mb};
    pthread_t t;

    cr_assert_not_null(doomed);
    h_node_t *keep = otp;
    otp = doomed; /* call() calls otp */
    cr_assert_eq(pthread_create(&t, NULL, sleep_long, &p), 0);
    /* Wait until the call's process sleeps there, then kill the node. */
    cr_assert(h_wait_until(doomed,
                           "lists:member({current_function, {timer, sleep, 1}},"
                           " [process_info(P, current_function) || "
                           "P <- processes()]).",
                           "true", 10000));
    h_node_kill(doomed);
    pthread_join(t, NULL);
    otp = keep;
    cr_assert_eq(p.rc, ENODE_ECONN, "%d %s", p.rc, enode_last_error(node));
}

Test(rpc_call, bad_arguments)
{
    ei_x_buff a = args_of("notalist"), result;
    cr_assert_eq(enode_rpc_call(mb, h_node_name(otp), "erlang", "node", &a,
                                &result, 1000), ENODE_EINVAL);
    ei_x_free(&a);
    /* Arguments Erlang refuses: badarg raised there. */
    expect_call(ENODE_ERAISED, "{error, badarg}", "erlang", "binary_to_atom",
                "[1, utf8]");
}

/* A function that prints: its output goes to the group leader the call
 * gave it, the C node's `user`, which answers. */
Test(rpc_call, a_function_that_prints_returns)
{
    expect_call(0, "ok", "io", "format", "[\"hello from the call\\n\"]");
}

Test(rpc_call, a_cast_runs_without_an_answer)
{
    ei_x_buff a;
    enode_msg_t m;
    char atom[MAXATOMLEN_UTF8];
    int i = 0, v;

    ei_x_new_with_version(&a);
    ei_x_encode_list_header(&a, 2);
    ei_x_encode_pid(&a, enode_mbox_pid(mb));
    ei_x_encode_atom(&a, "cast_arrived");
    ei_x_encode_empty_list(&a);
    cr_assert_eq(enode_rpc_cast(mb, h_node_name(otp), "erlang", "send", &a), 0,
                 "%s", enode_last_error(node));
    ei_x_free(&a);
    cr_assert_eq(enode_receive(mb, &m, 5000), 0);
    ei_decode_version(m.msg.buff, &i, &v);
    cr_assert_eq(ei_decode_atom(m.msg.buff, &i, atom), 0);
    cr_assert_str_eq(atom, "cast_arrived");
    enode_msg_free(&m);
    /* Nothing else comes: a cast has no answer. */
    cr_assert_eq(enode_receive(mb, &m, 500), ENODE_ETIMEOUT);
}

#define THREADS 4
#define CALLS 50

typedef struct {
    int id, failures;
    char why[256];
} worker_t;

/* Each thread its own mailbox, calls erlang:'+'(Id, K) CALLS times. */
static void *caller_thread(void *ud)
{
    worker_t *w = ud;
    enode_mbox_t *own;

    if (enode_mbox_new(node, &own) < 0) {
        w->failures = CALLS;
        return NULL;
    }
    for (int k = 0; k < CALLS; k++) {
        ei_x_buff a, result;
        long got = -1;
        int i = 1;
        ei_x_new_with_version(&a);
        ei_x_encode_list_header(&a, 2);
        ei_x_encode_long(&a, w->id * 1000);
        ei_x_encode_long(&a, k);
        ei_x_encode_empty_list(&a);
        int rc = enode_rpc_call(k % 2 ? own : mb, h_node_name(otp), "erlang",
                                "+", &a, &result, 10000);
        ei_x_free(&a);
        if (rc == 0) {
            ei_decode_long(result.buff, &i, &got);
            ei_x_free(&result);
        }
        if (rc != 0 || got != w->id * 1000 + k) {
            w->failures++;
            snprintf(w->why, sizeof w->why, "call %d: rc %d, got %ld", k, rc,
                     got);
        }
    }
    enode_mbox_free(own);
    return NULL;
}

/* Several threads at once, half of the calls through one shared mailbox. */
Test(rpc_call, threads_call_at_once)
{
    pthread_t t[THREADS];
    worker_t w[THREADS];

    for (int k = 0; k < THREADS; k++) {
        w[k] = (worker_t){.id = k + 1};
        cr_assert_eq(pthread_create(&t[k], NULL, caller_thread, &w[k]), 0);
    }
    for (int k = 0; k < THREADS; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < THREADS; k++)
        cr_assert_eq(w[k].failures, 0, "thread %d: %s", k, w[k].why);
}

/* ---- event-loop mode: the call runs the loop while it waits ------------- */

TestSuite(rpc_call_loop, .init = up_event_loop, .fini = down, .timeout = 60);

Test(rpc_call_loop, calls_run_the_loop)
{
    enode_msg_t m;
    char text[64];

    expect_call(0, "[c, b, a]", "lists", "reverse", "[[a, b, c]]");
    expect_call(ENODE_ERAISED, "{throw, x}", "erlang", "throw", "[x]");
    cr_assert_eq(call(mb, "timer", "sleep", "[1000]", 200, text, sizeof text),
                 ENODE_ETIMEOUT);
    cr_assert_eq(enode_receive(mb, &m, 1500), ENODE_ETIMEOUT);
    expect_call(0, "ok", "io", "format", "[\"from the loop\\n\"]");
}

Test(rpc_call_loop, two_threads_one_runs_the_loop)
{
    pthread_t t[2];
    worker_t w[2];

    for (int k = 0; k < 2; k++) {
        w[k] = (worker_t){.id = k + 1};
        cr_assert_eq(pthread_create(&t[k], NULL, caller_thread, &w[k]), 0);
    }
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < 2; k++)
        cr_assert_eq(w[k].failures, 0, "thread %d: %s", k, w[k].why);
}
