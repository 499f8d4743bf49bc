/* fuzz_fragment.c - libFuzzer target for en_frag_feed() and en_frag_split().
 *
 * The input is a byte stream as it comes off the wire after the
 * handshake: packets of `Len:32 | data`. A last packet cut short by the
 * end of the input is fed as far as it goes; ticks (Len = 0) are fed too,
 * as empty packets. Every packet goes to two tables, one with a limit of
 * 1 MiB and one with a limit of 256 bytes (so that the size check is
 * reached), and to a naive model of each: a plain list of sequences that
 * copies freely. The fuzzer aborts when
 *   - a table and its model disagree on the return code or on the bytes
 *     of a completed message (the hash table must behave like the list);
 *   - an error comes without a sentence, or a completed message does not
 *     start with 131 68 0 or is over the limit;
 *   - a completed message that en_frag_split() accepts does not come back
 *     byte for byte through a fresh table, for a few fragment sizes;
 *   - en_frag_free() leaves pending bytes behind.
 * Completed messages also go through en_ctrl_decode(), which must not
 * crash on them.
 *
 * Build (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilib \
 *     -I$EI/include tests/fuzz/fuzz_fragment.c lib/fragment.c lib/ctrl.c \
 *     lib/framing.c lib/buf.c $EI/lib/libei.a -lpthread -o fuzz_fragment
 *   ./fuzz_fragment tests/fuzz/corpus/fragment
 * where EI is /usr/lib/erlang/lib/erl_interface-5.3.
 *
 * Seeds (tests/fuzz/corpus/fragment): the real OTP 25.2.3 header-form
 * packets of tests/fuzz/corpus/ctrl cut by en_frag_split() with small
 * fragment sizes: whole (split_*), two sequences interleaved, fragments
 * swapped, continuations without their first fragment, a first fragment
 * sent twice, N = 1, and a message in one 131 69 with FragId 1. Plus the
 * real OTP 25 fragments of tests/unit/data/frag_otp25_150000.bin cut to
 * 300, 100 and 100 bytes with ticks between (over the 256-byte limit),
 * and the first 64 bytes of that capture, length prefix intact.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/ctrl.h"
#include "proto/fragment.h"
#include "proto/framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

/* ---- The model: a list, linear search, copies everywhere ---- */

struct model_seq {
    uint64_t id;
    uint64_t next;
    en_buf_t msg;
};

struct model {
    struct model_seq *seqs;
    size_t n;
    size_t max_message;
    en_buf_t done;
};

static struct model_seq *model_find(struct model *m, uint64_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->seqs[i].id == id)
            return &m->seqs[i];
    return NULL;
}

static void model_drop(struct model *m, struct model_seq *s)
{
    en_buf_free(&s->msg);
    *s = m->seqs[--m->n];
}

/* Appends, or drops the sequence and says why not. */
static int model_append(struct model *m, struct model_seq *s, const uint8_t *p,
                        size_t len)
{
    /* Each message, and all unfinished ones together, within the limit. */
    size_t held = 0;
    for (size_t i = 0; i < m->n; i++)
        held += m->seqs[i].msg.len;
    if (s->msg.len + len > m->max_message || held + len > m->max_message) {
        model_drop(m, s);
        return EN_FRAG_ETOOBIG;
    }
    CHECK(en_buf_append(&s->msg, p, len) == 0);
    return 0;
}

static int model_finish(struct model *m, struct model_seq *s)
{
    if (--s->next > 0)
        return EN_FRAG_PENDING;
    m->done = s->msg;
    *s = m->seqs[--m->n];
    return EN_FRAG_COMPLETE;
}

static int model_feed(struct model *m, const uint8_t *p, size_t len)
{
    en_buf_free(&m->done);
    if (len < 2 || p[0] != 131 || (p[1] != 69 && p[1] != 70))
        return EN_FRAG_EPROTO;
    int first = p[1] == 69;
    size_t hdr = first ? 19 : 18;
    if (len < hdr || en_get64(p + 10) == 0)
        return EN_FRAG_EPROTO;
    uint64_t id = en_get64(p + 2), frag = en_get64(p + 10);
    struct model_seq *s = model_find(m, id);

    if (first) {
        if (p[18] != 0)
            return EN_FRAG_EPROTO;
        if (s) {
            model_drop(m, s);
            return EN_FRAG_EPROTO;
        }
        struct model_seq *grown =
            realloc(m->seqs, (m->n + 1) * sizeof *m->seqs);
        CHECK(grown);
        m->seqs = grown;
        s = &m->seqs[m->n++];
        s->id = id;
        s->next = frag;
        en_buf_init(&s->msg);
        static const uint8_t plain[] = {131, 68, 0};
        if (model_append(m, s, plain, 3) < 0)
            return EN_FRAG_ETOOBIG;
    } else {
        if (!s)
            return EN_FRAG_EPROTO;
        if (frag != s->next) {
            model_drop(m, s);
            return EN_FRAG_EPROTO;
        }
    }
    if (model_append(m, s, p + hdr, len - hdr) < 0)
        return EN_FRAG_ETOOBIG;
    return model_finish(m, s);
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++)
        en_buf_free(&m->seqs[i].msg);
    free(m->seqs);
    en_buf_free(&m->done);
}

