/* tlsconf_crlhttp.c - crl_check with crl_cache {ssl_crl_cache, {internal,
 * [{http, Timeout}]}}, OTP's default cache: the CRL of a certificate comes
 * from the http URL of its CRL distribution point, and is kept (in the
 * context's wolfSSL certificate manager) until its nextUpdate.
 *
 * wolfSSL checks CRLs inside the handshake and cannot wait there without
 * blocking (Debian's build lacks WOLFSSL_NONBLOCK_OCSP).  So the verify
 * callback, meeting a certificate whose CRL it does not have, asks the
 * fetcher (tls_crlfetch.c) for the URL, lets the certificate through for
 * now and keeps it; the handshake completes, and the net layer holds the
 * connection before the distribution handshake until the fetches are
 * over (en_tls_crl_waiting()), then asks en_tls_crl_verdict(), which loads
 * the CRLs and checks the kept certificates.  Nothing is read from or
 * written to the peer in between.
 *
 * The decisions are OTP's (ssl_handshake:maybe_check_crl/5): a revoked
 * certificate is refused under every crl_check; one whose status cannot
 * be determined (no http distribution point, a fetch that failed, a body
 * that is not a CRL signed by its issuer) is refused under true and peer,
 * and let through under best_effort, which logs why.  peer checks the
 * peer's certificate only (wolfSSL's WOLFSSL_CRL_CHECK).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ei.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>

#include "base/errmsg.h"
#include "tls/tls_crlfetch.h"
#include "tls/tlsconf_int.h"

/* ---- the option --------------------------------------------------------- */

void tc_crl_http_clear(en_tls_side_t *side)
{
    for (int i = 0; i < side->n_crl_allowed; i++)
        free(side->crl_allowed[i]);
    free(side->crl_allowed);
    side->crl_allowed = NULL;
    side->n_crl_allowed = 0;
    side->crl_http_ms = 0;
}

/* allowed_hosts: a list of strings, "host" or "host:port", at buf[*idx]. */
static int read_allowed(opt_call_t *c, int *idx, char ***out, int *n_out)
{
    int n, tail;
    if (ei_decode_list_header(c->buf, idx, &n) < 0 || n < 0)
        return -1;
    char **hosts = calloc((size_t)n + 1, sizeof *hosts);
    if (!hosts)
        return -1;
    for (int i = 0; i < n; i++)
        if (tc_decode_string(c->buf, idx, &hosts[i]) < 0 || !hosts[i]) {
            for (int j = 0; j <= i; j++)
                free(hosts[j]);
            free(hosts);
            return -1;
        }
    if (n > 0 && (ei_decode_list_header(c->buf, idx, &tail) < 0 || tail)) {
        for (int j = 0; j < n; j++)
            free(hosts[j]);
        free(hosts);
        return -1;
    }
    if (n == 0) { /* [] allows what no list allows */
        free(hosts);
        hosts = NULL;
    }
    *out = hosts;
    *n_out = n;
    return 0;
}

