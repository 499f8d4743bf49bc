/* test_pg.c - the node's part in OTP's process groups, with a fake peer
 * playing a visible OTP node that runs the same scope.
 *
 * The peer's scope P and the node's scope S speak pg's messages:
 *   {discover, S} to {pg, Peer} when S starts; {discover, P} (or OTP
 *   26's {discover, P, Vsn}) answered by {'$gen_cast', {sync, S, Groups}}
 *   and, P being new, {discover, S} and a monitor on P;
 *   {'$gen_cast', {sync, P, Groups}} replacing what S knew of P;
 *   {join, P, Group, PidOrPids} and {leave, P, PidOrPids, Groups}, taken
 *   only from a peer S knows, and sent by S only to a peer it synced.
 * What the node keeps is read through the API (enode_pg_members, ...),
 * after fp_sync() made sure the node handled what the peer sent.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

static void up_visible(void)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT | EN_DFLAG_PUBLISHED};
    rt_setup_with(NULL, &c);
}

TestSuite(pg, .init = up_visible, .fini = rt_teardown, .timeout = 20);
TestSuite(pg_hidden, .init = rt_setup, .fini = rt_teardown, .timeout = 20);

static void sync_peer(void)
{
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

/* The peer's scope process. */
static erlang_pid peer_scope(void)
{
    return rt_peer_pid(50);
}

/* ---- what the node sends ------------------------------------------------- */

static int is_to_scope_name(const fp_pkt_t *p, void *ud)
{
    return p->rc == 0 && p->m.op == EN_DOP_REG_SEND &&
           strcmp(p->m.to_name, ud) == 0;
}

/* The next message the node sends to the peer's scope `name`, as text;
 * *from gets its sender. */
static const char *expect_to_name(const char *name, erlang_pid *from)
{
    const fp_pkt_t *p = fp_expect(rt_fp, is_to_scope_name, (void *)name, T_MS);
    cr_assert(p, "nothing for %s: %s\nnode log:\n%s", name, fp_error(rt_fp),
              rt_log());
    if (from)
        *from = p->m.from;
    return fp_text(p->m.msg, p->m.msg_len);
}

static int is_message_to(const fp_pkt_t *p, void *ud)
{
    return p->rc == 0 &&
           (p->m.op == EN_DOP_SEND || p->m.op == EN_DOP_SEND_SENDER) &&
           fp_pid_eq(&p->m.to_pid, ud);
}

/* The next message the node sends to the pid `to`, as text. */
static const char *expect_to(const erlang_pid *to)
{
    const fp_pkt_t *p = fp_expect(rt_fp, is_message_to, (void *)to, T_MS);
    cr_assert(p, "nothing for %s: %s\nnode log:\n%s", fp_pid_text(to),
              fp_error(rt_fp), rt_log());
    return fp_text(p->m.msg, p->m.msg_len);
}

/* How many messages to `to` are queued (after a sync: all there are). */
static int count_to(const erlang_pid *to)
{
    return fp_count(rt_fp, is_message_to, (void *)to);
}

static int is_monitor_of(const fp_pkt_t *p, void *ud)
{
    return p->rc == 0 && p->m.op == EN_DOP_MONITOR_P && p->m.has_to_pid &&
           fp_pid_eq(&p->m.to_pid, ud);
}

/* ---- the peer's side ----------------------------------------------------- */

/* A message from the peer's scope to the node's scope, by pid. */
static void to_scope(const erlang_pid *s, const ei_x_buff *msg)
{
    erlang_pid p = peer_scope();
    cr_assert_eq(fp_send_sender(rt_fp, &p, s, msg), 0, "%s", fp_error(rt_fp));
}

/* The same, as a cast. */
static void cast_to_scope(const erlang_pid *s, const ei_x_buff *msg)
{
    ei_x_buff *x = rt_term_slot();
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "$gen_cast");
    ei_x_append_buf(x, msg->buff + 1, msg->index - 1);
    to_scope(s, x);
}

/* The node's scope `name` starts and sends its discover; its pid. */
static erlang_pid start_scope(const char *name)
{
    erlang_pid s;
    cr_assert_eq(enode_pg_start(rt_node, name), 0);
    const char *text = expect_to_name(name ? name : "pg", &s);
    cr_assert_str_eq(text, rt_fmt("{discover, %s}", fp_pid_text(&s)));
    return s;
}

/* The peer's scope discovers the node's: the node syncs (its members as
 * sync_text says) and, the peer being new, discovers it back and
 * monitors it. The monitor's reference goes to *mon. */
