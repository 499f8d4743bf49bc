/* test_termtext.c - the Erlang term text reader.
 *
 * The expected bytes in `vectors` come from OTP 25 itself:
 *     file:consult/1 of the text, then term_to_binary(T, [{minor_version, 2}])
 * (minor version 2 writes atoms as UTF-8, as ei does), without the 131.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/termtext.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static ei_x_buff parse_ok_len(const char *text, size_t len)
{
    ei_x_buff x;
    en_termtext_error_t err;
    int r = en_termtext_parse(text, len, &x, &err);
    cr_assert_eq(r, 0, "parse of <%s> failed: line %d, column %d: %s", text,
                 err.line, err.column, err.msg);
    return x;
}

static ei_x_buff parse_ok(const char *text)
{
    return parse_ok_len(text, strlen(text));
}

/* Bounds of term number `which` (0-based) in the output list. */
static void term_bounds(const ei_x_buff *x, int which, int *start, int *end)
{
    int idx = 0, version, arity;
    cr_assert_eq(ei_decode_version(x->buff, &idx, &version), 0);
    cr_assert_eq(ei_decode_list_header(x->buff, &idx, &arity), 0);
    cr_assert_lt(which, arity, "only %d terms", arity);
    for (int i = 0; i < which; i++)
        cr_assert_eq(ei_skip_term(x->buff, &idx), 0);
    *start = idx;
    cr_assert_eq(ei_skip_term(x->buff, &idx), 0);
    *end = idx;
}

/* Parse text holding one term and compare it with the expected ETF. */
static void check_bytes(const char *text, const uint8_t *want, size_t n)
{
    ei_x_buff x = parse_ok(text);
    int start, end;
    term_bounds(&x, 0, &start, &end);
    cr_assert_eq((size_t)(end - start), n, "<%s>: %d bytes, want %zu", text,
                 end - start, n);
    cr_assert_arr_eq(x.buff + start, want, n, "<%s>: bytes differ", text);
    ei_x_free(&x);
}

/* Parse text and expect an error at (line, col) whose message holds
 * needle. */
static void check_error_len(const char *text, size_t len, int line, int col,
                            const char *needle)
{
    ei_x_buff x;
    en_termtext_error_t err;
    int r = en_termtext_parse(text, len, &x, &err);
    cr_assert_eq(r, -1, "<%s> parsed, but should fail", text);
    cr_assert_null(x.buff, "output not cleared on error");
    cr_assert_str_neq(err.msg, "");
    cr_assert(strstr(err.msg, needle), "<%s>: message <%s> lacks <%s>", text,
              err.msg, needle);
    cr_assert(err.line == line && err.column == col,
              "<%s>: error at %d:%d, want %d:%d (%s)", text, err.line,
              err.column, line, col, err.msg);
}

static void check_error(const char *text, int line, int col, const char *needle)
{
    check_error_len(text, strlen(text), line, col, needle);
}

/* Walk every term with ei, so that a malformed encoding would show. */
static void check_walkable(const ei_x_buff *x)
{
    int idx = 0, version, arity;
    cr_assert_eq(ei_decode_version(x->buff, &idx, &version), 0);
    cr_assert_eq(ei_decode_list_header(x->buff, &idx, &arity), 0);
    for (int i = 0; i < arity; i++)
        cr_assert_eq(ei_skip_term(x->buff, &idx), 0);
    if (arity > 0)
        cr_assert_eq(ei_skip_term(x->buff, &idx), 0); /* the tail */
    cr_assert_eq(idx, x->index, "trailing bytes in the output");
}

/* ------------------------------------------------------------------ */
/* Valid input, compared with OTP's own encoding                      */
/* ------------------------------------------------------------------ */

