/* global_calls.c - the gen_server calls any node makes to every
 * global_name_server: register, register_ext, unregister, set_lock,
 * del_lock (with real locks: a held resource is refused to another
 * requester), get_known, get_synced, get_protocol_version, get_names_ext
 * and {sync, _}. */
#include "svc/global_int.h"

/* A call that is an atom: get_known and the like. */
static void on_atom_call(en_global_t *g, const char *peer,
                         const erlang_pid *caller, const char *tag, int tag_len,
                         const char *what)
{
    ei_x_buff r;
    if (ei_x_new(&r) < 0)
        return;
    int rc = -1;
    if (strcmp(what, "get_known") == 0)
        rc = g_put_known(&r, g, 0);
    else if (strcmp(what, "get_synced") == 0) {
        size_t k = nl_len(g->synced);
        rc = 0;
        if (k)
            rc |= ei_x_encode_list_header(&r, (long)k);
        for (g_node_t *e = g->synced; e && rc == 0; e = e->next)
            rc |= put_atom(&r, e->node);
        rc |= ei_x_encode_empty_list(&r);
    } else if (strcmp(what, "get_protocol_version") == 0)
        rc = ei_x_encode_long(&r, G_VSN);
    else if (strcmp(what, "get_names_ext") == 0)
        rc = g_put_names_ext(&r, g);
    if (rc == 0)
        g_reply(g, caller, tag, tag_len, &r);
    else
        en_core_log(g->proc->core, ENODE_LOG_WARNING,
                    "global: call %s from %s not served", what, peer);
    ei_x_free(&r);
}

/* {register, Name, Pid, Method} | {register_ext, ..., RegNode}, after
 * the atom: 0, or -1 if malformed. */
static int on_register(en_global_t *g, const erlang_pid *caller,
                       const char *tag, int tag_len, const char *buf, int i,
                       int arity, int ext)
{
    const char *name, *method;
    int name_len, method_len;
    erlang_pid pid;
    char reg_node[MAXATOMLEN_UTF8];
    if (arity != (ext ? 5 : 4) || span(buf, &i, &name, &name_len) < 0 ||
        ei_decode_pid(buf, &i, &pid) < 0 ||
        span(buf, &i, &method, &method_len) < 0 ||
        (ext && get_atom(buf, &i, reg_node) < 0))
        return -1;
    g_name_insert(g, name, name_len, &pid, method, method_len,
                  ext ? reg_node : NULL, caller, NULL, 0);
    g_reply_atom(g, caller, tag, tag_len, "yes");
    return 0;
}

/* {set_lock | del_lock, {ResourceId, LockRequesterId}}, after the atom:
 * 0, or -1 if malformed. */
static int on_lock_call(en_global_t *g, const erlang_pid *caller,
                        const char *tag, int tag_len, const char *buf, int i,
                        int set)
{
    const char *res, *req;
    int res_len, req_len, arity;
    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 2 ||
        span(buf, &i, &res, &res_len) < 0 || span(buf, &i, &req, &req_len) < 0)
        return -1;
    if (set) {
        int got = g_lock_set(g, res, res_len, req, req_len, caller);
        g_reply_atom(g, caller, tag, tag_len, got == 1 ? "true" : "false");
    } else {
        g_lock_del(g, res, res_len, req, req_len, caller);
        g_reply_atom(g, caller, tag, tag_len, "true");
    }
    return 0;
}

void g_on_call(en_global_t *g, const char *peer, const erlang_pid *caller,
               const char *tag, int tag_len, const char *buf, int i)
{
    char what[MAXATOMLEN_UTF8];
    int arity = 0, at = i, rc = 0;

    if (get_atom(buf, &i, what) == 0) {
        on_atom_call(g, peer, caller, tag, tag_len, what);
        return;
    }
    i = at;
    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity < 2 ||
        get_atom(buf, &i, what) < 0) {
        rc = -1;
    } else if (strcmp(what, "register") == 0 ||
               strcmp(what, "register_ext") == 0) {
        rc =
            on_register(g, caller, tag, tag_len, buf, i, arity, what[8] == '_');
    } else if (strcmp(what, "unregister") == 0 && arity == 2) {
        const char *name;
        int name_len;
        if ((rc = span(buf, &i, &name, &name_len)) == 0) {
            g_name_delete(g, name, name_len);
            g_reply_atom(g, caller, tag, tag_len, "ok");
        }
    } else if ((strcmp(what, "set_lock") == 0 ||
                strcmp(what, "del_lock") == 0) &&
               arity == 2) {
        rc = on_lock_call(g, caller, tag, tag_len, buf, i, what[0] == 's');
    } else if (strcmp(what, "sync") == 0 && arity == 2) {
        /* Another node's global:sync([.., us, ..]) through us: we keep no
         * syncers; we are as synced as we will get. */
        g_reply_atom(g, caller, tag, tag_len, "ok");
    } else {
        en_core_log(g->proc->core, ENODE_LOG_WARNING,
                    "global: call {%s, ...} from %s not served", what, peer);
    }
    if (rc < 0)
        en_core_log(g->proc->core, ENODE_LOG_WARNING,
                    "global: malformed call from %s", peer);
}
