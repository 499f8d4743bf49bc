/* net.c - the network layer's life: settings, TLS contexts, the listening
 * socket and the epoll fd, the EPMD registration, and the end of it all.
 */
#include "net/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "proto/dflags.h"

/* The flags we advertise: what enode implements, and at least what
 * OTP 26+ requires of every peer. */
static uint64_t our_flags(int hidden)
{
    uint64_t f = EN_DFLAGS_MANDATORY_26 | EN_DFLAG_SEND_SENDER |
                 EN_DFLAG_BIG_SEQTRACE_LABELS | EN_DFLAG_UNICODE_IO |
                 EN_DFLAG_MANDATORY_25_DIGEST | EN_DFLAG_DIST_MONITOR |
                 EN_DFLAG_DIST_MONITOR_NAME | EN_DFLAG_EXIT_PAYLOAD |
                 EN_DFLAG_FRAGMENTS | EN_DFLAG_ALIAS | EN_DFLAG_SPAWN |
                 EN_DFLAG_ALTACT_SIG;
    return hidden ? f : f | EN_DFLAG_PUBLISHED;
}

static int take_settings(en_net_t *net, const en_net_settings_t *s,
                         char *err, size_t errlen)
{
    if (s->cookie) {
        if (strlen(s->cookie) >= sizeof net->cookie || !s->cookie[0]) {
            snprintf(err, errlen, "the cookie is empty or too long");
            return ENODE_EINVAL;
        }
        strcpy(net->cookie, s->cookie);
    } else if (en_cookie_from_home(net->cookie, sizeof net->cookie, err,
                                   errlen) < 0) {
        return ENODE_EINVAL;
    }
    net->proto = s->proto;
    net->ipv6 = s->ipv6;
    net->ticktime_ms = s->ticktime_ms ? s->ticktime_ms : 60000;
    net->setup_ms = s->setup_ms ? s->setup_ms : 7000;
    net->max_message = s->max_message ? s->max_message
                                      : ENODE_DEFAULT_MAX_MESSAGE;
    net->max_fragmented = s->max_fragmented ? s->max_fragmented
                                            : ENODE_DEFAULT_MAX_FRAGMENTED;
    net->busy_limit = s->busy_limit ? s->busy_limit
                                    : ENODE_DEFAULT_DIST_BUF_BUSY_LIMIT;
    net->dist_port = s->dist_port;
    net->auto_connect = s->auto_connect;
    net->epmd_port = en_epmd_default_port(s->epmd_port);
    net->flags = our_flags(s->hidden);
    net->required = EN_DFLAGS_MANDATORY_26;
    net->verify = s->verify;
    net->verify_user = s->verify_user;
    return 0;
}

static void warn_option(void *user, const char *msg)
{
    en_net_t *net = user;
    en_core_log(net->core, ENODE_LOG_WARNING, "%s", msg);
}

/* TLS contexts from the optfile and the -ssl_dist_opt pairs. */
static void wake_loop(void *net)
{
    en_net_wake(net);
}

static int open_tls(en_net_t *net, const en_net_settings_t *s, char *err,
                    size_t errlen)
{
    if (s->proto != ENODE_PROTO_TLS)
        return 0;
    net->tlsconf.warn = warn_option;
    net->tlsconf.warn_arg = net;
    if (s->ssl_dist_optfile &&
        en_tls_conf_read_optfile(&net->tlsconf, s->ssl_dist_optfile, err,
                                 errlen) < 0)
        return ENODE_EINVAL;
    for (int i = 0; i < s->n_ssl_dist_opts; i++)
        if (en_tls_conf_set_opt(&net->tlsconf, s->ssl_dist_opts[2 * i],
                                s->ssl_dist_opts[2 * i + 1], err,
                                errlen) < 0)
            return ENODE_EINVAL;
    if (!net->tlsconf.server.certfile) {
        snprintf(err, errlen,
                 "TLS distribution needs a certificate: give a certfile in "
                 "-ssl_dist_optfile or -ssl_dist_opt server_certfile");
        return ENODE_ETLS;
    }
    net->tls_server = en_tls_ctx_new(&net->tlsconf.server, 0, err, errlen);
    if (!net->tls_server)
        return ENODE_ETLS;
    net->tls_client = en_tls_ctx_new(&net->tlsconf.client, 1, err, errlen);
    if (!net->tls_client)
        return ENODE_ETLS;
    /* CRLs fetched over HTTP: the fetch thread wakes the loop when done */
    en_tls_ctx_set_wake(net->tls_server, wake_loop, net);
    en_tls_ctx_set_wake(net->tls_client, wake_loop, net);
    int rc = en_verify_fun_resolve(net, s, err, errlen);
    if (rc < 0)
        return rc;
    /* Once per node: a side that verifies nothing is a choice to see. */
    if (!en_tls_side_verifies(&net->tlsconf.client))
        en_core_log(net->core, ENODE_LOG_WARNING,
                    "TLS client: server certificates are not verified "
                    "(verify_none, or no cacertfile): any server can pose "
                    "as a node");
    if (!en_tls_side_verifies(&net->tlsconf.server))
        en_core_log(net->core, ENODE_LOG_WARNING,
                    "TLS server: client certificates are not verified "
                    "(verify_none, or no cacertfile)");
    return 0;
}

