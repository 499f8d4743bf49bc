/* tls.c - one TLS session over a non-blocking socket (wolfSSL).
 *
 * inet_tls_dist starts TLS as soon as TCP connects: the initiator is the
 * client and sends the host part of the node name it dials as SNI
 * (doc/internals.md section 9).
 */
#include "tls/tls.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tls/tls_ccs.h"
#include "tls/tls_certreq.h"
#include "tls/tls_chain.h"
#include "tls/tlsconf.h"

#include <wolfssl/openssl/evp.h>

/* wolfSSL sends the middlebox-compatibility CCS itself only when built
 * for it; otherwise enode does (tls_ccs.h). */
#ifdef WOLFSSL_TLS13_MIDDLEBOX_COMPAT
#define EN_NEED_CCS_SHIM 0
#else
#define EN_NEED_CCS_SHIM 1
#endif

/* What a TLS alert the peer sent us usually means. */
static const char *alert_reason(int alert, int we_have_cert, int server)
{
    switch (alert) {
    case unknown_ca:
        return "unknown CA: it does not trust the CA that signed our "
               "certificate (check its cacertfile)";
    case certificate_expired:
        return "our certificate has expired or is not yet valid, by its "
               "clock";
    case certificate_revoked:
        return "our certificate is revoked (it is in the peer's CRL)";
    case bad_certificate:
        return server ? "it refused our certificate (bad_certificate)"
                      : "it refused our certificate (bad_certificate): "
                        "usually a host name mismatch, our certificate does "
                        "not carry the host name the peer dialled, or a CRL "
                        "it could not get";
    case unsupported_certificate:
        return "it does not accept our certificate's key type or usage";
    case certificate_unknown:
        return "it could not verify our certificate (certificate_unknown)";
    case certificate_required:
    case no_certificate:
        return "no client certificate: it requires one and we sent none "
               "(give the client side a certfile)";
    case protocol_version:
        return "no shared TLS version (compare `versions` on both sides; "
               "OTP uses TLS 1.2 only when options lack versions)";
    case insufficient_security:
        return "no shared cipher suite, key exchange group or signature "
               "algorithm (compare `ciphers`, `eccs` and `signature_algs` on "
               "both sides)";
    case handshake_failure:
        if (!server && !we_have_cert)
            return "no client certificate: it requires one and we have none "
                   "(give the client side a certfile)";
        return "no shared TLS version, cipher suite, key exchange group or "
               "signature algorithm, or it requires a client certificate we "
               "did not send (handshake_failure)";
    case decrypt_error:
        return "a signature or key check failed (decrypt_error)";
    case unrecognized_name:
        return "it does not know the server name we sent (SNI)";
    default:
        return NULL;
    }
}

