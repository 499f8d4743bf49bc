/* node.c - a node: its creation from a configuration, and its end.
 *
 * enode_new() builds the layers from the bottom up: the core (name and
 * log), the network (cookie, TLS, listening socket, EPMD), the processes,
 * then the services every node runs. enode_free() takes them down from
 * the top.
 */
#include "node/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/spare.h"
#include "node/config_int.h"
#include "svc/net_kernel.h"

static int init_core(enode_t *n, const enode_config_t *cfg, char *err,
                     size_t errlen)
{
    en_core_t *core = &n->core;

    if (en_node_full_name(cfg->name, cfg->long_names, core->name,
                          sizeof core->name, err, errlen) < 0)
        return ENODE_EINVAL;
    en_node_split(core->name, core->alive, sizeof core->alive, core->host,
                  sizeof core->host);
    if (cfg->log)
        core->log.fn = cfg->log;
    core->log.user = cfg->log_user;
    core->log.level = cfg->log_level;
    return 0;
}

static void net_settings(const enode_config_t *cfg, en_net_settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->proto = cfg->proto;
    s->ipv6 = cfg->ipv6;
    s->hidden = cfg->hidden;
    s->ticktime_ms = (cfg->net_ticktime ? cfg->net_ticktime : 60) * 1000;
    s->setup_ms = cfg->setup_time_ms;
    s->max_message = cfg->max_message_size;
    s->max_fragmented = cfg->max_fragmented;
    s->busy_limit = cfg->dist_buf_busy_limit;
    s->epmd_port = cfg->epmd_port;
    s->dist_port = cfg->dist_port;
    s->listen_min = cfg->listen_min;
    s->listen_max = cfg->listen_max;
    s->listen_addr = cfg->listen_addr;
    s->auto_connect = cfg->auto_connect;
    s->cookie = cfg->cookie;
    s->ssl_dist_optfile = cfg->ssl_dist_optfile;
    s->ssl_dist_opts = (const char *const *)cfg->ssl_dist_opts;
    s->n_ssl_dist_opts = cfg->n_ssl_dist_opts;
    s->verify = cfg->verify;
    s->verify_user = cfg->verify_user;
    s->verify_funs = cfg->verify_funs;
    s->n_verify_funs = cfg->n_verify_funs;
    s->allowed = &cfg->allowed;
}

/* The services every node runs; a peer would miss any of them. */
static int start_services(enode_t *n, char *err, size_t errlen)
{
    int rc;

    if ((rc = en_net_kernel_start(&n->proc)) < 0 ||
        (rc = en_rpc_start(&n->rpc, &n->proc)) < 0 ||
        (rc = en_rex_start(&n->rpc)) < 0 ||
        (rc = en_global_start(&n->global, &n->proc)) < 0 ||
        /* OTP nodes call it here for a name clash over our mailboxes. */
        (rc = en_rpc_register_locked(&n->rpc, "global", "resolve_it",
                                     en_global_resolve_it, n->global)) < 0 ||
        (rc = en_pg_start(&n->pg, &n->proc)) < 0) {
        snprintf(err, errlen, "cannot start the built-in services: %s",
                 enode_strerror(rc));
        return rc;
    }
    en_erpc_start(&n->rpc);
    return 0;
}

int enode_new(enode_t **out, const enode_config_t *cfg, char *err,
              size_t errlen)
{
    char dummy[256];
    en_net_settings_t s;
    enode_t *n;
    int rc;

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    *out = NULL;
    if (!cfg) {
        snprintf(err, errlen, "no configuration: see enode_config_new()");
        return ENODE_EINVAL;
    }
    wolfSSL_Init();
    ei_init();
    n = calloc(1, sizeof *n);
    if (!n || en_core_init(&n->core) < 0) {
        free(n);
        wolfSSL_Cleanup();
        snprintf(err, errlen, "out of memory");
        return ENODE_ENOMEM;
    }
    net_settings(cfg, &s);
    en_net_init(&n->net, &n->core);
    en_proc_init(&n->proc, &n->core, &n->net);
    n->proc.mbox_max_len = cfg->mbox_max_len;
    n->proc.mbox_max_bytes = cfg->mbox_max_bytes;
    if ((rc = init_core(n, cfg, err, errlen)) < 0 ||
        (rc = en_net_open(&n->net, &s, err, errlen)) < 0 ||
        (rc = en_net_publish(&n->net, err, errlen)) < 0 ||
        (rc = start_services(n, err, errlen)) < 0) {
        enode_free(n);
        return rc;
    }
    en_global_set_connect_all(n->global, cfg->connect_all);
    en_core_log(&n->core, ENODE_LOG_INFO,
                "node %s up on port %u (%s%s, creation %u)", n->core.name,
                n->net.port, n->net.proto == ENODE_PROTO_TLS ? "TLS" : "TCP",
                n->net.ipv6 ? ", IPv6" : "", n->core.creation);
    *out = n;
    return 0;
}

void enode_free(enode_t *n)
{
    if (!n)
        return;
    en_net_stop_thread(&n->net);
    pthread_mutex_lock(&n->core.lock);
    /* Mailboxes exit first, so that their exit signals go out with what
     * was queued before them. */
    en_pg_stop(n->pg);
    en_proc_free(&n->proc);
    en_rpc_free(&n->rpc);
    en_global_free(n->global);
    n->global = NULL;
    en_pg_free(n->pg);
    n->pg = NULL;
    en_net_close(&n->net);
    pthread_mutex_unlock(&n->core.lock);
    en_core_destroy(&n->core);
    free(n);
    en_spare_drain();
    wolfSSL_Cleanup(); /* counted: balances the wolfSSL_Init of enode_new */
}
