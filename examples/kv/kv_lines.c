/* kv_lines.c - the line protocol of the key-value service (see
 * kv_service.h): one command a line, one reply line each. */
#include <stdio.h>
#include <string.h>

#include "kv_service.h"
#include "kv_store.h"

struct words {
    const char *cmd, *key, *rest; /* rest: after the key's space */
    size_t cmd_len, key_len, rest_len;
    int has_key, has_rest;
};

/* "CMD key rest of line": the rest keeps its spaces. */
static void split(const char *line, size_t len, struct words *w)
{
    const char *end = line + len, *p = memchr(line, ' ', len);
    memset(w, 0, sizeof *w);
    w->cmd = line;
    w->cmd_len = p ? (size_t)(p - line) : len;
    if (!p)
        return;
    w->key = p + 1;
    p = memchr(w->key, ' ', (size_t)(end - w->key));
    w->key_len = p ? (size_t)(p - w->key) : (size_t)(end - w->key);
    w->has_key = w->key_len > 0;
    if (!p)
        return;
    w->rest = p + 1;
    w->rest_len = (size_t)(end - w->rest);
    w->has_rest = 1;
}

static int is(const struct words *w, const char *cmd)
{
    return w->cmd_len == strlen(cmd) && memcmp(w->cmd, cmd, w->cmd_len) == 0;
}

static void reply(kv_buf_t *out, const char *text)
{
    kv_buf_append(out, text, strlen(text));
}

static int append_key(void *user, const char *key, size_t key_len)
{
    kv_buf_append(user, " ", 1);
    kv_buf_append(user, key, key_len);
    return 0;
}

/* One command: its reply into out. 1 for QUIT, else 0. */
static int run(kv_service_t *svc, const char *line, size_t len, kv_buf_t *out)
{
    struct words w;
    const char *value;
    size_t value_len;

    split(line, len, &w);
    if (is(&w, "SET") && w.has_key && w.has_rest) {
        reply(out, kv_service_put(svc, w.key, w.key_len, w.rest, w.rest_len) < 0
                       ? "ERROR out of memory\n" : "OK\n");
    } else if (is(&w, "GET") && w.has_key && !w.has_rest) {
        value = kv_service_get(svc, w.key, w.key_len, &value_len);
        if (value) {
            reply(out, "VALUE ");
            kv_buf_append(out, value, value_len);
            reply(out, "\n");
        } else {
            reply(out, "NOT_FOUND\n");
        }
    } else if (is(&w, "DEL") && w.has_key && !w.has_rest) {
        reply(out, kv_service_delete(svc, w.key, w.key_len) ? "DELETED\n"
                                                            : "NOT_FOUND\n");
    } else if (is(&w, "KEYS") && !w.key) {
        reply(out, "KEYS");
        kv_store_each(kv_service_store(svc), append_key, out);
        reply(out, "\n");
    } else if (is(&w, "QUIT") && !w.key) {
        reply(out, "BYE\n");
        return 1;
    } else if (is(&w, "SET") || is(&w, "GET") || is(&w, "DEL")) {
        reply(out, "ERROR usage: SET key value | GET key | DEL key\n");
    } else {
        reply(out, "ERROR unknown command\n");
    }
    return 0;
}

int kv_service_feed(kv_service_t *svc, kv_buf_t *in, kv_buf_t *out)
{
    char *nl;
    int done = 0;

    while (!done && in->len && (nl = memchr(in->data, '\n', in->len))) {
        size_t len = (size_t)(nl - in->data);
        if (len > 0 && in->data[len - 1] == '\r')
            len--;
        done = run(svc, in->data, len, out);
        kv_buf_consume(in, (size_t)(nl - in->data) + 1);
    }
    if (!done && in->len > KV_MAX_LINE) {
        reply(out, "ERROR line too long\n");
        done = 1;
    }
    return done;
}
