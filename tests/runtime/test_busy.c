/* test_busy.c - a peer that stops reading: sends from the application
 * toward it meet dist_buf_busy_limit.
 *
 * In event-loop mode enode_send() must not wait (the caller is the
 * loop): it returns ENODE_EBUSY and sends nothing, and succeeds again
 * once the loop has written the queue down. With a loop thread it waits,
 * as OTP suspends the sender, until the queue drains, or returns
 * ENODE_ECONN when the connection goes meanwhile.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "rt.h"

#define BIG (256 * 1024)
#define LIMIT (64 * 1024)
#define MAX_SENDS 400 /* 100 MiB: more than loopback's socket buffers */

TestSuite(busy, .fini = rt_teardown, .timeout = 60);

static ei_x_buff big;

static void setup_big(void)
{
    static char bytes[BIG];
    rt_node_opts_t o = {.busy_limit = LIMIT};
    rt_setup_with(&o, NULL);
    memset(bytes, 7, sizeof bytes);
    ei_x_buff *x = rt_term_slot();
    ei_x_encode_binary(x, bytes, sizeof bytes);
    big = *x;
}

static void expect_messages(int n)
{
    for (int i = 0; i < n; i++)
        cr_assert(fp_expect_op(rt_fp, EN_DOP_SEND_SENDER, 10000),
                  "message %d of %d: %s", i + 1, n, fp_error(rt_fp));
}

Test(busy, event_loop_mode_returns_ebusy_and_sends_nothing)
{
    setup_big();
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    erlang_pid p = rt_peer_pid(1);
    int sent = 0, rc = 0;

    while (sent < MAX_SENDS && (rc = enode_send(mb, &p, &big)) == 0)
        sent++;
    cr_assert_eq(rc, ENODE_EBUSY, "%d sends, then %s", sent,
                 enode_strerror(rc));
    cr_assert_gt(sent, 0);
    cr_assert(strstr(enode_last_error(rt_node), "dist_buf_busy_limit"),
              "%s", enode_last_error(rt_node));
    cr_assert_eq(enode_send(mb, &p, &big), ENODE_EBUSY); /* still */

    /* The peer reads; the loop (run by the peer as it waits) writes. */
    expect_messages(sent);
    cr_assert_eq(enode_send(mb, &p, rt_term("after")), 0);
    const fp_pkt_t *a = fp_expect_op(rt_fp, EN_DOP_SEND_SENDER, T_MS);
    cr_assert(a, "%s", fp_error(rt_fp));
    cr_assert_str_eq(fp_text(a->m.msg, a->m.msg_len), "after");
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
    cr_assert_eq(fp_count(rt_fp, NULL, NULL), 0); /* the refused never went */
}

/* ---- threaded mode ------------------------------------------------------- */

struct sender {
    enode_mbox_t *mb;
    int n;
    atomic_int sent;
    atomic_int done;
    int rc;
};

static void *send_all(void *arg)
{
    struct sender *s = arg;
    erlang_pid p = rt_peer_pid(1);
    s->rc = 0;
    for (int i = 0; i < s->n && s->rc == 0; i++)
        if ((s->rc = enode_send(s->mb, &p, &big)) == 0)
            atomic_fetch_add(&s->sent, 1);
    atomic_store(&s->done, 1);
    return NULL;
}

/* Start a sender of n messages with the loop on its own thread, and
 * return once it is stuck: its count stays still for half a second. */
static void start_stuck_sender(struct sender *s, pthread_t *t, int n)
{
    memset(s, 0, sizeof *s);
    s->mb = rt_mbox(NULL, 0);
    s->n = n;
    fp_set_passive(rt_fp, 1);
    cr_assert_eq(enode_start_thread(rt_node), 0);
    cr_assert_eq(pthread_create(t, NULL, send_all, s), 0);
    int last = -1, still = 0;
    while (still < 10 && !atomic_load(&s->done)) {
        usleep(50 * 1000);
        int now = atomic_load(&s->sent);
        still = now == last ? still + 1 : 0;
        last = now;
    }
    cr_assert_eq(atomic_load(&s->done), 0,
                 "the sender never waited: %d sends, rc %d",
                 atomic_load(&s->sent), s->rc);
}

Test(busy, threaded_mode_waits_until_the_queue_drains)
{
    struct sender s;
    pthread_t t;

    setup_big();
    start_stuck_sender(&s, &t, MAX_SENDS);
    expect_messages(MAX_SENDS); /* reading lets it go on */
    pthread_join(t, NULL);
    cr_assert_eq(s.rc, 0, "%s", enode_strerror(s.rc));
    cr_assert_eq(atomic_load(&s.sent), MAX_SENDS);
}

Test(busy, threaded_mode_a_lost_connection_wakes_the_sender)
{
    struct sender s;
    pthread_t t;

    setup_big();
    start_stuck_sender(&s, &t, MAX_SENDS);
    fp_close(rt_fp);
    pthread_join(t, NULL);
    cr_assert_eq(s.rc, ENODE_ECONN, "%s", enode_strerror(s.rc));
    cr_assert_lt(atomic_load(&s.sent), MAX_SENDS);
}
