/* tlsconf_values.c - option values, read from the external term format
 * as OTP would take them: strings (Erlang strings or binaries), atoms,
 * booleans; and printing a value back for a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "base/buf.h"
#include "base/errmsg.h"
#include "tls/tlsconf_int.h"

char *tc_copy_string(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = 0;
    }
    return copy;
}

/* Append code point cp as UTF-8, the encoding erl uses for file names. */
static int put_utf8(en_buf_t *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const uint8_t lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (size_t i = n - 1; i > 0; i--) {
        u[i] = (uint8_t)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    u[0] = (uint8_t)(lead[n] | cp);
    return en_buf_append(b, u, n);
}

int tc_bad_value(const opt_call_t *c, const char *what)
{
    char *text = NULL;
    int idx = c->index;
    if (ei_s_print_term(&text, c->buf, &idx) < 0 || !text) {
        free(text); /* ei allocates it even when it fails */
        return en_errf(c->err, c->errlen, "%s: %s", c->where, what);
    }
    int r = en_errf(c->err, c->errlen, "%s: %s, not %.60s%s", c->where, what,
                    text, strlen(text) > 60 ? "..." : "");
    free(text);
    return r;
}

/* Append the characters of an Erlang string (STRING_EXT or LIST_EXT of
 * integers) to b as UTF-8. */
static int string_chars(const char *buf, int *idx, int type, int size,
                        en_buf_t *b)
{
    if (type == ERL_STRING_EXT) {
        char *bytes = malloc((size_t)size + 1);
        int r = bytes ? ei_decode_string(buf, idx, bytes) : -1;
        for (int i = 0; r == 0 && i < size; i++)
            r = put_utf8(b, (uint8_t)bytes[i]);
        free(bytes);
        return r;
    }
    int arity;
    if (ei_decode_list_header(buf, idx, &arity) < 0)
        return -1;
    for (int i = 0; i < arity; i++) {
        long cp;
        if (ei_decode_long(buf, idx, &cp) < 0 || cp < 1 || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF) || put_utf8(b, (uint32_t)cp) < 0)
            return -1;
    }
    return arity > 0 ? ei_decode_list_header(buf, idx, &arity) : 0;
}

int tc_decode_string(const char *buf, int *idx, char **out)
{
    int type, size, r = -1;
    en_buf_t b = EN_BUF_INIT;
    *out = NULL;
    if (ei_get_type(buf, idx, &type, &size) < 0)
        return -1;
    if (type == ERL_NIL_EXT || type == ERL_STRING_EXT || type == ERL_LIST_EXT) {
        r = string_chars(buf, idx, type, size, &b);
    } else if (type == ERL_BINARY_EXT &&
               en_buf_reserve(&b, (size_t)size + 1) == 0) {
        long len;
        r = ei_decode_binary(buf, idx, b.data, &len);
        b.len = (size_t)len;
    }
    if (r == 0 && b.len > 0 && !memchr(b.data, 0, b.len)) {
        *out = tc_copy_string((const char *)b.data, b.len);
        r = *out ? 0 : -1;
    } else if (r == 0 && b.len > 0) {
        r = -1; /* a NUL would cut the string short in C */
    }
    en_buf_free(&b);
    return r;
}

int tc_value_string(const opt_call_t *c, char **out, const char *what)
{
    int idx = c->index;
    if (tc_decode_string(c->buf, &idx, out) < 0)
        return tc_bad_value(c, what);
    return 0;
}

int tc_value_atom(const opt_call_t *c, char *name)
{
    int idx = c->index;
    return ei_decode_atom_as(c->buf, &idx, name, MAXATOMLEN_UTF8, ERLANG_UTF8,
                             NULL, NULL);
}

int tc_value_bool(const opt_call_t *c, int *out)
{
    char name[MAXATOMLEN_UTF8];
    if (tc_value_atom(c, name) == 0 && strcmp(name, "true") == 0)
        *out = 1;
    else if (tc_value_atom(c, name) == 0 && strcmp(name, "false") == 0)
        *out = 0;
    else
        return tc_bad_value(c, "must be true or false");
    return 0;
}

/* Print the term at buf[idx] into text (truncated). */
const char *tc_show(const char *buf, int idx, char *text, size_t size)
{
    char *s = NULL;
    if (ei_s_print_term(&s, buf, &idx) < 0 || !s)
        snprintf(text, size, "(unprintable)");
    else
        snprintf(text, size, "%.60s%s", s, strlen(s) > 60 ? "..." : "");
    free(s);
    return text;
}
