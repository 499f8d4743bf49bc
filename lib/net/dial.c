/* dial.c - getting a connection up: EPMD port lookup, TCP connect, TLS,
 * and the distribution handshake (both roles).
 *
 * The simultaneous-connect rules live here too: when a peer connects to us
 * while we are dialling it, OTP keeps the attempt of the node with the
 * greater name (doc/internals.md section 5), and the messages queued on the
 * losing attempt move to the winning one.
 */
#include "net/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/epmd_codec.h"
#include "tls/tls_chain.h"
#include "tls/tls_rx.h"

/* ---- TCP and TLS ------------------------------------------------------- */

static void start_tls(en_conn_t *c)
{
    en_net_t *net = c->net;
    const en_tls_side_t *side = &net->tlsconf.client;
    char err[256];
    const char *sni = c->peer_host, *verify_host = NULL;

    /* As OTP's ssl: the SNI option names the host to check, and
     * {server_name_indication, disable} sends none and checks none. */
    if (side->sni_disable)
        sni = NULL;
    else if (side->sni_host)
        sni = side->sni_host;
    if (en_tls_side_verifies(side) && !side->sni_disable)
        verify_host = sni;
    c->ssl = en_tls_session(net->tls_client, c->fd, 1, sni, verify_host,
                            &net->tls_rx, err, sizeof err);
    if (!c->ssl) {
        en_conn_fail(c, ENODE_ETLS, "%s", err);
        return;
    }
    c->phase = EN_PH_TLS;
    /* Within the connect event: its end of turn reads what TLS read
     * ahead. */
    en_setup_on_event(c, 0);
}

static void connect_to(en_conn_t *c, uint16_t port)
{
    en_net_t *net = c->net;
    char err[256];

    if (en_sock_resolve(c->peer_host, port, net->ipv6, &c->addr, err,
                        sizeof err) < 0) {
        en_conn_fail(c, ENODE_ECONN, "%s", err);
        return;
    }
    c->fd = en_sock_connect(&c->addr, err, sizeof err);
    if (c->fd < 0) {
        en_conn_fail(c, ENODE_ECONN, "%s", err);
        return;
    }
    c->phase = EN_PH_CONNECT;
    en_conn_update_watch(c);
}

static void on_connected(en_conn_t *c)
{
    char why[160], a[80];

    if (en_sock_connect_result(c->fd, why, sizeof why) < 0) {
        en_conn_fail(c, ENODE_ECONN, "cannot connect to %s: %s",
                     en_addr_str(&c->addr, a, sizeof a), why);
        return;
    }
    if (c->net->proto == ENODE_PROTO_TLS)
        start_tls(c);
    else
        en_setup_start_handshake(c);
}

/* Acceptor: a TLS connection starts with a handshake record (22), and
 * tls_rx refuses anything else before wolfSSL parses it. Such a peer is
 * told apart from a TLS failure, because the usual cause is a node using
 * plain TCP distribution. 1 if c failed so. */
static int refuse_not_tls(en_conn_t *c)
{
    int first = en_tls_rx_first_byte(c->ssl);

    if (c->initiator || first < 0 || first == 0x16)
        return 0;
    en_conn_fail(c, ENODE_ETLS,
                 "the peer does not speak TLS (its first byte is 0x%02x, not "
                 "a TLS handshake): a node using plain TCP distribution on "
                 "this TLS port?", first);
    return 1;
}

/* The application's verify callback, once the handshake is through.
 * 0 to go on; -1 if it refused the peer (c failed). */
static int app_verify(en_conn_t *c)
{
    en_net_t *net = c->net;
    en_tls_peer_t p;
    char addr[80], why[256] = "";

    if (!net->verify)
        return 0;
    if (en_tls_peer_info(c->ssl, &p) < 0) {
        en_conn_fail(c, ENODE_ETLS, "TLS %s: cannot read the peer's "
                     "certificate for the verify callback",
                     c->initiator ? "client" : "server");
        return -1;
    }
    enode_peer_cert_t cert = {
        .we_are_server = !c->initiator,
        .peer_addr = en_addr_str(&c->addr, addr, sizeof addr),
        .peer_node = c->initiator ? c->peer : NULL,
        .present = p.present,
        .preverify = p.verified,
        .sha256 = p.sha256,
        .subject = p.subject,
        .issuer = p.issuer,
    };
    if (net->verify(net->verify_user, &cert, why, sizeof why) == 0)
        return 0;
    why[sizeof why - 1] = '\0';
    en_conn_fail(c, ENODE_ETLS,
                 "TLS %s: the application's verify callback refused the "
                 "peer's certificate (%s%s, SHA-256 %s): %s",
                 c->initiator ? "client" : "server",
                 p.present ? "subject " : "no certificate",
                 p.present ? p.subject : "", p.present ? p.sha256 : "-",
                 why[0] ? why : "no reason given");
    return -1;
}

