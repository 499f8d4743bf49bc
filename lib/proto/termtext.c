/* termtext.c - read Erlang term text (file:consult/1 syntax) into ETF.
 *
 * A small hand-written lexer (termtext_lex.c) feeds the recursive-descent
 * parser here, which encodes each term with ei as soon as it is complete.
 * Containers need their arity before their elements, so each container
 * collects its elements in a scratch ei_x_buff and is then written as
 * header + elements.
 * Nesting is bounded (EN_TERMTEXT_MAX_DEPTH), so this copying and the
 * recursion both stay bounded.
 *
 * Where Erlang's own reader (erl_scan + erl_parse:parse_term) accepts or
 * refuses something, this file does the same, so that a file that erl
 * reads, we read, and with the same meaning.  The exceptions are listed in
 * termtext.h.
 */
#include "proto/termtext_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Encoding helpers                                                    */
/* ------------------------------------------------------------------ */

/* ei grows an ei_x_buff 200 bytes at a time, which makes long outputs
 * quadratic.  Grow it geometrically first, so ei never has to.  ei
 * allocates with malloc() (ei_malloc), so realloc() is its match. */
static int reserve(parser_t *p, ei_x_buff *x, size_t extra)
{
    size_t need = (size_t)x->index + extra + 128; /* ei keeps 100 spare */
    if (need <= (size_t)x->buffsz)
        return 0;
    if (need > INT_MAX)
        return tt_out_of_memory(p);
    size_t cap = (size_t)x->buffsz * 2;
    if (cap < need)
        cap = need;
    if (cap > INT_MAX)
        cap = INT_MAX;
    char *grown = realloc(x->buff, cap);
    if (!grown)
        return tt_out_of_memory(p);
    x->buff = grown;
    x->buffsz = (int)cap;
    return 0;
}

/* Check an ei_x_* result: ei fails only when it cannot allocate. */
static int ei_ok(parser_t *p, int ei_result)
{
    return ei_result < 0 ? tt_out_of_memory(p) : 0;
}

static int new_scratch(parser_t *p, ei_x_buff *x)
{
    return ei_ok(p, ei_x_new(x));
}

static int put_bytes(parser_t *p, ei_x_buff *x, const void *data, size_t n)
{
    if (reserve(p, x, n) < 0)
        return -1;
    return ei_ok(p, ei_x_append_buf(x, data, (int)n));
}

/* An integer of magnitude v, negative if `negative`. */
static int put_integer(parser_t *p, ei_x_buff *x, uint64_t v, int negative)
{
    if (reserve(p, x, 16) < 0)
        return -1;
    if (!negative)
        return ei_ok(p, v <= INT64_MAX ? ei_x_encode_longlong(x, (long long)v)
                                       : ei_x_encode_ulonglong(x, v));
    if (v > (uint64_t)INT64_MAX + 1)
        return tt_too_large(p);
    long long n = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(long long)v;
    return ei_ok(p, ei_x_encode_longlong(x, n));
}

/* ------------------------------------------------------------------ */
/* Parser: lists and strings                                           */
/* ------------------------------------------------------------------ */

static int parse_term(parser_t *p, ei_x_buff *x);

static int is_punct(const parser_t *p, const char *text)
{
    return p->tok.kind == T_PUNCT && strcmp(p->tok.punct, text) == 0;
}

/* Describe the current token for "found ..." in error messages. */
static const char *describe(const parser_t *p, char *buf, size_t size)
{
    switch (p->tok.kind) {
    case T_EOF:
        return "the end of the input";
    case T_DOT:
        return "'.'";
    case T_STRING:
        return "a string";
    case T_CHAR:
        return "a character";
    case T_INT:
        return "an integer";
    case T_FLOAT:
        return "a float";
    case T_PUNCT:
        snprintf(buf, size, "'%s'", p->tok.punct);
        return buf;
    case T_FUN:
        return "'fun'";
    case T_ATOM:
    case T_VAR:
        break;
    }
    snprintf(
        buf, size, "%s '%.*s'", p->tok.kind == T_ATOM ? "atom" : "variable",
        p->name.len > 32 ? 32 : (int)p->name.len, (const char *)p->name.data);
    return buf;
}

