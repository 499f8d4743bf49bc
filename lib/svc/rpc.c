/* rpc.c - Erlang calling C functions: the table, and one call through
 * it.
 *
 * Every way Erlang calls this node (erpc.c, rex.c) ends in en_rpc_apply:
 * the C function registered for Module:Function if there is one, else a
 * built-in (bif.c), else undef, as an Erlang node reports a function
 * that does not exist.
 */
#include "svc/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct en_rpc_fn {
    struct en_rpc_fn *next;
    char module[MAXATOMLEN_UTF8], function[MAXATOMLEN_UTF8];
    enode_rpc_fn fn;
    void *user;
};

int en_rpc_register_locked(en_rpc_t *r, const char *module,
                           const char *function, enode_rpc_fn fn, void *user)
{
    struct en_rpc_fn *f;

    if (!module || !function || !fn || strlen(module) >= MAXATOMLEN_UTF8 ||
        strlen(function) >= MAXATOMLEN_UTF8)
        return ENODE_EINVAL;
    if (!(f = calloc(1, sizeof *f)))
        return ENODE_ENOMEM;
    strcpy(f->module, module);
    strcpy(f->function, function);
    f->fn = fn;
    f->user = user;
    f->next = r->fns;
    r->fns = f;
    return 0;
}

int en_rpc_start(en_rpc_t *r, en_proc_t *p)
{
    r->proc = p;
    return en_user_start(p, &r->user);
}

void en_rpc_free(en_rpc_t *r)
{
    while (r->fns) {
        struct en_rpc_fn *f = r->fns;
        r->fns = f->next;
        free(f);
    }
}

static struct en_rpc_fn *find_fn(en_rpc_t *r, const char *m, const char *f)
{
    for (struct en_rpc_fn *fn = r->fns; fn; fn = fn->next)
        if (strcmp(fn->module, m) == 0 && strcmp(fn->function, f) == 0)
            return fn;
    return NULL;
}

/* Reason, then the stack [{M, F, ArgsOrArity, []}] of the one frame
 * that failed: args is the argument list when given, else arity. */
static void put_error(ei_x_buff *x, const char *reason_atom, const char *m,
                      const char *f, const char *args, int args_len,
                      int arity)
{
    if (reason_atom)
        ei_x_encode_atom(x, reason_atom);
    ei_x_encode_list_header(x, 1);
    ei_x_encode_tuple_header(x, 4);
    en_encode_name(x, m);
    en_encode_name(x, f);
    if (args)
        ei_x_append_buf(x, args, args_len);
    else
        ei_x_encode_long(x, arity);
    ei_x_encode_empty_list(x);
    ei_x_encode_empty_list(x);
}

/* Erlang sends a list of small integers, such as [2, 3], as a string
 * (STRING_EXT), which ei_decode_list_header refuses: rewrite it as the
 * list of integers it is, so that functions see one shape. */
static int as_proper_list(const char *args, ei_x_buff *list)
{
    int i = 0, type, size;
    char *bytes;

    if (ei_get_type(args, &i, &type, &size) < 0 || type != ERL_STRING_EXT)
        return 0;
    if (!(bytes = malloc((size_t)size + 1)) ||
        ei_decode_string(args, &i, bytes) < 0 || ei_x_new(list) < 0) {
        free(bytes);
        return -1;
    }
    ei_x_encode_list_header(list, size);
    for (int k = 0; k < size; k++)
        ei_x_encode_long(list, (unsigned char)bytes[k]);
    ei_x_encode_empty_list(list);
    free(bytes);
    return 1;
}

/* Run the registered C function, without the lock: it may call back into
 * the node (to send, say); what it reads lies in the packet or in list,
 * which only this thread touches. */
static int run_fn(en_rpc_t *rpc, struct en_rpc_fn *r, const char *m,
                  const char *f, const char *args, int index, int arity,
                  ei_x_buff *out)
{
    pthread_mutex_t *lock = &rpc->proc->core->lock;
    ei_x_buff result;

    if (ei_x_new_with_version(&result) < 0) {
        ei_x_encode_atom(out, "system_limit");
        put_error(out, NULL, m, f, NULL, 0, arity);
        return EN_RPC_ERROR;
    }
    pthread_mutex_unlock(lock);
    int rc = r->fn(r->user, args, index, arity, &result);
    pthread_mutex_lock(lock);
    ei_x_append_buf(out, result.buff + 1, result.index - 1);
    ei_x_free(&result);
    if (rc == 0)
        return EN_RPC_RETURN;
    put_error(out, NULL, m, f, NULL, 0, arity);
    return EN_RPC_ERROR;
}

int en_rpc_apply(en_rpc_t *rpc, const char *m, const char *f,
                 const char *args, int args_len, ei_x_buff *out)
{
    struct en_rpc_fn *r = find_fn(rpc, m, f);
    int i = 0, arity, kind;
    ei_x_buff list;

    int rewritten = as_proper_list(args, &list);
    const char *argl = rewritten > 0 ? list.buff : args;
    if (rewritten < 0 || ei_decode_list_header(argl, &i, &arity) < 0) {
        /* Not a list: apply/3 itself fails. */
        if (rewritten > 0)
            ei_x_free(&list);
        ei_x_encode_atom(out, "badarg");
        ei_x_encode_empty_list(out);
        return EN_RPC_ERROR;
    }
    if (r)
        kind = run_fn(rpc, r, m, f, argl, i, arity, out);
    else if ((kind = en_bif_apply(rpc->proc, m, f, argl,
                                  rewritten > 0 ? list.index : args_len, i,
                                  arity, out)) < 0) {
        put_error(out, "undef", m, f, args, args_len, 0);
        kind = EN_RPC_ERROR;
    }
    if (rewritten > 0)
        ei_x_free(&list);
    return kind;
}
