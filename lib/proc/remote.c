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

static int emit_out(en_proc_t *p, en_out_t *o, const en_sig_t *sig)
{
    int rc = en_ctrl_encode(o->buf, o->wire, o->flags, sig);

    if (rc < 0)
        en_core_error(p->core, "cannot send to %s: %s",
                      en_conn_peer(o->conn), en_ctrl_strerror(rc));
    en_net_out_end(o, rc);
    return rc < 0 ? ctrl_code(rc) : 0;
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
