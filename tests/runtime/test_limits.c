/* test_limits.c - what one peer may make the node hold, driven by fake
 * peers: going over a limit costs that peer its connection, with the
 * reason in the log, and never another peer's.
 *
 * Fragments: the messages a peer has half sent in fragments hold at most
 * max_message_size bytes together, and at most max_fragmented_messages
 * of them are open at once (doc/internals.md section 7).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/fragment.h"
#include "rt.h"

static fp_t *other; /* a second peer, which must not notice */

static void connect_other(void)
{
    fp_config_t c = {.name = "other@localhost"};
    int rc = fp_connect(&other, rt_node, &c);
    cr_assert(rc == 0, "the second peer cannot connect: %s", fp_error(other));
}

static void teardown(void)
{
    fp_free(other);
    other = NULL;
    rt_teardown();
}

TestSuite(frag_limits, .fini = teardown, .timeout = 30);

/* The first fragment of sequence seq, FragId 3 (so never whole), with n
 * bytes of data. */
static void open_sequence(fp_t *fp, uint64_t seq, size_t n)
{
    static uint8_t p[EN_FRAG_FIRST_HDR_LEN + 65536];
    cr_assert_leq(n, 65536);
    memset(p, 0, EN_FRAG_FIRST_HDR_LEN);
    p[0] = 131;
    p[1] = 69;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (uint8_t)(seq >> (56 - 8 * i));
    p[17] = 3;
    memset(p + EN_FRAG_FIRST_HDR_LEN, 'x', n);
    cr_assert_eq(fp_send_packet(fp, p, EN_FRAG_FIRST_HDR_LEN + n), 0, "%s",
                 fp_error(fp));
}

static void assert_alive(fp_t *fp)
{
    cr_assert_eq(fp_sync(fp, T_MS), 0, "%s\nnode log:\n%s", fp_error(fp),
                 rt_log());
}

static void assert_dropped_saying(fp_t *fp, const char *a, const char *b)
{
    cr_assert_eq(fp_wait_closed(fp, T_MS), 0, "%s", fp_error(fp));
    cr_assert(strstr(rt_log(), a) && strstr(rt_log(), b),
              "the log lacks \"%s\" or \"%s\":\n%s", a, b, rt_log());
}

/* Each under max_message_size, together over it: the peer goes, the
 * other stays. */
Test(frag_limits, half_sent_messages_together_over_max_message_size)
{
    rt_node_opts_t o = {.max_message = 100000};
    rt_setup_with(&o, NULL);
    connect_other();

    for (uint64_t s = 1; s <= 4; s++)
        open_sequence(rt_fp, s, 20000);
    assert_alive(rt_fp); /* 80012 bytes held */
    open_sequence(rt_fp, 5, 20000);
    assert_dropped_saying(rt_fp,
                          "5 unfinished fragmented messages would hold 100015 "
                          "bytes together, over the limit of 100000 bytes",
                          "(max_message_size)");
    assert_alive(other);
}

/* The default lets 1024 sequences be open at once; the 1025th costs the
 * connection. */
Test(frag_limits, sequences_over_the_default_count)
{
    rt_setup();
    connect_other();

    for (uint64_t s = 1; s <= ENODE_DEFAULT_MAX_FRAGMENTED; s++)
        open_sequence(rt_fp, s, 8);
    assert_alive(rt_fp);
    open_sequence(rt_fp, 5000, 8);
    assert_dropped_saying(rt_fp,
                          "would open 1025 fragmented messages at once, over "
                          "the limit of 1024",
                          "(max_fragmented_messages)");
    assert_alive(other);
}

/* enode_config_set_max_fragmented_messages() sets the count. */
Test(frag_limits, sequences_over_a_configured_count)
{
    rt_node_opts_t o = {.max_fragmented = 8};
    rt_setup_with(&o, NULL);
    connect_other();

    for (uint64_t s = 1; s <= 8; s++)
        open_sequence(other, s, 8);
    for (uint64_t s = 1; s <= 8; s++)
        open_sequence(rt_fp, s, 8);
    assert_alive(rt_fp);
    open_sequence(rt_fp, 9, 8);
    assert_dropped_saying(rt_fp, "over the limit of 8",
                          "(max_fragmented_messages)");
    assert_alive(other); /* its own 8 are its own */
}
