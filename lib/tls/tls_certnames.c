/* tls_certnames.c - the names a certificate is for, matched as OTP's
 * public_key:pkix_verify_hostname/2 matches them (tls_certnames.h).
 */
#include "tls/tls_certnames.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/openssl/x509v3.h>

#include "tls/tls_chain.h"

/* ---- reading ------------------------------------------------------------- */

/* A copy of an ASN.1 string's bytes, lower-cased (ASCII), or NULL when
 * it holds a NUL (no host name does) or memory runs out. */
static char *lower_copy(const unsigned char *data, int len)
{
    if (!data || len < 0 || memchr(data, 0, (size_t)len))
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (!s)
        return NULL;
    for (int i = 0; i < len; i++)
        s[i] = (char)(data[i] >= 'A' && data[i] <= 'Z' ? data[i] + 32
                                                        : data[i]);
    s[len] = '\0';
    return s;
}

static int push(char ***list, size_t *n, char *s)
{
    if (!s)
        return 0; /* skipped: not a name */
    char **more = realloc(*list, (*n + 1) * sizeof *more);
    if (!more) {
        free(s);
        return -1;
    }
    more[(*n)++] = s;
    *list = more;
    return 0;
}

static int read_san_entry(en_cert_names_t *n, WOLFSSL_GENERAL_NAME *g)
{
    if (g->type == GEN_DNS && g->d.dNSName)
        return push(&n->dns, &n->n_dns,
                    lower_copy(g->d.dNSName->data ? (const unsigned char *)
                                                        g->d.dNSName->data
                                                  : NULL,
                               g->d.dNSName->length));
    if (g->type == GEN_IPADD && g->d.iPAddress &&
        (g->d.iPAddress->length == 4 || g->d.iPAddress->length == 16)) {
        en_cert_ip_t *more = realloc(n->ip, (n->n_ip + 1) * sizeof *more);
        if (!more)
            return -1;
        n->ip = more;
        more[n->n_ip].len = (size_t)g->d.iPAddress->length;
        memcpy(more[n->n_ip].addr, g->d.iPAddress->data,
               more[n->n_ip].len);
        n->n_ip++;
    }
    return 0;
}

static int read_sans(en_cert_names_t *n, WOLFSSL_X509 *x)
{
    WOLFSSL_STACK *sans =
        wolfSSL_X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    int count = sans ? wolfSSL_sk_GENERAL_NAME_num(sans) : 0;
    int rc = 0;
    n->has_san = count > 0;
    for (int i = 0; i < count && rc == 0; i++)
        rc = read_san_entry(n, wolfSSL_sk_GENERAL_NAME_value(sans, i));
    if (sans)
        wolfSSL_sk_GENERAL_NAME_pop_free(sans, wolfSSL_GENERAL_NAME_free);
    return rc;
}

static int read_cns(en_cert_names_t *n, WOLFSSL_X509 *x)
{
    WOLFSSL_X509_NAME *subject = wolfSSL_X509_get_subject_name(x);
    int at = -1;
    while (subject && (at = wolfSSL_X509_NAME_get_index_by_NID(
                           subject, NID_commonName, at)) >= 0) {
        WOLFSSL_ASN1_STRING *v = wolfSSL_X509_NAME_ENTRY_get_data(
            wolfSSL_X509_NAME_get_entry(subject, at));
        if (v && push(&n->cn, &n->n_cn,
                      lower_copy(wolfSSL_ASN1_STRING_data(v),
                                 wolfSSL_ASN1_STRING_length(v))) < 0)
            return -1;
    }
    return 0;
}

int en_cert_names_read(const unsigned char *der, size_t len,
                       en_cert_names_t *n)
{
    memset(n, 0, sizeof *n);
    const unsigned char *p = der;
    WOLFSSL_X509 *x = len <= 0x7fffffff ? wolfSSL_d2i_X509(NULL, &p, (int)len)
                                        : NULL;
    if (!x)
        return -1;
    int rc = read_sans(n, x) == 0 && read_cns(n, x) == 0 ? 0 : -1;
    wolfSSL_X509_free(x);
    if (rc < 0)
        en_cert_names_free(n);
    return rc;
}

