/* term_canon.h - one external encoding for each term: the one Erlang
 * itself sends.
 *
 * The external format can write the same term several ways: an atom as
 * ATOM_EXT (Latin-1) or SMALL_ATOM_UTF8_EXT, 300 as INTEGER_EXT or as a
 * SMALL_BIG_EXT, "ab" as STRING_EXT or as a LIST_EXT of two small
 * integers, a pid as PID_EXT or NEW_PID_EXT. A table keyed by terms
 * compares their bytes, so a key given by C code (which may build a term
 * any of these ways with ei) must first be written the way an OTP 25-29
 * node writes it over the distribution:
 *
 *   integers   SMALL_INTEGER_EXT for 0..255, INTEGER_EXT for the rest of
 *              the 32-bit range, else SMALL_BIG_EXT (LARGE_BIG_EXT beyond
 *              255 bytes) without leading zero bytes;
 *   atoms      SMALL_ATOM_UTF8_EXT, or ATOM_UTF8_EXT from 256 bytes on;
 *              Latin-1 atoms are turned into UTF-8;
 *   lists      NIL_EXT for [], STRING_EXT for a proper list of at most
 *              65535 integers in 0..255, else LIST_EXT (a LIST_EXT whose
 *              tail is another list is joined into one);
 *   tuples     SMALL_TUPLE_EXT up to 255 elements, else LARGE_TUPLE_EXT;
 *   bitstrings BINARY_EXT when whole bytes, else BIT_BINARY_EXT;
 *   pids, references, ports
 *              NEW_PID_EXT, NEWER_REFERENCE_EXT, NEW_PORT_EXT (V4_PORT_EXT
 *              as given); their node atoms as atoms above;
 *   floats     NEW_FLOAT_EXT; maps, funs and exports as given, with their
 *              parts canonical (map pairs in the order given: OTP orders
 *              the keys of a map of up to 32 keys by term order).
 */
#ifndef ENODE_TERM_CANON_H
#define ENODE_TERM_CANON_H

#include <stddef.h>

#include <ei.h>

/* Terms nested deeper than this are refused. */
#define EN_TERM_CANON_MAX_DEPTH 200

/* Appends the canonical form of the bare term (no version byte) at
 * term[0..len) to out. The term must have passed en_term_size() with
 * exactly len bytes. 0, or -1 with *why set to a static reason (nested
 * too deep, a tag it does not know, out of memory). */
int en_term_canon(const char *term, size_t len, ei_x_buff *out,
                  const char **why);

#endif