static void peer_discovers(const erlang_pid *s, const char *sync_text,
                           erlang_ref *mon)
{
    erlang_pid p = peer_scope();
    cr_assert_eq(fp_reg_send(rt_fp, &p, "pg", rt_term("{discover, ~p}", &p)),
                 0);
    cr_assert_str_eq(expect_to(&p),
                     rt_fmt("{'$gen_cast', {sync, %s, %s}}", fp_pid_text(s),
                            sync_text));
    cr_assert_str_eq(expect_to(&p), rt_fmt("{discover, %s}", fp_pid_text(s)));
    const fp_pkt_t *m = fp_expect(rt_fp, is_monitor_of, &p, T_MS);
    cr_assert(m, "the node does not monitor the peer's scope");
    cr_assert(fp_pid_eq(&m->m.from, s));
    if (mon)
        *mon = m->m.ref;
}

/* The node's default scope, with no member yet, discovered by the peer;
 * the node's monitor on the peer's scope goes to *mon (mon may be NULL). */
static erlang_pid scope_with_peer(erlang_ref *mon)
{
    erlang_pid s = start_scope(NULL);
    peer_discovers(&s, "[]", mon);
    return s;
}

/* ---- what the node knows ------------------------------------------------- */

static int pid_order(const void *a, const void *b)
{
    const erlang_pid *x = a, *y = b;
    int c = strcmp(x->node, y->node);
    return c ? c : (int)x->num - (int)y->num;
}

/* The members of group in scope (NULL: pg) as a sorted list text. */
static const char *members(const char *scope, const ei_x_buff *group,
                           int local_only)
{
    erlang_pid pids[64];
    static char text[4096];
    int n = local_only
                ? enode_pg_local_members(rt_node, scope, group, pids, 64)
                : enode_pg_members(rt_node, scope, group, pids, 64);
    cr_assert_geq(n, 0, "members: %s", enode_strerror(n));
    cr_assert_leq(n, 64);
    qsort(pids, (size_t)n, sizeof *pids, pid_order);
    size_t at = (size_t)snprintf(text, sizeof text, "[");
    for (int k = 0; k < n; k++)
        at += (size_t)snprintf(text + at, sizeof text - at, "%s%s",
                               k ? ", " : "", fp_pid_text(&pids[k]));
    snprintf(text + at, sizeof text - at, "]");
    return text;
}

static const char *pids_text(int n, const erlang_pid *pids)
{
    static char text[4096];
    erlang_pid sorted[16];
    memcpy(sorted, pids, (size_t)n * sizeof *pids);
    qsort(sorted, (size_t)n, sizeof *sorted, pid_order);
    size_t at = (size_t)snprintf(text, sizeof text, "[");
    for (int k = 0; k < n; k++)
        at += (size_t)snprintf(text + at, sizeof text - at, "%s%s",
                               k ? ", " : "", fp_pid_text(&sorted[k]));
    snprintf(text + at, sizeof text - at, "]");
    return text;
}

/* ---- discovery ----------------------------------------------------------- */

Test(pg, a_scope_discovers_the_visible_nodes_when_it_starts)
{
    erlang_pid s = start_scope(NULL);
    cr_assert_str_eq(s.node, RT_NODE);
    /* Another scope runs beside it, under its own name. */
    erlang_pid s2 = start_scope("other_scope");
    cr_assert(!fp_pid_eq(&s, &s2));
    /* Starting a scope twice is no error, and sends nothing more. */
    cr_assert_eq(enode_pg_start(rt_node, NULL), 0);
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_to_scope_name, "pg"), 0);
}

Test(pg, a_node_that_comes_up_is_discovered_by_every_scope)
{
    /* Scopes that run before the peer connects discover it on nodeup. */
    fp_free(rt_fp);
    rt_fp = NULL;
    cr_assert_eq(enode_pg_start(rt_node, NULL), 0);
    cr_assert_eq(enode_pg_start(rt_node, "s2"), 0);
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT | EN_DFLAG_PUBLISHED};
    cr_assert_eq(fp_connect(&rt_fp, rt_node, &c), 0, "%s", fp_error(rt_fp));
    erlang_pid s;
    cr_assert_str_eq(expect_to_name("pg", &s),
                     rt_fmt("{discover, %s}", fp_pid_text(&s)));
    cr_assert_str_eq(expect_to_name("s2", &s),
                     rt_fmt("{discover, %s}", fp_pid_text(&s)));
}

