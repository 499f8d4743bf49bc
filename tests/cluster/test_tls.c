/* test_tls.c - TLS against real OTP nodes: every refusal, in both roles,
 * says which side refused, which peer and why, and a good peer connects
 * right after; CRLs (crl_check with a hashed crl_cache directory, and
 * fetched over HTTP from a server the tests start); the
 * application's verify callback and the pinning example; the interop
 * matrix (TLS 1.2 and 1.3, ECDSA and RSA, AES-GCM and ChaCha20-Poly1305,
 * an encrypted key); RSA-2048, RSA-4096, P-256 and P-384 certificates in
 * every pairing, under an RSA CA and under an ECDSA CA. Certificates come
 * from mkcerts.sh and badcerts.sh. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cnode.h"
#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;
static char pki[256], other[256];
static const char *cafile = "ca.pem"; /* the cacertfile of optfile_for */

static void up(void)
{
    char cmd[2048], host[256] = "";
    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    snprintf(pki, sizeof pki, "%s", h_cluster_pki_dir(cluster));
    snprintf(other, sizeof other, "%s/other", h_cluster_dir(cluster));
    cr_assert_eq(h_pki_make(other), 0, "a second CA");
    gethostname(host, sizeof host - 1);
    snprintf(cmd, sizeof cmd, "sh '%s/badcerts.sh' '%s' '%s'", h_srcdir(), pki,
             host);
    cr_assert_eq(system(cmd), 0, "badcerts.sh failed");
}

static void down(void)
{
    h_cluster_stop(cluster);
}

/* ---- optfiles ------------------------------------------------------------ */

/* A file name in the PKI directory unless it is a path already. */
static const char *in_pki(const char *name, char *buf, size_t len)
{
    if (name[0] == '/')
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "%s/%s", pki, name);
    return buf;
}

/* An optfile like the harness's: both sides present <cert>.pem with
 * <cert>.key (cert NULL: the client side has none), verify_peer against
 * ca.pem, the server insists on a client certificate; `extra` (may be
 * "") is added to both sides' options, e.g. "{versions,['tlsv1.3']},". */
static const char *optfile_for(const char *tag, const char *server_cert,
                               const char *client_cert, const char *extra)
{
    static char paths[8][700];
    static int next;
    char *path = paths[next++ % 8];
    char c[700], k[700], ca[700], certname[128];
    snprintf(path, 700, "%s/%s.conf", h_cluster_dir(cluster), tag);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "[");
    for (int side = 0; side < 2; side++) {
        const char *cert = side == 0 ? server_cert : client_cert;
        fprintf(f, "{%s,[", side == 0 ? "server" : "client");
        if (cert) {
            snprintf(certname, sizeof certname, "%s.pem", cert);
            fprintf(f, "{certfile,\"%s\"},", in_pki(certname, c, sizeof c));
            snprintf(certname, sizeof certname, "%s.key", cert);
            fprintf(f, "{keyfile,\"%s\"},", in_pki(certname, k, sizeof k));
        }
        fprintf(f, "{cacertfile,\"%s\"},{verify,verify_peer},%s%s"
                "{depth,4}]}%s\n",
                in_pki(cafile, ca, sizeof ca),
                side == 0 ? "{fail_if_no_peer_cert,true}," : "", extra,
                side == 0 ? "," : "].");
    }
    fclose(f);
    return path;
}

/* ---- C nodes in this process, with their log captured --------------------- */

typedef struct capture {
    pthread_mutex_t mu;
    size_t len;
    char text[65536];
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

/* Whether the log has said `needle` within timeout_ms. */
static bool logged(capture_t *c, const char *needle, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        pthread_mutex_lock(&c->mu);
        bool found = strstr(c->text, needle) != NULL;
        pthread_mutex_unlock(&c->mu);
        if (found)
            return true;
        if (waited >= timeout_ms)
            return false;
        usleep(50000);
    }
}

typedef struct cnode {
    enode_t *node;
    capture_t log;
} cnode_t;

static cnode_t *c_node_h(const char *name, const char *optfile,
                         enode_verify_fn verify, void *verify_user,
                         int hidden)
{
    cnode_t *c = calloc(1, sizeof *c);
    char err[512];
    cr_assert_not_null(c);
    pthread_mutex_init(&c->log.mu, NULL);
    enode_config_t *cfg = h_enode_config(cluster, name);
    cr_assert_not_null(cfg);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(cfg, optfile), 0);
    cr_assert_eq(enode_config_set_setup_time_ms(cfg, 4000), 0);
    cr_assert_eq(enode_config_set_log(cfg, capture_log, &c->log,
                                      ENODE_LOG_WARNING), 0);
    cr_assert_eq(enode_config_set_verify(cfg, verify, verify_user), 0);
    cr_assert_eq(enode_config_set_hidden(cfg, hidden), 0);
    int rc = enode_new(&c->node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(rc, 0, "%s: %s", name, err);
    cr_assert_eq(enode_start_thread(c->node), 0);
    return c;
}

static cnode_t *c_node_v(const char *name, const char *optfile,
                         enode_verify_fn verify, void *verify_user)
{
    return c_node_h(name, optfile, verify, verify_user, 0);
}

static cnode_t *c_node(const char *name, const char *optfile)
{
    return c_node_v(name, optfile, NULL, NULL);
}

static void c_free(cnode_t *c)
{
    enode_free(c->node);
    pthread_mutex_destroy(&c->log.mu);
    free(c);
}

static h_node_t *otp_launch(const char *prefix, const char *optfile)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.optfile = optfile;
    h_node_t *n = h_node_launch(cluster, prefix, &o);
    cr_assert_not_null(n);
    return n;
}

static void otp_ready(h_node_t *n)
{
    cr_assert_eq(h_node_wait_ready(n, 30000), 0, "%s did not start",
                 h_node_name(n));
}

/* The C node dials otp and is refused with `why` in its error and log
 * (NULL: skip this direction). */
static void refused_as_client(cnode_t *c, h_node_t *otp, const char *why)
{
    char who[400];
    if (!why)
        return;
    cr_assert_neq(enode_connect(c->node, h_node_name(otp)), 0,
                  "%s connected to %s", enode_name(c->node), h_node_name(otp));
    cr_assert(strstr(enode_last_error(c->node), why), "expected \"%s\" in: %s",
              why, enode_last_error(c->node));
    /* which peer: the log line names it */
    snprintf(who, sizeof who, "connection to %s failed", h_node_name(otp));
    cr_assert(logged(&c->log, who, 2000), "%s", c->log.text);
    cr_assert(strstr(c->log.text, "TLS client: "), "%s", c->log.text);
}

/* otp dials the C node and is refused: pang, and `why` in the C node's
 * log with the peer's address (NULL: skip). */
static void refused_as_server(cnode_t *c, h_node_t *otp, const char *why)
{
    if (!why)
        return;
    char needle[300];
    /* which peer (its address), which side (we are the server), why */
    snprintf(needle, sizeof needle, "TLS server: %s", why);
    if (strncmp(why, "TLS server: ", 12) == 0)
        snprintf(needle, sizeof needle, "%s", why);
    /* An OTP client that refuses us sends its alert and closes at once.
     * If it closes with our last handshake record still unread, its
     * kernel resets the connection and the alert can be lost before we
     * read it: we then see only a close. That is the network, not enode,
     * so such an attempt is tried again; the alert must show within
     * three. */
    for (int attempt = 0;; attempt++) {
        cr_assert(h_eval_expectf(otp, "pang", "net_adm:ping('%s').",
                                 enode_name(c->node)));
        bool seen = logged(&c->log, needle, 5000);
        if (seen || attempt == 2 ||
            !strstr(c->log.text, "the peer closed the connection during the "
                                 "TLS handshake"))
            break;
    }
    cr_assert(logged(&c->log, needle, 0), "expected \"%s\" in: %s", needle,
              c->log.text);
    cr_assert(strstr(c->log.text, "connection from 127.0.0.1:"), "%s",
              c->log.text);
}

/* Wait until otp and c have both forgotten their connection, so that the
 * next one starts afresh.  nodes() drops c before net_kernel has handled
 * the lost connection: a ping in between can get pang without trying to
 * connect, so wait for net_kernel too.  And the C node's loop may not
 * have seen a close by otp yet, when enode_connect() would find the old
 * connection up.  Rarely (about 1 run in 30 under load) the connection
 * comes back at once, a message of a global exchange still under way
 * dialling again; then otp disconnects it once more, twice at most. */
