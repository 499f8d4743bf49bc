/* config_args.c - erl's command-line flags into a node configuration.
 *
 * enode_config_from_args() reads the same flags as `erl`, so that every
 * tool and example built on enode shares one vocabulary with the Erlang
 * nodes of the cluster. Values go through the setters of config.c, which
 * copy them: argv may go once it returns. The same reader takes the
 * words of -args_file files and of erl's environment variables
 * (config_env.c), where the words that are not enode's are erl's and
 * skipped.
 */
#include "node/config_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"

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
            enode_config_set_proto(c, protos[i].proto);
            enode_config_set_ipv6(c, protos[i].ipv6);
            return 0;
        }
    }
    return -1;
}

/* connect_all's value, as erl reads it: the atoms true and false. */
static int parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
        return -1;
    *out = s[0] == 't';
    return 0;
}

static const char *skip_blanks(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

/* An Erlang IP address tuple, {127,0,0,1} or {0,0,0,0,0,0,0,1}, as the
 * text inet_pton reads, into out. 0, or -1 if s is no such tuple. */
static int ip_tuple_text(const char *s, char *out, size_t len)
{
    long v[8];
    int n = 0;

    s = skip_blanks(s);
    if (*s++ != '{')
        return -1;
    for (;;) {
        char *end;
        s = skip_blanks(s);
        if (n == 8 || !isdigit((unsigned char)*s))
            return -1;
        v[n++] = strtol(s, &end, 10);
        s = skip_blanks(end);
        if (*s == '}')
            break;
        if (*s++ != ',')
            return -1;
    }
    if (*skip_blanks(s + 1) || (n != 4 && n != 8))
        return -1;
    for (int i = 0; i < n; i++)
        if (v[i] > (n == 4 ? 255 : 65535))
            return -1;
    if (n == 4)
        snprintf(out, len, "%ld.%ld.%ld.%ld", v[0], v[1], v[2], v[3]);
    else
        snprintf(out, len, "%lx:%lx:%lx:%lx:%lx:%lx:%lx:%lx", v[0], v[1],
                 v[2], v[3], v[4], v[5], v[6], v[7]);
    return 0;
}

/* dist_auto_connect's value: the atoms never and once (OTP treats any
 * other value as the default; enode refuses it, a typo most likely). */
static int parse_auto_connect(const char *s, enode_auto_connect_t *out)
{
    if (strcmp(s, "never") == 0)
        *out = ENODE_AUTO_CONNECT_NEVER;
    else if (strcmp(s, "once") == 0)
        *out = ENODE_AUTO_CONNECT_ONCE;
    else
        return -1;
    return 0;
}

/* +zdbbl's range in KiB, as erl checks it (erl_init.c). */
#define ZDBBL_MAX_KIB 2097151L

/* -kernel Key Value: the kernel parameters a distribution node uses. The
 * listening range is set one end at a time, in either order, as erl
 * takes it: a maximum below the minimum means the minimum alone. */
static int set_kernel(enode_config_t *c, const char *key, const char *val,
                      int lenient, char *err, size_t errlen)
{
    enode_auto_connect_t mode;
    char ip[64];
    long v;
    int on;

    if (strcmp(key, "net_ticktime") == 0) {
        if (parse_uint(val, 1, 86400, &v) < 0)
            goto bad;
        enode_config_set_net_ticktime(c, (unsigned)v);
    } else if (strcmp(key, "net_setuptime") == 0) {
        if (parse_uint(val, 1, 3600, &v) < 0)
            goto bad;
        enode_config_set_setup_time_ms(c, (unsigned)v * 1000);
    } else if (strcmp(key, "inet_dist_listen_min") == 0) {
        if (parse_uint(val, 1, 65535, &v) < 0)
            goto bad;
        c->listen_min = (int)v;
    } else if (strcmp(key, "inet_dist_listen_max") == 0) {
        if (parse_uint(val, 1, 65535, &v) < 0)
            goto bad;
        c->listen_max = (int)v;
    } else if (strcmp(key, "connect_all") == 0) {
        if (parse_bool(val, &on) < 0)
            goto bad;
        enode_config_set_connect_all(c, on);
    } else if (strcmp(key, "inet_dist_use_interface") == 0) {
        if (ip_tuple_text(val, ip, sizeof ip) < 0)
            goto bad;
        return enode_config_set_listen_address(c, ip);
    } else if (strcmp(key, "dist_auto_connect") == 0) {
        if (parse_auto_connect(val, &mode) < 0)
            goto bad;
        enode_config_set_auto_connect(c, mode);
    } else if (strcmp(key, "dist_buf_busy_limit") == 0) {
        /* bytes, up to what +zdbbl allows */
        if (parse_uint(val, 1, ZDBBL_MAX_KIB * 1024, &v) < 0)
            goto bad;
        enode_config_set_dist_buf_busy_limit(c, (size_t)v);
    } else if (!lenient) {
        snprintf(err, errlen, "-kernel %s: not a parameter enode knows",
                 key);
        return ENODE_EINVAL;
    }
    return 0;
bad:
    snprintf(err, errlen, "-kernel %s %s: not a valid value", key, val);
    return ENODE_EINVAL;
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
        {"-epmd_port", 1},    {"-connect_all", 1},  {"+zdbbl", 1},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(flag, flags[i].flag) == 0)
            return flags[i].arity;
    return -2;
}

