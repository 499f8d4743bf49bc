/* termtext_lex.c - the lexer of the term text reader: characters (UTF-8
 * or Latin-1), atoms, variables, strings, numbers and punctuation, as
 * erl_scan reads them. termtext.c is the parser it feeds.
 */
#include "proto/termtext_int.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Record an error at (line, col) unless one is already recorded: the first
 * error is the one the user needs, later ones are its consequences. */
int tt_fail_at(parser_t *p, int line, int col, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    p->failed = 1;
    p->err->line = line;
    p->err->column = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int tt_out_of_memory(parser_t *p)
{
    return tt_fail_at(p, p->tok.line, p->tok.col, "out of memory");
}

/* ------------------------------------------------------------------ */
/* Characters                                                          */
/* ------------------------------------------------------------------ */

/* Decode one strict UTF-8 sequence (no overlongs, no surrogates).
 * Returns its length, or 0 if s[0..n) does not start with one. */
static int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    int len;
    uint32_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        c &= 0x07;
    } else {
        return 0;
    }
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min_for_len[len] || c > MAX_CODE_POINT ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* Append code point cp to b as UTF-8. */
int tt_utf8_put(en_buf_t *b, uint32_t cp)
{
    uint8_t u[4];
    int n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return en_buf_append(b, u, (size_t)n);
}

/* Look at the character at the cursor without consuming it.  Returns its
 * length in bytes, 0 at the end of the input, or -1 after reporting a NUL
 * byte or bad UTF-8 (which no part of the syntax allows). */
static int peek(parser_t *p, uint32_t *cp)
{
    if (p->pos >= p->len)
        return 0;
    const unsigned char *s = p->s + p->pos;
    if (s[0] == 0)
        return tt_fail_at(p, p->line, p->col,
                       "NUL byte in the input (is this a text file?)");
    if (p->latin1 || s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = utf8_decode(s, p->len - p->pos, cp);
    if (n == 0)
        return tt_fail_at(p, p->line, p->col,
                       "invalid UTF-8 byte 0x%02X (if the file is Latin-1, "
                       "put \"%%%% coding: latin-1\" on its first line)",
                       s[0]);
    return n;
}

/* Consume a character of n bytes that peek() returned as cp. */
static void advance(parser_t *p, int n, uint32_t cp)
{
    p->pos += (size_t)n;
    if (cp == '\n') {
        p->line++;
        p->col = 1;
    } else {
        p->col++;
    }
}

/* The byte `ahead` bytes past the cursor, or -1 past the end.  Used only
 * to look for ASCII, where bytes and characters coincide. */
static int byte_at(const parser_t *p, size_t ahead)
{
    return p->pos + ahead < p->len ? p->s[p->pos + ahead] : -1;
}

/* Erlang's whitespace: every control character and space, and the Latin-1
 * range 0x80..0xA0 (which includes the no-break space). */
static int is_space(uint32_t cp)
{
    return cp <= ' ' || (cp >= 0x80 && cp <= 0xA0);
}

static int is_digit(uint32_t cp)
{
    return cp >= '0' && cp <= '9';
}

/* Latin-1 letters as erl_scan classifies them; × and ÷ are not letters. */
static int is_lower(uint32_t cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 0xDF && cp <= 0xFF && cp != 0xF7);
}

static int is_upper(uint32_t cp)
{
    return (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7);
}

static int is_name_char(uint32_t cp)
{
    return is_lower(cp) || is_upper(cp) || is_digit(cp) || cp == '_' ||
           cp == '@';
}

/* Value of cp as a digit in any base up to 36, or 99. */
static int digit_value(uint32_t cp)
{
    if (cp >= '0' && cp <= '9')
        return (int)(cp - '0');
    if (cp >= 'a' && cp <= 'z')
        return (int)(cp - 'a' + 10);
    if (cp >= 'A' && cp <= 'Z')
        return (int)(cp - 'A' + 10);
    return 99;
}

