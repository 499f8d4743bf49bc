/* test_signals.c - exit/2 both ways, a mailbox's exit fanned out to its
 * links and monitors, aliases, and node monitoring, as a fake peer sees
 * and drives them.
 *
 * exit/2 (EXIT2 8, PAYLOAD_EXIT2 26) needs no link: `normal` does nothing
 * to a process that does not trap exits, `kill` kills even one that does
 * (reason `killed`), anything else kills or is trapped. When a mailbox
 * exits, every link gets an exit signal (EXIT) and every monitor a
 * MONITOR_P_EXIT with the reason, and the mailbox's own monitors are
 * taken back. A message to an alias (ALIAS_SEND 33) arrives while the
 * alias is active and is dropped after unalias.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rt.h"

TestSuite(signals, .init = rt_setup, .fini = rt_teardown, .timeout = 20);

static void sync_peer(void)
{
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

static const char *exit_msg(const erlang_pid *from, const char *reason)
{
    return rt_fmt("{'EXIT', %s, %s}", fp_pid_text(from), reason);
}

/* The first packet with op `op` for the peer's `to`, with its checks. */
static const fp_pkt_t *expect(int op, const erlang_pid *to)
{
    const fp_pkt_t *p = fp_expect_to(rt_fp, op, to, T_MS);
    cr_assert(p, "no op %d to %s: %s", op, fp_pid_text(to), fp_error(rt_fp));
    return p;
}

static const char *reason_of(const fp_pkt_t *p)
{
    return fp_text(p->m.reason, p->m.reason_len);
}

Test(signals, exit2_from_the_peer_kills_or_is_trapped)
{
    enode_mbox_t *plain = rt_mbox(NULL, 0), *trap = rt_mbox(NULL, 1);
    erlang_pid p = rt_peer_pid(1);

    /* No link needed. */
    cr_assert_eq(fp_exit2(rt_fp, &p, enode_mbox_pid(plain), rt_term("boom")),
                 0);
    cr_assert_eq(fp_exit2(rt_fp, &p, enode_mbox_pid(trap), rt_term("boom")), 0);
    cr_assert_str_eq(rt_next(plain, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(plain), "boom");
    cr_assert_str_eq(rt_next(trap, T_MS), exit_msg(&p, "boom"));
}

Test(signals, exit2_normal_is_ignored_unless_trapped)
{
    enode_mbox_t *plain = rt_mbox(NULL, 0), *trap = rt_mbox(NULL, 1);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_exit2(rt_fp, &p, enode_mbox_pid(plain), rt_term("normal")),
                 0);
    cr_assert_eq(fp_exit2(rt_fp, &p, enode_mbox_pid(trap), rt_term("normal")),
                 0);
    sync_peer();
    cr_assert_str_eq(rt_next(plain, 0), "(timeout)");
    cr_assert_str_eq(rt_exit_reason(plain), "(alive)");
    cr_assert_str_eq(rt_next(trap, 0), exit_msg(&p, "normal"));
}

