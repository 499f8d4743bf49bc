/* test_global.c - the node's part in OTP's global, with a fake peer
 * playing the global_name_server of a visible OTP node.
 *
 * On nodeup, each side casts {init_connect, {8, Tag}, Node, {locker,
 * no_longer_a_pid, Known, Locker}} to the other's global_name_server and
 * acks the other's with a plain {init_connect_ack, Node, HisTag, MyTag}.
 * OTP's locker (the peer here) then takes the lock {global, [Its, Ours]}
 * on the node with a set_lock call and casts {lock_set, Locker, true,
 * Known, NodeTag}; the node locks its own partition, answers lock_set and
 * sends its names (exchange); the peer sends its names; both send
 * resolved; after that each knows the other (get_known, get_synced), and
 * the names are in the node's replica. Calls every global_name_server
 * answers (get_known, get_protocol_version, register, set_lock, ...) are
 * answered by the node as well.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rt.h"

#define GNS "global_name_server"

static void sync_peer(void)
{
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

static void up_visible(void)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT | EN_DFLAG_PUBLISHED};
    rt_setup_with(NULL, &c);
}

TestSuite(global, .init = up_visible, .fini = rt_teardown, .timeout = 20);
TestSuite(global_calls, .init = rt_setup, .fini = rt_teardown, .timeout = 20);

/* ---- the peer's side of global ------------------------------------------- */

/* What a connect session needs to remember. */
typedef struct gsess {
    erlang_pid node_gns; /* the node's global process (its locker) */
    long long node_tag;  /* the tag of the node's init_connect */
    erlang_pid locker;   /* the peer's global process */
    long long peer_tag;
} gsess_t;

static int is_to_gns(const fp_pkt_t *p, void *ud)
{
    (void)ud;
    return p->rc == 0 && p->m.op == EN_DOP_REG_SEND &&
           strcmp(p->m.to_name, GNS) == 0;
}

/* The next message for the peer's global_name_server, as text; *from
 * gets its sender. */
static const char *expect_gns(erlang_pid *from)
{
    const fp_pkt_t *p = fp_expect(rt_fp, is_to_gns, NULL, T_MS);
    cr_assert(p, "nothing for %s: %s\nnode log:\n%s", GNS, fp_error(rt_fp),
              rt_log());
    if (from)
        *from = p->m.from;
    return fp_text(p->m.msg, p->m.msg_len);
}

/* The node's init_connect, checked whole; fills node_gns and node_tag. */
static void expect_init_connect(gsess_t *s)
{
    const fp_pkt_t *p = fp_expect(rt_fp, is_to_gns, NULL, T_MS);
    int i = 0, arity;
    char atom[MAXATOMLEN_UTF8];

    cr_assert(p, "no init_connect: %s", fp_error(rt_fp));
    s->node_gns = p->m.from;
    /* {'$gen_cast', {init_connect, {8, Tag}, ...}} */
    cr_assert(ei_decode_tuple_header(p->m.msg, &i, &arity) == 0 &&
                  ei_skip_term(p->m.msg, &i) == 0 &&
                  ei_decode_tuple_header(p->m.msg, &i, &arity) == 0 &&
                  ei_decode_atom(p->m.msg, &i, atom) == 0 &&
                  ei_decode_tuple_header(p->m.msg, &i, &arity) == 0 &&
                  ei_skip_term(p->m.msg, &i) == 0 &&
                  ei_decode_longlong(p->m.msg, &i, &s->node_tag) == 0,
              "not an init_connect: %s", fp_text(p->m.msg, p->m.msg_len));
    cr_assert_str_eq(
        fp_text(p->m.msg, p->m.msg_len),
        rt_fmt("{'$gen_cast', {init_connect, {8, %lld}, node@localhost, "
               "{locker, no_longer_a_pid, [], %s}}}",
               s->node_tag, fp_pid_text(&s->node_gns)));
}

/* A cast to the node's global_name_server from the peer's locker. */
static void cast(const gsess_t *s, const ei_x_buff *term)
{
    ei_x_buff *x = rt_term_slot();
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "$gen_cast");
    ei_x_append_buf(x, term->buff + 1, term->index - 1);
    cr_assert_eq(fp_reg_send(rt_fp, &s->locker, GNS, x), 0, "%s",
                 fp_error(rt_fp));
}

