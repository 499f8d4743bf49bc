/* enode-epoll-kv - a key-value store that TCP clients reach with a line
 * protocol and Erlang reaches with rpc, in one single-threaded epoll loop
 * that the node shares with the service's own sockets, timers and signals.
 *
 *   enode-epoll-kv -sname kv -setcookie secret \
 *                  -proto_dist inet_tls -ssl_dist_optfile dist.conf \
 *                  -port 7070
 *
 * examples/kv/kv_service.h describes the protocol and the `kv` functions.
 * It takes erl's flags, plus
 *   -port N         TCP port for clients, on 127.0.0.1 (default: any free)
 *   -idle SECONDS   close clients silent that long (default 300)
 *   -connect NODE   connect to NODE at start
 *   -v              log the node's connections
 * It prints "kv port N", then "ready <node name>"; SIGINT or SIGTERM stops
 * it cleanly (exit status 0).
 *
 * How the node lives in the loop: enode_fd() is one more fd in the epoll
 * set, readable whenever the node has work (network input, or a send made
 * from outside the loop's turn, which wakes it); enode_timeout() is one
 * more deadline beside the service's own (idle clients). When either is
 * due, enode_process(node, 0) does the work without blocking. rpc
 * functions run inside enode_process; messages to the service's mailbox
 * are handled right after it (kv_service_drain).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <enode.h>

#include "../kv/kv_service.h"

/* What an epoll event is about: the first member of each source. */
enum kind { SRC_LISTEN, SRC_NODE, SRC_SIGNAL, SRC_CLIENT };

struct source {
    enum kind kind;
    int fd;
};

struct client {
    struct source src; /* first: epoll hands back &src */
    struct client *next;
    kv_buf_t in, out;
    long last_active_ms;
    int closing;       /* close once out is written */
};

struct server {
    int epfd;
    struct source listen, node_src, signals;
    enode_t *node;
    kv_service_t *kv;
    struct client *clients;
    long idle_ms;
    int stop;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int watch(struct server *s, struct source *src, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = src};
    return epoll_ctl(s->epfd, op, src->fd, &ev);
}

/* ---- clients --------------------------------------------------------------- */

static void client_close(struct server *s, struct client *c)
{
    struct client **p = &s->clients;
    while (*p != c)
        p = &(*p)->next;
    *p = c->next;
    close(c->src.fd); /* also leaves the epoll set */
    kv_buf_free(&c->in);
    kv_buf_free(&c->out);
    free(c);
}

/* Write what is queued; wait for EPOLLOUT if the socket is full. 0, or -1
 * when the client is gone (and closed). */
