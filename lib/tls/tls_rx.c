/* tls_rx.c - feeding wolfSSL from large socket reads (see tls_rx.h). */
#include "tls/tls_rx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct en_tls_rx {
    int fd;
    en_tls_rx_pool_t *pool;
    const uint8_t *next; /* the bytes read and not yet handed over */
    size_t left;
    uint8_t *own;        /* a buffer of the session's own holding them */
    int drained;         /* the last recv() came back short */
    int first;           /* the first byte the peer sent, or -1 */
    en_tls_rx_tap_fn *tap;
    void *tap_arg;
};

void en_tls_rx_pool_free(en_tls_rx_pool_t *pool)
{
    free(pool->buf);
    pool->buf = NULL;
    pool->lent_to = NULL;
}

static int recv_error(void)
{
    switch (errno) {
    case EAGAIN:
        return WOLFSSL_CBIO_ERR_WANT_READ;
    case EINTR:
        return WOLFSSL_CBIO_ERR_ISR;
    case ECONNRESET:
        return WOLFSSL_CBIO_ERR_CONN_RST;
    default:
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
}

/* Where the next socket read goes: the node's buffer, unless another
 * session still has bytes in it. */
static uint8_t *read_target(struct en_tls_rx *rx)
{
    en_tls_rx_pool_t *pool = rx->pool;

    if (!pool->buf && !(pool->buf = malloc(EN_TLS_RX_SIZE)))
        return NULL;
    if (!pool->lent_to || pool->lent_to == rx || pool->lent_to->left == 0) {
        pool->lent_to = rx;
        return pool->buf;
    }
    return rx->own = malloc(EN_TLS_RX_SIZE);
}

/* Read what the socket has. 0, or one of wolfSSL's WOLFSSL_CBIO_ERR_*. */
static int refill(struct en_tls_rx *rx)
{
    uint8_t *buf = read_target(rx);
    if (!buf)
        return WOLFSSL_CBIO_ERR_GENERAL;

    ssize_t got = recv(rx->fd, buf, EN_TLS_RX_SIZE, 0);
    if (got <= 0) {
        free(rx->own);
        rx->own = NULL;
        rx->drained = got < 0 && errno == EAGAIN;
        return got == 0 ? WOLFSSL_CBIO_ERR_CONN_CLOSE : recv_error();
    }
    rx->next = buf;
    rx->left = (size_t)got;
    rx->drained = got < EN_TLS_RX_SIZE;
    return 0;
}

static int rx_callback(WOLFSSL *ssl, char *out, int want, void *ctx)
{
    struct en_tls_rx *rx = ctx;

    if (want <= 0)
        return 0;
    if (rx->left == 0) {
        int rc = refill(rx);
        if (rc != 0)
            return rc;
    }
    if (rx->first < 0)
        rx->first = rx->next[0];
    if (rx->first != 0x16 && wolfSSL_is_server(ssl))
        return WOLFSSL_CBIO_ERR_GENERAL; /* not TLS: en_tls_rx_first_byte */
    size_t n = rx->left < (size_t)want ? rx->left : (size_t)want;
    memcpy(out, rx->next, n);
    if (rx->tap)
        rx->tap(rx->tap_arg, rx->next, n);
    rx->next += n;
    rx->left -= n;
    if (rx->left == 0 && rx->own) {
        free(rx->own);
        rx->own = NULL;
    }
    return (int)n;
}

int en_tls_rx_attach(WOLFSSL *ssl, int fd, en_tls_rx_pool_t *pool)
{
    struct en_tls_rx *rx = calloc(1, sizeof *rx);

    if (!rx)
        return -1;
    rx->fd = fd;
    rx->pool = pool;
    rx->first = -1;
    wolfSSL_SSLSetIORecv(ssl, rx_callback);
    wolfSSL_SetIOReadCtx(ssl, rx);
    return 0;
}

void en_tls_rx_tap(WOLFSSL *ssl, en_tls_rx_tap_fn *tap, void *arg)
{
    struct en_tls_rx *rx = wolfSSL_GetIOReadCtx(ssl);

    rx->tap = tap;
    rx->tap_arg = arg;
}

void en_tls_rx_detach(WOLFSSL *ssl)
{
    struct en_tls_rx *rx = wolfSSL_GetIOReadCtx(ssl);

    if (rx->pool->lent_to == rx)
        rx->pool->lent_to = NULL;
    free(rx->own);
    free(rx);
    wolfSSL_SetIOReadCtx(ssl, NULL);
}

int en_tls_rx_yield(WOLFSSL *ssl)
{
    struct en_tls_rx *rx = wolfSSL_GetIOReadCtx(ssl);

    if (rx->pool->lent_to != rx)
        return 0;
    rx->pool->lent_to = NULL;
    if (rx->left == 0)
        return 0;
    rx->own = malloc(rx->left);
    if (!rx->own) {
        rx->left = 0;
        return -1;
    }
    memcpy(rx->own, rx->next, rx->left);
    rx->next = rx->own;
    return 0;
}

int en_tls_rx_drained(WOLFSSL *ssl)
{
    const struct en_tls_rx *rx = wolfSSL_GetIOReadCtx(ssl);
    return rx->left == 0 && rx->drained;
}

int en_tls_rx_first_byte(WOLFSSL *ssl)
{
    const struct en_tls_rx *rx = wolfSSL_GetIOReadCtx(ssl);
    return rx->first;
}

int en_tls_rx_unread(WOLFSSL *ssl)
{
    const struct en_tls_rx *rx = wolfSSL_GetIOReadCtx(ssl);
    return rx->left > 0 || wolfSSL_pending(ssl) > 0;
}
