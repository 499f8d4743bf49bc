/* test_allow.c - the allow list (enode_config_add_allowed_node,
 * enode_allow) against real OTP nodes over mutual TLS, in both roles, and
 * OTP's own net_kernel:allow/1 beside it as the reference:
 *
 *  - a C node lets in the OTP nodes its list holds and refuses the others
 *    once they have sent their names ("not_allowed"), saying so in its
 *    log; enode_allow() adds to the list at run time;
 *  - with verify_peer, a listed node whose certificate names none of the
 *    allowed hosts (nor its address) is refused before the handshake, as
 *    an OTP node refuses it (OTP 25 to 29 alike);
 *  - the built-in inet_tls_dist:verify_client/3 checks the client's
 *    certificate against the list's hosts, as in OTP;
 *  - a C client refused by an OTP node's net_kernel:allow/1 says why.
 *
 * The OTP peers that must be refused present badcerts.sh's `wronghost`
 * certificate as clients: its only SAN is DNS:wrong.invalid.
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

/* An optfile under the cluster's CA: the server presents node.pem and,
 * when mutual, insists on a client certificate; the client presents
 * <client_cert>.pem; server_extra goes into the server's options. */
static const char *optfile_v(const char *tag, const char *client_cert,
                             const char *server_extra, bool mutual)
{
    static char paths[8][700];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 700, "%s/%s.conf", h_cluster_dir(cluster), tag);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "[{server,[{certfile,\"%s/node.pem\"},{keyfile,\"%s/node.key\"},"
            "{cacertfile,\"%s/ca.pem\"},{verify,%s},%s"
            "{fail_if_no_peer_cert,%s}]},\n"
            " {client,[{certfile,\"%s/%s.pem\"},{keyfile,\"%s/%s.key\"},"
            "{cacertfile,\"%s/ca.pem\"},{verify,verify_peer}]}].\n",
            pki, pki, pki, mutual ? "verify_peer" : "verify_none",
            server_extra, mutual ? "true" : "false", pki, client_cert, pki,
            client_cert, pki);
    fclose(f);
    return path;
}

/* Mutual TLS. */
static const char *optfile(const char *tag, const char *client_cert,
                           const char *server_extra)
{
    return optfile_v(tag, client_cert, server_extra, true);
}

static h_node_t *otp_node(const char *prefix, const char *client_cert)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.optfile = optfile(prefix, client_cert, "");
    h_node_t *n = h_node_launch(cluster, prefix, &o);
    cr_assert_not_null(n);
    cr_assert_eq(h_node_wait_ready(n, 30000), 0);
    return n;
}

/* ---- C nodes, their log --------------------------------------------------- */

typedef struct capture {
    pthread_mutex_t mu;
    size_t len;
    char text[32768];
} capture_t;

static capture_t log_of_c = {.mu = PTHREAD_MUTEX_INITIALIZER};

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

static bool logged(const char *needle, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        pthread_mutex_lock(&log_of_c.mu);
        bool found = strstr(log_of_c.text, needle) != NULL;
        pthread_mutex_unlock(&log_of_c.mu);
        if (found || waited >= timeout_ms)
            return found;
        usleep(50000);
    }
}

/* A C node with its own thread, reading conf, allowing allowed[0..n);
 * a name with a host is a long one (-name). */
static enode_t *c_node(const char *name, const char *conf,
                       const char *const *allowed, size_t n)
{
    enode_config_t *cfg = h_enode_config(cluster, name);
    cr_assert_not_null(cfg);
    if (strchr(name, '@'))
        cr_assert_eq(enode_config_set_name(cfg, name, 1), 0);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(cfg, conf), 0);
    cr_assert_eq(enode_config_set_setup_time_ms(cfg, 4000), 0);
    cr_assert_eq(
        enode_config_set_log(cfg, capture_log, &log_of_c, ENODE_LOG_WARNING),
        0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(enode_config_add_allowed_node(cfg, allowed[i]), 0);
    enode_t *c;
    char err[512];
    cr_assert_eq(enode_new(&c, cfg, err, sizeof err), 0, "%s", err);
    enode_config_free(cfg);
    cr_assert_eq(enode_start_thread(c), 0);
    return c;
}

