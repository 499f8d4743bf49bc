/* test_fragment.c - reassembling and splitting fragmented messages.
 *
 * Where the bytes come from: tests/unit/data/frag_otp25_*.bin were
 * captured from a real OTP 25.2.3 node (erts 13.1.5) by
 * tests/tools/capture_fragments.py, which dials the node over plain TCP
 * as py@vm with flags 0x403870F95 (the OTP 26 mandatory set, FRAGMENTS
 * and PUBLISHED; no atom cache) and has it send to the registered name
 * `py`. Each file is the fragment packets exactly as they came off the
 * socket, 4-byte length prefixes included:
 *
 *   frag_otp25_150000.bin       REG_SEND {6, <b@vm.9.0>, '', py} with
 *       B = << <<(I rem 251)>> || I <- lists:seq(0, 149999) >>: packets
 *       of 65555, 65554 and 18980 bytes, SeqId 0x4800000093, FragId 3, 2,
 *       1.
 *   frag_otp25_two_senders.bin  two processes sending {1, P} and {2, P},
 *       P = binary:part(B, 0, 70000), at once: SeqIds 0x2c000000583 and
 *       0x2c800000593, two fragments each (65555 and 4520 bytes). OTP
 *       wrote each sequence whole; the tests interleave them.
 *
 * The files are found in EN_TEST_DATA_DIR (default: tests/unit/data,
 * relative to the working directory). Every fragment is fed from an
 * exact-size heap copy that is freed right after, so AddressSanitizer
 * reports any read past its end and any reference the table keeps to it.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "base/buf.h"
#include "proto/ctrl.h"
#include "proto/fragment.h"
#include "proto/framing.h"

#ifndef EN_TEST_DATA_DIR
#define EN_TEST_DATA_DIR "tests/unit/data"
#endif

#define MIB (1024 * 1024)
#define MAX_MESSAGE (64 * MIB)
#define MAX_PACKETS 8

/* ---- The captured packets ---- */

struct capture {
    uint8_t *bytes; /* the whole file */
    size_t len;
    size_t npackets;
    const uint8_t *data[MAX_PACKETS]; /* each packet's data (after Len) */
    size_t data_len[MAX_PACKETS];
};

static void load_capture(struct capture *c, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", EN_TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f,
                       "cannot open %s (run from the source tree or "
                       "define EN_TEST_DATA_DIR)",
                       path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert_gt(size, 0);
    rewind(f);
    memset(c, 0, sizeof *c);
    c->len = (size_t)size;
    c->bytes = malloc(c->len);
    cr_assert_not_null(c->bytes);
    cr_assert_eq(fread(c->bytes, 1, c->len, f), c->len);
    fclose(f);

    size_t pos = 0;
    while (pos < c->len) {
        long n = en_frame_next(c->bytes + pos, c->len - pos, MAX_MESSAGE);
        cr_assert_gt(n, EN_FRAME_HDR_LEN, "%s: bad packet at %zu", name, pos);
        cr_assert_lt(c->npackets, MAX_PACKETS);
        c->data[c->npackets] = c->bytes + pos + EN_FRAME_HDR_LEN;
        c->data_len[c->npackets] = (size_t)n - EN_FRAME_HDR_LEN;
        c->npackets++;
        pos += (size_t)n;
    }
}

static void free_capture(struct capture *c)
{
    free(c->bytes);
}

/* Byte i of the binary the OTP node sent. */
static uint8_t otp_byte(size_t i)
{
    return (uint8_t)(i % 251);
}

/* ---- Feeding ---- */

struct fed {
    int rc;
    const uint8_t *msg;
    size_t msg_len;
    char err[256];
};

/* Feeds a heap copy of exactly len bytes and frees it afterwards. */
static struct fed feed(en_frag_table_t *t, const uint8_t *data, size_t len)
{
    struct fed r;
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    if (len)
        memcpy(copy, data, len);
    r.msg = (const uint8_t *)"garbage";
    r.msg_len = 12345;
    r.err[0] = 'x';
    r.err[1] = '\0';
    r.rc = en_frag_feed(t, copy, len, &r.msg, &r.msg_len, r.err, sizeof r.err);
    free(copy);
    if (r.rc == EN_FRAG_COMPLETE) {
        cr_assert_not_null(r.msg);
        cr_assert_eq(r.err[0], '\0');
    } else {
        cr_assert_null(r.msg);
        cr_assert_eq(r.msg_len, 0);
    }
    if (r.rc < 0)
        cr_assert_gt(strlen(r.err), 10, "no sentence for error %d", r.rc);
    return r;
}

static void feed_pending(en_frag_table_t *t, const uint8_t *data, size_t len)
{
    struct fed r = feed(t, data, len);
    cr_assert_eq(r.rc, EN_FRAG_PENDING, "expected pending, got %d: %s", r.rc,
                 r.err);
}

static struct fed feed_complete(en_frag_table_t *t, const uint8_t *data,
                                size_t len)
{
    struct fed r = feed(t, data, len);
    cr_assert_eq(r.rc, EN_FRAG_COMPLETE, "expected complete, got %d: %s", r.rc,
                 r.err);
    return r;
}

static struct fed feed_error(en_frag_table_t *t, const uint8_t *data,
                             size_t len, int code, const char *words)
{
    struct fed r = feed(t, data, len);
    cr_assert_eq(r.rc, code, "expected %d, got %d: %s", code, r.rc, r.err);
    cr_assert_not_null(strstr(r.err, words), "error \"%s\" lacks \"%s\"", r.err,
                       words);
    return r;
}

/* A packet's data with one byte changed. */
static uint8_t *patched(const uint8_t *data, size_t len, size_t at,
                        uint8_t value)
{
    uint8_t *p = malloc(len);
    cr_assert_not_null(p);
    memcpy(p, data, len);
    p[at] = value;
    return p;
}

static uint64_t seq_of(const uint8_t *data)
{
    return en_get64(data + 2);
}

static uint64_t frag_of(const uint8_t *data)
{
    return en_get64(data + 10);
}

