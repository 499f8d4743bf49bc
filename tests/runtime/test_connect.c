/* test_connect.c - connections in both roles and the handshake's
 * refusals, with a fake peer on the other end.
 *
 * A node dials a peer the first time it has something for it (a send, a
 * link, a monitor): what was queued meanwhile goes out once the handshake
 * is done, in the form the peer's flags ask for. A peer is refused when
 * its cookie differs or it lacks a flag OTP 26 requires; the node says
 * which in enode_last_error().
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rt.h"

TestSuite(connect, .fini = rt_teardown, .timeout = 20);

/* The node dials the peer (fp_listen, then something to send). */
static void listen_with(const fp_config_t *c)
{
    rt_node = rt_node_new(NULL);
    cr_assert_eq(fp_listen(&rt_fp, rt_node, c), 0, "%s", fp_error(rt_fp));
}

/* A message to the pid ud: SEND, or SEND_SENDER (to a peer that has
 * SEND_SENDER). */
static int is_send_to(const fp_pkt_t *p, void *ud)
{
    return p->rc == 0 &&
           (p->m.op == EN_DOP_SEND || p->m.op == EN_DOP_SEND_SENDER) &&
           fp_pid_eq(&p->m.to_pid, ud);
}

static void accept_or_fail(void)
{
    cr_assert_eq(fp_accept(rt_fp, T_MS), 0, "%s\nnode log:\n%s",
                 fp_error(rt_fp), rt_log());
}

Test(connect, the_peer_dials_and_both_agree_on_flags)
{
    rt_setup();
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
    /* What the node advertises: enough for OTP 26+, and what it serves. */
    uint64_t need = EN_DFLAGS_MANDATORY_26 | EN_DFLAG_FRAGMENTS |
                    EN_DFLAG_SPAWN | EN_DFLAG_ALIAS | EN_DFLAG_EXIT_PAYLOAD |
                    EN_DFLAG_DIST_MONITOR | EN_DFLAG_DIST_MONITOR_NAME;
    cr_assert_eq(fp_node_flags(rt_fp) & need, need);
    cr_assert_eq(fp_flags(rt_fp), FP_FLAGS_DEFAULT & fp_node_flags(rt_fp));
    cr_assert_neq(fp_node_creation(rt_fp), 0);
    cr_assert_eq(fp_node_creation(rt_fp), enode_creation(rt_node));
}

Test(connect, a_send_dials_the_peer_and_arrives_after_the_handshake)
{
    listen_with(NULL);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(enode_send(mb, &p, rt_term("{first, 1}")), 0);
    cr_assert_eq(enode_link(mb, &p), 0);
    cr_assert_eq(enode_send(mb, &p, rt_term("{second, 2}")), 0);
    accept_or_fail();
    /* Queued in the pass-through form, rewritten with the header the
     * peer's FRAGMENTS asks for, in order. */
    const fp_pkt_t *a = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert(is_send_to(a, &p), "op %d", a->m.op);
    cr_assert(!a->passthrough);
    cr_assert_str_eq(fp_text(a->m.msg, a->m.msg_len), "{first, 1}");
    a = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert_eq(a->m.op, EN_DOP_LINK);
    a = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(a->m.msg, a->m.msg_len), "{second, 2}");
}

