/* rpc_client.c - C calling Erlang: enode_rpc_call and enode_rpc_cast.
 *
 * A call is what erpc:call/5 does (erpc.erl): the mailbox asks the node
 * to spawn erpc:execute_call(ResRef, M, F, Args) with a monitor
 * (proc/spawn.c), and waits for that monitor's DOWN. Its reason is the
 * outcome:
 *
 *   {ResRef, return, Value}           the value
 *   {ResRef, throw, Value}            ENODE_ERAISED, {throw, Value}
 *   {ResRef, exit, Reason}            ENODE_ERAISED, {exit, Reason}
 *   {ResRef, error, Reason, Stack}    ENODE_ERAISED, {error, Reason}
 *   {ResRef, error, {erpc, Reason}}   ENODE_ERAISED, {error, {erpc, Reason}}
 *   noconnection                      ENODE_ECONN
 *   anything else (the process was killed)  ENODE_ERAISED, {exit, Reason}
 *
 * The reason travels as the monitor's exit, so results and exceptions of
 * any size arrive. A call that times out is abandoned as erpc abandons
 * it: the request is forgotten, or the monitor removed, so that nothing
 * of it reaches the mailbox later; if the answer came in the meantime,
 * it is the call's answer. Casts spawn erpc:execute_cast(M, F, Args)
 * and wait for nothing.
 *
 * A peer without SPAWN gets rex's {call, M, F, Args, user} (or a
 * {cast, ...}) instead, as rpc did before erpc.
 */
#include "svc/rpc.h"

#include <stdlib.h>
#include <string.h>

#include "proto/dflags.h"

/* What one call needs. */
typedef struct {
    en_rpc_t *r;
    en_mbox_t *mb;
    const char *node, *module, *function;
    const char *args; /* the argument list, bare */
    size_t args_len;
    uint64_t until;   /* monotonic ms, or UINT64_MAX */
} call_t;

enum { FALL_BACK = 1 }; /* the peer does not spawn: ask rex */

static int ms_left(const call_t *k)
{
    if (k->until == UINT64_MAX)
        return -1;
    uint64_t now = en_now_ms();
    return now >= k->until ? 0 : (int)(k->until - now);
}

/* ---- the answer ------------------------------------------------------------ */

/* {Class, Reason} into result, Reason the term at t[at..end). */
static int raised(const call_t *k, const char *class, const char *t, int at,
                  int end, ei_x_buff *result)
{
    if (ei_x_new_with_version(result) < 0)
        return ENODE_ENOMEM;
    if (ei_x_encode_tuple_header(result, 2) < 0 ||
        ei_x_encode_atom(result, class) < 0 ||
        ei_x_append_buf(result, t + at, end - at) < 0) {
        ei_x_free(result);
        return ENODE_ENOMEM;
    }
    en_core_error(k->r->proc->core, "%s:%s on %s raised %s", k->module,
                  k->function, k->node, class);
    return ENODE_ERAISED;
}

/* The value at t[at..end) into result. */
static int returned(const char *t, int at, int end, ei_x_buff *result)
{
    if (ei_x_new_with_version(result) < 0)
        return ENODE_ENOMEM;
    if (ei_x_append_buf(result, t + at, end - at) < 0) {
        ei_x_free(result);
        return ENODE_ENOMEM;
    }
    return 0;
}

static int skip(const char *t, int *i, int n)
{
    for (int k = 0; k < n; k++)
        if (ei_skip_term(t, i) < 0)
            return -1;
    return 0;
}

