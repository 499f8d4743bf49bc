/* fakepeer.c - a fake Erlang node that tests drive by hand (fakepeer.h).
 *
 * The file has four parts: moving bytes while the node runs (pump, read,
 * write), the handshake in both roles, the queue of packets the node sent,
 * and the encoders, one per control message.
 */
#include "fakepeer.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/fragment.h"
#include "proto/framing.h"

/* The pid fp_sync calls net_kernel from; tests number theirs lower. */
#define FP_SYNC_PID 0x7ffe
/* Bytes asked of the kernel per read. */
#define FP_READ_CHUNK (64 * 1024)

struct fakepeer {
    enode_t *node;
    char name[MAXATOMLEN_UTF8]; /* an atom, as pids carry it */
    char cookie[EN_HS_COOKIE_MAX];
    uint64_t adv_flags; /* what the peer advertises */
    uint32_t creation;

    int fd;  /* the connection, or -1 */
    int lfd; /* the listening socket of fp_listen, or -1 */
    int up;  /* the handshake is done */
    int closed;
    en_hs_t hs;
    uint64_t flags;      /* agreed */
    uint64_t node_flags; /* as the node advertised them */
    uint32_t node_creation;

    en_buf_t in;           /* bytes read and not yet used */
    en_frag_table_t frags; /* fragments from the node */
    int frag_count;        /* fragments of the message being received */
    size_t frag_size;      /* fp_set_fragment_size */
    int forced_wire;       /* fp_force_wire, or -1 */
    uint64_t frag_seq;

    fp_pkt_t *head, **tail; /* packets received and not taken */
    fp_pkt_t *taken;        /* the packet fp_expect returned last */
    unsigned ticks, malformed;
    uint32_t next_ref;
    int passive; /* fp_set_passive: another thread runs the node */
    char err[1024];
};

static int fail(fp_t *fp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fp->err, sizeof fp->err, fmt, ap);
    va_end(ap);
    return -1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int ms_left(uint64_t deadline)
{
    uint64_t now = now_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

/* ---- the packet queue ---------------------------------------------------- */

static void pkt_free(fp_pkt_t *p)
{
    if (p) {
        free(p->data);
        free(p);
    }
}

/* Decode one whole packet from the node and queue it. */
static void queue_packet(fp_t *fp, const uint8_t *data, size_t len,
                         int fragments)
{
    fp_pkt_t *p = calloc(1, sizeof *p);
    char why[256];

    if (!p || !(p->data = malloc(len ? len : 1))) {
        free(p);
        fail(fp, "out of memory queueing a packet");
        return;
    }
    memcpy(p->data, data, len);
    p->len = len;
    p->passthrough = len > 0 && data[0] == 112;
    p->fragments = fragments;
    p->rc = en_ctrl_decode(p->data, len, &p->m, why, sizeof why);
    if (p->rc < 0 && p->rc != EN_CTRL_EUNKNOWN) {
        fp->malformed++;
        fail(fp, "the node sent a packet en_ctrl_decode refuses: %s", why);
    }
    *fp->tail = p;
    fp->tail = &p->next;
}

/* One fragment from the node; the whole message is queued once complete. */
static void take_fragment(fp_t *fp, const uint8_t *data, size_t len)
{
    const uint8_t *msg;
    size_t msg_len;
    char why[256];
    int rc =
        en_frag_feed(&fp->frags, data, len, &msg, &msg_len, why, sizeof why);

    fp->frag_count++;
    if (rc == EN_FRAG_COMPLETE) {
        queue_packet(fp, msg, msg_len, fp->frag_count);
        fp->frag_count = 0;
    } else if (rc < 0) {
        fp->malformed++;
        fp->frag_count = 0;
        fail(fp, "the node sent a bad fragment: %s", why);
    }
}

/* Queue every whole packet at the front of fp->in. */
static void take_packets(fp_t *fp)
{
    size_t used = 0;

    while (fp->in.len > used) {
        long n = en_frame_next(fp->in.data + used, fp->in.len - used, SIZE_MAX);
        if (n <= 0)
            break;
        const uint8_t *p = fp->in.data + used + EN_FRAME_HDR_LEN;
        size_t len = (size_t)n - EN_FRAME_HDR_LEN;
        if (len == 0)
            fp->ticks++;
        else if (len >= 2 && p[0] == 131 && (p[1] == 69 || p[1] == 70))
            take_fragment(fp, p, len);
        else
            queue_packet(fp, p, len, 0);
        used += (size_t)n;
    }
    en_buf_consume(&fp->in, used);
}

/* ---- moving bytes -------------------------------------------------------- */

/* Read all the socket has now. */
static void read_available(fp_t *fp)
{
    while (fp->fd >= 0 && !fp->closed) {
        if (en_buf_reserve(&fp->in, FP_READ_CHUNK) < 0) {
            fail(fp, "out of memory reading");
            return;
        }
        ssize_t r = recv(fp->fd, fp->in.data + fp->in.len,
                         fp->in.cap - fp->in.len, MSG_DONTWAIT);
        if (r > 0) {
            fp->in.len += (size_t)r;
        } else if (r == 0) {
            fp->closed = 1;
            fail(fp, "the node closed the connection");
        } else if (errno == EINTR) {
            continue;
        } else {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                fp->closed = 1;
                fail(fp, "reading from the node: %s", strerror(errno));
            }
            return;
        }
    }
}