static int client_flush(struct server *s, struct client *c)
{
    while (c->out.len) {
        ssize_t n = send(c->src.fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return watch(s, &c->src, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        if (n < 0) {
            client_close(s, c);
            return -1;
        }
        kv_buf_consume(&c->out, (size_t)n);
    }
    if (c->closing) {
        client_close(s, c);
        return -1;
    }
    return watch(s, &c->src, EPOLLIN, EPOLL_CTL_MOD);
}

static void client_read(struct server *s, struct client *c)
{
    char buf[16384];
    ssize_t n = recv(c->src.fd, buf, sizeof buf, 0);

    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        client_close(s, c);
        return;
    }
    if (n < 0)
        return;
    c->last_active_ms = now_ms();
    if (kv_buf_append(&c->in, buf, (size_t)n) < 0 ||
        kv_service_feed(s->kv, &c->in, &c->out))
        c->closing = 1;
    client_flush(s, c);
}

static void accept_clients(struct server *s)
{
    int fd;
    while ((fd = accept4(s->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct client *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->src = (struct source){SRC_CLIENT, fd};
        c->last_active_ms = now_ms();
        c->next = s->clients;
        s->clients = c;
        if (watch(s, &c->src, EPOLLIN, EPOLL_CTL_ADD) < 0)
            client_close(s, c);
    }
}

/* The service's own timer: close clients idle too long. Returns the ms
 * until the next one is due, or -1 with no client. */
static int expire_idle(struct server *s)
{
    long now = now_ms(), next = -1;
    struct client *c = s->clients, *after;
    for (; c; c = after) {
        after = c->next;
        long due = c->last_active_ms + s->idle_ms;
        if (due <= now)
            client_close(s, c);
        else if (next < 0 || due - now < next)
            next = due - now;
    }
    return (int)next;
}

/* ---- the loop --------------------------------------------------------------- */

static int earliest(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* The node's turn: its I/O and timers, then the service's mailbox. */
static void node_turn(struct server *s)
{
    if (enode_process(s->node, 0) < 0)
        fprintf(stderr, "enode-epoll-kv: %s\n", enode_last_error(s->node));
    kv_service_drain(s->kv);
}

static void run(struct server *s)
{
    struct epoll_event ev[64];

    while (!s->stop) {
        int timeout = earliest(enode_timeout(s->node), expire_idle(s));
        int n = epoll_wait(s->epfd, ev, 64, timeout);
        int node_ready = n < 0 || enode_timeout(s->node) == 0;
        for (int i = 0; i < n; i++) {
            struct source *src = ev[i].data.ptr;
            switch (src->kind) {
            case SRC_LISTEN: accept_clients(s); break;
            case SRC_NODE: node_ready = 1; break;
            case SRC_SIGNAL: s->stop = 1; break;
            case SRC_CLIENT:
                /* alive: a client is closed only by its own event */
                if (ev[i].events & EPOLLOUT)
                    client_flush(s, (struct client *)src);
                else
                    client_read(s, (struct client *)src);
                break;
            }
        }
        if (node_ready)
            node_turn(s);
    }
}

/* ---- set-up ---------------------------------------------------------------- */

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close(fd);
        return -1;
    }
    printf("kv port %d\n", ntohs(a.sin_port));
    return fd;
}

/* SIGINT and SIGTERM arrive as reads on an fd of the loop. */
static int signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

struct options {
    int port;
    long idle_ms;
    const char *connect_to;
};

/* erl's flags into config, ours into opt. 0, or the exit status. */
static int configure(enode_config_t *config, struct options *opt, int argc,
                     char **argv)
{
    char err[512];

    if (enode_config_from_args(config, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-epoll-kv: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-port") == 0 && i + 1 < argc) {
            opt->port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-idle") == 0 && i + 1 < argc) {
            opt->idle_ms = atol(argv[++i]) * 1000L;
        } else if (strcmp(argv[i], "-connect") == 0 && i + 1 < argc) {
            opt->connect_to = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            enode_config_set_log(config, NULL, NULL, ENODE_LOG_INFO);
        } else {
            fprintf(stderr, "enode-epoll-kv: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (opt->port < 0 || opt->port > 65535 || opt->idle_ms <= 0) {
        fprintf(stderr, "enode-epoll-kv: bad -port or -idle\n");
        return 2;
    }
    if (!enode_config_get_name(config, NULL))
        enode_config_set_name(config, "kv", 0);
    return 0;
}

/* Node, service, sockets and epoll set. 0, or -1 once it said why. */
static int start(struct server *s, const enode_config_t *config,
                 const struct options *opt)
{
    char err[512];
    int rc;

    if (enode_new(&s->node, config, err, sizeof err) < 0) {
        fprintf(stderr, "enode-epoll-kv: %s\n", err);
        return -1;
    }
    if ((rc = kv_service_new(&s->kv, s->node)) < 0) {
        fprintf(stderr, "enode-epoll-kv: %s\n", enode_strerror(rc));
        return -1;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->listen = (struct source){SRC_LISTEN, listen_on(opt->port)};
    s->node_src = (struct source){SRC_NODE, enode_fd(s->node)};
    s->signals = (struct source){SRC_SIGNAL, signal_fd()};
    if (s->epfd < 0 || s->listen.fd < 0 || s->signals.fd < 0 ||
        watch(s, &s->listen, EPOLLIN, EPOLL_CTL_ADD) < 0 ||
        watch(s, &s->node_src, EPOLLIN, EPOLL_CTL_ADD) < 0 ||
        watch(s, &s->signals, EPOLLIN, EPOLL_CTL_ADD) < 0) {
        fprintf(stderr, "enode-epoll-kv: %s\n", strerror(errno));
        return -1;
    }
    if (opt->connect_to && enode_connect(s->node, opt->connect_to) < 0) {
        fprintf(stderr, "enode-epoll-kv: cannot connect to %s: %s\n",
                opt->connect_to, enode_last_error(s->node));
        return -1;
    }
    return 0;
}

/* The service goes before the node (it frees its mailbox); no loop runs
 * in between, so no rpc reaches the freed service. */
static void stop(struct server *s)
{
    while (s->clients)
        client_close(s, s->clients);
    kv_service_free(s->kv);
    enode_free(s->node);
    if (s->listen.fd >= 0)
        close(s->listen.fd);
    if (s->signals.fd >= 0)
        close(s->signals.fd);
    if (s->epfd >= 0)
        close(s->epfd);
}

int main(int argc, char **argv)
{
    struct options opt = {.port = 0, .idle_ms = 300000};
    struct server s = {.epfd = -1, .listen.fd = -1, .signals.fd = -1};
    enode_config_t *config;
    int status;

    if (enode_config_new(&config) < 0)
        return 1;
    status = configure(config, &opt, argc, argv);
    if (status == 0 && start(&s, config, &opt) < 0)
        status = 1;
    enode_config_free(config);
    if (status == 0) {
        s.idle_ms = opt.idle_ms;
        printf("ready %s\n", enode_name(s.node));
        fflush(stdout);
        run(&s);
    }
    stop(&s);
    return status;
}
