/* test_config_env.c - erl's environment (ERL_AFLAGS, ERL_FLAGS,
 * ERL_ZFLAGS) and -args_file, split and ordered as erlexec does; the
 * kernel parameters inet_dist_use_interface and dist_auto_connect; a
 * node that listens on one address only. Criterion runs each test in a
 * process of its own, so setenv() stays in its test. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "enode.h"
#include "node/config_int.h"

#define ARGV(...) char *argv[] = {"prog", __VA_ARGS__, NULL}; \
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1

static enode_config_t *new_config(void)
{
    enode_config_t *c = NULL;
    cr_assert_eq(enode_config_new(&c), 0);
    return c;
}

static void clear_env(void)
{
    unsetenv("ERL_AFLAGS");
    unsetenv("ERL_FLAGS");
    unsetenv("ERL_ZFLAGS");
}

/* A file in a fresh directory, holding text; its path into path. */
static void write_file(char *dir, const char *name, const char *text,
                       char *path, size_t len)
{
    if (!dir[0]) {
        strcpy(dir, "/tmp/enode-args-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
    }
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void split_is(const char *s, int comments, int n, const char **want)
{
    en_words_t w = {0};
    cr_assert_eq(en_words_split(&w, s, comments), 0);
    cr_assert_eq(w.n, n, "'%s': %d words, not %d", s, w.n, n);
    for (int i = 0; i < n; i++)
        cr_assert_str_eq(w.word[i], want[i], "'%s', word %d", s, i);
    en_words_free(&w);
}

Test(words, split_as_erlexec_splits)
{
    const char *q[] = {"-a", "b c", "d e", "f g", "hi jk", "", "\"x"};
    split_is(" -a \"b c\"\t'd e'\nf\\ g h\"i j\"k '' '\"x' ", 0, 7, q);
    /* In a variable '#' is a character; in a file it starts a comment,
     * also in the middle of a word. */
    const char *env[] = {"a#b", "#c"};
    split_is("a#b #c", 0, 2, env);
    const char *file[] = {"a", "d", "e"};
    split_is("# head\na#b c\n  d # tail\ne", 1, 3, file);
    split_is("", 0, 0, NULL);
    split_is(" \t\n ", 1, 0, NULL);
    const char *open_quote[] = {"ab c"};
    split_is("a'b c", 0, 1, open_quote); /* to the end, as erlexec */
}

Test(env, read_in_erls_order_later_overrides)
{
    ARGV("-sname", "cmd", "-setcookie", "cmdcookie", "-v");
    enode_config_t *c = new_config();
    char err[256] = "";

    clear_env();
    setenv("ERL_AFLAGS", "-sname aflags -setcookie acookie -hidden", 1);
    setenv("ERL_FLAGS", "-sname flags -kernel net_ticktime 9", 1);
    setenv("ERL_ZFLAGS", "-kernel net_ticktime 11", 1);
    cr_assert_eq(enode_config_from_env_args(c, &argc, argv, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(c->name, "flags");         /* ERL_FLAGS after argv */
    cr_assert_str_eq(c->cookie, "cmdcookie");   /* argv after ERL_AFLAGS */
    cr_assert_eq(c->hidden, 1);                 /* ERL_AFLAGS alone */
    cr_assert_eq(c->net_ticktime, 11);          /* ERL_ZFLAGS last */
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(argv[1], "-v");
    cr_assert_null(argv[2]);
    enode_config_free(c);
}

Test(env, erls_own_flags_are_skipped_not_handed_over)
{
    ARGV("-x");
    enode_config_t *c = new_config();
    char err[256] = "";

    clear_env();
    setenv("ERL_FLAGS", "+K true -kernel shell_history enabled "
           "-proto_dist inet_tcp -ssl_dist_optfile '/a b/d.conf' -s m f "
           "-extra -sname plain", 1);
    cr_assert_eq(enode_config_from_env_args(c, &argc, argv, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(c->proto, ENODE_PROTO_TCP);
    cr_assert_str_eq(c->ssl_dist_optfile, "/a b/d.conf");
    cr_assert_null(c->name); /* after -extra: a plain argument */
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(argv[1], "-x");
    enode_config_free(c);
}

Test(env, a_bad_value_names_the_variable)
{
    ARGV("-v");
    enode_config_t *c = new_config();
    char err[256] = "";

    clear_env();
    setenv("ERL_ZFLAGS", "-proto_dist bogus", 1);
    cr_assert_eq(enode_config_from_env_args(c, &argc, argv, err, sizeof err),
                 ENODE_EINVAL);
    cr_assert(strncmp(err, "ERL_ZFLAGS: -proto_dist bogus", 29) == 0, "%s",
              err);
    setenv("ERL_ZFLAGS", "-kernel net_ticktime", 1);
    cr_assert_eq(enode_config_from_env_args(c, &argc, argv, err, sizeof err),
                 ENODE_EINVAL);
    cr_assert_str_eq(err, "ERL_ZFLAGS: -kernel needs 2 values");
    enode_config_free(c);
}

Test(env, unset_or_empty_variables_change_nothing)
{
    ARGV("-sname", "n");
    enode_config_t *c = new_config();
    char err[64];

    clear_env();
    setenv("ERL_FLAGS", "", 1);
    cr_assert_eq(enode_config_from_env_args(c, &argc, argv, err, sizeof err),
                 0);
    cr_assert_str_eq(c->name, "n");
    cr_assert_eq(argc, 1);
    cr_assert_eq(enode_config_from_env_args(NULL, &argc, argv, err,
                                            sizeof err), ENODE_EINVAL);
    enode_config_free(c);
}

Test(args_file, flags_from_files_nested_with_comments)
{
    char dir[64] = "", inner[128], outer[128];
    enode_config_t *c = new_config();
    char err[256] = "";

    write_file(dir, "inner.args", "# TLS\n-proto_dist inet6_tls\n"
               "-ssl_dist_optfile \"/etc/x y.conf\" # the options\n", inner,
               sizeof inner);
    char text[300];
    snprintf(text, sizeof text, "-sname fromfile +P 100\n-args_file %s\n"
             "-kernel net_setuptime 5 -config sys", inner);
    write_file(dir, "outer.args", text, outer, sizeof outer);
    ARGV("-v", "-args_file", outer, "-hidden", "-w");
    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(c->name, "fromfile");
    cr_assert_eq(c->proto, ENODE_PROTO_TLS);
    cr_assert_eq(c->ipv6, 1);
    cr_assert_str_eq(c->ssl_dist_optfile, "/etc/x y.conf");
    cr_assert_eq(c->setup_time_ms, 5000);
    cr_assert_eq(c->hidden, 1);
    /* The command line's own unknown words stay; the files' do not. */
    cr_assert_eq(argc, 3);
    cr_assert_str_eq(argv[1], "-v");
    cr_assert_str_eq(argv[2], "-w");
    unlink(inner);
    unlink(outer);
    rmdir(dir);
    enode_config_free(c);
}

Test(args_file, from_the_environment_too)
{
    char dir[64] = "", path[128], env[160], err[256] = "";
    enode_config_t *c = new_config();

    write_file(dir, "a.args", "-setcookie filecookie", path, sizeof path);
    ARGV("-v");
    clear_env();
    snprintf(env, sizeof env, "-args_file %s", path);
    setenv("ERL_FLAGS", env, 1);
    cr_assert_eq(enode_config_from_env_args(c, &argc, argv, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(c->cookie, "filecookie");
    unlink(path);
    rmdir(dir);
    enode_config_free(c);
}

Test(args_file, errors_name_the_file)
{
    char dir[64] = "", path[128], loop[128], text[200], err[300] = "";
    enode_config_t *c = new_config();

    write_file(dir, "bad.args", "-sname ok\n-kernel net_ticktime zero\n",
               path, sizeof path);
    {
        ARGV("-args_file", path);
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     ENODE_EINVAL);
        cr_assert(strstr(err, path) && strstr(err, "net_ticktime zero"),
                  "%s", err);
    }
    {
        ARGV("-args_file", "/nonexistent/enode.args");
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     ENODE_EINVAL);
        cr_assert_str_eq(err, "-args_file /nonexistent/enode.args: "
                         "No such file or directory");
    }
    {
        ARGV("-args_file", "/dev/zero");
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     ENODE_EINVAL);
        cr_assert_str_eq(err, "-args_file /dev/zero: larger than 1048576 "
                         "bytes");
    }
    {
        ARGV("-args_file");
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     ENODE_EINVAL);
        cr_assert_str_eq(err, "-args_file needs a file name");
    }
    /* A file that names itself: erlexec would loop; enode says so. */
    snprintf(loop, sizeof loop, "%s/loop.args", dir);
    snprintf(text, sizeof text, "-hidden -args_file %s", loop);
    write_file(dir, "loop.args", text, loop, sizeof loop);
    {
        ARGV("-args_file", loop);
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     ENODE_EINVAL);
        cr_assert(strstr(err, "nested more than 16 deep"), "%s", err);
    }
    unlink(path);
    unlink(loop);
    rmdir(dir);
    enode_config_free(c);
}

Test(kernel, inet_dist_use_interface)
{
    static const struct {
        const char *value, *text; /* text NULL: refused */
    } cases[] = {
        {"{127,0,0,1}", "127.0.0.1"},
        {" { 10, 1 ,2,3 } ", "10.1.2.3"},
        {"{0,0,0,0,0,0,0,1}", "0:0:0:0:0:0:0:1"},
        {"{65535,0,0,0,0,0,0,0}", "ffff:0:0:0:0:0:0:0"},
        {"{256,0,0,1}", NULL},
        {"{1,2,3}", NULL},
        {"{1,2,3,4,5}", NULL},
        {"127.0.0.1", NULL},
        {"{1,2,3,4}x", NULL},
        {"{1,2,3,-4}", NULL},
        {"{1,,2,3,4}", NULL},
        {"{1,2,3,4", NULL},
        {"{}", NULL},
        {"{0,0,0,0,0,0,0,65536}", NULL},
        {"{1,2,3,4,5,6,7,8,9}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enode_config_t *c = new_config();
        char err[256] = "", *v = (char *)cases[i].value;
        ARGV("-kernel", "inet_dist_use_interface", v);
        int rc = enode_config_from_args(c, &argc, argv, err, sizeof err);
        if (cases[i].text) {
            cr_assert_eq(rc, 0, "%s: %s", v, err);
            cr_assert_str_eq(c->listen_addr, cases[i].text);
        } else {
            cr_assert_eq(rc, ENODE_EINVAL, "%s", v);
            cr_assert(strstr(err, "inet_dist_use_interface"), "%s", err);
            cr_assert_null(c->listen_addr);
        }
        enode_config_free(c);
    }
}

Test(kernel, dist_auto_connect)
{
    static const struct {
        const char *value;
        int rc, mode;
    } cases[] = {
        {"never", 0, ENODE_AUTO_CONNECT_NEVER},
        {"once", 0, ENODE_AUTO_CONNECT_ONCE},
        {"always", ENODE_EINVAL, ENODE_AUTO_CONNECT_ALWAYS},
        {"Never", ENODE_EINVAL, ENODE_AUTO_CONNECT_ALWAYS},
        {"", ENODE_EINVAL, ENODE_AUTO_CONNECT_ALWAYS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enode_config_t *c = new_config();
        char err[256] = "", *v = (char *)cases[i].value;
        cr_assert_eq(c->auto_connect, ENODE_AUTO_CONNECT_ALWAYS);
        ARGV("-kernel", "dist_auto_connect", v);
        cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                     cases[i].rc, "'%s': %s", v, err);
        cr_assert_eq(c->auto_connect, cases[i].mode, "'%s'", v);
        enode_config_free(c);
    }
}

Test(kernel, unknown_parameters_refused_on_the_command_line_only)
{
    enode_config_t *c = new_config();
    char err[256] = "";
    ARGV("-kernel", "shell_history", "enabled");

    cr_assert_eq(enode_config_from_args(c, &argc, argv, err, sizeof err),
                 ENODE_EINVAL);
    cr_assert_str_eq(err, "-kernel shell_history: not a parameter enode "
                     "knows");
    enode_config_free(c);
}

Test(setters, listen_address_and_auto_connect)
{
    enode_config_t *c = new_config();

    cr_assert_eq(enode_config_set_listen_address(c, "::1"), 0);
    cr_assert_str_eq(c->listen_addr, "::1");
    cr_assert_eq(enode_config_set_listen_address(c, "127.0.0.1"), 0);
    cr_assert_eq(enode_config_set_listen_address(c, "localhost"),
                 ENODE_EINVAL);
    cr_assert_eq(enode_config_set_listen_address(c, ""), ENODE_EINVAL);
    cr_assert_str_eq(c->listen_addr, "127.0.0.1"); /* unchanged */
    cr_assert_eq(enode_config_set_listen_address(c, NULL), 0);
    cr_assert_null(c->listen_addr);
    cr_assert_eq(enode_config_set_listen_address(NULL, "::1"), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_auto_connect(c, ENODE_AUTO_CONNECT_ONCE),
                 0);
    cr_assert_eq(enode_config_set_auto_connect(c, (enode_auto_connect_t)3),
                 ENODE_EINVAL);
    cr_assert_eq(c->auto_connect, ENODE_AUTO_CONNECT_ONCE);
    cr_assert_eq(enode_config_set_auto_connect(NULL, 0), ENODE_EINVAL);
    enode_config_free(c);
}

/* A node with no EPMD (a fixed port), over TCP, listening on addr. */
static int node_on(const char *addr, int ipv6, enode_t **node, char *err,
                   size_t errlen)
{
    enode_config_t *c = new_config();
    cr_assert_eq(enode_config_set_name(c, "listener@localhost", 0), 0);
    cr_assert_eq(enode_config_set_cookie(c, "c"), 0);
    cr_assert_eq(enode_config_set_proto(c, ENODE_PROTO_TCP), 0);
    cr_assert_eq(enode_config_set_ipv6(c, ipv6), 0);
    cr_assert_eq(enode_config_set_listen_address(c, addr), 0);
    /* No EPMD: a port of our own (any free one would do). */
    cr_assert_eq(enode_config_set_dist_port(c, 20000 + getpid() % 20000), 0);
    int rc = enode_new(node, c, err, errlen);
    enode_config_free(c);
    return rc;
}

/* 0 if a TCP connect to ip:port is accepted, else errno. */
static int tcp_reaches(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = 0;
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        rc = errno;
    close(fd);
    return rc;
}

Test(listen, on_the_address_given_only)
{
    enode_t *node = NULL;
    char err[256] = "";

    cr_assert_eq(node_on("127.0.0.1", 0, &node, err, sizeof err), 0, "%s",
                 err);
    int port = enode_port(node);
    cr_assert_eq(tcp_reaches("127.0.0.1", port), 0);
    /* Any other loopback address would reach a socket bound to every
     * address; this one is bound to 127.0.0.1 alone. */
    cr_assert_eq(tcp_reaches("127.0.0.2", port), ECONNREFUSED);
    enode_free(node);
}

Test(listen, an_address_of_the_other_family_is_refused)
{
    enode_t *node = NULL;
    char err[256] = "";

    cr_assert_eq(node_on("127.0.0.1", 1, &node, err, sizeof err),
                 ENODE_ESYS);
    cr_assert_null(node);
    cr_assert_str_eq(err, "inet_dist_use_interface 127.0.0.1 is not an "
                     "IPv6 address, and the node speaks IPv6", "%s", err);
}
