/* kv_store.h - the key-value store the epoll and libuv examples serve:
 * byte-string keys and values in a hash table, and nothing else (no I/O,
 * no node). */
#ifndef ENODE_EXAMPLES_KV_STORE_H
#define ENODE_EXAMPLES_KV_STORE_H

#include <stddef.h>

typedef struct kv_store kv_store_t;

/* A new empty store, or NULL when out of memory. */
kv_store_t *kv_store_new(void);
void kv_store_free(kv_store_t *store);

/* Set key to value (copied). 0, or -1 when out of memory. */
int kv_store_put(kv_store_t *store, const char *key, size_t key_len,
                 const char *value, size_t value_len);

/* The value of key, valid until the next change of the store, with its
 * length in *value_len; NULL when the key is absent. */
const char *kv_store_get(const kv_store_t *store, const char *key,
                         size_t key_len, size_t *value_len);

/* Remove key: 1 if it was there, 0 if not. */
int kv_store_delete(kv_store_t *store, const char *key, size_t key_len);

/* How many keys there are. */
size_t kv_store_count(const kv_store_t *store);

/* Call fn for every key, in no particular order; stops early when fn
 * returns nonzero. fn must not change the store. */
typedef int (*kv_store_each_fn)(void *user, const char *key, size_t key_len);
void kv_store_each(const kv_store_t *store, kv_store_each_fn fn, void *user);

#endif