Test(pg, discover_is_answered_with_a_sync_and_a_discover)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0);
    erlang_pid s = start_scope(NULL);
    peer_discovers(&s, rt_fmt("[{g, [%s]}]", fp_pid_text(enode_mbox_pid(mb))),
                   NULL);
    /* A second discover from a known peer gets a sync, nothing more. */
    erlang_pid p = peer_scope();
    to_scope(&s, rt_term("{discover, ~p}", &p));
    cr_assert_str_eq(expect_to(&p),
                     rt_fmt("{'$gen_cast', {sync, %s, [{g, [%s]}]}}",
                            fp_pid_text(&s), fp_pid_text(enode_mbox_pid(mb))));
    sync_peer();
    cr_assert_eq(count_to(&p), 0);
    cr_assert_eq(fp_count(rt_fp, is_monitor_of, &p), 0);
}

Test(pg, the_discover_of_otp_26_and_later_is_answered_too)
{
    erlang_pid s = start_scope(NULL), p = peer_scope();
    /* OTP 29's data_publisher sends {discover, Pid, Version}. */
    to_scope(&s, rt_term("{discover, ~p, 1}", &p));
    cr_assert_str_eq(expect_to(&p), rt_fmt("{'$gen_cast', {sync, %s, []}}",
                                           fp_pid_text(&s)));
    /* Answered in the form every release takes: two elements. */
    cr_assert_str_eq(expect_to(&p), rt_fmt("{discover, %s}", fp_pid_text(&s)));
}

/* ---- the replica of a peer's members ------------------------------------- */

Test(pg, a_sync_replaces_all_that_was_known_of_the_peer)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope();
    erlang_pid a = rt_peer_pid(1), b = rt_peer_pid(2), c = rt_peer_pid(3);

    cast_to_scope(&s, rt_term("{sync, ~p, [{g, [~p, ~p]}, {h, [~p]}]}", &p, &a,
                              &b, &c));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0),
                     pids_text(2, (erlang_pid[]){a, b}));
    cr_assert_str_eq(members(NULL, rt_term("h"), 0), pids_text(1, &c));
    /* Remote members are no local ones. */
    cr_assert_str_eq(members(NULL, rt_term("g"), 1), "[]");

    cast_to_scope(&s, rt_term("{sync, ~p, [{g, [~p]}]}", &p, &c));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), pids_text(1, &c));
    cr_assert_str_eq(members(NULL, rt_term("h"), 0), "[]");

    cast_to_scope(&s, rt_term("{sync, ~p, []}", &p));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), "[]");
}

Test(pg, a_sync_from_a_new_peer_makes_it_known_and_monitored)
{
    erlang_pid s = start_scope(NULL), p = peer_scope(), a = rt_peer_pid(1);

    /* The answer to our discover, before the peer's own discover. */
    cast_to_scope(&s, rt_term("{sync, ~p, [{g, [~p]}]}", &p, &a));
    const fp_pkt_t *m = fp_expect(rt_fp, is_monitor_of, &p, T_MS);
    cr_assert(m, "the node does not monitor the peer's scope");
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), pids_text(1, &a));
    /* Its joins count from now on. */
    erlang_pid b = rt_peer_pid(2);
    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &b));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0),
                     pids_text(2, (erlang_pid[]){a, b}));
}

Test(pg, joins_and_leaves_of_a_scope_that_never_synced_are_dropped)
{
    erlang_pid s = start_scope(NULL), p = peer_scope(), a = rt_peer_pid(1);

    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    to_scope(&s, rt_term("{leave, ~p, ~p, [g]}", &p, &a));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), "[]");
    cr_assert(strstr(rt_log(), "a join from a scope on peer@localhost that "
                               "has not synced; dropped"), "%s", rt_log());
    cr_assert(strstr(rt_log(), "a leave from a scope on peer@localhost that "
                               "has not synced; dropped"));
}

Test(pg, joins_and_leaves_of_a_known_peer_change_the_replica)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope();
    erlang_pid a = rt_peer_pid(1), b = rt_peer_pid(2), c = rt_peer_pid(3);

    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));        /* a pid */
    to_scope(&s, rt_term("{join, ~p, g, [~p, ~p]}", &p, &b, &a)); /* a list */
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0),
                     pids_text(3, (erlang_pid[]){a, a, b}));
    /* A pid leaves once per leave; a leave names groups in a list. */
    to_scope(&s, rt_term("{join, ~p, h, ~p}", &p, &a));
    to_scope(&s, rt_term("{leave, ~p, ~p, [g, h]}", &p, &a));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0),
                     pids_text(2, (erlang_pid[]){a, b}));
    cr_assert_str_eq(members(NULL, rt_term("h"), 0), "[]");
    /* Leaving what is not there changes nothing. */
    to_scope(&s, rt_term("{leave, ~p, [~p, ~p], [g, nothing]}", &p, &b, &c));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), pids_text(1, &a));
}

