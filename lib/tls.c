/* tls.c - one TLS session over a non-blocking socket (wolfSSL).
 *
 * inet_tls_dist starts TLS as soon as TCP connects: the initiator is the
 * client and sends the host part of the node name it dials as SNI
 * (PROTOCOL.md section 6).
 */
#include "tls.h"

#include <stdio.h>
#include <string.h>

#include "tls_ccs.h"

/* wolfSSL sends the middlebox-compatibility CCS itself only when built
 * for it; otherwise enode does (tls_ccs.h). */
#ifdef WOLFSSL_TLS13_MIDDLEBOX_COMPAT
#define EN_NEED_CCS_SHIM 0
#else
#define EN_NEED_CCS_SHIM 1
#endif

/* Words for the failures users meet; wolfSSL's own text otherwise. */
static void describe_error(WOLFSSL *ssl, int code, char *err, size_t errlen)
{
    char text[WOLFSSL_MAX_ERROR_SZ];
    const char *why = NULL;

    switch (code) {
    case ASN_NO_SIGNER_E:
        why = "peer certificate not trusted (no CA matches its issuer)";
        break;
    case ASN_AFTER_DATE_E:
        why = "peer certificate has expired";
        break;
    case ASN_BEFORE_DATE_E:
        why = "peer certificate is not yet valid";
        break;
    case DOMAIN_NAME_MISMATCH:
        why = "peer certificate does not carry the host name of the node";
        break;
    case NO_PEER_CERT:
        why = "peer sent no certificate";
        break;
    case CRL_CERT_REVOKED:
        why = "peer certificate is revoked";
        break;
    case VERSION_ERROR:
    case MATCH_SUITE_ERROR:
        why = "no TLS version or cipher suite in common with the peer";
        break;
    case SOCKET_ERROR_E:
    case SOCKET_PEER_CLOSED_E:
        why = "the peer closed the connection during the TLS handshake";
        break;
    default:
        break;
    }
    if (!why) {
        wolfSSL_ERR_error_string_n((unsigned long)code, text, sizeof text);
        why = text;
    }
    (void)ssl;
    snprintf(err, errlen, "TLS: %s (wolfSSL %d)", why, code);
}

WOLFSSL *en_tls_session(WOLFSSL_CTX *ctx, int fd, int client, const char *sni,
                        const char *verify_host, char *err, size_t errlen)
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
    /* Last, so that the failures above need not undo it. */
    if (!client && EN_NEED_CCS_SHIM && en_ccs_attach(ssl, fd) < 0) {
        snprintf(err, errlen, "TLS: out of memory");
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
    if (EN_NEED_CCS_SHIM && wolfSSL_is_server(ssl))
        en_ccs_detach(ssl);
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
    int ret = wolfSSL_is_server(ssl) ? wolfSSL_accept(ssl)
                                     : wolfSSL_connect(ssl);
    if (ret == WOLFSSL_SUCCESS)
        return EN_IO_DONE;
    enum en_io io = classify(ssl, ret, err, errlen);
    if (io == EN_IO_EOF)
        snprintf(err, errlen,
                 "TLS: the peer closed the connection during the handshake "
                 "(it may have refused our certificate, or speak plain TCP)");
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
