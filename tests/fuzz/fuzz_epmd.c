/* fuzz_epmd.c - libFuzzer target for the EPMD reply parsers.
 *
 * Input: byte 0 picks the parser (mod 3: ALIVE2 reply, PORT2_RESP,
 * NAMES reply); the rest is the reply.  libFuzzer hands over a buffer of
 * exactly `size` bytes, so ASan reports any read past the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/epmd_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void parse_alive2(const uint8_t *p, size_t len)
{
    int result;
    uint32_t creation;
    int rc = en_epmd_parse_alive2_resp(p, len, &result, &creation);
    check(rc <= (int)len && (rc <= 0 || rc == 4 || rc == 6));
}

static void parse_port2(const uint8_t *p, size_t len)
{
    struct en_epmd_node_info info;
    int rc = en_epmd_parse_port2_resp(p, len, &info);
    check(rc <= 0 || (size_t)rc <= len);
    if (rc > 0 && info.result == 0) {
        check(strlen(info.name) > 0 && strlen(info.name) < EN_EPMD_NAME_MAX);
        check(info.extra + info.extra_len == p + rc);
    }
}

static void parse_names(const uint8_t *p, size_t len)
{
    struct en_epmd_names_iter it;
    uint32_t epmd_port;
    if (en_epmd_names_begin(&it, p, len, &epmd_port) < 0)
        return;
    struct en_epmd_name e;
    int rc;
    while ((rc = en_epmd_names_next(&it, &e)) > 0)
        check(strlen(e.name) > 0 && it.pos <= len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: parse_alive2(data + 1, size - 1); break;
    case 1: parse_port2(data + 1, size - 1); break;
    default: parse_names(data + 1, size - 1); break;
    }
    return 0;
}
