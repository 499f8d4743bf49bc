/* rpc.h - rpc both ways: Erlang calling C functions, and C calling
 * Erlang (internal).
 *
 * The application registers C functions under Module:Function
 * (enode_rpc_register). Erlang reaches them, and the few built-in
 * functions every node answers (bif.c), every way OTP's rpc and erpc
 * modules call a node, all answered from the same table (rpc.c):
 *
 *   erpc.c   SPAWN_REQUEST of erpc:execute_call/4 and execute_cast/3:
 *            rpc:call, erpc:call, send_request, multicall, async_call,
 *            rpc:cast and erpc:cast;
 *   rex.c    the rex server: rpc:block_call, the {call, ...} forms of
 *            ei_rpc() and erl_call, casts, sbcast and features_request.
 *
 * The other way, enode_rpc_call() and enode_rpc_cast() (rpc_client.c)
 * speak erpc to a peer, and rex's {call, ...} to a peer without SPAWN.
 * The processes they start on other nodes get the node's `user` service
 * (user.c) as their group leader.
 */
#ifndef ENODE_SVC_RPC_H
#define ENODE_SVC_RPC_H

#include <string.h>

#include "proc/proc.h"

typedef struct en_rpc {
    en_proc_t *proc;
    struct en_rpc_fn *fns;
    en_mbox_t *rex;  /* the rex service */
    en_mbox_t *user; /* `user`: group leader of the calls we make */
} en_rpc_t;

/* Start the table and `user`; then the node starts rex and erpc. */
int en_rpc_start(en_rpc_t *r, en_proc_t *p);
void en_rpc_free(en_rpc_t *r);

int en_rpc_register_locked(en_rpc_t *r, const char *module,
                           const char *function, enode_rpc_fn fn, void *user);

enum { EN_RPC_RETURN, EN_RPC_ERROR };
/* Call m:f, a registered C function or else a built-in, with the argument
 * list args (bare). RETURN: out gets the value. ERROR: out gets two
 * terms, Reason and then Stack, as erpc reports error:Reason (`undef`
 * with [{M, F, Args, []}] for a function that does not exist). Nothing
 * gets a version byte. Releases the lock while a C function runs. */
int en_rpc_apply(en_rpc_t *r, const char *m, const char *f, const char *args,
                 int args_len, ei_x_buff *out);

/* The built-in functions (bif.c): -1 if m:f/arity is none, else as
 * en_rpc_apply. args is the argument list, whose arity elements start at
 * args[index]. */
int en_bif_apply(en_proc_t *p, const char *m, const char *f, const char *args,
                 int args_len, int index, int arity, ei_x_buff *out);

/* Answer erpc's spawn requests (erpc.c), and serve rex (rex.c). */
void en_erpc_start(en_rpc_t *r);
int en_rex_start(en_rpc_t *r);
/* Start `user`, the io server of calls this node makes (user.c). */
int en_user_start(en_proc_t *p, en_mbox_t **out);

/* C calling Erlang (rpc_client.c): enode_rpc_call and enode_rpc_cast
 * for a mailbox of r's node. */
int en_rpc_call(en_rpc_t *r, en_mbox_t *mb, const char *node,
                const char *module, const char *function,
                const ei_x_buff *args, ei_x_buff *result, int timeout_ms);
int en_rpc_cast(en_rpc_t *r, en_mbox_t *mb, const char *node,
                const char *module, const char *function,
                const ei_x_buff *args);

/* Atoms as UTF-8 both ways: ei's plain atom calls speak Latin-1. */
static inline int en_decode_name(const char *buf, int *i, char *name)
{
    return ei_decode_atom_as(buf, i, name, MAXATOMLEN_UTF8, ERLANG_UTF8,
                             NULL, NULL);
}

static inline int en_encode_name(ei_x_buff *x, const char *name)
{
    return ei_x_encode_atom_len_as(x, name, (int)strlen(name), ERLANG_UTF8,
                                   ERLANG_UTF8);
}

#endif