static const struct vector {
    const char *text;
    size_t len;
    const uint8_t *etf;
} vectors[] = {
    {"[{server,[{certfile,\"/tmp/x/node.pem\"},{keyfile,\"/tmp/x/node.ke"
     "y\"},{cacertfile,\"/tmp/x/ca.pem\"},{verify,verify_peer},{fail_if_"
     "no_peer_cert,true},{secure_renegotiate,true}]},{client,[{certfile,"
     "\"/tmp/x/node.pem\"},{keyfile,\"/tmp/x/node.key\"},{cacertfile,\"/"
     "tmp/x/ca.pem\"},{verify,verify_peer},{secure_renegotiate,true},{se"
     "rver_name_indication,disable}]}].",
     383,
     (const uint8_t[]){
         108, 0,   0,   0,   2,   104, 2,   119, 6,   115, 101, 114, 118, 101,
         114, 108, 0,   0,   0,   6,   104, 2,   119, 8,   99,  101, 114, 116,
         102, 105, 108, 101, 107, 0,   15,  47,  116, 109, 112, 47,  120, 47,
         110, 111, 100, 101, 46,  112, 101, 109, 104, 2,   119, 7,   107, 101,
         121, 102, 105, 108, 101, 107, 0,   15,  47,  116, 109, 112, 47,  120,
         47,  110, 111, 100, 101, 46,  107, 101, 121, 104, 2,   119, 10,  99,
         97,  99,  101, 114, 116, 102, 105, 108, 101, 107, 0,   13,  47,  116,
         109, 112, 47,  120, 47,  99,  97,  46,  112, 101, 109, 104, 2,   119,
         6,   118, 101, 114, 105, 102, 121, 119, 11,  118, 101, 114, 105, 102,
         121, 95,  112, 101, 101, 114, 104, 2,   119, 20,  102, 97,  105, 108,
         95,  105, 102, 95,  110, 111, 95,  112, 101, 101, 114, 95,  99,  101,
         114, 116, 119, 4,   116, 114, 117, 101, 104, 2,   119, 18,  115, 101,
         99,  117, 114, 101, 95,  114, 101, 110, 101, 103, 111, 116, 105, 97,
         116, 101, 119, 4,   116, 114, 117, 101, 106, 104, 2,   119, 6,   99,
         108, 105, 101, 110, 116, 108, 0,   0,   0,   6,   104, 2,   119, 8,
         99,  101, 114, 116, 102, 105, 108, 101, 107, 0,   15,  47,  116, 109,
         112, 47,  120, 47,  110, 111, 100, 101, 46,  112, 101, 109, 104, 2,
         119, 7,   107, 101, 121, 102, 105, 108, 101, 107, 0,   15,  47,  116,
         109, 112, 47,  120, 47,  110, 111, 100, 101, 46,  107, 101, 121, 104,
         2,   119, 10,  99,  97,  99,  101, 114, 116, 102, 105, 108, 101, 107,
         0,   13,  47,  116, 109, 112, 47,  120, 47,  99,  97,  46,  112, 101,
         109, 104, 2,   119, 6,   118, 101, 114, 105, 102, 121, 119, 11,  118,
         101, 114, 105, 102, 121, 95,  112, 101, 101, 114, 104, 2,   119, 18,
         115, 101, 99,  117, 114, 101, 95,  114, 101, 110, 101, 103, 111, 116,
         105, 97,  116, 101, 119, 4,   116, 114, 117, 101, 104, 2,   119, 22,
         115, 101, 114, 118, 101, 114, 95,  110, 97,  109, 101, 95,  105, 110,
         100, 105, 99,  97,  116, 105, 111, 110, 119, 7,   100, 105, 115, 97,
         98,  108, 101, 106, 106}},
    {"{'tlsv1.2', \"a\\nb\", <<1,2,3>>, <<\"hi\">>, -1, 255, 256, 16#ff,"
     " $a, 1.5, 1.0e3, [a|b], [], {}, <<>>}.",
     85, (const uint8_t[]){104, 15,  119, 7,   116, 108, 115, 118, 49,  46,  50,
                           107, 0,   3,   97,  10,  98,  109, 0,   0,   0,   3,
                           1,   2,   3,   109, 0,   0,   0,   2,   104, 105, 98,
                           255, 255, 255, 255, 97,  255, 98,  0,   0,   1,   0,
                           97,  255, 97,  97,  70,  63,  248, 0,   0,   0,   0,
                           0,   0,   70,  64,  143, 64,  0,   0,   0,   0,   0,
                           108, 0,   0,   0,   1,   119, 1,   97,  119, 1,   98,
                           106, 104, 0,   109, 0,   0,   0,   0}},
    {"#{a => 1, b => [1,2,3], c => #{}}.", 27,
     (const uint8_t[]){116, 0, 0, 0, 3, 119, 1, 97, 97,  1, 119, 1, 98, 107,
                       0,   3, 1, 2, 3, 119, 1, 99, 116, 0, 0,   0, 0}},
    {"\"a\\x{20ac}\".", 13,
     (const uint8_t[]){108, 0, 0, 0, 2, 97, 97, 98, 0, 0, 32, 172, 106}},
    {"[18446744073709551615, -9223372036854775808, 4294967296, 214748364"
     "8, 134217727, -134217728].",
     53, (const uint8_t[]){108, 0,   0,   0,   6,   110, 8, 0, 255, 255, 255,
                           255, 255, 255, 255, 255, 110, 8, 1, 0,   0,   0,
                           0,   0,   0,   0,   128, 110, 5, 0, 0,   0,   0,
                           0,   1,   110, 4,   0,   0,   0, 0, 128, 98,  7,
                           255, 255, 255, 98,  248, 0,   0, 0, 106}},
    {"['caf\xc3"
     "\xa9"
     "', caf\xc3"
     "\xa9"
     ", '\xce"
     "\xb1"
     "', 'with space',"
     " '', '\\''].",
     41,
     (const uint8_t[]){108, 0,   0,   0,   6,   119, 5,   99,  97,  102, 195,
                       169, 119, 5,   99,  97,  102, 195, 169, 119, 2,   206,
                       177, 119, 10,  119, 105, 116, 104, 32,  115, 112, 97,
                       99,  101, 119, 0,   119, 1,   39,  106}},
    {"[[1,2|[3]], [$a|\"bc\"], [1|2], [a,b|c], \"\", [[]], \"\\x{ff}\\x{"
     "100}\"].",
     62,
     (const uint8_t[]){108, 0,   0,   0,   7,   107, 0,   3,   1,   2,   3,
                       107, 0,   3,   97,  98,  99,  108, 0,   0,   0,   1,
                       97,  1,   97,  2,   108, 0,   0,   0,   2,   119, 1,
                       97,  119, 1,   98,  119, 1,   99,  106, 108, 0,   0,
                       0,   1,   106, 106, 108, 0,   0,   0,   2,   97,  255,
                       98,  0,   0,   1,   0,   106, 106}},
    {"{-0.5, 1.0e-300, 123456789.125, 0.1}.", 38,
     (const uint8_t[]){104, 4,   70,  191, 224, 0,   0,   0,   0,   0,
                       0,   70,  1,   165, 110, 31,  194, 248, 243, 89,
                       70,  65,  157, 111, 52,  84,  128, 0,   0,   70,
                       63,  185, 153, 153, 153, 153, 153, 154}},
    {"<<\"\xe2"
     "\x82"
     "\xac"
     "\"/utf8, 255, 256, -1, $a>>.",
     12, (const uint8_t[]){109, 0, 0, 0, 7, 226, 130, 172, 255, 0, 255, 97}},
    {"{foo_Bar@x, aB9_@, 'Foo', node@host}.", 36,
     (const uint8_t[]){104, 4,   119, 9,   102, 111, 111, 95,  66,
                       97,  114, 64,  120, 119, 5,   97,  66,  57,
                       95,  64,  119, 3,   70,  111, 111, 119, 9,
                       110, 111, 100, 101, 64,  104, 111, 115, 116}},
    /* external funs, as a verify_fun names one (OTP 29's bytes) */
    {"[{verify_fun, {fun inet_tls_dist:verify_client/3, []}},"
     " fun 'a b':'C'/0, fun m:f/255].",
     76,
     (const uint8_t[]){108, 0,   0,   0,   3,   104, 2,   119, 10,  118, 101,
                       114, 105, 102, 121, 95,  102, 117, 110, 104, 2,   113,
                       119, 13,  105, 110, 101, 116, 95,  116, 108, 115, 95,
                       100, 105, 115, 116, 119, 13,  118, 101, 114, 105, 102,
                       121, 95,  99,  108, 105, 101, 110, 116, 97,  3,   106,
                       113, 119, 3,   97,  32,  98,  119, 1,   67,  97,  0,
                       113, 119, 1,   109, 119, 1,   102, 97,  255, 106}},
};