/* One turn: wait at most ms for the node's fd or the peer's sockets (for
 * want_write on the connection also room to write), let the node do what
 * is ready, and read what it sent. */
static void pump_once(fp_t *fp, int ms, int want_write)
{
    struct pollfd pf[3];
    nfds_t n = 0;

    if (!fp->passive)
        pf[n++] = (struct pollfd){.fd = enode_fd(fp->node), .events = POLLIN};
    if (fp->fd >= 0 && !fp->closed)
        pf[n++] = (struct pollfd){
            .fd = fp->fd,
            .events = (short)(POLLIN | (want_write ? POLLOUT : 0))};
    if (fp->lfd >= 0 && fp->fd < 0)
        pf[n++] = (struct pollfd){.fd = fp->lfd, .events = POLLIN};
    int node_ms = fp->passive ? -1 : enode_timeout(fp->node);
    if (node_ms >= 0 && node_ms < ms)
        ms = node_ms;
    if (poll(pf, n, ms) < 0 && errno != EINTR)
        fail(fp, "poll: %s", strerror(errno));
    if (!fp->passive)
        enode_process(fp->node, 0);
    read_available(fp);
    if (fp->up)
        take_packets(fp);
}

void fp_set_passive(fp_t *fp, int passive)
{
    fp->passive = passive;
}

void fp_pump(fp_t *fp, int ms)
{
    uint64_t deadline = now_ms() + (uint64_t)ms;
    do
        pump_once(fp, ms_left(deadline), 0);
    while (ms_left(deadline) > 0 && !fp->closed);
}

/* Write all of data, running the node whenever the socket is full (the
 * node may be waiting for us to read before it reads more itself). */
static int write_all(fp_t *fp, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t deadline = now_ms() + FP_TIMEOUT_MS;

    while (len > 0) {
        if (fp->fd < 0 || fp->closed)
            return fail(fp, "cannot send: the connection is closed");
        ssize_t w = send(fp->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            fp->closed = 1;
            return fail(fp, "writing to the node: %s", strerror(errno));
        }
        if (ms_left(deadline) == 0)
            return fail(fp, "the node took nothing for %d ms", FP_TIMEOUT_MS);
        pump_once(fp, ms_left(deadline), 1);
    }
    return 0;
}

int fp_send_bytes(fp_t *fp, const void *data, size_t len)
{
    return write_all(fp, data, len);
}

int fp_send_packet(fp_t *fp, const void *data, size_t len)
{
    en_buf_t b = EN_BUF_INIT;
    if (len > UINT32_MAX || en_buf_put32(&b, (uint32_t)len) < 0 ||
        en_buf_append(&b, data, len) < 0) {
        en_buf_free(&b);
        return fail(fp, "fp_send_packet: too big, or out of memory");
    }
    int rc = write_all(fp, b.data, b.len);
    en_buf_free(&b);
    return rc;
}

