/* tlsconf_args.c - where options come from: the -ssl_dist_opt pairs,
 * each string turned into the term OTP's inet_tls_dist makes of it, and
 * the one term of an ssl_dist_optfile, read as file:consult/1 reads it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "base/errmsg.h"
#include "proto/termtext.h"
#include "tls/tlsconf_int.h"

/* ------------------------------------------------------------------ */
/* -ssl_dist_opt                                                       */
/* ------------------------------------------------------------------ */

/* list_to_integer/1: an optional sign and decimal digits, nothing else. */
static int parse_integer(const char *s, long long *out)
{
    char *end;
    if (!*s || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno || *end ? -1 : 0;
}

int tc_encode_term_text(ei_x_buff *x, const char *value)
{
    size_t len = strlen(value);
    char *text = malloc(len + 2);
    if (!text)
        return -1;
    memcpy(text, value, len);
    len = len > 0 && value[len - 1] == '.' ? len : (text[len++] = '.', len);
    ei_x_buff t;
    int r = en_termtext_parse(text, len, &t, NULL);
    free(text);
    if (r < 0)
        return -2;
    int idx = 0, version, count;
    ei_decode_version(t.buff, &idx, &version);
    if (ei_decode_list_header(t.buff, &idx, &count) < 0 || count != 1) {
        ei_x_free(&t);
        return -2;
    }
    int start = idx;
    ei_skip_term(t.buff, &idx);
    r = ei_x_append_buf(x, t.buff + start, idx - start);
    ei_x_free(&t);
    return r;
}

static int encode_arg(ei_x_buff *x, enum conv conv, const char *value)
{
    size_t len = strlen(value);
    long long n;
    switch (conv) {
    case AS_INTEGER:
        return parse_integer(value, &n) < 0 ? -2 : ei_x_encode_longlong(x, n);
    case AS_ATOM_LIST:
        if (ei_x_encode_list_header(x, 1) < 0)
            return -1;
        /* fall through */
    case AS_ATOM:
        /* ei refuses only atoms too long or not UTF-8 */
        if (len >= MAXATOMLEN_UTF8 ||
            ei_x_encode_atom_len_as(x, value, (int)len, ERLANG_UTF8,
                                    ERLANG_UTF8) < 0)
            return -2;
        return conv == AS_ATOM_LIST ? ei_x_encode_empty_list(x) : 0;
    case AS_ATOM_OR_STRING:
        if (strcmp(value, "disable") == 0)
            return ei_x_encode_atom(x, value);
        /* fall through */
    case AS_STRING:
    case OPTFILE_ONLY:
        break;
    case AS_TERM:
        return tc_encode_term_text(x, value);
    case AS_VERIFY_FUN:
        return tc_verify_fun_arg(x, value);
    }
    /* A binary keeps the bytes of a UTF-8 file name exactly as given. */
    return len > INT_MAX ? -2 : ei_x_encode_binary(x, value, (int)len);
}

/* The side that a -ssl_dist_opt key names by its prefix, or NULL. */
static en_tls_side_t *side_of_key(en_tls_conf_t *conf, const char *key,
                                  const char **side_name)
{
    if (strncmp(key, "server_", 7) == 0) {
        *side_name = "server";
        return &conf->server;
    }
    if (strncmp(key, "client_", 7) == 0) {
        *side_name = "client";
        return &conf->client;
    }
    return NULL;
}

int en_tls_conf_set_opt(en_tls_conf_t *conf, const char *key, const char *value,
                        char *err, size_t errlen)
{
    const char *side_name;
    if (!key || !value)
        return en_errf(err, errlen,
                       "-ssl_dist_opt: a name and a value are needed");
    en_tls_side_t *side = side_of_key(conf, key, &side_name);
    if (!side)
        return en_errf(err, errlen,
                       "-ssl_dist_opt %s: the name must start with server_ or "
                       "client_",
                       key);
    const char *name = key + 7;
    char where[160];
    snprintf(where, sizeof where, "-ssl_dist_opt %.100s", key);
    const option_t *o = tc_find_option(name);
    if (!o)
        return tc_unknown_option(where, err, errlen);
    if (o->conv == OPTFILE_ONLY)
        return en_errf(err, errlen,
                       "%s: erl does not take %s as -ssl_dist_opt; "
                       "put it in an ssl_dist_optfile",
                       where, name);
    if (side->from_optfile) {
        tc_warn(conf,
                "%s is ignored: the ssl_dist_optfile has a %s entry, "
                "which wins, as in OTP",
                where, side_name);
        return 0;
    }
    ei_x_buff x;
    if (ei_x_new(&x) < 0)
        return en_errf(err, errlen, "%s: out of memory", where);
    int r = encode_arg(&x, o->conv, value);
    if (r == -2)
        r = en_errf(err, errlen, "%s: \"%.60s\" is not %s", where, value,
                    o->conv == AS_INTEGER ? "an integer" : "a valid value");
    else if (r < 0)
        r = en_errf(err, errlen, "%s: out of memory", where);
    else
        r = tc_apply_option(conf, side, side_name, where, name, x.buff, 0, err,
                            errlen);
    ei_x_free(&x);
    return r;
}

/* ------------------------------------------------------------------ */
/* -ssl_dist_optfile                                                   */
/* ------------------------------------------------------------------ */

/* What the optfile must hold, for error messages. */
#define OPTFILE_SHAPE "[{server, Options}, {client, Options}]."

/* The options list of one side: [{Name, Value}, ...]. */
static int read_options(en_tls_conf_t *conf, en_tls_side_t *side,
                        const char *side_name, const char *path,
                        const char *buf, int *idx, char *err, size_t errlen)
{
    int type, size, arity;
    char text[80];
    ei_get_type(buf, idx, &type, &size);
    if ((type != ERL_LIST_EXT && type != ERL_NIL_EXT) ||
        ei_decode_list_header(buf, idx, &arity) < 0)
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s: the %s options must be "
                       "a list of {Name, Value}, not %s",
                       path, side_name, tc_show(buf, *idx, text, sizeof text));
    for (int i = 0; i < arity; i++) {
        char name[MAXATOMLEN_UTF8], where[320];
        int at = *idx, pair;
        if (ei_decode_tuple_header(buf, idx, &pair) < 0 || pair != 2 ||
            ei_decode_atom_as(buf, idx, name, sizeof name, ERLANG_UTF8, NULL,
                              NULL) < 0)
            return en_errf(err, errlen,
                           "ssl_dist_optfile %s: in the %s options, "
                           "%s is not a {Name, Value} pair",
                           path, side_name,
                           tc_show(buf, at, text, sizeof text));
        snprintf(where, sizeof where,
                 "ssl_dist_optfile %.200s: %.16s option %.64s", path, side_name,
                 name);
        if (tc_apply_option(conf, side, side_name, where, name, buf, *idx, err,
                            errlen) < 0)
            return -1;
        ei_skip_term(buf, idx);
    }
    if (arity > 0 && (ei_decode_list_header(buf, idx, &arity) < 0 || arity))
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s: the %s options must be "
                       "a proper list",
                       path, side_name);
    if (side->n_eccs > 0 && side->versions == EN_TLS_V13)
        tc_warn(
            conf,
            "ssl_dist_optfile %s: %s option eccs has no effect with TLS 1.3 "
            "only (nor in OTP): use supported_groups",
            path, side_name);
    return 0;
}