#define N_VECTORS (sizeof vectors / sizeof vectors[0])

Test(termtext, matches_otp_term_to_binary)
{
    for (size_t i = 0; i < N_VECTORS; i++)
        check_bytes(vectors[i].text, vectors[i].etf, vectors[i].len);
}

Test(termtext, many_terms_in_one_text)
{
    char text[4096] = "";
    for (size_t i = 0; i < N_VECTORS; i++) {
        strcat(text, vectors[i].text);
        strcat(text, i % 2 ? "\n" : "  % a comment\n\n");
    }
    ei_x_buff x = parse_ok(text);
    check_walkable(&x);
    for (size_t i = 0; i < N_VECTORS; i++) {
        int start, end;
        term_bounds(&x, (int)i, &start, &end);
        cr_assert_eq((size_t)(end - start), vectors[i].len);
        cr_assert_arr_eq(x.buff + start, vectors[i].etf, vectors[i].len);
    }
    ei_x_free(&x);
}

Test(termtext, the_harness_optfile_with_layout)
{
    const char *text =
        "%% written by the test harness\n"
        "[{server,[{certfile,\"/tmp/x/node.pem\"},"
        "{keyfile,\"/tmp/x/node.key\"},{cacertfile,\"/tmp/x/ca.pem\"},\n"
        "          {verify,verify_peer},{fail_if_no_peer_cert,true},"
        "{secure_renegotiate,true}]},\r\n"
        " {client,[{certfile,\"/tmp/x/node.pem\"},"
        "{keyfile,\"/tmp/x/node.key\"},{cacertfile,\"/tmp/x/ca.pem\"},\n"
        "\t{verify,verify_peer},{secure_renegotiate,true},"
        "{server_name_indication,disable}]}].   \n";
    ei_x_buff x = parse_ok(text);
    int start, end;
    term_bounds(&x, 0, &start, &end);
    cr_assert_eq((size_t)(end - start), vectors[0].len);
    cr_assert_arr_eq(x.buff + start, vectors[0].etf, vectors[0].len);
    ei_x_free(&x);
}