static const char *alert_name(int alert, char *buf, size_t len)
{
    static const struct {
        int code;
        const char *name;
    } names[] = {{handshake_failure, "handshake_failure"},
                 {no_certificate, "no_certificate"},
                 {bad_certificate, "bad_certificate"},
                 {unsupported_certificate, "unsupported_certificate"},
                 {certificate_revoked, "certificate_revoked"},
                 {certificate_expired, "certificate_expired"},
                 {certificate_unknown, "certificate_unknown"},
                 {illegal_parameter, "illegal_parameter"},
                 {unknown_ca, "unknown_ca"},
                 {access_denied, "access_denied"},
                 {decode_error, "decode_error"},
                 {decrypt_error, "decrypt_error"},
                 {protocol_version, "protocol_version"},
                 {insufficient_security, "insufficient_security"},
                 {internal_error, "internal_error"},
                 {unexpected_message, "unexpected_message"},
                 {bad_record_mac, "bad_record_mac"},
                 {missing_extension, "missing_extension"},
                 {unrecognized_name, "unrecognized_name"},
                 {certificate_required, "certificate_required"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == alert)
            return names[i].name;
    snprintf(buf, len, "%d", alert);
    return buf;
}

/* Why we refused the peer, for the failures users meet; NULL otherwise. */
static const char *local_reason(int code)
{
    switch (code) {
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
        return "we refused the peer's certificate: unknown CA (no CA in "
               "our cacertfile signed it)";
    case ASN_SIG_CONFIRM_E:
        return "we refused the peer's certificate: its signature does not "
               "verify against our CA";
    case ASN_AFTER_DATE_E:
        return "we refused the peer's certificate: it has expired";
    case ASN_BEFORE_DATE_E:
        return "we refused the peer's certificate: it is not yet valid";
    case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH:
        return "we refused the peer's certificate: host name mismatch, it "
               "does not carry the host name of the node we dialled";
    case CRL_CERT_REVOKED:
        return "we refused the peer's certificate: it is revoked, or a CA "
               "certificate of its chain is (listed in a CRL of our "
               "crl_cache)";
    case CRL_MISSING:
        return "we refused the peer's certificate: crl_check is on and "
               "our crl_cache has no CRL for its issuer, or for the issuer "
               "of a CA certificate of its chain";
    case CRL_CERT_DATE_ERR:
        return "we refused the peer's certificate: the CRL for it is out "
               "of date (its nextUpdate has passed)";
    case NO_PEER_CERT:
        return "we refused the peer: no client certificate "
               "(fail_if_no_peer_cert is set)";
    case VERSION_ERROR:
        return "no shared TLS version with the peer (compare `versions` "
               "on both sides; OTP uses TLS 1.2 only when options lack "
               "versions)";
    case MATCH_SUITE_ERROR:
        return "no shared cipher suite with the peer (compare `ciphers`, "
               "and `eccs` or `supported_groups`, on both sides)";
    case SIG_VERIFY_E:
    case VERIFY_SIGN_ERROR:
        return "we refused the peer: its handshake signature does not "
               "verify with the key of its certificate (a forged or "
               "altered handshake)";
    case SOCKET_ERROR_E:
    case SOCKET_PEER_CLOSED_E:
        return "the peer closed the connection during the TLS handshake";
    default:
        return NULL;
    }
}

/* Words for a failure: which side refused and why. The prefix names our
 * role ("TLS client:" when we dialled, "TLS server:" when we accepted);
 * "we refused" means our checks failed, "the peer refused" that it sent
 * us an alert. wolfSSL's own text otherwise. */
static void describe_error(WOLFSSL *ssl, int code, char *err, size_t errlen)
{
    char text[WOLFSSL_MAX_ERROR_SZ], num[16];
    int server = wolfSSL_is_server(ssl);
    const char *role = server ? "TLS server" : "TLS client";
    const char *peer = server ? "client" : "server";
    WOLFSSL_ALERT_HISTORY h;

    if (code == FATAL_ERROR && wolfSSL_get_alert_history(ssl, &h) ==
                                   WOLFSSL_SUCCESS &&
        h.last_rx.code > 0) {
        const char *why = alert_reason(h.last_rx.code,
                                       wolfSSL_get_certificate(ssl) != NULL,
                                       server);
        snprintf(err, errlen, "%s: the %s refused the handshake with alert "
                 "%s%s%s", role, peer,
                 alert_name(h.last_rx.code, num, sizeof num),
                 why ? ": " : "", why ? why : "");
        return;
    }
    /* after a CA's CRL failure, wolfSSL's code is the peer's: unknown CA */
    int crl = en_tls_crl_refusal(ssl);
    const char *crl_why = crl ? en_tls_crl_reason(ssl) : NULL;
    if (crl_why) {
        snprintf(err, errlen, "%s: we refused the peer's certificate: %s",
                 role, crl_why);
        return;
    }
    const char *why = local_reason(crl ? crl : code);
    if (!why) {
        long v = wolfSSL_get_verify_result(ssl);
        if (code == VERIFY_CERT_ERROR || v != 0) {
            /* the verify callback or a check wolfSSL maps to X509_V_ERR */
            why = local_reason(v == X509_V_ERR_CERT_HAS_EXPIRED
                                   ? ASN_AFTER_DATE_E
                               : v == X509_V_ERR_CERT_NOT_YET_VALID
                                   ? ASN_BEFORE_DATE_E
                               : v == X509_V_ERR_CERT_REVOKED
                                   ? CRL_CERT_REVOKED
                               : v == X509_V_ERR_UNABLE_TO_GET_CRL
                                   ? CRL_MISSING
                                   : 0);
        }
    }
    if (!why) {
        wolfSSL_ERR_error_string_n((unsigned long)code, text, sizeof text);
        why = text;
    }
    snprintf(err, errlen, "%s: %s (wolfSSL %d)", role, why, code);
}

WOLFSSL *en_tls_session(WOLFSSL_CTX *ctx, int fd, int client, const char *sni,
                        const char *verify_host, en_tls_rx_pool_t *rx_pool,
                        char *err, size_t errlen)
{
    WOLFSSL *ssl = wolfSSL_new(ctx);

    if (!ssl) {
        snprintf(err, errlen, "TLS: cannot create a session (out of memory)");
        return NULL;
    }
    if (wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS) {
        snprintf(err, errlen, "TLS: cannot attach the socket");
        goto fail;
    }
    /* wolfSSL's send() would raise SIGPIPE in the host on a closed peer */
    wolfSSL_SetIOWriteFlags(ssl, MSG_NOSIGNAL);
    if (client && sni &&
        wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, sni,
                       (unsigned short)strlen(sni)) != WOLFSSL_SUCCESS) {
        snprintf(err, errlen, "TLS: cannot set SNI '%s'", sni);
        goto fail;
    }
    if (client && verify_host &&
        wolfSSL_check_domain_name(ssl, verify_host) != WOLFSSL_SUCCESS) {
        snprintf(err, errlen, "TLS: cannot set the host name to verify");
        goto fail;
    }
    /* Last, so that the failures above need not undo them. */
    if (en_tls_rx_attach(ssl, fd, rx_pool) < 0) {
        snprintf(err, errlen, "TLS: out of memory");
        goto fail;
    }
    if (!client && EN_NEED_CCS_SHIM && en_ccs_attach(ssl, fd) < 0) {
        snprintf(err, errlen, "TLS: out of memory");
        en_tls_rx_detach(ssl);
        goto fail;
    }
    /* above the CCS shim: it sees the records as they go out */
    if (!client && en_certreq_attach(ssl, fd, EN_NEED_CCS_SHIM ? en_ccs_send
                                                               : NULL) < 0) {
        snprintf(err, errlen, "TLS: out of memory");
        if (EN_NEED_CCS_SHIM)
            en_ccs_detach(ssl);
        en_tls_rx_detach(ssl);
        goto fail;
    }
    return ssl;
fail:
    wolfSSL_free(ssl);
    return NULL;
}

