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
#include <stdio.h>
#include <string.h>

#include "node/node.h"
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
    cr_assert(strstr(rt_log(), "warning: global: a message from "
                               "peer@localhost; dropped"), "%s", rt_log());
    cr_assert(strstr(rt_log(), "warning: global: a cast from peer@localhost "
                               "that enode does not serve; dropped"));
    cr_assert(strstr(rt_log(), "warning: global: call {what, ...} from "
                               "peer@localhost not served"));
}

/* ---- the registrar: names registered from this node ------------------------
 *
 * enode_global_register runs global.erl's trans_all_known from a
 * registrar process of the node: {set_lock, {global, Registrar}} to the
 * boss of [Node | Known] (here the peer: "peer@..." > "node@..."), then
 * to all of them, then {register, Name, Pid, Method} to all, then
 * {del_lock, ...} to all but the boss, then to the boss. The node's own
 * table is asked directly; the peer gets gen_server calls. The test plays
 * the peer and drives the transaction with en_global_trans_start/poll,
 * as the API does while it waits. */

typedef struct gcall { /* a gen_server call the peer received */
    erlang_pid from;
    erlang_ref tag;
    const char *req; /* the request, as text */
} gcall_t;

/* The next call to the peer's global_name_server, polling transaction id
 * meanwhile (its sleeps between lock attempts need the clock); id 0: a
 * transaction that has ended. */
static void next_call(uint64_t id, gcall_t *c)
{
    const fp_pkt_t *p = NULL;
    int rc, i = 0, arity;
    char atom[MAXATOMLEN_UTF8];

    for (int waited = 0; !p && waited < T_MS; waited += 20) {
        if (id)
            cr_assert_eq(en_global_trans_poll(rt_node->global, id, &rc), 0,
                         "the transaction ended (%d): %s", rc,
                         enode_last_error(rt_node));
        p = fp_expect(rt_fp, is_to_gns, NULL, 20);
    }
    cr_assert(p, "no call for %s: %s\nnode log:\n%s", GNS, fp_error(rt_fp),
              rt_log());
    cr_assert(ei_decode_tuple_header(p->m.msg, &i, &arity) == 0 &&
                  arity == 3 && ei_decode_atom(p->m.msg, &i, atom) == 0 &&
                  strcmp(atom, "$gen_call") == 0 &&
                  ei_decode_tuple_header(p->m.msg, &i, &arity) == 0 &&
                  ei_decode_pid(p->m.msg, &i, &c->from) == 0 &&
                  ei_decode_ref(p->m.msg, &i, &c->tag) == 0,
              "not a call: %s", fp_text(p->m.msg, p->m.msg_len));
    c->req = fp_text(p->m.msg + i, p->m.msg_len - (size_t)i);
}

/* {Tag, Reply} to the caller; reply is an Erlang term's text. */
static void answer(const gcall_t *c, const char *reply)
{
    ei_x_buff *x = rt_term_slot();
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_ref(x, &c->tag);
    ei_x_buff *r = rt_term_slot();
    rt_term_check(ei_x_format_wo_ver(r, reply));
    ei_x_append_buf(x, r->buff + 1, r->index - 1);
    cr_assert_eq(fp_send(rt_fp, &c->from, x), 0, "%s", fp_error(rt_fp));
}

/* The next call is `want` (with %s for the registrar's pid): answer it. */
static void call_answered(uint64_t id, const char *want, const char *reply)
{
    gcall_t c;
    next_call(id, &c);
    cr_assert_str_eq(c.req, rt_fmt(want, fp_pid_text(&c.from)));
    answer(&c, reply);
}

/* The transaction's end: its result. */
static int trans_result(uint64_t id)
{
    int rc = 1;
    for (int waited = 0; waited < T_MS; waited += 20) {
        sync_peer();
        if (en_global_trans_poll(rt_node->global, id, &rc))
            return rc;
        fp_pump(rt_fp, 20);
    }
    cr_assert_fail("the transaction never ended\nnode log:\n%s", rt_log());
    return rc;
}

