/* test_altact.c - OTP 28's ALTACT_SIG_SEND, both ways, driven by a fake
 * peer.
 *
 * {37, Flags, From, To} or {37, Flags, From, To, Token}, then a message,
 * or with the EXIT flag an exit reason. To is a pid, a registered name
 * (NAME flag) or an alias (ALIAS flag); PRIO asks for priority, which a
 * mailbox never enables, so the signal is handled in order like any
 * other, as OTP handles it for such a process. Toward a peer with
 * ALTACT_SIG the node sends a message to an alias (a gen:call reply) as
 * ALTACT_SIG_SEND, toward one with ALIAS only as ALIAS_SEND, and toward
 * one without ALIAS not at all.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rt.h"

#define ALTACT_PEER (FP_FLAGS_DEFAULT | EN_DFLAG_ALTACT_SIG)

static void altact_setup(void)
{
    fp_config_t c = {.flags = ALTACT_PEER};
    rt_setup_with(NULL, &c);
}

TestSuite(altact, .init = altact_setup, .fini = rt_teardown, .timeout = 20);

static void sync_peer(void)
{
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

/* What ALTACT_SIG_SEND is addressed to. */
typedef struct to {
    const erlang_pid *pid;
    const char *name;
    const erlang_ref *alias;
} to_t;

/* {37, Flags, From, To[, Token][, Extra...]}: flags as given (the test
 * sets NAME and ALIAS itself, to be able to get them wrong); a token
 * when token is not NULL; `extra` more elements after it. */
static ei_x_buff *altact_ctrl(long flags, const erlang_pid *from, to_t to,
                              const char *token, int extra)
{
    ei_x_buff *x = rt_term_slot();

    ei_x_encode_tuple_header(x, 4 + (token != NULL) + extra);
    ei_x_encode_long(x, EN_DOP_ALTACT_SIG_SEND);
    ei_x_encode_long(x, flags);
    ei_x_encode_pid(x, from);
    if (to.pid)
        ei_x_encode_pid(x, to.pid);
    else if (to.name)
        ei_x_encode_atom(x, to.name);
    else
        ei_x_encode_ref(x, to.alias);
    if (token)
        rt_term_check(ei_x_format_wo_ver(x, token));
    for (int i = 0; i < extra; i++)
        ei_x_encode_atom(x, "later");
    return x;
}

static void altact(long flags, const erlang_pid *from, to_t to,
                   const ei_x_buff *payload)
{
    cr_assert_eq(fp_send_ctrl(rt_fp, altact_ctrl(flags, from, to, NULL, 0),
                              payload),
                 0, "%s", fp_error(rt_fp));
}

/* ---- messages ------------------------------------------------------------- */

Test(altact, a_message_to_a_pid_a_name_and_an_alias)
{
    enode_mbox_t *mb = rt_mbox("named", 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref alias;
    rt_msg_t m;

    cr_assert_eq(enode_alias(mb, &alias), 0);
    altact(0, &p, (to_t){.pid = enode_mbox_pid(mb)}, rt_term("by_pid"));
    altact(EN_ALTACT_NAME, &p, (to_t){.name = "named"}, rt_term("by_name"));
    altact(EN_ALTACT_ALIAS, &p, (to_t){.alias = &alias}, rt_term("by_alias"));
    cr_assert_eq(rt_recv(mb, T_MS, &m), 0);
    cr_assert_str_eq(m.text, "by_pid");
    cr_assert(m.has_from && fp_pid_eq(&m.from, &p));
    cr_assert_eq(rt_recv(mb, T_MS, &m), 0);
    cr_assert_str_eq(m.text, "by_name");
    cr_assert_str_eq(m.to_name, "named");
    cr_assert_eq(rt_recv(mb, T_MS, &m), 0);
    cr_assert_str_eq(m.text, "by_alias");
}

Test(altact, priority_messages_arrive_in_order)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref alias;

    cr_assert_eq(enode_alias(mb, &alias), 0);
    cr_assert_eq(fp_send_sender(rt_fp, &p, enode_mbox_pid(mb),
                                rt_term("first")),
                 0);
    altact(EN_ALTACT_PRIO | EN_ALTACT_ALIAS, &p, (to_t){.alias = &alias},
           rt_term("second"));
    altact(EN_ALTACT_PRIO, &p, (to_t){.pid = enode_mbox_pid(mb)},
           rt_term("third"));
    cr_assert_str_eq(rt_next(mb, T_MS), "first");
    cr_assert_str_eq(rt_next(mb, T_MS), "second");
    cr_assert_str_eq(rt_next(mb, T_MS), "third");
}

