/* test_tls_certreq.c - the widened TLS 1.2 certificate request: the
 * message itself, and whole handshakes in memory between enode's server
 * session and a wolfSSL client whose certificate has the other key type.
 *
 * A wolfSSL client sends its certificate whatever types the request
 * lists, so these handshakes show that the transcript work is right (the
 * client signs and checks the widened request, the server's wolfSSL knows
 * only the one it wrote); test_tls shows that OTP clients now send their
 * certificates. A client whose CertificateVerify signs anything else than
 * the transcript it saw is refused. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "tls/tls.h"
#include "tls/tls_certreq.h"
#include "tls/tls_rx.h"
#include "tls/tlsconf.h"

#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

/* ---- the message --------------------------------------------------------- */

/* A CertificateRequest listing `types`, two signature algorithms, no CAs. */
static size_t request(uint8_t *m, const uint8_t *types, size_t n_types)
{
    size_t at = 4;
    m[at++] = (uint8_t)n_types;
    memcpy(m + at, types, n_types);
    at += n_types;
    memcpy(m + at, "\x00\x04\x04\x03\x08\x04\x00\x00", 8);
    at += 8;
    m[0] = 13;
    m[1] = 0;
    m[2] = 0;
    m[3] = (uint8_t)(at - 4);
    return at;
}

Test(tls_certreq, widen_adds_the_other_type)
{
    uint8_t m[64], out[64];
    size_t len = request(m, (const uint8_t *)"\x01", 1);
    cr_assert_eq(en_certreq_widen(m, len, out, sizeof out), (int)len + 1);
    uint8_t want[64];
    size_t want_len = request(want, (const uint8_t *)"\x01\x40", 2);
    cr_assert_eq(want_len, len + 1);
    cr_assert_arr_eq(out, want, want_len);

    len = request(m, (const uint8_t *)"\x40", 1);
    want_len = request(want, (const uint8_t *)"\x40\x01", 2);
    cr_assert_eq(en_certreq_widen(m, len, out, sizeof out), (int)want_len);
    cr_assert_arr_eq(out, want, want_len);
}

Test(tls_certreq, widen_leaves_other_requests_alone)
{
    uint8_t m[64], out[64];
    size_t len = request(m, (const uint8_t *)"\x01\x40", 2);
    cr_assert_eq(en_certreq_widen(m, len, out, sizeof out), -1);
    len = request(m, (const uint8_t *)"\x02", 1); /* dss_sign */
    cr_assert_eq(en_certreq_widen(m, len, out, sizeof out), -1);
    len = request(m, (const uint8_t *)"\x01", 1);
    cr_assert_eq(en_certreq_widen(m, len, out, len), -1, "no room");
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_eq(en_certreq_widen(m, cut, out, sizeof out), -1);
    m[0] = 11;
    cr_assert_eq(en_certreq_widen(m, len, out, sizeof out), -1);
}

/* ---- handshakes in memory ------------------------------------------------ */

static char pki[64];

static void make_pki(void)
{
    char cmd[512];
    snprintf(pki, sizeof pki, "/tmp/enode-certreq-XXXXXX");
    cr_assert_not_null(mkdtemp(pki));
    snprintf(cmd, sizeof cmd,
             "sh '%s/tests/cluster/mkcerts.sh' '%s' localhost p256 rsa2048 "
             "p256 >/dev/null",
             EN_TEST_SRCDIR, pki);
    cr_assert_eq(system(cmd), 0, "mkcerts.sh failed");
    wolfSSL_Init();
}

static void drop_pki(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki);
    cr_assert_eq(system(cmd), 0);
    wolfSSL_Cleanup();
}

/* What the client read: the records that crossed the wire. */
static en_buf_t client_rx;

static int recording_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    ssize_t n = recv(*(int *)ctx, buf, (size_t)sz, 0);
    if (n > 0)
        en_buf_append(&client_rx, buf, (size_t)n);
    if (n == 0)
        return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    return n < 0 ? WOLFSSL_CBIO_ERR_WANT_READ : (int)n;
}

/* The certificate types of the CertificateRequest the client read, as
 * "01 40"; "" if none came. */
static void request_types(char *out, size_t len)
{
    out[0] = 0;
    for (size_t at = 0; at + 5 <= client_rx.len;) {
        const uint8_t *r = client_rx.data + at;
        size_t rec = 5 + en_get16(r + 3);
        if (r[0] == 0x14)
            return; /* encrypted from here */
        if (r[0] == 0x16 && rec >= 10 && r[5] == 13)
            for (int i = 0; i < r[9] && (size_t)(10 + i) < rec; i++)
                snprintf(out + strlen(out), len - strlen(out), "%s%02x",
                         i ? " " : "", r[10 + i]);
        at += rec;
    }
}

