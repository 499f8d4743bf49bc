/* tls_chain.c - the certificates a peer sent, one by one (tls_chain.h).
 *
 * The verify callback sees the whole chain as the peer sent it, peer
 * first, in DER; a copy of it lives in the session's ex_data from then
 * until the checks after the handshake are done. wolfSSL can keep the
 * chain itself (SESSION_CERTS, as Debian builds it), but in the session
 * object, at 2 KiB x 9 certificates (twice with WOLFSSL_ALT_CERT_CHAINS)
 * for as long as the connection lives, and not a certificate larger than
 * 2 KiB at all. The copy takes what the certificates take, and only
 * while they are needed; wolfSSL's chain is the fallback.
 */
#include "tls/tls_chain.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/openssl/evp.h>

/* The copy: n certificates, the peer's own first; their bytes follow
 * in the same allocation. */
typedef struct cert_ref {
    const unsigned char *der;
    size_t len;
} cert_ref_t;

typedef struct chain_copy {
    int n;
    cert_ref_t cert[];
} chain_copy_t;

/* What a session holds when the copy could not be made (out of memory):
 * the peer sent a chain, and it is not known. */
static chain_copy_t lost = {.n = -1};

static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static int copy_index = -1;

/* Index 0 is wolfSSL's app data (wolfSSL_set_app_data()): left alone. */
static void make_index(void)
{
    int i;
    do
        i = wolfSSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    while (i == 0);
    copy_index = i < MAX_EX_DATA ? i : -1; /* none left: no copies */
}

static chain_copy_t *copy_of(WOLFSSL *ssl)
{
    pthread_once(&index_once, make_index);
    return copy_index > 0 ? wolfSSL_get_ex_data(ssl, copy_index) : NULL;
}

static chain_copy_t *copy_chain(const WOLFSSL_BUFFER_INFO *certs, int n)
{
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        if (!certs[i].buffer || certs[i].length == 0)
            return NULL;
        bytes += certs[i].length;
    }
    size_t head = sizeof(chain_copy_t) + (size_t)n * sizeof(cert_ref_t);
    chain_copy_t *c = malloc(head + bytes);
    if (!c)
        return NULL;
    unsigned char *p = (unsigned char *)c + head;
    c->n = n;
    for (int i = 0; i < n; i++) {
        memcpy(p, certs[i].buffer, certs[i].length);
        c->cert[i].der = p;
        c->cert[i].len = certs[i].length;
        p += certs[i].length;
    }
    return c;
}

void en_tls_chain_keep(WOLFSSL *ssl, const WOLFSSL_X509_STORE_CTX *store)
{
    if (!ssl || !store || !store->certs || store->totalCerts <= 0 ||
        copy_of(ssl))
        return;
    chain_copy_t *c = copy_chain(store->certs, store->totalCerts);
    if (wolfSSL_set_ex_data(ssl, copy_index, c ? c : &lost) !=
        WOLFSSL_SUCCESS)
        free(c);
}

void en_tls_chain_forget(WOLFSSL *ssl)
{
    chain_copy_t *c = ssl ? copy_of(ssl) : NULL;
    if (!c)
        return;
    wolfSSL_set_ex_data(ssl, copy_index, NULL);
    if (c != &lost)
        free(c);
}

/* The number of certificates of the chain, -1 when none is known. */
static int chain_count(WOLFSSL *ssl)
{
    const chain_copy_t *c = copy_of(ssl);
    if (c)
        return c->n;
#ifdef SESSION_CERTS
    WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(ssl);
    if (chain)
        return wolfSSL_get_chain_count(chain);
#endif
    return -1;
}

int en_tls_chain_cert(WOLFSSL *ssl, int i, const unsigned char **der,
                      size_t *len)
{
    const chain_copy_t *c = copy_of(ssl);
    if (c) {
        if (c->n < 0)
            return -1;
        if (i < 0 || i >= c->n)
            return 0;
        *der = c->cert[i].der;
        *len = c->cert[i].len;
        return 1;
    }
#ifdef SESSION_CERTS
    WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(ssl);
    if (chain && i >= 0 && i < wolfSSL_get_chain_count(chain)) {
        *der = wolfSSL_get_chain_cert(chain, i);
        int n = wolfSSL_get_chain_length(chain, i);
        if (!*der || n <= 0)
            return 0;
        *len = (size_t)n;
        return 1;
    }
#endif
    return 0;
}

/* Subject, issuer and fingerprint of the certificate at der. */
static int describe(en_tls_chain_cert_t *c)
{
    unsigned char md[32];
    unsigned int mdlen = sizeof md;
    const unsigned char *p = c->der;
    WOLFSSL_X509 *x = c->der_len <= 0x7fffffff
                          ? wolfSSL_d2i_X509(NULL, &p, (int)c->der_len)
                          : NULL;
    if (!x)
        return -1;
    int ok = wolfSSL_X509_digest(x, wolfSSL_EVP_sha256(), md, &mdlen) ==
                 WOLFSSL_SUCCESS &&
             mdlen == sizeof md;
    for (unsigned i = 0; ok && i < mdlen; i++)
        snprintf(c->sha256 + 2 * i, 3, "%02x", md[i]);
    if (ok) {
        wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(x), c->subject,
                                  (int)sizeof c->subject);
        wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_issuer_name(x), c->issuer,
                                  (int)sizeof c->issuer);
    }
    wolfSSL_X509_free(x);
    return ok ? 0 : -1;
}

int en_tls_walk_chain(WOLFSSL *ssl,
                      int (*fn)(void *arg, const en_tls_chain_cert_t *cert),
                      void *arg)
{
    int n = chain_count(ssl);
    if (n <= 0)
        return -1;
    for (int i = n - 1; i >= 0; i--) {
        en_tls_chain_cert_t c;
        memset(&c, 0, sizeof c);
        c.depth = i;
        if (en_tls_chain_cert(ssl, i, &c.der, &c.der_len) != 1 ||
            describe(&c) < 0)
            return -1;
        int r = fn(arg, &c);
        if (r != 0)
            return r;
    }
    return 0;
}
