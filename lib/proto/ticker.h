/* ticker.h - tick and timeout bookkeeping for one connection.
 *
 * OTP keeps an idle connection alive with ticks (empty packets) and
 * declares a peer dead when it has heard nothing for about net_ticktime
 * (doc/internals.md section 7). We follow the simple form of that rule:
 *
 *   - send a tick when nothing was written for net_ticktime / 4;
 *   - the peer is dead when nothing was read for net_ticktime.
 *
 * The ticker never reads a clock: every call takes the current time in
 * milliseconds from whatever monotonic clock the caller uses, which keeps
 * it testable and lets a host event loop own time. Times that run
 * backwards (a stale now_ms) count as "no time has passed".
 */
#ifndef ENODE_TICKER_H
#define ENODE_TICKER_H

#include <stdint.h>

typedef struct en_ticker {
    uint64_t last_read_ms;  /* when the peer last sent us anything */
    uint64_t last_write_ms; /* when we last sent anything, ticks included */
    unsigned ticktime_ms;   /* net_ticktime; 0 disables ticks and timeout */
} en_ticker_t;

enum en_tick_action {
    EN_TICK_NONE,    /* nothing to do before en_ticker_next_deadline() */
    EN_TICK_SEND,    /* queue a tick now (en_frame_put_tick) */
    EN_TICK_TIMEOUT  /* the peer has been silent too long: drop it */
};

/* Starts the clocks as if we had just read and written. ticktime_ms is
 * net_ticktime in milliseconds (OTP default 60000). */
void en_ticker_init(en_ticker_t *t, unsigned ticktime_ms, uint64_t now_ms);

/* Call when bytes (a packet or a tick) arrive from the peer. */
void en_ticker_on_read(en_ticker_t *t, uint64_t now_ms);

/* Call when bytes go out to the peer. */
void en_ticker_on_write(en_ticker_t *t, uint64_t now_ms);

/* Says what is due at now_ms. A timeout wins over a tick. On EN_TICK_SEND
 * the ticker counts the tick as written at now_ms (the caller is expected
 * to queue it), so a caller that only calls check() never spins. */
enum en_tick_action en_ticker_check(en_ticker_t *t, uint64_t now_ms);

/* The time at which check() has something to do next (a tick or the
 * timeout, whichever comes first); UINT64_MAX when ticking is disabled. A
 * deadline at or before "now" means check() is due immediately. */
uint64_t en_ticker_next_deadline(const en_ticker_t *t);

#endif
