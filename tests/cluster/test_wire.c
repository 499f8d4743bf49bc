/* test_wire.c - what crosses the wire in the newer forms, against real
 * OTP nodes: rpc results and exit reasons of any size (they travel as
 * the payload of PAYLOAD_MONITOR_P_EXIT, PAYLOAD_EXIT and PAYLOAD_EXIT2,
 * cut into fragments, never inside a control tuple, which is never
 * fragmented), and OTP 28's ALTACT_SIG_SEND (messages and exit signals
 * to aliases, priority signals). Each test also checks that the
 * connection is the one it started with: no nodedown on either side. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *otp;
static enode_t *node;
static enode_mbox_t *watch; /* enode_monitor_nodes: nodedown would show */
static int otp_release;

/* Every large term here is this pattern, so either side can check it
 * cheaply: binary:copy(<<"0123456789abcdef">>, N div 16). */
#define PATTERN "0123456789abcdef"
#define PATTERN_EXPR "binary:copy(<<\"" PATTERN "\">>, %d)"
#define MIB (1024 * 1024)

/* wire:big(N) -> a binary of N bytes of the pattern. */
static int big(void *user, const char *args, int i, int arity,
               ei_x_buff *result)
{
    long n;
    (void)user;
    if (arity != 1 || ei_decode_long(args, &i, &n) < 0 || n < 0 ||
        n % 16 != 0) {
        ei_x_encode_atom(result, "badarg");
        return 1;
    }
    char *bytes = malloc((size_t)n + 1);
    cr_assert_not_null(bytes);
    for (long k = 0; k < n; k++)
        bytes[k] = PATTERN[k % 16];
    ei_x_encode_binary(result, bytes, n);
    free(bytes);
    return 0;
}

static void up(void)
{
    enode_config_t *cfg;
    char err[512], out[64];

    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    otp = h_node_start(cluster, "erl", NULL);
    cr_assert_not_null(otp);
    cr_assert_eq(h_eval(otp, "list_to_integer(erlang:system_info("
                             "otp_release)).",
                        out, sizeof out, 0),
                 H_OK);
    otp_release = atoi(out);
    cfg = h_enode_config(cluster, "wire");
    cr_assert_not_null(cfg);
    int new_rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(new_rc, 0, "%s", err);
    cr_assert_eq(enode_rpc_register(node, "wire", "big", big, NULL), 0);
    cr_assert_eq(enode_mbox_new(node, &watch), 0);
    cr_assert_eq(enode_monitor_nodes(watch, 1), 0);
    cr_assert_eq(enode_start_thread(node), 0);
    cr_assert_eq(enode_connect(node, h_node_name(otp)), 0, "%s",
                 enode_last_error(node));
}

/* The connection is still the first one: the C node saw no nodedown and
 * the Erlang node has it in nodes(). */
static void assert_same_connection(void)
{
    enode_msg_t m;
    int rc = enode_receive(watch, &m, 0);
    while (rc == 0) { /* the first nodeup, if it is still there */
        char atom[MAXATOMLEN_UTF8] = "?";
        int i = 1, arity;
        ei_decode_tuple_header(m.msg.buff, &i, &arity);
        ei_decode_atom(m.msg.buff, &i, atom);
        enode_msg_free(&m);
        cr_assert_str_eq(atom, "nodeup", "the C node saw %s", atom);
        rc = enode_receive(watch, &m, 0);
    }
    cr_assert(h_eval_expectf(otp, "true", "lists:member('%s', nodes()).",
                             enode_name(node)));
}

static void down(void)
{
    enode_free(node);
    h_cluster_stop(cluster);
}

/* An Erlang expression that evaluates to the pid: binary_to_term(<<...>>). */
static const char *pid_expr(const erlang_pid *pid, char *buf, size_t len)
{
    ei_x_buff x;
    size_t at;

    ei_x_new_with_version(&x);
    ei_x_encode_pid(&x, pid);
    at = (size_t)snprintf(buf, len, "binary_to_term(<<");
    for (int i = 0; i < x.index && at + 5 < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%u", i ? "," : "",
                               (unsigned char)x.buff[i]);
    snprintf(buf + at, len - at, ">>)");
    ei_x_free(&x);
    return buf;
}

/* The same for a reference (an alias). */
static const char *ref_expr(const erlang_ref *ref, char *buf, size_t len)
{
    ei_x_buff x;
    size_t at;

    ei_x_new_with_version(&x);
    ei_x_encode_ref(&x, ref);
    at = (size_t)snprintf(buf, len, "binary_to_term(<<");
    for (int i = 0; i < x.index && at + 5 < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%u", i ? "," : "",
                               (unsigned char)x.buff[i]);
    snprintf(buf + at, len - at, ">>)");
    ei_x_free(&x);
    return buf;
}