Test(termtext, empty_input_is_an_empty_list)
{
    static const char *const empties[] = {"", "   \n\t ", "% only a comment",
                                          "%% a\n%% b\n"};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        ei_x_buff x = parse_ok(empties[i]);
        cr_assert_eq(x.index, 2);
        cr_assert_eq((uint8_t)x.buff[0], 131);
        cr_assert_eq(x.buff[1], ERL_NIL_EXT);
        ei_x_free(&x);
    }
    ei_x_buff x;
    cr_assert_eq(en_termtext_parse(NULL, 0, &x, NULL), 0);
    ei_x_free(&x);
}

Test(termtext, outer_list_is_never_a_string)
{
    /* term_to_binary([1,2,3]) would be STRING_EXT; the outer list must
     * stay a LIST_EXT so that ei_decode_list_header() reads it. */
    static const uint8_t want[] = {131, 108, 0, 0,  0, 3,  97,
                                   1,   97,  2, 97, 3, 106};
    ei_x_buff x = parse_ok("1. 2. 3.");
    cr_assert_eq(x.index, (int)sizeof want);
    cr_assert_arr_eq(x.buff, want, sizeof want);
    ei_x_free(&x);
}

Test(termtext, string_escapes)
{
    static const uint8_t want[] = {107,  0,    18,   '\n', '\t', '\\', '"',
                                   '\'', 0x41, 0x42, 0x43, 0x53, '4',  ' ',
                                   27,   '\r', '\b', '\f', '\v', 127,  1};
    check_bytes("\"\\n\\t\\\\\\\"\\'\\x41\\x{42}\\103\\1234\\s\\e\\r\\b\\f"
                "\\v\\d\\^a\".",
                want, sizeof want);
    /* Erlang reads an unknown escape as the character itself. */
    static const uint8_t q[] = {107, 0, 2, 'q', '8'};
    check_bytes("\"\\q\\8\".", q, sizeof q);
    /* Octal stops after three digits, and may exceed 255. */
    static const uint8_t big[] = {108, 0, 0, 0, 1, 98, 0, 0, 1, 0, 106};
    check_bytes("\"\\400\".", big, sizeof big);
    /* A backslash before a newline is a newline. */
    static const uint8_t nl[] = {107, 0, 1, '\n'};
    check_bytes("\"\\\n\".", nl, sizeof nl);
}

Test(termtext, strings_concatenate_and_span_lines)
{
    static const uint8_t want[] = {107, 0, 6, 'a', 'b', '\n', 'c', 'd', 'e'};
    check_bytes("\"a\" \"b\n\" % comment\n \"cd\"\"e\".", want, sizeof want);
    static const uint8_t nil[] = {106};
    check_bytes("\"\" \"\".", nil, sizeof nil);
}

Test(termtext, quoted_atoms)
{
    static const uint8_t q1[] = {119, 3, 'a', '\'', 'b'};
    check_bytes("'a\\'b'.", q1, sizeof q1);
    static const uint8_t q2[] = {119, 3, 'A', 'A', '\n'};
    check_bytes("'\\x41\\101\\n'.", q2, sizeof q2);
    static const uint8_t q3[] = {119, 3, 'e', 'n', 'd'};
    check_bytes("'end'.", q3, sizeof q3);
    static const uint8_t q4[] = {119, 5, 'a', 0xC4, 0x80, 'c', '\n'};
    check_bytes("'a\\x{100}c\n'.", q4, sizeof q4);
}

Test(termtext, atom_length_limit)
{
    char text[600];
    memset(text, 'a', 255);
    strcpy(text + 255, ".");
    ei_x_buff x = parse_ok(text);
    ei_x_free(&x);
    memset(text, 'a', 256);
    strcpy(text + 256, ".");
    check_error(text, 1, 1, "at most 255");
    /* 255 two-byte characters are fine: the limit counts characters. */
    text[0] = '\'';
    for (int i = 0; i < 255; i++)
        memcpy(text + 1 + 2 * i, "\xC3\xA9", 2);
    strcpy(text + 511, "'.");
    x = parse_ok(text);
    ei_x_free(&x);
    strcpy(text + 511, "\xC3\xA9'.");
    check_error(text, 1, 1, "at most 255");
}

