/* rpc.h - Erlang calling C functions: rpc:call, erpc:call and the rex
 * server (internal).
 *
 * The application registers C functions under Module:Function
 * (enode_rpc_register). Erlang reaches them three ways, all answered from
 * the same table: erpc's SPAWN_REQUEST of erpc:execute_call/4 (rpc.c),
 * and the rex server's {Caller, {call, M, F, A, GL}} and its gen_server
 * form (rex.c), which ei_rpc() and erl_call speak.
 */
#ifndef ENODE_SVC_RPC_H
#define ENODE_SVC_RPC_H

#include "proc/proc.h"

typedef struct en_rpc {
    en_proc_t *proc;
    struct en_rpc_fn *fns;
    en_mbox_t *rex; /* the rex service */
} en_rpc_t;

/* Take erpc's spawn requests. */
int en_rpc_start(en_rpc_t *r, en_proc_t *p);
void en_rpc_free(en_rpc_t *r);

int en_rpc_register_locked(en_rpc_t *r, const char *module,
                           const char *function, enode_rpc_fn fn, void *user);

enum { EN_RPC_RETURN, EN_RPC_ERROR, EN_RPC_UNDEF };
/* Call the C function for m:f with the argument list args. out gets the
 * value (RETURN), the error reason (ERROR) or the stack of an undefined
 * function (UNDEF), without a version byte. Releases the lock meanwhile. */
int en_rpc_apply(en_rpc_t *r, const char *m, const char *f, const char *args,
                 int args_len, ei_x_buff *out);

/* Start the rex service (rex.c), which answers from r's table. */
int en_rex_start(en_rpc_t *r);

#endif
