/* global_method.c - the methods that resolve a name clash, run here for
 * the processes of this node.
 *
 * When two partitions meet and a name means a different process in
 * each, the node of the smaller name calls global:resolve_it(Method,
 * Name, Pid, Pid2) (global.erl :1936) on the node of Pid2, the process
 * of its own partition, and Method is the fun that Pid2's registration
 * carries. When Pid2 is a mailbox of ours, that node is this one: over
 * rpc from an OTP node (en_global_resolve_it below, an rpc function
 * global:resolve_it/4), or from our own exchange (global_resolve.c).
 *
 * A C node cannot run an Erlang fun, but it can run global.erl's own
 * three methods, which do nothing but exit and send:
 *
 *   random_exit_name(Name, Pid, Pid2)   the pid of the greater node name
 *                                       gets exit(Max, kill); the other
 *                                       keeps the name
 *   random_notify_name(Name, Pid, Pid2) Max gets {global_name_conflict,
 *                                       Name}; the other keeps the name
 *   notify_all_name(Name, Pid, Pid2)    both get {global_name_conflict,
 *                                       Name, TheOther}; neither keeps it
 *
 * They come as export funs (fun global:random_exit_name/3: our own
 * registrations carry that one), or, for the default method of
 * register_name/2 on an Erlang node, as the local fun `fun
 * random_exit_name/3`, which is fun number 0 of global.beam, with no
 * free variables, in OTP 25 to 29 (read from the FunT chunk of each).
 * Any other method is not run: the resolve fails as an rpc that fails
 * does, and the other registration wins.
 */
#include "svc/global_int.h"

int g_put_default_method(ei_x_buff *x)
{
    erlang_fun f;
    memset(&f, 0, sizeof f);
    f.arity = 3;
    strcpy(f.module, "global");
    f.type = EI_FUN_EXPORT;
    f.u.exprt.func = (char *)"random_exit_name";
    return ei_x_encode_fun(x, &f);
}

static enum g_method method_named(const char *function)
{
    if (strcmp(function, "random_exit_name") == 0)
        return G_METHOD_EXIT;
    if (strcmp(function, "random_notify_name") == 0)
        return G_METHOD_NOTIFY;
    if (strcmp(function, "notify_all_name") == 0)
        return G_METHOD_NOTIFY_ALL;
    return G_METHOD_UNKNOWN;
}

enum g_method g_method_of(const char *method, int len)
{
    erlang_fun f;
    int i = 0;
    enum g_method m = G_METHOD_UNKNOWN;

    if (ei_decode_fun(method, &i, &f) < 0)
        return m;
    if (i == len && f.arity == 3 && strcmp(f.module, "global") == 0) {
        if (f.type == EI_FUN_EXPORT)
            m = method_named(f.u.exprt.func);
        else if (f.u.closure.index == 0 && f.u.closure.n_free_vars == 0)
            m = G_METHOD_EXIT; /* `fun random_exit_name/3` in global.erl */
    }
    free_fun(&f);
    return m;
}

/* {global_name_conflict, Name} or {global_name_conflict, Name, Other} to
 * pid, from global's process. */
static void tell_conflict(en_global_t *g, const erlang_pid *pid,
                          const char *name, int name_len,
                          const erlang_pid *other)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return;
    if ((ei_x_encode_tuple_header(&x, other ? 3 : 2) |
         put_atom(&x, "global_name_conflict") |
         ei_x_append_buf(&x, name, name_len) |
         (other ? ei_x_encode_pid(&x, other) : 0)) == 0)
        en_send_locked(g->proc, g_self(g), pid, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

int g_method_run(en_global_t *g, enum g_method m, const char *name,
                 int name_len, const erlang_pid *pid1, const erlang_pid *pid2,
                 erlang_pid *won)
{
    erlang_pid min, max, p1 = *pid1, p2 = *pid2;
    ei_x_buff kill;

    /* minmax :1938: by node name */
    min = strcmp(p1.node, p2.node) < 0 ? p1 : p2;
    max = strcmp(p1.node, p2.node) < 0 ? p2 : p1;
    switch (m) {
    case G_METHOD_EXIT:
        en_core_log(g->proc->core, ENODE_LOG_INFO,
                    "global: a name conflict: terminating the process of %s",
                    max.node);
        if (en_atom_term(&kill, "kill") == 0) {
            en_exit_locked(g->proc, g_self(g), &max, kill.buff,
                           (size_t)kill.index);
            ei_x_free(&kill);
        }
        *won = min;
        return 1;
    case G_METHOD_NOTIFY:
        tell_conflict(g, &max, name, name_len, NULL);
        *won = min;
        return 1;
    case G_METHOD_NOTIFY_ALL:
        tell_conflict(g, &p1, name, name_len, &p2);
        tell_conflict(g, &p2, name, name_len, &p1);
        return 0;
    default:
        return 0;
    }
}

/* global:resolve_it(Method, Name, Pid1, Pid2) through rpc: the pid that
 * keeps the name, or none. A method we cannot run fails the call, as
 * an rpc to a node without it would. */
int en_global_resolve_it(void *user, const char *args, int index, int arity,
                         ei_x_buff *result)
{
    en_global_t *g = user;
    const char *method, *name;
    int method_len, name_len, i = index;
    erlang_pid pid1, pid2, won;

    if (arity != 4 || span(args, &i, &method, &method_len) < 0 ||
        span(args, &i, &name, &name_len) < 0 ||
        ei_decode_pid(args, &i, &pid1) < 0 ||
        ei_decode_pid(args, &i, &pid2) < 0)
        return ei_x_encode_atom(result, "badarg") < 0 ? -1 : 1;
    enum g_method m = g_method_of(method, method_len);
    en_core_log(g->proc->core, ENODE_LOG_INFO,
                "global: asked to resolve a name conflict over a process of "
                "ours and one of %s", pid1.node);
    if (m == G_METHOD_UNKNOWN) {
        en_core_log(g->proc->core, ENODE_LOG_INFO,
                    "global: asked to resolve a name conflict with a method "
                    "that is an Erlang fun; not run");
        ei_x_encode_tuple_header(result, 2);
        ei_x_encode_atom(result, "badfun");
        ei_x_append_buf(result, method, method_len);
        return 1;
    }
    pthread_mutex_lock(&g->proc->core->lock);
    g_enter(g);
    int kept = g_method_run(g, m, name, name_len, &pid1, &pid2, &won);
    g_leave(g);
    pthread_mutex_unlock(&g->proc->core->lock);
    return (kept ? ei_x_encode_pid(result, &won)
                 : ei_x_encode_atom(result, "none")) < 0
               ? -1
               : 0;
}
