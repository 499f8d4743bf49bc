/* enode-call - call functions on an Erlang node, as erl_call does, also
 * over TLS.
 *
 *   enode-call -sname NODE -c COOKIE -a 'Mod Fun [Args]' [erl's flags]
 *   echo 'X = 2, X * 21.' | enode-call -name NODE@HOST -c COOKIE -e
 *
 * On the same input it prints what erl_call prints and exits as erl_call
 * exits (doc/enode-call.1 lists the few places where it does better).
 * erl_call's flags name the target and the work: -sname/-name/-n NODE,
 * -c COOKIE, -a, -e, -q, -h NAME, -timeout SECONDS, -no_result_term, -v.
 * Every other flag is erl's, read as enode_config_from_args() reads it:
 * -proto_dist inet_tls, -ssl_dist_optfile FILE, -ssl_dist_opt K V, ...
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enode-call.h"
#include "base/names.h"

struct call_opts {
    const char *target;
    int target_long;
    const char *cookie, *apply, *self;
    int eval, quit, verbose, no_result_term;
    int start;      /* -s: erl_call starts the node if it is not running */
    long timeout_s; /* 0: none */
};

static void usage(void)
{
    fprintf(stderr,
            "usage: enode-call (-sname | -name | -n) NODE [-c COOKIE]\n"
            "           [-a 'Mod [Fun [Args]]'] [-e] [-q] [-h NAME]\n"
            "           [-timeout SECONDS] [-no_result_term] [-v]\n"
            "           [erl's flags: -proto_dist inet_tls|inet_tcp,\n"
            "            -ssl_dist_optfile FILE, -ssl_dist_opt KEY VALUE, "
            "...]\n"
            "  -a  apply(Mod, Fun, Args), e.g. -a 'erlang length [[a,b,c]]'\n"
            "  -e  evaluate the expressions on standard input\n"
            "  -q  halt the node\n");
}

/* erl_call's answers to a bad command line: exit 1, with the usage. */
static int illegal(const char *arg)
{
    fprintf(stderr, "Illegal argument '%s'.\n", arg);
    usage();
    return EC_EXIT_FAIL;
}

static int missing(const char *flag)
{
    fprintf(stderr, "Missing argument(s) for '%s '.\n", flag);
    usage();
    return EC_EXIT_FAIL;
}

/* erl_call's flags. Any other flag is left for erl's (-proto_dist ...). */
enum flag {
    F_SNAME,
    F_NAME,
    F_COOKIE,
    F_APPLY,
    F_SELF,
    F_TIMEOUT,
    F_EVAL,
    F_QUIT,
    F_VERBOSE,
    F_START,
    F_NO_RESULT_TERM,
    F_HELP,
    F_IGNORED,    /* -r, -R: a random or dynamic name (ours is unique);
                     -x: the erl script for -s, which starts no node here */
    F_UNSUPPORTED /* a module to compile (-m), a node without EPMD
                     (-address), its output forwarded (-fetch_stdout) */
};

static const struct {
    const char *name;
    enum flag flag;
    int takes_value;
} flags[] = {
    {"-sname", F_SNAME, 1},
    {"-sn", F_SNAME, 1},
    {"-name", F_NAME, 1},
    {"-n", F_NAME, 1},
    {"-c", F_COOKIE, 1},
    {"-a", F_APPLY, 1},
    {"-h", F_SELF, 1},
    {"-timeout", F_TIMEOUT, 1},
    {"-e", F_EVAL, 0},
    {"-q", F_QUIT, 0},
    {"-v", F_VERBOSE, 0},
    {"-d", F_VERBOSE, 0},
    {"-s", F_START, 0},
    {"-no_result_term", F_NO_RESULT_TERM, 0},
    {"-?", F_HELP, 0},
    {"-r", F_IGNORED, 0},
    {"-R", F_IGNORED, 0},
    {"-x", F_IGNORED, 1},
    {"-m", F_UNSUPPORTED, 0},
    {"-address", F_UNSUPPORTED, 1},
    {"-fetch_stdout", F_UNSUPPORTED, 0},
};