/* Sign a hash one bit off: a CertificateVerify over something else. */
static int wrong_ecc_sign(WOLFSSL *ssl, const unsigned char *in,
                          unsigned int in_len, unsigned char *out,
                          word32 *out_len, const unsigned char *key_der,
                          unsigned int key_len, void *ctx)
{
    uint8_t hash[WC_MAX_DIGEST_SIZE];
    ecc_key key;
    WC_RNG rng;
    word32 idx = 0;
    (void)ssl;
    (void)ctx;
    memcpy(hash, in, in_len);
    hash[0] ^= 1;
    wc_InitRng(&rng);
    wc_ecc_init(&key);
    int rc = wc_EccPrivateKeyDecode(key_der, &idx, &key, key_len);
    if (rc == 0)
        rc = wc_ecc_sign_hash(hash, in_len, out, out_len, &rng, &key);
    wc_ecc_free(&key);
    wc_FreeRng(&rng);
    return rc;
}

typedef struct run {
    const char *server_key, *client_key; /* node_<key>.pem under pki */
    const char *versions;                /* the server's, e.g. "tlsv1.2" */
    const char *client_sigalgs;          /* NULL: wolfSSL's */
    int wrong_signature;
    int ems; /* offer the extended master secret, as OTP does not */
    /* results */
    enum en_io server;
    int client_done;
    char err[256], types[32], version[16];
    int peer_verified;
} run_t;

static WOLFSSL_CTX *server_ctx(en_tls_conf_t *conf, const run_t *r)
{
    char path[128], err[256];
    const char *opt[][2] = {{"server_certfile", "node_%s.pem"},
                            {"server_keyfile", "node_%s.key"},
                            {"server_cacertfile", "ca.pem"}};
    en_tls_conf_init(conf);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, opt[i][1], r->server_key);
        snprintf(path, sizeof path, "%s/%s", pki, name);
        cr_assert_eq(
            en_tls_conf_set_opt(conf, opt[i][0], path, err, sizeof err), 0,
            "%s", err);
    }
    cr_assert_eq(en_tls_conf_set_opt(conf, "server_verify", "verify_peer", err,
                                     sizeof err),
                 0);
    cr_assert_eq(en_tls_conf_set_opt(conf, "server_fail_if_no_peer_cert",
                                     "true", err, sizeof err),
                 0);
    cr_assert_eq(en_tls_conf_set_opt(conf, "server_versions", r->versions, err,
                                     sizeof err),
                 0, "%s", err);
    WOLFSSL_CTX *ctx =
        en_tls_ctx_new(&conf->server, EN_TLS_SERVER, err, sizeof err);
    cr_assert_not_null(ctx, "%s", err);
    return ctx;
}

static WOLFSSL_CTX *client_ctx(const run_t *r)
{
    char cert[128], key[128], ca[128];
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    cr_assert_not_null(ctx);
    snprintf(cert, sizeof cert, "%s/node_%s.pem", pki, r->client_key);
    snprintf(key, sizeof key, "%s/node_%s.key", pki, r->client_key);
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    cr_assert_eq(
        wolfSSL_CTX_use_certificate_file(ctx, cert, WOLFSSL_FILETYPE_PEM), 1);
    cr_assert_eq(
        wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM), 1);
    cr_assert_eq(wolfSSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    if (r->client_sigalgs)
        cr_assert_eq(wolfSSL_CTX_set1_sigalgs_list(ctx, r->client_sigalgs), 1);
    if (r->wrong_signature)
        wolfSSL_CTX_SetEccSignCb(ctx, wrong_ecc_sign);
    if (!r->ems)
        cr_assert_eq(wolfSSL_CTX_DisableExtendedMasterSecret(ctx), 1);
    return ctx;
}

/* Both sides' handshakes, turn about, until neither can go on. */
static void handshake(run_t *r)
{
    int fds[2];
    en_tls_conf_t conf;
    en_tls_rx_pool_t pool = {0};
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    WOLFSSL_CTX *sctx = server_ctx(&conf, r), *cctx = client_ctx(r);
    WOLFSSL *server = en_tls_session(sctx, fds[0], 0, NULL, NULL, &pool, r->err,
                                     sizeof r->err);
    cr_assert_not_null(server, "%s", r->err);
    WOLFSSL *client = wolfSSL_new(cctx);
    cr_assert_not_null(client);
    wolfSSL_set_fd(client, fds[1]);
    wolfSSL_SSLSetIORecv(client, recording_recv);
    wolfSSL_SetIOReadCtx(client, &fds[1]);
    en_buf_reset(&client_rx);

    r->server = EN_IO_WANT_READ;
    for (int turn = 0; turn < 50; turn++) {
        if (r->server == EN_IO_WANT_READ || r->server == EN_IO_WANT_WRITE) {
            r->server = en_tls_handshake(server, r->err, sizeof r->err);
            en_tls_rx_yield(server);
        }
        if (!r->client_done) {
            int rc = wolfSSL_connect(client);
            int e = wolfSSL_get_error(client, rc);
            r->client_done =
                rc == WOLFSSL_SUCCESS ? 1
                : e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE
                    ? 0
                    : -1;
        }
        if (r->server != EN_IO_WANT_READ && r->server != EN_IO_WANT_WRITE &&
            r->client_done != 0)
            break;
    }
    request_types(r->types, sizeof r->types);
    snprintf(r->version, sizeof r->version, "%s", wolfSSL_get_version(client));
    en_tls_peer_t peer;
    r->peer_verified = r->server == EN_IO_DONE &&
                       en_tls_peer_info(server, &peer) == 0 && peer.present &&
                       peer.verified;
    wolfSSL_free(client);
    en_tls_free(server);
    wolfSSL_CTX_free(cctx);
    wolfSSL_CTX_free(sctx);
    en_tls_conf_free(&conf);
    en_tls_rx_pool_free(&pool);
    close(fds[0]);
    close(fds[1]);
}