/* ---- Checking what came out ---- */

/* The message must decode as REG_SEND to `py` from <b@vm.*> and carry a
 * BINARY_EXT (or, with tuple_tag > 0, {tuple_tag, Binary}) whose bytes
 * are the first bin_len of the OTP binary. */
static void check_otp_message(const struct fed *r, long tuple_tag,
                              size_t bin_len)
{
    static en_dmsg_t m; /* several KB */
    char err[256];
    int rc = en_ctrl_decode(r->msg, r->msg_len, &m, err, sizeof err);
    cr_assert_eq(rc, 0, "decode failed: %s", err);
    cr_assert_eq(m.op, EN_DOP_REG_SEND);
    cr_assert_str_eq(m.to_name, "py");
    cr_assert_str_eq(m.from.node, "b@vm");
    cr_assert_not_null(m.msg);

    int idx = 0, arity, type, size;
    if (tuple_tag > 0) {
        long tag;
        cr_assert_eq(ei_decode_tuple_header(m.msg, &idx, &arity), 0);
        cr_assert_eq(arity, 2);
        cr_assert_eq(ei_decode_long(m.msg, &idx, &tag), 0);
        cr_assert_eq(tag, tuple_tag);
    }
    cr_assert_eq(ei_get_type(m.msg, &idx, &type, &size), 0);
    cr_assert_eq(type, ERL_BINARY_EXT);
    cr_assert_eq((size_t)size, bin_len);
    const uint8_t *bin = (const uint8_t *)m.msg + idx + 5;
    cr_assert_eq((size_t)(bin + bin_len - (const uint8_t *)m.msg), m.msg_len);
    for (size_t i = 0; i < bin_len; i++)
        if (bin[i] != otp_byte(i))
            cr_assert_fail("binary differs at byte %zu", i);
}

/* 131 68 0 followed by the data of every fragment, in order. */
static void check_is_concatenation(const struct fed *r, const struct capture *c,
                                   const size_t *which, size_t n)
{
    size_t pos = 3;
    cr_assert_geq(r->msg_len, 3);
    cr_assert_eq(memcmp(r->msg, "\x83\x44\x00", 3), 0);
    for (size_t i = 0; i < n; i++) {
        size_t k = which[i];
        size_t hdr = i == 0 ? EN_FRAG_FIRST_HDR_LEN : EN_FRAG_CONT_HDR_LEN;
        size_t part = c->data_len[k] - hdr;
        cr_assert_leq(pos + part, r->msg_len);
        cr_assert_eq(memcmp(r->msg + pos, c->data[k] + hdr, part), 0);
        pos += part;
    }
    cr_assert_eq(pos, r->msg_len);
}

/* ================================================================== */
/* Real OTP 25 fragments                                                */
/* ================================================================== */

Test(frag_otp, capture_is_what_the_protocol_sheet_says)
{
    struct capture c;
    load_capture(&c, "frag_otp25_150000.bin");
    cr_assert_eq(c.npackets, 3);
    cr_assert_eq(c.data_len[0], 65555);
    cr_assert_eq(c.data_len[1], 65554);
    cr_assert_eq(c.data_len[2], 18980);
    static const uint8_t kinds[] = {69, 70, 70};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(c.data[i][0], 131);
        cr_assert_eq(c.data[i][1], kinds[i]);
        cr_assert_eq(seq_of(c.data[i]), 0x4800000093ULL);
        cr_assert_eq(frag_of(c.data[i]), 3 - i);
    }
    cr_assert_eq(c.data[0][18], 0, "N must be 0 without the atom cache");
    free_capture(&c);
}

Test(frag_otp, three_fragments_in_order_give_one_message)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);

    feed_pending(&t, c.data[0], c.data_len[0]);
    size_t after_one = en_frag_pending_bytes(&t);
    cr_assert_geq(after_one, 3 + 65536);
    feed_pending(&t, c.data[1], c.data_len[1]);
    cr_assert_geq(en_frag_pending_bytes(&t), 3 + 2 * 65536);
    struct fed r = feed_complete(&t, c.data[2], c.data_len[2]);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);

    cr_assert_eq(r.msg_len, 3 + 65536 * 2 + 18962);
    static const size_t order[] = {0, 1, 2};
    check_is_concatenation(&r, &c, order, 3);
    check_otp_message(&r, 0, 150000);
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_otp, two_senders_as_captured)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_two_senders.bin");
    cr_assert_eq(c.npackets, 4);
    cr_assert_neq(seq_of(c.data[0]), seq_of(c.data[2]));
    en_frag_init(&t, MAX_MESSAGE);

    for (size_t s = 0; s < 2; s++) {
        feed_pending(&t, c.data[2 * s], c.data_len[2 * s]);
        struct fed r =
            feed_complete(&t, c.data[2 * s + 1], c.data_len[2 * s + 1]);
        check_otp_message(&r, (long)s + 1, 70000);
    }
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    en_frag_free(&t);
    free_capture(&c);
}

/* Every order that keeps each sequence's own order: A1 A2 B1 B2 with
 * the B's moved among the A's. */
Test(frag_otp, two_senders_interleaved_every_way)
{
    struct capture c;
    load_capture(&c, "frag_otp25_two_senders.bin");
    static const size_t orders[][4] = {
        {0, 2, 1, 3}, {0, 2, 3, 1}, {2, 0, 1, 3},
        {2, 0, 3, 1}, {2, 3, 0, 1}, {0, 1, 2, 3},
    };
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        en_frag_table_t t;
        en_frag_init(&t, MAX_MESSAGE);
        int completed = 0;
        for (size_t i = 0; i < 4; i++) {
            size_t k = orders[o][i];
            struct fed r = feed(&t, c.data[k], c.data_len[k]);
            int last = k % 2 == 1;
            cr_assert_eq(r.rc, last ? EN_FRAG_COMPLETE : EN_FRAG_PENDING,
                         "order %zu step %zu: %d %s", o, i, r.rc, r.err);
            if (last) {
                check_otp_message(&r, (long)(k / 2) + 1, 70000);
                completed++;
            }
        }
        cr_assert_eq(completed, 2);
        cr_assert_eq(en_frag_pending_bytes(&t), 0);
        en_frag_free(&t);
    }
    free_capture(&c);
}