/* The OTP node's log holds needle, within 5 s (its logger writes late). */
static bool otp_logged(h_node_t *n, const char *needle)
{
    for (int i = 0; i < 100 && !h_node_log_contains(n, needle); i++)
        usleep(50000);
    return h_node_log_contains(n, needle);
}

static void pings(h_node_t *otp, enode_t *c, const char *answer)
{
    cr_assert(h_eval_expectf(otp, answer, "net_adm:ping('%s').",
                             enode_name(c)),
              "%s pinging %s; C node log:\n%s", h_node_name(otp),
              enode_name(c), log_of_c.text);
}

static void refused_after_its_name(h_node_t *otp)
{
    char line[400];
    snprintf(line, sizeof line,
             "connection attempt from disallowed node %s: refused (sent "
             "not_allowed)",
             h_node_name(otp));
    cr_assert(logged(line, 5000), "no \"%s\" in:\n%s", line, log_of_c.text);
}

/* ---- the C node as the server ---------------------------------------------- */

/* The C node asks for no client certificate here: with one, the hosts
 * it names would count rather than the names (see below), and a and b
 * share their host. */
Test(allow, only_listed_otp_nodes_connect_and_enode_allow_adds, .init = up,
     .fini = down, .timeout = 180)
{
    h_node_t *a = otp_node("ala", "node");
    h_node_t *b = otp_node("alb", "node");
    const char *list[] = {h_node_name(a)};
    enode_t *c = c_node("alc", optfile_v("c", "node", "", false), list, 1);

    pings(a, c, "pong");
    pings(b, c, "pang");
    refused_after_its_name(b);
    cr_assert_eq(enode_is_connected(c, h_node_name(b)), 0);

    const char *more[] = {h_node_name(b)};
    cr_assert_eq(enode_allow(c, more, 1), 0);
    pings(b, c, "pong");
    enode_free(c);
}

Test(allow, a_host_entry_lets_any_node_of_that_host_in, .init = up,
     .fini = down, .timeout = 120)
{
    h_node_t *a = otp_node("alh", "node");
    const char *list[] = {h_node_host(a)};
    enode_t *c = c_node("alhc", optfile("c", "node", ""), list, 1);
    pings(a, c, "pong");
    enode_free(c);
}

/* OTP's net_kernel:allow/1 under verify_peer: a listed node whose
 * certificate names no allowed host nor its address is closed on before
 * the handshake; enode does the same. */
Test(allow, a_listed_node_whose_certificate_names_no_allowed_host_is_refused,
     .init = up, .fini = down, .timeout = 180)
{
    h_node_t *w = otp_node("alw", "wronghost");
    h_node_t *s = otp_node("als", "node");
    /* the reference: OTP allowing w by name */
    cr_assert(h_eval_expectf(s, "ok", "net_kernel:allow(['%s']).",
                             h_node_name(w)));
    cr_assert(h_eval_expectf(w, "pang", "net_adm:ping('%s').",
                             h_node_name(s)));
    cr_assert(otp_logged(s, "disallowed node(s) {127,0,0,1}"),
              "OTP did not refuse as expected");

    const char *list[] = {h_node_name(w)};
    enode_t *c = c_node("alwc", optfile("c", "node", ""), list, 1);
    pings(w, c, "pang");
    cr_assert(logged("connection attempt from disallowed node(s): the "
                     "client's certificate names no host of the allow list, "
                     "nor its address; closed before the handshake",
                     5000),
              "%s", log_of_c.text);
    cr_assert(logged("connection from 127.0.0.1:", 100), "%s",
              log_of_c.text);
    enode_free(c);
}

/* With verify_peer, OTP keeps the hosts the certificate names, not the
 * entries, so that allow([other@H]) lets any node of H in; so does
 * enode. */
Test(allow, a_node_entry_admits_its_host_under_verify_peer, .init = up,
     .fini = down, .timeout = 180)
{
    h_node_t *w = otp_node("aln", "node");
    h_node_t *s = otp_node("alm", "node");
    cr_assert(h_evalf(s, NULL, 0, 0, "net_kernel:allow(['other@%s']).",
                      h_node_host(w)) == H_OK);
    /* OTP 25 to 29: w gets in through its host */
    cr_assert(h_eval_expectf(w, "pong", "net_adm:ping('%s').",
                             h_node_name(s)));
    char other[300];
    snprintf(other, sizeof other, "other@%s", h_node_host(w));
    const char *list[] = {other};
    enode_t *c = c_node("alnc", optfile("c", "node", ""), list, 1);
    pings(w, c, "pong");
    enode_free(c);
}