static int find_flag(const char *arg)
{
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
        if (!strcmp(arg, flags[i].name))
            return (int)i;
    return -1;
}

/* Act on one of erl_call's flags: -1 to go on, or the status to exit
 * with, as erl_call exits. */
static int take_flag(enum flag flag, const char *arg, const char *value,
                     struct call_opts *o)
{
    switch (flag) {
    case F_SNAME:
    case F_NAME:
        o->target = value;
        o->target_long = flag == F_NAME;
        break;
    case F_COOKIE:
        o->cookie = value;
        break;
    case F_APPLY:
        o->apply = value;
        break;
    case F_SELF:
        o->self = value;
        break;
    case F_TIMEOUT: /* erl_call's bounds; "5s" is 5, as for erl_call */
        o->timeout_s = strtol(value, NULL, 10);
        if (o->timeout_s <= 0 || o->timeout_s >= (1L << 20))
            return illegal(arg);
        break;
    case F_EVAL:
        o->eval = 1;
        break;
    case F_QUIT:
        o->quit = 1;
        break;
    case F_VERBOSE:
        o->verbose = 1;
        break;
    case F_START:
        o->start = 1;
        break;
    case F_NO_RESULT_TERM:
        o->no_result_term = 1;
        break;
    case F_HELP:
        usage();
        return EC_EXIT_OK;
    case F_IGNORED:
        break;
    case F_UNSUPPORTED:
        fprintf(stderr, "enode-call: erl_call's %s is not supported\n", arg);
        return EC_EXIT_FAIL;
    }
    return -1;
}

/* Take erl_call's flags out of argv, leaving erl's for enode. Returns -1
 * to go on, or the status to exit with. */
static int parse_own_flags(int *argc, char **argv, struct call_opts *o)
{
    int out = 1, status;

    for (int i = 1; i < *argc; i++) {
        const char *arg = argv[i], *value = NULL;
        int f = find_flag(arg);
        if (f < 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (flags[f].takes_value) {
            if (i + 1 >= *argc)
                return missing(arg);
            value = argv[++i];
        }
        if ((status = take_flag(flags[f].flag, arg, value, o)) >= 0)
            return status;
    }
    argv[out] = NULL;
    *argc = out;
    return -1;
}

/* -timeout, as erl_call: the whole run is cut at the deadline by SIGALRM,
 * so the exit status is the signal's. We say why first. */
static void on_alarm(int sig)
{
    static const char msg[] = "enode-call: timed out (-timeout)\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)n;
    raise(sig); /* SA_RESETHAND: the default action, once we return */
}

static void start_timeout(long seconds)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)seconds);
}

/* All of stdin, which may hold any bytes. NULL on a read error, or past
 * 1 GiB. */
static char *read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);

    while (buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n < cap)
            continue;
        char *bigger = cap < (1u << 30) ? realloc(buf, 2 * cap) : NULL;
        if (!bigger) {
            errno = cap < (1u << 30) ? ENOMEM : EFBIG;
            free(buf);
        }
        buf = bigger;
        cap *= 2;
    }
    if (buf && ferror(stdin)) {
        free(buf);
        buf = NULL;
    }
    *len = n;
    return buf;
}

/* The work after connecting, in erl_call's order: -q alone, else -e then
 * -a. Returns the exit status. */
static int run(ec_session_t *s, const struct call_opts *o)
{
    int status = EC_EXIT_OK;

    if (o->quit) {
        ec_halt(s);
        return EC_EXIT_OK;
    }
    if (o->eval) {
        size_t len;
        char *text = read_stdin(&len);
        if (!text) {
            fprintf(stderr, "enode-call: can't read stdin: %s\n",
                    strerror(errno));
            return EC_EXIT_FAIL;
        }
        status = ec_eval(s, text, len, o->no_result_term);
        free(text);
    }
    if (status == EC_EXIT_OK && o->apply)
        status = ec_apply(s, o->apply, o->no_result_term);
    fflush(stdout);
    return status;
}

