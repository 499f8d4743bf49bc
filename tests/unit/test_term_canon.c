/* test_term_canon.c - terms written the way OTP writes them.
 *
 * Each case gives a term in an encoding OTP never sends (but ei and
 * hand-written C may produce) and what OTP 25-29 write for the same term,
 * as term_to_binary(T, [{minor_version, 2}]) prints it: the bytes the
 * distribution carries.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "proto/ctrl.h"
#include "proto/term_canon.h"

/* Canonical form of in[0..n) as "b1,b2,..." (what OTP prints after 131). */
static const char *canon(const unsigned char *in, size_t n)
{
    static char text[4096];
    ei_x_buff x;
    size_t term_len;
    const char *why = NULL;

    cr_assert_eq(en_term_size((const char *)in, n, &term_len, &why), 0,
                 "not a term: %s", why);
    cr_assert_eq(term_len, n);
    cr_assert_eq(ei_x_new(&x), 0);
    int rc = en_term_canon((const char *)in, n, &x, &why);
    cr_assert_eq(rc, 0, "refused: %s", why);
    size_t at = 0;
    text[0] = '\0';
    for (int i = 0; i < x.index; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, "%s%u",
                               i ? "," : "", (unsigned char)x.buff[i]);
    ei_x_free(&x);
    return text;
}

#define CANON(...)                                                             \
    canon((const unsigned char[]){__VA_ARGS__},                                \
          sizeof((const unsigned char[]){__VA_ARGS__}))

Test(term_canon, integers_take_the_smallest_form_otp_uses)
{
    cr_assert_str_eq(CANON(98, 0, 0, 0, 5), "97,5");             /* 5 */
    cr_assert_str_eq(CANON(110, 2, 0, 44, 1), "98,0,0,1,44");    /* 300 */
    /* ei_x_encode_long(300000000) writes a bignum; OTP an INTEGER_EXT. */
    cr_assert_str_eq(CANON(110, 4, 0, 0, 163, 225, 17), "98,17,225,163,0");
    /* -2^31 */
    cr_assert_str_eq(CANON(110, 4, 1, 0, 0, 0, 128), "98,128,0,0,0");
    cr_assert_str_eq(CANON(110, 4, 0, 0, 0, 0, 128),
                     "110,4,0,0,0,0,128"); /* 2^31 stays a bignum */
    /* 1 bsl 40 as a LARGE_BIG_EXT with high zero digits. */
    cr_assert_str_eq(CANON(111, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0, 0),
                     "110,6,0,0,0,0,0,0,1");
    cr_assert_str_eq(CANON(110, 1, 1, 0), "97,0"); /* minus zero */
    cr_assert_str_eq(CANON(98, 255, 255, 255, 255), "98,255,255,255,255");
}

Test(term_canon, atoms_are_utf8)
{
    cr_assert_str_eq(CANON(100, 0, 3, 'a', 'b', 'c'), "119,3,97,98,99");
    cr_assert_str_eq(CANON(115, 3, 'a', 'b', 'c'), "119,3,97,98,99");
    cr_assert_str_eq(CANON(118, 0, 3, 'a', 'b', 'c'), "119,3,97,98,99");
    /* list_to_atom([233]) */
    cr_assert_str_eq(CANON(100, 0, 1, 233), "119,2,195,169");
}