/* gen_server:call(global_name_server, Request) from `from`; the reply. */
static const char *call(const erlang_pid *from, const ei_x_buff *request)
{
    erlang_ref tag;
    ei_x_buff *x = rt_term_slot();
    int i = 0, arity;

    fp_ref(rt_fp, &tag);
    ei_x_encode_tuple_header(x, 3);
    ei_x_encode_atom(x, "$gen_call");
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_pid(x, from);
    ei_x_encode_ref(x, &tag);
    ei_x_append_buf(x, request->buff + 1, request->index - 1);
    cr_assert_eq(fp_reg_send(rt_fp, from, GNS, x), 0, "%s", fp_error(rt_fp));
    const fp_pkt_t *r = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, from, T_MS);
    cr_assert(r, "no reply to %s: %s", fp_xtext(request), fp_error(rt_fp));
    erlang_ref got;
    cr_assert(ei_decode_tuple_header(r->m.msg, &i, &arity) == 0 && arity == 2 &&
                  ei_decode_ref(r->m.msg, &i, &got) == 0 &&
                  fp_ref_eq(&got, &tag),
              "not the reply: %s", fp_text(r->m.msg, r->m.msg_len));
    return fp_text(r->m.msg + i, r->m.msg_len - (size_t)i);
}

/* The peer's init_connect, and the node's ack. */
static void init_connect(gsess_t *s)
{
    s->locker = rt_peer_pid(100);
    s->peer_tag = 4242;
    cast(s, rt_term("{init_connect, {8, ~l}, 'peer@localhost', "
                    "{locker, no_longer_a_pid, [], ~p}}",
                    (long)s->peer_tag, &s->locker));
    erlang_pid from;
    cr_assert_str_eq(expect_gns(&from),
                     rt_fmt("{init_connect_ack, node@localhost, %lld, %lld}",
                            s->peer_tag, s->node_tag));
    cr_assert(fp_pid_eq(&from, &s->node_gns));
}

/* The peer's locker takes {global, [NodeLocker, PeerLocker]} on the node
 * and tells it; the node answers lock_set and sends its names. */
static void lock(gsess_t *s, const char *node_names)
{
    cr_assert_str_eq(call(&s->locker, rt_term("{set_lock, {global, [~p, ~p]}}",
                                              &s->node_gns, &s->locker)),
                     "true");
    cast(s, rt_term("{lock_set, ~p, true, [], ~l}", &s->locker,
                    (long)s->node_tag));
    cr_assert_str_eq(expect_gns(NULL),
                     rt_fmt("{'$gen_cast', {lock_set, %s, true, [], %lld}}",
                            fp_pid_text(&s->node_gns), s->peer_tag));
    cr_assert_str_eq(expect_gns(NULL),
                     rt_fmt("{'$gen_cast', {exchange, node@localhost, %s, "
                            "[], %lld}}",
                            node_names, s->peer_tag));
}

/* A whole connect session, the peer registering `name` for pid (or
 * nothing if name is NULL). */
static void session(gsess_t *s, const char *name, const erlang_pid *pid)
{
    expect_init_connect(s);
    init_connect(s);
    lock(s, "[]");
    if (name)
        cast(s, rt_term("{exchange, 'peer@localhost', "
                        "[{~a, ~p, {global, random_exit_name, 3}}], [], ~l}",
                        name, pid, (long)s->node_tag));
    else
        cast(s, rt_term("{exchange, 'peer@localhost', [], [], ~l}",
                        (long)s->node_tag));
    cr_assert_str_eq(expect_gns(NULL),
                     rt_fmt("{'$gen_cast', {resolved, node@localhost, [], [], "
                            "unused, [], %lld}}",
                            s->peer_tag));
    cast(s, rt_term("{resolved, 'peer@localhost', [], [], unused, [], ~l}",
                    (long)s->node_tag));
    /* The peer's locker lets go, as OTP's does once both resolved. */
    cr_assert_str_eq(call(&s->locker, rt_term("{del_lock, {global, [~p, ~p]}}",
                                              &s->node_gns, &s->locker)),
                     "true");
}

/* ---- the connect session ------------------------------------------------- */

Test(global, a_visible_peer_gets_init_connect_from_the_global_process)
{
    gsess_t s;
    expect_init_connect(&s);
    cr_assert_eq(s.node_gns.num != 0, 1);
    cr_assert_str_eq(s.node_gns.node, RT_NODE);
}

Test(global_calls, a_hidden_peer_gets_no_init_connect)
{
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_to_gns, NULL), 0);
}

TestSuite(global_hidden_node, .fini = rt_teardown, .timeout = 20);

Test(global_hidden_node, a_hidden_node_sends_no_init_connect)
{
    rt_node_opts_t o = {.hidden = 1};
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT | EN_DFLAG_PUBLISHED};
    rt_setup_with(&o, &c);
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_to_gns, NULL), 0);
}