static void forgotten(h_node_t *otp, cnode_t *c)
{
    const char *name = enode_name(c->node);
    char expr[300], gone[300], again[300];
    snprintf(expr, sizeof expr, "lists:member('%s', nodes()).", name);
    snprintf(gone, sizeof gone, "element(1, net_kernel:node_info('%s')).",
             name);
    snprintf(again, sizeof again, "erlang:disconnect_node('%s').", name);
    bool done = false;
    for (int attempt = 0; attempt < 3 && !done; attempt++) {
        if (attempt > 0)
            h_evalf(otp, NULL, 0, 0, "%s", again);
        cr_assert(h_wait_until(otp, expr, "false", 10000));
        done = h_wait_until(otp, gone, "error", 10000);
    }
    if (!done) {
        char info[1024] = "";
        h_evalf(otp, info, sizeof info, 0,
                "{nodes(), net_kernel:node_info('%s')}.", name);
        cr_assert_fail("%s still knows %s: %s; its log:\n%s",
                       h_node_name(otp), name, info, c->log.text);
    }
    for (int i = 0; i < 200 && enode_is_connected(c->node, h_node_name(otp));
         i++)
        usleep(50000);
    cr_assert(!enode_is_connected(c->node, h_node_name(otp)));
}

/* Close the connection between otp and C node c from c's side (or, with
 * by_otp, from otp's) and wait until both have forgotten it.  First let
 * global finish the session it starts on each nodeup: a cast of it still
 * on its way would connect the two again, as between OTP nodes. */
static void apart(h_node_t *otp, cnode_t *c, bool by_otp)
{
    cr_assert(h_eval_expect(otp, "global:sync().", "ok"));
    if (by_otp)
        cr_assert(h_eval_expectf(otp, "true", "erlang:disconnect_node('%s').",
                                 enode_name(c->node)));
    else
        cr_assert_eq(enode_disconnect(c->node, h_node_name(otp)), 0);
    forgotten(otp, c);
}

/* otp pings c: pong, or both sides' logs say why not.  Once (OTP 27,
 * under load) a ping got pang with nothing logged by either side; the
 * cause is not known (perhaps traffic the last connection left behind).
 * So a first pang is reported on stderr, to be found in CI logs, and
 * tried once more; a second one fails the test. */
static void otp_pings(h_node_t *otp, cnode_t *c)
{
    const char *name = enode_name(c->node);
    char info[512] = "";
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h_eval_expectf(otp, "pong", "net_adm:ping('%s').", name))
            return;
        h_evalf(otp, info, sizeof info, 0,
                "{nodes(), net_kernel:node_info('%s')}.", name);
        if (attempt == 0) {
            fprintf(stderr, "h: %s got pang from %s (then: %s), once more\n",
                    h_node_name(otp), name, info);
            usleep(500000);
        }
    }
    h_node_print_log_tail(otp, 40);
    cr_assert_fail("%s could not reach %s twice (then: %s); its log:\n%s",
                   h_node_name(otp), name, info, c->log.text);
}

/* Both roles work between the C node and otp. */
static void connects_both_ways(cnode_t *c, h_node_t *otp)
{
    cr_assert_eq(enode_connect(c->node, h_node_name(otp)), 0, "%s",
                 enode_last_error(c->node));
    apart(otp, c, false);
    otp_pings(otp, c);
}

/* One kind of failure. A C node with bad_conf meets an OTP node with
 * otp_bad_conf (NULL: the cluster's optfile): bad_client / bad_server are
 * what the C node says as TLS client / server. A C node with good_conf
 * (NULL: the cluster's) meets an OTP node with otp_good_conf (NULL: skip)
 * and says good_client / good_server. Then a good OTP node connects to
 * the good C node, both ways. */
struct failure {
    const char *tag;
    const char *bad_conf, *otp_bad_conf, *bad_client, *bad_server;
    const char *good_conf, *otp_good_conf, *good_client, *good_server;
};

static void failure_case(const struct failure *f)
{
    char name[64];
    const char *std = h_cluster_optfile(cluster);
    h_node_t *g = otp_launch("good", std);
    h_node_t *ob = f->otp_bad_conf ? otp_launch("obad", f->otp_bad_conf) : g;
    h_node_t *og = f->otp_good_conf ? otp_launch("ogood", f->otp_good_conf)
                                    : NULL;
    snprintf(name, sizeof name, "%s_bad", f->tag);
    cnode_t *bad = c_node(name, f->bad_conf);
    snprintf(name, sizeof name, "%s_good", f->tag);
    cnode_t *good = c_node(name, f->good_conf ? f->good_conf : std);
    otp_ready(g);
    if (ob != g)
        otp_ready(ob);
    if (og)
        otp_ready(og);

    refused_as_client(bad, ob, f->bad_client);
    refused_as_server(bad, ob, f->bad_server);
    if (og) {
        refused_as_client(good, og, f->good_client);
        refused_as_server(good, og, f->good_server);
    }
    connects_both_ways(good, g);
    c_free(bad);
    c_free(good);
}

#define OTHER(x) x

Test(tls, unknown_ca_both_roles, .init = up, .fini = down, .timeout = 120)
{
    char cert[700];
    snprintf(cert, sizeof cert, "%s/node", other);
    const char *rogue = optfile_for("rogue", cert, cert, "");
    struct failure f = {
        "unknownca",
        rogue, NULL,
        "the server refused the handshake with alert unknown_ca",
        "the client refused the handshake with alert unknown_ca",
        NULL, rogue,
        "we refused the peer's certificate: unknown CA",
        "we refused the peer's certificate: unknown CA"};
    failure_case(&f);
}

Test(tls, expired_certificate_both_roles, .init = up, .fini = down,
     .timeout = 120)
{
    const char *conf = optfile_for("expired", "expired", "expired", "");
    struct failure f = {
        "expired",
        conf, NULL,
        "alert certificate_expired",
        "the client refused the handshake with alert certificate_expired",
        NULL, conf,
        "we refused the peer's certificate: it has expired",
        "we refused the peer's certificate: it has expired"};
    failure_case(&f);
}

Test(tls, not_yet_valid_certificate_both_roles, .init = up, .fini = down,
     .timeout = 120)
{
    const char *conf = optfile_for("future", "future", "future", "");
    struct failure f = {
        "future",
        conf, NULL,
        "alert certificate_expired",
        "the client refused the handshake with alert certificate_expired",
        NULL, conf,
        "we refused the peer's certificate: it is not yet valid",
        "we refused the peer's certificate: it is not yet valid"};
    failure_case(&f);
}

/* Only a client checks the host name: the C node as server with a wrong
 * certificate is refused by OTP, and as client it refuses OTP's. */
Test(tls, host_name_mismatch_both_roles, .init = up, .fini = down,
     .timeout = 120)
{
    const char *conf = optfile_for("wronghost", "wronghost", "node", "");
    struct failure f = {
        "wronghost",
        conf, NULL,
        NULL, "the client refused the handshake with alert",
        NULL, conf,
        "we refused the peer's certificate: host name mismatch", NULL};
    failure_case(&f);
}

Test(tls, no_client_certificate_both_roles, .init = up, .fini = down,
     .timeout = 120)
{
    const char *conf = optfile_for("nocert", "node", NULL, "");
    struct failure f = {
        "nocert",
        conf, NULL,
        "no client certificate", NULL,
        NULL, conf,
        NULL, "we refused the peer: no client certificate"};
    failure_case(&f);
}

Test(tls, no_shared_version_both_roles, .init = up, .fini = down,
     .timeout = 120)
{
    const char *conf = optfile_for("v13", "node", "node",
                                   "{versions,['tlsv1.3']},");
    /* explicit: OTP 29 speaks 1.3 too when options lack versions */
    const char *v12 = optfile_for("v12", "node", "node",
                                  "{versions,['tlsv1.2']},");
    struct failure f = {
        "noversion",
        conf, v12,
        "no shared TLS version", "no shared TLS version",
        NULL, NULL, NULL, NULL};
    failure_case(&f);
}

Test(tls, no_shared_cipher_both_roles, .init = up, .fini = down,
     .timeout = 120)
{
    const char *chacha = optfile_for(
        "chacha", "node", "node",
        "{ciphers,\"ECDHE-ECDSA-CHACHA20-POLY1305\"},");
    const char *aes = optfile_for(
        "aes", "node", "node", "{ciphers,\"ECDHE-ECDSA-AES256-GCM-SHA384\"},");
    struct failure f = {
        "nocipher",
        chacha, aes,
        "no shared", "no shared cipher suite",
        NULL, NULL, NULL, NULL};
    failure_case(&f);
}

