/* tlsconf_int.h - what the files of the TLS options module share
 * (private to tls/tlsconf*.c).
 *
 *   tlsconf.c         the configuration, and applying one option
 *   tlsconf_values.c  reading option values from the external term format
 *   tlsconf_opts.c    the table of options, and the readers of most
 *   tlsconf_algs.c    key exchange groups and signature algorithms
 *   tlsconf_args.c    -ssl_dist_opt pairs and the ssl_dist_optfile
 *   tlsconf_state.c   what a wolfSSL context keeps once it is made
 *   tlsconf_crl.c     crl_check with CRLs from a directory
 *   tlsconf_crlhttp.c crl_check with CRLs fetched over HTTP
 *   tlsconf_verifyfun.c  verify_fun, named as OTP names it
 *   tlsconf_ctx.c     the wolfSSL context an option side describes
 */
#ifndef ENODE_TLSCONF_INT_H
#define ENODE_TLSCONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include <ei.h>

#include "tls/tlsconf.h"

/* ---- options (tlsconf.c, tlsconf_opts.c) ---- */

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
    AS_TERM,           /* Erlang term text, as OTP's termify */
    AS_VERIFY_FUN      /* "{Module, Function, State}" -> {fun M:F/3, State} */
};

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

typedef struct option {
    const char *name;
    int (*apply)(opt_call_t *);
    enum sides sides;
    enum conv conv;
    const char *why; /* for options without effect, or refused: why */
} option_t;

/* The option named name, or NULL (tlsconf_opts.c). */
const option_t *tc_find_option(const char *name);

/* Apply option `name` whose value is buf[index] to side (tlsconf.c). */
int tc_apply_option(en_tls_conf_t *conf, en_tls_side_t *side,
                    const char *side_name, const char *where, const char *name,
                    const char *buf, int index, char *err, size_t errlen);

/* The "unknown option" error for where (tlsconf.c). */
int tc_unknown_option(const char *where, char *err, size_t errlen);

/* A sentence to the configuration's warning callback (tlsconf.c). */
void tc_warn(const en_tls_conf_t *conf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Free a side's strings and contexts' states; back to "not given". */
void tc_side_free(en_tls_side_t *side);

/* The readers of tlsconf_algs.c, for the table. */
int tc_opt_eccs(opt_call_t *c);
int tc_opt_supported_groups(opt_call_t *c);
int tc_opt_signature_algs(opt_call_t *c);

/* verify_fun (tlsconf_verifyfun.c): the option's reader, and the term
 * that -ssl_dist_opt's "{Module, Function, State}" stands for, into x
 * (-2: not that shape). */
int tc_opt_verify_fun(opt_call_t *c);
int tc_verify_fun_arg(ei_x_buff *x, const char *value);

/* crl_cache {ssl_crl_cache, {internal, Args}}, Args at c->buf[idx]
 * (tlsconf_crlhttp.c); and forgetting such an option. */
int tc_crl_cache_http(opt_call_t *c, int idx);
void tc_crl_http_clear(en_tls_side_t *side);

/* The one term of text value ("{a, b}", a final '.' optional) into x;
 * -2 if it is not one term (tlsconf_args.c). */
int tc_encode_term_text(ei_x_buff *x, const char *value);

/* ---- values (tlsconf_values.c) ---- */

/* "WHERE: what, not VALUE", with VALUE printed as Erlang would; -1. */
int tc_bad_value(const opt_call_t *c, const char *what);

/* A string value at buf[*idx]: an Erlang string, or a binary (taken as
 * bytes).  The empty string means "not given", as it does in OTP.  *out
 * is malloc'd and NUL-terminated, or NULL for empty. */
int tc_decode_string(const char *buf, int *idx, char **out);

/* The call's value as a string (tc_bad_value(c, what) if it is none). */
int tc_value_string(const opt_call_t *c, char **out, const char *what);

/* The call's value as an atom, UTF-8, into name[MAXATOMLEN_UTF8]; -1 if
 * it is not an atom. */
int tc_value_atom(const opt_call_t *c, char *name);

/* true or false into *out, else tc_bad_value(). */
int tc_value_bool(const opt_call_t *c, int *out);

/* The term at buf[idx] printed into text (truncated); text. */
const char *tc_show(const char *buf, int idx, char *text, size_t size);

/* A copy of s[0..n), NUL-terminated; NULL when out of memory. */
char *tc_copy_string(const char *s, size_t n);

/* ---- the state of a context (tlsconf_state.c) ---- */

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
    char *dir;      /* crl_cache directory; NULL: none */
    int check;      /* crl_check: 1 true, 2 peer, 3 best_effort */
    /* crl_cache {ssl_crl_cache, ...}: who fetches CRLs over HTTP, and the
     * side, for its allowed_hosts; NULL: not that cache */
    struct en_crl_fetcher *fetcher;
    const en_tls_side_t *side;
    uint64_t stamp; /* of the files last read; see tlsconf_crl.c */
    crl_pending_t *pending;
    size_t n_pending;
    unsigned char groups[EN_TLS_MAX_GROUPS]; /* eccs or supported_groups */
    int n_groups;                            /* 0: wolfSSL's defaults */
};

