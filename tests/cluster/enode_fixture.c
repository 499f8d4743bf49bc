/* enode_fixture.c - in-process C nodes in cluster tests. Apart from
 * harness.c so that programs without libenode (the demo) need not link it. */
#include "enode_fixture.h"

#include <stdio.h>
#include <stdlib.h>

h_cluster_t *h_cluster_with_epmd(void)
{
    char port[16];
    h_cluster_t *c = h_cluster_new();

    if (!c)
        return NULL;
    if (h_epmd_start(c) <= 0) {
        h_cluster_stop(c);
        return NULL;
    }
    snprintf(port, sizeof port, "%d", h_cluster_epmd_port(c));
    setenv("ERL_EPMD_PORT", port, 1);
    return c;
}

void h_enode_config(h_cluster_t *c, enode_config_t *cfg, const char *name)
{
    enode_config_init(cfg);
    cfg->name = name;
    cfg->cookie = h_cluster_cookie(c);
    cfg->ssl_dist_optfile = h_cluster_optfile(c);
}
