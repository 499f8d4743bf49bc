/* termtext.h - read Erlang term text, as file:consult/1 does, into ETF.
 *
 * The text is a sequence of terms, each ended by a '.' that is followed by
 * whitespace, a comment or the end of the input:
 *
 *     {verify, verify_peer}.   % a comment
 *     [{server, [{certfile, "/etc/node.pem"}]}].
 *
 * Each term is turned into the external term format with ei, so the caller
 * reads it with ei_decode_*, ei_get_type and ei_skip_term.  The output is
 * one ei_x_buff holding the version byte and then a list of all the terms,
 * which is exactly term_to_binary(Terms) of file:consult's {ok, Terms}:
 *
 *     131, [Term1, Term2, ...]
 *
 * The outer list is always LIST_EXT (or NIL_EXT when there are no terms),
 * never STRING_EXT, so ei_decode_list_header() always works on it.  Inside
 * the terms, lists follow term_to_binary(): a proper list of integers
 * 0..255 is STRING_EXT, as Erlang itself sends it.
 *
 * Supported: atoms (bare, and quoted with escapes), strings (with escapes,
 * adjacent strings concatenated), char literals $c, integers (decimal,
 * Base#digits, 1_000 separators, a leading '-' or '+') from -2^63 to
 * 2^64-1, floats, tuples, lists and improper lists, maps with '=>',
 * binaries whose segments are integers, chars and strings (optionally
 * "..."/utf8), external funs (fun Module:Function/Arity, as an
 * ssl_dist_optfile's verify_fun names one), parentheses around a term, and
 * % comments.
 *
 * Not supported: bignums beyond 64 bits, binary segment sizes and types
 * other than /utf8, and anything that needs evaluation (function calls,
 * operators, records, variables, funs with a body).  Each is reported as
 * an error.
 *
 * The text is UTF-8, as file:consult/1 reads it, unless one of its first
 * two lines holds an Emacs-style "coding: latin-1" comment (as epp honours).
 * Invalid UTF-8 and NUL bytes are errors.  Columns count characters, from 1.
 */
#ifndef ENODE_TERMTEXT_H
#define ENODE_TERMTEXT_H

#include <stddef.h>

#include <ei.h>

/* Terms nested deeper than this are refused, so that hostile input cannot
 * exhaust the stack. */
#define EN_TERMTEXT_MAX_DEPTH 100

/* Inputs larger than this are refused: ei_x_buff sizes are ints, and no
 * configuration file comes near it. */
#define EN_TERMTEXT_MAX_INPUT (64u * 1024 * 1024)

typedef struct en_termtext_error {
    int line;   /* 1-based; 0 when the error has no place (file I/O) */
    int column; /* 1-based, in characters; 0 as for line */
    char msg[160];
} en_termtext_error_t;

/* Parse all terms in text[0..len).  *out need not be initialised: it is
 * overwritten (an old buffer in it is not freed).
 *
 * On success returns 0 and *out holds the version byte and the list of
 * terms (see above); the caller owns it and frees it with ei_x_free().
 * Empty input (or only comments) is a valid, empty list, like
 * file:consult/1 returning {ok, []}.
 *
 * On failure returns -1, fills *err and leaves *out with buff == NULL, so
 * nothing needs freeing.  err may be NULL when the caller does not care. */
int en_termtext_parse(const char *text, size_t len, ei_x_buff *out,
                      en_termtext_error_t *err);

/* Read the file at path and parse it as above.  An unreadable file is an
 * error with line 0 and a message naming the file and the reason. */
int en_termtext_parse_file(const char *path, ei_x_buff *out,
                           en_termtext_error_t *err);

#endif
