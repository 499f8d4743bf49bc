/* wire.c - how one connection frames its packets: the pass-through form
 * or the distribution header with fragments (doc/internals.md section 7).
 *
 * Once FRAGMENTS (or the atom cache) is negotiated, OTP accepts only the
 * header form, 131 68 / 69 / 70; before that, and with peers such as ei
 * that know neither, only the pass-through form 112; a peer that sends
 * the other form loses its connection (external.c, "Got message from
 * incompatible erlang"), and so it does here. Packets queued before the
 * handshake are encoded for flags not known yet and encoded again when
 * they are; a packet over 64 KiB is cut into fragments as soon as it is
 * queued, so encoders need not know about fragments.
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

/* The packet is in the form the flags call for; else c fails. */
static int form_agreed(en_conn_t *c, const uint8_t *data)
{
    if (en_conn_wire(c) == EN_WIRE_DISTHDR) {
        if (data[0] == 131)
            return 1;
        en_conn_fail(c, ENODE_ECONN,
                     "the peer sent a packet starting with %u%s after "
                     "agreeing on FRAGMENTS, which allows only the "
                     "distribution header (131)",
                     data[0], data[0] == 112 ? " (the pass-through form)" : "");
        return 0;
    }
    if (data[0] != 131)
        return 1;
    en_conn_fail(c, ENODE_ECONN,
                 "the peer sent a distribution header (131) although "
                 "neither FRAGMENTS nor the atom cache was agreed, which "
                 "allows only the pass-through form (112)");
    return 0;
}

/* The setting a refused fragment went over, for the log: the operator
 * reads there what to raise if the peer was honest. */
static const char *limit_name(int frag_rc)
{
    if (frag_rc == EN_FRAG_ETOOBIG)
        return " (max_message_size)";
    if (frag_rc == EN_FRAG_ETOOMANY)
        return " (max_fragmented_messages)";
    return "";
}

void en_wire_receive(en_conn_t *c, const uint8_t *data, size_t len)
{
    en_frag_msg_t msg;
    char err[256];

    if (!form_agreed(c, data))
        return;
    if (len < 2 || data[0] != 131 || (data[1] != 69 && data[1] != 70)) {
        c->net->hooks.packet(c->net->hooks.ud, c, data, len, NULL);
        return;
    }
    int rc = en_frag_feed_msg(&c->frags, data, len, &msg, err, sizeof err);
    if (rc == EN_FRAG_COMPLETE)
        c->net->hooks.packet(c->net->hooks.ud, c, msg.head, msg.head_len,
                             msg.body);
    else if (rc < 0)
        en_conn_fail(c, ENODE_ECONN, "%s%s", err, limit_name(rc));
}

/* ---- sending ---------------------------------------------------------------- */

int en_wire_fragment(en_conn_t *c, size_t at)
{
    if (en_conn_wire(c) != EN_WIRE_DISTHDR ||
        !(c->flags & EN_DFLAG_FRAGMENTS) ||
        c->out.len - at - 4 <= EN_FRAG_SIZE)
        return 0;
    int rc = en_frag_split_tail(&c->out, at, c->frag_seq + 1, EN_FRAG_SIZE);
    if (rc == 0)
        c->frag_seq++;
    return rc;
}

/* ---- rewriting what was queued before the handshake ----------------------- */

/* One queued packet, encoded again for the flags now known. A packet
 * that cannot go (a control tuple too large for a peer without
 * EXIT_PAYLOAD, memory) is dropped alone, with a word in the log; one
 * the peer takes no such signal for (a MONITOR_P to a peer without
 * DIST_MONITOR) is dropped without one, as OTP sends nothing then. */
static void adopt_one(en_conn_t *c, const uint8_t *pkt, size_t len)
{
    size_t at = c->out.len;
    char err[256] = "";
    int rc = en_ctrl_reencode(&c->out, en_conn_wire(c), c->flags, pkt, len,
                              err, sizeof err);

    if (rc == 0)
        rc = en_wire_fragment(c, at);
    if (rc >= 0)
        return;
    c->out.len = at;
    en_conn_log(c, ENODE_LOG_ERROR,
                "a signal queued for %s while connecting is dropped: %s%s%s",
                c->peer, en_ctrl_strerror(rc), err[0] ? ": " : "", err);
}

void en_wire_adopt_pending(en_conn_t *c)
{
    size_t at = 0;

    while (at + 4 <= c->pending.len) {
        size_t len = 4 + (size_t)en_get32(c->pending.data + at);
        if (len > c->pending.len - at)
            break;
        adopt_one(c, c->pending.data + at, len);
        at += len;
    }
    en_buf_free(&c->pending);
}