Test(global, the_peers_init_connect_is_acked_with_both_tags)
{
    gsess_t s;
    expect_init_connect(&s);
    init_connect(&s);
}

Test(global, a_wrong_ack_cancels_and_restarts_the_session)
{
    gsess_t s;
    expect_init_connect(&s);
    init_connect(&s);
    /* An ack naming a tag the node never sent. */
    ei_x_buff *ack = rt_term_slot();
    ei_x_format_wo_ver(ack, "{init_connect_ack, 'peer@localhost', ~l, ~l}",
                       (long)(s.node_tag + 1000), (long)s.peer_tag);
    cr_assert_eq(fp_reg_send(rt_fp, &s.locker, GNS, ack), 0);
    cr_assert_str_eq(
        expect_gns(NULL),
        rt_fmt("{cancel_connect, node@localhost, %lld}", s.peer_tag));
    gsess_t again;
    expect_init_connect(&again);
    cr_assert_neq(again.node_tag, s.node_tag);
}

Test(global, the_lock_set_handshake_brings_lock_set_and_exchange)
{
    gsess_t s;
    expect_init_connect(&s);
    init_connect(&s);
    lock(&s, "[]");
}

Test(global, a_lock_set_for_another_lock_is_refused)
{
    gsess_t s;
    erlang_pid other = rt_peer_pid(101);
    expect_init_connect(&s);
    init_connect(&s);
    /* The node is locked for someone else: its answer is false. */
    cr_assert_str_eq(
        call(&other, rt_term("{set_lock, {global, [~p]}}", &other)), "true");
    cast(&s,
         rt_term("{lock_set, ~p, true, [], ~l}", &s.locker, (long)s.node_tag));
    cr_assert_str_eq(expect_gns(NULL),
                     rt_fmt("{'$gen_cast', {lock_set, %s, false, [], %lld}}",
                            fp_pid_text(&s.node_gns), s.peer_tag));
}

Test(global, a_whole_session_makes_the_peer_known_and_synced)
{
    gsess_t s;
    erlang_pid holder = rt_peer_pid(7), asker = rt_peer_pid(8);

    session(&s, "cluster_name", &holder);
    /* The node watches the process behind the name it learnt. */
    const fp_pkt_t *m = fp_expect_to(rt_fp, EN_DOP_MONITOR_P, &holder, T_MS);
    cr_assert(m, "no MONITOR_P for the name's process: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&m->m.from, &s.node_gns));
    cr_assert_str_eq(call(&asker, rt_term("get_known")), "[peer@localhost]");
    cr_assert_str_eq(call(&asker, rt_term("get_synced")), "[peer@localhost]");
}

Test(global, a_known_peers_init_connect_waits_for_the_next_nodeup)
{
    gsess_t s;

    session(&s, NULL, NULL);
    /* global.erl keeps it as pre_connect: no ack, no new session. */
    cast(&s, rt_term("{init_connect, {8, ~l}, 'peer@localhost', "
                     "{locker, no_longer_a_pid, [], ~p}}",
                     5000L, &s.locker));
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_to_gns, NULL), 0);
}

Test(global, remove_connection_from_a_known_node_disconnects_it)
{
    gsess_t s;
    session(&s, NULL, NULL);
    cr_assert_eq(fp_reg_send(rt_fp, &s.locker, GNS,
                             rt_term("{remove_connection, 'peer@localhost'}")),
                 0);
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert(strstr(enode_last_error(rt_node), "overlapping partitions"),
              "last error: %s", enode_last_error(rt_node));
}

Test(global, remove_connection_from_an_unknown_node_is_ignored)
{
    erlang_pid p = rt_peer_pid(1);
    cr_assert_eq(fp_reg_send(rt_fp, &p, GNS,
                             rt_term("{remove_connection, 'peer@localhost'}")),
                 0);
    sync_peer();
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}

/* ---- calls every global_name_server answers ------------------------------ */

Test(global_calls, the_informational_calls)
{
    erlang_pid p = rt_peer_pid(1);

    cr_assert_str_eq(call(&p, rt_term("get_known")), "[]");
    cr_assert_str_eq(call(&p, rt_term("get_synced")), "[]");
    cr_assert_str_eq(call(&p, rt_term("get_protocol_version")), "8");
    cr_assert_str_eq(call(&p, rt_term("get_names_ext")), "[]");
    cr_assert_str_eq(call(&p, rt_term("{sync, ['peer@localhost']}")), "ok");
}