/* The same once the peer has closed the connection: the node runs on
 * its own. */
static int trans_result_closed(uint64_t id)
{
    int rc = 1;
    for (int waited = 0; waited < 10000; waited += 20) {
        if (en_global_trans_poll(rt_node->global, id, &rc))
            return rc;
        enode_process(rt_node, 20);
    }
    cr_assert_fail("the transaction never ended\nnode log:\n%s", rt_log());
    return rc;
}

/* enode_global_registered_names' callback: "name name ...". */
static void list_names(void *user, const char *name, const erlang_pid *pid)
{
    (void)pid;
    strcat(user, name);
    strcat(user, " ");
}

/* The peer known to the node, the transaction to register name for mb
 * started. */
static uint64_t start_register(gsess_t *s, enode_mbox_t *mb, const char *name)
{
    uint64_t id;
    session(s, NULL, NULL);
    cr_assert_eq(en_global_trans_start(rt_node->global, enode_mbox_pid(mb),
                                       name, &id),
                 0, "%s", enode_last_error(rt_node));
    return id;
}

#define SET_LOCK "{set_lock, {global, %s}}"
#define DEL_LOCK "{del_lock, {global, %s}}"
#define METHOD "fun global:random_exit_name/3"

Test(global, register_locks_registers_and_unlocks_the_peer)
{
    gsess_t s;
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    uint64_t id = start_register(&s, mb, "cname");
    gcall_t c;

    call_answered(id, SET_LOCK, "true"); /* the boss */
    next_call(id, &c);                  /* all of us */
    cr_assert_str_eq(c.req, rt_fmt(SET_LOCK, fp_pid_text(&c.from)));
    /* The registrar is a process of the node, not global's own. */
    cr_assert_str_eq(c.from.node, RT_NODE);
    cr_assert(!fp_pid_eq(&c.from, &s.node_gns));
    answer(&c, "true");
    call_answered(id,
                  rt_fmt("{register, cname, %s, " METHOD "}",
                         fp_pid_text(enode_mbox_pid(mb))),
                  "yes");
    call_answered(id, DEL_LOCK, "true"); /* the boss last */
    cr_assert_eq(trans_result(id), 0, "%s", enode_last_error(rt_node));

    erlang_pid pid;
    cr_assert_eq(enode_global_whereis(rt_node, "cname", &pid), 0);
    cr_assert(fp_pid_eq(&pid, enode_mbox_pid(mb)));
    /* The node's table lets go too: the peer's locker may lock it. */
    erlang_pid other = rt_peer_pid(101);
    cr_assert_str_eq(
        call(&other, rt_term("{set_lock, {global, [~p]}}", &other)), "true");
}

Test(global, a_boss_that_says_no_is_asked_again_later)
{
    gsess_t s;
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    uint64_t id = start_register(&s, mb, "retry");

    call_answered(id, SET_LOCK, "false");
    /* random_sleep(0): up to 1/8 s, then the boss again. */
    call_answered(id, SET_LOCK, "true");
    call_answered(id, SET_LOCK, "true");
    gcall_t c;
    next_call(id, &c);
    cr_assert(strncmp(c.req, "{register, retry", 16) == 0, "%s", c.req);
    answer(&c, "yes");
    call_answered(id, DEL_LOCK, "true");
    cr_assert_eq(trans_result(id), 0);
}

Test(global, a_no_from_the_partition_lets_go_and_starts_over)
{
    gsess_t s;
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    uint64_t id = start_register(&s, mb, "backoff");

    call_answered(id, SET_LOCK, "true");
    call_answered(id, SET_LOCK, "maybe"); /* neither true nor false: a no */
    call_answered(id, DEL_LOCK, "true");  /* check_replies lets go */
    call_answered(id, SET_LOCK, "true");  /* after the sleep */
    call_answered(id, SET_LOCK, "true");
    gcall_t c;
    next_call(id, &c);
    answer(&c, "yes");
    call_answered(id, DEL_LOCK, "true");
    cr_assert_eq(trans_result(id), 0);
}