/* The client's address counts as an allowed host when its certificate
 * names it (an iPAddress SAN): a node named after that address gets in
 * though the list does not name it, as in OTP. */
Test(allow, a_certificate_naming_the_address_admits_nodes_named_by_it,
     .init = up, .fini = down, .timeout = 120)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;
    o.longnames = true; /* prefix_..@127.0.0.1 */
    o.optfile = optfile("alip", "node", "");
    h_node_t *ip = h_node_launch(cluster, "alip", &o);
    cr_assert_not_null(ip);
    cr_assert_eq(h_node_wait_ready(ip, 30000), 0);
    const char *list[] = {"nobody@nowhere.invalid"};
    enode_t *c = c_node("alipc@127.0.0.1", optfile("c", "node", ""), list, 1);
    pings(ip, c, "pong");
    enode_free(c);
}

/* The built-in verify_client: a client certificate must name the
 * client's address or a host of the list. */
Test(allow, verify_client_checks_the_certificate_against_the_list,
     .init = up, .fini = down, .timeout = 180)
{
    h_node_t *good = otp_node("alvg", "node");
    h_node_t *wrong = otp_node("alvw", "wronghost");
    const char *list[] = {h_node_name(good), h_node_name(wrong)};
    const char *conf =
        optfile("cvc", "node",
                "{verify_fun,{fun inet_tls_dist:verify_client/3,[]}},");
    enode_t *c = c_node("alvc", conf, list, 2);
    pings(good, c, "pong");
    pings(wrong, c, "pang");
    cr_assert(logged("verify_fun inet_tls_dist:verify_client/3 refused the "
                     "peer's certificate",
                     5000),
              "%s", log_of_c.text);
    cr_assert(logged("cert_no_hostname_nor_ip_match", 100), "%s",
              log_of_c.text);
    enode_free(c);
}

/* ---- the C node as the client -------------------------------------------- */

Test(allow, a_c_client_refused_by_net_kernel_allow_says_why, .init = up,
     .fini = down, .timeout = 180)
{
    h_node_t *s = otp_node("alo", "node");
    enode_t *c = c_node("aloc", optfile("c", "node", ""), NULL, 0);

    /* allow([]) adds nothing: every node may still connect */
    cr_assert(h_eval_expect(s, "net_kernel:allow([]).", "ok"));
    cr_assert_eq(enode_connect(c, h_node_name(s)), 0, "%s",
                 enode_last_error(c));
    enode_disconnect(c, h_node_name(s));
    char expr[300];
    snprintf(expr, sizeof expr, "lists:member('%s', nodes()).",
             enode_name(c));
    cr_assert(h_wait_until(s, expr, "false", 10000));

    /* a list without us: refused once we have sent our name */
    cr_assert(h_eval_expect(s, "net_kernel:allow([someone@elsewhere]).",
                            "ok"));
    cr_assert_neq(enode_connect(c, h_node_name(s)), 0);
    cr_assert(strstr(enode_last_error(c),
                     "refused the connection (status not_allowed): its "
                     "allow list (net_kernel:allow/1) does not hold our "
                     "node name"),
              "%s", enode_last_error(c));
    char line[300];
    snprintf(line, sizeof line, "disallowed node %s", enode_name(c));
    cr_assert(otp_logged(s, line), "OTP did not log \"%s\"", line);
    enode_free(c);

    /* listed, but our client certificate names no host of the list nor
     * our address: OTP closes before the handshake, without a status */
    cr_assert(h_evalf(s, NULL, 0, 0, "net_kernel:allow(['alwc@%s']).",
                      h_node_host(s)) == H_OK);
    c = c_node("alwc", optfile("cw", "wronghost", ""), NULL, 0);
    cr_assert_neq(enode_connect(c, h_node_name(s)), 0);
    cr_assert(strstr(enode_last_error(c),
                     "closed the connection while we waited for a status "
                     "reply to our name; its allow list "
                     "(net_kernel:allow/1) may hold no host that our "
                     "certificate names"),
              "%s", enode_last_error(c));
    cr_assert(otp_logged(s, "disallowed node(s)"));
    enode_free(c);
}