/* A term of the pattern, n bytes. */
static void pattern_term(ei_x_buff *x, size_t n)
{
    char *bytes = malloc(n);
    cr_assert_not_null(bytes);
    for (size_t k = 0; k < n; k++)
        bytes[k] = PATTERN[k % 16];
    ei_x_new_with_version(x);
    ei_x_encode_binary(x, bytes, (long)n);
    free(bytes);
}

/* Whether the binary at buf[*i] is n bytes of the pattern. */
static int is_pattern(const char *buf, int *i, size_t n)
{
    int type, size;
    if (ei_get_type(buf, i, &type, &size) < 0 || type != ERL_BINARY_EXT ||
        (size_t)size != n)
        return 0;
    char *bytes = malloc(n ? n : 1);
    long got;
    int ok = ei_decode_binary(buf, i, bytes, &got) == 0 && (size_t)got == n;
    for (size_t k = 0; ok && k < n; k++)
        ok = bytes[k] == PATTERN[k % 16];
    free(bytes);
    return ok;
}

TestSuite(payload, .init = up, .fini = down, .timeout = 240);

/* ---- rpc results of any size ----------------------------------------- */

static void result_of_size(const char *call, int size)
{
    char out[256];
    cr_assert_eq(h_evalf(otp, out, sizeof out, 120000,
                         "B = %s('%s', wire, big, [%d]), "
                         "{is_binary(B), B =:= " PATTERN_EXPR "}.",
                         call, enode_name(node), size, size / 16),
                 H_OK, "%s", out);
    cr_assert_str_eq(out, "{true,true}", "%s of %d bytes: %s", call, size,
                     out);
}

Test(payload, rpc_and_erpc_results_of_64_kib_1_mib_and_16_mib)
{
    static const int sizes[] = {64 * 1024, MIB, 16 * MIB};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        result_of_size("rpc:call", sizes[k]);
        result_of_size("erpc:call", sizes[k]);
    }
    /* The size the issue was found with, just over 64 KiB. */
    result_of_size("rpc:call", 65600);
    assert_same_connection();
}

/* ---- exit reasons of 1 MiB, both ways --------------------------------- */

Test(payload, a_1_mib_exit_reason_from_c_through_a_link_and_a_monitor)
{
    enode_mbox_t *mb;
    char p[256];
    ei_x_buff reason;

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    pid_expr(enode_mbox_pid(mb), p, sizeof p);
    /* A process that links to the mailbox and monitors it, then reports
     * what the exit signal and the DOWN carried. */
    cr_assert(h_eval_expectf(otp, "true",
        "Self = self(), spawn(fun() -> process_flag(trap_exit, true), "
        "link(%s), M = monitor(process, %s), Self ! ready, "
        "E = receive {'EXIT', _, R1} -> R1 after 60000 -> none end, "
        "D = receive {'DOWN', M, process, _, R2} -> R2 after 60000 -> none "
        "end, register(c_exit_report, self()), Want = " PATTERN_EXPR ", "
        "receive {get, F} -> F ! {E =:= Want, D =:= Want} end end), "
        "receive ready -> true after 5000 -> false end.",
        p, p, MIB / 16));
    pattern_term(&reason, MIB);
    usleep(200000); /* the LINK and MONITOR_P get there first */
    cr_assert_eq(enode_mbox_exit(mb, &reason), 0);
    ei_x_free(&reason);
    cr_assert(h_wait_until(otp,
                           "case whereis(c_exit_report) of undefined -> "
                           "waiting; P -> P ! {get, self()}, receive R -> R "
                           "end end.",
                           "{true,true}", 60000));
    enode_mbox_free(mb);
    assert_same_connection();
}

/* {pid, P} from the Erlang side, into mb. */
static void receive_pid(enode_mbox_t *mb, erlang_pid *pid)
{
    enode_msg_t m;
    int i = 0, v, a;
    cr_assert_eq(enode_receive(mb, &m, 10000), 0);
    ei_decode_version(m.msg.buff, &i, &v);
    ei_decode_tuple_header(m.msg.buff, &i, &a);
    ei_skip_term(m.msg.buff, &i);
    cr_assert_eq(ei_decode_pid(m.msg.buff, &i, pid), 0);
    enode_msg_free(&m);
}

