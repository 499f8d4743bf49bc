/* buf.c - growable byte buffer. */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

void en_buf_init(en_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void en_buf_free(en_buf_t *b)
{
    free(b->data);
    en_buf_init(b);
}

int en_buf_reserve(en_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return -1;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int en_buf_append(en_buf_t *b, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (en_buf_reserve(b, len) < 0)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int en_buf_put8(en_buf_t *b, uint8_t v)
{
    return en_buf_append(b, &v, 1);
}

int en_buf_put16(en_buf_t *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return en_buf_append(b, p, 2);
}

int en_buf_put32(en_buf_t *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                    (uint8_t)v};
    return en_buf_append(b, p, 4);
}

int en_buf_put64(en_buf_t *b, uint64_t v)
{
    if (en_buf_put32(b, (uint32_t)(v >> 32)) < 0)
        return -1;
    return en_buf_put32(b, (uint32_t)v);
}

void en_buf_consume(en_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void en_buf_reset(en_buf_t *b)
{
    b->len = 0;
}
