/* tlsconf_opts.c - the options of inet_tls_dist, one table: what each
 * means to enode (honoured, accepted without effect, or refused, and
 * why), which side takes it, how -ssl_dist_opt spells its value; and the
 * readers of the options enode honours, but for the groups and signature
 * algorithms (tlsconf_algs.c).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "base/buf.h"
#include "base/errmsg.h"
#include "tls/tlsconf_int.h"

/* ------------------------------------------------------------------ */
/* Options that enode honours                                          */
/* ------------------------------------------------------------------ */

static int set_file(opt_call_t *c, char **field)
{
    char *path;
    if (tc_value_string(c, &path, "must be a file name (a string)") < 0)
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
    if (tc_value_string(c, &password, "must be a string") < 0)
        return -1;
    free(c->side->password);
    c->side->password = password;
    return 0;
}

static int opt_verify(opt_call_t *c)
{
    char name[MAXATOMLEN_UTF8];
    if (tc_value_atom(c, name) == 0 && strcmp(name, "verify_peer") == 0)
        c->side->verify = EN_VERIFY_PEER;
    else if (tc_value_atom(c, name) == 0 && strcmp(name, "verify_none") == 0)
        c->side->verify = EN_VERIFY_NONE;
    else
        return tc_bad_value(c, "must be verify_peer or verify_none");
    return 0;
}

static int opt_fail_if_no_peer_cert(opt_call_t *c)
{
    return tc_value_bool(c, &c->side->fail_if_no_peer_cert);
}

static int opt_depth(opt_call_t *c)
{
    int idx = c->index;
    long long depth;
    if (ei_decode_longlong(c->buf, &idx, &depth) < 0 || depth < 0 ||
        depth > INT_MAX)
        return tc_bad_value(c, "must be a non-negative integer");
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
        return tc_bad_value(c, "must be a non-empty list such as "
                               "['tlsv1.3', 'tlsv1.2']");
    for (int i = 0; i < arity; i++) {
        char name[MAXATOMLEN_UTF8];
        const char *why = "versions must be a list of 'tlsv1.2' and 'tlsv1.3'";
        int bit = ei_decode_atom_as(c->buf, &idx, name, sizeof name,
                                    ERLANG_UTF8, NULL, NULL) < 0
                      ? -1
                      : version_bit(name, &why);
        if (bit < 0)
            return tc_bad_value(c, why);
        versions |= (unsigned)bit;
    }
    if (ei_decode_list_header(c->buf, &idx, &arity) < 0 || arity != 0)
        return tc_bad_value(c, "must be a proper list");
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
        r = tc_decode_string(buf, idx, &name);
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
        !(*out = tc_copy_string((const char *)b.data, b.len)))
        r = -1;
    en_buf_free(&b);
    return r;
}

