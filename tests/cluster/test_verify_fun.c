/* test_verify_fun.c - verify_fun options naming C functions, against real
 * OTP nodes in both roles: the function sees the peer's chain (the
 * intermediate CA first, the peer's certificate last) with the option's
 * State, and refuses the peer when it says so; a name not registered, a
 * verify_fun without verify_peer and the built-in verify_client on the
 * client side stop the node at start-up.  The OTP peer presents a chain
 * of badcerts.sh: chainleaf (or big, a certificate over 2 KiB) under
 * subca under the cluster's CA.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;
static char pki[256];

static void up(void)
{
    char cmd[1024], host[256] = "";
    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    snprintf(pki, sizeof pki, "%s", h_cluster_pki_dir(cluster));
    gethostname(host, sizeof host - 1);
    snprintf(cmd, sizeof cmd, "sh '%s/badcerts.sh' '%s' '%s'", h_srcdir(), pki,
             host);
    cr_assert_eq(system(cmd), 0, "badcerts.sh failed");
}

static void down(void)
{
    h_cluster_stop(cluster);
}

/* An optfile: both sides present <cert>.pem/.key, trust <cas>, verify the
 * peer, and add `extra` (e.g. a verify_fun) to both; the server insists
 * on a client certificate. */
static const char *optfile(const char *tag, const char *cert, const char *cas,
                           const char *verify, const char *server_extra,
                           const char *client_extra)
{
    static char paths[4][700];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 700, "%s/%s.conf", h_cluster_dir(cluster), tag);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int side = 0; side < 2; side++)
        fprintf(f,
                "%s{%s,[{certfile,\"%s/%s.pem\"},{keyfile,\"%s/%s.key\"},"
                "{cacertfile,\"%s/%s\"},{verify,%s},%s{depth,4}]}%s\n",
                side ? " " : "[", side ? "client" : "server", pki, cert, pki,
                cert, pki, cas, verify, side ? client_extra : server_extra,
                side ? "]." : ",");
    fclose(f);
    return path;
}

/* ---- what the C function saw ----------------------------------------------
 */

typedef struct seen {
    pthread_mutex_t mu;
    int calls, refuse_depth; /* refuse at that depth; -1: never */
    int depths[8], servers[8], state_ok[8];
    size_t der_lens[8];
    char subjects[8][256];
} seen_t;

/* term_to_binary({st, 1}) */
static const char st_1[] = {(char)131, 104, 2, 119, 2, 's', 't', 97, 1};

static int record(void *user, const enode_cert_event_t *ev, char *why,
                  size_t whylen)
{
    seen_t *s = user;
    pthread_mutex_lock(&s->mu);
    int i = s->calls++ % 8;
    s->depths[i] = ev->depth;
    s->der_lens[i] = ev->der_len;
    s->servers[i] = ev->we_are_server;
    s->state_ok[i] = ev->state_len == (int)sizeof st_1 &&
                     memcmp(ev->state, st_1, sizeof st_1) == 0 &&
                     ev->der_len > 100 && strlen(ev->sha256) == 64;
    snprintf(s->subjects[i], sizeof s->subjects[i], "%s", ev->subject);
    int refuse = ev->depth == s->refuse_depth;
    pthread_mutex_unlock(&s->mu);
    if (refuse)
        snprintf(why, whylen, "depth %d is not welcome", ev->depth);
    return refuse;
}

static void forget(seen_t *s, int refuse_depth)
{
    pthread_mutex_lock(&s->mu);
    s->calls = 0;
    s->refuse_depth = refuse_depth;
    pthread_mutex_unlock(&s->mu);
}