/* Describe code point cp for an error message. */
static const char *char_name(uint32_t cp, char *buf, size_t size)
{
    if (cp > ' ' && cp < 0x7F) {
        snprintf(buf, size, "'%c'", (char)cp);
    } else {
        en_buf_t u = EN_BUF_INIT;
        if (cp > 0xA0 && tt_utf8_put(&u, cp) == 0)
            snprintf(buf, size, "'%.*s' (U+%04X)", (int)u.len,
                     (const char *)u.data, (unsigned)cp);
        else
            snprintf(buf, size, "U+%04X", (unsigned)cp);
        en_buf_free(&u);
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* Lexer: whitespace, escapes, strings, atoms                          */
/* ------------------------------------------------------------------ */

/* Skip whitespace and % comments.  Comments are skipped byte by byte, so
 * that whatever bytes they hold never matter. */
static int skip_space(parser_t *p)
{
    for (;;) {
        uint32_t cp;
        int n = peek(p, &cp);
        if (n <= 0)
            return n;
        if (cp == '%') {
            while (p->pos < p->len && p->s[p->pos] != '\n') {
                p->pos++;
                p->col++;
            }
        } else if (is_space(cp)) {
            advance(p, n, cp);
        } else {
            return 0;
        }
    }
}

/* Read \x{H...} after the '{'; the value must be a Unicode code point. */
static int read_hex_braces(parser_t *p, int line, int col, uint32_t *cp)
{
    uint32_t value = 0;
    int digits = 0;
    for (;;) {
        int c = byte_at(p, 0);
        if (c == '}' && digits > 0)
            break;
        int d = c < 0 ? 99 : digit_value((uint32_t)c);
        if (d >= 16)
            return tt_fail_at(p, line, col,
                           "bad escape: \\x{ must be followed by hex digits "
                           "and '}'");
        if (value <= MAX_CODE_POINT) /* saturate: any larger is refused */
            value = value * 16 + (uint32_t)d;
        digits++;
        advance(p, 1, (uint32_t)c);
    }
    advance(p, 1, '}');
    if (value > MAX_CODE_POINT)
        return tt_fail_at(p, line, col,
                       "bad escape: \\x{...} is beyond U+10FFFF, the largest "
                       "Unicode character");
    *cp = value;
    return 0;
}

/* Read \xHH or \x{H...}; the cursor is just past the 'x'. */
static int read_hex_escape(parser_t *p, int line, int col, uint32_t *cp)
{
    if (byte_at(p, 0) == '{') {
        advance(p, 1, '{');
        return read_hex_braces(p, line, col, cp);
    }
    int hi = byte_at(p, 0), lo = byte_at(p, 1);
    int dh = hi < 0 ? 99 : digit_value((uint32_t)hi);
    int dl = lo < 0 ? 99 : digit_value((uint32_t)lo);
    if (dh >= 16 || dl >= 16)
        return tt_fail_at(p, line, col,
                       "bad escape: \\x must be followed by two hex digits "
                       "or by {hex digits}");
    advance(p, 1, (uint32_t)hi);
    advance(p, 1, (uint32_t)lo);
    *cp = (uint32_t)(dh * 16 + dl);
    return 0;
}

/* Map the letter after a backslash to its character, as erl_scan does;
 * any other character stands for itself (so "\q" is "q", as in Erlang). */
static uint32_t simple_escape(uint32_t c)
{
    static const char letters[] = "nrtvbfesd";
    static const uint8_t codes[] = {'\n', '\r', '\t', '\v', '\b',
                                    '\f', 27,   ' ',  127};
    const char *at = c > 0 && c < 128 ? strchr(letters, (int)c) : NULL;
    return at ? codes[at - letters] : c;
}

/* Read an escape sequence; the cursor is on the backslash at (line, col).
 * Returns 0, -1 after an error, or 1 if the input ends inside it. */
static int read_escape(parser_t *p, uint32_t *out)
{
    int line = p->line, col = p->col;
    advance(p, 1, '\\');
    uint32_t c;
    int n = peek(p, &c);
    if (n <= 0)
        return n < 0 ? -1 : 1;
    advance(p, n, c);
    if (c >= '0' && c <= '7') {
        uint32_t v = c - '0';
        for (int i = 0; i < 2 && byte_at(p, 0) >= '0' && byte_at(p, 0) <= '7';
             i++) {
            v = v * 8 + (uint32_t)(byte_at(p, 0) - '0');
            advance(p, 1, '0');
        }
        *out = v;
        return 0;
    }
    if (c == 'x') {
        if (read_hex_escape(p, line, col, out) < 0)
            return -1;
        if (*out >= 0xD800 && *out <= 0xDFFF)
            return tt_fail_at(p, line, col,
                           "bad escape: U+%04X is a UTF-16 surrogate, not a "
                           "character",
                           (unsigned)*out);
        return 0;
    }
    if (c == '^') { /* \^A is control-A */
        n = peek(p, &c);
        if (n <= 0)
            return n < 0 ? -1 : 1;
        advance(p, n, c);
        *out = c & 31;
        return 0;
    }
    *out = simple_escape(c);
    return 0;
}

/* Read the characters of a quoted string or atom up to the closing quote,
 * appending code points to p->chars.  The cursor is on the opening quote. */
static int read_quoted(parser_t *p, uint32_t quote, const char *what)
{
    int line = p->line, col = p->col;
    advance(p, 1, quote);
    for (;;) {
        uint32_t cp;
        int n = peek(p, &cp);
        if (n < 0)
            return -1;
        if (n == 0)
            return tt_fail_at(p, line, col, "unterminated %s (it starts here)",
                           what);
        if (cp == quote) {
            advance(p, n, cp);
            return 0;
        }
        if (cp == '\\') {
            int r = read_escape(p, &cp);
            if (r < 0)
                return -1;
            if (r > 0)
                return tt_fail_at(p, line, col, "unterminated %s (it starts here)",
                               what);
        } else {
            advance(p, n, cp);
        }
        if (en_buf_append(&p->chars, &cp, sizeof cp) < 0)
            return tt_out_of_memory(p);
    }
}

size_t tt_chars_count(const parser_t *p)
{
    return p->chars.len / sizeof(uint32_t);
}

uint32_t tt_char_at(const parser_t *p, size_t i)
{
    uint32_t cp;
    memcpy(&cp, p->chars.data + i * sizeof cp, sizeof cp);
    return cp;
}

/* Turn the code points in p->chars into the UTF-8 name of an atom. */
static int chars_to_name(parser_t *p, int line, int col)
{
    size_t count = tt_chars_count(p);
    if (count > MAX_ATOM_CHARS)
        return tt_fail_at(p, line, col,
                       "atom is %zu characters long; Erlang allows at most %d",
                       count, MAX_ATOM_CHARS);
    en_buf_reset(&p->name);
    for (size_t i = 0; i < count; i++)
        if (tt_utf8_put(&p->name, tt_char_at(p, i)) < 0)
            return tt_out_of_memory(p);
    return 0;
}

/* Words that erl_scan reserves: bare, they are not atoms but syntax. */
static int is_reserved(const en_buf_t *name)
{
    static const char *const words[] = {
        "after",  "and",     "andalso", "band", "begin", "bnot", "bor",
        "bsl",    "bsr",     "bxor",    "case", "catch", "cond", "div",
        "end",    "fun",     "if",      "let",  "not",   "of",   "or",
        "orelse", "receive", "rem",     "try",  "when",  "xor"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == name->len &&
            memcmp(words[i], name->data, name->len) == 0)
            return 1;
    return 0;
}

/* Read a bare atom or a variable name into p->name. */
static int lex_name(parser_t *p, enum tok_kind kind)
{
    size_t count = 0;
    en_buf_reset(&p->name);
    for (;;) {
        uint32_t cp;
        int n = peek(p, &cp);
        if (n < 0)
            return -1;
        if (n == 0 || !is_name_char(cp))
            break;
        if (tt_utf8_put(&p->name, cp) < 0)
            return tt_out_of_memory(p);
        advance(p, n, cp);
        count++;
    }
    if (kind == T_ATOM && count > MAX_ATOM_CHARS)
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "atom is %zu characters long; Erlang allows at most %d",
                       count, MAX_ATOM_CHARS);
    if (kind == T_ATOM && p->name.len == 3 &&
        memcmp(p->name.data, "fun", 3) == 0)
        kind = T_FUN;
    else if (kind == T_ATOM && is_reserved(&p->name))
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "'%.*s' is a reserved word; quote it to make an atom",
                       (int)p->name.len, (const char *)p->name.data);
    p->tok.kind = kind;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Lexer: numbers                                                      */
/* ------------------------------------------------------------------ */

/* Read digits of `base`, with single '_' between digits as Erlang allows,
 * into *value (saturating; *overflow set) and, if text is given, their
 * characters without the underscores.  Returns the number of digits. */
static int read_digits(parser_t *p, int base, uint64_t *value, int *overflow,
                       en_buf_t *text)
{
    int digits = 0;
    for (;;) {
        int c = byte_at(p, 0);
        if (c == '_' && digits > 0) {
            int next = byte_at(p, 1);
            if (next < 0 || digit_value((uint32_t)next) >= base)
                break;
            advance(p, 1, '_');
            continue;
        }
        int d = c < 0 ? 99 : digit_value((uint32_t)c);
        if (d >= base)
            break;
        if (*value > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            *overflow = 1;
        else
            *value = *value * (uint64_t)base + (uint64_t)d;
        if (text && en_buf_put8(text, (uint8_t)c) < 0)
            return tt_out_of_memory(p);
        advance(p, 1, (uint32_t)c);
        digits++;
    }
    return digits;
}

int tt_too_large(parser_t *p)
{
    return tt_fail_at(p, p->tok.line, p->tok.col,
                   "integer too large (enode reads integers from -2^63 to "
                   "2^64-1)");
}

/* Read Base#digits; the decimal base is already in *value. */
static int lex_radix(parser_t *p, uint64_t *value, int overflow)
{
    if (overflow || *value < 2 || *value > 36)
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "bad radix: the base before '#' must be 2..36");
    int base = (int)*value;
    advance(p, 1, '#');
    *value = 0;
    int digits = read_digits(p, base, value, &overflow, NULL);
    if (digits < 0)
        return -1;
    if (digits == 0)
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "bad integer: no base-%d digits after '%d#'", base,
                       base);
    return overflow ? tt_too_large(p) : 0;
}