Test(signals, a_mailbox_exit_reaches_every_link_and_monitor)
{
    enode_mbox_t *mb = rt_mbox("srv", 0);
    enode_mbox_t *local_link = rt_mbox(NULL, 1), *local_mon = rt_mbox(NULL, 0);
    erlang_pid p1 = rt_peer_pid(1), p2 = rt_peer_pid(2), p3 = rt_peer_pid(3),
               p4 = rt_peer_pid(4);
    erlang_ref r3, r4, local_ref;
    const erlang_pid *me = enode_mbox_pid(mb);

    fp_ref(rt_fp, &r3);
    fp_ref(rt_fp, &r4);
    cr_assert_eq(fp_link(rt_fp, &p1, me), 0);
    cr_assert_eq(enode_link(mb, &p2), 0);
    cr_assert(fp_expect_op(rt_fp, EN_DOP_LINK, T_MS), "%s", fp_error(rt_fp));
    cr_assert_eq(fp_monitor(rt_fp, &p3, me, NULL, &r3), 0);
    cr_assert_eq(fp_monitor(rt_fp, &p4, NULL, "srv", &r4), 0);
    cr_assert_eq(enode_link(local_link, me), 0);
    cr_assert_eq(enode_monitor(local_mon, me, &local_ref), 0);
    sync_peer();

    /* The peer has EXIT_PAYLOAD, as OTP has: the reasons go as payloads. */
    cr_assert_eq(enode_mbox_exit(mb, rt_term("{shutdown, fan}")), 0);
    const fp_pkt_t *x = expect(EN_DOP_PAYLOAD_EXIT, &p1);
    cr_assert(fp_pid_eq(&x->m.from, me));
    cr_assert_str_eq(reason_of(x), "{shutdown, fan}");
    x = expect(EN_DOP_PAYLOAD_EXIT, &p2);
    cr_assert(fp_pid_eq(&x->m.from, me));
    cr_assert_str_eq(reason_of(x), "{shutdown, fan}");
    x = expect(EN_DOP_PAYLOAD_MONITOR_P_EXIT, &p3);
    cr_assert(x->m.has_from && fp_pid_eq(&x->m.from, me));
    cr_assert(fp_ref_eq(&x->m.ref, &r3));
    cr_assert_str_eq(reason_of(x), "{shutdown, fan}");
    x = expect(EN_DOP_PAYLOAD_MONITOR_P_EXIT, &p4);
    cr_assert(x->m.has_from_name);
    cr_assert_str_eq(x->m.from_name, "srv");
    cr_assert(fp_ref_eq(&x->m.ref, &r4));
    cr_assert_str_eq(reason_of(x), "{shutdown, fan}");

    cr_assert_str_eq(rt_next(local_link, T_MS),
                     exit_msg(me, "{shutdown, fan}"));
    cr_assert_str_eq(rt_next(local_mon, T_MS),
                     rt_fmt("{'DOWN', %s, process, %s, {shutdown, fan}}",
                            fp_ref_text(&local_ref), fp_pid_text(me)));
    cr_assert_str_eq(rt_next(mb, 0), "(closed)");
    cr_assert_str_eq(rt_exit_reason(mb), "{shutdown, fan}");
    /* Exactly one signal each. */
    sync_peer();
    const fp_pkt_t *more = fp_expect(rt_fp, NULL, NULL, 0);
    cr_assert_null(more, "and op %d", more ? more->m.op : 0);
}

Test(signals, freeing_a_live_mailbox_exits_it_normally)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1), me = *enode_mbox_pid(mb);

    cr_assert_eq(fp_link(rt_fp, &p, &me), 0);
    sync_peer();
    enode_mbox_free(mb);
    const fp_pkt_t *x = expect(EN_DOP_PAYLOAD_EXIT, &p);
    cr_assert(fp_pid_eq(&x->m.from, &me));
    cr_assert_str_eq(reason_of(x), "normal");
}

Test(signals, enode_exit_of_a_peer_pid_is_exit2)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(enode_exit(mb, &p, rt_term("{bye, 1}")), 0);
    const fp_pkt_t *x = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(x, "%s", fp_error(rt_fp));
    cr_assert_eq(x->m.op, EN_DOP_PAYLOAD_EXIT2);
    cr_assert(fp_pid_eq(&x->m.from, enode_mbox_pid(mb)));
    cr_assert(fp_pid_eq(&x->m.to_pid, &p));
    cr_assert_str_eq(reason_of(x), "{bye, 1}");
    /* kill goes as it is: the receiving node makes it `killed`. */
    cr_assert_eq(enode_exit(mb, &p, rt_term("kill")), 0);
    x = fp_expect(rt_fp, NULL, NULL, T_MS);
    cr_assert(x, "%s", fp_error(rt_fp));
    cr_assert_str_eq(reason_of(x), "kill");
    /* The sender is not hurt, and nothing else went out. */
    sync_peer();
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
}

Test(signals, a_message_to_an_alias_arrives_until_unalias)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref alias, never;
    rt_msg_t m;

    cr_assert_eq(enode_alias(mb, &alias), 0);
    cr_assert_eq(fp_alias_send(rt_fp, &p, &alias, rt_term("{hello, 1}")), 0);
    cr_assert_eq(rt_recv(mb, T_MS, &m), 0);
    cr_assert_str_eq(m.text, "{hello, 1}");
    cr_assert(m.has_from && fp_pid_eq(&m.from, &p));

    cr_assert_eq(enode_unalias(mb, &alias), 0);
    cr_assert_eq(enode_unalias(mb, &alias), ENODE_ENOTFOUND);
    cr_assert_eq(fp_alias_send(rt_fp, &p, &alias, rt_term("{hello, 2}")), 0);
    /* A reference that never was an alias: dropped as well. */
    cr_assert_eq(enode_make_ref(rt_node, &never), 0);
    cr_assert_eq(fp_alias_send(rt_fp, &p, &never, rt_term("{hello, 3}")), 0);
    sync_peer();
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}

