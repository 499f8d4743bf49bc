/* test_config.c - erl's flags into a node configuration (read back
 * through the private node/config_int.h), node names and the cookie file.
 * The setters are tested in test_config_set.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enode.h"
#include "base/names.h"
#include "node/config_int.h"

#define ARGV(...) char *argv[] = {"prog", __VA_ARGS__, NULL}; \
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1

static enode_config_t *new_config(void)
{
    enode_config_t *c = NULL;
    cr_assert_eq(enode_config_new(&c), 0);
    cr_assert_not_null(c);
    return c;
}

Test(config, defaults)
{
    enode_config_t *c = new_config();
    int long_names = -1;

    cr_assert_eq(c->proto, ENODE_PROTO_TLS);
    cr_assert_eq(c->net_ticktime, 60);
    cr_assert_eq(c->setup_time_ms, 7000);
    cr_assert_eq(c->max_message_size, ENODE_DEFAULT_MAX_MESSAGE);
    cr_assert_eq(c->log_level, ENODE_LOG_WARNING);
    cr_assert_null(c->name);
    cr_assert_eq(c->hidden, 0);
    cr_assert_null(enode_config_get_name(c, &long_names));
    cr_assert_eq(long_names, 0);
    cr_assert_eq(enode_config_has_cookie(c), 0);
    cr_assert_eq(enode_config_get_proto(c), ENODE_PROTO_TLS);
    cr_assert_eq(enode_config_get_hidden(c), 0);
    cr_assert_eq(enode_config_get_dist_port(c), 0);
    enode_config_free(c);
}

Test(config, reads_erl_flags_and_keeps_the_rest)
{
    ARGV("-sname", "foo", "-setcookie", "secret", "-hidden", "-connect",
         "b@h", "-proto_dist", "inet6_tcp", "-ssl_dist_optfile", "/x.conf",
         "-kernel", "net_ticktime", "4", "-kernel", "inet_dist_listen_min",
         "9100", "-v", "-epmd_port", "4400", "-kernel", "net_setuptime", "3");
    enode_config_t *c = new_config();
    char err[256] = "";

    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(c->name, "foo");
    cr_assert_eq(c->long_names, 0);
    cr_assert_str_eq(c->cookie, "secret");
    cr_assert_eq(c->hidden, 1);
    cr_assert_eq(c->proto, ENODE_PROTO_TCP);
    cr_assert_eq(c->ipv6, 1);
    cr_assert_str_eq(c->ssl_dist_optfile, "/x.conf");
    cr_assert_eq(c->net_ticktime, 4);
    cr_assert_eq(c->setup_time_ms, 3000);
    cr_assert_eq(c->listen_min, 9100);
    cr_assert_eq(c->epmd_port, 4400);
    cr_assert_eq(c->dist_port, 0);
    /* The getters a program reads them back with. */
    cr_assert_str_eq(enode_config_get_name(c, NULL), "foo");
    cr_assert_eq(enode_config_has_cookie(c), 1);
    cr_assert_eq(enode_config_get_proto(c), ENODE_PROTO_TCP);
    cr_assert_eq(enode_config_get_hidden(c), 1);
    /* What it does not know stays, in order. */
    cr_assert_eq(argc, 4);
    cr_assert_str_eq(argv[1], "-connect");
    cr_assert_str_eq(argv[2], "b@h");
    cr_assert_str_eq(argv[3], "-v");
    cr_assert_null(argv[4]);
    enode_config_free(c);
}

Test(config, without_epmd_and_long_names)
{
    ARGV("-name", "x@127.0.0.1", "-erl_epmd_port", "4370", "-kernel",
         "inet_dist_listen_max", "9200", "-kernel", "inet_dist_listen_min",
         "9100");
    enode_config_t *c = new_config();
    char err[256] = "";
    int long_names = 0;

    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(enode_config_get_name(c, &long_names), "x@127.0.0.1");
    cr_assert_eq(long_names, 1);
    cr_assert_eq(enode_config_get_dist_port(c), 4370);
    cr_assert_eq(c->listen_min, 9100);
    cr_assert_eq(c->listen_max, 9200);
    cr_assert_eq(argc, 1);
    enode_config_free(c);
}

