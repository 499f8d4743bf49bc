/* loop.c - the event loop of a node, and its own thread.
 *
 * The loop waits on one epoll fd, which users of the event-loop mode poll
 * in their own loop. Events are handled with the node's lock held; the
 * wait itself happens without it, so other threads can send meanwhile.
 */
#include "net/conn.h"
#include "tls/ecc_cache.h"
#include "base/list.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static uint64_t next_deadline(en_net_t *net)
{
    uint64_t d = net->ecc_forget_at ? net->ecc_forget_at : UINT64_MAX;
    for (en_conn_t *c = net->conns; c; c = c->next) {
        uint64_t cd = en_conn_deadline(c);
        if (cd < d)
            d = cd;
    }
    return d;
}

/* Milliseconds from now until `d`, clamped to an int; -1 for no deadline. */
static int ms_until(uint64_t d, uint64_t now)
{
    if (d == UINT64_MAX)
        return -1;
    return d <= now ? 0 : (int)(d - now > 0x7fffffff ? 0x7fffffff : d - now);
}

int en_net_timeout(en_net_t *net)
{
    pthread_mutex_lock(&net->core->lock);
    uint64_t d = next_deadline(net);
    pthread_mutex_unlock(&net->core->lock);
    return ms_until(d, en_now_ms());
}

static void reap_dead(en_net_t *net)
{
    en_conn_t *c;
    EN_LIST_UNLINK_EACH(&net->conns, c, c->phase == EN_PH_DEAD)
        en_conn_free(c);
}

static void on_epmd_event(en_net_t *net)
{
    char buf[64];
    ssize_t r = read(net->epmd_fd, buf, sizeof buf);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
        en_core_log(net->core, ENODE_LOG_ERROR,
                    "EPMD closed our registration: other nodes cannot find "
                    "%s any more", net->core->name);
        epoll_ctl(net->epfd, EPOLL_CTL_DEL, net->epmd_fd, NULL);
        close(net->epmd_fd);
        net->epmd_fd = -1;
    }
}

static void handle_event(en_net_t *net, struct epoll_event *ev)
{
    uint64_t drain;

    if (ev->data.ptr == &net->wakefd) {
        if (read(net->wakefd, &drain, sizeof drain) < 0)
            drain = 0;
    } else if (ev->data.ptr == &net->lfd) {
        en_conn_accept(net);
    } else if (ev->data.ptr == &net->epmd_fd) {
        on_epmd_event(net);
    } else {
        en_conn_on_event(ev->data.ptr, ev->events);
    }
}

static void run_timers(en_net_t *net)
{
    uint64_t now = en_now_ms();
    for (en_conn_t *c = net->conns; c; c = c->next)
        if (en_conn_deadline(c) <= now)
            en_conn_on_timer(c, now);
    if (net->ecc_forget_at && net->ecc_forget_at <= now) {
        en_tls_forget_ecc_points();
#ifdef __GLIBC__
        /* The cache's blocks came from the heap (glibc raises its mmap
         * threshold as large blocks are freed): give the pages back. */
        malloc_trim(0);
#endif
        net->ecc_forget_at = 0;
    }
}

/* The wait before the loop's next turn, in ms (-1: none), at most
 * timeout_ms unless that is negative. */
static int loop_wait_ms(en_net_t *net, int timeout_ms)
{
    int t = ms_until(next_deadline(net), en_now_ms());

    if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
        t = timeout_ms;
    return t;
}

/* ---- waiting for events, and spinning first -------------------------------- */

/* A peer that streams small messages at a receiver faster than itself
 * leaves it one or two packets per wake-up: the receiver drains the
 * socket, sleeps, and each packet wakes it again. On a virtual machine
 * each sleep idles the CPU and each wake-up costs an interrupt between
 * CPUs, paid by the sender, so a receiver that sleeps at once slows its
 * sender down more than one that is slower but always busy (ei's blocking
 * reads of a packet's length and body). So the loop polls for up to
 * EN_SPIN_US before it sleeps, as OTP's schedulers busy-wait before
 * theirs; only while input streams in: after a turn that read from a
 * connection that is up, and when the last wait ended within EN_SPIN_US.
 * An idle node, or one that gets a message now and then, spins at most
 * once per lull. A host loop's enode_process(node, 0) never spins. */
