/* config.c - a node's configuration: its defaults, setters and getters.
 *
 * Each setter checks its value before it changes anything, so that a
 * refused value leaves the configuration as it was, and copies the
 * strings it keeps. erl's flags are read in config_args.c.
 */
#include "node/config_int.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "proto/handshake.h"

int enode_config_new(enode_config_t **out)
{
    enode_config_t *c;

    if (!out)
        return ENODE_EINVAL;
    *out = NULL;
    c = calloc(1, sizeof *c);
    if (!c)
        return ENODE_ENOMEM;
    c->proto = ENODE_PROTO_TLS;
    c->net_ticktime = 60;
    c->setup_time_ms = 7000;
    c->max_message_size = ENODE_DEFAULT_MAX_MESSAGE;
    c->max_fragmented = ENODE_DEFAULT_MAX_FRAGMENTED;
    c->dist_buf_busy_limit = ENODE_DEFAULT_DIST_BUF_BUSY_LIMIT;
    c->log_level = ENODE_LOG_WARNING;
    c->connect_all = 1;
    *out = c;
    return 0;
}

void enode_config_free(enode_config_t *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->cookie);
    free(c->ssl_dist_optfile);
    free(c->listen_addr);
    for (int i = 0; i < 2 * c->n_ssl_dist_opts; i++)
        free(c->ssl_dist_opts[i]);
    free(c->ssl_dist_opts);
    for (int i = 0; i < c->n_verify_funs; i++) {
        free(c->verify_funs[i].module);
        free(c->verify_funs[i].function);
    }
    free(c->verify_funs);
    en_allow_free(&c->allowed);
    free(c);
}

/* Replace *slot with a copy of s (NULL stays NULL). */
static int keep_copy(char **slot, const char *s)
{
    char *copy = NULL;

    if (s && !(copy = strdup(s)))
        return ENODE_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

int enode_config_set_name(enode_config_t *c, const char *name, int long_names)
{
    char why[8];

    if (!c || en_node_name_check(name, why, sizeof why) < 0)
        return ENODE_EINVAL;
    if (keep_copy(&c->name, name) < 0)
        return ENODE_ENOMEM;
    c->long_names = long_names != 0;
    return 0;
}

int enode_config_set_cookie(enode_config_t *c, const char *cookie)
{
    if (!c || (cookie && (!cookie[0] ||
                          strlen(cookie) >= EN_HS_COOKIE_MAX)))
        return ENODE_EINVAL;
    return keep_copy(&c->cookie, cookie);
}

int enode_config_set_proto(enode_config_t *c, enode_proto_t proto)
{
    if (!c || (proto != ENODE_PROTO_TLS && proto != ENODE_PROTO_TCP))
        return ENODE_EINVAL;
    c->proto = proto;
    return 0;
}

int enode_config_set_ipv6(enode_config_t *c, int ipv6)
{
    if (!c)
        return ENODE_EINVAL;
    c->ipv6 = ipv6 != 0;
    return 0;
}

int enode_config_set_hidden(enode_config_t *c, int hidden)
{
    if (!c)
        return ENODE_EINVAL;
    c->hidden = hidden != 0;
    return 0;
}

int enode_config_set_connect_all(enode_config_t *c, int connect_all)
{
    if (!c)
        return ENODE_EINVAL;
    c->connect_all = connect_all != 0;
    return 0;
}

int enode_config_set_net_ticktime(enode_config_t *c, unsigned seconds)
{
    if (!c || seconds < 1 || seconds > 86400)
        return ENODE_EINVAL;
    c->net_ticktime = seconds;
    return 0;
}

int enode_config_set_setup_time_ms(enode_config_t *c, unsigned ms)
{
    if (!c || ms < 1 || ms > 3600 * 1000)
        return ENODE_EINVAL;
    c->setup_time_ms = ms;
    return 0;
}

static int is_port(int port)
{
    return port >= 0 && port <= 65535;
}

int enode_config_set_epmd_port(enode_config_t *c, int port)
{
    if (!c || !is_port(port))
        return ENODE_EINVAL;
    c->epmd_port = port;
    return 0;
}

int enode_config_set_dist_port(enode_config_t *c, int port)
{
    if (!c || !is_port(port))
        return ENODE_EINVAL;
    c->dist_port = port;
    return 0;
}

int enode_config_set_listen_range(enode_config_t *c, int min, int max)
{
    if (!c || !is_port(min) || !is_port(max) || (max && (!min || max < min)))
        return ENODE_EINVAL;
    c->listen_min = min;
    c->listen_max = max;
    return 0;
}

int enode_config_set_max_message_size(enode_config_t *c, size_t bytes)
{
    if (!c)
        return ENODE_EINVAL;
    c->max_message_size = bytes ? bytes : ENODE_DEFAULT_MAX_MESSAGE;
    return 0;
}

int enode_config_set_max_fragmented_messages(enode_config_t *c,
                                            unsigned count)
{
    if (!c)
        return ENODE_EINVAL;
    c->max_fragmented = count ? count : ENODE_DEFAULT_MAX_FRAGMENTED;
    return 0;
}

int enode_config_set_mbox_limit(enode_config_t *c, size_t max_len,
                                size_t max_bytes)
{
    if (!c)
        return ENODE_EINVAL;
    c->mbox_max_len = max_len;
    c->mbox_max_bytes = max_bytes;
    return 0;
}

int enode_config_set_dist_buf_busy_limit(enode_config_t *c, size_t bytes)
{
    if (!c)
        return ENODE_EINVAL;
    c->dist_buf_busy_limit = bytes ? bytes : ENODE_DEFAULT_DIST_BUF_BUSY_LIMIT;
    return 0;
}

int enode_config_set_ssl_dist_optfile(enode_config_t *c, const char *path)
{
    if (!c || (path && !path[0]))
        return ENODE_EINVAL;
    return keep_copy(&c->ssl_dist_optfile, path);
}

/* Room for one more pair, doubling the array as it fills. */
static int room_for_a_pair(enode_config_t *c)
{
    if (c->n_ssl_dist_opts < c->room_ssl_dist_opts)
        return 0;
    if (c->room_ssl_dist_opts > INT_MAX / 4)
        return ENODE_ENOMEM;
    int room = c->room_ssl_dist_opts ? 2 * c->room_ssl_dist_opts : 8;
    char **opts = realloc(c->ssl_dist_opts, 2 * (size_t)room * sizeof *opts);
    if (!opts)
        return ENODE_ENOMEM;
    c->ssl_dist_opts = opts;
    c->room_ssl_dist_opts = room;
    return 0;
}

int enode_config_add_ssl_dist_opt(enode_config_t *c, const char *key,
                                  const char *value)
{
    char *k, *v;

    if (!c || !key || !key[0] || !value)
        return ENODE_EINVAL;
    if (room_for_a_pair(c) < 0)
        return ENODE_ENOMEM;
    k = strdup(key);
    v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return ENODE_ENOMEM;
    }
    c->ssl_dist_opts[2 * c->n_ssl_dist_opts] = k;
    c->ssl_dist_opts[2 * c->n_ssl_dist_opts + 1] = v;
    c->n_ssl_dist_opts++;
    return 0;
}