/* As erl_call: exit 1, except that with -q a node that is not there
 * needs no halting. */
static int connect_failed(const ec_session_t *s, const struct call_opts *o,
                          const char *why)
{
    if (o->quit)
        return EC_EXIT_OK;
    fprintf(stderr, "enode-call: failed to connect to node %s: %s%s\n",
            s->target, why,
            o->start ? " (and enode-call does not start nodes: -s)" : "");
    return EC_EXIT_FAIL;
}

/* Our node, connected to the target, with a monitor on its rex. Returns
 * -1 when connected, else the status to exit with. */
static int open_session(ec_session_t *s, const struct call_opts *o,
                        enode_config_t *cfg, char *self, size_t selflen)
{
    char err[512];

    snprintf(self, selflen, "enode_call_%ld", (long)getpid());
    const char *name = o->self ? o->self : self;
    if (enode_config_set_name(cfg, name, o->target_long) < 0) {
        en_node_name_check(name, err, sizeof err);
        fprintf(stderr, "enode-call: can't create C node: %s\n", err);
        return EC_EXIT_FAIL;
    }
    /* else -setcookie, or ~/.erlang.cookie */
    if (o->cookie && enode_config_set_cookie(cfg, o->cookie) < 0) {
        fprintf(stderr, "enode-call: can't create C node: the cookie is "
                "empty or too long\n");
        return EC_EXIT_FAIL;
    }
    enode_config_set_hidden(cfg, 1);
    enode_config_set_log(cfg, NULL, NULL,
                         o->verbose ? ENODE_LOG_INFO : ENODE_LOG_ERROR);
    int rc = enode_new(&s->node, cfg, err, sizeof err);
    if (rc == ENODE_EEPMD) /* our node registers; erl_call's needs EPMD too */
        return connect_failed(s, o, err);
    if (rc < 0) {
        fprintf(stderr, "enode-call: can't create C node: %s\n", err);
        return EC_EXIT_FAIL;
    }
    if (enode_mbox_new(s->node, &s->mbox) == 0 &&
        enode_connect(s->node, s->target) == 0 &&
        enode_monitor_name(s->mbox, "rex", s->target, &s->rex_monitor) == 0)
        return -1;
    rc = connect_failed(s, o, enode_last_error(s->node));
    enode_free(s->node);
    return rc;
}

/* erl's flags into cfg, and the target's full name. -1 to go on, or the
 * status to exit with. */
static int configure(enode_config_t *cfg, int *argc, char **argv,
                     const struct call_opts *o, char *target, size_t len)
{
    char err[512];

    if (enode_config_from_args(cfg, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-call: %s\n", err);
        return EC_EXIT_FAIL;
    }
    if (*argc > 1)
        return illegal(argv[1]);
    if (!o->target) { /* erl_call prints its usage and exits 0 */
        usage();
        return EC_EXIT_OK;
    }
    if (o->timeout_s)
        start_timeout(o->timeout_s);
    if (en_node_full_name(o->target, o->target_long, target, len, err,
                          sizeof err) < 0) {
        fprintf(stderr, "enode-call: %s\n", err);
        return EC_EXIT_FAIL;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct call_opts o = {0};
    enode_config_t *cfg = NULL;
    char target[512], self[64];
    ec_session_t s = {.target = target};

    int status = parse_own_flags(&argc, argv, &o);
    if (status >= 0)
        return status;
    if (enode_config_new(&cfg) < 0) {
        fprintf(stderr, "enode-call: out of memory\n");
        return EC_EXIT_FAIL;
    }
    status = configure(cfg, &argc, argv, &o, target, sizeof target);
    if (status < 0)
        status = open_session(&s, &o, cfg, self, sizeof self);
    enode_config_free(cfg);
    if (status >= 0)
        return status;
    status = run(&s, &o);
    enode_free(s.node);
    return status;
}
