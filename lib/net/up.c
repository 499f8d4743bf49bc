/* up.c - a connection that is up: reading and dispatching its packets,
 * writing its queue, ticks, and corking bursts of small packets into few
 * large writes.
 */
#include "net/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "proto/dflags.h"
#include "proto/framing.h"

/* Bytes to gather before decoding them. */
#define EN_READ_BATCH (48 * 1024)

/* Hand every whole packet at the front of b to the dispatcher, and drop
 * them from b. */
static void take_packets(en_conn_t *c, en_buf_t *b)
{
    size_t used = 0;

    if (b->len == 0)
        return; /* and b->data may be NULL */

    while (c->phase == EN_PH_UP) {
        /* A message may come whole or in fragments; either way its
         * packets are bounded by the node's maximum message size. */
        size_t limit = c->net->max_message + 64;
        long plen = en_frame_next(b->data + used, b->len - used, limit);
        if (plen == 0)
            break;
        if (plen < 0) {
            en_conn_fail(c, ENODE_ECONN,
                         "the peer sent a message over the %zu-byte limit "
                         "(max_message_size)", c->net->max_message);
            return;
        }
        if (plen > 4)
            en_wire_receive(c, b->data + used + 4, (size_t)plen - 4);
        used += (size_t)plen;
    }
    en_buf_consume(b, used);
}

/* Read until the socket is drained, or about EN_READ_BATCH is in b. */
static enum en_io read_batch(en_conn_t *c, en_buf_t *b, char *err,
                             size_t errlen)
{
    size_t start = b->len;
    enum en_io io;

    do
        io = en_conn_read_into(c, b, err, errlen);
    while (io == EN_IO_DONE && !c->drained && b->len - start < EN_READ_BATCH);
    return io;
}

/* Read and dispatch all there is. Reads go to c->in while it holds part
 * of a packet, else to the node's buffer, where most packets are decoded
 * right where TLS decrypted them; what is left of a packet there moves to
 * c->in. So an idle connection keeps no input buffer. Reading goes on
 * until the socket is drained, because TLS may hold decrypted records
 * that a level-triggered epoll would never report again. -1 if c failed. */
static int read_all(en_conn_t *c)
{
    en_buf_t *shared = &c->net->rx;
    char err[256];

    for (;;) {
        en_buf_t *b = c->in.len ? &c->in : shared;
        enum en_io io = read_batch(c, b, err, sizeof err);
        take_packets(c, b);
        if (b == shared) {
            if (c->phase == EN_PH_UP &&
                en_buf_append(&c->in, shared->data, shared->len) < 0)
                en_conn_fail(c, ENODE_ENOMEM, "out of memory");
            en_buf_reset(shared);
        }
        if (c->phase != EN_PH_UP)
            return -1;
        if (io == EN_IO_EOF) {
            en_conn_closed_by_peer(c, err);
            return -1;
        }
        if (io == EN_IO_ERROR) {
            en_conn_fail(c, ENODE_ECONN, "%s", err);
            return -1;
        }
        if (io != EN_IO_DONE || c->drained)
            break;
    }
    if (c->in.len == 0)
        en_buf_free(&c->in);
    return 0;
}

/* Readable or writable while up: read all there is, then write. */
void en_up_on_event(en_conn_t *c, uint32_t events)
{
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR) || c->tls_wants_write) &&
        read_all(c) < 0)
        return;
    if (en_conn_flush(c) == 0)
        en_conn_update_watch(c);
}

void en_conn_up(en_conn_t *c)
{
    en_net_t *net = c->net;
    char tls[128] = "plain TCP";

    c->flags = c->hs->flags;
    c->peer_creation = c->hs->peer_creation;
    snprintf(c->peer, sizeof c->peer, "%s", c->hs->peer_name);
    free(c->hs);
    c->hs = NULL;
    c->phase = EN_PH_UP;
    en_ticker_init(&c->ticker, net->ticktime_ms, en_now_ms());
    if (c->ssl)
        en_tls_describe(c->ssl, tls, sizeof tls);
    en_core_log(net->core, ENODE_LOG_INFO, "connected %s %s (%s, %s)",
           c->initiator ? "to" : "from", c->peer, tls,
           (c->flags & EN_DFLAG_PUBLISHED) ? "visible" : "hidden");
    /* Messages sent while connecting go first, in order, and in the
     * form the peer now expects. */
    en_wire_adopt_pending(c);
    en_net_unbar(net, c->peer);
    en_core_broadcast(net->core);
    net->hooks.node_up(net->hooks.ud, c->peer,
                       (c->flags & EN_DFLAG_PUBLISHED) != 0);
    take_packets(c, &c->in); /* what came right behind the handshake */
    if (c->in.len == 0)
        en_buf_free(&c->in);
    en_conn_kick(c);
}

/* Corking. A packet for a connection that is up goes out at once when it
 * is the first since the loop's last turn: a lone request or reply loses
 * no time. The ones that follow it wait for the loop's next turn (woken
 * if need be, once per burst), or for a TLS record's worth, so that a
 * burst of small messages shares a few records and system calls. */
static void cork(en_conn_t *c)
{
    en_net_t *net = c->net;

    if (c->corked)
        return;
    c->corked = 1;
    if (!net->corked) {
        net->corked = 1;
        if (!net->in_loop)
            en_net_wake(net);
    }
}

void en_conns_flush_corked(en_net_t *net)
{
    if (!net->corked && !net->bursting)
        return;
    net->corked = 0;
    net->bursting = 0;
    for (en_conn_t *c = net->conns; c; c = c->next) {
        c->bursting = 0;
        if (!c->corked)
            continue;
        c->corked = 0;
        if (c->phase == EN_PH_UP && en_conn_flush(c) == 0)
            en_conn_update_watch(c);
    }
}

void en_conn_kick(en_conn_t *c)
{
    en_net_t *net = c->net;

    if (c->phase == EN_PH_DEAD || c->fd < 0)
        return;
    if (c->phase == EN_PH_UP && en_conn_unsent(c) < EN_TLS_WRITE_CHUNK) {
        if (c->bursting || c->corked || net->in_loop) {
            cork(c);
            return;
        }
        c->bursting = 1;
        net->bursting = 1;
    }
    /* Before the distribution handshake the connection's own bytes go
     * out as its steps decide: the EPMD request once the connect is
     * through, TLS records from wolfSSL. */
    if (c->phase != EN_PH_EPMD && c->phase != EN_PH_CONNECT &&
        c->phase != EN_PH_TLS && en_conn_flush(c) < 0)
        return;
    en_conn_update_watch(c);
}

void en_up_on_timer(en_conn_t *c, uint64_t now)
{
    switch (en_ticker_check(&c->ticker, now)) {
    case EN_TICK_SEND:
        /* Nothing went out for a while: the output buffer, sized for
         * the largest burst so far, goes too, so that an idle connection
         * holds only the few bytes of its ticks. */
        if (en_conn_unsent(c) == 0) {
            en_buf_free(&c->out);
            c->out_sent = 0;
            if (en_frame_put_tick(&c->out) == 0)
                en_conn_kick(c);
        }
        break;
    case EN_TICK_TIMEOUT:
        en_conn_fail(c, ENODE_ETIMEOUT,
                     "nothing received for %u s (net_ticktime)",
                     c->net->ticktime_ms / 1000);
        break;
    default:
        break;
    }
}
