/* tlsconf_crl.c - crl_check with CRLs from a directory, as OTP's
 * ssl_crl_hash_dir: reading the directory, reading it again when its
 * files change, and deciding on a certificate without a CRL or a revoked
 * one as OTP decides under crl_check true, peer and best_effort.  The
 * verify callback hands certificates to tlsconf_crlhttp.c when the CRLs
 * come over HTTP instead.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/errmsg.h"
#include "tls/tlsconf_int.h"

#define CRL_FILE_MAX (64u << 20) /* a larger file is not a CRL we take */

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
    unsigned char *data =
        size > 0 && size <= CRL_FILE_MAX ? malloc(size) : NULL;
    FILE *f = data ? fopen(path, "rb") : NULL;
    if (f) {
        n = fread(data, 1, size, f);
        fclose(f);
    }
    int type = n > 10 && memcmp(data, "-----BEGIN", 10) == 0
                   ? WOLFSSL_FILETYPE_PEM
                   : WOLFSSL_FILETYPE_ASN1;
    int r = n > 0 ? wolfSSL_CTX_LoadCRLBuffer(d->ctx, data, (long)n, type) : -1;
    if (r == WOLFSSL_SUCCESS) {
        free(data);
        return 0;
    }
    if (r == ASN_CRL_NO_SIGNER_E && add_pending(d, data, n, type) == 0) {
        wolfSSL_ERR_clear_error();
        return 0;
    }
    free(data);
    return en_errf(err, errlen,
                   "crl_cache: %s is not a CRL (PEM or DER) signed by a CA we "
                   "know%s",
                   path, tc_wolf_reason(reason, sizeof reason));
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
    tc_drop_pending(d);
    if (wolfSSL_CTX_EnableCRL(d->ctx, mode) != WOLFSSL_SUCCESS)
        return en_errf(err, errlen, "cannot enable CRL checking%s",
                       tc_wolf_reason(reason, sizeof reason));
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
        int r =
            wolfSSL_CTX_LoadCRLBuffer(d->ctx, p->data, (long)p->len, p->type);
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

/* The CRL verdict of a session, in its ex_data: 0 none yet, or as
 * tc_note_crl() says. */
static intptr_t crl_verdict(WOLFSSL *ssl)
{
    return tc_verdict_index() < 0
               ? 0
               : (intptr_t)wolfSSL_get_ex_data(ssl, tc_verdict_index());
}

void tc_note_crl(WOLFSSL *ssl, intptr_t verdict)
{
    intptr_t now = crl_verdict(ssl);
    /* the first refusal wins over everything, a pass over nothing */
    if (tc_verdict_index() >= 0 && (verdict < 0 ? now >= 0 : now == 0))
        wolfSSL_set_ex_data(ssl, tc_verdict_index(), (void *)verdict);
}

/* wolfSSL reports each certificate that failed its checks here, the CAs
 * of the chain before the peer's own.  Decide CRL failures as OTP does:
 * best_effort lets a certificate without a CRL through (its revocation
 * status is undetermined), never a revoked one. */
int tc_verify_crl(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    if (preverify || !store)
        return preverify;
    WOLFSSL *ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store, 0);
    struct en_ctx_state *d = ssl ? tc_state_of(wolfSSL_get_SSL_CTX(ssl)) : NULL;
    int error = store->error;
    if (!d || !(crl_missing(error) || crl_revoked(error)))
        return 0;
    if (d->fetcher)
        return tc_verify_crl_http(d, ssl, store, crl_revoked(error));
    if (!d->dir)
        return 0;
    if (crl_missing(error))
        error = recheck_with_pending(d, store);
    if (error != WOLFSSL_SUCCESS && !(d->check == 3 && crl_missing(error))) {
        tc_note_crl(ssl, crl_revoked(error) ? CRL_CERT_REVOKED : CRL_MISSING);
        return 0;
    }
    return tc_crl_pass(d, ssl, store);
}

int tc_crl_pass(struct en_ctx_state *d, WOLFSSL *ssl,
                WOLFSSL_X509_STORE_CTX *store)
{
    tc_note_crl(ssl, CRL_PASSED);
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
int tc_load_crls(WOLFSSL_CTX *ctx, en_tls_side_t *side, char *err,
                 size_t errlen)
{
    if (!side->crl_check)
        return 0;
    if (!side->crl_dir && !side->crl_http_ms)
        return en_errf(
            err, errlen,
            "crl_check needs crl_cache {ssl_crl_hash_dir, {internal, "
            "[{dir, Dir}]}} or {ssl_crl_cache, {internal, [{http, "
            "Timeout}]}}: without either, OTP finds no CRL and refuses "
            "every peer");
    if (!side->cacertfile)
        return en_errf(err, errlen, "crl_check needs a cacertfile");
    if (side->crl_http_ms) {
        struct en_ctx_state *d = tc_state_of(ctx);
        d->check = side->crl_check;
        return tc_crl_http_setup(d, side, err, errlen);
    }
    DIR *probe = opendir(side->crl_dir);
    if (!probe)
        return en_errf(err, errlen, "crl_cache: cannot read directory %s: %s",
                       side->crl_dir, strerror(errno));
    closedir(probe);
    struct en_ctx_state *d = tc_state_of(ctx);
    if (!(d->dir = strdup(side->crl_dir)))
        return en_errf(err, errlen, "out of memory");
    d->check = side->crl_check;
    if (crl_reload(d, 1, err, errlen) < 0)
        return -1;
    if (d->stamp == 2 && side->crl_check != 3)
        return en_errf(err, errlen,
                       "crl_cache: directory %s holds no CRL (files named "
                       "<hash>.r0 as openssl rehash makes them), so crl_check "
                       "would refuse every peer",
                       side->crl_dir);
    return 0;
}

int en_tls_session_refresh(WOLFSSL *ssl, char *err, size_t errlen)
{
    const struct en_ctx_state *d = tc_state_of(wolfSSL_get_SSL_CTX(ssl));
    /* once per session, but at every step while the CRLs are freed after
     * a failed reload (stamp 0): wolfSSL must not check against none */
    if (!d || !d->dir || tc_fresh_index() < 0 ||
        (wolfSSL_get_ex_data(ssl, tc_fresh_index()) && d->stamp != 0))
        return 0;
    wolfSSL_set_ex_data(ssl, tc_fresh_index(), (void *)1);
    return en_tls_ctx_refresh(wolfSSL_get_SSL_CTX(ssl), err, errlen);
}

int en_tls_ctx_refresh(WOLFSSL_CTX *ctx, char *err, size_t errlen)
{
    struct en_ctx_state *d = tc_state_of(ctx);
    char why[256];
    int failed;
    if (!d || !d->dir ||
        dir_stamp(d, NULL, &failed, why, sizeof why) == d->stamp)
        return 0;
    if (crl_reload(d, 0, why, sizeof why) < 0)
        return en_errf(err, errlen,
                       "TLS: cannot read the CRLs of crl_cache %s "
                       "again: %s",
                       d->dir, why);
    return 0;
}