/* The state of ctx, or NULL. */
struct en_ctx_state *tc_state_of(WOLFSSL_CTX *ctx);

/* A state for a new context, kept in the side and attached to ctx. */
int tc_attach_state(WOLFSSL_CTX *ctx, en_tls_side_t *side, char *err,
                    size_t errlen);

/* Free a list of states. */
void tc_states_free(struct en_ctx_state *d);

/* Forget the CRLs that wait for their issuer. */
void tc_drop_pending(struct en_ctx_state *d);

/* The ex_data indexes of a session: its CRL verdict (tlsconf_crl.c),
 * whether it saw its CRLs refreshed, and what it waits for and was told
 * of CRLs over HTTP (tlsconf_crlhttp.c).  -1 until tc_state_of() made
 * them. */
int tc_verdict_index(void);
int tc_fresh_index(void);
int tc_crlhttp_index(void);

/* ---- the context (tlsconf_ctx.c, tlsconf_crl.c, tlsconf_algs.c) ---- */

/* " (wolfSSL: reason)" for the oldest queued wolfSSL error, or "". */
const char *tc_wolf_reason(char *text, size_t size);

/* The TLS versions a side speaks: EN_TLS_V12 | EN_TLS_V13. */
unsigned tc_versions_of(const en_tls_side_t *side);

/* The verify callback of a context with crl_check (tlsconf_crl.c). */
int tc_verify_crl(int preverify, WOLFSSL_X509_STORE_CTX *store);

/* crl_check with crl_cache: the CRLs of the directory (tlsconf_crl.c). */
int tc_load_crls(WOLFSSL_CTX *ctx, en_tls_side_t *side, char *err,
                 size_t errlen);

/* The CRL verdict of a session (tlsconf_crl.c): CRL_PASSED when the
 * verify callback let a CRL failure through, else the first refusal,
 * CRL_MISSING or CRL_CERT_REVOKED, which wins. */
#define CRL_PASSED 1
void tc_note_crl(WOLFSSL *ssl, intptr_t verdict);

/* Let the certificate of store through the verify callback: noted as
 * passed, and a CA of the chain trusted for the rest (tlsconf_crl.c).
 * Returns 1, the callback's answer. */
int tc_crl_pass(struct en_ctx_state *d, WOLFSSL *ssl,
                WOLFSSL_X509_STORE_CTX *store);

/* CRLs over HTTP (tlsconf_crlhttp.c): the context's fetcher, and the
 * verify callback's decision on a certificate with error CRL_MISSING or
 * CRL_CERT_REVOKED (0 refuse, 1 let through). */
int tc_crl_http_setup(struct en_ctx_state *d, en_tls_side_t *side,
                      char *err, size_t errlen);
int tc_verify_crl_http(struct en_ctx_state *d, WOLFSSL *ssl,
                       WOLFSSL_X509_STORE_CTX *store, int revoked);

/* eccs / supported_groups and signature_algs (tlsconf_algs.c). */
int tc_set_groups(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                  size_t errlen);
int tc_set_sigalgs(WOLFSSL_CTX *ctx, const en_tls_side_t *side, char *err,
                   size_t errlen);

#endif
