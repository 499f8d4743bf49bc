/* net_kernel.h - the net_kernel every node runs, as far as peers ask it
 * anything (internal). */
#ifndef ENODE_SVC_NET_KERNEL_H
#define ENODE_SVC_NET_KERNEL_H

#include "proc/proc.h"

/* Register net_kernel: it answers {is_auth, Node} with yes, which makes
 * net_adm:ping/1 say pong. */
int en_net_kernel_start(en_proc_t *p);

#endif