Test(termtext, integers)
{
    static const uint8_t ints[] = {
        108, 0,   0,   0,   10,  97,  0,   97, 255, 98, 0,   0,   1,   0,
        98,  255, 255, 255, 255, 97,  5,   97, 255, 98, 255, 255, 255, 240,
        97,  97,  98,  255, 255, 255, 159, 98, 0,   15, 66,  64,  106};
    check_bytes("[0, 255, 256, -1, 2#101, 36#73, -16#10, $a, -$a, 1_000_000].",
                ints, sizeof ints);
    static const uint8_t plus[] = {97, 7};
    check_bytes("+ 7.", plus, sizeof plus);
    static const uint8_t spaced[] = {98, 255, 255, 255, 249};
    check_bytes("- % sign and number may be apart\n 7.", spaced, sizeof spaced);
    static const uint8_t lead0[] = {97, 12};
    check_bytes("00012.", lead0, sizeof lead0);
}

Test(termtext, integers_between_2e27_and_2e31)
{
    /* ei writes these as SMALL_BIG_EXT where OTP writes INTEGER_EXT: the
     * same terms, which ei_decode_long() and binary_to_term/1 both read. */
    ei_x_buff x = parse_ok("[2147483647, -2147483648, 134217728].");
    int idx = 0, version, arity;
    long long want[] = {2147483647LL, -2147483648LL, 134217728LL};
    ei_decode_version(x.buff, &idx, &version);
    ei_decode_list_header(x.buff, &idx, &arity);
    ei_decode_list_header(x.buff, &idx, &arity);
    for (int i = 0; i < 3; i++) {
        long long v;
        cr_assert_eq(ei_decode_longlong(x.buff, &idx, &v), 0);
        cr_assert_eq(v, want[i]);
    }
    ei_x_free(&x);
}

Test(termtext, char_literals)
{
    static const uint8_t want[] = {108, 0,   0,  0, 6,    97,   ' ',
                                   97,  ' ', 97, 1, 97,   31,   97,
                                   'A', 98,  0,  0, 0x20, 0xAC, 106};
    check_bytes("[$ , $\\s, $\\^A, $\\^?, $\\x{41}, $\xE2\x82\xAC].", want,
                sizeof want);
    static const uint8_t nl[] = {97, '\n'};
    check_bytes("$\n.", nl, sizeof nl);
}

Test(termtext, floats)
{
    ei_x_buff x = parse_ok("[1.5, 1.0e3, 1.5E-3, 1_0.5, 01.50, -0.0, 2.5e+2, "
                           "1.0e-400].");
    int idx = 0, version, arity;
    double want[] = {1.5, 1000.0, 0.0015, 10.5, 1.5, -0.0, 250.0, 0.0};
    ei_decode_version(x.buff, &idx, &version);
    ei_decode_list_header(x.buff, &idx, &arity);
    ei_decode_list_header(x.buff, &idx, &arity);
    cr_assert_eq(arity, 8);
    for (int i = 0; i < arity; i++) {
        double d;
        cr_assert_eq(ei_decode_double(x.buff, &idx, &d), 0);
        cr_assert_eq(d, want[i], "float %d: %g, want %g", i, d, want[i]);
    }
    ei_x_free(&x);
}

Test(termtext, binaries)
{
    static const uint8_t empty[] = {109, 0, 0, 0, 0};
    check_bytes("<<>>.", empty, sizeof empty);
    check_bytes("<< >>.", empty, sizeof empty);
    static const uint8_t mix[] = {109, 0, 0, 0,    8,   'a', 'b',
                                  'c', 1, 2, 0xAC, 'a', 159};
    check_bytes("<<\"ab\" \"c\", 1, 16#2, \"\xE2\x82\xAC\", $a, -$a>>.", mix,
                sizeof mix);
    static const uint8_t utf8[] = {109, 0, 0, 0, 4, 'a', 0xE2, 0x82, 0xAC};
    check_bytes("<<$a/utf8, 16#20AC/utf8>>.", utf8, sizeof utf8);
}

Test(termtext, lists_and_tails)
{
    static const uint8_t improper[] = {108, 0,   0,  0, 2,   119,
                                       1,   'a', 97, 1, 104, 0};
    check_bytes("[a, 1 | {}].", improper, sizeof improper);
    static const uint8_t spliced[] = {108, 0,   0,   0, 4,   119, 1, 'a', 119,
                                      1,   'b', 119, 1, 'c', 97,  1, 106};
    check_bytes("[a|[b|[c|[1]]]].", spliced, sizeof spliced);
    static const uint8_t nil_tail[] = {108, 0, 0, 0, 1, 119, 1, 'a', 106};
    check_bytes("[a|[]].", nil_tail, sizeof nil_tail);
    check_bytes("[a|\"\"].", nil_tail, sizeof nil_tail);
    static const uint8_t str[] = {107, 0, 3, 'x', 'y', 'z'};
    check_bytes("[$x|\"y\" \"z\"].", str, sizeof str);
}