/* Say why a setter refused the value v of flag (v NULL: not to be
 * repeated): why, for ENODE_EINVAL. */
static int refused(int rc, const char *flag, const char *v, const char *why,
                   char *err, size_t errlen)
{
    if (rc == ENODE_ENOMEM)
        snprintf(err, errlen, "%s: out of memory", flag);
    else
        snprintf(err, errlen, "%s%s%s: %s", flag, v ? " " : "", v ? v : "",
                 why);
    return rc;
}

static int set_name(enode_config_t *c, const char *flag, const char *v,
                    char *err, size_t errlen)
{
    int rc = enode_config_set_name(c, v, flag[1] == 'n');

    if (rc == ENODE_EINVAL)
        en_node_name_check(v, err, errlen); /* says what is wrong */
    else if (rc < 0)
        refused(rc, flag, v, "", err, errlen);
    return rc;
}

static int set_port(enode_config_t *c, const char *flag, const char *v,
                    char *err, size_t errlen)
{
    long n;

    if (parse_uint(v, 1, 65535, &n) < 0)
        return refused(ENODE_EINVAL, flag, v, "not a port number", err,
                       errlen);
    if (strcmp(flag, "-erl_epmd_port") == 0)
        return enode_config_set_dist_port(c, (int)n);
    return enode_config_set_epmd_port(c, (int)n);
}

/* Apply one known flag whose values are v[0..]; lenient: a -kernel
 * parameter enode does not know is skipped, not refused. */
static int apply_flag(enode_config_t *c, const char *flag, char **v,
                      int lenient, char *err, size_t errlen)
{
    int rc;

    if (strcmp(flag, "-sname") == 0 || strcmp(flag, "-name") == 0)
        return set_name(c, flag, v[0], err, errlen);
    if (strcmp(flag, "-setcookie") == 0) { /* a secret: not repeated */
        rc = enode_config_set_cookie(c, v[0]);
        return rc < 0 ? refused(rc, flag, NULL, "the cookie is empty or too "
                                "long", err, errlen)
                      : 0;
    }
    if (strcmp(flag, "-hidden") == 0)
        return enode_config_set_hidden(c, 1);
    if (strcmp(flag, "-proto_dist") == 0) {
        if (set_proto(c, v[0]) == 0)
            return 0;
        snprintf(err, errlen,
                 "-proto_dist %s: enode speaks inet_tls, inet6_tls, "
                 "inet_tcp and inet6_tcp", v[0]);
        return ENODE_EINVAL;
    }
    if (strcmp(flag, "-ssl_dist_optfile") == 0) {
        rc = enode_config_set_ssl_dist_optfile(c, v[0]);
        return rc < 0 ? refused(rc, flag, v[0], "not a file name", err,
                                errlen)
                      : 0;
    }
    if (strcmp(flag, "-kernel") == 0)
        return set_kernel(c, v[0], v[1], lenient, err, errlen);
    if (strcmp(flag, "+zdbbl") == 0) {
        long kib;
        if (parse_uint(v[0], 1, ZDBBL_MAX_KIB, &kib) == 0)
            return enode_config_set_dist_buf_busy_limit(c, (size_t)kib * 1024);
        snprintf(err, errlen, "+zdbbl %s: KiB from 1 to %ld", v[0],
                 ZDBBL_MAX_KIB);
        return ENODE_EINVAL;
    }
    if (strcmp(flag, "-connect_all") == 0) {
        int on;
        if (parse_bool(v[0], &on) == 0)
            return enode_config_set_connect_all(c, on);
        snprintf(err, errlen, "-connect_all %s: true or false", v[0]);
        return ENODE_EINVAL;
    }
    return set_port(c, flag, v[0], err, errlen); /* the two -*epmd_port */
}