int en_tls_peer_cert(WOLFSSL *ssl, const unsigned char **der, size_t *len)
{
    int has = en_tls_chain_cert(ssl, 0, der, len);
    if (has != 0)
        return has;
    /* no chain known: is there a certificate all the same? */
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(ssl);
    wolfSSL_X509_free(x);
    return x ? -1 : 0;
}

void en_cert_names_free(en_cert_names_t *n)
{
    for (size_t i = 0; i < n->n_dns; i++)
        free(n->dns[i]);
    for (size_t i = 0; i < n->n_cn; i++)
        free(n->cn[i]);
    free(n->dns);
    free(n->cn);
    free(n->ip);
    memset(n, 0, sizeof *n);
}

/* ---- matching ------------------------------------------------------------ */

/* public_key's match_wild_sfx: after a '*', the rest of the pattern b
 * must end a, and what the '*' covers holds no '*'. */
static bool wild_suffix(const char *a, const char *b)
{
    size_t i = strlen(a), j = strlen(b);
    for (;;) {
        if ((i > 0 && a[i - 1] == '*') || (j > 0 && b[j - 1] == '*'))
            return false;
        if (i > 0 && j > 0 && a[i - 1] == b[j - 1]) {
            i--, j--;
            continue;
        }
        return j == 0 && !memchr(a, '*', i);
    }
}

/* match_wild: label a against the pattern b, where one '*' stands for
 * any run of characters. */
static bool wild(const char *a, const char *b)
{
    for (; *b != '*'; a++, b++) {
        if (*a != *b)
            return false;
        if (!*a)
            return true;
    }
    return wild_suffix(a, b + 1);
}

/* verify_hostname_match_wildcard: the first labels match with wild(),
 * the others are equal (empty labels do not count, as string:tokens
 * drops them). Both are lower case. */
static bool wildcard_host(const char *host, const char *pattern)
{
    while (*host == '.')
        host++;
    while (*pattern == '.')
        pattern++;
    size_t hl = strcspn(host, "."), pl = strcspn(pattern, ".");
    if (hl == 0 || pl == 0 || hl >= 256 || pl >= 256)
        return false;
    char h1[256], p1[256];
    memcpy(h1, host, hl);
    h1[hl] = '\0';
    memcpy(p1, pattern, pl);
    p1[pl] = '\0';
    if (!wild(h1, p1))
        return false;
    const char *hr = host + hl, *pr = pattern + pl;
    for (;;) {
        while (*hr == '.')
            hr++;
        while (*pr == '.')
            pr++;
        size_t a = strcspn(hr, "."), b = strcspn(pr, ".");
        if (a != b || memcmp(hr, pr, a) != 0)
            return false;
        if (a == 0)
            return true;
        hr += a;
        pr += b;
    }
}

static bool is_ip_literal(const char *s)
{
    struct in_addr v4;
    struct in6_addr v6;
    return inet_aton(s, &v4) || inet_pton(AF_INET6, s, &v6) == 1;
}

bool en_cert_names_host(const en_cert_names_t *n, const char *host)
{
    char want[256];
    size_t len = strlen(host);
    if (len == 0 || len >= sizeof want)
        return false;
    for (size_t i = 0; i <= len; i++)
        want[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32
                                                           : host[i]);
    if (n->has_san) {
        for (size_t i = 0; i < n->n_dns; i++)
            if (strcmp(n->dns[i], want) == 0)
                return true;
        return false;
    }
    if (is_ip_literal(want))
        return false;
    for (size_t i = 0; i < n->n_cn; i++) {
        if (strcmp(n->cn[i], want) == 0) {
            if (!strchr(want, '*'))
                return true;
        } else if (wildcard_host(want, n->cn[i])) {
            return true;
        }
    }
    return false;
}

bool en_cert_names_ip(const en_cert_names_t *n, const uint8_t *addr,
                      size_t len)
{
    for (size_t i = 0; i < n->n_ip; i++)
        if (n->ip[i].len == len && memcmp(n->ip[i].addr, addr, len) == 0)
            return true;
    return false;
}
