/* tls_rx.h - feeding wolfSSL from large socket reads.
 *
 * Left to itself, wolfSSL reads each TLS record with two recv() calls,
 * one for the 5-byte header and one for the body, and needs a third to
 * learn that the socket is empty. Under a stream of small messages that
 * is three system calls per message. The receive callback here reads as
 * much as the socket holds, up to EN_TLS_RX_SIZE, and hands wolfSSL the
 * pieces it asks for from that.
 *
 * The buffer belongs to the node and is lent to one session at a time:
 * every session of a node is driven under the node's lock, one event at a
 * time. When a session's turn ends with bytes still unread (rare: the
 * event loop reads until the socket is empty), they move to a buffer of
 * the session's own, so an idle session holds no receive buffer at all.
 */
#ifndef ENODE_TLS_RX_H
#define ENODE_TLS_RX_H

#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* Enough for two full TLS records. */
#define EN_TLS_RX_SIZE (34 * 1024)

/* The node's buffer; zeroed before first use, freed with en_tls_rx_pool_free. */
typedef struct en_tls_rx_pool {
    uint8_t *buf;
    struct en_tls_rx *lent_to; /* the session reading from it, or NULL */
} en_tls_rx_pool_t;

void en_tls_rx_pool_free(en_tls_rx_pool_t *pool);

/* Read through fd for ssl. Call after wolfSSL_set_fd(). 0, or -1 when out
 * of memory. en_tls_rx_detach() frees the state before the session goes. */
int en_tls_rx_attach(WOLFSSL *ssl, int fd, en_tls_rx_pool_t *pool);
void en_tls_rx_detach(WOLFSSL *ssl);

/* The first byte the peer sent, or -1 before any came. A TLS peer's is
 * 0x16, the type of a handshake record. A server session hands wolfSSL
 * nothing of a stream that starts otherwise (wolfSSL sees a socket error):
 * a node using plain TCP distribution has dialled a TLS port. Decided on
 * the bytes wolfSSL reads, whenever they come. */
int en_tls_rx_first_byte(WOLFSSL *ssl);

/* Show every byte handed to wolfSSL to tap(arg, bytes, n) as well. */
typedef void en_tls_rx_tap_fn(void *arg, const uint8_t *p, size_t n);
void en_tls_rx_tap(WOLFSSL *ssl, en_tls_rx_tap_fn *tap, void *arg);

/* The session's turn is over: give the node's buffer back, keeping any
 * unread bytes aside. -1 if they could not be kept (out of memory); the
 * connection is then broken. */
int en_tls_rx_yield(WOLFSSL *ssl);

/* 1 when bytes read from the socket wait here, or decrypted ones in
 * wolfSSL: epoll will not report them, the caller must read on. */
int en_tls_rx_unread(WOLFSSL *ssl);

/* 1 when the last socket read came back short and every byte it brought
 * has been handed to wolfSSL: another read now would only find the
 * socket empty (new bytes make the fd readable again). */
int en_tls_rx_drained(WOLFSSL *ssl);

#endif
