/* test_tlsconf.c - TLS options and the wolfSSL contexts made from them.
 *
 * Before the tests run, a report hook makes a throwaway ECDSA P-256 CA and
 * node certificates with the openssl command into a temporary directory
 * (named in $ENODE_TEST_CERTS, so that every test process finds it), and
 * removes it afterwards.  Handshake tests connect a server and a client
 * context over a socketpair.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls/tls_chain.h"
#include "tls/tlsconf.h"

/* ------------------------------------------------------------------ */
/* Certificates, once per run                                          */
/* ------------------------------------------------------------------ */

static char cert_dir[64];

/* Each command runs in the certificate directory. */
static const char *const make_certs[] = {
    "openssl ecparam -name prime256v1 -genkey -noout -out ca.key",
    "openssl req -x509 -new -key ca.key -subj /CN=ca -days 2 -out ca.pem",
    "openssl ecparam -name prime256v1 -genkey -noout -out node.key",
    "openssl req -new -key node.key -subj /CN=node -out node.csr",
    "openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key "
    "-CAcreateserial -days 2 -out node.pem",
    "openssl ecparam -name prime256v1 -genkey -noout -out other.key",
    /* a second CA, and a node certificate that only it signed */
    "openssl ecparam -name prime256v1 -genkey -noout -out rogue_ca.key",
    "openssl req -x509 -new -key rogue_ca.key -subj /CN=rogue_ca -days 2 "
    "-out rogue_ca.pem",
    "openssl ecparam -name prime256v1 -genkey -noout -out rogue.key",
    "openssl req -new -key rogue.key -subj /CN=rogue -out rogue.csr",
    "openssl x509 -req -in rogue.csr -CA rogue_ca.pem -CAkey rogue_ca.key "
    "-CAcreateserial -days 2 -out rogue.pem",
    /* node.key encrypted, as PKCS#8 and in the traditional PEM way */
    "openssl pkey -in node.key -aes256 -passout pass:secret -out enc8.key",
    "openssl ec -in node.key -aes256 -passout pass:secret -out enctrad.key",
    "openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 "
    "-out dh.pem",
    "cat node.pem node.key > combined.pem",
    "echo 'not a certificate' > garbage.pem",
    /* CRLs of the CA: one revoking nothing, one revoking node.pem */
    "printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\n"
    "crlnumber=crlnumber\\ndefault_md=sha256\\ndefault_crl_days=2\\n' "
    "> ca.cnf && : > index.txt && echo 01 > crlnumber",
    "openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -gencrl "
    "-out empty.crl",
    "openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -revoke node.pem",
    "openssl ca -config ca.cnf -cert ca.pem -keyfile ca.key -gencrl "
    "-out revoked.crl",
    "openssl crl -in revoked.crl -outform DER -out revoked.der",
    "openssl crl -hash -noout -in empty.crl > crl.hash",
};

ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
    (void)tests;
    strcpy(cert_dir, "/tmp/enode-tlsconf-XXXXXX");
    if (!mkdtemp(cert_dir))
        return;
    for (size_t i = 0; i < sizeof make_certs / sizeof make_certs[0]; i++) {
        char command[512];
        snprintf(command, sizeof command, "cd %s && %s 2>/dev/null", cert_dir,
                 make_certs[i]);
        if (system(command) != 0) {
            fprintf(stderr, "test setup failed: %s\n", command);
            return;
        }
    }
    setenv("ENODE_TEST_CERTS", cert_dir, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    char command[128];
    if (cert_dir[0] && strncmp(cert_dir, "/tmp/enode-tlsconf-", 19) == 0) {
        snprintf(command, sizeof command, "rm -rf '%s'", cert_dir);
        if (system(command) != 0)
            fprintf(stderr, "could not remove %s\n", cert_dir);
    }
}

/* The path of a file made above; each call returns its own buffer. */
static const char *cert(const char *name)
{
    static char paths[8][256];
    static int next;
    const char *dir = getenv("ENODE_TEST_CERTS");
    cr_assert_not_null(dir, "the openssl command failed to make test "
                            "certificates");
    char *path = paths[next++ % 8];
    snprintf(path, 256, "%s/%s", dir, name);
    return path;
}

static void tls_init(void)
{
    cr_assert_eq(wolfSSL_Init(), WOLFSSL_SUCCESS);
}

static void tls_fini(void)
{
    wolfSSL_Cleanup();
}

