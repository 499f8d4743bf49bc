/* ctrl_sig.c - which form a signal takes for a given peer: the choices
 * OTP's dist.c makes from the negotiated flags, made in one place
 * (proto/ctrl.h en_ctrl_encode), and made again for packets queued
 * before the flags were known (en_ctrl_reencode).
 */
#include "proto/ctrl.h"

#include "base/errmsg.h"
#include "proto/fragment.h"
#include "proto/framing.h"

static int has(uint64_t flags, uint64_t want)
{
    return (flags & want) == want;
}

static int encode_send(en_buf_t *out, int wire, uint64_t f, const en_sig_t *s)
{
    return en_ctrl_send(out, wire, has(f, EN_DFLAG_SEND_SENDER), s->from,
                        s->to, s->msg, s->msg_len);
}

/* A message to an alias. OTP 28 sends ALTACT_SIG_SEND to peers that have
 * ALTACT_SIG (ALIAS_SEND goes in OTP 30), and drops a message to an alias
 * on a peer without ALIAS: the alias cannot exist there (bif.c). */
static int encode_alias_send(en_buf_t *out, int wire, uint64_t f,
                             const en_sig_t *s)
{
    if (!has(f, EN_DFLAG_ALIAS))
        return EN_CTRL_SKIP;
    if (has(f, EN_DFLAG_ALTACT_SIG))
        return en_ctrl_altact_sig_send(out, wire, 0, s->from, NULL, NULL,
                                       s->ref, s->msg, s->msg_len);
    return en_ctrl_alias_send(out, wire, s->from, s->ref, s->msg, s->msg_len);
}

static int encode_exit(en_buf_t *out, int wire, uint64_t f, const en_sig_t *s)
{
    int payload = has(f, EN_DFLAG_EXIT_PAYLOAD);

    if (s->op == EN_DOP_EXIT)
        return payload ? en_ctrl_payload_exit(out, wire, s->from, s->to,
                                              s->msg, s->msg_len)
                       : en_ctrl_exit(out, wire, s->from, s->to, s->msg,
                                      s->msg_len);
    return payload ? en_ctrl_payload_exit2(out, wire, s->from, s->to, s->msg,
                                           s->msg_len)
                   : en_ctrl_exit2(out, wire, s->from, s->to, s->msg,
                                   s->msg_len);
}

/* Monitors travel only to peers with both monitor flags; with others a
 * monitor watches the connection alone, and OTP sends none of MONITOR_P,
 * DEMONITOR_P and MONITOR_P_EXIT (dist.c erts_dsig_send_monitor). */
static int encode_monitor(en_buf_t *out, int wire, uint64_t f,
                          const en_sig_t *s)
{
    if (!has(f, EN_DFLAG_DIST_MONITOR | EN_DFLAG_DIST_MONITOR_NAME))
        return EN_CTRL_SKIP;
    switch (s->op) {
    case EN_DOP_MONITOR_P:
        return en_ctrl_monitor_p(out, wire, s->from, s->to, s->to_name,
                                 s->ref);
    case EN_DOP_DEMONITOR_P:
        return en_ctrl_demonitor_p(out, wire, s->from, s->to, s->to_name,
                                   s->ref);
    default:
        if (has(f, EN_DFLAG_EXIT_PAYLOAD))
            return en_ctrl_payload_monitor_p_exit(out, wire, s->from,
                                                  s->from_name, s->to, s->ref,
                                                  s->msg, s->msg_len);
        return en_ctrl_monitor_p_exit(out, wire, s->from, s->from_name, s->to,
                                      s->ref, s->msg, s->msg_len);
    }
}

static int encode_form(en_buf_t *out, int wire, uint64_t f, const en_sig_t *s)
{
    switch (s->op) {
    case EN_DOP_SEND:
        return encode_send(out, wire, f, s);
    case EN_DOP_REG_SEND:
        return en_ctrl_reg_send(out, wire, s->from, s->to_name, s->msg,
                                s->msg_len);
    case EN_DOP_ALIAS_SEND:
        return encode_alias_send(out, wire, f, s);
    case EN_DOP_LINK:
        return en_ctrl_link(out, wire, s->from, s->to);
    case EN_DOP_UNLINK_ID:
        return en_ctrl_unlink_id(out, wire, s->from, s->to, s->id);
    case EN_DOP_UNLINK_ID_ACK:
        return en_ctrl_unlink_id_ack(out, wire, s->from, s->to, s->id);
    case EN_DOP_EXIT:
    case EN_DOP_EXIT2:
        return encode_exit(out, wire, f, s);
    case EN_DOP_MONITOR_P:
    case EN_DOP_DEMONITOR_P:
    case EN_DOP_MONITOR_P_EXIT:
        return encode_monitor(out, wire, f, s);
    case EN_DOP_SPAWN_REPLY:
        return en_ctrl_spawn_reply(out, wire, s->ref, s->to, s->flags,
                                   s->msg, s->msg_len);
    case EN_DOP_SPAWN_REQUEST:
        if (!s->spawn)
            return EN_CTRL_EINVAL;
        return en_ctrl_spawn_request(
            out, wire, s->ref, s->from, s->spawn->group_leader,
            s->spawn->module, s->spawn->function, s->spawn->arity,
            s->spawn->opts, s->spawn->opts_len, s->msg, s->msg_len);
    default:
        return EN_CTRL_EINVAL;
    }
}