/* All three captured sequences live at once. */
Test(frag_otp, three_sequences_interleaved)
{
    struct capture one, two;
    en_frag_table_t t;
    load_capture(&one, "frag_otp25_150000.bin");
    load_capture(&two, "frag_otp25_two_senders.bin");
    en_frag_init(&t, MAX_MESSAGE);

    feed_pending(&t, one.data[0], one.data_len[0]);
    feed_pending(&t, two.data[0], two.data_len[0]);
    feed_pending(&t, two.data[2], two.data_len[2]);
    feed_pending(&t, one.data[1], one.data_len[1]);
    struct fed r = feed_complete(&t, two.data[3], two.data_len[3]);
    check_otp_message(&r, 2, 70000);
    r = feed_complete(&t, one.data[2], one.data_len[2]);
    check_otp_message(&r, 0, 150000);
    cr_assert_gt(en_frag_pending_bytes(&t), 0);
    r = feed_complete(&t, two.data[1], two.data_len[1]);
    check_otp_message(&r, 1, 70000);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);

    en_frag_free(&t);
    free_capture(&one);
    free_capture(&two);
}

/* Our splitter cuts the reassembled message exactly as OTP did. */
Test(frag_otp, split_reproduces_the_otp_bytes)
{
    static const char *files[] = {"frag_otp25_150000.bin",
                                  "frag_otp25_two_senders.bin"};
    for (size_t f = 0; f < 2; f++) {
        struct capture c;
        en_frag_table_t t;
        en_buf_t packet = EN_BUF_INIT, out = EN_BUF_INIT;
        load_capture(&c, files[f]);
        en_frag_init(&t, MAX_MESSAGE);
        for (size_t k = 0; k < c.npackets; k++) {
            struct fed r = feed(&t, c.data[k], c.data_len[k]);
            cr_assert_geq(r.rc, 0, "%s", r.err);
            if (r.rc != EN_FRAG_COMPLETE)
                continue;
            en_buf_reset(&packet);
            cr_assert_eq(en_buf_put32(&packet, (uint32_t)r.msg_len), 0);
            cr_assert_eq(en_buf_append(&packet, r.msg, r.msg_len), 0);
            cr_assert_eq(en_frag_split(&out, packet.data, packet.len,
                                       seq_of(c.data[k]), EN_FRAG_SIZE),
                         0);
        }
        cr_assert_eq(out.len, c.len);
        cr_assert_eq(memcmp(out.data, c.bytes, c.len), 0);
        en_buf_free(&packet);
        en_buf_free(&out);
        en_frag_free(&t);
        free_capture(&c);
    }
}

/* ================================================================== */
/* Errors                                                               */
/* ================================================================== */

Test(frag_err, fragment_id_out_of_order)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);

    /* 3 then 1: fragment 2 is skipped. */
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_error(&t, c.data[2], c.data_len[2], EN_FRAG_EPROTO,
               "fragment 1 of message 0x4800000093 arrived when fragment 2 "
               "was due");
    /* The broken sequence is gone: its fragment 2 is now unknown. */
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    feed_error(&t, c.data[1], c.data_len[1], EN_FRAG_EPROTO,
               "without a first fragment");

    /* 3, 2, then 2 again. */
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_pending(&t, c.data[1], c.data_len[1]);
    feed_error(&t, c.data[1], c.data_len[1], EN_FRAG_EPROTO,
               "fragment 2 of message 0x4800000093 arrived when fragment 1 "
               "was due");

    /* A following fragment claiming a higher FragId than the first. */
    uint8_t *up = patched(c.data[1], c.data_len[1], 17, 4);
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_error(&t, up, c.data_len[1], EN_FRAG_EPROTO, "fragment 4 of");
    free(up);

    /* The table still works. */
    for (size_t k = 0; k < 2; k++)
        feed_pending(&t, c.data[k], c.data_len[k]);
    struct fed r = feed_complete(&t, c.data[2], c.data_len[2]);
    check_otp_message(&r, 0, 150000);
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_err, a_bad_sequence_leaves_the_others_alone)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_two_senders.bin");
    en_frag_init(&t, MAX_MESSAGE);
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_pending(&t, c.data[2], c.data_len[2]);
    uint8_t *wrong = patched(c.data[3], c.data_len[3], 17, 7);
    feed_error(&t, wrong, c.data_len[3], EN_FRAG_EPROTO, "when fragment 1");
    free(wrong);
    struct fed r = feed_complete(&t, c.data[1], c.data_len[1]);
    check_otp_message(&r, 1, 70000);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_err, unknown_sequence)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);
    feed_error(&t, c.data[1], c.data_len[1], EN_FRAG_EPROTO,
               "fragment 2 of message 0x4800000093 arrived without a first "
               "fragment");
    /* Known SeqId of another sequence does not count. */
    feed_pending(&t, c.data[0], c.data_len[0]);
    uint8_t *other = patched(c.data[2], c.data_len[2], 9, 0x94);
    feed_error(&t, other, c.data_len[2], EN_FRAG_EPROTO,
               "message 0x4800000094 arrived without a first fragment");
    free(other);
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_err, first_fragment_reusing_a_live_sequence)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_error(&t, c.data[0], c.data_len[0], EN_FRAG_EPROTO,
               "first fragment of message 0x4800000093 arrived while that "
               "message was still being received");
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    /* Once a sequence is complete, its SeqId may start again. */
    for (int round = 0; round < 2; round++) {
        feed_pending(&t, c.data[0], c.data_len[0]);
        feed_pending(&t, c.data[1], c.data_len[1]);
        struct fed r = feed_complete(&t, c.data[2], c.data_len[2]);
        check_otp_message(&r, 0, 150000);
    }
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_err, atom_cache_references_are_refused)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);
    for (unsigned n = 1; n < 256; n += 127) {
        uint8_t *p = patched(c.data[0], c.data_len[0], 18, (uint8_t)n);
        struct fed r = feed_error(&t, p, c.data_len[0], EN_FRAG_EPROTO,
                                  "never negotiates the atom cache");
        char count[16];
        snprintf(count, sizeof count, "uses %u atom", n);
        cr_assert_not_null(strstr(r.err, count), "%s", r.err);
        free(p);
    }
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_err, fragment_id_zero)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);
    uint8_t *first = patched(c.data[0], c.data_len[0], 17, 0);
    feed_error(&t, first, c.data_len[0], EN_FRAG_EPROTO, "FragId 0");
    feed_pending(&t, c.data[0], c.data_len[0]);
    uint8_t *next = patched(c.data[1], c.data_len[1], 17, 0);
    feed_error(&t, next, c.data_len[1], EN_FRAG_EPROTO, "FragId 0");
    free(first);
    free(next);
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_err, packets_that_are_not_fragments)
{
    en_frag_table_t t;
    en_frag_init(&t, MAX_MESSAGE);
    static const uint8_t hdr[] = {131, 68, 0, 0x6a};
    static const uint8_t pass[] = {112, 131, 0x6a};
    static const uint8_t other[] = {131, 71, 0, 0, 0, 0, 0, 0, 0, 1,
                                    0,   0,  0, 0, 0, 0, 0, 1, 0};
    feed_error(&t, hdr, sizeof hdr, EN_FRAG_EPROTO, "not a fragment");
    feed_error(&t, pass, sizeof pass, EN_FRAG_EPROTO, "not a fragment");
    feed_error(&t, other, sizeof other, EN_FRAG_EPROTO, "not a fragment");
    feed_error(&t, hdr, 0, EN_FRAG_EPROTO, "not a fragment");
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    en_frag_free(&t);
}