/* ---- Checks on completed messages ---- */

/* Splits a completed message again and reassembles it in a fresh table. */
static void check_split_round_trip(const uint8_t *msg, size_t len,
                                   size_t frag_size)
{
    en_buf_t packet = EN_BUF_INIT, out = EN_BUF_INIT;
    CHECK(en_buf_put32(&packet, (uint32_t)len) == 0);
    CHECK(en_buf_append(&packet, msg, len) == 0);
    int rc = en_frag_split(&out, packet.data, packet.len, 42, frag_size);
    /* Refused exactly when there is no well-formed control term, or it is
     * longer than a fragment and the message needs more than one. */
    size_t ctrl_len;
    int fits =
        len > 3 &&
        en_term_size((const char *)msg + 3, len - 3, &ctrl_len, NULL) == 0 &&
        (len - 3 <= frag_size || ctrl_len <= frag_size);
    CHECK(rc == (fits ? 0 : EN_CTRL_EINVAL));
    if (rc == 0 && len - 3 <= frag_size) {
        /* Small enough: passed through unchanged. */
        CHECK(out.len == packet.len);
        CHECK(memcmp(out.data, packet.data, packet.len) == 0);
    } else if (rc == 0) {
        en_frag_table_t t;
        en_frag_init(&t, len);
        size_t pos = 0;
        int last = EN_FRAG_PENDING;
        while (pos < out.len) {
            long n = en_frame_next(out.data + pos, out.len - pos, SIZE_MAX);
            CHECK(n > EN_FRAME_HDR_LEN);
            const uint8_t *p = out.data + pos + EN_FRAME_HDR_LEN;
            size_t plen = (size_t)n - EN_FRAME_HDR_LEN;
            pos += (size_t)n;
            CHECK(last == EN_FRAG_PENDING);
            const uint8_t *m;
            size_t mlen;
            last = en_frag_feed(&t, p, plen, &m, &mlen, NULL, 0);
            CHECK(last >= 0);
            if (last == EN_FRAG_COMPLETE) {
                CHECK(pos == out.len);
                CHECK(mlen == len && memcmp(m, msg, len) == 0);
            }
        }
        CHECK(last == EN_FRAG_COMPLETE);
        en_frag_free(&t);
    }
    en_buf_free(&packet);
    en_buf_free(&out);
}

static void check_complete(const uint8_t *msg, size_t len, size_t limit)
{
    static en_dmsg_t dm; /* several KB */
    CHECK(len >= 3 && len <= limit);
    CHECK(msg[0] == 131 && msg[1] == 68 && msg[2] == 0);
    (void)en_ctrl_decode(msg, len, &dm, NULL, 0);
    static const size_t sizes[] = {1, 40, 100, EN_FRAG_SIZE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_split_round_trip(msg, len, sizes[i]);
}

/* Feeds one packet to a table and its model and compares. */
static void feed_both(en_frag_table_t *t, struct model *m, const uint8_t *p,
                      size_t len)
{
    const uint8_t *msg;
    size_t msg_len;
    char err[256];
    /* An exact-size copy, so that ASan sees any over-read. */
    uint8_t *copy = malloc(len ? len : 1);
    CHECK(copy);
    if (len)
        memcpy(copy, p, len);
    int rc = en_frag_feed(t, copy, len, &msg, &msg_len, err, sizeof err);
    free(copy);
    int want = model_feed(m, p, len);
    CHECK(rc == want);
    if (rc < 0)
        CHECK(err[0] != '\0');
    if (rc != EN_FRAG_COMPLETE) {
        CHECK(msg == NULL && msg_len == 0);
        return;
    }
    CHECK(msg_len == m->done.len && memcmp(msg, m->done.data, msg_len) == 0);
    check_complete(msg, msg_len, t->max_message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[2] = {1024 * 1024, 256};
    en_frag_table_t t[2];
    struct model m[2];
    for (int i = 0; i < 2; i++) {
        en_frag_init(&t[i], limits[i]);
        memset(&m[i], 0, sizeof m[i]);
        m[i].max_message = limits[i];
    }

    size_t pos = 0;
    while (pos < size) {
        size_t len = size - pos;
        const uint8_t *p = data + pos;
        if (len >= EN_FRAME_HDR_LEN) {
            size_t want = en_get32(p);
            p += EN_FRAME_HDR_LEN;
            len -= EN_FRAME_HDR_LEN;
            if (want < len)
                len = want;
        }
        for (int i = 0; i < 2; i++)
            feed_both(&t[i], &m[i], p, len);
        pos = (size_t)(p - data) + len; /* at least 1 byte further */
    }

    for (int i = 0; i < 2; i++) {
        CHECK(en_frag_pending_bytes(&t[i]) >= (m[i].n ? 3 : 0));
        en_frag_free(&t[i]);
        CHECK(en_frag_pending_bytes(&t[i]) == 0);
        model_free(&m[i]);
    }
    return 0;
}
