/* tls_certreq.c - widening a TLS 1.2 server's certificate request, and the
 * transcript of that handshake as the client has it (see tls_certreq.h).
 *
 * The transcript is the handshake messages in the order they crossed the
 * wire: the client's as wolfSSL reads them (a tap on tls_rx), the server's
 * as they go out (the send filter), up to each side's ChangeCipherSpec;
 * after it the client's Finished joins from the callbacks. In a TLS 1.2
 * handshake the two sides take turns, so appending in the order seen is
 * the order sent.
 */
#include "tls/tls_certreq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "tls/tls_rx.h"

#define REC_HANDSHAKE 0x16
#define REC_CCS 0x14
#define HS_SERVER_HELLO 2
#define HS_CERT_REQUEST 13
#define HS_SERVER_DONE 14
#define HS_CERT_VERIFY 15
#define RSA_SIGN 1
#define ECDSA_SIGN 64

/* More than any certificate chain a node sends: past it, stop watching. */
#define TRANSCRIPT_MAX (256 * 1024)

enum cr_state {
    WATCH,   /* a TLS 1.2 handshake may come to a request */
    WIDENED, /* the widened request went out */
    PASS     /* nothing to do on this session any more */
};

struct en_certreq {
    int fd;
    CallbackIOSend lower; /* the filter below, or NULL: send() on fd */
    void *lower_ctx;
    enum cr_state state;
    int broken; /* lost track after widening: the Finished fail */
    en_buf_t transcript;
    size_t walked;    /* offset of the first message not looked at */
    size_t cr_off;    /* where the widened request sits in the transcript */
    uint8_t *cr_orig; /* the request as wolfSSL wrote it */
    size_t cr_orig_len;
    size_t cv_off; /* where the client's CertificateVerify starts, or 0 */
    /* sends: wolfSSL hands whole records */
    int tx_watch;   /* the server's records are still plaintext */
    size_t tx_left; /* bytes of the record being passed on */
    en_buf_t held;  /* the rewritten record going out */
    size_t held_sent, held_for;
    /* reads: the client's records, cut anywhere */
    int rx_watch;
    int rx_records; /* records seen */
    uint8_t rx_hdr[5];
    size_t rx_hdr_len, rx_left;
    int rx_type;
    int client_ccs; /* the client's ChangeCipherSpec came */
};

/* ---- the request --------------------------------------------------------- */

int en_certreq_widen(const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
    /* type(1) length(3) certificate_types<1..255> ... */
    if (len < 6 || msg[0] != HS_CERT_REQUEST || cap < len + 1)
        return -1;
    size_t body = ((size_t)msg[1] << 16) | ((size_t)msg[2] << 8) | msg[3];
    if (body + 4 != len || msg[4] != 1 ||
        (msg[5] != RSA_SIGN && msg[5] != ECDSA_SIGN))
        return -1;
    body++;
    out[0] = HS_CERT_REQUEST;
    out[1] = (uint8_t)(body >> 16);
    out[2] = (uint8_t)(body >> 8);
    out[3] = (uint8_t)body;
    out[4] = 2;
    out[5] = msg[5];
    out[6] = msg[5] == RSA_SIGN ? ECDSA_SIGN : RSA_SIGN;
    memcpy(out + 7, msg + 6, len - 6);
    return (int)len + 1;
}

/* ---- the state ----------------------------------------------------------- */

static void pass(struct en_certreq *cr)
{
    cr->state = PASS;
    cr->tx_watch = cr->rx_watch = 0;
    en_buf_free(&cr->transcript);
    free(cr->cr_orig);
    cr->cr_orig = NULL;
}

/* We cannot follow the handshake any more: before widening, leave it to
 * wolfSSL; after, make sure it fails. */
static void lose_track(struct en_certreq *cr)
{
    if (cr->state == WIDENED)
        cr->broken = 1;
    else
        pass(cr);
}

/* Does the ServerHello body b[0..n) choose TLS 1.2 without the extended
 * master secret? */
