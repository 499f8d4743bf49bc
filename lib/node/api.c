/* api.c - the public calls that take an enode_t (and the rpc calls,
 * which take a mailbox but need its node's rpc service): each takes the
 * node's lock where it must and hands over to the layer that does the
 * work.
 */
#include "node/node.h"

#include <stddef.h>
#include <stdio.h>

const char *enode_name(const enode_t *n)
{
    return n->core.name;
}

uint32_t enode_creation(const enode_t *n)
{
    return n->core.creation;
}

int enode_port(const enode_t *n)
{
    return n->net.port;
}

const char *enode_last_error(const enode_t *n)
{
    return n->core.errbuf;
}

int enode_last_error_r(enode_t *n, char *buf, size_t len)
{
    if (!n || !buf || len == 0)
        return ENODE_EINVAL;
    en_core_error_copy(&n->core, buf, len);
    return 0;
}

int enode_fd(const enode_t *n)
{
    return n->net.epfd;
}

int enode_timeout(enode_t *n)
{
    return en_net_timeout(&n->net);
}

int enode_process(enode_t *n, int timeout_ms)
{
    return en_net_process(&n->net, timeout_ms);
}

int enode_start_thread(enode_t *n)
{
    return en_net_start_thread(&n->net);
}

int enode_connect(enode_t *n, const char *peer)
{
    if (!peer)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->core.lock);
    int rc = en_core_is_local(&n->core, peer) ? 0
                                               : en_net_connect_wait(&n->net,
                                                                     peer);
    pthread_mutex_unlock(&n->core.lock);
    return rc;
}

int enode_disconnect(enode_t *n, const char *peer)
{
    if (!peer)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->core.lock);
    int rc = en_net_disconnect(&n->net, peer);
    pthread_mutex_unlock(&n->core.lock);
    return rc;
}

int enode_is_connected(enode_t *n, const char *peer)
{
    if (!peer)
        return 0;
    pthread_mutex_lock(&n->core.lock);
    en_conn_t *c = en_net_find(&n->net, peer);
    int up = c && en_conn_is_up(c);
    pthread_mutex_unlock(&n->core.lock);
    return up;
}

int enode_set_peer_port(enode_t *n, const char *peer, int port)
{
    pthread_mutex_lock(&n->core.lock);
    int rc = en_net_set_peer_port(&n->net, peer, port);
    pthread_mutex_unlock(&n->core.lock);
    return rc;
}

int enode_allow(enode_t *n, const char *const *names, size_t count)
{
    if (!n)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->core.lock);
    int rc = en_net_allow(&n->net, names, count);
    pthread_mutex_unlock(&n->core.lock);
    return rc;
}

int enode_mbox_new(enode_t *n, enode_mbox_t **out)
{
    if (!out)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->core.lock);
    int rc = en_mbox_new_locked(&n->proc, out);
    pthread_mutex_unlock(&n->core.lock);
    return rc;
}

int enode_make_ref(enode_t *n, erlang_ref *ref)
{
    if (!ref)
        return ENODE_EINVAL;
    pthread_mutex_lock(&n->core.lock);
    en_make_ref(&n->proc, ref);
    pthread_mutex_unlock(&n->core.lock);
    return 0;
}

int enode_rpc_register(enode_t *n, const char *module, const char *function,
                       enode_rpc_fn fn, void *user)
{
    pthread_mutex_lock(&n->core.lock);
    int rc = en_rpc_register_locked(&n->rpc, module, function, fn, user);
    pthread_mutex_unlock(&n->core.lock);
    return rc;
}

/* The node a mailbox lives on. */
static enode_t *node_of(enode_mbox_t *mb)
{
    return (enode_t *)((char *)en_mbox_proc(mb) - offsetof(enode_t, proc));
}

int enode_rpc_call(enode_mbox_t *mb, const char *node, const char *module,
                   const char *function, const ei_x_buff *args,
                   ei_x_buff *result, int timeout_ms)
{
    if (!mb)
        return ENODE_EINVAL;
    return en_rpc_call(&node_of(mb)->rpc, mb, node, module, function, args,
                       result, timeout_ms);
}

int enode_rpc_cast(enode_mbox_t *mb, const char *node, const char *module,
                   const char *function, const ei_x_buff *args)
{
    if (!mb)
        return ENODE_EINVAL;
    return en_rpc_cast(&node_of(mb)->rpc, mb, node, module, function, args);
}
