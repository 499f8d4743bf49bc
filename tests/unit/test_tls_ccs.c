/* test_tls_ccs.c - spotting the ServerHello after which TLS 1.3 middlebox
 * compatibility wants a dummy ChangeCipherSpec. */
#include <criterion/criterion.h>
#include <string.h>

#include "tls/tls_ccs.h"

/* A record holding a ServerHello: session id of sid_len bytes and, if
 * tls13, the supported_versions extension saying TLS 1.3. */
static size_t server_hello(uint8_t *r, size_t sid_len, int tls13)
{
    uint8_t ext[] = {0x00, 0x33, 0x00, 0x02, 0xaa, 0xbb,  /* key_share-ish */
                     0x00, 0x2b, 0x00, 0x02, 0x03, 0x04}; /* TLS 1.3 */
    size_t ext_len = tls13 ? sizeof ext : 6;
    size_t body = 2 + 32 + 1 + sid_len + 2 + 1 + 2 + ext_len;
    uint8_t *p = r;

    *p++ = 0x16; *p++ = 0x03; *p++ = 0x03;
    *p++ = (uint8_t)((body + 4) >> 8); *p++ = (uint8_t)(body + 4);
    *p++ = 0x02; *p++ = 0; *p++ = (uint8_t)(body >> 8); *p++ = (uint8_t)body;
    *p++ = 0x03; *p++ = 0x03;
    memset(p, 0x11, 32); p += 32;
    *p++ = (uint8_t)sid_len;
    memset(p, 0x22, sid_len); p += sid_len;
    *p++ = 0x13; *p++ = 0x01; *p++ = 0x00;
    *p++ = 0; *p++ = (uint8_t)ext_len;
    memcpy(p, ext, ext_len); p += ext_len;
    return (size_t)(p - r);
}

Test(tls_ccs, tls13_hello_with_session_id_needs_ccs)
{
    uint8_t r[256];
    size_t len = server_hello(r, 32, 1), rec = 0;
    cr_assert_eq(en_ccs_needed(r, len, &rec), 1);
    cr_assert_eq(rec, len);
    /* More records behind it change nothing. */
    uint8_t two[512];
    memcpy(two, r, len);
    memcpy(two + len, "\x17\x03\x03\x00\x01\x00", 6);
    cr_assert_eq(en_ccs_needed(two, len + 6, &rec), 1);
    cr_assert_eq(rec, len);
}

Test(tls_ccs, no_ccs_without_session_id_or_for_tls12)
{
    uint8_t r[256];
    size_t len, rec;
    len = server_hello(r, 0, 1);
    cr_assert_eq(en_ccs_needed(r, len, &rec), 0);
    len = server_hello(r, 32, 0);
    cr_assert_eq(en_ccs_needed(r, len, &rec), 0);
    /* Not a handshake record at all. */
    uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
    cr_assert_eq(en_ccs_needed(alert, sizeof alert, &rec), 0);
}

Test(tls_ccs, partial_records_and_garbage_never_overread)
{
    uint8_t r[256];
    size_t len = server_hello(r, 32, 1), rec;
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_eq(en_ccs_needed(r, cut, &rec), -1, "cut at %zu", cut);
    /* Lengths that lie inside a whole record. */
    for (size_t i = 5; i < len; i++) {
        uint8_t bad[256];
        memcpy(bad, r, len);
        bad[i] = 0xff;
        int rc = en_ccs_needed(bad, len, &rec);
        cr_assert(rc >= -1 && rc <= 1);
    }
}
