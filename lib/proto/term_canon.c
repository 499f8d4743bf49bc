/* term_canon.c - write a term the way Erlang writes it (term_canon.h).
 *
 * The input has passed en_term_size(), so every length in it stays within
 * the buffer; the walk reads the tags itself rather than through ei, whose
 * encoders do not always choose Erlang's form (ei_encode_long writes
 * 2^27..2^31-1 as a bignum, OTP as INTEGER_EXT).
 */
#include "proto/term_canon.h"

#include <stdint.h>
#include <string.h>

typedef struct canon {
    const unsigned char *b;
    size_t len, i;
    ei_x_buff *out;
    const char *why;
} canon_t;

static int fail(canon_t *c, const char *why)
{
    if (!c->why)
        c->why = why;
    return -1;
}

static uint32_t get_u16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static int put(canon_t *c, const void *p, size_t n)
{
    if (n > INT32_MAX || ei_x_append_buf(c->out, p, (int)n) < 0)
        return fail(c, "out of memory");
    return 0;
}

static int put_u8(canon_t *c, unsigned v)
{
    unsigned char b = (unsigned char)v;
    return put(c, &b, 1);
}

static int put_u16(canon_t *c, uint32_t v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    return put(c, b, 2);
}

static int put_u32(canon_t *c, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    return put(c, b, 4);
}

/* Copy n bytes of the input as they are. */
static int copy(canon_t *c, size_t n)
{
    int rc = put(c, c->b + c->i, n);
    c->i += n;
    return rc;
}

/* ---- atoms --------------------------------------------------------------- */

static int put_utf8_atom(canon_t *c, const unsigned char *s, size_t n)
{
    if (n < 256) {
        if (put_u8(c, ERL_SMALL_ATOM_UTF8_EXT) < 0 ||
            put_u8(c, (unsigned)n) < 0)
            return -1;
    } else if (put_u8(c, ERL_ATOM_UTF8_EXT) < 0 ||
               put_u16(c, (uint32_t)n) < 0) {
        return -1;
    }
    return put(c, s, n);
}