int fp_tick(fp_t *fp)
{
    static const uint8_t tick[4];
    return write_all(fp, tick, sizeof tick);
}

/* ---- the handshake ------------------------------------------------------- */

static uint32_t fixed_challenge(void *ud)
{
    (void)ud;
    return 0x0FACADE5u;
}

static void copy_config(fp_t *fp, enode_t *node, const fp_config_t *cfg)
{
    fp_config_t none = {0};
    if (!cfg)
        cfg = &none;
    fp->node = node;
    snprintf(fp->name, sizeof fp->name, "%s",
             cfg->name ? cfg->name : FP_DEFAULT_NAME);
    snprintf(fp->cookie, sizeof fp->cookie, "%s",
             cfg->cookie ? cfg->cookie : FP_DEFAULT_COOKIE);
    fp->adv_flags = cfg->flags ? cfg->flags : FP_FLAGS_DEFAULT;
    fp->creation = cfg->creation ? cfg->creation : FP_DEFAULT_CREATION;
}

static fp_t *fp_new(enode_t *node, const fp_config_t *cfg)
{
    fp_t *fp = calloc(1, sizeof *fp);
    if (!fp)
        return NULL;
    copy_config(fp, node, cfg);
    fp->fd = fp->lfd = -1;
    fp->forced_wire = -1;
    fp->tail = &fp->head;
    en_frag_init(&fp->frags, SIZE_MAX);
    return fp;
}

/* Small packets go out at once, as the node's own do: no waiting for
 * the peer's delayed ACK. */
static void no_delay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Feed what was read to the machine and send its answers until it is
 * done, has failed, or timeout_ms has passed. */
static int run_handshake(fp_t *fp, enum en_hs_role role, int timeout_ms)
{
    en_hs_config_t c = {
        .role = role,
        .lenbytes = 2, /* inet_tcp_dist */
        .self_name = fp->name,
        .self_creation = fp->creation,
        .self_flags = fp->adv_flags,
        .cookie = fp->cookie,
        .dialled_name = role == EN_HS_INITIATOR ? enode_name(fp->node) : NULL,
        .random32 = fixed_challenge,
    };
    en_buf_t out = EN_BUF_INIT;
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    int rc = -1;

    no_delay(fp->fd);
    if (en_hs_init(&fp->hs, &c) < 0 || en_hs_start(&fp->hs, &out) < 0)
        return fail(fp, "handshake: %s", fp->hs.errmsg);
    for (;;) {
        if (out.len > 0 && write_all(fp, out.data, out.len) < 0)
            break;
        en_buf_reset(&out);
        if (fp->hs.state == EN_HS_DONE) {
            rc = 0;
            break;
        }
        if (fp->hs.state == EN_HS_FAILED) {
            fail(fp, "handshake: %s", fp->hs.errmsg);
            break;
        }
        if (fp->closed || ms_left(deadline) == 0) {
            if (fp->closed)
                en_hs_peer_closed(&fp->hs);
            else
                en_hs_timed_out(&fp->hs, (unsigned)timeout_ms);
            fail(fp, "handshake: %s", fp->hs.errmsg);
            break;
        }
        pump_once(fp, ms_left(deadline), 0);
        size_t used = 0;
        if (fp->in.len > 0)
            en_hs_feed(&fp->hs, fp->in.data, fp->in.len, &used, &out);
        en_buf_consume(&fp->in, used);
    }
    en_buf_free(&out);
    if (rc < 0)
        return -1;
    fp->up = 1;
    fp->flags = fp->hs.flags;
    fp->node_flags = fp->hs.peer_flags;
    fp->node_creation = fp->hs.peer_creation;
    take_packets(fp); /* what came right behind the handshake */
    return 0;
}

static int loopback_addr(struct sockaddr_in *a, int port)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons((uint16_t)port);
    return 0;
}

