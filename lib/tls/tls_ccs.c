/* tls_ccs.c - the dummy ChangeCipherSpec of TLS 1.3 middlebox
 * compatibility mode, written by enode for wolfSSL (see tls_ccs.h). */
#include "tls/tls_ccs.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "base/buf.h"

static const uint8_t dummy_ccs[6] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};

enum { INSPECT, BEFORE_CCS, CCS_PENDING, PASS };

struct en_ccs {
    int fd;
    int state;
    size_t first_len; /* the first record's size */
    size_t sent;      /* bytes of wolfSSL's stream sent */
    size_t ccs_sent;  /* bytes of the dummy CCS sent */
};

/* Whether the ServerHello extensions hold supported_versions = TLS 1.3. */
static int offers_tls13(const uint8_t *p, const uint8_t *end)
{
    while (end - p >= 4) {
        uint16_t type = en_get16(p), len = en_get16(p + 2);
        p += 4;
        if (end - p < len)
            return 0;
        if (type == 0x002b && len == 2 && en_get16(p) == 0x0304)
            return 1;
        p += len;
    }
    return 0;
}

int en_ccs_needed(const uint8_t *p, size_t len, size_t *record_len)
{
    if (len < 5)
        return -1;
    *record_len = 5 + (size_t)en_get16(p + 3);
    if (p[0] != 0x16)
        return 0;
    if (len < *record_len)
        return -1;
    const uint8_t *hs = p + 5, *end = p + *record_len;
    if (end - hs < 4 || hs[0] != 2) /* server_hello */
        return 0;
    size_t body = ((size_t)hs[1] << 16) | ((size_t)hs[2] << 8) | hs[3];
    const uint8_t *q = hs + 4;
    if ((size_t)(end - q) < body)
        return 0;
    end = q + body;
    /* legacy_version(2) random(32) session_id<0..32> */
    if (end - q < 35)
        return 0;
    size_t sid_len = q[34];
    q += 35;
    /* cipher_suite(2) compression(1) extensions<2> */
    if (sid_len == 0 || (size_t)(end - q) < sid_len + 5)
        return 0;
    q += sid_len + 3;
    size_t ext_len = en_get16(q);
    q += 2;
    if ((size_t)(end - q) < ext_len)
        return 0;
    return offers_tls13(q, q + ext_len);
}

static int io_error(void)
{
    switch (errno) {
    case EAGAIN:
        return WOLFSSL_CBIO_ERR_WANT_WRITE;
    case EINTR:
        return WOLFSSL_CBIO_ERR_ISR;
    case ECONNRESET:
        return WOLFSSL_CBIO_ERR_CONN_RST;
    case EPIPE:
        return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    default:
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
}

/* Send what is left of the dummy CCS. 0 when all of it went. */
static int send_ccs(struct en_ccs *s)
{
    while (s->ccs_sent < sizeof dummy_ccs) {
        ssize_t n = send(s->fd, dummy_ccs + s->ccs_sent,
                         sizeof dummy_ccs - s->ccs_sent, MSG_NOSIGNAL);
        if (n < 0)
            return io_error();
        s->ccs_sent += (size_t)n;
    }
    s->state = PASS;
    return 0;
}

int en_ccs_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    struct en_ccs *s = ctx;
    size_t limit = (size_t)sz;
    (void)ssl;

    if (s->state == INSPECT) {
        int need = en_ccs_needed((const uint8_t *)buf, (size_t)sz,
                                 &s->first_len);
        s->state = need == 1 ? BEFORE_CCS : PASS;
    }
    if (s->state == CCS_PENDING) {
        int rc = send_ccs(s);
        if (rc < 0)
            return rc;
    }
    if (s->state == BEFORE_CCS && s->first_len - s->sent < limit)
        limit = s->first_len - s->sent;
    ssize_t n = send(s->fd, buf, limit, MSG_NOSIGNAL);
    if (n < 0)
        return io_error();
    s->sent += (size_t)n;
    if (s->state == BEFORE_CCS && s->sent == s->first_len) {
        s->state = CCS_PENDING;
        send_ccs(s); /* what does not go now goes before the next bytes */
    }
    return (int)n;
}

int en_ccs_attach(WOLFSSL *ssl, int fd)
{
    struct en_ccs *s = calloc(1, sizeof *s);

    if (!s)
        return -1;
    s->fd = fd;
    s->state = INSPECT;
    wolfSSL_SSLSetIOSend(ssl, en_ccs_send);
    wolfSSL_SetIOWriteCtx(ssl, s);
    return 0;
}

void en_ccs_detach(WOLFSSL *ssl)
{
    free(wolfSSL_GetIOWriteCtx(ssl));
    wolfSSL_SetIOWriteCtx(ssl, NULL);
}