/* strtod() obeys the C locale's decimal point, which a host program may
 * have changed; Erlang's is always '.', so swap it in before converting. */
static double locale_strtod(en_buf_t *text, int *overflow)
{
    const char *point = localeconv()->decimal_point;
    en_buf_t fixed = EN_BUF_INIT;
    for (size_t i = 0; i < text->len; i++) {
        int bad = text->data[i] == '.'
                      ? en_buf_append(&fixed, point, strlen(point))
                      : en_buf_put8(&fixed, text->data[i]);
        if (bad < 0) {
            en_buf_free(&fixed);
            return NAN;
        }
    }
    double v = NAN;
    if (en_buf_put8(&fixed, 0) == 0) {
        errno = 0;
        v = strtod((const char *)fixed.data, NULL);
        *overflow = isinf(v);
    }
    en_buf_free(&fixed);
    return v;
}

/* Read the fraction and exponent of a float whose integer digits are in
 * text; the cursor is on the '.', which a digit follows. */
static int lex_float(parser_t *p, en_buf_t *text)
{
    uint64_t ignored = 0;
    int overflow = 0;
    advance(p, 1, '.');
    if (en_buf_put8(text, '.') < 0 ||
        read_digits(p, 10, &ignored, &overflow, text) < 0)
        return tt_out_of_memory(p);
    int e = byte_at(p, 0);
    if (e == 'e' || e == 'E') {
        int sign = byte_at(p, 1);
        size_t skip = (sign == '+' || sign == '-') ? 2 : 1;
        int digit = byte_at(p, skip);
        if (digit < '0' || digit > '9')
            return tt_fail_at(p, p->tok.line, p->tok.col,
                           "bad float: the exponent has no digits");
        for (size_t i = 0; i < skip; i++) {
            if (en_buf_put8(text, (uint8_t)byte_at(p, 0)) < 0)
                return tt_out_of_memory(p);
            advance(p, 1, 'e');
        }
        if (read_digits(p, 10, &ignored, &overflow, text) < 0)
            return -1;
    }
    p->tok.fval = locale_strtod(text, &overflow);
    if (isnan(p->tok.fval))
        return tt_out_of_memory(p);
    if (overflow)
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "float out of range (larger than about 1.8e308)");
    p->tok.kind = T_FLOAT;
    return 0;
}