static int plain_tls12(const uint8_t *b, size_t n)
{
    /* version(2) random(32) session_id<0..32> suite(2) compression(1) */
    if (n < 35 || en_get16(b) != 0x0303)
        return 0;
    size_t at = 35 + b[34] + 3;
    if (at > n)
        return 0;
    if (at + 2 > n)
        return 1; /* no extensions */
    const uint8_t *e = b + at + 2, *end = e + en_get16(b + at);
    if (end > b + n)
        return 0;
    while (end - e >= 4) {
        uint16_t type = en_get16(e), len = en_get16(e + 2);
        if (type == 0x002b || type == 0x0017) /* supported_versions, EMS */
            return 0;
        e += 4 + len;
    }
    return 1;
}

static void on_message(struct en_certreq *cr, const uint8_t *m, size_t body)
{
    switch (m[0]) {
    case HS_SERVER_HELLO:
        if (!plain_tls12(m + 4, body))
            pass(cr);
        break;
    case HS_CERT_REQUEST:
    case HS_SERVER_DONE:
        if (cr->state == WATCH) /* a request we did not widen, or none */
            pass(cr);
        break;
    case HS_CERT_VERIFY:
        if (cr->cv_off == 0)
            cr->cv_off = cr->walked;
        break;
    default:
        break;
    }
}

/* Look at the messages the transcript completed. */
static void walk(struct en_certreq *cr)
{
    while (cr->state != PASS && cr->walked + 4 <= cr->transcript.len) {
        const uint8_t *m = cr->transcript.data + cr->walked;
        size_t body = ((size_t)m[1] << 16) | ((size_t)m[2] << 8) | m[3];
        if (cr->transcript.len - cr->walked - 4 < body)
            return;
        on_message(cr, m, body);
        cr->walked += 4 + body;
    }
}

static void append(struct en_certreq *cr, const uint8_t *p, size_t n)
{
    if (cr->state == PASS)
        return;
    if (cr->transcript.len + n > TRANSCRIPT_MAX ||
        en_buf_append(&cr->transcript, p, n) < 0) {
        lose_track(cr);
        return;
    }
    walk(cr);
}

/* ---- what the server sends ----------------------------------------------- */

/* The request in payload[0..len) of the record starting at rec goes out
 * widened: the record, rewritten, waits in cr->held. 0, or -1 if it is
 * not a request to widen. */
static int widen_record(struct en_certreq *cr, const uint8_t *rec,
                        const uint8_t *payload, size_t len)
{
    if (cr->state != WATCH || cr->walked != cr->transcript.len)
        return -1;
    en_buf_reset(&cr->held);
    if (en_buf_reserve(&cr->held, 5 + len + 1) < 0)
        return -1;
    uint8_t *out = cr->held.data;
    int wide = en_certreq_widen(payload, len, out + 5, len + 1);
    if (wide < 0 || !(cr->cr_orig = malloc(len)))
        return -1;
    memcpy(out, rec, 3);
    out[3] = (uint8_t)(wide >> 8);
    out[4] = (uint8_t)wide;
    cr->held.len = 5 + (size_t)wide;
    cr->held_sent = 0;
    cr->held_for = 5 + len;
    memcpy(cr->cr_orig, payload, len);
    cr->cr_orig_len = len;
    cr->cr_off = cr->transcript.len;
    cr->state = WIDENED;
    append(cr, out + 5, (size_t)wide);
    return 0;
}

/* Look at the record at p (wolfSSL's next one); its size, or 0 when the
 * records are not whole (then the watch ends). */
static size_t take_record(struct en_certreq *cr, const uint8_t *p, size_t n)
{
    size_t rec = n >= 5 ? 5 + (size_t)en_get16(p + 3) : n + 1;
    if (rec > n) {
        cr->tx_watch = 0;
        lose_track(cr);
        return 0;
    }
    if (p[0] == REC_HANDSHAKE) {
        if (widen_record(cr, p, p + 5, rec - 5) < 0)
            append(cr, p + 5, rec - 5);
    } else if (p[0] == REC_CCS) {
        /* what follows is encrypted */
        cr->tx_watch = 0;
        if (cr->state == WATCH)
            pass(cr);
    }
    return rec;
}

