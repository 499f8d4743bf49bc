/* tlsconf_state.c - what a wolfSSL context keeps once it is made (its
 * CRL directory, the groups it allows), found from the context through
 * ex_data, and the ex_data indexes of enode's per-session marks.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/errmsg.h"
#include "tls/tls_crlfetch.h"
#include "tls/tlsconf_int.h"

static pthread_once_t state_index_once = PTHREAD_ONCE_INIT;
static int state_index = -1;   /* a context's en_ctx_state */
static int verdict_index = -1; /* a session's CRL verdict (tlsconf_crl.c) */
static int fresh_index = -1;   /* a session saw its CRLs refreshed */
static int crlhttp_index = -1; /* a session's CRLs over HTTP */

/* Index 0 is wolfSSL's app data (wolfSSL_set_app_data()): leave it to
 * whoever wants it. */
static int new_ssl_index(void)
{
    int i;
    do
        i = wolfSSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    while (i == 0);
    return i;
}

static void make_state_index(void)
{
    do
        state_index = wolfSSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    while (state_index == 0);
    verdict_index = new_ssl_index();
    fresh_index = new_ssl_index();
    crlhttp_index = new_ssl_index();
}

struct en_ctx_state *tc_state_of(WOLFSSL_CTX *ctx)
{
    pthread_once(&state_index_once, make_state_index);
    return ctx && state_index >= 0 ? wolfSSL_CTX_get_ex_data(ctx, state_index)
                                   : NULL;
}

void tc_drop_pending(struct en_ctx_state *d)
{
    for (size_t i = 0; i < d->n_pending; i++)
        free(d->pending[i].data);
    free(d->pending);
    d->pending = NULL;
    d->n_pending = 0;
}

int tc_attach_state(WOLFSSL_CTX *ctx, en_tls_side_t *side, char *err,
                    size_t errlen)
{
    struct en_ctx_state *d = calloc(1, sizeof *d);
    if (!d)
        return en_errf(err, errlen, "out of memory");
    d->ctx = ctx;
    d->next = side->ctx_states;
    side->ctx_states = d;
    pthread_once(&state_index_once, make_state_index);
    if (state_index < 0 ||
        wolfSSL_CTX_set_ex_data(ctx, state_index, d) != WOLFSSL_SUCCESS)
        return en_errf(err, errlen,
                       "cannot attach enode's state to the TLS "
                       "context");
    return 0;
}

void tc_states_free(struct en_ctx_state *d)
{
    while (d) {
        struct en_ctx_state *next = d->next;
        tc_drop_pending(d);
        en_crl_fetcher_free(d->fetcher);
        free(d->dir);
        free(d);
        d = next;
    }
}

int tc_verdict_index(void)
{
    return verdict_index;
}

int tc_fresh_index(void)
{
    return fresh_index;
}

int tc_crlhttp_index(void)
{
    return crlhttp_index;
}