Test(signals, aliases_of_a_mailbox_are_its_own)
{
    enode_mbox_t *a = rt_mbox(NULL, 0), *b = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ra, rb;

    cr_assert_eq(enode_alias(a, &ra), 0);
    cr_assert_eq(enode_alias(b, &rb), 0);
    cr_assert_eq(fp_alias_send(rt_fp, &p, &rb, rt_term("for_b")), 0);
    cr_assert_eq(fp_alias_send(rt_fp, &p, &ra, rt_term("for_a")), 0);
    cr_assert_str_eq(rt_next(a, T_MS), "for_a");
    cr_assert_str_eq(rt_next(b, T_MS), "for_b");
}

/* ---- peers without EXIT_PAYLOAD ------------------------------------------ */

TestSuite(old_forms, .fini = rt_teardown, .timeout = 20);

/* A peer without EXIT_PAYLOAD (an older or smaller node) gets the
 * reasons inside the control tuples, as OTP sends them to such a peer. */
Test(old_forms, a_peer_without_exit_payload_gets_the_old_forms)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_EXIT_PAYLOAD};
    rt_setup_with(NULL, &c);
    enode_mbox_t *mb = rt_mbox("old", 0), *other = rt_mbox(NULL, 0);
    erlang_pid p1 = rt_peer_pid(1), p2 = rt_peer_pid(2), p3 = rt_peer_pid(3);
    erlang_ref r3;
    const erlang_pid *me = enode_mbox_pid(mb);

    fp_ref(rt_fp, &r3);
    cr_assert_eq(fp_link(rt_fp, &p1, me), 0);
    cr_assert_eq(fp_monitor(rt_fp, &p3, NULL, "old", &r3), 0);
    sync_peer();
    cr_assert_eq(enode_exit(other, &p2, rt_term("{bye, 2}")), 0);
    const fp_pkt_t *x = expect(EN_DOP_EXIT2, &p2);
    cr_assert_str_eq(reason_of(x), "{bye, 2}");
    cr_assert_eq(enode_mbox_exit(mb, rt_term("{shutdown, old}")), 0);
    x = expect(EN_DOP_EXIT, &p1);
    cr_assert_str_eq(reason_of(x), "{shutdown, old}");
    x = expect(EN_DOP_MONITOR_P_EXIT, &p3);
    cr_assert_str_eq(x->m.from_name, "old");
    cr_assert_str_eq(reason_of(x), "{shutdown, old}");
}

/* A reason too large for a control tuple that must go whole into the
 * first fragment cannot reach such a peer: the send fails, says why, and
 * the connection stays. */
Test(old_forms, an_exit_too_large_for_an_old_form_fails_that_send_alone)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_EXIT_PAYLOAD};
    rt_setup_with(NULL, &c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    static char big[100 * 1024];
    ei_x_buff *reason = rt_term_slot();

    memset(big, 'r', sizeof big);
    ei_x_encode_binary(reason, big, sizeof big);
    cr_assert_eq(enode_exit(mb, &p, reason), ENODE_EBADTERM);
    cr_assert(strstr(enode_last_error(rt_node), "control message over 64 KiB"),
              "last error: %s", enode_last_error(rt_node));
    cr_assert_eq(enode_exit(mb, &p, rt_term("small")), 0);
    const fp_pkt_t *x = expect(EN_DOP_EXIT2, &p);
    cr_assert_str_eq(reason_of(x), "small");
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
}

/* ---- node monitoring: needs a connection made after the watch ------------ */

TestSuite(node_watch, .fini = rt_teardown, .timeout = 20);

Test(node_watch, nodeup_and_nodedown_of_a_visible_peer)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT | EN_DFLAG_PUBLISHED};
    rt_node = rt_node_new(NULL);
    enode_mbox_t *mb = rt_mbox(NULL, 0);

    cr_assert_eq(enode_monitor_nodes(mb, 1), 0);
    cr_assert_eq(fp_connect(&rt_fp, rt_node, &c), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, T_MS), "{nodeup, peer@localhost}");
    fp_close(rt_fp);
    cr_assert_str_eq(rt_next(mb, T_MS), "{nodedown, peer@localhost}");
}

/* net_kernel:monitor_nodes(true) reports visible nodes only; a hidden
 * node comes and goes unannounced, and so it does to enode's watchers. */
Test(node_watch, a_hidden_peer_is_not_announced)
{
    rt_node = rt_node_new(NULL);
    enode_mbox_t *mb = rt_mbox(NULL, 0);

    cr_assert_eq(enode_monitor_nodes(mb, 1), 0);
    cr_assert_eq(fp_connect(&rt_fp, rt_node, NULL), 0, "%s", fp_error(rt_fp));
    sync_peer();
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    /* Nor does it go announced. */
    fp_close(rt_fp);
    cr_assert_str_eq(rt_next(mb, 200), "(timeout)");
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 0);
}