Test(connect, toward_a_peer_without_fragments_the_queue_stays_pass_through)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_FRAGMENTS};
    listen_with(&c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(enode_send(mb, &p, rt_term("queued")), 0);
    accept_or_fail();
    const fp_pkt_t *a = fp_expect(rt_fp, is_send_to, &p, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert(a->passthrough);
    cr_assert_str_eq(fp_text(a->m.msg, a->m.msg_len), "queued");
}

Test(connect, enode_connect_reports_a_peer_that_is_not_there)
{
    rt_node = rt_node_new(NULL);
    /* A port nobody listens on: fp_listen, then close it at once. */
    cr_assert_eq(fp_listen(&rt_fp, rt_node, NULL), 0, "%s", fp_error(rt_fp));
    fp_free(rt_fp);
    rt_fp = NULL;
    cr_assert_eq(enode_connect(rt_node, FP_DEFAULT_NAME), ENODE_ECONN);
    cr_assert(strstr(enode_last_error(rt_node), "peer@localhost"),
              "last error: %s", enode_last_error(rt_node));
}

Test(connect, a_wrong_cookie_is_refused)
{
    fp_config_t c = {.cookie = "not-the-cookie"};
    rt_node = rt_node_new(NULL);
    cr_assert_eq(fp_connect(&rt_fp, rt_node, &c), -1);
    cr_assert(strstr(fp_error(rt_fp), "handshake"), "%s", fp_error(rt_fp));
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 0);
    cr_assert(strstr(rt_log(), "cookie"), "log:\n%s", rt_log());
}

Test(connect, a_wrong_cookie_is_refused_when_the_node_dials)
{
    fp_config_t c = {.cookie = "not-the-cookie"};
    listen_with(&c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(enode_send(mb, &p, rt_term("lost")), 0);
    cr_assert_eq(fp_accept(rt_fp, T_MS), -1);
    cr_assert(strstr(fp_error(rt_fp), "cookie"), "%s", fp_error(rt_fp));
}

Test(connect, a_peer_without_the_otp26_flags_is_refused)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_UNLINK_ID};
    rt_node = rt_node_new(NULL);
    cr_assert_eq(fp_connect(&rt_fp, rt_node, &c), -1);
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 0);
    cr_assert(strstr(rt_log(), "UNLINK_ID"), "log:\n%s", rt_log());
}

/* A peer that connects again while the node still holds a connection to
 * it (a restarted node whose old connection has not timed out yet) gets
 * "alive", confirms, and the node drops the old connection. As in OTP,
 * the old connection goes down like any other: links and monitors
 * across it fire with noconnection, and node watchers see nodedown before
 * the new nodeup. */
Test(connect, a_second_connection_from_the_same_peer_replaces_the_first)
{
    rt_setup();
    fp_t *second = NULL;
    enode_mbox_t *mb = rt_mbox(NULL, 1);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(mb)), 0);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    /* The node answers "alive"; the new peer confirms, as a restarted
     * node does, and the old connection goes with its links. */
    int rc = fp_connect(&second, rt_node, NULL);
    cr_assert_eq(rc, 0, "%s\nnode log:\n%s", fp_error(second), rt_log());
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, T_MS),
                     rt_fmt("{'EXIT', %s, noconnection}", fp_pid_text(&p)));
    cr_assert_eq(fp_sync(second, T_MS), 0, "%s", fp_error(second));
    fp_free(second);
}

/* The same, with a visible peer: node watchers see the old connection's
 * nodedown, then the new one's nodeup. */
Test(connect, a_replaced_connection_is_nodedown_then_nodeup)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT | EN_DFLAG_PUBLISHED};
    fp_t *second = NULL;

    rt_node = rt_node_new(NULL);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_ref ref;

    cr_assert_eq(enode_monitor_nodes(mb, 1), 0);
    cr_assert_eq(fp_connect(&rt_fp, rt_node, &c), 0, "%s", fp_error(rt_fp));
    erlang_pid p = rt_peer_pid(1);
    cr_assert_str_eq(rt_next(mb, T_MS), "{nodeup, peer@localhost}");
    cr_assert_eq(enode_monitor(mb, &p, &ref), 0);
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_connect(&second, rt_node, &c), 0, "%s\nnode log:\n%s",
                 fp_error(second), rt_log());
    cr_assert_str_eq(rt_next(mb, T_MS),
                     rt_fmt("{'DOWN', %s, process, %s, noconnection}",
                            fp_ref_text(&ref), fp_pid_text(&p)));
    cr_assert_str_eq(rt_next(mb, T_MS), "{nodedown, peer@localhost}");
    cr_assert_str_eq(rt_next(mb, T_MS), "{nodeup, peer@localhost}");
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
    fp_free(second);
}