static void accepted(run_t *r, const char *types)
{
    handshake(r);
    cr_assert_eq(r->server, EN_IO_DONE, "server: %s", r->err);
    cr_assert_eq(r->client_done, 1);
    cr_assert(r->peer_verified, "the client's certificate is not verified");
    cr_assert_str_eq(r->types, types);
}

Test(tls_certreq, rsa_server_takes_an_ecdsa_client, .init = make_pki,
     .fini = drop_pki)
{
    run_t r = {.server_key = "rsa2048",
               .client_key = "p256",
               .versions = "tlsv1.2",
               .client_sigalgs = NULL,
               .wrong_signature = 0};
    accepted(&r, "01 40");
    cr_assert_str_eq(r.version, "TLSv1.2");
}

Test(tls_certreq, ecdsa_server_takes_an_rsa_client_pss_or_pkcs1,
     .init = make_pki, .fini = drop_pki)
{
    run_t pss = {.server_key = "p256",
                 .client_key = "rsa2048",
                 .versions = "tlsv1.2",
                 .client_sigalgs = "RSA-PSS+SHA256:ECDSA+SHA256",
                 .wrong_signature = 0};
    accepted(&pss, "40 01");
    run_t pkcs1 = {.server_key = "p256",
                   .client_key = "rsa2048",
                   .versions = "tlsv1.2",
                   .client_sigalgs = "RSA+SHA384:ECDSA+SHA256",
                   .wrong_signature = 0};
    accepted(&pkcs1, "40 01");
}

Test(tls_certreq, same_key_types_still_work, .init = make_pki, .fini = drop_pki)
{
    run_t ec = {.server_key = "p256",
                .client_key = "p256",
                .versions = "tlsv1.2",
                .client_sigalgs = NULL,
                .wrong_signature = 0};
    accepted(&ec, "40 01");
    run_t rsa = {.server_key = "rsa2048",
                 .client_key = "rsa2048",
                 .versions = "tlsv1.2",
                 .client_sigalgs = NULL,
                 .wrong_signature = 0};
    accepted(&rsa, "01 40");
}

Test(tls_certreq, a_signature_over_another_transcript_is_refused,
     .init = make_pki, .fini = drop_pki)
{
    run_t r = {.server_key = "rsa2048",
               .client_key = "p256",
               .versions = "tlsv1.2",
               .client_sigalgs = NULL,
               .wrong_signature = 1};
    handshake(&r);
    cr_assert_neq(r.server, EN_IO_DONE, "a wrong CertificateVerify passed");
    cr_assert(strstr(r.err, "TLS server: we refused the peer: its handshake "
                            "signature does not verify"),
              "%s", r.err);
    cr_assert_neq(r.client_done, 1);
}

Test(tls_certreq, tls13_is_left_alone, .init = make_pki, .fini = drop_pki)
{
    run_t r = {.server_key = "rsa2048",
               .client_key = "p256",
               .versions = "tlsv1.3",
               .client_sigalgs = NULL,
               .wrong_signature = 0};
    accepted(&r, ""); /* TLS 1.3's request is encrypted */
    cr_assert_str_eq(r.version, "TLSv1.3");
    run_t wrong = {.server_key = "rsa2048",
                   .client_key = "p256",
                   .versions = "tlsv1.3",
                   .client_sigalgs = NULL,
                   .wrong_signature = 1};
    handshake(&wrong);
    cr_assert_neq(wrong.server, EN_IO_DONE, "a wrong CertificateVerify passed");
}

Test(tls_certreq, a_handshake_with_the_extended_master_secret_is_left_alone,
     .init = make_pki, .fini = drop_pki)
{
    /* OTP never offers it; a wolfSSL client does, and sends its
     * certificate whatever the request lists */
    run_t r = {.server_key = "rsa2048",
               .client_key = "p256",
               .versions = "tlsv1.2",
               .ems = 1};
    accepted(&r, "01");
}