Test(pg, the_down_of_a_peer_scope_drops_its_members)
{
    erlang_ref mon;
    erlang_pid s = scope_with_peer(&mon), p = peer_scope(), a = rt_peer_pid(1);

    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), pids_text(1, &a));
    cr_assert_eq(fp_monitor_exit(rt_fp, &p, NULL, &s, &mon,
                                 rt_term("shutdown")), 0);
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), "[]");
    /* Forgotten: its joins are dropped now. */
    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), "[]");
}

Test(pg, a_lost_connection_drops_the_peers_members)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope(), a = rt_peer_pid(1);

    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), pids_text(1, &a));
    fp_close(rt_fp);
    /* The node notices on a turn of its loop. */
    for (int i = 0; i < 100 && strcmp(members(NULL, rt_term("g"), 0), "[]");
         i++)
        enode_process(rt_node, 20);
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), "[]");
}

/* ---- bad input ----------------------------------------------------------- */

Test(pg, malformed_messages_are_logged_and_dropped_whole)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope(), a = rt_peer_pid(1);

    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    sync_peer();
    /* Each of these is dropped whole, changing nothing. */
    to_scope(&s, rt_term("{join, not_a_pid, g, ~p}", &a));
    to_scope(&s, rt_term("{join, ~p, g, [~p, 42]}", &p, &a));
    to_scope(&s, rt_term("{join, ~p, g, \"abc\"}", &p));
    to_scope(&s, rt_term("{leave, ~p, ~p, g}", &p, &a));
    to_scope(&s, rt_term("{leave, ~p, {~p}, [g]}", &p, &a));
    ei_x_buff *improper = rt_term_slot(); /* {leave, P, A, [g | h]} */
    ei_x_encode_tuple_header(improper, 4);
    ei_x_encode_atom(improper, "leave");
    ei_x_encode_pid(improper, &p);
    ei_x_encode_pid(improper, &a);
    ei_x_encode_list_header(improper, 1);
    ei_x_encode_atom(improper, "g");
    ei_x_encode_atom(improper, "h");
    to_scope(&s, improper);
    cast_to_scope(&s, rt_term("{sync, ~p, [{g}]}", &p));
    cast_to_scope(&s, rt_term("{sync, ~p, [{g, [~p, x]}]}", &p, &a));
    cast_to_scope(&s, rt_term("{sync, ~p, not_a_list}", &p));
    to_scope(&s, rt_term("{discover, 42}"));
    to_scope(&s, rt_term("{discover, ~p, 1, extra}", &p));
    /* Shapes pg does not know at all, and a cast pg does not take. */
    to_scope(&s, rt_term("hello"));
    cast_to_scope(&s, rt_term("{local_data, ~p, 1, []}", &p));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), pids_text(1, &a));
    cr_assert_eq(count_to(&p), 0);
    cr_assert(strstr(rt_log(), "pg scope pg: a malformed join from "
                               "peer@localhost; dropped"), "%s", rt_log());
    cr_assert(strstr(rt_log(), "a malformed leave from peer@localhost"));
    cr_assert(strstr(rt_log(), "a malformed sync from peer@localhost"));
    cr_assert(strstr(rt_log(), "a malformed discover from peer@localhost"));
    cr_assert(strstr(rt_log(), "a message from peer@localhost that pg does "
                               "not serve; dropped"));
    /* The node and the connection carry on. */
    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0),
                     pids_text(2, (erlang_pid[]){a, a}));
    cr_assert_not(fp_closed(rt_fp));
}

Test(pg, a_message_naming_a_scope_of_another_node_is_dropped)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope(), a = rt_peer_pid(1);
    erlang_pid elsewhere = p;

    strcpy(elsewhere.node, "third@localhost");
    to_scope(&s, rt_term("{discover, ~p}", &elsewhere));
    cast_to_scope(&s, rt_term("{sync, ~p, [{g, [~p]}]}", &elsewhere, &a));
    sync_peer();
    cr_assert_str_eq(members(NULL, rt_term("g"), 0), "[]");
    cr_assert_eq(count_to(&elsewhere), 0);
    cr_assert(strstr(rt_log(), "a discover from peer@localhost names a scope "
                               "on third@localhost; dropped"), "%s", rt_log());
}

/* ---- this node's members ------------------------------------------------- */