int fp_connect(fp_t **out, enode_t *node, const fp_config_t *cfg)
{
    struct sockaddr_in a;
    fp_t *fp = *out = fp_new(node, cfg);

    if (!fp)
        return -1;
    loopback_addr(&a, enode_port(node));
    fp->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fp->fd < 0)
        return fail(fp, "socket: %s", strerror(errno));
    /* On loopback the kernel completes the connection before the node
     * accepts it, so a blocking connect does not wait for the node. */
    if (connect(fp->fd, (struct sockaddr *)&a, sizeof a) < 0)
        return fail(fp, "connect to port %d: %s", enode_port(node),
                    strerror(errno));
    return run_handshake(fp, EN_HS_INITIATOR, FP_TIMEOUT_MS);
}

int fp_listen(fp_t **out, enode_t *node, const fp_config_t *cfg)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    fp_t *fp = *out = fp_new(node, cfg);

    if (!fp)
        return -1;
    loopback_addr(&a, 0);
    fp->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fp->lfd < 0 || bind(fp->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(fp->lfd, 4) < 0 ||
        getsockname(fp->lfd, (struct sockaddr *)&a, &len) < 0)
        return fail(fp, "listening socket: %s", strerror(errno));
    int rc = enode_set_peer_port(node, fp->name, ntohs(a.sin_port));
    if (rc < 0)
        return fail(fp, "enode_set_peer_port: %s", enode_strerror(rc));
    return 0;
}

