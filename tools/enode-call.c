/* enode-call - call functions on an Erlang node, like erl_call, over TLS.
 *
 *   enode-call -sname NODE -c COOKIE -a 'Mod Fun [Args]' [TLS flags]
 *   echo 'X = 2, X * 21.' | enode-call -name NODE@HOST -c COOKIE -e
 *
 * erl_call's flags name the target: -sname/-sn or -name/-n NODE, -c
 * COOKIE, -a 'Mod Fun [Args]' (Args optional, an Erlang list), -e (the
 * expressions on stdin, result printed as {ok, Value}), -q (halt the
 * node), -h NAME (our own node name; hidden), -timeout SECONDS, -v.
 * Every other flag is erl's, read as enode_config_from_args() reads it:
 * -proto_dist inet_tls, -ssl_dist_optfile FILE, -ssl_dist_opt K V, ...
 * The call goes through the node's rex server, as erl_call's does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <enode.h>

#include "base/names.h"
#include "proto/termtext.h"

struct call_opts {
    const char *target;
    int target_long;
    const char *cookie, *apply, *self;
    int eval, quit, verbose, timeout_s;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: enode-call (-sname|-name) NODE [-c COOKIE] "
            "(-a 'Mod Fun [Args]' | -e | -q)\n"
            "                  [-h NAME] [-timeout S] [-v] [erl flags: "
            "-proto_dist, -ssl_dist_optfile, ...]\n");
    exit(2);
}

/* Take enode-call's own flags out of argv; leave erl's for enode. */
static void parse_own_flags(int *argc, char **argv, struct call_opts *o)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < *argc;
        if ((!strcmp(a, "-sname") || !strcmp(a, "-sn")) && has_value) {
            o->target = argv[++i];
            o->target_long = 0;
        } else if ((!strcmp(a, "-name") || !strcmp(a, "-n")) && has_value) {
            o->target = argv[++i];
            o->target_long = 1;
        } else if (!strcmp(a, "-c") && has_value) {
            o->cookie = argv[++i];
        } else if (!strcmp(a, "-a") && has_value) {
            o->apply = argv[++i];
        } else if (!strcmp(a, "-h") && has_value) {
            o->self = argv[++i];
        } else if (!strcmp(a, "-timeout") && has_value) {
            o->timeout_s = atoi(argv[++i]);
        } else if (!strcmp(a, "-e")) {
            o->eval = 1;
        } else if (!strcmp(a, "-q")) {
            o->quit = 1;
        } else if (!strcmp(a, "-v")) {
            o->verbose = 1;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argc = out;
}

/* The term of Args text ("[1, foo]") into args, as ETF without version. */
static int parse_args(const char *text, ei_x_buff *args)
{
    char *dotted = malloc(strlen(text) + 2);
    en_termtext_error_t err;
    ei_x_buff all;
    int i = 0, v, n, start;

    sprintf(dotted, "%s.", text);
    int rc = en_termtext_parse(dotted, strlen(dotted), &all, &err);
    free(dotted);
    if (rc < 0) {
        fprintf(stderr, "enode-call: arguments: column %d: %s\n", err.column,
                err.msg);
        return -1;
    }
    ei_decode_version(all.buff, &i, &v);
    ei_decode_list_header(all.buff, &i, &n);
    start = i;
    ei_skip_term(all.buff, &i);
    ei_x_new(args);
    ei_x_append_buf(args, all.buff + start, i - start);
    ei_x_free(&all);
    return 0;
}

/* rpc:call(Target, M, F, Args) through rex: {Self, {call, M, F, A, user}}
 * answered by {rex, Result}. *result gets Result, version byte first. */
static int rex_call(enode_mbox_t *mb, const char *target, const char *m,
                    const char *f, const ei_x_buff *args, int timeout_ms,
                    ei_x_buff *result)
{
    ei_x_buff q;
    enode_msg_t msg;
    int i = 0, v, arity;


    ei_x_new_with_version(&q);
    ei_x_encode_tuple_header(&q, 2);
    ei_x_encode_pid(&q, enode_mbox_pid(mb));
    ei_x_encode_tuple_header(&q, 5);
    ei_x_encode_atom(&q, "call");
    ei_x_encode_atom(&q, m);
    ei_x_encode_atom(&q, f);
    ei_x_append_buf(&q, args->buff, args->index);
    ei_x_encode_atom(&q, "user");
    int rc = enode_reg_send(mb, target, "rex", &q);
    ei_x_free(&q);
    if (rc < 0 || (rc = enode_receive(mb, &msg, timeout_ms)) < 0)
        return rc;
    ei_decode_version(msg.msg.buff, &i, &v);
    ei_decode_tuple_header(msg.msg.buff, &i, &arity);
    ei_skip_term(msg.msg.buff, &i); /* rex */
    ei_x_new_with_version(result);
    ei_x_append_buf(result, msg.msg.buff + i, msg.msg.index - i);
    enode_msg_free(&msg);
    return 0;
}

/* Whether result is {badrpc, _}. */
static int is_badrpc(const ei_x_buff *r)
{
    char atom[MAXATOMLEN_UTF8];
    int i = 1, arity;
    return ei_decode_tuple_header(r->buff, &i, &arity) == 0 && arity == 2 &&
           ei_decode_atom(r->buff, &i, atom) == 0 &&
           strcmp(atom, "badrpc") == 0;
}

static void print_term(const ei_x_buff *r)
{
    char *s = NULL;
    int i = 1;
    ei_s_print_term(&s, r->buff, &i);
    printf("%s\n", s ? s : "?");
    free(s);
}

/* -e: the expressions on stdin through erl_scan, erl_parse and erl_eval,
 * each a call; prints {ok, Value} as erl_call does. */
