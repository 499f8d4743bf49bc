/* test_spare.c - the large blocks kept for the next large messages. */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "base/spare.h"

#define MIB ((size_t)1024 * 1024)

/* Empties the process-wide spare, freeing what it held. */
static void drain(void)
{
    en_spare_drain();
    cr_assert_eq(en_spare_bytes(), 0);
}

Test(spare, a_large_block_given_comes_back_for_a_like_size)
{
    size_t size = 0;
    drain();
    void *b = malloc(MIB);
    cr_assert_not_null(b);
    en_spare_give(b, MIB);
    cr_assert_null(en_spare_take(2 * MIB, &size), "too small for 2 MiB");
    void *again = en_spare_take(MIB / 2, &size);
    cr_assert_eq(again, b);
    cr_assert_eq(size, MIB);
    cr_assert_null(en_spare_take(MIB / 2, &size), "taken once only");
    free(again);
}

Test(spare, much_larger_blocks_are_not_handed_to_small_needs)
{
    size_t size = 0;
    drain();
    en_spare_give(malloc(8 * MIB), 8 * MIB);
    cr_assert_null(en_spare_take(MIB, &size));
    void *b = en_spare_take(4 * MIB, &size);
    cr_assert_not_null(b);
    cr_assert_eq(size, 8 * MIB);
    free(b);
}

Test(spare, small_and_huge_blocks_are_freed_not_kept)
{
    size_t size = 0;
    drain();
    en_spare_give(malloc(EN_SPARE_MIN - 1), EN_SPARE_MIN - 1);
    en_spare_give(malloc(EN_SPARE_MAX + 1), EN_SPARE_MAX + 1);
    en_spare_give(NULL, MIB);
    cr_assert_null(en_spare_take(EN_SPARE_MIN / 2, &size));
    cr_assert_null(en_spare_take(EN_SPARE_MAX, &size));
}

Test(spare, the_bytes_kept_stay_within_the_bound)
{
    size_t size = 0, total = 0;
    int n = 0;
    drain();
    for (int i = 0; i < 40; i++) /* ASan: the ones not kept are freed */
        en_spare_give(malloc(MIB), MIB);
    void *b;
    while ((b = en_spare_take(MIB, &size))) {
        total += size;
        n++;
        free(b);
    }
    cr_assert_gt(n, 1, "a burst needs several blocks");
    cr_assert_leq(total, EN_SPARE_MAX);
}

/* enode_free() drains it: nothing is kept once a node is gone. */
Test(spare, drained_it_keeps_nothing)
{
    size_t size;
    drain();
    en_spare_give(malloc(MIB), MIB);
    en_spare_give(malloc(2 * MIB), 2 * MIB);
    cr_assert_eq(en_spare_bytes(), 3 * MIB);
    en_spare_drain();
    cr_assert_eq(en_spare_bytes(), 0);
    cr_assert_null(en_spare_take(MIB, &size));
}
