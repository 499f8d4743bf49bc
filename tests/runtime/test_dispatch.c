/* test_dispatch.c - what the node does with each packet a peer sends, and
 * the framing of what it sends back, driven by a fake peer.
 *
 * Messages go to a mailbox by pid (SEND, SEND_SENDER and their _TT
 * forms), by registered name (REG_SEND) or by alias; a message for a pid
 * or a name that is not there is dropped, and the connection stays. A
 * message may come in fragments, and fragments of several messages may
 * interleave. Only a packet that breaks the protocol (a malformed term, a
 * fragment out of place, a message over max_message_size) costs the peer
 * its connection, and enode_last_error() says why. Toward a peer with
 * FRAGMENTS the node writes 131 68 headers and cuts messages over 64 KiB
 * into fragments; toward one without, it writes the pass-through form.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fragment.h"
#include "rt.h"

TestSuite(dispatch, .init = rt_setup, .fini = rt_teardown, .timeout = 20);

static void sync_peer(void)
{
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

/* A binary of n bytes, each byte its index mod 251, as a term. */
static const ei_x_buff *big_binary(size_t n)
{
    static char bytes[1 << 20];
    ei_x_buff *x = rt_term_slot();

    cr_assert(n <= sizeof bytes);
    for (size_t i = 0; i < n; i++)
        bytes[i] = (char)(i % 251);
    ei_x_encode_binary(x, bytes, (long)n);
    return x;
}

/* The mailbox's next message is exactly the term x. */
static void assert_next_is(enode_mbox_t *mb, const ei_x_buff *x)
{
    enode_msg_t m;
    cr_assert_eq(enode_receive(mb, &m, T_MS), 0, "no message");
    cr_assert_eq(m.msg.index, x->index, "%d bytes, want %d", m.msg.index,
                 x->index);
    cr_assert(memcmp(m.msg.buff, x->buff, (size_t)x->index) == 0,
              "the message differs from what was sent");
    enode_msg_free(&m);
}

/* The connection is up, and serves: a round trip still works. */
static void assert_still_connected(void)
{
    sync_peer();
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}

/* ---- to pids, names and aliases ------------------------------------------ */

Test(dispatch, send_reaches_the_pid_without_a_sender)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    rt_msg_t m;

    cr_assert_eq(fp_send(rt_fp, enode_mbox_pid(mb), rt_term("{hello, 1}")), 0);
    cr_assert_eq(rt_recv(mb, T_MS, &m), 0);
    cr_assert_str_eq(m.text, "{hello, 1}");
    cr_assert_eq(m.has_from, 0);
    cr_assert_str_eq(m.to_name, "");
}

Test(dispatch, send_sender_names_the_sender)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    rt_msg_t m;

    cr_assert_eq(
        fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), rt_term("[1, 2, 3]")), 0);
    cr_assert_eq(rt_recv(mb, T_MS, &m), 0);
    cr_assert_str_eq(m.text, "[1, 2, 3]");
    cr_assert(m.has_from && fp_pid_eq(&m.from, &p));
}

Test(dispatch, send_with_a_trace_token_is_delivered)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    ei_x_buff *ctrl = rt_term_slot();

    /* {SEND_TT, '', To, Token}: the token is a seq_trace 5-tuple. */
    ei_x_encode_tuple_header(ctrl, 4);
    ei_x_encode_long(ctrl, EN_DOP_SEND_TT);
    ei_x_encode_atom(ctrl, "");
    ei_x_encode_pid(ctrl, enode_mbox_pid(mb));
    ei_x_format_wo_ver(ctrl, "{0, 1, 2, ~p, 3}", enode_mbox_pid(mb));
    cr_assert_eq(fp_send_ctrl(rt_fp, ctrl, rt_term("traced")), 0);
    cr_assert_str_eq(rt_next(mb, T_MS), "traced");
}

