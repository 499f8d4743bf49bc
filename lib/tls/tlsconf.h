/* tlsconf.h - TLS options as OTP's inet_tls_dist takes them, and the
 * wolfSSL context they describe.
 *
 * Options come from the same two places erl reads them:
 *
 *   -ssl_dist_optfile FILE   one term, [{server, Opts}, {client, Opts}].
 *   -ssl_dist_opt K V ...    pairs such as server_certfile /x.pem
 *
 * As in OTP, an optfile entry for a side wins: once the optfile gave
 * {server, Opts}, -ssl_dist_opt server_* options are ignored (with a
 * warning), whichever order the two are applied in.
 *
 * Options that enode honours: certfile, keyfile, cacertfile, password,
 * verify, fail_if_no_peer_cert, depth, versions, ciphers, dhfile,
 * server_name_indication, eccs, supported_groups, signature_algs,
 * crl_check and crl_cache (the {ssl_crl_hash_dir, {internal, [{dir,
 * Dir}]}} form: CRLs from a directory, read when the context is made and
 * again when its files change, see en_tls_ctx_refresh(); and the
 * {ssl_crl_cache, {internal, [{http, Timeout}]}} form: CRLs fetched from
 * the certificates' distribution points, see en_tls_crl_waiting()).  Options that
 * only tune OTP's own implementation
 * (secure_renegotiate, reuse_sessions, hibernate_after, log_level, ...) are
 * accepted and reported through the warning callback.  Everything else is
 * an error naming the option, so that nothing a user asked for, above all
 * a security check, is silently dropped.
 */
#ifndef ENODE_TLSCONF_H
#define ENODE_TLSCONF_H

#include <stddef.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define EN_TLS_V12 1u
#define EN_TLS_V13 2u

/* Room for every distinct group and signature algorithm enode knows. */
#define EN_TLS_MAX_GROUPS 8
#define EN_TLS_MAX_SIGALGS 32

struct en_ctx_state;

/* The role a context is made for. */
#define EN_TLS_SERVER 0 /* acceptor */
#define EN_TLS_CLIENT 1 /* initiator */

typedef enum {
    EN_VERIFY_DEFAULT = 0, /* verify_peer if a cacertfile is given, else none */
    EN_VERIFY_NONE,
    EN_VERIFY_PEER
} en_verify_t;

/* The options of one side, "server" or "client".  Strings are malloc'd,
 * owned by the struct, and NULL when not given. */
typedef struct en_tls_side {
    char *certfile, *keyfile, *cacertfile, *password;
    char *dhfile; /* server only: DH parameters, PEM */
    en_verify_t verify;
    int fail_if_no_peer_cert; /* -1 unset, 0 or 1 */
    int depth;                /* -1 unset */
    unsigned versions;        /* EN_TLS_V12 | EN_TLS_V13; 0 unset */
    char *ciphers;            /* OpenSSL-style "A:B:C", or NULL */
    int sni_disable;          /* server_name_indication: disable */
    char *sni_host;           /* server_name_indication: "host" */
    int crl_check;            /* 0 false, 1 true, 2 peer, 3 best_effort */
    char *crl_dir;            /* crl_cache {ssl_crl_hash_dir, ... dir} */
    /* crl_cache {ssl_crl_cache, {internal, [{http, Timeout}]}}: CRLs from
     * the certificates' distribution points; 0 when not given.  With
     * allowed_hosts ("host" for port 80, "host:port"), from those only. */
    long crl_http_ms;
    char **crl_allowed;
    int n_crl_allowed;
    /* eccs (TLS 1.2 curves), supported_groups (TLS 1.3 groups) and
     * signature_algs, in the order given, as indexes into the tables of
     * tlsconf_algs.c, of what wolfSSL can do; n_* = 0: not given. */
    unsigned char eccs[EN_TLS_MAX_GROUPS], groups[EN_TLS_MAX_GROUPS];
    int n_eccs, n_groups;
    unsigned char sigalgs[EN_TLS_MAX_SIGALGS];
    int n_sigalgs;
    /* verify_fun {fun Module:Function/3, State}: the C function the
     * application registered under that name runs on the peer's chain
     * (net layer); State as term_to_binary(State), version byte first. */
    char *verify_module, *verify_function;
    char *verify_state;
    int verify_state_len;
    struct en_ctx_state *ctx_states; /* per context made; see en_tls_ctx_new */
    int options_given;               /* options read for this side */
    int from_optfile;                /* the optfile had an entry for it */
} en_tls_side_t;

