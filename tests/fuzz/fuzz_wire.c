/* fuzz_wire.c - libFuzzer target for what a connected peer sends: the
 * node runtime's receiving side, from the socket to the mailboxes.
 *
 * fuzz_ctrl and fuzz_fragment take the codecs alone; this target takes
 * the path a packet really travels once the handshake is done: the
 * connection reads it from its socket (net/conn.c), frames it, collects
 * fragments (net/wire.c, proto/fragment.c), decodes it (proto/ctrl.c)
 * and dispatches it (proc/dispatch.c) to mailboxes, links, monitors, the
 * built-in services (svc/: net_kernel, rex, global, pg) and rpc calls into C
 * (svc/rpc.c), whose answers go back out (proc/remote.c).
 *
 * Each input gets a node of its own: "fake@vm" (creation 0x1234ABCD),
 * plain TCP, no EPMD, with
 *   <fake@vm.1.0>  registered as echo, traps exits;
 *   <fake@vm.2.0>  registered as victim, does not trap exits;
 *   <fake@vm.3.0>  has the alias #Ref<fake@vm.1.24301.61453> (words 1,
 *                  0x5EED, 0xF00D) and monitors nodes;
 *   <fake@vm.4.0>  linked to <real@vm.9.0>, monitoring it (ref words 2,
 *                  0x5EED, 0xF00D) and {peer_server, real@vm} (3, ...);
 *   <fake@vm.5.0>  global_name_server, then the other services;
 *   <fake@vm.8.0>  the pg scope `pg`, where echo is in group g and
 *                  <fake@vm.3.0> monitors every group;
 *   C functions lists:reverse/N, erlang:node/0, fz:fail/N and fz:send/N
 *   for rpc:call and erpc:call;
 * and a connection from real@vm that is up, whose socket is one end of a
 * socketpair. The input is
 *   byte 0  bit 0: real@vm has FRAGMENTS (we answer in the header form)
 *           bit 1: real@vm closes the connection after its bytes
 *           bit 2: a maximum message size of 300 bytes
 *           bits 3-4: delivery in pieces of all / 7 / 64 / 1000 bytes
 *   then    the bytes real@vm sends: packets, Len:32 | Data, ticks too.
 * A connection real@vm closed must be gone. Afterwards every message in
 * the mailboxes must be a whole term, gen:call requests among them are
 * answered, and every packet the node wrote back must be one that
 * en_ctrl_decode() takes.
 *
 * A node only dials out to answer; the resolver is replaced here (see
 * getaddrinfo below) so that no input makes it ask DNS about a host name.
 *
 * Seeds (tests/fuzz/corpus/wire) are made by
 * tests/fuzz/mkcorpus_wire.escript with OTP's own term_to_binary/1.
 *
 * Build with libFuzzer: make fuzz (see README.md).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"
#include "node/node.h"
#include "proc/mbox.h"

#include "proto/dflags.h"
#include "proto/framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_main.c runs fewer inputs here: each one makes a node. */
extern const unsigned long fuzz_iterations;
const unsigned long fuzz_iterations = 2000;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_wire: check failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                 \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* No DNS: every host is unknown, so dialling any node fails at once. */
int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    (void)node;
    (void)service;
    (void)hints;
    *res = NULL;
    return EAI_NONAME;
}

static void quiet(void *user, int level, const char *message)
{
    (void)user;
    (void)level;
    CHECK(message != NULL);
}

/* ---- the C functions Erlang may call ------------------------------------- */

/* lists:reverse/N: reverses a list of small terms; anything else fails. */
static int fn_reverse(void *user, const char *args, int index, int arity,
                      ei_x_buff *result)
{
    (void)user;
    int starts[64], i = index, n = 0, type, size;
    if (arity != 1 || ei_get_type(args, &i, &type, &size) < 0 ||
        (type != ERL_LIST_EXT && type != ERL_NIL_EXT) ||
        ei_decode_list_header(args, &i, &n) < 0 || n > 64) {
        ei_x_encode_atom(result, "badarg");
        return 1;
    }
    for (int k = 0; k < n; k++) {
        starts[k] = i;
        if (ei_skip_term(args, &i) < 0) {
            ei_x_encode_atom(result, "badarg");
            return 1;
        }
    }
    ei_x_encode_list_header(result, n);
    for (int k = n - 1; k >= 0; k--) {
        int end = starts[k];
        ei_skip_term(args, &end);
        ei_x_append_buf(result, args + starts[k], end - starts[k]);
    }
    ei_x_encode_empty_list(result);
    return 0;
}