Test(pg, local_joins_and_leaves_reach_a_peer_that_has_our_sync)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope();
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    const char *me = fp_pid_text(enode_mbox_pid(mb));

    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("{chat, 1}")), 0);
    cr_assert_str_eq(expect_to(&p), rt_fmt("{join, %s, {chat, 1}, %s}",
                                           fp_pid_text(&s), me));
    cr_assert_str_eq(members(NULL, rt_term("{chat, 1}"), 1),
                     rt_fmt("[%s]", me));
    cr_assert_eq(enode_pg_leave(mb, NULL, rt_term("{chat, 1}")), 0);
    cr_assert_str_eq(expect_to(&p), rt_fmt("{leave, %s, %s, [{chat, 1}]}",
                                           fp_pid_text(&s), me));
    cr_assert_eq(enode_pg_leave(mb, NULL, rt_term("{chat, 1}")),
                 ENODE_ENOTFOUND);
    sync_peer();
    cr_assert_eq(count_to(&p), 0);
}

Test(pg, a_peer_that_lacks_our_sync_is_told_nothing_until_it_has_it)
{
    erlang_pid s = start_scope(NULL), p = peer_scope(), a = rt_peer_pid(1);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    const char *me = fp_pid_text(enode_mbox_pid(mb));

    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("h")), 0);
    /* The peer answers our discover with its sync: it is known now, but
     * has not had ours, so a leave could name a group it never saw (which
     * makes an OTP 25-27 scope crash). */
    cast_to_scope(&s, rt_term("{sync, ~p, [{g, [~p]}]}", &p, &a));
    sync_peer();
    cr_assert_eq(enode_pg_leave(mb, NULL, rt_term("h")), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("k")), 0);
    sync_peer();
    cr_assert_eq(count_to(&p), 0);
    /* Its discover brings our sync, with all of it. */
    to_scope(&s, rt_term("{discover, ~p}", &p));
    const char *sync = expect_to(&p);
    cr_assert(strstr(sync, rt_fmt("{k, [%s]}", me)) &&
                  strstr(sync, rt_fmt("{g, [%s]}", me)) && !strstr(sync, "{h,"),
              "%s", sync);
    cr_assert_eq(enode_pg_leave(mb, NULL, rt_term("k")), 0);
    cr_assert_str_eq(expect_to(&p),
                     rt_fmt("{leave, %s, %s, [k]}", fp_pid_text(&s), me));
}

Test(pg, a_member_that_goes_leaves_every_group_everywhere)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope();
    enode_mbox_t *mb = rt_mbox(NULL, 0), *other = rt_mbox(NULL, 0);
    erlang_pid me = *enode_mbox_pid(mb);

    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0); /* twice */
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("h")), 0);
    cr_assert_eq(enode_pg_join(other, NULL, rt_term("g")), 0);
    for (int i = 0; i < 4; i++)
        expect_to(&p);
    cr_assert_str_eq(members(NULL, rt_term("g"), 0),
                     pids_text(3, (erlang_pid[]){me, me,
                                                 *enode_mbox_pid(other)}));
    enode_mbox_free(mb);
    /* One leave, naming each group as often as it was joined. */
    const char *leave = expect_to(&p);
    cr_assert(strcmp(leave, rt_fmt("{leave, %s, %s, [h, g, g]}",
                                   fp_pid_text(&s), fp_pid_text(&me))) == 0 ||
                  strcmp(leave, rt_fmt("{leave, %s, %s, [g, g, h]}",
                                       fp_pid_text(&s),
                                       fp_pid_text(&me))) == 0,
              "%s", leave);
    cr_assert_str_eq(members(NULL, rt_term("g"), 0),
                     pids_text(1, enode_mbox_pid(other)));
    cr_assert_str_eq(members(NULL, rt_term("h"), 0), "[]");

    /* A mailbox that exits (not freed) leaves as well. */
    cr_assert_eq(enode_mbox_exit(other, rt_term("shutdown")), 0);
    cr_assert_str_eq(expect_to(&p),
                     rt_fmt("{leave, %s, %s, [g]}", fp_pid_text(&s),
                            fp_pid_text(enode_mbox_pid(other))));
    cr_assert_eq(enode_pg_join(other, NULL, rt_term("g")), ENODE_ECLOSED);
}

