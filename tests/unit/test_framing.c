/* test_framing.c - the post-handshake packet splitter.
 *
 * The stream used throughout is what a TLS read might hand us: a tick,
 * a real OTP 25 LINK packet (pass-through form), an empty-data tick, a
 * one-byte packet and a SEND in header form, back to back. It is fed in
 * every possible split and byte by byte, and each time the packets must
 * come out whole and in order.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/framing.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* OTP 25 LINK {1, <real@vm.9.0>, <fake@vm.1.0>}, pass-through. */
static const uint8_t link_data[] = {
    0x70, 0x83, 0x68, 0x03, 0x61, 0x01, 0x58, 0x77, 0x07, 0x72, 0x65, 0x61,
    0x6c, 0x40, 0x76, 0x6d, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x03, 0x05, 0xa1, 0x58, 0x77, 0x07, 0x66, 0x61, 0x6b, 0x65, 0x40,
    0x76, 0x6d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34,
    0xab, 0xcd,
};

/* {2,'',<b@host.32767.3>} + [] in header form. */
static const uint8_t send_data[] = {
    0x83, 0x44, 0x00, 0x68, 0x03, 0x61, 0x02, 0x77, 0x00, 0x58, 0x77, 0x06,
    0x62, 0x40, 0x68, 0x6f, 0x73, 0x74, 0x00, 0x00, 0x7f, 0xff, 0x00, 0x00,
    0x00, 0x03, 0xca, 0xfe, 0xba, 0xbe, 0x6a,
};

static const uint8_t one_byte[] = {0x2a};

struct expected {
    const uint8_t *data; /* NULL: a tick */
    size_t len;
};

static const struct expected stream_packets[] = {
    {NULL, 0},
    {link_data, sizeof link_data},
    {NULL, 0},
    {one_byte, sizeof one_byte},
    {send_data, sizeof send_data},
};

static void build_stream(en_buf_t *b)
{
    en_buf_init(b);
    for (size_t i = 0; i < NELEMS(stream_packets); i++) {
        const struct expected *e = &stream_packets[i];
        if (!e->data) {
            cr_assert_eq(en_frame_put_tick(b), 0);
            continue;
        }
        cr_assert_eq(en_buf_put32(b, (uint32_t)e->len), 0);
        cr_assert_eq(en_buf_append(b, e->data, e->len), 0);
    }
}

/* A receive buffer: bytes arrive in chunks, whole packets leave. */
struct receiver {
    en_buf_t in;
    size_t next; /* index into stream_packets */
};

static void check_packet(struct receiver *r, const uint8_t *pkt, long n)
{
    cr_assert_lt(r->next, NELEMS(stream_packets), "one packet too many");
    const struct expected *e = &stream_packets[r->next++];
    if (!e->data) {
        cr_assert_eq(n, EN_FRAME_HDR_LEN, "expected a tick");
        return;
    }
    cr_assert_eq((size_t)n, EN_FRAME_HDR_LEN + e->len);
    cr_assert_eq(memcmp(pkt + EN_FRAME_HDR_LEN, e->data, e->len), 0);
}

/* Appends a chunk, then takes out every whole packet now present. Each
 * chunk goes through an exact-size heap copy so ASan sees over-reads. */
static void feed(struct receiver *r, const uint8_t *chunk, size_t len)
{
    cr_assert_eq(en_buf_append(&r->in, chunk, len), 0);
    for (;;) {
        uint8_t *exact = malloc(r->in.len ? r->in.len : 1);
        cr_assert_not_null(exact);
        if (r->in.len)
            memcpy(exact, r->in.data, r->in.len);
        long n = en_frame_next(exact, r->in.len, 1024);
        cr_assert_geq(n, 0);
        if (n > 0)
            check_packet(r, exact, n);
        free(exact);
        if (n == 0)
            return;
        en_buf_consume(&r->in, (size_t)n);
    }
}

Test(framing, whole_stream_in_one_read)
{
    en_buf_t s;
    build_stream(&s);
    struct receiver r = {EN_BUF_INIT, 0};
    feed(&r, s.data, s.len);
    cr_assert_eq(r.next, NELEMS(stream_packets));
    cr_assert_eq(r.in.len, 0);
    en_buf_free(&r.in);
    en_buf_free(&s);
}