int tc_crl_cache_http(opt_call_t *c, int idx)
{
    static const char *const shape =
        "must be {ssl_crl_cache, {internal, [{http, Timeout}]}}, Timeout "
        "in milliseconds, with {allowed_hosts, [\"host:port\", ...]} if "
        "wanted";
    int n, arity;
    long ms = 0;
    char key[MAXATOMLEN_UTF8], **hosts = NULL;
    int n_hosts = 0, bad = 0;
    if (ei_decode_list_header(c->buf, &idx, &n) < 0)
        return tc_bad_value(c, shape);
    for (int i = 0; i < n && !bad; i++) {
        bad = ei_decode_tuple_header(c->buf, &idx, &arity) < 0 ||
              arity != 2 ||
              ei_decode_atom_as(c->buf, &idx, key, sizeof key, ERLANG_UTF8,
                                NULL, NULL) < 0;
        if (bad)
            break;
        if (strcmp(key, "http") == 0)
            bad = ei_decode_long(c->buf, &idx, &ms) < 0 || ms <= 0;
        else if (strcmp(key, "allowed_hosts") == 0 && !hosts)
            bad = read_allowed(c, &idx, &hosts, &n_hosts) < 0;
        else
            bad = 1;
    }
    if (bad || ms <= 0) {
        for (int i = 0; i < n_hosts; i++)
            free(hosts[i]);
        free(hosts);
        return tc_bad_value(c, shape);
    }
    if (!en_crl_fetch_available()) {
        for (int i = 0; i < n_hosts; i++)
            free(hosts[i]);
        free(hosts);
        return en_errf(c->err, c->errlen,
                       "%s: CRLs over HTTP are not available: enode was "
                       "built without libcurl (use {ssl_crl_hash_dir, "
                       "{internal, [{dir, Dir}]}} instead)",
                       c->where);
    }
    tc_crl_http_clear(c->side);
    free(c->side->crl_dir);
    c->side->crl_dir = NULL;
    c->side->crl_http_ms = ms;
    c->side->crl_allowed = hosts;
    c->side->n_crl_allowed = n_hosts;
    return 0;
}

/* ---- the context ---------------------------------------------------------- */

int tc_crl_http_setup(struct en_ctx_state *d, en_tls_side_t *side,
                      char *err, size_t errlen)
{
    char reason[160];
    int mode = d->check == 2 ? WOLFSSL_CRL_CHECK : WOLFSSL_CRL_CHECKALL;
    d->side = side;
    if (!(d->fetcher = en_crl_fetcher_new(side->crl_http_ms)))
        return en_errf(err, errlen,
                       "crl_cache: cannot set up fetching CRLs over HTTP "
                       "(out of memory, or libcurl failed to start)");
    if (wolfSSL_CTX_EnableCRL(d->ctx, mode) != WOLFSSL_SUCCESS)
        return en_errf(err, errlen, "cannot enable CRL checking%s",
                       tc_wolf_reason(reason, sizeof reason));
#ifdef HAVE_CRL_IO
    /* wolfSSL would fetch in the handshake, blocking the node */
    wolfSSL_CTX_SetCRL_IOCb(d->ctx, NULL);
#endif
    return 0;
}

void en_tls_ctx_set_wake(WOLFSSL_CTX *ctx, void (*fn)(void *), void *arg)
{
    struct en_ctx_state *d = tc_state_of(ctx);
    if (d && d->fetcher)
        en_crl_fetcher_set_wake(d->fetcher, fn, arg);
}

/* ---- a session ------------------------------------------------------------ */

/* A certificate kept until its CRL is fetched. */
struct crl_wait {
    unsigned char *der;
    int len;
    int depth;
    char *url;
    en_crl_req_t *req;
};

typedef struct crl_session {
    struct crl_wait *waits;
    size_t n_waits;
    char refusal[640]; /* why crl_check refused the peer; "" if it did not */
    char warning[640]; /* what best_effort let through, for the log */
} crl_session_t;

static crl_session_t *session_of(WOLFSSL *ssl, int make)
{
    if (tc_crlhttp_index() < 0)
        return NULL;
    crl_session_t *s = wolfSSL_get_ex_data(ssl, tc_crlhttp_index());
    if (!s && make && (s = calloc(1, sizeof *s)) != NULL &&
        wolfSSL_set_ex_data(ssl, tc_crlhttp_index(), s) != WOLFSSL_SUCCESS) {
        free(s);
        s = NULL;
    }
    return s;
}

void en_tls_crl_session_free(WOLFSSL *ssl)
{
    crl_session_t *s = session_of(ssl, 0);
    if (!s)
        return;
    for (size_t i = 0; i < s->n_waits; i++) {
        free(s->waits[i].der);
        free(s->waits[i].url);
        en_crl_req_release(s->waits[i].req);
    }
    free(s->waits);
    free(s);
    wolfSSL_set_ex_data(ssl, tc_crlhttp_index(), NULL);
}

