/* test_ctrl_sig.c - which form a signal takes for a peer's flags
 * (en_ctrl_encode), packets queued before the flags are known encoded
 * again (en_ctrl_reencode), and OTP 28's ALTACT_SIG_SEND against bytes
 * from a real OTP 29 node.
 *
 * The otp29_* packets came from tests/tools/capture_altact.py run against
 * OTP 29 (erts 17): a node b@vm sent them, in the header form, to a pid
 * P = <py@vm.1.0> and an alias R = #Ref<py@vm.1.2.3> (creation
 * 0x5EED0003) of a peer that advertised ALTACT_SIG; the sender is
 * <b@vm.10.0>. They are exactly what came off the socket after the
 * 4-byte length.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "base/buf.h"
#include "proto/ctrl.h"
#include "proto/fragment.h"
#include "proto/framing.h"

/* erlang:send(R, to_alias): {37, 4, <b.10.0>, R} + to_alias */
static const uint8_t otp29_to_alias[] = {
    0x83, 0x44, 0x00, 0x68, 0x04, 0x61, 0x25, 0x61, 0x04, 0x58, 0x77, 0x04,
    0x62, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x10, 0x14, 0x22, 0x5a, 0x00, 0x03, 0x77, 0x05, 0x70, 0x79, 0x40,
    0x76, 0x6d, 0x5e, 0xed, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x77, 0x08, 0x74, 0x6f, 0x5f, 0x61,
    0x6c, 0x69, 0x61, 0x73,
};

/* erlang:send(R, prio_alias, [priority]): {37, 5, <b.10.0>, R} + prio_alias */
static const uint8_t otp29_prio_alias[] = {
    0x83, 0x44, 0x00, 0x68, 0x04, 0x61, 0x25, 0x61, 0x05, 0x58, 0x77, 0x04,
    0x62, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x10, 0x14, 0x22, 0x5a, 0x00, 0x03, 0x77, 0x05, 0x70, 0x79, 0x40,
    0x76, 0x6d, 0x5e, 0xed, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x77, 0x0a, 0x70, 0x72, 0x69, 0x6f,
    0x5f, 0x61, 0x6c, 0x69, 0x61, 0x73,
};

/* erlang:send(P, prio_pid, [priority]): {37, 1, <b.10.0>, P} + prio_pid */
static const uint8_t otp29_prio_pid[] = {
    0x83, 0x44, 0x00, 0x68, 0x04, 0x61, 0x25, 0x61, 0x01, 0x58, 0x77, 0x04,
    0x62, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x10, 0x14, 0x22, 0x58, 0x77, 0x05, 0x70, 0x79, 0x40, 0x76, 0x6d,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x5e, 0xed, 0x00, 0x03,
    0x77, 0x08, 0x70, 0x72, 0x69, 0x6f, 0x5f, 0x70, 0x69, 0x64,
};

/* erlang:send({py, Node}, prio_name, [priority]): {37, 9, <b.10.0>, py} + prio_name */
static const uint8_t otp29_prio_name[] = {
    0x83, 0x44, 0x00, 0x68, 0x04, 0x61, 0x25, 0x61, 0x09, 0x58, 0x77, 0x04,
    0x62, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x10, 0x14, 0x22, 0x77, 0x02, 0x70, 0x79, 0x77, 0x09, 0x70, 0x72,
    0x69, 0x6f, 0x5f, 0x6e, 0x61, 0x6d, 0x65,
};

/* exit(R, exit_alias): {37, 16#14, <b.10.0>, R} + exit_alias */
static const uint8_t otp29_exit_alias[] = {
    0x83, 0x44, 0x00, 0x68, 0x04, 0x61, 0x25, 0x61, 0x14, 0x58, 0x77, 0x04,
    0x62, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x10, 0x14, 0x22, 0x5a, 0x00, 0x03, 0x77, 0x05, 0x70, 0x79, 0x40,
    0x76, 0x6d, 0x5e, 0xed, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x77, 0x0a, 0x65, 0x78, 0x69, 0x74,
    0x5f, 0x61, 0x6c, 0x69, 0x61, 0x73,
};

