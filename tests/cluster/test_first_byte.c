/* test_first_byte.c - what a node makes of the first bytes of a
 * connection: a TLS ClientHello whenever it arrives, and a peer that
 * speaks the other protocol.
 *
 * An acceptor tells a plain-TCP peer from a TLS one by the first byte.
 * It used to look with recv(MSG_PEEK) before each handshake step, and
 * only until a byte was there: a ClientHello arriving between a look that
 * found nothing and wolfSSL's read went by unseen, and the next look
 * found the client's second record (0x14 or 0x17) and refused a good TLS
 * 1.3 peer. The test here delivers the ClientHello at that moment, from
 * inside recv(). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;

static void up(void)
{
    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    wolfSSL_Init();
}

static void down(void)
{
    h_cluster_stop(cluster);
    wolfSSL_Cleanup();
}

/* ---- the C node, its log kept -------------------------------------------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[16384];

static void keep_log(void *user, int level, const char *msg)
{
    (void)user;
    (void)level;
    pthread_mutex_lock(&log_mu);
    size_t len = strlen(log_text);
    snprintf(log_text + len, sizeof log_text - len, "%s\n", msg);
    pthread_mutex_unlock(&log_mu);
}

static int logged(const char *needle)
{
    pthread_mutex_lock(&log_mu);
    int found = strstr(log_text, needle) != NULL;
    pthread_mutex_unlock(&log_mu);
    return found;
}

/* An optfile like the cluster's, at TLS 1.3. */
static const char *tls13_optfile(void)
{
    static char path[600];
    const char *pki = h_cluster_pki_dir(cluster);
    snprintf(path, sizeof path, "%s/tls13.conf", h_cluster_dir(cluster));
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int side = 0; side < 2; side++)
        fprintf(f,
                "%s{%s,[{certfile,\"%s/node.pem\"},{keyfile,\"%s/node.key\"},"
                "{cacertfile,\"%s/ca.pem\"},{verify,verify_peer},%s"
                "{versions,['tlsv1.3']}]}%s\n",
                side ? " " : "[", side ? "client" : "server", pki, pki, pki,
                side ? "" : "{fail_if_no_peer_cert,true},", side ? "]." : ",");
    fclose(f);
    return path;
}

static enode_t *c_node(const char *name, const char *optfile)
{
    enode_t *n;
    enode_config_t *cfg;
    char err[512];
    cfg = h_enode_config(cluster, name);
    cr_assert_not_null(cfg);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(cfg, optfile), 0);
    cr_assert_eq(enode_config_set_log(cfg, keep_log, NULL, ENODE_LOG_WARNING), 0);
    int new_rc = enode_new(&n, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(new_rc, 0, "%s", err);
    cr_assert_eq(enode_start_thread(n), 0);
    return n;
}

static void dial(int fd, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "%s",
                 strerror(errno));
}

/* ---- recv(), with the ClientHello delivered at the worst moment ---------- */

static int hello_fd = -1;
static uint8_t hello[8192];
static size_t hello_len;
static atomic_int armed;

static void send_hello(void)
{
    for (size_t sent = 0; sent < hello_len;) {
        ssize_t n =
            send(hello_fd, hello + sent, hello_len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        sent += (size_t)n;
    }
}

/* Every recv() of this program, the C node's included (libenode is linked
 * in): once armed, a look at an empty socket makes the hello arrive right
 * after it, before the reader's next call. */
ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = recvfrom(fd, buf, len, flags, NULL, NULL);
    int saved = errno;
    if (n < 0 && saved == EAGAIN && (flags & MSG_PEEK) &&
        atomic_exchange(&armed, 0)) {
        send_hello();
        usleep(20000); /* until it is in the C node's socket */
    }
    errno = saved;
    return n;
}

/* The client's I/O: first its ClientHello is only kept, then the socket. */
static int capturing = 1;

