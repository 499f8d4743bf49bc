/* tlsconf_verifyfun.c - verify_fun, named as OTP names it: an
 * ssl_dist_optfile's {fun Module:Function/3, State}, or -ssl_dist_opt's
 * "{Module, Function, State}", which OTP's inet_tls_dist turns into the
 * same.  enode cannot run Erlang code: the name stands for a C function
 * that the application registered under it (enode_config_add_verify_fun),
 * which the network layer looks up and runs on the peer's chain.  Here
 * the name and State are only read and kept in the side.
 */
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include "base/errmsg.h"
#include "tls/tlsconf_int.h"

#define SHAPE "must be {fun Module:Function/3, State}"

/* Keep module, function and the State term at buf[state..end) in side. */
static int keep(en_tls_side_t *side, const char *module, const char *function,
                const char *buf, int state, int end)
{
    char *m = strdup(module), *f = strdup(function);
    char *st = malloc((size_t)(end - state) + 1);
    if (!m || !f || !st) {
        free(m);
        free(f);
        free(st);
        return -1;
    }
    st[0] = (char)131; /* the version byte: ei_decode_version() first */
    memcpy(st + 1, buf + state, (size_t)(end - state));
    free(side->verify_module);
    free(side->verify_function);
    free(side->verify_state);
    side->verify_module = m;
    side->verify_function = f;
    side->verify_state = st;
    side->verify_state_len = end - state + 1;
    return 0;
}

int tc_opt_verify_fun(opt_call_t *c)
{
    int idx = c->index, arity, state;
    erlang_fun fun;
    if (ei_decode_tuple_header(c->buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_fun(c->buf, &idx, &fun) < 0)
        return tc_bad_value(c, SHAPE);
    int exported = fun.type == EI_FUN_EXPORT;
    char function[MAXATOMLEN_UTF8] = "";
    if (exported)
        strncat(function, fun.u.exprt.func, sizeof function - 1);
    long fun_arity = fun.arity;
    free_fun(&fun);
    if (!exported)
        return tc_bad_value(c, SHAPE);
    if (fun_arity != 3)
        return tc_bad_value(c, "must name a fun of arity 3 (enode's C "
                               "verify functions take what OTP's verify "
                               "funs of arity 3 take)");
    state = idx;
    if (ei_skip_term(c->buf, &idx) < 0)
        return tc_bad_value(c, SHAPE);
    if (keep(c->side, fun.module, function, c->buf, state, idx) < 0)
        return en_errf(c->err, c->errlen, "%s: out of memory", c->where);
    return 0;
}

/* {Module, Function, State} with atoms, from text, into
 * {fun Module:Function/3, State}, as inet_tls_dist's verify_fun/1. */
int tc_verify_fun_arg(ei_x_buff *x, const char *value)
{
    ei_x_buff t;
    if (ei_x_new(&t) < 0)
        return -1;
    int r = tc_encode_term_text(&t, value);
    int idx = 0, arity;
    erlang_fun fun = {.type = EI_FUN_EXPORT, .arity = 3};
    char function[MAXATOMLEN_UTF8];
    if (r == 0 &&
        (ei_decode_tuple_header(t.buff, &idx, &arity) < 0 || arity != 3 ||
         ei_decode_atom_as(t.buff, &idx, fun.module, sizeof fun.module,
                           ERLANG_UTF8, NULL, NULL) < 0 ||
         ei_decode_atom_as(t.buff, &idx, function, sizeof function, ERLANG_UTF8,
                           NULL, NULL) < 0))
        r = -2;
    fun.u.exprt.func = function;
    if (r == 0 &&
        (ei_x_encode_tuple_header(x, 2) < 0 || ei_x_encode_fun(x, &fun) < 0 ||
         ei_x_append_buf(x, t.buff + idx, t.index - idx) < 0))
        r = -1;
    ei_x_free(&t);
    return r;
}