Test(pg, a_group_is_the_same_however_it_is_encoded)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope(), a = rt_peer_pid(1);
    enode_mbox_t *mb = rt_mbox(NULL, 0);

    /* The peer sends "ab" as OTP does, a STRING_EXT. */
    to_scope(&s, rt_term("{join, ~p, {\"ab\", 300}, ~p}", &p, &a));
    sync_peer();
    /* C code builds it as a LIST_EXT of integers, 300 as a bignum from
     * ei_x_encode_ulonglong's point of view, and a Latin-1 atom. */
    ei_x_buff *g = rt_term_slot();
    ei_x_encode_tuple_header(g, 2);
    ei_x_encode_list_header(g, 2);
    ei_x_encode_long(g, 'a');
    ei_x_encode_long(g, 'b');
    ei_x_encode_empty_list(g);
    ei_x_encode_long(g, 300);
    cr_assert_str_eq(members(NULL, g, 0), pids_text(1, &a));
    cr_assert_eq(enode_pg_join(mb, NULL, g), 0);
    /* What the peer gets is the form OTP sends. */
    const fp_pkt_t *pkt = fp_expect(rt_fp, is_message_to, &p, T_MS);
    cr_assert(pkt);
    ei_x_buff *want = rt_term_slot();
    ei_x_format_wo_ver(want, "{join, ~p, {\"ab\", 300}, ~p}", &s,
                       enode_mbox_pid(mb));
    cr_assert_eq(pkt->m.msg_len, (size_t)want->index - 1);
    cr_assert(memcmp(pkt->m.msg, want->buff + 1, pkt->m.msg_len) == 0, "%s",
              fp_text(pkt->m.msg, pkt->m.msg_len));

    /* A Latin-1 atom from C, a UTF-8 one from the peer. */
    ei_x_buff *latin1 = rt_term_slot(), *join = rt_term_slot();
    ei_x_encode_atom_len_as(latin1, "caf\xe9", 4, ERLANG_LATIN1,
                            ERLANG_LATIN1);
    ei_x_encode_tuple_header(join, 4);
    ei_x_encode_atom(join, "join");
    ei_x_encode_pid(join, &p);
    ei_x_encode_atom_len_as(join, "caf\xc3\xa9", 5, ERLANG_UTF8, ERLANG_UTF8);
    ei_x_encode_pid(join, &a);
    to_scope(&s, join);
    sync_peer();
    cr_assert_str_eq(members(NULL, latin1, 0), pids_text(1, &a));
}

Test(pg, which_groups_lists_each_group_once)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope(), a = rt_peer_pid(1);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    ei_x_buff groups;

    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0);
    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    to_scope(&s, rt_term("{join, ~p, h, ~p}", &p, &a));
    sync_peer();
    cr_assert_eq(enode_pg_which_groups(rt_node, NULL, &groups), 2);
    const char *text = fp_xtext(&groups);
    cr_assert(strcmp(text, "[g, h]") == 0 || strcmp(text, "[h, g]") == 0,
              "%s", text);
    ei_x_free(&groups);
    cr_assert_eq(enode_pg_which_local_groups(rt_node, NULL, &groups), 1);
    cr_assert_str_eq(fp_xtext(&groups), "[g]");
    ei_x_free(&groups);
    cr_assert_eq(enode_pg_which_groups(rt_node, "empty", &groups), 0);
    cr_assert_str_eq(fp_xtext(&groups), "[]");
    ei_x_free(&groups);
}

/* ---- monitors ------------------------------------------------------------ */

