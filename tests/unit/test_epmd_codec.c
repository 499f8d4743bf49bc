/* test_epmd_codec.c - EPMD requests and replies.
 *
 * Fixtures marked "OTP 25" were captured on loopback from OTP 25.2.3's
 * erl_epmd and epmd: doc/internals.md section 4, and a private epmd on port
 * 45369 with `erl -sname b` and three scripted registrations
 * (tests/tools/capture_handshake.py).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/epmd_codec.h"

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    cr_assert(n <= cap, "fixture too long");
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        cr_assert(sscanf(hex + 2 * i, "%2x", &v) == 1, "bad hex fixture");
        out[i] = (uint8_t)v;
    }
    return n;
}

static void assert_buf_hex(const en_buf_t *b, const char *hex)
{
    uint8_t want[512];
    size_t n = unhex(hex, want, sizeof want);
    cr_assert_eq(b->len, n, "length %zu, want %zu", b->len, n);
    cr_assert(memcmp(b->data, want, n) == 0, "bytes differ");
}

/* Copy exactly n bytes to the heap, so ASan sees any read past them. */
static uint8_t *exact(const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    cr_assert(copy);
    if (n)
        memcpy(copy, p, n);
    return copy;
}

/* ---- requests ---------------------------------------------------------- */

Test(epmd_req, alive2_matches_otp25)
{
    /* OTP 25: node "z" listening on 38001 (0x9471). */
    en_buf_t out = EN_BUF_INIT;
    cr_assert_eq(en_epmd_alive2_req(&out, 0x9471, "z", 77, 6, 5), 0);
    assert_buf_hex(&out, "000e7894714d00000600050001" "7a" "0000");
    en_buf_free(&out);
}

Test(epmd_req, alive2_appends)
{
    en_buf_t out = EN_BUF_INIT;
    en_buf_put8(&out, 0xEE);
    cr_assert_eq(en_epmd_alive2_req(&out, 1, "node", 77, 6, 5), 0);
    cr_assert_eq(out.len, 1 + 2 + 13 + 4);
    cr_assert_eq(out.data[0], 0xEE);
    cr_assert_eq(out.data[2], 17);
    en_buf_free(&out);
}

Test(epmd_req, bad_names)
{
    en_buf_t out = EN_BUF_INIT;
    cr_assert_eq(en_epmd_alive2_req(&out, 1, "", 77, 6, 5), EN_EPMD_E_ARG);
    cr_assert_eq(en_epmd_alive2_req(&out, 1, NULL, 77, 6, 5), EN_EPMD_E_ARG);
    cr_assert_eq(en_epmd_port_please2_req(&out, "a@host"), EN_EPMD_E_ARG);
    static char big[EN_EPMD_NAME_MAX + 1];
    memset(big, 'x', EN_EPMD_NAME_MAX);
    cr_assert_eq(en_epmd_port_please2_req(&out, big), EN_EPMD_E_ARG);
    big[EN_EPMD_NAME_MAX - 1] = '\0'; /* the longest allowed */
    cr_assert_eq(en_epmd_port_please2_req(&out, big), 0);
    cr_assert_eq(out.len, 2 + 1 + EN_EPMD_NAME_MAX - 1);
    cr_assert_str_eq(en_epmd_strerror(EN_EPMD_E_ARG),
                     "invalid EPMD request argument");
    en_buf_free(&out);
}

Test(epmd_req, port_please2_and_names)
{
    en_buf_t out = EN_BUF_INIT;
    cr_assert_eq(en_epmd_port_please2_req(&out, "b"), 0);
    assert_buf_hex(&out, "00027a62");
    en_buf_reset(&out);
    cr_assert_eq(en_epmd_names_req(&out), 0);
    assert_buf_hex(&out, "00016e");
    en_buf_free(&out);
}

/* ---- ALIVE2 replies ---------------------------------------------------- */

static int parse_alive_hex(const char *hex, int *result, uint32_t *creation)
{
    uint8_t raw[64];
    size_t n = unhex(hex, raw, sizeof raw);
    uint8_t *p = exact(raw, n);
    int rc = en_epmd_parse_alive2_resp(p, n, result, creation);
    free(p);
    return rc;
}

Test(epmd_alive2, x_resp_from_otp25)
{
    int result = -1;
    uint32_t creation = 0;
    cr_assert_eq(parse_alive_hex("76006b02fbc6", &result, &creation), 6);
    cr_assert_eq(result, 0);
    cr_assert_eq(creation, 0x6b02fbc6u);
    cr_assert_eq(parse_alive_hex("76006b030666", &result, &creation), 6);
    cr_assert_eq(creation, 0x6b030666u);
}