int fp_accept(fp_t *fp, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

    if (fp->lfd < 0 || fp->fd >= 0)
        return fail(fp, "fp_accept: not listening, or connected already");
    while ((fp->fd = accept4(fp->lfd, NULL, NULL,
                             SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return fail(fp, "accept: %s", strerror(errno));
        if (ms_left(deadline) == 0)
            return fail(fp, "the node did not connect within %d ms",
                        timeout_ms);
        pump_once(fp, ms_left(deadline), 0);
    }
    return run_handshake(fp, EN_HS_ACCEPTOR, ms_left(deadline));
}

void fp_close(fp_t *fp)
{
    if (fp->fd >= 0)
        close(fp->fd);
    fp->fd = -1;
    fp->closed = 1;
}

void fp_free(fp_t *fp)
{
    if (!fp)
        return;
    fp_close(fp);
    if (fp->lfd >= 0)
        close(fp->lfd);
    fp_flush(fp);
    pkt_free(fp->taken);
    en_frag_free(&fp->frags);
    en_buf_free(&fp->in);
    free(fp);
}

const char *fp_error(const fp_t *fp)
{
    return fp ? fp->err : "out of memory";
}

/* ---- what was agreed ----------------------------------------------------- */

const char *fp_name(const fp_t *fp)
{
    return fp->name;
}

uint64_t fp_flags(const fp_t *fp)
{
    return fp->flags;
}

int fp_wire(const fp_t *fp)
{
    return fp->flags & (EN_DFLAG_FRAGMENTS | EN_DFLAG_DIST_HDR_ATOM_CACHE)
               ? EN_WIRE_DISTHDR
               : EN_WIRE_PASSTHROUGH;
}

uint32_t fp_node_creation(const fp_t *fp)
{
    return fp->node_creation;
}

uint64_t fp_node_flags(const fp_t *fp)
{
    return fp->node_flags;
}

int fp_closed(const fp_t *fp)
{
    return fp->closed;
}

unsigned fp_ticks(const fp_t *fp)
{
    return fp->ticks;
}

unsigned fp_malformed(const fp_t *fp)
{
    return fp->malformed;
}

void fp_pid(const fp_t *fp, unsigned num, erlang_pid *pid)
{
    memset(pid, 0, sizeof *pid);
    snprintf(pid->node, sizeof pid->node, "%s", fp->name);
    pid->num = num;
    pid->serial = 0;
    pid->creation = fp->creation;
}

void fp_ref(fp_t *fp, erlang_ref *ref)
{
    memset(ref, 0, sizeof *ref);
    snprintf(ref->node, sizeof ref->node, "%s", fp->name);
    ref->len = 3;
    ref->creation = fp->creation;
    ref->n[0] = ++fp->next_ref & 0x3ffff;
    ref->n[1] = 0xFA4E;
    ref->n[2] = 0x9EE2;
}

/* ---- receiving ----------------------------------------------------------- */

/* Take the first queued packet match accepts out of the queue. */
static fp_pkt_t *take_first(fp_t *fp, fp_match_fn match, void *ud)
{
    fp_pkt_t *prev = NULL;
    for (fp_pkt_t *p = fp->head; p; prev = p, p = p->next) {
        if (match && !match(p, ud))
            continue;
        if (prev)
            prev->next = p->next;
        else
            fp->head = p->next;
        if (fp->tail == &p->next)
            fp->tail = prev ? &prev->next : &fp->head;
        p->next = NULL;
        return p;
    }
    return NULL;
}

/* Wait for the first packet match accepts; the caller owns it. */
static fp_pkt_t *wait_for(fp_t *fp, fp_match_fn match, void *ud, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    fp_pkt_t *p;

    while (!(p = take_first(fp, match, ud))) {
        if (fp->closed) {
            fail(fp, "the connection closed before the packet came");
            return NULL;
        }
        if (ms_left(deadline) == 0) {
            fail(fp, "no such packet from the node within %d ms", timeout_ms);
            return NULL;
        }
        pump_once(fp, ms_left(deadline), 0);
    }
    return p;
}

const fp_pkt_t *fp_expect(fp_t *fp, fp_match_fn match, void *ud, int timeout_ms)
{
    pkt_free(fp->taken);
    fp->taken = wait_for(fp, match, ud, timeout_ms);
    return fp->taken;
}

static int op_is(const fp_pkt_t *p, void *ud)
{
    return p->rc == 0 && p->m.op == *(const int *)ud;
}

const fp_pkt_t *fp_expect_op(fp_t *fp, int op, int timeout_ms)
{
    return fp_expect(fp, op_is, &op, timeout_ms);
}

struct op_to {
    int op;
    const erlang_pid *to;
};

static int op_to_is(const fp_pkt_t *p, void *ud)
{
    const struct op_to *w = ud;
    return p->rc == 0 && p->m.op == w->op && p->m.has_to_pid &&
           fp_pid_eq(&p->m.to_pid, w->to);
}

const fp_pkt_t *fp_expect_to(fp_t *fp, int op, const erlang_pid *to,
                             int timeout_ms)
{
    struct op_to w = {op, to};
    return fp_expect(fp, op_to_is, &w, timeout_ms);
}

int fp_count(const fp_t *fp, fp_match_fn match, void *ud)
{
    int n = 0;
    for (const fp_pkt_t *p = fp->head; p; p = p->next)
        n += !match || match(p, ud);
    return n;
}

void fp_flush(fp_t *fp)
{
    while (fp->head) {
        fp_pkt_t *p = fp->head;
        fp->head = p->next;
        pkt_free(p);
    }
    fp->tail = &fp->head;
}

int fp_wait_closed(fp_t *fp, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    while (!fp->closed) {
        if (ms_left(deadline) == 0)
            return fail(fp, "the node kept the connection for %d ms",
                        timeout_ms);
        pump_once(fp, ms_left(deadline), 0);
    }
    return 0;
}

/* Is the packet net_kernel's answer {Ref, yes} to fp_sync's call? */
static int sync_reply(const fp_pkt_t *p, void *ud)
{
    const erlang_ref *want = ud;
    erlang_pid to;
    erlang_ref ref;
    char atom[MAXATOMLEN_UTF8];
    int i = 0, arity;

    if (p->rc != 0 || !p->m.msg ||
        (p->m.op != EN_DOP_SEND && p->m.op != EN_DOP_SEND_SENDER))
        return 0;
    to = p->m.to_pid;
    return to.num == FP_SYNC_PID && strcmp(to.node, want->node) == 0 &&
           ei_decode_tuple_header(p->m.msg, &i, &arity) == 0 && arity == 2 &&
           ei_decode_ref(p->m.msg, &i, &ref) == 0 && fp_ref_eq(&ref, want) &&
           ei_decode_atom(p->m.msg, &i, atom) == 0 && strcmp(atom, "yes") == 0;
}

int fp_sync(fp_t *fp, int timeout_ms)
{
    erlang_pid self;
    erlang_ref ref;
    ei_x_buff x;

    fp_pid(fp, FP_SYNC_PID, &self);
    fp_ref(fp, &ref);
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "$gen_call");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, &self);
    ei_x_encode_ref(&x, &ref);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "is_auth");
    ei_x_encode_atom(&x, fp->name);
    int rc = fp_reg_send(fp, &self, "net_kernel", &x);
    ei_x_free(&x);
    if (rc < 0)
        return -1;
    /* Not through fp_expect: the packet it returned last stays valid. */
    fp_pkt_t *p = wait_for(fp, sync_reply, &ref, timeout_ms);
    if (!p) {
        char why[sizeof fp->err];
        snprintf(why, sizeof why, "%s", fp->err);
        return fail(fp, "fp_sync: no answer from net_kernel: %s", why);
    }
    pkt_free(p);
    return 0;
}