/* Every cut inside the fixed header of each real fragment is refused and
 * leaves the table as it was; cuts after the header are shorter but
 * valid fragments. */
Test(frag_err, truncated_headers_at_every_offset)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);

    for (size_t k = 0; k < 3; k++) {
        size_t hdr = k == 0 ? EN_FRAG_FIRST_HDR_LEN : EN_FRAG_CONT_HDR_LEN;
        for (size_t cut = 0; cut < hdr; cut++) {
            struct fed r = feed(&t, c.data[k], cut);
            cr_assert_eq(r.rc, EN_FRAG_EPROTO, "fragment %zu cut at %zu", k,
                         cut);
            const char *why = cut < 2 ? "not a fragment" : "truncated";
            cr_assert_not_null(strstr(r.err, why), "cut %zu: %s", cut, r.err);
        }
        /* Sequence state is untouched by the refused cuts. */
        if (k == 0)
            cr_assert_eq(en_frag_pending_bytes(&t), 0);
        feed(&t, c.data[k], c.data_len[k]);
    }
    cr_assert_eq(en_frag_pending_bytes(&t), 0);

    /* A first fragment that is only its header is a fragment with no
     * data; the message then lacks its start and does not decode. */
    feed_pending(&t, c.data[0], EN_FRAG_FIRST_HDR_LEN);
    feed_pending(&t, c.data[1], EN_FRAG_CONT_HDR_LEN);
    struct fed r = feed_complete(&t, c.data[2], EN_FRAG_CONT_HDR_LEN);
    cr_assert_eq(r.msg_len, 3);
    static en_dmsg_t m;
    cr_assert_lt(en_ctrl_decode(r.msg, r.msg_len, &m, NULL, 0), 0);

    /* Every cut of the last fragment's data: the message is whole as far
     * as fragments go, and en_ctrl_decode refuses all but the full one. */
    for (size_t cut = EN_FRAG_CONT_HDR_LEN; cut <= c.data_len[2];
         cut += cut < 64 ? 1 : 997) {
        feed_pending(&t, c.data[0], c.data_len[0]);
        feed_pending(&t, c.data[1], c.data_len[1]);
        r = feed_complete(&t, c.data[2], cut);
        char err[256];
        int rc = en_ctrl_decode(r.msg, r.msg_len, &m, err, sizeof err);
        cr_assert_eq(rc == 0, cut == c.data_len[2], "cut %zu: %s", cut, err);
    }
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_err, too_big)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    size_t whole = 3 + 65536 * 2 + 18962;

    /* Over the limit on the second fragment. */
    en_frag_init(&t, 100000);
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_error(&t, c.data[1], c.data_len[1], EN_FRAG_ETOOBIG,
               "fragmented message 0x4800000093 would grow to 131075 bytes, "
               "over the limit of 100000 bytes");
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    feed_error(&t, c.data[2], c.data_len[2], EN_FRAG_EPROTO,
               "without a first fragment");
    en_frag_free(&t);

    /* Over the limit on the first fragment. */
    en_frag_init(&t, 1000);
    feed_error(&t, c.data[0], c.data_len[0], EN_FRAG_ETOOBIG,
               "would grow to 65539 bytes, over the limit of 1000 bytes");
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    en_frag_free(&t);

    /* One byte short, then exactly enough. */
    en_frag_init(&t, whole - 1);
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_pending(&t, c.data[1], c.data_len[1]);
    feed_error(&t, c.data[2], c.data_len[2], EN_FRAG_ETOOBIG,
               "would grow to 150037 bytes");
    en_frag_free(&t);
    en_frag_init(&t, whole);
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_pending(&t, c.data[1], c.data_len[1]);
    struct fed r = feed_complete(&t, c.data[2], c.data_len[2]);
    cr_assert_eq(r.msg_len, whole);
    en_frag_free(&t);
    free_capture(&c);
}

/* ================================================================== */
/* Splitting and round trips                                            */
/* ================================================================== */

static erlang_pid test_pid(void)
{
    erlang_pid p;
    memset(&p, 0, sizeof p);
    strcpy(p.node, "a@host");
    p.num = 38;
    p.serial = 1;
    p.creation = 0x11223344;
    return p;
}

static uint8_t pattern_byte(size_t i)
{
    return (uint8_t)((i * 7 + 3) ^ (i >> 8));
}