static int watch_fd(en_net_t *net, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(net->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int open_io(en_net_t *net, const en_net_settings_t *s, char *err,
                   size_t errlen)
{
    int min = s->listen_min, max = s->listen_max;

    net->epfd = epoll_create1(EPOLL_CLOEXEC);
    net->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (net->epfd < 0 || net->wakefd < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        return ENODE_ESYS;
    }
    if (net->dist_port > 0)
        min = max = net->dist_port;
    net->lfd = en_sock_listen(net->ipv6, s->listen_addr, min, max,
                              &net->port, err, errlen);
    if (net->lfd < 0)
        return ENODE_ESYS;
    if (watch_fd(net, net->wakefd, &net->wakefd) < 0 ||
        watch_fd(net, net->lfd, &net->lfd) < 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        return ENODE_ESYS;
    }
    return 0;
}

void en_net_init(en_net_t *net, en_core_t *core)
{
    memset(net, 0, sizeof *net);
    net->core = core;
    net->epfd = net->wakefd = net->lfd = net->epmd_fd = -1;
    en_tls_conf_init(&net->tlsconf);
}

int en_net_open(en_net_t *net, const en_net_settings_t *s, char *err,
                size_t errlen)
{
    int rc;

    if (s->allowed && en_allow_add_all(&net->allowed, s->allowed) < 0) {
        snprintf(err, errlen, "out of memory");
        return ENODE_ENOMEM;
    }
    if ((rc = take_settings(net, s, err, errlen)) < 0 ||
        (rc = open_tls(net, s, err, errlen)) < 0 ||
        (rc = open_io(net, s, err, errlen)) < 0)
        return rc;
    return 0;
}

/* Without EPMD there is no creation to be given: pick a random one. */
static uint32_t random_creation(void)
{
    uint32_t c = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(&c, sizeof c, 1, f) != 1)
            c = 0;
        fclose(f);
    }
    return c ? c : (uint32_t)en_now_ms() | 4;
}

int en_net_publish(en_net_t *net, char *err, size_t errlen)
{
    if (net->dist_port > 0) {
        net->core->creation = random_creation();
        return 0;
    }
    int rc = en_epmd_register(net, err, errlen);
    if (rc < 0)
        return rc;
    return watch_fd(net, net->epmd_fd, &net->epmd_fd) < 0 ? ENODE_ESYS : 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void en_net_close(en_net_t *net)
{
    en_dial_free_peer_ports(net);
    en_net_free_bars(net);
    en_allow_free(&net->allowed);
    /* What was sent last goes out as far as the sockets take it. */
    en_conns_flush_corked(net);
    while (net->conns) {
        en_conn_t *c = net->conns;
        net->conns = c->next;
        en_conn_free(c);
    }
    en_buf_free(&net->rx);
    en_tls_rx_pool_free(&net->tls_rx);
    if (net->tls_server)
        wolfSSL_CTX_free(net->tls_server);
    if (net->tls_client)
        wolfSSL_CTX_free(net->tls_client);
    net->tls_server = net->tls_client = NULL;
    en_tls_conf_free(&net->tlsconf);
    close_fd(&net->epmd_fd); /* unregisters us from EPMD */
    close_fd(&net->lfd);
    close_fd(&net->wakefd);
    close_fd(&net->epfd);
}