/* "expected X ... found Y", naming where the enclosing container opened. */
static int expected(parser_t *p, const char *what, const char *container,
                    int open_line, int open_col)
{
    char found[64];
    return tt_fail_at(p, p->tok.line, p->tok.col,
                   "expected %s in the %s opened at line %d, column %d, "
                   "found %s",
                   what, container, open_line, open_col,
                   describe(p, found, sizeof found));
}

static int enter(parser_t *p)
{
    if (++p->depth > EN_TERMTEXT_MAX_DEPTH)
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "terms nested more than %d levels deep",
                       EN_TERMTEXT_MAX_DEPTH);
    return 0;
}

/* The elements of a list being read.  Erlang sends a proper list of
 * integers 0..255 as STRING_EXT; so do we, so bytes remembers them. */
typedef struct list_acc {
    ei_x_buff items;
    en_buf_t bytes;
    long count;
    int all_bytes; /* every element so far is an integer 0..255 */
    int improper;  /* items ends with a tail that is not a list */
} list_acc_t;

static int acc_init(parser_t *p, list_acc_t *acc)
{
    en_buf_init(&acc->bytes);
    acc->count = 0;
    acc->all_bytes = 1;
    acc->improper = 0;
    return new_scratch(p, &acc->items);
}

static void acc_free(list_acc_t *acc)
{
    ei_x_free(&acc->items);
    en_buf_free(&acc->bytes);
}

/* Account for the element just encoded at items[start..]. */
static int acc_note(parser_t *p, list_acc_t *acc, int start)
{
    int type, size, at = start;
    long value;
    acc->count++;
    if (!acc->all_bytes)
        return 0;
    if (ei_get_type(acc->items.buff, &at, &type, &size) == 0 &&
        type == ERL_SMALL_INTEGER_EXT &&
        ei_decode_long(acc->items.buff, &at, &value) == 0)
        return en_buf_put8(&acc->bytes, (uint8_t)value) < 0 ? tt_out_of_memory(p)
                                                            : 0;
    acc->all_bytes = 0;
    return 0;
}

static int acc_add_term(parser_t *p, list_acc_t *acc)
{
    int start = acc->items.index;
    if (parse_term(p, &acc->items) < 0)
        return -1;
    return acc_note(p, acc, start);
}

/* Read one or more adjacent string tokens ("a" "b" is "ab") into acc. */
static int acc_add_strings(parser_t *p, list_acc_t *acc)
{
    while (p->tok.kind == T_STRING) {
        for (size_t i = 0; i < tt_chars_count(p); i++) {
            int start = acc->items.index;
            if (put_integer(p, &acc->items, tt_char_at(p, i), 0) < 0 ||
                acc_note(p, acc, start) < 0)
                return -1;
        }
        if (tt_next(p) < 0)
            return -1;
    }
    return 0;
}

static int acc_finish(parser_t *p, list_acc_t *acc, ei_x_buff *x)
{
    if (acc->count == 0)
        return reserve(p, x, 1) < 0 ? -1 : ei_ok(p, ei_x_encode_empty_list(x));
    if (acc->all_bytes && !acc->improper) {
        if (reserve(p, x, acc->bytes.len + 8) < 0)
            return -1;
        return ei_ok(p, ei_x_encode_string_len(x, (const char *)acc->bytes.data,
                                               (int)acc->bytes.len));
    }
    if (reserve(p, x, 8) < 0 ||
        ei_ok(p, ei_x_encode_list_header(x, acc->count)) < 0 ||
        put_bytes(p, x, acc->items.buff, (size_t)acc->items.index) < 0)
        return -1;
    return acc->improper ? 0 : ei_ok(p, ei_x_encode_empty_list(x));
}

static int parse_list_body(parser_t *p, list_acc_t *acc, int line, int col);

