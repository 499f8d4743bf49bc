/* test_config_set.c - the setters and getters of enode_config_t: each
 * refuses a bad value and leaves the configuration as it was, keeps its
 * own copy of every string, and enode_new() keeps nothing of it. Fields
 * are read through the private node/config_int.h. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "enode.h"
#include "node/config_int.h"

static enode_config_t *c;

static void make(void)
{
    cr_assert_eq(enode_config_new(&c), 0);
    cr_assert_not_null(c);
}

static void drop(void)
{
    enode_config_free(c);
}

TestSuite(config_set, .init = make, .fini = drop);

/* A heap copy of s that the test scribbles over and frees after handing
 * it to a setter: the configuration must have kept its own. */
static char *given(const char *s)
{
    char *copy = strdup(s);
    cr_assert_not_null(copy);
    return copy;
}

static void take_back(char *s)
{
    memset(s, 'X', strlen(s));
    free(s);
}

Test(config_set, every_setter_refuses_no_configuration)
{
    cr_assert_eq(enode_config_set_name(NULL, "a", 0), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_cookie(NULL, "c"), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_proto(NULL, ENODE_PROTO_TCP), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_ipv6(NULL, 1), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_hidden(NULL, 1), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_net_ticktime(NULL, 60), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_setup_time_ms(NULL, 7000), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_epmd_port(NULL, 4369), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_dist_port(NULL, 4370), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_listen_range(NULL, 1, 2), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_max_message_size(NULL, 1), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_ssl_dist_optfile(NULL, "/f"), ENODE_EINVAL);
    cr_assert_eq(enode_config_add_ssl_dist_opt(NULL, "k", "v"), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_log(NULL, NULL, NULL, ENODE_LOG_INFO),
                 ENODE_EINVAL);
    cr_assert_eq(enode_config_set_verify(NULL, NULL, NULL), ENODE_EINVAL);
    cr_assert_null(enode_config_get_name(NULL, NULL));
    cr_assert_eq(enode_config_has_cookie(NULL), 0);
}

