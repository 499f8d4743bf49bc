/* tls_certnames.h - the names and addresses a certificate is for, and
 * whether it is for a given host or address, decided as OTP's
 * public_key:pkix_verify_hostname/2 decides it with its default options
 * (what inet_tls_dist asks when it checks a client against the allow
 * list):
 *
 *  - a certificate with a subjectAltName extension is for the hosts of
 *    its dNSName entries (compared without regard to ASCII case, no
 *    wildcards) and the addresses of its iPAddress entries; its subject
 *    is not looked at;
 *  - one without is for the common names of its subject: equal without
 *    regard to case (a name holding '*' is no host), or matching a
 *    wildcard in the first label ("*.example.org", "node*.example.org");
 *    an IP literal never matches a common name.
 */
#ifndef ENODE_TLS_CERTNAMES_H
#define ENODE_TLS_CERTNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

typedef struct en_cert_ip {
    size_t len; /* 4 or 16 */
    uint8_t addr[16];
} en_cert_ip_t;

typedef struct en_cert_names {
    bool has_san;       /* the certificate has a subjectAltName extension */
    char **dns;         /* its dNSName entries */
    size_t n_dns;
    en_cert_ip_t *ip;   /* its iPAddress entries */
    size_t n_ip;
    char **cn;          /* the subject's common names */
    size_t n_cn;
} en_cert_names_t;

/* Read the names of the certificate at der. 0, or -1 if it does not
 * parse or memory runs out (*n is then empty). */
int en_cert_names_read(const unsigned char *der, size_t len,
                       en_cert_names_t *n);

/* The peer's own certificate, as the handshake left it (tls_chain.h):
 * 1 with *der and *len set, 0 when the peer sent none, -1 if it cannot
 * be read. */
int en_tls_peer_cert(WOLFSSL *ssl, const unsigned char **der, size_t *len);

/* pkix_verify_hostname(Cert, [{dns_id, host}]). */
bool en_cert_names_host(const en_cert_names_t *n, const char *host);
/* pkix_verify_hostname(Cert, [{ip, Addr}]): addr of len 4 or 16 bytes. */
bool en_cert_names_ip(const en_cert_names_t *n, const uint8_t *addr,
                      size_t len);

void en_cert_names_free(en_cert_names_t *n);

#endif
