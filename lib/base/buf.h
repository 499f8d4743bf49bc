/* buf.h - a growable byte buffer, the one output type of every codec.
 *
 * Codecs append to an en_buf_t; the I/O layer drains it from the front.
 * All functions keep the buffer valid on failure: an append that cannot
 * allocate leaves the old contents untouched and returns -1.
 */
#ifndef ENODE_BUF_H
#define ENODE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct en_buf {
    uint8_t *data; /* owned; NULL while empty and never grown */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated */
} en_buf_t;

#define EN_BUF_INIT {NULL, 0, 0}

void en_buf_init(en_buf_t *b);
void en_buf_free(en_buf_t *b);
/* Make room for at least `extra` more bytes. 0 or -1 (out of memory). */
int en_buf_reserve(en_buf_t *b, size_t extra);
int en_buf_append(en_buf_t *b, const void *data, size_t len);
int en_buf_put8(en_buf_t *b, uint8_t v);
int en_buf_put16(en_buf_t *b, uint16_t v); /* big-endian */
int en_buf_put32(en_buf_t *b, uint32_t v); /* big-endian */
int en_buf_put64(en_buf_t *b, uint64_t v); /* big-endian */
/* Drop `n` bytes from the front (n <= len). */
void en_buf_consume(en_buf_t *b, size_t n);
void en_buf_reset(en_buf_t *b); /* len = 0, keeps the allocation */

/* Big-endian readers over raw bytes; the caller checks the length. */
static inline uint16_t en_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t en_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t en_get64(const uint8_t *p)
{
    return ((uint64_t)en_get32(p) << 32) | en_get32(p + 4);
}

#endif
