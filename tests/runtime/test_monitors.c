/* test_monitors.c - process monitors both ways between mailboxes and a
 * peer's processes, by pid and by registered name, driven by a fake peer.
 *
 * The peer's side is the wire: MONITOR_P {19, From, PidOrName, Ref},
 * DEMONITOR_P 20, and MONITOR_P_EXIT {21, PidOrName, To, Ref, Reason}
 * (FromProc is the name when the monitor was by name). The mailbox's side
 * is the API: enode_monitor, enode_monitor_name, enode_demonitor, and the
 * message {'DOWN', Ref, process, Object, Reason}, where Object is the pid,
 * or {Name, Node} for a monitor by name. A monitor of nothing fires at
 * once with noproc; a lost connection fires every monitor across it with
 * noconnection.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rt.h"

TestSuite(monitors, .init = rt_setup, .fini = rt_teardown, .timeout = 20);

static void sync_peer(void)
{
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

static int is_monitor_exit(const fp_pkt_t *p, void *ud)
{
    (void)ud;
    return p->rc == 0 && (p->m.op == EN_DOP_MONITOR_P_EXIT ||
                          p->m.op == EN_DOP_PAYLOAD_MONITOR_P_EXIT);
}

/* The MONITOR_P_EXIT the peer's `to` got for ref; checks both ends. */
static const fp_pkt_t *expect_monitor_exit(const erlang_pid *to,
                                           const erlang_ref *ref)
{
    const fp_pkt_t *p = fp_expect(rt_fp, is_monitor_exit, NULL, T_MS);
    cr_assert(p, "no MONITOR_P_EXIT: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&p->m.to_pid, to), "to %s", fp_pid_text(&p->m.to_pid));
    cr_assert(p->m.has_ref && fp_ref_eq(&p->m.ref, ref), "for %s",
              fp_ref_text(&p->m.ref));
    return p;
}

static const char *down(const erlang_ref *ref, const char *object,
                        const char *reason)
{
    return rt_fmt("{'DOWN', %s, process, %s, %s}", fp_ref_text(ref), object,
                  reason);
}

/* ---- the peer monitors mailboxes ----------------------------------------- */

Test(monitors, the_peer_monitors_a_mailbox_by_pid)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    fp_ref(rt_fp, &ref);
    cr_assert_eq(fp_monitor(rt_fp, &p, enode_mbox_pid(mb), NULL, &ref), 0);
    sync_peer();
    cr_assert_eq(enode_mbox_exit(mb, rt_term("{shutdown, done}")), 0);
    const fp_pkt_t *x = expect_monitor_exit(&p, &ref);
    cr_assert(x->m.has_from && !x->m.has_from_name);
    cr_assert(fp_pid_eq(&x->m.from, enode_mbox_pid(mb)));
    cr_assert_str_eq(fp_text(x->m.reason, x->m.reason_len), "{shutdown, done}");
}

Test(monitors, the_peer_monitors_a_mailbox_by_name)
{
    enode_mbox_t *mb = rt_mbox("srv", 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    fp_ref(rt_fp, &ref);
    cr_assert_eq(fp_monitor(rt_fp, &p, NULL, "srv", &ref), 0);
    sync_peer();
    cr_assert_eq(enode_mbox_exit(mb, rt_term("boom")), 0);
    /* By name, the exit names the process by its name, as OTP's do. */
    const fp_pkt_t *x = expect_monitor_exit(&p, &ref);
    cr_assert(x->m.has_from_name && !x->m.has_from);
    cr_assert_str_eq(x->m.from_name, "srv");
    cr_assert_str_eq(fp_text(x->m.reason, x->m.reason_len), "boom");
}

Test(monitors, the_peer_demonitors_and_hears_nothing)
{
    enode_mbox_t *mb = rt_mbox("srv", 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref by_pid, by_name;

    fp_ref(rt_fp, &by_pid);
    fp_ref(rt_fp, &by_name);
    cr_assert_eq(fp_monitor(rt_fp, &p, enode_mbox_pid(mb), NULL, &by_pid), 0);
    cr_assert_eq(fp_monitor(rt_fp, &p, NULL, "srv", &by_name), 0);
    cr_assert_eq(fp_demonitor(rt_fp, &p, enode_mbox_pid(mb), NULL, &by_pid), 0);
    cr_assert_eq(fp_demonitor(rt_fp, &p, NULL, "srv", &by_name), 0);
    sync_peer();
    cr_assert_eq(enode_mbox_exit(mb, rt_term("boom")), 0);
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_monitor_exit, NULL), 0);
}

