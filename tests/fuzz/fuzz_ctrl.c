/* fuzz_ctrl.c - libFuzzer target for en_ctrl_decode().
 *
 * The input is one packet's data (what follows the 4-byte length). For
 * every input that decodes, the fuzzer also
 *   - walks each term the decoder hands out with ei_skip_term(), from an
 *     exact-size copy, since the decoder promises that ei stays inside;
 *   - encodes the message again with our encoders (where an encoder
 *     covers the op) and decodes that, which must succeed with the same op;
 *   - re-encodes the packet for other peers' flags with en_ctrl_reencode,
 *     as a queued packet is once a connection is up: whatever it writes
 *     must decode, and a refusal must leave the buffer alone.
 *
 * Build (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilib \
 *     -I$EI/include tests/fuzz/fuzz_ctrl.c lib/ctrl.c lib/framing.c \
 *     lib/buf.c $EI/lib/libei.a -lpthread -o fuzz_ctrl
 *   ./fuzz_ctrl tests/fuzz/corpus/ctrl
 * where EI is /usr/lib/erlang/lib/erl_interface-5.3.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "base/buf.h"
#include "proto/ctrl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_term_with_ei(const char *term, size_t len)
{
    if (!term)
        return;
    char *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, term, len);
    int idx = 0;
    if (ei_skip_term(copy, &idx) == 0 && (size_t)idx != len)
        abort(); /* ei and en_term_size disagree about the extent */
    free(copy);
}

/* Encodes m again; 1 when no encoder covers the op. */
static int reencode(const en_dmsg_t *m, int wire, en_buf_t *out)
{
    const erlang_pid *from = m->has_from ? &m->from : NULL;
    const char *from_name = m->has_from_name ? m->from_name : NULL;
    const erlang_pid *to = m->has_to_pid ? &m->to_pid : NULL;
    const char *to_name = m->has_to_name ? m->to_name : NULL;

    switch (m->op) {
    case EN_DOP_SEND:
        return en_ctrl_send(out, wire, 0, NULL, to, m->msg, m->msg_len);
    case EN_DOP_SEND_SENDER:
        return en_ctrl_send(out, wire, 1, from, to, m->msg, m->msg_len);
    case EN_DOP_REG_SEND:
        return en_ctrl_reg_send(out, wire, from, to_name, m->msg, m->msg_len);
    case EN_DOP_ALIAS_SEND:
        return en_ctrl_alias_send(out, wire, from, &m->ref, m->msg,
                                  m->msg_len);
    case EN_DOP_LINK:
        return en_ctrl_link(out, wire, from, to);
    case EN_DOP_EXIT:
        return en_ctrl_exit(out, wire, from, to, m->reason, m->reason_len);
    case EN_DOP_MONITOR_P:
        return en_ctrl_monitor_p(out, wire, from, to, to_name, &m->ref);
    case EN_DOP_MONITOR_P_EXIT:
        return en_ctrl_monitor_p_exit(out, wire, from, from_name, to, &m->ref,
                                      m->reason, m->reason_len);
    case EN_DOP_SPAWN_REPLY:
        return en_ctrl_spawn_reply(out, wire, &m->ref, to, m->spawn_flags,
                                   m->spawn_result, m->spawn_result_len);
    default:
        return 1;
    }
}

static void check_reencode(const en_dmsg_t *m, int wire)
{
    en_buf_t out = EN_BUF_INIT;
    int rc = reencode(m, wire, &out);
    /* Encoders may refuse what the decoder accepts (a ref of 0 words, a
     * Latin-1 atom ei cannot re-encode); they must not produce garbage. */
    if (rc == 0) {
        static en_dmsg_t again; /* static: the struct is several KB */
        if (out.len < 4 ||
            en_ctrl_decode(out.data + 4, out.len - 4, &again, NULL, 0) != 0 ||
            again.op != m->op)
            abort();
    }
    en_buf_free(&out);
}

/* The flags of an OTP 26+ peer, of an old one, and of none yet. */
static const uint64_t peer_flags[] = {
    EN_DFLAGS_MANDATORY_26 | EN_DFLAG_FRAGMENTS | EN_DFLAG_SEND_SENDER |
        EN_DFLAG_EXIT_PAYLOAD | EN_DFLAG_DIST_MONITOR |
        EN_DFLAG_DIST_MONITOR_NAME | EN_DFLAG_ALIAS | EN_DFLAG_ALTACT_SIG,
    EN_DFLAGS_MANDATORY_26,
    EN_CTRL_FLAGS_PENDING,
};

static void check_reencode_for_peers(const uint8_t *data, size_t size)
{
    en_buf_t pkt = EN_BUF_INIT;
    if (en_buf_put32(&pkt, (uint32_t)size) < 0 ||
        en_buf_append(&pkt, data, size) < 0) {
        en_buf_free(&pkt);
        return;
    }
    for (size_t i = 0; i < sizeof peer_flags / sizeof peer_flags[0]; i++) {
        en_buf_t out = EN_BUF_INIT;
        static en_dmsg_t again;
        int wire = peer_flags[i] & EN_DFLAG_FRAGMENTS ? EN_WIRE_DISTHDR
                                                      : EN_WIRE_PASSTHROUGH;
        int rc = en_ctrl_reencode(&out, wire, peer_flags[i], pkt.data,
                                  pkt.len, NULL, 0);
        if (rc != 0 && out.len != 0)
            abort(); /* a refusal or a skip writes nothing */
        if (rc == 0 &&
            (out.len < 4 || en_get32(out.data) != out.len - 4 ||
             en_ctrl_decode(out.data + 4, out.len - 4, &again, NULL, 0) != 0))
            abort();
        en_buf_free(&out);
    }
    en_buf_free(&pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static en_dmsg_t m;
    char err[256];

    if (en_ctrl_decode(data, size, &m, err, sizeof err) != 0)
        return 0;
    check_term_with_ei(m.msg, m.msg_len);
    check_term_with_ei(m.reason, m.reason_len);
    check_term_with_ei(m.token, m.token_len);
    check_term_with_ei(m.spawn_opts, m.spawn_opts_len);
    check_term_with_ei(m.spawn_result, m.spawn_result_len);
    check_reencode(&m, data[0] == 112 ? EN_WIRE_PASSTHROUGH : EN_WIRE_DISTHDR);
    check_reencode_for_peers(data, size);
    return 0;
}