/* A Latin-1 atom of n bytes at s, as UTF-8 (one or two bytes each). */
static int put_latin1_atom(canon_t *c, const unsigned char *s, size_t n)
{
    size_t utf8_len = n;

    for (size_t j = 0; j < n; j++)
        utf8_len += s[j] >= 0x80;
    if (utf8_len < 256) {
        if (put_u8(c, ERL_SMALL_ATOM_UTF8_EXT) < 0 ||
            put_u8(c, (unsigned)utf8_len) < 0)
            return -1;
    } else if (put_u8(c, ERL_ATOM_UTF8_EXT) < 0 ||
               put_u16(c, (uint32_t)utf8_len) < 0) {
        return -1;
    }
    for (size_t j = 0; j < n; j++) {
        int rc = s[j] < 0x80 ? put_u8(c, s[j])
                             : put_u8(c, 0xC0 | s[j] >> 6) < 0
                                   ? -1
                                   : put_u8(c, 0x80 | (s[j] & 0x3F));
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int atom(canon_t *c)
{
    unsigned tag = c->b[c->i++];
    size_t n;
    int wide = tag == ERL_ATOM_EXT || tag == ERL_ATOM_UTF8_EXT;

    n = wide ? get_u16(c->b + c->i) : c->b[c->i];
    c->i += wide ? 2 : 1;
    const unsigned char *s = c->b + c->i;
    c->i += n;
    if (tag == ERL_ATOM_EXT || tag == ERL_SMALL_ATOM_EXT)
        return put_latin1_atom(c, s, n);
    if (tag == ERL_ATOM_UTF8_EXT || tag == ERL_SMALL_ATOM_UTF8_EXT)
        return put_utf8_atom(c, s, n);
    return fail(c, "a node or module that is not an atom");
}

/* ---- integers ------------------------------------------------------------ */

/* An integer given as sign and magnitude digits (little-endian bytes). */
static int put_integer(canon_t *c, int negative, const unsigned char *digits,
                       size_t n)
{
    while (n > 0 && digits[n - 1] == 0)
        n--;
    if (n <= 4) {
        uint32_t m = 0;
        for (size_t j = n; j-- > 0;)
            m = m << 8 | digits[j];
        if (m == 0)
            negative = 0; /* a bignum may say -0 */
        if (!negative && m <= 255)
            return put_u8(c, ERL_SMALL_INTEGER_EXT) < 0 ? -1 : put_u8(c, m);
        if ((!negative && m <= INT32_MAX) ||
            (negative && m <= (uint32_t)INT32_MAX + 1))
            return put_u8(c, ERL_INTEGER_EXT) < 0
                       ? -1
                       : put_u32(c, negative ? (uint32_t)(0u - m) : m);
    }
    if (n <= 255) {
        if (put_u8(c, ERL_SMALL_BIG_EXT) < 0 || put_u8(c, (unsigned)n) < 0)
            return -1;
    } else if (put_u8(c, ERL_LARGE_BIG_EXT) < 0 ||
               put_u32(c, (uint32_t)n) < 0) {
        return -1;
    }
    return put_u8(c, negative ? 1 : 0) < 0 ? -1 : put(c, digits, n);
}

static int integer(canon_t *c)
{
    unsigned tag = c->b[c->i++];

    if (tag == ERL_SMALL_INTEGER_EXT)
        return put_u8(c, tag) < 0 ? -1 : copy(c, 1);
    if (tag == ERL_INTEGER_EXT) {
        int32_t v = (int32_t)get_u32(c->b + c->i);
        c->i += 4;
        uint32_t m = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
        unsigned char d[4] = {(unsigned char)m, (unsigned char)(m >> 8),
                              (unsigned char)(m >> 16),
                              (unsigned char)(m >> 24)};
        return put_integer(c, v < 0, d, 4);
    }
    size_t n = tag == ERL_SMALL_BIG_EXT ? c->b[c->i] : get_u32(c->b + c->i);
    c->i += tag == ERL_SMALL_BIG_EXT ? 1 : 4;
    int negative = c->b[c->i++] != 0;
    const unsigned char *digits = c->b + c->i;
    c->i += n;
    return put_integer(c, negative, digits, n);
}

/* ---- pids, ports, references --------------------------------------------- */

static int identifier(canon_t *c)
{
    unsigned tag = c->b[c->i++];

    switch (tag) {
    case ERL_PID_EXT: /* Node, ID:32, Serial:32, Creation:8 */
        if (put_u8(c, ERL_NEW_PID_EXT) < 0 || atom(c) < 0 || copy(c, 8) < 0)
            return -1;
        return put_u32(c, c->b[c->i++]);
    case ERL_NEW_PID_EXT:
    case ERL_NEW_PORT_EXT:
    case ERL_V4_PORT_EXT:
        if (put_u8(c, tag) < 0 || atom(c) < 0)
            return -1;
        return copy(c, tag == ERL_NEW_PORT_EXT ? 8 : 12);
    case ERL_PORT_EXT: /* Node, ID:32, Creation:8 */
        if (put_u8(c, ERL_NEW_PORT_EXT) < 0 || atom(c) < 0 || copy(c, 4) < 0)
            return -1;
        return put_u32(c, c->b[c->i++]);
    case ERL_REFERENCE_EXT: /* Node, ID:32, Creation:8 */
        if (put_u8(c, ERL_NEWER_REFERENCE_EXT) < 0 || put_u16(c, 1) < 0 ||
            atom(c) < 0)
            return -1;
        {
            size_t id_at = c->i;
            c->i += 4;
            if (put_u32(c, c->b[c->i++]) < 0)
                return -1;
            return put(c, c->b + id_at, 4);
        }
    default: { /* NEW_REFERENCE_EXT (Creation:8), NEWER_REFERENCE_EXT (:32) */
        uint32_t words = get_u16(c->b + c->i);
        c->i += 2;
        if (put_u8(c, ERL_NEWER_REFERENCE_EXT) < 0 || put_u16(c, words) < 0 ||
            atom(c) < 0)
            return -1;
        if (tag == ERL_NEW_REFERENCE_EXT) {
            if (put_u32(c, c->b[c->i++]) < 0)
                return -1;
        } else if (copy(c, 4) < 0) {
            return -1;
        }
        return copy(c, 4 * (size_t)words);
    }
    }
}

/* ---- compound terms ------------------------------------------------------ */

static int term(canon_t *c, int depth);

/* A list: its LIST_EXT cells (a tail that is a list again joins them),
 * written as STRING_EXT when it is a proper list of bytes. */
static int list(canon_t *c, int depth)
{
    size_t start = (size_t)c->out->index;
    uint32_t count = 0;
    int bytes = 1, proper = 1;

    if (put_u8(c, ERL_LIST_EXT) < 0 || put_u32(c, 0) < 0)
        return -1;
    for (;;) {
        unsigned tag = c->b[c->i];
        if (tag == ERL_LIST_EXT) {
            uint32_t n = get_u32(c->b + c->i + 1);
            c->i += 5;
            for (uint32_t k = 0; k < n; k++, count++) {
                size_t at = (size_t)c->out->index;
                if (term(c, depth + 1) < 0)
                    return -1;
                bytes &= (size_t)c->out->index - at == 2 &&
                         (unsigned char)c->out->buff[at] ==
                             ERL_SMALL_INTEGER_EXT;
            }
            continue;
        }
        if (tag == ERL_STRING_EXT) {
            uint32_t n = get_u16(c->b + c->i + 1);
            c->i += 3;
            for (uint32_t k = 0; k < n; k++, count++)
                if (put_u8(c, ERL_SMALL_INTEGER_EXT) < 0 ||
                    put_u8(c, c->b[c->i++]) < 0)
                    return -1;
            break;
        }
        if (tag == ERL_NIL_EXT) {
            c->i++;
            break;
        }
        proper = 0; /* an improper tail */
        if (term(c, depth + 1) < 0)
            return -1;
        break;
    }
    unsigned char *p = (unsigned char *)c->out->buff + start;
    if (count == 0) { /* no cells: the term is its tail (or []) */
        size_t tail = (size_t)c->out->index - start - 5;
        memmove(p, p + 5, tail);
        c->out->index = (int)(start + tail);
        return tail == 0 ? put_u8(c, ERL_NIL_EXT) : 0;
    }
    p[1] = (unsigned char)(count >> 24);
    p[2] = (unsigned char)(count >> 16);
    p[3] = (unsigned char)(count >> 8);
    p[4] = (unsigned char)count;
    if (!proper)
        return 0;
    if (!bytes || count > 65535)
        return put_u8(c, ERL_NIL_EXT);
    /* [97, B] per element becomes one byte each. */
    p[0] = ERL_STRING_EXT;
    p[1] = (unsigned char)(count >> 8);
    p[2] = (unsigned char)count;
    for (uint32_t k = 0; k < count; k++)
        p[3 + k] = p[5 + 2 * k + 1];
    c->out->index = (int)(start + 3 + count);
    return 0;
}

/* n elements after a header already written. */
static int elements(canon_t *c, uint64_t n, int depth)
{
    for (uint64_t k = 0; k < n; k++)
        if (term(c, depth + 1) < 0)
            return -1;
    return 0;
}

static int tuple(canon_t *c, int depth)
{
    unsigned tag = c->b[c->i++];
    uint32_t n = tag == ERL_SMALL_TUPLE_EXT ? c->b[c->i] : get_u32(c->b + c->i);

    c->i += tag == ERL_SMALL_TUPLE_EXT ? 1 : 4;
    if (n <= 255) {
        if (put_u8(c, ERL_SMALL_TUPLE_EXT) < 0 || put_u8(c, n) < 0)
            return -1;
    } else if (put_u8(c, ERL_LARGE_TUPLE_EXT) < 0 || put_u32(c, n) < 0) {
        return -1;
    }
    return elements(c, n, depth);
}

static int bitstring(canon_t *c)
{
    unsigned tag = c->b[c->i++];
    uint32_t n = get_u32(c->b + c->i);

    c->i += 4;
    if (tag == ERL_BIT_BINARY_EXT) {
        unsigned bits = c->b[c->i++];
        if (bits != 8 || n == 0)
            return put_u8(c, tag) < 0 || put_u32(c, n) < 0 ||
                           put_u8(c, bits) < 0
                       ? -1
                       : copy(c, n);
    }
    return put_u8(c, ERL_BINARY_EXT) < 0 || put_u32(c, n) < 0 ? -1 : copy(c, n);
}

/* A fun or export: copied whole (the walk of en_term_size vouches for its
 * extent, which ei_skip_term finds). */
static int fun(canon_t *c)
{
    int end = (int)c->i;
    if (ei_skip_term((const char *)c->b, &end) < 0 || (size_t)end > c->len)
        return fail(c, "a fun that does not decode");
    return copy(c, (size_t)end - c->i);
}

static int term(canon_t *c, int depth)
{
    if (depth > EN_TERM_CANON_MAX_DEPTH)
        return fail(c, "a term nested too deeply");
    if (c->i >= c->len)
        return fail(c, "a term is truncated");
    unsigned tag = c->b[c->i];
    switch (tag) {
    case ERL_SMALL_INTEGER_EXT:
    case ERL_INTEGER_EXT:
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT:
        return integer(c);
    case ERL_ATOM_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        return atom(c);
    case NEW_FLOAT_EXT:
        return copy(c, 9);
    case ERL_NIL_EXT:
    case ERL_STRING_EXT:
    case ERL_LIST_EXT:
        return list(c, depth);
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT:
        return tuple(c, depth);
    case ERL_MAP_EXT: {
        uint32_t n = get_u32(c->b + c->i + 1);
        return copy(c, 5) < 0 ? -1 : elements(c, 2 * (uint64_t)n, depth);
    }
    case ERL_BINARY_EXT:
    case ERL_BIT_BINARY_EXT:
        return bitstring(c);
    case ERL_PID_EXT:
    case ERL_NEW_PID_EXT:
    case ERL_PORT_EXT:
    case ERL_NEW_PORT_EXT:
    case ERL_V4_PORT_EXT:
    case ERL_REFERENCE_EXT:
    case ERL_NEW_REFERENCE_EXT:
    case ERL_NEWER_REFERENCE_EXT:
        return identifier(c);
    case ERL_NEW_FUN_EXT:
    case ERL_EXPORT_EXT:
        return fun(c);
    default:
        return fail(c, "a term tag that has no canonical form");
    }
}

int en_term_canon(const char *t, size_t len, ei_x_buff *out, const char **why)
{
    canon_t c = {(const unsigned char *)t, len, 0, out, NULL};
    int start = out->index;

    if (term(&c, 0) < 0 || c.i != len) {
        out->index = start;
        if (why)
            *why = c.why ? c.why : "bytes after the term";
        return -1;
    }
    return 0;
}
