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

enode_config_t *h_enode_config(h_cluster_t *c, const char *name)
{
    enode_config_t *cfg;

    if (enode_config_new(&cfg) < 0)
        return NULL;
    if (enode_config_set_name(cfg, name, 0) < 0 ||
        enode_config_set_cookie(cfg, h_cluster_cookie(c)) < 0 ||
        enode_config_set_ssl_dist_optfile(cfg, h_cluster_optfile(c)) < 0) {
        enode_config_free(cfg);
        return NULL;
    }
    return cfg;
}

int h_enode_new(h_cluster_t *c, enode_t **node, const char *name,
                void (*tweak)(enode_config_t *), char *err, size_t errlen)
{
    enode_config_t *cfg = h_enode_config(c, name);
    int rc;

    if (!cfg) {
        snprintf(err, errlen, "cannot make a configuration for %s", name);
        return ENODE_ENOMEM;
    }
    if (tweak)
        tweak(cfg);
    rc = enode_new(node, cfg, err, errlen);
    enode_config_free(cfg);
    return rc;
}