Test(term_canon, lists_of_bytes_are_strings)
{
    cr_assert_str_eq(CANON(108, 0, 0, 0, 2, 97, 'a', 97, 'b', 106),
                     "107,0,2,97,98");
    cr_assert_str_eq(CANON(107, 0, 0), "106"); /* "" is [] */
    /* [1 | "\2\3"] joins into one string. */
    cr_assert_str_eq(CANON(108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 2, 3),
                     "107,0,3,1,2,3");
    /* [1 | [2]] */
    cr_assert_str_eq(CANON(108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106),
                     "107,0,2,1,2");
    /* [1, 2 | 3] stays improper. */
    cr_assert_str_eq(CANON(108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3),
                     "108,0,0,0,2,97,1,97,2,97,3");
    /* [a, "b"], its parts canonical too. */
    cr_assert_str_eq(CANON(108, 0, 0, 0, 2, 100, 0, 1, 'a', 108, 0, 0, 0, 1,
                           97, 'b', 106, 106),
                     "108,0,0,0,2,119,1,97,107,0,1,98,106");
    /* [0, 255, 256] is no string. */
    cr_assert_str_eq(CANON(108, 0, 0, 0, 3, 97, 0, 97, 255, 98, 0, 0, 1, 0,
                           106),
                     "108,0,0,0,3,97,0,97,255,98,0,0,1,0,106");
}

Test(term_canon, tuples_binaries_and_floats)
{
    cr_assert_str_eq(CANON(105, 0, 0, 0, 0), "104,0");
    cr_assert_str_eq(CANON(105, 0, 0, 0, 1, 98, 0, 0, 0, 7), "104,1,97,7");
    cr_assert_str_eq(CANON(77, 0, 0, 0, 2, 8, 1, 2), "109,0,0,0,2,1,2");
    cr_assert_str_eq(CANON(77, 0, 0, 0, 1, 3, 32), "77,0,0,0,1,3,32");
    cr_assert_str_eq(CANON(70, 63, 248, 0, 0, 0, 0, 0, 0),
                     "70,63,248,0,0,0,0,0,0");
    /* #{a => 1}: pairs canonical, in the order given. */
    cr_assert_str_eq(CANON(116, 0, 0, 0, 1, 100, 0, 1, 'a', 98, 0, 0, 0, 1),
                     "116,0,0,0,1,119,1,97,97,1");
}

Test(term_canon, pids_references_and_ports_take_their_newest_form)
{
    /* <n@h.1.2> with creation 3 as PID_EXT, node as ATOM_EXT. */
    cr_assert_str_eq(CANON(103, 100, 0, 3, 'n', '@', 'h', 0, 0, 0, 1, 0, 0, 0,
                           2, 3),
                     "88,119,3,110,64,104,0,0,0,1,0,0,0,2,0,0,0,3");
    cr_assert_str_eq(CANON(102, 115, 1, 'n', 0, 0, 0, 9, 3),
                     "89,119,1,110,0,0,0,9,0,0,0,3");
    cr_assert_str_eq(CANON(101, 115, 1, 'n', 0, 0, 0, 9, 3),
                     "90,0,1,119,1,110,0,0,0,3,0,0,0,9");
    cr_assert_str_eq(CANON(114, 0, 2, 115, 1, 'n', 3, 0, 0, 0, 9, 0, 0, 0, 8),
                     "90,0,2,119,1,110,0,0,0,3,0,0,0,9,0,0,0,8");
    cr_assert_str_eq(CANON(88, 119, 1, 'n', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3),
                     "88,119,1,110,0,0,0,1,0,0,0,2,0,0,0,3");
}

Test(term_canon, what_it_refuses)
{
    ei_x_buff x;
    const char *why = NULL;
    unsigned char deep[2 * (EN_TERM_CANON_MAX_DEPTH + 2) + 1];
    size_t n = 0;

    for (int i = 0; i < EN_TERM_CANON_MAX_DEPTH + 2; i++) {
        deep[n++] = 104; /* {{{...}}} */
        deep[n++] = 1;
    }
    deep[n++] = 106;
    cr_assert_eq(ei_x_new(&x), 0);
    cr_assert_eq(en_term_canon((const char *)deep, n, &x, &why), -1);
    cr_assert_str_eq(why, "a term nested too deeply");
    cr_assert_eq(x.index, 0, "nothing is left in out");
    /* Bytes after the term. */
    cr_assert_eq(en_term_canon("\x61\x01\x61", 3, &x, &why), -1);
    cr_assert_eq(x.index, 0);
    ei_x_free(&x);
}
