/* conn.c - one connection to another node, from first byte to close.
 *
 * A connection walks through phases (conn.h); dial.c drives the ones
 * before it is up, this file reads and writes it once it is, with ticks
 * (proto/ticker.c). Every phase is driven by socket readiness and by the
 * set-up deadline, never by blocking.
 */
#include "net/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/dflags.h"
#include "proto/epmd_codec.h"
#include "proto/framing.h"

/* Room to leave for each read: a whole TLS record's plaintext. */
#define EN_READ_CHUNK (17 * 1024)
/* An idle connection keeps buffers up to this size; a large message's
 * buffer is given back once it is through, so idle nodes stay small. */
#define EN_IDLE_BUF_MAX (256 * 1024)

const char *en_phase_name(en_phase_t p)
{
    static const char *names[] = {"EPMD port lookup", "TCP connect",
                                  "TLS handshake", "distribution handshake",
                                  "up", "waiting for the peer", "closed"};
    return names[p];
}

/* The connection to peer: one that is up if there is one, else one being
 * set up (while a replacement is being accepted, both exist). */
en_conn_t *en_net_find(en_net_t *net, const char *peer)
{
    en_conn_t *setting_up = NULL;

    for (en_conn_t *c = net->conns; c; c = c->next) {
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
        epoll_ctl(c->net->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    else if (events == 0)
        epoll_ctl(c->net->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    else
        epoll_ctl(c->net->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

/* What the fd must be watched for, given the phase and the queues. */
void en_conn_update_watch(en_conn_t *c)
{
    uint32_t ev = EPOLLIN;

    if (c->crl_wait)
        ev = 0; /* nothing is read or written until the CRLs are in */
    else if (c->phase == EN_PH_CONNECT)
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

/* Whether the links and monitors across dead c stay, because another
 * connection carries on with the node. A connection that was up is the
 * node's only one that is up: when it goes, even for a new connection
 * that replaces it (a restarted peer, "alive"), its links and monitors
 * fire and the node is down, as in OTP, where the old connection's
 * controller exits before the new one is marked up (net_kernel.erl,
 * up_pending). An attempt that never came up leaves them to the other
 * attempt of a simultaneous connect; an acceptor's failure tells nothing
 * either way. */
static int carried_on(const en_conn_t *c, int was_up)
{
    en_conn_t *other = en_net_find(c->net, c->peer);

    if (was_up)
        return other && other->phase == EN_PH_UP;
    return other != NULL || !c->initiator;
}

/* The end of c, for the reason `why`; a connection that was up is
 * logged at `up_level`. */
static void conn_end(en_conn_t *c, int code, int up_level, const char *why)
{
    en_net_t *net = c->net;

    if (c->phase == EN_PH_UP) {
        en_core_log(net->core, up_level, "connection to %s %s: %s", c->peer,
                    up_level == ENODE_LOG_INFO ? "closed" : "lost", why);
    } else {
        char who[EN_HS_NAME_MAX + 80];
        if (c->peer[0])
            snprintf(who, sizeof who, "%s", c->peer);
        else
            en_addr_str(&c->addr, who, sizeof who);
        en_core_log(net->core, ENODE_LOG_WARNING,
                    "connection %s %s failed in %s: %s",
                    c->initiator ? "to" : "from", who,
                    en_phase_name(c->phase), why);
    }
    en_core_error(net->core, "%s%s%s", c->peer[0] ? c->peer : "",
                  c->peer[0] ? ": " : "", why);
    net->last_conn_code = code;
    c->fail_code = code;
    if (c->pending.len > 0)
        en_core_log(net->core, ENODE_LOG_WARNING,
                    "dropped %zu bytes of messages queued for %s",
                    c->pending.len, c->peer);
    int was_up = c->phase == EN_PH_UP;
    en_conn_close_transport(c);
    c->phase = EN_PH_DEAD;
    if (c->peer[0] && !carried_on(c, was_up)) {
        if (was_up)
            en_net_bar(net, c->peer); /* dist_auto_connect once */
        net->hooks.node_down(net->hooks.ud, c->peer, was_up,
                             (c->flags & EN_DFLAG_PUBLISHED) != 0);
    }
    en_core_broadcast(net->core);
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

void en_conn_closed_by_peer(en_conn_t *c, const char *why)
{
    if (c->phase != EN_PH_DEAD)
        conn_end(c, ENODE_ECONN, ENODE_LOG_INFO, why);
}

void en_conn_closed_by_us(en_conn_t *c, const char *why)
{
    if (c->phase == EN_PH_UP)
        conn_end(c, ENODE_ECLOSED, ENODE_LOG_INFO, why);
    else if (c->phase != EN_PH_DEAD)
        en_conn_fail(c, ENODE_ECLOSED, "%s", why);
}

void en_conn_free(en_conn_t *c)
{
    en_conn_close_transport(c);
    en_buf_free(&c->in);
    en_buf_free(&c->out);
    en_buf_free(&c->pending);
    en_frag_free(&c->frags);
    free(c->hs);
    if (c->cert_allowed) {
        en_allow_free(c->cert_allowed);
        free(c->cert_allowed);
    }
    free(c);
}

en_conn_t *en_conn_new(en_net_t *net, int initiator)
{
    en_conn_t *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->net = net;
    c->initiator = initiator;
    c->fd = -1;
    c->deadline_ms = en_now_ms() + net->setup_ms;
    c->serial = ++net->conn_serial;
    en_frag_init(&c->frags, net->max_message);
    en_frag_set_max_sequences(&c->frags, net->max_fragmented);
    c->next = net->conns;
    net->conns = c;
    return c;
}

en_buf_t *en_conn_sendbuf(en_conn_t *c)
{
    return c->phase == EN_PH_UP ? &c->out : &c->pending;
}

/* ---- reading and writing, over TLS or plain TCP --------------------------- */

/* Read what is there into b, as much as fits in its spare room (at least
 * EN_READ_CHUNK). EN_IO_WANT_READ when drained. */
enum en_io en_conn_read_into(en_conn_t *c, en_buf_t *b, char *err,
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
    if (c->phase == EN_PH_UP) {
        en_ticker_on_read(&c->ticker, en_now_ms());
        c->net->rx_turn = 1;
    }
    return EN_IO_DONE;
}

enum en_io en_conn_read(en_conn_t *c, char *err, size_t errlen)
{
    return en_conn_read_into(c, &c->in, err, errlen);
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
    } else if (c->out_sent > (1u << 20) && c->out_sent > c->out.len / 2) {
        en_buf_consume(&c->out, c->out_sent);
        c->out_sent = 0;
    }
}

/* Write as much of c->out as the socket takes. -1 if the connection
 * failed (c is then dead). */
int en_conn_flush(en_conn_t *c)
{
    char err[256];

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
    /* Senders waiting for the queue to drain (en_net_wait_room). */
    if (c->net->busy_waiters && en_conn_unsent(c) < c->net->busy_limit)
        en_core_broadcast(c->net->core);
    compact_out(c);
    return 0;
}

void en_net_wake(en_net_t *net)
{
    uint64_t one = 1;
    if (write(net->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
        en_core_log(net->core, ENODE_LOG_WARNING,
                    "cannot wake the loop: %s", strerror(errno));
}
