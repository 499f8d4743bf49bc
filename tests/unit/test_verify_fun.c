/* test_verify_fun.c - reading verify_fun as OTP writes it: the option
 * file's {fun Module:Function/3, State} and -ssl_dist_opt's
 * "{Module,Function,State}", and enode_config_add_verify_fun().  The C
 * functions running on a peer's chain are tested against OTP nodes in
 * tests/cluster/test_verify_fun.c.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "enode.h"
#include "node/config_int.h"
#include "tls/tlsconf.h"

/* term_to_binary({st, 1}) */
static const char st_1[] = {(char)131, 104, 2, 119, 2, 's', 't', 97, 1};

static void has_fun(const en_tls_side_t *side, const char *module,
                    const char *function)
{
    cr_assert_str_eq(side->verify_module, module);
    cr_assert_str_eq(side->verify_function, function);
    cr_assert_eq(side->verify_state_len, (int)sizeof st_1);
    cr_assert_arr_eq(side->verify_state, st_1, sizeof st_1);
}

static int parse(en_tls_conf_t *conf, const char *text, char *err,
                 size_t errlen)
{
    en_tls_conf_init(conf);
    return en_tls_conf_parse_optfile(conf, "opts", text, strlen(text), err,
                                     errlen);
}

Test(verify_fun, read_from_an_option_file)
{
    en_tls_conf_t conf;
    char err[512] = "";
    cr_assert_eq(parse(&conf,
                       "[{server, [{verify_fun, {fun my_mod:check/3, "
                       "{st, 1}}}]},\n"
                       " {client, [{verify_fun, {fun 'My.Mod':'c-2'/3, "
                       "{st, 1}}}]}].",
                       err, sizeof err),
                 0, "%s", err);
    has_fun(&conf.server, "my_mod", "check");
    has_fun(&conf.client, "My.Mod", "c-2");
    en_tls_conf_free(&conf);
    cr_assert_null(conf.server.verify_module);
}

Test(verify_fun, read_from_ssl_dist_opt_as_inet_tls_dist_does)
{
    en_tls_conf_t conf;
    char err[512] = "";
    en_tls_conf_init(&conf);
    cr_assert_eq(en_tls_conf_set_opt(&conf, "server_verify_fun",
                                     "{my_mod,check,{st,1}}", err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(en_tls_conf_set_opt(&conf, "client_verify_fun",
                                     "{my_mod, check, {st, 1}}.", err,
                                     sizeof err),
                 0, "%s", err);
    has_fun(&conf.server, "my_mod", "check");
    has_fun(&conf.client, "my_mod", "check");
    en_tls_conf_free(&conf);
}

Test(verify_fun, shapes_otp_refuses_are_errors)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"[{server, [{verify_fun, x}]}].", "{fun Module:Function/3, State}"},
        {"[{server, [{verify_fun, {fun m:f/3}}]}].", "{fun Module:Function/3"},
        {"[{server, [{verify_fun, {fun m:f/4, []}}]}].", "arity 3"},
        {"[{server, [{verify_fun, {m, f, []}}]}].", "{fun Module:Function/3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_tls_conf_t conf;
        char err[512] = "";
        cr_expect_eq(parse(&conf, cases[i].text, err, sizeof err), -1,
                     "%s accepted", cases[i].text);
        cr_expect(strstr(err, cases[i].needle) && strstr(err, "verify_fun"),
                  "%s: <%s>", cases[i].text, err);
        en_tls_conf_free(&conf);
    }
    static const char *const bad_args[] = {"{m,f}", "{\"m\",f,1}", "m:f/3",
                                           "{m,f,1", ""};
    for (size_t i = 0; i < sizeof bad_args / sizeof bad_args[0]; i++) {
        en_tls_conf_t conf;
        char err[512] = "";
        en_tls_conf_init(&conf);
        cr_expect_eq(en_tls_conf_set_opt(&conf, "server_verify_fun",
                                         bad_args[i], err, sizeof err),
                     -1, "<%s> accepted", bad_args[i]);
        cr_expect(strstr(err, "server_verify_fun"), "<%s>", err);
        en_tls_conf_free(&conf);
    }
}

static int never(void *user, const enode_cert_event_t *ev, char *why,
                 size_t whylen)
{
    (void)user, (void)ev, (void)why, (void)whylen;
    return 1;
}

Test(verify_fun, registering_c_functions)
{
    enode_config_t *cfg;
    cr_assert_eq(enode_config_new(&cfg), 0);
    cr_assert_eq(cfg->n_verify_funs, 0);
    cr_assert_eq(enode_config_add_verify_fun(cfg, "m", "f", never, NULL), 0);
    cr_assert_eq(enode_config_add_verify_fun(cfg, "m", "g", never, &cfg), 0);
    cr_assert_eq(enode_config_add_verify_fun(cfg, "m", "f", never, NULL),
                 ENODE_EINVAL, "registered twice");
    cr_assert_eq(enode_config_add_verify_fun(cfg, "inet_tls_dist",
                                             "verify_client", never, NULL),
                 ENODE_EINVAL, "the built-in's name");
    cr_assert_eq(enode_config_add_verify_fun(cfg, NULL, "f", never, NULL),
                 ENODE_EINVAL);
    cr_assert_eq(enode_config_add_verify_fun(cfg, "m", "h", NULL, NULL),
                 ENODE_EINVAL);
    cr_assert_eq(enode_config_add_verify_fun(NULL, "m", "h", never, NULL),
                 ENODE_EINVAL);
    /* as many as wanted, names copied */
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        cr_assert_eq(enode_config_add_verify_fun(cfg, "m", name, never, NULL),
                     0);
    }
    cr_assert_eq(cfg->n_verify_funs, 42);
    cr_assert_str_eq(cfg->verify_funs[41].function, "f39");
    cr_assert_eq(cfg->verify_funs[1].fn, never);
    cr_assert_eq(cfg->verify_funs[1].user, &cfg);
    cr_assert_str_eq(cfg->verify_funs[1].function, "g");
    enode_config_free(cfg);
}
