/* verifyfun.c - verify_fun options, run as OTP runs them but in C: the
 * option names an Erlang function (tls/tlsconf_verifyfun.c keeps the
 * name and State); at start-up the name is looked up among the C
 * functions the application registered (enode_config_add_verify_fun),
 * and after each handshake the function sees the peer's chain, its CAs
 * first and the peer's own certificate last, and may refuse the peer.
 *
 * inet_tls_dist:verify_client/3 is built in, for the server side as in
 * OTP: every certificate of a chain that verified passes, and the
 * client's own must name the client's IP address or a host of the node's
 * allow list (net_kernel:allow/1; allow.c), unless that list names no
 * host.
 */
#include "net/conn.h"

#include <stdio.h>
#include <string.h>

#include "net/sock.h"
#include "tls/tls_chain.h"

static int is_builtin(const en_tls_side_t *side)
{
    return strcmp(side->verify_module, "inet_tls_dist") == 0 &&
           strcmp(side->verify_function, "verify_client") == 0;
}

/* The registered function that side's verify_fun names, into *f. */
static int resolve_side(const en_net_settings_t *s, const en_tls_side_t *side,
                        const char *side_name, struct en_side_fun *f, char *err,
                        size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (!side->verify_module)
        return 0;
    if (is_builtin(side)) {
        if (strcmp(side_name, "server") != 0) {
            snprintf(err, errlen,
                     "%s option verify_fun: inet_tls_dist:verify_client/3 "
                     "checks clients: give it for the server side, as in OTP",
                     side_name);
            return ENODE_EINVAL;
        }
        f->builtin = 1;
        return 0;
    }
    for (int i = 0; i < s->n_verify_funs; i++) {
        const en_verify_fun_entry_t *e = &s->verify_funs[i];
        if (strcmp(e->module, side->verify_module) == 0 &&
            strcmp(e->function, side->verify_function) == 0) {
            f->fn = e->fn;
            f->user = e->user;
            return 0;
        }
    }
    snprintf(err, errlen,
             "%s option verify_fun: no C function is registered as "
             "%s:%s/3 (enode cannot run Erlang code: register one with "
             "enode_config_add_verify_fun)",
             side_name, side->verify_module, side->verify_function);
    return ENODE_EINVAL;
}

int en_verify_fun_resolve(en_net_t *net, const en_net_settings_t *s, char *err,
                          size_t errlen)
{
    int rc = resolve_side(s, &net->tlsconf.server, "server", &net->server_fun,
                          err, errlen);
    if (rc == 0)
        rc = resolve_side(s, &net->tlsconf.client, "client", &net->client_fun,
                          err, errlen);
    return rc;
}

/* One walk of the chain: what each call is shown; on a refusal, which
 * certificate and why (copied: the walk's certificate does not outlive
 * the call). */
typedef struct walk {
    en_conn_t *conn;
    const struct en_side_fun *f;
    enode_cert_event_t ev;
    int depth;
    char why[256], subject[256], sha256[65];
} walk_t;

static int show_cert(void *arg, const en_tls_chain_cert_t *cert)
{
    walk_t *w = arg;
    w->ev.depth = cert->depth;
    w->ev.der = cert->der;
    w->ev.der_len = cert->der_len;
    w->ev.sha256 = cert->sha256;
    w->ev.subject = cert->subject;
    w->ev.issuer = cert->issuer;
    if (w->f->builtin) {
        /* verify_client: CAs that verified are valid; the peer's own
         * certificate is checked against the allow list */
        if (cert->depth > 0 ||
            en_allow_verify_client(w->conn, cert->der, cert->der_len, w->why,
                                   sizeof w->why) == 0)
            return 0;
    } else if (w->f->fn(w->f->user, &w->ev, w->why, sizeof w->why) == 0) {
        return 0;
    }
    w->why[sizeof w->why - 1] = '\0';
    w->depth = cert->depth;
    snprintf(w->subject, sizeof w->subject, "%s", cert->subject);
    snprintf(w->sha256, sizeof w->sha256, "%s", cert->sha256);
    return 1;
}

int en_verify_fun_run(en_conn_t *c)
{
    en_net_t *net = c->net;
    const struct en_side_fun *f =
        c->initiator ? &net->client_fun : &net->server_fun;
    const en_tls_side_t *side =
        c->initiator ? &net->tlsconf.client : &net->tlsconf.server;
    const char *role = c->initiator ? "client" : "server";
    char addr[80];
    if (!f->fn && !f->builtin)
        return 0;
    walk_t w = {.conn = c,
                .f = f,
                .ev = {.we_are_server = !c->initiator,
                       .peer_addr = en_addr_str(&c->addr, addr, sizeof addr),
                       .state = side->verify_state,
                       .state_len = side->verify_state_len}};
    int r = en_tls_walk_chain(c->ssl, show_cert, &w);
    if (r == 0)
        return 0;
    if (r < 0)
        en_conn_fail(c, ENODE_ETLS,
                     "TLS %s: cannot read the peer's certificates for "
                     "verify_fun %s:%s/3",
                     role, side->verify_module, side->verify_function);
    else
        en_conn_fail(c, ENODE_ETLS,
                     "TLS %s: verify_fun %s:%s/3 refused the peer's %s "
                     "(subject %s, SHA-256 %s): %s",
                     role, side->verify_module, side->verify_function,
                     w.depth == 0 ? "certificate" : "CA certificate", w.subject,
                     w.sha256, w.why[0] ? w.why : "no reason given");
    return -1;
}