/* Appends one REG_SEND {6, a@host pid, '', some_name} carrying a binary
 * of bin_len bytes, in header form, to pkt (which is reset first). */
static void make_packet(en_buf_t *pkt, size_t bin_len)
{
    size_t term_len = 5 + bin_len;
    char *term = malloc(term_len);
    cr_assert_not_null(term);
    term[0] = ERL_BINARY_EXT;
    term[1] = (char)(bin_len >> 24);
    term[2] = (char)(bin_len >> 16);
    term[3] = (char)(bin_len >> 8);
    term[4] = (char)bin_len;
    for (size_t i = 0; i < bin_len; i++)
        term[5 + i] = (char)pattern_byte(i);
    erlang_pid from = test_pid();
    en_buf_reset(pkt);
    cr_assert_eq(en_ctrl_reg_send(pkt, EN_WIRE_DISTHDR, &from, "some_name",
                                  term, term_len),
                 0);
    free(term);
}

/* Ctrl + Msg bytes of a header-form packet. */
static size_t body_of(const en_buf_t *pkt)
{
    return pkt->len - EN_FRAME_HDR_LEN - 3;
}

/* Splits pkt, checks every packet of the result and reassembles it;
 * returns the number of packets split wrote. */
static size_t round_trip(const en_buf_t *pkt, size_t frag_size, uint64_t seq_id)
{
    en_buf_t out = EN_BUF_INIT;
    en_frag_table_t t;
    cr_assert_eq(en_buf_put8(&out, 0xEE), 0); /* split appends */
    cr_assert_eq(en_frag_split(&out, pkt->data, pkt->len, seq_id, frag_size),
                 0);
    cr_assert_eq(out.data[0], 0xEE);

    size_t body = body_of(pkt);
    size_t want = body <= frag_size ? 1 : (body - 1) / frag_size + 1;
    size_t pos = 1, count = 0, carried = 0;
    en_frag_init(&t, body + 3);
    while (pos < out.len) {
        long n = en_frame_next(out.data + pos, out.len - pos, SIZE_MAX);
        cr_assert_gt(n, EN_FRAME_HDR_LEN);
        const uint8_t *data = out.data + pos + EN_FRAME_HDR_LEN;
        size_t len = (size_t)n - EN_FRAME_HDR_LEN;
        pos += (size_t)n;
        count++;
        if (want == 1) {
            cr_assert_eq((size_t)n, pkt->len);
            cr_assert_eq(memcmp(out.data + 1, pkt->data, pkt->len), 0);
            continue;
        }
        int first = count == 1;
        size_t hdr = first ? EN_FRAG_FIRST_HDR_LEN : EN_FRAG_CONT_HDR_LEN;
        cr_assert_geq(len, hdr);
        cr_assert_eq(data[0], 131);
        cr_assert_eq(data[1], first ? 69 : 70);
        cr_assert_eq(seq_of(data), seq_id);
        cr_assert_eq(frag_of(data), want - count + 1);
        if (first)
            cr_assert_eq(data[18], 0);
        size_t part = len - hdr;
        cr_assert_eq(part, count < want ? frag_size : body - carried);
        carried += part;

        struct fed r = feed(&t, data, len);
        cr_assert_eq(r.rc, count < want ? EN_FRAG_PENDING : EN_FRAG_COMPLETE,
                     "%s", r.err);
        if (r.rc == EN_FRAG_COMPLETE) {
            cr_assert_eq(r.msg_len, pkt->len - EN_FRAME_HDR_LEN);
            cr_assert_eq(memcmp(r.msg, pkt->data + EN_FRAME_HDR_LEN, r.msg_len),
                         0);
            static en_dmsg_t m;
            cr_assert_eq(en_ctrl_decode(r.msg, r.msg_len, &m, NULL, 0), 0);
            cr_assert_eq(m.op, EN_DOP_REG_SEND);
        }
    }
    cr_assert_eq(pos, out.len);
    cr_assert_eq(count, want);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    en_frag_free(&t);
    en_buf_free(&out);
    return count;
}

Test(frag_split, round_trip_binary_sizes)
{
    static const size_t fs = EN_FRAG_SIZE;
    static const size_t sizes[] = {0, 1, fs - 1, fs, fs + 1, 3 * fs, 10 * MIB};
    en_buf_t pkt = EN_BUF_INIT;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        make_packet(&pkt, sizes[i]);
        size_t body = body_of(&pkt);
        size_t n = round_trip(&pkt, fs, 0x4800000093ULL + i);
        cr_assert_eq(n, body <= fs ? 1 : (body - 1) / fs + 1);
    }
    /* 10 MiB and a bit is 161 fragments. */
    cr_assert_eq(round_trip(&pkt, fs, 1), 161);
    en_buf_free(&pkt);
}