/* Two calls: subca at depth 1, then chainleaf at depth 0, with State. */
static void saw_the_chain(seen_t *s, int we_are_server)
{
    pthread_mutex_lock(&s->mu);
    cr_assert_eq(s->calls, 2, "%d calls", s->calls);
    cr_assert_eq(s->depths[0], 1);
    cr_assert_eq(s->depths[1], 0);
    cr_assert(strstr(s->subjects[0], "sub CA"), "%s", s->subjects[0]);
    cr_assert(!strstr(s->subjects[1], "sub CA"), "%s", s->subjects[1]);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(s->servers[i], we_are_server);
        cr_assert(s->state_ok[i], "call %d: State or certificate wrong", i);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- C nodes
 * ----------------------------------------------------------------- */

typedef struct capture {
    pthread_mutex_t mu;
    size_t len;
    char text[16384];
} capture_t;

static void capture_log(void *user, int level, const char *msg)
{
    capture_t *c = user;
    (void)level;
    pthread_mutex_lock(&c->mu);
    int n = snprintf(c->text + c->len, sizeof c->text - c->len, "%s\n", msg);
    if (n > 0 && c->len + (size_t)n < sizeof c->text)
        c->len += (size_t)n;
    pthread_mutex_unlock(&c->mu);
}

static bool logged(capture_t *c, const char *needle, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        pthread_mutex_lock(&c->mu);
        bool found = strstr(c->text, needle) != NULL;
        pthread_mutex_unlock(&c->mu);
        if (found || waited >= timeout_ms)
            return found;
        usleep(50000);
    }
}

static capture_t log_of_c = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* A C node reading conf, with record() registered as test_vf:check/3;
 * enode_new's code, and its error in err. */
static int c_new(enode_t **n, const char *name, const char *conf, seen_t *s,
                 char *err, size_t errlen)
{
    enode_config_t *cfg;
    cr_assert_eq(enode_config_new(&cfg), 0);
    cr_assert_eq(enode_config_set_name(cfg, name, 0), 0);
    cr_assert_eq(enode_config_set_cookie(cfg, h_cluster_cookie(cluster)), 0);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(cfg, conf), 0);
    cr_assert_eq(enode_config_set_setup_time_ms(cfg, 4000), 0);
    cr_assert_eq(
        enode_config_set_log(cfg, capture_log, &log_of_c, ENODE_LOG_WARNING),
        0);
    cr_assert_eq(
        enode_config_add_verify_fun(cfg, "test_vf", "check", record, s), 0);
    int rc = enode_new(n, cfg, err, errlen);
    enode_config_free(cfg);
    return rc;
}

/* An OTP node presenting <cert>.pem, a leaf under subca, with subca. */
static h_node_t *otp_presenting(const char *cert)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.optfile = optfile("otp_chain", cert, "chaincas.pem", "verify_peer",
                        "{fail_if_no_peer_cert,true},", "");
    h_node_t *n = h_node_launch(cluster, "vfpeer", &o);
    cr_assert_not_null(n);
    cr_assert_eq(h_node_wait_ready(n, 30000), 0);
    return n;
}

static h_node_t *otp_with_chain(void)
{
    return otp_presenting("chain");
}

/* Wait until neither side knows the connection any more. */
static void apart(h_node_t *otp, enode_t *c)
{
    char expr[300];
    cr_assert(h_eval_expect(otp, "global:sync().", "ok"));
    enode_disconnect(c, h_node_name(otp));
    snprintf(expr, sizeof expr, "element(1, net_kernel:node_info('%s')).",
             enode_name(c));
    cr_assert(h_wait_until(otp, expr, "error", 10000));
    for (int i = 0; i < 200 && enode_is_connected(c, h_node_name(otp)); i++)
        usleep(50000);
}

#define VF "{verify_fun,{fun test_vf:check/3,{st,1}}},"

