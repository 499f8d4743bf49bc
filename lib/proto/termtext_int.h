/* termtext_int.h - what the term text reader's lexer and parser share
 * (private to proto/termtext*.c). */
#ifndef ENODE_TERMTEXT_INT_H
#define ENODE_TERMTEXT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/termtext.h"

#define MAX_ATOM_CHARS 255
#define MAX_CODE_POINT 0x10FFFF

/* ------------------------------------------------------------------ */
/* Parser state                                                        */
/* ------------------------------------------------------------------ */

enum tok_kind {
    T_EOF,    /* end of the input */
    T_DOT,    /* the '.' that ends a term */
    T_ATOM,   /* name in p->name */
    T_VAR,    /* name in p->name; only for error messages */
    T_STRING, /* code points appended to p->chars */
    T_CHAR,   /* $c; value in ival */
    T_INT,    /* magnitude in ival; a sign is a separate token */
    T_FLOAT,  /* value in fval */
    T_PUNCT,  /* text in punct: { } [ ] ( ) , | << >> #{ => := - + / ... */
    T_FUN     /* the reserved word fun, which starts fun M:F/A */
};

typedef struct token {
    enum tok_kind kind;
    int line, col; /* where the token starts */
    char punct[4];
    uint64_t ival;
    double fval;
} token_t;

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    int line, col;  /* position of s[pos] */
    int latin1;     /* the text is Latin-1, not UTF-8 */
    int depth;      /* open containers */
    int failed;     /* an error was reported; keep the first one */
    token_t tok;    /* the current token */
    en_buf_t name;  /* UTF-8 name of the current atom or variable */
    en_buf_t chars; /* uint32_t code points of the string being read */
    en_termtext_error_t *err;
} parser_t;

/* Record an error at (line, col) unless one is already recorded: the first
 * error is the one the user needs, later ones are its consequences.
 * Returns -1. */
int tt_fail_at(parser_t *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tt_out_of_memory(parser_t *p);

/* ---- termtext_lex.c: characters and tokens ---- */

/* Read the next token into p->tok. 0, or -1 with the error recorded. */
int tt_next(parser_t *p);
/* The code points of the string token just read (in p->chars). */
size_t tt_chars_count(const parser_t *p);
uint32_t tt_char_at(const parser_t *p, size_t i);
/* Append code point cp to b as UTF-8. */
int tt_utf8_put(en_buf_t *b, uint32_t cp);
/* The error for an integer beyond 64 bits. */
int tt_too_large(parser_t *p);

#endif