Test(global, a_name_the_peer_has_gives_eexist_without_register)
{
    gsess_t s;
    erlang_pid holder = rt_peer_pid(7);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    uint64_t id;

    session(&s, "taken", &holder);
    cr_assert_eq(
        en_global_trans_start(rt_node->global, enode_mbox_pid(mb), "taken",
                              &id),
        0);
    call_answered(id, SET_LOCK, "true");
    call_answered(id, SET_LOCK, "true");
    call_answered(id, DEL_LOCK, "true"); /* no register call between */
    cr_assert_eq(trans_result(id), ENODE_EEXIST);
    erlang_pid pid;
    cr_assert_eq(enode_global_whereis(rt_node, "taken", &pid), 0);
    cr_assert(fp_pid_eq(&pid, &holder));
}

Test(global, unregister_is_a_transaction_too)
{
    gsess_t s;
    erlang_pid holder = rt_peer_pid(7);
    uint64_t id;

    session(&s, "theirs", &holder);
    cr_assert_eq(en_global_trans_start(rt_node->global, NULL, "theirs", &id), 0);
    call_answered(id, SET_LOCK, "true");
    call_answered(id, SET_LOCK, "true");
    call_answered(id, "{unregister, theirs}", "ok");
    call_answered(id, DEL_LOCK, "true");
    cr_assert_eq(trans_result(id), 0);
    erlang_pid pid;
    cr_assert_eq(enode_global_whereis(rt_node, "theirs", &pid),
                 ENODE_ENOTFOUND);
}

Test(global, no_answer_in_time_gives_up_and_undoes)
{
    gsess_t s;
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    en_global_set_timeout(rt_node->global, 300);
    uint64_t id = start_register(&s, mb, "slow");
    gcall_t c;

    call_answered(id, SET_LOCK, "true");
    call_answered(id, SET_LOCK, "true");
    next_call(id, &c); /* register: no answer */
    cr_assert(strncmp(c.req, "{register, slow", 15) == 0, "%s", c.req);
    int rc = 1;
    for (int i = 0; i < 100 && !en_global_trans_poll(rt_node->global, id, &rc);
         i++)
        fp_pump(rt_fp, 20);
    cr_assert_eq(rc, ENODE_ETIMEOUT);
    cr_assert(strstr(enode_last_error(rt_node), "peer@localhost"), "%s",
              enode_last_error(rt_node));
    /* The name and the lock go from the peer, and from the node. */
    gcall_t u, d;
    next_call(0, &u);
    cr_assert_str_eq(u.req, "{unregister, slow}");
    next_call(0, &d);
    cr_assert_str_eq(d.req, rt_fmt(DEL_LOCK, fp_pid_text(&d.from)));
    erlang_pid pid;
    cr_assert_eq(enode_global_whereis(rt_node, "slow", &pid), ENODE_ENOTFOUND);
    /* A late yes goes nowhere; the node lives on. */
    answer(&c, "yes");
    answer(&u, "ok");
    sync_peer();
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}

Test(global, a_peer_that_goes_counts_as_answered)
{
    gsess_t s;
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    uint64_t id = start_register(&s, mb, "alone");
    gcall_t c;

    next_call(id, &c);
    fp_close(rt_fp); /* a bad node of multi_call */
    cr_assert_eq(trans_result_closed(id), 0, "%s", enode_last_error(rt_node));
    erlang_pid pid;
    cr_assert_eq(enode_global_whereis(rt_node, "alone", &pid), 0);
}