/* The tail after '|'.  A list or string tail continues the same list, as
 * in Erlang, where [1|[2]] is [1,2]; anything else makes it improper. */
static int parse_tail(parser_t *p, list_acc_t *acc)
{
    if (p->tok.kind == T_STRING)
        return acc_add_strings(p, acc);
    if (!is_punct(p, "[")) {
        acc->improper = 1;
        return parse_term(p, &acc->items);
    }
    int line = p->tok.line, col = p->tok.col;
    if (enter(p) < 0 || tt_next(p) < 0)
        return -1;
    if (is_punct(p, "]")) {
        p->depth--;
        return tt_next(p);
    }
    if (parse_list_body(p, acc, line, col) < 0)
        return -1;
    p->depth--;
    return 0;
}

/* Elements up to and including the ']' of the list opened at (line, col). */
static int parse_list_body(parser_t *p, list_acc_t *acc, int line, int col)
{
    for (;;) {
        if (acc_add_term(p, acc) < 0)
            return -1;
        if (!is_punct(p, ","))
            break;
        if (tt_next(p) < 0)
            return -1;
    }
    if (is_punct(p, "|")) {
        if (tt_next(p) < 0 || parse_tail(p, acc) < 0)
            return -1;
        if (!is_punct(p, "]"))
            return expected(p, "']' after the tail", "list", line, col);
    } else if (!is_punct(p, "]")) {
        return expected(p, "',', '|' or ']'", "list", line, col);
    }
    return tt_next(p);
}

static int parse_list(parser_t *p, ei_x_buff *x)
{
    int line = p->tok.line, col = p->tok.col;
    list_acc_t acc;
    if (enter(p) < 0 || acc_init(p, &acc) < 0)
        return -1;
    int r = tt_next(p);
    if (r == 0 && is_punct(p, "]"))
        r = tt_next(p);
    else if (r == 0)
        r = parse_list_body(p, &acc, line, col);
    if (r == 0)
        r = acc_finish(p, &acc, x);
    acc_free(&acc);
    p->depth--;
    return r;
}

static int parse_string(parser_t *p, ei_x_buff *x)
{
    list_acc_t acc;
    if (acc_init(p, &acc) < 0)
        return -1;
    int r = acc_add_strings(p, &acc);
    if (r == 0)
        r = acc_finish(p, &acc, x);
    acc_free(&acc);
    return r;
}

/* ------------------------------------------------------------------ */
/* Parser: tuples, maps                                                */
/* ------------------------------------------------------------------ */

static int parse_tuple(parser_t *p, ei_x_buff *x)
{
    int line = p->tok.line, col = p->tok.col;
    ei_x_buff items;
    long count = 0;
    if (enter(p) < 0 || new_scratch(p, &items) < 0)
        return -1;
    int r = tt_next(p);
    int more = r == 0 && !is_punct(p, "}");
    while (r == 0 && more) {
        r = parse_term(p, &items);
        count++;
        more = r == 0 && is_punct(p, ",");
        if (more)
            r = tt_next(p);
        else if (r == 0 && !is_punct(p, "}"))
            r = expected(p, "',' or '}'", "tuple", line, col);
    }
    if (r == 0)
        r = tt_next(p);
    if (r == 0 && (reserve(p, x, 8) < 0 ||
                   ei_ok(p, ei_x_encode_tuple_header(x, count)) < 0 ||
                   put_bytes(p, x, items.buff, (size_t)items.index) < 0))
        r = -1;
    ei_x_free(&items);
    p->depth--;
    return r;
}

/* One key => value pair of a map literal, as offsets into the scratch
 * buffer that holds all pairs. */
typedef struct map_pair {
    size_t key_at, key_len, pair_len;
    size_t order;    /* position in the source */
    const char *key; /* set once the scratch buffer stops moving */
    int overridden;  /* a later pair has the same key */
} map_pair_t;

