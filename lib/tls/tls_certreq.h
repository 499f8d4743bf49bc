/* tls_certreq.h - TLS 1.2 certificate requests that admit RSA and ECDSA
 * client certificates alike.
 *
 * A TLS 1.2 CertificateRequest lists the certificate types the server
 * takes. wolfSSL lists one: the type of the server's own key (rsa_sign
 * under an RSA certificate, ecdsa_sign under an ECDSA one). OTP's TLS 1.2
 * client honours the list: holding a certificate of the other type, it
 * sends none, and the server refuses it for want of one. OTP's own server
 * lists both types, so OTP nodes with RSA and ECDSA certificates connect
 * to each other; an enode server did not (TLS 1.3 has no such list).
 *
 * wolfSSL hashes the message into its handshake transcript as it builds
 * it, before any callback sees it. So enode widens the request on its way
 * out to list both types, and keeps the transcript of this handshake as
 * the client has it: the bytes of both directions as they crossed the
 * wire. What wolfSSL derives from its own transcript is then derived from
 * the client's, through wolfSSL's PK and protocol callbacks
 * (tls_certreq_cb.c):
 *
 *  - the client's CertificateVerify is checked against the client's
 *    transcript, with the key of the client's certificate; only once that
 *    signature verifies does wolfSSL's own check get the value it expects
 *    for its transcript;
 *  - both Finished messages are computed from the client's transcript, so
 *    they prove, as always, that both sides saw the same handshake.
 *
 * The extended master secret hashes the transcript too: a handshake that
 * negotiates it is left alone (OTP does not offer it, wolfSSL does; a
 * wolfSSL client does not read the list of types anyway).
 *
 * Needs wolfSSL's PK callbacks (HAVE_PK_CALLBACKS, as Debian builds it);
 * without them EN_CERTREQ is 0 and the request goes out as wolfSSL wrote
 * it.
 */
#ifndef ENODE_TLS_CERTREQ_H
#define ENODE_TLS_CERTREQ_H

#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/hash.h>

#if defined(HAVE_PK_CALLBACKS) && !defined(WOLFSSL_NO_TLS12) &&                \
    defined(WOLFSSL_HAVE_PRF) &&                                               \
    (defined(OPENSSL_EXTRA) || defined(WOLFSSL_EXTRA))
#define EN_CERTREQ 1
#else
#define EN_CERTREQ 0
#endif

struct en_certreq;

/* Given a CertificateRequest handshake message msg[0..len) (header
 * included) that lists one certificate type, rsa_sign or ecdsa_sign,
 * write into out[0..cap) the same message listing that type and then the
 * other. Its length (len + 1), or -1 if msg is not such a message or out
 * is too small. */
int en_certreq_widen(const uint8_t *msg, size_t len, uint8_t *out, size_t cap);

/* Watch a server session's TLS 1.2 handshakes: its sends go through
 * here, then through `lower` with the write context the session has now
 * (NULL: straight to fd), and it sees what the session reads (a tap on
 * tls_rx). Call after en_tls_rx_attach() and every other send
 * filter. 0, or -1 when out of memory. en_certreq_detach() puts the write
 * context back and frees the state; call it before the lower filters and
 * tls_rx go. */
int en_certreq_attach(WOLFSSL *ssl, int fd, CallbackIOSend lower);
void en_certreq_detach(WOLFSSL *ssl);

/* Put the callbacks of tls_certreq_cb.c on a server context. */
void en_certreq_ctx_init(WOLFSSL_CTX *ctx);

/* ---- for the callbacks --------------------------------------------------- */

/* 1 while a widened request is out and the handshake not finished. */
int en_certreq_widened(const struct en_certreq *cr);

/* The client's signature scheme in its CertificateVerify (e.g. 0x0804,
 * rsa_pss_rsae_sha256), or -1 when none has arrived. */
int en_certreq_cv_scheme(const struct en_certreq *cr);

enum en_certreq_view { EN_CR_CLIENT, EN_CR_SERVER };

/* The hash of the transcript up to the client's CertificateVerify, as
 * the client has it (EN_CR_CLIENT) or as wolfSSL has it (EN_CR_SERVER,
 * with the request as wolfSSL wrote it). 0, or -1 when there is no
 * CertificateVerify or hashing failed. */
int en_certreq_hash_to_cv(const struct en_certreq *cr,
                          enum en_certreq_view view, enum wc_HashType type,
                          uint8_t *out);

/* The hash of the client's transcript so far: for a Finished message. */
int en_certreq_hash_all(const struct en_certreq *cr, enum wc_HashType type,
                        uint8_t *out);

/* Whether the client's flight is all here (its ChangeCipherSpec came). */
int en_certreq_client_done(const struct en_certreq *cr);

/* The client's Finished carries verify_data[0..12): it joins the
 * transcript, for the server's Finished. -1 when out of memory. */
int en_certreq_add_client_finished(struct en_certreq *cr,
                                   const uint8_t verify_data[12]);

/* The server's Finished is made: the handshake needs nothing more. */
void en_certreq_finish(struct en_certreq *cr);

#endif