/* One {server, Options} or {client, Options}.  Like OTP, which only ever
 * looks these two up, ignore other tuples; a later entry replaces an
 * earlier one for the same side. */
static int read_section(en_tls_conf_t *conf, const char *path, const char *buf,
                        int *idx, char *err, size_t errlen)
{
    char key[MAXATOMLEN_UTF8], text[80];
    int at = *idx, arity;
    if (ei_decode_tuple_header(buf, idx, &arity) < 0 || arity < 1 ||
        ei_decode_atom_as(buf, idx, key, sizeof key, ERLANG_UTF8, NULL, NULL) <
            0) {
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s: expected {server, "
                       "Options} or {client, Options}, found %s",
                       path, tc_show(buf, at, text, sizeof text));
    }
    int is_server = strcmp(key, "server") == 0;
    if (!is_server && strcmp(key, "client") != 0) {
        tc_warn(conf,
                "ssl_dist_optfile %s: %s is ignored; only server and "
                "client entries are read",
                path, tc_show(buf, at, text, sizeof text));
        *idx = at;
        return ei_skip_term(buf, idx);
    }
    if (arity != 2)
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s: expected {%s, Options}, "
                       "found %s",
                       path, key, tc_show(buf, at, text, sizeof text));
    en_tls_side_t *side = is_server ? &conf->server : &conf->client;
    tc_side_free(side);
    side->from_optfile = 1;
    return read_options(conf, side, key, path, buf, idx, err, errlen);
}

/* The one term of the file: a list of sections (or a single section, which
 * OTP's ets:insert/2 also takes). */
static int read_sections(en_tls_conf_t *conf, const char *path, const char *buf,
                         char *err, size_t errlen)
{
    int idx = 0, version, count, type, size;
    char text[80];
    ei_decode_version(buf, &idx, &version);
    ei_decode_list_header(buf, &idx, &count);
    if (count != 1)
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s %s; it must hold one "
                       "term, " OPTFILE_SHAPE,
                       path, count ? "holds more than one term" : "is empty");
    ei_get_type(buf, &idx, &type, &size);
    if (type == ERL_SMALL_TUPLE_EXT || type == ERL_LARGE_TUPLE_EXT)
        return read_section(conf, path, buf, &idx, err, errlen);
    if (type == ERL_NIL_EXT)
        return 0;
    if (type != ERL_LIST_EXT || ei_decode_list_header(buf, &idx, &count) < 0)
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s must hold " OPTFILE_SHAPE " not %s",
                       path, tc_show(buf, idx, text, sizeof text));
    for (int i = 0; i < count; i++)
        if (read_section(conf, path, buf, &idx, err, errlen) < 0)
            return -1;
    if (ei_decode_list_header(buf, &idx, &count) < 0 || count != 0)
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s: the list of entries "
                       "must be a proper list",
                       path);
    return 0;
}

int en_tls_conf_read_optfile(en_tls_conf_t *conf, const char *path, char *err,
                             size_t errlen)
{
    ei_x_buff x;
    en_termtext_error_t syntax;
    if (en_termtext_parse_file(path, &x, &syntax) < 0) {
        if (syntax.line == 0)
            return en_errf(err, errlen, "ssl_dist_optfile: %s", syntax.msg);
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s, line %d, column %d: %s", path,
                       syntax.line, syntax.column, syntax.msg);
    }
    int r = read_sections(conf, path, x.buff, err, errlen);
    ei_x_free(&x);
    return r;
}

int en_tls_conf_parse_optfile(en_tls_conf_t *conf, const char *path,
                              const char *text, size_t len, char *err,
                              size_t errlen)
{
    ei_x_buff x;
    en_termtext_error_t syntax;
    if (en_termtext_parse(text, len, &x, &syntax) < 0)
        return en_errf(err, errlen,
                       "ssl_dist_optfile %s, line %d, column %d: %s", path,
                       syntax.line, syntax.column, syntax.msg);
    int r = read_sections(conf, path, x.buff, err, errlen);
    ei_x_free(&x);
    return r;
}
