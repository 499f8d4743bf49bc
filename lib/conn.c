/* conn.c - one connection to another node, from first byte to close.
 *
 * A connection walks through phases: (initiator) ask the peer's EPMD for
 * its port, TCP connect; then TLS when the node speaks TLS; then the
 * distribution handshake (handshake.c); then it is up and carries framed
 * packets (framing.c) with ticks (ticker.c). Every phase is driven by
 * socket readiness and by the set-up deadline, never by blocking.
 */
#include "node_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dflags.h"
#include "epmd_codec.h"
#include "framing.h"

/* Room to leave for each read: a whole TLS record's plaintext. */
#define EN_READ_CHUNK (17 * 1024)
/* Bytes to gather before decoding them. */
#define EN_READ_BATCH (48 * 1024)
/* An idle connection keeps buffers up to this size; a large message's
 * buffer is given back once it is through, so idle nodes stay small. */
#define EN_IDLE_BUF_MAX (256 * 1024)
/* TLS records carry at most 16 KiB: hand TLS one record's worth a time. */
#define EN_TLS_WRITE_CHUNK 16384

const char *en_phase_name(en_phase_t p)
{
    static const char *names[] = {"EPMD port lookup", "TCP connect",
                                  "TLS handshake", "distribution handshake",
                                  "up", "waiting for the peer", "closed"};
    return names[p];
}

/* The connection to peer: one that is up if there is one, else one being
 * set up (while a replacement is being accepted, both exist). */
en_conn_t *en_conn_find(enode_t *n, const char *peer)
{
    en_conn_t *setting_up = NULL;

    for (en_conn_t *c = n->conns; c; c = c->next) {
        if (c->phase == EN_PH_DEAD || strcmp(c->peer, peer) != 0)
            continue;
        if (c->phase == EN_PH_UP)
            return c;
        if (!setting_up)
            setting_up = c;
    }
    return setting_up;
}