Test(termtext, tuples_and_parentheses)
{
    static const uint8_t want[] = {104, 2, 104, 0, 104, 1, 119, 1, 'a'};
    check_bytes("{ {}, { (a) } }.", want, sizeof want);
    /* A tuple of 300 elements needs LARGE_TUPLE_EXT. */
    char text[1024] = "{";
    for (int i = 0; i < 300; i++)
        strcat(text, i ? ",1" : "1");
    strcat(text, "}.");
    ei_x_buff x = parse_ok(text);
    int start, end, arity;
    term_bounds(&x, 0, &start, &end);
    cr_assert_eq(ei_decode_tuple_header(x.buff, &start, &arity), 0);
    cr_assert_eq(arity, 300);
    ei_x_free(&x);
}

Test(termtext, maps_keep_the_last_of_repeated_keys)
{
    /* #{a => 2, "\x01" => c}: [1] and "\x01" are the same key, in Erlang
     * as here. */
    static const uint8_t want[] = {116, 0,   0, 0, 2, 119, 1, 'a', 97,
                                   2,   107, 0, 1, 1, 119, 1, 'c'};
    check_bytes("#{a => 1, [1] => b, a => 2, \"\\x01\" => c}.", want,
                sizeof want);
    static const uint8_t empty[] = {116, 0, 0, 0, 0};
    check_bytes("#{}.", empty, sizeof empty);
}

Test(termtext, latin1_coding_comment)
{
    static const uint8_t want[] = {119, 5, 'c', 'a', 'f', 0xC3, 0xA9};
    check_bytes("%% -*- coding: latin-1 -*-\n'caf\xE9'.", want, sizeof want);
    check_bytes("\n%% coding=LATIN1\n'caf\xE9'.", want, sizeof want);
    /* Latin-1 bytes in a string are its characters. */
    static const uint8_t str[] = {107, 0, 1, 0xE9};
    check_bytes("%% coding: latin-1\n\"\xE9\".", str, sizeof str);
    /* Only the first two lines count. */
    check_error("\n\n%% coding: latin-1\n'caf\xE9'.", 4, 5, "invalid UTF-8");
}

Test(termtext, error_positions_count_characters)
{
    check_error("'caf\xC3\xA9' x.", 1, 8, "found atom 'x'");
    check_error("{\"\xE2\x82\xAC\xE2\x82\xAC\" ]", 1, 7, "',' or '}'");
    check_error("a.\r\n  b c.", 2, 5, "found atom 'c'");
}

Test(termtext, no_error_struct_needed)
{
    ei_x_buff x;
    cr_assert_eq(en_termtext_parse("[a", 2, &x, NULL), -1);
    cr_assert_null(x.buff);
}

/* ------------------------------------------------------------------ */
/* Broken input                                                        */
/* ------------------------------------------------------------------ */

Test(termtext, unterminated)
{
    check_error("a.\n  [\"abc\n\n", 2, 4, "unterminated string");
    check_error("'abc", 1, 1, "unterminated quoted atom");
    check_error("\"abc\\", 1, 1, "unterminated string");
    check_error("<<1,2", 1, 6,
                "',' or '>>' in the binary opened at line 1, "
                "column 1");
    check_error("<<\"a\"", 1, 6, "found the end of the input");
    check_error("{a, [b", 1, 7, "list opened at line 1, column 5");
    check_error("$", 1, 1, "'$' at the end");
    check_error("$\\", 1, 1, "unterminated escape");
    check_error("#{a => ", 1, 8, "expected a term, found the end");
}

Test(termtext, bad_escapes)
{
    check_error("\"ab\\x4\".", 1, 4, "two hex digits");
    check_error("\"\\xZZ\".", 1, 2, "two hex digits");
    check_error("\"\\x{}\".", 1, 2, "hex digits and '}'");
    check_error("\"\\x{41\".", 1, 2, "hex digits and '}'");
    check_error("\"\\x{ 41}\".", 1, 2, "hex digits and '}'");
    check_error("'\\x{110000}'.", 1, 2, "beyond U+10FFFF");
    check_error("\"\\x{FFFFFFFFFFFFFFFFFFFF}\".", 1, 2, "beyond U+10FFFF");
    check_error("\"\\x{D800}\".", 1, 2, "surrogate");
    check_error("$\\x{DFFF}.", 1, 2, "surrogate");
}

Test(termtext, missing_dot)
{
    check_error("a", 1, 2, "missing '.'");
    check_error("[a]\n", 2, 1,
                "missing '.' at the end of the term that "
                "starts at line 1, column 1");
    check_error("a.\n{b}\n% no dot\n", 4, 1, "starts at line 2, column 1");
    check_error("a b.", 1, 3, "expected '.'");
    check_error("a.b.", 1, 2, "must be followed by whitespace");
    check_error("1.\n2", 2, 2, "missing '.'");
}

