/* config.c - node configuration: defaults and erl's command-line flags.
 *
 * enode_config_from_args() reads the same flags as `erl`, so that every
 * tool and example built on enode shares one vocabulary with the Erlang
 * nodes of the cluster.
 */
#include "enode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void enode_config_init(enode_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->proto = ENODE_PROTO_TLS;
    c->net_ticktime = 60;
    c->setup_time_ms = 7000;
    c->log_level = ENODE_LOG_WARNING;
    c->connect_all = 1;
}

int enode_config_add_verify_fun(enode_config_t *config, const char *module,
                                const char *function, enode_verify_fun_fn fn,
                                void *user)
{
    if (!config || !module || !function || !fn ||
        config->n_verify_funs >= ENODE_MAX_VERIFY_FUNS ||
        (strcmp(module, "inet_tls_dist") == 0 &&
         strcmp(function, "verify_client") == 0))
        return ENODE_EINVAL;
    for (int i = 0; i < config->n_verify_funs; i++)
        if (strcmp(config->verify_funs[i].module, module) == 0 &&
            strcmp(config->verify_funs[i].function, function) == 0)
            return ENODE_EINVAL;
    enode_verify_fun_entry_t *e = &config->verify_funs[config->n_verify_funs++];
    e->module = module;
    e->function = function;
    e->fn = fn;
    e->user = user;
    return 0;
}

/* connect_all's value, as erl reads it: the booleans. */
static int parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        *out = s[0] == 't';
        return 0;
    }
    return -1;
}

/* Parse a port or a count: a decimal in [lo, hi]. */
static int parse_uint(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int set_proto(enode_config_t *c, const char *v)
{
    static const struct {
        const char *name;
        enode_proto_t proto;
        int ipv6;
    } protos[] = {
        {"inet_tls", ENODE_PROTO_TLS, 0},
        {"inet6_tls", ENODE_PROTO_TLS, 1},
        {"inet_tcp", ENODE_PROTO_TCP, 0},
        {"inet6_tcp", ENODE_PROTO_TCP, 1},
    };
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++) {
        if (strcmp(v, protos[i].name) == 0) {
            c->proto = protos[i].proto;
            c->ipv6 = protos[i].ipv6;
            return 0;
        }
    }
    return -1;
}

/* -kernel Key Value: the kernel parameters a distribution node uses. */
static int set_kernel(enode_config_t *c, const char *key, const char *val,
                      char *err, size_t errlen)
{
    long v;

    if (strcmp(key, "net_ticktime") == 0) {
        if (parse_uint(val, 1, 86400, &v) < 0)
            goto bad;
        c->net_ticktime = (unsigned)v;
    } else if (strcmp(key, "net_setuptime") == 0) {
        if (parse_uint(val, 1, 3600, &v) < 0)
            goto bad;
        c->setup_time_ms = (unsigned)v * 1000;
    } else if (strcmp(key, "inet_dist_listen_min") == 0) {
        if (parse_uint(val, 1, 65535, &v) < 0)
            goto bad;
        c->listen_min = (int)v;
    } else if (strcmp(key, "inet_dist_listen_max") == 0) {
        if (parse_uint(val, 1, 65535, &v) < 0)
            goto bad;
        c->listen_max = (int)v;
    } else if (strcmp(key, "connect_all") == 0) {
        if (parse_bool(val, &c->connect_all) < 0)
            goto bad;
    } else {
        snprintf(err, errlen, "-kernel %s: not a parameter enode knows",
                 key);
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen, "-kernel %s %s: not a valid value", key, val);
    return -1;
}

/* How many values each flag takes; -1 for -ssl_dist_opt (pairs). */
static int flag_arity(const char *flag)
{
    static const struct {
        const char *flag;
        int arity;
    } flags[] = {
        {"-sname", 1},        {"-name", 1},         {"-setcookie", 1},
        {"-hidden", 0},       {"-proto_dist", 1},   {"-ssl_dist_optfile", 1},
        {"-ssl_dist_opt", -1}, {"-kernel", 2},      {"-erl_epmd_port", 1},
        {"-epmd_port", 1},    {"-connect_all", 1},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(flag, flags[i].flag) == 0)
            return flags[i].arity;
    return -2;
}