static int lex_number(parser_t *p)
{
    en_buf_t text = EN_BUF_INIT;
    uint64_t value = 0;
    int overflow = 0, r;
    if (read_digits(p, 10, &value, &overflow, &text) < 0) {
        r = -1;
    } else if (byte_at(p, 0) == '#') {
        r = lex_radix(p, &value, overflow);
        p->tok.kind = T_INT;
    } else if (byte_at(p, 0) == '.' && byte_at(p, 1) >= '0' &&
               byte_at(p, 1) <= '9') {
        r = lex_float(p, &text);
    } else {
        r = overflow ? tt_too_large(p) : 0;
        p->tok.kind = T_INT;
    }
    p->tok.ival = value;
    en_buf_free(&text);
    return r;
}

/* $c: the character's code. */
static int lex_char(parser_t *p)
{
    advance(p, 1, '$');
    uint32_t cp;
    int n = peek(p, &cp);
    if (n < 0)
        return -1;
    if (n == 0)
        return tt_fail_at(p, p->tok.line, p->tok.col,
                       "'$' at the end of the input: a character must follow");
    if (cp == '\\') {
        int r = read_escape(p, &cp);
        if (r != 0)
            return r < 0 ? -1
                         : tt_fail_at(p, p->tok.line, p->tok.col,
                                   "unterminated escape after '$'");
    } else {
        advance(p, n, cp);
    }
    p->tok.kind = T_CHAR;
    p->tok.ival = cp;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Lexer: tokens                                                       */
/* ------------------------------------------------------------------ */

static void set_punct(parser_t *p, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i++)
        advance(p, 1, (uint32_t)text[i]);
    p->tok.kind = T_PUNCT;
    memcpy(p->tok.punct, text, n + 1);
}