Test(termtext, unbalanced_brackets)
{
    check_error("[a}.", 1, 3, "',', '|' or ']'");
    check_error("{a].", 1, 3, "',' or '}'");
    check_error("[a]].", 1, 4, "expected '.'");
    check_error("}.", 1, 1, "expected a term, found '}'");
    check_error("[a|b|c].", 1, 5, "']' after the tail");
    check_error("{a,}.", 1, 4, "expected a term, found '}'");
    check_error("[a,].", 1, 4, "expected a term, found ']'");
    check_error("<<1,>>.", 1, 5, "found '>>'");
    check_error("#{a=>1,}.", 1, 8, "expected a term");
    check_error("((a).", 1, 5, "')'");
    check_error("< <1>>.", 1, 1, "expected a term, found '<'");
}

Test(termtext, deep_nesting)
{
    size_t n = 10000;
    char *text = malloc(2 * n + 2);
    memset(text, '[', n);
    memset(text + n, ']', n);
    strcpy(text + 2 * n, ".");
    check_error(text, 1, EN_TERMTEXT_MAX_DEPTH + 1, "nested more than 100");
    for (size_t i = 0; i < n; i++)
        text[i] = "{[(#"[i % 3];
    check_error_len(text, n, 1, EN_TERMTEXT_MAX_DEPTH + 1, "nested");
    /* Exactly the limit is fine. */
    int d = EN_TERMTEXT_MAX_DEPTH;
    memset(text, '{', (size_t)d);
    memset(text + d, '}', (size_t)d);
    strcpy(text + 2 * d, ".");
    ei_x_buff x = parse_ok(text);
    check_walkable(&x);
    ei_x_free(&x);
    /* Tails count too: [a|[a|[a|...]]] */
    text[0] = 0;
    for (int i = 0; i < 150; i++)
        strcat(text, "[a|");
    check_error(text, 1, 3 * EN_TERMTEXT_MAX_DEPTH + 1, "nested");
    free(text);
}

Test(termtext, numbers_out_of_range)
{
    check_error("18446744073709551616.", 1, 1, "integer too large");
    check_error("[1, 99999999999999999999999999999].", 1, 5, "too large");
    check_error("-9223372036854775809.", 1, 2, "too large");
    check_error("16#10000000000000000.", 1, 1, "too large");
    check_error("1.0e400.", 1, 1, "float out of range");
    check_error("-1.0e999.", 1, 2, "float out of range");
    check_error("37#1.", 1, 1, "base");
    check_error("1#1.", 1, 1, "base");
    check_error("99999999999999999999999#1.", 1, 1, "base");
    check_error("2#.", 1, 1, "no base-2 digits");
    check_error("16#g.", 1, 1, "no base-16 digits");
    check_error("1.0e.", 1, 1, "exponent");
    check_error("2#102.", 1, 5, "expected '.'");
}

Test(termtext, nul_bytes)
{
    check_error_len("a.\n\0b.", 6, 2, 1, "NUL byte");
    check_error_len("\"ab\0\".", 6, 1, 4, "NUL byte");
    check_error_len("\0", 1, 1, 1, "NUL byte");
    check_error_len("'x\0", 3, 1, 3, "NUL byte");
    /* In a comment it is only a comment. */
    ei_x_buff x = parse_ok_len("% \0\na.", 6);
    ei_x_free(&x);
}

Test(termtext, invalid_utf8)
{
    check_error("'caf\xE9'.", 1, 5, "invalid UTF-8 byte 0xE9");
    check_error("\"\xC0\xAF\".", 1, 2, "invalid UTF-8");         /* overlong */
    check_error("\"\xED\xA0\x80\".", 1, 2, "invalid UTF-8");     /* surrogate */
    check_error("\"\xF4\x90\x80\x80\".", 1, 2, "invalid UTF-8"); /* > max */
    check_error("\"\xE2\x82\".", 1, 2, "invalid UTF-8");         /* truncated */
    check_error("\xEF\xBB\xBF"
                "a.",
                1, 1, "byte order mark");
}