#define EN_SPIN_US 50
#define EN_SPIN_POLL_US 5

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Until `until` (in now_us() time), without a system call. */
static void pause_until(uint64_t until)
{
    while (now_us() < until) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

/* Events, or 0 once EN_SPIN_US passed (or timeout_ms, if shorter). The
 * polls are EN_SPIN_POLL_US apart: each is a system call, and those cost
 * more than the few packets that come meanwhile wait. */
static int spin(en_net_t *net, struct epoll_event *evs, int n, int timeout_ms,
                uint64_t start)
{
    uint64_t budget = EN_SPIN_US;

    if (timeout_ms >= 0 && (uint64_t)timeout_ms * 1000 < budget)
        budget = (uint64_t)timeout_ms * 1000;
    for (uint64_t at = start; at - start < budget;) {
        int count = epoll_wait(net->epfd, evs, n, 0);
        if (count != 0)
            return count;
        pause_until(at += EN_SPIN_POLL_US);
    }
    return 0;
}

/* epoll_wait, spinning first if may_spin; *waited_us: how long it took. */
static int wait_events(en_net_t *net, struct epoll_event *evs, int n,
                       int timeout_ms, int may_spin, uint64_t *waited_us)
{
    uint64_t start = now_us();
    int count = 0;

    if (timeout_ms != 0 && may_spin)
        count = spin(net, evs, n, timeout_ms, start);
    if (count == 0) {
        int left = timeout_ms;
        if (left > 0) {
            uint64_t spent_ms = (now_us() - start) / 1000;
            left = spent_ms >= (uint64_t)left ? 0 : left - (int)spent_ms;
        }
        count = epoll_wait(net->epfd, evs, n, left);
    }
    *waited_us = now_us() - start;
    return count;
}

int en_net_process(en_net_t *net, int timeout_ms)
{
    struct epoll_event evs[64];
    pthread_mutex_t *lock = &net->core->lock;

    /* What was sent since the last turn goes out before we sleep. */
    pthread_mutex_lock(lock);
    en_conns_flush_corked(net);
    int t = loop_wait_ms(net, timeout_ms);
    int may_spin = net->rx_turn && net->last_wait_us < EN_SPIN_US;
    net->rx_turn = 0;
    pthread_mutex_unlock(lock);

    uint64_t waited_us;
    int count = wait_events(net, evs, 64, t, may_spin, &waited_us);
    if (count < 0 && errno != EINTR) {
        en_core_error(net->core, "epoll_wait: %s", strerror(errno));
        return ENODE_ESYS;
    }
    pthread_mutex_lock(lock);
    net->last_wait_us = waited_us;
    net->in_loop = 1;
    for (int i = 0; i < count; i++)
        handle_event(net, &evs[i]);
    en_conns_crl_resume(net);
    run_timers(net);
    /* Replies and signals the events caused go out in one write each. */
    en_conns_flush_corked(net);
    net->in_loop = 0;
    reap_dead(net);
    pthread_mutex_unlock(lock);
    return 0;
}

/* ---- the loop's own thread ---------------------------------------------- */

static void *loop_thread(void *arg)
{
    en_net_t *net = arg;
    for (;;) {
        pthread_mutex_lock(&net->core->lock);
        int stop = net->stopping;
        pthread_mutex_unlock(&net->core->lock);
        if (stop)
            break;
        en_net_process(net, -1);
    }
    /* wolfSSL keeps a per-thread cache of ECC points; it dies with us. */
    en_tls_forget_ecc_points();
    return NULL;
}

int en_net_start_thread(en_net_t *net)
{
    if (net->thread_on)
        return ENODE_EINVAL;
    if (pthread_create(&net->thread, NULL, loop_thread, net) != 0) {
        en_core_error(net->core, "cannot start the loop thread");
        return ENODE_ESYS;
    }
    net->thread_on = 1;
    return 0;
}

void en_net_stop_thread(en_net_t *net)
{
    if (!net->thread_on)
        return;
    pthread_mutex_lock(&net->core->lock);
    net->stopping = 1;
    pthread_mutex_unlock(&net->core->lock);
    en_net_wake(net);
    pthread_join(net->thread, NULL);
    net->thread_on = 0;
}

/* ---- waiting ------------------------------------------------------------------ */

static void wait_cond(en_net_t *net, uint64_t until, uint64_t now)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (until - now) % 1000 * 1000000;
    ts.tv_sec += (time_t)((until - now) / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&net->core->cond, &net->core->lock, &ts);
}

/* Without a loop thread, the first waiter runs the loop and the others
 * wait for what it delivers; when it is done, one of them takes over. */
void en_net_wait_locked(en_net_t *net, uint64_t until)
{
    uint64_t now = en_now_ms();
    if (now > until)
        return;
    if (net->thread_on || net->looping) {
        if (now < until)
            wait_cond(net, until, now);
        return;
    }
    net->looping = 1;
    pthread_mutex_unlock(&net->core->lock);
    en_net_process(net, (int)(until - now > 0x7fffffff ? 0x7fffffff
                                                        : until - now));
    pthread_mutex_lock(&net->core->lock);
    net->looping = 0;
    en_core_broadcast(net->core);
}