/* The DOWN's reason at t[i..end): the outcome of the call. */
static int outcome(const call_t *k, const erlang_ref *res, const char *t,
                   int i, int end, ei_x_buff *result)
{
    char class[MAXATOMLEN_UTF8];
    erlang_ref ref;
    int at = i, arity;

    if (ei_decode_tuple_header(t, &at, &arity) < 0 || arity < 3 ||
        arity > 4 || ei_decode_ref(t, &at, &ref) < 0 || !en_ref_eq(&ref, res) ||
        ei_decode_atom(t, &at, class) < 0) {
        if (en_term_is_atom(t + i, (size_t)(end - i), "noconnection")) {
            en_core_error(k->r->proc->core, "%s:%s on %s: the connection "
                          "was lost", k->module, k->function, k->node);
            return ENODE_ECONN;
        }
        return raised(k, "exit", t, i, end, result); /* killed */
    }
    int value_at = at;
    if (skip(t, &at, 1) < 0)
        return ENODE_EBADTERM;
    if (strcmp(class, "return") == 0 && arity == 3)
        return returned(t, value_at, at, result);
    if ((strcmp(class, "throw") == 0 || strcmp(class, "exit") == 0 ||
         strcmp(class, "error") == 0))
        return raised(k, class, t, value_at, at, result);
    return raised(k, "exit", t, i, end, result);
}

/* {spawn_reply, ReqId, error, Reason}: no process was made. */
static int spawn_failed(const call_t *k, const char *t, int i, int end)
{
    if (en_term_is_atom(t + i, (size_t)(end - i), "notsup"))
        return FALL_BACK;
    if (en_term_is_atom(t + i, (size_t)(end - i), "noconnection")) {
        en_core_error(k->r->proc->core, "%s:%s on %s: the connection was "
                      "lost", k->module, k->function, k->node);
        return ENODE_ECONN;
    }
    char *why = NULL;
    ei_s_print_term(&why, t, &i);
    en_core_error(k->r->proc->core, "%s refused to run %s:%s: %.200s",
                  k->node, k->module, k->function, why ? why : "?");
    free(why);
    return ENODE_EINVAL;
}

/* Our request's answer: {'DOWN', ReqId, ...} or {spawn_reply, ReqId, ...}. */
static int is_answer(const char *t, int len, void *ud)
{
    char atom[MAXATOMLEN_UTF8];
    erlang_ref ref;
    int i = 1, arity;

    return len > 1 && ei_decode_tuple_header(t, &i, &arity) == 0 &&
           (arity == 4 || arity == 5) && ei_decode_atom(t, &i, atom) == 0 &&
           strcmp(atom, arity == 5 ? "DOWN" : "spawn_reply") == 0 &&
           ei_decode_ref(t, &i, &ref) == 0 && en_ref_eq(&ref, ud);
}

static int answer(const call_t *k, const erlang_ref *res, enode_msg_t *m,
                  ei_x_buff *result)
{
    const char *t = m->msg.buff;
    int i = 1, arity, end = m->msg.index;

    ei_decode_tuple_header(t, &i, &arity);
    if (arity == 4) /* spawn_reply, ReqId, error, Reason */
        return skip(t, &i, 3) < 0 ? ENODE_EBADTERM
                                  : spawn_failed(k, t, i, end);
    if (skip(t, &i, 4) < 0) /* 'DOWN', ReqId, process, Pid */
        return ENODE_EBADTERM;
    return outcome(k, res, t, i, end, result);
}

/* ---- erpc ------------------------------------------------------------------ */

/* [ResRef, M, F, Args], the arguments of execute_call/4. */
static int call_args(const call_t *k, const erlang_ref *res, ei_x_buff *x)
{
    if (ei_x_new(x) < 0)
        return ENODE_ENOMEM;
    if (ei_x_encode_list_header(x, 4) == 0 && ei_x_encode_ref(x, res) == 0 &&
        en_encode_name(x, k->module) == 0 &&
        en_encode_name(x, k->function) == 0 &&
        ei_x_append_buf(x, k->args, (int)k->args_len) == 0 &&
        ei_x_encode_empty_list(x) == 0)
        return 0;
    ei_x_free(x);
    return ENODE_ENOMEM;
}

