/* fuzz_handshake.c - libFuzzer target for the handshake state machine.
 *
 * Input: a 2-byte header, then the bytes the peer sends.
 *   byte 0  bit 0: 0 = we initiate, 1 = we accept
 *           bit 1: 0 = 2-byte lengths (TCP), 1 = 4-byte lengths (TLS)
 *           bits 2-4: the acceptor's verdict (enum en_hs_status, mod 5)
 *           bit 5: 1 = the acceptor's allow list refuses the peer
 *   byte 1  chunk size for delivery, 0 = everything at once
 *
 * The settings match the OTP 25 captures in tests/unit/test_handshake.c
 * (cookie "secret", challenge 0x12345678, we are py@vm or pya@vm and dial
 * b@vm), so the seeds in corpus/handshake run to completion and mutations
 * start deep in the exchange.  The harness plays the caller's part: it
 * keeps unconsumed bytes and feeds them again with more, and checks the
 * machine's promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/dflags.h"
#include "proto/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t fixed_challenge(void *ud)
{
    (void)ud;
    return 0x12345678u;
}

static enum en_hs_status verdict;

static enum en_hs_status resolve(void *ud, const char *peer_name)
{
    (void)ud;
    if (!peer_name || !strchr(peer_name, '@'))
        abort(); /* the machine promised a full node name */
    return verdict;
}

static bool refuse_all;

static bool allowed(void *ud, const char *peer_name)
{
    (void)ud;
    if (!peer_name || !strchr(peer_name, '@'))
        abort(); /* the machine promised a full node name */
    return !refuse_all;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    bool acceptor = data[0] & 1;
    unsigned lenbytes = (data[0] & 2) ? 4 : 2;
    verdict = (enum en_hs_status)(((data[0] >> 2) & 7) % 5);
    refuse_all = (data[0] >> 5) & 1;
    size_t chunk = data[1] ? data[1] : SIZE_MAX;
    data += 2;
    size -= 2;

    en_hs_config_t cfg = {
        .role = acceptor ? EN_HS_ACCEPTOR : EN_HS_INITIATOR,
        .lenbytes = lenbytes,
        .self_name = acceptor ? "pya@vm" : "py@vm",
        .self_creation = 0x5EED0001,
        .self_flags = 0xD07DF7FBDULL,
        .required_flags = EN_DFLAGS_MANDATORY_26,
        .cookie = "secret",
        .dialled_name = "b@vm",
        .resolve = resolve,
        .allowed = allowed,
        .random32 = fixed_challenge,
    };
    en_hs_t hs;
    check(en_hs_init(&hs, &cfg) == 0);
    en_buf_t in = EN_BUF_INIT, out = EN_BUF_INIT;
    check(en_hs_start(&hs, &out) == 0);

    enum en_hs_state st = EN_HS_RUNNING;
    size_t pos = 0;
    while (pos < size && st == EN_HS_RUNNING) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        if (en_buf_append(&in, data + pos, n) < 0)
            break;
        pos += n;
        size_t used = 0;
        st = en_hs_feed(&hs, in.data, in.len, &used, &out);
        check(used <= in.len);
        en_buf_consume(&in, used);
        en_buf_reset(&out); /* "sent" */
    }
    if (st == EN_HS_FAILED)
        check(hs.err != EN_HS_ERR_NONE && hs.errmsg[0] != '\0' &&
              memchr(hs.errmsg, '\0', sizeof hs.errmsg) != NULL);
    if (st == EN_HS_DONE)
        check(!(acceptor && refuse_all));
    if (st == EN_HS_DONE)
        check(hs.flags == (hs.self_flags & hs.peer_flags) &&
              (hs.peer_flags & EN_DFLAGS_MANDATORY_26) ==
                  EN_DFLAGS_MANDATORY_26 &&
              strchr(hs.peer_name, '@') != NULL);
    en_buf_free(&in);
    en_buf_free(&out);
    return 0;
}
