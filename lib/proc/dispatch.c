/* dispatch.c - what to do with a packet a connected peer sent.
 *
 * Messages go to mailboxes (services are mailboxes too), named by pid,
 * by registered name or by alias, in the old forms or in OTP 28's
 * ALTACT_SIG_SEND; links, exit signals and monitors to links.c, exit.c
 * and monitors.c, spawn requests (erpc) to the service that took them,
 * the replies to our own to spawn.c. What enode does not handle (group
 * leaders) is logged and dropped. Only a malformed packet costs the peer
 * its connection, as it would with an
 * OTP node.
 */
#include "proc/dispatch.h"
#include "proc/exit.h"
#include "proc/links.h"
#include "proc/monitors.h"
#include "proc/spawn.h"

#include <string.h>

/* A message to mb. When it came in fragments, its term lies apart in
 * body, 131 | Msg, and is queued in that very buffer (no copy). */
static void deliver(en_proc_t *p, en_conn_t *c, en_mbox_t *mb,
                    const en_dmsg_t *m, const char *to_name, en_buf_t *body)
{
    const erlang_pid *from = m->has_from ? &m->from : NULL;
    int rc = body && m->msg == (const char *)body->data + 1
                 ? en_mbox_deliver_buf(mb, from, to_name, body)
                 : en_mbox_deliver(mb, from, to_name, m->msg, m->msg_len);

    if (rc < 0)
        en_core_log(p->core, ENODE_LOG_ERROR,
                    "out of memory: a message from %s is lost",
                    en_conn_peer(c));
}

/* The mailbox a message or signal from c's peer is for: by pid, by
 * registered name or by alias, whichever m names; NULL (logged) if there
 * is none. A message to an alias that is no longer active is dropped, as
 * OTP does. */
static en_mbox_t *target(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    en_mbox_t *mb = NULL;

    if (m->has_ref) {
        if (!(mb = en_mbox_by_alias(p, &m->ref)))
            en_core_log(p->core, ENODE_LOG_DEBUG,
                        "message from %s to an inactive alias: dropped",
                        en_conn_peer(c));
    } else if (m->has_to_name) {
        if (!(mb = en_mbox_by_name(p, m->to_name)))
            en_core_log(p->core, ENODE_LOG_DEBUG,
                        "message from %s to '%s', which is not registered: "
                        "dropped", en_conn_peer(c), m->to_name);
    } else {
        if (en_core_is_local(p->core, m->to_pid.node))
            mb = en_mbox_by_pid(p, &m->to_pid);
        if (!mb)
            en_core_log(p->core, ENODE_LOG_DEBUG,
                        "message from %s to <%s.%u.%u>, which is not here: "
                        "dropped", en_conn_peer(c), m->to_pid.node,
                        m->to_pid.num, m->to_pid.serial);
    }
    return mb;
}

static void to_target(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m,
                      en_buf_t *body)
{
    en_mbox_t *mb = target(p, c, m);

    if (mb)
        deliver(p, c, mb, m, m->has_to_name ? m->to_name : NULL, body);
}

/* OTP 28's ALTACT_SIG_SEND: a message, or with the EXIT flag an exit
 * signal (as exit/2 sends), to a pid, a name or an alias. The PRIO flag
 * asks for priority handling, which a process gets only for what it
 * made a priority alias or enabled priority for; mailboxes never do, so
 * a priority signal is handled as OTP handles one sent to such a
 * process: as an ordinary signal, in order (doc/internals.md section 8). */
static void altact_sig(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m,
                       en_buf_t *body)
{
    en_mbox_t *mb = target(p, c, m);

    if (!mb)
        return;
    if (m->altact_flags & EN_ALTACT_EXIT)
        en_exit_signal(mb, &m->from, m->reason, m->reason_len, EN_SIG_EXIT2);
    else
        deliver(p, c, mb, m, m->has_to_name ? m->to_name : NULL, body);
}

/* A spawn request nobody serves: notsup, as a node without SPAWN says. */
static void spawn_notsup(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    ei_x_buff notsup;

    if (en_atom_term(&notsup, "notsup") < 0)
        return;
    en_sig_t sig = {.op = EN_DOP_SPAWN_REPLY, .ref = &m->ref, .to = &m->from,
                    .msg = notsup.buff, .msg_len = (size_t)notsup.index};
    en_emit_on(p, c, &sig);
    ei_x_free(&notsup);
}

void en_dispatch_packet(void *ud, en_conn_t *c, const uint8_t *data,
                        size_t len, en_buf_t *body)
{
    en_proc_t *p = ud;
    en_dmsg_t m;
    char why[256];
    int rc = en_ctrl_decode_msg(data, len, body ? body->data : NULL,
                                body ? body->len : 0, &m, why, sizeof why);

    if (rc == EN_CTRL_EMALFORMED) {
        en_conn_fail(c, ENODE_ECONN, "malformed packet from the peer: %s",
                     why);
        return;
    }
    if (rc < 0) {
        en_core_log(p->core, ENODE_LOG_WARNING, "from %s: %s; dropped",
                    en_conn_peer(c), why);
        return;
    }
    switch (m.op) {
    case EN_DOP_SEND:
    case EN_DOP_SEND_TT:
    case EN_DOP_SEND_SENDER:
    case EN_DOP_SEND_SENDER_TT:
    case EN_DOP_REG_SEND:
    case EN_DOP_REG_SEND_TT:
    case EN_DOP_ALIAS_SEND:
    case EN_DOP_ALIAS_SEND_TT:
        to_target(p, c, &m, body);
        break;
    case EN_DOP_ALTACT_SIG_SEND:
        altact_sig(p, c, &m, body);
        break;
    case EN_DOP_SPAWN_REQUEST:
    case EN_DOP_SPAWN_REQUEST_TT:
        if (p->spawn)
            p->spawn(p->spawn_ud, c, &m);
        else
            spawn_notsup(p, c, &m);
        break;
    case EN_DOP_SPAWN_REPLY:
    case EN_DOP_SPAWN_REPLY_TT:
        en_spawn_reply(p, c, &m);
        break;
    default:
        if (en_links_dispatch(p, c, &m) || en_exit_dispatch(p, &m) ||
            en_monitors_dispatch(p, c, &m))
            break;
        en_core_log(p->core, ENODE_LOG_DEBUG,
                    "from %s: control message %d not handled yet; dropped",
                    en_conn_peer(c), m.op);
        break;
    }
}
