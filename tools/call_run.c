/* call_run.c - the calls through the target node's rex server, as erl_call
 * makes them, and what erl_call prints and exits with for each. */
#include <stdlib.h>
#include <string.h>

#include "enode-call.h"

/* The message {rex, Result} or the DOWN of our monitor on rex. */
enum reply { REPLY_REX, REPLY_DOWN, REPLY_OTHER };

static enum reply classify(const ec_session_t *s, const ei_x_buff *m,
                           int *after_tag)
{
    char atom[MAXATOMLEN_UTF8];
    erlang_ref ref;
    int i = 0, version, arity;

    if (ei_decode_version(m->buff, &i, &version) < 0 ||
        ei_decode_tuple_header(m->buff, &i, &arity) < 0 ||
        ei_decode_atom(m->buff, &i, atom) < 0)
        return REPLY_OTHER;
    *after_tag = i;
    if (arity == 2 && strcmp(atom, "rex") == 0)
        return REPLY_REX;
    if (arity == 5 && strcmp(atom, "DOWN") == 0 &&
        ei_decode_ref(m->buff, &i, &ref) == 0 &&
        ei_cmp_refs(&ref, (erlang_ref *)&s->rex_monitor) == 0)
        return REPLY_DOWN;
    return REPLY_OTHER;
}

/* The Reason of a DOWN message, printed. */
static void down_reason(const ec_session_t *s, const ei_x_buff *m, int i,
                        char *err, size_t errlen)
{
    char *text = NULL;

    ei_skip_term(m->buff, &i); /* the reference */
    ei_skip_term(m->buff, &i); /* process */
    ei_skip_term(m->buff, &i); /* {rex, Node} */
    ei_s_print_term(&text, m->buff, &i);
    snprintf(err, errlen, "lost the connection to %s (%s)", s->target,
             text ? text : "?");
    free(text);
}

/* Wait as long as it takes, as erl_call does (-timeout cuts the whole
 * run), for rex's answer or for the node to go away. */
static int await_rex(ec_session_t *s, ei_x_buff *result, char *err,
                     size_t errlen)
{
    for (;;) {
        enode_msg_t msg;
        int rc = enode_receive(s->mbox, &msg, -1), at = 0;
        if (rc < 0) {
            snprintf(err, errlen, "%s", enode_strerror(rc));
            return -1;
        }
        enum reply kind = classify(s, &msg.msg, &at);
        if (kind == REPLY_REX) {
            ei_x_new_with_version(result);
            ei_x_append_buf(result, msg.msg.buff + at, msg.msg.index - at);
        } else if (kind == REPLY_DOWN) {
            down_reason(s, &msg.msg, at, err, errlen);
        }
        enode_msg_free(&msg);
        if (kind != REPLY_OTHER)
            return kind == REPLY_REX ? 0 : -1;
    }
}

int ec_rex_call(ec_session_t *s, const char *mod, const char *fun,
                const ei_x_buff *args, ei_x_buff *result, char *err,
                size_t errlen)
{
    ei_x_buff q;
    int rc;

    ei_x_new_with_version(&q);
    ei_x_encode_tuple_header(&q, 2);
    ei_x_encode_pid(&q, enode_mbox_pid(s->mbox));
    ei_x_encode_tuple_header(&q, 5);
    ei_x_encode_atom(&q, "call");
    /* Latin-1 byte for byte, as erl_call encodes them. */
    int names_ok =
        ei_x_encode_atom(&q, mod) == 0 && ei_x_encode_atom(&q, fun) == 0;
    ei_x_append_buf(&q, args->buff, args->index);
    ei_x_encode_atom(&q, "user"); /* the group leader rex gives the call */
    if (!names_ok) {
        snprintf(err, errlen, "a module or function name longer than 255");
        rc = -1;
    } else if ((rc = enode_reg_send(s->mbox, s->target, "rex", &q)) < 0) {
        snprintf(err, errlen, "%s: %s", enode_strerror(rc),
                 enode_last_error(s->node));
    }
    ei_x_free(&q);
    return rc < 0 ? -1 : await_rex(s, result, err, errlen);
}

void ec_halt(ec_session_t *s)
{
    ei_x_buff args, result;
    char err[256];

    /* No answer comes: the call ends when the node has gone. */
    ei_x_new(&args);
    ei_x_encode_empty_list(&args);
    if (ec_rex_call(s, "erlang", "halt", &args, &result, err, sizeof err) == 0)
        ei_x_free(&result);
    ei_x_free(&args);
}

int ec_eval(ec_session_t *s, const char *text, size_t len, int quiet)
{
    ei_x_buff args, result;
    char err[512];

    /* erl_eval:eval_str(Binary), as erl_call calls it: one form, whose
     * '.' must be followed by white space. Unlike erl_call, a text that
     * does not end in white space gets a newline, so that
     * "echo -n 'X = 1.' | enode-call -e" works. */
    int add_newline = len > 0 && !strchr(" \t\n\v\f\r", text[len - 1]);
    char *form = malloc(len + 1);
    if (!form) {
        fprintf(stderr, "enode-call: out of memory\n");
        return EC_EXIT_FAIL;
    }
    memcpy(form, text, len);
    if (add_newline)
        form[len] = '\n';
    ei_x_new(&args);
    ei_x_encode_list_header(&args, 1);
    ei_x_encode_binary(&args, form, (long)(len + add_newline));
    ei_x_encode_empty_list(&args);
    free(form);
    int rc =
        ec_rex_call(s, "erl_eval", "eval_str", &args, &result, err, sizeof err);
    ei_x_free(&args);
    if (rc < 0) {
        fprintf(stderr, "enode-call: evaluating input failed: %.*s\n", (int)len,
                text);
        fprintf(stderr, "enode-call: %s\n", err);
        return EC_EXIT_FAIL;
    }
    if (!quiet)
        ec_print_term(stdout, &result);
    ei_x_free(&result);
    return EC_EXIT_OK;
}

static void args_error(const char *args, const char *why)
{
    fprintf(stderr,
            "enode-call: Failed to parse arguments,\n"
            "see the documentation for allowed term types.\n"
            "Arguments: %s\n"
            "enode-call: %s\n",
            args, why);
}

int ec_apply(ec_session_t *s, const char *spec, int quiet)
{
    ec_apply_t apply;
    ei_x_buff args, result;
    char err[512];
    int status = EC_EXIT_OK;

    if (ec_apply_split(spec, &apply) < 0) {
        fprintf(stderr, "enode-call: wrong format of apply string (1)\n");
        return EC_EXIT_FAIL;
    }
    if (ec_args_read(apply.args, &args, err, sizeof err) < 0) {
        args_error(apply.args, err);
        status = EC_EXIT_APPLY;
    } else if (ec_rex_call(s, apply.mod, apply.fun, &args, &result, err,
                           sizeof err) < 0) {
        fprintf(stderr, "enode-call: calling %s:%s failed: %s\n", apply.mod,
                apply.fun, err);
        status = EC_EXIT_APPLY;
    } else {
        if (!quiet)
            ec_print_term(stdout, &result);
        ei_x_free(&result);
    }
    ei_x_free(&args);
    ec_apply_free(&apply);
    return status;
}