/* Apply one known flag whose values are v[0..]. */
static int apply_flag(enode_config_t *c, const char *flag, char **v,
                      char *err, size_t errlen)
{
    long n;

    if (strcmp(flag, "-sname") == 0 || strcmp(flag, "-name") == 0) {
        c->name = v[0];
        c->long_names = flag[1] == 'n';
    } else if (strcmp(flag, "-setcookie") == 0) {
        c->cookie = v[0];
    } else if (strcmp(flag, "-hidden") == 0) {
        c->hidden = 1;
    } else if (strcmp(flag, "-proto_dist") == 0) {
        if (set_proto(c, v[0]) < 0) {
            snprintf(err, errlen,
                     "-proto_dist %s: enode speaks inet_tls, inet6_tls, "
                     "inet_tcp and inet6_tcp", v[0]);
            return -1;
        }
    } else if (strcmp(flag, "-ssl_dist_optfile") == 0) {
        c->ssl_dist_optfile = v[0];
    } else if (strcmp(flag, "-kernel") == 0) {
        return set_kernel(c, v[0], v[1], err, errlen);
    } else if (strcmp(flag, "-connect_all") == 0) {
        if (parse_bool(v[0], &c->connect_all) < 0) {
            snprintf(err, errlen, "-connect_all %s: true or false", v[0]);
            return -1;
        }
    } else if (strcmp(flag, "-erl_epmd_port") == 0 ||
               strcmp(flag, "-epmd_port") == 0) {
        if (parse_uint(v[0], 1, 65535, &n) < 0) {
            snprintf(err, errlen, "%s %s: not a port number", flag, v[0]);
            return -1;
        }
        if (flag[1] == 'e' && flag[2] == 'r')
            c->dist_port = (int)n;
        else
            c->epmd_port = (int)n;
    }
    return 0;
}

/* -ssl_dist_opt takes Key Value pairs until the next flag. Returns how
 * many argv entries it used, or -1. */
static int take_ssl_dist_opts(enode_config_t *c, int argc, char **argv,
                              int i, char *err, size_t errlen)
{
    int used = 0;

    while (i + used + 1 < argc && argv[i + used][0] != '-') {
        if (c->n_ssl_dist_opts >= ENODE_MAX_SSL_DIST_OPTS) {
            snprintf(err, errlen, "-ssl_dist_opt: more than %d options",
                     ENODE_MAX_SSL_DIST_OPTS);
            return -1;
        }
        c->ssl_dist_opts[2 * c->n_ssl_dist_opts] = argv[i + used];
        c->ssl_dist_opts[2 * c->n_ssl_dist_opts + 1] = argv[i + used + 1];
        c->n_ssl_dist_opts++;
        used += 2;
    }
    if (used == 0 || (i + used < argc && argv[i + used][0] != '-')) {
        snprintf(err, errlen, "-ssl_dist_opt needs Key Value pairs");
        return -1;
    }
    return used;
}

int enode_config_from_args(enode_config_t *c, int *argc, char **argv,
                           char *err, size_t errlen)
{
    int in = 1, out = 1;
    char dummy[1];

    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    /* execve() may give no arguments, not even the program's name: then
     * there is no flag to read and argv[1] is not ours to write. */
    if (*argc < 1)
        return 0;
    while (in < *argc) {
        const char *flag = argv[in];
        int arity = flag_arity(flag);
        if (arity == -2) {
            argv[out++] = argv[in++];
            continue;
        }
        if (arity == -1) {
            int used = take_ssl_dist_opts(c, *argc, argv, in + 1, err, errlen);
            if (used < 0)
                return ENODE_EINVAL;
            in += 1 + used;
            continue;
        }
        if (in + arity >= *argc) {
            snprintf(err, errlen, "%s needs %d value%s", flag, arity,
                     arity == 1 ? "" : "s");
            return ENODE_EINVAL;
        }
        if (apply_flag(c, flag, argv + in + 1, err, errlen) < 0)
            return ENODE_EINVAL;
        in += 1 + arity;
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}