static int eval_stdin(enode_mbox_t *mb, const char *target, int timeout_ms)
{
    char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, stdin);
    ei_x_buff args, r;
    int i, arity, start;
    char atom[MAXATOMLEN_UTF8];

    text[n] = '\0';
    ei_x_new(&args);
    ei_x_encode_list_header(&args, 1);
    ei_x_encode_string(&args, text);
    ei_x_encode_empty_list(&args);
    int rc = rex_call(mb, target, "erl_scan", "string", &args, timeout_ms, &r);
    ei_x_free(&args);
    static const char *const steps[][2] = {{"erl_parse", "parse_exprs"},
                                           {"erl_eval", "exprs"}};
    for (int step = 0; rc == 0 && step < 2; step++) {
        /* {ok, Tokens, _} or {ok, Exprs}: pass the second element on;
         * anything else (a syntax error, badrpc) is the answer. */
        i = 1;
        if (ei_decode_tuple_header(r.buff, &i, &arity) < 0 || arity < 2 ||
            ei_decode_atom(r.buff, &i, atom) < 0 || strcmp(atom, "ok") != 0) {
            print_term(&r);
            ei_x_free(&r);
            return 1;
        }
        start = i;
        ei_skip_term(r.buff, &i);
        ei_x_new(&args);
        ei_x_encode_list_header(&args, step == 1 ? 2 : 1);
        ei_x_append_buf(&args, r.buff + start, i - start);
        if (step == 1)
            ei_x_encode_empty_list(&args); /* no bindings */
        ei_x_encode_empty_list(&args);
        ei_x_free(&r);
        rc = rex_call(mb, target, steps[step][0], steps[step][1], &args,
                      timeout_ms, &r);
        ei_x_free(&args);
    }
    if (rc < 0)
        return rc;
    /* {value, V, Bindings} -> {ok, V} */
    i = 1;
    ei_decode_tuple_header(r.buff, &i, &arity);
    if (arity == 3) {
        ei_skip_term(r.buff, &i);
        start = i;
        ei_skip_term(r.buff, &i);
        ei_x_buff ok;
        ei_x_new_with_version(&ok);
        ei_x_encode_tuple_header(&ok, 2);
        ei_x_encode_atom(&ok, "ok");
        ei_x_append_buf(&ok, r.buff + start, i - start);
        print_term(&ok);
        ei_x_free(&ok);
    } else {
        print_term(&r);
    }
    rc = is_badrpc(&r);
    ei_x_free(&r);
    return rc;
}

/* -q: erlang:halt() on the target. A halting node does not answer, so
 * wait only a moment for a reply that may never come. */
static int halt_node(enode_mbox_t *mb, const char *target)
{
    ei_x_buff args, result;

    if (parse_args("[]", &args) < 0)
        return ENODE_EINVAL;
    if (rex_call(mb, target, "erlang", "halt", &args, 1000, &result) == 0)
        ei_x_free(&result);
    ei_x_free(&args);
    return 0;
}

/* -a 'Mod Fun [Args]': print the result; a badrpc is a failure. */
static int apply(enode_mbox_t *mb, const char *target, const char *spec,
                 int timeout_ms)
{
    char m[256], f[256] = "start", rest[4096] = "[]";
    ei_x_buff args, result;

    if (sscanf(spec, "%255s %255s %4095[^\n]", m, f, rest) < 1)
        usage();
    if (parse_args(rest, &args) < 0)
        return ENODE_EINVAL;
    int rc = rex_call(mb, target, m, f, &args, timeout_ms, &result);
    ei_x_free(&args);
    if (rc == 0) {
        print_term(&result);
        rc = is_badrpc(&result);
        ei_x_free(&result);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct call_opts o = {.timeout_s = 30};
    enode_config_t cfg;
    char target[512], self[64], err[512];
    enode_t *node;
    enode_mbox_t *mb;

    parse_own_flags(&argc, argv, &o);
    enode_config_init(&cfg);
    if (enode_config_from_args(&cfg, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-call: %s\n", err);
        return 2;
    }
    if (!o.target || argc > 1 || (!o.apply && !o.eval && !o.quit))
        usage();
    if (en_node_full_name(o.target, o.target_long, target, sizeof target, err,
                          sizeof err) < 0) {
        fprintf(stderr, "enode-call: %s\n", err);
        return 2;
    }
    snprintf(self, sizeof self, "enode_call_%ld", (long)getpid());
    cfg.name = o.self ? o.self : self;
    cfg.long_names = o.target_long;
    if (o.cookie) /* else -setcookie, or ~/.erlang.cookie */
        cfg.cookie = o.cookie;
    cfg.hidden = 1;
    cfg.log_level = o.verbose ? ENODE_LOG_INFO : ENODE_LOG_ERROR;
    if (enode_new(&node, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "enode-call: %s\n", err);
        return 1;
    }
    enode_mbox_new(node, &mb);
    if (enode_connect(node, target) < 0) {
        if (!o.quit) /* a node that is not there needs no halting */
            fprintf(stderr, "enode-call: cannot connect to %s: %s\n",
                    target, enode_last_error(node));
        enode_free(node);
        return o.quit ? 0 : 1;
    }
    int rc = 0, timeout_ms = o.timeout_s * 1000;
    /* As erl_call: -q halts the node and does nothing else; otherwise -e
     * runs, then -a. */
    if (o.quit)
        rc = halt_node(mb, target);
    else if (o.eval)
        rc = eval_stdin(mb, target, timeout_ms);
    if (rc == 0 && o.apply && !o.quit)
        rc = apply(mb, target, o.apply, timeout_ms);
    if (rc < 0)
        fprintf(stderr, "enode-call: %s: %s\n", enode_strerror(rc),
                enode_last_error(node));
    enode_free(node);
    return rc == 0 ? 0 : 1;
}
