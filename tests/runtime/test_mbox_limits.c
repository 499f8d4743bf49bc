/* test_mbox_limits.c - a mailbox's queue: what it holds
 * (enode_mbox_info) and its limit (enode_mbox_set_limit and the node's
 * enode_config_set_mbox_limit), driven by a fake peer that floods it.
 *
 * Over its limit a mailbox exits with `killed`, as a process over
 * max_heap_size does: trapping exits does not save it, the peer's links
 * and monitors fire, the log says why once, and the connection stays.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rt.h"

TestSuite(mbox_limits, .fini = rt_teardown, .timeout = 30);

static void sync_peer(void)
{
    cr_assert_eq(fp_sync(rt_fp, T_MS), 0, "%s", fp_error(rt_fp));
}

static void flood(enode_mbox_t *mb, int n, const ei_x_buff *msg)
{
    erlang_pid p = rt_peer_pid(1);
    for (int i = 0; i < n; i++)
        cr_assert_eq(fp_send_sender(rt_fp, &p, enode_mbox_pid(mb), msg), 0,
                     "%s", fp_error(rt_fp));
}

/* How many times the log says s. */
static int log_count(const char *s)
{
    int n = 0;
    for (const char *at = rt_log(); (at = strstr(at, s)); at += strlen(s))
        n++;
    return n;
}

Test(mbox_limits, info_counts_what_waits)
{
    rt_setup();
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    size_t len = 99, bytes = 99;

    cr_assert_eq(enode_mbox_info(mb, &len, &bytes), 0);
    cr_assert_eq(len, 0);
    cr_assert_eq(bytes, 0);
    flood(mb, 10, rt_term("{hello, ~s}", "0123456789012345678901234567"));
    sync_peer();
    cr_assert_eq(enode_mbox_info(mb, &len, &bytes), 0);
    cr_assert_eq(len, 10);
    /* Each holds its 41-byte term, the sender's node name and the
     * queue's bookkeeping: more than the term, less than 200 bytes. */
    cr_assert(bytes > 10 * 41 && bytes < 10 * 200, "%zu bytes", bytes);
    size_t one = bytes / 10;
    cr_assert_str_eq(rt_next(mb, 0),
                     "{hello, \"0123456789012345678901234567\"}");
    cr_assert_eq(enode_mbox_info(mb, &len, NULL), 0);
    cr_assert_eq(len, 9);
    cr_assert_eq(enode_mbox_info(mb, NULL, &bytes), 0);
    cr_assert_eq(bytes, 9 * one);
    cr_assert_eq(enode_mbox_info(NULL, &len, &bytes), ENODE_EINVAL);
}

/* The sixth message into a mailbox limited to five kills it, though it
 * traps exits; the peer's link and monitor learn `killed`. */
Test(mbox_limits, over_its_length_the_mailbox_is_killed)
{
    rt_setup();
    enode_mbox_t *mb = rt_mbox("flooded", 1);
    erlang_pid linked = rt_peer_pid(2), watcher = rt_peer_pid(3);
    erlang_ref ref;

    cr_assert_eq(enode_mbox_set_limit(mb, 5, 0), 0);
    cr_assert_eq(fp_link(rt_fp, &linked, enode_mbox_pid(mb)), 0);
    fp_ref(rt_fp, &ref);
    cr_assert_eq(fp_monitor(rt_fp, &watcher, enode_mbox_pid(mb), NULL, &ref),
                 0);
    flood(mb, 5, rt_term("fill"));
    sync_peer();
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
    flood(mb, 3, rt_term("one_too_many"));

    const fp_pkt_t *x = fp_expect_op(rt_fp, EN_DOP_PAYLOAD_EXIT, T_MS);
    cr_assert(x, "no exit signal: %s", fp_error(rt_fp));
    cr_assert(fp_pid_eq(&x->m.to_pid, &linked));
    cr_assert_str_eq(fp_text(x->m.reason, x->m.reason_len), "killed");
    const fp_pkt_t *d =
        fp_expect_op(rt_fp, EN_DOP_PAYLOAD_MONITOR_P_EXIT, T_MS);
    cr_assert(d, "no DOWN: %s", fp_error(rt_fp));
    cr_assert(fp_ref_eq(&d->m.ref, &ref));
    cr_assert_str_eq(fp_text(d->m.reason, d->m.reason_len), "killed");

    sync_peer(); /* the connection stays */
    cr_assert_str_eq(rt_exit_reason(mb), "killed");
    cr_assert_str_eq(rt_next(mb, 0), "(closed)");
    cr_assert_eq(log_count("registered as flooded killed: a message of"), 1,
                 "log:\n%s", rt_log());
    cr_assert(strstr(rt_log(), "over its limit (5 messages, 0 bytes"),
              "log:\n%s", rt_log());
}

