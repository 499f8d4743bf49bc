/*
 * otp_pair_demo: brings up a private epmd and two OTP nodes that talk over
 * mutual-TLS distribution, shows that they see each other and what TLS
 * they negotiated, then stops everything. Exit code 0 on success.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

static int show(h_node_t *n, const char *label, const char *fmt, const char *arg)
{
    char out[1024];
    int rc = h_evalf(n, out, sizeof out, 0, fmt, arg);
    printf("  %-24s %s%s\n", label, rc == H_OK ? "" : "(error) ", out);
    return rc;
}

static int ping_and_report(h_node_t *from, h_node_t *to)
{
    printf("%s:\n", h_node_name(from));
    int rc = show(from, "net_adm:ping(peer)", "net_adm:ping('%s').", h_node_name(to));
    show(from, "nodes()", "nodes()%s.", "");
    /* {Protocol, Cipher} from the dist connection's ssl socket (OTP 25
     * internals); {unknown, _} where that is not available. */
    show(from, "dist TLS (proto,cipher)", "harness_agent:dist_tls_info('%s').",
         h_node_name(to));
    show(from, "ssl:versions() supported",
         "proplists:get_value(supported, ssl:versions())%s.", "");
    return rc;
}

int main(void)
{
    h_cluster_t *c = h_cluster_new();
    if (!c)
        return 1;
    int status = 1;
    printf("cluster dir %s\n", h_cluster_dir(c));
    if (h_epmd_start(c) < 0)
        goto out;
    printf("epmd on 127.0.0.1:%d (pid %d)\n", h_cluster_epmd_port(c),
           (int)h_cluster_epmd_pid(c));

    h_node_t *a = h_node_launch(c, "a", NULL);
    h_node_t *b = h_node_launch(c, "b", NULL);
    if (!a || !b || h_node_wait_ready(a, 0) < 0 || h_node_wait_ready(b, 0) < 0)
        goto out;
    printf("nodes %s (pid %d) and %s (pid %d) up, -proto_dist inet_tls\n",
           h_node_name(a), (int)h_node_pid(a), h_node_name(b), (int)h_node_pid(b));

    if (ping_and_report(a, b) == H_OK && ping_and_report(b, a) == H_OK)
        status = 0;
out:
    h_cluster_stop(c);
    printf("stopped; %s\n", status == 0 ? "OK" : "FAILED");
    return status;
}