Test(pg, a_monitor_gets_the_members_then_every_change)
{
    erlang_ref mon;
    erlang_pid s = scope_with_peer(&mon), p = peer_scope();
    erlang_pid a = rt_peer_pid(1), b = rt_peer_pid(2);
    enode_mbox_t *mb = rt_mbox(NULL, 0), *w = rt_mbox(NULL, 0);
    const char *me = fp_pid_text(enode_mbox_pid(mb));
    erlang_ref ref;

    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    sync_peer();
    cr_assert_eq(enode_pg_monitor(w, NULL, rt_term("g"), &ref), 0);
    char r[128];
    snprintf(r, sizeof r, "%s", fp_ref_text(&ref));
    cr_assert_str_eq(rt_next(w, 0), rt_fmt("{%s, join, g, [%s]}", r,
                                           fp_pid_text(&a)));
    /* Local changes. */
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0);
    cr_assert_str_eq(rt_next(w, 0), rt_fmt("{%s, join, g, [%s]}", r, me));
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("other")), 0);
    cr_assert_eq(enode_pg_leave(mb, NULL, rt_term("g")), 0);
    cr_assert_str_eq(rt_next(w, 0), rt_fmt("{%s, leave, g, [%s]}", r, me));
    /* Remote ones: joins, leaves, a sync's changes, the peer's end. */
    to_scope(&s, rt_term("{join, ~p, g, [~p]}", &p, &b));
    cr_assert_str_eq(rt_next(w, T_MS), rt_fmt("{%s, join, g, [%s]}", r,
                                              fp_pid_text(&b)));
    to_scope(&s, rt_term("{leave, ~p, ~p, [g]}", &p, &b));
    cr_assert_str_eq(rt_next(w, T_MS), rt_fmt("{%s, leave, g, [%s]}", r,
                                              fp_pid_text(&b)));
    cast_to_scope(&s, rt_term("{sync, ~p, [{g, [~p]}]}", &p, &b));
    const char *n1 = rt_fmt("%s", rt_next(w, T_MS));
    const char *n2 = rt_fmt("%s", rt_next(w, T_MS));
    cr_assert_str_eq(n1, rt_fmt("{%s, leave, g, [%s]}", r, fp_pid_text(&a)));
    cr_assert_str_eq(n2, rt_fmt("{%s, join, g, [%s]}", r, fp_pid_text(&b)));
    cr_assert_eq(fp_monitor_exit(rt_fp, &p, NULL, &s, &mon,
                                 rt_term("shutdown")), 0);
    cr_assert_str_eq(rt_next(w, T_MS), rt_fmt("{%s, leave, g, [%s]}", r,
                                              fp_pid_text(&b)));
    /* Nothing about other groups. */
    sync_peer();
    cr_assert_str_eq(rt_next(w, 0), "(timeout)");
}

Test(pg, a_scope_monitor_hears_of_every_group)
{
    erlang_pid s = scope_with_peer(NULL), p = peer_scope(), a = rt_peer_pid(1);
    enode_mbox_t *mb = rt_mbox(NULL, 0), *w = rt_mbox(NULL, 0);
    erlang_pid me = *enode_mbox_pid(mb);
    erlang_ref ref;

    to_scope(&s, rt_term("{join, ~p, g, ~p}", &p, &a));
    sync_peer();
    cr_assert_eq(enode_pg_monitor(w, NULL, NULL, &ref), 0);
    char r[128];
    snprintf(r, sizeof r, "%s", fp_ref_text(&ref));
    cr_assert_str_eq(rt_next(w, 0), rt_fmt("{%s, join, g, [%s]}", r,
                                           fp_pid_text(&a)));
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("h")), 0);
    cr_assert_str_eq(rt_next(w, 0),
                     rt_fmt("{%s, join, h, [%s]}", r, fp_pid_text(&me)));
    enode_mbox_free(mb);
    cr_assert_str_eq(rt_next(w, 0),
                     rt_fmt("{%s, leave, h, [%s]}", r, fp_pid_text(&me)));
}

Test(pg, demonitor_ends_the_notices_and_drops_those_queued)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0), *w = rt_mbox(NULL, 0);
    erlang_ref ref;

    cr_assert_eq(enode_pg_monitor(w, NULL, rt_term("g"), &ref), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0);
    cr_assert_eq(enode_send(mb, enode_mbox_pid(w), rt_term("hello")), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0);
    cr_assert_eq(enode_pg_demonitor(w, NULL, &ref), 0);
    /* The two notices are gone, the other message stays. */
    cr_assert_str_eq(rt_next(w, 0), "hello");
    cr_assert_eq(enode_pg_leave(mb, NULL, rt_term("g")), 0);
    cr_assert_str_eq(rt_next(w, 0), "(timeout)");
    cr_assert_eq(enode_pg_demonitor(w, NULL, &ref), ENODE_ENOTFOUND);
    /* Only the mailbox that holds a monitor can end it. */
    cr_assert_eq(enode_pg_monitor(w, NULL, NULL, &ref), 0);
    cr_assert_eq(enode_pg_demonitor(mb, NULL, &ref), ENODE_ENOTFOUND);
    cr_assert_eq(enode_pg_demonitor(w, "no_such_scope", &ref), ENODE_ENOTFOUND);
}

Test(pg, a_watcher_that_goes_is_forgotten)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0), *w = rt_mbox(NULL, 0);
    erlang_ref ref;

    cr_assert_eq(enode_pg_monitor(w, "s", rt_term("g"), &ref), 0);
    enode_mbox_free(w);
    cr_assert_eq(enode_pg_join(mb, "s", rt_term("g")), 0);
    cr_assert_eq(enode_pg_leave(mb, "s", rt_term("g")), 0);
    cr_assert(strstr(rt_log(), "a DOWN of no monitor") == NULL, "%s", rt_log());
}