/* Ctrl + Msg of exactly frag_size - 1, frag_size, frag_size + 1, ... */
Test(frag_split, round_trip_at_fragment_boundaries)
{
    static const size_t fs = EN_FRAG_SIZE;
    en_buf_t pkt = EN_BUF_INIT;
    make_packet(&pkt, 0);
    size_t overhead = body_of(&pkt); /* control tuple + empty binary */
    static const struct {
        size_t body;
        size_t packets;
    } cases[] = {
        {fs - 1, 1},     {fs, 1},     {fs + 1, 2},     {2 * fs, 2},
        {2 * fs + 1, 3}, {3 * fs, 3}, {3 * fs + 1, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        make_packet(&pkt, cases[i].body - overhead);
        cr_assert_eq(body_of(&pkt), cases[i].body);
        cr_assert_eq(round_trip(&pkt, fs, UINT64_MAX - i), cases[i].packets);
    }
    en_buf_free(&pkt);
}

Test(frag_split, small_fragment_sizes)
{
    en_buf_t pkt = EN_BUF_INIT;
    make_packet(&pkt, 1000);
    size_t body = body_of(&pkt);
    size_t ctrl_len;
    cr_assert_eq(
        en_term_size((const char *)pkt.data + 7, pkt.len - 7, &ctrl_len, NULL),
        0);
    /* The control term exactly fills the first fragment. */
    cr_assert_eq(round_trip(&pkt, ctrl_len, 0), (body - 1) / ctrl_len + 1);
    for (size_t fs = ctrl_len + 1; fs < body + 2; fs += 37)
        round_trip(&pkt, fs, fs);

    /* One byte less and the control term would straddle two fragments. */
    en_buf_t out = EN_BUF_INIT;
    cr_assert_eq(en_buf_append(&out, "keep", 4), 0);
    cr_assert_eq(en_frag_split(&out, pkt.data, pkt.len, 0, ctrl_len - 1),
                 EN_CTRL_EINVAL);
    cr_assert_eq(en_frag_split(&out, pkt.data, pkt.len, 0, 1), EN_CTRL_EINVAL);
    cr_assert_eq(out.len, 4);
    cr_assert_eq(memcmp(out.data, "keep", 4), 0);
    en_buf_free(&out);
    en_buf_free(&pkt);
}

Test(frag_split, bad_packets_are_refused_and_out_is_untouched)
{
    en_buf_t pkt = EN_BUF_INIT, out = EN_BUF_INIT;
    make_packet(&pkt, 100000);
    cr_assert_eq(en_buf_append(&out, "keep", 4), 0);

    uint8_t *p = malloc(pkt.len);
    cr_assert_not_null(p);
    struct {
        size_t at;
        uint8_t value;
    } edits[] = {
        {3, (uint8_t)(pkt.data[3] + 1)}, /* Len one too many */
        {4, 112},                        /* pass-through form */
        {5, 69},                         /* already a fragment */
        {6, 1},                          /* atom cache refs */
        {7, 0x6a},                       /* control term is [] + garbage */
        {8, 200},                        /* control tuple arity too big */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(p, pkt.data, pkt.len);
        p[edits[i].at] = edits[i].value;
        int rc = en_frag_split(&out, p, pkt.len, 7, EN_FRAG_SIZE);
        /* [] is a well-formed control term for the splitter; the
         * receiver's en_ctrl_decode is what judges it. */
        if (edits[i].at == 7) {
            cr_assert_eq(rc, 0);
            out.len = 4;
            continue;
        }
        cr_assert_eq(rc, EN_CTRL_EINVAL, "edit %zu", i);
    }
    /* Truncated packets: the Len no longer matches. */
    for (size_t cut = 0; cut < 64; cut++)
        cr_assert_eq(en_frag_split(&out, pkt.data, cut, 7, 16), EN_CTRL_EINVAL);
    cr_assert_eq(en_frag_split(&out, NULL, 0, 7, 16), EN_CTRL_EINVAL);
    cr_assert_eq(en_frag_split(&out, pkt.data, pkt.len, 7, 0), EN_CTRL_EINVAL);
    cr_assert_eq(out.len, 4);
    cr_assert_eq(memcmp(out.data, "keep", 4), 0);
    free(p);
    en_buf_free(&out);
    en_buf_free(&pkt);
}

/* The in-place split gives what en_frag_split gives, keeps what comes
 * before the packet, and leaves the buffer alone when it refuses. */
Test(frag_split, in_place_split_of_the_last_packet)
{
    en_buf_t pkt = EN_BUF_INIT, copy = EN_BUF_INIT, tail = EN_BUF_INIT;
    make_packet(&pkt, 3 * EN_FRAG_SIZE + 5);
    cr_assert_eq(en_frag_split(&copy, pkt.data, pkt.len, 9, EN_FRAG_SIZE), 0);
    for (size_t fs = 100; fs <= EN_FRAG_SIZE; fs = fs * 7 + 1) {
        en_buf_t other = EN_BUF_INIT;
        tail.len = 0;
        cr_assert_eq(en_buf_append(&tail, "head", 4), 0);
        cr_assert_eq(en_buf_append(&tail, pkt.data, pkt.len), 0);
        cr_assert_eq(en_frag_split_tail(&tail, 4, 9, fs), 0);
        cr_assert_eq(memcmp(tail.data, "head", 4), 0);
        cr_assert_eq(en_frag_split(&other, pkt.data, pkt.len, 9, fs), 0);
        cr_assert_eq(tail.len, 4 + other.len, "fragment size %zu", fs);
        cr_assert_eq(memcmp(tail.data + 4, other.data, other.len), 0,
                     "fragment size %zu", fs);
        en_buf_free(&other);
    }
    tail.len = 0;
    cr_assert_eq(en_buf_append(&tail, pkt.data, pkt.len), 0);
    cr_assert_eq(en_frag_split_tail(&tail, 0, 9, EN_FRAG_SIZE), 0);
    cr_assert_eq(tail.len, copy.len);
    cr_assert_eq(memcmp(tail.data, copy.data, copy.len), 0);
    /* A control term larger than a fragment: refused, nothing moved. */
    tail.len = 0;
    cr_assert_eq(en_buf_append(&tail, pkt.data, pkt.len), 0);
    cr_assert_eq(en_frag_split_tail(&tail, 0, 9, 8), EN_CTRL_EINVAL);
    cr_assert_eq(tail.len, pkt.len);
    cr_assert_eq(memcmp(tail.data, pkt.data, pkt.len), 0);
    cr_assert_eq(en_frag_split_tail(&tail, tail.len + 1, 9, 8),
                 EN_CTRL_EINVAL);
    en_buf_free(&tail);
    en_buf_free(&copy);
    en_buf_free(&pkt);
}

/* A whole message in one 131 69 with FragId 1. */
Test(frag_split, single_fragment_message)
{
    en_buf_t pkt = EN_BUF_INIT, one = EN_BUF_INIT;
    en_frag_table_t t;
    make_packet(&pkt, 500);
    const uint8_t *body = pkt.data + 7;
    size_t body_len = body_of(&pkt);
    cr_assert_eq(en_buf_put8(&one, 131), 0);
    cr_assert_eq(en_buf_put8(&one, 69), 0);
    cr_assert_eq(en_buf_put64(&one, 0x1234), 0);
    cr_assert_eq(en_buf_put64(&one, 1), 0);
    cr_assert_eq(en_buf_put8(&one, 0), 0);
    cr_assert_eq(en_buf_append(&one, body, body_len), 0);

    en_frag_init(&t, MAX_MESSAGE);
    struct fed r = feed_complete(&t, one.data, one.len);
    cr_assert_eq(r.msg_len, pkt.len - 4);
    cr_assert_eq(memcmp(r.msg, pkt.data + 4, r.msg_len), 0);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    /* The same SeqId can be used again at once. */
    r = feed_complete(&t, one.data, one.len);
    cr_assert_eq(r.msg_len, pkt.len - 4);
    /* A following fragment for it is now unknown. */
    one.data[1] = 70;
    feed_error(&t, one.data, one.len - 1, EN_FRAG_EPROTO,
               "without a first fragment");
    en_frag_free(&t);
    en_buf_free(&one);
    en_buf_free(&pkt);
}

/* ================================================================== */
/* The table                                                            */
/* ================================================================== */

/* Many live sequences at once, SeqIds chosen to collide in the low bits,
 * fed round-robin and finished in a scrambled order, so that the hash
 * table grows, probes and closes gaps. */
Test(frag_table, many_interleaved_sequences)
{
    enum { SEQS = 300, FS = 40 };
    en_buf_t pkts[SEQS], split[SEQS];
    size_t pos[SEQS], left = SEQS;
    en_frag_table_t t;
    en_frag_init(&t, MAX_MESSAGE);

    for (size_t i = 0; i < SEQS; i++) {
        en_buf_init(&pkts[i]);
        en_buf_init(&split[i]);
        make_packet(&pkts[i], 60 + (i * 37) % 400);
        uint64_t seq = ((uint64_t)i << 35) | 0x93;
        cr_assert_eq(
            en_frag_split(&split[i], pkts[i].data, pkts[i].len, seq, FS), 0);
        pos[i] = 0;
    }
    size_t live_max = 0;
    for (size_t round = 0; left > 0; round++) {
        for (size_t j = 0; j < SEQS; j++) {
            size_t i = (j * 7 + round * 13) % SEQS;
            if (pos[i] == split[i].len)
                continue;
            long n = en_frame_next(split[i].data + pos[i],
                                   split[i].len - pos[i], SIZE_MAX);
            cr_assert_gt(n, 0);
            struct fed r = feed(&t, split[i].data + pos[i] + 4, (size_t)n - 4);
            pos[i] += (size_t)n;
            cr_assert_geq(r.rc, 0, "%s", r.err);
            if (r.rc == EN_FRAG_COMPLETE) {
                cr_assert_eq(pos[i], split[i].len);
                cr_assert_eq(r.msg_len, pkts[i].len - 4);
                cr_assert_eq(memcmp(r.msg, pkts[i].data + 4, r.msg_len), 0);
                left--;
            }
        }
        if (t.live > live_max)
            live_max = t.live;
    }
    cr_assert_geq(live_max, SEQS / 2);
    cr_assert_eq(t.live, 0);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    for (size_t i = 0; i < SEQS; i++) {
        en_buf_free(&pkts[i]);
        en_buf_free(&split[i]);
    }
    en_frag_free(&t);
}

/* en_frag_free releases half-received messages (LeakSanitizer checks) and
 * the message last handed out, and leaves a usable table. */
Test(frag_table, free_releases_partial_messages)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);
    for (uint8_t s = 0; s < 40; s++) {
        uint8_t *p = patched(c.data[0], c.data_len[0], 9, s);
        feed_pending(&t, p, c.data_len[0]);
        free(p);
    }
    cr_assert_geq(en_frag_pending_bytes(&t), 40 * (3 + 65536));
    en_frag_free(&t);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    cr_assert_eq(t.max_message, MAX_MESSAGE);

    /* Usable again; a completed message left in it is freed too. */
    for (size_t k = 0; k < 3; k++)
        feed(&t, c.data[k], c.data_len[k]);
    feed_pending(&t, c.data[0], c.data_len[0]);
    en_frag_free(&t);
    en_frag_free(&t); /* twice is harmless */
    free_capture(&c);
}