/* Punctuation: the two-character tokens first, then any single ASCII
 * character, which the parser reports if it has no use for it. */
static int lex_punct(parser_t *p, uint32_t cp)
{
    static const char *const pairs[] = {"<<", ">>", "#{", "=>", ":="};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (byte_at(p, 0) == pairs[i][0] && byte_at(p, 1) == pairs[i][1]) {
            set_punct(p, pairs[i]);
            return 0;
        }
    if (cp >= 0x80) {
        char name[32];
        return tt_fail_at(p, p->line, p->col, "unexpected character %s",
                       char_name(cp, name, sizeof name));
    }
    char one[2] = {(char)cp, 0};
    set_punct(p, one);
    return 0;
}

/* A '.' ends a term when whitespace, a comment or the end follows it. */
static int is_end_dot(const parser_t *p)
{
    int next = byte_at(p, 1);
    return next < 0 || next <= ' ' || next == '%';
}

/* Read the next token into p->tok. */
int tt_next(parser_t *p)
{
    if (skip_space(p) < 0)
        return -1;
    p->tok.line = p->line;
    p->tok.col = p->col;
    uint32_t cp;
    int n = peek(p, &cp);
    if (n < 0)
        return -1;
    if (n == 0) {
        p->tok.kind = T_EOF;
        return 0;
    }
    if (cp == '.' && is_end_dot(p)) {
        advance(p, 1, '.');
        p->tok.kind = T_DOT;
        return 0;
    }
    if (is_digit(cp))
        return lex_number(p);
    if (cp == '$')
        return lex_char(p);
    if (cp == '"' || cp == '\'') {
        en_buf_reset(&p->chars);
        if (read_quoted(p, cp, cp == '"' ? "string" : "quoted atom") < 0)
            return -1;
        p->tok.kind = cp == '"' ? T_STRING : T_ATOM;
        return cp == '"' ? 0 : chars_to_name(p, p->tok.line, p->tok.col);
    }
    if (is_lower(cp))
        return lex_name(p, T_ATOM);
    if (is_upper(cp) || cp == '_')
        return lex_name(p, T_VAR);
    return lex_punct(p, cp);
}