/* Register, change or drop the epoll interest for c's fd. */
static void watch(en_conn_t *c, uint32_t events)
{
    struct epoll_event ev;

    if (c->fd < 0 || events == c->events)
        return;
    ev.events = events;
    ev.data.ptr = c;
    if (c->events == 0)
        epoll_ctl(c->node->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    else if (events == 0)
        epoll_ctl(c->node->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    else
        epoll_ctl(c->node->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

/* What the fd must be watched for, given the phase and the queues. */
void en_conn_update_watch(en_conn_t *c)
{
    uint32_t ev = EPOLLIN;

    if (c->phase == EN_PH_CONNECT)
        ev = EPOLLOUT;
    else if (en_conn_unsent(c) > 0 || c->tls_inflight > 0 || c->tls_wants_write)
        ev |= EPOLLOUT;
    watch(c, ev);
}

void en_conn_close_transport(en_conn_t *c)
{
    watch(c, 0);
    if (c->ssl) {
        en_tls_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->events = 0;
    c->tls_inflight = 0;
}

/* The end of c, for the reason `why`; a connection that was up is
 * logged at `up_level`. */
static void conn_end(en_conn_t *c, int code, int up_level, const char *why)
{
    enode_t *n = c->node;

    if (c->phase == EN_PH_UP) {
        en_log(n, up_level, "connection to %s %s: %s", c->peer,
               up_level == ENODE_LOG_INFO ? "closed" : "lost", why);
    } else {
        char who[EN_HS_NAME_MAX + 80];
        if (c->peer[0])
            snprintf(who, sizeof who, "%s", c->peer);
        else
            en_addr_str(&c->addr, who, sizeof who);
        en_log(n, ENODE_LOG_WARNING, "connection %s %s failed in %s: %s",
               c->initiator ? "to" : "from", who, en_phase_name(c->phase),
               why);
    }
    en_set_error(n, "%s%s%s", c->peer[0] ? c->peer : "", c->peer[0] ? ": " : "",
                 why);
    n->last_conn_code = code;
    c->fail_code = code;
    if (c->pending.len > 0)
        en_log(n, ENODE_LOG_WARNING, "dropped %zu bytes of messages queued for %s",
               c->pending.len, c->peer);
    int was_up = c->phase == EN_PH_UP;
    en_conn_close_transport(c);
    c->phase = EN_PH_DEAD;
    /* Links and monitors across it fire, unless another connection to
     * the same node carries on (a replacement, a simultaneous connect). */
    if (c->peer[0] && !en_conn_find(n, c->peer) && (was_up || c->initiator))
        en_signal_node_down(n, c->peer, was_up);
    pthread_cond_broadcast(&n->cond);
}

void en_conn_fail(en_conn_t *c, int code, const char *fmt, ...)
{
    char why[512];
    va_list ap;

    if (c->phase == EN_PH_DEAD)
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    conn_end(c, code, ENODE_LOG_WARNING, why);
}

/* The peer closed a connection that was up, as nodes do when they
 * disconnect or stop: news, not trouble (info, not a warning). */
static void closed_by_peer(en_conn_t *c, const char *why)
{
    if (c->phase != EN_PH_DEAD)
        conn_end(c, ENODE_ECONN, ENODE_LOG_INFO, why);
}

void en_conn_free(en_conn_t *c)
{
    en_conn_close_transport(c);
    en_buf_free(&c->in);
    en_buf_free(&c->out);
    en_buf_free(&c->pending);
    en_frag_free(&c->frags);
    free(c->hs);
    free(c);
}

en_conn_t *en_conn_new(enode_t *n, int initiator)
{
    en_conn_t *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->node = n;
    c->initiator = initiator;
    c->fd = -1;
    c->deadline_ms = en_now_ms() + n->setup_ms;
    en_frag_init(&c->frags, n->max_message);
    c->next = n->conns;
    n->conns = c;
    return c;
}

en_buf_t *en_conn_sendbuf(en_conn_t *c)
{
    return c->phase == EN_PH_UP ? &c->out : &c->pending;
}

/* ---- reading and writing, over TLS or plain TCP --------------------------- */

/* Read what is there into b, as much as fits in its spare room (at least
 * EN_READ_CHUNK). EN_IO_WANT_READ when drained. */
static enum en_io read_into(en_conn_t *c, en_buf_t *b, char *err,
                            size_t errlen)
{
    size_t got = 0;

    if (en_buf_reserve(b, EN_READ_CHUNK) < 0) {
        snprintf(err, errlen, "out of memory");
        return EN_IO_ERROR;
    }
    size_t room = b->cap - b->len;
    if (c->ssl) {
        enum en_io io = en_tls_read(c->ssl, b->data + b->len, room, &got,
                                    err, errlen);
        c->tls_wants_write = io == EN_IO_WANT_WRITE;
        if (io != EN_IO_DONE)
            return io;
        c->drained = en_tls_rx_drained(c->ssl) && !wolfSSL_pending(c->ssl);
    } else {
        ssize_t r = read(c->fd, b->data + b->len, room);
        if (r == 0) {
            snprintf(err, errlen, "the peer closed the connection");
            return EN_IO_EOF;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return EN_IO_WANT_READ;
            snprintf(err, errlen, "read: %s", strerror(errno));
            return EN_IO_ERROR;
        }
        got = (size_t)r;
        c->drained = got < room;
    }
    b->len += got;
    if (c->phase == EN_PH_UP)
        en_ticker_on_read(&c->ticker, en_now_ms());
    return EN_IO_DONE;
}

enum en_io en_conn_read(en_conn_t *c, char *err, size_t errlen)
{
    return read_into(c, &c->in, err, errlen);
}

/* One write from the unsent part of c->out: under TLS at most a record's
 * worth, repeating the exact length of a write TLS could not finish. */
static enum en_io write_some(en_conn_t *c, size_t *n, char *err,
                             size_t errlen)
{
    const uint8_t *from = c->out.data + c->out_sent;
    size_t unsent = en_conn_unsent(c);

    if (c->ssl) {
        size_t len = c->tls_inflight;
        if (len == 0)
            len = unsent < EN_TLS_WRITE_CHUNK ? unsent : EN_TLS_WRITE_CHUNK;
        enum en_io io = en_tls_write(c->ssl, from, len, n, err, errlen);
        c->tls_inflight = io == EN_IO_WANT_WRITE ? len : 0;
        return io;
    }
    /* MSG_NOSIGNAL: a peer that went must not kill the host with SIGPIPE */
    ssize_t w = send(c->fd, from, unsent, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return EN_IO_WANT_WRITE;
        snprintf(err, errlen, "write: %s", strerror(errno));
        return EN_IO_ERROR;
    }
    *n = (size_t)w;
    return EN_IO_DONE;
}

/* Drop what was written from the front of c->out: at once when all of it
 * went, else only once the written part outweighs the rest, so that a
 * large queue is not moved once per record. */
static void compact_out(en_conn_t *c)
{
    if (c->out_sent == c->out.len) {
        if (c->out.cap > EN_IDLE_BUF_MAX)
            en_buf_free(&c->out);
        en_buf_reset(&c->out);
        c->out_sent = 0;
        c->out_checked = 0;
    } else if (c->out_sent > (1u << 20) && c->out_sent > c->out.len / 2) {
        en_buf_consume(&c->out, c->out_sent);
        c->out_checked -= c->out_sent;
        c->out_sent = 0;
    }
}

/* Write as much of c->out as the socket takes. -1 if the connection
 * failed (c is then dead). */
int en_conn_flush(en_conn_t *c)
{
    char err[256];

    if (c->phase == EN_PH_UP && en_wire_split_new(c) < 0) {
        en_conn_fail(c, ENODE_ENOMEM, "out of memory splitting a message");
        return -1;
    }
    while (en_conn_unsent(c) > 0) {
        size_t n = 0;
        enum en_io io = write_some(c, &n, err, sizeof err);
        if (io == EN_IO_WANT_WRITE || io == EN_IO_WANT_READ)
            break;
        if (io != EN_IO_DONE) {
            en_conn_fail(c, ENODE_ECONN, "%s", err);
            return -1;
        }
        c->out_sent += n;
        if (c->phase == EN_PH_UP)
            en_ticker_on_write(&c->ticker, en_now_ms());
    }
    compact_out(c);
    return 0;
}

/* Corking. A packet for a connection that is up goes out at once when it
 * is the first since the loop's last turn: a lone request or reply loses
 * no time. The ones that follow it wait for the loop's next turn (woken
 * if need be, once per burst), or for a TLS record's worth, so that a
 * burst of small messages shares a few records and system calls. */
static void cork(en_conn_t *c)
{
    enode_t *n = c->node;

    if (c->corked)
        return;
    c->corked = 1;
    if (!n->corked) {
        n->corked = 1;
        if (!n->in_loop)
            en_wake(n);
    }
}

void en_conns_flush_corked(enode_t *n)
{
    if (!n->corked && !n->bursting)
        return;
    n->corked = 0;
    n->bursting = 0;
    for (en_conn_t *c = n->conns; c; c = c->next) {
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
    enode_t *n = c->node;

    if (c->phase == EN_PH_DEAD || c->fd < 0)
        return;
    if (c->phase == EN_PH_UP && en_conn_unsent(c) < EN_TLS_WRITE_CHUNK) {
        if (c->bursting || c->corked || n->in_loop) {
            cork(c);
            return;
        }
        c->bursting = 1;
        n->bursting = 1;
    }
    /* Before the distribution handshake the connection's own bytes go
     * out as its steps decide: the EPMD request once the connect is
     * through, TLS records from wolfSSL. */
    if (c->phase != EN_PH_EPMD && c->phase != EN_PH_CONNECT &&
        c->phase != EN_PH_TLS && en_conn_flush(c) < 0)
        return;
    en_conn_update_watch(c);
}


/* ---- connections that are up -------------------------------------------- */

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
        size_t limit = c->node->max_message + 64;
        long plen = en_frame_next(b->data + used, b->len - used, limit);
        if (plen == 0)
            break;
        if (plen < 0) {
            en_conn_fail(c, ENODE_ECONN,
                         "the peer sent a message over the %zu-byte limit "
                         "(max_message_size)", c->node->max_message);
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
        io = read_into(c, b, err, errlen);
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
    en_buf_t *shared = &c->node->rx;
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
            closed_by_peer(c, err);
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
static void up_on_event(en_conn_t *c, uint32_t events)
{
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR) || c->tls_wants_write) &&
        read_all(c) < 0)
        return;
    if (en_conn_flush(c) == 0)
        en_conn_update_watch(c);
}

void en_conn_up(en_conn_t *c)
{
    enode_t *n = c->node;
    char tls[128] = "plain TCP";

    c->flags = c->hs->flags;
    c->peer_creation = c->hs->peer_creation;
    snprintf(c->peer, sizeof c->peer, "%s", c->hs->peer_name);
    free(c->hs);
    c->hs = NULL;
    c->phase = EN_PH_UP;
    en_ticker_init(&c->ticker, n->ticktime_ms, en_now_ms());
    if (c->ssl)
        en_tls_describe(c->ssl, tls, sizeof tls);
    en_log(n, ENODE_LOG_INFO, "connected %s %s (%s, %s)",
           c->initiator ? "to" : "from", c->peer, tls,
           (c->flags & EN_DFLAG_PUBLISHED) ? "visible" : "hidden");
    /* Messages sent while connecting go first, in order, and in the
     * form the peer now expects. */
    c->out_checked = c->out.len; /* handshake bytes are not packets */
    if (en_wire_adopt_pending(c) < 0) {
        en_conn_fail(c, ENODE_ENOMEM, "cannot queue the pending messages");
        return;
    }
    pthread_cond_broadcast(&n->cond);
    en_signal_node_up(n, c->peer);
    take_packets(c, &c->in); /* what came right behind the handshake */
    if (c->in.len == 0)
        en_buf_free(&c->in);
    en_conn_kick(c);
}

static void on_event(en_conn_t *c, uint32_t events)
{
    if (c->phase == EN_PH_UP)
        up_on_event(c, events);
    else
        en_setup_on_event(c, events);
}

/* The event is handled. Bytes TLS read ahead are invisible to epoll: when
 * a phase ended with some unread (the peer's first packets right behind
 * its last handshake record), the next phase reads them now. Then the
 * node's TLS receive buffer goes back. */
void en_conn_end_turn(en_conn_t *c)
{
    for (int turns = 0; c->ssl && turns < 4 && en_tls_rx_unread(c->ssl);
         turns++) {
        en_phase_t phase = c->phase;
        on_event(c, EPOLLIN);
        if (c->phase == phase || c->phase == EN_PH_DEAD)
            break; /* read all it would, or cannot read in this phase */
    }
    if (c->ssl && en_tls_rx_yield(c->ssl) < 0)
        en_conn_fail(c, ENODE_ENOMEM, "out of memory keeping TLS input");
}

void en_conn_on_event(en_conn_t *c, uint32_t events)
{
    if (c->phase == EN_PH_DEAD)
        return;
    on_event(c, events);
    en_conn_end_turn(c);
}

uint64_t en_conn_deadline(const en_conn_t *c)
{
    if (c->phase == EN_PH_DEAD)
        return UINT64_MAX;
    if (c->phase == EN_PH_UP)
        return en_ticker_next_deadline(&c->ticker);
    return c->deadline_ms;
}

/* A TLS client that has heard nothing from the server: a plain TCP
 * acceptor waits for the rest of what it takes for a name message. */
static int unanswered_hello(en_conn_t *c)
{
    return c->phase == EN_PH_TLS && c->initiator && c->ssl &&
           en_tls_rx_first_byte(c->ssl) < 0;
}

void en_conn_on_timer(en_conn_t *c, uint64_t now)
{
    if (c->phase == EN_PH_DEAD)
        return;
    if (c->phase != EN_PH_UP) {
        if (now < c->deadline_ms)
            return;
        if (c->phase == EN_PH_WAIT_PEER)
            en_conn_fail(c, ENODE_ECONN,
                         "the peer won a simultaneous connect but never "
                         "connected back");
        else if (c->phase == EN_PH_HANDSHAKE) {
            en_hs_timed_out(c->hs, c->node->setup_ms);
            en_conn_fail(c, ENODE_ETIMEOUT, "%s", c->hs->errmsg);
        } else
            en_conn_fail(c, ENODE_ETIMEOUT,
                         "%s took longer than %u ms (net_setuptime)%s",
                         en_phase_name(c->phase), c->node->setup_ms,
                         unanswered_hello(c)
                             ? ": no answer at all to our ClientHello; does "
                               "the peer speak plain TCP distribution "
                               "(inet_tcp_dist)?"
                             : "");
        return;
    }
    switch (en_ticker_check(&c->ticker, now)) {
    case EN_TICK_SEND:
        if (en_conn_unsent(c) == 0 && en_frame_put_tick(&c->out) == 0)
            en_conn_kick(c);
        break;
    case EN_TICK_TIMEOUT:
        en_conn_fail(c, ENODE_ETIMEOUT,
                     "nothing received for %u s (net_ticktime)",
                     c->node->ticktime_ms / 1000);
        break;
    default:
        break;
    }
}

/* ---- new connections ------------------------------------------------------- */

en_conn_t *en_conn_get(enode_t *n, const char *peer)
{
    char alive[EN_NODE_NAME_MAX + 1], host[EN_NODE_NAME_MAX + 1];
    en_conn_t *c = en_conn_find(n, peer);

    char why[200];

    if (c)
        return c;
    if (en_name_too_long("node name", peer, why, sizeof why)) {
        en_set_error(n, "%s", why);
        return NULL;
    }
    if (strlen(peer) > EN_NODE_NAME_MAX) {
        en_set_error(n, "node name '%.40s...' is too long: %zu bytes of "
                     "UTF-8, and enode keeps at most %d", peer, strlen(peer),
                     EN_NODE_NAME_MAX);
        return NULL;
    }
    if (en_node_split(peer, alive, sizeof alive, host, sizeof host) < 0) {
        en_set_error(n, "'%s' is not a node name (alive@host)", peer);
        return NULL;
    }
    c = en_conn_new(n, 1);
    if (!c) {
        en_set_error(n, "out of memory");
        return NULL;
    }
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    snprintf(c->peer_host, sizeof c->peer_host, "%s", host);
    en_dial_start(c);
    en_wake(n); /* the loop must learn the new deadline */
    return c;
}

void en_conn_accept(enode_t *n)
{
    for (;;) {
        en_addr_t peer;
        char a[80];
        int fd = en_sock_accept(n->lfd, &peer);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                en_log(n, ENODE_LOG_WARNING, "accept: %s", strerror(errno));
            return;
        }
        en_conn_t *c = en_conn_new(n, 0);
        if (!c) {
            en_log(n, ENODE_LOG_ERROR, "out of memory: refused a connection");
            close(fd);
            continue;
        }
        c->fd = fd;
        c->addr = peer;
        en_log(n, ENODE_LOG_DEBUG, "connection from %s",
               en_addr_str(&peer, a, sizeof a));
        if (n->proto == ENODE_PROTO_TLS) {
            char err[256];
            c->ssl = en_tls_session(n->tls_server, fd, 0, NULL, NULL,
                                    &n->tls_rx, err, sizeof err);
            if (!c->ssl) {
                en_conn_fail(c, ENODE_ETLS, "%s", err);
                continue;
            }
            c->phase = EN_PH_TLS;
            en_setup_on_event(c, EPOLLIN);
            en_conn_end_turn(c);
        } else {
            en_setup_start_handshake(c);
        }
    }
}