static int compare_pairs(const void *a, const void *b)
{
    const map_pair_t *x = *(map_pair_t *const *)a, *y = *(map_pair_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c == 0)
        c = (x->key_len > y->key_len) - (x->key_len < y->key_len);
    if (c == 0)
        c = (x->order > y->order) - (x->order < y->order);
    return c;
}

/* In a map literal a repeated key keeps its last value, as in Erlang.
 * Equal keys have equal encodings here, since one encoder made them all;
 * sort the keys and mark all but the last of each run.  Returns how many
 * pairs survive, or -1. */
static long drop_repeated_keys(parser_t *p, map_pair_t *pairs, size_t count,
                               const char *base)
{
    map_pair_t **sorted = malloc((count ? count : 1) * sizeof *sorted);
    if (!sorted)
        return tt_out_of_memory(p);
    for (size_t i = 0; i < count; i++) {
        pairs[i].key = base + pairs[i].key_at;
        sorted[i] = &pairs[i];
    }
    qsort(sorted, count, sizeof *sorted, compare_pairs);
    long kept = (long)count;
    for (size_t i = 0; i + 1 < count; i++) {
        const map_pair_t *a = sorted[i], *b = sorted[i + 1];
        if (a->key_len == b->key_len &&
            memcmp(a->key, b->key, a->key_len) == 0) {
            sorted[i]->overridden = 1;
            kept--;
        }
    }
    free(sorted);
    return kept;
}

static int encode_map(parser_t *p, ei_x_buff *x, ei_x_buff *kv,
                      map_pair_t *pairs, size_t count)
{
    long kept = drop_repeated_keys(p, pairs, count, kv->buff);
    if (kept < 0 || reserve(p, x, 8) < 0 ||
        ei_ok(p, ei_x_encode_map_header(x, kept)) < 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (!pairs[i].overridden &&
            put_bytes(p, x, kv->buff + pairs[i].key_at, pairs[i].pair_len) < 0)
            return -1;
    return 0;
}

/* key => value, appended to kv and recorded in *pairs. */
static int parse_map_pair(parser_t *p, ei_x_buff *kv, en_buf_t *pairs, int line,
                          int col)
{
    map_pair_t pair = {0};
    pair.key_at = (size_t)kv->index;
    pair.order = pairs->len / sizeof pair;
    if (parse_term(p, kv) < 0)
        return -1;
    pair.key_len = (size_t)kv->index - pair.key_at;
    if (is_punct(p, ":="))
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "':=' only updates an existing map; a map literal "
                       "uses '=>'");
    if (!is_punct(p, "=>"))
        return expected(p, "'=>' after the key", "map", line, col);
    if (tt_next(p) < 0 || parse_term(p, kv) < 0)
        return -1;
    pair.pair_len = (size_t)kv->index - pair.key_at;
    return en_buf_append(pairs, &pair, sizeof pair) < 0 ? tt_out_of_memory(p) : 0;
}

static int parse_map(parser_t *p, ei_x_buff *x)
{
    int line = p->tok.line, col = p->tok.col;
    ei_x_buff kv;
    en_buf_t pairs = EN_BUF_INIT;
    if (enter(p) < 0 || new_scratch(p, &kv) < 0)
        return -1;
    int r = tt_next(p);
    int more = r == 0 && !is_punct(p, "}");
    while (r == 0 && more) {
        r = parse_map_pair(p, &kv, &pairs, line, col);
        more = r == 0 && is_punct(p, ",");
        if (more)
            r = tt_next(p);
        else if (r == 0 && !is_punct(p, "}"))
            r = expected(p, "',' or '}'", "map", line, col);
    }
    if (r == 0)
        r = tt_next(p);
    if (r == 0)
        r = encode_map(p, x, &kv, (map_pair_t *)(void *)pairs.data,
                       pairs.len / sizeof(map_pair_t));
    ei_x_free(&kv);
    en_buf_free(&pairs);
    p->depth--;
    return r;
}

/* ------------------------------------------------------------------ */
/* Parser: binaries                                                    */
/* ------------------------------------------------------------------ */

