/* test_links.c - links and link exit signals between mailboxes and a
 * peer's processes, driven packet by packet by a fake peer.
 *
 * Erlang's rules, as OTP 23+ apply them: a link exit signal with reason
 * `normal` does nothing to a process that does not trap exits; any other
 * reason kills it (with that reason: `kill` through a link is an ordinary
 * reason, only exit/2 makes it `killed`); a trapping process gets
 * {'EXIT', From, Reason} instead. A link exit signal finds no link after
 * either side unlinked (UNLINK_ID, acknowledged with UNLINK_ID_ACK), and
 * then does nothing. Linking to a pid that does not exist brings an exit
 * signal with `noproc`; a lost connection brings `noconnection`.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rt.h"

TestSuite(links, .init = rt_setup, .fini = rt_teardown, .timeout = 20);

/* The exit signal text a trapping mailbox gets from the peer's pid. */
static const char *exit_msg(const erlang_pid *from, const char *reason)
{
    return rt_fmt("{'EXIT', %s, %s}", fp_pid_text(from), reason);
}

static void sync_peer(void)
{
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

/* The mailbox lives and has no message. */
static void assert_alive_and_empty(enode_mbox_t *mb)
{
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
}

static int is_exit(const fp_pkt_t *p, void *ud)
{
    (void)ud;
    return p->rc == 0 &&
           (p->m.op == EN_DOP_EXIT || p->m.op == EN_DOP_PAYLOAD_EXIT);
}

/* The exit signal the peer's pid `to` got from `from`, and its reason. */
static const char *expect_exit(const erlang_pid *from, const erlang_pid *to)
{
    const fp_pkt_t *p = fp_expect(rt_fp, is_exit, NULL, T_MS);
    cr_assert(p, "no exit signal: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&p->m.to_pid, to), "exit signal to %s",
              fp_pid_text(&p->m.to_pid));
    cr_assert(fp_pid_eq(&p->m.from, from), "exit signal from %s",
              fp_pid_text(&p->m.from));
    return fp_text(p->m.reason, p->m.reason_len);
}

Test(links, a_peer_link_carries_the_mailbox_exit)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(mb)), 0);
    sync_peer();
    cr_assert_eq(enode_mbox_exit(mb, rt_term("{shutdown, done}")), 0);
    cr_assert_str_eq(expect_exit(enode_mbox_pid(mb), &p), "{shutdown, done}");
    cr_assert_str_eq(rt_next(mb, 0), "(closed)");
}

Test(links, enode_link_sends_link_and_the_peer_exit_kills)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(enode_link(mb, &p), 0);
    const fp_pkt_t *l = fp_expect_op(rt_fp, EN_DOP_LINK, T_MS);
    cr_assert(l, "no LINK: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&l->m.from, enode_mbox_pid(mb)));
    cr_assert(fp_pid_eq(&l->m.to_pid, &p));

    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(mb), rt_term("boom")), 0);
    cr_assert_str_eq(rt_next(mb, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(mb), "boom");
    /* The link the signal came through is gone: nothing goes back. */
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_exit, NULL), 0);
}

Test(links, a_trapping_mailbox_gets_the_exit_as_a_message)
{
    enode_mbox_t *mb = rt_mbox(NULL, 1);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(mb)), 0);
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(mb), rt_term("boom")), 0);
    cr_assert_str_eq(rt_next(mb, T_MS), exit_msg(&p, "boom"));
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
    /* The signal used the link up: a second one finds none. */
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(mb), rt_term("again")), 0);
    sync_peer();
    assert_alive_and_empty(mb);
}

Test(links, normal_kills_nobody_and_reaches_a_trapping_mailbox)
{
    enode_mbox_t *plain = rt_mbox(NULL, 0), *trap = rt_mbox(NULL, 1);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(plain)), 0);
    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(trap)), 0);
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(plain), rt_term("normal")),
                 0);
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(trap), rt_term("normal")),
                 0);
    sync_peer();
    assert_alive_and_empty(plain);
    cr_assert_str_eq(rt_next(trap, 0), exit_msg(&p, "normal"));
}