static int send_error(void)
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

static int send_lower(struct en_certreq *cr, WOLFSSL *ssl, const uint8_t *p,
                      size_t n)
{
    if (cr->lower)
        return cr->lower(ssl, (char *)p, (int)n, cr->lower_ctx);
    ssize_t sent = send(cr->fd, p, n, MSG_NOSIGNAL);
    return sent < 0 ? send_error() : (int)sent;
}

/* Send the rewritten record; once all of it went, wolfSSL's record counts
 * as sent. Until then wolfSSL offers the same bytes again. */
static int send_held(struct en_certreq *cr, WOLFSSL *ssl)
{
    while (cr->held_sent < cr->held.len) {
        int n = send_lower(cr, ssl, cr->held.data + cr->held_sent,
                           cr->held.len - cr->held_sent);
        if (n <= 0)
            return n < 0 ? n : WOLFSSL_CBIO_ERR_WANT_WRITE;
        cr->held_sent += (size_t)n;
    }
    en_buf_free(&cr->held);
    return (int)cr->held_for;
}

static int certreq_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    struct en_certreq *cr = ctx;
    const uint8_t *p = (const uint8_t *)buf;
    size_t n = (size_t)sz;

    if (cr->held.len > 0)
        return send_held(cr, ssl);
    if (cr->tx_watch && cr->tx_left == 0) {
        size_t rec = take_record(cr, p, n);
        if (cr->held.len > 0)
            return send_held(cr, ssl); /* the whole record, rewritten */
        cr->tx_left = rec;
    }
    if (cr->tx_watch && cr->tx_left < n)
        n = cr->tx_left; /* one record at a time: the next is looked at */
    int sent = send_lower(cr, ssl, p, n);
    if (sent > 0 && cr->tx_watch)
        cr->tx_left -= (size_t)sent;
    return sent;
}

/* ---- what the client sends ----------------------------------------------- */

/* The bytes p[0..n) the client sent, as wolfSSL reads them. */
static void client_bytes(void *certreq, const uint8_t *p, size_t n)
{
    struct en_certreq *cr = certreq;

    while (n > 0 && cr->rx_watch) {
        if (cr->rx_left > 0) {
            size_t take = n < cr->rx_left ? n : cr->rx_left;
            if (cr->rx_type == REC_HANDSHAKE)
                append(cr, p, take);
            cr->rx_left -= take;
            p += take;
            n -= take;
            continue;
        }
        size_t take = 5 - cr->rx_hdr_len;
        take = n < take ? n : take;
        memcpy(cr->rx_hdr + cr->rx_hdr_len, p, take);
        cr->rx_hdr_len += take;
        p += take;
        n -= take;
        if (cr->rx_hdr_len < 5)
            return;
        cr->rx_hdr_len = 0;
        cr->rx_type = cr->rx_hdr[0];
        cr->rx_left = en_get16(cr->rx_hdr + 3);
        if (cr->rx_records++ == 0 && cr->rx_type != REC_HANDSHAKE) {
            lose_track(cr);
        } else if (cr->rx_type == REC_CCS) {
            cr->client_ccs = 1;
            cr->rx_watch = 0; /* its Finished is encrypted */
        }
    }
}

/* ---- the session --------------------------------------------------------- */

int en_certreq_attach(WOLFSSL *ssl, int fd, CallbackIOSend lower)
{
    struct en_certreq *cr = calloc(1, sizeof *cr);

    if (!cr)
        return -1;
    cr->fd = fd;
    cr->lower = lower;
    cr->lower_ctx = lower ? wolfSSL_GetIOWriteCtx(ssl) : NULL;
    cr->tx_watch = cr->rx_watch = 1;
    en_buf_init(&cr->transcript);
    en_buf_init(&cr->held);
    wolfSSL_SSLSetIOSend(ssl, certreq_send);
    wolfSSL_SetIOWriteCtx(ssl, cr);
    en_tls_rx_tap(ssl, client_bytes, cr);
#if EN_CERTREQ
    wolfSSL_SetEccVerifyCtx(ssl, cr);
    wolfSSL_SetRsaVerifyCtx(ssl, cr);
    wolfSSL_SetRsaPssVerifyCtx(ssl, cr);
    wolfSSL_SetTlsFinishedCtx(ssl, cr);
#else
    pass(cr);
#endif
    return 0;
}