/* ---- what was queued while connecting ------------------------------------ */

/* The fake peer's packet is a PAYLOAD_EXIT2 that came in fragments. */
static int is_fragmented_exit2(const fp_pkt_t *p, void *ud)
{
    (void)ud;
    return p->rc == 0 && p->m.op == EN_DOP_PAYLOAD_EXIT2 && p->fragments > 1;
}

/* Signals queued before the flags are known take the forms those flags
 * call for once they are: SEND_SENDER, a PAYLOAD exit (in fragments, its
 * reason being over 64 KiB), MONITOR_P. */
Test(connect, queued_signals_take_the_forms_of_the_peers_flags)
{
    listen_with(NULL);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;
    static char big[100 * 1024];
    ei_x_buff *reason = rt_term_slot();

    memset(big, 'q', sizeof big);
    ei_x_encode_binary(reason, big, sizeof big);
    cr_assert_eq(enode_send(mb, &p, rt_term("hello")), 0);
    cr_assert_eq(enode_exit(mb, &p, reason), 0);
    cr_assert_eq(enode_monitor(mb, &p, &ref), 0);
    accept_or_fail();
    const fp_pkt_t *a = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert_eq(a->m.op, EN_DOP_SEND_SENDER);
    cr_assert(fp_pid_eq(&a->m.from, enode_mbox_pid(mb)));
    a = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert(is_fragmented_exit2(a, NULL), "op %d in %d fragments",
              a->m.op, a->fragments);
    cr_assert_eq(a->m.reason_len, (size_t)reason->index - 1);
    a = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert_eq(a->m.op, EN_DOP_MONITOR_P);
    cr_assert(fp_ref_eq(&a->m.ref, &ref));
}

/* Toward an older peer the same queue goes in the old forms; the
 * monitor sends nothing (the peer has no DIST_MONITOR); the exit whose
 * reason cannot fit a control tuple the peer could take whole is dropped
 * alone, with a word in the log, and the connection carries the rest. */
Test(connect, queued_signals_to_an_older_peer_take_the_old_forms)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT &
                              ~(EN_DFLAG_EXIT_PAYLOAD | EN_DFLAG_SEND_SENDER |
                                EN_DFLAG_DIST_MONITOR |
                                EN_DFLAG_DIST_MONITOR_NAME)};
    listen_with(&c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;
    static char big[100 * 1024];
    ei_x_buff *reason = rt_term_slot();

    memset(big, 'q', sizeof big);
    ei_x_encode_binary(reason, big, sizeof big);
    cr_assert_eq(enode_send(mb, &p, rt_term("hello")), 0);
    cr_assert_eq(enode_exit(mb, &p, reason), 0);
    cr_assert_eq(enode_monitor(mb, &p, &ref), 0);
    cr_assert_eq(enode_exit(mb, &p, rt_term("small")), 0);
    accept_or_fail();
    const fp_pkt_t *a = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert_eq(a->m.op, EN_DOP_SEND);
    a = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert_eq(a->m.op, EN_DOP_EXIT2);
    cr_assert_str_eq(fp_text(a->m.reason, a->m.reason_len), "small");
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
    cr_assert(strstr(rt_log(), "dropped: control message over 64 KiB"),
              "log:\n%s", rt_log());
}

/* enode_disconnect is the application's own doing: news at info level,
 * as a peer's normal close is, not a warning. */
Test(connect, the_application_disconnecting_is_news_not_trouble)
{
    rt_setup();
    cr_assert_eq(enode_disconnect(rt_node, FP_DEFAULT_NAME), 0);
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 0);
    cr_assert(strstr(rt_log(), "info: connection to " FP_DEFAULT_NAME
                               " closed: disconnected by the application"),
              "%s", rt_log());
    cr_assert(!strstr(rt_log(), "warning: connection to"), "%s", rt_log());
}
