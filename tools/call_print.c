/* call_print.c - results printed as erl_call prints them.
 *
 * erl_call prints with ei_print_term(), and so does enode-call, through
 * the same ei: {ok, "text"}, #Bin<1,2>, 1.500000 and all. ei prints an
 * atom in Latin-1, a byte per character, which gives back the UTF-8 that
 * came in (Args are read a byte per character too, as erl_call reads
 * them), but it cannot print an atom with a character beyond Latin-1, such
 * as list_to_atom([8364]): erl_call then stops in the middle of the term,
 * and exits 0. enode-call prints such atoms in UTF-8 instead. So it does
 * an atom whose Latin-1 bytes are no UTF-8, such as list_to_atom([228]),
 * which erl_call prints as the lone byte 0xE4: enode-call's output is
 * always valid UTF-8, and text typed in UTF-8 still comes back as typed.
 */
#include <stdlib.h>
#include <string.h>

#include "enode-call.h"

/* The deepest term we rewrite; ei_print_term itself has no limit, but
 * this is only a fallback, and the stack is not. */
#define MAX_DEPTH 10000

/* Whether the UTF-8 text s has a character above U+00FF. */
static int beyond_latin1(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0xC4) /* leads a code point of U+0100 or more */
            return 1;
    return 0;
}

/* Whether the n bytes at s are valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t k = 0; k < n;) {
        unsigned c = s[k], more, min;
        if (c < 0x80) {
            k++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            more = 1, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            more = 2, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            more = 3, min = 0x10000;
        else
            return 0;
        unsigned cp = c & (0x3F >> more);
        for (unsigned j = 1; j <= more; j++) {
            if (k + j >= n || (s[k + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[k + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        k += more + 1;
    }
    return 1;
}

/* Whether ei_print_term, printing the atom a byte per character, would
 * print valid UTF-8: it has only characters up to U+00FF, and their bytes
 * are UTF-8 (as when the atom was typed in UTF-8 and read a byte per
 * character). */
static int prints_as_utf8(const char *buf, int at)
{
    char latin1[MAXATOMLEN];
    return ei_decode_atom_as(buf, &at, latin1, sizeof latin1, ERLANG_LATIN1,
                             NULL, NULL) == 0 &&
           valid_utf8((const unsigned char *)latin1, strlen(latin1));
}

static int copy_term(const char *buf, int *i, ei_x_buff *out, int depth);

/* An atom: as it is if ei prints it as valid UTF-8, else as an ATOM_EXT
 * (Latin-1) that holds its UTF-8 bytes, which ei_print_term prints byte
 * for byte. */
static int copy_atom(const char *buf, int *i, ei_x_buff *out)
{
    char name[MAXATOMLEN_UTF8];
    int start = *i;

    if (ei_decode_atom_as(buf, i, name, sizeof name, ERLANG_UTF8, NULL, NULL) <
        0)
        return -1;
    if (!beyond_latin1(name) && prints_as_utf8(buf, start))
        return ei_x_append_buf(out, buf + start, *i - start);
    size_t len = strlen(name);
    char head[3] = {ERL_ATOM_EXT, (char)(len >> 8), (char)(len & 0xff)};
    if (ei_x_append_buf(out, head, 3) < 0)
        return -1;
    return ei_x_append_buf(out, name, (int)len);
}

/* n terms in a row. */
static int copy_terms(const char *buf, int *i, ei_x_buff *out, long n,
                      int depth)
{
    for (long k = 0; k < n; k++)
        if (copy_term(buf, i, out, depth) < 0)
            return -1;
    return 0;
}

/* Copy one term, with its atoms made printable (copy_atom). */
static int copy_term(const char *buf, int *i, ei_x_buff *out, int depth)
{
    int type, size, arity, start = *i;

    if (depth > MAX_DEPTH || ei_get_type(buf, i, &type, &size) < 0)
        return -1;
    switch (type) {
    case ERL_ATOM_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        return copy_atom(buf, i, out);
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT:
        if (ei_decode_tuple_header(buf, i, &arity) < 0 ||
            ei_x_encode_tuple_header(out, arity) < 0)
            return -1;
        return copy_terms(buf, i, out, arity, depth + 1);
    case ERL_LIST_EXT: /* the elements, then the tail */
        if (ei_decode_list_header(buf, i, &arity) < 0 ||
            ei_x_encode_list_header(out, arity) < 0)
            return -1;
        return copy_terms(buf, i, out, (long)arity + 1, depth + 1);
    case ERL_MAP_EXT:
        if (ei_decode_map_header(buf, i, &arity) < 0 ||
            ei_x_encode_map_header(out, arity) < 0)
            return -1;
        return copy_terms(buf, i, out, 2L * arity, depth + 1);
    default: /* no atoms that ei prints by themselves inside */
        if (ei_skip_term(buf, i) < 0)
            return -1;
        return ei_x_append_buf(out, buf + start, *i - start);
    }
}

/* ei's text of term, or NULL with *partial holding what ei printed
 * before it gave up. */
static char *print_with_ei(const char *buf, char **partial)
{
    char *s = NULL;
    int i = 0;

    if (ei_s_print_term(&s, buf, &i) >= 0)
        return s;
    *partial = s;
    return NULL;
}

void ec_print_term(FILE *out, const ei_x_buff *term)
{
    char *partial = NULL, *retry_partial = NULL, *text;
    int i = 0, version;
    ei_x_buff printable;

    ei_decode_version(term->buff, &i, &version);
    text = print_with_ei(term->buff + i, &partial);
    if (text && !valid_utf8((const unsigned char *)text, strlen(text))) {
        free(text); /* a Latin-1 atom: printed again, in UTF-8 */
        text = NULL;
    }
    if (!text) {
        ei_x_new(&printable);
        if (copy_term(term->buff, &i, &printable, 0) == 0)
            text = print_with_ei(printable.buff, &retry_partial);
        ei_x_free(&printable);
        free(retry_partial);
    }
    if (text) {
        fputs(text, out);
    } else { /* as erl_call: what ei printed, and the exit status is 0 */
        fputs(partial ? partial : "", out);
        fprintf(stderr, "enode-call: cannot print the rest of the result\n");
    }
    free(text);
    free(partial);
}