/* Wait for the answer to req; on a timeout, abandon the request. */
static int wait_answer(const call_t *k, const erlang_ref *req, enode_msg_t *m,
                       int timeout_ms)
{
    pthread_mutex_t *lock = &k->r->proc->core->lock;
    int rc = en_receive_match(k->mb, is_answer, (void *)req, m, ms_left(k));

    if (rc == 0)
        return 0;
    pthread_mutex_lock(lock);
    int gone = en_spawn_abandon_locked(k->mb, req);
    pthread_mutex_unlock(lock);
    if (!gone) /* the answer came meanwhile: it is the call's */
        return en_receive_match(k->mb, is_answer, (void *)req, m, 0);
    if (rc == ENODE_ETIMEOUT)
        en_core_error(k->r->proc->core, "%s:%s on %s: no answer in %d ms",
                      k->module, k->function, k->node, timeout_ms);
    return rc;
}

static int call_erpc(const call_t *k, ei_x_buff *result, int timeout_ms)
{
    pthread_mutex_t *lock = &k->r->proc->core->lock;
    erlang_ref res, req;
    enode_msg_t m;
    ei_x_buff argl;

    pthread_mutex_lock(lock);
    en_make_ref(k->r->proc, &res);
    int rc = call_args(k, &res, &argl);
    if (rc == 0) {
        rc = en_spawn_request_locked(k->mb, k->node,
                                     en_mbox_self(k->r->user), "erpc",
                                     "execute_call", argl.buff,
                                     (size_t)argl.index, 1, &req);
        ei_x_free(&argl);
    }
    pthread_mutex_unlock(lock);
    if (rc < 0 || (rc = wait_answer(k, &req, &m, timeout_ms)) < 0)
        return rc;
    rc = answer(k, &res, &m, result);
    enode_msg_free(&m);
    return rc;
}

/* ---- rex, for a peer without SPAWN ------------------------------------------ */

/* {Op, M, F, Args, user}: rex's call or cast. */
static int rex_request(const call_t *k, const char *op, ei_x_buff *x)
{
    if (ei_x_new_with_version(x) < 0)
        return ENODE_ENOMEM;
    if (ei_x_encode_tuple_header(x, 5) == 0 && ei_x_encode_atom(x, op) == 0 &&
        en_encode_name(x, k->module) == 0 &&
        en_encode_name(x, k->function) == 0 &&
        ei_x_append_buf(x, k->args, (int)k->args_len) == 0 &&
        ei_x_encode_atom(x, "user") == 0)
        return 0;
    ei_x_free(x);
    return ENODE_ENOMEM;
}

/* rpc's answer: the value, or {badrpc, {'EXIT', {Reason, Stack}}} for
 * an error, {badrpc, {'EXIT', Reason}} for an exit, {badrpc, nodedown}.
 * A throw comes back as a value: rex cannot tell them apart. */
static int rex_outcome(const call_t *k, const ei_x_buff *reply,
                       ei_x_buff *result)
{
    const char *t = reply->buff;
    char atom[MAXATOMLEN_UTF8];
    int i = 1, arity, end = reply->index;

    if (ei_decode_tuple_header(t, &i, &arity) < 0 || arity != 2 ||
        ei_decode_atom(t, &i, atom) < 0 || strcmp(atom, "badrpc") != 0)
        return returned(t, 1, end, result);
    int why = i;
    if (en_term_is_atom(t + why, (size_t)(end - why), "nodedown"))
        return ENODE_ECONN;
    if (ei_decode_tuple_header(t, &i, &arity) < 0 || arity != 2 ||
        ei_decode_atom(t, &i, atom) < 0 || strcmp(atom, "EXIT") != 0)
        return raised(k, "error", t, why, end, result);
    int exit_at = i, type, size;
    if (ei_decode_tuple_header(t, &i, &arity) == 0 && arity == 2) {
        int reason_at = i;
        if (skip(t, &i, 1) == 0 && ei_get_type(t, &i, &type, &size) == 0 &&
            (type == ERL_LIST_EXT || type == ERL_NIL_EXT))
            return raised(k, "error", t, reason_at, i, result);
    }
    return raised(k, "exit", t, exit_at, end, result);
}