static int fn_node(void *user, const char *args, int index, int arity,
                   ei_x_buff *result)
{
    (void)user;
    (void)args;
    (void)index;
    if (arity != 0) {
        ei_x_encode_atom(result, "badarg");
        return 1;
    }
    ei_x_encode_atom(result, "fake@vm");
    return 0;
}

static int fn_fail(void *user, const char *args, int index, int arity,
                   ei_x_buff *result)
{
    (void)user;
    (void)args;
    (void)index;
    ei_x_encode_tuple_header(result, 2);
    ei_x_encode_atom(result, "failed");
    ei_x_encode_long(result, arity);
    return 1;
}

/* fz:send/N: sends {rpc, N} to <fake@vm.1.0>, from the function (without
 * the node's lock, as the API allows). */
static int fn_send(void *user, const char *args, int index, int arity,
                   ei_x_buff *result)
{
    enode_mbox_t *mb = user;
    ei_x_buff x;
    (void)args;
    (void)index;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "rpc");
    ei_x_encode_long(&x, arity);
    enode_send(mb, enode_mbox_pid(mb), &x);
    ei_x_free(&x);
    ei_x_encode_atom(result, "ok");
    return 0;
}

/* ---- the node ------------------------------------------------------------ */

static int dist_port;

/* A port to listen on: one the kernel had free a moment ago. */
static int pick_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    CHECK(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct world {
    enode_t *n;
    enode_mbox_t *mb[4];
    en_conn_t *c;
    int node_fd; /* the node's end of the socketpair */
    int peer_fd; /* real@vm's end */
    en_buf_t replies;
} world_t;

/* The node's configuration; every message is formatted (ENODE_LOG_DEBUG). */
static enode_config_t *node_config(size_t max_message)
{
    enode_config_t *cfg;

    if (enode_config_new(&cfg) != 0)
        return NULL;
    if (enode_config_set_name(cfg, "fake@vm", 0) != 0 ||
        enode_config_set_cookie(cfg, "secret") != 0 ||
        enode_config_set_proto(cfg, ENODE_PROTO_TCP) != 0 ||
        enode_config_set_log(cfg, quiet, NULL, ENODE_LOG_DEBUG) != 0 ||
        enode_config_set_max_message_size(cfg, max_message) != 0) {
        enode_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static enode_t *new_node(size_t max_message)
{
    enode_config_t *cfg = node_config(max_message);
    enode_t *n = NULL;
    char err[256];

    if (!cfg) {
        fprintf(stderr, "fuzz_wire: cannot make a configuration\n");
        abort();
    }
    for (int attempt = 0; attempt < 20 && !n; attempt++) {
        if (!dist_port || attempt > 0)
            dist_port = pick_port();
        enode_config_set_dist_port(cfg, dist_port);
        if (enode_new(&n, cfg, err, sizeof err) != 0)
            n = NULL;
    }
    enode_config_free(cfg);
    if (!n) {
        fprintf(stderr, "fuzz_wire: cannot make a node: %s\n", err);
        abort();
    }
    return n;
}

/* The pids the seeds were made for: creation 0x1234ABCD, the four
 * mailboxes <fake@vm.1.0> to <fake@vm.4.0>, global's server <5.0> and the
 * other services after it; refs from words 0, 0x5EED, 0xF00D. */
static void fix_pids(enode_t *n)
{
    unsigned next = 6;

    n->core.creation = 0x1234ABCD;
    for (en_mbox_t *mb = n->proc.mboxes; mb; mb = mb->next) {
        mb->pid.creation = n->core.creation;
        mb->pid.serial = 0;
        mb->pid.num = strcmp(mb->name, "global_name_server") == 0 ? 5
                                                                  : next++;
    }
    n->proc.next_pid_num = 1;
    n->proc.next_pid_serial = 0;
    n->proc.ref_words[0] = 0;
    n->proc.ref_words[1] = 0x5EED;
    n->proc.ref_words[2] = 0xF00D;
}

static void set_up(world_t *w, unsigned options)
{
    enode_t *n = new_node(options & 4 ? 300 : 0);
    erlang_pid peer;
    erlang_ref ref;

    memset(w, 0, sizeof *w);
    w->n = n;
    /* What the seeds were made for: fixed pids and refs. */
    fix_pids(n);
    for (int i = 0; i < 4; i++)
        CHECK(enode_mbox_new(n, &w->mb[i]) == 0);
    n->proc.next_pid_num = 8; /* past the services' */
    CHECK(enode_register(w->mb[0], "echo") == 0);
    CHECK(enode_trap_exit(w->mb[0], 1) == 0);
    CHECK(enode_register(w->mb[1], "victim") == 0);
    CHECK(enode_alias(w->mb[2], &ref) == 0);
    CHECK(enode_monitor_nodes(w->mb[2], 1) == 0);
    CHECK(enode_rpc_register(n, "lists", "reverse", fn_reverse, NULL) == 0);
    CHECK(enode_rpc_register(n, "erlang", "node", fn_node, NULL) == 0);
    CHECK(enode_rpc_register(n, "fz", "fail", fn_fail, NULL) == 0);
    CHECK(enode_rpc_register(n, "fz", "send", fn_send, w->mb[0]) == 0);

    /* real@vm has just finished its handshake with us. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                     sv) == 0);
    pthread_mutex_lock(&n->core.lock);
    en_conn_t *c = en_conn_new(&n->net, 0);
    CHECK(c);
    c->fd = sv[0];
    c->hs = calloc(1, sizeof *c->hs);
    CHECK(c->hs);
    snprintf(c->hs->peer_name, sizeof c->hs->peer_name, "real@vm");
    c->hs->peer_creation = 0x5A;
    c->hs->flags = n->net.flags & ~(options & 1 ? 0 : EN_DFLAG_FRAGMENTS);
    en_conn_up(c);
    pthread_mutex_unlock(&n->core.lock);
    w->c = c;
    w->node_fd = sv[0];
    w->peer_fd = sv[1];

    /* <fake@vm.4.0> holds a link and monitors across the connection. */
    memset(&peer, 0, sizeof peer);
    snprintf(peer.node, sizeof peer.node, "real@vm");
    peer.num = 9;
    peer.creation = 0x5A;
    CHECK(enode_link(w->mb[3], &peer) == 0);
    CHECK(enode_monitor(w->mb[3], &peer, &ref) == 0);
    CHECK(enode_monitor_name(w->mb[3], "peer_server", "real@vm", &ref) == 0);

    /* The pg scope, with a member and a watcher. Its references come from
     * words 1000 up, so that those the seeds name (the node's 4th, 6th...)
     * stay what they were. */
    ei_x_buff g;
    uint32_t next_ref = n->proc.ref_words[0];
    n->proc.ref_words[0] = 1000;
    ei_x_new_with_version(&g);
    ei_x_encode_atom(&g, "g");
    CHECK(enode_pg_start(n, NULL) == 0);
    pthread_mutex_lock(&n->core.lock);
    CHECK(en_mbox_by_name(&n->proc, "pg")->pid.num == 8); /* as the seeds say */
    pthread_mutex_unlock(&n->core.lock);
    CHECK(enode_pg_join(w->mb[0], NULL, &g) == 0);
    CHECK(enode_pg_monitor(w->mb[2], NULL, NULL, &ref) == 0);
    ei_x_free(&g);
    n->proc.ref_words[0] = next_ref;
    CHECK(enode_process(n, 0) == 0);
}

/* What the node wrote to real@vm, kept for the checks at the end. */
static void read_replies(world_t *w)
{
    uint8_t buf[16384];
    ssize_t r;
    while ((r = read(w->peer_fd, buf, sizeof buf)) > 0)
        CHECK(en_buf_append(&w->replies, buf, (size_t)r) == 0);
}

/* Our connection from real@vm if it is still up, else NULL. The loop
 * frees a connection once it is dead, and only ours has this fd
 * (connections the node dials fail before they get one). */
static en_conn_t *live_conn(world_t *w)
{
    for (en_conn_t *c = w->n->net.conns; c; c = c->next)
        if (c == w->c && c->fd == w->node_fd && c->phase != EN_PH_DEAD)
            return c;
    return NULL;
}

/* The node handles a readable socket, as its loop would. */
static void node_reads(world_t *w)
{
    pthread_mutex_lock(&w->n->core.lock);
    en_conn_t *c = live_conn(w);
    if (c)
        en_conn_on_event(c, EPOLLIN);
    pthread_mutex_unlock(&w->n->core.lock);
    CHECK(enode_process(w->n, 0) == 0); /* writes, and frees the dead */
    read_replies(w);
}

static void deliver(world_t *w, const uint8_t *p, size_t len, size_t piece)
{
    size_t pos = 0;
    int stuck = 0;
    while (pos < len) {
        size_t n = len - pos < piece ? len - pos : piece;
        ssize_t wr = send(w->peer_fd, p + pos, n, MSG_NOSIGNAL);
        if (wr < 0 && errno != EAGAIN)
            return; /* the node closed the connection */
        if (wr > 0)
            pos += (size_t)wr;
        else if (++stuck > 100)
            return; /* the node reads no more */
        node_reads(w);
    }
}

/* Every message in every mailbox is a whole term; gen:calls get answers. */
static void empty_mailboxes(world_t *w)
{
    for (int i = 0; i < 4; i++) {
        enode_msg_t msg;
        while (enode_receive(w->mb[i], &msg, 0) == 0) {
            int idx = 0, version;
            CHECK(msg.msg.index > 1 &&
                  ei_decode_version(msg.msg.buff, &idx, &version) == 0 &&
                  ei_skip_term(msg.msg.buff, &idx) == 0 &&
                  idx == msg.msg.index);
            enode_from_t from;
            int req;
            if (enode_gen_call_parse(&msg, &from, &req)) {
                CHECK(req > 0 && req < msg.msg.index);
                ei_x_buff reply;
                ei_x_new_with_version(&reply);
                ei_x_encode_atom(&reply, "ok");
                enode_gen_reply(w->mb[i], &from, &reply);
                ei_x_free(&reply);
            }
            enode_msg_free(&msg);
        }
    }
}

/* Every packet the node sent is one our own decoder takes. */
static void check_replies(world_t *w)
{
    static en_dmsg_t m; /* several KB */
    en_frag_table_t frags;
    size_t pos = 0;
    char why[256];

    en_frag_init(&frags, SIZE_MAX);
    while (pos < w->replies.len) {
        long n = en_frame_next(w->replies.data + pos, w->replies.len - pos,
                               SIZE_MAX);
        CHECK(n >= 0);
        if (n == 0)
            break; /* the rest is still queued in the node */
        const uint8_t *p = w->replies.data + pos + EN_FRAME_HDR_LEN;
        size_t len = (size_t)n - EN_FRAME_HDR_LEN;
        pos += (size_t)n;
        if (len == 0)
            continue; /* a tick */
        if (len >= 2 && p[0] == 131 && (p[1] == 69 || p[1] == 70)) {
            const uint8_t *msg;
            size_t msg_len;
            int rc = en_frag_feed(&frags, p, len, &msg, &msg_len, why,
                                  sizeof why);
            CHECK(rc >= 0);
            if (rc != EN_FRAG_COMPLETE)
                continue;
            p = msg;
            len = msg_len;
        }
        if (en_ctrl_decode(p, len, &m, why, sizeof why) != 0) {
            fprintf(stderr, "fuzz_wire: the node sent a packet it cannot "
                            "decode itself: %s\n", why);
            abort();
        }
    }
    en_frag_free(&frags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t pieces[4] = {SIZE_MAX, 7, 64, 1000};
    static int init;
    world_t w;

    if (!init) {
        wolfSSL_Init(); /* once: nodes come and go */
        init = 1;
    }
    if (size < 1)
        return 0;
    unsigned options = data[0];
    set_up(&w, options);
    deliver(&w, data + 1, size - 1, pieces[(options >> 3) & 3]);
    if (options & 2) {
        shutdown(w.peer_fd, SHUT_WR);
        node_reads(&w);
        pthread_mutex_lock(&w.n->core.lock);
        if (live_conn(&w)) {
            fprintf(stderr, "fuzz_wire: the node did not notice that "
                            "real@vm closed the connection\n");
            abort();
        }
        pthread_mutex_unlock(&w.n->core.lock);
    }
    empty_mailboxes(&w);
    CHECK(enode_process(w.n, 0) == 0); /* the answers go out */
    read_replies(&w);
    check_replies(&w);
    enode_free(w.n);
    close(w.peer_fd);
    en_buf_free(&w.replies);
    return 0;
}
