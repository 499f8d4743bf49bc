/* node.c - a node: its creation, its event loop and its loop thread.
 *
 * The loop waits on one epoll fd, which users of the event-loop mode poll
 * in their own loop. Events are handled with the node's lock held; the
 * wait itself happens without it, so other threads can send meanwhile.
 */
#include "node/node_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/wolfcrypt/ecc.h>

#include "proto/dflags.h"

uint64_t en_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void log_to_stderr(void *user, int level, const char *msg)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)user;
    fprintf(stderr, "enode %s: %s\n", names[level & 3], msg);
}

void en_log(enode_t *n, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (level > n->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    n->log(n->log_user, level, msg);
}

void en_set_error(enode_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->errbuf, sizeof n->errbuf, fmt, ap);
    va_end(ap);
}

int en_is_local_node(const enode_t *n, const char *node_name)
{
    return node_name == NULL || strcmp(node_name, n->name) == 0;
}

void en_wake(enode_t *n)
{
    uint64_t one = 1;
    if (write(n->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
        en_log(n, ENODE_LOG_WARNING, "cannot wake the loop: %s",
               strerror(errno));
}

/* The flags we advertise: what enode implements, and at least what
 * OTP 26+ requires of every peer. */
static uint64_t our_flags(int hidden)
{
    uint64_t f = EN_DFLAGS_MANDATORY_26 | EN_DFLAG_SEND_SENDER |
                 EN_DFLAG_BIG_SEQTRACE_LABELS | EN_DFLAG_UNICODE_IO |
                 EN_DFLAG_MANDATORY_25_DIGEST | EN_DFLAG_DIST_MONITOR |
                 EN_DFLAG_DIST_MONITOR_NAME | EN_DFLAG_EXIT_PAYLOAD |
                 EN_DFLAG_FRAGMENTS | EN_DFLAG_ALIAS | EN_DFLAG_SPAWN;
    return hidden ? f : f | EN_DFLAG_PUBLISHED;
}

/* ---- creation ------------------------------------------------------------- */

static int init_identity(enode_t *n, const enode_config_t *cfg, char *err,
                         size_t errlen)
{
    if (en_node_full_name(cfg->name, cfg->long_names, n->name, sizeof n->name,
                          err, errlen) < 0)
        return ENODE_EINVAL;
    en_node_split(n->name, n->alive, sizeof n->alive, n->host, sizeof n->host);
    if (cfg->cookie) {
        if (strlen(cfg->cookie) >= sizeof n->cookie || !cfg->cookie[0]) {
            snprintf(err, errlen, "the cookie is empty or too long");
            return ENODE_EINVAL;
        }
        strcpy(n->cookie, cfg->cookie);
    } else if (en_cookie_from_home(n->cookie, sizeof n->cookie, err,
                                   errlen) < 0) {
        return ENODE_EINVAL;
    }
    n->proto = cfg->proto;
    n->ipv6 = cfg->ipv6;
    n->hidden = cfg->hidden;
    n->ticktime_ms = (cfg->net_ticktime ? cfg->net_ticktime : 60) * 1000;
    n->setup_ms = cfg->setup_time_ms ? cfg->setup_time_ms : 7000;
    n->max_message = cfg->max_message_size ? cfg->max_message_size
                                           : ENODE_DEFAULT_MAX_MESSAGE;
    n->dist_port = cfg->dist_port;
    n->epmd_port = en_epmd_default_port(cfg->epmd_port);
    n->flags = our_flags(cfg->hidden);
    n->required = EN_DFLAGS_MANDATORY_26;
    n->log = cfg->log ? cfg->log : log_to_stderr;
    n->log_user = cfg->log_user;
    n->verify = cfg->verify;
    n->verify_user = cfg->verify_user;
    n->log_level = cfg->log_level;
    return 0;
}

static void warn_option(void *user, const char *msg)
{
    en_log(user, ENODE_LOG_WARNING, "%s", msg);
}

/* TLS contexts from the optfile and the -ssl_dist_opt pairs. */
static int init_tls(enode_t *n, const enode_config_t *cfg, char *err,
                    size_t errlen)
{
    en_tls_conf_init(&n->tlsconf);
    if (cfg->proto != ENODE_PROTO_TLS)
        return 0;
    n->tlsconf.warn = warn_option;
    n->tlsconf.warn_arg = n;
    if (cfg->ssl_dist_optfile &&
        en_tls_conf_read_optfile(&n->tlsconf, cfg->ssl_dist_optfile, err,
                                 errlen) < 0)
        return ENODE_EINVAL;
    for (int i = 0; i < cfg->n_ssl_dist_opts; i++)
        if (en_tls_conf_set_opt(&n->tlsconf, cfg->ssl_dist_opts[2 * i],
                                cfg->ssl_dist_opts[2 * i + 1], err,
                                errlen) < 0)
            return ENODE_EINVAL;
    if (!n->tlsconf.server.certfile) {
        snprintf(err, errlen,
                 "TLS distribution needs a certificate: give a certfile in "
                 "-ssl_dist_optfile or -ssl_dist_opt server_certfile");
        return ENODE_ETLS;
    }
    n->tls_server = en_tls_ctx_new(&n->tlsconf.server, 0, err, errlen);
    if (!n->tls_server)
        return ENODE_ETLS;
    n->tls_client = en_tls_ctx_new(&n->tlsconf.client, 1, err, errlen);
    if (!n->tls_client)
        return ENODE_ETLS;
    /* Once per node: a side that verifies nothing is a choice to see. */
    if (!en_tls_side_verifies(&n->tlsconf.client))
        en_log(n, ENODE_LOG_WARNING,
               "TLS client: server certificates are not verified "
               "(verify_none, or no cacertfile): any server can pose as a "
               "node");
    if (!en_tls_side_verifies(&n->tlsconf.server))
        en_log(n, ENODE_LOG_WARNING,
               "TLS server: client certificates are not verified "
               "(verify_none, or no cacertfile)");
    return 0;
}

static int watch_fd(enode_t *n, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int init_io(enode_t *n, const enode_config_t *cfg, char *err,
                   size_t errlen)
{
    int min = cfg->listen_min, max = cfg->listen_max;

    n->epfd = epoll_create1(EPOLL_CLOEXEC);
    n->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->epfd < 0 || n->wakefd < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        return ENODE_ESYS;
    }
    if (n->dist_port > 0)
        min = max = n->dist_port;
    n->lfd = en_sock_listen(n->ipv6, min, max, &n->port, err, errlen);
    if (n->lfd < 0)
        return ENODE_ESYS;
    if (watch_fd(n, n->wakefd, &n->wakefd) < 0 ||
        watch_fd(n, n->lfd, &n->lfd) < 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        return ENODE_ESYS;
    }
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

static int register_name(enode_t *n, char *err, size_t errlen)
{
    if (n->dist_port > 0) {
        n->creation = random_creation();
        return 0;
    }
    int rc = en_epmd_register(n, err, errlen);
    if (rc < 0)
        return rc;
    return watch_fd(n, n->epmd_fd, &n->epmd_fd) < 0 ? ENODE_ESYS : 0;
}

static enode_t *node_alloc(void)
{
    enode_t *n = calloc(1, sizeof *n);
    pthread_condattr_t ca;

    if (!n)
        return NULL;
    n->epfd = n->wakefd = n->lfd = n->epmd_fd = -1;
    pthread_mutex_init(&n->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cond, &ca);
    pthread_condattr_destroy(&ca);
    n->next_pid_num = 1;
    return n;
}

int enode_new(enode_t **out, const enode_config_t *cfg, char *err,
              size_t errlen)
{
    char dummy[256];
    enode_t *n;
    int rc;

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    *out = NULL;
    wolfSSL_Init();
    ei_init();
    n = node_alloc();
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return ENODE_ENOMEM;
    }
    if ((rc = init_identity(n, cfg, err, errlen)) < 0 ||
        (rc = init_tls(n, cfg, err, errlen)) < 0 ||
        (rc = init_io(n, cfg, err, errlen)) < 0 ||
        (rc = register_name(n, err, errlen)) < 0) {
        enode_free(n);
        return rc;
    }
    en_make_pid(n, &n->system_pid);
    en_log(n, ENODE_LOG_INFO, "node %s up on port %u (%s%s, creation %u)",
           n->name, n->port, n->proto == ENODE_PROTO_TLS ? "TLS" : "TCP",
           n->ipv6 ? ", IPv6" : "", n->creation);
    *out = n;
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void enode_free(enode_t *n)
{
    if (!n)
        return;
    if (n->thread_on) {
        pthread_mutex_lock(&n->lock);
        n->stopping = 1;
        pthread_mutex_unlock(&n->lock);
        en_wake(n);
        pthread_join(n->thread, NULL);
    }
    while (n->mboxes)
        en_mbox_free_locked(n->mboxes);
    en_rpc_free_all(n);
    en_global_free(n);
    while (n->peer_ports) {
        struct en_peer_port *p = n->peer_ports;
        n->peer_ports = p->next;
        free(p);
    }
    /* What was sent last, the exit signals of the mailboxes included,
     * goes out as far as the sockets take it. */
    en_conns_flush_corked(n);
    while (n->conns) {
        en_conn_t *c = n->conns;
        n->conns = c->next;
        en_conn_free(c);
    }
    en_buf_free(&n->rx);
    en_tls_rx_pool_free(&n->tls_rx);
    if (n->tls_server)
        wolfSSL_CTX_free(n->tls_server);
    if (n->tls_client)
        wolfSSL_CTX_free(n->tls_client);
    en_tls_conf_free(&n->tlsconf);
    close_fd(&n->epmd_fd); /* unregisters us from EPMD */
    close_fd(&n->lfd);
    close_fd(&n->wakefd);
    close_fd(&n->epfd);
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    free(n);
    wolfSSL_Cleanup(); /* counted: balances the wolfSSL_Init of enode_new */
}

const char *enode_name(const enode_t *n)
{
    return n->name;
}

uint32_t enode_creation(const enode_t *n)
{
    return n->creation;
}

int enode_port(const enode_t *n)
{
    return n->port;
}

const char *enode_last_error(const enode_t *n)
{
    return n->errbuf;
}

int enode_fd(const enode_t *n)
{
    return n->epfd;
}

/* ---- the loop --------------------------------------------------------------- */

static uint64_t next_deadline(enode_t *n)
{
    uint64_t d = UINT64_MAX;
    for (en_conn_t *c = n->conns; c; c = c->next) {
        uint64_t cd = en_conn_deadline(c);
        if (cd < d)
            d = cd;
    }
    return d;
}

int enode_timeout(enode_t *n)
{
    pthread_mutex_lock(&n->lock);
    uint64_t d = next_deadline(n), now = en_now_ms();
    pthread_mutex_unlock(&n->lock);
    if (d == UINT64_MAX)
        return -1;
    return d <= now ? 0 : (int)(d - now > 0x7fffffff ? 0x7fffffff : d - now);
}

static void reap_dead(enode_t *n)
{
    en_conn_t **pp = &n->conns;
    while (*pp) {
        en_conn_t *c = *pp;
        if (c->phase == EN_PH_DEAD) {
            *pp = c->next;
            en_conn_free(c);
        } else {
            pp = &c->next;
        }
    }
}

static void on_epmd_event(enode_t *n)
{
    char buf[64];
    ssize_t r = read(n->epmd_fd, buf, sizeof buf);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
        en_log(n, ENODE_LOG_ERROR,
               "EPMD closed our registration: other nodes cannot find %s "
               "any more", n->name);
        epoll_ctl(n->epfd, EPOLL_CTL_DEL, n->epmd_fd, NULL);
        close_fd(&n->epmd_fd);
    }
}

static void handle_event(enode_t *n, struct epoll_event *ev)
{
    uint64_t drain;

    if (ev->data.ptr == &n->wakefd) {
        if (read(n->wakefd, &drain, sizeof drain) < 0)
            drain = 0;
    } else if (ev->data.ptr == &n->lfd) {
        en_conn_accept(n);
    } else if (ev->data.ptr == &n->epmd_fd) {
        on_epmd_event(n);
    } else {
        en_conn_on_event(ev->data.ptr, ev->events);
    }
}

static void run_timers(enode_t *n)
{
    uint64_t now = en_now_ms();
    for (en_conn_t *c = n->conns; c; c = c->next)
        if (en_conn_deadline(c) <= now)
            en_conn_on_timer(c, now);
}

/* The wait before the loop's next turn, in ms (-1: none), at most
 * timeout_ms unless that is negative. */
static int loop_wait_ms(enode_t *n, int timeout_ms)
{
    uint64_t d = next_deadline(n), now = en_now_ms();
    int t = -1;

    if (d != UINT64_MAX)
        t = d <= now ? 0 : (int)(d - now > 0x7fffffff ? 0x7fffffff : d - now);
    if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
        t = timeout_ms;
    return t;
}

int enode_process(enode_t *n, int timeout_ms)
{
    struct epoll_event evs[64];

    /* What was sent since the last turn goes out before we sleep. */
    pthread_mutex_lock(&n->lock);
    en_conns_flush_corked(n);
    int t = loop_wait_ms(n, timeout_ms);
    pthread_mutex_unlock(&n->lock);

    int count = epoll_wait(n->epfd, evs, 64, t);
    if (count < 0 && errno != EINTR) {
        en_set_error(n, "epoll_wait: %s", strerror(errno));
        return ENODE_ESYS;
    }
    pthread_mutex_lock(&n->lock);
    n->in_loop = 1;
    for (int i = 0; i < count; i++)
        handle_event(n, &evs[i]);
    run_timers(n);
    /* Replies and signals the events caused go out in one write each. */
    en_conns_flush_corked(n);
    n->in_loop = 0;
    reap_dead(n);
    pthread_mutex_unlock(&n->lock);
    return 0;
}

static void *loop_thread(void *arg)
{
    enode_t *n = arg;
    for (;;) {
        pthread_mutex_lock(&n->lock);
        int stop = n->stopping;
        pthread_mutex_unlock(&n->lock);
        if (stop)
            break;
        enode_process(n, -1);
    }
#ifdef FP_ECC
    /* wolfSSL keeps a per-thread cache of ECC points; it dies with us. */
    wc_ecc_fp_free();
#endif
    return NULL;
}

int enode_start_thread(enode_t *n)
{
    if (n->thread_on)
        return ENODE_EINVAL;
    if (pthread_create(&n->thread, NULL, loop_thread, n) != 0) {
        en_set_error(n, "cannot start the loop thread");
        return ENODE_ESYS;
    }
    n->thread_on = 1;
    return 0;
}

/* ---- connections, from the API ---------------------------------------- */

static void wait_cond(enode_t *n, uint64_t until, uint64_t now)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (until - now) % 1000 * 1000000;
    ts.tv_sec += (time_t)((until - now) / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&n->cond, &n->lock, &ts);
}

/* Without a loop thread, the first waiter runs the loop and the others
 * wait for what it delivers; when it is done, one of them takes over. */
void en_wait_locked(enode_t *n, uint64_t until)
{
    uint64_t now = en_now_ms();
    if (now > until)
        return;
    if (n->thread_on || n->looping) {
        if (now < until)
            wait_cond(n, until, now);
        return;
    }
    n->looping = 1;
    pthread_mutex_unlock(&n->lock);
    enode_process(n, (int)(until - now > 0x7fffffff ? 0x7fffffff
                                                    : until - now));
    pthread_mutex_lock(&n->lock);
    n->looping = 0;
    pthread_cond_broadcast(&n->cond);
}

int enode_connect(enode_t *n, const char *peer)
{
    int rc = ENODE_ECONN;

    pthread_mutex_lock(&n->lock);
    if (en_is_local_node(n, peer)) {
        pthread_mutex_unlock(&n->lock);
        return 0;
    }
    n->last_conn_code = 0;
    uint64_t until = en_now_ms() + n->setup_ms + 500;
    en_conn_t *c = en_conn_get(n, peer);
    while (c && en_now_ms() < until) {
        c = en_conn_find(n, peer);
        if (!c || c->phase == EN_PH_UP)
            break;
        en_wait_locked(n, until);
    }
    c = en_conn_find(n, peer);
    if (c && c->phase == EN_PH_UP)
        rc = 0;
    else if (n->last_conn_code < 0)
        rc = n->last_conn_code;
    else if (c)
        en_set_error(n, "%s: connection not up after %u ms", peer, n->setup_ms);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int enode_disconnect(enode_t *n, const char *peer)
{
    pthread_mutex_lock(&n->lock);
    en_conn_t *c = en_conn_find(n, peer);
    if (c) {
        en_conns_flush_corked(n); /* what was sent before goes first */
        en_conn_fail(c, ENODE_ECLOSED, "disconnected by the application");
    }
    pthread_mutex_unlock(&n->lock);
    en_wake(n);
    return c ? 0 : ENODE_ENOTFOUND;
}

int enode_is_connected(enode_t *n, const char *peer)
{
    pthread_mutex_lock(&n->lock);
    en_conn_t *c = en_conn_find(n, peer);
    int up = c && c->phase == EN_PH_UP;
    pthread_mutex_unlock(&n->lock);
    return up;
}

int enode_set_peer_port(enode_t *n, const char *peer, int port)
{
    struct en_peer_port *p;

    if (!peer || strlen(peer) >= sizeof p->peer || port <= 0 || port > 65535)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->lock);
    for (p = n->peer_ports; p; p = p->next)
        if (strcmp(p->peer, peer) == 0)
            break;
    if (!p && (p = calloc(1, sizeof *p)) != NULL) {
        strcpy(p->peer, peer);
        p->next = n->peer_ports;
        n->peer_ports = p;
    }
    if (p)
        p->port = (uint16_t)port;
    pthread_mutex_unlock(&n->lock);
    return p ? 0 : ENODE_ENOMEM;
}

int en_peer_port(const enode_t *n, const char *peer)
{
    for (const struct en_peer_port *p = n->peer_ports; p; p = p->next)
        if (strcmp(p->peer, peer) == 0)
            return p->port;
    return n->dist_port > 0 ? n->dist_port : 0;
}