/* ---- sending ------------------------------------------------------------- */

void fp_force_wire(fp_t *fp, int wire)
{
    fp->forced_wire = wire;
}

/* The form the peer writes in. */
static int send_wire(const fp_t *fp)
{
    return fp->forced_wire >= 0 ? fp->forced_wire : fp_wire(fp);
}

void fp_set_fragment_size(fp_t *fp, size_t frag_size)
{
    fp->frag_size = frag_size;
}

/* Write the packet(s) in pkt, cut into fragments if asked to; frees pkt. */
static int send_buf(fp_t *fp, en_buf_t *pkt)
{
    int rc;
    if (fp->frag_size > 0 && send_wire(fp) == EN_WIRE_DISTHDR) {
        en_buf_t frags = EN_BUF_INIT;
        rc = en_frag_split(&frags, pkt->data, pkt->len, ++fp->frag_seq,
                           fp->frag_size);
        if (rc < 0)
            rc = fail(fp, "en_frag_split: %s", en_ctrl_strerror(rc));
        else
            rc = write_all(fp, frags.data, frags.len);
        en_buf_free(&frags);
    } else {
        rc = write_all(fp, pkt->data, pkt->len);
    }
    en_buf_free(pkt);
    return rc;
}

/* Send what an en_ctrl_* encoder put in pkt (rc: what it returned). */
static int send_encoded(fp_t *fp, en_buf_t *pkt, int rc)
{
    if (rc < 0) {
        en_buf_free(pkt);
        return fail(fp, "cannot encode: %s", en_ctrl_strerror(rc));
    }
    return send_buf(fp, pkt);
}

#define TERM(x) (x)->buff, (size_t)(x)->index

int fp_send(fp_t *fp, const erlang_pid *to, const ei_x_buff *msg)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_send(&b, send_wire(fp), 0, NULL, to, TERM(msg));
    return send_encoded(fp, &b, rc);
}

int fp_send_sender(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                   const ei_x_buff *msg)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_send(&b, send_wire(fp), 1, from, to, TERM(msg));
    return send_encoded(fp, &b, rc);
}

int fp_reg_send(fp_t *fp, const erlang_pid *from, const char *to_name,
                const ei_x_buff *msg)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_reg_send(&b, send_wire(fp), from, to_name, TERM(msg));
    return send_encoded(fp, &b, rc);
}

int fp_alias_send(fp_t *fp, const erlang_pid *from, const erlang_ref *alias,
                  const ei_x_buff *msg)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_alias_send(&b, send_wire(fp), from, alias, TERM(msg));
    return send_encoded(fp, &b, rc);
}

int fp_link(fp_t *fp, const erlang_pid *from, const erlang_pid *to)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_link(&b, send_wire(fp), from, to);
    return send_encoded(fp, &b, rc);
}

int fp_unlink_id(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                 uint64_t id)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_unlink_id(&b, send_wire(fp), from, to, id);
    return send_encoded(fp, &b, rc);
}

int fp_unlink_id_ack(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                     uint64_t id)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_unlink_id_ack(&b, send_wire(fp), from, to, id);
    return send_encoded(fp, &b, rc);
}

int fp_exit(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
            const ei_x_buff *reason)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_exit(&b, send_wire(fp), from, to, TERM(reason));
    return send_encoded(fp, &b, rc);
}