/* A completed message's buffer is released by the next call, whatever
 * that call does. */
Test(frag_table, completed_message_lives_until_the_next_call)
{
    struct capture c;
    en_frag_table_t t;
    load_capture(&c, "frag_otp25_two_senders.bin");
    en_frag_init(&t, MAX_MESSAGE);
    feed_pending(&t, c.data[0], c.data_len[0]);
    feed_pending(&t, c.data[2], c.data_len[2]);
    struct fed a = feed_complete(&t, c.data[1], c.data_len[1]);
    check_otp_message(&a, 1, 70000);         /* still valid here */
    struct fed bad = feed(&t, c.data[0], 5); /* an error, and a call */
    cr_assert_eq(bad.rc, EN_FRAG_EPROTO);
    struct fed b = feed_complete(&t, c.data[3], c.data_len[3]);
    check_otp_message(&b, 2, 70000);
    en_frag_free(&t);
    free_capture(&c);
}

Test(frag_table, errors_without_an_error_buffer)
{
    struct capture c;
    en_frag_table_t t;
    const uint8_t *msg;
    size_t msg_len;
    load_capture(&c, "frag_otp25_150000.bin");
    en_frag_init(&t, MAX_MESSAGE);
    cr_assert_eq(
        en_frag_feed(&t, c.data[1], c.data_len[1], &msg, &msg_len, NULL, 0),
        EN_FRAG_EPROTO);
    char tiny[8];
    cr_assert_eq(
        en_frag_feed(&t, c.data[2], 3, &msg, &msg_len, tiny, sizeof tiny),
        EN_FRAG_EPROTO);
    cr_assert_eq(strlen(tiny), sizeof tiny - 1);
    en_frag_free(&t);
    free_capture(&c);
}

/* ================================================================== */
/* The message apart: en_frag_feed_msg() and taking its buffer          */
/* ================================================================== */

