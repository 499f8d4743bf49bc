/* remote.c - the one way a signal leaves for a process on another node.
 *
 * Every message, link, exit, monitor and reply to a peer goes through
 * en_emit(): the network layer hands over the connection's queue, its
 * wire form and the flags the peer negotiated, the codec writes the
 * packet in the form those flags call for, and the connection writes it.
 */
#include "proc/mbox.h"

static int ctrl_code(int rc)
{
    if (rc == EN_CTRL_ENOMEM)
        return ENODE_ENOMEM;
    return ENODE_EBADTERM;
}

/* A signal that cannot be encoded or cut for this peer fails this send
 * alone, with the reason in the error and the log (many signals have no
 * caller to tell: a link's exit, an rpc result); the connection carries
 * on. */
static int emit_out(en_proc_t *p, en_out_t *o, const en_sig_t *sig)
{
    const char *peer = en_conn_peer(o->conn);
    int rc = en_ctrl_encode(o->buf, o->wire, o->flags, sig);
    int code = en_net_out_end(o, rc);

    if (rc < 0)
        code = ctrl_code(rc);
    else if (code < 0)
        rc = EN_CTRL_ENOMEM; /* the packet could not be cut */
    if (code < 0) {
        en_core_error(p->core, "cannot send to %s: %s", peer,
                      en_ctrl_strerror(rc));
        en_core_log(p->core, ENODE_LOG_WARNING, "a signal to %s is lost: %s",
                    peer, en_ctrl_strerror(rc));
    }
    return code;
}

int en_emit(en_proc_t *p, const char *node, int dial, const en_sig_t *sig)
{
    en_out_t o;

    if (en_net_out_begin(p->net, node, dial, &o) < 0)
        return ENODE_ECONN;
    return emit_out(p, &o, sig);
}

int en_emit_on(en_proc_t *p, en_conn_t *c, const en_sig_t *sig)
{
    en_out_t o;

    en_net_out_on(c, &o);
    return emit_out(p, &o, sig);
}