/* The TLS handshake is through: the CRLs fetched over HTTP (if it waited
 * for some), the verify_fun, the application's check; then the
 * distribution handshake. */
static void tls_done(en_conn_t *c)
{
    char why[700], warn[700];
    const char *role = c->initiator ? "TLS client" : "TLS server";

    if (en_tls_crl_verdict(c->ssl, why, sizeof why, warn, sizeof warn) < 0) {
        en_conn_fail(c, ENODE_ETLS, "%s: we refused the peer's certificate: "
                     "%s", role, why);
        return;
    }
    if (warn[0])
        en_core_log(c->net->core, ENODE_LOG_WARNING, "%s: %s%s%s", role,
                    warn, c->peer[0] ? ", peer " : "", c->peer);
    int passed = en_verify_fun_run(c) == 0 && app_verify(c) == 0 &&
                 en_allow_by_cert(c) == 0;
    en_tls_chain_forget(c->ssl); /* an idle connection keeps no chain */
    if (passed)
        en_setup_start_handshake(c);
}

static void tls_step(en_conn_t *c)
{
    char err[256];

    if (c->crl_wait)
        return; /* en_conns_crl_resume() goes on */
    enum en_io io = en_tls_handshake(c->ssl, err, sizeof err);

    c->tls_wants_write = io == EN_IO_WANT_WRITE;
    if (io != EN_IO_WANT_READ && io != EN_IO_WANT_WRITE)
        en_net_ecc_used(c->net);
    if (io == EN_IO_DONE && en_tls_crl_waiting(c->ssl)) {
        /* other connections go on meanwhile; the fetcher wakes the loop */
        c->crl_wait = 1;
        en_conn_update_watch(c);
    } else if (io == EN_IO_DONE) {
        tls_done(c);
    } else if (io == EN_IO_WANT_READ || io == EN_IO_WANT_WRITE)
        en_conn_update_watch(c);
    else if (!refuse_not_tls(c))
        en_conn_fail(c, ENODE_ETLS, "%s", err);
}

void en_setup_crl_resume(en_conn_t *c)
{
    c->crl_wait = 0;
    tls_done(c);
    if (c->phase != EN_PH_DEAD)
        en_conn_update_watch(c);
}

/* ---- EPMD port lookup ------------------------------------------------------ */

static void epmd_got_reply(en_conn_t *c, const struct en_epmd_node_info *info)
{
    char alive[EN_NODE_NAME_MAX + 1], host[EN_NODE_NAME_MAX + 1];

    en_conn_close_transport(c);
    en_buf_reset(&c->in);
    en_buf_reset(&c->out);
    c->out_sent = 0;
    if (info->result != 0) {
        en_node_split(c->peer, alive, sizeof alive, host, sizeof host);
        en_conn_fail(c, ENODE_ENOTFOUND,
                     "no node '%s' is registered with EPMD on %s", alive,
                     host);
        return;
    }
    if (info->high < 6) {
        en_conn_fail(c, ENODE_EHANDSHAKE,
                     "the peer speaks distribution versions %u..%u; enode "
                     "needs 6 (OTP 23 or later)", info->low, info->high);
        return;
    }
    connect_to(c, info->port);
}

static void epmd_on_event(en_conn_t *c)
{
    char err[256];
    struct en_epmd_node_info info;

    /* The request is still queued: this is the connect finishing. */
    if (en_conn_unsent(c) > 0 &&
        en_sock_connect_result(c->fd, err, sizeof err) < 0) {
        en_conn_fail(c, ENODE_EEPMD, "cannot reach EPMD on %s: %s",
                     c->peer_host, err);
        return;
    }
    if (en_conn_flush(c) < 0)
        return;
    for (;;) {
        enum en_io io = en_conn_read(c, err, sizeof err);
        int rc = en_epmd_parse_port2_resp(c->in.data, c->in.len, &info);
        if (rc > 0) {
            epmd_got_reply(c, &info);
            return;
        }
        if (rc < 0) {
            en_conn_fail(c, ENODE_EEPMD, "bad reply from EPMD on %s: %s",
                         c->peer_host, en_epmd_strerror(rc));
            return;
        }
        if (io == EN_IO_WANT_READ)
            break;
        if (io != EN_IO_DONE) {
            en_conn_fail(c, ENODE_EEPMD, "EPMD on %s: %s", c->peer_host, err);
            return;
        }
    }
    en_conn_update_watch(c);
}