Test(config, ssl_dist_opt_pairs_repeat)
{
    ARGV("-ssl_dist_opt", "server_certfile", "/c.pem", "client_verify",
         "verify_peer", "-name", "x@127.0.0.1", "-ssl_dist_opt",
         "server_keyfile", "/k.pem");
    enode_config_t *c = new_config();
    char err[256] = "";

    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(c->n_ssl_dist_opts, 3);
    cr_assert_str_eq(c->ssl_dist_opts[0], "server_certfile");
    cr_assert_str_eq(c->ssl_dist_opts[1], "/c.pem");
    cr_assert_str_eq(c->ssl_dist_opts[3], "verify_peer");
    cr_assert_str_eq(c->ssl_dist_opts[4], "server_keyfile");
    cr_assert_eq(c->long_names, 1);
    cr_assert_eq(argc, 1);
    enode_config_free(c);
}

/* The old public struct held 64 pairs; -ssl_dist_opt now takes any
 * number, in one flag or many. */
Test(config, ssl_dist_opt_has_no_limit)
{
    enum { PAIRS = 300 };
    char *argv[2 + 2 * PAIRS + 2];
    char keys[PAIRS][32], values[PAIRS][32];
    int argc = 0;
    enode_config_t *c = new_config();
    char err[256] = "";

    argv[argc++] = "prog";
    argv[argc++] = "-ssl_dist_opt";
    for (int i = 0; i < PAIRS; i++) {
        snprintf(keys[i], sizeof keys[i], "server_key%d", i);
        snprintf(values[i], sizeof values[i], "/v%d.pem", i);
        argv[argc++] = keys[i];
        argv[argc++] = values[i];
    }
    argv[argc++] = "-hidden";
    argv[argc] = NULL;
    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(argc, 1);
    cr_assert_eq(c->n_ssl_dist_opts, PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        cr_assert_str_eq(c->ssl_dist_opts[2 * i], keys[i]);
        cr_assert_str_eq(c->ssl_dist_opts[2 * i + 1], values[i]);
    }
    enode_config_free(c);
}

/* The configuration keeps copies: the program's argv may change or go. */
Test(config, keeps_copies_of_argv)
{
    const char *given[] = {"prog", "-sname", "copied", "-setcookie", "sesame",
                           "-ssl_dist_optfile", "/etc/dist.conf",
                           "-ssl_dist_opt", "server_certfile", "/n.pem"};
    enum { N = sizeof given / sizeof given[0] };
    char *argv[N + 1];
    int argc = N;
    enode_config_t *c = new_config();
    char err[256] = "";

    for (int i = 0; i < N; i++)
        cr_assert_not_null(argv[i] = strdup(given[i]));
    argv[N] = NULL;
    char *own[N];
    memcpy(own, argv, sizeof own);
    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    for (int i = 0; i < N; i++) {
        memset(own[i], 'X', strlen(own[i]));
        free(own[i]);
    }
    cr_assert_str_eq(c->name, "copied");
    cr_assert_str_eq(c->cookie, "sesame");
    cr_assert_str_eq(c->ssl_dist_optfile, "/etc/dist.conf");
    cr_assert_str_eq(c->ssl_dist_opts[0], "server_certfile");
    cr_assert_str_eq(c->ssl_dist_opts[1], "/n.pem");
    enode_config_free(c);
}

static void expect_error(char **argv, int argc, const char *needle)
{
    enode_config_t *c = new_config();
    char err[256] = "";

    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                 ENODE_EINVAL);
    cr_assert(strstr(err, needle), "'%s' should mention '%s'", err, needle);
    enode_config_free(c);
}

Test(config, bad_flags_are_named)
{
    {
        ARGV("-proto_dist", "inet_sctp");
        expect_error(argv, argc, "inet_sctp");
    }
    {
        ARGV("-sname");
        expect_error(argv, argc, "-sname needs");
    }
    {
        ARGV("-sname", "bad name");
        expect_error(argv, argc, "invalid node name 'bad name'");
    }
    {
        ARGV("-setcookie", "");
        expect_error(argv, argc, "-setcookie");
    }
    {
        ARGV("-kernel", "net_ticktime", "soon");
        expect_error(argv, argc, "net_ticktime");
    }
    {
        ARGV("-kernel", "frobnicate", "1");
        expect_error(argv, argc, "frobnicate");
    }
    {
        ARGV("-ssl_dist_opt", "server_certfile");
        expect_error(argv, argc, "Key Value");
    }
    {
        ARGV("-ssl_dist_opt", "", "x");
        expect_error(argv, argc, "empty key");
    }
    {
        ARGV("-erl_epmd_port", "70000");
        expect_error(argv, argc, "port");
    }
}