/* An optional "/utf8" after a segment; other types and sizes are refused. */
static int segment_type(parser_t *p, int *utf8)
{
    *utf8 = 0;
    if (is_punct(p, ":"))
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "binary segment sizes (':') are not supported");
    if (!is_punct(p, "/"))
        return 0;
    int line = p->tok.line, col = p->tok.col;
    if (tt_next(p) < 0)
        return -1;
    if (p->tok.kind != T_ATOM || p->name.len != 4 ||
        memcmp(p->name.data, "utf8", 4) != 0)
        return tt_fail_at(p, line, col,
                       "binary segment types other than /utf8 are not "
                       "supported");
    *utf8 = 1;
    return tt_next(p);
}

/* Append one character of a segment: as UTF-8 with /utf8, else its low
 * 8 bits, as Erlang does for <<"€">> and <<256>>. */
static int put_segment_char(parser_t *p, en_buf_t *bytes, uint64_t v, int utf8,
                            int line, int col)
{
    if (!utf8)
        return en_buf_put8(bytes, (uint8_t)v) < 0 ? tt_out_of_memory(p) : 0;
    if (v > MAX_CODE_POINT || (v >= 0xD800 && v <= 0xDFFF))
        return tt_fail_at(p, line, col,
                       "/utf8 segment is not a Unicode character");
    return tt_utf8_put(bytes, (uint32_t)v) < 0 ? tt_out_of_memory(p) : 0;
}

static int string_segment(parser_t *p, en_buf_t *bytes)
{
    int line = p->tok.line, col = p->tok.col, utf8;
    en_buf_t chars = EN_BUF_INIT; /* p->chars is reused by each token */
    int r = 0;
    while (r == 0 && p->tok.kind == T_STRING) {
        if (en_buf_append(&chars, p->chars.data, p->chars.len) < 0)
            r = tt_out_of_memory(p);
        else
            r = tt_next(p);
    }
    if (r == 0)
        r = segment_type(p, &utf8);
    for (size_t i = 0; r == 0 && i < chars.len / sizeof(uint32_t); i++) {
        uint32_t cp;
        memcpy(&cp, chars.data + i * sizeof cp, sizeof cp);
        r = put_segment_char(p, bytes, cp, utf8, line, col);
    }
    en_buf_free(&chars);
    return r;
}

static int integer_segment(parser_t *p, en_buf_t *bytes)
{
    int line = p->tok.line, col = p->tok.col, negative = 0, utf8;
    if (is_punct(p, "-") || is_punct(p, "+")) {
        negative = is_punct(p, "-");
        if (tt_next(p) < 0)
            return -1;
    }
    if (p->tok.kind != T_INT && p->tok.kind != T_CHAR) {
        char found[64];
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "expected a binary segment (an integer, a character "
                       "or a string), found %s",
                       describe(p, found, sizeof found));
    }
    uint64_t v = negative ? 0 - p->tok.ival : p->tok.ival;
    if (tt_next(p) < 0 || segment_type(p, &utf8) < 0)
        return -1;
    if (utf8 && negative)
        return tt_fail_at(p, line, col,
                       "/utf8 segment is not a Unicode character");
    return put_segment_char(p, bytes, v, utf8, line, col);
}

static int parse_binary(parser_t *p, ei_x_buff *x)
{
    int line = p->tok.line, col = p->tok.col;
    en_buf_t bytes = EN_BUF_INIT;
    int r = tt_next(p);
    int more = r == 0 && !is_punct(p, ">>");
    while (r == 0 && more) {
        r = p->tok.kind == T_STRING ? string_segment(p, &bytes)
                                    : integer_segment(p, &bytes);
        more = r == 0 && is_punct(p, ",");
        if (more)
            r = tt_next(p);
        else if (r == 0 && !is_punct(p, ">>"))
            r = expected(p, "',' or '>>'", "binary", line, col);
    }
    if (r == 0)
        r = tt_next(p);
    if (r == 0 && bytes.len > INT_MAX / 2)
        r = tt_out_of_memory(p);
    if (r == 0 && reserve(p, x, bytes.len + 8) == 0)
        r = ei_ok(p, ei_x_encode_binary(x, bytes.data, (int)bytes.len));
    else if (r == 0)
        r = -1;
    en_buf_free(&bytes);
    return r;
}