Test(altact, a_token_later_elements_and_unknown_flags_are_taken)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    to_t to = {.pid = enode_mbox_pid(mb)};
    ei_x_buff *big_flags = rt_term_slot();

    /* The seq_trace token, then elements a later OTP may add. */
    cr_assert_eq(fp_send_ctrl(rt_fp,
                              altact_ctrl(EN_ALTACT_TOKEN, &p, to,
                                          "{0, 1, 2, x, 3}", 2),
                              rt_term("traced")),
                 0);
    /* Bits OTP does not know yet, and Flags as a bignum: OTP reads the
     * low byte. */
    cr_assert_eq(fp_send_ctrl(rt_fp, altact_ctrl(0x100, &p, to, NULL, 0),
                              rt_term("wide")),
                 0);
    ei_x_encode_tuple_header(big_flags, 4);
    ei_x_encode_long(big_flags, EN_DOP_ALTACT_SIG_SEND);
    ei_x_encode_ulonglong(big_flags, 0x8000000000000000ULL);
    ei_x_encode_pid(big_flags, &p);
    ei_x_encode_pid(big_flags, to.pid);
    cr_assert_eq(fp_send_ctrl(rt_fp, big_flags, rt_term("bignum")), 0);
    cr_assert_str_eq(rt_next(mb, T_MS), "traced");
    cr_assert_str_eq(rt_next(mb, T_MS), "wide");
    cr_assert_str_eq(rt_next(mb, T_MS), "bignum");
    sync_peer();
}

Test(altact, a_message_to_a_gone_alias_or_name_is_dropped)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref alias;

    cr_assert_eq(enode_alias(mb, &alias), 0);
    cr_assert_eq(enode_unalias(mb, &alias), 0);
    altact(EN_ALTACT_ALIAS, &p, (to_t){.alias = &alias}, rt_term("late"));
    altact(EN_ALTACT_NAME, &p, (to_t){.name = "nobody"}, rt_term("lost"));
    sync_peer();
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}

/* ---- exit signals ----------------------------------------------------------- */

