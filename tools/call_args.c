/* call_args.c - -a 'Mod Fun Args', read as erl_call reads it.
 *
 * erl_call splits the text at white space (Mod, Fun, then all the rest)
 * and reads Args with ei_x_format(), whose syntax is not Erlang's:
 *
 *   atom     a lower-case letter, then letters, digits, '_' and '@'
 *   'atom'   any bytes up to the next quote, as they are
 *   "text"   a string: any bytes up to the next double quote, as they are
 *            (no escapes: "a\nb" is four characters)
 *   number   [+-]digits, or [+-]digits.digits* for a float ("1." is 1.0)
 *   [A, B]   lists; {A, B} tuples
 *
 * Bytes are characters, as for erl_call: a UTF-8 "é" is the string
 * [195, 169], and the node's answer prints in the bytes it was given.
 * Whatever ei_x_format() reads as written, this reads to the same term.
 * On top of it:
 *   <<1, "ab">>   binaries of bytes and strings (erl_call refuses them)
 *   #{K => V}     maps (erl_call refuses them)
 *   "~n"          '~' is a character like any other (erl_call takes every
 *                 '~' in the text for a format directive, and refuses ~n)
 *   1.5e3         floats with an exponent (erl_call reads [1.5e3] as
 *                 [1500.0, 3])
 *   [1 | 2]       a list with a tail (erl_call reads [1 | 2] as [1, 2], and
 *                 [1|2] into a term it cannot send)
 *   2^63..2^64-1  integers as written (erl_call clamps them to 2^63 - 1)
 * and it refuses what ei_x_format() reads into a term that was not
 * written: elements separated by anything but ',' (erl_call reads [a b]
 * as [a, b]), text after the term (erl_call ignores it), integers beyond
 * 64 bits (erl_call clamps them) and atoms beyond 255 characters (erl_call
 * cuts them).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enode-call.h"

/* Deeper nesting is refused, so that no argument can exhaust the stack. */
#define MAX_DEPTH 100
#define MAX_ATOM_CHARS 255

typedef struct reader {
    const char *text; /* all of Args, for the columns of errors */
    const char *p;
    int depth;
    char *err;
    size_t errlen;
} reader_t;

static int read_term(reader_t *r, ei_x_buff *x);

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           c == '_' || c == '@';
}

static void skip_space(reader_t *r)
{
    while (is_space(*r->p))
        r->p++;
}

/* What is at the reader's place, for an error message. */
static const char *found(const reader_t *r, char *buf, size_t len)
{
    unsigned char c = (unsigned char)*r->p;
    if (c == '\0')
        snprintf(buf, len, "the end");
    else if (c > ' ' && c < 0x7f)
        snprintf(buf, len, "'%c'", c);
    else
        snprintf(buf, len, "byte 0x%02X", c);
    return buf;
}

/* Record the error, at the reader's column (from 1, in bytes); the
 * callers give up on it, so it is the only one. */
static int fail(reader_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(reader_t *r, const char *fmt, ...)
{
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "column %d: %s", (int)(r->p - r->text) + 1,
             what);
    return -1;
}

static int fail_found(reader_t *r, const char *expected)
{
    char buf[16];
    return fail(r, "expected %s, found %s", expected,
                found(r, buf, sizeof buf));
}

/* ei_x_* results: they fail only when memory runs out. */
static int put(reader_t *r, int ei_result)
{
    return ei_result < 0 ? fail(r, "out of memory") : 0;
}

static int expect(reader_t *r, const char *token, const char *expected)
{
    skip_space(r);
    if (strncmp(r->p, token, strlen(token)) != 0)
        return fail_found(r, expected);
    r->p += strlen(token);
    return 0;
}

/* ---- atoms, strings, numbers ------------------------------------------- */

static int put_atom(reader_t *r, ei_x_buff *x, const char *name, size_t len)
{
    if (len > MAX_ATOM_CHARS)
        return fail(r, "an atom of %zu characters (at most %d)", len,
                    MAX_ATOM_CHARS);
    /* Latin-1, byte for byte, as ei_x_format() encodes it. */
    return put(r, ei_x_encode_atom_len(x, name, (int)len));
}

static int read_atom(reader_t *r, ei_x_buff *x)
{
    const char *start = r->p;
    while (is_name_char(*r->p))
        r->p++;
    size_t len = (size_t)(r->p - start);
    if (len > MAX_ATOM_CHARS)
        r->p = start; /* the error's column is the atom's */
    return put_atom(r, x, start, len);
}

/* The bytes between r->p (a quote) and the next such quote; r->p moves
 * past the closing one. */
static int read_quoted(reader_t *r, const char **start, size_t *len)
{
    char quote = *r->p;
    const char *end = strchr(r->p + 1, quote);

    if (!end)
        return fail(r, "no closing %c", quote);
    *start = r->p + 1;
    *len = (size_t)(end - *start);
    r->p = end + 1;
    return 0;
}

