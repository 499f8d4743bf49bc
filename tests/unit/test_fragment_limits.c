/* test_fragment_limits.c - what a table of fragments lets one peer hold.
 *
 * max_message bounds each reassembled message and also all the unfinished
 * ones of a connection together, so a peer that opens many sequences and
 * never finishes them gets no more than one message's worth of memory;
 * en_frag_set_max_sequences() bounds how many are open at once. Going
 * over either fails that fragment (the connection then goes) and leaves
 * the other sequences as they were. Part of the test_fragment program;
 * the fragments are built here by hand, as the data inside them does not
 * matter until a message is whole.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "proto/fragment.h"

/* A first (131 69) or following (131 70) fragment of sequence seq with
 * FragId frag and n bytes of data, into p (room for n + 19 bytes). */
static size_t fragment(uint8_t *p, int first, uint64_t seq, uint64_t frag,
                       size_t n)
{
    size_t hdr = first ? EN_FRAG_FIRST_HDR_LEN : EN_FRAG_CONT_HDR_LEN;
    p[0] = 131;
    p[1] = first ? 69 : 70;
    for (int i = 0; i < 8; i++) {
        p[2 + i] = (uint8_t)(seq >> (56 - 8 * i));
        p[10 + i] = (uint8_t)(frag >> (56 - 8 * i));
    }
    if (first)
        p[18] = 0; /* no atom cache references */
    memset(p + hdr, 'x', n);
    return hdr + n;
}

/* Feeds one fragment; returns what en_frag_feed returned, err filled. */
static int feed(en_frag_table_t *t, int first, uint64_t seq, uint64_t frag,
                size_t n, char *err, size_t errlen)
{
    uint8_t *p = malloc(n + EN_FRAG_FIRST_HDR_LEN);
    const uint8_t *msg;
    size_t msg_len;

    cr_assert_not_null(p);
    size_t len = fragment(p, first, seq, frag, n);
    int rc = en_frag_feed(t, p, len, &msg, &msg_len, err, errlen);
    free(p);
    return rc;
}

#define FEED_OK(t, first, seq, frag, n, want)                                  \
    do {                                                                       \
        char e_[256];                                                          \
        int rc_ = feed(t, first, seq, frag, n, e_, sizeof e_);                 \
        cr_assert_eq(rc_, want, "seq %d: got %d: %s", (int)(seq), rc_, e_);    \
    } while (0)

/* Sequences that each stay under the limit but together go over it: the
 * one that would pass the total is refused, saying so, and the others
 * stay, so finishing one of them makes room again. */
Test(frag_limits, unfinished_messages_together_stay_within_max_message)
{
    en_frag_table_t t;
    char err[256];

    en_frag_init(&t, 10000);
    for (uint64_t s = 1; s <= 3; s++)
        FEED_OK(&t, 1, s, 2, 3000, EN_FRAG_PENDING);
    cr_assert_eq(en_frag_held_bytes(&t), 3 * 3003);

    int rc = feed(&t, 1, 4, 2, 1000, err, sizeof err);
    cr_assert_eq(rc, EN_FRAG_ETOOBIG, "got %d: %s", rc, err);
    cr_assert_str_eq(err, "4 unfinished fragmented messages would hold "
                          "10012 bytes together, over the limit of 10000 "
                          "bytes");
    cr_assert_eq(t.live, 3);
    cr_assert_eq(en_frag_held_bytes(&t), 3 * 3003);

    /* Growing a live one past the total is refused too, and drops it. */
    rc = feed(&t, 0, 2, 1, 1000, err, sizeof err);
    cr_assert_eq(rc, EN_FRAG_ETOOBIG, "got %d: %s", rc, err);
    cr_assert(strstr(err, "over the limit of 10000 bytes"), "%s", err);
    cr_assert_eq(t.live, 2);
    cr_assert_eq(en_frag_held_bytes(&t), 2 * 3003);

    /* Finishing one gives its bytes back. */
    FEED_OK(&t, 0, 1, 1, 10, EN_FRAG_COMPLETE);
    cr_assert_eq(en_frag_held_bytes(&t), 3003);
    FEED_OK(&t, 1, 4, 2, 6000, EN_FRAG_PENDING);
    cr_assert_eq(en_frag_held_bytes(&t), 3003 + 6003);
    en_frag_free(&t);
    cr_assert_eq(en_frag_held_bytes(&t), 0);
}

/* Exactly max_message held is allowed; one byte more is not. */
Test(frag_limits, the_total_limit_is_exact)
{
    en_frag_table_t t;

    en_frag_init(&t, 2 * 1003);
    FEED_OK(&t, 1, 7, 3, 1000, EN_FRAG_PENDING);
    FEED_OK(&t, 1, 8, 3, 1000, EN_FRAG_PENDING);
    cr_assert_eq(en_frag_held_bytes(&t), 2006);
    FEED_OK(&t, 1, 9, 3, 0, EN_FRAG_ETOOBIG); /* its 3-byte header */
    FEED_OK(&t, 0, 8, 2, 1, EN_FRAG_ETOOBIG);
    cr_assert_eq(t.live, 1);
    en_frag_free(&t);
}

/* With a limit on sequences, the first fragment of one more is refused
 * and names both numbers; the open ones stay and can finish. */
Test(frag_limits, sequences_past_the_limit_are_refused)
{
    en_frag_table_t t;
    char err[256];

    en_frag_init(&t, 1 << 20);
    en_frag_set_max_sequences(&t, 4);
    for (uint64_t s = 10; s < 14; s++)
        FEED_OK(&t, 1, s, 2, 5, EN_FRAG_PENDING);
    int rc = feed(&t, 1, 14, 2, 5, err, sizeof err);
    cr_assert_eq(rc, EN_FRAG_ETOOMANY, "got %d: %s", rc, err);
    cr_assert_str_eq(err, "first fragment of message 0xe would open 5 "
                          "fragmented messages at once, over the limit of 4");
    cr_assert_eq(t.live, 4);

    /* A message in one fragment is whole at once: it opens nothing. */
    FEED_OK(&t, 1, 15, 1, 5, EN_FRAG_COMPLETE);
    FEED_OK(&t, 0, 10, 1, 5, EN_FRAG_COMPLETE);
    FEED_OK(&t, 1, 14, 2, 5, EN_FRAG_PENDING);
    cr_assert_eq(t.live, 4);

    /* en_frag_free keeps the limit for the table's next use. */
    en_frag_free(&t);
    cr_assert_eq(t.max_sequences, 4);
    for (uint64_t s = 20; s < 24; s++)
        FEED_OK(&t, 1, s, 2, 5, EN_FRAG_PENDING);
    FEED_OK(&t, 1, 24, 2, 5, EN_FRAG_ETOOMANY);
    en_frag_free(&t);
}

/* Without a limit (the default of a new table) a thousand open sequences
 * are only bounded by the bytes they hold. */
Test(frag_limits, no_limit_on_sequences_by_default)
{
    en_frag_table_t t;

    en_frag_init(&t, 1 << 20);
    for (uint64_t s = 1; s <= 1000; s++)
        FEED_OK(&t, 1, s, 5, 1, EN_FRAG_PENDING);
    cr_assert_eq(t.live, 1000);
    cr_assert_eq(en_frag_held_bytes(&t), 4000);
    en_frag_free(&t);
}
