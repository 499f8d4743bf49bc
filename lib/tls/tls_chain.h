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

/* Call fn on each certificate of the peer's chain as it sent it, the CA
 * furthest from the peer first and the peer's own last, as OTP calls a
 * verify fun.  Stops at fn's first nonzero return and returns it; 0 when
 * fn took them all; -1 when there is no chain or a certificate cannot be
 * read. */
int en_tls_walk_chain(WOLFSSL *ssl,
                      int (*fn)(void *arg, const en_tls_chain_cert_t *cert),
                      void *arg);

#endif