static int read_quoted_atom(reader_t *r, ei_x_buff *x)
{
    const char *start = NULL, *at = r->p;
    size_t len = 0;

    if (read_quoted(r, &start, &len) < 0)
        return -1;
    if (len > MAX_ATOM_CHARS)
        r->p = at; /* the error's column is the atom's */
    return put_atom(r, x, start, len);
}

static int read_string(reader_t *r, ei_x_buff *x)
{
    const char *start = NULL;
    size_t len = 0;

    if (read_quoted(r, &start, &len) < 0)
        return -1;
    if (len > INT32_MAX)
        return fail(r, "a string too long");
    return put(r, ei_x_encode_string_len(x, start, (int)len));
}

/* [+-]digits, at most 64 bits. */
static int read_integer(reader_t *r, long long *neg, unsigned long long *pos,
                        int *negative)
{
    char *end;

    errno = 0;
    *negative = *r->p == '-';
    if (*negative)
        *neg = strtoll(r->p, &end, 10);
    else
        *pos = strtoull(r->p, &end, 10);
    if (errno == ERANGE)
        return fail(r, "an integer beyond 64 bits");
    r->p = end;
    return 0;
}

/* Where a float's text ends: digits '.' digits* [e [+-] digits]. NULL
 * when the number is an integer. */
static const char *float_end(const char *p)
{
    while (is_digit(*p))
        p++;
    if (*p != '.')
        return NULL;
    p++;
    while (is_digit(*p))
        p++;
    const char *e = p;
    if (*e == 'e' || *e == 'E') {
        e++;
        if (*e == '-' || *e == '+')
            e++;
        if (is_digit(*e)) {
            while (is_digit(*e))
                e++;
            p = e;
        }
    }
    return p;
}

/* strtod would also read hex, inf and nan: it gets only the text that
 * float_end() checked. */
static int read_float(reader_t *r, ei_x_buff *x, const char *end)
{
    char text[512];
    size_t len = (size_t)(end - r->p);

    if (len >= sizeof text)
        return fail(r, "a float of %zu characters", len);
    memcpy(text, r->p, len);
    text[len] = '\0';
    double d = strtod(text, NULL);
    if (!isfinite(d))
        return fail(r, "a float out of range");
    r->p = end;
    return put(r, ei_x_encode_double(x, d));
}

static int read_number(reader_t *r, ei_x_buff *x)
{
    const char *digits = r->p + (*r->p == '-' || *r->p == '+');
    const char *fend = float_end(digits);
    long long neg = 0;
    unsigned long long pos = 0;
    int negative;

    if (fend)
        return read_float(r, x, fend);
    if (read_integer(r, &neg, &pos, &negative) < 0)
        return -1;
    return put(r, negative ? ei_x_encode_longlong(x, neg)
                           : ei_x_encode_ulonglong(x, pos));
}

/* ---- containers --------------------------------------------------------- */

typedef int (*element_fn)(reader_t *r, ei_x_buff *x, void *ctx);

/* Elements separated by ',' up to one of the characters in `ends`, which
 * is left for the caller. *count gets how many there were. */
static int read_elements(reader_t *r, const char *ends, const char *expected,
                         element_fn read_one, ei_x_buff *x, void *ctx,
                         long *count)
{
    *count = 0;
    skip_space(r);
    if (*r->p && strchr(ends, *r->p))
        return 0;
    for (;;) {
        if (read_one(r, x, ctx) < 0)
            return -1;
        ++*count;
        skip_space(r);
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p && strchr(ends, *r->p))
            return 0;
        return fail_found(r, expected);
    }
}

static int term_element(reader_t *r, ei_x_buff *x, void *ctx)
{
    (void)ctx;
    return read_term(r, x);
}

static int enter(reader_t *r, size_t opener_len)
{
    if (++r->depth > MAX_DEPTH)
        return fail(r, "terms nested deeper than %d", MAX_DEPTH);
    r->p += opener_len;
    return 0;
}

/* A proper list of n integers 0..255 goes as a string, as term_to_binary
 * sends it, so that equal terms have equal encodings (see read_map). */
static int put_list(reader_t *r, ei_x_buff *x, ei_x_buff *elems, long n,
                    const ei_x_buff *tail)
{
    if (n == 0)
        return put(r, ei_x_encode_empty_list(x));
    int bytes_only = !tail && n <= 65535 && elems->index == 2 * n;
    for (long i = 0; bytes_only && i < n; i++)
        bytes_only = elems->buff[2 * i] == ERL_SMALL_INTEGER_EXT;
    if (bytes_only) {
        /* Each element is its tag and its byte: keep the bytes, in place. */
        for (long i = 0; i < n; i++)
            elems->buff[i] = elems->buff[2 * i + 1];
        return put(r, ei_x_encode_string_len(x, elems->buff, (int)n));
    }
    if (put(r, ei_x_encode_list_header(x, n)) < 0 ||
        put(r, ei_x_append_buf(x, elems->buff, elems->index)) < 0)
        return -1;
    return tail ? put(r, ei_x_append_buf(x, tail->buff, tail->index))
                : put(r, ei_x_encode_empty_list(x));
}