/* Append a sentence to text ("; " between two). */
static void add_text(char *text, size_t size, const char *fmt, ...)
{
    size_t len = strlen(text);
    if (len > 0 && len + 2 < size) {
        memcpy(text + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + len, size - len, fmt, ap);
    va_end(ap);
}

static const char *which_cert(int depth, char *buf, size_t size)
{
    if (depth == 0)
        return "the peer's certificate";
    snprintf(buf, size, "the CA certificate at depth %d of its chain", depth);
    return buf;
}

/* The URL of the certificate's first CRL distribution point (wolfSSL
 * reads the first only) into url, if it is an http one: 0, else -1.
 * *anchor: whether it is self-issued, a root the peer sent along. */
static int crl_url(const unsigned char *der, int len, char *url, size_t size,
                   int *anchor)
{
    DecodedCert dc;
    wc_InitDecodedCert(&dc, der, (word32)len, NULL);
    int parsed = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) == 0;
    *anchor = parsed && memcmp(dc.issuerHash, dc.subjectHash,
                               sizeof dc.issuerHash) == 0;
    int ok = parsed && dc.extCrlInfo && dc.extCrlInfoSz > 7 &&
             (size_t)dc.extCrlInfoSz < size &&
             strncasecmp((const char *)dc.extCrlInfo, "http://", 7) == 0;
    if (ok) {
        memcpy(url, dc.extCrlInfo, (size_t)dc.extCrlInfoSz);
        url[dc.extCrlInfoSz] = '\0';
    }
    wc_FreeDecodedCert(&dc);
    return ok ? 0 : -1;
}

/* Whether allowed_hosts lets us fetch url: as OTP 29, "host" stands for
 * port 80 and "host:port" for that port.  No allowed_hosts: any host, as
 * OTP before 29 (see enode-tls(7) on OTP 29's own default). */
static int host_allowed(const en_tls_side_t *side, const char *url)
{
    if (side->n_crl_allowed == 0)
        return 1;
    const char *host = url + 7, *end = host + strcspn(host, "/?#");
    const char *colon = host[0] == '[' ? memchr(host, ']', (size_t)(end - host))
                                       : host;
    colon = colon ? memchr(colon, ':', (size_t)(end - colon)) : NULL;
    size_t host_len = (size_t)((colon ? colon : end) - host);
    long port = colon ? strtol(colon + 1, NULL, 10) : 80;
    for (int i = 0; i < side->n_crl_allowed; i++) {
        const char *a = side->crl_allowed[i], *ac = strrchr(a, ':');
        if (a[0] == '[')
            ac = strstr(a, "]:") ? strstr(a, "]:") + 1 : NULL;
        size_t alen = ac ? (size_t)(ac - a) : strlen(a);
        long aport = ac ? strtol(ac + 1, NULL, 10) : 80;
        if (alen == host_len && strncasecmp(a, host, alen) == 0 &&
            aport == port)
            return 1;
    }
    return 0;
}

/* A certificate whose revocation status cannot be determined: refused,
 * or under best_effort let through and logged.  The callback's answer. */
static int undetermined(struct en_ctx_state *d, WOLFSSL *ssl,
                        WOLFSSL_X509_STORE_CTX *store, crl_session_t *s,
                        const char *why)
{
    char buf[64];
    const char *cert = which_cert(store->error_depth, buf, sizeof buf);
    if (d->check == 3) {
        if (s)
            add_text(s->warning, sizeof s->warning,
                     "crl_check best_effort let %s through: %s", cert, why);
        return tc_crl_pass(d, ssl, store);
    }
    if (s && !s->refusal[0])
        snprintf(s->refusal, sizeof s->refusal,
                 "the revocation status of %s is undetermined (crl_check): "
                 "%s",
                 cert, why);
    tc_note_crl(ssl, CRL_MISSING);
    return 0;
}