void en_certreq_detach(WOLFSSL *ssl)
{
    struct en_certreq *cr = wolfSSL_GetIOWriteCtx(ssl);

    if (!cr)
        return;
    wolfSSL_SetIOWriteCtx(ssl, cr->lower_ctx);
    en_tls_rx_tap(ssl, NULL, NULL);
#if EN_CERTREQ
    wolfSSL_SetEccVerifyCtx(ssl, NULL);
    wolfSSL_SetRsaVerifyCtx(ssl, NULL);
    wolfSSL_SetRsaPssVerifyCtx(ssl, NULL);
    wolfSSL_SetTlsFinishedCtx(ssl, NULL);
#endif
    en_buf_free(&cr->transcript);
    en_buf_free(&cr->held);
    free(cr->cr_orig);
    free(cr);
}

/* ---- for the callbacks --------------------------------------------------- */

int en_certreq_widened(const struct en_certreq *cr)
{
    return cr && cr->state == WIDENED;
}

int en_certreq_client_done(const struct en_certreq *cr)
{
    return en_certreq_widened(cr) && !cr->broken && cr->client_ccs;
}

int en_certreq_cv_scheme(const struct en_certreq *cr)
{
    if (!en_certreq_widened(cr) || cr->broken || cr->cv_off == 0 ||
        cr->cv_off + 6 > cr->transcript.len)
        return -1;
    return en_get16(cr->transcript.data + cr->cv_off + 4);
}

/* The hash of parts[0..n). */
static int hash_parts(enum wc_HashType type, const uint8_t *const *parts,
                      const size_t *lens, int n, uint8_t *out)
{
    wc_HashAlg h;
    int rc = wc_HashInit(&h, type);
    for (int i = 0; rc == 0 && i < n; i++)
        rc = wc_HashUpdate(&h, type, parts[i], (word32)lens[i]);
    if (rc == 0)
        rc = wc_HashFinal(&h, type, out);
    wc_HashFree(&h, type);
    return rc == 0 ? 0 : -1;
}

int en_certreq_hash_to_cv(const struct en_certreq *cr,
                          enum en_certreq_view view, enum wc_HashType type,
                          uint8_t *out)
{
    if (en_certreq_cv_scheme(cr) < 0)
        return -1;
    const uint8_t *t = cr->transcript.data;
    size_t wide_end = cr->cr_off + cr->cr_orig_len + 1;
    if (view == EN_CR_CLIENT) {
        size_t len = cr->cv_off;
        return hash_parts(type, &t, &len, 1, out);
    }
    const uint8_t *parts[3] = {t, cr->cr_orig, t + wide_end};
    size_t lens[3] = {cr->cr_off, cr->cr_orig_len, cr->cv_off - wide_end};
    return hash_parts(type, parts, lens, 3, out);
}

int en_certreq_hash_all(const struct en_certreq *cr, enum wc_HashType type,
                        uint8_t *out)
{
    if (!en_certreq_widened(cr) || cr->broken)
        return -1;
    const uint8_t *t = cr->transcript.data;
    size_t len = cr->transcript.len;
    return hash_parts(type, &t, &len, 1, out);
}

int en_certreq_add_client_finished(struct en_certreq *cr,
                                   const uint8_t verify_data[12])
{
    static const uint8_t header[4] = {20, 0, 0, 12};
    if (en_buf_append(&cr->transcript, header, 4) < 0 ||
        en_buf_append(&cr->transcript, verify_data, 12) < 0) {
        cr->broken = 1;
        return -1;
    }
    return 0;
}

void en_certreq_finish(struct en_certreq *cr)
{
    pass(cr);
}
