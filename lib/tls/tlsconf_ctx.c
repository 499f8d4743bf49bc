/* tlsconf_ctx.c - the wolfSSL context that one side's options describe:
 * its TLS versions, certificate and key (with a password), CA
 * certificates, verification, cipher suites and DH parameters; the CRLs
 * (tlsconf_crl.c), groups and signature algorithms (tlsconf_algs.c) are
 * set through their own files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "base/errmsg.h"
#include "tls/ecc_cache.h"
#include "tls/tls_certreq.h"
#include "tls/tls_chain.h"
#include "tls/tlsconf_int.h"

#if defined(OPENSSL_EXTRA) && defined(KEEP_OUR_CERT)
#include <wolfssl/openssl/evp.h>
#define HAVE_SIGN_CHECK 1
#endif

/* " (wolfSSL: reason)" for the oldest queued wolfSSL error, or "". */
const char *tc_wolf_reason(char *text, size_t size)
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
        return en_errf(err, errlen, "cannot read %s %s: %s", what, path,
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
    en_tls_forget_ecc_points(); /* the probe's points: see tls.h */
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
        return en_errf(err, errlen,
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
        return en_errf(err, errlen,
                       "cannot decrypt the key in %s %s: wrong "
                       "password?%s",
                       what, keyfile, tc_wolf_reason(reason, sizeof reason));
    if (r != WOLFSSL_SUCCESS)
        return en_errf(err, errlen, "%s %s holds no PEM private key%s%s", what,
                       keyfile, side->keyfile ? "" : " (give a keyfile)",
                       tc_wolf_reason(reason, sizeof reason));
    /* Old-style PEM encryption has no integrity check: a wrong password
     * can yield a key, just not the right one. */
    if (!key_matches_cert(ctx))
        return en_errf(err, errlen,
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
        return en_errf(err, errlen, "keyfile %s is given without a certfile",
                       side->keyfile);
    if (!side->certfile && role == EN_TLS_SERVER)
        return en_errf(err, errlen,
                       "the server side needs a certfile: a TLS "
                       "server cannot work without a certificate");
    if (!side->certfile)
        return 0;
    if (check_readable("certfile", side->certfile, err, errlen) < 0)
        return -1;
    if (wolfSSL_CTX_use_certificate_chain_file(ctx, side->certfile) !=
        WOLFSSL_SUCCESS)
        return en_errf(err, errlen, "certfile %s holds no PEM certificate%s",
                       side->certfile, tc_wolf_reason(reason, sizeof reason));
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
        return en_errf(err, errlen,
                       "cacertfile %s holds no usable PEM "
                       "certificate%s",
                       side->cacertfile, tc_wolf_reason(reason, sizeof reason));
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

/* The verify callbacks of a context that verifies its peers: each keeps
 * the chain the peer sent for the checks after the handshake (verify_fun,
 * the allow list: tls_chain.h), and changes no verdict but CRL ones. */
static int verify_keep(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    en_tls_chain_keep(wolfSSL_X509_STORE_CTX_get_ex_data(store, 0), store);
    return preverify;
}

static int verify_keep_crl(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    en_tls_chain_keep(wolfSSL_X509_STORE_CTX_get_ex_data(store, 0), store);
    return tc_verify_crl(preverify, store);
}

static int set_verify(WOLFSSL_CTX *ctx, const en_tls_side_t *side, int role,
                      char *err, size_t errlen)
{
    en_verify_t verify =
        en_tls_side_verifies(side) ? EN_VERIFY_PEER : EN_VERIFY_NONE;
    if (verify == EN_VERIFY_PEER && !side->cacertfile)
        return en_errf(err, errlen,
                       "verify_peer needs a cacertfile: without CA "
                       "certificates no peer can be verified");
    if (side->verify_module && verify != EN_VERIFY_PEER)
        return en_errf(err, errlen,
                       "verify_fun needs verify_peer (and a cacertfile): "
                       "enode runs it on a chain that verified");
    int fail_if_none = role == EN_TLS_SERVER && side->fail_if_no_peer_cert == 1;
    if (fail_if_none && verify != EN_VERIFY_PEER)
        return en_errf(err, errlen,
                       "fail_if_no_peer_cert needs verify_peer (and "
                       "a cacertfile)");
    if (verify == EN_VERIFY_PEER)
        wolfSSL_CTX_set_verify(
            ctx,
            WOLFSSL_VERIFY_PEER |
                (fail_if_none ? WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
            side->crl_check ? verify_keep_crl : verify_keep);
    else
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE,
                               side->crl_check ? tc_verify_crl : NULL);
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
#define EN_TLS12_SUITES                                                        \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#else
#define EN_TLS12_SUITES                                                        \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#endif
#define EN_DEFAULT_SUITES                                                      \
    "TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"                  \
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
            return en_errf(err, errlen,
                           "wolfSSL takes none of enode's default "
                           "cipher suites");
        return 0;
    }
    for (const char *name = names; *name;) {
        size_t n = strcspn(name, ":");
        if (n > 0 && !cipher_known(ctx, name, n))
            return en_errf(err, errlen,
                           "ciphers: wolfSSL does not know the cipher suite "
                           "\"%.*s\"",
                           (int)(n > 80 ? 80 : n), name);
        name += n + (name[n] == ':');
    }
    wolfSSL_ERR_clear_error();
    if (wolfSSL_CTX_set_cipher_list(ctx, names) != WOLFSSL_SUCCESS)
        return en_errf(err, errlen, "ciphers: wolfSSL takes none of \"%s\"",
                       names);
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
        return en_errf(err, errlen,
                       "dhfile %s holds no usable PEM DH "
                       "parameters%s",
                       side->dhfile, tc_wolf_reason(reason, sizeof reason));
    return 0;
}

/* OTP: a side with dist options but no `versions` speaks TLS 1.2 only
 * (inet_tls_dist adds {versions, ['tlsv1.2']}); with no options at all,
 * ssl's defaults, 1.3 and 1.2, apply.  We mirror both. */
unsigned tc_versions_of(const en_tls_side_t *side)
{
    if (side->versions)
        return side->versions;
    return side->options_given ? EN_TLS_V12 : EN_TLS_V12 | EN_TLS_V13;
}

static WOLFSSL_CTX *new_ctx(const en_tls_side_t *side, int role, char *err,
                            size_t errlen)
{
    unsigned versions = tc_versions_of(side);
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
        en_errf(err, errlen,
                "cannot create a TLS context (out of memory, or "
                "wolfSSL_Init() was not called)");
        return NULL;
    }
    /* No session of enode's is ever resumed: the checks after each
     * handshake need the peer's chain, which only a full handshake
     * brings (tls_chain.h). The cache would only hold copies of sessions,
     * up to 33 of them, each with its peer chains when wolfSSL keeps
     * them (SESSION_CERTS: 37 KiB a session). */
    wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
    if (v12_only_with_groups)
        wolfSSL_CTX_set_options(ctx, WOLFSSL_OP_NO_TLSv1_3);
    if ((versions == (EN_TLS_V12 | EN_TLS_V13) || v12_only_with_groups) &&
        wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS) {
        wolfSSL_CTX_free(ctx);
        en_errf(err, errlen,
                "cannot restrict the TLS context to TLS 1.2 and up");
        return NULL;
    }
    return ctx;
}

WOLFSSL_CTX *en_tls_ctx_new(en_tls_side_t *side, int role, char *err,
                            size_t errlen)
{
    if (role != EN_TLS_SERVER && role != EN_TLS_CLIENT) {
        en_errf(err, errlen,
                "en_tls_ctx_new: role must be EN_TLS_SERVER or "
                "EN_TLS_CLIENT");
        return NULL;
    }
    wolfSSL_ERR_clear_error();
    WOLFSSL_CTX *ctx = new_ctx(side, role, err, errlen);
    if (!ctx)
        return NULL;
    if (tc_attach_state(ctx, side, err, errlen) < 0 ||
        load_identity(ctx, side, role, err, errlen) < 0 ||
        load_ca(ctx, side, err, errlen) < 0 ||
        set_verify(ctx, side, role, err, errlen) < 0 ||
        tc_load_crls(ctx, side, err, errlen) < 0 ||
        set_ciphers(ctx, side, err, errlen) < 0 ||
        (role == EN_TLS_SERVER && load_dh(ctx, side, err, errlen) < 0) ||
        tc_set_groups(ctx, side, err, errlen) < 0 ||
        tc_set_sigalgs(ctx, side, err, errlen) < 0) {
        wolfSSL_CTX_free(ctx);
        return NULL;
    }
    if (role == EN_TLS_SERVER)
        en_certreq_ctx_init(ctx); /* RSA and ECDSA clients alike: TLS 1.2 */
    return ctx;
}