Test(tls, revoked_certificate_through_a_crl_directory, .init = up,
     .fini = down, .timeout = 120)
{
    char extra[900];
    snprintf(extra, sizeof extra,
             "{crl_check,true},{crl_cache,{ssl_crl_hash_dir,{internal,"
             "[{dir,\"%s/crl\"}]}}},", pki);
    /* The OTP node and the good C node read the same optfile. */
    const char *checking = optfile_for("crl", "node", "node", extra);
    const char *revoked = optfile_for("revoked", "revoked", "revoked", "");
    struct failure f = {
        "revoked",
        revoked, checking,
        "alert certificate_revoked",
        "the client refused the handshake with alert certificate_revoked",
        checking, revoked,
        "we refused the peer's certificate: it is revoked",
        "we refused the peer's certificate: it is revoked"};
    failure_case(&f);
}

Test(tls, wrong_key_password_at_start_up, .init = up, .fini = down,
     .timeout = 30)
{
    char extra[64], err[512];
    enode_t *n;
    snprintf(extra, sizeof extra, "{password,\"wrong\"},");
    const char *conf = optfile_for("badpass", "enc", "enc", extra);
    enode_config_t *cfg = h_enode_config(cluster, "badpass");
    cr_assert_not_null(cfg);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(cfg, conf), 0);
    int rc = enode_new(&n, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(rc, ENODE_ETLS);
    cr_assert(strstr(err, "wrong password") || strstr(err, "password is wrong"),
              "%s", err);
    cr_assert(strstr(err, "enc.key"), "%s", err);
}

/* ---- the verify callback and the pinning example ------------------------- */

struct seen {
    pthread_mutex_t mu;
    int calls, refuse;
    enode_peer_cert_t last;
    char sha256[65], subject[256], peer_node[256];
};

static int record_cert(void *user, const enode_peer_cert_t *cert, char *why,
                       size_t whylen)
{
    struct seen *s = user;
    pthread_mutex_lock(&s->mu);
    s->calls++;
    s->last = *cert;
    snprintf(s->sha256, sizeof s->sha256, "%s", cert->sha256);
    snprintf(s->subject, sizeof s->subject, "%s", cert->subject);
    snprintf(s->peer_node, sizeof s->peer_node, "%s",
             cert->peer_node ? cert->peer_node : "");
    int refuse = s->refuse;
    pthread_mutex_unlock(&s->mu);
    if (refuse)
        snprintf(why, whylen, "not on the list");
    return refuse;
}

/* SHA-256 fingerprint of a PEM certificate, as 64 lowercase hex digits. */
static void fingerprint(const char *pem, char out[65])
{
    char cmd[1024], line[256];
    snprintf(cmd, sizeof cmd,
             "openssl x509 -in '%s' -noout -fingerprint -sha256", pem);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(line, sizeof line, p));
    pclose(p);
    int n = 0;
    for (const char *s = strchr(line, '=') + 1; *s && n < 64; s++)
        if (*s != ':' && *s != '\n')
            out[n++] = (char)(*s >= 'A' && *s <= 'F' ? *s - 'A' + 'a' : *s);
    out[n] = '\0';
}

Test(tls, verify_callback_sees_the_peer_and_decides, .init = up,
     .fini = down, .timeout = 120)
{
    struct seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char fp[65], path[700];
    h_node_t *otp = otp_launch("peer", h_cluster_optfile(cluster));
    cnode_t *c = c_node_v("verifier", h_cluster_optfile(cluster), record_cert,
                          &s);
    otp_ready(otp);
    fingerprint(in_pki("node.pem", path, sizeof path), fp);

    /* As client: accepted, and the callback saw the server's certificate. */
    cr_assert_eq(enode_connect(c->node, h_node_name(otp)), 0, "%s",
                 enode_last_error(c->node));
    cr_assert_eq(s.calls, 1);
    cr_assert_str_eq(s.sha256, fp);
    cr_assert(s.last.present && s.last.preverify && !s.last.we_are_server);
    cr_assert_str_eq(s.peer_node, h_node_name(otp));
    cr_assert(strstr(s.subject, "CN="), "%s", s.subject);
    apart(otp, c, false);

    /* Refused in both roles, with the callback's reason. */
    s.refuse = 1;
    cr_assert_neq(enode_connect(c->node, h_node_name(otp)), 0);
    cr_assert(strstr(enode_last_error(c->node), "verify callback refused"),
              "%s", enode_last_error(c->node));
    cr_assert(strstr(enode_last_error(c->node), "not on the list"), "%s",
              enode_last_error(c->node));
    cr_assert(h_eval_expectf(otp, "pang", "net_adm:ping('%s').",
                             enode_name(c->node)));
    cr_assert(logged(&c->log, "TLS server: the application's verify "
                              "callback refused", 5000), "%s", c->log.text);
    cr_assert(s.last.we_are_server && s.last.present);
    cr_assert_str_eq(s.peer_node, "");
    s.refuse = 0;
    otp_pings(otp, c);
    c_free(c);
}

static h_cnode_t *start_pin(const char *name, const char *pin,
                            const char *const *extra)
{
    char prog[1024];
    const char *argv[32];
    int i = 0;
    argv[i++] = h_build_path("examples/pinning/enode-pin", prog, sizeof prog);
    argv[i++] = "-sname";
    argv[i++] = name;
    argv[i++] = "-setcookie";
    argv[i++] = h_cluster_cookie(cluster);
    argv[i++] = "-proto_dist";
    argv[i++] = "inet_tls";
    argv[i++] = "-ssl_dist_optfile";
    argv[i++] = h_cluster_optfile(cluster);
    argv[i++] = "-pin";
    argv[i++] = pin;
    argv[i++] = "-v";
    for (; extra && *extra && i < 30; extra++)
        argv[i++] = *extra;
    argv[i] = NULL;
    h_cnode_t *n = h_cnode_start(cluster, argv, 15000);
    cr_assert_not_null(n, "enode-pin %s did not come up", name);
    return n;
}

