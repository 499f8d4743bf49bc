/* test_ticker.c - tick and timeout deadlines. Times are milliseconds on
 * an arbitrary monotonic clock starting at T0. */
#include <criterion/criterion.h>

#include "proto/ticker.h"

#define T0 1000000u
#define TICKTIME 60000u /* OTP's default net_ticktime, 60 s */
#define QUARTER (TICKTIME / 4)

Test(ticker, fresh_connection_is_quiet_until_a_quarter)
{
    en_ticker_t t;
    en_ticker_init(&t, TICKTIME, T0);
    cr_assert_eq(en_ticker_next_deadline(&t), T0 + QUARTER);
    cr_assert_eq(en_ticker_check(&t, T0), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, T0 + QUARTER - 1), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, T0 + QUARTER), EN_TICK_SEND);
}

Test(ticker, send_counts_as_a_write)
{
    en_ticker_t t;
    en_ticker_init(&t, TICKTIME, T0);
    cr_assert_eq(en_ticker_check(&t, T0 + QUARTER + 7), EN_TICK_SEND);
    cr_assert_eq(t.last_write_ms, T0 + QUARTER + 7);
    /* asking again at once must not ask for another tick */
    cr_assert_eq(en_ticker_check(&t, T0 + QUARTER + 7), EN_TICK_NONE);
    cr_assert_eq(en_ticker_next_deadline(&t), T0 + 2 * QUARTER + 7);
}

Test(ticker, writes_push_the_tick_back)
{
    en_ticker_t t;
    en_ticker_init(&t, TICKTIME, T0);
    en_ticker_on_write(&t, T0 + 10000);
    en_ticker_on_read(&t, T0 + 10000);
    cr_assert_eq(en_ticker_next_deadline(&t), T0 + 10000 + QUARTER);
    cr_assert_eq(en_ticker_check(&t, T0 + QUARTER), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, T0 + 10000 + QUARTER), EN_TICK_SEND);
}

Test(ticker, silent_peer_times_out_after_ticktime)
{
    en_ticker_t t;
    en_ticker_init(&t, TICKTIME, T0);
    /* We keep ticking; the peer says nothing. */
    uint64_t now = T0;
    for (int i = 1; i < 4; i++) {
        now = en_ticker_next_deadline(&t);
        cr_assert_eq(now, T0 + (uint64_t)i * QUARTER);
        cr_assert_eq(en_ticker_check(&t, now), EN_TICK_SEND);
    }
    /* The fourth deadline is both a tick and the timeout: timeout wins. */
    now = en_ticker_next_deadline(&t);
    cr_assert_eq(now, T0 + TICKTIME);
    cr_assert_eq(en_ticker_check(&t, now - 1), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, now), EN_TICK_TIMEOUT);
    cr_assert_eq(en_ticker_check(&t, now + 5000), EN_TICK_TIMEOUT);
}

Test(ticker, a_read_resets_the_timeout)
{
    en_ticker_t t;
    en_ticker_init(&t, TICKTIME, T0);
    en_ticker_on_read(&t, T0 + 50000); /* the peer's tick arrives */
    en_ticker_on_write(&t, T0 + 59000);
    cr_assert_eq(en_ticker_check(&t, T0 + TICKTIME), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, T0 + 50000 + TICKTIME - 1),
                 EN_TICK_SEND);
    cr_assert_eq(en_ticker_next_deadline(&t), T0 + 50000 + TICKTIME);
    cr_assert_eq(en_ticker_check(&t, T0 + 50000 + TICKTIME),
                 EN_TICK_TIMEOUT);
}

Test(ticker, deadline_is_the_earlier_of_tick_and_timeout)
{
    en_ticker_t t;
    en_ticker_init(&t, TICKTIME, T0);
    /* We wrote recently, the peer has been quiet a long time. */
    en_ticker_on_write(&t, T0 + 55000);
    cr_assert_eq(en_ticker_next_deadline(&t), T0 + TICKTIME);
    /* Now the peer speaks: the next thing due is our tick. */
    en_ticker_on_read(&t, T0 + 56000);
    cr_assert_eq(en_ticker_next_deadline(&t), T0 + 55000 + QUARTER);
}

Test(ticker, clock_going_backwards_changes_nothing)
{
    en_ticker_t t;
    en_ticker_init(&t, TICKTIME, T0);
    en_ticker_on_read(&t, T0 - 500);
    en_ticker_on_write(&t, T0 - 500);
    cr_assert_eq(t.last_read_ms, T0);
    cr_assert_eq(t.last_write_ms, T0);
    cr_assert_eq(en_ticker_check(&t, T0 - 100000), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, 0), EN_TICK_NONE);
}

Test(ticker, zero_ticktime_disables)
{
    en_ticker_t t;
    en_ticker_init(&t, 0, T0);
    cr_assert_eq(en_ticker_next_deadline(&t), UINT64_MAX);
    cr_assert_eq(en_ticker_check(&t, UINT64_MAX), EN_TICK_NONE);
}

Test(ticker, tiny_ticktime_never_spins)
{
    en_ticker_t t;
    en_ticker_init(&t, 3, T0); /* 3 / 4 == 0: interval becomes 1 ms */
    cr_assert_eq(en_ticker_next_deadline(&t), T0 + 1);
    cr_assert_eq(en_ticker_check(&t, T0), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, T0 + 1), EN_TICK_SEND);
    cr_assert_eq(en_ticker_check(&t, T0 + 1), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, T0 + 3), EN_TICK_TIMEOUT);
}

Test(ticker, deadlines_saturate_at_the_end_of_time)
{
    en_ticker_t t;
    en_ticker_init(&t, TICKTIME, UINT64_MAX - 10);
    cr_assert_eq(en_ticker_next_deadline(&t), UINT64_MAX);
    cr_assert_eq(en_ticker_check(&t, UINT64_MAX), EN_TICK_NONE);
}

Test(ticker, odd_ticktime_rounds_the_quarter_down)
{
    en_ticker_t t;
    en_ticker_init(&t, 7003, 0); /* quarter = 1750 */
    cr_assert_eq(en_ticker_next_deadline(&t), 1750);
    cr_assert_eq(en_ticker_check(&t, 1749), EN_TICK_NONE);
    cr_assert_eq(en_ticker_check(&t, 1750), EN_TICK_SEND);
}
