/* out.c - what the layers above see of a connection, and the one way
 * they send to a peer: begin a packet on the connection (dialling it if
 * need be), append it to the queue in the connection's form, end it.
 */
#include "net/conn.h"

#include <stdio.h>

#include "proto/ctrl.h"
#include "proto/dflags.h"

int en_conn_is_up(const en_conn_t *c)
{
    return c->phase == EN_PH_UP;
}

const char *en_conn_peer(const en_conn_t *c)
{
    return c->peer;
}

uint64_t en_conn_flags(const en_conn_t *c)
{
    return c->phase == EN_PH_UP ? c->flags : 0;
}

void en_net_out_on(en_conn_t *c, en_out_t *o)
{
    o->conn = c;
    o->buf = en_conn_sendbuf(c);
    o->wire = en_conn_wire(c);
    o->flags = c->phase == EN_PH_UP ? c->flags : EN_CTRL_FLAGS_PENDING;
    o->start = o->buf->len;
}

int en_net_out_begin(en_net_t *net, const char *peer, int dial, en_out_t *o)
{
    en_conn_t *c = en_net_find(net, peer);

    o->conn = NULL;
    if (!c && dial && !en_net_may_dial(net, peer))
        return en_net_refuse_dial(net, peer);
    if (!c && dial)
        c = en_net_get(net, peer);
    /* A dial that failed at once leaves a dead connection until the
     * loop's turn ends: what goes to it is dropped with it, like a
     * message sent to a node that cannot be reached. */
    if (!c)
        return ENODE_ECONN;
    en_net_out_on(c, o);
    return 0;
}

int en_net_out_end(en_out_t *o, int rc)
{
    en_conn_t *c = o->conn;

    o->conn = NULL;
    if (!c || rc != 0)
        return 0;
    if (c->phase == EN_PH_UP && en_wire_fragment(c, o->start) < 0) {
        c->out.len = o->start;
        return ENODE_ENOMEM;
    }
    en_conn_kick(c);
    return 0;
}

/* The connection to peer is up and busy. */
static en_conn_t *busy(en_net_t *net, const char *peer)
{
    en_conn_t *c = en_net_find(net, peer);
    return c && c->phase == EN_PH_UP && en_conn_unsent(c) >= net->busy_limit
               ? c
               : NULL;
}

int en_net_wait_room(en_net_t *net, const char *peer)
{
    en_conn_t *c = busy(net, peer);

    if (!c)
        return 0;
    if (!net->thread_on || pthread_equal(pthread_self(), net->thread)) {
        en_core_error(net->core,
                      "%s: %zu bytes wait to be written to it, over "
                      "dist_buf_busy_limit (%zu): run the loop, then send "
                      "again", peer, en_conn_unsent(c), net->busy_limit);
        return ENODE_EBUSY;
    }
    /* The connection is known by its serial: once it goes, it may be
     * freed, and another to the same peer is not the one we waited on. */
    uint64_t serial = c->serial;
    net->busy_waiters++;
    while ((c = busy(net, peer)) && c->serial == serial)
        pthread_cond_wait(&net->core->cond, &net->core->lock);
    net->busy_waiters--;
    c = en_net_find(net, peer);
    if (c && c->serial == serial && c->phase == EN_PH_UP)
        return 0;
    en_core_error(net->core, "%s: the connection was lost while the send "
                  "waited for its queue to drain", peer);
    return ENODE_ECONN;
}

int en_net_disconnect(en_net_t *net, const char *peer)
{
    en_conn_t *c = en_net_find(net, peer);

    if (!c)
        return ENODE_ENOTFOUND;
    en_conns_flush_corked(net); /* what was sent before goes first */
    en_conn_closed_by_us(c, "disconnected by the application");
    en_net_wake(net);
    return 0;
}

int en_net_connect_wait(en_net_t *net, const char *peer)
{
    int rc = en_net_connect_until(net, peer,
                                  en_now_ms() + net->setup_ms + 500);
    return rc == ENODE_ETIMEOUT ? ENODE_ECONN : rc;
}

int en_net_connect_until(en_net_t *net, const char *peer, uint64_t until)
{
    uint64_t started = en_now_ms();
    en_conn_t *c;

    net->last_conn_code = 0;
    c = en_net_get(net, peer);
    while (c && en_now_ms() < until) {
        c = en_net_find(net, peer);
        if (!c || c->phase == EN_PH_UP)
            break;
        en_net_wait_locked(net, until);
    }
    c = en_net_find(net, peer);
    if (c && c->phase == EN_PH_UP)
        return 0;
    if (net->last_conn_code < 0)
        return net->last_conn_code;
    if (c) {
        en_core_error(net->core, "%s: connection not up after %llu ms", peer,
                      (unsigned long long)(en_now_ms() - started));
        return ENODE_ETIMEOUT;
    }
    return ENODE_ECONN;
}

void en_net_each_peer(en_net_t *net, en_peer_fn fn, void *ud)
{
    for (en_conn_t *c = net->conns; c; c = c->next)
        if (c->phase == EN_PH_UP)
            fn(ud, c->peer, (c->flags & EN_DFLAG_PUBLISHED) != 0);
}