int fp_exit2(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
             const ei_x_buff *reason)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_exit2(&b, send_wire(fp), from, to, TERM(reason));
    return send_encoded(fp, &b, rc);
}

int fp_monitor(fp_t *fp, const erlang_pid *from, const erlang_pid *to_pid,
               const char *to_name, const erlang_ref *ref)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_monitor_p(&b, send_wire(fp), from, to_pid, to_name, ref);
    return send_encoded(fp, &b, rc);
}

int fp_demonitor(fp_t *fp, const erlang_pid *from, const erlang_pid *to_pid,
                 const char *to_name, const erlang_ref *ref)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_demonitor_p(&b, send_wire(fp), from, to_pid, to_name, ref);
    return send_encoded(fp, &b, rc);
}

int fp_monitor_exit(fp_t *fp, const erlang_pid *from_pid, const char *from_name,
                    const erlang_pid *to, const erlang_ref *ref,
                    const ei_x_buff *reason)
{
    en_buf_t b = EN_BUF_INIT;
    int rc = en_ctrl_monitor_p_exit(&b, send_wire(fp), from_pid, from_name, to,
                                    ref, TERM(reason));
    return send_encoded(fp, &b, rc);
}

/* ---- the ops ctrl.h has no encoder for: tuples built with ei ------------- */

/* Strip a leading version byte off a whole-buffer term. */
static void bare(const ei_x_buff *x, const char **t, size_t *len)
{
    *t = x->buff;
    *len = (size_t)x->index;
    if (*len > 0 && (uint8_t)(*t)[0] == 131) {
        (*t)++;
        (*len)--;
    }
}

int fp_encode_ctrl(const fp_t *fp, en_buf_t *out, const ei_x_buff *ctrl,
                   const ei_x_buff *msg)
{
    const char *c, *m = NULL;
    size_t clen, mlen = 0;
    int pass = send_wire(fp) == EN_WIRE_PASSTHROUGH;
    static const uint8_t pass_hdr[2] = {112, 131}, dist_hdr[3] = {131, 68, 0};
    static const uint8_t magic = 131;

    bare(ctrl, &c, &clen);
    if (msg)
        bare(msg, &m, &mlen);
    size_t len = (pass ? 2 : 3) + clen + (msg ? mlen + (size_t)pass : 0);
    if (len > UINT32_MAX)
        return -1;
    int rc = en_buf_put32(out, (uint32_t)len);
    rc |= pass ? en_buf_append(out, pass_hdr, 2)
               : en_buf_append(out, dist_hdr, 3);
    rc |= en_buf_append(out, c, clen);
    if (msg && pass)
        rc |= en_buf_append(out, &magic, 1);
    if (msg)
        rc |= en_buf_append(out, m, mlen);
    return rc < 0 ? -1 : 0;
}

int fp_send_ctrl(fp_t *fp, const ei_x_buff *ctrl, const ei_x_buff *msg)
{
    en_buf_t b = EN_BUF_INIT;
    if (fp_encode_ctrl(fp, &b, ctrl, msg) < 0) {
        en_buf_free(&b);
        return fail(fp, "out of memory encoding a packet");
    }
    return send_buf(fp, &b);
}

/* {Op, From, To} + Reason: PAYLOAD_EXIT and PAYLOAD_EXIT2. */
static int payload_exit(fp_t *fp, long op, const erlang_pid *from,
                        const erlang_pid *to, const ei_x_buff *reason)
{
    ei_x_buff c;
    ei_x_new(&c);
    ei_x_encode_tuple_header(&c, 3);
    ei_x_encode_long(&c, op);
    ei_x_encode_pid(&c, from);
    ei_x_encode_pid(&c, to);
    int rc = fp_send_ctrl(fp, &c, reason);
    ei_x_free(&c);
    return rc;
}

int fp_payload_exit(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                    const ei_x_buff *reason)
{
    return payload_exit(fp, EN_DOP_PAYLOAD_EXIT, from, to, reason);
}

int fp_payload_exit2(fp_t *fp, const erlang_pid *from, const erlang_pid *to,
                     const ei_x_buff *reason)
{
    return payload_exit(fp, EN_DOP_PAYLOAD_EXIT2, from, to, reason);
}

