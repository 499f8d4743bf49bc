/* tls_crlfetch.h - CRLs fetched over HTTP from distribution points, by a
 * worker thread, so that a slow CRL server holds up only the handshakes
 * that wait for it (doc/internals.md, "CRLs over HTTP").
 *
 * A fetcher belongs to one TLS context.  en_crl_fetch() asks for a URL
 * and returns at once with a request; the worker fetches it (libcurl,
 * several at a time), then calls the wake function, from its own thread,
 * so that the node's loop looks at the requests again.  The requests of
 * one URL under way are shared.  Nothing here touches wolfSSL: what the
 * body is worth is the caller's to decide.
 */
#ifndef ENODE_TLS_CRLFETCH_H
#define ENODE_TLS_CRLFETCH_H

#include <stddef.h>

typedef struct en_crl_fetcher en_crl_fetcher_t;
typedef struct en_crl_req en_crl_req_t;
typedef void en_crl_wake_fn(void *arg);

/* Whether this build can fetch CRLs (it was built with libcurl). */
int en_crl_fetch_available(void);

/* A fetcher whose requests give up after timeout_ms; NULL when out of
 * memory or built without libcurl.  Its thread starts at the first
 * request. */
en_crl_fetcher_t *en_crl_fetcher_new(long timeout_ms);

/* Stop the worker (a transfer under way is abandoned at once), join it
 * and free the fetcher.  Requests still referenced stay valid until
 * released; they read as failed ("abandoned"). NULL is allowed. */
void en_crl_fetcher_free(en_crl_fetcher_t *f);

/* Who to wake when a request completes (any thread may call fn). */
void en_crl_fetcher_set_wake(en_crl_fetcher_t *f, en_crl_wake_fn *fn,
                             void *arg);

/* A reference to the request for url (http:// only): a new one, or the
 * one under way.  NULL with a sentence in err if it cannot be made. */
en_crl_req_t *en_crl_fetch(en_crl_fetcher_t *f, const char *url, char *err,
                           size_t errlen);

/* Whether the request is over (fetched or failed). */
int en_crl_req_done(en_crl_req_t *r);

/* Once done: the body of a 200 answer (*len its length), or NULL with
 * why it failed in *why ("timed out after 1000 ms", "HTTP status 404",
 * "cannot connect: ..."). */
const unsigned char *en_crl_req_body(en_crl_req_t *r, size_t *len,
                                     const char **why);

/* Drop a reference; NULL is allowed. */
void en_crl_req_release(en_crl_req_t *r);

#endif