int en_dial_start(en_conn_t *c)
{
    en_net_t *net = c->net;
    char alive[EN_NODE_NAME_MAX + 1], host[EN_NODE_NAME_MAX + 1], err[256];
    en_addr_t epmd;

    int port = en_net_peer_port(net, c->peer);
    if (port > 0) {
        connect_to(c, (uint16_t)port);
        return c->phase == EN_PH_DEAD ? -1 : 0;
    }
    en_node_split(c->peer, alive, sizeof alive, host, sizeof host);
    if (en_sock_resolve(host, (uint16_t)net->epmd_port, net->ipv6, &epmd, err,
                        sizeof err) < 0) {
        en_conn_fail(c, ENODE_ECONN, "%s", err);
        return -1;
    }
    c->fd = en_sock_connect(&epmd, err, sizeof err);
    if (c->fd < 0 || en_epmd_port_please2_req(&c->out, alive) < 0) {
        en_conn_fail(c, ENODE_EEPMD, "cannot ask EPMD on %s: %s", host,
                     c->fd < 0 ? err : "bad name");
        return -1;
    }
    c->phase = EN_PH_EPMD;
    en_conn_update_watch(c);
    return 0;
}

/* ---- the distribution handshake ------------------------------------------- */

/* Move the messages queued on `from` to `to`, which takes over. */
static void adopt_pending(en_conn_t *to, en_conn_t *from)
{
    if (from->pending.len > 0) {
        en_buf_append(&to->pending, from->pending.data, from->pending.len);
        en_buf_free(&from->pending);
    }
}

/* Acceptor: what to answer a peer, given what we have with it already. */
static enum en_hs_status resolve_peer(void *ud, const char *peer)
{
    en_conn_t *c = ud, *other;
    enum en_hs_status st;

    snprintf(c->peer, sizeof c->peer, "%s", peer);
    for (other = c->net->conns; other; other = other->next)
        if (other != c && other->phase != EN_PH_DEAD &&
            strcmp(other->peer, peer) == 0)
            break;
    if (!other)
        return EN_HS_STATUS_OK;
    if (other->phase == EN_PH_UP)
        return EN_HS_STATUS_ALIVE;
    if (!other->initiator)
        return EN_HS_STATUS_OK; /* an older attempt of theirs; it will fail */
    st = other->phase == EN_PH_WAIT_PEER
             ? EN_HS_STATUS_OK_SIMULTANEOUS
             : en_hs_simultaneous_status(c->net->core->name, peer);
    if (st == EN_HS_STATUS_OK_SIMULTANEOUS) {
        en_conn_log(c, ENODE_LOG_INFO,
               "simultaneous connect with %s: keeping theirs", peer);
        adopt_pending(c, other);
        en_conn_close_transport(other);
        other->phase = EN_PH_DEAD;
    }
    return st;
}

