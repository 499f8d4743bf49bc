/* node.h - a node, assembled from its layers (internal).
 *
 *   core   the lock, the name, the log and the last error (base/core.h)
 *   net    connections and the loop (net/net.h)
 *   proc   mailboxes and signals (proc/proc.h)
 *   rpc    the C functions Erlang may call, and rex (svc/rpc.h)
 *   global enode's part in OTP's global (svc/global.h)
 *   pg     enode's part in OTP's process groups (svc/pg.h)
 *
 * The public API (include/enode.h) is implemented here for what takes an
 * enode_t, and in proc/ for what takes a mailbox.
 */
#ifndef ENODE_NODE_H
#define ENODE_NODE_H

#include "enode.h"
#include "base/core.h"
#include "net/net.h"
#include "proc/proc.h"
#include "svc/global.h"
#include "svc/pg.h"
#include "svc/rpc.h"

struct enode {
    en_core_t core;
    en_net_t net;
    en_proc_t proc;
    en_rpc_t rpc;
    en_global_t *global;
    en_pg_t *pg;
};

#endif
