/* event.c - what a connection does when its socket is ready or its time
 * is up, whatever its phase, and the connections the listening socket
 * brings.
 */
#include "net/conn.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static void on_event(en_conn_t *c, uint32_t events)
{
    if (c->phase == EN_PH_UP)
        en_up_on_event(c, events);
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
            en_hs_timed_out(c->hs, c->net->setup_ms);
            en_conn_fail(c, ENODE_ETIMEOUT, "%s", c->hs->errmsg);
        } else
            en_conn_fail(c, ENODE_ETIMEOUT,
                         "%s took longer than %u ms (net_setuptime)%s",
                         en_phase_name(c->phase), c->net->setup_ms,
                         unanswered_hello(c)
                             ? ": no answer at all to our ClientHello; does "
                               "the peer speak plain TCP distribution "
                               "(inet_tcp_dist)?"
                             : "");
        return;
    }
    en_up_on_timer(c, now);
}

void en_conn_accept(en_net_t *net)
{
    for (;;) {
        en_addr_t peer;
        char a[80];
        int fd = en_sock_accept(net->lfd, &peer);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                en_core_log(net->core, ENODE_LOG_WARNING, "accept: %s", strerror(errno));
            return;
        }
        en_conn_t *c = en_conn_new(net, 0);
        if (!c) {
            en_core_log(net->core, ENODE_LOG_ERROR, "out of memory: refused a connection");
            close(fd);
            continue;
        }
        c->fd = fd;
        c->addr = peer;
        en_core_log(net->core, ENODE_LOG_DEBUG, "connection from %s",
               en_addr_str(&peer, a, sizeof a));
        if (net->proto == ENODE_PROTO_TLS) {
            char err[256];
            c->ssl = en_tls_session(net->tls_server, fd, 0, NULL, NULL,
                                    &net->tls_rx, err, sizeof err);
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

void en_conns_crl_resume(en_net_t *net)
{
    for (en_conn_t *c = net->conns; c; c = c->next) {
        if (!c->crl_wait || c->phase != EN_PH_TLS ||
            en_tls_crl_waiting(c->ssl))
            continue;
        en_setup_crl_resume(c);
        if (c->phase != EN_PH_DEAD)
            en_conn_end_turn(c); /* what the peer sent meanwhile */
    }
}
