/* enode_fixture.h - in-process C nodes in cluster tests. */
#ifndef ENODE_TESTS_ENODE_FIXTURE_H
#define ENODE_TESTS_ENODE_FIXTURE_H

#include "enode.h"
#include "harness.h"

/* A new cluster with its private EPMD running, and ERL_EPMD_PORT set so
 * that in-process C nodes register there. NULL if either fails. */
h_cluster_t *h_cluster_with_epmd(void);

/* A new configuration for a C node called `name` in cluster c: the
 * cluster's cookie and ssl_dist_optfile (mutual TLS with its CA). NULL if
 * it cannot be made. Free it with enode_config_free(). */
enode_config_t *h_enode_config(h_cluster_t *c, const char *name);

/* enode_new() with that configuration, changed first by tweak (if not
 * NULL): its code, and the reason in err. */
int h_enode_new(h_cluster_t *c, enode_t **node, const char *name,
                void (*tweak)(enode_config_t *), char *err, size_t errlen);

#endif