static int keep_waiting(crl_session_t *s, const WOLFSSL_BUFFER_INFO *cert,
                        int depth, const char *url, en_crl_req_t *req)
{
    struct crl_wait *w =
        realloc(s->waits, (s->n_waits + 1) * sizeof *s->waits);
    if (!w)
        return -1;
    s->waits = w;
    w += s->n_waits;
    w->der = malloc(cert->length);
    w->url = strdup(url);
    if (!w->der || !w->url) {
        free(w->der);
        free(w->url);
        return -1;
    }
    memcpy(w->der, cert->buffer, cert->length);
    w->len = (int)cert->length;
    w->depth = depth;
    w->req = req;
    s->n_waits++;
    return 0;
}

int tc_verify_crl_http(struct en_ctx_state *d, WOLFSSL *ssl,
                       WOLFSSL_X509_STORE_CTX *store, int revoked)
{
    char url[512] = "", why[700], buf[64];
    crl_session_t *s = session_of(ssl, 1);
    int depth = store->error_depth;
    WOLFSSL_BUFFER_INFO *cert = store->certs && depth >= 0 &&
                                        depth < store->totalCerts
                                    ? &store->certs[depth]
                                    : NULL;
    int anchor = 0;
    int have_url = cert && crl_url(cert->buffer, (int)cert->length, url,
                                   sizeof url, &anchor) == 0;
    /* OTP checks the certification path below its trust anchor only */
    if (!revoked && anchor && depth > 0)
        return tc_crl_pass(d, ssl, store);
    if (revoked) {
        if (s && !s->refusal[0])
            snprintf(s->refusal, sizeof s->refusal,
                     "%s is revoked (listed in the CRL from %s)",
                     which_cert(depth, buf, sizeof buf),
                     have_url ? url : "its distribution point");
        tc_note_crl(ssl, CRL_CERT_REVOKED);
        return 0;
    }
    if (!s || !cert)
        return undetermined(d, ssl, store, s, "out of memory");
    if (!have_url)
        return undetermined(d, ssl, store, s,
                            "it has no http CRL distribution point");
    if (!host_allowed(d->side, url)) {
        snprintf(why, sizeof why,
                 "CRL fetch ignored: the host of %s is not in "
                 "allowed_hosts",
                 url);
        return undetermined(d, ssl, store, s, why);
    }
    char err[128];
    en_crl_req_t *req = en_crl_fetch(d->fetcher, url, err, sizeof err);
    if (!req || keep_waiting(s, cert, depth, url, req) < 0) {
        en_crl_req_release(req);
        snprintf(why, sizeof why, "cannot fetch the CRL from %s: %s", url,
                 req ? "out of memory" : err);
        return undetermined(d, ssl, store, s, why);
    }
    return tc_crl_pass(d, ssl, store);
}

/* ---- after the handshake ------------------------------------------------ */

int en_tls_crl_waiting(WOLFSSL *ssl)
{
    crl_session_t *s = session_of(ssl, 0);
    for (size_t i = 0; s && i < s->n_waits; i++)
        if (s->waits[i].req && !en_crl_req_done(s->waits[i].req))
            return 1;
    return 0;
}

const char *en_tls_crl_reason(WOLFSSL *ssl)
{
    crl_session_t *s = session_of(ssl, 0);
    return s && s->refusal[0] ? s->refusal : NULL;
}

/* Whether body is a CRL whose nextUpdate has passed: wolfSSL 5.5 says
 * only ASN_PARSE_E when it loads one. */
static int out_of_date(const unsigned char *body, size_t len, int pem)
{
    WOLFSSL_X509_CRL *crl = NULL;
    if (pem) {
        WOLFSSL_BIO *bio = wolfSSL_BIO_new_mem_buf(body, (int)len);
        if (bio)
            crl = wolfSSL_PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        wolfSSL_BIO_free(bio);
    } else {
        const unsigned char *p = body;
        crl = wolfSSL_d2i_X509_CRL(NULL, p, (int)len);
    }
    WOLFSSL_ASN1_TIME *next = crl ? wolfSSL_X509_CRL_get_nextUpdate(crl)
                                  : NULL;
    int old = next && wolfSSL_X509_cmp_current_time(next) < 0;
    wolfSSL_X509_CRL_free(crl);
    wolfSSL_ERR_clear_error();
    return old;
}