Test(verify_fun, sees_the_chain_and_decides_in_both_roles, .init = up,
     .fini = down, .timeout = 180)
{
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .refuse_depth = -1};
    char err[512];
    enode_t *c;
    h_node_t *otp = otp_with_chain();
    const char *conf = optfile("c_vf", "node", "ca.pem", "verify_peer",
                               "{fail_if_no_peer_cert,true}," VF, VF);
    cr_assert_eq(c_new(&c, "vf", conf, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(enode_start_thread(c), 0);

    /* as client, then as server: the chain, CA first, with State */
    cr_assert_eq(enode_connect(c, h_node_name(otp)), 0, "%s",
                 enode_last_error(c));
    saw_the_chain(&s, 0);
    apart(otp, c);
    forget(&s, -1);
    cr_assert(
        h_eval_expectf(otp, "pong", "net_adm:ping('%s').", enode_name(c)));
    saw_the_chain(&s, 1);
    apart(otp, c);

    /* refused at the peer's certificate, as client */
    forget(&s, 0);
    cr_assert_neq(enode_connect(c, h_node_name(otp)), 0);
    cr_assert(strstr(enode_last_error(c),
                     "TLS client: verify_fun test_vf:check/3 refused the "
                     "peer's certificate"),
              "%s", enode_last_error(c));
    cr_assert(strstr(enode_last_error(c), "depth 0 is not welcome"), "%s",
              enode_last_error(c));

    /* refused at the intermediate CA, as server: only one call */
    forget(&s, 1);
    cr_assert(
        h_eval_expectf(otp, "pang", "net_adm:ping('%s').", enode_name(c)));
    cr_assert(logged(&log_of_c,
                     "TLS server: verify_fun test_vf:check/3 refused the "
                     "peer's CA certificate (subject /CN=enode test sub CA",
                     5000),
              "%s", log_of_c.text);
    cr_assert_eq(s.calls, 1);

    /* and accepted again */
    forget(&s, -1);
    cr_assert_eq(enode_connect(c, h_node_name(otp)), 0, "%s",
                 enode_last_error(c));
    enode_free(c);
}

/* wolfSSL keeps no certificate over MAX_X509_SIZE (2 KiB) in a session's
 * chain (SESSION_CERTS): read from there, the chain would lack the peer's
 * own and start at the sub CA. */
Test(verify_fun, a_certificate_over_2_kib_is_seen_whole, .init = up,
     .fini = down, .timeout = 180)
{
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .refuse_depth = -1};
    char err[512];
    enode_t *c;
    h_node_t *otp = otp_presenting("big");
    const char *conf = optfile("c_big", "node", "ca.pem", "verify_peer",
                               "{fail_if_no_peer_cert,true}," VF, VF);
    cr_assert_eq(c_new(&c, "vfbig", conf, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(enode_start_thread(c), 0);

    for (int we_are_server = 0; we_are_server < 2; we_are_server++) {
        if (we_are_server)
            cr_assert(h_eval_expectf(otp, "pong", "net_adm:ping('%s').",
                                     enode_name(c)));
        else
            cr_assert_eq(enode_connect(c, h_node_name(otp)), 0, "%s",
                         enode_last_error(c));
        saw_the_chain(&s, we_are_server);
        cr_assert_gt(s.der_lens[1], 3072, "the peer's certificate: %zu bytes",
                     s.der_lens[1]);
        apart(otp, c);
        forget(&s, -1);
    }
    enode_free(c);
}

Test(verify_fun, the_built_in_verify_client_on_the_server_side, .init = up,
     .fini = down, .timeout = 120)
{
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .refuse_depth = -1};
    char err[512];
    enode_t *c;
    h_node_t *otp = otp_with_chain();
    const char *conf =
        optfile("c_vc", "node", "ca.pem", "verify_peer",
                "{fail_if_no_peer_cert,true},"
                "{verify_fun,{fun inet_tls_dist:verify_client/3,[]}},",
                "");
    cr_assert_eq(c_new(&c, "vc", conf, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(enode_start_thread(c), 0);
    cr_assert(
        h_eval_expectf(otp, "pong", "net_adm:ping('%s').", enode_name(c)));
    cr_assert_eq(s.calls, 0);
    enode_free(c);

    conf = optfile("c_vc2", "node", "ca.pem", "verify_peer", "",
                   "{verify_fun,{fun inet_tls_dist:verify_client/3,[]}},");
    cr_assert_eq(c_new(&c, "vc2", conf, &s, err, sizeof err), ENODE_EINVAL);
    cr_assert(strstr(err, "client option verify_fun") &&
                  strstr(err, "give it for the server side"),
              "%s", err);
}

Test(verify_fun, start_up_errors, .init = up, .fini = down, .timeout = 60)
{
    seen_t s = {.mu = PTHREAD_MUTEX_INITIALIZER, .refuse_depth = -1};
    char err[512];
    enode_t *c;
    const char *conf = optfile("c_nope", "node", "ca.pem", "verify_peer", "",
                               "{verify_fun,{fun test_vf:nope/3,[]}},");
    cr_assert_eq(c_new(&c, "nope", conf, &s, err, sizeof err), ENODE_EINVAL);
    cr_assert(strstr(err, "client option verify_fun: no C function is "
                          "registered as test_vf:nope/3") &&
                  strstr(err, "enode_config_add_verify_fun"),
              "%s", err);

    conf = optfile("c_none", "node", "ca.pem", "verify_none", "", VF);
    cr_assert_eq(c_new(&c, "none", conf, &s, err, sizeof err), ENODE_ETLS);
    cr_assert(strstr(err, "verify_fun needs verify_peer"), "%s", err);
}