/* global on or off, as erl reads -connect_all and -kernel connect_all. */
Test(config, connect_all)
{
    enode_config_t *c = new_config();
    char err[256] = "";

    cr_assert_eq(enode_config_get_connect_all(c), 1);
    {
        ARGV("-connect_all", "false", "-x");
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(enode_config_get_connect_all(c), 0);
        cr_assert_eq(argc, 2);
    }
    {
        ARGV("-kernel", "connect_all", "true");
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(enode_config_get_connect_all(c), 1);
    }
    cr_assert_eq(enode_config_set_connect_all(c, 0), 0);
    cr_assert_eq(enode_config_get_connect_all(c), 0);
    cr_assert_eq(enode_config_set_connect_all(NULL, 0), ENODE_EINVAL);
    enode_config_free(c);
    {
        ARGV("-connect_all", "maybe");
        expect_error(argv, argc, "-connect_all maybe");
    }
    {
        ARGV("-kernel", "connect_all", "0");
        expect_error(argv, argc, "connect_all");
    }
    {
        ARGV("-connect_all");
        expect_error(argv, argc, "-connect_all needs");
    }
}

/* The distribution buffer busy limit, in bytes with -kernel and in KiB
 * with +zdbbl (1 to 2097151, as erl takes it); the last one given wins. */
Test(config, dist_buf_busy_limit)
{
    enode_config_t *c = new_config();
    char err[256] = "";

    cr_assert_eq(c->dist_buf_busy_limit, ENODE_DEFAULT_DIST_BUF_BUSY_LIMIT);
    cr_assert_eq(c->dist_buf_busy_limit, 1024 * 1024);
    {
        ARGV("-kernel", "dist_buf_busy_limit", "65536", "-x");
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(c->dist_buf_busy_limit, 65536);
        cr_assert_eq(argc, 2);
        cr_assert_str_eq(argv[1], "-x");
    }
    {
        ARGV("+zdbbl", "2048");
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(c->dist_buf_busy_limit, 2048 * 1024);
        cr_assert_eq(argc, 1);
    }
    {
        ARGV("+zdbbl", "2097151");
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(c->dist_buf_busy_limit, (size_t)2097151 * 1024);
    }
    cr_assert_eq(enode_config_set_dist_buf_busy_limit(c, 0), 0);
    cr_assert_eq(c->dist_buf_busy_limit, ENODE_DEFAULT_DIST_BUF_BUSY_LIMIT);
    cr_assert_eq(enode_config_set_dist_buf_busy_limit(NULL, 1), ENODE_EINVAL);
    enode_config_free(c);
    {
        ARGV("+zdbbl", "0");
        expect_error(argv, argc, "+zdbbl 0: KiB from 1 to 2097151");
    }
    {
        ARGV("+zdbbl", "2097152");
        expect_error(argv, argc, "+zdbbl 2097152");
    }
    {
        ARGV("+zdbbl", "1m");
        expect_error(argv, argc, "+zdbbl 1m");
    }
    {
        ARGV("+zdbbl");
        expect_error(argv, argc, "+zdbbl needs 1 value");
    }
    {
        ARGV("-kernel", "dist_buf_busy_limit", "0");
        expect_error(argv, argc, "-kernel dist_buf_busy_limit 0: not a valid");
    }
    {
        ARGV("-kernel", "dist_buf_busy_limit", "-5");
        expect_error(argv, argc, "dist_buf_busy_limit -5");
    }
}

/* execve() may start a program with no arguments, not even its name
 * (found by tests/fuzz/fuzz_config): argc 0 stays 0, and nothing is
 * written past argv[0] (an exact-size array, so ASan would see it). */
Test(config, an_empty_argv)
{
    char **argv = calloc(1, sizeof *argv);
    int argc = 0;
    enode_config_t *c = new_config();
    char err[64] = "";

    cr_assert_not_null(argv);
    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(argc, 0);
    cr_assert_null(argv[0]);
    cr_assert_null(c->name);
    free(argv);
    enode_config_free(c);
}

/* A refused cookie is a secret all the same: the sentence does not
 * repeat it. */
Test(config, a_refused_cookie_is_not_repeated)
{
    static char cookie[1500];
    memset(cookie, 'k', sizeof cookie - 1);
    ARGV("-setcookie", cookie);
    enode_config_t *c = new_config();
    char err[4096] = "";

    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                 ENODE_EINVAL);
    cr_assert(strstr(err, "-setcookie"), "%s", err);
    cr_assert_null(strstr(err, "kkkk"), "%s", err);
    enode_config_free(c);
}