void en_tls_free(WOLFSSL *ssl)
{
    if (!ssl)
        return;
    if (wolfSSL_is_server(ssl))
        en_certreq_detach(ssl);
    if (EN_NEED_CCS_SHIM && wolfSSL_is_server(ssl))
        en_ccs_detach(ssl);
    en_tls_rx_detach(ssl);
    en_tls_crl_session_free(ssl);
    en_tls_chain_forget(ssl);
    wolfSSL_free(ssl);
}

static enum en_io classify(WOLFSSL *ssl, int ret, char *err, size_t errlen)
{
    int code = wolfSSL_get_error(ssl, ret);

    switch (code) {
    case WOLFSSL_ERROR_WANT_READ:
        return EN_IO_WANT_READ;
    case WOLFSSL_ERROR_WANT_WRITE:
        return EN_IO_WANT_WRITE;
    case WOLFSSL_ERROR_ZERO_RETURN:
    case SOCKET_PEER_CLOSED_E:
        snprintf(err, errlen, "TLS: the peer closed the connection");
        return EN_IO_EOF;
    default:
        describe_error(ssl, code, err, errlen);
        return EN_IO_ERROR;
    }
}

enum en_io en_tls_handshake(WOLFSSL *ssl, char *err, size_t errlen)
{
    /* CRLs changed on disk count from the next handshake on, as in OTP */
    if (en_tls_session_refresh(ssl, err, errlen) < 0)
        return EN_IO_ERROR;
    int ret = wolfSSL_is_server(ssl) ? wolfSSL_accept(ssl)
                                     : wolfSSL_connect(ssl);
    if (ret == WOLFSSL_SUCCESS)
        return en_tls_check_session(ssl, err, errlen) < 0 ? EN_IO_ERROR
                                                           : EN_IO_DONE;
    int code = wolfSSL_get_error(ssl, ret);
    enum en_io io = classify(ssl, ret, err, errlen);
    /* closed or reset before the server said a word */
    if ((io == EN_IO_EOF || code == SOCKET_ERROR_E) &&
        !wolfSSL_is_server(ssl) && en_tls_rx_first_byte(ssl) < 0)
        snprintf(err, errlen,
                 "TLS client: the peer closed the connection without "
                 "answering our ClientHello: it may speak plain TCP "
                 "distribution (inet_tcp_dist), or not take connections "
                 "from us");
    else if (io == EN_IO_EOF)
        snprintf(err, errlen,
                 "%s: the peer closed the connection during the handshake "
                 "without saying why (it may have refused our certificate, "
                 "or speak plain TCP)",
                 wolfSSL_is_server(ssl) ? "TLS server" : "TLS client");
    return io;
}