Test(altact, an_exit_signal_to_a_pid_a_name_and_an_alias)
{
    enode_mbox_t *by_pid = rt_mbox(NULL, 0), *by_name = rt_mbox("victim", 0);
    enode_mbox_t *by_alias = rt_mbox(NULL, 0), *trap = rt_mbox(NULL, 1);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref alias;

    cr_assert_eq(enode_alias(by_alias, &alias), 0);
    altact(EN_ALTACT_EXIT, &p, (to_t){.pid = enode_mbox_pid(by_pid)},
           rt_term("{shutdown, 1}"));
    altact(EN_ALTACT_EXIT | EN_ALTACT_NAME, &p, (to_t){.name = "victim"},
           rt_term("{shutdown, 2}"));
    altact(EN_ALTACT_EXIT | EN_ALTACT_ALIAS | EN_ALTACT_PRIO, &p,
           (to_t){.alias = &alias}, rt_term("{shutdown, 3}"));
    altact(EN_ALTACT_EXIT, &p, (to_t){.pid = enode_mbox_pid(trap)},
           rt_term("{shutdown, 4}"));
    cr_assert_str_eq(rt_next(by_pid, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(by_pid), "{shutdown, 1}");
    cr_assert_str_eq(rt_next(by_name, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(by_name), "{shutdown, 2}");
    cr_assert_str_eq(rt_next(by_alias, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(by_alias), "{shutdown, 3}");
    cr_assert_str_eq(rt_next(trap, T_MS),
                     rt_fmt("{'EXIT', %s, {shutdown, 4}}", fp_pid_text(&p)));
}

Test(altact, an_exit_signal_is_exit2_kill_and_normal_included)
{
    enode_mbox_t *trap = rt_mbox(NULL, 1), *plain = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    /* Not a link's exit: it needs no link, normal leaves a mailbox that
     * does not trap alone, and kill cannot be trapped. */
    altact(EN_ALTACT_EXIT, &p, (to_t){.pid = enode_mbox_pid(plain)},
           rt_term("normal"));
    altact(EN_ALTACT_EXIT, &p, (to_t){.pid = enode_mbox_pid(trap)},
           rt_term("kill"));
    cr_assert_str_eq(rt_next(trap, T_MS), "(closed)");
    cr_assert_str_eq(rt_exit_reason(trap), "killed");
    sync_peer();
    cr_assert_str_eq(rt_exit_reason(plain), "(alive)");
}

/* ---- what OTP refuses ------------------------------------------------------ */

/* The node drops the connection and names ALTACT_SIG_SEND. */
static void assert_refused(const ei_x_buff *ctrl)
{
    cr_assert_eq(fp_send_ctrl(rt_fp, ctrl, rt_term("x")), 0);
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert(strstr(enode_last_error(rt_node), "ALTACT_SIG_SEND"),
              "last error: %s", enode_last_error(rt_node));
}

Test(altact, both_alias_and_name_drop_the_connection)
{
    erlang_pid p = rt_peer_pid(1);
    erlang_ref alias;

    fp_ref(rt_fp, &alias);
    assert_refused(altact_ctrl(EN_ALTACT_ALIAS | EN_ALTACT_NAME, &p,
                               (to_t){.alias = &alias}, NULL, 0));
}

Test(altact, a_to_that_is_not_what_flags_say_drops_the_connection)
{
    erlang_pid p = rt_peer_pid(1);

    assert_refused(altact_ctrl(EN_ALTACT_ALIAS, &p, (to_t){.pid = &p}, NULL,
                               0));
}

Test(altact, negative_flags_drop_the_connection)
{
    erlang_pid p = rt_peer_pid(1);

    assert_refused(altact_ctrl(-1, &p, (to_t){.pid = &p}, NULL, 0));
}

Test(altact, a_token_flag_without_a_token_drops_the_connection)
{
    erlang_pid p = rt_peer_pid(1);

    assert_refused(altact_ctrl(EN_ALTACT_TOKEN, &p, (to_t){.pid = &p}, NULL,
                               0));
}

/* ---- what the node sends: gen:call replies to an alias ------------------- */

/* {'$gen_call', {Pid, [alias | Ref]}, {is_auth, Name}} to net_kernel, as
 * net_adm:ping/1 sends it since OTP 24. */
static void ping_by_alias(const erlang_pid *p, const erlang_ref *ref)
{
    ei_x_buff *x = rt_term_slot();

    ei_x_encode_tuple_header(x, 3);
    ei_x_encode_atom(x, "$gen_call");
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_pid(x, p);
    ei_x_encode_list_header(x, 1);
    ei_x_encode_atom(x, "alias");
    ei_x_encode_ref(x, ref);
    ei_x_format_wo_ver(x, "{is_auth, ~a}", FP_DEFAULT_NAME);
    cr_assert_eq(fp_reg_send(rt_fp, p, "net_kernel", x), 0);
}

Test(altact, a_reply_to_an_alias_goes_as_altact_sig_send)
{
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    cr_assert(fp_node_flags(rt_fp) & EN_DFLAG_ALTACT_SIG);
    fp_ref(rt_fp, &ref);
    ping_by_alias(&p, &ref);
    const fp_pkt_t *r = fp_expect_op(rt_fp, EN_DOP_ALTACT_SIG_SEND, T_MS);
    cr_assert(r, "no answer: %s", fp_error(rt_fp));
    cr_assert_eq(r->m.altact_flags, EN_ALTACT_ALIAS);
    cr_assert(r->m.has_ref && fp_ref_eq(&r->m.ref, &ref));
    cr_assert_str_eq(fp_text(r->m.msg, r->m.msg_len),
                     rt_fmt("{[alias | %s], yes}", fp_ref_text(&ref)));
}

TestSuite(altact_older, .fini = rt_teardown, .timeout = 20);

/* OTP 25 to 27: ALIAS, no ALTACT_SIG. */
Test(altact_older, a_peer_without_altact_sig_gets_alias_send)
{
    rt_setup();
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    fp_ref(rt_fp, &ref);
    ping_by_alias(&p, &ref);
    const fp_pkt_t *r = fp_expect_op(rt_fp, EN_DOP_ALIAS_SEND, T_MS);
    cr_assert(r, "no answer: %s", fp_error(rt_fp));
    cr_assert(fp_ref_eq(&r->m.ref, &ref));
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
}

/* A peer without ALIAS cannot hold an alias: OTP drops the message. */
Test(altact_older, a_peer_without_alias_gets_nothing)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_ALIAS};
    rt_setup_with(NULL, &c);
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    fp_ref(rt_fp, &ref);
    ping_by_alias(&p, &ref);
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}