/* OTP puts a control tuple whole into the first fragment (dist.c): a
 * packet whose control tuple is larger than a fragment cannot go to a
 * peer that reassembles fragments. Checked only for packets that will be
 * cut at all. */
static int ctrl_fits(const en_buf_t *out, size_t start, int wire, uint64_t f)
{
    const size_t head = EN_FRAME_HDR_LEN + 3; /* Len | 131 68 0 */
    size_t body = out->len - start - EN_FRAME_HDR_LEN, ctrl_len;

    if (wire != EN_WIRE_DISTHDR || !has(f, EN_DFLAG_FRAGMENTS) ||
        body <= EN_FRAG_SIZE)
        return 1;
    if (en_term_size((const char *)out->data + start + head,
                     out->len - start - head, &ctrl_len, NULL) < 0)
        return 0;
    return ctrl_len <= EN_FRAG_SIZE;
}

int en_ctrl_encode(en_buf_t *out, int wire, uint64_t peer_flags,
                   const en_sig_t *sig)
{
    size_t start = out->len;
    int rc = encode_form(out, wire, peer_flags, sig);

    if (rc == 0 && !ctrl_fits(out, start, wire, peer_flags)) {
        out->len = start;
        return EN_CTRL_ECTRLSIZE;
    }
    return rc;
}

/* ---- re-encoding --------------------------------------------------------- */

/* The signal a decoded packet carries, as en_ctrl_encode() takes it; -1
 * for an op en_ctrl_encode() never writes. */
static int sig_of(const en_dmsg_t *m, en_sig_t *s, en_spawn_sig_t *spawn)
{
    *s = (en_sig_t){.op = m->op,
                    .from = m->has_from ? &m->from : NULL,
                    .to = m->has_to_pid ? &m->to_pid : NULL,
                    .from_name = m->has_from_name ? m->from_name : NULL,
                    .to_name = m->has_to_name ? m->to_name : NULL,
                    .ref = m->has_ref ? &m->ref : NULL,
                    .id = m->unlink_id,
                    .flags = m->spawn_flags,
                    .msg = m->msg,
                    .msg_len = m->msg_len};
    switch (m->op) {
    case EN_DOP_SEND_SENDER: s->op = EN_DOP_SEND; break;
    case EN_DOP_PAYLOAD_EXIT: s->op = EN_DOP_EXIT; break;
    case EN_DOP_PAYLOAD_EXIT2: s->op = EN_DOP_EXIT2; break;
    case EN_DOP_PAYLOAD_MONITOR_P_EXIT: s->op = EN_DOP_MONITOR_P_EXIT; break;
    case EN_DOP_SEND: case EN_DOP_REG_SEND: case EN_DOP_ALIAS_SEND:
    case EN_DOP_LINK: case EN_DOP_UNLINK_ID: case EN_DOP_UNLINK_ID_ACK:
    case EN_DOP_MONITOR_P: case EN_DOP_DEMONITOR_P:
        break;
    case EN_DOP_EXIT: case EN_DOP_EXIT2: case EN_DOP_MONITOR_P_EXIT:
        s->msg = m->reason;
        s->msg_len = m->reason_len;
        break;
    case EN_DOP_SPAWN_REPLY:
        s->msg = m->spawn_result;
        s->msg_len = m->spawn_result_len;
        break;
    case EN_DOP_SPAWN_REQUEST:
        *spawn = (en_spawn_sig_t){
            .group_leader = m->has_group_leader ? &m->group_leader : NULL,
            .module = m->spawn_module,
            .function = m->spawn_function,
            .arity = m->spawn_arity,
            .opts = m->spawn_opts,
            .opts_len = m->spawn_opts_len};
        s->spawn = spawn;
        break;
    default:
        return -1;
    }
    return 0;
}

int en_ctrl_reencode(en_buf_t *out, int wire, uint64_t peer_flags,
                     const uint8_t *pkt, size_t len, char *errbuf,
                     size_t errlen)
{
    en_dmsg_t m;
    en_sig_t s;
    en_spawn_sig_t spawn;

    if (len < EN_FRAME_HDR_LEN || en_get32(pkt) != len - EN_FRAME_HDR_LEN) {
        en_errf(errbuf, errlen, "a queued packet has a wrong length");
        return EN_CTRL_EMALFORMED;
    }
    int rc = en_ctrl_decode(pkt + EN_FRAME_HDR_LEN, len - EN_FRAME_HDR_LEN,
                            &m, errbuf, errlen);
    if (rc < 0)
        return EN_CTRL_EMALFORMED;
    if (sig_of(&m, &s, &spawn) < 0) {
        en_errf(errbuf, errlen, "a queued packet has op %d, which this node "
                                "does not send", m.op);
        return EN_CTRL_EMALFORMED;
    }
    return en_ctrl_encode(out, wire, peer_flags, &s);
}
