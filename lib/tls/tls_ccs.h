/* tls_ccs.h - the dummy ChangeCipherSpec of TLS 1.3 middlebox
 * compatibility mode, for wolfSSL builds that cannot send it.
 *
 * RFC 8446 D.4: when a client offers a session id, the server sends a
 * dummy change_cipher_spec record right after its ServerHello. OTP's TLS
 * 1.3 client insists on it (its hello_middlebox_assert state fails with
 * "unexpected_msg encrypted_extensions" otherwise), and wolfSSL sends it
 * only when built with WOLFSSL_TLS13_MIDDLEBOX_COMPAT, which Debian's
 * package is not. So on the server side enode writes the record itself,
 * from a wolfSSL send callback that watches the first record go out.
 */
#ifndef ENODE_TLS_CCS_H
#define ENODE_TLS_CCS_H

#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* Given the start of the server's output, which begins with its first
 * record: 1 if that record is a TLS 1.3 ServerHello (or HelloRetryRequest)
 * echoing a non-empty session id, so a CCS must follow it; 0 if not; -1
 * if the record is not whole in p[0..len). *record_len gets the record's
 * size, header included, when the answer is 0 or 1. */
int en_ccs_needed(const uint8_t *p, size_t len, size_t *record_len);

/* Send through fd with the CCS added where needed. Call after
 * wolfSSL_set_fd() on a server session; en_ccs_detach() frees the state
 * before the session goes. 0, or -1 when out of memory. */
int en_ccs_attach(WOLFSSL *ssl, int fd);
void en_ccs_detach(WOLFSSL *ssl);

/* The send callback en_ccs_attach() installs (for a filter above it). */
int en_ccs_send(WOLFSSL *ssl, char *buf, int sz, void *ctx);

#endif