Test(config, no_configuration)
{
    ARGV("-hidden");
    char err[128] = "";
    enode_t *n = NULL;

    cr_assert_eq(enode_config_from_args(NULL, &argc, argv, err, sizeof err),
                 ENODE_EINVAL);
    cr_assert_eq(enode_new(&n, NULL, err, sizeof err), ENODE_EINVAL);
    cr_assert_null(n);
    cr_assert(strstr(err, "configuration"), "%s", err);
    cr_assert_eq(enode_config_new(NULL), ENODE_EINVAL);
    enode_config_free(NULL);
}

Test(names, full_names_like_erl)
{
    char full[300], err[256], host[256];

    cr_assert_eq(en_node_full_name("a@b.c", 1, full, sizeof full, err,
                                   sizeof err), 0);
    cr_assert_str_eq(full, "a@b.c");
    cr_assert_eq(en_node_full_name("a@::1", 1, full, sizeof full, err,
                                   sizeof err), 0);
    cr_assert_str_eq(full, "a@::1");
    /* -sname without a host takes the short host name. */
    gethostname(host, sizeof host);
    host[strcspn(host, ".")] = '\0';
    cr_assert_eq(en_node_full_name("a", 0, full, sizeof full, err,
                                   sizeof err), 0);
    cr_assert_eq(strncmp(full, "a@", 2), 0);
    cr_assert_str_eq(full + 2, host);
    cr_assert_eq(en_node_full_name("bad name", 0, full, sizeof full, err,
                                   sizeof err), -1);
    cr_assert(strstr(err, "invalid node name"));
    cr_assert_eq(en_node_full_name("a@b@c", 0, full, sizeof full, err,
                                   sizeof err), -1);
    cr_assert_eq(en_node_full_name("", 0, full, sizeof full, err,
                                   sizeof err), -1);
}

/* The check of the setters and of -sname: no host lookup. */
Test(names, checked_without_the_resolver)
{
    char err[1024];
    char long_name[EN_NODE_NAME_MAX + 2];

    cr_assert_eq(en_node_name_check("a", err, sizeof err), 0);
    cr_assert_eq(en_node_name_check("a_b-c@host.example", err, sizeof err), 0);
    cr_assert_eq(en_node_name_check("", err, sizeof err), -1);
    cr_assert(strstr(err, "no node name"), "%s", err);
    cr_assert_eq(en_node_name_check(NULL, err, sizeof err), -1);
    cr_assert_eq(en_node_name_check("a b", err, sizeof err), -1);
    cr_assert_eq(en_node_name_check("@h", err, sizeof err), -1);
    cr_assert_eq(en_node_name_check("a@", err, sizeof err), -1);
    cr_assert_eq(en_node_name_check("a@b@c", err, sizeof err), -1);
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(en_node_name_check(long_name, err, sizeof err), -1);
    cr_assert(strstr(err, "too long"), "%s", err);
    long_name[EN_NODE_NAME_MAX] = '\0';
    cr_assert_eq(en_node_name_check(long_name, err, sizeof err), 0);
}

Test(names, split)
{
    char alive[64], host[64];
    cr_assert_eq(en_node_split("x@y.z", alive, sizeof alive, host,
                               sizeof host), 0);
    cr_assert_str_eq(alive, "x");
    cr_assert_str_eq(host, "y.z");
    cr_assert_eq(en_node_split("nohost", alive, sizeof alive, host,
                               sizeof host), -1);
    cr_assert_eq(en_node_split("@h", alive, sizeof alive, host,
                               sizeof host), -1);
    cr_assert_eq(en_node_split("a@", alive, sizeof alive, host,
                               sizeof host), -1);
}

Test(names, cookie_file)
{
    char dir[] = "/tmp/enode-cookie-XXXXXX", path[300], cookie[64], err[256];
    cr_assert_not_null(mkdtemp(dir));
    setenv("HOME", dir, 1);
    cr_assert_eq(en_cookie_from_home(cookie, sizeof cookie, err, sizeof err),
                 -1);
    cr_assert(strstr(err, ".erlang.cookie"));
    snprintf(path, sizeof path, "%s/.erlang.cookie", dir);
    FILE *f = fopen(path, "w");
    fputs("SECRETCOOKIE\n", f);
    fclose(f);
    cr_assert_eq(en_cookie_from_home(cookie, sizeof cookie, err, sizeof err),
                 0);
    cr_assert_str_eq(cookie, "SECRETCOOKIE");
    unlink(path);
    rmdir(dir);
}

Test(errors, every_code_has_words)
{
    for (int code = 0; code >= ENODE_EBUSY; code--)
        cr_assert_str_neq(enode_strerror(code), "unknown error", "%d", code);
    cr_assert_str_eq(enode_strerror(1234), "unknown error");
}