/* -ssl_dist_opt takes Key Value pairs until the next flag, as many as
 * there are. Returns how many argv entries it used, or a code. */
static int take_ssl_dist_opts(enode_config_t *c, int argc, char **argv,
                              int i, char *err, size_t errlen)
{
    int used = 0, rc;

    while (i + used + 1 < argc && argv[i + used][0] != '-') {
        rc = enode_config_add_ssl_dist_opt(c, argv[i + used],
                                           argv[i + used + 1]);
        if (rc < 0)
            return refused(rc, "-ssl_dist_opt", "''", "an empty key", err,
                           errlen);
        used += 2;
    }
    if (used == 0 || (i + used < argc && argv[i + used][0] != '-')) {
        snprintf(err, errlen, "-ssl_dist_opt needs Key Value pairs");
        return ENODE_EINVAL;
    }
    return used;
}

void en_config_err_prefix(char *err, size_t errlen, const char *what)
{
    size_t have = strnlen(err, errlen), add = strlen(what) + 2;

    if (errlen <= add + 1)
        return;
    if (have > errlen - add - 1)
        have = errlen - add - 1;
    memmove(err + add, err, have);
    err[add + have] = '\0';
    memcpy(err, what, add - 2);
    memcpy(err + add - 2, ": ", 2);
}

/* The flags of the file at path, the words that are not enode's
 * skipped. erlexec follows nested files without a limit (and loops on a
 * file that names itself); enode stops at a depth no real set-up needs. */
static int read_args_file(enode_config_t *c, const char *path, int depth,
                          char *err, size_t errlen)
{
    en_words_t w = {0};
    int rc;

    if (depth >= 16) {
        snprintf(err, errlen, "-args_file %s: files nested more than 16 "
                 "deep (does one name itself?)", path);
        return ENODE_EINVAL;
    }
    rc = en_words_read_file(&w, path, err, errlen);
    if (rc == 0 &&
        (rc = en_config_read_words(c, w.n, w.word, NULL, NULL, depth + 1,
                                   err, errlen)) < 0 &&
        strncmp(err, "-args_file ", 11) != 0) {
        char what[300];
        snprintf(what, sizeof what, "-args_file %s", path);
        en_config_err_prefix(err, errlen, what);
    }
    en_words_free(&w);
    return rc;
}

int en_config_read_words(enode_config_t *c, int n, char **words,
                         char **keep, int *kept, int depth, char *err,
                         size_t errlen)
{
    int in = 0, rc;

    while (in < n) {
        const char *flag = words[in];
        int arity = flag_arity(flag);
        if (strcmp(flag, "-args_file") == 0) {
            if (in + 1 >= n) {
                snprintf(err, errlen, "-args_file needs a file name");
                return ENODE_EINVAL;
            }
            if ((rc = read_args_file(c, words[in + 1], depth, err,
                                     errlen)) < 0)
                return rc;
            in += 2;
            continue;
        }
        if (!keep && strcmp(flag, "-extra") == 0)
            break; /* erl's plain arguments follow: none is a flag */
        if (arity == -2) {
            if (keep)
                keep[(*kept)++] = words[in];
            in++;
            continue;
        }
        if (arity == -1) {
            int used = take_ssl_dist_opts(c, n, words, in + 1, err, errlen);
            if (used < 0)
                return used;
            in += 1 + used;
            continue;
        }
        if (in + arity >= n) {
            snprintf(err, errlen, "%s needs %d value%s", flag, arity,
                     arity == 1 ? "" : "s");
            return ENODE_EINVAL;
        }
        if ((rc = apply_flag(c, flag, words + in + 1, !keep, err,
                             errlen)) < 0)
            return rc;
        in += 1 + arity;
    }
    return 0;
}

int enode_config_from_args(enode_config_t *c, int *argc, char **argv,
                           char *err, size_t errlen)
{
    int kept = 0, rc;
    char dummy[1];

    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!c || !argc || (*argc > 0 && !argv)) {
        snprintf(err, errlen, "enode_config_from_args: no configuration or "
                 "no argv");
        return ENODE_EINVAL;
    }
    /* execve() may give no arguments, not even the program's name: then
     * there is no flag to read and argv[1] is not ours to write. */
    if (*argc < 1)
        return 0;
    /* The words kept go back into argv, never ahead of the one read. */
    rc = en_config_read_words(c, *argc - 1, argv + 1, argv + 1, &kept, 0,
                              err, errlen);
    if (rc < 0)
        return rc;
    argv[1 + kept] = NULL;
    *argc = 1 + kept;
    return 0;
}
