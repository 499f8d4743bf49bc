/* tlsconf_algs.c - key exchange groups (eccs, supported_groups) and
 * signature algorithms (signature_algs): reading them by OTP's names,
 * giving them to a wolfSSL context, and holding a session to them.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <ei.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "base/errmsg.h"
#include "tls/tlsconf_int.h"

/* ------------------------------------------------------------------ */
/* Reading them                                                        */
/* ------------------------------------------------------------------ */

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
        return tc_bad_value(c, what);
    return 0;
}

static int list_end(const opt_call_t *c, int *idx)
{
    int arity;
    if (ei_decode_list_header(c->buf, idx, &arity) < 0 || arity != 0)
        return tc_bad_value(c, "must be a proper list");
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
            return en_errf(c->err, c->errlen,
                           "%s: enode cannot offer %s; the "
                           "list %s",
                           c->where, tc_show(c->buf, at, name, sizeof name),
                           what);
        add_index(found, &count, g);
    }
    if (list_end(c, &idx) < 0)
        return -1;
    memcpy(list, found, (size_t)count);
    *n = count;
    return 0;
}

int tc_opt_eccs(opt_call_t *c)
{
    return read_groups(c, c->side->eccs, &c->side->n_eccs);
}

int tc_opt_supported_groups(opt_call_t *c)
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
            if (!sigalg_table[i].name &&
                strcmp(name, sigalg_table[i].hash) == 0 &&
                strcmp(sign, sigalg_table[i].sign) == 0)
                return i;
        return -1;
    }
    *idx = at;
    tc_show(buf, at, shown, size);
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
            tc_warn(c->conf,
                    "%s: wolfSSL offers %s%s together with %s: it has one "
                    "setting for both",
                    c->where,
                    strncmp(name, "rsa_pss_rsae_", 13) == 0 ? "rsa_pss_pss_"
                                                            : "rsa_pss_rsae_",
                    strrchr(name, '_') + 1, name);
    }
}

/* signature_algs: [Scheme | {Hash, Sign}], OTP's two forms, mixed. */
int tc_opt_signature_algs(opt_call_t *c)
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
            return en_errf(
                c->err, c->errlen,
                "%s: enode cannot use %s (it takes ecdsa_secp*_sha*, "
                "rsa_pss_rsae_sha*, rsa_pss_pss_sha*, rsa_pkcs1_sha*, "
                "ed25519, ed448, ecdsa_sha1, and {Hash, ecdsa | rsa} "
                "with Hash sha512 to sha)",
                c->where, shown);
        if (idx == at && ei_skip_term(c->buf, &idx) < 0)
            return tc_bad_value(c, what);
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
/* In the context and the session                                      */
/* ------------------------------------------------------------------ */

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
    unsigned versions = tc_versions_of(side);
    int eccs = (versions & EN_TLS_V12) && side->n_eccs > 0;
    *list = NULL;
    *n = 0;
    if (side->n_groups > 0 && !(versions & EN_TLS_V13))
        return en_errf(err, errlen,
                       "supported_groups is for TLS 1.3, but this side speaks "
                       "TLS 1.2 only (OTP refuses it too): use eccs, or add "
                       "'tlsv1.3' to versions");
    if (eccs && side->n_groups > 0 &&
        (side->n_eccs != side->n_groups ||
         memcmp(side->eccs, side->groups, (size_t)side->n_eccs) != 0))
        return en_errf(err, errlen,
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
int tc_set_groups(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
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
            return en_errf(err, errlen,
                           "%s: this wolfSSL build lacks the group %s",
                           side->n_eccs ? "eccs" : "supported_groups", g->name);
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                 i ? ":" : "", g->wolf);
    }
    if (n > 0 && wolfSSL_CTX_set1_curves_list(ctx, names) != WOLFSSL_SUCCESS)
        return en_errf(err, errlen, "wolfSSL refused the groups %s", names);
    wolfSSL_ERR_clear_error();
    struct en_ctx_state *st = tc_state_of(ctx);
    memcpy(st->groups, list, (size_t)n);
    st->n_groups = n;
    return 0;
}

int en_tls_check_session(WOLFSSL *ssl, char *err, size_t errlen)
{
    const struct en_ctx_state *st = tc_state_of(wolfSSL_get_SSL_CTX(ssl));
    const char *chosen = wolfSSL_get_curve_name(ssl);
    int server = wolfSSL_is_server(ssl);
    if (!st || st->n_groups == 0 || !chosen)
        return 0;
    for (int i = 0; i < st->n_groups; i++)
        if (strcasecmp(chosen, group_table[st->groups[i]].wolf) == 0)
            return 0;
    if (server)
        return en_errf(
            err, errlen,
            "TLS server: no shared key exchange group with the client "
            "(compare eccs, and supported_groups for TLS 1.3, on both "
            "sides)");
    return en_errf(err, errlen,
                   "TLS client: the server chose the key exchange group %s, "
                   "which our eccs (or supported_groups) leave out: no shared "
                   "group (compare them on both sides)",
                   chosen);
}

/* signature_algs: the signatures we ask the peer for (in the
 * signature_algorithms extension, and a TLS 1.2 server's certificate
 * request).  After set_ciphers, which resets them.  Each name is tried
 * alone first, to name the one this wolfSSL build lacks. */
int tc_set_sigalgs(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                   size_t errlen)
{
    char list[512] = "";
    for (int i = 0; i < side->n_sigalgs; i++) {
        const struct sigalg *s = &sigalg_table[side->sigalgs[i]];
        if (wolfSSL_CTX_set1_sigalgs_list(ctx, s->wolf) != WOLFSSL_SUCCESS) {
            if (s->name)
                return en_errf(err, errlen,
                               "signature_algs: this wolfSSL build "
                               "lacks %s",
                               s->name);
            return en_errf(err, errlen,
                           "signature_algs: this wolfSSL build "
                           "lacks {%s, %s}",
                           s->hash, s->sign);
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
        return en_errf(err, errlen,
                       "wolfSSL refused the signature algorithms %s", list);
    return 0;
}
