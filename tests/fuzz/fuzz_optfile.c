/* fuzz_optfile.c - libFuzzer target for the ssl_dist_optfile reader.
 *
 * The input is the text of an optfile; en_tls_conf_parse_optfile() reads
 * it as en_tls_conf_read_optfile() reads a file. Besides not crashing,
 * the reader promises (tlsconf.h):
 *   - an error is -1 with a sentence that names the optfile;
 *   - every warning is a sentence;
 *   - what it read is sane: strings non-empty and NUL-terminated (an
 *     empty string means "not given"), versions only 1.2 and 1.3, depth,
 *     verify, fail_if_no_peer_cert and crl_check in their ranges;
 *   - en_tls_conf_free() frees everything (LeakSanitizer checks) and
 *     leaves the configuration as en_tls_conf_init() made it, warning
 *     callback kept.
 * Reading the same text a second time into the same configuration must
 * give the same answer (a later entry replaces an earlier one).
 *
 * Seeds (tests/fuzz/corpus/optfile): the optfile that the cluster
 * harness writes for the certificates of tests/cluster/mkcerts.sh, the
 * variants tests/cluster/test_tls.c writes (versions, ciphers, CRLs from
 * a directory and over HTTP, a key password), doc/tls.md's example, and the value forms and errors of
 * tests/unit/test_tlsconf.c.
 *
 * Build with libFuzzer: make fuzz (see README.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tlsconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_main.c runs fewer inputs here: each one is read twice. */
extern const unsigned long fuzz_iterations;
const unsigned long fuzz_iterations = 10000;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static int warnings;

static void on_warning(void *arg, const char *message)
{
    CHECK(arg == &warnings);
    CHECK(message && message[0] != '\0');
    warnings++;
}

static void check_string(const char *s)
{
    if (s)
        CHECK(s[0] != '\0' && strlen(s) < 1024 * 1024);
}

static void check_side(const en_tls_side_t *s)
{
    check_string(s->certfile);
    check_string(s->keyfile);
    check_string(s->cacertfile);
    check_string(s->password);
    check_string(s->dhfile);
    check_string(s->ciphers);
    check_string(s->sni_host);
    check_string(s->crl_dir);
    /* one crl_cache: a directory, or over HTTP with its allowed hosts */
    CHECK(s->crl_http_ms >= 0 && !(s->crl_http_ms && s->crl_dir));
    CHECK(s->n_crl_allowed >= 0 && (s->n_crl_allowed == 0) ==
                                       (s->crl_allowed == NULL));
    CHECK(s->crl_http_ms > 0 || s->n_crl_allowed == 0);
    for (int i = 0; i < s->n_crl_allowed; i++)
        CHECK(s->crl_allowed[i] && s->crl_allowed[i][0] != '\0');
    CHECK(s->verify == EN_VERIFY_DEFAULT || s->verify == EN_VERIFY_NONE ||
          s->verify == EN_VERIFY_PEER);
    CHECK(s->fail_if_no_peer_cert >= -1 && s->fail_if_no_peer_cert <= 1);
    CHECK(s->depth >= -1);
    CHECK((s->versions & ~(EN_TLS_V12 | EN_TLS_V13)) == 0);
    CHECK(s->crl_check >= 0 && s->crl_check <= 3);
    CHECK(s->options_given >= 0);
    (void)en_tls_side_verifies(s);
}

static void check_fresh(const en_tls_conf_t *c)
{
    en_tls_conf_t fresh;
    en_tls_conf_init(&fresh);
    fresh.warn = on_warning;
    fresh.warn_arg = (void *)&warnings;
    CHECK(memcmp(c, &fresh, sizeof fresh) == 0);
}

static int parse(en_tls_conf_t *conf, const uint8_t *data, size_t size,
                 char *err, size_t errlen)
{
    err[0] = '\0';
    int rc = en_tls_conf_parse_optfile(conf, "fuzz.conf", (const char *)data,
                                       size, err, errlen);
    CHECK(rc == 0 || rc == -1);
    if (rc < 0)
        CHECK(strstr(err, "ssl_dist_optfile") != NULL &&
              memchr(err, '\0', errlen) != NULL);
    else
        CHECK(err[0] == '\0');
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char err[512], again[512];
    en_tls_conf_t conf;
    en_tls_conf_init(&conf);
    conf.warn = on_warning;
    conf.warn_arg = &warnings;
    warnings = 0;

    int rc = parse(&conf, data, size, err, sizeof err);
    if (rc == 0) {
        check_side(&conf.server);
        check_side(&conf.client);
        if (conf.server.options_given + conf.client.options_given > 0)
            CHECK(conf.any_option_given);
        /* Once more over what it read: entries replace, answers repeat. */
        int first_warnings = warnings;
        CHECK(parse(&conf, data, size, again, sizeof again) == 0);
        CHECK(warnings == 2 * first_warnings);
        check_side(&conf.server);
        check_side(&conf.client);
    }
    en_tls_conf_free(&conf);
    check_fresh(&conf);
    return 0;
}