static bool file_contains(const char *path, const char *needle)
{
    char text[65536];
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

Test(tls, pinning_example_accepts_the_pinned_peer_only, .init = up,
     .fini = down, .timeout = 120)
{
    char fp[65], path[700];
    /* Two OTP nodes with certificates from the same CA: node.pem and
     * second.pem. Only node.pem is pinned. */
    h_node_t *pinned = otp_launch("pinned", h_cluster_optfile(cluster));
    h_node_t *stranger = otp_launch(
        "stranger", optfile_for("second", "second", "second", ""));
    fingerprint(in_pki("node.pem", path, sizeof path), fp);
    otp_ready(pinned);
    otp_ready(stranger);
    h_cnode_t *p = start_pin("pin", fp, NULL);
    const char *pn = h_cnode_name(p);

    cr_assert(h_eval_expectf(pinned, "pong", "net_adm:ping('%s').", pn));
    cr_assert(h_eval_expectf(pinned, "hello",
                             "{echo, '%s'} ! {self(), hello}, receive R -> R "
                             "after 5000 -> timeout end.", pn));
    cr_assert(h_eval_expectf(stranger, "pang", "net_adm:ping('%s').", pn));
    for (int i = 0; i < 50 && !file_contains(h_cnode_log(p), "is not pinned");
         i++)
        usleep(100000);
    cr_assert(file_contains(h_cnode_log(p), "is not pinned"));
    h_cnode_stop(p);

    /* As the client too: it refuses to stay connected to the stranger. */
    const char *extra[] = {"-connect", h_node_name(pinned), NULL};
    p = start_pin("pin2", fp, extra);
    char seen[256];
    /* OTP registers the node just after enode-pin's side is up */
    snprintf(seen, sizeof seen, "lists:member('%s', nodes()).",
             h_cnode_name(p));
    cr_assert(h_wait_until(pinned, seen, "true", 5000));
    h_cnode_stop(p);
    const char *extra2[] = {"-connect", h_node_name(stranger), NULL};
    char prog[1024];
    const char *argv[] = {
        h_build_path("examples/pinning/enode-pin", prog, sizeof prog),
        "-sname", "pin3", "-setcookie", h_cluster_cookie(cluster),
        "-ssl_dist_optfile", h_cluster_optfile(cluster), "-pin", fp,
        extra2[0], extra2[1], NULL};
    p = h_cnode_start(cluster, argv, 3000);
    cr_assert_null(p, "enode-pin connected to an unpinned peer");
}

/* ---- the interop matrix ---------------------------------------------------- */

/* Two OTP nodes, each allowing one suite of the pair, started together;
 * one C node (allowing both when c_ciphers is given) connects to each in
 * both roles and negotiates that suite at `version`. */
static void matrix(const char *tag, const char *cert, const char *version,
                   const char *c_ciphers, const char *const suites[2],
                   const char *const expect[2], const char *extra)
{
    char conf_extra[600], name[64];
    h_node_t *otp[2];
    cafile = "cas.pem";
    for (int i = 0; i < 2; i++) {
        if (suites[i])
            snprintf(conf_extra, sizeof conf_extra,
                     "{versions,['%s']},{ciphers,\"%s\"},%s", version,
                     suites[i], extra);
        else
            snprintf(conf_extra, sizeof conf_extra, "{versions,['%s']},%s",
                     version, extra);
        snprintf(name, sizeof name, "%s_o%d", tag, i);
        otp[i] = otp_launch(name, optfile_for(name, cert, cert, conf_extra));
    }
    snprintf(conf_extra, sizeof conf_extra, "{versions,['%s']},%s%s%s%s",
             version, c_ciphers ? "{ciphers,\"" : "",
             c_ciphers ? c_ciphers : "", c_ciphers ? "\"}," : "", extra);
    cnode_t *c = c_node(tag, optfile_for(tag, cert, cert, conf_extra));
    for (int i = 0; i < 2; i++) {
        char want[200];
        otp_ready(otp[i]);
        /* expect NULL: any suite, at that version */
        const char *info = expect[i] ? "harness_agent:dist_tls_info('%s')."
                                     : "element(1, harness_agent:"
                                       "dist_tls_info('%s')).";
        if (expect[i])
            snprintf(want, sizeof want, "{'%s',%s}", version, expect[i]);
        else
            snprintf(want, sizeof want, "'%s'", version);
        /* C node as client */
        cr_assert_eq(enode_connect(c->node, h_node_name(otp[i])), 0, "%s %s",
                     tag, enode_last_error(c->node));
        /* OTP registers the node just after our side is up. */
        char seen[256];
        snprintf(seen, sizeof seen, "lists:member('%s', nodes()).",
                 enode_name(c->node));
        cr_assert(h_wait_until(otp[i], seen, "true", 5000));
        cr_assert(h_eval_expectf(otp[i], want, info, enode_name(c->node)));
        apart(otp[i], c, false);
        /* C node as server */
        otp_pings(otp[i], c);
        cr_assert(h_eval_expectf(otp[i], want, info, enode_name(c->node)));
    }
    c_free(c);
}

Test(tls, matrix_tls12_ecdsa, .init = up, .fini = down, .timeout = 120)
{
    const char *s[2] = {"ECDHE-ECDSA-AES256-GCM-SHA384",
                        "ECDHE-ECDSA-CHACHA20-POLY1305"};
    const char *e[2] = {"'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'",
                        "'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'"};
    matrix("m12ec", "node", "tlsv1.2",
           "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305", s, e,
           "");
}

Test(tls, matrix_tls12_rsa, .init = up, .fini = down, .timeout = 120)
{
    const char *s[2] = {"ECDHE-RSA-AES128-GCM-SHA256",
                        "ECDHE-RSA-CHACHA20-POLY1305"};
    const char *e[2] = {"'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'",
                        "'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'"};
    matrix("m12rsa", "rsa", "tlsv1.2",
           "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305", s, e, "");
}

/* TLS 1.3: the OTP nodes restrict the suites; the C node offers all. */
Test(tls, matrix_tls13_ecdsa_encrypted_key, .init = up, .fini = down,
     .timeout = 120)
{
    const char *s[2] = {"TLS_AES_128_GCM_SHA256",
                        "TLS_CHACHA20_POLY1305_SHA256"};
    const char *e[2] = {"'TLS_AES_128_GCM_SHA256'",
                        "'TLS_CHACHA20_POLY1305_SHA256'"};
    matrix("m13ec", "enc", "tlsv1.3", NULL, s, e, "{password,\"secret\"},");
}

Test(tls, matrix_tls13_rsa, .init = up, .fini = down, .timeout = 120)
{
    const char *s[2] = {"TLS_AES_256_GCM_SHA384",
                        "TLS_CHACHA20_POLY1305_SHA256"};
    const char *e[2] = {"'TLS_AES_256_GCM_SHA384'",
                        "'TLS_CHACHA20_POLY1305_SHA256'"};
    matrix("m13rsa", "rsa", "tlsv1.3",
           "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256", s, e, "");
}

/* ---- crl_check true, peer and best_effort, as OTP decides them ------------ */

static const char *const crl_modes[3] = {"true", "peer", "best_effort"};

/* The crl_cache term of the CRLs over HTTP tests; "": pki/<dir>. */
static char crl_cache_http[600];

/* Options checking the CRLs of pki/<dir> with crl_check `mode`. */
static const char *crl_extra(const char *mode, const char *dir, char *buf,
                             size_t len)
{
    if (crl_cache_http[0]) {
        snprintf(buf, len, "{crl_check,%s},{crl_cache,%s},", mode,
                 crl_cache_http);
        return buf;
    }
    snprintf(buf, len,
             "{crl_check,%s},{crl_cache,{ssl_crl_hash_dir,{internal,"
             "[{dir,\"%s/%s\"}]}}},",
             mode, pki, dir);
    return buf;
}

/* C node c dials otp: it connects (why NULL), or refuses with why. */
static void c_dials(cnode_t *c, h_node_t *otp, const char *why)
{
    if (why) {
        refused_as_client(c, otp, why);
        return;
    }
    cr_assert_eq(enode_connect(c->node, h_node_name(otp)), 0, "%s: %s",
                 enode_name(c->node), enode_last_error(c->node));
    apart(otp, c, false);
}

/* otp dials C node c: pong (why NULL), or c refuses with why. */
static void otp_dials(cnode_t *c, h_node_t *otp, const char *why)
{
    if (why) {
        refused_as_server(c, otp, why);
        return;
    }
    otp_pings(otp, c);
    apart(otp, c, true);
}

/* OTP checks with the same options: it accepts (ok) or refuses the C
 * node that presents the certificate, in both roles. */
static void otp_decides(h_node_t *checker, cnode_t *presenter, bool ok,
                        const char *mode)
{
    const char *name = enode_name(presenter->node);
    cr_assert(h_eval_expectf(checker, ok ? "pong" : "pang",
                             "net_adm:ping('%s').", name),
              "OTP as client, crl_check %s", mode);
    if (ok)
        apart(checker, presenter, true);
    int r = enode_connect(presenter->node, h_node_name(checker));
    cr_assert_eq(r == 0, ok, "OTP as server, crl_check %s: %s", mode,
                 r ? enode_last_error(presenter->node) : "accepted");
    if (ok)
        apart(checker, presenter, false);
}

/* A peer presents `cert` (its cacertfile: pca, where OTP also finds the
 * intermediate CAs it sends); nodes that trust `ca` check its chain
 * against the CRLs of pki/<dir> under each crl_check mode.  why[mode]:
 * NULL if the C node accepts the peer, else its reason.  OTP nodes with
 * the same options must decide the same.  The C nodes are hidden: a
 * visible one would join the OTP nodes it meets into one global
 * partition, and their global would then heal each disconnection the
 * test makes behind its back. */
struct crl_case {
    const char *tag, *cert, *pca, *ca, *dir;
    const char *why[3];
    const char *warn; /* logged when best_effort lets the peer through */
};

static void crl_case(const struct crl_case *k)
{
    char name[64], extra[900];
    h_node_t *checker[3];
    cnode_t *c_checker[3];
    cafile = k->pca;
    snprintf(name, sizeof name, "%s_p", k->tag);
    h_node_t *presenter = otp_launch(name, optfile_for(name, k->cert, k->cert,
                                                       ""));
    snprintf(name, sizeof name, "%s_cp", k->tag);
    cnode_t *c_presenter = c_node_h(name, optfile_for(name, k->cert, k->cert,
                                                      ""), NULL, NULL, 1);
    cafile = k->ca;
    for (int m = 0; m < 3; m++) {
        snprintf(name, sizeof name, "%s_%d", k->tag, m);
        const char *conf = optfile_for(name, "node", "node",
                                       crl_extra(crl_modes[m], k->dir, extra,
                                                 sizeof extra));
        checker[m] = otp_launch(name, conf);
        c_checker[m] = c_node_h(name, conf, NULL, NULL, 1);
    }
    otp_ready(presenter);
    for (int m = 0; m < 3; m++) {
        otp_ready(checker[m]);
        c_dials(c_checker[m], presenter, k->why[m]);
        otp_dials(c_checker[m], presenter, k->why[m]);
        otp_decides(checker[m], c_presenter, k->why[m] == NULL, crl_modes[m]);
        if (k->warn && m == 2)
            cr_assert(logged(&c_checker[m]->log, k->warn, 0),
                      "expected \"%s\" in: %s", k->warn,
                      c_checker[m]->log.text);
        c_free(c_checker[m]);
    }
    c_free(c_presenter);
}

#define REVOKED "we refused the peer's certificate: it is revoked"
#define NO_CRL                                                               \
    "we refused the peer's certificate: crl_check is on and our crl_cache "  \
    "has no CRL for its issuer"

Test(tls, crl_check_revoked_leaf_refused_in_every_mode, .init = up,
     .fini = down, .timeout = 180)
{
    struct crl_case k = {"crlleaf", "revoked", "ca.pem", "ca.pem", "crl",
                         {REVOKED, REVOKED, REVOKED}, NULL};
    crl_case(&k);
}

Test(tls, crl_check_issuer_without_crl_passes_best_effort_only, .init = up,
     .fini = down, .timeout = 180)
{
    /* the second CA's certificate: that CA has no CRL in crl/; both.pem
     * trusts both CAs */
    char cert[700], cmd[1600];
    snprintf(cert, sizeof cert, "%s/node", other);
    snprintf(cmd, sizeof cmd, "cat '%s/ca.pem' '%s/ca.pem' > '%s/both.pem'",
             pki, other, pki);
    cr_assert_eq(system(cmd), 0);
    struct crl_case k = {"crlnone", cert, "both.pem", "both.pem", "crl",
                         {NO_CRL, NO_CRL, NULL}, NULL};
    crl_case(&k);
}

/* A chain: chain.pem (signed by subca, which the CA signed, and revoked
 * in crlint/).  peer checks the peer's certificate only. */
Test(tls, crl_check_revoked_intermediate_passes_peer_only, .init = up,
     .fini = down, .timeout = 180)
{
    struct crl_case k = {"crlint", "chain", "chaincas.pem", "ca.pem", "crlint",
                         {REVOKED, NULL, REVOKED}, NULL};
    crl_case(&k);
}

/* crlsub/ has subca's CRL but none of the CA, which issued subca. */
Test(tls, crl_check_intermediate_without_crl, .init = up, .fini = down,
     .timeout = 180)
{
    struct crl_case k = {"crlsub", "chain", "chaincas.pem", "ca.pem", "crlsub",
                         {NO_CRL, NULL, NULL}, NULL};
    crl_case(&k);
}

/* As OTP's ssl_crl_hash_dir reads the directory when it verifies, a CRL
 * put there, replaced or removed after the node started counts for the
 * next connection. */
Test(tls, crls_added_later_count_for_new_connections, .init = up,
     .fini = down, .timeout = 180)
{
    char dir[700], cmd[3000], extra[900], hashed[800];
    snprintf(dir, sizeof dir, "%s/reload", h_cluster_dir(cluster));
    snprintf(cmd, sizeof cmd, "mkdir '%s' && cp '%s'/crl/*.r0 '%s'/", dir,
             pki, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "ls '%s'", dir);
    FILE *p = popen(cmd, "r");
    char file[64] = "";
    cr_assert_not_null(fgets(file, sizeof file, p));
    pclose(p);
    file[strcspn(file, "\n")] = 0;
    snprintf(hashed, sizeof hashed, "%s/%s", dir, file);
    snprintf(extra, sizeof extra,
             "{crl_check,true},{crl_cache,{ssl_crl_hash_dir,{internal,"
             "[{dir,\"%s\"}]}}},", dir);
    h_node_t *otp = otp_launch("peer", optfile_for("second", "second",
                                                   "second", ""));
    cnode_t *c = c_node("reloader", optfile_for("reload", "node", "node",
                                                 extra));
    otp_ready(otp);
    c_dials(c, otp, NULL);
    otp_dials(c, otp, NULL);

    /* the CA's new CRL, revoking second.pem too, replaces the old */
    snprintf(cmd, sizeof cmd, "cp '%s/crl_second.pem' '%s.new' && "
             "mv '%s.new' '%s'", pki, hashed, hashed, hashed);
    cr_assert_eq(system(cmd), 0);
    c_dials(c, otp, REVOKED);
    otp_dials(c, otp, REVOKED);

    /* no CRL at all: crl_check true refuses */
    cr_assert_eq(unlink(hashed), 0);
    c_dials(c, otp, NO_CRL);

    /* and the old CRL back */
    snprintf(cmd, sizeof cmd, "cp '%s'/crl/*.r0 '%s'/", pki, dir);
    cr_assert_eq(system(cmd), 0);
    c_dials(c, otp, NULL);
    otp_dials(c, otp, NULL);
    c_free(c);
}

/* ---- crl_cache ssl_crl_cache: CRLs fetched over HTTP ----------------------- */

/* The test's CRL server (crlserver.py, killed by PID in down_http), which
 * answers /slow/ after SLOW_S seconds; a port where nothing listens; the
 * PKI of crlcerts.sh, whose certificates point at them; both.pem trusts
 * that CA and the cluster's. */
#define SLOW_S 3
static pid_t crl_server;
static int crl_port, dead_port;
static char http_pki[300], both_cas[400], crl_url[64], dead_url[64];

static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void start_crl_server(const char *dir)
{
    char script[600], slow[8], line[32] = "";
    int p[2];
    snprintf(script, sizeof script, "%s/crlserver.py", h_srcdir());
    snprintf(slow, sizeof slow, "%d", SLOW_S);
    cr_assert_eq(pipe(p), 0);
    crl_server = fork();
    cr_assert(crl_server >= 0);
    if (crl_server == 0) {
        /* it goes with the test, even one whose .init failed (no .fini) */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int null = open("/dev/null", O_WRONLY);
        dup2(p[1], 1);
        dup2(null, 2); /* the test's output must not wait for it */
        close(p[0]);
        close(p[1]);
        execlp("python3", "python3", script, dir, slow, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    cr_assert_not_null(fgets(line, sizeof line, f), "crlserver.py did not "
                       "start");
    fclose(f);
    crl_port = atoi(line);
    cr_assert(crl_port > 0);
}

/* What the OTP release under test does with crl_cache ssl_crl_cache:
 * "no inets" (it cannot fetch at all), "allowed_hosts" (OTP 29's
 * ssl_crl_cache, which fetches from 127.0.0.1 only when allowed_hosts
 * names it, and reads no other list than [{http, T}] before), or "". */
static const char *otp_crl_fetching(void)
{
    static char out[64];
    char cmd[800];
    snprintf(cmd, sizeof cmd,
             "'%s' -noshell -eval 'io:put_chars(case code:which(httpc) of "
             "non_existing -> \"no inets\"; _ -> {module, _} = "
             "code:ensure_loaded(ssl_crl_cache), case erlang:"
             "function_exported(ssl_crl_cache, is_allowed, 3) of true -> "
             "\"allowed_hosts\"; false -> \"\" end end), halt().'",
             h_erl());
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    if (!fgets(out, sizeof out, p))
        out[0] = '\0';
    pclose(p);
    return out;
}

/* The crl_cache term of OTP's guides for the release under test, Timeout
 * ms: with allowed_hosts naming the test's ports where OTP needs it. */
static void set_crl_cache_http(int timeout_ms)
{
    const char *fetching = otp_crl_fetching();
    if (strcmp(fetching, "allowed_hosts") == 0)
        snprintf(crl_cache_http, sizeof crl_cache_http,
                 "{ssl_crl_cache,{internal,[{http,%d},{allowed_hosts,"
                 "[\"127.0.0.1:%d\",\"127.0.0.1:%d\"]}]}}",
                 timeout_ms, crl_port, dead_port);
    else
        snprintf(crl_cache_http, sizeof crl_cache_http,
                 "{ssl_crl_cache,{internal,[{http,%d}]}}", timeout_ms);
}

static void up_http(void)
{
    char cmd[2000], host[256] = "";
    /* before anything is started that a failed .init would leave behind */
    cr_assert(strcmp(otp_crl_fetching(), "no inets") != 0,
              "%s has no inets (httpc), so OTP cannot fetch CRLs: install "
              "erlang-inets, or run ./dev otp N again", h_erl());
    up();
    snprintf(http_pki, sizeof http_pki, "%s/http", h_cluster_dir(cluster));
    cr_assert_eq(mkdir(http_pki, 0755), 0);
    start_crl_server(http_pki);
    dead_port = closed_port();
    snprintf(crl_url, sizeof crl_url, "http://127.0.0.1:%d", crl_port);
    snprintf(dead_url, sizeof dead_url, "http://127.0.0.1:%d", dead_port);
    gethostname(host, sizeof host - 1);
    snprintf(cmd, sizeof cmd, "sh '%s/crlcerts.sh' '%s' '%s' '%s' '%s'",
             h_srcdir(), http_pki, host, crl_url, dead_url);
    cr_assert_eq(system(cmd), 0, "crlcerts.sh failed");
    snprintf(both_cas, sizeof both_cas, "%s/both.pem", http_pki);
    snprintf(cmd, sizeof cmd, "cat '%s/ca.pem' '%s/ca.pem' > '%s'", pki,
             http_pki, both_cas);
    cr_assert_eq(system(cmd), 0);
    set_crl_cache_http(1000);
}

static void down_http(void)
{
    if (crl_server > 0) {
        kill(crl_server, SIGTERM);
        waitpid(crl_server, NULL, 0);
        crl_server = 0;
    }
    down();
}

/* A peer presenting http/<cert>.pem, checked by nodes with crl_check in
 * each mode and the CRLs over HTTP: why[] as in crl_case. */
static void http_case(const char *cert, const char *w_true,
                      const char *w_peer, const char *w_best,
                      const char *warn)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", http_pki, cert);
    struct crl_case k = {cert, path, both_cas, both_cas, "",
                         {w_true, w_peer, w_best}, warn};
    crl_case(&k);
}

#define UNDETERMINED                                                         \
    "we refused the peer's certificate: the revocation status of the "      \
    "peer's certificate is undetermined (crl_check): "

/* UNDETERMINED, then fmt with url for its %s. */
static const char *undetermined(const char *fmt, const char *url)
{
    static char text[4][500];
    static int next;
    char *t = text[next++ % 4];
    int n = snprintf(t, 500, "%s", UNDETERMINED);
    snprintf(t + n, 500 - (size_t)n, fmt, url);
    return t;
}

Test(tls, crl_http_revoked_refused_in_every_mode, .init = up_http,
     .fini = down_http, .timeout = 240)
{
    char why[300];
    snprintf(why, sizeof why,
             "we refused the peer's certificate: the peer's certificate is "
             "revoked (listed in the CRL from %s/ca.crl)",
             crl_url);
    http_case("revoked", why, why, why, NULL);
}

Test(tls, crl_http_good_peer_accepted_in_every_mode, .init = up_http,
     .fini = down_http, .timeout = 240)
{
    http_case("good", NULL, NULL, NULL, NULL);
}

Test(tls, crl_http_slow_server_times_out, .init = up_http,
     .fini = down_http, .timeout = 240)
{
    const char *why = undetermined("cannot fetch the CRL from "
                                   "%s/slow/ca.crl: timed out after 1000 "
                                   "ms",
                                   crl_url);
    http_case("slow", why, why, NULL,
              "crl_check best_effort let the peer's certificate through: "
              "cannot fetch the CRL from");
}

Test(tls, crl_http_dead_server, .init = up_http, .fini = down_http,
     .timeout = 240)
{
    const char *why = undetermined("cannot fetch the CRL from %s/ca.crl: ",
                                    dead_url);
    http_case("dead", why, why, NULL, "through: cannot fetch the CRL from");
}

Test(tls, crl_http_not_found, .init = up_http, .fini = down_http,
     .timeout = 240)
{
    const char *why = undetermined("cannot fetch the CRL from "
                                   "%s/missing.crl: HTTP status 404",
                                   crl_url);
    http_case("missing", why, why, NULL, "HTTP status 404");
}

Test(tls, crl_http_garbage_body, .init = up_http, .fini = down_http,
     .timeout = 240)
{
    const char *why = undetermined("the answer from %s/garbage.crl is no "
                                   "good: it is not a CRL",
                                   crl_url);
    http_case("garbage", why, why, NULL, "it is not a CRL");
}

Test(tls, crl_http_bad_signature, .init = up_http, .fini = down_http,
     .timeout = 240)
{
    const char *why = undetermined("the answer from %s/badsig.crl is no "
                                   "good: its signature does not verify "
                                   "(bad signature)",
                                   crl_url);
    http_case("badsig", why, why, NULL, "bad signature");
}

/* A chain: chain.pem, signed by subca, whose CA revoked it.  peer checks
 * the peer's certificate only (against subca's CRL, fetched too). */
Test(tls, crl_http_revoked_intermediate_passes_peer_only, .init = up_http,
     .fini = down_http, .timeout = 240)
{
    char why[300], path[400], pca[400], cmd[1200];
    snprintf(why, sizeof why,
             "we refused the peer's certificate: the CA certificate at depth "
             "1 of its chain is revoked (listed in the CRL from %s/ca.crl)",
             crl_url);
    /* OTP sends the intermediate CAs it finds in its cacertfile */
    snprintf(pca, sizeof pca, "%s/chaincas.pem", http_pki);
    snprintf(cmd, sizeof cmd, "cat '%s' '%s/subca.pem' > '%s'", both_cas,
             http_pki, pca);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/chain", http_pki);
    struct crl_case k = {"chain", path, pca, both_cas, "",
                         {why, NULL, why}, NULL};
    crl_case(&k);
}

/* As OTP: a certificate without a distribution point has no CRL to get
 * (ssl_crl_cache keeps none of its own). */
Test(tls, crl_http_no_distribution_point, .init = up_http,
     .fini = down_http, .timeout = 240)
{
    const char *why = undetermined("it has no http CRL distribution point",
                                    crl_url);
    http_case("nocdp", why, why, NULL, "no http CRL distribution point");
}

/* ---- a slow CRL server holds up no other connection ---- */

struct dial {
    cnode_t *c;
    h_node_t *otp;
    int rc;
    uint64_t ms;
    volatile int done;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *dial_thread(void *arg)
{
    struct dial *d = arg;
    uint64_t t0 = now_ms();
    d->rc = enode_connect(d->c->node, h_node_name(d->otp));
    d->ms = now_ms() - t0;
    d->done = 1;
    return NULL;
}

/* Whether the CRL server was asked for path within timeout_ms. */
static bool requested(const char *path, int timeout_ms)
{
    char log[400], needle[100];
    snprintf(log, sizeof log, "%s/requests.log", http_pki);
    snprintf(needle, sizeof needle, "%s\n", path);
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if (file_contains(log, needle))
            return true;
        usleep(50000);
    }
    return false;
}

Test(tls, crl_http_slow_server_holds_up_no_other_peer, .init = up_http,
     .fini = down_http, .timeout = 180)
{
    char extra[900], slow[400], good[400];
    set_crl_cache_http(SLOW_S * 1000 + 3000); /* the slow fetch succeeds */
    snprintf(slow, sizeof slow, "%s/slow", http_pki);
    snprintf(good, sizeof good, "%s/good", http_pki);
    cafile = both_cas;
    h_node_t *a = otp_launch("slowpeer", optfile_for("slowpeer", slow, slow,
                                                     ""));
    h_node_t *b = otp_launch("other", optfile_for("other", good, good, ""));
    cnode_t *c = c_node("holder", optfile_for("holder", "node", "node",
                                              crl_extra("true", "", extra,
                                                        sizeof extra)));
    enode_mbox_t *box;
    cr_assert_eq(enode_mbox_new(c->node, &box), 0);
    cr_assert_eq(enode_register(box, "inbox"), 0);
    otp_ready(a);
    otp_ready(b);

    struct dial d = {c, a, -1, 0, 0};
    pthread_t t;
    uint64_t t0 = now_ms();
    cr_assert_eq(pthread_create(&t, NULL, dial_thread, &d), 0);
    cr_assert(requested("/slow/ca.crl", 5000), "no fetch of the slow CRL");

    /* while that fetch is under way, b connects and a message flows */
    otp_pings(b, c);
    cr_assert(h_eval_expectf(b, "ok", "{inbox, '%s'} ! hello_while_slow, ok.",
                             enode_name(c->node)));
    enode_msg_t msg;
    cr_assert_eq(enode_receive(box, &msg, 3000), 0, "no message from b");
    enode_msg_free(&msg);
    uint64_t b_ms = now_ms() - t0;
    cr_assert(!d.done && b_ms < SLOW_S * 1000,
              "b was held up: its message came after %llu ms, the slow "
              "dial %s", (unsigned long long)b_ms,
              d.done ? "was over" : "was not");

    pthread_join(t, NULL);
    cr_assert_eq(d.rc, 0, "%s", enode_last_error(c->node));
    cr_assert(d.ms >= (SLOW_S - 1) * 1000, "the slow peer took %llu ms only",
              (unsigned long long)d.ms);
    enode_mbox_free(box);
    c_free(c);
}

/* How many times the CRL server was asked for path. */
static int requests_for(const char *path)
{
    char log[400], line[200];
    int n = 0;
    snprintf(log, sizeof log, "%s/requests.log", http_pki);
    FILE *f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f))
        n += strcmp(line, path) == 0;
    if (f)
        fclose(f);
    return n;
}

