/* test_tools.c - enode-call, the erl_call work-alike, against a real OTP
 * node over TLS. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cnode.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *otp;

static void up(void)
{
    cluster = h_cluster_new();
    cr_assert_not_null(cluster);
    cr_assert_gt(h_epmd_start(cluster), 0);
    otp = h_node_start(cluster, "target", NULL);
    cr_assert_not_null(otp);
}

static void down(void)
{
    h_cluster_stop(cluster);
}

/* Run enode-call against the OTP node with `how` (-a ... or -e) and
 * `input` on stdin; its output (stdout and stderr) goes to out. Returns
 * its exit status. */
static int run_call_as(const char *alive, const char *cookie_flag,
                       const char *cookie, const char *how, const char *input,
                       char *out, size_t outlen)
{
    char prog[1024], cmd[4096];

    snprintf(cmd, sizeof cmd,
             "printf '%%s' '%s' | ERL_EPMD_PORT=%d %s -sname %s %s %s "
             "-proto_dist inet_tls -ssl_dist_optfile %s %s 2>&1",
             input ? input : "", h_cluster_epmd_port(cluster),
             h_build_path("tools/enode-call", prog, sizeof prog), alive,
             cookie_flag, cookie ? cookie : h_cluster_cookie(cluster),
             h_cluster_optfile(cluster), how);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_call(const char *cookie, const char *how, const char *input,
                    char *out, size_t outlen)
{
    char alive[256];

    snprintf(alive, sizeof alive, "%s", h_node_name(otp));
    alive[strcspn(alive, "@")] = '\0';
    return run_call_as(alive, "-c", cookie, how, input, out, outlen);
}

TestSuite(tools, .init = up, .fini = down, .timeout = 60);

Test(tools, enode_call_applies_and_evaluates)
{
    char out[4096], want[300];

    cr_assert_eq(run_call(NULL, "-a 'erlang node'", NULL, out, sizeof out), 0,
                 "%s", out);
    snprintf(want, sizeof want, "'%s'", h_node_name(otp));
    cr_assert(strcmp(out, h_node_name(otp)) == 0 || strcmp(out, want) == 0,
              "%s", out);
    /* Values above 255, or ei prints the list as a string, as erl_call. */
    cr_assert_eq(run_call(NULL, "-a 'lists seq [1000, 1002]'", NULL, out,
                          sizeof out), 0, "%s", out);
    cr_assert_str_eq(out, "[1000, 1001, 1002]"); /* ei_print_term style */
    cr_assert_eq(run_call(NULL, "-e", "X = 6, X * 7.", out, sizeof out), 0,
                 "%s", out);
    cr_assert_str_eq(out, "{ok, 42}");
}

Test(tools, enode_call_reports_failures)
{
    char out[4096];

    cr_assert_eq(run_call(NULL, "-a 'no_such_module f []'", NULL, out,
                          sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "badrpc"), "%s", out);
    cr_assert_eq(run_call("wrong_cookie", "-a 'erlang node'", NULL, out,
                          sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "cookie"), "%s", out);
    cr_assert_eq(run_call(NULL, "-e", "1 +.", out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "error"), "%s", out);
}

Test(tools, enode_call_takes_erls_setcookie)
{
    char out[4096], alive[256];

    snprintf(alive, sizeof alive, "%s", h_node_name(otp));
    alive[strcspn(alive, "@")] = '\0';
    cr_assert_eq(run_call_as(alive, "-setcookie", NULL, "-a 'erlang node'",
                             NULL, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, h_node_name(otp)), "%s", out);
}

/* As erl_call: -q halts the node (and only that), and a node that is not
 * there is no failure. */
Test(tools, enode_call_q_halts_the_node)
{
    char out[4096];

    cr_assert_eq(run_call(NULL, "-q -a 'erlang node'", NULL, out, sizeof out),
                 0, "%s", out);
    cr_assert_str_eq(out, "", "-q printed: %s", out);
    int gone = 0;
    for (int i = 0; i < 50 && !gone; i++) {
        gone = run_call(NULL, "-a 'erlang node'", NULL, out, sizeof out) == 1;
        if (!gone)
            usleep(100000);
    }
    cr_assert(gone, "the node still answers after -q");
    cr_assert_eq(run_call(NULL, "-q", NULL, out, sizeof out), 0, "%s", out);
}
