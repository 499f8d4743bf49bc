/* wire.c - how one connection frames its packets: the pass-through form
 * or the distribution header with fragments (doc/internals.md section 7).
 *
 * Once FRAGMENTS (or the atom cache) is negotiated, OTP accepts only the
 * header form, 131 68 / 69 / 70; before that, and with peers such as ei
 * that know neither, only the pass-through form 112. Packets queued
 * before the handshake are written in the pass-through form and rewritten
 * when the flags are known; packets over 64 KiB are split into fragments
 * after they are queued, so encoders need not know about fragments.
 */
#include "net/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctrl.h"
#include "proto/dflags.h"
#include "proto/fragment.h"

int en_conn_wire(const en_conn_t *c)
{
    if (c->phase == EN_PH_UP &&
        (c->flags & (EN_DFLAG_FRAGMENTS | EN_DFLAG_DIST_HDR_ATOM_CACHE)))
        return EN_WIRE_DISTHDR;
    return EN_WIRE_PASSTHROUGH;
}

/* ---- receiving -------------------------------------------------------------- */

void en_wire_receive(en_conn_t *c, const uint8_t *data, size_t len)
{
    const uint8_t *msg;
    size_t msg_len;
    char err[256];

    if (len < 2 || data[0] != 131 || (data[1] != 69 && data[1] != 70)) {
        c->net->hooks.packet(c->net->hooks.ud, c, data, len);
        return;
    }
    int rc = en_frag_feed(&c->frags, data, len, &msg, &msg_len, err,
                          sizeof err);
    if (rc == EN_FRAG_COMPLETE)
        c->net->hooks.packet(c->net->hooks.ud, c, msg, msg_len);
    else if (rc < 0)
        en_conn_fail(c, ENODE_ECONN, "%s", err);
}

/* ---- rewriting what was queued before the handshake ----------------------- */

/* Append the pass-through packet pkt (Len | 112 | 131 Ctrl | [131 Msg])
 * to out in the header form (Len | 131 68 0 | Ctrl | [Msg]). */
static int repack(en_buf_t *out, const uint8_t *pkt, size_t len)
{
    const char *why;
    size_t ctrl_len;

    if (len < 7 || pkt[4] != 112 || pkt[5] != 131 ||
        en_term_size((const char *)pkt + 6, len - 6, &ctrl_len, &why) < 0)
        return -1;
    const uint8_t *rest = pkt + 6 + ctrl_len;
    size_t rest_len = len - 6 - ctrl_len;
    if (rest_len > 0) { /* the message, without its own 131 */
        rest++;
        rest_len--;
    }
    size_t data_len = 3 + ctrl_len + rest_len;
    uint8_t hdr[3] = {131, 68, 0};
    if (data_len > UINT32_MAX || en_buf_put32(out, (uint32_t)data_len) < 0 ||
        en_buf_append(out, hdr, 3) < 0 ||
        en_buf_append(out, pkt + 6, ctrl_len) < 0 ||
        en_buf_append(out, rest, rest_len) < 0)
        return -1;
    return 0;
}

int en_wire_adopt_pending(en_conn_t *c)
{
    int disthdr = en_conn_wire(c) == EN_WIRE_DISTHDR;
    size_t at = 0;

    while (at + 4 <= c->pending.len) {
        size_t len = 4 + (size_t)en_get32(c->pending.data + at);
        const uint8_t *pkt = c->pending.data + at;
        if (len > c->pending.len - at)
            break;
        int rc = disthdr ? repack(&c->out, pkt, len)
                         : en_buf_append(&c->out, pkt, len);
        if (rc < 0)
            return -1;
        at += len;
    }
    en_buf_free(&c->pending);
    return 0;
}

/* ---- splitting what is too big ---------------------------------------------- */

/* Split every packet queued since the last call whose data is over the
 * fragment size. Packets are walked from out_checked; an oversized one is
 * moved aside with everything after it, and re-queued split. */
int en_wire_split_new(en_conn_t *c)
{
    size_t at = c->out_checked;

    if (en_conn_wire(c) != EN_WIRE_DISTHDR) {
        c->out_checked = c->out.len;
        return 0;
    }
    while (at + 4 <= c->out.len) {
        size_t len = 4 + (size_t)en_get32(c->out.data + at);
        if (len - 4 > EN_FRAG_SIZE)
            break;
        at += len;
    }
    if (at + 4 > c->out.len) {
        c->out_checked = at;
        return 0;
    }
    /* Move the tail aside and put it back, splitting as needed. */
    size_t tail_len = c->out.len - at;
    uint8_t *tail = malloc(tail_len);
    if (!tail)
        return -1;
    memcpy(tail, c->out.data + at, tail_len);
    c->out.len = at;
    for (size_t t = 0; t + 4 <= tail_len;) {
        size_t len = 4 + (size_t)en_get32(tail + t);
        if (en_frag_split(&c->out, tail + t, len, ++c->frag_seq,
                          EN_FRAG_SIZE) < 0) {
            free(tail);
            return -1;
        }
        t += len;
    }
    free(tail);
    c->out_checked = c->out.len;
    return 0;
}
