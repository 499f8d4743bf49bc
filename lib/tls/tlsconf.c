/* tlsconf.c - TLS options from -ssl_dist_optfile / -ssl_dist_opt, and the
 * wolfSSL context they describe.
 *
 * Both sources end in the same place: an option is a name and a value in
 * the external term format.  The optfile gives terms directly (through
 * termtext.c); en_tls_conf_set_opt() first turns its string into the term
 * that OTP's inet_tls_dist makes of it.  One table then says what each
 * option means.
 */
#include "tls/tlsconf.h"

#include "base/buf.h"
#include "proto/termtext.h"
#include "tls/tls_certreq.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ei.h>
#include <wolfssl/wolfcrypt/ecc.h>

#if defined(OPENSSL_EXTRA) && defined(KEEP_OUR_CERT)
#include <wolfssl/openssl/evp.h>
#define HAVE_SIGN_CHECK 1
#endif

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static int say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write a sentence to err (if there is room for one) and return -1. */
static int say(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *copy_string(const char *s, size_t n)
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

/* ------------------------------------------------------------------ */
/* The configuration                                                   */
/* ------------------------------------------------------------------ */

static void side_init(en_tls_side_t *side)
{
    memset(side, 0, sizeof *side);
    side->verify = EN_VERIFY_DEFAULT;
    side->fail_if_no_peer_cert = -1;
    side->depth = -1;
}

static void ctx_states_free(struct en_ctx_state *d);

static void side_free(en_tls_side_t *side)
{
    ctx_states_free(side->ctx_states);
    free(side->certfile);
    free(side->keyfile);
    free(side->cacertfile);
    free(side->password);
    free(side->dhfile);
    free(side->ciphers);
    free(side->sni_host);
    free(side->crl_dir);
    side_init(side);
}

void en_tls_conf_init(en_tls_conf_t *conf)
{
    memset(conf, 0, sizeof *conf);
    side_init(&conf->server);
    side_init(&conf->client);
}

void en_tls_conf_free(en_tls_conf_t *conf)
{
    en_tls_warn_fn *warn = conf->warn;
    void *warn_arg = conf->warn_arg;
    side_free(&conf->server);
    side_free(&conf->client);
    en_tls_conf_init(conf);
    conf->warn = warn;
    conf->warn_arg = warn_arg;
}

static void warn(const en_tls_conf_t *conf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(const en_tls_conf_t *conf, const char *fmt, ...)
{
    if (!conf->warn)
        return;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    conf->warn(conf->warn_arg, message);
}

/* ------------------------------------------------------------------ */
/* Option values                                                       */
/* ------------------------------------------------------------------ */

/* One option being applied: where it came from (for messages), the side
 * it is for, and its value as ETF at buf[index]. */
typedef struct opt_call {
    const struct option *option;
    en_tls_conf_t *conf;
    en_tls_side_t *side;
    const char *where; /* "ssl_dist_optfile F: server option N", ... */
    const char *buf;
    int index;
    char *err;
    size_t errlen;
} opt_call_t;

/* "WHERE: what, not VALUE", with VALUE printed as Erlang would. */
static int bad_value(const opt_call_t *c, const char *what)
{
    char *text = NULL;
    int idx = c->index;
    if (ei_s_print_term(&text, c->buf, &idx) < 0 || !text) {
        free(text); /* ei allocates it even when it fails */
        return say(c->err, c->errlen, "%s: %s", c->where, what);
    }
    int r = say(c->err, c->errlen, "%s: %s, not %.60s%s", c->where, what, text,
                strlen(text) > 60 ? "..." : "");
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

/* A string value: an Erlang string, or a binary (taken as bytes).  The
 * empty string means "not given", as it does in OTP.  *out is malloc'd
 * and NUL-terminated, or NULL for empty. */
static int decode_string(const char *buf, int *idx, char **out)
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
        *out = copy_string((const char *)b.data, b.len);
        r = *out ? 0 : -1;
    } else if (r == 0 && b.len > 0) {
        r = -1; /* a NUL would cut the string short in C */
    }
    en_buf_free(&b);
    return r;
}

static int value_string(const opt_call_t *c, char **out, const char *what)
{
    int idx = c->index;
    if (decode_string(c->buf, &idx, out) < 0)
        return bad_value(c, what);
    return 0;
}

/* The value as an atom, UTF-8, into name[MAXATOMLEN_UTF8]; -1 if it is
 * not an atom. */
static int value_atom(const opt_call_t *c, char *name)
{
    int idx = c->index;
    return ei_decode_atom_as(c->buf, &idx, name, MAXATOMLEN_UTF8, ERLANG_UTF8,
                             NULL, NULL);
}

static int value_bool(const opt_call_t *c, int *out)
{
    char name[MAXATOMLEN_UTF8];
    if (value_atom(c, name) == 0 && strcmp(name, "true") == 0)
        *out = 1;
    else if (value_atom(c, name) == 0 && strcmp(name, "false") == 0)
        *out = 0;
    else
        return bad_value(c, "must be true or false");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Options that enode honours                                          */
/* ------------------------------------------------------------------ */

static int set_file(opt_call_t *c, char **field)
{
    char *path;
    if (value_string(c, &path, "must be a file name (a string)") < 0)
        return -1;
    free(*field);
    *field = path;
    return 0;
}

static int opt_certfile(opt_call_t *c)
{
    return set_file(c, &c->side->certfile);
}

static int opt_keyfile(opt_call_t *c)
{
    return set_file(c, &c->side->keyfile);
}

static int opt_dhfile(opt_call_t *c)
{
    return set_file(c, &c->side->dhfile);
}

static int opt_cacertfile(opt_call_t *c)
{
    return set_file(c, &c->side->cacertfile);
}

static int opt_password(opt_call_t *c)
{
    char *password;
    if (value_string(c, &password, "must be a string") < 0)
        return -1;
    free(c->side->password);
    c->side->password = password;
    return 0;
}

static int opt_verify(opt_call_t *c)
{
    char name[MAXATOMLEN_UTF8];
    if (value_atom(c, name) == 0 && strcmp(name, "verify_peer") == 0)
        c->side->verify = EN_VERIFY_PEER;
    else if (value_atom(c, name) == 0 && strcmp(name, "verify_none") == 0)
        c->side->verify = EN_VERIFY_NONE;
    else
        return bad_value(c, "must be verify_peer or verify_none");
    return 0;
}

static int opt_fail_if_no_peer_cert(opt_call_t *c)
{
    return value_bool(c, &c->side->fail_if_no_peer_cert);
}

static int opt_depth(opt_call_t *c)
{
    int idx = c->index;
    long long depth;
    if (ei_decode_longlong(c->buf, &idx, &depth) < 0 || depth < 0 ||
        depth > INT_MAX)
        return bad_value(c, "must be a non-negative integer");
    c->side->depth = (int)depth;
    return 0;
}

/* One element of `versions`, as a bit, or -1 with a reason in *why. */
static int version_bit(const char *name, const char **why)
{
    if (strcmp(name, "tlsv1.2") == 0)
        return EN_TLS_V12;
    if (strcmp(name, "tlsv1.3") == 0)
        return EN_TLS_V13;
    if (strcmp(name, "tlsv1") == 0 || strcmp(name, "tlsv1.1") == 0 ||
        strcmp(name, "sslv3") == 0)
        *why = "enode speaks TLS 1.2 and 1.3 only";
    else
        *why = "versions must be a list of 'tlsv1.2' and 'tlsv1.3'";
    return -1;
}

static int opt_versions(opt_call_t *c)
{
    int idx = c->index, arity;
    unsigned versions = 0;
    if (ei_decode_list_header(c->buf, &idx, &arity) < 0 || arity == 0)
        return bad_value(c, "must be a non-empty list such as "
                            "['tlsv1.3', 'tlsv1.2']");
    for (int i = 0; i < arity; i++) {
        char name[MAXATOMLEN_UTF8];
        const char *why = "versions must be a list of 'tlsv1.2' and 'tlsv1.3'";
        int bit = ei_decode_atom_as(c->buf, &idx, name, sizeof name,
                                    ERLANG_UTF8, NULL, NULL) < 0
                      ? -1
                      : version_bit(name, &why);
        if (bit < 0)
            return bad_value(c, why);
        versions |= (unsigned)bit;
    }
    if (ei_decode_list_header(c->buf, &idx, &arity) < 0 || arity != 0)
        return bad_value(c, "must be a proper list");
    c->side->versions = versions;
    return 0;
}

/* A list of strings, joined with ':' into *out (NULL if empty). */
static int join_names(const char *buf, int *idx, char **out)
{
    en_buf_t b = EN_BUF_INIT;
    int arity, r = ei_decode_list_header(buf, idx, &arity);
    for (int i = 0; r == 0 && i < arity; i++) {
        char *name;
        r = decode_string(buf, idx, &name);
        if (r == 0 && name && b.len > 0)
            r = en_buf_put8(&b, ':');
        if (r == 0 && name)
            r = en_buf_append(&b, name, strlen(name));
        free(name);
    }
    if (r == 0 && arity > 0 &&
        (ei_decode_list_header(buf, idx, &arity) < 0 || arity != 0))
        r = -1;
    *out = NULL;
    if (r == 0 && b.len > 0 &&
        !(*out = copy_string((const char *)b.data, b.len)))
        r = -1;
    en_buf_free(&b);
    return r;
}

/* ciphers: "A:B" (OpenSSL style) or ["A", "B"]. */
static int opt_ciphers(opt_call_t *c)
{
    int idx = c->index;
    char *ciphers;
    if (decode_string(c->buf, &idx, &ciphers) < 0) {
        idx = c->index;
        if (join_names(c->buf, &idx, &ciphers) < 0)
            return bad_value(c, "must be OpenSSL-style cipher suite names, "
                                "as \"A:B\" or [\"A\", \"B\"] (maps and "
                                "tuples are not supported)");
    }
    free(c->side->ciphers);
    c->side->ciphers = ciphers;
    return 0;
}

static int opt_server_name_indication(opt_call_t *c)
{
    char name[MAXATOMLEN_UTF8], *host;
    if (value_atom(c, name) == 0) {
        if (strcmp(name, "disable") != 0)
            return bad_value(c, "must be disable or a host name (a string)");
        c->side->sni_disable = 1;
        return 0;
    }
    if (value_string(c, &host, "must be disable or a host name (a string)") < 0)
        return -1;
    free(c->side->sni_host);
    c->side->sni_host = host;
    c->side->sni_disable = 0;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Groups and signature algorithms                                     */
/* ------------------------------------------------------------------ */

static const char *show(const char *buf, int idx, char *text, size_t size);

/* The key exchange groups enode can offer, by OTP's names (eccs for TLS
 * 1.2, supported_groups for TLS 1.3) and wolfSSL's. */
static const struct group {
    const char *name, *wolf;
    int ecc_id; /* wolfCrypt's curve, to ask whether it is built in */
} group_table[] = {
    {"x25519", "X25519", -1},
    {"x448", "X448", -1},
    {"secp256r1", "secp256r1", ECC_SECP256R1},
    {"secp384r1", "secp384r1", ECC_SECP384R1},
    {"secp521r1", "secp521r1", ECC_SECP521R1},
};
#define N_GROUPS (int)(sizeof group_table / sizeof group_table[0])

/* Signature algorithms by OTP's names: TLS 1.3 scheme atoms, and
 * {Hash, Sign} tuples (name NULL), each with wolfSSL's name.  wolfSSL has
 * one name for rsa_pss_rsae_* and rsa_pss_pss_*: it offers both. */
static const struct sigalg {
    const char *name, *hash, *sign, *wolf;
} sigalg_table[] = {
    {"ecdsa_secp256r1_sha256", NULL, NULL, "ECDSA+SHA256"},
    {"ecdsa_secp384r1_sha384", NULL, NULL, "ECDSA+SHA384"},
    {"ecdsa_secp521r1_sha512", NULL, NULL, "ECDSA+SHA512"},
    {"ecdsa_sha1", NULL, NULL, "ECDSA+SHA1"},
    {"rsa_pss_rsae_sha256", NULL, NULL, "RSA-PSS+SHA256"},
    {"rsa_pss_rsae_sha384", NULL, NULL, "RSA-PSS+SHA384"},
    {"rsa_pss_rsae_sha512", NULL, NULL, "RSA-PSS+SHA512"},
    {"rsa_pss_pss_sha256", NULL, NULL, "RSA-PSS+SHA256"},
    {"rsa_pss_pss_sha384", NULL, NULL, "RSA-PSS+SHA384"},
    {"rsa_pss_pss_sha512", NULL, NULL, "RSA-PSS+SHA512"},
    {"rsa_pkcs1_sha256", NULL, NULL, "RSA+SHA256"},
    {"rsa_pkcs1_sha384", NULL, NULL, "RSA+SHA384"},
    {"rsa_pkcs1_sha512", NULL, NULL, "RSA+SHA512"},
    {"rsa_pkcs1_sha1", NULL, NULL, "RSA+SHA1"},
    {"ed25519", NULL, NULL, "ED25519"},
    {"ed448", NULL, NULL, "ED448"},
    {NULL, "sha512", "ecdsa", "ECDSA+SHA512"},
    {NULL, "sha384", "ecdsa", "ECDSA+SHA384"},
    {NULL, "sha256", "ecdsa", "ECDSA+SHA256"},
    {NULL, "sha224", "ecdsa", "ECDSA+SHA224"},
    {NULL, "sha", "ecdsa", "ECDSA+SHA1"},
    {NULL, "sha512", "rsa", "RSA+SHA512"},
    {NULL, "sha384", "rsa", "RSA+SHA384"},
    {NULL, "sha256", "rsa", "RSA+SHA256"},
    {NULL, "sha224", "rsa", "RSA+SHA224"},
    {NULL, "sha", "rsa", "RSA+SHA1"},
};
#define N_SIGALGS (int)(sizeof sigalg_table / sizeof sigalg_table[0])

_Static_assert(N_GROUPS <= EN_TLS_MAX_GROUPS, "EN_TLS_MAX_GROUPS too small");
_Static_assert(N_SIGALGS <= EN_TLS_MAX_SIGALGS, "EN_TLS_MAX_SIGALGS too small");

/* Append index i to list[*n] unless it is there. */
static void add_index(unsigned char *list, int *n, int i)
{
    for (int k = 0; k < *n; k++)
        if (list[k] == i)
            return;
    list[(*n)++] = (unsigned char)i;
}

/* A non-empty proper list; *arity gets its length. */
static int list_header(const opt_call_t *c, int *idx, int *arity,
                       const char *what)
{
    *idx = c->index;
    if (ei_decode_list_header(c->buf, idx, arity) < 0 || *arity == 0)
        return bad_value(c, what);
    return 0;
}

static int list_end(const opt_call_t *c, int *idx)
{
    int arity;
    if (ei_decode_list_header(c->buf, idx, &arity) < 0 || arity != 0)
        return bad_value(c, "must be a proper list");
    return 0;
}

/* eccs / supported_groups: a non-empty list of curve atoms. */
static int read_groups(opt_call_t *c, unsigned char *list, int *n)
{
    static const char *const what =
        "must be a non-empty list of x25519, x448, secp256r1, secp384r1 "
        "and secp521r1 (the groups enode offers)";
    int idx, arity, count = 0;
    unsigned char found[EN_TLS_MAX_GROUPS];
    if (list_header(c, &idx, &arity, what) < 0)
        return -1;
    for (int i = 0; i < arity; i++) {
        char name[MAXATOMLEN_UTF8];
        int g = N_GROUPS, at = idx;
        if (ei_decode_atom_as(c->buf, &idx, name, sizeof name, ERLANG_UTF8,
                              NULL, NULL) == 0)
            for (g = 0; g < N_GROUPS; g++)
                if (strcmp(name, group_table[g].name) == 0)
                    break;
        if (g == N_GROUPS)
            return say(c->err, c->errlen, "%s: enode cannot offer %s; the "
                       "list %s", c->where, show(c->buf, at, name,
                                                 sizeof name), what);
        add_index(found, &count, g);
    }
    if (list_end(c, &idx) < 0)
        return -1;
    memcpy(list, found, (size_t)count);
    *n = count;
    return 0;
}

static int opt_eccs(opt_call_t *c)
{
    return read_groups(c, c->side->eccs, &c->side->n_eccs);
}

static int opt_supported_groups(opt_call_t *c)
{
    return read_groups(c, c->side->groups, &c->side->n_groups);
}

/* One element of signature_algs: an atom or a {Hash, Sign} tuple; its
 * index in sigalg_table, or -1. */
static int sigalg_index(const char *buf, int *idx, char *shown, size_t size)
{
    char name[MAXATOMLEN_UTF8], sign[MAXATOMLEN_UTF8];
    int arity, at = *idx;
    if (ei_decode_atom_as(buf, idx, name, sizeof name, ERLANG_UTF8, NULL,
                          NULL) == 0) {
        snprintf(shown, size, "%.60s", name);
        for (int i = 0; i < N_SIGALGS; i++)
            if (sigalg_table[i].name && strcmp(name, sigalg_table[i].name) == 0)
                return i;
        return -1;
    }
    *idx = at;
    if (ei_decode_tuple_header(buf, idx, &arity) == 0 && arity == 2 &&
        ei_decode_atom_as(buf, idx, name, sizeof name, ERLANG_UTF8, NULL,
                          NULL) == 0 &&
        ei_decode_atom_as(buf, idx, sign, sizeof sign, ERLANG_UTF8, NULL,
                          NULL) == 0) {
        snprintf(shown, size, "{%.30s, %.30s}", name, sign);
        for (int i = 0; i < N_SIGALGS; i++)
            if (!sigalg_table[i].name && strcmp(name, sigalg_table[i].hash) ==
                                             0 &&
                strcmp(sign, sigalg_table[i].sign) == 0)
                return i;
        return -1;
    }
    *idx = at;
    show(buf, at, shown, size);
    return -1;
}

/* wolfSSL offers rsa_pss_pss_H with rsa_pss_rsae_H and the other way
 * round: say so when the list names only one of a pair. */
static void warn_pss_pairs(const opt_call_t *c, const unsigned char *list,
                           int n)
{
    for (int i = 0; i < n; i++) {
        const char *name = sigalg_table[list[i]].name;
        if (!name || strncmp(name, "rsa_pss_", 8) != 0)
            continue;
        int twin = 0;
        for (int k = 0; k < n; k++)
            twin |= k != i && strcmp(sigalg_table[list[k]].wolf,
                                     sigalg_table[list[i]].wolf) == 0;
        if (!twin)
            warn(c->conf,
                 "%s: wolfSSL offers %s%s together with %s: it has one "
                 "setting for both",
                 c->where, strncmp(name, "rsa_pss_rsae_", 13) == 0
                               ? "rsa_pss_pss_" : "rsa_pss_rsae_",
                 strrchr(name, '_') + 1, name);
    }
}

/* signature_algs: [Scheme | {Hash, Sign}], OTP's two forms, mixed. */
static int opt_signature_algs(opt_call_t *c)
{
    static const char *const what =
        "must be a non-empty list of signature schemes such as "
        "ecdsa_secp256r1_sha256 or rsa_pss_rsae_sha256, or {Hash, Sign} "
        "pairs such as {sha256, ecdsa}";
    int idx, arity, count = 0;
    unsigned char found[EN_TLS_MAX_SIGALGS];
    if (list_header(c, &idx, &arity, what) < 0)
        return -1;
    for (int i = 0; i < arity; i++) {
        char shown[80];
        int at = idx, s = sigalg_index(c->buf, &idx, shown, sizeof shown);
        if (s < 0)
            return say(c->err, c->errlen,
                       "%s: enode cannot use %s (it takes ecdsa_secp*_sha*, "
                       "rsa_pss_rsae_sha*, rsa_pss_pss_sha*, rsa_pkcs1_sha*, "
                       "ed25519, ed448, ecdsa_sha1, and {Hash, ecdsa | rsa} "
                       "with Hash sha512 to sha)",
                       c->where, shown);
        if (idx == at && ei_skip_term(c->buf, &idx) < 0)
            return bad_value(c, what);
        add_index(found, &count, s);
    }
    if (list_end(c, &idx) < 0)
        return -1;
    warn_pss_pairs(c, found, count);
    memcpy(c->side->sigalgs, found, (size_t)count);
    c->side->n_sigalgs = count;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Options accepted without effect, and options refused                */
/* ------------------------------------------------------------------ */

static int opt_no_effect(opt_call_t *c);
static int opt_refused(opt_call_t *c);

/* crl_check: false | true | peer | best_effort */
static int opt_crl_check(opt_call_t *c)
{
    static const char *const names[] = {"false", "true", "peer",
                                        "best_effort"};
    char name[MAXATOMLEN_UTF8];
    if (value_atom(c, name) == 0)
        for (int i = 0; i < 4; i++)
            if (strcmp(name, names[i]) == 0) {
                c->side->crl_check = i;
                return 0;
            }
    return bad_value(c, "must be true, false, peer or best_effort");
}

/* crl_cache: {ssl_crl_hash_dir, {internal, [{dir, Dir}]}}, a directory
 * of CRLs named as openssl rehash names them.  OTP's default cache
 * (ssl_crl_cache, which fetches CRLs from distribution points) is not
 * available. */
static int opt_crl_cache(opt_call_t *c)
{
    static const char *const shape =
        "must be {ssl_crl_hash_dir, {internal, [{dir, Dir}]}} (enode reads "
        "CRLs from a hashed directory only)";
    int idx = c->index, arity, n;
    char name[MAXATOMLEN_UTF8], *dir = NULL;
    if (ei_decode_tuple_header(c->buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_atom_as(c->buf, &idx, name, sizeof name, ERLANG_UTF8, NULL,
                          NULL) < 0 ||
        strcmp(name, "ssl_crl_hash_dir") != 0 ||
        ei_decode_tuple_header(c->buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_atom_as(c->buf, &idx, name, sizeof name, ERLANG_UTF8, NULL,
                          NULL) < 0 ||
        strcmp(name, "internal") != 0 ||
        ei_decode_list_header(c->buf, &idx, &n) < 0)
        return bad_value(c, shape);
    for (int i = 0; i < n; i++) {
        char *value = NULL;
        if (ei_decode_tuple_header(c->buf, &idx, &arity) < 0 || arity != 2 ||
            ei_decode_atom_as(c->buf, &idx, name, sizeof name, ERLANG_UTF8,
                              NULL, NULL) < 0 ||
            strcmp(name, "dir") != 0 ||
            decode_string(c->buf, &idx, &value) < 0 || !value) {
            free(value);
            free(dir);
            return bad_value(c, shape);
        }
        free(dir);
        dir = value;
    }
    if (!dir)
        return bad_value(c, shape);
    free(c->side->crl_dir);
    c->side->crl_dir = dir;
    return 0;
}

enum sides { BOTH_SIDES, SERVER_ONLY, CLIENT_ONLY };

/* How -ssl_dist_opt turns its string into the option's value, as OTP's
 * inet_tls_dist does (listify, atomize, list_to_integer, [atomize]). */
enum conv {
    OPTFILE_ONLY, /* erl does not take it as -ssl_dist_opt */
    AS_STRING,
    AS_ATOM,
    AS_INTEGER,
    AS_ATOM_LIST,
    AS_ATOM_OR_STRING, /* "disable" is an atom, anything else a string */
    AS_TERM            /* Erlang term text, as OTP's termify */
};

typedef struct option {
    const char *name;
    int (*apply)(opt_call_t *);
    enum sides sides;
    enum conv conv;
    const char *why; /* for options without effect, or refused: why */
} option_t;

static const option_t options[] = {
    {"certfile", opt_certfile, BOTH_SIDES, AS_STRING, NULL},
    {"keyfile", opt_keyfile, BOTH_SIDES, AS_STRING, NULL},
    {"cacertfile", opt_cacertfile, BOTH_SIDES, AS_STRING, NULL},
    {"password", opt_password, BOTH_SIDES, AS_STRING, NULL},
    {"verify", opt_verify, BOTH_SIDES, AS_ATOM, NULL},
    {"fail_if_no_peer_cert", opt_fail_if_no_peer_cert, SERVER_ONLY, AS_ATOM,
     NULL},
    {"depth", opt_depth, BOTH_SIDES, AS_INTEGER, NULL},
    {"versions", opt_versions, BOTH_SIDES, AS_ATOM_LIST, NULL},
    {"ciphers", opt_ciphers, BOTH_SIDES, AS_STRING, NULL},
    {"dhfile", opt_dhfile, SERVER_ONLY, AS_STRING, NULL},
    {"server_name_indication", opt_server_name_indication, CLIENT_ONLY,
     AS_ATOM_OR_STRING, NULL},
    {"crl_check", opt_crl_check, BOTH_SIDES, AS_ATOM, NULL},
    {"crl_cache", opt_crl_cache, BOTH_SIDES, AS_TERM, NULL},
    {"eccs", opt_eccs, BOTH_SIDES, OPTFILE_ONLY, NULL},
    {"supported_groups", opt_supported_groups, BOTH_SIDES, OPTFILE_ONLY, NULL},
    {"signature_algs", opt_signature_algs, BOTH_SIDES, OPTFILE_ONLY, NULL},

    {"secure_renegotiate", opt_no_effect, BOTH_SIDES, AS_ATOM,
     "enode never renegotiates"},
    {"client_renegotiation", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     "enode never renegotiates"},
    {"reuse_sessions", opt_no_effect, BOTH_SIDES, AS_ATOM,
     "enode does not resume TLS sessions"},
    {"reuse_session", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "enode does not resume TLS sessions"},
    {"session_tickets", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "enode does not use session tickets"},
    {"hibernate_after", opt_no_effect, BOTH_SIDES, AS_INTEGER,
     "it tunes Erlang processes"},
    {"ktls", opt_no_effect, BOTH_SIDES, AS_ATOM,
     "enode does not use kernel TLS; peers see the same bytes either way"},
    {"honor_cipher_order", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     "wolfSSL chooses the cipher suite"},
    {"log_level", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "enode reports TLS failures in its own error messages"},
    {"log_alert", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "enode reports TLS failures in its own error messages"},
    {"keep_secrets", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "enode does not export TLS secrets"},
    {"middlebox_comp_mode", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "wolfSSL decides"},
    {"max_handshake_size", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "wolfSSL applies its own limit"},
    {"beast_mitigation", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "it concerns TLS 1.0 only"},
    {"padding_check", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "it concerns TLS 1.0 only"},
    {"erl_dist", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY, "OTP sets it itself"},

    {"verify_fun", opt_refused, BOTH_SIDES, AS_STRING,
     "enode cannot run Erlang funs"},
    {"partial_chain", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode cannot run Erlang funs"},
    {"cacerts", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode reads certificates from PEM files: use cacertfile"},
    {"cert", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode reads certificates from PEM files: use certfile"},
    {"key", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode reads keys from PEM files: use keyfile"},
    {"certs_keys", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode reads one certificate and key: use certfile and keyfile"},
    {"signature_algs_cert", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "wolfSSL cannot send the signature_algorithms_cert extension; "
     "signature_algs restricts the signatures of certificates too"},
};

static const option_t *find_option(const char *name)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

static int opt_no_effect(opt_call_t *c)
{
    warn(c->conf, "%s has no effect in enode (%s)", c->where, c->option->why);
    return 0;
}

static int opt_refused(opt_call_t *c)
{
    return say(c->err, c->errlen, "%s is not supported: %s", c->where,
               c->option->why);
}

static int unknown_option(const char *where, char *err, size_t errlen)
{
    return say(err, errlen,
               "%s: unknown option (enode reads certfile, keyfile, "
               "cacertfile, password, verify, fail_if_no_peer_cert, depth, "
               "versions, ciphers, dhfile, server_name_indication, "
               "eccs, supported_groups, signature_algs, crl_check, "
               "crl_cache)",
               where);
}

/* Apply option `name` whose value is buf[index] to side. */
static int apply_option(en_tls_conf_t *conf, en_tls_side_t *side,
                        const char *side_name, const char *where,
                        const char *name, const char *buf, int index, char *err,
                        size_t errlen)
{
    const option_t *o = find_option(name);
    if (!o)
        return unknown_option(where, err, errlen);
    int is_server = strcmp(side_name, "server") == 0;
    if ((o->sides == SERVER_ONLY && !is_server) ||
        (o->sides == CLIENT_ONLY && is_server))
        return say(err, errlen,
                   "%s: %s is a %s option; OTP refuses it for "
                   "the %s side",
                   where, name, is_server ? "client" : "server", side_name);
    opt_call_t call = {o, conf, side, where, buf, index, err, errlen};
    if (o->apply(&call) < 0)
        return -1;
    side->options_given++;
    conf->any_option_given = 1;
    return 0;
}

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

/* The one term in text ("{a, b}", with or without a final '.') into x. */
static int encode_term_text(ei_x_buff *x, const char *value)
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
        return encode_term_text(x, value);
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
        return say(err, errlen, "-ssl_dist_opt: a name and a value are needed");
    en_tls_side_t *side = side_of_key(conf, key, &side_name);
    if (!side)
        return say(err, errlen,
                   "-ssl_dist_opt %s: the name must start with server_ or "
                   "client_",
                   key);
    const char *name = key + 7;
    char where[160];
    snprintf(where, sizeof where, "-ssl_dist_opt %.100s", key);
    const option_t *o = find_option(name);
    if (!o)
        return unknown_option(where, err, errlen);
    if (o->conv == OPTFILE_ONLY)
        return say(err, errlen,
                   "%s: erl does not take %s as -ssl_dist_opt; "
                   "put it in an ssl_dist_optfile",
                   where, name);
    if (side->from_optfile) {
        warn(conf,
             "%s is ignored: the ssl_dist_optfile has a %s entry, "
             "which wins, as in OTP",
             where, side_name);
        return 0;
    }
    ei_x_buff x;
    if (ei_x_new(&x) < 0)
        return say(err, errlen, "%s: out of memory", where);
    int r = encode_arg(&x, o->conv, value);
    if (r == -2)
        r = say(err, errlen, "%s: \"%.60s\" is not %s", where, value,
                o->conv == AS_INTEGER ? "an integer" : "a valid value");
    else if (r < 0)
        r = say(err, errlen, "%s: out of memory", where);
    else
        r = apply_option(conf, side, side_name, where, name, x.buff, 0, err,
                         errlen);
    ei_x_free(&x);
    return r;
}

/* ------------------------------------------------------------------ */
/* -ssl_dist_optfile                                                   */
/* ------------------------------------------------------------------ */

/* What the optfile must hold, for error messages. */
#define OPTFILE_SHAPE "[{server, Options}, {client, Options}]."

/* Print the term at buf[idx] into text (truncated). */
static const char *show(const char *buf, int idx, char *text, size_t size)
{
    char *s = NULL;
    if (ei_s_print_term(&s, buf, &idx) < 0 || !s)
        snprintf(text, size, "(unprintable)");
    else
        snprintf(text, size, "%.60s%s", s, strlen(s) > 60 ? "..." : "");
    free(s);
    return text;
}

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
        return say(err, errlen,
                   "ssl_dist_optfile %s: the %s options must be "
                   "a list of {Name, Value}, not %s",
                   path, side_name, show(buf, *idx, text, sizeof text));
    for (int i = 0; i < arity; i++) {
        char name[MAXATOMLEN_UTF8], where[320];
        int at = *idx, pair;
        if (ei_decode_tuple_header(buf, idx, &pair) < 0 || pair != 2 ||
            ei_decode_atom_as(buf, idx, name, sizeof name, ERLANG_UTF8, NULL,
                              NULL) < 0)
            return say(err, errlen,
                       "ssl_dist_optfile %s: in the %s options, "
                       "%s is not a {Name, Value} pair",
                       path, side_name, show(buf, at, text, sizeof text));
        snprintf(where, sizeof where,
                 "ssl_dist_optfile %.200s: %.16s option %.64s", path, side_name,
                 name);
        if (apply_option(conf, side, side_name, where, name, buf, *idx, err,
                         errlen) < 0)
            return -1;
        ei_skip_term(buf, idx);
    }
    if (arity > 0 && (ei_decode_list_header(buf, idx, &arity) < 0 || arity))
        return say(err, errlen,
                   "ssl_dist_optfile %s: the %s options must be "
                   "a proper list",
                   path, side_name);
    if (side->n_eccs > 0 && side->versions == EN_TLS_V13)
        warn(conf,
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
        return say(err, errlen,
                   "ssl_dist_optfile %s: expected {server, "
                   "Options} or {client, Options}, found %s",
                   path, show(buf, at, text, sizeof text));
    }
    int is_server = strcmp(key, "server") == 0;
    if (!is_server && strcmp(key, "client") != 0) {
        warn(conf,
             "ssl_dist_optfile %s: %s is ignored; only server and "
             "client entries are read",
             path, show(buf, at, text, sizeof text));
        *idx = at;
        return ei_skip_term(buf, idx);
    }
    if (arity != 2)
        return say(err, errlen,
                   "ssl_dist_optfile %s: expected {%s, Options}, "
                   "found %s",
                   path, key, show(buf, at, text, sizeof text));
    en_tls_side_t *side = is_server ? &conf->server : &conf->client;
    side_free(side);
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
        return say(err, errlen,
                   "ssl_dist_optfile %s %s; it must hold one "
                   "term, " OPTFILE_SHAPE,
                   path, count ? "holds more than one term" : "is empty");
    ei_get_type(buf, &idx, &type, &size);
    if (type == ERL_SMALL_TUPLE_EXT || type == ERL_LARGE_TUPLE_EXT)
        return read_section(conf, path, buf, &idx, err, errlen);
    if (type == ERL_NIL_EXT)
        return 0;
    if (type != ERL_LIST_EXT || ei_decode_list_header(buf, &idx, &count) < 0)
        return say(err, errlen,
                   "ssl_dist_optfile %s must hold " OPTFILE_SHAPE " not %s",
                   path, show(buf, idx, text, sizeof text));
    for (int i = 0; i < count; i++)
        if (read_section(conf, path, buf, &idx, err, errlen) < 0)
            return -1;
    if (ei_decode_list_header(buf, &idx, &count) < 0 || count != 0)
        return say(err, errlen,
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
            return say(err, errlen, "ssl_dist_optfile: %s", syntax.msg);
        return say(err, errlen, "ssl_dist_optfile %s, line %d, column %d: %s",
                   path, syntax.line, syntax.column, syntax.msg);
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
        return say(err, errlen, "ssl_dist_optfile %s, line %d, column %d: %s",
                   path, syntax.line, syntax.column, syntax.msg);
    int r = read_sections(conf, path, x.buff, err, errlen);
    ei_x_free(&x);
    return r;
}

/* ------------------------------------------------------------------ */
/* The wolfSSL context                                                 */
/* ------------------------------------------------------------------ */

/* " (wolfSSL: reason)" for the oldest queued wolfSSL error, or "". */
static const char *wolf_reason(char *text, size_t size)
{
    unsigned long e = wolfSSL_ERR_get_error();
    wolfSSL_ERR_clear_error();
    if (e == 0)
        return "";
    const char *reason = wolfSSL_ERR_reason_error_string(e);
    snprintf(text, size, " (wolfSSL: %s)", reason ? reason : "unknown error");
    return text;
}

/* Fail early, with the system's reason, on a file we cannot open:
 * wolfSSL would only say that loading failed. */
static int check_readable(const char *what, const char *path, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return say(err, errlen, "cannot read %s %s: %s", what, path,
                   strerror(errno));
    fclose(f);
    return 0;
}

/* Does the PEM file hold an encrypted key?  Both PKCS#8
 * ("BEGIN ENCRYPTED PRIVATE KEY") and the traditional "Proc-Type:
 * 4,ENCRYPTED" say ENCRYPTED; looking saves a vague error later. */
static int pem_is_encrypted(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    for (size_t i = 0; i < n; i++) /* strstr stops at a NUL */
        if (text[i] == 0)
            text[i] = ' ';
    return strstr(text, "ENCRYPTED") != NULL;
}

/* The default password callback returns the password given as userdata. */
static int give_password(char *buf, int size, int rw, void *userdata)
{
    (void)rw;
    const char *password = userdata;
    size_t n = strlen(password);
    if (size <= 0 || n >= (size_t)size)
        return -1;
    memcpy(buf, password, n);
    return (int)n;
}

/* wolfSSL_CTX_check_private_key() in wolfSSL 5.5 accepts any EC key of the
 * right curve, so also sign with the key and verify with the certificate. */
static int key_matches_cert(WOLFSSL_CTX *ctx)
{
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS)
        return 0;
#ifdef HAVE_SIGN_CHECK
    WOLFSSL_X509 *cert = wolfSSL_CTX_get0_certificate(ctx);
    WOLFSSL_EVP_PKEY *key = wolfSSL_CTX_get0_privatekey(ctx);
    if (!cert || !key)
        return 1;
    int type = wolfSSL_EVP_PKEY_base_id(key);
    if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC)
        return 1; /* check_private_key compares other kinds fully */
    WOLFSSL_EVP_PKEY *pub = wolfSSL_X509_get_pubkey(cert);
    static const unsigned char probe[] = "enode key check";
    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    int ok = 0;
    WOLFSSL_EVP_MD_CTX *md = wolfSSL_EVP_MD_CTX_new();
    if (pub && md &&
        wolfSSL_EVP_DigestSignInit(md, NULL, wolfSSL_EVP_sha256(), NULL, key) ==
            1 &&
        wolfSSL_EVP_DigestSignUpdate(md, probe, sizeof probe) == 1 &&
        wolfSSL_EVP_DigestSignFinal(md, sig, &siglen) == 1) {
        wolfSSL_EVP_MD_CTX_free(md);
        md = wolfSSL_EVP_MD_CTX_new();
        ok = md &&
             wolfSSL_EVP_DigestVerifyInit(md, NULL, wolfSSL_EVP_sha256(), NULL,
                                          pub) == 1 &&
             wolfSSL_EVP_DigestVerifyUpdate(md, probe, sizeof probe) == 1 &&
             wolfSSL_EVP_DigestVerifyFinal(md, sig, siglen) == 1;
    }
    wolfSSL_EVP_MD_CTX_free(md);
    wolfSSL_EVP_PKEY_free(pub);
    wolfSSL_ERR_clear_error();
    return ok;
#else
    return 1;
#endif
}

static int load_key(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                    size_t errlen)
{
    const char *keyfile = side->keyfile ? side->keyfile : side->certfile;
    const char *what = side->keyfile ? "keyfile" : "certfile";
    char reason[160];
    if (check_readable(what, keyfile, err, errlen) < 0)
        return -1;
    int encrypted = pem_is_encrypted(keyfile);
    if (encrypted && !side->password)
        return say(err, errlen,
                   "%s %s holds an encrypted key; give its "
                   "password with the password option",
                   what, keyfile);
    if (side->password) {
        wolfSSL_CTX_set_default_passwd_cb(ctx, give_password);
        wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, side->password);
    }
    int r = wolfSSL_CTX_use_PrivateKey_file(ctx, keyfile, WOLFSSL_FILETYPE_PEM);
    /* side->password is not ours to keep a pointer to */
    wolfSSL_CTX_set_default_passwd_cb(ctx, NULL);
    wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if (r != WOLFSSL_SUCCESS && encrypted)
        return say(err, errlen,
                   "cannot decrypt the key in %s %s: wrong "
                   "password?%s",
                   what, keyfile, wolf_reason(reason, sizeof reason));
    if (r != WOLFSSL_SUCCESS)
        return say(err, errlen, "%s %s holds no PEM private key%s%s", what,
                   keyfile, side->keyfile ? "" : " (give a keyfile)",
                   wolf_reason(reason, sizeof reason));
    /* Old-style PEM encryption has no integrity check: a wrong password
     * can yield a key, just not the right one. */
    if (!key_matches_cert(ctx))
        return say(err, errlen,
                   "%s %s does not match certfile %s: the key "
                   "is not the certificate's%s",
                   what, keyfile, side->certfile,
                   encrypted ? " (or the password is wrong)" : "");
    return 0;
}

/* certfile (a PEM chain, ours first) and its key. */
static int load_identity(WOLFSSL_CTX *ctx, const en_tls_side_t *side, int role,
                         char *err, size_t errlen)
{
    char reason[160];
    if (!side->certfile && side->keyfile)
        return say(err, errlen, "keyfile %s is given without a certfile",
                   side->keyfile);
    if (!side->certfile && role == EN_TLS_SERVER)
        return say(err, errlen,
                   "the server side needs a certfile: a TLS "
                   "server cannot work without a certificate");
    if (!side->certfile)
        return 0;
    if (check_readable("certfile", side->certfile, err, errlen) < 0)
        return -1;
    if (wolfSSL_CTX_use_certificate_chain_file(ctx, side->certfile) !=
        WOLFSSL_SUCCESS)
        return say(err, errlen, "certfile %s holds no PEM certificate%s",
                   side->certfile, wolf_reason(reason, sizeof reason));
    return load_key(ctx, side, err, errlen);
}

static int load_ca(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                   size_t errlen)
{
    char reason[160];
    if (!side->cacertfile)
        return 0;
    if (check_readable("cacertfile", side->cacertfile, err, errlen) < 0)
        return -1;
    if (wolfSSL_CTX_load_verify_locations(ctx, side->cacertfile, NULL) !=
        WOLFSSL_SUCCESS)
        return say(err, errlen,
                   "cacertfile %s holds no usable PEM "
                   "certificate%s",
                   side->cacertfile, wolf_reason(reason, sizeof reason));
    return 0;
}

/* wolfSSL ignores depths above its MAX_CHAIN_DEPTH (9 unless built
 * otherwise); use the largest it takes rather than none at all. */
static void set_depth(WOLFSSL_CTX *ctx, int depth)
{
    for (int d = depth > 64 ? 64 : depth; d >= 0; d--) {
        wolfSSL_CTX_set_verify_depth(ctx, d);
        if (wolfSSL_CTX_get_verify_depth(ctx) == d)
            return;
    }
}

/* ------------------------------------------------------------------ */
/* CRLs from a directory, as OTP's ssl_crl_hash_dir                    */
/* ------------------------------------------------------------------ */

/* A CRL whose issuer the context does not know yet: an intermediate CA,
 * which wolfSSL learns when a peer presents it in its chain.  OTP checks
 * such CRLs against the chain the peer sent; we load them then. */
typedef struct crl_pending {
    unsigned char *data;
    size_t len;
    int type; /* WOLFSSL_FILETYPE_PEM or _ASN1 */
} crl_pending_t;

/* What a context needs after it is made: its CRL directory, and the
 * groups it allows.  Kept in the side (a list, one per context made from
 * it) and found from the context through ex_data. */
struct en_ctx_state {
    struct en_ctx_state *next;
    WOLFSSL_CTX *ctx;
    char *dir;      /* crl_cache directory; NULL: no crl_check */
    int check;      /* crl_check: 1 true, 2 peer, 3 best_effort */
    uint64_t stamp; /* of the files last read; see dir_stamp() */
    crl_pending_t *pending;
    size_t n_pending;
    unsigned char groups[EN_TLS_MAX_GROUPS]; /* eccs or supported_groups */
    int n_groups;                            /* 0: wolfSSL's defaults */
};

#define CRL_FILE_MAX (64u << 20) /* a larger file is not a CRL we take */

static pthread_once_t state_index_once = PTHREAD_ONCE_INIT;
static int state_index = -1;   /* a context's en_ctx_state */
static int verdict_index = -1; /* a session's CRL verdict, see note_crl() */
static int fresh_index = -1;   /* a session saw its CRLs refreshed */

/* Index 0 is wolfSSL's app data (wolfSSL_set_app_data()): leave it to
 * whoever wants it. */
static int new_ssl_index(void)
{
    int i;
    do
        i = wolfSSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    while (i == 0);
    return i;
}

static void make_state_index(void)
{
    do
        state_index = wolfSSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    while (state_index == 0);
    verdict_index = new_ssl_index();
    fresh_index = new_ssl_index();
}

static struct en_ctx_state *state_of(WOLFSSL_CTX *ctx)
{
    pthread_once(&state_index_once, make_state_index);
    return ctx && state_index >= 0 ? wolfSSL_CTX_get_ex_data(ctx, state_index)
                                 : NULL;
}

static void drop_pending(struct en_ctx_state *d)
{
    for (size_t i = 0; i < d->n_pending; i++)
        free(d->pending[i].data);
    free(d->pending);
    d->pending = NULL;
    d->n_pending = 0;
}

/* A state for a new context, kept in the side and attached to ctx. */
static int attach_state(WOLFSSL_CTX *ctx, en_tls_side_t *side, char *err,
                        size_t errlen)
{
    struct en_ctx_state *d = calloc(1, sizeof *d);
    if (!d)
        return say(err, errlen, "out of memory");
    d->ctx = ctx;
    d->next = side->ctx_states;
    side->ctx_states = d;
    pthread_once(&state_index_once, make_state_index);
    if (state_index < 0 ||
        wolfSSL_CTX_set_ex_data(ctx, state_index, d) != WOLFSSL_SUCCESS)
        return say(err, errlen, "cannot attach enode's state to the TLS "
                                "context");
    return 0;
}

static void ctx_states_free(struct en_ctx_state *d)
{
    while (d) {
        struct en_ctx_state *next = d->next;
        drop_pending(d);
        free(d->dir);
        free(d);
        d = next;
    }
}

/* The names OTP's ssl_crl_hash_dir reads: <hash>.r<N>, as openssl rehash
 * names CRLs, the hash in eight lowercase hex digits.  Other files (the
 * <hash>.<N> links rehash makes for certificates, say) are not CRLs. */
static int is_crl_name(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (!strchr("0123456789abcdef", name[i]) || !name[i])
            return 0;
    if (name[8] != '.' || name[9] != 'r' || !name[10])
        return 0;
    for (const char *p = name + 10; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

/* One number from a file's identity and dates: a CRL written in place,
 * replaced by rename, added or removed changes the sum below. */
static uint64_t file_stamp(const char *name, const struct stat *st)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the name */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    const uint64_t v[] = {(uint64_t)st->st_ino, (uint64_t)st->st_size,
                          (uint64_t)st->st_mtim.tv_sec,
                          (uint64_t)st->st_mtim.tv_nsec,
                          (uint64_t)st->st_ctim.tv_nsec};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        h = (h ^ v[i]) * 1099511628211ull;
    return h;
}

typedef int crl_file_fn(struct en_ctx_state *d, const char *path,
                        const struct stat *st, char *err, size_t errlen);

/* Visit the CRL files of the directory (fn may be NULL) and return their
 * stamp: a sum, so the order readdir gives does not matter.  A directory
 * that cannot be read has no CRLs, as for OTP, and stamp 1.  fn's failure
 * stops the walk; *failed is set then. */
static uint64_t dir_stamp(struct en_ctx_state *d, crl_file_fn *fn, int *failed,
                          char *err, size_t errlen)
{
    char path[4096];
    uint64_t stamp = 2;
    DIR *dir = opendir(d->dir);
    struct dirent *e;
    *failed = 0;
    if (!dir)
        return 1;
    while (!*failed && (e = readdir(dir)) != NULL) {
        struct stat st;
        if (!is_crl_name(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", d->dir, e->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        stamp += file_stamp(e->d_name, &st);
        if (fn && fn(d, path, &st, err, errlen) < 0)
            *failed = 1;
    }
    closedir(dir);
    return stamp;
}

static int add_pending(struct en_ctx_state *d, unsigned char *data, size_t len,
                       int type)
{
    crl_pending_t *p = realloc(d->pending, (d->n_pending + 1) * sizeof *p);
    if (!p)
        return -1;
    d->pending = p;
    p[d->n_pending++] = (crl_pending_t){data, len, type};
    return 0;
}

/* Load one CRL file, PEM or DER as OTP takes them.  A CRL that names an
 * issuer we do not know yet waits in d->pending.  -1 (with err) if it is
 * not a CRL signed by a CA we know. */
static int load_crl_file(struct en_ctx_state *d, const char *path,
                         const struct stat *st, char *err, size_t errlen)
{
    char reason[160];
    size_t size = (size_t)st->st_size, n = 0;
    unsigned char *data = size > 0 && size <= CRL_FILE_MAX ? malloc(size)
                                                           : NULL;
    FILE *f = data ? fopen(path, "rb") : NULL;
    if (f) {
        n = fread(data, 1, size, f);
        fclose(f);
    }
    int type = n > 10 && memcmp(data, "-----BEGIN", 10) == 0
                   ? WOLFSSL_FILETYPE_PEM
                   : WOLFSSL_FILETYPE_ASN1;
    int r = n > 0 ? wolfSSL_CTX_LoadCRLBuffer(d->ctx, data, (long)n, type)
                  : -1;
    if (r == WOLFSSL_SUCCESS) {
        free(data);
        return 0;
    }
    if (r == ASN_CRL_NO_SIGNER_E && add_pending(d, data, n, type) == 0) {
        wolfSSL_ERR_clear_error();
        return 0;
    }
    free(data);
    return say(err, errlen,
               "crl_cache: %s is not a CRL (PEM or DER) signed by a CA we "
               "know%s",
               path, wolf_reason(reason, sizeof reason));
}

/* When the directory is read again, a file that is not a CRL is skipped,
 * as OTP does; its issuer then has no CRL, which crl_check decides on. */
static int load_crl_file_lenient(struct en_ctx_state *d, const char *path,
                                 const struct stat *st, char *err,
                                 size_t errlen)
{
    if (load_crl_file(d, path, st, err, errlen) < 0)
        wolfSSL_ERR_clear_error();
    return 0;
}

/* Forget every CRL and read the directory again.  wolfSSL checks only the
 * peer's certificate with WOLFSSL_CRL_CHECK (crl_check peer), and the
 * whole chain with WOLFSSL_CRL_CHECKALL.  Without its I/O callback it never
 * fetches a CRL from a distribution point: ssl_crl_hash_dir does not. */
static int crl_reload(struct en_ctx_state *d, int strict, char *err,
                      size_t errlen)
{
    char reason[160];
    int failed;
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CTX_GetCertManager(d->ctx);
    int mode = d->check == 2 ? WOLFSSL_CRL_CHECK : WOLFSSL_CRL_CHECKALL;
    /* no stamp is 0: if this fails half way, the next handshake tries
     * again rather than run with the CRLs freed */
    d->stamp = 0;
    wolfSSL_CertManagerFreeCRL(cm);
    drop_pending(d);
    if (wolfSSL_CTX_EnableCRL(d->ctx, mode) != WOLFSSL_SUCCESS)
        return say(err, errlen, "cannot enable CRL checking%s",
                   wolf_reason(reason, sizeof reason));
#ifdef HAVE_CRL_IO
    wolfSSL_CTX_SetCRL_IOCb(d->ctx, NULL);
#endif
    d->stamp = dir_stamp(d, strict ? load_crl_file : load_crl_file_lenient,
                         &failed, err, errlen);
    return failed ? -1 : 0;
}

/* Load the CRLs that waited for their issuer; how many now loaded. */
static int load_pending(struct en_ctx_state *d)
{
    size_t kept = 0;
    int loaded = 0;
    for (size_t i = 0; i < d->n_pending; i++) {
        crl_pending_t *p = &d->pending[i];
        int r = wolfSSL_CTX_LoadCRLBuffer(d->ctx, p->data, (long)p->len,
                                          p->type);
        if (r == ASN_CRL_NO_SIGNER_E) {
            d->pending[kept++] = *p;
            continue;
        }
        loaded += r == WOLFSSL_SUCCESS;
        free(p->data);
    }
    d->n_pending = kept;
    wolfSSL_ERR_clear_error();
    return loaded;
}

static int crl_missing(int error)
{
    return error == CRL_MISSING || error == X509_V_ERR_UNABLE_TO_GET_CRL;
}

static int crl_revoked(int error)
{
    return error == CRL_CERT_REVOKED || error == X509_V_ERR_CERT_REVOKED;
}

/* A CRL that waited for an intermediate CA can be checked once the chain
 * has taught us that CA: load it and check the certificate again.  The
 * verdict on the certificate: WOLFSSL_SUCCESS, or still CRL_MISSING, or
 * CRL_CERT_REVOKED. */
static int recheck_with_pending(struct en_ctx_state *d,
                                WOLFSSL_X509_STORE_CTX *store)
{
    if (d->n_pending == 0 || load_pending(d) == 0 || !store->certs ||
        store->error_depth < 0 || store->error_depth >= store->totalCerts)
        return CRL_MISSING;
    WOLFSSL_BUFFER_INFO *cert = &store->certs[store->error_depth];
    int r = wolfSSL_CertManagerCheckCRL(wolfSSL_CTX_GetCertManager(d->ctx),
                                        cert->buffer, (int)cert->length);
    return r == WOLFSSL_SUCCESS || r == CRL_CERT_REVOKED ? r : CRL_MISSING;
}

/* The CRL verdict of a session, in its ex_data: 0 none yet, CRL_PASSED
 * when the callback let a CRL failure through, or the first refusal
 * (CRL_MISSING or CRL_CERT_REVOKED), which wins. */
#define CRL_PASSED 1

static intptr_t crl_verdict(WOLFSSL *ssl)
{
    return verdict_index < 0 ? 0
                             : (intptr_t)wolfSSL_get_ex_data(ssl, verdict_index);
}

static void note_crl(WOLFSSL *ssl, intptr_t verdict)
{
    intptr_t now = crl_verdict(ssl);
    /* the first refusal wins over everything, a pass over nothing */
    if (verdict_index >= 0 && (verdict < 0 ? now >= 0 : now == 0))
        wolfSSL_set_ex_data(ssl, verdict_index, (void *)verdict);
}

/* wolfSSL reports each certificate that failed its checks here, the CAs
 * of the chain before the peer's own.  Decide CRL failures as OTP does:
 * best_effort lets a certificate without a CRL through (its revocation
 * status is undetermined), never a revoked one. */
static int verify_crl(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    if (preverify || !store)
        return preverify;
    WOLFSSL *ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store, 0);
    struct en_ctx_state *d = ssl ? state_of(wolfSSL_get_SSL_CTX(ssl)) : NULL;
    int error = store->error;
    if (!d || !d->dir || !(crl_missing(error) || crl_revoked(error)))
        return 0;
    if (crl_missing(error))
        error = recheck_with_pending(d, store);
    if (error != WOLFSSL_SUCCESS && !(d->check == 3 && crl_missing(error))) {
        note_crl(ssl, crl_revoked(error) ? CRL_CERT_REVOKED : CRL_MISSING);
        return 0;
    }
    note_crl(ssl, CRL_PASSED);
    /* wolfSSL adds a CA of the chain that passed its checks to those it
     * trusts, but not one whose failure a callback overrode (with
     * WOLFSSL_ALT_CERT_CHAINS, as Debian builds it): the peer's own
     * certificate would then have no known issuer.  Add it here. */
    if (store->error_depth > 0 && store->certs &&
        store->error_depth < store->totalCerts) {
        WOLFSSL_BUFFER_INFO *ca = &store->certs[store->error_depth];
        wolfSSL_CertManagerLoadCABuffer(wolfSSL_CTX_GetCertManager(d->ctx),
                                        ca->buffer, (long)ca->length,
                                        WOLFSSL_FILETYPE_ASN1);
        wolfSSL_ERR_clear_error();
    }
    return 1;
}

int en_tls_crl_refusal(WOLFSSL *ssl)
{
    intptr_t v = crl_verdict(ssl);
    return v < 0 ? (int)v : 0;
}

int en_tls_peer_verified(WOLFSSL *ssl)
{
    long v = wolfSSL_get_verify_result(ssl);
    /* wolfSSL marks a certificate without a CRL rejected before asking
     * the callback, and keeps the mark when the callback passes it */
    return v == X509_V_OK ||
           (v == X509_V_ERR_CERT_REJECTED && crl_verdict(ssl) == CRL_PASSED);
}

/* crl_check with crl_cache {ssl_crl_hash_dir, ...}: every CRL of the
 * directory, now and again when it changes (en_tls_ctx_refresh). */
static int load_crls(WOLFSSL_CTX *ctx, en_tls_side_t *side, char *err,
                     size_t errlen)
{
    if (!side->crl_check)
        return 0;
    if (!side->crl_dir)
        return say(err, errlen,
                   "crl_check needs crl_cache {ssl_crl_hash_dir, {internal, "
                   "[{dir, Dir}]}}: enode reads CRLs from a directory only");
    if (!side->cacertfile)
        return say(err, errlen, "crl_check needs a cacertfile");
    DIR *probe = opendir(side->crl_dir);
    if (!probe)
        return say(err, errlen, "crl_cache: cannot read directory %s: %s",
                   side->crl_dir, strerror(errno));
    closedir(probe);
    struct en_ctx_state *d = state_of(ctx);
    if (!(d->dir = strdup(side->crl_dir)))
        return say(err, errlen, "out of memory");
    d->check = side->crl_check;
    if (crl_reload(d, 1, err, errlen) < 0)
        return -1;
    if (d->stamp == 2 && side->crl_check != 3)
        return say(err, errlen,
                   "crl_cache: directory %s holds no CRL (files named "
                   "<hash>.r0 as openssl rehash makes them), so crl_check "
                   "would refuse every peer",
                   side->crl_dir);
    return 0;
}

int en_tls_session_refresh(WOLFSSL *ssl, char *err, size_t errlen)
{
    const struct en_ctx_state *d = state_of(wolfSSL_get_SSL_CTX(ssl));
    /* once per session, but at every step while the CRLs are freed after
     * a failed reload (stamp 0): wolfSSL must not check against none */
    if (!d || !d->dir || fresh_index < 0 ||
        (wolfSSL_get_ex_data(ssl, fresh_index) && d->stamp != 0))
        return 0;
    wolfSSL_set_ex_data(ssl, fresh_index, (void *)1);
    return en_tls_ctx_refresh(wolfSSL_get_SSL_CTX(ssl), err, errlen);
}

int en_tls_ctx_refresh(WOLFSSL_CTX *ctx, char *err, size_t errlen)
{
    struct en_ctx_state *d = state_of(ctx);
    char why[256];
    int failed;
    if (!d || !d->dir || dir_stamp(d, NULL, &failed, why, sizeof why) == d->stamp)
        return 0;
    if (crl_reload(d, 0, why, sizeof why) < 0)
        return say(err, errlen, "TLS: cannot read the CRLs of crl_cache %s "
                   "again: %s", d->dir, why);
    return 0;
}

int en_tls_side_verifies(const en_tls_side_t *side)
{
    return side->verify == EN_VERIFY_PEER ||
           (side->verify == EN_VERIFY_DEFAULT && side->cacertfile);
}

static int set_verify(WOLFSSL_CTX *ctx, const en_tls_side_t *side, int role,
                      char *err, size_t errlen)
{
    en_verify_t verify = en_tls_side_verifies(side) ? EN_VERIFY_PEER
                                                    : EN_VERIFY_NONE;
    if (verify == EN_VERIFY_PEER && !side->cacertfile)
        return say(err, errlen,
                   "verify_peer needs a cacertfile: without CA "
                   "certificates no peer can be verified");
    int fail_if_none = role == EN_TLS_SERVER && side->fail_if_no_peer_cert == 1;
    if (fail_if_none && verify != EN_VERIFY_PEER)
        return say(err, errlen,
                   "fail_if_no_peer_cert needs verify_peer (and "
                   "a cacertfile)");
    int mode = WOLFSSL_VERIFY_NONE;
    if (verify == EN_VERIFY_PEER)
        mode = WOLFSSL_VERIFY_PEER |
               (fail_if_none ? WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    wolfSSL_CTX_set_verify(ctx, mode, side->crl_check ? verify_crl : NULL);
    if (side->depth >= 0)
        set_depth(ctx, side->depth);
    return 0;
}

/* Is the one cipher suite name s[0..n) known to wolfSSL? */
static int cipher_known(WOLFSSL_CTX *ctx, const char *s, size_t n)
{
    char name[128];
    if (n >= sizeof name)
        return 0;
    memcpy(name, s, n);
    name[n] = 0;
    return wolfSSL_CTX_set_cipher_list(ctx, name) == WOLFSSL_SUCCESS;
}

/* The suites enode offers when the options name none. Without AES-NI,
 * ChaCha20-Poly1305 is several times faster than AES-GCM, so it comes
 * first for TLS 1.2; for TLS 1.3, AES-256-GCM stays first either way,
 * because an OTP node using kTLS accepts no other suite (and OTP servers
 * follow the client's order unless honor_cipher_order is set). */
#ifdef WOLFSSL_AESNI
#define EN_TLS12_SUITES                                                      \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"             \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#else
#define EN_TLS12_SUITES                                                      \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"             \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#endif
#define EN_DEFAULT_SUITES                                                    \
    "TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"                \
    "TLS13-AES128-GCM-SHA256:" EN_TLS12_SUITES

/* Try each name alone first: wolfSSL, like OpenSSL, takes a list when any
 * one name in it is known, and would drop a misspelt one in silence. */
static int set_ciphers(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                       size_t errlen)
{
    const char *names = side->ciphers;
    if (!names) {
        if (wolfSSL_CTX_set_cipher_list(ctx, EN_DEFAULT_SUITES) !=
            WOLFSSL_SUCCESS)
            return say(err, errlen, "wolfSSL takes none of enode's default "
                                    "cipher suites");
        return 0;
    }
    for (const char *name = names; *name;) {
        size_t n = strcspn(name, ":");
        if (n > 0 && !cipher_known(ctx, name, n))
            return say(err, errlen,
                       "ciphers: wolfSSL does not know the cipher suite "
                       "\"%.*s\"",
                       (int)(n > 80 ? 80 : n), name);
        name += n + (name[n] == ':');
    }
    wolfSSL_ERR_clear_error();
    if (wolfSSL_CTX_set_cipher_list(ctx, names) != WOLFSSL_SUCCESS)
        return say(err, errlen, "ciphers: wolfSSL takes none of \"%s\"", names);
    return 0;
}

static int load_dh(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                   size_t errlen)
{
    char reason[160];
    if (!side->dhfile)
        return 0;
    if (check_readable("dhfile", side->dhfile, err, errlen) < 0)
        return -1;
    if (wolfSSL_CTX_SetTmpDH_file(ctx, side->dhfile, WOLFSSL_FILETYPE_PEM) !=
        WOLFSSL_SUCCESS)
        return say(err, errlen,
                   "dhfile %s holds no usable PEM DH "
                   "parameters%s",
                   side->dhfile, wolf_reason(reason, sizeof reason));
    return 0;
}

/* OTP: a side with dist options but no `versions` speaks TLS 1.2 only
 * (inet_tls_dist adds {versions, ['tlsv1.2']}); with no options at all,
 * ssl's defaults, 1.3 and 1.2, apply.  We mirror both. */
static unsigned versions_of(const en_tls_side_t *side)
{
    if (side->versions)
        return side->versions;
    return side->options_given ? EN_TLS_V12 : EN_TLS_V12 | EN_TLS_V13;
}

static WOLFSSL_CTX *new_ctx(const en_tls_side_t *side, int role, char *err,
                            size_t errlen)
{
    unsigned versions = versions_of(side);
    int client = role == EN_TLS_CLIENT;
    WOLFSSL_METHOD *method;
    /* wolfSSL takes a list of groups only on a context that could speak
     * TLS 1.3: such a side gets the any-version method, held to 1.2. */
    int v12_only_with_groups = versions == EN_TLS_V12 && side->n_eccs > 0;
    if (versions == EN_TLS_V12 && !v12_only_with_groups)
        method =
            client ? wolfTLSv1_2_client_method() : wolfTLSv1_2_server_method();
    else if (versions == EN_TLS_V13)
        method =
            client ? wolfTLSv1_3_client_method() : wolfTLSv1_3_server_method();
    else
        method =
            client ? wolfSSLv23_client_method() : wolfSSLv23_server_method();
    WOLFSSL_CTX *ctx = method ? wolfSSL_CTX_new(method) : NULL;
    if (!ctx) {
        say(err, errlen,
            "cannot create a TLS context (out of memory, or "
            "wolfSSL_Init() was not called)");
        return NULL;
    }
    if (v12_only_with_groups)
        wolfSSL_CTX_set_options(ctx, WOLFSSL_OP_NO_TLSv1_3);
    if ((versions == (EN_TLS_V12 | EN_TLS_V13) || v12_only_with_groups) &&
        wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
        wolfSSL_CTX_free(ctx);
        say(err, errlen, "cannot restrict the TLS context to TLS 1.2 and up");
        return NULL;
    }
    return ctx;
}

/* Is group g built into this wolfSSL? */
static int group_built_in(int g)
{
    const struct group *gr = &group_table[g];
    if (gr->ecc_id >= 0)
        return wc_ecc_get_curve_size_from_id(gr->ecc_id) > 0;
#ifdef HAVE_CURVE25519
    if (strcmp(gr->name, "x25519") == 0)
        return 1;
#endif
#ifdef HAVE_CURVE448
    if (strcmp(gr->name, "x448") == 0)
        return 1;
#endif
    return 0;
}

/* The groups wolfSSL gets, into *list, *n (0: its defaults).  OTP keeps
 * eccs for TLS 1.2 and supported_groups for TLS 1.3; wolfSSL has one list
 * for both, so a side that speaks both takes the one given, and refuses
 * two different lists rather than honour only one. */
static int groups_for(const en_tls_side_t *side, const unsigned char **list,
                      int *n, char *err, size_t errlen)
{
    unsigned versions = versions_of(side);
    int eccs = (versions & EN_TLS_V12) && side->n_eccs > 0;
    *list = NULL;
    *n = 0;
    if (side->n_groups > 0 && !(versions & EN_TLS_V13))
        return say(err, errlen,
                   "supported_groups is for TLS 1.3, but this side speaks "
                   "TLS 1.2 only (OTP refuses it too): use eccs, or add "
                   "'tlsv1.3' to versions");
    if (eccs && side->n_groups > 0 &&
        (side->n_eccs != side->n_groups ||
         memcmp(side->eccs, side->groups, (size_t)side->n_eccs) != 0))
        return say(err, errlen,
                   "eccs and supported_groups differ, but wolfSSL has one "
                   "list of groups for TLS 1.2 and 1.3: give both the same "
                   "list, or one of them");
    *list = eccs ? side->eccs : side->groups;
    *n = eccs ? side->n_eccs : side->n_groups;
    return 0;
}

/* eccs / supported_groups: what we offer and accept, in this order.
 * wolfSSL_CTX_set1_curves_list also bars the other curves from a TLS 1.2
 * server's choice, which the supported groups extension alone does not. */
static int set_groups(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                      size_t errlen)
{
    const unsigned char *list;
    int n;
    char names[128] = "";
    if (groups_for(side, &list, &n, err, errlen) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        const struct group *g = &group_table[list[i]];
        if (!group_built_in(list[i]))
            return say(err, errlen,
                       "%s: this wolfSSL build lacks the group %s",
                       side->n_eccs ? "eccs" : "supported_groups", g->name);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                 i ? ":" : "", g->wolf);
    }
    if (n > 0 && wolfSSL_CTX_set1_curves_list(ctx, names) != WOLFSSL_SUCCESS)
        return say(err, errlen, "wolfSSL refused the groups %s", names);
    wolfSSL_ERR_clear_error();
    struct en_ctx_state *st = state_of(ctx);
    memcpy(st->groups, list, (size_t)n);
    st->n_groups = n;
    return 0;
}

int en_tls_check_session(WOLFSSL *ssl, char *err, size_t errlen)
{
    const struct en_ctx_state *st = state_of(wolfSSL_get_SSL_CTX(ssl));
    const char *chosen = wolfSSL_get_curve_name(ssl);
    int server = wolfSSL_is_server(ssl);
    if (!st || st->n_groups == 0 || !chosen)
        return 0;
    for (int i = 0; i < st->n_groups; i++)
        if (strcasecmp(chosen, group_table[st->groups[i]].wolf) == 0)
            return 0;
    if (server)
        return say(err, errlen,
                   "TLS server: no shared key exchange group with the client "
                   "(compare eccs, and supported_groups for TLS 1.3, on both "
                   "sides)");
    return say(err, errlen,
               "TLS client: the server chose the key exchange group %s, "
               "which our eccs (or supported_groups) leave out: no shared "
               "group (compare them on both sides)",
               chosen);
}

/* signature_algs: the signatures we ask the peer for (in the
 * signature_algorithms extension, and a TLS 1.2 server's certificate
 * request).  After set_ciphers, which resets them.  Each name is tried
 * alone first, to name the one this wolfSSL build lacks. */
static int set_sigalgs(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                       size_t errlen)
{
    char list[512] = "";
    for (int i = 0; i < side->n_sigalgs; i++) {
        const struct sigalg *s = &sigalg_table[side->sigalgs[i]];
        if (wolfSSL_CTX_set1_sigalgs_list(ctx, s->wolf) != WOLFSSL_SUCCESS) {
            if (s->name)
                return say(err, errlen, "signature_algs: this wolfSSL build "
                           "lacks %s", s->name);
            return say(err, errlen, "signature_algs: this wolfSSL build "
                       "lacks {%s, %s}", s->hash, s->sign);
        }
        int again = 0; /* rsa_pss_rsae_H and rsa_pss_pss_H: one name */
        for (int k = 0; k < i; k++)
            again |= strcmp(sigalg_table[side->sigalgs[k]].wolf, s->wolf) == 0;
        if (!again)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     list[0] ? ":" : "", s->wolf);
    }
    wolfSSL_ERR_clear_error();
    if (side->n_sigalgs > 0 &&
        wolfSSL_CTX_set1_sigalgs_list(ctx, list) != WOLFSSL_SUCCESS)
        return say(err, errlen, "wolfSSL refused the signature algorithms %s",
                   list);
    return 0;
}

WOLFSSL_CTX *en_tls_ctx_new(en_tls_side_t *side, int role, char *err,
                            size_t errlen)
{
    if (role != EN_TLS_SERVER && role != EN_TLS_CLIENT) {
        say(err, errlen,
            "en_tls_ctx_new: role must be EN_TLS_SERVER or "
            "EN_TLS_CLIENT");
        return NULL;
    }
    wolfSSL_ERR_clear_error();
    WOLFSSL_CTX *ctx = new_ctx(side, role, err, errlen);
    if (!ctx)
        return NULL;
    if (attach_state(ctx, side, err, errlen) < 0 ||
        load_identity(ctx, side, role, err, errlen) < 0 ||
        load_ca(ctx, side, err, errlen) < 0 ||
        set_verify(ctx, side, role, err, errlen) < 0 ||
        load_crls(ctx, side, err, errlen) < 0 ||
        set_ciphers(ctx, side, err, errlen) < 0 ||
        (role == EN_TLS_SERVER && load_dh(ctx, side, err, errlen) < 0) ||
        set_groups(ctx, side, err, errlen) < 0 ||
        set_sigalgs(ctx, side, err, errlen) < 0) {
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    if (role == EN_TLS_SERVER)
        en_certreq_ctx_init(ctx); /* RSA and ECDSA clients alike: TLS 1.2 */
    return ctx;
}
