/* ticker.c - tick and timeout bookkeeping for one connection. */
#include "proto/ticker.h"

/* Milliseconds from `since` to `now`, or 0 if the clock went backwards. */
static uint64_t elapsed(uint64_t since, uint64_t now)
{
    return now > since ? now - since : 0;
}

/* How long we may stay silent before a tick is due. Never 0 while ticking
 * is enabled, or a tiny ticktime would make check() ask for a tick on
 * every call. */
static uint64_t tick_interval(const en_ticker_t *t)
{
    uint64_t interval = t->ticktime_ms / 4;
    return interval ? interval : 1;
}

/* Adds without wrapping, so a huge time saturates instead of going back
 * to the past. */
static uint64_t add_saturated(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void en_ticker_init(en_ticker_t *t, unsigned ticktime_ms, uint64_t now_ms)
{
    t->ticktime_ms = ticktime_ms;
    t->last_read_ms = now_ms;
    t->last_write_ms = now_ms;
}

void en_ticker_on_read(en_ticker_t *t, uint64_t now_ms)
{
    if (now_ms > t->last_read_ms)
        t->last_read_ms = now_ms;
}

void en_ticker_on_write(en_ticker_t *t, uint64_t now_ms)
{
    if (now_ms > t->last_write_ms)
        t->last_write_ms = now_ms;
}

enum en_tick_action en_ticker_check(en_ticker_t *t, uint64_t now_ms)
{
    if (t->ticktime_ms == 0)
        return EN_TICK_NONE;
    if (elapsed(t->last_read_ms, now_ms) >= t->ticktime_ms)
        return EN_TICK_TIMEOUT;
    if (elapsed(t->last_write_ms, now_ms) >= tick_interval(t)) {
        en_ticker_on_write(t, now_ms);
        return EN_TICK_SEND;
    }
    return EN_TICK_NONE;
}

uint64_t en_ticker_next_deadline(const en_ticker_t *t)
{
    if (t->ticktime_ms == 0)
        return UINT64_MAX;
    uint64_t timeout_at = add_saturated(t->last_read_ms, t->ticktime_ms);
    uint64_t tick_at = add_saturated(t->last_write_ms, tick_interval(t));
    return tick_at < timeout_at ? tick_at : timeout_at;
}
