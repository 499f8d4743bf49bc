/* fuzz_config.c - libFuzzer target for enode_config_from_args().
 *
 * The input is an argv: its NUL-separated pieces, at most 64, each in an
 * exact-size heap copy, in an array of argc + 1 pointers ending in NULL,
 * as a program's main() gets them (argc is 0 for the empty input, as
 * execve() allows). Once the arguments are freed, the configuration is
 * taken further the way enode_new() takes it, without sockets: the
 * -ssl_dist_opt pairs go to en_tls_conf_set_opt() (which reads some
 * values as Erlang term text), and a node name with a host goes to
 * en_node_full_name() and en_node_split(). The fields are read through
 * the private node/config_int.h.
 *
 * Promises checked:
 *   - success: the flags are gone from argv, the other arguments stay in
 *     order after argv[0], argv[argc] is NULL, every string in the
 *     configuration is a copy of one of the arguments (so that argv may
 *     go), and numbers are in range;
 *   - failure: ENODE_EINVAL with a sentence;
 *   - en_tls_conf_set_opt() and en_node_full_name() answer 0, or -1 with
 *     a sentence.
 *
 * Seeds (tests/fuzz/corpus/config): the command lines of README.md,
 * doc/tls.md, the cluster tests and the enode-call tests.
 *
 * Build with libFuzzer: make fuzz (see README.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enode.h"
#include "base/names.h"
#include "node/config_int.h"
#include "tls/tlsconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

#define MAX_ARGS 64

static void ignore_warning(void *arg, const char *message)
{
    (void)arg;
    CHECK(message && message[0] != '\0');
}

/* s is NULL, or a copy of one of the original arguments (not the
 * argument itself). */
static int is_arg(const char *s, char **orig, int n)
{
    int copy = 0;

    if (!s)
        return 1;
    for (int i = 0; i < n; i++) {
        if (s == orig[i])
            return 0;
        if (strcmp(s, orig[i]) == 0)
            copy = 1;
    }
    return copy;
}

static int port_ok(int port)
{
    return port >= 0 && port <= 65535;
}

static void check_config(const enode_config_t *c, char **orig, int n)
{
    CHECK(is_arg(c->name, orig, n));
    CHECK(is_arg(c->cookie, orig, n));
    CHECK(is_arg(c->ssl_dist_optfile, orig, n));
    CHECK(c->proto == ENODE_PROTO_TLS || c->proto == ENODE_PROTO_TCP);
    CHECK(c->net_ticktime >= 1 && c->net_ticktime <= 86400);
    CHECK(c->setup_time_ms >= 1000 && c->setup_time_ms <= 3600 * 1000);
    CHECK(port_ok(c->epmd_port) && port_ok(c->dist_port) &&
          port_ok(c->listen_min) && port_ok(c->listen_max));
    CHECK(c->max_message_size == ENODE_DEFAULT_MAX_MESSAGE);
    CHECK(c->n_ssl_dist_opts >= 0 &&
          c->n_ssl_dist_opts <= c->room_ssl_dist_opts);
    for (int i = 0; i < 2 * c->n_ssl_dist_opts; i++)
        CHECK(c->ssl_dist_opts[i] && is_arg(c->ssl_dist_opts[i], orig, n));
}

/* What enode_new() does with it, short of sockets and files. */
static void take_further(const enode_config_t *c)
{
    char err[512];
    en_tls_conf_t tls;
    en_tls_conf_init(&tls);
    tls.warn = ignore_warning;
    for (int i = 0; i < c->n_ssl_dist_opts; i++) {
        err[0] = '\0';
        int rc = en_tls_conf_set_opt(&tls, c->ssl_dist_opts[2 * i],
                                     c->ssl_dist_opts[2 * i + 1], err,
                                     sizeof err);
        CHECK(rc == 0 || (rc == -1 && err[0] != '\0'));
        if (rc < 0)
            break;
    }
    en_tls_conf_free(&tls);

    /* A name without a host would ask the resolver for ours: skip it. */
    if (c->name && strchr(c->name, '@')) {
        char full[EN_NODE_NAME_MAX + 1], alive[EN_NODE_NAME_MAX + 1],
            host[EN_NODE_NAME_MAX + 1];
        err[0] = '\0';
        int rc = en_node_full_name(c->name, c->long_names, full, sizeof full,
                                   err, sizeof err);
        CHECK(rc == 0 || (rc == -1 && err[0] != '\0'));
        if (rc == 0)
            CHECK(en_node_split(full, alive, sizeof alive, host,
                                sizeof host) == 0 &&
                  strlen(alive) + 1 + strlen(host) == strlen(full));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *orig[MAX_ARGS];
    int argc = 0;
    size_t pos = 0;
    while (pos < size && argc < MAX_ARGS) {
        const uint8_t *end = memchr(data + pos, 0, size - pos);
        size_t len = end ? (size_t)(end - (data + pos)) : size - pos;
        orig[argc] = malloc(len + 1);
        CHECK(orig[argc]);
        memcpy(orig[argc], data + pos, len);
        orig[argc][len] = '\0';
        argc++;
        pos += len + 1;
    }
    char **argv = malloc((size_t)(argc + 1) * sizeof *argv);
    CHECK(argv);
    memcpy(argv, orig, (size_t)argc * sizeof *argv);
    argv[argc] = NULL;

    enode_config_t *cfg;
    char err[256] = "";
    int n = argc;
    CHECK(enode_config_new(&cfg) == 0);
    int rc = enode_config_from_args(cfg, &n, argv, err, sizeof err);
    if (rc == 0) {
        CHECK(n >= 0 && n <= argc && argv[n] == NULL);
        CHECK(argc == 0 ? n == 0 : argv[0] == orig[0]);
        /* What is left is a subsequence of what was there, in order. */
        for (int i = 1, j = 1; i < n; i++, j++) {
            while (j < argc && argv[i] != orig[j])
                j++;
            CHECK(j < argc);
        }
        check_config(cfg, orig, argc);
    } else {
        CHECK(rc == ENODE_EINVAL && err[0] != '\0');
    }

    for (int i = 0; i < argc; i++)
        free(orig[i]);
    free(argv);
    if (rc == 0)
        take_further(cfg); /* argv is gone: ASan sees a borrowed string */
    enode_config_free(cfg);
    return 0;
}