static int read_list(reader_t *r, ei_x_buff *x)
{
    ei_x_buff elems, tail;
    long n;
    int has_tail = 0, rc;

    if (enter(r, 1) < 0)
        return -1;
    ei_x_new(&elems);
    ei_x_new(&tail);
    rc = read_elements(r, "]|", "',', '|' or ']' in the list", term_element,
                       &elems, NULL, &n);
    if (rc == 0 && *r->p == '|') {
        if (n == 0)
            rc = fail(r, "a list tail with no element before it");
        else {
            r->p++;
            has_tail = 1;
            rc = read_term(r, &tail);
        }
    }
    if (rc == 0)
        rc = expect(r, "]", "']' to close the list");
    if (rc == 0)
        rc = put_list(r, x, &elems, n, has_tail ? &tail : NULL);
    ei_x_free(&elems);
    ei_x_free(&tail);
    r->depth--;
    return rc;
}

static int read_tuple(reader_t *r, ei_x_buff *x)
{
    ei_x_buff elems;
    long n;
    int rc;

    if (enter(r, 1) < 0)
        return -1;
    ei_x_new(&elems);
    rc = read_elements(r, "}", "',' or '}' in the tuple", term_element, &elems,
                       NULL, &n);
    if (rc == 0)
        rc = expect(r, "}", "'}' to close the tuple");
    if (rc == 0)
        rc = put(r, ei_x_encode_tuple_header(x, n));
    if (rc == 0)
        rc = put(r, ei_x_append_buf(x, elems.buff, elems.index));
    ei_x_free(&elems);
    r->depth--;
    return rc;
}

/* A binary segment: a byte 0..255 or a string's bytes, appended raw. */
static int binary_segment(reader_t *r, ei_x_buff *bytes, void *ctx)
{
    long long neg;
    unsigned long long value;
    int negative;
    const char *start = NULL;
    size_t len = 0;

    (void)ctx;
    skip_space(r);
    if (*r->p == '"') {
        if (read_quoted(r, &start, &len) < 0)
            return -1;
        return put(r, ei_x_append_buf(bytes, start, (int)len));
    }
    if (!is_digit(*r->p))
        return fail_found(r, "a byte (0 to 255) or a string in the binary");
    const char *at = r->p;
    if (read_integer(r, &neg, &value, &negative) < 0)
        return -1;
    if (value > 255) {
        r->p = at;
        return fail(r, "a byte above 255 in the binary");
    }
    char byte = (char)value;
    return put(r, ei_x_append_buf(bytes, &byte, 1));
}

static int read_binary(reader_t *r, ei_x_buff *x)
{
    ei_x_buff bytes;
    long n;
    int rc;

    if (enter(r, 2) < 0)
        return -1;
    ei_x_new(&bytes);
    rc = read_elements(r, ">", "',' or '>>' in the binary", binary_segment,
                       &bytes, NULL, &n);
    if (rc == 0)
        rc = expect(r, ">>", "'>>' to close the binary");
    if (rc == 0)
        rc = put(r, ei_x_encode_binary(x, bytes.buff, bytes.index));
    ei_x_free(&bytes);
    r->depth--;
    return rc;
}

/* A map's pairs, each key and value encoded on its own. */
typedef struct pair {
    ei_x_buff key, value;
} pair_t;

typedef struct pairs {
    pair_t *at;
    long count, cap;
} pairs_t;

static int compare_keys(const void *a, const void *b)
{
    const ei_x_buff *ka = &((const pair_t *)a)->key;
    const ei_x_buff *kb = &((const pair_t *)b)->key;
    if (ka->index != kb->index)
        return ka->index < kb->index ? -1 : 1;
    return memcmp(ka->buff, kb->buff, ka->index);
}

/* Keep the pair; a key seen before takes the new value, as in Erlang's
 * #{a => 1, a => 2}. Encodings of equal terms are equal here (strings are
 * always STRING_EXT, maps sorted), so comparing bytes finds the key, and
 * the node never gets a map with a key twice, which it would refuse. */
