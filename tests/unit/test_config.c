/* test_config.c - erl's flags into a node configuration, node names and
 * the cookie file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enode.h"
#include "base/names.h"

#define ARGV(...) char *argv[] = {"prog", __VA_ARGS__, NULL}; \
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1

Test(config, defaults)
{
    enode_config_t c;
    enode_config_init(&c);
    cr_assert_eq(c.proto, ENODE_PROTO_TLS);
    cr_assert_eq(c.net_ticktime, 60);
    cr_assert_eq(c.setup_time_ms, 7000);
    cr_assert_null(c.name);
    cr_assert_eq(c.hidden, 0);
}

Test(config, reads_erl_flags_and_keeps_the_rest)
{
    ARGV("-sname", "foo", "-setcookie", "secret", "-hidden", "-connect",
         "b@h", "-proto_dist", "inet6_tcp", "-ssl_dist_optfile", "/x.conf",
         "-kernel", "net_ticktime", "4", "-kernel", "inet_dist_listen_min",
         "9100", "-v", "-epmd_port", "4400");
    enode_config_t c;
    char err[256] = "";

    enode_config_init(&c);
    cr_assert_eq(enode_config_from_args(&c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(c.name, "foo");
    cr_assert_eq(c.long_names, 0);
    cr_assert_str_eq(c.cookie, "secret");
    cr_assert_eq(c.hidden, 1);
    cr_assert_eq(c.proto, ENODE_PROTO_TCP);
    cr_assert_eq(c.ipv6, 1);
    cr_assert_str_eq(c.ssl_dist_optfile, "/x.conf");
    cr_assert_eq(c.net_ticktime, 4);
    cr_assert_eq(c.listen_min, 9100);
    cr_assert_eq(c.epmd_port, 4400);
    /* What it does not know stays, in order. */
    cr_assert_eq(argc, 4);
    cr_assert_str_eq(argv[1], "-connect");
    cr_assert_str_eq(argv[2], "b@h");
    cr_assert_str_eq(argv[3], "-v");
    cr_assert_null(argv[4]);
}

Test(config, ssl_dist_opt_pairs_repeat)
{
    ARGV("-ssl_dist_opt", "server_certfile", "/c.pem", "client_verify",
         "verify_peer", "-name", "x@127.0.0.1", "-ssl_dist_opt",
         "server_keyfile", "/k.pem");
    enode_config_t c;
    char err[256] = "";

    enode_config_init(&c);
    cr_assert_eq(enode_config_from_args(&c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(c.n_ssl_dist_opts, 3);
    cr_assert_str_eq(c.ssl_dist_opts[0], "server_certfile");
    cr_assert_str_eq(c.ssl_dist_opts[1], "/c.pem");
    cr_assert_str_eq(c.ssl_dist_opts[3], "verify_peer");
    cr_assert_str_eq(c.ssl_dist_opts[4], "server_keyfile");
    cr_assert_eq(c.long_names, 1);
    cr_assert_eq(argc, 1);
}

static void expect_error(char **argv, int argc, const char *needle)
{
    enode_config_t c;
    char err[256] = "";

    enode_config_init(&c);
    cr_assert_eq(enode_config_from_args(&c, &argc, argv, err, sizeof err),
                 ENODE_EINVAL);
    cr_assert(strstr(err, needle), "'%s' should mention '%s'", err, needle);
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
        ARGV("-erl_epmd_port", "70000");
        expect_error(argv, argc, "port");
    }
}

/* global on or off, as erl reads -connect_all and -kernel connect_all. */
Test(config, connect_all)
{
    enode_config_t c;
    char err[256] = "";

    enode_config_init(&c);
    cr_assert_eq(c.connect_all, 1);
    {
        ARGV("-connect_all", "false", "-x");
        cr_assert_eq(enode_config_from_args(&c, &argc, argv, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(c.connect_all, 0);
        cr_assert_eq(argc, 2);
    }
    {
        ARGV("-kernel", "connect_all", "true");
        cr_assert_eq(enode_config_from_args(&c, &argc, argv, err, sizeof err),
                     0, "%s", err);
        cr_assert_eq(c.connect_all, 1);
    }
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

/* execve() may start a program with no arguments, not even its name
 * (found by tests/fuzz/fuzz_config): argc 0 stays 0, and nothing is
 * written past argv[0] (an exact-size array, so ASan would see it). */
Test(config, an_empty_argv)
{
    char **argv = calloc(1, sizeof *argv);
    int argc = 0;
    enode_config_t c;
    char err[64] = "";

    cr_assert_not_null(argv);
    enode_config_init(&c);
    cr_assert_eq(enode_config_from_args(&c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(argc, 0);
    cr_assert_null(argv[0]);
    cr_assert_null(c.name);
    free(argv);
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
    for (int code = 0; code >= ENODE_ECONN; code--)
        cr_assert_str_neq(enode_strerror(code), "unknown error", "%d", code);
    cr_assert_str_eq(enode_strerror(1234), "unknown error");
}