Test(global_calls, a_lock_is_held_against_other_requesters)
{
    erlang_pid a = rt_peer_pid(1), b = rt_peer_pid(2);

    cr_assert_str_eq(call(&a, rt_term("{set_lock, {res, [~p]}}", &a)), "true");
    cr_assert_str_eq(call(&b, rt_term("{set_lock, {res, [~p]}}", &b)), "false");
    /* The same requester id shares it; another resource is free. */
    cr_assert_str_eq(call(&b, rt_term("{set_lock, {res, [~p]}}", &a)), "true");
    cr_assert_str_eq(call(&b, rt_term("{set_lock, {other, [~p]}}", &b)),
                     "true");
    cr_assert_str_eq(call(&a, rt_term("{del_lock, {res, [~p]}}", &a)), "true");
    cr_assert_str_eq(call(&b, rt_term("{del_lock, {res, [~p]}}", &a)), "true");
    cr_assert_str_eq(call(&b, rt_term("{set_lock, {res, [~p]}}", &b)), "true");
}

Test(global_calls, a_lock_holder_that_dies_lets_go)
{
    erlang_pid a = rt_peer_pid(1), b = rt_peer_pid(2);

    cr_assert_str_eq(call(&a, rt_term("{set_lock, {res, [~p]}}", &a)), "true");
    const fp_pkt_t *m = fp_expect_to(rt_fp, EN_DOP_MONITOR_P, &a, T_MS);
    cr_assert(m, "the holder is not watched: %s", fp_error(rt_fp));
    erlang_pid gns = m->m.from;
    erlang_ref ref = m->m.ref;
    cr_assert_eq(
        fp_monitor_exit(rt_fp, &a, NULL, &gns, &ref, rt_term("killed")), 0);
    cr_assert_str_eq(call(&b, rt_term("{set_lock, {res, [~p]}}", &b)), "true");
}

Test(global_calls, register_ext_and_unregister_show_in_names_ext)
{
    erlang_pid p = rt_peer_pid(1), holder = rt_peer_pid(5);

    cr_assert_str_eq(
        call(&p, rt_term("{register_ext, ext_name, ~p, "
                         "{global, random_exit_name, 3}, 'other@host'}",
                         &holder)),
        "yes");
    cr_assert_str_eq(
        call(&p, rt_term("get_names_ext")),
        rt_fmt("[{ext_name, %s, other@host}]", fp_pid_text(&holder)));
    const fp_pkt_t *m = fp_expect_to(rt_fp, EN_DOP_MONITOR_P, &holder, T_MS);
    cr_assert(m, "the name's process is not watched: %s", fp_error(rt_fp));
    erlang_ref ref = m->m.ref;

    cr_assert_str_eq(call(&p, rt_term("{unregister, ext_name}")), "ok");
    cr_assert_str_eq(call(&p, rt_term("get_names_ext")), "[]");
    /* Nothing left to watch it for. */
    const fp_pkt_t *d = fp_expect_to(rt_fp, EN_DOP_DEMONITOR_P, &holder, T_MS);
    cr_assert(d, "no DEMONITOR_P: %s", fp_error(rt_fp));
    cr_assert(fp_ref_eq(&d->m.ref, &ref));
}

Test(global_calls, a_registered_process_that_dies_loses_its_name)
{
    erlang_pid p = rt_peer_pid(1), holder = rt_peer_pid(5);

    cr_assert_str_eq(
        call(&p, rt_term("{register_ext, ext_name, ~p, "
                         "{global, random_exit_name, 3}, 'other@host'}",
                         &holder)),
        "yes");
    const fp_pkt_t *m = fp_expect_to(rt_fp, EN_DOP_MONITOR_P, &holder, T_MS);
    cr_assert(m, "the name's process is not watched: %s", fp_error(rt_fp));
    erlang_pid gns = m->m.from;
    erlang_ref ref = m->m.ref;
    cr_assert_eq(
        fp_monitor_exit(rt_fp, &holder, NULL, &gns, &ref, rt_term("normal")),
        0);
    cr_assert_str_eq(call(&p, rt_term("get_names_ext")), "[]");
}

Test(global_calls, garbage_is_dropped_and_the_connection_stays)
{
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_reg_send(rt_fp, &p, GNS, rt_term("garbage")), 0);
    cr_assert_eq(
        fp_reg_send(rt_fp, &p, GNS, rt_term("{'$gen_cast', {lock_set, x}}")),
        0);
    cr_assert_eq(fp_reg_send(rt_fp, &p, GNS,
                             rt_term("{'$gen_call', {~p, x}, {what, 1}}", &p)),
                 0);
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0);
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}