/* exit(P, exit_prio, [priority]): {37, 16#11, <b.10.0>, P} + exit_prio */
static const uint8_t otp29_exit_prio[] = {
    0x83, 0x44, 0x00, 0x68, 0x04, 0x61, 0x25, 0x61, 0x11, 0x58, 0x77, 0x04,
    0x62, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x10, 0x14, 0x22, 0x58, 0x77, 0x05, 0x70, 0x79, 0x40, 0x76, 0x6d,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x5e, 0xed, 0x00, 0x03,
    0x77, 0x09, 0x65, 0x78, 0x69, 0x74, 0x5f, 0x70, 0x72, 0x69, 0x6f,
};

/* erlang:send(R, traced) under seq_trace: {37, 6, <b.10.0>, R, Token} + traced */
static const uint8_t otp29_traced[] = {
    0x83, 0x44, 0x00, 0x68, 0x05, 0x61, 0x25, 0x61, 0x06, 0x58, 0x77, 0x04,
    0x62, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x10, 0x14, 0x22, 0x5a, 0x00, 0x03, 0x77, 0x05, 0x70, 0x79, 0x40,
    0x76, 0x6d, 0x5e, 0xed, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x68, 0x05, 0x61, 0x00, 0x61, 0x07,
    0x61, 0x01, 0x58, 0x77, 0x04, 0x62, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00,
    0x0a, 0x00, 0x00, 0x00, 0x00, 0x6b, 0x10, 0x14, 0x22, 0x61, 0x00, 0x77,
    0x06, 0x74, 0x72, 0x61, 0x63, 0x65, 0x64,
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* A decode from an exact-size heap copy, so that ASan sees any read past
 * the end; m's pointers point into d->copy. */
struct decoded {
    uint8_t *copy;
    en_dmsg_t m;
    int rc;
    char err[256];
};

static struct decoded *decode(const uint8_t *data, size_t len)
{
    struct decoded *d = calloc(1, sizeof *d);
    cr_assert_not_null(d);
    d->copy = malloc(len);
    cr_assert_not_null(d->copy);
    memcpy(d->copy, data, len);
    d->rc = en_ctrl_decode(d->copy, len, &d->m, d->err, sizeof d->err);
    return d;
}

static void decoded_free(struct decoded *d)
{
    free(d->copy);
    free(d);
}

/* The one packet in out (Len:32 included), decoded. */
static struct decoded *decode_out(const en_buf_t *out)
{
    cr_assert_geq(out->len, 4);
    cr_assert_eq(en_get32(out->data), out->len - 4, "one packet, whole");
    return decode(out->data + 4, out->len - 4);
}

static erlang_pid pid_of(const char *node, unsigned num)
{
    erlang_pid p;
    memset(&p, 0, sizeof p);
    strcpy(p.node, node);
    p.num = num;
    p.creation = 0x11223344;
    return p;
}

static erlang_ref ref_of(const char *node)
{
    erlang_ref r;
    memset(&r, 0, sizeof r);
    strcpy(r.node, node);
    r.len = 3;
    r.n[0] = 7, r.n[1] = 8, r.n[2] = 9;
    r.creation = 0x11223344;
    return r;
}

/* A term in an ei buffer (bare). */
static ei_x_buff atom_term(const char *name)
{
    ei_x_buff x;
    ei_x_new(&x);
    ei_x_encode_atom(&x, name);
    return x;
}

/* A binary term of n bytes. */
static ei_x_buff big_term(size_t n)
{
    ei_x_buff x;
    char *bytes = calloc(1, n);
    cr_assert_not_null(bytes);
    ei_x_new(&x);
    ei_x_encode_binary(&x, bytes, (long)n);
    free(bytes);
    return x;
}

#define OTP_FLAGS                                                              \
    (EN_DFLAGS_MANDATORY_26 | EN_DFLAG_FRAGMENTS | EN_DFLAG_SEND_SENDER |      \
     EN_DFLAG_EXIT_PAYLOAD | EN_DFLAG_DIST_MONITOR |                           \
     EN_DFLAG_DIST_MONITOR_NAME | EN_DFLAG_ALIAS | EN_DFLAG_SPAWN)

/* The op en_ctrl_encode writes for sig with flags, or -1 for nothing. */
static int op_for(uint64_t flags, const en_sig_t *sig)
{
    en_buf_t out = EN_BUF_INIT;
    int wire = flags & EN_DFLAG_FRAGMENTS ? EN_WIRE_DISTHDR
                                          : EN_WIRE_PASSTHROUGH;
    int rc = en_ctrl_encode(&out, wire, flags, sig);
    if (rc == EN_CTRL_SKIP) {
        cr_assert_eq(out.len, 0, "EN_CTRL_SKIP leaves out alone");
        return -1;
    }
    cr_assert_eq(rc, 0, "op %d: %s", sig->op, en_ctrl_strerror(rc));
    struct decoded *d = decode_out(&out);
    cr_assert_eq(d->rc, 0, "%s", d->err);
    int op = d->m.op;
    decoded_free(d);
    en_buf_free(&out);
    return op;
}

/* ------------------------------------------------------------------ */
/* Forms by flags                                                       */
/* ------------------------------------------------------------------ */

Test(ctrl_forms, each_signal_takes_the_form_otp_picks)
{
    erlang_pid a = pid_of("a@h", 1), b = pid_of("b@h", 2);
    erlang_ref r = ref_of("b@h");
    ei_x_buff why = atom_term("why");
    const uint64_t old = EN_DFLAGS_MANDATORY_26 | EN_DFLAG_FRAGMENTS;
    const uint64_t altact = OTP_FLAGS | EN_DFLAG_ALTACT_SIG;
    en_sig_t send = {.op = EN_DOP_SEND, .from = &a, .to = &b,
                     .msg = why.buff, .msg_len = (size_t)why.index};
    en_sig_t anon = send;
    en_sig_t exit = {.op = EN_DOP_EXIT, .from = &a, .to = &b,
                     .msg = why.buff, .msg_len = (size_t)why.index};
    en_sig_t exit2 = exit;
    en_sig_t down = {.op = EN_DOP_MONITOR_P_EXIT, .from = &a, .to = &b,
                     .ref = &r, .msg = why.buff,
                     .msg_len = (size_t)why.index};
    en_sig_t mon = {.op = EN_DOP_MONITOR_P, .from = &a, .to_name = "srv",
                    .ref = &r};
    en_sig_t demon = mon;
    en_sig_t alias = {.op = EN_DOP_ALIAS_SEND, .from = &a, .ref = &r,
                      .msg = why.buff, .msg_len = (size_t)why.index};

    anon.from = NULL;
    exit2.op = EN_DOP_EXIT2;
    demon.op = EN_DOP_DEMONITOR_P;

    cr_assert_eq(op_for(OTP_FLAGS, &send), EN_DOP_SEND_SENDER);
    cr_assert_eq(op_for(OTP_FLAGS, &anon), EN_DOP_SEND);
    cr_assert_eq(op_for(old, &send), EN_DOP_SEND);

    cr_assert_eq(op_for(OTP_FLAGS, &exit), EN_DOP_PAYLOAD_EXIT);
    cr_assert_eq(op_for(OTP_FLAGS, &exit2), EN_DOP_PAYLOAD_EXIT2);
    cr_assert_eq(op_for(OTP_FLAGS, &down), EN_DOP_PAYLOAD_MONITOR_P_EXIT);
    cr_assert_eq(op_for(old | EN_DFLAG_DIST_MONITOR |
                            EN_DFLAG_DIST_MONITOR_NAME, &down),
                 EN_DOP_MONITOR_P_EXIT);
    cr_assert_eq(op_for(old, &exit), EN_DOP_EXIT);
    cr_assert_eq(op_for(old, &exit2), EN_DOP_EXIT2);

    cr_assert_eq(op_for(OTP_FLAGS, &mon), EN_DOP_MONITOR_P);
    cr_assert_eq(op_for(OTP_FLAGS, &demon), EN_DOP_DEMONITOR_P);
    /* Both monitor flags, or no monitor signal at all. */
    cr_assert_eq(op_for(OTP_FLAGS & ~EN_DFLAG_DIST_MONITOR_NAME, &mon), -1);
    cr_assert_eq(op_for(OTP_FLAGS & ~EN_DFLAG_DIST_MONITOR, &demon), -1);
    cr_assert_eq(op_for(old, &down), -1);

    cr_assert_eq(op_for(altact, &alias), EN_DOP_ALTACT_SIG_SEND);
    cr_assert_eq(op_for(OTP_FLAGS, &alias), EN_DOP_ALIAS_SEND);
    cr_assert_eq(op_for(old, &alias), -1);
    ei_x_free(&why);
}

Test(ctrl_forms, pending_flags_keep_everything_a_signal_carries)
{
    erlang_pid a = pid_of("a@h", 1), b = pid_of("b@h", 2);
    erlang_ref r = ref_of("b@h");
    ei_x_buff why = atom_term("why");
    en_sig_t send = {.op = EN_DOP_SEND, .from = &a, .to = &b,
                     .msg = why.buff, .msg_len = (size_t)why.index};
    en_sig_t mon = {.op = EN_DOP_MONITOR_P, .from = &a, .to = &b, .ref = &r};
    en_sig_t exit = {.op = EN_DOP_EXIT, .from = &a, .to = &b,
                     .msg = why.buff, .msg_len = (size_t)why.index};
    en_sig_t alias = {.op = EN_DOP_ALIAS_SEND, .from = &a, .ref = &r,
                      .msg = why.buff, .msg_len = (size_t)why.index};

    cr_assert_eq(op_for(EN_CTRL_FLAGS_PENDING, &send), EN_DOP_SEND_SENDER);
    cr_assert_eq(op_for(EN_CTRL_FLAGS_PENDING, &mon), EN_DOP_MONITOR_P);
    cr_assert_eq(op_for(EN_CTRL_FLAGS_PENDING, &exit), EN_DOP_PAYLOAD_EXIT);
    cr_assert_eq(op_for(EN_CTRL_FLAGS_PENDING, &alias), EN_DOP_ALIAS_SEND);
    ei_x_free(&why);
}

/* A control tuple over 64 KiB cannot go to a peer that cuts messages
 * into fragments: only the old forms with a large reason come near. */
Test(ctrl_forms, a_control_tuple_over_a_fragment_is_refused)
{
    erlang_pid a = pid_of("a@h", 1), b = pid_of("b@h", 2);
    ei_x_buff big = big_term(EN_FRAG_SIZE + 10);
    en_buf_t out = EN_BUF_INIT;
    en_sig_t exit = {.op = EN_DOP_EXIT, .from = &a, .to = &b,
                     .msg = big.buff, .msg_len = (size_t)big.index};
    const uint64_t no_payload = EN_DFLAGS_MANDATORY_26 | EN_DFLAG_FRAGMENTS;

    en_buf_append(&out, "keep", 4);
    cr_assert_eq(en_ctrl_encode(&out, EN_WIRE_DISTHDR, no_payload, &exit),
                 EN_CTRL_ECTRLSIZE);
    cr_assert_eq(out.len, 4, "out is as it was");
    cr_assert(strstr(en_ctrl_strerror(EN_CTRL_ECTRLSIZE), "64 KiB"));
    /* With EXIT_PAYLOAD the reason is the payload, fragmented freely. */
    cr_assert_eq(en_ctrl_encode(&out, EN_WIRE_DISTHDR, OTP_FLAGS, &exit), 0);
    /* Without FRAGMENTS nothing is cut: the packet goes whole. */
    cr_assert_eq(en_ctrl_encode(&out, EN_WIRE_PASSTHROUGH,
                                EN_DFLAGS_MANDATORY_26, &exit),
                 0);
    en_buf_free(&out);
    ei_x_free(&big);
}

/* ------------------------------------------------------------------ */
/* Re-encoding what was queued                                          */
/* ------------------------------------------------------------------ */

Test(ctrl_reencode, queued_signals_take_the_peers_forms)
{
    erlang_pid a = pid_of("a@h", 1), b = pid_of("b@h", 2);
    erlang_ref r = ref_of("b@h");
    ei_x_buff why = atom_term("why");
    en_buf_t queue = EN_BUF_INIT;
    const en_sig_t sigs[] = {
        {.op = EN_DOP_SEND, .from = &a, .to = &b, .msg = why.buff,
         .msg_len = (size_t)why.index},
        {.op = EN_DOP_EXIT2, .from = &a, .to = &b, .msg = why.buff,
         .msg_len = (size_t)why.index},
        {.op = EN_DOP_MONITOR_P, .from = &a, .to_name = "srv", .ref = &r},
        {.op = EN_DOP_MONITOR_P_EXIT, .from_name = "srv", .to = &b, .ref = &r,
         .msg = why.buff, .msg_len = (size_t)why.index},
        {.op = EN_DOP_UNLINK_ID, .from = &a, .to = &b, .id = 7},
        {.op = EN_DOP_SPAWN_REPLY, .ref = &r, .to = &b, .flags = 2,
         .msg = why.buff, .msg_len = (size_t)why.index},
    };
    size_t at[NELEMS(sigs) + 1];

    for (size_t i = 0; i < NELEMS(sigs); i++) {
        at[i] = queue.len;
        cr_assert_eq(en_ctrl_encode(&queue, EN_WIRE_PASSTHROUGH,
                                    EN_CTRL_FLAGS_PENDING, &sigs[i]),
                     0);
    }
    at[NELEMS(sigs)] = queue.len;

    static const struct {
        uint64_t flags;
        int ops[6];
    } peers[] = {
        {OTP_FLAGS,
         {EN_DOP_SEND_SENDER, EN_DOP_PAYLOAD_EXIT2, EN_DOP_MONITOR_P,
          EN_DOP_PAYLOAD_MONITOR_P_EXIT, EN_DOP_UNLINK_ID,
          EN_DOP_SPAWN_REPLY}},
        {EN_DFLAGS_MANDATORY_26,
         {EN_DOP_SEND, EN_DOP_EXIT2, -1, -1, EN_DOP_UNLINK_ID,
          EN_DOP_SPAWN_REPLY}},
    };
    for (size_t p = 0; p < NELEMS(peers); p++) {
        int wire = peers[p].flags & EN_DFLAG_FRAGMENTS ? EN_WIRE_DISTHDR
                                                       : EN_WIRE_PASSTHROUGH;
        for (size_t i = 0; i < NELEMS(sigs); i++) {
            en_buf_t out = EN_BUF_INIT;
            char err[256];
            int rc = en_ctrl_reencode(&out, wire, peers[p].flags,
                                      queue.data + at[i], at[i + 1] - at[i],
                                      err, sizeof err);
            if (peers[p].ops[i] < 0) {
                cr_assert_eq(rc, EN_CTRL_SKIP, "peer %zu, signal %zu", p, i);
                continue;
            }
            cr_assert_eq(rc, 0, "peer %zu, signal %zu: %s", p, i, err);
            struct decoded *d = decode_out(&out);
            cr_assert_eq(d->rc, 0, "%s", d->err);
            cr_assert_eq(d->m.op, peers[p].ops[i], "peer %zu, signal %zu", p,
                         i);
            cr_assert_eq(out.data[4] == 112, wire == EN_WIRE_PASSTHROUGH);
            decoded_free(d);
            en_buf_free(&out);
        }
    }
    en_buf_free(&queue);
    ei_x_free(&why);
}

Test(ctrl_reencode, what_it_cannot_read_is_refused)
{
    en_buf_t out = EN_BUF_INIT;
    char err[256];
    static const uint8_t short_len[] = {0, 0, 0, 9, 112, 131, 106};
    static const uint8_t group_leader[] = {
        0,   0,   0,   32,  112, 131, 104, 3,   97,  7,   88,  119, 3,  97,
        64,  104, 0,   0,   0,   1,   0,   0,   0,   0,   0,   0,   0,  0,
        106, 106, 106, 106};

    cr_assert_eq(en_ctrl_reencode(&out, EN_WIRE_DISTHDR, OTP_FLAGS, short_len,
                                  sizeof short_len, err, sizeof err),
                 EN_CTRL_EMALFORMED);
    cr_assert(strstr(err, "length"), "%s", err);
    cr_assert_eq(en_ctrl_reencode(&out, EN_WIRE_DISTHDR, OTP_FLAGS,
                                  group_leader, sizeof group_leader, err,
                                  sizeof err),
                 EN_CTRL_EMALFORMED);
    cr_assert_eq(out.len, 0);
}

/* ------------------------------------------------------------------ */
/* ALTACT_SIG_SEND from OTP 29                                          */
/* ------------------------------------------------------------------ */

static void check_sender(const en_dmsg_t *m)
{
    cr_assert(m->has_from);
    cr_assert_str_eq(m->from.node, "b@vm");
    cr_assert_eq(m->from.num, 10);
}

static void check_alias(const en_dmsg_t *m)
{
    cr_assert(m->has_ref && !m->has_to_pid && !m->has_to_name);
    cr_assert_str_eq(m->ref.node, "py@vm");
    cr_assert_eq(m->ref.creation, 0x5EED0003);
    cr_assert_eq(m->ref.len, 3);
    cr_assert_eq(m->ref.n[0], 1);
    cr_assert_eq(m->ref.n[2], 3);
}

static void check_atom(const char *term, size_t len, const char *want)
{
    char atom[MAXATOMLEN_UTF8];
    int i = 0;
    cr_assert_not_null(term);
    cr_assert_eq(ei_decode_atom(term, &i, atom), 0);
    cr_assert_eq((size_t)i, len);
    cr_assert_str_eq(atom, want);
}

Test(ctrl_altact, otp29_messages_to_an_alias_a_pid_and_a_name)
{
    struct decoded *d = decode(otp29_to_alias, sizeof otp29_to_alias);
    cr_assert_eq(d->rc, 0, "%s", d->err);
    cr_assert_eq(d->m.op, EN_DOP_ALTACT_SIG_SEND);
    cr_assert_eq(d->m.altact_flags, EN_ALTACT_ALIAS);
    check_sender(&d->m);
    check_alias(&d->m);
    check_atom(d->m.msg, d->m.msg_len, "to_alias");
    cr_assert_null(d->m.reason);
    decoded_free(d);

    d = decode(otp29_prio_alias, sizeof otp29_prio_alias);
    cr_assert_eq(d->rc, 0, "%s", d->err);
    cr_assert_eq(d->m.altact_flags, EN_ALTACT_ALIAS | EN_ALTACT_PRIO);
    check_alias(&d->m);
    check_atom(d->m.msg, d->m.msg_len, "prio_alias");
    decoded_free(d);

    d = decode(otp29_prio_pid, sizeof otp29_prio_pid);
    cr_assert_eq(d->rc, 0, "%s", d->err);
    cr_assert_eq(d->m.altact_flags, EN_ALTACT_PRIO);
    cr_assert(d->m.has_to_pid && !d->m.has_ref && !d->m.has_to_name);
    cr_assert_str_eq(d->m.to_pid.node, "py@vm");
    cr_assert_eq(d->m.to_pid.num, 1);
    check_atom(d->m.msg, d->m.msg_len, "prio_pid");
    decoded_free(d);

    d = decode(otp29_prio_name, sizeof otp29_prio_name);
    cr_assert_eq(d->rc, 0, "%s", d->err);
    cr_assert_eq(d->m.altact_flags, EN_ALTACT_NAME | EN_ALTACT_PRIO);
    cr_assert(d->m.has_to_name && !d->m.has_to_pid);
    cr_assert_str_eq(d->m.to_name, "py");
    check_atom(d->m.msg, d->m.msg_len, "prio_name");
    decoded_free(d);
}

Test(ctrl_altact, otp29_exit_signals_carry_the_reason_as_payload)
{
    struct decoded *d = decode(otp29_exit_alias, sizeof otp29_exit_alias);
    cr_assert_eq(d->rc, 0, "%s", d->err);
    cr_assert_eq(d->m.altact_flags, EN_ALTACT_EXIT | EN_ALTACT_ALIAS);
    check_alias(&d->m);
    check_atom(d->m.reason, d->m.reason_len, "exit_alias");
    cr_assert_eq(d->m.msg, d->m.reason);
    decoded_free(d);

    d = decode(otp29_exit_prio, sizeof otp29_exit_prio);
    cr_assert_eq(d->rc, 0, "%s", d->err);
    cr_assert_eq(d->m.altact_flags, EN_ALTACT_EXIT | EN_ALTACT_PRIO);
    cr_assert(d->m.has_to_pid);
    check_atom(d->m.reason, d->m.reason_len, "exit_prio");
    decoded_free(d);
}

Test(ctrl_altact, otp29_with_a_seq_trace_token)
{
    struct decoded *d = decode(otp29_traced, sizeof otp29_traced);
    int i = 0, arity;
    cr_assert_eq(d->rc, 0, "%s", d->err);
    cr_assert_eq(d->m.altact_flags, EN_ALTACT_TOKEN | EN_ALTACT_ALIAS);
    check_alias(&d->m);
    cr_assert_not_null(d->m.token);
    cr_assert_eq(ei_decode_tuple_header(d->m.token, &i, &arity), 0);
    cr_assert_eq(arity, 5);
    check_atom(d->m.msg, d->m.msg_len, "traced");
    decoded_free(d);
}

/* Our encoder writes what OTP 29 writes, byte for byte. */
Test(ctrl_altact, the_encoder_writes_otp29s_bytes)
{
    static const struct {
        const uint8_t *data;
        size_t len;
    } v[] = {
        {otp29_to_alias, sizeof otp29_to_alias},
        {otp29_prio_alias, sizeof otp29_prio_alias},
        {otp29_prio_pid, sizeof otp29_prio_pid},
        {otp29_prio_name, sizeof otp29_prio_name},
        {otp29_exit_alias, sizeof otp29_exit_alias},
        {otp29_exit_prio, sizeof otp29_exit_prio},
    };
    for (size_t k = 0; k < NELEMS(v); k++) {
        struct decoded *d = decode(v[k].data, v[k].len);
        en_buf_t out = EN_BUF_INIT;
        const en_dmsg_t *m = &d->m;
        cr_assert_eq(d->rc, 0, "%s", d->err);
        int rc = en_ctrl_altact_sig_send(
            &out, EN_WIRE_DISTHDR,
            m->altact_flags & (EN_ALTACT_PRIO | EN_ALTACT_EXIT), &m->from,
            m->has_to_pid ? &m->to_pid : NULL,
            m->has_to_name ? m->to_name : NULL, m->has_ref ? &m->ref : NULL,
            m->msg, m->msg_len);
        cr_assert_eq(rc, 0, "vector %zu: %s", k, en_ctrl_strerror(rc));
        cr_assert_eq(out.len, v[k].len + 4, "vector %zu", k);
        cr_assert(memcmp(out.data + 4, v[k].data, v[k].len) == 0,
                  "vector %zu differs", k);
        en_buf_free(&out);
        decoded_free(d);
    }
}

/* {37, Flags, From, To...} built by hand, in the pass-through form. */
static size_t altact_packet(uint8_t *buf, const char *flags_term,
                            size_t flags_len, int to_kind, int arity)
{
    erlang_pid from = pid_of("a@h", 1);
    erlang_ref r = ref_of("b@h");
    ei_x_buff x;
    ei_x_new(&x);
    ei_x_encode_version(&x);
    ei_x_encode_tuple_header(&x, arity);
    ei_x_encode_long(&x, EN_DOP_ALTACT_SIG_SEND);
    ei_x_append_buf(&x, flags_term, (int)flags_len);
    ei_x_encode_pid(&x, &from);
    if (arity < 4)
        ; /* no To */
    else if (to_kind == 'p')
        ei_x_encode_pid(&x, &from);
    else if (to_kind == 'n')
        ei_x_encode_atom(&x, "srv");
    else
        ei_x_encode_ref(&x, &r);
    for (int i = 4; i < arity; i++)
        ei_x_encode_atom(&x, "more");
    ei_x_encode_version(&x);
    ei_x_encode_atom(&x, "msg");
    buf[0] = 112;
    memcpy(buf + 1, x.buff, (size_t)x.index);
    size_t len = 1 + (size_t)x.index;
    ei_x_free(&x);
    return len;
}

Test(ctrl_altact, what_otp_refuses_is_malformed)
{
    static const struct {
        const char *flags;
        size_t flags_len;
        int to;
        int arity;
        const char *what;
    } bad[] = {
        {"\x61\x0c", 2, 'r', 4, "ALIAS and NAME at once"},
        {"\x61\x04", 2, 'p', 4, "ALIAS with a pid"},
        {"\x61\x08", 2, 'r', 4, "NAME with a reference"},
        {"\x61\x00", 2, 'n', 4, "a name without NAME"},
        {"\x62\xff\xff\xff\xff", 5, 'p', 4, "negative Flags"},
        {"\x6e\x01\x01\x00", 4, 'p', 4, "a negative bignum"},
        {"\x77\x01x", 3, 'p', 4, "Flags not an integer"},
        {"\x61\x02", 2, 'p', 4, "TOKEN without a token"},
        {"\x61\x00", 2, 'p', 3, "too few elements"},
    };
    uint8_t pkt[256];
    en_dmsg_t m;
    char err[256];

    for (size_t i = 0; i < NELEMS(bad); i++) {
        size_t len = altact_packet(pkt, bad[i].flags, bad[i].flags_len,
                                   bad[i].to, bad[i].arity);
        cr_assert_eq(en_ctrl_decode(pkt, len, &m, err, sizeof err),
                     EN_CTRL_EMALFORMED, "%s", bad[i].what);
        cr_assert(strstr(err, "ALTACT_SIG_SEND"), "%s: %s", bad[i].what, err);
    }
}

Test(ctrl_altact, later_additions_are_taken)
{
    uint8_t pkt[256];
    en_dmsg_t m;
    char err[256];

    /* Elements after To (no TOKEN flag): skipped. */
    size_t len = altact_packet(pkt, "\x61\x00", 2, 'p', 6);
    cr_assert_eq(en_ctrl_decode(pkt, len, &m, err, sizeof err), 0, "%s", err);
    cr_assert_null(m.token);
    /* Bits OTP does not know, and wider integers: the low byte counts. */
    len = altact_packet(pkt, "\x62\x00\x00\x01\x08", 5, 'n', 4);
    cr_assert_eq(en_ctrl_decode(pkt, len, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m.altact_flags, EN_ALTACT_NAME);
    cr_assert_str_eq(m.to_name, "srv");
    len = altact_packet(pkt, "\x6e\x09\x00\x04\x00\x00\x00\x00\x00\x00\x00\x80",
                        12, 'r', 4);
    cr_assert_eq(en_ctrl_decode(pkt, len, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m.altact_flags, EN_ALTACT_ALIAS);
    len = altact_packet(pkt, "\x6f\x00\x00\x00\x01\x00\x14", 7, 'r', 4);
    cr_assert_eq(en_ctrl_decode(pkt, len, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m.altact_flags, EN_ALTACT_ALIAS | EN_ALTACT_EXIT);
    cr_assert_not_null(m.reason);
}
