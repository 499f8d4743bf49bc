/* tls_crlfetch.c - CRLs fetched over HTTP by a worker thread (libcurl's
 * multi interface: every URL under way in one thread, each with the
 * timeout of crl_cache {http, Timeout}).
 *
 * The worker sleeps in curl_multi_poll(); a new request or the end of the
 * fetcher wakes it with curl_multi_wakeup().  Requests are shared between
 * the worker and the sessions waiting on them, counted, under one lock.
 */
#include "config.h"

#include "tls/tls_crlfetch.h"

#include "base/list.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ENODE_HAVE_LIBCURL
#include <curl/curl.h>

/* As OTP 29: a larger answer is not taken for a CRL. */
#define CRL_BODY_MAX (10u << 20)

struct en_crl_req {
    en_crl_req_t *next; /* in the fetcher's queued or active list */
    int refs;
    int done;
    char *url;
    unsigned char *body; /* the answer as it comes; kept if 200 */
    size_t len, cap;
    int too_large;
    char why[CURL_ERROR_SIZE + 64];
    char errbuf[CURL_ERROR_SIZE];
    CURL *easy; /* the worker's while under way */
};

struct en_crl_fetcher {
    long timeout_ms;
    CURLM *multi;
    pthread_t thread;
    int thread_on;
    int stopping;
    en_crl_req_t *queued; /* asked for, not yet given to curl */
    en_crl_req_t *active; /* under way */
    en_crl_wake_fn *wake;
    void *wake_arg;
};

/* Every request's refs, done and list links, of every fetcher. */
static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_init(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

int en_crl_fetch_available(void)
{
    pthread_once(&curl_once, curl_init);
    return curl_ok;
}

static void req_free(en_crl_req_t *r)
{
    free(r->url);
    free(r->body);
    free(r);
}

void en_crl_req_release(en_crl_req_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&req_lock);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&req_lock);
    if (last)
        req_free(r);
}

int en_crl_req_done(en_crl_req_t *r)
{
    pthread_mutex_lock(&req_lock);
    int done = r->done;
    pthread_mutex_unlock(&req_lock);
    return done;
}

const unsigned char *en_crl_req_body(en_crl_req_t *r, size_t *len,
                                     const char **why)
{
    pthread_mutex_lock(&req_lock);
    int ok = r->done && r->body && !r->why[0];
    pthread_mutex_unlock(&req_lock);
    *len = ok ? r->len : 0;
    *why = ok ? NULL : r->why[0] ? r->why : "not fetched";
    return ok ? r->body : NULL;
}

/* ---- the worker ------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    en_crl_req_t *r = arg;
    size_t len = size * n;
    if (r->len + len > CRL_BODY_MAX) {
        r->too_large = 1;
        return 0;
    }
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + len)
            cap *= 2;
        unsigned char *b = realloc(r->body, cap);
        if (!b)
            return 0;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, len);
    r->len += len;
    return len;
}

static int start_transfer(en_crl_fetcher_t *f, en_crl_req_t *r)
{
    static char close_text[] = "Connection: close"; /* as OTP asks */
    static struct curl_slist close_header = {close_text, NULL};
    CURL *e = curl_easy_init();
    if (!e)
        return -1;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* as OTP 29 */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, f->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, &close_header);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "enode");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return -1;
    }
    r->easy = e;
    return 0;
}

/* Why the transfer failed, into r->why; "" if it brought a CRL body. */
static void describe(en_crl_fetcher_t *f, en_crl_req_t *r, CURLcode rc)
{
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
            snprintf(r->why, sizeof r->why, "HTTP status %ld", status);
        else if (r->len == 0)
            snprintf(r->why, sizeof r->why, "an empty answer");
    } else if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(r->why, sizeof r->why, "timed out after %ld ms",
                 f->timeout_ms);
    else if (r->too_large)
        snprintf(r->why, sizeof r->why, "the answer is larger than 10 MiB");
    else
        snprintf(r->why, sizeof r->why, "%s",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
}

/* The request is over: done, out of the active list, the worker's
 * reference dropped. */