Test(payload, a_1_mib_exit_reason_from_erlang_through_a_link_and_a_monitor)
{
    enode_mbox_t *linked, *monitoring;
    erlang_pid victim;
    erlang_ref ref;
    enode_msg_t m;
    char p[256];
    int i, v, arity;

    cr_assert_eq(enode_mbox_new(node, &linked), 0);
    cr_assert_eq(enode_mbox_new(node, &monitoring), 0);
    cr_assert_eq(enode_trap_exit(linked, 1), 0);
    cr_assert(h_eval_expectf(otp, "ok",
        "spawn(fun() -> register(big_victim, self()), %s ! {pid, self()}, "
        "receive go -> exit(" PATTERN_EXPR ") end end), ok.",
        pid_expr(enode_mbox_pid(linked), p, sizeof p), MIB / 16));
    receive_pid(linked, &victim);
    cr_assert_eq(enode_link(linked, &victim), 0);
    cr_assert_eq(enode_monitor(monitoring, &victim, &ref), 0);
    usleep(200000);
    cr_assert(h_eval_expectf(otp, "go", "big_victim ! go."));

    cr_assert_eq(enode_receive(linked, &m, 30000), 0, "%s",
                 enode_last_error(node));
    i = 0;
    ei_decode_version(m.msg.buff, &i, &v);
    cr_assert_eq(ei_decode_tuple_header(m.msg.buff, &i, &arity), 0);
    cr_assert_eq(arity, 3);
    ei_skip_term(m.msg.buff, &i); /* 'EXIT' */
    ei_skip_term(m.msg.buff, &i); /* the pid */
    cr_assert(is_pattern(m.msg.buff, &i, MIB), "the link's reason");
    enode_msg_free(&m);

    cr_assert_eq(enode_receive(monitoring, &m, 30000), 0, "%s",
                 enode_last_error(node));
    i = 0;
    ei_decode_version(m.msg.buff, &i, &v);
    cr_assert_eq(ei_decode_tuple_header(m.msg.buff, &i, &arity), 0);
    cr_assert_eq(arity, 5);
    for (int k = 0; k < 4; k++)
        ei_skip_term(m.msg.buff, &i); /* 'DOWN', Ref, process, Pid */
    cr_assert(is_pattern(m.msg.buff, &i, MIB), "the monitor's reason");
    enode_msg_free(&m);
    enode_mbox_free(linked);
    enode_mbox_free(monitoring);
    assert_same_connection();
}

/* exit/2 from C with a 1 MiB reason: PAYLOAD_EXIT2. */
Test(payload, a_1_mib_exit2_from_c)
{
    enode_mbox_t *mb;
    erlang_pid target;
    ei_x_buff reason;
    char p[256];

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert(h_eval_expectf(otp, "ok",
        "spawn(fun() -> process_flag(trap_exit, true), "
        "register(big_target, self()), %s ! {pid, self()}, "
        "receive {'EXIT', _, R} -> receive {get, F} -> "
        "F ! (R =:= " PATTERN_EXPR ") end end end), ok.",
        pid_expr(enode_mbox_pid(mb), p, sizeof p), MIB / 16));
    receive_pid(mb, &target);
    pattern_term(&reason, MIB);
    cr_assert_eq(enode_exit(mb, &target, &reason), 0);
    ei_x_free(&reason);
    cr_assert(h_wait_until(otp,
                           "big_target ! {get, self()}, receive R -> R after "
                           "1000 -> waiting end.",
                           "true", 60000));
    enode_mbox_free(mb);
    assert_same_connection();
}

/* ---- OTP 28's ALTACT_SIG_SEND ----------------------------------------- */

static void need_otp28(void)
{
    if (otp_release < 28)
        cr_skip_test("OTP %d has no ALTACT_SIG_SEND", otp_release);
}

/* Whichever release: a message to a mailbox's alias arrives (as
 * ALIAS_SEND from OTP 25 to 27, as ALTACT_SIG_SEND from 28 on). */
Test(payload, a_message_to_an_alias_arrives)
{
    enode_mbox_t *mb;
    erlang_ref alias;
    char r[256];

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_alias(mb, &alias), 0);
    cr_assert(h_eval_expectf(otp, "ok", "erlang:send(%s, by_alias), ok.",
                             ref_expr(&alias, r, sizeof r)));
    enode_msg_t m;
    char atom[MAXATOMLEN_UTF8];
    int i = 0, v;
    cr_assert_eq(enode_receive(mb, &m, 10000), 0);
    ei_decode_version(m.msg.buff, &i, &v);
    cr_assert_eq(ei_decode_atom(m.msg.buff, &i, atom), 0);
    cr_assert_str_eq(atom, "by_alias");
    enode_msg_free(&m);
    enode_mbox_free(mb);
    assert_same_connection();
}