/* Why wolfSSL would not load a body as a CRL. */
static const char *load_failure(int code)
{
    switch (code) {
    case ASN_CRL_CONFIRM_E:
        return "its signature does not verify (bad signature)";
    case ASN_CRL_NO_SIGNER_E:
        return "it is not signed by a CA we know (bad signature or unknown "
               "issuer)";
    case CRL_CERT_DATE_ERR:
    case ASN_AFTER_DATE_E:
        return "it is out of date (its nextUpdate has passed)";
    default:
        return "it is not a CRL (PEM or DER)";
    }
}

/* Check one kept certificate against the CRL fetched for it: 0 good, 1
 * revoked, -1 undetermined with why. */
static int check_wait(struct en_ctx_state *d, struct crl_wait *w, char *why,
                      size_t size)
{
    WOLFSSL_CERT_MANAGER *cm = wolfSSL_CTX_GetCertManager(d->ctx);
    size_t len;
    const char *failed;
    const unsigned char *body = en_crl_req_body(w->req, &len, &failed);
    if (!body) {
        snprintf(why, size, "cannot fetch the CRL from %s: %s", w->url,
                 failed);
        return -1;
    }
    /* another connection may have loaded it since */
    int r = wolfSSL_CertManagerCheckCRL(cm, w->der, w->len);
    if (r == CRL_MISSING) {
        int pem = len > 10 && memcmp(body, "-----BEGIN", 10) == 0;
        int loaded = wolfSSL_CertManagerLoadCRLBuffer(
            cm, body, (long)len,
            pem ? WOLFSSL_FILETYPE_PEM : WOLFSSL_FILETYPE_ASN1);
        wolfSSL_ERR_clear_error();
        if (loaded == ASN_PARSE_E && out_of_date(body, len, pem))
            loaded = CRL_CERT_DATE_ERR;
        if (loaded != WOLFSSL_SUCCESS) {
            snprintf(why, size, "the answer from %s is no good: %s (wolfSSL "
                     "%d)",
                     w->url, load_failure(loaded), loaded);
            return -1;
        }
        r = wolfSSL_CertManagerCheckCRL(cm, w->der, w->len);
        wolfSSL_ERR_clear_error();
    }
    if (r == WOLFSSL_SUCCESS)
        return 0;
    if (r == CRL_CERT_REVOKED)
        return 1;
    snprintf(why, size,
             "the CRL from %s does not cover it (another issuer's, wolfSSL "
             "%d)",
             w->url, r);
    return -1;
}

int en_tls_crl_verdict(WOLFSSL *ssl, char *why, size_t whylen, char *warn,
                       size_t warnlen)
{
    crl_session_t *s = session_of(ssl, 0);
    struct en_ctx_state *d = tc_state_of(wolfSSL_get_SSL_CTX(ssl));
    char reason[700], buf[64];
    why[0] = warn[0] = '\0';
    if (!s || !d)
        return 0;
    snprintf(warn, warnlen, "%s", s->warning);
    for (size_t i = 0; i < s->n_waits; i++) {
        struct crl_wait *w = &s->waits[i];
        const char *cert = which_cert(w->depth, buf, sizeof buf);
        int r = check_wait(d, w, reason, sizeof reason);
        if (r == 1)
            return en_errf(why, whylen,
                           "%s is revoked (listed in the CRL from %s)", cert,
                           w->url);
        if (r < 0 && d->check != 3)
            return en_errf(why, whylen,
                           "the revocation status of %s is undetermined "
                           "(crl_check): %s",
                           cert, reason);
        if (r < 0)
            add_text(warn, warnlen,
                     "crl_check best_effort let %s through: %s", cert,
                     reason);
    }
    return 0;
}