Test(dispatch, reg_send_reaches_the_registered_mailbox)
{
    enode_mbox_t *mb = rt_mbox("echo", 0);
    erlang_pid p = rt_peer_pid(1);
    rt_msg_t m;

    cr_assert_eq(fp_reg_send(rt_fp, &p, "echo", rt_term("{ping, 7}")), 0);
    cr_assert_eq(rt_recv(mb, T_MS, &m), 0);
    cr_assert_str_eq(m.text, "{ping, 7}");
    cr_assert_str_eq(m.to_name, "echo");
    cr_assert(m.has_from && fp_pid_eq(&m.from, &p));
}

Test(dispatch, reg_send_to_an_unregistered_name_is_dropped)
{
    enode_mbox_t *mb = rt_mbox("echo", 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_reg_send(rt_fp, &p, "nobody", rt_term("lost")), 0);
    assert_still_connected();
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    cr_assert(strstr(rt_log(), "'nobody', which is not registered"), "log:\n%s",
              rt_log());
}

Test(dispatch, a_send_to_a_pid_that_is_gone_is_dropped)
{
    enode_mbox_t *gone = rt_mbox(NULL, 0), *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1), gone_pid = *enode_mbox_pid(gone);

    enode_mbox_free(gone);
    cr_assert_eq(fp_send_sender(rt_fp, &p, &gone_pid, rt_term("lost")), 0);
    assert_still_connected();
    cr_assert_eq(fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), rt_term("kept")),
                 0);
    cr_assert_str_eq(rt_next(mb, T_MS), "kept");
}

Test(dispatch, messages_arrive_whole_and_in_order)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    for (int i = 0; i < 300; i++) {
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_format_wo_ver(&x, "{n, ~i}", i);
        int rc = fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), &x);
        ei_x_free(&x);
        cr_assert_eq(rc, 0, "%s", fp_error(rt_fp));
        if (i % 100 == 0)
            cr_assert_eq(fp_tick(rt_fp), 0); /* ticks are not messages */
        if (i % 100 == 99)
            for (int k = i - 99; k <= i; k++)
                cr_assert_str_eq(rt_next(mb, T_MS), rt_fmt("{n, %d}", k));
    }
}

/* {'$gen_call', {Pid, [alias | Ref]}, {is_auth, Name}}, the call OTP 24+
 * makes of a ping, to net_kernel. */
static void is_auth_by_alias(const erlang_pid *p, const erlang_ref *ref)
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

/* OTP 24+ tags calls [alias | Ref]; gen:reply/2 answers to the alias
 * (ALIAS_SEND), with the tag carried back whole. */
Test(dispatch, net_kernel_answers_is_auth_to_the_callers_alias)
{
    erlang_pid p = rt_peer_pid(1);
    erlang_ref ref;

    fp_ref(rt_fp, &ref);
    is_auth_by_alias(&p, &ref);
    const fp_pkt_t *r = fp_expect_op(rt_fp, EN_DOP_ALIAS_SEND, T_MS);
    cr_assert(r, "no answer: %s", fp_error(rt_fp));
    cr_assert(fp_ref_eq(&r->m.ref, &ref));
    cr_assert_str_eq(fp_text(r->m.msg, r->m.msg_len),
                     rt_fmt("{[alias | %s], yes}", fp_ref_text(&ref)));
}

/* ---- fragments from the peer --------------------------------------------- */

Test(dispatch, fragments_from_the_peer_are_reassembled)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    const ei_x_buff *small = big_binary(100 * 1000);

    fp_set_fragment_size(rt_fp, 1000); /* 101 fragments */
    cr_assert_eq(fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), small), 0);
    assert_next_is(mb, small);

    const ei_x_buff *large = big_binary(600 * 1000);
    fp_set_fragment_size(rt_fp, EN_FRAG_SIZE); /* as OTP cuts */
    cr_assert_eq(fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), large), 0);
    assert_next_is(mb, large);
}

