/* kv_service.h - the key-value service of the epoll and libuv examples:
 * the store, its line protocol for TCP clients, its functions for Erlang
 * (rpc module `kv`), and change notices to Erlang subscribers. The event
 * loop around it is the example's own; this part does no I/O but the
 * node's sends.
 *
 * Line protocol (one command a line, "\n" or "\r\n"; one reply line each):
 *   SET key value   -> OK              (value: the rest of the line)
 *   GET key         -> VALUE value  or  NOT_FOUND
 *   DEL key         -> DELETED      or  NOT_FOUND
 *   KEYS            -> KEYS key1 key2 ...
 *   QUIT            -> BYE, and the server closes the connection
 *   anything else   -> ERROR reason
 *
 * From Erlang (keys and values are binaries; a key holds no space, tab or
 * line break and a value no line break, so that the line protocol can
 * carry them; anything else fails with badarg):
 *   rpc:call(N, kv, put, [K, V])       -> ok
 *   rpc:call(N, kv, get, [K])          -> {ok, V} | not_found
 *   rpc:call(N, kv, delete, [K])       -> ok | not_found
 *   rpc:call(N, kv, keys, [])          -> [K]
 *   rpc:call(N, kv, subscribe, [Pid])  -> ok: Pid then gets
 *       {kv_changed, K, V} for every SET or put, and
 *       {kv_changed, K, deleted} for every DEL or delete, from either side,
 *     until kv:unsubscribe(Pid) or Pid's end (the service monitors it).
 */
#ifndef ENODE_EXAMPLES_KV_SERVICE_H
#define ENODE_EXAMPLES_KV_SERVICE_H

#include <stddef.h>

#include <enode.h>

/* Longest line a client may send; a longer one closes the connection. */
#define KV_MAX_LINE 65536

/* A growing byte buffer: a client's input or output. */
typedef struct kv_buf {
    char *data;
    size_t len, cap;
} kv_buf_t;

/* Append n bytes. 0, or -1 when out of memory. */
int kv_buf_append(kv_buf_t *b, const void *bytes, size_t n);
/* Drop the first n bytes. */
void kv_buf_consume(kv_buf_t *b, size_t n);
void kv_buf_free(kv_buf_t *b);

typedef struct kv_service kv_service_t;

/* A service on node: registers the `kv` functions for rpc and a mailbox
 * for its notices. 0, or a negative enode code. */
int kv_service_new(kv_service_t **svc, enode_t *node);
void kv_service_free(kv_service_t *svc);

/* Run every whole line of `in` (and drop them from it), appending the
 * replies to `out`. 1 when the client is done (QUIT, or a line longer
 * than KV_MAX_LINE): send what is in out, then close; else 0. */
int kv_service_feed(kv_service_t *svc, kv_buf_t *in, kv_buf_t *out);

/* Handle what reached the service's mailbox (subscribers that went),
 * without waiting. Call it after each enode_process(): it must not run
 * inside one. */
void kv_service_drain(kv_service_t *svc);

/* The store's operations, with notices to subscribers. */
int kv_service_put(kv_service_t *svc, const char *key, size_t key_len,
                   const char *value, size_t value_len);
const char *kv_service_get(kv_service_t *svc, const char *key, size_t key_len,
                           size_t *value_len);
int kv_service_delete(kv_service_t *svc, const char *key, size_t key_len);
struct kv_store *kv_service_store(kv_service_t *svc);

#endif