int fp_payload_monitor_exit(fp_t *fp, const erlang_pid *from_pid,
                            const char *from_name, const erlang_pid *to,
                            const erlang_ref *ref, const ei_x_buff *reason)
{
    ei_x_buff c;
    if ((from_pid == NULL) == (from_name == NULL))
        return fail(fp, "fp_payload_monitor_exit: give a pid or a name");
    ei_x_new(&c);
    ei_x_encode_tuple_header(&c, 4);
    ei_x_encode_long(&c, EN_DOP_PAYLOAD_MONITOR_P_EXIT);
    if (from_pid)
        ei_x_encode_pid(&c, from_pid);
    else
        ei_x_encode_atom(&c, from_name);
    ei_x_encode_pid(&c, to);
    ei_x_encode_ref(&c, ref);
    int rc = fp_send_ctrl(fp, &c, reason);
    ei_x_free(&c);
    return rc;
}

int fp_spawn_request(fp_t *fp, const erlang_ref *req_id, const erlang_pid *from,
                     const erlang_pid *group_leader, const char *module,
                     const char *function, long arity, const ei_x_buff *opts,
                     const ei_x_buff *args)
{
    const char *o;
    size_t olen;
    ei_x_buff c;

    bare(opts, &o, &olen);
    ei_x_new(&c);
    ei_x_encode_tuple_header(&c, 6);
    ei_x_encode_long(&c, EN_DOP_SPAWN_REQUEST);
    ei_x_encode_ref(&c, req_id);
    ei_x_encode_pid(&c, from);
    ei_x_encode_pid(&c, group_leader);
    ei_x_encode_tuple_header(&c, 3);
    ei_x_encode_atom(&c, module);
    ei_x_encode_atom(&c, function);
    ei_x_encode_long(&c, arity);
    ei_x_append_buf(&c, o, (int)olen);
    int rc = fp_send_ctrl(fp, &c, args);
    ei_x_free(&c);
    return rc;
}

/* ---- terms --------------------------------------------------------------- */

#define FP_TEXT_SLOTS 8

const char *fp_text(const char *term, size_t len)
{
    static char slots[FP_TEXT_SLOTS][FP_TEXT_MAX];
    static unsigned next;
    char *out = slots[next++ % FP_TEXT_SLOTS];
    char *s = NULL;
    int i = len > 0 && (uint8_t)term[0] == 131 ? 1 : 0, start = i;

    /* ei_s_print_term trusts its input: check the bounds first. */
    size_t tlen;
    if (len <= (size_t)start ||
        en_term_size(term + start, len - (size_t)start, &tlen, NULL) < 0 ||
        ei_s_print_term(&s, term, &i) < 0) {
        free(s);
        return "(bad term)";
    }
    snprintf(out, FP_TEXT_MAX, "%s", s);
    free(s);
    return out;
}

const char *fp_xtext(const ei_x_buff *x)
{
    return fp_text(x->buff, (size_t)x->index);
}

const char *fp_pid_text(const erlang_pid *pid)
{
    ei_x_buff x;
    ei_x_new(&x);
    ei_x_encode_pid(&x, pid);
    const char *t = fp_xtext(&x);
    ei_x_free(&x);
    return t;
}

const char *fp_ref_text(const erlang_ref *ref)
{
    ei_x_buff x;
    ei_x_new(&x);
    ei_x_encode_ref(&x, ref);
    const char *t = fp_xtext(&x);
    ei_x_free(&x);
    return t;
}

int fp_pid_eq(const erlang_pid *a, const erlang_pid *b)
{
    return strcmp(a->node, b->node) == 0 && a->num == b->num &&
           a->serial == b->serial && a->creation == b->creation;
}

int fp_ref_eq(const erlang_ref *a, const erlang_ref *b)
{
    if (strcmp(a->node, b->node) != 0 || a->len != b->len ||
        a->creation != b->creation)
        return 0;
    for (int k = 0; k < a->len && k < 5; k++)
        if (a->n[k] != b->n[k])
            return 0;
    return 1;
}