static void finish(en_crl_fetcher_t *f, en_crl_req_t *r, const char *why)
{
    if (r->easy) {
        curl_multi_remove_handle(f->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    pthread_mutex_lock(&req_lock);
    if (why)
        snprintf(r->why, sizeof r->why, "%s", why);
    r->done = 1;
    en_crl_req_t *gone;
    EN_LIST_UNLINK(&f->active, gone, gone == r);
    pthread_mutex_unlock(&req_lock);
    en_crl_req_release(r);
}

/* Give curl what was asked for since the last turn. */
static void take_queued(en_crl_fetcher_t *f)
{
    pthread_mutex_lock(&req_lock);
    while (f->queued) {
        en_crl_req_t *r = f->queued;
        f->queued = r->next;
        r->next = f->active;
        f->active = r;
        pthread_mutex_unlock(&req_lock);
        if (start_transfer(f, r) < 0)
            finish(f, r, "cannot start the transfer (out of memory)");
        pthread_mutex_lock(&req_lock);
    }
    pthread_mutex_unlock(&req_lock);
}

/* The transfers that ended; how many. */
static int reap(en_crl_fetcher_t *f)
{
    CURLMsg *m;
    int left, n = 0;
    while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        en_crl_req_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        describe(f, r, m->data.result);
        finish(f, r, NULL);
        n++;
    }
    return n;
}

static int stopping(en_crl_fetcher_t *f)
{
    pthread_mutex_lock(&req_lock);
    int s = f->stopping;
    pthread_mutex_unlock(&req_lock);
    return s;
}

static void *worker(void *arg)
{
    en_crl_fetcher_t *f = arg;
    while (!stopping(f)) {
        int running;
        take_queued(f);
        curl_multi_perform(f->multi, &running);
        if (reap(f) > 0 && f->wake)
            f->wake(f->wake_arg);
        curl_multi_poll(f->multi, NULL, 0, 1000, NULL);
    }
    return NULL;
}

/* ---- the fetcher --------------------------------------------------------- */

en_crl_fetcher_t *en_crl_fetcher_new(long timeout_ms)
{
    if (!en_crl_fetch_available())
        return NULL;
    en_crl_fetcher_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    if (!(f->multi = curl_multi_init())) {
        free(f);
        return NULL;
    }
    return f;
}

void en_crl_fetcher_set_wake(en_crl_fetcher_t *f, en_crl_wake_fn *fn,
                             void *arg)
{
    f->wake = fn;
    f->wake_arg = arg;
}

en_crl_req_t *en_crl_fetch(en_crl_fetcher_t *f, const char *url, char *err,
                           size_t errlen)
{
    en_crl_req_t *r;
    pthread_mutex_lock(&req_lock);
    for (int l = 0; l < 2; l++)
        for (r = l ? f->active : f->queued; r; r = r->next)
            if (!r->done && strcmp(r->url, url) == 0) {
                r->refs++;
                pthread_mutex_unlock(&req_lock);
                return r;
            }
    pthread_mutex_unlock(&req_lock);
    r = calloc(1, sizeof *r);
    if (!r || !(r->url = strdup(url))) {
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->refs = 2; /* the caller's and the worker's */
    if (!f->thread_on) {
        if (pthread_create(&f->thread, NULL, worker, f) != 0) {
            req_free(r);
            snprintf(err, errlen, "cannot start the CRL fetching thread");
            return NULL;
        }
        f->thread_on = 1;
    }
    pthread_mutex_lock(&req_lock);
    r->next = f->queued;
    f->queued = r;
    pthread_mutex_unlock(&req_lock);
    curl_multi_wakeup(f->multi);
    return r;
}

void en_crl_fetcher_free(en_crl_fetcher_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&req_lock);
    f->stopping = 1;
    pthread_mutex_unlock(&req_lock);
    if (f->thread_on) {
        curl_multi_wakeup(f->multi);
        pthread_join(f->thread, NULL);
    }
    pthread_mutex_lock(&req_lock);
    while (f->queued) {
        en_crl_req_t *r = f->queued;
        f->queued = r->next;
        r->next = f->active;
        f->active = r;
    }
    pthread_mutex_unlock(&req_lock);
    while (f->active)
        finish(f, f->active, "abandoned: the node is closing");
    curl_multi_cleanup(f->multi);
    free(f);
}

#else /* without libcurl: no fetcher can be made */

int en_crl_fetch_available(void)
{
    return 0;
}

en_crl_fetcher_t *en_crl_fetcher_new(long timeout_ms)
{
    (void)timeout_ms;
    return NULL;
}

void en_crl_fetcher_free(en_crl_fetcher_t *f)
{
    (void)f;
}

void en_crl_fetcher_set_wake(en_crl_fetcher_t *f, en_crl_wake_fn *fn,
                             void *arg)
{
    (void)f, (void)fn, (void)arg;
}

en_crl_req_t *en_crl_fetch(en_crl_fetcher_t *f, const char *url, char *err,
                           size_t errlen)
{
    (void)f, (void)url;
    snprintf(err, errlen, "enode was built without libcurl");
    return NULL;
}

int en_crl_req_done(en_crl_req_t *r)
{
    (void)r;
    return 1;
}

const unsigned char *en_crl_req_body(en_crl_req_t *r, size_t *len,
                                     const char **why)
{
    (void)r;
    *len = 0;
    *why = "enode was built without libcurl";
    return NULL;
}

void en_crl_req_release(en_crl_req_t *r)
{
    (void)r;
}

#endif