Test(global, malformed_messages_to_the_registrar_are_dropped)
{
    gsess_t s;
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    uint64_t id = start_register(&s, mb, "robust");
    gcall_t c;
    erlang_ref stranger;

    next_call(id, &c);
    fp_ref(rt_fp, &stranger);
    ei_x_buff *lone = rt_term_slot(), *unknown = rt_term_slot(),
              *three = rt_term_slot();
    ei_x_encode_tuple_header(lone, 1);
    ei_x_encode_ref(lone, &c.tag);
    ei_x_encode_tuple_header(unknown, 2);
    ei_x_encode_ref(unknown, &stranger);
    ei_x_encode_atom(unknown, "true");
    ei_x_encode_tuple_header(three, 3);
    ei_x_encode_ref(three, &c.tag);
    ei_x_encode_atom(three, "true");
    ei_x_encode_atom(three, "x");
    const ei_x_buff *junk[] = {
        rt_term("junk"), rt_term("{}"), lone, unknown, three,
        rt_term("{'EXIT', ~p, normal}", &c.from),
    };
    for (size_t k = 0; k < sizeof junk / sizeof *junk; k++)
        cr_assert_eq(fp_send(rt_fp, &c.from, junk[k]), 0);
    sync_peer();
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
    int rc;
    cr_assert_eq(en_global_trans_poll(rt_node->global, id, &rc), 0,
                 "junk ended the transaction");
    answer(&c, "true");
    call_answered(id, SET_LOCK, "true");
    gcall_t r;
    next_call(id, &r);
    answer(&r, "yes");
    call_answered(id, DEL_LOCK, "true");
    cr_assert_eq(trans_result(id), 0);
}

Test(global, registrations_wait_their_turn)
{
    gsess_t s;
    enode_mbox_t *m1 = rt_mbox(NULL, 0), *m2 = rt_mbox(NULL, 0);
    uint64_t id1 = start_register(&s, m1, "one"), id2;
    cr_assert_eq(en_global_trans_start(rt_node->global, enode_mbox_pid(m2),
                                       "two", &id2),
                 0);
    const char *steps[][2] = {{SET_LOCK, "true"}, {SET_LOCK, "true"}};
    for (int t = 0; t < 2; t++) {
        uint64_t id = t ? id2 : id1;
        for (int k = 0; k < 2; k++)
            call_answered(id, steps[k][0], steps[k][1]);
        gcall_t c;
        next_call(id, &c);
        cr_assert(strstr(c.req, t ? "{register, two" : "{register, one"),
                  "%s", c.req);
        answer(&c, "yes");
        call_answered(id, DEL_LOCK, "true");
        cr_assert_eq(trans_result(id), 0);
    }
}

/* ---- global off, and names from this node alone ------------------------- */

TestSuite(global_off, .fini = rt_teardown, .timeout = 20);

Test(global_off, connect_all_false_starts_and_answers_no_session)
{
    rt_node_opts_t o = {.global_off = 1};
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT | EN_DFLAG_PUBLISHED};
    rt_setup_with(&o, &c);
    gsess_t s = {.locker = rt_peer_pid(100), .peer_tag = 4242};
    cast(&s, rt_term("{init_connect, {8, ~l}, 'peer@localhost', "
                     "{locker, no_longer_a_pid, [], ~p}}",
                     (long)s.peer_tag, &s.locker));
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_to_gns, NULL), 0, "a session began");
    /* The calls every global_name_server answers are still answered. */
    erlang_pid p = rt_peer_pid(1);
    cr_assert_str_eq(call(&p, rt_term("get_known")), "[]");
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    cr_assert_eq(enode_global_register(mb, "offname"), ENODE_EINVAL);
    cr_assert(strstr(enode_last_error(rt_node), "-connect_all false"), "%s",
              enode_last_error(rt_node));
}