Test(epmd_alive2, duplicate_name_from_otp25)
{
    /* epmd's answer to a second registration of "b": result 1, and a
     * full-size reply (creation 99). */
    int result = 0;
    uint32_t creation = 0;
    cr_assert_eq(parse_alive_hex("760100000063", &result, &creation), 6);
    cr_assert_eq(result, 1);
}

Test(epmd_alive2, old_resp_16bit_creation)
{
    int result = -1;
    uint32_t creation = 0;
    cr_assert_eq(parse_alive_hex("79000003", &result, &creation), 4);
    cr_assert_eq(result, 0);
    cr_assert_eq(creation, 3);
}

Test(epmd_alive2, incomplete_and_trailing)
{
    int result;
    uint32_t creation;
    static const uint8_t x[] = {0x76, 0x00, 0x6b, 0x02, 0xfb, 0xc6, 0xAA};
    for (size_t k = 0; k < 6; k++) {
        uint8_t *p = exact(x, k);
        cr_assert_eq(en_epmd_parse_alive2_resp(p, k, &result, &creation), 0,
                     "prefix %zu", k);
        free(p);
    }
    cr_assert_eq(en_epmd_parse_alive2_resp(x, sizeof x, &result, &creation),
                 6);
}

Test(epmd_alive2, wrong_tag)
{
    int result;
    uint32_t creation;
    cr_assert_eq(parse_alive_hex("7700", &result, &creation), EN_EPMD_E_TAG);
    cr_assert_str_eq(en_epmd_strerror(EN_EPMD_E_TAG),
                     "EPMD reply has an unexpected tag");
}

/* ---- PORT2_RESP -------------------------------------------------------- */

static int parse_port_hex(const char *hex, struct en_epmd_node_info *info)
{
    uint8_t raw[2048];
    size_t n = unhex(hex, raw, sizeof raw);
    uint8_t *p = exact(raw, n);
    int rc = en_epmd_parse_port2_resp(p, n, info);
    free(p);
    return rc;
}

Test(epmd_port2, from_otp25)
{
    struct en_epmd_node_info info;
    cr_assert_eq(parse_port_hex("770091994d000006000500016200" "00", &info),
                 15);
    cr_assert_eq(info.result, 0);
    cr_assert_eq(info.port, 0x9199);
    cr_assert_eq(info.node_type, 77);
    cr_assert_eq(info.protocol, 0);
    cr_assert_eq(info.high, 6);
    cr_assert_eq(info.low, 5);
    cr_assert_str_eq(info.name, "b");
    cr_assert_eq(info.extra_len, 0);

    cr_assert_eq(parse_port_hex("7700814f4d00000600050001620000", &info), 15);
    cr_assert_eq(info.port, 0x814f);
}

Test(epmd_port2, not_registered_from_otp25)
{
    struct en_epmd_node_info info;
    cr_assert_eq(parse_port_hex("7701", &info), 2);
    cr_assert_eq(info.result, 1);
}

Test(epmd_port2, extra_is_returned)
{
    struct en_epmd_node_info info;
    /* name "ab", Extra "xyz" */
    uint8_t raw[64];
    size_t n = unhex("770012344800000600060002616200037879" "7a", raw,
                     sizeof raw);
    cr_assert_eq(en_epmd_parse_port2_resp(raw, n, &info), (int)n);
    cr_assert_eq(info.node_type, 72);
    cr_assert_str_eq(info.name, "ab");
    cr_assert_eq(info.extra_len, 3);
    cr_assert(memcmp(info.extra, "xyz", 3) == 0);
}

Test(epmd_port2, every_prefix_needs_more)
{
    uint8_t raw[64];
    size_t n = unhex("770012344800000600060002616200037879" "7a", raw,
                     sizeof raw);
    for (size_t k = 0; k < n; k++) {
        struct en_epmd_node_info info;
        uint8_t *p = exact(raw, k);
        cr_assert_eq(en_epmd_parse_port2_resp(p, k, &info), 0, "prefix %zu",
                     k);
        free(p);
    }
}