Test(monitors, monitoring_nothing_is_noproc_at_once)
{
    erlang_pid p = rt_peer_pid(1), ghost;
    erlang_ref r1, r2;

    memset(&ghost, 0, sizeof ghost);
    strcpy(ghost.node, RT_NODE);
    ghost.num = 999;
    ghost.creation = fp_node_creation(rt_fp);
    fp_ref(rt_fp, &r1);
    fp_ref(rt_fp, &r2);
    cr_assert_eq(fp_monitor(rt_fp, &p, &ghost, NULL, &r1), 0);
    const fp_pkt_t *x = expect_monitor_exit(&p, &r1);
    cr_assert(x->m.has_from && fp_pid_eq(&x->m.from, &ghost));
    cr_assert_str_eq(fp_text(x->m.reason, x->m.reason_len), "noproc");

    cr_assert_eq(fp_monitor(rt_fp, &p, NULL, "nobody", &r2), 0);
    x = expect_monitor_exit(&p, &r2);
    cr_assert(x->m.has_from_name);
    cr_assert_str_eq(x->m.from_name, "nobody");
    cr_assert_str_eq(fp_text(x->m.reason, x->m.reason_len), "noproc");
}

Test(monitors, the_peers_monitors_go_with_its_connection)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    fp_ref(rt_fp, &ref);
    cr_assert_eq(fp_monitor(rt_fp, &p, enode_mbox_pid(mb), NULL, &ref), 0);
    sync_peer();
    fp_free(rt_fp);
    rt_fp = NULL;
    for (int i = 0; i < 100 && enode_is_connected(rt_node, FP_DEFAULT_NAME);
         i++)
        enode_process(rt_node, 10);
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 0);
    cr_assert_eq(fp_connect(&rt_fp, rt_node, NULL), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(enode_mbox_exit(mb, rt_term("boom")), 0);
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_monitor_exit, NULL), 0);
}

/* ---- mailboxes monitor the peer's processes ------------------------------ */

Test(monitors, a_mailbox_monitors_a_peer_pid)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    cr_assert_eq(enode_monitor(mb, &p, &ref), 0);
    const fp_pkt_t *m = fp_expect_op(rt_fp, EN_DOP_MONITOR_P, T_MS);
    cr_assert(m, "no MONITOR_P: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&m->m.from, enode_mbox_pid(mb)));
    cr_assert(m->m.has_to_pid && fp_pid_eq(&m->m.to_pid, &p));
    cr_assert(fp_ref_eq(&m->m.ref, &ref));

    cr_assert_eq(fp_monitor_exit(rt_fp, &p, NULL, enode_mbox_pid(mb), &ref,
                                 rt_term("{shutdown, gone}")),
                 0);
    cr_assert_str_eq(rt_next(mb, T_MS),
                     down(&ref, fp_pid_text(&p), "{shutdown, gone}"));
    /* A monitor fires once. */
    cr_assert_eq(enode_demonitor(mb, &ref), ENODE_ENOTFOUND);
}

Test(monitors, a_mailbox_monitors_a_peer_name)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_ref ref;

    cr_assert_eq(enode_monitor_name(mb, "srv", FP_DEFAULT_NAME, &ref), 0);
    const fp_pkt_t *m = fp_expect_op(rt_fp, EN_DOP_MONITOR_P, T_MS);
    cr_assert(m, "no MONITOR_P: %s", fp_error(rt_fp));
    cr_assert(m->m.has_to_name && !m->m.has_to_pid);
    cr_assert_str_eq(m->m.to_name, "srv");
    cr_assert(fp_ref_eq(&m->m.ref, &ref));

    cr_assert_eq(fp_monitor_exit(rt_fp, NULL, "srv", enode_mbox_pid(mb), &ref,
                                 rt_term("boom")),
                 0);
    cr_assert_str_eq(rt_next(mb, T_MS),
                     down(&ref, "{srv, peer@localhost}", "boom"));
}

Test(monitors, the_peers_noproc_is_a_down)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid ghost = rt_peer_pid(99);
    erlang_ref ref;

    cr_assert_eq(enode_monitor(mb, &ghost, &ref), 0);
    cr_assert(fp_expect_op(rt_fp, EN_DOP_MONITOR_P, T_MS), "%s",
              fp_error(rt_fp));
    cr_assert_eq(fp_monitor_exit(rt_fp, &ghost, NULL, enode_mbox_pid(mb), &ref,
                                 rt_term("noproc")),
                 0);
    cr_assert_str_eq(rt_next(mb, T_MS),
                     down(&ref, fp_pid_text(&ghost), "noproc"));
}

Test(monitors, a_payload_monitor_exit_is_a_down)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    cr_assert_eq(enode_monitor(mb, &p, &ref), 0);
    cr_assert_eq(fp_payload_monitor_exit(rt_fp, &p, NULL, enode_mbox_pid(mb),
                                         &ref, rt_term("{big, \"reason\"}")),
                 0);
    cr_assert_str_eq(rt_next(mb, T_MS),
                     down(&ref, fp_pid_text(&p), "{big, \"reason\"}"));
}

