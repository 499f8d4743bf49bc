/* cnode.h - run C node programs (enode-echo, test peers) in cluster tests.
 *
 * A C node program prints "ready <node name>" once it listens. The
 * launcher starts it with the cluster's EPMD port in ERL_EPMD_PORT, waits
 * for that line, and stops it by PID like the harness stops OTP nodes:
 * own process group, SIGKILL if the test dies, an atexit safety net.
 */
#ifndef ENODE_TESTS_CNODE_H
#define ENODE_TESTS_CNODE_H

#include <sys/types.h>

#include "harness.h"

typedef struct h_cnode h_cnode_t;

/* The path of a program in the build tree: $ENODE_BUILDDIR/rel. */
const char *h_build_path(const char *rel, char *buf, size_t len);

/* Start argv[0] with argv (NULL-terminated). stderr goes to a log file
 * in the cluster's directory. Waits up to timeout_ms for the ready line;
 * NULL (after printing the log) if it does not come. */
h_cnode_t *h_cnode_start(h_cluster_t *c, const char *const *argv,
                         int timeout_ms);

const char *h_cnode_name(const h_cnode_t *n); /* from the ready line */
/* What it printed on stdout before the ready line (e.g. a port). */
const char *h_cnode_banner(const h_cnode_t *n);
pid_t h_cnode_pid(const h_cnode_t *n);
const char *h_cnode_log(const h_cnode_t *n);

/* Wait for the program to exit by itself; its exit status, or -1 on
 * timeout. The handle stays valid. */
int h_cnode_wait_exit(h_cnode_t *n, int timeout_ms);

/* SIGTERM, then SIGKILL after 3 s; reaps it and frees the handle. */
void h_cnode_stop(h_cnode_t *n);
void h_cnode_kill(h_cnode_t *n); /* SIGKILL now; handle stays valid */

#endif
