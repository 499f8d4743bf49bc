/* tls_chain.c - the certificates a peer sent, one by one (tls_chain.h).
 * wolfSSL keeps the chain of a session (SESSION_CERTS, as Debian builds
 * it), peer first, in DER.
 */
#include "tls/tls_chain.h"

#include <stdio.h>
#include <string.h>

#include <wolfssl/openssl/evp.h>

/* Subject, issuer and fingerprint of the certificate at der. */
static int describe(en_tls_chain_cert_t *c)
{
    unsigned char md[32];
    unsigned int mdlen = sizeof md;
    const unsigned char *p = c->der;
    WOLFSSL_X509 *x = wolfSSL_d2i_X509(NULL, &p, (int)c->der_len);
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
    WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(ssl);
    int n = chain ? wolfSSL_get_chain_count(chain) : 0;
    if (n <= 0)
        return -1;
    for (int i = n - 1; i >= 0; i--) {
        en_tls_chain_cert_t c;
        memset(&c, 0, sizeof c);
        c.depth = i;
        c.der = wolfSSL_get_chain_cert(chain, i);
        int len = wolfSSL_get_chain_length(chain, i);
        if (!c.der || len <= 0)
            return -1;
        c.der_len = (size_t)len;
        if (describe(&c) < 0)
            return -1;
        int r = fn(arg, &c);
        if (r != 0)
            return r;
    }
    return 0;
}
