/* test_tools.c - enode-call, the erl_call work-alike.
 *
 * tools: enode-call over TLS against an OTP node, as it is meant to be
 * used.
 *
 * parity: enode-call beside OTP's own erl_call, over plain TCP since
 * erl_call has no TLS. Each line of a table is one case: both programs get
 * the same flags and the same standard input against the same node, and
 * must print the same standard output, exit the same way and, where both
 * have something to say, say it alike on standard error. On a mismatch both
 * outputs are printed. The erl_call is the one of the erl_interface that
 * enode was built with, whose ei_print_term() enode-call prints with
 * ($ERL_CALL overrides it).
 *
 * better: where enode-call does better than erl_call on purpose
 * (doc/enode-call.1), what it does instead.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cnode.h"
#include "harness.h"

#ifndef ENODE_EI_BINDIR
#define ENODE_EI_BINDIR "/usr/lib/erlang/bin"
#endif

#define MAX_ARGS 32
#define OUT_MAX 16384

static h_cluster_t *cluster;
static h_node_t *otp;

typedef struct outcome {
    int status; /* the exit code, or 128 + the signal, as a shell shows it */
    char out[OUT_MAX], err[OUT_MAX];
} outcome_t;

/* ---- running a program -------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text ? text : "", f);
    fclose(f);
}

static void read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Run argv with input on stdin (none: empty) and EPMD at epmd_port (0:
 * the cluster's); its outputs and exit status into *o. */
static void run_with_epmd(const char *const *argv, const char *input,
                          int epmd_port, outcome_t *o)
{
    char in[1024], out[1024], err[1024];
    const char *dir = h_cluster_dir(cluster);
    int status;

    snprintf(in, sizeof in, "%s/tool.in", dir);
    snprintf(out, sizeof out, "%s/tool.out", dir);
    snprintf(err, sizeof err, "%s/tool.err", dir);
    write_file(in, input);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char port[16];
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        snprintf(port, sizeof port, "%d",
                 epmd_port ? epmd_port : h_cluster_epmd_port(cluster));
        setenv("ERL_EPMD_PORT", port, 1);
        int fi = open(in, O_RDONLY);
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fi < 0 || fo < 0 || fe < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 ||
            dup2(fe, 2) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    o->status =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    read_file(out, o->out, sizeof o->out);
    read_file(err, o->err, sizeof o->err);
}

static void run(const char *const *argv, const char *input, outcome_t *o)
{
    run_with_epmd(argv, input, 0, o);
}

static const char *enode_call_path(void)
{
    static char path[1024];
    return h_build_path("tools/enode-call", path, sizeof path);
}

static const char *erl_call_path(void)
{
    const char *env = getenv("ERL_CALL");
    return env && *env ? env : ENODE_EI_BINDIR "/erl_call";
}

/* Text with the bytes that do not show escaped, for failure messages. */
static const char *shown(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; *s && n + 5 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            n += (size_t)snprintf(buf + n, len - n, "\\n");
        else if (c == '\\')
            n += (size_t)snprintf(buf + n, len - n, "\\\\");
        else if (c < ' ' || c >= 0x7f)
            n += (size_t)snprintf(buf + n, len - n, "\\x%02X", c);
        else
            buf[n++] = (char)c;
    }
    buf[n] = '\0';
    return buf;
}

static void print_outcome(const char *who, const outcome_t *o)
{
    static char buf[4 * OUT_MAX + 8];
    fprintf(stderr, "  %s: exit %d\n", who, o->status);
    fprintf(stderr, "    stdout: \"%s\"\n", shown(o->out, buf, sizeof buf));
    fprintf(stderr, "    stderr: \"%s\"\n", shown(o->err, buf, sizeof buf));
}

/* The target node's name as -sname takes it, and a node name on the same
 * host where nothing runs. */
static const char *target_name(void)
{
    return h_node_name(otp);
}

static const char *absent_name(void)
{
    static char name[300];
    snprintf(name, sizeof name, "nobody_%ld@%s", (long)getpid(),
             h_node_host(otp));
    return name;
}

/* ---- tools: over TLS ---------------------------------------------------- */