Test(global_calls, a_node_without_known_nodes_registers_at_once)
{
    /* The peer is hidden: global knows no node; the transaction is the
     * node's own table alone, done within the call. */
    enode_mbox_t *mb = rt_mbox(NULL, 0), *other = rt_mbox(NULL, 0);
    erlang_pid pid, p = rt_peer_pid(1);
    char names[64] = "";

    cr_assert_eq(enode_global_register(mb, "solo"), 0);
    cr_assert_eq(enode_global_whereis(rt_node, "solo", &pid), 0);
    cr_assert(fp_pid_eq(&pid, enode_mbox_pid(mb)));
    cr_assert_eq(enode_global_register(other, "solo"), ENODE_EEXIST);
    cr_assert_eq(enode_global_register(mb, "second"), ENODE_EEXIST);
    cr_assert_eq(enode_global_registered_names(rt_node, list_names, names), 1);
    cr_assert_str_eq(names, "solo ");
    /* Another node asks for it: get_names_ext is empty (not external),
     * and the calls see the name. */
    cr_assert_str_eq(call(&p, rt_term("get_names_ext")), "[]");
    cr_assert_eq(enode_global_unregister(rt_node, "solo"), 0);
    cr_assert_eq(enode_global_whereis(rt_node, "solo", &pid), ENODE_ENOTFOUND);
    cr_assert_eq(enode_global_register(other, "solo"), 0);
    enode_mbox_free(other);
    cr_assert_eq(enode_global_whereis(rt_node, "solo", &pid), ENODE_ENOTFOUND);
}

/* ---- resolving a clash over a process of the node -------------------------
 *
 * The node of the smaller name in a connect session resolves each clash
 * by running global:resolve_it(Method, Name, Pid, Pid2) on the node of
 * Pid2, the process of its own partition. When Pid2 is a mailbox of the
 * node, that is the node: through rpc from an OTP node, or within its
 * own session. The method keeps the process of the smaller node name
 * (random_exit_name kills the other). */

static int is_exit2(const fp_pkt_t *p, void *ud)
{
    (void)ud;
    return p->rc == 0 &&
           (p->m.op == EN_DOP_EXIT2 || p->m.op == EN_DOP_PAYLOAD_EXIT2);
}

static int is_monitor_down(const fp_pkt_t *p, void *ud)
{
    (void)ud;
    return p->rc == 0 && (p->m.op == EN_DOP_MONITOR_P_EXIT ||
                          p->m.op == EN_DOP_PAYLOAD_MONITOR_P_EXIT);
}

/* The exit signal the peer's pid `to` got, its reason as text. */
static const char *expect_exit2(const erlang_pid *to)
{
    const fp_pkt_t *p = fp_expect(rt_fp, is_exit2, NULL, T_MS);
    cr_assert(p, "no exit signal: %s\nnode log:\n%s", fp_error(rt_fp),
              rt_log());
    cr_assert(fp_pid_eq(&p->m.to_pid, to), "exit signal to %s",
              fp_pid_text(&p->m.to_pid));
    return fp_text(p->m.reason, p->m.reason_len);
}

/* A fun term: global:F/3 exported, or (f NULL) the local fun number
 * index of module global with no free variables, as an Erlang node
 * sends `fun random_exit_name/3` (index 0). */
static const ei_x_buff *method(const char *f, long index)
{
    ei_x_buff *x = rt_term_slot();
    erlang_fun fun;
    memset(&fun, 0, sizeof fun);
    fun.arity = 3;
    strcpy(fun.module, "global");
    if (f) {
        fun.type = EI_FUN_EXPORT;
        fun.u.exprt.func = (char *)f;
    } else {
        fun.type = EI_FUN_CLOSURE;
        fun.u.closure.index = index;
        fun.u.closure.uniq = 112854349;
        fun.u.closure.pid = rt_peer_pid(9);
    }
    rt_term_check(ei_x_encode_fun(x, &fun));
    return x;
}