TestSuite(tlsconf, .init = tls_init, .fini = tls_fini);

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Write text to a temporary optfile; returns its path (static). */
static const char *optfile(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/enode-optfile-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* Warnings collected from the callback. */
typedef struct warnings {
    int count;
    char last[512];
} warnings_t;

static void collect(void *arg, const char *message)
{
    warnings_t *w = arg;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s", message);
}

static void conf_with_warnings(en_tls_conf_t *conf, warnings_t *w)
{
    memset(w, 0, sizeof *w);
    en_tls_conf_init(conf);
    conf->warn = collect;
    conf->warn_arg = w;
}

/* Read text as an optfile and expect an error mentioning each needle. */
static void optfile_fails(const char *text, const char *needle1,
                          const char *needle2)
{
    en_tls_conf_t conf;
    char err[512] = "";
    en_tls_conf_init(&conf);
    const char *path = optfile(text);
    cr_assert_eq(en_tls_conf_read_optfile(&conf, path, err, sizeof err), -1,
                 "<%s> was accepted", text);
    cr_assert(strstr(err, needle1), "<%s>: <%s> lacks <%s>", text, err,
              needle1);
    cr_assert(!needle2 || strstr(err, needle2), "<%s>: <%s> lacks <%s>", text,
              err, needle2);
    cr_assert(strstr(err, path), "<%s> does not name the file", err);
    unlink(path);
    en_tls_conf_free(&conf);
}

static void read_ok(en_tls_conf_t *conf, const char *text)
{
    char err[512] = "";
    const char *path = optfile(text);
    cr_assert_eq(en_tls_conf_read_optfile(conf, path, err, sizeof err), 0, "%s",
                 err);
    unlink(path);
}

static void set_fails(const char *key, const char *value, const char *needle)
{
    en_tls_conf_t conf;
    char err[512] = "";
    en_tls_conf_init(&conf);
    cr_assert_eq(en_tls_conf_set_opt(&conf, key, value, err, sizeof err), -1,
                 "%s %s accepted", key, value);
    cr_assert(strstr(err, needle), "<%s> lacks <%s>", err, needle);
    en_tls_conf_free(&conf);
}

/* The options the test harness writes, with our certificates. */
static void harness_conf(en_tls_conf_t *conf)
{
    char text[2048];
    snprintf(
        text, sizeof text,
        "[{server,[{certfile,\"%s\"},{keyfile,\"%s\"},{cacertfile,\"%s\"},\n"
        "          {verify,verify_peer},{fail_if_no_peer_cert,true},"
        "{secure_renegotiate,true}]},\n"
        " {client,[{certfile,\"%s\"},{keyfile,\"%s\"},{cacertfile,\"%s\"},\n"
        "          {verify,verify_peer},{secure_renegotiate,true},"
        "{server_name_indication,disable}]}].\n",
        cert("node.pem"), cert("node.key"), cert("ca.pem"), cert("node.pem"),
        cert("node.key"), cert("ca.pem"));
    en_tls_conf_init(conf);
    read_ok(conf, text);
}

/* Expect en_tls_ctx_new to fail with a message holding both needles. */
static void ctx_fails(en_tls_side_t *side, int role, const char *needle1,
                      const char *needle2)
{
    char err[512] = "";
    WOLFSSL_CTX *ctx = en_tls_ctx_new(side, role, err, sizeof err);
    cr_assert_null(ctx, "context made, but should fail with <%s>", needle1);
    cr_assert(strstr(err, needle1), "<%s> lacks <%s>", err, needle1);
    cr_assert(!needle2 || strstr(err, needle2), "<%s> lacks <%s>", err,
              needle2);
}

static WOLFSSL_CTX *ctx_ok(en_tls_side_t *side, int role)
{
    char err[512] = "";
    WOLFSSL_CTX *ctx = en_tls_ctx_new(side, role, err, sizeof err);
    cr_assert_not_null(ctx, "en_tls_ctx_new: %s", err);
    return ctx;
}

/* Replace a malloc'd string field. */
static void set_field(char **field, const char *value)
{
    free(*field);
    *field = value ? strdup(value) : NULL;
}

/* ------------------------------------------------------------------ */
/* Reading optfiles                                                    */
/* ------------------------------------------------------------------ */

Test(tlsconf, reads_the_harness_optfile)
{
    en_tls_conf_t conf;
    warnings_t w;
    conf_with_warnings(&conf, &w);
    read_ok(&conf, "%% comment\n"
                   "[{server,[{certfile,\"/tmp/x/node.pem\"},{keyfile,\"/tmp/x/"
                   "node.key\"},"
                   "{cacertfile,\"/tmp/x/ca.pem\"},\n"
                   "          {verify,verify_peer},{fail_if_no_peer_cert,true},"
                   "{secure_renegotiate,true}]},\n"
                   " {client,[{certfile,\"/tmp/x/node.pem\"},{keyfile,\"/tmp/x/"
                   "node.key\"},"
                   "{cacertfile,\"/tmp/x/ca.pem\"},\n"
                   "          {verify,verify_peer},{secure_renegotiate,true},"
                   "{server_name_indication,disable}]}].\n");
    const en_tls_side_t *s = &conf.server, *c = &conf.client;
    cr_assert_str_eq(s->certfile, "/tmp/x/node.pem");
    cr_assert_str_eq(s->keyfile, "/tmp/x/node.key");
    cr_assert_str_eq(s->cacertfile, "/tmp/x/ca.pem");
    cr_assert_eq(s->verify, EN_VERIFY_PEER);
    cr_assert_eq(s->fail_if_no_peer_cert, 1);
    cr_assert_eq(s->sni_disable, 0);
    cr_assert_eq(s->options_given, 6);
    cr_assert(s->from_optfile);
    cr_assert_str_eq(c->certfile, "/tmp/x/node.pem");
    cr_assert_eq(c->verify, EN_VERIFY_PEER);
    cr_assert_eq(c->fail_if_no_peer_cert, -1);
    cr_assert_eq(c->sni_disable, 1);
    cr_assert_null(c->sni_host);
    cr_assert_null(c->password);
    cr_assert_eq(c->depth, -1);
    cr_assert_eq(c->versions, 0u);
    cr_assert(conf.any_option_given);
    cr_assert_eq(w.count, 2, "secure_renegotiate warns once per side");
    cr_assert(strstr(w.last, "client option secure_renegotiate has no effect"),
              "%s", w.last);
    en_tls_conf_free(&conf);
    cr_assert_null(conf.server.certfile);
    cr_assert_eq(conf.warn, collect, "the callback survives a free");
}

Test(tlsconf, value_forms)
{
    en_tls_conf_t conf;
    en_tls_conf_init(&conf);
    read_ok(&conf,
            "[{client, [{certfile, <<\"/bin/ary.pem\">>}, {keyfile, "
            "\"/caf\xC3\xA9\"},"
            " {cacertfile, \"\"}, {password, \"p\\x{20ac}\"}, {depth, 3},"
            " {versions, ['tlsv1.3', 'tlsv1.2']},"
            " {ciphers, [\"TLS_AES_256_GCM_SHA384\", "
            "\"ECDHE-ECDSA-AES256-GCM-SHA384\"]},"
            " {server_name_indication, \"peer.example\"}, {crl_check, false}]},"
            " {server, [{ciphers, \"A:B\"}, {versions, ['tlsv1.2']}, {verify, "
            "verify_none},"
            " {fail_if_no_peer_cert, false}, {dhfile, \"/dh.pem\"}]}].");
    const en_tls_side_t *c = &conf.client, *s = &conf.server;
    cr_assert_str_eq(c->certfile, "/bin/ary.pem");
    cr_assert_str_eq(c->keyfile, "/caf\xC3\xA9", "file names are UTF-8");
    cr_assert_null(c->cacertfile, "\"\" means not given, as in OTP");
    cr_assert_str_eq(c->password, "p\xE2\x82\xAC");
    cr_assert_eq(c->depth, 3);
    cr_assert_eq(c->versions, EN_TLS_V12 | EN_TLS_V13);
    cr_assert_str_eq(c->ciphers,
                     "TLS_AES_256_GCM_SHA384:ECDHE-ECDSA-AES256-GCM-SHA384");
    cr_assert_str_eq(c->sni_host, "peer.example");
    cr_assert_eq(c->options_given, 9);
    cr_assert_str_eq(s->ciphers, "A:B");
    cr_assert_eq(s->versions, EN_TLS_V12);
    cr_assert_eq(s->verify, EN_VERIFY_NONE);
    cr_assert_eq(s->fail_if_no_peer_cert, 0);
    cr_assert_str_eq(s->dhfile, "/dh.pem");
    en_tls_conf_free(&conf);
}

Test(tlsconf, optfile_shapes_that_otp_also_takes)
{
    en_tls_conf_t conf;
    warnings_t w;
    conf_with_warnings(&conf, &w);
    read_ok(&conf, "[].");
    cr_assert_eq(conf.any_option_given, 0);
    read_ok(&conf, "{server, [{depth, 1}]}.");
    cr_assert_eq(conf.server.depth, 1);
    /* A later entry replaces an earlier one; other keys are ignored. */
    read_ok(&conf, "[{server, [{depth, 2}, {verify, verify_none}]},"
                   " {server, [{depth, 3}]}, {sever, []}, {client, []}].");
    cr_assert_eq(conf.server.depth, 3);
    cr_assert_eq(conf.server.verify, EN_VERIFY_DEFAULT);
    cr_assert_eq(conf.server.options_given, 1);
    cr_assert(conf.client.from_optfile);
    cr_assert_eq(conf.client.options_given, 0);
    cr_assert_eq(w.count, 1);
    cr_assert(strstr(w.last, "{sever, []} is ignored"), "%s", w.last);
    en_tls_conf_free(&conf);
}

Test(tlsconf, optfile_errors)
{
    optfile_fails("[{server, [{certfile, \"/x\"}]}]", "line 1, column 31",
                  "missing '.'");
    optfile_fails("[{server,\n [{certfile, \"/x}]}].", "line 2, column 14",
                  "unterminated string");
    optfile_fails("[{server, [{certfile, /x}]}].", "line 1, column 23",
                  "expected a term");
    optfile_fails("% nothing\n", "is empty", "[{server, Options}");
    optfile_fails("[]. [].", "more than one term", NULL);
    optfile_fails("server.", "must hold", "not server");
    optfile_fails("[server].", "expected {server, Options}", "found server");
    optfile_fails("[{server, [], extra}].", "expected {server, Options}", NULL);
    optfile_fails("[{server, verify_peer}].", "server options must be a list",
                  NULL);
    optfile_fails("[{server, [verify_peer]}].",
                  "verify_peer is not a {Name, "
                  "Value} pair",
                  NULL);
    optfile_fails("[{client, [{certfile, 42}]}].",
                  "client option certfile: must be a file name", "not 42");
    optfile_fails("[{server, [{verify, maybe}]}].",
                  "server option verify: must be verify_peer or verify_none",
                  "not maybe");
    optfile_fails("[{server, [{frobnicate, true}]}].",
                  "server option frobnicate: unknown option", NULL);
    optfile_fails("[{client, [{fail_if_no_peer_cert, true}]}].",
                  "fail_if_no_peer_cert is a server option", NULL);
    optfile_fails("[{server, [{server_name_indication, disable}]}].",
                  "is a client option", NULL);
    optfile_fails("[{client, [{versions, ['tlsv1.1']}]}].",
                  "TLS 1.2 and 1.3 only", NULL);
    optfile_fails("[{client, [{versions, []}]}].", "non-empty list", NULL);
    optfile_fails("[{client, [{versions, ['tlsv1.2'|x]}]}].", "proper list",
                  NULL);
    optfile_fails("[{client, [{depth, -1}]}].", "non-negative integer", NULL);
    optfile_fails("[{client, [{ciphers, [#{cipher => aes_256_gcm}]}]}].",
                  "maps and tuples are not supported", NULL);
    optfile_fails("[{client, [{cacerts, []}]}].", "use cacertfile", NULL);
    optfile_fails("[{client, [{crl_check, maybe}]}].",
                  "true, false, peer or best_effort", NULL);
    optfile_fails("[{client, [{crl_cache, {ssl_crl_cache, {internal, []}}}]}].",
                  "ssl_crl_cache", "{http, Timeout}");
    optfile_fails("[{client, [{crl_cache, {ssl_crl_cache, {internal, "
                  "[{http, 0}]}}}]}].", "Timeout", NULL);
    optfile_fails("[{client, [{crl_cache, {ssl_crl_cache, {internal, "
                  "[{http, 500}, {ldap, 1}]}}}]}].", "ssl_crl_cache", NULL);
    optfile_fails("[{client, [{crl_cache, {ssl_crl_cache, {internal, "
                  "[{http, 500}, {allowed_hosts, [h|x]}]}}}]}].",
                  "allowed_hosts", NULL);
    optfile_fails("[{client, [{crl_cache, {my_cache, {internal, "
                  "[{http, 500}]}}}]}].", "ssl_crl_hash_dir", NULL);
    optfile_fails("[{client, [{crl_cache, {ssl_crl_hash_dir, {internal, "
                  "[{dir, x}]}}}]}].", "ssl_crl_hash_dir", NULL);
    optfile_fails("[{client, [{server_name_indication, yes}]}].",
                  "disable or a host name", NULL);
    optfile_fails("[{client, [{password, \"a\\x00b\"}]}].", "must be a string",
                  NULL);
}

Test(tlsconf, missing_optfile)
{
    en_tls_conf_t conf;
    char err[512];
    en_tls_conf_init(&conf);
    cr_assert_eq(en_tls_conf_read_optfile(&conf, "/nonexistent/opt.conf", err,
                                          sizeof err),
                 -1);
    cr_assert(strstr(err, "cannot read /nonexistent/opt.conf: No such file"),
              "%s", err);
    en_tls_conf_free(&conf);
}

/* ------------------------------------------------------------------ */
/* -ssl_dist_opt                                                       */
/* ------------------------------------------------------------------ */

Test(tlsconf, ssl_dist_opt_pairs)
{
    en_tls_conf_t conf;
    warnings_t w;
    char err[512] = "";
    conf_with_warnings(&conf, &w);
    static const char *const pairs[][2] = {
        {"server_certfile", "/x/node.pem"},
        {"server_keyfile", "/x/caf\xC3\xA9"},
        {"server_cacertfile", "/x/ca.pem"},
        {"server_verify", "verify_peer"},
        {"server_fail_if_no_peer_cert", "true"},
        {"server_depth", "2"},
        {"server_password", "secret"},
        {"client_versions", "tlsv1.3"},
        {"client_ciphers", "TLS_AES_256_GCM_SHA384"},
        {"client_server_name_indication", "disable"},
        {"client_secure_renegotiate", "true"},
        {"server_dhfile", "/x/dh.pem"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        cr_assert_eq(en_tls_conf_set_opt(&conf, pairs[i][0], pairs[i][1], err,
                                         sizeof err),
                     0, "%s", err);
    cr_assert_str_eq(conf.server.certfile, "/x/node.pem");
    cr_assert_str_eq(conf.server.keyfile, "/x/caf\xC3\xA9");
    cr_assert_eq(conf.server.verify, EN_VERIFY_PEER);
    cr_assert_eq(conf.server.fail_if_no_peer_cert, 1);
    cr_assert_eq(conf.server.depth, 2);
    cr_assert_str_eq(conf.server.password, "secret");
    cr_assert_str_eq(conf.server.dhfile, "/x/dh.pem");
    cr_assert_eq(conf.client.versions, EN_TLS_V13);
    cr_assert_str_eq(conf.client.ciphers, "TLS_AES_256_GCM_SHA384");
    cr_assert_eq(conf.client.sni_disable, 1);
    cr_assert_eq(conf.server.options_given, 8);
    cr_assert_eq(conf.client.options_given, 4);
    cr_assert_eq(w.count, 1);
    cr_assert(strstr(w.last, "-ssl_dist_opt client_secure_renegotiate has no "
                             "effect"),
              "%s", w.last);
    cr_assert_eq(en_tls_conf_set_opt(&conf, "client_server_name_indication",
                                     "peer.host", err, sizeof err),
                 0);
    cr_assert_str_eq(conf.client.sni_host, "peer.host");
    cr_assert_eq(conf.client.sni_disable, 0);
    en_tls_conf_free(&conf);
}

Test(tlsconf, ssl_dist_opt_errors)
{
    set_fails("certfile", "/x", "must start with server_ or client_");
    set_fails("server_frobnicate", "1",
              "-ssl_dist_opt server_frobnicate: "
              "unknown option");
    set_fails("server_depth", "2x", "\"2x\" is not an integer");
    set_fails("server_depth", "", "is not an integer");
    set_fails("server_depth", "-3", "non-negative");
    set_fails("server_verify", "yes", "must be verify_peer or verify_none");
    set_fails("client_fail_if_no_peer_cert", "true", "is a server option");
    set_fails("client_honor_cipher_order", "true",
              "put it in an "
              "ssl_dist_optfile");
    set_fails("client_versions", "tlsv1", "TLS 1.2 and 1.3 only");
    set_fails("server_verify_fun", "{m,f}", "is not a valid value");
    set_fails("server_fail_if_no_peer_cert", "maybe", "true or false");
}

/* A bad value that ei cannot print, such as an atom beyond Latin-1, is
 * still refused in words, and the text ei_s_print_term() made of it is
 * freed (found by tests/fuzz/fuzz_config; run under --sanitize,
 * LeakSanitizer fails this test if it leaks). */
Test(tlsconf, bad_values_that_ei_cannot_print)
{
    set_fails("client_versions", "tls\xd1\xb0", "versions must be a list");
    set_fails("server_verify", "\xe2\x82\xac", "verify_peer or verify_none");
    optfile_fails("[{client, [{versions, ['tls\xd1\xb0']}]}].",
                  "versions must be a list", NULL);
}

Test(tlsconf, optfile_wins_over_ssl_dist_opt)
{
    en_tls_conf_t conf;
    warnings_t w;
    char err[512] = "";
    conf_with_warnings(&conf, &w);
    /* Before the optfile: replaced by the optfile's entry. */
    cr_assert_eq(
        en_tls_conf_set_opt(&conf, "server_depth", "5", err, sizeof err), 0);
    cr_assert_eq(
        en_tls_conf_set_opt(&conf, "client_depth", "5", err, sizeof err), 0);
    read_ok(&conf, "[{server, [{verify, verify_none}]}].");
    cr_assert_eq(conf.server.depth, -1);
    cr_assert_eq(conf.client.depth, 5, "no client entry: kept");
    /* After: ignored, with a warning. */
    cr_assert_eq(
        en_tls_conf_set_opt(&conf, "server_depth", "7", err, sizeof err), 0);
    cr_assert_eq(conf.server.depth, -1);
    cr_assert(strstr(w.last, "ignored: the ssl_dist_optfile has a server "
                             "entry"),
              "%s", w.last);
    en_tls_conf_free(&conf);
}

/* ------------------------------------------------------------------ */
/* Contexts                                                            */
/* ------------------------------------------------------------------ */

Test(tlsconf, contexts_from_the_harness_options)
{
    en_tls_conf_t conf;
    harness_conf(&conf);
    wolfSSL_CTX_free(ctx_ok(&conf.server, EN_TLS_SERVER));
    wolfSSL_CTX_free(ctx_ok(&conf.client, EN_TLS_CLIENT));
    en_tls_conf_free(&conf);
}

Test(tlsconf, bad_role)
{
    en_tls_side_t side = {0};
    side.fail_if_no_peer_cert = side.depth = -1;
    ctx_fails(&side, 7, "role must be", NULL);
}

Test(tlsconf, missing_files)
{
    en_tls_conf_t conf;
    harness_conf(&conf);
    set_field(&conf.server.certfile, "/nonexistent/node.pem");
    ctx_fails(&conf.server, EN_TLS_SERVER,
              "cannot read certfile /nonexistent/node.pem: No such file", NULL);
    set_field(&conf.server.certfile, cert("node.pem"));
    set_field(&conf.server.keyfile, "/nonexistent/node.key");
    ctx_fails(&conf.server, EN_TLS_SERVER,
              "cannot read keyfile /nonexistent/node.key: No such file", NULL);
    set_field(&conf.server.keyfile, cert("node.key"));
    set_field(&conf.server.cacertfile, "/nonexistent/ca.pem");
    ctx_fails(&conf.server, EN_TLS_SERVER,
              "cannot read cacertfile /nonexistent/ca.pem: No such file", NULL);
    en_tls_conf_free(&conf);
}

Test(tlsconf, files_that_are_not_pem)
{
    en_tls_conf_t conf;
    harness_conf(&conf);
    set_field(&conf.client.certfile, cert("garbage.pem"));
    ctx_fails(&conf.client, EN_TLS_CLIENT, "holds no PEM certificate",
              "garbage.pem");
    set_field(&conf.client.certfile, cert("node.pem"));
    set_field(&conf.client.keyfile, cert("garbage.pem"));
    ctx_fails(&conf.client, EN_TLS_CLIENT, "holds no PEM private key",
              "keyfile");
    set_field(&conf.client.keyfile, cert("node.key"));
    set_field(&conf.client.cacertfile, cert("garbage.pem"));
    ctx_fails(&conf.client, EN_TLS_CLIENT, "cacertfile", "no usable PEM");
    set_field(&conf.client.cacertfile, cert("ca.pem"));
    set_field(&conf.server.dhfile, cert("garbage.pem"));
    ctx_fails(&conf.server, EN_TLS_SERVER, "dhfile", "DH parameters");
    set_field(&conf.server.dhfile, cert("dh.pem"));
    wolfSSL_CTX_free(ctx_ok(&conf.server, EN_TLS_SERVER));
    en_tls_conf_free(&conf);
}

Test(tlsconf, key_must_match_certificate)
{
    en_tls_conf_t conf;
    harness_conf(&conf);
    set_field(&conf.server.keyfile, cert("other.key"));
    ctx_fails(&conf.server, EN_TLS_SERVER, "does not match certfile",
              "other.key");
    set_field(&conf.client.keyfile, cert("rogue.key"));
    ctx_fails(&conf.client, EN_TLS_CLIENT, "does not match", NULL);
    en_tls_conf_free(&conf);
}

Test(tlsconf, key_in_the_certfile)
{
    en_tls_conf_t conf;
    harness_conf(&conf);
    set_field(&conf.server.certfile, cert("combined.pem"));
    set_field(&conf.server.keyfile, NULL);
    wolfSSL_CTX_free(ctx_ok(&conf.server, EN_TLS_SERVER));
    set_field(&conf.server.certfile, cert("node.pem"));
    ctx_fails(&conf.server, EN_TLS_SERVER, "certfile", "give a keyfile");
    en_tls_conf_free(&conf);
}

Test(tlsconf, encrypted_keys)
{
    static const char *const keys[] = {"enc8.key", "enctrad.key"};
    en_tls_conf_t conf;
    harness_conf(&conf);
    for (size_t i = 0; i < 2; i++) {
        set_field(&conf.server.keyfile, cert(keys[i]));
        set_field(&conf.server.password, NULL);
        ctx_fails(&conf.server, EN_TLS_SERVER, "holds an encrypted key",
                  "password option");
        /* A wrong password fails to decrypt, or (with old-style PEM
         * encryption, which has no integrity check) gives a wrong key. */
        set_field(&conf.server.password, "wrong");
        ctx_fails(&conf.server, EN_TLS_SERVER, "password", keys[i]);
        set_field(&conf.server.password, "secret");
        wolfSSL_CTX_free(ctx_ok(&conf.server, EN_TLS_SERVER));
    }
    en_tls_conf_free(&conf);
}

Test(tlsconf, verification_rules)
{
    en_tls_conf_t conf;
    harness_conf(&conf);
    set_field(&conf.client.cacertfile, NULL);
    ctx_fails(&conf.client, EN_TLS_CLIENT, "verify_peer needs a cacertfile",
              NULL);
    conf.client.verify = EN_VERIFY_DEFAULT; /* so: verify_none */
    wolfSSL_CTX_free(ctx_ok(&conf.client, EN_TLS_CLIENT));
    conf.server.verify = EN_VERIFY_NONE;
    ctx_fails(&conf.server, EN_TLS_SERVER,
              "fail_if_no_peer_cert needs "
              "verify_peer",
              NULL);
    conf.server.fail_if_no_peer_cert = 0;
    wolfSSL_CTX_free(ctx_ok(&conf.server, EN_TLS_SERVER));
    set_field(&conf.server.certfile, NULL);
    set_field(&conf.server.keyfile, NULL);
    ctx_fails(&conf.server, EN_TLS_SERVER, "server side needs a certfile",
              NULL);
    set_field(&conf.client.certfile, NULL);
    ctx_fails(&conf.client, EN_TLS_CLIENT, "keyfile", "without a certfile");
    set_field(&conf.client.keyfile, NULL);
    wolfSSL_CTX_free(ctx_ok(&conf.client, EN_TLS_CLIENT));
    en_tls_conf_free(&conf);
}

Test(tlsconf, ciphers)
{
    en_tls_conf_t conf;
    harness_conf(&conf);
    set_field(&conf.client.ciphers, "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                    "TLS_AES_256_GCM_SHA384");
    wolfSSL_CTX_free(ctx_ok(&conf.client, EN_TLS_CLIENT));
    set_field(&conf.client.ciphers, "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                    "NO-SUCH-CIPHER");
    ctx_fails(&conf.client, EN_TLS_CLIENT, "\"NO-SUCH-CIPHER\"", NULL);
    en_tls_conf_free(&conf);
}

/* ------------------------------------------------------------------ */
/* Handshakes between the contexts                                     */
/* ------------------------------------------------------------------ */

static void nonblocking(int fd)
{
    cr_assert_neq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), -1);
}

/* One step of a non-blocking handshake: 1 done, 0 again, -1 failed. */
static int step(WOLFSSL *ssl, int is_client)
{
    int r = is_client ? wolfSSL_connect(ssl) : wolfSSL_accept(ssl);
    if (r == WOLFSSL_SUCCESS)
        return 1;
    int e = wolfSSL_get_error(ssl, r);
    return e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE ? 0
                                                                         : -1;
}

/* The key exchange group of the last handshake, as wolfSSL names it. */
static char last_group[32];
/* The error of the side that failed in the last handshake, or 0. */
static int last_error;

/* Step the server s and the client c in turn until both are through
 * (state 1) or one failed (state < 0), at most 200 rounds. */
static void drive(WOLFSSL *s, WOLFSSL *c, int *s_state, int *c_state)
{
    for (int i = 0; i < 200 && (*s_state == 0 || *c_state == 0); i++) {
        if (*c_state == 0)
            *c_state = step(c, 1);
        if (*s_state == 0)
            *s_state = step(s, 0);
        if (*s_state < 0 || *c_state < 0)
            break;
    }
}

/* Handshake over a socketpair between two contexts, each session
 * refreshed first as tls.c does; returns 0 and the client's view of the
 * version, or -1. */
static int handshake_ctx(WOLFSSL_CTX *sctx, WOLFSSL_CTX *cctx, char *version,
                         size_t size)
{
    int fds[2];
    char err[512];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblocking(fds[0]);
    nonblocking(fds[1]);
    WOLFSSL *s = wolfSSL_new(sctx), *c = wolfSSL_new(cctx);
    cr_assert_eq(en_tls_session_refresh(s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(en_tls_session_refresh(c, err, sizeof err), 0, "%s", err);
    wolfSSL_set_fd(s, fds[0]);
    wolfSSL_set_fd(c, fds[1]);
    int s_state = 0, c_state = 0;
    drive(s, c, &s_state, &c_state);
    /* and the check tls.c makes after wolfSSL's */
    if (s_state == 1 && en_tls_check_session(s, err, sizeof err) < 0)
        s_state = -1;
    if (c_state == 1 && en_tls_check_session(c, err, sizeof err) < 0)
        c_state = -1;
    snprintf(version, size, "%s", wolfSSL_get_version(c));
    const char *group = wolfSSL_get_curve_name(c);
    snprintf(last_group, sizeof last_group, "%s", group ? group : "");
    last_error = s_state < 0   ? wolfSSL_get_error(s, 0)
                 : c_state < 0 ? wolfSSL_get_error(c, 0)
                               : 0;
    en_tls_chain_forget(s); /* as en_tls_free() does */
    en_tls_chain_forget(c);
    wolfSSL_free(s);
    wolfSSL_free(c);
    close(fds[0]);
    close(fds[1]);
    return s_state == 1 && c_state == 1 ? 0 : -1;
}

/* The same with contexts made for the two sides. */
static int handshake(en_tls_side_t *server, en_tls_side_t *client,
                     char *version, size_t size)
{
    WOLFSSL_CTX *sctx = ctx_ok(server, EN_TLS_SERVER);
    WOLFSSL_CTX *cctx = ctx_ok(client, EN_TLS_CLIENT);
    int r = handshake_ctx(sctx, cctx, version, size);
    wolfSSL_CTX_free(sctx);
    wolfSSL_CTX_free(cctx);
    return r;
}

/* What the server made of a handshake in which the client offered to
 * resume a session. */
typedef struct resumption {
    WOLFSSL_SESSION *client_session; /* to offer next time */
    int resumed;                     /* the server took the offer */
    int chain;                       /* the server has the client's chain */
} resumption_t;

/* A handshake between sctx and cctx in which the client offers the
 * session `offer` (NULL: none); 0 when it went through. */
static int handshake_offering(WOLFSSL_CTX *sctx, WOLFSSL_CTX *cctx,
                              WOLFSSL_SESSION *offer, resumption_t *r)
{
    int fds[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    nonblocking(fds[0]);
    nonblocking(fds[1]);
    WOLFSSL *s = wolfSSL_new(sctx), *c = wolfSSL_new(cctx);
    wolfSSL_set_fd(s, fds[0]);
    wolfSSL_set_fd(c, fds[1]);
    /* wolfSSL refuses a session the server gave no ID: nothing to offer */
    if (offer)
        wolfSSL_set_session(c, offer);
    int s_state = 0, c_state = 0;
    drive(s, c, &s_state, &c_state);
    const unsigned char *der;
    size_t len;
    r->resumed = wolfSSL_session_reused(s);
    r->chain = en_tls_chain_cert(s, 0, &der, &len) == 1;
    r->client_session = wolfSSL_get1_session(c);
    en_tls_chain_forget(s);
    en_tls_chain_forget(c);
    wolfSSL_free(s);
    wolfSSL_free(c);
    close(fds[0]);
    close(fds[1]);
    return s_state == 1 && c_state == 1 ? 0 : -1;
}

/* A client of wolfSSL's own, with the session cache and the client's
 * certificate of conf, that verifies nothing: it offers to resume. */
static WOLFSSL_CTX *resuming_client(const en_tls_side_t *side)
{
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLSv1_2_client_method());
    cr_assert_not_null(ctx);
    cr_assert_eq(wolfSSL_CTX_use_certificate_file(ctx, side->certfile,
                                                  WOLFSSL_FILETYPE_PEM),
                 WOLFSSL_SUCCESS);
    cr_assert_eq(wolfSSL_CTX_use_PrivateKey_file(ctx, side->keyfile,
                                                 WOLFSSL_FILETYPE_PEM),
                 WOLFSSL_SUCCESS);
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    return ctx;
}

/* A peer that offers to resume a session gets a full handshake, with
 * its chain for verify_fun and the allow list: a resumed one brings no
 * certificate. */
Test(tlsconf, no_session_is_resumed)
{
    en_tls_conf_t conf;
    resumption_t first, second;
    harness_conf(&conf);
    WOLFSSL_CTX *sctx = ctx_ok(&conf.server, EN_TLS_SERVER);
    WOLFSSL_CTX *cctx = resuming_client(&conf.client);
    cr_assert_eq(handshake_offering(sctx, cctx, NULL, &first), 0);
    cr_assert(first.chain);
    cr_assert_not_null(first.client_session);
    cr_assert_eq(
        handshake_offering(sctx, cctx, first.client_session, &second), 0);
    cr_assert_not(second.resumed, "the server resumed the session");
    cr_assert(second.chain, "no chain from the client");
    wolfSSL_SESSION_free(first.client_session);
    wolfSSL_SESSION_free(second.client_session);
    wolfSSL_CTX_free(sctx);
    wolfSSL_CTX_free(cctx);
    en_tls_conf_free(&conf);
}

Test(tlsconf, handshake_uses_tls12_when_options_lack_versions)
{
    en_tls_conf_t conf;
    char version[32];
    harness_conf(&conf);
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(version, "TLSv1.2",
                     "OTP's rule: options without "
                     "versions mean TLS 1.2");
    en_tls_conf_free(&conf);
}

Test(tlsconf, handshake_with_versions)
{
    en_tls_conf_t conf;
    char version[32];
    harness_conf(&conf);
    conf.server.versions = EN_TLS_V12 | EN_TLS_V13;
    conf.client.versions = EN_TLS_V13;
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(version, "TLSv1.3");
    conf.client.versions = EN_TLS_V12 | EN_TLS_V13;
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(version, "TLSv1.3");
    conf.server.versions = EN_TLS_V12;
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(version, "TLSv1.2");
    conf.client.versions = EN_TLS_V13;
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 -1, "1.2-only server, 1.3-only client");
    en_tls_conf_free(&conf);
}

Test(tlsconf, handshake_checks_peer_certificates)
{
    en_tls_conf_t conf;
    char version[32];
    harness_conf(&conf);
    /* A client without a certificate, when the server insists. */
    set_field(&conf.client.certfile, NULL);
    set_field(&conf.client.keyfile, NULL);
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 -1);
    conf.server.fail_if_no_peer_cert = 0;
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    /* A client whose certificate no configured CA signed. */
    set_field(&conf.client.certfile, cert("rogue.pem"));
    set_field(&conf.client.keyfile, cert("rogue.key"));
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 -1);
    /* A server the client cannot verify. */
    set_field(&conf.client.certfile, cert("node.pem"));
    set_field(&conf.client.keyfile, cert("node.key"));
    set_field(&conf.client.cacertfile, cert("rogue_ca.pem"));
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 -1);
    conf.client.verify = EN_VERIFY_NONE;
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    en_tls_conf_free(&conf);
}

Test(tlsconf, handshake_with_an_encrypted_key_and_depth)
{
    en_tls_conf_t conf;
    char version[32];
    harness_conf(&conf);
    set_field(&conf.server.keyfile, cert("enc8.key"));
    set_field(&conf.server.password, "secret");
    /* OTP's depth 0: the peer is signed by the trusted CA directly. */
    conf.client.depth = 0;
    conf.server.depth = 100; /* more than wolfSSL takes: its most */
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    en_tls_conf_free(&conf);
}

Test(tlsconf, crl_options)
{
    en_tls_conf_t conf;
    warnings_t w;
    char err[512];
    conf_with_warnings(&conf, &w);
    cr_assert_eq(en_tls_conf_read_optfile(
                     &conf,
                     optfile("[{client, [{crl_check, best_effort}, "
                             "{crl_cache, {ssl_crl_hash_dir, {internal, "
                             "[{dir, \"/etc/crl\"}]}}}]}]."),
                     err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(conf.client.crl_check, 3);
    cr_assert_str_eq(conf.client.crl_dir, "/etc/crl");
    en_tls_conf_free(&conf);
    /* -ssl_dist_opt takes the cache as term text, as OTP does */
    conf_with_warnings(&conf, &w);
    cr_assert_eq(en_tls_conf_set_opt(&conf, "server_crl_check", "peer", err,
                                     sizeof err), 0, "%s", err);
    cr_assert_eq(en_tls_conf_set_opt(&conf, "server_crl_cache",
                                     "{ssl_crl_hash_dir, {internal, "
                                     "[{dir, \"/c\"}]}}", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(conf.server.crl_check, 2);
    cr_assert_str_eq(conf.server.crl_dir, "/c");
    cr_assert_eq(en_tls_conf_set_opt(&conf, "server_crl_cache", "{oops",
                                     err, sizeof err), -1);
    en_tls_conf_free(&conf);
    /* OTP's default cache, with its timeout and the hosts it may ask */
    conf_with_warnings(&conf, &w);
    cr_assert_eq(en_tls_conf_read_optfile(
                     &conf,
                     optfile("[{client, [{crl_check, true}, "
                             "{crl_cache, {ssl_crl_cache, {internal, "
                             "[{http, 5000}, {allowed_hosts, "
                             "[\"crl.example:8080\", <<\"ca\">>]}]}}}]}]."),
                     err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(conf.client.crl_http_ms, 5000);
    cr_assert_null(conf.client.crl_dir);
    cr_assert_eq(conf.client.n_crl_allowed, 2);
    cr_assert_str_eq(conf.client.crl_allowed[0], "crl.example:8080");
    cr_assert_str_eq(conf.client.crl_allowed[1], "ca");
    en_tls_conf_free(&conf);
    /* the last crl_cache given wins */
    conf_with_warnings(&conf, &w);
    cr_assert_eq(en_tls_conf_set_opt(&conf, "client_crl_cache",
                                     "{ssl_crl_cache, {internal, "
                                     "[{http, 700}, {allowed_hosts, "
                                     "[\"h\"]}]}}", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(en_tls_conf_set_opt(&conf, "client_crl_cache",
                                     "{ssl_crl_hash_dir, {internal, "
                                     "[{dir, \"/d\"}]}}", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(conf.client.crl_http_ms, 0);
    cr_assert_eq(conf.client.n_crl_allowed, 0);
    cr_assert_eq(en_tls_conf_set_opt(&conf, "client_crl_cache",
                                     "{ssl_crl_cache, {internal, "
                                     "[{http, 700}]}}", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(conf.client.crl_http_ms, 700);
    cr_assert_null(conf.client.crl_dir);
    en_tls_conf_free(&conf);
    /* crl_check needs the directory, and the directory must exist */
    harness_conf(&conf);
    conf.client.crl_check = 1;
    ctx_fails(&conf.client, EN_TLS_CLIENT, "crl_check needs crl_cache", NULL);
    set_field(&conf.client.crl_dir, "/nonexistent/crl");
    ctx_fails(&conf.client, EN_TLS_CLIENT, "cannot read directory", NULL);
    en_tls_conf_free(&conf);
}

/* ------------------------------------------------------------------ */
/* Groups and signature algorithms                                     */
/* ------------------------------------------------------------------ */

/* Read `options` as the client's list of an optfile. */
static void client_options(en_tls_conf_t *conf, warnings_t *w,
                           const char *options)
{
    char text[1024], err[512] = "";
    snprintf(text, sizeof text, "[{client, [%s]}].", options);
    conf_with_warnings(conf, w);
    const char *path = optfile(text);
    cr_assert_eq(en_tls_conf_read_optfile(conf, path, err, sizeof err), 0,
                 "%s: %s", text, err);
    unlink(path);
}

Test(tlsconf, groups_and_signature_algorithms_are_read)
{
    en_tls_conf_t conf;
    warnings_t w;
    client_options(&conf, &w,
                   "{eccs, [secp384r1, x25519, secp384r1]},"
                   "{supported_groups, [x448]},"
                   "{signature_algs, [ecdsa_secp256r1_sha256, {sha384, ecdsa},"
                   " rsa_pss_rsae_sha256, rsa_pss_pss_sha256, ed25519,"
                   " {sha, rsa}, ecdsa_secp256r1_sha256]}");
    cr_assert_eq(conf.client.n_eccs, 2, "a repeated curve counts once");
    cr_assert_eq(conf.client.n_groups, 1);
    cr_assert_eq(conf.client.n_sigalgs, 6);
    cr_assert_eq(w.count, 0, "%s", w.last);
    en_tls_conf_free(&conf);

    /* one of wolfSSL's RSA-PSS pairs alone: it offers the other too */
    client_options(&conf, &w, "{signature_algs, [rsa_pss_rsae_sha384]}");
    cr_assert_eq(w.count, 1);
    cr_assert(strstr(w.last, "rsa_pss_pss_sha384"), "%s", w.last);
    en_tls_conf_free(&conf);

    /* OTP ignores eccs when the side speaks TLS 1.3 only; we say so */
    client_options(&conf, &w, "{versions, ['tlsv1.3']}, {eccs, [x25519]}");
    cr_assert_eq(w.count, 1);
    cr_assert(strstr(w.last, "eccs has no effect"), "%s", w.last);
    en_tls_conf_free(&conf);
}

Test(tlsconf, groups_and_signature_algorithms_errors)
{
    optfile_fails("[{client, [{eccs, [brainpoolP256r1]}]}].",
                  "client option eccs: enode cannot offer brainpoolP256r1",
                  "x25519, x448, secp256r1, secp384r1 and secp521r1");
    optfile_fails("[{client, [{eccs, []}]}].", "eccs", "non-empty list");
    optfile_fails("[{client, [{eccs, secp256r1}]}].", "eccs",
                  "non-empty list");
    optfile_fails("[{client, [{eccs, [\"secp256r1\"]}]}].",
                  "cannot offer \"secp256r1\"", NULL);
    optfile_fails("[{server, [{supported_groups, [ffdhe2048]}]}].",
                  "server option supported_groups: enode cannot offer "
                  "ffdhe2048", NULL);
    optfile_fails("[{client, [{signature_algs, [{md5, rsa}]}]}].",
                  "signature_algs: enode cannot use {md5, rsa}", NULL);
    optfile_fails("[{client, [{signature_algs, [{sha256, dsa}]}]}].",
                  "enode cannot use {sha256, dsa}", NULL);
    optfile_fails("[{client, [{signature_algs, "
                  "[ecdsa_brainpoolP256r1tls13_sha256]}]}].",
                  "cannot use ecdsa_brainpoolP256r1tls13_sha256", NULL);
    optfile_fails("[{client, [{signature_algs, [{sha256}]}]}].",
                  "cannot use {sha256}", NULL);
    optfile_fails("[{client, [{signature_algs, []}]}].", "signature_algs",
                  "non-empty list");
    optfile_fails("[{client, [{signature_algs_cert, [ed25519]}]}].",
                  "signature_algs_cert is not supported",
                  "signature_algorithms_cert");
    set_fails("client_eccs", "[x25519]", "put it in an ssl_dist_optfile");
}

Test(tlsconf, groups_need_the_right_versions)
{
    en_tls_conf_t conf;
    harness_conf(&conf);
    /* supported_groups is TLS 1.3's; this side speaks 1.2 only */
    conf.client.groups[0] = 0;
    conf.client.n_groups = 1;
    ctx_fails(&conf.client, EN_TLS_CLIENT, "supported_groups is for TLS 1.3",
              NULL);
    /* one wolfSSL list for both versions: two different lists refused */
    conf.client.versions = EN_TLS_V12 | EN_TLS_V13;
    conf.client.eccs[0] = 2;
    conf.client.n_eccs = 1;
    ctx_fails(&conf.client, EN_TLS_CLIENT, "eccs and supported_groups differ",
              NULL);
    conf.client.eccs[0] = 0;
    wolfSSL_CTX_free(ctx_ok(&conf.client, EN_TLS_CLIENT));
    en_tls_conf_free(&conf);
}

/* Set a side's eccs and supported_groups through the optfile reader. */
static void set_groups_of(en_tls_side_t *side, const char *side_name,
                          const char *options)
{
    en_tls_conf_t conf;
    warnings_t w;
    char text[512], err[512] = "";
    snprintf(text, sizeof text, "[{%s, [%s]}].", side_name, options);
    conf_with_warnings(&conf, &w);
    const char *path = optfile(text);
    cr_assert_eq(en_tls_conf_read_optfile(&conf, path, err, sizeof err), 0,
                 "%s", err);
    unlink(path);
    en_tls_side_t *from = strcmp(side_name, "server") == 0 ? &conf.server
                                                           : &conf.client;
    memcpy(side->eccs, from->eccs, sizeof side->eccs);
    memcpy(side->groups, from->groups, sizeof side->groups);
    memcpy(side->sigalgs, from->sigalgs, sizeof side->sigalgs);
    side->n_eccs = from->n_eccs;
    side->n_groups = from->n_groups;
    side->n_sigalgs = from->n_sigalgs;
    en_tls_conf_free(&conf);
}

Test(tlsconf, handshake_with_restricted_groups)
{
    en_tls_conf_t conf;
    char version[32];
    /* TLS 1.2 (options without versions): the server's eccs decide */
    harness_conf(&conf);
    set_groups_of(&conf.server, "server", "{eccs, [secp384r1]}");
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(version, "TLSv1.2");
    cr_assert_str_eq(last_group, "SECP384R1");
    set_groups_of(&conf.client, "client", "{eccs, [x25519, secp384r1]}");
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(last_group, "SECP384R1");
    /* and the client's alone */
    set_groups_of(&conf.server, "server", "");
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(last_group, "X25519");
    /* nothing in common: refused */
    set_groups_of(&conf.server, "server", "{eccs, [secp256r1]}");
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 -1, "group %s", last_group);
    en_tls_conf_free(&conf);

    /* TLS 1.3: supported_groups; the server asks for another key share */
    harness_conf(&conf);
    conf.server.versions = conf.client.versions = EN_TLS_V13;
    set_groups_of(&conf.server, "server", "{supported_groups, [secp521r1]}");
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(version, "TLSv1.3");
    cr_assert_str_eq(last_group, "SECP521R1");
    set_groups_of(&conf.client, "client", "{supported_groups, [x448]}");
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 -1);
    /* both versions: eccs alone serves TLS 1.3 too */
    conf.server.versions = conf.client.versions = EN_TLS_V12 | EN_TLS_V13;
    set_groups_of(&conf.server, "server", "{eccs, [x448]}");
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    cr_assert_str_eq(version, "TLSv1.3");
    cr_assert_str_eq(last_group, "X448");
    en_tls_conf_free(&conf);
}

Test(tlsconf, handshake_with_restricted_signature_algorithms)
{
    en_tls_conf_t conf;
    char version[32];
    for (unsigned v = EN_TLS_V12; v <= EN_TLS_V13; v++) {
        harness_conf(&conf);
        conf.server.versions = conf.client.versions = v;
        /* our certificates are ECDSA P-256 */
        set_groups_of(&conf.client, "client",
                      "{signature_algs, [{sha256, ecdsa}]}");
        cr_assert_eq(handshake(&conf.server, &conf.client, version,
                               sizeof version),
                     0, "version %u", v);
        /* a server that cannot sign as the client asks */
        set_groups_of(&conf.client, "client",
                      "{signature_algs, [rsa_pss_rsae_sha256]}");
        cr_assert_eq(handshake(&conf.server, &conf.client, version,
                               sizeof version),
                     -1, "version %u", v);
        en_tls_conf_free(&conf);
    }
}

/* ------------------------------------------------------------------ */
/* CRLs: the directory, and reading it again                           */
/* ------------------------------------------------------------------ */

/* A fresh CRL directory; returns its path (static). */
static const char *crl_dir(void)
{
    static char dir[64];
    strcpy(dir, "/tmp/enode-crl-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

/* The CA's CRL hash, as openssl rehash names the file. */
static const char *crl_hash(void)
{
    static char hash[16];
    FILE *f = fopen(cert("crl.hash"), "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(hash, sizeof hash, f));
    fclose(f);
    hash[strcspn(hash, "\n")] = 0;
    return hash;
}

/* Put a copy of the test file `from` into dir as `name` (NULL: remove
 * name), replacing it atomically as a careful operator would. */
static void put_crl(const char *dir, const char *name, const char *from)
{
    char cmd[1024];
    if (from)
        snprintf(cmd, sizeof cmd, "cp '%s' '%s/.new' && mv '%s/.new' '%s/%s'",
                 cert(from), dir, dir, dir, name);
    else
        snprintf(cmd, sizeof cmd, "rm -f '%s/%s'", dir, name);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void rm_dir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(tlsconf, crls_are_read_again_when_the_directory_changes)
{
    en_tls_conf_t conf;
    char version[32], name[32];
    const char *dir = crl_dir();
    snprintf(name, sizeof name, "%s.r0", crl_hash());
    put_crl(dir, name, "empty.crl");
    /* files that are not <hash>.r<N> are not read, as in OTP */
    put_crl(dir, "README", "garbage.pem");
    put_crl(dir, "00000000.0", "garbage.pem");
    harness_conf(&conf);
    conf.server.crl_check = 1;
    set_field(&conf.server.crl_dir, dir);
    WOLFSSL_CTX *sctx = ctx_ok(&conf.server, EN_TLS_SERVER);
    WOLFSSL_CTX *cctx = ctx_ok(&conf.client, EN_TLS_CLIENT);
    cr_assert_eq(handshake_ctx(sctx, cctx, version, sizeof version), 0);

    put_crl(dir, name, "revoked.crl");
    cr_assert_eq(handshake_ctx(sctx, cctx, version, sizeof version), -1,
                 "a CRL revoking the client, put in place after start-up");
    cr_assert_eq(last_error, CRL_CERT_REVOKED);

    put_crl(dir, name, NULL);
    cr_assert_eq(handshake_ctx(sctx, cctx, version, sizeof version), -1);
    cr_assert_eq(last_error, CRL_MISSING);

    put_crl(dir, name, "empty.crl");
    cr_assert_eq(handshake_ctx(sctx, cctx, version, sizeof version), 0);

    /* DER, as OTP also takes it, in place (same inode, new contents) */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat '%s' > '%s/%s'", cert("revoked.der"), dir,
             name);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(handshake_ctx(sctx, cctx, version, sizeof version), -1);
    cr_assert_eq(last_error, CRL_CERT_REVOKED);

    /* a file that is not a CRL is skipped, as OTP does: no CRL then */
    put_crl(dir, name, "garbage.pem");
    cr_assert_eq(handshake_ctx(sctx, cctx, version, sizeof version), -1);
    cr_assert_eq(last_error, CRL_MISSING);
    wolfSSL_CTX_free(sctx);
    wolfSSL_CTX_free(cctx);
    en_tls_conf_free(&conf);
    rm_dir(dir);
}

Test(tlsconf, crl_best_effort_and_start_up_errors)
{
    en_tls_conf_t conf;
    char version[32], name[32];
    const char *dir = crl_dir();
    snprintf(name, sizeof name, "%s.r0", crl_hash());
    harness_conf(&conf);
    set_field(&conf.server.crl_dir, dir);
    /* an empty directory: true would refuse everyone, best_effort no one */
    conf.server.crl_check = 1;
    ctx_fails(&conf.server, EN_TLS_SERVER, "holds no CRL", NULL);
    conf.server.crl_check = 3;
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 0);
    /* best_effort still refuses a revoked certificate */
    put_crl(dir, name, "revoked.crl");
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 -1);
    cr_assert_eq(last_error, CRL_CERT_REVOKED);
    /* peer: the same for a certificate the CA signed directly */
    conf.server.crl_check = 2;
    cr_assert_eq(handshake(&conf.server, &conf.client, version, sizeof version),
                 -1);
    /* at start-up, a file that is not a CRL is an error naming it */
    put_crl(dir, name, "garbage.pem");
    ctx_fails(&conf.server, EN_TLS_SERVER, name, "is not a CRL");
    en_tls_conf_free(&conf);
    rm_dir(dir);
}
