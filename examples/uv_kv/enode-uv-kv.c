/* enode-uv-kv - the key-value store of enode-epoll-kv in a libuv loop:
 * TCP clients with the line protocol, Erlang with rpc and change notices
 * (examples/kv/kv_service.h), one thread.
 *
 *   enode-uv-kv -sname kv -setcookie secret \
 *               -proto_dist inet_tls -ssl_dist_optfile dist.conf -port 7070
 *
 * It takes erl's flags, plus
 *   -port N         TCP port for clients, on 127.0.0.1 (default: any free)
 *   -connect NODE   connect to NODE at start
 *   -v              log the node's connections
 * It prints "kv port N", then "ready <node name>"; SIGINT or SIGTERM stops
 * it cleanly (exit status 0).
 *
 * How the node lives in the loop: a uv_poll_t watches enode_fd() for
 * readability, and a uv_timer_t fires at enode_timeout(); either runs
 * enode_process(node, 0). The timer is set again before every wait of the
 * loop (a uv_prepare_t), as any callback may have changed the node's next
 * deadline; a send made in a callback makes enode_fd() readable, so the
 * poll handle wakes the loop for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enode.h>
#include <uv.h>

#include "../kv/kv_service.h"

struct server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_poll_t node_poll;
    uv_timer_t node_timer;
    uv_prepare_t rearm;
    uv_signal_t sigint, sigterm;
    enode_t *node;
    kv_service_t *kv;
    struct client *clients;
};

struct client {
    uv_tcp_t tcp; /* first: the handle's data points back anyway */
    struct server *server;
    struct client *next;
    kv_buf_t in;
};

struct write_req {
    uv_write_t req;
    struct client *client;
    int then_close;
    kv_buf_t out;
};

/* ---- the node in the loop --------------------------------------------------- */

static void node_turn(struct server *s)
{
    if (enode_process(s->node, 0) < 0)
        fprintf(stderr, "enode-uv-kv: %s\n", enode_last_error(s->node));
    kv_service_drain(s->kv);
}

static void on_node_fd(uv_poll_t *h, int status, int events)
{
    node_turn(h->data);
}

static void on_node_timer(uv_timer_t *h)
{
    node_turn(h->data);
}

/* Before the loop waits: the node's next deadline, as it is now. */
static void on_rearm(uv_prepare_t *h)
{
    struct server *s = h->data;
    int ms = enode_timeout(s->node);
    if (ms < 0)
        uv_timer_stop(&s->node_timer);
    else
        uv_timer_start(&s->node_timer, on_node_timer, (uint64_t)ms, 0);
}

/* ---- clients ------------------------------------------------------------------ */

static void on_client_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    kv_buf_free(&c->in);
    free(c);
}

static void client_close(struct client *c)
{
    struct client **p = &c->server->clients;
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    while (*p && *p != c)
        p = &(*p)->next;
    if (*p)
        *p = c->next;
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    if (status < 0 || w->then_close)
        client_close(w->client);
    kv_buf_free(&w->out);
    free(w);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char space[16384]; /* one thread: read callbacks never overlap */
    *buf = uv_buf_init(space, sizeof space);
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    struct client *c = stream->data;
    struct write_req *w;

    if (n < 0) {
        client_close(c);
        return;
    }
    if (n == 0)
        return;
    w = calloc(1, sizeof *w);
    if (!w || kv_buf_append(&c->in, buf->base, (size_t)n) < 0) {
        free(w);
        client_close(c);
        return;
    }
    w->client = c;
    w->then_close = kv_service_feed(c->server->kv, &c->in, &w->out);
    if (w->then_close)
        uv_read_stop(stream);
    if (w->out.len == 0 && !w->then_close) {
        free(w); /* no whole line yet */
        return;
    }
    uv_buf_t out = uv_buf_init(w->out.data, (unsigned)w->out.len);
    if (uv_write(&w->req, stream, &out, 1, on_written) < 0) {
        kv_buf_free(&w->out);
        free(w);
        client_close(c);
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct server *s = listener->data;
    struct client *c;

    if (status < 0 || !(c = calloc(1, sizeof *c)))
        return;
    c->server = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_client_closed);
        return;
    }
    c->next = s->clients;
    s->clients = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- set-up and shutdown --------------------------------------------------------- */

