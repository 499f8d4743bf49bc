/* tls.h - one TLS session over a non-blocking socket (wolfSSL). */
#ifndef ENODE_TLS_H
#define ENODE_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tls/tls_rx.h"

/* What an I/O step came to. */
enum en_io {
    EN_IO_DONE = 0,       /* the step completed */
    EN_IO_WANT_READ = 1,  /* wait for the fd to be readable */
    EN_IO_WANT_WRITE = 2, /* wait for the fd to be writable */
    EN_IO_EOF = 3,        /* the peer closed the connection */
    EN_IO_ERROR = 4,      /* failed; the reason is in err */
};

/* A session on fd. client = 1 for the initiator. sni: the server name to
 * send (NULL: none). verify_host: the name the server certificate must
 * carry (NULL: no name check). rx_pool: the node's receive buffer (see
 * tls_rx.h). NULL on failure, with err set. */
WOLFSSL *en_tls_session(WOLFSSL_CTX *ctx, int fd, int client, const char *sni,
                        const char *verify_host, en_tls_rx_pool_t *rx_pool,
                        char *err, size_t errlen);

/* Free a session made by en_tls_session(). NULL is allowed. */
void en_tls_free(WOLFSSL *ssl);

/* Advance the TLS handshake. */
enum en_io en_tls_handshake(WOLFSSL *ssl, char *err, size_t errlen);


/* Read decrypted bytes; *n gets how many when EN_IO_DONE. */
enum en_io en_tls_read(WOLFSSL *ssl, void *buf, size_t len, size_t *n,
                       char *err, size_t errlen);

/* Write len bytes (len <= 16 KiB is best). After EN_IO_WANT_WRITE the
 * caller must retry with the same bytes and length. */
enum en_io en_tls_write(WOLFSSL *ssl, const void *buf, size_t len, size_t *n,
                        char *err, size_t errlen);

/* "TLSv1.3 TLS_AES_128_GCM_SHA256": version and suite, for logs. */
const char *en_tls_describe(WOLFSSL *ssl, char *buf, size_t len);

/* The peer's certificate after a handshake. */
typedef struct en_tls_peer {
    int present;     /* 1 if the peer sent a certificate */
    int verified;    /* 1 if its chain verified (0 under verify_none) */
    char sha256[65]; /* SHA-256 of the DER certificate, lowercase hex */
    char subject[256], issuer[256]; /* "/CN=...", one line */
} en_tls_peer_t;

/* Fill *p; 0, or -1 if the certificate could not be read. */
int en_tls_peer_info(WOLFSSL *ssl, en_tls_peer_t *p);

#endif