static void up_tls(void)
{
    cluster = h_cluster_new();
    cr_assert_not_null(cluster);
    cr_assert_gt(h_epmd_start(cluster), 0);
    otp = h_node_start(cluster, "target", NULL);
    cr_assert_not_null(otp);
}

static void down(void)
{
    h_cluster_stop(cluster);
}

/* enode-call over TLS with the cluster's optfile: cookie_flag and cookie
 * (NULL: -c and the cluster's), then the rest. */
static void run_tls(const char *cookie_flag, const char *cookie,
                    const char *const *rest, const char *input, outcome_t *o)
{
    const char *argv[MAX_ARGS] = {enode_call_path(),
                                  "-sname",
                                  target_name(),
                                  cookie_flag ? cookie_flag : "-c",
                                  cookie ? cookie : h_cluster_cookie(cluster),
                                  "-proto_dist",
                                  "inet_tls",
                                  "-ssl_dist_optfile",
                                  h_cluster_optfile(cluster)};
    int n = 9;
    while (*rest && n < MAX_ARGS - 1)
        argv[n++] = *rest++;
    run(argv, input, o);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

TestSuite(tools, .init = up_tls, .fini = down, .timeout = 60);

Test(tools, enode_call_applies_and_evaluates)
{
    outcome_t o;

    run_tls(NULL, NULL, ARGS("-a", "erlang node"), NULL, &o);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_str_eq(o.out, target_name()); /* no newline, as erl_call */
    /* Values above 255, or ei prints the list as a string, as erl_call. */
    run_tls(NULL, NULL, ARGS("-a", "lists seq [1000, 1002]"), NULL, &o);
    cr_assert_str_eq(o.out, "[1000, 1001, 1002]"); /* ei_print_term style */
    run_tls(NULL, NULL, ARGS("-e"), "X = 6, X * 7.\n", &o);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_str_eq(o.out, "{ok, 42}");
}

Test(tools, enode_call_reports_failures)
{
    outcome_t o;

    /* As erl_call: a {badrpc, _} or an {error, _} of -e is an answer. */
    run_tls(NULL, NULL, ARGS("-a", "no_such_module f []"), NULL, &o);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_str_eq(o.out, "{badrpc, {'EXIT', {undef, [{no_such_module, f, "
                            "[], []}]}}}");
    run_tls(NULL, NULL, ARGS("-e"), "1 +.\n", &o);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_str_eq(o.out, "{error, \"*** syntax error before: '.'\"}");
    run_tls(NULL, "wrong_cookie", ARGS("-a", "erlang node"), NULL, &o);
    cr_assert_eq(o.status, 1, "%s", o.out);
    cr_assert(strstr(o.err, "failed to connect") && strstr(o.err, "cookie"),
              "%s", o.err);
    run_tls(NULL, NULL, ARGS("-a", "erlang node [1,"), NULL, &o);
    cr_assert_eq(o.status, 255, "%s", o.out);
    cr_assert(strstr(o.err, "Failed to parse arguments"), "%s", o.err);
}

Test(tools, enode_call_takes_erls_setcookie)
{
    outcome_t o;

    run_tls("-setcookie", NULL, ARGS("-a", "erlang node"), NULL, &o);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_str_eq(o.out, target_name());
}

/* Whether the node stops answering within a few seconds. */
static bool node_goes_away(const char *name, const char *proto)
{
    const char *argv[] = {enode_call_path(),
                          "-sname",
                          name,
                          "-c",
                          h_cluster_cookie(cluster),
                          "-proto_dist",
                          proto,
                          "-ssl_dist_optfile",
                          h_cluster_optfile(cluster),
                          "-a",
                          "erlang node",
                          NULL};
    outcome_t o;

    for (int i = 0; i < 50; i++) {
        run(argv, NULL, &o);
        if (o.status == 1)
            return true;
        usleep(100000);
    }
    return false;
}

/* As erl_call: -q halts the node (and only that), and a node that is not
 * there is no failure. */
Test(tools, enode_call_q_halts_the_node)
{
    outcome_t o;

    run_tls(NULL, NULL, ARGS("-q", "-a", "erlang node"), NULL, &o);
    cr_assert_eq(o.status, 0, "%s", o.err);
    cr_assert_str_eq(o.out, "", "-q printed: %s", o.out);
    cr_assert(node_goes_away(target_name(), "inet_tls"),
              "the node still answers after -q");
    run_tls(NULL, NULL, ARGS("-q"), NULL, &o);
    cr_assert_eq(o.status, 0, "%s", o.err);
}

/* ---- parity: beside erl_call, over TCP ---------------------------------- */

static h_node_t *start_tcp_node(const char *prefix)
{
    h_node_opts_t opts = H_NODE_OPTS_INIT;
    opts.tcp = true;
    h_node_t *n = h_node_start(cluster, prefix, &opts);
    cr_assert_not_null(n);
    return n;
}

static void up_tcp(void)
{
    if (access(erl_call_path(), X_OK) != 0)
        cr_skip_test("no erl_call at %s (set ERL_CALL)", erl_call_path());
    cluster = h_cluster_new();
    cr_assert_not_null(cluster);
    cr_assert_gt(h_epmd_start(cluster), 0);
    otp = start_tcp_node("target");
}

/* How standard error is compared; erl_call's name is ours first. */
typedef enum err_check {
    ERR_SAME,       /* the same text */
    ERR_MORE,       /* ours is erl_call's, and then says more */
    ERR_FIRST_LINE, /* the same first line (then each prints its usage) */
    ERR_OURS,       /* erl_call says nothing; ours may say why */
    ERR_ANY,        /* each prints its own (usage, -v) */
} err_check_t;

/* Which node the case names: the target, one that is not running, one
 * behind an EPMD that is not running either (port 1), or none. */
enum target { AT_NODE, AT_ABSENT, AT_NO_EPMD, AT_NONE };

typedef struct parity_case {
    const char *what;
    const char *input; /* standard input, NULL for none */
    const char *args[8];
    err_check_t err;
    enum target target;
} parity_case_t;

/* erl_call's stderr, its name made ours. */
static void as_ours(const char *theirs, char *buf, size_t len)
{
    size_t n = 0;
    while (*theirs && n + 16 < len) {
        if (strncmp(theirs, "erl_call: ", 10) == 0) {
            n += (size_t)snprintf(buf + n, len - n, "enode-call: ");
            theirs += 10;
        } else {
            buf[n++] = *theirs++;
        }
    }
    buf[n] = '\0';
}

static bool same_err(err_check_t check, const char *theirs, const char *ours)
{
    static char want[OUT_MAX + 64];
    size_t len;

    as_ours(theirs, want, sizeof want);
    switch (check) {
    case ERR_SAME:
        return strcmp(want, ours) == 0;
    case ERR_MORE:
        len = strlen(want);
        if (len && want[len - 1] == '\n')
            len--;
        return strncmp(want, ours, len) == 0;
    case ERR_FIRST_LINE:
        len = strcspn(want, "\n");
        return strncmp(want, ours, len) == 0 && ours[len] == '\n';
    case ERR_OURS:
        return theirs[0] == '\0';
    case ERR_ANY:
        return true;
    }
    return false;
}

/* argv for one program: the target, the cookie, our own name (each run a
 * new one, so that no node sees a name connect twice at once), then the
 * case's flags. */
static int parity_argv(const char **argv, const char *prog, int ours,
                       const parity_case_t *c, const char *node, char *self)
{
    static int runs;
    int n = 0;

    argv[n++] = prog;
    if (ours) {
        argv[n++] = "-proto_dist";
        argv[n++] = "inet_tcp";
    }
    if (c->target != AT_NONE) {
        argv[n++] = "-sname";
        argv[n++] = c->target == AT_NODE ? node : absent_name();
    }
    argv[n++] = "-c";
    argv[n++] = h_cluster_cookie(cluster);
    snprintf(self, 32, "%s%d_%ld", ours ? "ours" : "theirs", ++runs,
             (long)getpid());
    argv[n++] = "-h";
    argv[n++] = self;
    for (int i = 0; c->args[i]; i++)
        argv[n++] = c->args[i];
    argv[n] = NULL;
    return n;
}

/* Run a case with both programs; node_for_ours (NULL: the same node) is
 * for cases that stop the node. Returns whether they agree, after printing
 * both outcomes if they do not. */
static bool parity_run_on(const parity_case_t *c, const char *node,
                          const char *node_for_ours)
{
    const char *argv[MAX_ARGS];
    char self[32];
    static outcome_t theirs, ours;

    int epmd_port = c->target == AT_NO_EPMD ? 1 : 0;

    parity_argv(argv, erl_call_path(), 0, c, node, self);
    run_with_epmd(argv, c->input, epmd_port, &theirs);
    parity_argv(argv, enode_call_path(), 1, c,
                node_for_ours ? node_for_ours : node, self);
    run_with_epmd(argv, c->input, epmd_port, &ours);
    bool same = theirs.status == ours.status &&
                strcmp(theirs.out, ours.out) == 0 &&
                same_err(c->err, theirs.err, ours.err);
    if (!same) {
        fprintf(stderr, "parity: %s: enode-call differs from erl_call\n",
                c->what);
        print_outcome("erl_call  ", &theirs);
        print_outcome("enode-call", &ours);
    }
    return same;
}

static void parity_table(const parity_case_t *cases, size_t count)
{
    size_t failed = 0;

    for (size_t i = 0; i < count; i++)
        if (!parity_run_on(&cases[i], target_name(), NULL))
            failed++;
    cr_assert_eq(failed, 0, "%zu of %zu cases differ (printed above)", failed,
                 count);
}

#define COUNT(a) (sizeof(a) / sizeof *(a))

TestSuite(parity, .init = up_tcp, .fini = down, .timeout = 120);

/* -a: answers, failures as erl_call prints them (exit 0), arguments read
 * as erl_call reads them. */
/* clang-format off */
static const parity_case_t apply_cases[] = {
    {"a value", NULL, {"-a", "erlang node"}, ERR_SAME, 0},
    {"integers above 255", NULL, {"-a", "lists seq [1000, 1002]"}, ERR_SAME, 0},
    {"a list that is a string", NULL, {"-a", "lists seq [65, 70]"}, ERR_SAME, 0},
    {"every type of argument", NULL, {"-a", "erlang list_to_tuple [[a, 'B c', \"s t\", [], {}, -7, +8, 2.5, -1., \"\", '', {x, [y, [[]]]}, aB@1_]]"}, ERR_SAME, 0},
    {"64-bit integers", NULL, {"-a", "erlang list_to_tuple [[-9223372036854775808, 9223372036854775807]]"}, ERR_SAME, 0},
    {"a module alone: Mod:start()", NULL, {"-a", "no_such_module"}, ERR_SAME, 0},
    {"no Args: []", NULL, {"-a", "erlang is_alive"}, ERR_SAME, 0},
    {"Args that are no list", NULL, {"-a", "erlang node foo"}, ERR_SAME, 0},
    {"Args that are a string", NULL, {"-a", "erlang length \"abc\""}, ERR_SAME, 0},
    {"badrpc: no such module", NULL, {"-a", "no_such_module f [1]"}, ERR_SAME, 0},
    {"badrpc: no such function", NULL, {"-a", "erlang no_such_function [1, 2]"}, ERR_SAME, 0},
    {"badrpc: the function raises", NULL, {"-a", "erlang error [boom]"}, ERR_SAME, 0},
    {"badrpc: the function exits", NULL, {"-a", "erlang exit [bye]"}, ERR_SAME, 0},
    {"a throw is the answer", NULL, {"-a", "erlang throw [ball]"}, ERR_SAME, 0},
    {"strings have no escapes", NULL, {"-a", "erlang length [\"a\\nb\"]"}, ERR_SAME, 0},
    {"~p in a string", NULL, {"-a", "erlang length [\"~p\"]"}, ERR_SAME, 0},
    {"floats print as %f", NULL, {"-a", "erlang abs [-2.5]"}, ERR_SAME, 0},
    {"UTF-8 text is a byte per character", NULL, {"-a", "erlang length [\"é\"]"}, ERR_SAME, 0},
    {"a UTF-8 string comes back as ei prints it", NULL, {"-a", "lists reverse [\"é€\"]"}, ERR_SAME, 0},
    {"a UTF-8 atom comes back in UTF-8", NULL, {"-a", "erlang list_to_atom [\"ä€\"]"}, ERR_SAME, 0},
    {"a UTF-8 quoted atom", NULL, {"-a", "erlang atom_to_list ['é']"}, ERR_SAME, 0},
    {"a UTF-8 module name", NULL, {"-a", "modülé f"}, ERR_SAME, 0},
    {"unreadable Args: no ]", NULL, {"-a", "erlang node [1,"}, ERR_MORE, 0},
    {"unreadable Args: no closing quote", NULL, {"-a", "erlang length [\"abc]"}, ERR_MORE, 0},
    {"unreadable Args: a variable", NULL, {"-a", "lists reverse [X]"}, ERR_MORE, 0},
    {"unreadable Args: an empty element", NULL, {"-a", "erlang node [a,,b]"}, ERR_MORE, 0},
    {"unreadable Args: a trailing comma", NULL, {"-a", "erlang node {a,}"}, ERR_MORE, 0},
    {"an empty -a", NULL, {"-a", ""}, ERR_SAME, 0},
    {"a blank -a", NULL, {"-a", "   "}, ERR_SAME, 0},
    {"-no_result_term", NULL, {"-no_result_term", "-a", "erlang node"}, ERR_SAME, 0},
    {"-e, then -a", "X = 1.\n", {"-e", "-a", "erlang is_alive"}, ERR_SAME, 0},
};
/* clang-format on */

Test(parity, apply)
{
    parity_table(apply_cases, COUNT(apply_cases));
}

/* -e: erl_eval:eval_str/1's answers, errors included (exit 0). */
/* clang-format off */
static const parity_case_t eval_cases[] = {
    {"an expression", "6 * 7.\n", {"-e"}, ERR_SAME, 0},
    {"several expressions", "X = 6,\nY = 7,\nX * Y.\n", {"-e"}, ERR_SAME, 0},
    {"several on one line", "X = 6, X * 7.\n", {"-e"}, ERR_SAME, 0},
    {"blank lines after", "ok.\n\n \t\n", {"-e"}, ERR_SAME, 0},
    {"a syntax error", "1 +.\n", {"-e"}, ERR_SAME, 0},
    {"an unterminated string", "\"abc\n", {"-e"}, ERR_SAME, 0},
    {"an unfinished form", "foo(\n", {"-e"}, ERR_SAME, 0},
    {"an unfinished form, no newline", "foo(", {"-e"}, ERR_SAME, 0},
    {"no input", "", {"-e"}, ERR_SAME, 0},
    {"two forms", "1. 2.\n", {"-e"}, ERR_SAME, 0},
    {"throw", "throw(ball).\n", {"-e"}, ERR_SAME, 0},
    {"an error, with its stack", "error(boom).\n", {"-e"}, ERR_SAME, 0},
    {"exit", "exit(bye).\n", {"-e"}, ERR_SAME, 0},
    {"an unbound variable", "X.\n", {"-e"}, ERR_SAME, 0},
    {"a fun", "fun lists:reverse/1.\n", {"-e"}, ERR_SAME, 0},
    {"binaries, maps, floats, bignums", "{<<1,2,200>>, <<1:3>>, #{a => [1]}, 1.5, 1 bsl 70, -(1 bsl 70)}.\n", {"-e"}, ERR_SAME, 0},
    {"a UTF-8 atom", "'ä€'.\n", {"-e"}, ERR_SAME, 0},
    {"a UTF-8 string", "\"é\".\n", {"-e"}, ERR_SAME, 0},
    {"-no_result_term", "6 * 7.\n", {"-no_result_term", "-e"}, ERR_SAME, 0},
};
/* clang-format on */

Test(parity, eval)
{
    parity_table(eval_cases, COUNT(eval_cases));
}

/* The command line, the connection, -timeout. */
/* clang-format off */
static const parity_case_t command_cases[] = {
    {"nothing to do: connect only", NULL, {NULL}, ERR_SAME, 0},
    {"a node that is not running", NULL, {"-a", "erlang node"}, ERR_MORE, AT_ABSENT},
    {"-e, a node that is not running", "1.\n", {"-e"}, ERR_MORE, AT_ABSENT},
    {"-q, a node that is not running", NULL, {"-q"}, ERR_SAME, AT_ABSENT},
    {"no EPMD", NULL, {"-a", "erlang node"}, ERR_MORE, AT_NO_EPMD},
    {"-q, no EPMD", NULL, {"-q"}, ERR_SAME, AT_NO_EPMD},
    {"a wrong cookie", NULL, {"-c", "wrong_cookie", "-a", "erlang node"}, ERR_MORE, 0},
    {"no node: the usage, exit 0", NULL, {"-a", "erlang node"}, ERR_ANY, AT_NONE},
    {"a flag without its value", NULL, {"-a"}, ERR_FIRST_LINE, 0},
    {"an unknown flag", NULL, {"-zz", "-a", "erlang node"}, ERR_FIRST_LINE, 0},
    {"a stray word", NULL, {"stray", "-a", "erlang node"}, ERR_FIRST_LINE, 0},
    {"-timeout 0", NULL, {"-timeout", "0", "-a", "erlang node"}, ERR_FIRST_LINE, 0},
    {"-timeout cuts a long call", NULL, {"-timeout", "1", "-a", "timer sleep [10000]"}, ERR_OURS, 0},
    {"-timeout not reached", NULL, {"-timeout", "30", "-a", "erlang node"}, ERR_SAME, 0},
    {"-r and -d", NULL, {"-r", "-d", "-a", "erlang node"}, ERR_ANY, 0},
    {"-v", NULL, {"-v", "-a", "erlang node"}, ERR_ANY, 0},
};
/* clang-format on */

Test(parity, command_line_and_connection)
{
    parity_table(command_cases, COUNT(command_cases));
}

/* Cases that stop the node: each program gets a node of its own. */
/* clang-format off */
static const parity_case_t halting_cases[] = {
    {"-q halts the node", NULL, {"-q", "-a", "erlang node"}, ERR_SAME, 0},
    {"the node halts during the call", NULL, {"-a", "erlang halt []"}, ERR_OURS, 0},
};
/* clang-format on */

Test(parity, halting)
{
    size_t failed = 0;

    for (size_t i = 0; i < COUNT(halting_cases); i++) {
        h_node_t *theirs = start_tcp_node("theirs");
        h_node_t *ours = start_tcp_node("ours");
        if (!parity_run_on(&halting_cases[i], h_node_name(theirs),
                           h_node_name(ours)))
            failed++;
        cr_assert(node_goes_away(h_node_name(theirs), "inet_tcp"),
                  "%s: erl_call left the node up", halting_cases[i].what);
        cr_assert(node_goes_away(h_node_name(ours), "inet_tcp"),
                  "%s: enode-call left the node up", halting_cases[i].what);
    }
    cr_assert_eq(failed, 0, "%zu cases differ (printed above)", failed);
}

/* ---- better: on purpose unlike erl_call --------------------------------- */

typedef struct better_case {
    const char *what;
    const char *input;
    const char *args[6];
    int status;
    const char *out; /* exactly; NULL: any */
    const char *err; /* a part of it; NULL: none at all */
} better_case_t;

#define M16 "mmmmmmmmmmmmmmmm"
#define M256 M16 M16 M16 M16 M16 M16 M16 M16 M16 M16 M16 M16 M16 M16 M16 M16

/* clang-format off */
static const better_case_t better_cases[] = {
    /* erl_call: {error, "Incomplete form (missing .<cr>)??"} */
    {"-e without a newline at the end", "6 * 7.", {"-e"}, 0, "{ok, 42}", NULL},
    {"-e, several lines, no newline at the end", "X = 6,\nX * 7.", {"-e"}, 0, "{ok, 42}", NULL},
    /* erl_call: Failed to parse arguments */
    {"a binary in Args", NULL, {"-a", "erlang byte_size [<<1, 2, \"ab\">>]"}, 0, "4", NULL},
    {"a binary of UTF-8 text is its bytes", NULL, {"-a", "erlang byte_size [<<\"é\">>]"}, 0, "2", NULL},
    {"a map in Args", NULL, {"-a", "maps get [k, #{k => v, j => w}]"}, 0, "v", NULL},
    {"a map with a key twice", NULL, {"-a", "maps to_list [#{k => 1, k => 2}]"}, 0, "[{k, 2}]", NULL},
    {"~n in a string", NULL, {"-a", "erlang length [\"~n\"]"}, 0, "2", NULL},
    /* erl_call: [1 | 2] is [1, 2], and [1|2] garbles the call */
    {"a list with a tail", NULL, {"-a", "erlang tl [[1 | 2]]"}, 0, "2", NULL},
    {"a list with a tail, no blanks", NULL, {"-a", "erlang tl [[1|2]]"}, 0, "2", NULL},
    /* erl_call: 9223372036854775807 */
    {"an integer above 2^63 - 1", NULL, {"-a", "erlang abs [18446744073709551615]"}, 0, "18446744073709551615", NULL},
    /* erl_call: [1500.0, 3] */
    {"a float with an exponent", NULL, {"-a", "erlang float [1.5e3]"}, 0, "1500.000000", NULL},
    /* erl_call: ' erlang':is_alive() */
    {"a blank before the module", NULL, {"-a", " erlang is_alive"}, 0, "true", NULL},
    /* erl_call prints {ok,  and stops there */
    {"an atom beyond Latin-1", NULL, {"-a", "erlang list_to_atom [[8364, 97]]"}, 0, "'\xE2\x82\xAC" "a'", NULL},
    /* erl_call prints the lone byte 0xE4: no UTF-8 */
    {"a Latin-1 atom of the node prints in UTF-8", NULL, {"-a", "erlang list_to_atom [[228, 98]]"}, 0, "'\xC3\xA4" "b'", NULL},
    {"-e: a Latin-1 atom of the node", "list_to_atom([233]).\n", {"-e"}, 0, "{ok, '\xC3\xA9'}", NULL},
    {"-e: an atom beyond Latin-1", "list_to_atom([8364]).\n", {"-e"}, 0, "{ok, '\xE2\x82\xAC'}", NULL},
    /* erl_call reads something that was not written: [a, b], [], a clamped
     * integer; enode-call refuses, as for Args it cannot read. */
    {"elements without commas", NULL, {"-a", "erlang node [a b]"}, 255, "", "column 4: expected ',', '|' or ']' in the list, found 'b'"},
    {"text after Args", NULL, {"-a", "erlang node [] extra"}, 255, "", "column 4: expected the end of the arguments, found 'e'"},
    {"an integer beyond 64 bits", NULL, {"-a", "erlang abs [99999999999999999999]"}, 255, "", "column 2: an integer beyond 64 bits"},
    /* -s: erl_call would start a node of its own where none runs (so it is
     * not run here at all); enode-call connects, or says it starts none. */
    {"-s, the node runs", NULL, {"-s", "-a", "erlang is_alive"}, 0, "true", NULL},
    {"-s, no node runs", NULL, {"-s", "-sname", "nobody_here", "-a", "erlang is_alive"}, 1, "", "does not start nodes"},
    /* erl_call exits 255 and says nothing */
    {"a module name beyond 255 bytes", NULL, {"-a", M256 " f"}, 255, "", "longer than 255"},
};
/* clang-format on */

Test(parity, better)
{
    size_t failed = 0;

    for (size_t i = 0; i < COUNT(better_cases); i++) {
        const better_case_t *c = &better_cases[i];
        parity_case_t p = {.what = c->what, .input = c->input};
        const char *argv[MAX_ARGS];
        char self[32];
        static outcome_t o;

        memcpy(p.args, c->args, sizeof c->args);
        parity_argv(argv, enode_call_path(), 1, &p, target_name(), self);
        run(argv, c->input, &o);
        bool good = o.status == c->status &&
                    (!c->out || strcmp(o.out, c->out) == 0) &&
                    (c->err ? strstr(o.err, c->err) != NULL : !o.err[0]);
        if (!good) {
            char buf[256];
            fprintf(stderr, "better: %s: want exit %d, stdout \"%s\"", c->what,
                    c->status, shown(c->out ? c->out : "*", buf, sizeof buf));
            fprintf(stderr, ", stderr with \"%s\"\n", c->err ? c->err : "");
            print_outcome("enode-call", &o);
            failed++;
        }
    }
    cr_assert_eq(failed, 0, "%zu of %zu cases differ (printed above)", failed,
                 COUNT(better_cases));
}