Test(dispatch, interleaved_fragment_sequences_are_kept_apart)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p1 = rt_peer_pid(1), p2 = rt_peer_pid(2);
    const ei_x_buff *m1 = big_binary(5000), *m2 = big_binary(700);
    en_buf_t w1 = EN_BUF_INIT, w2 = EN_BUF_INIT, f1 = EN_BUF_INIT,
             f2 = EN_BUF_INIT, mixed = EN_BUF_INIT;

    cr_assert_eq(fp_wire(rt_fp), EN_WIRE_DISTHDR);
    cr_assert_eq(en_ctrl_send(&w1, EN_WIRE_DISTHDR, 1, &p1, enode_mbox_pid(mb),
                              m1->buff, (size_t)m1->index),
                 0);
    cr_assert_eq(en_ctrl_send(&w2, EN_WIRE_DISTHDR, 1, &p2, enode_mbox_pid(mb),
                              m2->buff, (size_t)m2->index),
                 0);
    cr_assert_eq(en_frag_split(&f1, w1.data, w1.len, 11, 1000), 0);
    cr_assert_eq(en_frag_split(&f2, w2.data, w2.len, 12, 100), 0);
    /* All of m2's fragments between m1's first and second. */
    size_t first = 4 + en_get32(f1.data);
    cr_assert_eq(en_buf_append(&mixed, f1.data, first), 0);
    cr_assert_eq(en_buf_append(&mixed, f2.data, f2.len), 0);
    cr_assert_eq(en_buf_append(&mixed, f1.data + first, f1.len - first), 0);
    cr_assert_eq(fp_send_bytes(rt_fp, mixed.data, mixed.len), 0);

    /* m2 was complete first. */
    assert_next_is(mb, m2);
    assert_next_is(mb, m1);
    en_buf_free(&w1);
    en_buf_free(&w2);
    en_buf_free(&f1);
    en_buf_free(&f2);
    en_buf_free(&mixed);
}

/* ---- how the node writes ------------------------------------------------- */

Test(dispatch, toward_a_fragments_peer_the_node_writes_headers_and_fragments)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    const ei_x_buff *large = big_binary(200 * 1000);

    cr_assert_eq(enode_send(mb, &p, rt_term("small")), 0);
    const fp_pkt_t *s = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &p, T_MS);
    cr_assert(s, "%s", fp_error(rt_fp));
    cr_assert(!s->passthrough && s->data[0] == 131 && s->data[1] == 68);
    cr_assert_eq(s->fragments, 0);

    cr_assert_eq(enode_send(mb, &p, large), 0);
    const fp_pkt_t *l = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &p, T_MS);
    cr_assert(l, "%s", fp_error(rt_fp));
    cr_assert_eq(l->fragments, 4, "in %d fragments", l->fragments);
    cr_assert_eq(l->m.msg_len, (size_t)large->index - 1);
    cr_assert(memcmp(l->m.msg, large->buff + 1, l->m.msg_len) == 0);
}

TestSuite(dispatch_old_peer, .fini = rt_teardown, .timeout = 20);

Test(dispatch_old_peer, toward_a_peer_without_fragments_the_node_passes_through)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_FRAGMENTS};
    rt_setup_with(NULL, &c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    const ei_x_buff *large = big_binary(200 * 1000);

    cr_assert_eq(fp_wire(rt_fp), EN_WIRE_PASSTHROUGH);
    cr_assert_eq(enode_send(mb, &p, large), 0);
    const fp_pkt_t *l = fp_expect_to(rt_fp, EN_DOP_SEND_SENDER, &p, T_MS);
    cr_assert(l, "%s", fp_error(rt_fp));
    cr_assert(l->passthrough);
    cr_assert_eq(l->fragments, 0);
    cr_assert_eq(l->m.msg_len, (size_t)large->index - 1);
    /* And it reads the pass-through form. */
    cr_assert_eq(fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), rt_term("back")),
                 0);
    cr_assert_str_eq(rt_next(mb, T_MS), "back");
}