static int client_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    if (capturing) {
        cr_assert_leq(hello_len + (size_t)sz, sizeof hello);
        memcpy(hello + hello_len, buf, (size_t)sz);
        hello_len += (size_t)sz;
        return sz;
    }
    ssize_t n = send(*(int *)ctx, buf, (size_t)sz, MSG_NOSIGNAL);
    return n < 0 ? (errno == EAGAIN ? WOLFSSL_CBIO_ERR_WANT_WRITE
                                    : WOLFSSL_CBIO_ERR_GENERAL)
                 : (int)n;
}

static int client_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    (void)ssl;
    if (capturing)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    ssize_t n =
        recvfrom(*(int *)ctx, buf, (size_t)sz, MSG_DONTWAIT, NULL, NULL);
    if (n == 0)
        return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    return n < 0 ? (errno == EAGAIN ? WOLFSSL_CBIO_ERR_WANT_READ
                                    : WOLFSSL_CBIO_ERR_GENERAL)
                 : (int)n;
}

static WOLFSSL_CTX *client_ctx(void)
{
    char cert[600], key[600], ca[600];
    const char *pki = h_cluster_pki_dir(cluster);
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
    cr_assert_not_null(ctx);
    snprintf(cert, sizeof cert, "%s/node.pem", pki);
    snprintf(key, sizeof key, "%s/node.key", pki);
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    cr_assert_eq(
        wolfSSL_CTX_use_certificate_file(ctx, cert, WOLFSSL_FILETYPE_PEM), 1);
    cr_assert_eq(
        wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM), 1);
    cr_assert_eq(wolfSSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    wolfSSL_CTX_SetIOSend(ctx, client_send);
    wolfSSL_CTX_SetIORecv(ctx, client_recv);
    return ctx;
}

/* Run the client's handshake until it is through (1) or fails (0). */
static int client_handshake(WOLFSSL *ssl, int fd)
{
    for (int waited = 0; waited < 10000; waited += 20) {
        int rc = wolfSSL_connect(ssl);
        if (rc == WOLFSSL_SUCCESS)
            return 1;
        int e = wolfSSL_get_error(ssl, rc);
        if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 20);
    }
    return 0;
}

/* After the TLS handshake, the C node takes a distribution name message
 * and answers it: the connection it kept. */
static int answers_name(WOLFSSL *ssl, int fd)
{
    static const char name[] = "\x00\x00\x00\x12N\x00\x00\x00\x0d\x07\xdf"
                               "\x7f\xbc\x00\x00\x00\x01\x00\x03x@y";
    if (wolfSSL_write(ssl, name, sizeof name - 1) != (int)sizeof name - 1)
        return 0;
    char reply[64];
    for (int waited = 0; waited < 5000; waited += 20) {
        int n = wolfSSL_read(ssl, reply, sizeof reply);
        if (n > 0)
            return 1;
        if (wolfSSL_get_error(ssl, n) != WOLFSSL_ERROR_WANT_READ)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 20);
    }
    return 0;
}

Test(first_byte, client_hello_arriving_after_a_look_at_an_empty_socket,
     .init = up, .fini = down, .timeout = 60)
{
    enode_t *n = c_node("race", tls13_optfile());
    WOLFSSL_CTX *ctx = client_ctx();
    WOLFSSL *ssl = wolfSSL_new(ctx);
    cr_assert_not_null(ssl);

    /* the ClientHello, kept for the moment */
    int rc = wolfSSL_connect(ssl);
    cr_assert_eq(wolfSSL_get_error(ssl, rc), WOLFSSL_ERROR_WANT_READ);
    cr_assert_gt(hello_len, 0);
    capturing = 0;

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    hello_fd = fd;
    wolfSSL_SetIOReadCtx(ssl, &fd);
    wolfSSL_SetIOWriteCtx(ssl, &fd);
    atomic_store(&armed, 1);
    dial(fd, enode_port(n));
    /* The node accepts and looks at once; one that never looks gets the
     * hello a moment later. */
    for (int i = 0; i < 100 && atomic_load(&armed); i++)
        usleep(10000);
    if (atomic_exchange(&armed, 0))
        send_hello();

    cr_assert(client_handshake(ssl, fd), "TLS handshake failed; log:\n%s",
              log_text);
    cr_assert(answers_name(ssl, fd),
              "the node dropped a good TLS 1.3 "
              "peer; log:\n%s",
              log_text);
    cr_assert(!logged("does not speak TLS"), "%s", log_text);
    wolfSSL_free(ssl);
    wolfSSL_CTX_free(ctx);
    close(fd);
    enode_free(n);
}