Test(config_set, name)
{
    char *name = given("worker@host.example");
    int long_names = -1;

    cr_assert_eq(enode_config_set_name(c, name, 1), 0);
    take_back(name);
    cr_assert_str_eq(enode_config_get_name(c, &long_names),
                     "worker@host.example");
    cr_assert_eq(long_names, 1);
    /* Bad names leave the good one. */
    const char *bad[] = {NULL, "", "a b", "w@", "@h", "a@b@c", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(enode_config_set_name(c, bad[i], 0), ENODE_EINVAL,
                     "%s", bad[i] ? bad[i] : "NULL");
    cr_assert_str_eq(c->name, "worker@host.example");
    cr_assert_eq(c->long_names, 1);
    /* Any nonzero long_names is 1; a name without a host is fine. */
    cr_assert_eq(enode_config_set_name(c, "w_2-x", 7), 0);
    cr_assert_str_eq(c->name, "w_2-x");
    cr_assert_eq(c->long_names, 1);
    cr_assert_eq(enode_config_set_name(c, "w", 0), 0);
    cr_assert_eq(c->long_names, 0);
}

Test(config_set, cookie)
{
    char *cookie = given("sesame");
    char huge[2048];

    cr_assert_eq(enode_config_set_cookie(c, cookie), 0);
    take_back(cookie);
    cr_assert_str_eq(c->cookie, "sesame");
    cr_assert_eq(enode_config_has_cookie(c), 1);
    memset(huge, 'c', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    cr_assert_eq(enode_config_set_cookie(c, ""), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_cookie(c, huge), ENODE_EINVAL);
    cr_assert_str_eq(c->cookie, "sesame");
    /* NULL: back to ~/.erlang.cookie. */
    cr_assert_eq(enode_config_set_cookie(c, NULL), 0);
    cr_assert_null(c->cookie);
    cr_assert_eq(enode_config_has_cookie(c), 0);
}

Test(config_set, proto_ipv6_and_hidden)
{
    cr_assert_eq(enode_config_set_proto(c, ENODE_PROTO_TCP), 0);
    cr_assert_eq(enode_config_get_proto(c), ENODE_PROTO_TCP);
    cr_assert_eq(enode_config_set_proto(c, (enode_proto_t)2), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_proto(c, (enode_proto_t)-1), ENODE_EINVAL);
    cr_assert_eq(enode_config_get_proto(c), ENODE_PROTO_TCP);
    cr_assert_eq(enode_config_set_proto(c, ENODE_PROTO_TLS), 0);
    cr_assert_eq(c->proto, ENODE_PROTO_TLS);

    cr_assert_eq(enode_config_set_ipv6(c, 5), 0);
    cr_assert_eq(c->ipv6, 1);
    cr_assert_eq(enode_config_set_ipv6(c, 0), 0);
    cr_assert_eq(c->ipv6, 0);
    cr_assert_eq(enode_config_set_hidden(c, -1), 0);
    cr_assert_eq(enode_config_get_hidden(c), 1);
    cr_assert_eq(enode_config_set_hidden(c, 0), 0);
    cr_assert_eq(enode_config_get_hidden(c), 0);
}

Test(config_set, times)
{
    cr_assert_eq(enode_config_set_net_ticktime(c, 1), 0);
    cr_assert_eq(enode_config_set_net_ticktime(c, 86400), 0);
    cr_assert_eq(enode_config_set_net_ticktime(c, 0), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_net_ticktime(c, 86401), ENODE_EINVAL);
    cr_assert_eq(c->net_ticktime, 86400);

    cr_assert_eq(enode_config_set_setup_time_ms(c, 1), 0);
    cr_assert_eq(enode_config_set_setup_time_ms(c, 3600 * 1000), 0);
    cr_assert_eq(enode_config_set_setup_time_ms(c, 0), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_setup_time_ms(c, 3600 * 1000 + 1),
                 ENODE_EINVAL);
    cr_assert_eq(c->setup_time_ms, 3600 * 1000);
}

Test(config_set, ports)
{
    cr_assert_eq(enode_config_set_epmd_port(c, 4400), 0);
    cr_assert_eq(enode_config_set_epmd_port(c, -1), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_epmd_port(c, 65536), ENODE_EINVAL);
    cr_assert_eq(c->epmd_port, 4400);
    cr_assert_eq(enode_config_set_epmd_port(c, 0), 0);
    cr_assert_eq(c->epmd_port, 0);

    cr_assert_eq(enode_config_set_dist_port(c, 65535), 0);
    cr_assert_eq(enode_config_set_dist_port(c, 65536), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_dist_port(c, -4370), ENODE_EINVAL);
    cr_assert_eq(enode_config_get_dist_port(c), 65535);
    cr_assert_eq(enode_config_set_dist_port(c, 0), 0);
    cr_assert_eq(enode_config_get_dist_port(c), 0);
}

Test(config_set, listen_range)
{
    cr_assert_eq(enode_config_set_listen_range(c, 9100, 9200), 0);
    cr_assert_eq(enode_config_set_listen_range(c, 9200, 9100), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_listen_range(c, 0, 9100), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_listen_range(c, -1, 0), ENODE_EINVAL);
    cr_assert_eq(enode_config_set_listen_range(c, 9100, 65536), ENODE_EINVAL);
    cr_assert_eq(c->listen_min, 9100);
    cr_assert_eq(c->listen_max, 9200);
    cr_assert_eq(enode_config_set_listen_range(c, 9300, 0), 0); /* one port */
    cr_assert_eq(c->listen_min, 9300);
    cr_assert_eq(c->listen_max, 0);
    cr_assert_eq(enode_config_set_listen_range(c, 0, 0), 0); /* any */
    cr_assert_eq(c->listen_min, 0);
}

Test(config_set, max_message_size)
{
    cr_assert_eq(enode_config_set_max_message_size(c, 4096), 0);
    cr_assert_eq(c->max_message_size, 4096);
    cr_assert_eq(enode_config_set_max_message_size(c, 0), 0);
    cr_assert_eq(c->max_message_size, ENODE_DEFAULT_MAX_MESSAGE);
}

Test(config_set, ssl_dist_optfile)
{
    char *path = given("/etc/cluster/dist.conf");

    cr_assert_eq(enode_config_set_ssl_dist_optfile(c, path), 0);
    take_back(path);
    cr_assert_str_eq(c->ssl_dist_optfile, "/etc/cluster/dist.conf");
    cr_assert_eq(enode_config_set_ssl_dist_optfile(c, ""), ENODE_EINVAL);
    cr_assert_str_eq(c->ssl_dist_optfile, "/etc/cluster/dist.conf");
    cr_assert_eq(enode_config_set_ssl_dist_optfile(c, NULL), 0);
    cr_assert_null(c->ssl_dist_optfile);
}

/* Far beyond the 64 pairs the old public struct had room for. */
Test(config_set, ssl_dist_opts_without_limit)
{
    enum { PAIRS = 1000 };
    char buf[64];

    for (int i = 0; i < PAIRS; i++) {
        snprintf(buf, sizeof buf, "key%d", i);
        char *key = given(buf);
        snprintf(buf, sizeof buf, "value %d", i);
        char *value = given(buf);
        cr_assert_eq(enode_config_add_ssl_dist_opt(c, key, value), 0);
        take_back(key);
        take_back(value);
    }
    cr_assert_eq(c->n_ssl_dist_opts, PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        snprintf(buf, sizeof buf, "key%d", i);
        cr_assert_str_eq(c->ssl_dist_opts[2 * i], buf);
        snprintf(buf, sizeof buf, "value %d", i);
        cr_assert_str_eq(c->ssl_dist_opts[2 * i + 1], buf);
    }
    /* A pair without a key or a value is refused and not counted; an
     * empty value is a value. */
    cr_assert_eq(enode_config_add_ssl_dist_opt(c, NULL, "v"), ENODE_EINVAL);
    cr_assert_eq(enode_config_add_ssl_dist_opt(c, "", "v"), ENODE_EINVAL);
    cr_assert_eq(enode_config_add_ssl_dist_opt(c, "k", NULL), ENODE_EINVAL);
    cr_assert_eq(c->n_ssl_dist_opts, PAIRS);
    cr_assert_eq(enode_config_add_ssl_dist_opt(c, "server_password", ""), 0);
    cr_assert_eq(c->n_ssl_dist_opts, PAIRS + 1);
}

static void a_log(void *user, int level, const char *message)
{
    (void)user;
    (void)level;
    (void)message;
}

static int a_verify(void *user, const enode_peer_cert_t *cert, char *why,
                    size_t whylen)
{
    (void)user;
    (void)cert;
    (void)why;
    (void)whylen;
    return 0;
}

Test(config_set, log_and_verify)
{
    int user;

    cr_assert_eq(enode_config_set_log(c, a_log, &user, ENODE_LOG_DEBUG), 0);
    cr_assert_eq(c->log, a_log);
    cr_assert_eq(c->log_user, &user);
    cr_assert_eq(c->log_level, ENODE_LOG_DEBUG);
    cr_assert_eq(enode_config_set_log(c, NULL, NULL, ENODE_LOG_DEBUG + 1),
                 ENODE_EINVAL);
    cr_assert_eq(enode_config_set_log(c, NULL, NULL, ENODE_LOG_ERROR - 1),
                 ENODE_EINVAL);
    cr_assert_eq(c->log, a_log);
    cr_assert_eq(enode_config_set_log(c, NULL, NULL, ENODE_LOG_ERROR), 0);
    cr_assert_null(c->log);
    cr_assert_eq(c->log_level, ENODE_LOG_ERROR);

    cr_assert_eq(enode_config_set_verify(c, a_verify, &user), 0);
    cr_assert_eq(c->verify, a_verify);
    cr_assert_eq(c->verify_user, &user);
    cr_assert_eq(enode_config_set_verify(c, NULL, NULL), 0);
    cr_assert_null(c->verify);
}

/* A port nothing listens on now: the kernel's pick for port 0. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* enode_new() keeps nothing of the configuration: free it, and the
 * strings given to it, and the node lives on. No EPMD: a fixed port. */
Test(config_set, the_node_outlives_its_configuration)
{
    char *name = given("cfgtest@localhost");
    char *cookie = given("sesame");
    enode_t *n = NULL;
    char err[512] = "";
    int rc = -1;

    cr_assert_eq(enode_config_set_name(c, name, 0), 0);
    cr_assert_eq(enode_config_set_cookie(c, cookie), 0);
    cr_assert_eq(enode_config_set_proto(c, ENODE_PROTO_TCP), 0);
    take_back(name);
    take_back(cookie);
    for (int attempt = 0; attempt < 20 && rc != 0; attempt++) {
        cr_assert_eq(enode_config_set_dist_port(c, free_port()), 0);
        rc = enode_new(&n, c, err, sizeof err);
    }
    cr_assert_eq(rc, 0, "%s", err);
    int port = c->dist_port;
    enode_config_free(c);
    c = NULL;
    cr_assert_str_eq(enode_name(n), "cfgtest@localhost");
    cr_assert_eq(enode_port(n), port);
    enode_mbox_t *mb;
    cr_assert_eq(enode_mbox_new(n, &mb), 0);
    enode_free(n);
}

/* Every -ssl_dist_opt pair reaches the TLS layer, the 100th too: here it
 * names a certificate that is not there, and enode_new() says so. */
Test(config_set, the_hundredth_tls_option_is_read)
{
    const char *missing = "/nonexistent/enode-test-100th.pem";
    enode_t *n = NULL;
    char err[512] = "";

    cr_assert_eq(enode_config_set_name(c, "tls100@localhost", 0), 0);
    cr_assert_eq(enode_config_set_cookie(c, "sesame"), 0);
    for (int i = 0; i < 99; i++)
        cr_assert_eq(enode_config_add_ssl_dist_opt(c, "client_depth", "3"),
                     0);
    cr_assert_eq(enode_config_add_ssl_dist_opt(c, "server_certfile", missing),
                 0);
    int rc = enode_new(&n, c, err, sizeof err);
    cr_assert_lt(rc, 0);
    cr_assert_null(n);
    cr_assert(strstr(err, missing), "%s", err);
}
