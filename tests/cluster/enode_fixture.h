/* enode_fixture.h - in-process C nodes in cluster tests. */
#ifndef ENODE_TESTS_ENODE_FIXTURE_H
#define ENODE_TESTS_ENODE_FIXTURE_H

#include "enode.h"
#include "harness.h"

/* A new cluster with its private EPMD running, and ERL_EPMD_PORT set so
 * that in-process C nodes register there. NULL if either fails. */
h_cluster_t *h_cluster_with_epmd(void);

/* Defaults for a C node called `name` in cluster c: the cluster's cookie
 * and ssl_dist_optfile (mutual TLS with its CA). */
void h_enode_config(h_cluster_t *c, enode_config_t *cfg, const char *name);

#endif