/* ciphers: "A:B" (OpenSSL style) or ["A", "B"]. */
static int opt_ciphers(opt_call_t *c)
{
    int idx = c->index;
    char *ciphers;
    if (tc_decode_string(c->buf, &idx, &ciphers) < 0) {
        idx = c->index;
        if (join_names(c->buf, &idx, &ciphers) < 0)
            return tc_bad_value(c, "must be OpenSSL-style cipher suite names, "
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
    if (tc_value_atom(c, name) == 0) {
        if (strcmp(name, "disable") != 0)
            return tc_bad_value(c, "must be disable or a host name (a string)");
        c->side->sni_disable = 1;
        return 0;
    }
    if (tc_value_string(c, &host, "must be disable or a host name (a string)") <
        0)
        return -1;
    free(c->side->sni_host);
    c->side->sni_host = host;
    c->side->sni_disable = 0;
    return 0;
}

/* crl_check: false | true | peer | best_effort */
static int opt_crl_check(opt_call_t *c)
{
    static const char *const names[] = {"false", "true", "peer", "best_effort"};
    char name[MAXATOMLEN_UTF8];
    if (tc_value_atom(c, name) == 0)
        for (int i = 0; i < 4; i++)
            if (strcmp(name, names[i]) == 0) {
                c->side->crl_check = i;
                return 0;
            }
    return tc_bad_value(c, "must be true, false, peer or best_effort");
}

/* crl_cache: {ssl_crl_hash_dir, {internal, [{dir, Dir}]}}, a directory
 * of CRLs named as openssl rehash names them; or {ssl_crl_cache,
 * {internal, [{http, Timeout}]}}, OTP's default cache, which fetches
 * CRLs from the certificates' distribution points (tlsconf_crlhttp.c). */
static int opt_crl_cache(opt_call_t *c)
{
    static const char *const shape =
        "must be {ssl_crl_hash_dir, {internal, [{dir, Dir}]}} or "
        "{ssl_crl_cache, {internal, [{http, Timeout}]}}";
    int idx = c->index, arity, n;
    char module[MAXATOMLEN_UTF8], name[MAXATOMLEN_UTF8], *dir = NULL;
    if (ei_decode_tuple_header(c->buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_atom_as(c->buf, &idx, module, sizeof module, ERLANG_UTF8,
                          NULL, NULL) < 0 ||
        (strcmp(module, "ssl_crl_hash_dir") != 0 &&
         strcmp(module, "ssl_crl_cache") != 0) ||
        ei_decode_tuple_header(c->buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_atom_as(c->buf, &idx, name, sizeof name, ERLANG_UTF8, NULL,
                          NULL) < 0 ||
        strcmp(name, "internal") != 0)
        return tc_bad_value(c, shape);
    if (strcmp(module, "ssl_crl_cache") == 0)
        return tc_crl_cache_http(c, idx);
    if (ei_decode_list_header(c->buf, &idx, &n) < 0)
        return tc_bad_value(c, shape);
    for (int i = 0; i < n; i++) {
        char *value = NULL;
        if (ei_decode_tuple_header(c->buf, &idx, &arity) < 0 || arity != 2 ||
            ei_decode_atom_as(c->buf, &idx, name, sizeof name, ERLANG_UTF8,
                              NULL, NULL) < 0 ||
            strcmp(name, "dir") != 0 ||
            tc_decode_string(c->buf, &idx, &value) < 0 || !value) {
            free(value);
            free(dir);
            return tc_bad_value(c, shape);
        }
        free(dir);
        dir = value;
    }
    if (!dir)
        return tc_bad_value(c, shape);
    tc_crl_http_clear(c->side);
    free(c->side->crl_dir);
    c->side->crl_dir = dir;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Options honoured in one value only: the one that is what enode does */
/* ------------------------------------------------------------------ */

/* The value must be the atom `only`; else the option is refused, why. */
static int only_atom(opt_call_t *c, const char *only, const char *why)
{
    char name[MAXATOMLEN_UTF8];
    if (tc_value_atom(c, name) == 0 && strcmp(name, only) == 0)
        return 0;
    char shown[128];
    return en_errf(c->err, c->errlen, "%s is not supported with value %s: %s",
                   c->where, tc_show(c->buf, c->index, shown, sizeof shown),
                   why);
}

/* protocol: tls (dtls is for datagrams). */
static int opt_protocol(opt_call_t *c)
{
    return only_atom(c, "tls", "the distribution runs over TLS, not DTLS");
}

/* stapling: no_staple; enode asks for no OCSP response. */
static int opt_stapling(opt_call_t *c)
{
    return only_atom(c, "no_staple",
                     "enode does not ask for OCSP stapling (use CRLs)");
}

/* customize_hostname_check: [] only; enode checks host names as OTP does
 * by default, and cannot run a match_fun or an fqdn_fun. */
static int opt_customize_hostname_check(opt_call_t *c)
{
    int idx = c->index, arity;
    if (ei_decode_list_header(c->buf, &idx, &arity) == 0 && arity == 0)
        return 0;
    char shown[128];
    return en_errf(c->err, c->errlen,
                   "%s is not supported with value %s: enode checks host "
                   "names as OTP does by default and cannot run Erlang funs",
                   c->where, tc_show(c->buf, c->index, shown, sizeof shown));
}

/* ------------------------------------------------------------------ */
/* Options accepted without effect, options refused, and the table     */
/* ------------------------------------------------------------------ */

static int opt_no_effect(opt_call_t *c)
{
    tc_warn(c->conf, "%s has no effect in enode (%s)", c->where,
            c->option->why);
    return 0;
}

static int opt_refused(opt_call_t *c)
{
    return en_errf(c->err, c->errlen, "%s is not supported: %s", c->where,
                   c->option->why);
}

#define NO_TICKETS "enode does not use session tickets"
#define NO_RENEGOTIATION "enode never renegotiates"
#define NO_APP_PROTOCOL "the distribution negotiates no application protocol"
#define NO_FUNS "enode cannot run Erlang funs"

/* Every ssl option of OTP 29 (ssl_config's list), and log_alert, which
 * OTP still takes as an old name of log_level. */
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
    {"eccs", tc_opt_eccs, BOTH_SIDES, OPTFILE_ONLY, NULL},
    {"supported_groups", tc_opt_supported_groups, BOTH_SIDES, OPTFILE_ONLY,
     NULL},
    {"signature_algs", tc_opt_signature_algs, BOTH_SIDES, OPTFILE_ONLY, NULL},
    {"verify_fun", tc_opt_verify_fun, BOTH_SIDES, AS_VERIFY_FUN, NULL},
    {"protocol", opt_protocol, BOTH_SIDES, OPTFILE_ONLY, NULL},
    {"stapling", opt_stapling, CLIENT_ONLY, OPTFILE_ONLY, NULL},
    {"customize_hostname_check", opt_customize_hostname_check, CLIENT_ONLY,
     OPTFILE_ONLY, NULL},

    {"secure_renegotiate", opt_no_effect, BOTH_SIDES, AS_ATOM,
     NO_RENEGOTIATION},
    {"client_renegotiation", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     NO_RENEGOTIATION},
    {"renegotiate_at", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     NO_RENEGOTIATION},
    {"reuse_sessions", opt_no_effect, BOTH_SIDES, AS_ATOM,
     "enode does not resume TLS sessions"},
    {"reuse_session", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "enode does not resume TLS sessions"},
    {"session_tickets", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY, NO_TICKETS},
    {"use_ticket", opt_no_effect, CLIENT_ONLY, OPTFILE_ONLY, NO_TICKETS},
    {"early_data", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY, NO_TICKETS},
    {"anti_replay", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY, NO_TICKETS},
    {"stateless_tickets_seed", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     NO_TICKETS},
    {"hibernate_after", opt_no_effect, BOTH_SIDES, AS_INTEGER,
     "it tunes Erlang processes"},
    {"receiver_spawn_opts", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "it tunes Erlang processes"},
    {"sender_spawn_opts", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "it tunes Erlang processes"},
    {"ktls", opt_no_effect, BOTH_SIDES, AS_ATOM,
     "enode does not use kernel TLS; peers see the same bytes either way"},
    {"honor_cipher_order", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     "wolfSSL chooses the cipher suite"},
    {"honor_ecc_order", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     "wolfSSL chooses the key exchange group"},
    {"psk_groups", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "wolfSSL chooses the groups of its first key shares"},
    {"cookie", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     "wolfSSL decides when to send a HelloRetryRequest cookie"},
    {"certificate_authorities", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "wolfSSL decides which CA names it sends"},
    {"allow_any_ca_purpose", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "wolfSSL checks the purposes of CA certificates its own way"},
    {"fallback", opt_no_effect, CLIENT_ONLY, OPTFILE_ONLY,
     "enode never retries a handshake with an older version"},
    {"handshake", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "enode always makes the whole handshake"},
    {"key_update_at", opt_no_effect, BOTH_SIDES, OPTFILE_ONLY,
     "enode does not start TLS 1.3 key updates"},
    {"max_fragment_length", opt_no_effect, CLIENT_ONLY, OPTFILE_ONLY,
     "enode does not ask for shorter records"},
    {"alpn_advertised_protocols", opt_no_effect, CLIENT_ONLY, OPTFILE_ONLY,
     NO_APP_PROTOCOL},
    {"alpn_preferred_protocols", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     NO_APP_PROTOCOL},
    {"client_preferred_next_protocols", opt_no_effect, CLIENT_ONLY,
     OPTFILE_ONLY, NO_APP_PROTOCOL},
    {"next_protocols_advertised", opt_no_effect, SERVER_ONLY, OPTFILE_ONLY,
     NO_APP_PROTOCOL},
    {"next_protocol_selector", opt_no_effect, CLIENT_ONLY, OPTFILE_ONLY,
     NO_APP_PROTOCOL},
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

    {"partial_chain", opt_refused, BOTH_SIDES, OPTFILE_ONLY, NO_FUNS},
    {"user_lookup_fun", opt_refused, BOTH_SIDES, OPTFILE_ONLY, NO_FUNS},
    {"sni_fun", opt_refused, SERVER_ONLY, OPTFILE_ONLY, NO_FUNS},
    {"sni_hosts", opt_refused, SERVER_ONLY, OPTFILE_ONLY,
     "enode has one certificate per side and does not choose one by SNI"},
    {"cert_policy_opts", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "wolfSSL does not check certificate policies"},
    {"psk_identity", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode does not use pre-shared keys"},
    {"srp_identity", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode does not use SRP"},
    {"use_srtp", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "it concerns DTLS only"},
    {"cacerts", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode reads certificates from PEM files: use cacertfile"},
    {"cert", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode reads certificates from PEM files: use certfile"},
    {"key", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode reads keys from PEM files: use keyfile"},
    {"certs_keys", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "enode reads one certificate and key: use certfile and keyfile"},
    {"dh", opt_refused, SERVER_ONLY, OPTFILE_ONLY,
     "enode reads DH parameters from PEM files: use dhfile"},
    {"signature_algs_cert", opt_refused, BOTH_SIDES, OPTFILE_ONLY,
     "wolfSSL cannot send the signature_algorithms_cert extension; "
     "signature_algs restricts the signatures of certificates too"},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

const option_t *tc_find_option(const char *name)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

const char *en_tls_option_at(size_t i, en_tls_effect_t *effect)
{
    if (i >= N_OPTIONS)
        return NULL;
    if (effect)
        *effect = options[i].apply == opt_no_effect ? EN_TLS_NO_EFFECT
                  : options[i].apply == opt_refused ? EN_TLS_REFUSED
                                                    : EN_TLS_HONOURED;
    return options[i].name;
}