Test(framing, split_at_every_boundary)
{
    en_buf_t s;
    build_stream(&s);
    for (size_t cut = 0; cut <= s.len; cut++) {
        struct receiver r = {EN_BUF_INIT, 0};
        feed(&r, s.data, cut);
        feed(&r, s.data + cut, s.len - cut);
        cr_assert_eq(r.next, NELEMS(stream_packets), "cut at %zu", cut);
        cr_assert_eq(r.in.len, 0);
        en_buf_free(&r.in);
    }
    en_buf_free(&s);
}

Test(framing, split_at_every_pair_of_boundaries)
{
    en_buf_t s;
    build_stream(&s);
    for (size_t a = 0; a <= s.len; a++) {
        for (size_t b = a; b <= s.len; b++) {
            struct receiver r = {EN_BUF_INIT, 0};
            feed(&r, s.data, a);
            feed(&r, s.data + a, b - a);
            feed(&r, s.data + b, s.len - b);
            cr_assert_eq(r.next, NELEMS(stream_packets), "cuts %zu %zu", a,
                         b);
            en_buf_free(&r.in);
        }
    }
    en_buf_free(&s);
}

Test(framing, byte_by_byte)
{
    en_buf_t s;
    build_stream(&s);
    struct receiver r = {EN_BUF_INIT, 0};
    for (size_t i = 0; i < s.len; i++)
        feed(&r, s.data + i, 1);
    cr_assert_eq(r.next, NELEMS(stream_packets));
    en_buf_free(&r.in);
    en_buf_free(&s);
}

Test(framing, zero_length_and_short_input)
{
    static const uint8_t tick[] = {0, 0, 0, 0};
    cr_assert_eq(en_frame_next(NULL, 0, 100), 0);
    cr_assert_eq(en_frame_next(tick, 0, 100), 0);
    for (size_t i = 1; i < 4; i++)
        cr_assert_eq(en_frame_next(tick, i, 100), 0);
    cr_assert_eq(en_frame_next(tick, 4, 100), 4);
    cr_assert_eq(en_frame_next(tick, 4, 0), 4, "a tick is never too big");
}

Test(framing, oversize_is_refused_on_the_header_alone)
{
    static const uint8_t hdr_101[] = {0, 0, 0, 101};
    static const uint8_t hdr_100[] = {0, 0, 0, 100};
    static const uint8_t hdr_max[] = {0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(en_frame_next(hdr_101, 4, 100), EN_FRAME_ETOOBIG);
    cr_assert_eq(en_frame_next(hdr_100, 4, 100), 0, "fits, needs more");
    cr_assert_eq(en_frame_next(hdr_max, 4, 100), EN_FRAME_ETOOBIG);
    cr_assert_eq(en_get32(hdr_max), 0xffffffffu, "size for the log");
    /* max_packet beyond what a long holds is clamped, not wrapped */
    cr_assert_eq(en_frame_next(hdr_max, 4, (size_t)-1), 0);
}

Test(framing, exactly_max_packet)
{
    uint8_t buf[4 + 8] = {0, 0, 0, 8};
    cr_assert_eq(en_frame_next(buf, sizeof buf, 8), 12);
    cr_assert_eq(en_frame_next(buf, sizeof buf, 7), EN_FRAME_ETOOBIG);
    cr_assert_eq(en_frame_next(buf, sizeof buf - 1, 8), 0);
}

Test(framing, put_tick_appends_four_zeros)
{
    en_buf_t b = EN_BUF_INIT;
    cr_assert_eq(en_buf_put8(&b, 0x55), 0);
    cr_assert_eq(en_frame_put_tick(&b), 0);
    cr_assert_eq(b.len, 5);
    cr_assert_eq(memcmp(b.data, "\x55\0\0\0\0", 5), 0);
    cr_assert_eq(en_frame_next(b.data + 1, 4, 0), EN_FRAME_HDR_LEN);
    en_buf_free(&b);
}