Test(monitors, a_mailbox_demonitors_by_pid_and_by_name)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref by_pid, by_name;

    cr_assert_eq(enode_monitor(mb, &p, &by_pid), 0);
    cr_assert_eq(enode_monitor_name(mb, "srv", FP_DEFAULT_NAME, &by_name), 0);
    cr_assert_eq(enode_demonitor(mb, &by_pid), 0);
    cr_assert_eq(enode_demonitor(mb, &by_name), 0);
    cr_assert_eq(enode_demonitor(mb, &by_pid), ENODE_ENOTFOUND);

    const fp_pkt_t *d = fp_expect_op(rt_fp, EN_DOP_DEMONITOR_P, T_MS);
    cr_assert(d, "no DEMONITOR_P: %s", fp_error(rt_fp));
    cr_assert(fp_ref_eq(&d->m.ref, &by_pid));
    cr_assert(d->m.has_to_pid && fp_pid_eq(&d->m.to_pid, &p));
    cr_assert(fp_pid_eq(&d->m.from, enode_mbox_pid(mb)));
    d = fp_expect_op(rt_fp, EN_DOP_DEMONITOR_P, T_MS);
    cr_assert(d, "no second DEMONITOR_P: %s", fp_error(rt_fp));
    cr_assert(fp_ref_eq(&d->m.ref, &by_name));
    cr_assert(d->m.has_to_name);
    cr_assert_str_eq(d->m.to_name, "srv");

    /* An exit that crossed the demonitor brings no DOWN. */
    cr_assert_eq(fp_monitor_exit(rt_fp, &p, NULL, enode_mbox_pid(mb), &by_pid,
                                 rt_term("late")),
                 0);
    sync_peer();
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
}

Test(monitors, a_lost_connection_is_noconnection_for_every_monitor)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref by_pid, by_name;

    cr_assert_eq(enode_monitor(mb, &p, &by_pid), 0);
    cr_assert_eq(enode_monitor_name(mb, "srv", FP_DEFAULT_NAME, &by_name), 0);
    sync_peer();
    fp_close(rt_fp);
    const char *want_pid = down(&by_pid, fp_pid_text(&p), "noconnection");
    const char *want_name =
        down(&by_name, "{srv, peer@localhost}", "noconnection");
    int got_pid = 0, got_name = 0;
    for (int k = 0; k < 2; k++) {
        const char *m = rt_next(mb, T_MS);
        got_pid += strcmp(m, want_pid) == 0;
        got_name += strcmp(m, want_name) == 0;
        cr_assert(strcmp(m, want_pid) == 0 || strcmp(m, want_name) == 0,
                  "unexpected: %s", m);
    }
    cr_assert(got_pid == 1 && got_name == 1);
}

Test(monitors, a_dying_mailbox_takes_its_monitors_back)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    cr_assert_eq(enode_monitor(mb, &p, &ref), 0);
    cr_assert(fp_expect_op(rt_fp, EN_DOP_MONITOR_P, T_MS), "%s",
              fp_error(rt_fp));
    cr_assert_eq(enode_mbox_exit(mb, rt_term("boom")), 0);
    const fp_pkt_t *d = fp_expect_op(rt_fp, EN_DOP_DEMONITOR_P, T_MS);
    cr_assert(d, "no DEMONITOR_P: %s", fp_error(rt_fp));
    cr_assert(fp_ref_eq(&d->m.ref, &ref));
}

/* ---- on the node itself -------------------------------------------------- */

Test(monitors, a_local_monitor_by_name_names_name_and_node)
{
    enode_mbox_t *watcher = rt_mbox(NULL, 0), *srv = rt_mbox("srv", 0);
    erlang_ref ref, none;

    cr_assert_eq(enode_monitor_name(watcher, "srv", NULL, &ref), 0);
    cr_assert_eq(enode_mbox_exit(srv, rt_term("boom")), 0);
    cr_assert_str_eq(rt_next(watcher, T_MS),
                     down(&ref, "{srv, node@localhost}", "boom"));
    /* The name went with it. */
    cr_assert_eq(enode_monitor_name(watcher, "srv", NULL, &none), 0);
    cr_assert_str_eq(rt_next(watcher, T_MS),
                     down(&none, "{srv, node@localhost}", "noproc"));
}

/* ---- peers without the monitor flags ------------------------------------- */

TestSuite(monitor_flags, .fini = rt_teardown, .timeout = 20);

/* OTP sends MONITOR_P only when DIST_MONITOR and DIST_MONITOR_NAME are
 * both agreed; otherwise the monitor only watches the connection (erts
 * dist.c), and so it does here. */
Test(monitor_flags, no_monitor_p_to_a_peer_without_dist_monitor)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~(EN_DFLAG_DIST_MONITOR |
                                                   EN_DFLAG_DIST_MONITOR_NAME)};
    rt_setup_with(NULL, &c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref by_pid, by_name;

    cr_assert_eq(enode_monitor(mb, &p, &by_pid), 0);
    cr_assert_eq(enode_monitor_name(mb, "srv", FP_DEFAULT_NAME, &by_name), 0);
    sync_peer();
    const fp_pkt_t *sent = fp_expect(rt_fp, NULL, NULL, 0);
    cr_assert_null(sent, "the node sent op %d", sent ? sent->m.op : 0);
    /* The monitors still watch the connection. */
    fp_close(rt_fp);
    cr_assert_str_neq(rt_next(mb, T_MS), "(timeout)");
    cr_assert_str_neq(rt_next(mb, T_MS), "(timeout)");
}