/* Receives one sentence per option that is accepted but has no effect. */
typedef void en_tls_warn_fn(void *arg, const char *message);

typedef struct en_tls_conf {
    en_tls_side_t server, client;
    int any_option_given; /* some option, for either side */
    en_tls_warn_fn *warn; /* NULL: warnings are dropped */
    void *warn_arg;
} en_tls_conf_t;

/* Set every option to "not given".  Set warn/warn_arg after this. */
void en_tls_conf_init(en_tls_conf_t *conf);

/* Free the strings and return conf to its just-initialised state (the
 * warning callback is kept). */
void en_tls_conf_free(en_tls_conf_t *conf);

/* Read an ssl_dist_optfile.  Returns 0, or -1 with a sentence in err
 * naming the file and the line and column (for syntax errors) or the side
 * and option (for bad options).  On error conf may hold part of the file;
 * free it with en_tls_conf_free() as usual. */
int en_tls_conf_read_optfile(en_tls_conf_t *conf, const char *path, char *err,
                             size_t errlen);

/* The same for the text of an optfile, text[0..len), named path in
 * messages (the reader's entry point for tests and fuzzing). */
int en_tls_conf_parse_optfile(en_tls_conf_t *conf, const char *path,
                              const char *text, size_t len, char *err,
                              size_t errlen);

/* Apply one -ssl_dist_opt pair as erl takes it, e.g. ("server_certfile",
 * "/x.pem"), ("client_verify", "verify_peer"), ("server_depth", "2"),
 * ("client_versions", "tlsv1.3").  OTP's set of keys, plus
 * server_name_indication ("disable" or a host name) as an enode extension.
 * Returns 0 or -1 with a sentence in err. */
int en_tls_conf_set_opt(en_tls_conf_t *conf, const char *key, const char *value,
                        char *err, size_t errlen);

/* What enode does with an ssl option that an OTP option file may hold. */
typedef enum en_tls_effect {
    EN_TLS_HONOURED,  /* read and applied (some only in OTP's default) */
    EN_TLS_NO_EFFECT, /* accepted, with a warning that says why */
    EN_TLS_REFUSED    /* an error that says why */
} en_tls_effect_t;

/* The name of the i-th option enode knows (0, 1, ...), and into *effect
 * (if not NULL) what enode does with it; NULL past the last.  Every ssl
 * option of OTP 29 is there; any other name is an error. */
const char *en_tls_option_at(size_t i, en_tls_effect_t *effect);

/* Whether this side checks the peer's certificate: verify_peer, or no
 * verify option and a cacertfile given (enode's default, stricter than
 * OTP 25's). */
int en_tls_side_verifies(const en_tls_side_t *side);

/* Make a wolfSSL context for one side; role is EN_TLS_SERVER or
 * EN_TLS_CLIENT.  The caller has called wolfSSL_Init() and owns the
 * result (wolfSSL_CTX_free()).  Returns NULL with a sentence in err.
 *
 * Versions: TLS 1.2 and 1.3 only.  As OTP does, a side with options but
 * no `versions` gets TLS 1.2 only; a side with no options at all gets
 * both.  verify_peer requires a cacertfile; the default is verify_peer
 * when a cacertfile is given, else verify_none.  A missing keyfile means
 * the key is in certfile, as in OTP.
 *
 * Server name indication is per connection, so it is left to the caller:
 * side->sni_disable and side->sni_host say what to send.
 *
 * The context keeps the state of the side's CRL directory in the side
 * (side->ctx_states), so the side must outlive the context; it is freed
 * with the side by en_tls_conf_free(). */