Test(dispatch_old_peer, toward_a_peer_without_send_sender_the_node_sends)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_SEND_SENDER};
    rt_setup_with(NULL, &c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(enode_send(mb, &p, rt_term("plain")), 0);
    const fp_pkt_t *s = fp_expect_to(rt_fp, EN_DOP_SEND, &p, T_MS);
    cr_assert(s, "%s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(s->m.msg, s->m.msg_len), "plain");
}

/* ---- what costs the connection ------------------------------------------- */

Test(dispatch, a_malformed_packet_drops_the_connection_and_says_why)
{
    enode_mbox_t *mb = rt_mbox(NULL, 1);
    erlang_pid p = rt_peer_pid(1);
    /* A header and a 3-tuple holding one small integer: truncated. */
    static const uint8_t bad[] = {131, 68, 0, 104, 3, 97, 2};

    cr_assert_eq(fp_link(rt_fp, &p, enode_mbox_pid(mb)), 0);
    sync_peer();
    cr_assert_eq(fp_send_packet(rt_fp, bad, sizeof bad), 0);
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, T_MS),
                     rt_fmt("{'EXIT', %s, noconnection}", fp_pid_text(&p)));
    cr_assert(strstr(enode_last_error(rt_node),
                     "peer@localhost: malformed packet from the peer"),
              "last error: %s", enode_last_error(rt_node));
}

Test(dispatch, an_unknown_control_op_is_dropped_and_the_connection_stays)
{
    ei_x_buff *ctrl = rt_term_slot();

    ei_x_format_wo_ver(ctrl, "{99, future, 1}");
    cr_assert_eq(fp_send_ctrl(rt_fp, ctrl, NULL), 0);
    assert_still_connected();
    cr_assert(strstr(rt_log(), "unknown control message op 99"), "log:\n%s",
              rt_log());
}

Test(dispatch, a_fragment_of_no_message_drops_the_connection)
{
    /* 131 70 SeqId FragId with no first fragment before it. */
    uint8_t cont[EN_FRAG_CONT_HDR_LEN + 4] = {131, 70};
    cont[9] = 5;  /* SeqId 5 */
    cont[17] = 1; /* FragId 1 */
    cr_assert_eq(fp_send_packet(rt_fp, cont, sizeof cont), 0);
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert(strstr(enode_last_error(rt_node), "peer@localhost: "),
              "last error: %s", enode_last_error(rt_node));
}

/* Once FRAGMENTS is agreed OTP reads only the 131 68 header form and
 * drops a peer that sends a pass-through (112) packet ("Got message from
 * incompatible erlang"); so does the node, saying why. */
Test(dispatch, a_pass_through_packet_after_fragments_drops_the_connection)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_wire(rt_fp), EN_WIRE_DISTHDR);
    fp_force_wire(rt_fp, EN_WIRE_PASSTHROUGH);
    cr_assert_eq(
        fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), rt_term("old_form")), 0);
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    cr_assert(strstr(enode_last_error(rt_node), "pass-through form") &&
                  strstr(enode_last_error(rt_node), "FRAGMENTS"),
              "last error: %s", enode_last_error(rt_node));
}

/* The other way round: without FRAGMENTS (nor the atom cache) OTP reads
 * only the pass-through form, and a header packet costs the connection. */
Test(dispatch_old_peer, a_header_packet_without_fragments_drops_the_connection)
{
    fp_config_t c = {.flags = FP_FLAGS_DEFAULT & ~EN_DFLAG_FRAGMENTS};
    rt_setup_with(NULL, &c);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    cr_assert_eq(fp_wire(rt_fp), EN_WIRE_PASSTHROUGH);
    fp_force_wire(rt_fp, EN_WIRE_DISTHDR);
    cr_assert_eq(
        fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), rt_term("new_form")), 0);
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    cr_assert(strstr(enode_last_error(rt_node), "pass-through form (112)"),
              "last error: %s", enode_last_error(rt_node));
}

TestSuite(dispatch_limits, .fini = rt_teardown, .timeout = 20);