enum en_io en_tls_read(WOLFSSL *ssl, void *buf, size_t len, size_t *n,
                       char *err, size_t errlen)
{
    int cap = len > 0x40000000 ? 0x40000000 : (int)len;
    int ret = wolfSSL_read(ssl, buf, cap);

    if (ret > 0) {
        *n = (size_t)ret;
        return EN_IO_DONE;
    }
    return classify(ssl, ret, err, errlen);
}

enum en_io en_tls_write(WOLFSSL *ssl, const void *buf, size_t len, size_t *n,
                        char *err, size_t errlen)
{
    int cap = len > 0x40000000 ? 0x40000000 : (int)len;
    int ret = wolfSSL_write(ssl, buf, cap);

    if (ret > 0) {
        *n = (size_t)ret;
        return EN_IO_DONE;
    }
    return classify(ssl, ret, err, errlen);
}

const char *en_tls_describe(WOLFSSL *ssl, char *buf, size_t len)
{
    const char *suite = wolfSSL_get_cipher_name(ssl);
    snprintf(buf, len, "%s %s", wolfSSL_get_version(ssl),
             suite ? suite : "?");
    return buf;
}

int en_tls_peer_info(WOLFSSL *ssl, en_tls_peer_t *p)
{
    memset(p, 0, sizeof *p);
    p->verified = en_tls_peer_verified(ssl);
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(ssl);
    if (!x)
        return 0;
    unsigned char md[32];
    unsigned int mdlen = sizeof md;
    int ok = wolfSSL_X509_digest(x, wolfSSL_EVP_sha256(), md, &mdlen) ==
                 WOLFSSL_SUCCESS &&
             mdlen == sizeof md;
    if (ok) {
        for (unsigned i = 0; i < mdlen; i++)
            snprintf(p->sha256 + 2 * i, 3, "%02x", md[i]);
        wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_subject_name(x),
                                  p->subject, (int)sizeof p->subject);
        wolfSSL_X509_NAME_oneline(wolfSSL_X509_get_issuer_name(x), p->issuer,
                                  (int)sizeof p->issuer);
        p->present = 1;
    }
    wolfSSL_X509_free(x);
    return ok ? 0 : -1;
}