/* ------------------------------------------------------------------ */
/* Parser: terms                                                       */
/* ------------------------------------------------------------------ */

/* '-' or '+' before a number, as erl_parse:normalise/1 allows. */
static int parse_signed(parser_t *p, ei_x_buff *x)
{
    int line = p->tok.line, col = p->tok.col;
    int negative = is_punct(p, "-");
    if (tt_next(p) < 0)
        return -1;
    if (p->tok.kind == T_FLOAT) {
        if (reserve(p, x, 16) < 0 ||
            ei_ok(p, ei_x_encode_double(x, negative ? -p->tok.fval
                                                    : p->tok.fval)) < 0)
            return -1;
        return tt_next(p);
    }
    if (p->tok.kind != T_INT && p->tok.kind != T_CHAR)
        return tt_fail_at(p, line, col,
                       "'%c' must be followed by a number (only literal terms "
                       "can be read, not expressions)",
                       negative ? '-' : '+');
    if (put_integer(p, x, p->tok.ival, negative) < 0)
        return -1;
    return tt_next(p);
}

static int parse_parens(parser_t *p, ei_x_buff *x)
{
    int line = p->tok.line, col = p->tok.col;
    if (enter(p) < 0 || tt_next(p) < 0 || parse_term(p, x) < 0)
        return -1;
    if (!is_punct(p, ")"))
        return expected(p, "')'", "parenthesis", line, col);
    p->depth--;
    return tt_next(p);
}

static int parse_atom(parser_t *p, ei_x_buff *x)
{
    if (reserve(p, x, p->name.len + 8) < 0 ||
        ei_ok(p, ei_x_encode_atom_len_as(x, (const char *)p->name.data,
                                         (int)p->name.len, ERLANG_UTF8,
                                         ERLANG_UTF8)) < 0)
        return -1;
    return tt_next(p);
}

/* One part of fun M:F/A: an atom into name[MAXATOMLEN_UTF8] and the
 * token after it, which must be `then` (":" or "/"). */
static int fun_name(parser_t *p, char *name, const char *then, int line,
                    int col)
{
    if (p->tok.kind != T_ATOM || p->name.len >= MAXATOMLEN_UTF8)
        return tt_fail_at(p, line, col,
                          "only external funs, fun Module:Function/Arity, "
                          "are terms");
    memcpy(name, p->name.data, p->name.len);
    name[p->name.len] = 0;
    if (tt_next(p) < 0)
        return -1;
    if (!is_punct(p, then))
        return tt_fail_at(p, line, col,
                          "only external funs, fun Module:Function/Arity, "
                          "are terms");
    return tt_next(p);
}

/* fun M:F/A, as file:consult/1 reads it: an export fun (EXPORT_EXT). */
static int parse_fun(parser_t *p, ei_x_buff *x)
{
    int line = p->tok.line, col = p->tok.col;
    char function[MAXATOMLEN_UTF8];
    erlang_fun fun = {.type = EI_FUN_EXPORT};
    if (tt_next(p) < 0 || fun_name(p, fun.module, ":", line, col) < 0 ||
        fun_name(p, function, "/", line, col) < 0)
        return -1;
    if (p->tok.kind != T_INT || p->tok.ival > 255)
        return tt_fail_at(p, line, col,
                          "the arity of a fun must be an integer from 0 to "
                          "255");
    fun.arity = (long)p->tok.ival;
    fun.u.exprt.func = function;
    if (reserve(p, x, 2 * MAXATOMLEN_UTF8 + 16) < 0 ||
        ei_ok(p, ei_x_encode_fun(x, &fun)) < 0)
        return -1;
    return tt_next(p);
}

