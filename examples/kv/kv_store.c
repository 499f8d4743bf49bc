/* kv_store.c - a hash table of byte strings, chained, doubling as it
 * fills. */
#include "kv_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    size_t key_len, value_len;
    char *value;
    char key[]; /* key_len bytes */
};

struct kv_store {
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

/* FNV-1a: keys come from clients, but this is an example, not a server
 * facing hostile input; a keyed hash would go here otherwise. */
static size_t hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    return (size_t)h;
}

kv_store_t *kv_store_new(void)
{
    kv_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->nbuckets = 16;
    s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    return s;
}

void kv_store_free(kv_store_t *store)
{
    if (!store)
        return;
    for (size_t i = 0; i < store->nbuckets; i++) {
        struct entry *e = store->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e->value);
            free(e);
        }
    }
    free(store->buckets);
    free(store);
}

static struct entry **find(const kv_store_t *s, const char *key, size_t len)
{
    struct entry **p = &s->buckets[hash(key, len) & (s->nbuckets - 1)];
    for (; *p; p = &(*p)->next)
        if ((*p)->key_len == len && memcmp((*p)->key, key, len) == 0)
            return p;
    return p;
}

/* Double the table when it holds more than two keys a bucket. */
static void grow(kv_store_t *s)
{
    size_t n = s->nbuckets * 2;
    struct entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* chains get longer; nothing breaks */
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct entry *e = s->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            size_t j = hash(e->key, e->key_len) & (n - 1);
            e->next = b[j];
            b[j] = e;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

int kv_store_put(kv_store_t *store, const char *key, size_t key_len,
                 const char *value, size_t value_len)
{
    char *copy = malloc(value_len ? value_len : 1);
    if (!copy)
        return -1;
    if (value_len) /* memcpy's source may not be NULL, even for 0 bytes */
        memcpy(copy, value, value_len);
    struct entry **p = find(store, key, key_len);
    if (*p) {
        free((*p)->value);
        (*p)->value = copy;
        (*p)->value_len = value_len;
        return 0;
    }
    struct entry *e = malloc(sizeof *e + (key_len ? key_len : 1));
    if (!e) {
        free(copy);
        return -1;
    }
    if (key_len)
        memcpy(e->key, key, key_len);
    e->key_len = key_len;
    e->value = copy;
    e->value_len = value_len;
    e->next = NULL;
    *p = e;
    if (++store->count > 2 * store->nbuckets)
        grow(store);
    return 0;
}

const char *kv_store_get(const kv_store_t *store, const char *key,
                         size_t key_len, size_t *value_len)
{
    struct entry *e = *find(store, key, key_len);
    if (!e)
        return NULL;
    *value_len = e->value_len;
    return e->value;
}

int kv_store_delete(kv_store_t *store, const char *key, size_t key_len)
{
    struct entry **p = find(store, key, key_len), *e = *p;
    if (!e)
        return 0;
    *p = e->next;
    free(e->value);
    free(e);
    store->count--;
    return 1;
}

size_t kv_store_count(const kv_store_t *store)
{
    return store->count;
}

void kv_store_each(const kv_store_t *store, kv_store_each_fn fn, void *user)
{
    for (size_t i = 0; i < store->nbuckets; i++)
        for (struct entry *e = store->buckets[i]; e; e = e->next)
            if (fn(user, e->key, e->key_len))
                return;
}