/* ---- the API's refusals -------------------------------------------------- */

Test(pg_hidden, a_group_that_is_no_valid_term_is_refused)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid pids[4];
    erlang_ref ref;
    ei_x_buff bad = {0};
    char bytes[8] = {(char)131, 104, 2, 100}; /* a tuple cut short */

    cr_assert_eq(enode_pg_join(mb, NULL, NULL), ENODE_EINVAL);
    cr_assert_eq(enode_pg_join(mb, NULL, &bad), ENODE_EINVAL);
    bad.buff = bytes;
    bad.index = 4;
    cr_assert_eq(enode_pg_join(mb, NULL, &bad), ENODE_EINVAL);
    bytes[1] = 97; /* two terms: 1 and 2 */
    bytes[2] = 1;
    bytes[3] = 97;
    bytes[4] = 2;
    bad.index = 5;
    cr_assert_eq(enode_pg_join(mb, NULL, &bad), ENODE_EINVAL);
    bytes[1] = 82; /* an atom cache reference */
    bad.index = 3;
    cr_assert_eq(enode_pg_leave(mb, NULL, &bad), ENODE_EINVAL);
    cr_assert_eq(enode_pg_members(rt_node, NULL, &bad, pids, 4), ENODE_EINVAL);
    cr_assert_eq(enode_pg_monitor(mb, NULL, &bad, &ref), ENODE_EINVAL);
    cr_assert_eq(enode_pg_members(rt_node, NULL, rt_term("g"), NULL, 4),
                 ENODE_EINVAL);
    cr_assert_eq(enode_pg_members(rt_node, NULL, rt_term("g"), pids, -1),
                 ENODE_EINVAL);
    cr_assert_eq(enode_pg_members(rt_node, NULL, rt_term("g"), NULL, 0), 0);
}

Test(pg_hidden, a_scope_needs_an_atom_name_that_is_free)
{
    enode_mbox_t *mb = rt_mbox("taken", 0);

    cr_assert_eq(enode_pg_start(rt_node, ""), ENODE_EINVAL);
    cr_assert_eq(enode_pg_start(rt_node, "bad\xff"), ENODE_EINVAL);
    cr_assert_eq(enode_pg_join(mb, "taken", rt_term("g")), ENODE_EEXIST);
    cr_assert_eq(enode_pg_start(rt_node, "net_kernel"), ENODE_EEXIST);
    cr_assert_eq(enode_pg_start(rt_node, "caf\xc3\xa9"), 0);
    /* A scope's name is taken for mailboxes. */
    enode_mbox_t *other = rt_mbox(NULL, 0);
    cr_assert_eq(enode_register(other, "caf\xc3\xa9"), ENODE_EEXIST);
}

Test(pg_hidden, a_hidden_peer_takes_no_part)
{
    erlang_pid p = peer_scope(), a = rt_peer_pid(1), s;
    enode_mbox_t *mb = rt_mbox(NULL, 0);

    cr_assert_eq(enode_pg_start(rt_node, NULL), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, rt_term("g")), 0);
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_to_scope_name, "pg"), 0);
    /* Its discover and sync are dropped: it is not a visible node. */
    cr_assert_eq(fp_reg_send(rt_fp, &p, "pg", rt_term("{discover, ~p}", &p)),
                 0);
    cr_assert_eq(fp_reg_send(rt_fp, &p, "pg",
                             rt_term("{'$gen_cast', {sync, ~p, [{g, [~p]}]}}",
                                     &p, &a)),
                 0);
    sync_peer();
    cr_assert_eq(count_to(&p), 0);
    cr_assert_str_eq(members(NULL, rt_term("g"), 0),
                     rt_fmt("[%s]", fp_pid_text(enode_mbox_pid(mb))));
    cr_assert(strstr(rt_log(), "a discover from peer@localhost, which is not "
                               "a visible node; dropped"), "%s", rt_log());
    (void)s;
}

Test(pg_hidden, a_hidden_node_takes_no_part)
{
    rt_teardown();
    rt_node_opts_t o = {.hidden = 1};
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT | EN_DFLAG_PUBLISHED};
    rt_setup_with(&o, &c);
    erlang_pid p = peer_scope();
    cr_assert_eq(enode_pg_start(rt_node, NULL), 0);
    cr_assert_eq(fp_reg_send(rt_fp, &p, "pg", rt_term("{discover, ~p}", &p)),
                 0);
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_to_scope_name, "pg"), 0);
    cr_assert_eq(count_to(&p), 0);
}