static int call_rex(const call_t *k, ei_x_buff *result)
{
    ei_x_buff request, reply;
    int rc = rex_request(k, "call", &request);

    if (rc < 0)
        return rc;
    rc = enode_call(k->mb, NULL, "rex", k->node, &request, &reply, ms_left(k));
    ei_x_free(&request);
    if (rc < 0)
        return rc;
    rc = rex_outcome(k, &reply, result);
    ei_x_free(&reply);
    return rc;
}

/* ---- calls here ------------------------------------------------------------ */

/* A call to this node itself runs the function at once, as erpc runs a
 * call to node() in the calling process. */
static int call_here(const call_t *k, ei_x_buff *result)
{
    pthread_mutex_t *lock = &k->r->proc->core->lock;
    ei_x_buff body;

    if (ei_x_new(&body) < 0)
        return ENODE_ENOMEM;
    pthread_mutex_lock(lock);
    int kind = en_rpc_apply(k->r, k->module, k->function, k->args,
                            (int)k->args_len, &body);
    pthread_mutex_unlock(lock);
    int end = 0;
    if (kind == EN_RPC_RETURN)
        end = body.index;
    else
        skip(body.buff, &end, 1); /* Reason, without its Stack */
    int rc = kind == EN_RPC_RETURN ? returned(body.buff, 0, end, result)
                                   : raised(k, "error", body.buff, 0, end,
                                            result);
    ei_x_free(&body);
    return rc;
}

/* ---- the two calls ------------------------------------------------------------ */

/* Check the arguments, and fill k. */
static int prepare(call_t *k, en_rpc_t *r, en_mbox_t *mb, const char *node,
                   const char *module, const char *function,
                   const ei_x_buff *args, int timeout_ms)
{
    if (!mb || !node || !*node || !module || !function || !args ||
        args->index <= 0 || strlen(node) >= MAXATOMLEN_UTF8 ||
        strlen(module) >= MAXATOMLEN_UTF8 ||
        strlen(function) >= MAXATOMLEN_UTF8)
        return ENODE_EINVAL;
    *k = (call_t){.r = r, .mb = mb, .node = node, .module = module,
                  .function = function, .args = args->buff,
                  .args_len = (size_t)args->index,
                  .until = timeout_ms < 0 ? UINT64_MAX
                                          : en_now_ms() + (uint64_t)timeout_ms};
    en_skip_version(&k->args, &k->args_len);
    long arity = en_list_length(k->args, k->args_len);
    if (arity < 0 || arity > 255) {
        en_core_error(r->proc->core, "%s:%s: the arguments are not a proper "
                      "list of at most 255 terms", module, function);
        return ENODE_EINVAL;
    }
    return 0;
}

/* Connect to k's node, within the setup time and k's time; with the lock
 * held. Sets *spawn to whether the peer speaks SPAWN. */
static int reach(const call_t *k, int *spawn)
{
    en_net_t *net = k->r->proc->net;
    uint64_t until = en_now_ms() + net->setup_ms + 500;

    if (!en_net_find(net, k->node) && !en_net_may_dial(net, k->node))
        return en_net_refuse_dial(net, k->node); /* as erpc's spawn */
    int rc = en_net_connect_until(net, k->node,
                                  k->until < until ? k->until : until);
    /* However the connection failed (enode_last_error says how), the
     * node cannot be reached; unless the call's own time ran out. */
    if (rc < 0)
        return rc == ENODE_ETIMEOUT && k->until < until ? ENODE_ETIMEOUT
                                                        : ENODE_ECONN;
    en_conn_t *c = en_net_find(net, k->node);
    *spawn = c && (en_conn_flags(c) & EN_DFLAG_SPAWN);
    return 0;
}