Test(links, kill_through_exit2_is_killed_even_when_trapping)
{
    enode_mbox_t *mb = rt_mbox(NULL, 1);
    erlang_pid killer = rt_peer_pid(1), friend = rt_peer_pid(2);

    cr_assert_eq(fp_link(rt_fp, &friend, enode_mbox_pid(mb)), 0);
    cr_assert_eq(fp_exit2(rt_fp, &killer, enode_mbox_pid(mb), rt_term("kill")),
                 0);
    cr_assert_str_eq(rt_next(mb, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(mb), "killed");
    /* Its links hear `killed`, not `kill`. */
    cr_assert_str_eq(expect_exit(enode_mbox_pid(mb), &friend), "killed");
}

Test(links, kill_through_a_link_is_an_ordinary_reason)
{
    enode_mbox_t *trap = rt_mbox(NULL, 1), *plain = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(trap)), 0);
    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(plain)), 0);
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(trap), rt_term("kill")), 0);
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(plain), rt_term("kill")), 0);
    cr_assert_str_eq(rt_next(trap, T_MS), exit_msg(&p, "kill"));
    cr_assert_str_eq(rt_next(plain, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(plain), "kill");
}

Test(links, a_link_exit_without_a_link_does_nothing)
{
    enode_mbox_t *plain = rt_mbox(NULL, 0), *trap = rt_mbox(NULL, 1);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(plain), rt_term("boom")), 0);
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(trap), rt_term("boom")), 0);
    sync_peer();
    assert_alive_and_empty(plain);
    assert_alive_and_empty(trap);
}

Test(links, the_peer_unlinks_with_unlink_id_and_gets_the_ack)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(mb)), 0);
    cr_assert_eq(fp_unlink_id(rt_fp, &p, enode_mbox_pid(mb), 7), 0);
    const fp_pkt_t *ack = fp_expect_op(rt_fp, EN_DOP_UNLINK_ID_ACK, T_MS);
    cr_assert(ack, "no UNLINK_ID_ACK: %s", fp_error(rt_fp));
    cr_assert_eq(ack->m.unlink_id, 7);
    cr_assert(fp_pid_eq(&ack->m.from, enode_mbox_pid(mb)));
    cr_assert(fp_pid_eq(&ack->m.to_pid, &p));
    /* No link any more: an exit signal through it does nothing. */
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(mb), rt_term("boom")), 0);
    sync_peer();
    assert_alive_and_empty(mb);
}

Test(links, enode_unlink_sends_unlink_id_and_a_crossing_exit_is_ignored)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(enode_link(mb, &p), 0);
    cr_assert(fp_expect_op(rt_fp, EN_DOP_LINK, T_MS), "%s", fp_error(rt_fp));
    cr_assert_eq(enode_unlink(mb, &p), 0);
    const fp_pkt_t *u = fp_expect_op(rt_fp, EN_DOP_UNLINK_ID, T_MS);
    cr_assert(u, "no UNLINK_ID: %s", fp_error(rt_fp));
    cr_assert_neq(u->m.unlink_id, 0);
    cr_assert(fp_pid_eq(&u->m.from, enode_mbox_pid(mb)));
    cr_assert(fp_pid_eq(&u->m.to_pid, &p));
    uint64_t id = u->m.unlink_id;
    /* The peer's process died before it saw the unlink: its exit signal
     * crosses the UNLINK_ID and must find no link. Then the ack. */
    cr_assert_eq(fp_exit(rt_fp, &p, enode_mbox_pid(mb), rt_term("boom")), 0);
    cr_assert_eq(fp_unlink_id_ack(rt_fp, &p, enode_mbox_pid(mb), id), 0);
    sync_peer();
    assert_alive_and_empty(mb);
}

Test(links, linking_to_a_pid_that_is_not_there_brings_noproc)
{
    erlang_pid p = rt_peer_pid(1), ghost;

    memset(&ghost, 0, sizeof ghost);
    strcpy(ghost.node, RT_NODE);
    ghost.num = 999;
    ghost.creation = fp_node_creation(rt_fp);
    cr_assert_eq(fp_link(rt_fp, &p, &ghost), 0);
    cr_assert_str_eq(expect_exit(&ghost, &p), "noproc");
}