Test(epmd_port2, malformed)
{
    struct en_epmd_node_info info;
    cr_assert_eq(parse_port_hex("7600", &info), EN_EPMD_E_TAG);
    /* empty name */
    cr_assert_eq(parse_port_hex("770012344d00000600050000" "0000", &info),
                 EN_EPMD_E_MALFORMED);
    /* name longer than any alive name can be: rejected at once, without
     * waiting for 64 KiB that may never come */
    cr_assert_eq(parse_port_hex("770012344d0000060005ffff", &info),
                 EN_EPMD_E_MALFORMED);
    /* NUL inside the name */
    cr_assert_eq(parse_port_hex("770012344d00000600050002" "6100" "0000",
                                &info),
                 EN_EPMD_E_MALFORMED);
    cr_assert_str_eq(en_epmd_strerror(EN_EPMD_E_MALFORMED),
                     "EPMD reply is malformed");
}

/* ---- NAMES ------------------------------------------------------------- */

Test(epmd_names, from_otp25)
{
    /* epmd on port 45369 (0xb139) with b, pya, pyb and pyc registered. */
    static const char hex[] =
        "0000b139"
        "6e616d652070796320617420706f72742033333239310a"
        "6e616d652070796220617420706f72742033333239310a"
        "6e616d652070796120617420706f72742033333239310a"
        "6e616d65206220617420706f72742033333130330a";
    uint8_t raw[512];
    size_t n = unhex(hex, raw, sizeof raw);
    uint8_t *p = exact(raw, n);
    struct en_epmd_names_iter it;
    uint32_t epmd_port = 0;
    cr_assert_eq(en_epmd_names_begin(&it, p, n, &epmd_port), 0);
    cr_assert_eq(epmd_port, 45369);

    static const struct { const char *name; uint16_t port; } want[] = {
        {"pyc", 33291}, {"pyb", 33291}, {"pya", 33291}, {"b", 33103}};
    struct en_epmd_name e;
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(en_epmd_names_next(&it, &e), 1);
        cr_assert_str_eq(e.name, want[i].name);
        cr_assert_eq(e.port, want[i].port);
    }
    cr_assert_eq(en_epmd_names_next(&it, &e), 0);
    cr_assert_eq(en_epmd_names_next(&it, &e), 0);
    free(p);
}

Test(epmd_names, empty_from_otp25)
{
    static const uint8_t raw[] = {0x00, 0x00, 0xb1, 0x39};
    uint8_t *p = exact(raw, sizeof raw);
    struct en_epmd_names_iter it;
    uint32_t epmd_port;
    struct en_epmd_name e;
    cr_assert_eq(en_epmd_names_begin(&it, p, sizeof raw, &epmd_port), 0);
    cr_assert_eq(en_epmd_names_next(&it, &e), 0);
    free(p);
}

static int names_result(const char *text, struct en_epmd_name *e)
{
    size_t n = 4 + strlen(text);
    uint8_t *raw = malloc(n);
    memcpy(raw, "\0\0\x11\x11", 4);
    memcpy(raw + 4, text, n - 4);
    struct en_epmd_names_iter it;
    uint32_t epmd_port;
    int rc = en_epmd_names_begin(&it, raw, n, &epmd_port);
    cr_assert_eq(rc, 0);
    while ((rc = en_epmd_names_next(&it, e)) > 0)
        ;
    free(raw);
    return rc;
}

Test(epmd_names, name_containing_at_port_words)
{
    struct en_epmd_name e;
    cr_assert_eq(names_result("name x at port y at port 7\n", &e), 0);
    cr_assert_str_eq(e.name, "x at port y");
    cr_assert_eq(e.port, 7);
}

Test(epmd_names, malformed_lines)
{
    struct en_epmd_name e;
    static const char *const bad[] = {
        "name b at port 1",          /* unterminated */
        "name b at port \n",          /* no port */
        "name b at port 65536\n",     /* too big */
        "name b at port 12a\n",       /* not a number */
        "name b at port 123456\n",    /* too many digits */
        "nam b at port 1\n",          /* wrong word */
        "name  at port 1\n",          /* empty name */
        "name b at port -1\n",        /* sign */
        "\n",                         /* empty line */
        "name b\n",                   /* short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(names_result(bad[i], &e), EN_EPMD_E_MALFORMED, "%s",
                     bad[i]);
    /* short header */
    struct en_epmd_names_iter it;
    uint32_t port;
    cr_assert_eq(en_epmd_names_begin(&it, (const uint8_t *)"\0\0", 2, &port),
                 EN_EPMD_E_MALFORMED);
    cr_assert_eq(en_epmd_names_next(&it, &e), 0);
}