void en_setup_start_handshake(en_conn_t *c)
{
    en_net_t *net = c->net;
    en_hs_config_t cfg;

    c->hs = malloc(sizeof *c->hs);
    if (!c->hs) {
        en_conn_fail(c, ENODE_ENOMEM, "out of memory");
        return;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.role = c->initiator ? EN_HS_INITIATOR : EN_HS_ACCEPTOR;
    cfg.lenbytes = c->ssl ? 4 : 2; /* inet_tls_dist frames with {packet,4} */
    cfg.self_name = net->core->name;
    cfg.self_creation = net->core->creation;
    cfg.self_flags = net->flags;
    cfg.required_flags = net->required;
    cfg.cookie = net->cookie;
    cfg.dialled_name = c->initiator ? c->peer : NULL;
    cfg.resolve = resolve_peer;
    cfg.allowed = c->initiator ? NULL : en_conn_allows;
    cfg.ud = c;
    if (en_hs_init(c->hs, &cfg) < 0 || en_hs_start(c->hs, &c->out) < 0) {
        en_conn_fail(c, ENODE_EHANDSHAKE, "%s", c->hs->errmsg);
        return;
    }
    c->phase = EN_PH_HANDSHAKE;
    if (en_conn_flush(c) < 0)
        return;
    en_setup_feed_handshake(c);
}

/* The peer answered "nok": its own attempt to us wins. Keep our queue
 * until that attempt arrives and takes it over. */
static void lose_simultaneous(en_conn_t *c)
{
    en_conn_log(c, ENODE_LOG_INFO,
           "simultaneous connect with %s: keeping theirs", c->peer);
    en_conn_close_transport(c);
    free(c->hs);
    c->hs = NULL;
    c->phase = EN_PH_WAIT_PEER;
    c->deadline_ms = en_now_ms() + c->net->setup_ms;
}

static void replace_old(en_conn_t *c)
{
    for (en_conn_t *o = c->net->conns; o; o = o->next)
        if (o != c && o->phase == EN_PH_UP && strcmp(o->peer, c->peer) == 0)
            en_conn_fail(o, ENODE_ECONN, "replaced by a new connection");
}

void en_setup_feed_handshake(en_conn_t *c)
{
    size_t used = 0;
    enum en_hs_state st = en_hs_feed(c->hs, c->in.data, c->in.len, &used,
                                     &c->out);

    en_buf_consume(&c->in, used);
    if (en_conn_flush(c) < 0)
        return;
    if (st == EN_HS_RUNNING) {
        en_conn_update_watch(c);
    } else if (st == EN_HS_DONE) {
        if (c->hs->replace_old && !c->initiator)
            replace_old(c);
        en_conn_up(c);
    } else if (c->hs->err == EN_HS_ERR_NOK) {
        lose_simultaneous(c);
    } else {
        int code = c->hs->err == EN_HS_ERR_COOKIE ? ENODE_ECOOKIE
                                                  : ENODE_EHANDSHAKE;
        if (!c->peer[0])
            snprintf(c->peer, sizeof c->peer, "%s", c->hs->peer_name);
        en_conn_fail(c, code, "%s", c->hs->errmsg);
    }
}

static void handshake_on_event(en_conn_t *c, uint32_t events)
{
    char err[256];

    if (events & EPOLLOUT) {
        if (en_conn_flush(c) < 0)
            return;
    }
    for (;;) {
        enum en_io io = en_conn_read(c, err, sizeof err);
        if (io == EN_IO_WANT_READ || io == EN_IO_WANT_WRITE)
            break;
        if (io != EN_IO_DONE) {
            if (io == EN_IO_EOF)
                en_hs_peer_closed(c->hs);
            int code = c->hs->err == EN_HS_ERR_COOKIE ? ENODE_ECOOKIE
                                                      : ENODE_EHANDSHAKE;
            en_conn_fail(c, code, "%s",
                         c->hs->state == EN_HS_FAILED ? c->hs->errmsg : err);
            return;
        }
        en_setup_feed_handshake(c);
        if (c->phase != EN_PH_HANDSHAKE)
            return;
    }
    en_conn_update_watch(c);
}

void en_setup_on_event(en_conn_t *c, uint32_t events)
{
    switch (c->phase) {
    case EN_PH_EPMD:
        epmd_on_event(c);
        break;
    case EN_PH_CONNECT:
        on_connected(c);
        break;
    case EN_PH_TLS:
        tls_step(c);
        break;
    case EN_PH_HANDSHAKE:
        handshake_on_event(c, events);
        break;
    default:
        break;
    }
}

/* ---- dialling, and peers without EPMD ------------------------------------ */

en_conn_t *en_net_get(en_net_t *net, const char *peer)
{
    char alive[EN_NODE_NAME_MAX + 1], host[EN_NODE_NAME_MAX + 1], why[200];
    en_conn_t *c = en_net_find(net, peer);

    if (c)
        return c;
    if (en_name_too_long("node name", peer, why, sizeof why)) {
        en_core_error(net->core, "%s", why);
        return NULL;
    }
    if (strlen(peer) > EN_NODE_NAME_MAX) {
        en_core_error(net->core,
                      "node name '%.40s...' is too long: %zu bytes of "
                      "UTF-8, and enode keeps at most %d",
                      peer, strlen(peer), EN_NODE_NAME_MAX);
        return NULL;
    }
    if (en_node_split(peer, alive, sizeof alive, host, sizeof host) < 0) {
        en_core_error(net->core, "'%s' is not a node name (alive@host)", peer);
        return NULL;
    }
    c = en_conn_new(net, 1);
    if (!c) {
        en_core_error(net->core, "out of memory");
        return NULL;
    }
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    snprintf(c->peer_host, sizeof c->peer_host, "%s", host);
    en_dial_start(c);
    en_net_wake(net); /* the loop must learn the new deadline */
    return c;
}

int en_net_set_peer_port(en_net_t *net, const char *peer, int port)
{
    struct en_peer_port *p;

    if (!peer || strlen(peer) >= sizeof p->peer || port <= 0 || port > 65535)
        return ENODE_EINVAL;
    for (p = net->peer_ports; p; p = p->next)
        if (strcmp(p->peer, peer) == 0)
            break;
    if (!p && (p = calloc(1, sizeof *p)) != NULL) {
        strcpy(p->peer, peer);
        p->next = net->peer_ports;
        net->peer_ports = p;
    }
    if (p)
        p->port = (uint16_t)port;
    return p ? 0 : ENODE_ENOMEM;
}

int en_net_peer_port(const en_net_t *net, const char *peer)
{
    for (const struct en_peer_port *p = net->peer_ports; p; p = p->next)
        if (strcmp(p->peer, peer) == 0)
            return p->port;
    return net->dist_port > 0 ? net->dist_port : 0;
}

void en_dial_free_peer_ports(en_net_t *net)
{
    while (net->peer_ports) {
        struct en_peer_port *p = net->peer_ports;
        net->peer_ports = p->next;
        free(p);
    }
}