/* Feeds the fragments of pkt (split with frag_size) to t through
 * en_frag_feed_msg(); returns the completed message's rc and parts. */
static int feed_parts(en_frag_table_t *t, const en_buf_t *pkt,
                      size_t frag_size, en_frag_msg_t *done)
{
    en_buf_t out = EN_BUF_INIT;
    size_t pos = 0;
    int rc = EN_FRAG_PENDING;
    char err[256];

    cr_assert_eq(en_frag_split(&out, pkt->data, pkt->len, 7, frag_size), 0);
    while (pos < out.len) {
        long n = en_frame_next(out.data + pos, out.len - pos, SIZE_MAX);
        cr_assert_gt(n, EN_FRAME_HDR_LEN);
        cr_assert_eq(rc, EN_FRAG_PENDING);
        rc = en_frag_feed_msg(t, out.data + pos + EN_FRAME_HDR_LEN,
                              (size_t)n - EN_FRAME_HDR_LEN, done, err,
                              sizeof err);
        cr_assert_geq(rc, 0, "%s", err);
        pos += (size_t)n;
    }
    en_buf_free(&out);
    return rc;
}

Test(frag_apart, message_lies_apart_versioned_with_room_behind)
{
    en_buf_t pkt = EN_BUF_INIT;
    en_frag_table_t t;
    en_frag_msg_t done;

    make_packet(&pkt, 3 * EN_FRAG_SIZE + 5);
    en_frag_init(&t, MAX_MESSAGE);
    cr_assert_eq(feed_parts(&t, &pkt, EN_FRAG_SIZE, &done), EN_FRAG_COMPLETE);
    cr_assert_not_null(done.body);
    /* head + body, less the body's 131, is the packet */
    const uint8_t *data = pkt.data + EN_FRAME_HDR_LEN;
    size_t len = pkt.len - EN_FRAME_HDR_LEN;
    cr_assert_eq(done.head_len + done.body->len - 1, len);
    cr_assert_eq(memcmp(done.head, data, done.head_len), 0);
    cr_assert_eq(done.body->data[0], 131);
    cr_assert_eq(memcmp(done.body->data + 1, data + done.head_len,
                        done.body->len - 1), 0);
    /* sized once from the fragment count, the last fragment's bytes
     * taken from the room: no doubling, some room left for a mailbox */
    cr_assert_gt(done.body->cap - done.body->len, EN_FRAG_BODY_ROOM / 2);
    cr_assert_leq(done.body->cap, done.body->len + EN_FRAG_BODY_ROOM);

    en_dmsg_t m;
    cr_assert_eq(en_ctrl_decode_msg(done.head, done.head_len,
                                    done.body->data, done.body->len, &m,
                                    NULL, 0), 0);
    cr_assert_eq(m.op, EN_DOP_REG_SEND);
    cr_assert_eq((const uint8_t *)m.msg, done.body->data + 1);
    cr_assert_eq(m.msg_len, done.body->len - 1);
    cr_assert_eq(en_frag_pending_bytes(&t), 0);
    en_frag_free(&t);
    en_buf_free(&pkt);
}

Test(frag_apart, a_taken_buffer_is_the_takers_and_the_table_lets_go)
{
    en_buf_t pkt = EN_BUF_INIT;
    en_frag_table_t t;
    en_frag_msg_t done;

    make_packet(&pkt, 2 * EN_FRAG_SIZE);
    en_frag_init(&t, MAX_MESSAGE);
    cr_assert_eq(feed_parts(&t, &pkt, EN_FRAG_SIZE, &done), EN_FRAG_COMPLETE);
    en_buf_t mine = *done.body;
    en_buf_init(done.body);
    /* the next message completes; the taken buffer is untouched */
    size_t len = mine.len;
    uint8_t last = mine.data[len - 1];
    cr_assert_eq(feed_parts(&t, &pkt, EN_FRAG_SIZE, &done), EN_FRAG_COMPLETE);
    cr_assert_neq(done.body->data, mine.data);
    cr_assert_eq(mine.len, len);
    cr_assert_eq(mine.data[len - 1], last);
    en_frag_free(&t); /* frees the table's, never the taken one */
    en_buf_free(&mine); /* ASan: neither leaked nor freed twice */
    en_buf_free(&pkt);
}

Test(frag_apart, joined_form_is_unchanged_for_en_frag_feed)
{
    en_buf_t pkt = EN_BUF_INIT;
    make_packet(&pkt, 5 * EN_FRAG_SIZE + 17);
    cr_assert_eq(round_trip(&pkt, EN_FRAG_SIZE, 99), 6);
    make_packet(&pkt, 1000);
    cr_assert_eq(round_trip(&pkt, 100, 98), 11); /* 1000 + ctrl, by 100 */
    en_buf_free(&pkt);
}

Test(frag_apart, a_huge_fragment_count_reserves_within_the_limits)
{
    /* A first fragment announcing 2^40 fragments: the reservation stays
     * within max_message, and the limit still refuses the message. */
    en_buf_t pkt = EN_BUF_INIT;
    en_frag_table_t t;
    en_frag_msg_t done;
    make_packet(&pkt, 2 * EN_FRAG_SIZE);
    en_buf_t out = EN_BUF_INIT;
    cr_assert_eq(en_frag_split(&out, pkt.data, pkt.len, 5, EN_FRAG_SIZE), 0);
    uint8_t *first = out.data + EN_FRAME_HDR_LEN;
    size_t first_len = en_get32(out.data);
    first[10] = 0; first[11] = 0; first[12] = 1; /* FragId 2^40 + ... */
    en_frag_init(&t, 4 * EN_FRAG_SIZE);
    cr_assert_eq(en_frag_feed_msg(&t, first, first_len, &done, NULL, 0),
                 EN_FRAG_PENDING);
    cr_assert_leq(en_frag_pending_bytes(&t), 4 * EN_FRAG_SIZE + 2 * 4096 +
                                                 EN_FRAG_BODY_ROOM);
    en_frag_free(&t);
    en_buf_free(&out);
    en_buf_free(&pkt);
}