Test(dispatch_limits, a_message_over_max_message_size_drops_the_connection)
{
    rt_node_opts_t o = {.max_message = 4096};
    rt_setup_with(&o, NULL);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    const ei_x_buff *under = big_binary(2000);
    cr_assert_eq(fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), under), 0);
    assert_next_is(mb, under);
    cr_assert_eq(
        fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), big_binary(10000)), 0);
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert(strstr(enode_last_error(rt_node), "max_message_size"),
              "last error: %s", enode_last_error(rt_node));
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
}

/* ---- atoms OTP refuses ----------------------------------------------------
 * OTP makes no atom over 255 characters and no UTF-8 atom that is not
 * valid UTF-8; a peer that sends one in a message loses the connection,
 * and the node says which. */

/* Send mb, from the peer's process p, a message that is one
 * ATOM_UTF8_EXT holding the n bytes at text. The peer's encoder refuses
 * such atoms, so it encodes a binary of the same size in their place
 * (BINARY_EXT has two length bytes more than ATOM_UTF8_EXT, hence n - 2
 * bytes), and the atom is written over it in the packet. */
static void send_atom(enode_mbox_t *mb, const erlang_pid *p, const char *text,
                      size_t n)
{
    ei_x_buff *ctrl = rt_term_slot(), *msg = rt_term_slot();
    char *filler = malloc(n - 2);
    en_buf_t packet = EN_BUF_INIT;

    cr_assert(filler);
    memset(filler, 0x5A, n - 2);
    rt_term_check(ei_x_encode_tuple_header(ctrl, 3));
    rt_term_check(ei_x_encode_long(ctrl, EN_DOP_SEND_SENDER));
    rt_term_check(ei_x_encode_pid(ctrl, p));
    rt_term_check(ei_x_encode_pid(ctrl, enode_mbox_pid(mb)));
    rt_term_check(ei_x_encode_binary(msg, filler, (long)(n - 2)));
    free(filler);
    cr_assert_eq(fp_encode_ctrl(rt_fp, &packet, ctrl, msg), 0, "%s",
                 fp_error(rt_fp));
    /* the binary is the packet's last 5 + n - 2 bytes */
    uint8_t *at = packet.data + packet.len - (n + 3);
    cr_assert_eq(at[0], ERL_BINARY_EXT);
    at[0] = ERL_ATOM_UTF8_EXT;
    at[1] = (uint8_t)(n >> 8);
    at[2] = (uint8_t)(n & 0xff);
    memcpy(at + 3, text, n);
    cr_assert_eq(fp_send_bytes(rt_fp, packet.data, packet.len), 0, "%s",
                 fp_error(rt_fp));
    en_buf_free(&packet);
}

static void expect_refused(const char *text, size_t n, const char *why)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);

    send_atom(mb, &p, text, n);
    cr_assert_eq(fp_wait_closed(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_str_eq(rt_next(mb, 0), "(timeout)");
    cr_assert(strstr(rt_log(), why), "%s", rt_log());
}

Test(dispatch, an_atom_of_256_characters_drops_the_connection)
{
    char text[256 * 2];
    for (size_t k = 0; k < 256; k++) /* U+00E4, two bytes each */
        text[2 * k] = (char)0xC3, text[2 * k + 1] = (char)0xA4;
    expect_refused(text, sizeof text, "an atom is over 255 characters long");
}

Test(dispatch, an_atom_of_255_characters_arrives)
{
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    char text[255 * 2];
    for (size_t k = 0; k < 255; k++)
        text[2 * k] = (char)0xC3, text[2 * k + 1] = (char)0xA4;

    send_atom(mb, &p, text, sizeof text);
    enode_msg_t m;
    cr_assert_eq(enode_receive(mb, &m, T_MS), 0);
    enode_msg_free(&m);
    cr_assert_eq(enode_is_connected(rt_node, FP_DEFAULT_NAME), 1);
}

Test(dispatch, an_atom_that_is_not_utf8_drops_the_connection)
{
    static const char overlong[] = {'a', (char)0xC0, (char)0xAF}; /* "/" */
    expect_refused(overlong, sizeof overlong, "an atom is not valid UTF-8");
}