/* Serve the CA's CRL afresh, valid for `seconds`. */
static void new_ca_crl(int seconds)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl ca -config db/ca.cnf -cert ca.pem -keyfile "
             "ca.key -gencrl -crlsec %d -out db/new.pem 2>/dev/null && "
             "openssl crl -in db/new.pem -outform DER -out ca.crl.new && "
             "mv ca.crl.new ca.crl",
             http_pki, seconds);
    cr_assert_eq(system(cmd), 0);
}

/* A CRL is fetched once and kept until its nextUpdate; then fetched
 * again, and one already out of date is no CRL. */
Test(tls, crl_http_kept_until_next_update, .init = up_http,
     .fini = down_http, .timeout = 120)
{
    char extra[900], good[400], why[400];
    snprintf(good, sizeof good, "%s/good", http_pki);
    cafile = both_cas;
    h_node_t *otp = otp_launch("goodpeer", optfile_for("goodpeer", good, good,
                                                       ""));
    cnode_t *c = c_node("cacher", optfile_for("cacher", "node", "node",
                                              crl_extra("true", "", extra,
                                                        sizeof extra)));
    otp_ready(otp);
    new_ca_crl(15); /* room for two connections, even on a loaded machine */
    uint64_t made = now_ms();
    c_dials(c, otp, NULL);
    c_dials(c, otp, NULL);
    cr_assert(now_ms() - made < 15000, "too slow to test the cache");
    cr_assert_eq(requests_for("/ca.crl\n"), 1, "fetched again before its "
                 "nextUpdate");
    while (now_ms() - made < 16500)
        usleep(100000);
    snprintf(why, sizeof why,
             UNDETERMINED "the answer from %s/ca.crl is no good: it is out "
                          "of date (its nextUpdate has passed)",
             crl_url);
    c_dials(c, otp, why);
    cr_assert_eq(requests_for("/ca.crl\n"), 2);
    new_ca_crl(3600);
    c_dials(c, otp, NULL);
    cr_assert_eq(requests_for("/ca.crl\n"), 3);
    c_free(c);
}

