/* tls_chain.h - the certificates a peer sent, one by one, after the
 * handshake: what an OTP verify fun is shown. */
#ifndef ENODE_TLS_CHAIN_H
#define ENODE_TLS_CHAIN_H

#include <stddef.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

typedef struct en_tls_chain_cert {
    int depth; /* 0: the peer's own certificate; 1, 2...: the CAs above */
    const unsigned char *der;
    size_t der_len;
    char sha256[65];                /* SHA-256 of der, lowercase hex */
    char subject[256], issuer[256]; /* "/CN=...", one line */
} en_tls_chain_cert_t;

/* The verify callback's part: keep a copy of the chain the peer sent, as
 * store holds it, the first time a handshake calls it (wolfSSL calls it
 * for the peer's own certificate at least, WOLFSSL_ALWAYS_VERIFY_CB).
 * The copy is ssl's until en_tls_chain_forget(); without it, the chain
 * is wolfSSL's own, when its build keeps one (SESSION_CERTS). */
void en_tls_chain_keep(WOLFSSL *ssl, const WOLFSSL_X509_STORE_CTX *store);

/* The checks after the handshake are done: free the copy, so that an
 * idle connection holds no certificates. en_tls_free() calls it too. */
void en_tls_chain_forget(WOLFSSL *ssl);

/* The DER of certificate i of the peer's chain (0: its own): 1 with *der
 * and *len set, 0 when the chain is shorter (or the peer sent none), -1
 * when it was sent but could not be kept (out of memory). */
int en_tls_chain_cert(WOLFSSL *ssl, int i, const unsigned char **der,
                      size_t *len);

/* Call fn on each certificate of the peer's chain as it sent it, the CA
 * furthest from the peer first and the peer's own last, as OTP calls a
 * verify fun.  Stops at fn's first nonzero return and returns it; 0 when
 * fn took them all; -1 when there is no chain or a certificate cannot be
 * read. */
int en_tls_walk_chain(WOLFSSL *ssl,
                      int (*fn)(void *arg, const en_tls_chain_cert_t *cert),
                      void *arg);

#endif