static int add_pair(reader_t *r, pairs_t *ps, pair_t *pair)
{
    for (long i = 0; i < ps->count; i++) {
        if (compare_keys(&ps->at[i], pair) == 0) {
            ei_x_free(&pair->key);
            ei_x_free(&ps->at[i].value);
            ps->at[i].value = pair->value;
            return 0;
        }
    }
    if (ps->count == ps->cap) {
        long cap = ps->cap ? 2 * ps->cap : 8;
        pair_t *at = realloc(ps->at, (size_t)cap * sizeof *at);
        if (!at) {
            ei_x_free(&pair->key);
            ei_x_free(&pair->value);
            return fail(r, "out of memory");
        }
        ps->at = at;
        ps->cap = cap;
    }
    ps->at[ps->count++] = *pair;
    return 0;
}

static int map_pair(reader_t *r, ei_x_buff *unused, void *ctx)
{
    pair_t pair;

    (void)unused;
    ei_x_new(&pair.key);
    ei_x_new(&pair.value);
    if (read_term(r, &pair.key) < 0 || expect(r, "=>", "'=>' in the map") < 0 ||
        read_term(r, &pair.value) < 0) {
        ei_x_free(&pair.key);
        ei_x_free(&pair.value);
        return -1;
    }
    return add_pair(r, ctx, &pair);
}

/* The pairs go in the order of their keys' encodings, so that a map that
 * is a key of another map is encoded the same however it was written. */
static int put_pairs(reader_t *r, ei_x_buff *x, pairs_t *ps)
{
    int rc;

    if (ps->count > 1)
        qsort(ps->at, (size_t)ps->count, sizeof *ps->at, compare_keys);
    rc = put(r, ei_x_encode_map_header(x, ps->count));
    for (long i = 0; rc == 0 && i < ps->count; i++) {
        const pair_t *pair = &ps->at[i];
        rc = put(r, ei_x_append_buf(x, pair->key.buff, pair->key.index));
        if (rc == 0)
            rc =
                put(r, ei_x_append_buf(x, pair->value.buff, pair->value.index));
    }
    return rc;
}

static int read_map(reader_t *r, ei_x_buff *x)
{
    pairs_t ps = {0};
    long n;
    int rc;

    if (enter(r, 2) < 0)
        return -1;
    rc =
        read_elements(r, "}", "',' or '}' in the map", map_pair, NULL, &ps, &n);
    if (rc == 0)
        rc = expect(r, "}", "'}' to close the map");
    if (rc == 0)
        rc = put_pairs(r, x, &ps);
    for (long i = 0; i < ps.count; i++) {
        ei_x_free(&ps.at[i].key);
        ei_x_free(&ps.at[i].value);
    }
    free(ps.at);
    r->depth--;
    return rc;
}

static int read_term(reader_t *r, ei_x_buff *x)
{
    skip_space(r);
    const char *p = r->p;
    if (*p == '[')
        return read_list(r, x);
    if (*p == '{')
        return read_tuple(r, x);
    if (*p == '"')
        return read_string(r, x);
    if (*p == '\'')
        return read_quoted_atom(r, x);
    if (p[0] == '<' && p[1] == '<')
        return read_binary(r, x);
    if (p[0] == '#' && p[1] == '{')
        return read_map(r, x);
    if (is_digit(*p) || ((*p == '-' || *p == '+') && is_digit(p[1])))
        return read_number(r, x);
    if (*p >= 'a' && *p <= 'z')
        return read_atom(r, x);
    return fail_found(r, "a term");
}

int ec_args_read(const char *text, ei_x_buff *args, char *err, size_t errlen)
{
    reader_t r = {.text = text, .p = text, .err = err, .errlen = errlen};

    ei_x_new(args);
    if (read_term(&r, args) == 0) {
        skip_space(&r);
        if (!*r.p)
            return 0;
        fail_found(&r, "the end of the arguments");
    }
    args->index = 0;
    return -1;
}

/* ---- -a's text ---------------------------------------------------------- */

static const char *skip_white(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

static const char *skip_word(const char *p)
{
    while (*p && !is_space(*p))
        p++;
    return p;
}

/* Unlike erl_call, white space before Mod is no part of it (erl_call
 * calls ' erlang':node() for -a ' erlang node'). */
int ec_apply_split(const char *text, ec_apply_t *apply)
{
    const char *p = skip_white(text), *word;

    memset(apply, 0, sizeof *apply);
    if (!*p)
        return -1;
    word = p;
    p = skip_word(p);
    apply->mod = strndup(word, (size_t)(p - word));
    p = skip_white(p);
    word = p;
    p = skip_word(p);
    apply->fun = p > word ? strndup(word, (size_t)(p - word)) : strdup("start");
    p = skip_white(p);
    apply->args = *p ? p : "[]";
    if (!apply->mod || !apply->fun) {
        ec_apply_free(apply);
        return -1;
    }
    return 0;
}

void ec_apply_free(ec_apply_t *apply)
{
    free(apply->mod);
    free(apply->fun);
    apply->mod = apply->fun = NULL;
}