int enode_config_set_listen_address(enode_config_t *c, const char *address)
{
    unsigned char ip[sizeof(struct in6_addr)];

    if (!c || (address && inet_pton(AF_INET, address, ip) != 1 &&
               inet_pton(AF_INET6, address, ip) != 1))
        return ENODE_EINVAL;
    return keep_copy(&c->listen_addr, address);
}

int enode_config_set_auto_connect(enode_config_t *c,
                                  enode_auto_connect_t mode)
{
    if (!c || (mode != ENODE_AUTO_CONNECT_ALWAYS &&
               mode != ENODE_AUTO_CONNECT_NEVER &&
               mode != ENODE_AUTO_CONNECT_ONCE))
        return ENODE_EINVAL;
    c->auto_connect = mode;
    return 0;
}

int enode_config_set_log(enode_config_t *c, enode_log_fn fn, void *user,
                         int level)
{
    if (!c || level < ENODE_LOG_ERROR || level > ENODE_LOG_DEBUG)
        return ENODE_EINVAL;
    c->log = fn;
    c->log_user = user;
    c->log_level = level;
    return 0;
}

int enode_config_set_verify(enode_config_t *c, enode_verify_fn fn,
                            void *user)
{
    if (!c)
        return ENODE_EINVAL;
    c->verify = fn;
    c->verify_user = user;
    return 0;
}

const char *enode_config_get_name(const enode_config_t *c, int *long_names)
{
    if (long_names)
        *long_names = c ? c->long_names : 0;
    return c ? c->name : NULL;
}

int enode_config_has_cookie(const enode_config_t *c)
{
    return c && c->cookie;
}

enode_proto_t enode_config_get_proto(const enode_config_t *c)
{
    return c ? c->proto : ENODE_PROTO_TLS;
}

int enode_config_get_hidden(const enode_config_t *c)
{
    return c ? c->hidden : 0;
}

int enode_config_get_connect_all(const enode_config_t *c)
{
    return c ? c->connect_all : 1;
}

int enode_config_get_dist_port(const enode_config_t *c)
{
    return c ? c->dist_port : 0;
}

static int is_verify_fun(const en_verify_fun_entry_t *e, const char *module,
                         const char *function)
{
    return strcmp(e->module, module) == 0 &&
           strcmp(e->function, function) == 0;
}

int enode_config_add_verify_fun(enode_config_t *config, const char *module,
                                const char *function, enode_verify_fun_fn fn,
                                void *user)
{
    if (!config || !module || !function || !fn ||
        (strcmp(module, "inet_tls_dist") == 0 &&
         strcmp(function, "verify_client") == 0))
        return ENODE_EINVAL;
    for (int i = 0; i < config->n_verify_funs; i++)
        if (is_verify_fun(&config->verify_funs[i], module, function))
            return ENODE_EINVAL;
    en_verify_fun_entry_t *more =
        realloc(config->verify_funs,
                (size_t)(config->n_verify_funs + 1) * sizeof *more);
    if (!more)
        return ENODE_ENOMEM;
    config->verify_funs = more;
    en_verify_fun_entry_t *e = &more[config->n_verify_funs];
    e->module = strdup(module);
    e->function = strdup(function);
    if (!e->module || !e->function) {
        free(e->module);
        free(e->function);
        return ENODE_ENOMEM;
    }
    e->fn = fn;
    e->user = user;
    config->n_verify_funs++;
    return 0;
}

int enode_config_add_allowed_node(enode_config_t *config, const char *node)
{
    char err[EN_HS_NAME_MAX + 100];
    if (!config || en_allow_check(node, err, sizeof err) < 0)
        return ENODE_EINVAL;
    return en_allow_add(&config->allowed, node) < 0 ? ENODE_ENOMEM : 0;
}