/* In event-loop mode the application's poll on enode_fd() learns that a
 * fetch is over (the fetch thread wakes the loop's fd): the waiting
 * connection goes on then, not at its set-up deadline. */
Test(tls, crl_http_event_loop_mode_is_woken, .init = up_http,
     .fini = down_http, .timeout = 120)
{
    char extra[900], slow[400], err[512];
    set_crl_cache_http(SLOW_S * 1000 + 3000);
    snprintf(slow, sizeof slow, "%s/slow", http_pki);
    cafile = both_cas;
    h_node_t *a = otp_launch("slowpeer", optfile_for("slowpeer", slow, slow,
                                                     ""));
    enode_config_t *cfg = h_enode_config(cluster, "polled");
    cr_assert_not_null(cfg);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(
                     cfg, optfile_for("polled", "node", "node",
                                      crl_extra("true", "", extra,
                                                sizeof extra))),
                 0);
    cr_assert_eq(enode_config_set_setup_time_ms(cfg, 20000), 0);
    enode_t *n;
    cr_assert_eq(enode_new(&n, cfg, err, sizeof err), 0, "%s", err);
    enode_config_free(cfg);
    otp_ready(a);
    cr_assert(h_eval_expectf(a, "ok", "spawn(net_adm, ping, ['%s']), ok.",
                             enode_name(n)));
    uint64_t t0 = now_ms(), fetched = 0;
    while (!enode_is_connected(n, h_node_name(a)) && now_ms() - t0 < 15000) {
        struct pollfd p = {.fd = enode_fd(n), .events = POLLIN};
        poll(&p, 1, enode_timeout(n) < 0 ? 15000 : enode_timeout(n));
        cr_assert_eq(enode_process(n, 0), 0);
        if (!fetched && requested("/slow/ca.crl", 0))
            fetched = now_ms();
    }
    uint64_t ms = now_ms() - t0;
    cr_assert(enode_is_connected(n, h_node_name(a)), "not connected: %s",
              enode_last_error(n));
    cr_assert(fetched && ms >= (SLOW_S - 1) * 1000 &&
                  ms < SLOW_S * 1000 + 2000,
              "connected after %llu ms", (unsigned long long)ms);
    enode_free(n);
}