WOLFSSL_CTX *en_tls_ctx_new(en_tls_side_t *side, int role, char *err,
                            size_t errlen);

/* If the files of the context's crl_cache directory changed since they
 * were read, read them again, so that a CRL added, replaced or removed
 * counts for the next handshakes, as with OTP's ssl_crl_hash_dir (which
 * reads the directory when it verifies).  Costs a readdir and a stat per
 * CRL file when nothing changed.  Returns 0, or -1 with a sentence in err
 * (out of memory: refuse the handshake rather than run it without CRLs).
 * A context without crl_check: 0 at once. */
int en_tls_ctx_refresh(WOLFSSL_CTX *ctx, char *err, size_t errlen);

/* The same for the context of a session, once per session: call it before
 * each handshake step. */
int en_tls_session_refresh(WOLFSSL *ssl, char *err, size_t errlen);

/* After a handshake: refuse a key exchange group that the side's eccs (or
 * supported_groups) leave out.  wolfSSL 5.5 lets one through: a TLS 1.2
 * server that shares no curve with the client falls back to P-256, and a
 * client takes whatever curve the server picks.  0, or -1 with a sentence
 * in err. */
int en_tls_check_session(WOLFSSL *ssl, char *err, size_t errlen);

/* Why crl_check refused the peer of a failed handshake: CRL_CERT_REVOKED
 * or CRL_MISSING, for its certificate or a CA certificate of its chain,
 * or 0.  wolfSSL's own error is the last one, which after a CA's failure
 * says unknown CA. */
int en_tls_crl_refusal(WOLFSSL *ssl);

/* ---- CRLs over HTTP: crl_cache {ssl_crl_cache, {internal, [{http, T}]}}
 *
 * A certificate whose CRL is not at hand passes the handshake for now,
 * while a worker thread fetches its CRL: the caller must hold the
 * connection after the handshake, reading and writing nothing, while
 * en_tls_crl_waiting() says so, and then take en_tls_crl_verdict()'s.
 * The worker calls the context's wake function when a fetch is over.
 * Contexts without that cache: never waiting, verdict 0 at once. */

/* Who to wake (from the worker thread) when a CRL fetch is over. */
void en_tls_ctx_set_wake(WOLFSSL_CTX *ctx, void (*fn)(void *), void *arg);

/* Whether the session's handshake left CRL fetches under way. */
int en_tls_crl_waiting(WOLFSSL *ssl);

/* Once nothing is waited for: 0 to go on (warn, if not empty, says what
 * crl_check best_effort let through, to log), or -1 with why the peer is
 * refused in why ("the peer's certificate is revoked (listed in the CRL
 * from http://...)", "the revocation status of ... is undetermined
 * (crl_check): cannot fetch the CRL from URL: timed out after 500 ms").
 * Both buffers get a sentence without the "we refused" prefix. */
int en_tls_crl_verdict(WOLFSSL *ssl, char *why, size_t whylen, char *warn,
                       size_t warnlen);

/* Why crl_check refused the peer during a failed handshake, with the URL
 * of the CRL, when the CRLs came over HTTP; NULL otherwise. */
const char *en_tls_crl_reason(WOLFSSL *ssl);

/* Forget what a session kept of CRLs over HTTP (en_tls_free() does). */
void en_tls_crl_session_free(WOLFSSL *ssl);

/* Whether the peer's chain verified, counting certificates without a CRL
 * that crl_check best_effort let through (wolfSSL leaves them marked
 * rejected). */
int en_tls_peer_verified(WOLFSSL *ssl);

#endif