static int not_a_term(parser_t *p)
{
    char found[64];
    if (p->tok.kind == T_VAR)
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "%s is not a term (quote it to make an atom)",
                       describe(p, found, sizeof found));
    if (is_punct(p, "#"))
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "records are not supported, only literal terms");
    return tt_fail_at(p, p->tok.line, p->tok.col, "expected a term, found %s",
                   describe(p, found, sizeof found));
}

/* Parse the term that starts at the current token and encode it into x;
 * on return the current token is the one after the term. */
static int parse_term(parser_t *p, ei_x_buff *x)
{
    switch (p->tok.kind) {
    case T_ATOM:
        return parse_atom(p, x);
    case T_STRING:
        return parse_string(p, x);
    case T_CHAR:
    case T_INT:
        if (put_integer(p, x, p->tok.ival, 0) < 0)
            return -1;
        return tt_next(p);
    case T_FLOAT:
        if (reserve(p, x, 16) < 0 ||
            ei_ok(p, ei_x_encode_double(x, p->tok.fval)) < 0)
            return -1;
        return tt_next(p);
    case T_PUNCT:
        if (is_punct(p, "{"))
            return parse_tuple(p, x);
        if (is_punct(p, "["))
            return parse_list(p, x);
        if (is_punct(p, "#{"))
            return parse_map(p, x);
        if (is_punct(p, "<<"))
            return parse_binary(p, x);
        if (is_punct(p, "("))
            return parse_parens(p, x);
        if (is_punct(p, "-") || is_punct(p, "+"))
            return parse_signed(p, x);
        break;
    case T_FUN:
        return parse_fun(p, x);
    case T_EOF:
    case T_DOT:
    case T_VAR:
        break;
    }
    return not_a_term(p);
}

