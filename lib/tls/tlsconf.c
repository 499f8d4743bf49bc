/* tlsconf.c - TLS options from -ssl_dist_optfile / -ssl_dist_opt, and the
 * wolfSSL context they describe: the configuration, and applying one
 * option to it.
 *
 * Both sources end in the same place: an option is a name and a value in
 * the external term format.  The optfile gives terms directly (through
 * termtext.c); en_tls_conf_set_opt() first turns its string into the term
 * that OTP's inet_tls_dist makes of it (tlsconf_args.c).  One table then
 * says what each option means (tlsconf_opts.c).  tlsconf_int.h lists the
 * module's other files.
 */
#include "tls/tlsconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errmsg.h"
#include "tls/tlsconf_int.h"

static void side_init(en_tls_side_t *side)
{
    memset(side, 0, sizeof *side);
    side->verify = EN_VERIFY_DEFAULT;
    side->fail_if_no_peer_cert = -1;
    side->depth = -1;
}

void tc_side_free(en_tls_side_t *side)
{
    tc_states_free(side->ctx_states);
    free(side->certfile);
    free(side->keyfile);
    free(side->cacertfile);
    free(side->password);
    free(side->dhfile);
    free(side->ciphers);
    free(side->sni_host);
    free(side->crl_dir);
    for (int i = 0; i < side->n_crl_allowed; i++)
        free(side->crl_allowed[i]);
    free(side->crl_allowed);
    free(side->verify_module);
    free(side->verify_function);
    free(side->verify_state);
    side_init(side);
}

void en_tls_conf_init(en_tls_conf_t *conf)
{
    memset(conf, 0, sizeof *conf);
    side_init(&conf->server);
    side_init(&conf->client);
}

void en_tls_conf_free(en_tls_conf_t *conf)
{
    en_tls_warn_fn *warn = conf->warn;
    void *warn_arg = conf->warn_arg;
    tc_side_free(&conf->server);
    tc_side_free(&conf->client);
    en_tls_conf_init(conf);
    conf->warn = warn;
    conf->warn_arg = warn_arg;
}

void tc_warn(const en_tls_conf_t *conf, const char *fmt, ...)
{
    if (!conf->warn)
        return;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    conf->warn(conf->warn_arg, message);
}

int tc_unknown_option(const char *where, char *err, size_t errlen)
{
    char names[1024] = "";
    size_t len = 0;
    en_tls_effect_t effect;
    const char *name;
    for (size_t i = 0; (name = en_tls_option_at(i, &effect)) != NULL; i++)
        if (effect == EN_TLS_HONOURED && len < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
                                    len ? ", " : "", name);
    return en_errf(err, errlen, "%s: unknown option (enode reads %s)", where,
                   names);
}

int tc_apply_option(en_tls_conf_t *conf, en_tls_side_t *side,
                    const char *side_name, const char *where, const char *name,
                    const char *buf, int index, char *err, size_t errlen)
{
    const option_t *o = tc_find_option(name);
    if (!o)
        return tc_unknown_option(where, err, errlen);
    int is_server = strcmp(side_name, "server") == 0;
    if ((o->sides == SERVER_ONLY && !is_server) ||
        (o->sides == CLIENT_ONLY && is_server))
        return en_errf(err, errlen,
                       "%s: %s is a %s option; OTP refuses it for "
                       "the %s side",
                       where, name, is_server ? "client" : "server", side_name);
    opt_call_t call = {o, conf, side, where, buf, index, err, errlen};
    if (o->apply(&call) < 0)
        return -1;
    side->options_given++;
    conf->any_option_given = 1;
    return 0;
}

int en_tls_side_verifies(const en_tls_side_t *side)
{
    return side->verify == EN_VERIFY_PEER ||
           (side->verify == EN_VERIFY_DEFAULT && side->cacertfile);
}