int en_rpc_call(en_rpc_t *r, en_mbox_t *mb, const char *node,
                const char *module, const char *function,
                const ei_x_buff *args, ei_x_buff *result, int timeout_ms)
{
    pthread_mutex_t *lock = &r->proc->core->lock;
    call_t k;
    int spawn = 0;
    int rc = result ? prepare(&k, r, mb, node, module, function, args,
                              timeout_ms)
                    : ENODE_EINVAL;

    if (rc < 0)
        return rc;
    if (en_core_is_local(r->proc->core, node))
        return call_here(&k, result);
    pthread_mutex_lock(lock);
    rc = reach(&k, &spawn);
    pthread_mutex_unlock(lock);
    if (rc < 0)
        return rc;
    if (spawn && (rc = call_erpc(&k, result, timeout_ms)) != FALL_BACK)
        return rc;
    return call_rex(&k, result);
}

/* [M, F, Args], the arguments of execute_cast/3. */
static int cast_args(const call_t *k, ei_x_buff *x)
{
    if (ei_x_new(x) < 0)
        return ENODE_ENOMEM;
    if (ei_x_encode_list_header(x, 3) == 0 &&
        en_encode_name(x, k->module) == 0 &&
        en_encode_name(x, k->function) == 0 &&
        ei_x_append_buf(x, k->args, (int)k->args_len) == 0 &&
        ei_x_encode_empty_list(x) == 0)
        return 0;
    ei_x_free(x);
    return ENODE_ENOMEM;
}

/* {'$gen_cast', {cast, M, F, Args, user}} to rex, from the mailbox. */
static int cast_rex(const call_t *k)
{
    ei_x_buff request, x;
    int rc = rex_request(k, "cast", &request);

    if (rc < 0)
        return rc;
    if (ei_x_new_with_version(&x) < 0) {
        ei_x_free(&request);
        return ENODE_ENOMEM;
    }
    rc = ENODE_ENOMEM;
    if (ei_x_encode_tuple_header(&x, 2) == 0 &&
        ei_x_encode_atom(&x, "$gen_cast") == 0 &&
        ei_x_append_buf(&x, request.buff + 1, request.index - 1) == 0)
        rc = en_reg_send_locked(k->r->proc, en_mbox_self(k->mb), k->node,
                                "rex", x.buff, (size_t)x.index);
    ei_x_free(&x);
    ei_x_free(&request);
    return rc;
}

static int cast_erpc(const call_t *k)
{
    erlang_ref req;
    ei_x_buff argl;
    int rc = cast_args(k, &argl);

    if (rc < 0)
        return rc;
    rc = en_spawn_request_locked(k->mb, k->node, en_mbox_self(k->r->user),
                                 "erpc", "execute_cast", argl.buff,
                                 (size_t)argl.index, 0, &req);
    ei_x_free(&argl);
    return rc;
}

int en_rpc_cast(en_rpc_t *r, en_mbox_t *mb, const char *node,
                const char *module, const char *function,
                const ei_x_buff *args)
{
    pthread_mutex_t *lock = &r->proc->core->lock;
    call_t k;
    ei_x_buff ignored;
    int spawn = 0, rc = prepare(&k, r, mb, node, module, function, args, -1);

    if (rc < 0)
        return rc;
    if (en_core_is_local(r->proc->core, node)) {
        rc = call_here(&k, &ignored);
        if (rc == ENODE_ERAISED)
            en_core_log(r->proc->core, ENODE_LOG_WARNING,
                        "enode_rpc_cast: %s:%s failed", module, function);
        if (rc == 0 || rc == ENODE_ERAISED)
            ei_x_free(&ignored);
        return rc == ENODE_ERAISED ? 0 : rc;
    }
    pthread_mutex_lock(lock);
    if ((rc = reach(&k, &spawn)) == 0)
        rc = spawn ? cast_erpc(&k) : cast_rex(&k);
    pthread_mutex_unlock(lock);
    return rc;
}