/* SIGINT or SIGTERM: close every handle; uv_run then returns. */
static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    while (s->clients)
        client_close(s->clients);
    uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->node_poll, NULL);
    uv_close((uv_handle_t *)&s->node_timer, NULL);
    uv_close((uv_handle_t *)&s->rearm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static int listen_on(struct server *s, int port)
{
    struct sockaddr_in a;
    int len = sizeof a, rc;

    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&a, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&s->listener, 64, on_connection)) < 0 ||
        (rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&a, &len)) < 0) {
        fprintf(stderr, "enode-uv-kv: port %d: %s\n", port, uv_strerror(rc));
        return -1;
    }
    printf("kv port %d\n", ntohs(a.sin_port));
    return 0;
}

/* The node's fd, its timer, and the signals, as handles of the loop. */
static void watch_node(struct server *s)
{
    uv_poll_init(s->loop, &s->node_poll, enode_fd(s->node));
    s->node_poll.data = s;
    uv_poll_start(&s->node_poll, UV_READABLE, on_node_fd);
    uv_timer_init(s->loop, &s->node_timer);
    s->node_timer.data = s;
    uv_prepare_init(s->loop, &s->rearm);
    s->rearm.data = s;
    uv_prepare_start(&s->rearm, on_rearm);
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
}

struct options {
    int port;
    const char *connect_to;
};

/* erl's flags into config, ours into opt. 0, or the exit status. */
static int configure(enode_config_t *config, struct options *opt, int argc,
                     char **argv)
{
    char err[512];

    if (enode_config_from_args(config, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-uv-kv: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-port") == 0 && i + 1 < argc) {
            opt->port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-connect") == 0 && i + 1 < argc) {
            opt->connect_to = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            enode_config_set_log(config, NULL, NULL, ENODE_LOG_INFO);
        } else {
            fprintf(stderr, "enode-uv-kv: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (opt->port < 0 || opt->port > 65535) {
        fprintf(stderr, "enode-uv-kv: bad -port\n");
        return 2;
    }
    if (!enode_config_get_name(config, NULL))
        enode_config_set_name(config, "kv", 0);
    return 0;
}

/* Node, service, handles. 0, or -1 once it said why. */
static int start(struct server *s, const enode_config_t *config,
                 const struct options *opt)
{
    char err[512];
    int rc;

    if (enode_new(&s->node, config, err, sizeof err) < 0) {
        fprintf(stderr, "enode-uv-kv: %s\n", err);
        return -1;
    }
    if ((rc = kv_service_new(&s->kv, s->node)) < 0) {
        fprintf(stderr, "enode-uv-kv: %s\n", enode_strerror(rc));
        return -1;
    }
    if (opt->connect_to && enode_connect(s->node, opt->connect_to) < 0) {
        fprintf(stderr, "enode-uv-kv: cannot connect to %s: %s\n",
                opt->connect_to, enode_last_error(s->node));
        return -1;
    }
    if (listen_on(s, opt->port) < 0)
        return -1;
    watch_node(s);
    return 0;
}

static void close_left(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    struct options opt = {0};
    struct server s = {.loop = uv_default_loop()};
    enode_config_t *config;
    int status;

    if (enode_config_new(&config) < 0)
        return 1;
    status = configure(config, &opt, argc, argv);
    if (status == 0 && start(&s, config, &opt) < 0)
        status = 1;
    enode_config_free(config);
    if (status == 0) {
        printf("ready %s\n", enode_name(s.node));
        fflush(stdout);
        uv_run(s.loop, UV_RUN_DEFAULT); /* until on_signal closed all */
    }
    /* The service before the node (it frees its mailbox); no loop runs
     * in between, so no rpc reaches the freed service. */
    kv_service_free(s.kv);
    enode_free(s.node);
    uv_walk(s.loop, close_left, NULL); /* after a failed start */
    uv_run(s.loop, UV_RUN_DEFAULT);
    uv_loop_close(s.loop);
    return status;
}