/* After a top-level term: its ending '.'. */
static int expect_end_dot(parser_t *p, int line, int col)
{
    char found[64];
    if (p->tok.kind == T_DOT)
        return tt_next(p);
    if (p->tok.kind == T_EOF)
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "missing '.' at the end of the term that starts at "
                       "line %d, column %d",
                       line, col);
    if (is_punct(p, "."))
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "a '.' that ends a term must be followed by "
                       "whitespace, a comment or the end of the input");
    return tt_fail_at(p, p->tok.line, p->tok.col,
                   "expected '.' to end the term that starts at line %d, "
                   "column %d, found %s",
                   line, col, describe(p, found, sizeof found));
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_word_char(int c)
{
    c = ascii_lower(c);
    return c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

/* Does line s[0..n) hold "coding: latin-1" (or "coding=latin1") in a
 * comment?  epp looks at the first two lines; so do we. */
static int line_says_latin1(const unsigned char *s, size_t n)
{
    const unsigned char *pct = memchr(s, '%', n);
    for (size_t i = pct ? (size_t)(pct - s) : n; i + 6 < n; i++) {
        if (memcmp(s + i, "coding", 6) != 0)
            continue;
        size_t j = i + 6;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j >= n || (s[j] != ':' && s[j] != '='))
            continue;
        for (j++; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
            ;
        char word[16] = {0};
        for (size_t k = 0;
             k < sizeof word - 1 && j + k < n && is_word_char(s[j + k]); k++)
            word[k] = (char)ascii_lower(s[j + k]);
        return strcmp(word, "latin-1") == 0 || strcmp(word, "latin1") == 0;
    }
    return 0;
}

static int declares_latin1(const unsigned char *s, size_t len)
{
    for (int line = 0; line < 2 && len > 0; line++) {
        const unsigned char *nl = memchr(s, '\n', len);
        size_t n = nl ? (size_t)(nl - s) : len;
        if (line_says_latin1(s, n))
            return 1;
        if (!nl)
            break;
        s += n + 1;
        len -= n + 1;
    }
    return 0;
}

static void parser_init(parser_t *p, const char *text, size_t len,
                        en_termtext_error_t *err)
{
    memset(p, 0, sizeof *p);
    p->s = (const unsigned char *)text;
    p->len = len;
    p->line = 1;
    p->col = 1;
    p->err = err;
    p->latin1 = declares_latin1(p->s, len);
    en_buf_init(&p->name);
    en_buf_init(&p->chars);
}

/* Parse every term into terms; returns how many, or -1. */
static long parse_all(parser_t *p, ei_x_buff *terms)
{
    long count = 0;
    if (p->len >= 3 && memcmp(p->s, "\xEF\xBB\xBF", 3) == 0)
        return tt_fail_at(p, 1, 1,
                       "the file starts with a byte order mark, which erl "
                       "cannot read; remove it");
    if (tt_next(p) < 0)
        return -1;
    while (p->tok.kind != T_EOF) {
        int line = p->tok.line, col = p->tok.col;
        if (parse_term(p, terms) < 0 || expect_end_dot(p, line, col) < 0)
            return -1;
        count++;
    }
    return count;
}

static int build_output(parser_t *p, ei_x_buff *out, const ei_x_buff *terms,
                        long count)
{
    if (ei_ok(p, ei_x_new_with_version(out)) < 0)
        return -1;
    if (count > 0 && (reserve(p, out, (size_t)terms->index + 8) < 0 ||
                      ei_ok(p, ei_x_encode_list_header(out, count)) < 0 ||
                      put_bytes(p, out, terms->buff, (size_t)terms->index) < 0))
        return -1;
    return ei_ok(p, ei_x_encode_empty_list(out));
}

int en_termtext_parse(const char *text, size_t len, ei_x_buff *out,
                      en_termtext_error_t *err)
{
    en_termtext_error_t ignored;
    parser_t p;
    ei_x_buff terms;
    memset(out, 0, sizeof *out);
    parser_init(&p, text, len, err ? err : &ignored);
    p.err->line = p.err->column = 0;
    p.err->msg[0] = 0;
    if (len > EN_TERMTEXT_MAX_INPUT)
        return tt_fail_at(&p, 1, 1, "input larger than %u MiB",
                       EN_TERMTEXT_MAX_INPUT / (1024 * 1024));
    if (text == NULL && len > 0)
        return tt_fail_at(&p, 1, 1, "no text given");
    if (new_scratch(&p, &terms) < 0)
        return -1;
    long count = parse_all(&p, &terms);
    int r = count < 0 ? -1 : build_output(&p, out, &terms, count);
    ei_x_free(&terms);
    en_buf_free(&p.name);
    en_buf_free(&p.chars);
    if (r < 0 && out->buff) {
        ei_x_free(out);
        memset(out, 0, sizeof *out);
    }
    return r;
}

static int file_error(en_termtext_error_t *err, const char *path,
                      const char *why)
{
    if (err) {
        err->line = err->column = 0;
        snprintf(err->msg, sizeof err->msg, "cannot read %s: %s", path, why);
    }
    return -1;
}

/* Read a whole file into a malloc'd buffer (at most max bytes). */
static char *read_file(const char *path, size_t max, size_t *len,
                       en_termtext_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return file_error(err, path, strerror(errno)), NULL;
    en_buf_t b = EN_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        const char *why = b.len + n > max                   ? "file too large"
                          : en_buf_append(&b, chunk, n) < 0 ? "out of memory"
                                                            : NULL;
        if (why) {
            fclose(f);
            en_buf_free(&b);
            return file_error(err, path, why), NULL;
        }
    }
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        en_buf_free(&b);
        return file_error(err, path, strerror(saved)), NULL;
    }
    *len = b.len;
    return b.data ? (char *)b.data : calloc(1, 1);
}

int en_termtext_parse_file(const char *path, ei_x_buff *out,
                           en_termtext_error_t *err)
{
    size_t len = 0;
    memset(out, 0, sizeof *out);
    char *text = read_file(path, EN_TERMTEXT_MAX_INPUT, &len, err);
    if (!text)
        return -1;
    int r = en_termtext_parse(text, len, out, err);
    free(text);
    return r;
}
