/* demo - what `./dev demo` shows: a C node (enode-echo) in a TLS cluster
 * with a real OTP node. A private EPMD, one OTP node over inet_tls_dist
 * with mutual TLS, and enode-echo; the Erlang side pings the C node, sees
 * it in nodes(), sends it terms and prints what comes back, and shows the
 * TLS version and cipher of the connection. Everything stops at the end.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cnode.h"
#include "harness.h"

static int show(h_node_t *n, const char *what, const char *expr)
{
    char out[2048];
    int rc = h_eval(n, expr, out, sizeof out, 10000);
    printf("  %-34s -> %s%s\n", what, rc == H_OK ? "" : "(error) ", out);
    return rc == H_OK ? 0 : -1;
}

static int run(h_cluster_t *c)
{
    char prog[1024], expr[2048];
    h_node_t *a;
    h_cnode_t *e;
    int bad = 0;

    if (h_epmd_start(c) < 0 || !(a = h_node_start(c, "erl", NULL)))
        return -1;
    const char *argv[] = {h_build_path("examples/echo/enode-echo", prog,
                                       sizeof prog),
                          "-sname", "cnode", "-setcookie", h_cluster_cookie(c),
                          "-proto_dist", "inet_tls", "-ssl_dist_optfile",
                          h_cluster_optfile(c), NULL};
    if (!(e = h_cnode_start(c, argv, 15000)))
        return -1;
    const char *cn = h_cnode_name(e);
    printf("OTP node  %s\nC node    %s (enode-echo)\n\n", h_node_name(a), cn);
    printf("On %s:\n", h_node_name(a));

    snprintf(expr, sizeof expr, "net_adm:ping('%s').", cn);
    bad |= show(a, "net_adm:ping(CNode)", expr);
    bad |= show(a, "nodes()", "nodes().");
    snprintf(expr, sizeof expr, "harness_agent:dist_tls_info('%s').", cn);
    bad |= show(a, "TLS version and cipher", expr);
    static const char *terms[] = {
        "{hello, 42, [1,2,3]}", "3.14159", "<<\"binary\">>",
        "#{map => [nested, {tuple}]}", "'\\x{fc}nicode atom'",
        "{self(), make_ref()}", "1 bsl 100",
    };
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        char what[256];
        snprintf(what, sizeof what, "echo %s", terms[i]);
        snprintf(expr, sizeof expr,
                 "T = %s, {echo, '%s'} ! {self(), T}, receive R -> "
                 "{R, R =:= T} after 5000 -> timeout end.", terms[i], cn);
        bad |= show(a, what, expr);
    }
    h_cnode_stop(e);
    return bad;
}

int main(void)
{
    h_cluster_t *c = h_cluster_new();
    if (!c)
        return 1;
    int rc = run(c);
    h_cluster_stop(c);
    printf("\n%s; everything it started is stopped.\n",
           rc == 0 ? "demo done" : "demo FAILED");
    return rc == 0 ? 0 : 1;
}