/* rpc:call(Node, global, resolve_it, [Method, clash, Pid, Pid2]) as erpc
 * sends it; the call's result (the reason of its monitor's DOWN). */
static const char *resolve_it(const ei_x_buff *m, const erlang_pid *pid,
                              const erlang_pid *pid2)
{
    erlang_pid caller = rt_peer_pid(1), gl = rt_peer_pid(2);
    erlang_ref req, res;
    ei_x_buff *args = rt_term_slot();

    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    ei_x_encode_list_header(args, 4);
    ei_x_encode_ref(args, &res);
    ei_x_encode_atom(args, "global");
    ei_x_encode_atom(args, "resolve_it");
    ei_x_encode_list_header(args, 4);
    ei_x_append_buf(args, m->buff + 1, m->index - 1);
    ei_x_encode_atom(args, "clash");
    ei_x_encode_pid(args, pid);
    ei_x_encode_pid(args, pid2);
    ei_x_encode_empty_list(args);
    ei_x_encode_empty_list(args);
    cr_assert_eq(fp_spawn_request(rt_fp, &req, &caller, &gl, "erpc",
                                  "execute_call", 4, rt_term("[monitor]"),
                                  args),
                 0, "%s", fp_error(rt_fp));
    const fp_pkt_t *r = fp_expect(rt_fp, is_monitor_down, NULL, T_MS);
    cr_assert(r, "no result: %s\nnode log:\n%s", fp_error(rt_fp), rt_log());
    const char *text = fp_text(r->m.reason, r->m.reason_len);
    /* {ResRef, return, Value}: the value alone */
    const char *ref = fp_ref_text(&res);
    cr_assert(strncmp(text + 1, ref, strlen(ref)) == 0, "%s", text);
    return text + 1 + strlen(ref) + 2;
}

Test(global_calls, resolve_it_over_rpc_kills_the_greater_nodes_process)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid theirs = rt_peer_pid(7);
    char mine[64]; /* fp_pid_text's buffers are reused */
    snprintf(mine, sizeof mine, "%s", fp_pid_text(enode_mbox_pid(mb)));

    /* "node@..." < "peer@...": ours stays, theirs gets kill. */
    cr_assert_str_eq(
        resolve_it(method("random_exit_name", 0), &theirs, enode_mbox_pid(mb)),
        rt_fmt("return, %s}", mine));
    cr_assert_str_eq(expect_exit2(&theirs), "kill");
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
    /* register_name/2's default from an Erlang node: the local fun. */
    cr_assert_str_eq(resolve_it(method(NULL, 0), &theirs, enode_mbox_pid(mb)),
                     rt_fmt("return, %s}", mine));
    cr_assert_str_eq(expect_exit2(&theirs), "kill");
    cr_assert(strstr(rt_log(), "asked to resolve a name conflict"));
}

Test(global_calls, resolve_it_over_rpc_notifies)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid theirs = rt_peer_pid(7);
    char mine[64]; /* fp_pid_text's buffers are reused */
    snprintf(mine, sizeof mine, "%s", fp_pid_text(enode_mbox_pid(mb)));

    cr_assert_str_eq(resolve_it(method("random_notify_name", 0), &theirs,
                                enode_mbox_pid(mb)),
                     rt_fmt("return, %s}", mine));
    const fp_pkt_t *p = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &theirs, T_MS);
    cr_assert(p, "no notice: %s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(p->m.msg, p->m.msg_len),
                     "{global_name_conflict, clash}");

    cr_assert_str_eq(resolve_it(method("notify_all_name", 0), &theirs,
                                enode_mbox_pid(mb)),
                     "return, none}");
    p = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &theirs, T_MS);
    cr_assert(p, "no notice: %s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(p->m.msg, p->m.msg_len),
                     rt_fmt("{global_name_conflict, clash, %s}", mine));
    cr_assert_str_eq(
        rt_next(mb, T_MS),
        rt_fmt("{global_name_conflict, clash, %s}", fp_pid_text(&theirs)));
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
}