/* The atoms in mb, in the order they came, space-separated. */
static const char *atoms_in(enode_mbox_t *mb, int n)
{
    static char text[512];
    text[0] = '\0';
    for (int k = 0; k < n; k++) {
        enode_msg_t m;
        char atom[MAXATOMLEN_UTF8];
        int i = 0, v;
        if (enode_receive(mb, &m, 10000) < 0)
            break;
        ei_decode_version(m.msg.buff, &i, &v);
        if (ei_decode_atom(m.msg.buff, &i, atom) < 0)
            strcpy(atom, "?");
        enode_msg_free(&m);
        strcat(text, k ? " " : "");
        strcat(text, atom);
    }
    return text;
}

/* erlang:send/3 with [priority], to an alias, a pid and a name: a
 * mailbox enables no priority, so they arrive as OTP delivers them to
 * such a process, in order. */
Test(payload, priority_messages_arrive_in_order)
{
    enode_mbox_t *mb;
    erlang_ref alias;
    char r[256], p[256];

    need_otp28();
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_register(mb, "prio_box"), 0);
    cr_assert_eq(enode_alias(mb, &alias), 0);
    cr_assert(h_eval_expectf(otp, "ok",
        "A = %s, P = %s, erlang:send(P, first), "
        "erlang:send(A, second, [priority]), "
        "erlang:send(P, third, [priority]), "
        "erlang:send({prio_box, '%s'}, fourth, [priority]), "
        "erlang:send(A, fifth), ok.",
        ref_expr(&alias, r, sizeof r),
        pid_expr(enode_mbox_pid(mb), p, sizeof p), enode_name(node)));
    cr_assert_str_eq(atoms_in(mb, 5), "first second third fourth fifth");
    enode_mbox_free(mb);
    assert_same_connection();
}

/* Why mb exited, as ei prints it. */
static const char *reason_text(const enode_mbox_t *mb)
{
    static char text[256];
    const ei_x_buff *why = enode_mbox_exit_reason(mb);
    char *s = NULL;
    int i = 1;
    cr_assert_not_null(why, "the mailbox is alive");
    cr_assert_geq(ei_s_print_term(&s, why->buff, &i), 0);
    snprintf(text, sizeof text, "%s", s);
    free(s);
    return text;
}

/* exit/2 to an alias, and exit/3 with [priority] to a pid. */
Test(payload, exit_signals_to_an_alias_and_with_priority)
{
    enode_mbox_t *by_alias, *by_pid;
    erlang_ref alias;
    enode_msg_t m;
    char r[256], p[256];

    need_otp28();
    cr_assert_eq(enode_mbox_new(node, &by_alias), 0);
    cr_assert_eq(enode_mbox_new(node, &by_pid), 0);
    cr_assert_eq(enode_alias(by_alias, &alias), 0);
    cr_assert(h_eval_expectf(otp, "true",
                             "exit(%s, {shutdown, alias}).",
                             ref_expr(&alias, r, sizeof r)));
    cr_assert(h_eval_expectf(otp, "true",
                             "exit(%s, {shutdown, prio}, [priority]).",
                             pid_expr(enode_mbox_pid(by_pid), p, sizeof p)));
    cr_assert_eq(enode_receive(by_alias, &m, 10000), ENODE_ECLOSED);
    cr_assert_eq(enode_receive(by_pid, &m, 10000), ENODE_ECLOSED);
    cr_assert_str_eq(reason_text(by_alias), "{shutdown, alias}");
    cr_assert_str_eq(reason_text(by_pid), "{shutdown, prio}");
    enode_mbox_free(by_alias);
    enode_mbox_free(by_pid);
    assert_same_connection();
}

/* A gen_server:call from Erlang to a mailbox: the reply goes to the
 * caller's alias (ALTACT_SIG_SEND to OTP 28+, ALIAS_SEND before). */
static void *answer_one_call(void *arg)
{
    enode_mbox_t *mb = arg;
    enode_msg_t m;
    enode_from_t from;
    int req;
    if (enode_receive(mb, &m, 20000) == 0 &&
        enode_gen_call_parse(&m, &from, &req)) {
        ei_x_buff reply;
        ei_x_new_with_version(&reply);
        ei_x_encode_atom(&reply, "answered");
        enode_gen_reply(mb, &from, &reply);
        ei_x_free(&reply);
        enode_msg_free(&m);
    }
    return NULL;
}

Test(payload, a_gen_call_reply_goes_to_the_callers_alias)
{
    enode_mbox_t *mb;
    pthread_t t;

    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_register(mb, "callee"), 0);
    cr_assert_eq(pthread_create(&t, NULL, answer_one_call, mb), 0);
    cr_assert(h_eval_expectf(otp, "answered",
                             "gen_server:call({callee, '%s'}, hello, 10000).",
                             enode_name(node)));
    pthread_join(t, NULL);
    enode_mbox_free(mb);
    assert_same_connection();
}