/* ---- TLS and plain TCP meeting ------------------------------------------- */

static void tcp_config(enode_config_t *cfg)
{
    cr_assert_eq(enode_config_set_proto(cfg, ENODE_PROTO_TCP), 0);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(cfg, NULL), 0);
}

static enode_t *c_node_proto(const char *name, int tcp)
{
    enode_t *n;
    enode_config_t *cfg;
    char err[512];
    cfg = h_enode_config(cluster, name);
    cr_assert_not_null(cfg);
    if (tcp)
        tcp_config(cfg);
    cr_assert_eq(enode_config_set_setup_time_ms(cfg, 2000), 0);
    cr_assert_eq(enode_config_set_log(cfg, keep_log, NULL, ENODE_LOG_WARNING), 0);
    int new_rc = enode_new(&n, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(new_rc, 0, "%s", err);
    cr_assert_eq(enode_start_thread(n), 0);
    return n;
}

static void dial_fails_with(enode_t *n, const char *peer, const char *why)
{
    cr_assert_neq(enode_connect(n, peer), 0, "%s reached %s", enode_name(n),
                  peer);
    cr_assert(strstr(enode_last_error(n), why), "expected \"%s\" in: %s", why,
              enode_last_error(n));
}

Test(first_byte, a_tcp_node_dialling_a_tls_node_hears_it_may_speak_tls,
     .init = up, .fini = down, .timeout = 60)
{
    h_node_t *otp = h_node_launch(cluster, "otls", NULL);
    enode_t *tcp = c_node_proto("plain", 1);
    enode_t *tls = c_node_proto("secure", 0);
    cr_assert_eq(h_node_wait_ready(otp, 30000), 0);
    /* OTP answers with an alert, a C node closes without a word */
    dial_fails_with(tcp, h_node_name(otp),
                    "answered with a TLS record: it speaks TLS distribution "
                    "(inet_tls_dist), not plain TCP");
    dial_fails_with(tcp, enode_name(tls),
                    "closed the connection while we waited for a status "
                    "reply to our name; it may speak TLS distribution "
                    "(inet_tls_dist)");
    /* and the TLS node said why it closed */
    cr_assert(logged("does not speak TLS (its first byte is 0x00"), "%s",
              log_text);
    enode_free(tcp);
    enode_free(tls);
}

Test(first_byte, a_tls_node_dialling_a_tcp_node_hears_it_may_speak_tcp,
     .init = up, .fini = down, .timeout = 60)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.tcp = true;
    h_node_t *otp = h_node_launch(cluster, "otcp", &o);
    enode_t *tls = c_node_proto("secure", 0);
    enode_t *tcp = c_node_proto("plain", 1);
    cr_assert_eq(h_node_wait_ready(otp, 30000), 0);
    /* a C node refuses the ClientHello at once, and says why */
    dial_fails_with(tls, enode_name(tcp),
                    "closed the connection without answering our "
                    "ClientHello: it may speak plain TCP distribution "
                    "(inet_tcp_dist)");
    cr_assert(logged("speaks TLS (its first bytes are a TLS record): a node "
                     "using TLS distribution (inet_tls_dist) on this plain "
                     "TCP port?"),
              "%s", log_text);
    /* OTP waits for the rest of a name message that long */
    dial_fails_with(tls, h_node_name(otp),
                    "no answer at all to our ClientHello; does the peer "
                    "speak plain TCP distribution (inet_tcp_dist)?");
    enode_free(tls);
    enode_free(tcp);
}
