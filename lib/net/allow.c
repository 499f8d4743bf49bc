/* allow.c - the nodes that may connect to this one, as OTP's
 * net_kernel:allow/1, dist_util and inet_tls_dist decide it (OTP 25 to
 * 29 alike):
 *
 *  - an empty list lets every node in; entries are only ever added;
 *  - a node the list does not hold is refused once it has sent its name,
 *    with the status "not_allowed" (dist_util's check_allowed);
 *  - over TLS, when the client sent a certificate (the server asked for
 *    one: verify_peer), only the hosts of the entries the certificate names
 *    count for that connection, and as hosts: any node of such a host
 *    gets in, whatever its name (allow([a@h]) admits b@h when the
 *    certificate is for h), plus the client's IP address as a host when
 *    the certificate names that address (inet_tls_dist's allowed_nodes);
 *    when nothing is left, the connection is closed before the
 *    handshake, without a status;
 *  - inet_tls_dist:verify_client/3 passes a client certificate that names
 *    the client's address or a host of the list.
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls_certnames.h"

int en_net_allow(en_net_t *net, const char *const *names, size_t n)
{
    char err[EN_HS_NAME_MAX + 100];
    if (n > 0 && !names) {
        en_core_error(net->core, "enode_allow: names is NULL");
        return ENODE_EINVAL;
    }
    /* all or none, as net_kernel:allow/1 takes a list of atoms or none */
    for (size_t i = 0; i < n; i++)
        if (en_allow_check(names[i], err, sizeof err) < 0) {
            en_core_error(net->core, "enode_allow: %s", err);
            return ENODE_EINVAL;
        }
    for (size_t i = 0; i < n; i++)
        if (en_allow_add(&net->allowed, names[i]) < 0) {
            en_core_error(net->core, "out of memory");
            return ENODE_ENOMEM;
        }
    return 0;
}

/* The peer's address as bytes (4 or 16), and as inet:ntoa/1 writes it. */
static size_t peer_ip(const en_conn_t *c, uint8_t bytes[16], char *text,
                      size_t textlen)
{
    const struct sockaddr_storage *ss = &c->addr.ss;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        memcpy(bytes, &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)textlen);
        return 4;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        memcpy(bytes, &in6->sin6_addr, 16);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)textlen);
        return 16;
    }
    text[0] = '\0';
    return 0;
}

/* The client's certificate names, into *names: 1, 0 when it sent none,
 * -1 with c failed when it cannot be read. */
static int client_names(en_conn_t *c, en_cert_names_t *names)
{
    const unsigned char *der;
    size_t len;
    int has = en_tls_peer_cert(c->ssl, &der, &len);
    if (has == 0)
        return 0;
    if (has < 0 || en_cert_names_read(der, len, names) < 0) {
        en_conn_fail(c, ENODE_ETLS,
                     "TLS server: cannot read the client's certificate to "
                     "check it against the allow list");
        return -1;
    }
    return 1;
}

/* The hosts of the node's list that names lets in, as hosts (OTP keeps
 * the hosts, not the entries), and the client's address when names
 * holds it. 0, or -1 out of memory. */
static int keep_named(const en_conn_t *c, const en_cert_names_t *names,
                      en_allow_t *kept)
{
    const en_allow_t *all = &c->net->allowed;
    for (size_t i = 0; i < all->n; i++) {
        const char *host = en_allow_host(all->entry[i]);
        if (host && en_cert_names_host(names, host) &&
            en_allow_add(kept, host) < 0)
            return -1;
    }
    uint8_t ip[16];
    char text[INET6_ADDRSTRLEN];
    size_t iplen = peer_ip(c, ip, text, sizeof text);
    if (iplen && en_cert_names_ip(names, ip, iplen) &&
        en_allow_add(kept, text) < 0)
        return -1;
    return 0;
}

int en_allow_by_cert(en_conn_t *c)
{
    if (c->initiator || !c->ssl || c->net->allowed.n == 0)
        return 0;
    en_cert_names_t names;
    int has = client_names(c, &names);
    if (has <= 0)
        return has; /* no certificate: the list as it is */
    en_allow_t *kept = calloc(1, sizeof *kept);
    int rc = kept ? keep_named(c, &names, kept) : -1;
    en_cert_names_free(&names);
    if (rc < 0) {
        if (kept)
            en_allow_free(kept);
        free(kept);
        en_conn_fail(c, ENODE_ENOMEM, "out of memory");
        return -1;
    }
    if (kept->n == 0) {
        en_allow_free(kept);
        free(kept);
        /* the log line names the address: there is no node name yet */
        en_conn_fail(c, ENODE_EHANDSHAKE,
                     "connection attempt from disallowed node(s): the "
                     "client's certificate names no host of the allow list, "
                     "nor its address; closed before the handshake");
        return -1;
    }
    c->cert_allowed = kept;
    return 0;
}

bool en_conn_allows(void *conn, const char *peer_name)
{
    const en_conn_t *c = conn;
    if (c->cert_allowed)
        return en_allow_match(c->cert_allowed, peer_name);
    return c->net->allowed.n == 0 ||
           en_allow_match(&c->net->allowed, peer_name);
}

int en_allow_verify_client(en_conn_t *c, const unsigned char *der,
                           size_t der_len, char *why, size_t whylen)
{
    const en_allow_t *all = &c->net->allowed;
    size_t hosts = 0;
    for (size_t i = 0; i < all->n; i++)
        hosts += en_allow_host(all->entry[i]) != NULL;
    if (hosts == 0)
        return 0; /* verify_client with no allowed hosts: valid */
    en_cert_names_t names;
    if (en_cert_names_read(der, der_len, &names) < 0) {
        snprintf(why, whylen, "cannot read the certificate's names");
        return -1;
    }
    uint8_t ip[16];
    char text[INET6_ADDRSTRLEN];
    size_t iplen = peer_ip(c, ip, text, sizeof text);
    bool ok = iplen && en_cert_names_ip(&names, ip, iplen);
    for (size_t i = 0; !ok && i < all->n; i++) {
        const char *host = en_allow_host(all->entry[i]);
        ok = host && en_cert_names_host(&names, host);
    }
    en_cert_names_free(&names);
    if (!ok)
        snprintf(why, whylen,
                 "cert_no_hostname_nor_ip_match: it names neither the "
                 "client's address %s nor a host of the allow list", text);
    return ok ? 0 : -1;
}