Test(termtext, not_literal_terms)
{
    check_error("Foo.", 1, 1, "variable 'Foo' is not a term");
    check_error("[_].", 1, 2, "variable '_'");
    check_error("[end].", 1, 2, "'end' is a reserved word");
    check_error("{ok, fun}.", 1, 6, "only external funs");
    check_error("fun (X) -> X end.", 1, 1, "only external funs");
    check_error("fun f/1.", 1, 1, "only external funs");
    check_error("fun M:f/1.", 1, 1, "only external funs");
    check_error("fun m:f/256.", 1, 1, "arity of a fun");
    check_error("fun m:f/a.", 1, 1, "arity of a fun");
    check_error("fun m:f.", 1, 1, "only external funs");
    check_error("a:b().", 1, 2, "found ':'");
    check_error("- - 1.", 1, 1, "'-' must be followed by a number");
    check_error("-a.", 1, 1, "'-' must be followed by a number");
    check_error("#rec{a=1}.", 1, 1, "records are not supported");
    check_error("#{a:=1}.", 1, 4, "':='");
    check_error("<<1:8>>.", 1, 4, "sizes");
    check_error("<<\"a\"/binary>>.", 1, 6, "/utf8");
    check_error("<<a>>.", 1, 3, "found atom 'a'");
    check_error("<<1.5>>.", 1, 3, "found a float");
    check_error("<<-$a/utf8>>.", 1, 3, "not a Unicode character");
    check_error("\xE2\x82\xAC.", 1, 1,
                "unexpected character '\xE2\x82\xAC' "
                "(U+20AC)");
    check_error("1 + 2.", 1, 3, "expected '.'");
    check_error(".", 1, 1, "expected a term, found '.'");
}

/* ------------------------------------------------------------------ */
/* Robustness                                                          */
/* ------------------------------------------------------------------ */

/* Whatever the input, either an output that ei can walk or an error
 * placed inside the text. */
static void check_any(const char *text, size_t len)
{
    ei_x_buff x;
    en_termtext_error_t err;
    if (en_termtext_parse(text, len, &x, &err) == 0) {
        check_walkable(&x);
        ei_x_free(&x);
        return;
    }
    cr_assert_null(x.buff);
    cr_assert_str_neq(err.msg, "");
    int lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    cr_assert(err.line >= 1 && err.line <= lines && err.column >= 1 &&
                  (size_t)err.column <= len + 1,
              "error outside the text: %d:%d (%s)", err.line, err.column,
              err.msg);
}

Test(termtext, random_garbage)
{
    static const char alphabet[] = "[]{}()<>#$,.|-+=:/%\"'\\ \n\t"
                                   "abcXYZ_@019eExu\x80\xC3\xA9\xE2\x82\xAC";
    char text[256];
    srand(12345);
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand() % (int)sizeof text);
        int bytes = round % 2; /* half any byte, half from the alphabet */
        for (size_t i = 0; i < len; i++)
            text[i] = bytes ? (char)rand()
                            : alphabet[rand() % (int)(sizeof alphabet - 1)];
        check_any(text, len);
    }
}

Test(termtext, every_prefix_and_mutation_of_a_valid_file)
{
    const char *valid = vectors[0].text;
    size_t len = strlen(valid);
    char *text = malloc(len + 1);
    for (size_t cut = 0; cut < len; cut++)
        check_any(valid, cut);
    static const char swaps[] = "\0\"'[]{}.,\\<>#$|a";
    for (size_t at = 0; at < len; at++) {
        for (size_t s = 0; s < sizeof swaps - 1; s++) {
            memcpy(text, valid, len);
            text[at] = swaps[s];
            check_any(text, len);
        }
    }
    free(text);
}

Test(termtext, long_inputs_stay_linear)
{
    /* A long string and a long list: ei on its own would grow its buffer
     * 200 bytes at a time. */
    size_t n = 1024 * 1024;
    char *text = malloc(n + 8);
    text[0] = '"';
    memset(text + 1, 'x', n);
    strcpy(text + 1 + n, "\".");
    ei_x_buff x = parse_ok(text);
    int start, end;
    term_bounds(&x, 0, &start, &end);
    cr_assert_eq(end - start, 2 * (int)n + 6); /* LIST_EXT of small ints */
    ei_x_free(&x);
    text[0] = '[';
    for (size_t i = 1; i + 2 < n; i += 2)
        memcpy(text + i, "a,", 2);
    strcpy(text + n - 1 - (n % 2 == 0), "a].");
    x = parse_ok(text);
    check_walkable(&x);
    ei_x_free(&x);
    free(text);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

Test(termtext, parse_file)
{
    char path[] = "/tmp/enode-termtext-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *text = "{a, \"b\"}.\n[c].\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ei_x_buff x;
    en_termtext_error_t err;
    cr_assert_eq(en_termtext_parse_file(path, &x, &err), 0, "%s", err.msg);
    check_walkable(&x);
    ei_x_free(&x);
    unlink(path);
    cr_assert_eq(en_termtext_parse_file(path, &x, &err), -1);
    cr_assert_null(x.buff);
    cr_assert_eq(err.line, 0);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "No such file"), "%s",
              err.msg);
    cr_assert_eq(en_termtext_parse_file("/tmp", &x, &err), -1);
    cr_assert(strstr(err.msg, "cannot read /tmp"), "%s", err.msg);
}