/* The node's limit in bytes applies to every new mailbox; a mailbox that
 * reads what comes never meets it. */
Test(mbox_limits, the_nodes_limit_in_bytes)
{
    rt_node_opts_t o = {.mbox_max_bytes = 4000};
    rt_setup_with(&o, NULL);
    enode_mbox_t *reader = rt_mbox(NULL, 0), *idle = rt_mbox(NULL, 0);
    ei_x_buff *big = rt_term_slot();
    static char kb[1000];
    size_t bytes;

    ei_x_encode_binary(big, kb, sizeof kb);
    for (int i = 0; i < 10; i++) {
        flood(reader, 1, big);
        cr_assert_eq(enode_receive(reader, &(enode_msg_t){0}, T_MS), 0);
    }
    flood(idle, 3, big);
    sync_peer();
    cr_assert_eq(enode_mbox_info(idle, NULL, &bytes), 0);
    cr_assert(bytes > 3000 && bytes <= 4000, "%zu bytes", bytes);
    cr_assert_str_eq(rt_exit_reason(idle), "(alive)");
    flood(idle, 1, big);
    sync_peer();
    cr_assert_str_eq(rt_exit_reason(idle), "killed");
    cr_assert_str_eq(rt_exit_reason(reader), "(alive)");
    cr_assert(strstr(rt_log(), "(0 messages, 4000 bytes"), "log:\n%s",
              rt_log());

    /* enode_mbox_set_limit lifts it for one mailbox. */
    enode_mbox_t *free_one = rt_mbox(NULL, 0);
    cr_assert_eq(enode_mbox_set_limit(free_one, 0, 0), 0);
    flood(free_one, 8, big);
    sync_peer();
    cr_assert_str_eq(rt_exit_reason(free_one), "(alive)");
}

/* A message that came in fragments is queued in the buffer it was
 * gathered in, without a copy; the limit counts that buffer as it counts
 * any message: about the message's size, and over the limit the mailbox
 * is killed and the connection stays. */
Test(mbox_limits, fragmented_messages_count_at_their_size)
{
    rt_node_opts_t o = {.mbox_max_bytes = 250 * 1024};
    rt_setup_with(&o, NULL);
    enode_mbox_t *mb = rt_mbox(NULL, 0);
    ei_x_buff *big = rt_term_slot();
    static char blob[100 * 1024];
    size_t len, bytes;

    fp_set_fragment_size(rt_fp, 16 * 1024);
    ei_x_encode_binary(big, blob, sizeof blob);
    flood(mb, 2, big);
    sync_peer();
    cr_assert_eq(enode_mbox_info(mb, &len, &bytes), 0);
    cr_assert_eq(len, 2);
    cr_assert(bytes >= 2 * sizeof blob && bytes < 2 * (sizeof blob + 8192),
              "%zu bytes for two messages of %zu", bytes, sizeof blob);
    cr_assert_str_eq(rt_exit_reason(mb), "(alive)");
    flood(mb, 1, big);
    sync_peer();
    cr_assert_str_eq(rt_exit_reason(mb), "killed");
    cr_assert(strstr(rt_log(), "(0 messages, 256000 bytes"), "log:\n%s",
              rt_log());
}