Test(links, the_peers_noproc_reaches_a_trapping_mailbox)
{
    enode_mbox_t *mb = rt_mbox(NULL, 1);
    erlang_pid ghost = rt_peer_pid(99);

    cr_assert_eq(enode_link(mb, &ghost), 0);
    const fp_pkt_t *l = fp_expect_op(rt_fp, EN_DOP_LINK, T_MS);
    cr_assert(l, "no LINK: %s", fp_error(rt_fp));
    /* What an OTP node answers a LINK to a process it does not have. */
    cr_assert_eq(fp_exit(rt_fp, &ghost, enode_mbox_pid(mb), rt_term("noproc")),
                 0);
    cr_assert_str_eq(rt_next(mb, T_MS), exit_msg(&ghost, "noproc"));
}

Test(links, a_local_link_to_a_pid_that_is_not_there_fails)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0), *gone = rt_mbox(NULL, 0);
    erlang_pid gone_pid = *enode_mbox_pid(gone);

    enode_mbox_free(gone);
    cr_assert_eq(enode_link(mb, &gone_pid), ENODE_ENOTFOUND);
}

Test(links, a_lost_connection_is_noconnection)
{
    enode_mbox_t *trap = rt_mbox(NULL, 1), *plain = rt_mbox(NULL, 0);
    erlang_pid p1 = rt_peer_pid(1), p2 = rt_peer_pid(2);

    cr_assert_eq(fp_link(rt_fp, &p1, enode_mbox_pid(trap)), 0);
    cr_assert_eq(enode_link(plain, &p2), 0);
    sync_peer();
    fp_close(rt_fp);
    cr_assert_str_eq(rt_next(trap, T_MS), exit_msg(&p1, "noconnection"));
    cr_assert_str_eq(rt_next(plain, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(plain), "noconnection");
    cr_assert_eq(enode_is_connected(rt_node, fp_name(rt_fp)), 0);
}

Test(links, payload_exits_work_as_the_plain_ones)
{
    enode_mbox_t *trap = rt_mbox(NULL, 1), *plain = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(trap)), 0);
    cr_assert_eq(fp_payload_exit(rt_fp, &p, enode_mbox_pid(trap),
                                 rt_term("{boom, \"payload\"}")),
                 0);
    cr_assert_str_eq(rt_next(trap, T_MS), exit_msg(&p, "{boom, \"payload\"}"));
    /* PAYLOAD_EXIT2 is exit/2: it needs no link. */
    cr_assert_eq(fp_payload_exit2(rt_fp, &p, enode_mbox_pid(plain),
                                  rt_term("{shutdown, 2}")),
                 0);
    cr_assert_str_eq(rt_next(plain, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(plain), "{shutdown, 2}");
}

/* A control tuple is never fragmented, so a link's exit reason over
 * 64 KiB can only go as the payload of PAYLOAD_EXIT, as OTP sends it to
 * a peer with EXIT_PAYLOAD: it then arrives in fragments, and the
 * connection stays. */
Test(links, a_large_exit_reason_reaches_a_linked_peer)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    static char big[100 * 1024];
    ei_x_buff *reason = rt_term_slot();

    memset(big, 'r', sizeof big);
    ei_x_encode_binary(reason, big, sizeof big);
    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(mb)), 0);
    sync_peer();
    cr_assert_eq(enode_mbox_exit(mb, reason), 0);
    const fp_pkt_t *x = fp_expect(rt_fp, is_exit, NULL, T_MS);
    cr_assert(x, "no exit signal: %s\nnode log:\n%s", fp_error(rt_fp),
              rt_log());
    cr_assert_eq(x->m.op, EN_DOP_PAYLOAD_EXIT);
    cr_assert_eq(x->m.reason_len, (size_t)reason->index - 1);
    cr_assert(memcmp(x->m.reason, reason->buff + 1, x->m.reason_len) == 0);
    sync_peer();
}