/* A node freed while a fetch is under way stops its fetch thread at once:
 * no wait for the timeout, and no crash. */
Test(tls, crl_http_node_freed_during_a_fetch, .init = up_http,
     .fini = down_http, .timeout = 120)
{
    char extra[900], slow[400];
    set_crl_cache_http(30000);
    snprintf(slow, sizeof slow, "%s/slow", http_pki);
    cafile = both_cas;
    h_node_t *a = otp_launch("slowpeer", optfile_for("slowpeer", slow, slow,
                                                     ""));
    cnode_t *c = c_node("freed", optfile_for("freed", "node", "node",
                                             crl_extra("true", "", extra,
                                                       sizeof extra)));
    otp_ready(a);
    cr_assert(h_eval_expectf(a, "ok", "spawn(net_adm, ping, ['%s']), ok.",
                             enode_name(c->node)));
    cr_assert(requested("/slow/ca.crl", 10000), "no fetch of the slow CRL");
    uint64_t t0 = now_ms();
    c_free(c);
    uint64_t ms = now_ms() - t0;
    cr_assert(ms < 2000, "enode_free took %llu ms", (unsigned long long)ms);
}

/* ---- eccs, supported_groups and signature_algs ---------------------------- */

/* The curve OTP's side of the connection to c uses. */
static void curve_is(h_node_t *otp, cnode_t *c, const char *curve)
{
    cr_assert(h_eval_expectf(otp, curve, "harness_agent:dist_tls_ecc('%s').",
                             enode_name(c->node)));
}

Test(tls, restricted_groups_interoperate, .init = up, .fini = down,
     .timeout = 120)
{
    /* TLS 1.2, OTP's defaults on the OTP node */
    h_node_t *otp = otp_launch("ecc", h_cluster_optfile(cluster));
    cnode_t *c = c_node("ecc384", optfile_for("ecc384", "node", "node",
                                              "{eccs,[secp384r1]},"));
    /* TLS 1.3: OTP's default groups are x25519, x448, secp256r1, secp384r1 */
    const char *v13 = "{versions,['tlsv1.3']},";
    h_node_t *otp13 = otp_launch("ecc13", optfile_for("ecc13", "node", "node",
                                                      v13));
    char extra[200];
    snprintf(extra, sizeof extra, "%s{supported_groups,[x448]},", v13);
    cnode_t *c13 = c_node("x448", optfile_for("x448", "node", "node", extra));
    otp_ready(otp);
    otp_ready(otp13);

    cr_assert_eq(enode_connect(c->node, h_node_name(otp)), 0, "%s",
                 enode_last_error(c->node));
    char seen[256];
    snprintf(seen, sizeof seen, "lists:member('%s', nodes()).",
             enode_name(c->node));
    cr_assert(h_wait_until(otp, seen, "true", 5000));
    curve_is(otp, c, "secp384r1");
    apart(otp, c, false);
    otp_pings(otp, c);
    curve_is(otp, c, "secp384r1");

    connects_both_ways(c13, otp13);
    cr_assert(h_eval_expectf(otp13, "'tlsv1.3'",
                             "element(1, harness_agent:dist_tls_info('%s')).",
                             enode_name(c13->node)));
    c_free(c);
    c_free(c13);
}

