/* framing.c - splitting the post-handshake byte stream into packets. */
#include "proto/framing.h"

#include <limits.h>

long en_frame_next(const uint8_t *buf, size_t len, size_t max_packet)
{
    /* A long must hold header + data; on an LP64 system this never binds,
     * on a 32-bit one it caps packets just under 2 GB. */
    const size_t longest = (size_t)LONG_MAX - EN_FRAME_HDR_LEN;
    if (max_packet > longest)
        max_packet = longest;

    if (len < EN_FRAME_HDR_LEN)
        return 0;
    uint32_t data_len = en_get32(buf);
    if (data_len > max_packet)
        return EN_FRAME_ETOOBIG;
    size_t whole = (size_t)data_len + EN_FRAME_HDR_LEN;
    if (len < whole)
        return 0;
    return (long)whole;
}

int en_frame_put_tick(en_buf_t *out)
{
    return en_buf_put32(out, 0);
}
