/*
 * First cluster test: a private epmd and two real OTP nodes that talk over
 * mutual-TLS distribution (inet_tls_dist), and a teardown that leaves no
 * process behind.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define MAX_PIDS 16

/* Both directions: a ping from a to b must make each list the other.
 * Compared in Erlang, so the test does not depend on how ~w quotes a name
 * (a host name with '-' or '.' makes the atom print quoted). */
static void assert_connected(h_node_t *a, h_node_t *b)
{
    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').", h_node_name(b)));
    char expr[512];
    snprintf(expr, sizeof expr, "nodes() =:= ['%s']", h_node_name(b));
    cr_assert(h_wait_until(a, expr, "true", 5000));
    snprintf(expr, sizeof expr, "nodes() =:= ['%s']", h_node_name(a));
    cr_assert(h_wait_until(b, expr, "true", 5000));
}

/* Processes whose parent is this test process: after teardown there must
 * be none, not even a zombie (the harness reaps what it re-parents). */
static int count_own_children(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[64], buf[512];
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        int ppid;
        if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == getpid()) {
            fprintf(stderr, "left over child: %s\n", buf);
            count++;
        }
    }
    closedir(d);
    return count;
}

static void assert_all_gone(const pid_t *pids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cr_expect(!h_pid_alive(pids[i]), "pid %d still alive", (int)pids[i]);
        cr_expect(!h_pgrp_alive(pids[i]), "process group %d not empty",
                  (int)pids[i]);
    }
    cr_expect_eq(count_own_children(), 0);
}

Test(cluster_otp, two_tls_nodes_ping_and_clean_teardown, .timeout = 60)
{
    h_cluster_t *c = h_cluster_new();
    cr_assert_not_null(c);
    cr_assert_gt(h_epmd_start(c), 0);

    /* Boot both nodes at once: each boot is most of the test's time. */
    h_node_t *a = h_node_launch(c, "a", NULL);
    h_node_t *b = h_node_launch(c, "b", NULL);
    cr_assert(a && b);
    cr_assert_eq(h_node_wait_ready(a, 0), 0);
    cr_assert_eq(h_node_wait_ready(b, 0), 0);
    cr_assert_str_eq(h_node_host(a), h_node_host(b));

    assert_connected(a, b);
    /* The connection really is TLS (and so used our CA's certificates). */
    char info[256];
    cr_assert_eq(h_evalf(a, info, sizeof info, 0,
                         "element(1, harness_agent:dist_tls_info('%s')).",
                         h_node_name(b)), H_OK);
    /* OTP 25 and 27 use TLS 1.2 when an optfile omits `versions`; OTP 29
     * negotiates TLS 1.3. Either way it must be TLS. */
    cr_expect(strcmp(info, "'tlsv1.2'") == 0 || strcmp(info, "'tlsv1.3'") == 0,
              "dist TLS protocol: %s", info);

    pid_t pids[MAX_PIDS];
    size_t n = h_cluster_pids(c, pids, MAX_PIDS);
    cr_assert_geq(n, 3);
    cr_assert_leq(n, MAX_PIDS);
    h_cluster_stop(c);
    assert_all_gone(pids, n);
}

Test(cluster_otp, eval_reports_errors_and_timeouts, .timeout = 60)
{
    h_cluster_t *c = h_cluster_new();
    cr_assert_not_null(c);
    cr_assert_gt(h_epmd_start(c), 0);
    h_node_t *a = h_node_start(c, "e", NULL);
    cr_assert_not_null(a);

    char out[256];
    cr_expect_eq(h_eval(a, "1 + 1.", out, sizeof out, 0), H_OK);
    cr_expect_str_eq(out, "2");
    cr_expect_eq(h_eval(a, "X = [a, {b, \"c\"}, <<1>>], X", out, sizeof out, 0), H_OK);
    cr_expect_str_eq(out, "[a,{b,[99]},<<1>>]");
    cr_expect_eq(h_eval(a, "error(boom)", out, sizeof out, 0), H_EERL);
    cr_expect_str_eq(out, "{error,boom}");
    cr_expect_eq(h_eval(a, "1 +", out, sizeof out, 0), H_EERL);
    cr_expect_eq(h_eval(a, "timer:sleep(1000)", out, sizeof out, 200), H_ETIMEOUT);
    /* The late reply to the timed-out request must not be taken for this one. */
    cr_expect_eq(h_eval(a, "timer:sleep(1000), late", out, sizeof out, 5000), H_OK);
    cr_expect_str_eq(out, "late");
    cr_expect(h_eval_expect(a, "erlang:system_info(otp_release) >= \"25\"", "true"));

    pid_t pid = h_node_pid(a);
    h_node_kill(a);
    cr_expect_eq(h_eval(a, "node()", out, sizeof out, 1000), H_EIO);
    cr_expect(!h_pgrp_alive(pid));
    h_cluster_stop(c);
}

/* The optfile really verifies: a node whose certificate comes from another
 * CA is refused, whichever side starts the connection. */
Test(cluster_otp, node_with_unknown_ca_is_refused, .timeout = 60)
{
    h_cluster_t *c = h_cluster_new();
    cr_assert_not_null(c);
    cr_assert_gt(h_epmd_start(c), 0);

    char pki2[1100], optfile2[1100];
    snprintf(pki2, sizeof pki2, "%s/pki2", h_cluster_dir(c));
    snprintf(optfile2, sizeof optfile2, "%s/ssl_dist2.conf", h_cluster_dir(c));
    cr_assert_eq(h_pki_make(pki2), 0);
    cr_assert_eq(h_write_optfile(pki2, optfile2), 0);

    h_node_opts_t stranger = H_NODE_OPTS_INIT;
    stranger.optfile = optfile2;
    h_node_t *a = h_node_launch(c, "a", NULL);
    h_node_t *x = h_node_launch(c, "x", &stranger);
    cr_assert(a && x);
    cr_assert_eq(h_node_wait_ready(a, 0), 0);
    cr_assert_eq(h_node_wait_ready(x, 0), 0);

    cr_expect(h_eval_expectf(x, "pang", "net_adm:ping('%s').", h_node_name(a)));
    cr_expect(h_eval_expectf(a, "pang", "net_adm:ping('%s').", h_node_name(x)));
    cr_expect(h_eval_expect(a, "nodes()", "[]"));
    /* Refused for the right reason, not a cookie or epmd problem. OTP logs
     * the alert as a NOTICE report, so allow it a moment to be written. */
    for (int i = 0; i < 50 && !h_node_log_contains(a, "Unknown CA"); i++)
        usleep(20000);
    cr_expect(h_node_log_contains(a, "Unknown CA"), "see %s", h_node_log(a));
    h_cluster_stop(c);
}