Test(tls, disjoint_groups_refused_both_roles, .init = up, .fini = down,
     .timeout = 120)
{
    /* eccs are TLS 1.2's: OTP 29 also offering 1.3 offers its
     * supported_groups instead, even in a 1.2 handshake */
    const char *c384 = optfile_for("g384", "node", "node",
                                   "{versions,['tlsv1.2']},"
                                   "{eccs,[secp384r1]},");
    const char *o256 = optfile_for("g256", "node", "node",
                                   "{versions,['tlsv1.2']},"
                                   "{eccs,[secp256r1]},");
    struct failure f = {
        "nogroup",
        c384, o256,
        "key exchange group", "no shared key exchange group with the client",
        NULL, NULL, NULL, NULL};
    failure_case(&f);
}

Test(tls, restricted_signature_algorithms, .init = up, .fini = down,
     .timeout = 120)
{
    /* our certificates are ECDSA P-256: an OTP node can sign for one
     * asking for ecdsa_secp256r1_sha256, and not for one asking for
     * RSA-PSS only */
    const char *ecdsa = optfile_for("sigec", "node", "node",
                                    "{signature_algs,[ecdsa_secp256r1_sha256,"
                                    "{sha256,ecdsa}]},");
    const char *pss = optfile_for("sigpss", "node", "node",
                                  "{signature_algs,[rsa_pss_rsae_sha256,"
                                  "rsa_pss_pss_sha256]},");
    struct failure f = {
        "nosigalg",
        pss, NULL,
        "signature algorithm", NULL,
        ecdsa, NULL, NULL, NULL};
    failure_case(&f);
}

/* ---- certificates of every key type under one CA ------------------------ */

static const char *const key_types[] = {"rsa2048", "rsa4096", "p256", "p384",
                                        NULL};
#define N_KEY_TYPES 4

/* An optfile for node_<key>.pem of the PKI in dir: mutual TLS, the server
 * insisting on a client certificate, at `versions` (an Erlang list's
 * elements). */
static const char *key_optfile(const char *dir, const char *tag,
                               const char *key, const char *versions)
{
    static char paths[4 * N_KEY_TYPES][700];
    static int next;
    char *path = paths[next++ % (4 * N_KEY_TYPES)];
    snprintf(path, 700, "%s/%s_%s.conf", h_cluster_dir(cluster), tag, key);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "[");
    for (int side = 0; side < 2; side++)
        fprintf(f,
                "{%s,[{certfile,\"%s/node_%s.pem\"},"
                "{keyfile,\"%s/node_%s.key\"},{cacertfile,\"%s/ca.pem\"},"
                "{verify,verify_peer},%s{versions,[%s]}]}%s\n",
                side == 0 ? "server" : "client", dir, key, dir, key, dir,
                side == 0 ? "{fail_if_no_peer_cert,true}," : "", versions,
                side == 0 ? "," : "].");
    fclose(f);
    return path;
}

/* One C node of the matrix: its key type, TLS version and role. */
typedef struct keyed {
    cnode_t *c;
    const char *key, *version;
} keyed_t;

/* Whether the connection between otp and k->c is up at k->version; if not,
 * a line for the report. */
static void check_version(h_node_t *otp, const keyed_t *k, const char *what,
                          char *report, size_t len)
{
    char want[40], expr[300];
    /* OTP registers the connection just after our side is up */
    snprintf(expr, sizeof expr, "lists:member('%s', nodes(hidden)).",
             enode_name(k->c->node));
    if (!h_wait_until(otp, expr, "true", 5000)) {
        snprintf(report + strlen(report), len - strlen(report),
                 "%s: up on our side only\n", what);
        return;
    }
    snprintf(want, sizeof want, "'%s'", k->version);
    snprintf(expr, sizeof expr,
             "element(1, harness_agent:dist_tls_info('%s')).",
             enode_name(k->c->node));
    char got[200] = "";
    h_eval(otp, expr, got, sizeof got, 0);
    if (strcmp(got, want) != 0)
        snprintf(report + strlen(report), len - strlen(report),
                 "%s: up, but at %s\n", what, got);
}

/* The C node dials otp (of key type okey). */
static void keyed_dials(const keyed_t *k, h_node_t *otp, const char *okey,
                        char *report, size_t len)
{
    char what[160];
    snprintf(what, sizeof what, "%s %s enode client -> %s OTP server",
             k->version, k->key, okey);
    if (enode_connect(k->c->node, h_node_name(otp)) != 0)
        snprintf(report + strlen(report), len - strlen(report), "%s: %s\n",
                 what, enode_last_error(k->c->node));
    else
        check_version(otp, k, what, report, len);
}

/* otp (of key type okey) dials the C node. */
static void otp_dials_keyed(h_node_t *otp, const char *okey, const keyed_t *k,
                            char *report, size_t len)
{
    char what[160], got[64] = "";
    snprintf(what, sizeof what, "%s %s OTP client -> %s enode server",
             k->version, okey, k->key);
    h_evalf(otp, got, sizeof got, 0, "net_adm:ping('%s').",
            enode_name(k->c->node));
    if (strcmp(got, "pong") == 0) {
        check_version(otp, k, what, report, len);
        return;
    }
    /* the C node's last word on it */
    pthread_mutex_lock(&k->c->log.mu);
    const char *text = k->c->log.text, *line = text + k->c->log.len;
    while (line > text && line[-1] == '\n')
        line--;
    while (line > text && line[-1] != '\n')
        line--;
    snprintf(report + strlen(report), len - strlen(report), "%s: %s; %.300s",
             what, got, *line ? line : "(nothing logged)\n");
    pthread_mutex_unlock(&k->c->log.mu);
}

/* Every pairing of RSA-2048, RSA-4096, P-256 and P-384 certificates from
 * one CA whose key is ca_key: C node and OTP node each in both roles, at
 * TLS 1.2 and 1.3. The OTP nodes speak both versions; the C nodes one
 * each, and are hidden, so that OTP's global does not connect them to
 * the other OTP nodes behind the test's back (a connection must be the
 * one the test makes, in the role it means). */
static void key_matrix(const char *ca_key)
{
    static const char *const versions[2] = {"tlsv1.2", "tlsv1.3"};
    char dir[600], tag[64];
    h_node_t *otp[N_KEY_TYPES];
    keyed_t client[2][N_KEY_TYPES], server[2][N_KEY_TYPES];

    snprintf(dir, sizeof dir, "%s/keys_%s", h_cluster_dir(cluster), ca_key);
    cr_assert_eq(h_pki_make_keys(dir, ca_key, key_types), 0);
    for (int o = 0; o < N_KEY_TYPES; o++) {
        snprintf(tag, sizeof tag, "o%s", key_types[o]);
        otp[o] = otp_launch(tag, key_optfile(dir, tag, key_types[o],
                                             "'tlsv1.3','tlsv1.2'"));
    }
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < N_KEY_TYPES; k++) {
            char quoted[20];
            snprintf(quoted, sizeof quoted, "'%s'", versions[v]);
            for (int role = 0; role < 2; role++) {
                keyed_t *e = role ? &server[v][k] : &client[v][k];
                snprintf(tag, sizeof tag, "%s%d%s", role ? "s" : "c", v,
                         key_types[k]);
                e->c = c_node_h(tag, key_optfile(dir, tag, key_types[k],
                                                 quoted),
                                NULL, NULL, 1);
                e->key = key_types[k];
                e->version = versions[v];
            }
        }
    for (int o = 0; o < N_KEY_TYPES; o++)
        otp_ready(otp[o]);

    char report[16384] = "";
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < N_KEY_TYPES; k++)
            for (int o = 0; o < N_KEY_TYPES; o++) {
                keyed_dials(&client[v][k], otp[o], key_types[o], report,
                            sizeof report);
                otp_dials_keyed(otp[o], key_types[o], &server[v][k], report,
                                sizeof report);
            }
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < N_KEY_TYPES; k++) {
            c_free(client[v][k].c);
            c_free(server[v][k].c);
        }
    cr_assert(report[0] == '\0', "under a %s CA:\n%s", ca_key, report);
}

static void up_plain(void)
{
    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
}

Test(tls, key_types_interoperate_under_an_rsa_ca, .init = up_plain,
     .fini = down, .timeout = 180)
{
    key_matrix("rsa2048");
}

Test(tls, key_types_interoperate_under_an_ecdsa_ca, .init = up_plain,
     .fini = down, .timeout = 180)
{
    key_matrix("p256");
}
