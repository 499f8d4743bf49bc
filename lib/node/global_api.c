/* global_api.c - the public calls on OTP's global: names registered
 * cluster-wide for mailboxes, looked up, listed and sent to. The work is
 * global's (svc/global.h); this hands it the node's global and turns its
 * answers into the API's codes.
 */
#include "node/node.h"

#include <stddef.h>

/* The node a mailbox belongs to: its process layer is part of it. */
static enode_t *node_of(enode_mbox_t *mbox)
{
    return (enode_t *)(void *)((char *)en_mbox_proc(mbox) -
                               offsetof(enode_t, proc));
}

int enode_global_register(enode_mbox_t *mbox, const char *name)
{
    if (!mbox || !name)
        return ENODE_EINVAL;
    return en_global_register(node_of(mbox)->global, enode_mbox_pid(mbox),
                              name);
}

int enode_global_unregister(enode_t *node, const char *name)
{
    if (!node || !name)
        return ENODE_EINVAL;
    return en_global_unregister(node->global, name);
}

int enode_global_whereis(enode_t *node, const char *name, erlang_pid *pid)
{
    erlang_pid found;
    if (!node || !pid)
        return ENODE_EINVAL;
    int rc = en_global_whereis(node->global, name, &found);
    if (rc < 0)
        en_core_error(&node->core, "global: a name must be an atom's text "
                                   "(UTF-8, at most 255 characters)");
    if (rc != 1)
        return rc < 0 ? rc : ENODE_ENOTFOUND;
    *pid = found;
    return 0;
}

int enode_global_registered_names(enode_t *node, enode_global_names_fn fn,
                                  void *user)
{
    if (!node)
        return ENODE_EINVAL;
    return en_global_names(node->global, fn, user);
}

int enode_global_send(enode_mbox_t *from, const char *name,
                      const ei_x_buff *msg)
{
    erlang_pid to;
    if (!from || !msg)
        return ENODE_EINVAL;
    int rc = enode_global_whereis(node_of(from), name, &to);
    return rc < 0 ? rc : enode_send(from, &to, msg);
}