Test(global_calls, resolve_it_with_a_method_we_cannot_run_fails)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid theirs = rt_peer_pid(7);

    const char *r = resolve_it(method(NULL, 6), &theirs, enode_mbox_pid(mb));
    cr_assert(strncmp(r, "error, {badfun, ", 16) == 0, "%s", r);
    r = resolve_it(method("no_such_method", 0), &theirs, enode_mbox_pid(mb));
    cr_assert(strncmp(r, "error, {badfun, ", 16) == 0, "%s", r);
    /* Nor are bad arguments a crash. */
    erlang_pid caller = rt_peer_pid(1), gl = rt_peer_pid(2);
    erlang_ref req, res;
    fp_ref(rt_fp, &req);
    fp_ref(rt_fp, &res);
    ei_x_buff *args = rt_term_slot();
    ei_x_encode_list_header(args, 4);
    ei_x_encode_ref(args, &res);
    ei_x_encode_atom(args, "global");
    ei_x_encode_atom(args, "resolve_it");
    ei_x_append_buf(args, "\x6a", 1); /* [] */
    ei_x_encode_empty_list(args);
    cr_assert_eq(fp_spawn_request(rt_fp, &req, &caller, &gl, "erpc",
                                  "execute_call", 4, rt_term("[monitor]"),
                                  args),
                 0);
    const fp_pkt_t *d = fp_expect(rt_fp, is_monitor_down, NULL, T_MS);
    cr_assert(d);
    cr_assert(strstr(fp_text(d->m.reason, d->m.reason_len), "error, badarg"),
              "%s", fp_text(d->m.reason, d->m.reason_len));
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}

TestSuite(global_small_peer, .fini = rt_teardown, .timeout = 20);

Test(global_small_peer, resolve_it_kills_our_mailbox_when_it_is_the_greater)
{
    fp_config_t c = {.name = "a@localhost"}; /* "a@..." < "node@..." */
    rt_setup_with(NULL, &c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid theirs = rt_peer_pid(7);

    cr_assert_str_eq(
        resolve_it(method("random_exit_name", 0), &theirs, enode_mbox_pid(mb)),
        rt_fmt("return, %s}", fp_pid_text(&theirs)));
    cr_assert_str_eq(rt_exit_reason(mb), "killed");
    sync_peer();
    cr_assert_eq(fp_count(rt_fp, is_exit2, NULL), 0);
}

/* Our mailbox and the peer's process both have the name when the
 * partitions meet; we are the smaller node name, so we resolve, running
 * the mailbox's method here: the peer's process is killed and resolved
 * tells the peer to take ours. */
Test(global, a_clash_in_a_session_is_resolved_here)
{
    gsess_t s;
    erlang_pid holder = rt_peer_pid(7);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    char mine[64]; /* fp_pid_text's buffers are reused */
    snprintf(mine, sizeof mine, "%s", fp_pid_text(enode_mbox_pid(mb)));

    /* Nobody is known yet: the name is ours alone, at once. */
    cr_assert_eq(enode_global_register(mb, "clash"), 0, "%s",
                 enode_last_error(rt_node));
    expect_init_connect(&s);
    init_connect(&s);
    lock(&s, rt_fmt("[{clash, %s, " METHOD "}]", mine));
    cast(&s, rt_term("{exchange, 'peer@localhost', "
                     "[{clash, ~p, {global, random_exit_name, 3}}], [], ~l}",
                     &holder, (long)s.node_tag));
    cr_assert_str_eq(expect_exit2(&holder), "kill");
    cr_assert_str_eq(
        expect_gns(NULL),
        rt_fmt("{'$gen_cast', {resolved, node@localhost, [{insert, {clash, "
               "%s, " METHOD "}}], [], unused, [], %lld}}",
               mine, s.peer_tag));
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
}
