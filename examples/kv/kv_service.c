/* kv_service.c - the store as Erlang sees it: the `kv` rpc functions,
 * subscribers and their change notices. */
#include "kv_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_store.h"

struct subscriber {
    erlang_pid pid;
    erlang_ref monitor; /* its DOWN tells us it went */
};

struct kv_service {
    enode_t *node;
    enode_mbox_t *mbox; /* sends the notices, gets the DOWN messages */
    kv_store_t *store;
    struct subscriber *subs;
    size_t nsubs, subs_cap;
    unsigned long notices_dropped; /* sends that failed, e.g. ENODE_EBUSY */
};

/* ---- buffers ------------------------------------------------------------- */

int kv_buf_append(kv_buf_t *b, const void *bytes, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
    return 0;
}

void kv_buf_consume(kv_buf_t *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void kv_buf_free(kv_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- subscribers ----------------------------------------------------------- */

static int same_pid(const erlang_pid *a, const erlang_pid *b)
{
    return a->num == b->num && a->serial == b->serial &&
           a->creation == b->creation && strcmp(a->node, b->node) == 0;
}

static struct subscriber *find_sub(kv_service_t *svc, const erlang_pid *pid)
{
    for (size_t i = 0; i < svc->nsubs; i++)
        if (same_pid(&svc->subs[i].pid, pid))
            return &svc->subs[i];
    return NULL;
}

static int subscribe(kv_service_t *svc, const erlang_pid *pid)
{
    if (find_sub(svc, pid))
        return 0;
    if (svc->nsubs == svc->subs_cap) {
        size_t cap = svc->subs_cap ? 2 * svc->subs_cap : 4;
        struct subscriber *s = realloc(svc->subs, cap * sizeof *s);
        if (!s)
            return -1;
        svc->subs = s;
        svc->subs_cap = cap;
    }
    struct subscriber *s = &svc->subs[svc->nsubs];
    s->pid = *pid;
    if (enode_monitor(svc->mbox, pid, &s->monitor) < 0)
        return -1;
    svc->nsubs++;
    return 0;
}

static void drop_sub(kv_service_t *svc, struct subscriber *s)
{
    *s = svc->subs[--svc->nsubs];
}

/* {kv_changed, Key, Value} to every subscriber; value NULL: deleted. */
static void notify(kv_service_t *svc, const char *key, size_t key_len,
                   const char *value, size_t value_len)
{
    ei_x_buff m;
    if (svc->nsubs == 0 || ei_x_new_with_version(&m) < 0)
        return;
    ei_x_encode_tuple_header(&m, 3);
    ei_x_encode_atom(&m, "kv_changed");
    ei_x_encode_binary(&m, key, (long)key_len);
    if (value)
        ei_x_encode_binary(&m, value, (long)value_len);
    else
        ei_x_encode_atom(&m, "deleted");
    /* The example runs the node in its own loop (event-loop mode): a
     * subscriber whose connection has stopped reading makes the send
     * return ENODE_EBUSY rather than wait. A notice is news, not state, so
     * it is dropped and counted; the first drop is said on stderr. */
    for (size_t i = 0; i < svc->nsubs; i++) {
        int rc = enode_send(svc->mbox, &svc->subs[i].pid, &m);
        if (rc < 0 && svc->notices_dropped++ == 0)
            fprintf(stderr, "kv: a change notice was dropped (%s); "
                            "later drops are only counted\n",
                    enode_strerror(rc));
    }
    ei_x_free(&m);
}

void kv_service_drain(kv_service_t *svc)
{
    enode_msg_t m;

    while (enode_receive(svc->mbox, &m, 0) == 0) {
        /* {'DOWN', Ref, process, Pid, Reason}: only monitors send here */
        const char *buf = m.msg.buff;
        int i = 0, version, arity;
        char tag[MAXATOMLEN_UTF8];
        erlang_ref ref;
        erlang_pid pid;
        if (ei_decode_version(buf, &i, &version) == 0 &&
            ei_decode_tuple_header(buf, &i, &arity) == 0 && arity == 5 &&
            ei_decode_atom(buf, &i, tag) == 0 && strcmp(tag, "DOWN") == 0 &&
            ei_decode_ref(buf, &i, &ref) == 0 &&
            ei_decode_atom(buf, &i, tag) == 0 &&
            ei_decode_pid(buf, &i, &pid) == 0) {
            struct subscriber *s = find_sub(svc, &pid);
            if (s)
                drop_sub(svc, s);
        }
        enode_msg_free(&m);
    }
}

/* ---- the store's operations ----------------------------------------------- */

int kv_service_put(kv_service_t *svc, const char *key, size_t key_len,
                   const char *value, size_t value_len)
{
    if (kv_store_put(svc->store, key, key_len, value, value_len) < 0)
        return -1;
    notify(svc, key, key_len, value, value_len);
    return 0;
}

const char *kv_service_get(kv_service_t *svc, const char *key, size_t key_len,
                           size_t *value_len)
{
    return kv_store_get(svc->store, key, key_len, value_len);
}

int kv_service_delete(kv_service_t *svc, const char *key, size_t key_len)
{
    if (!kv_store_delete(svc->store, key, key_len))
        return 0;
    notify(svc, key, key_len, NULL, 0);
    return 1;
}

struct kv_store *kv_service_store(kv_service_t *svc)
{
    return svc->store;
}

/* ---- the `kv` functions for Erlang ------------------------------------------ */

/* A binary argument, copied to *out (malloc'd; the caller frees it). The
 * line protocol must be able to carry it: `forbidden` lists the bytes it
 * may not hold. 0; or -1, with *out NULL. */
static int arg_binary(const char *args, int *index, const char *forbidden,
                      char **out, size_t *len)
{
    int type, size;
    long n;
    *out = NULL;
    if (ei_get_type(args, index, &type, &size) < 0 || type != ERL_BINARY_EXT)
        return -1;
    char *bytes = malloc(size ? (size_t)size : 1);
    if (!bytes || ei_decode_binary(args, index, bytes, &n) < 0) {
        free(bytes);
        return -1;
    }
    for (long i = 0; i < n; i++)
        if (bytes[i] != '\0' && strchr(forbidden, bytes[i])) {
            free(bytes);
            return -1;
        }
    *out = bytes;
    *len = (size_t)n;
    return 0;
}

#define KEY_FORBIDDEN " \t\r\n"
#define VALUE_FORBIDDEN "\r\n"

static int badarg(ei_x_buff *result)
{
    ei_x_encode_atom(result, "badarg");
    return 1;
}

static int rpc_put(void *user, const char *args, int index, int arity,
                   ei_x_buff *result)
{
    char *key = NULL, *value = NULL;
    size_t key_len, value_len;
    if (arity != 2 ||
        arg_binary(args, &index, KEY_FORBIDDEN, &key, &key_len) < 0 ||
        key_len == 0 ||
        arg_binary(args, &index, VALUE_FORBIDDEN, &value, &value_len) < 0) {
        free(key);
        return badarg(result);
    }
    int rc = kv_service_put(user, key, key_len, value, value_len);
    free(key);
    free(value);
    if (rc < 0) {
        ei_x_encode_atom(result, "enomem");
        return 1;
    }
    ei_x_encode_atom(result, "ok");
    return 0;
}

static int rpc_get(void *user, const char *args, int index, int arity,
                   ei_x_buff *result)
{
    char *key;
    size_t key_len, value_len;
    if (arity != 1 || arg_binary(args, &index, KEY_FORBIDDEN, &key, &key_len) < 0)
        return badarg(result);
    const char *value = kv_service_get(user, key, key_len, &value_len);
    free(key);
    if (!value) {
        ei_x_encode_atom(result, "not_found");
        return 0;
    }
    ei_x_encode_tuple_header(result, 2);
    ei_x_encode_atom(result, "ok");
    ei_x_encode_binary(result, value, (long)value_len);
    return 0;
}

static int rpc_delete(void *user, const char *args, int index, int arity,
                      ei_x_buff *result)
{
    char *key;
    size_t key_len;
    if (arity != 1 || arg_binary(args, &index, KEY_FORBIDDEN, &key, &key_len) < 0)
        return badarg(result);
    int found = kv_service_delete(user, key, key_len);
    free(key);
    ei_x_encode_atom(result, found ? "ok" : "not_found");
    return 0;
}

static int encode_key(void *user, const char *key, size_t key_len)
{
    ei_x_encode_list_header(user, 1);
    ei_x_encode_binary(user, key, (long)key_len);
    return 0;
}

static int rpc_keys(void *user, const char *args, int index, int arity,
                    ei_x_buff *result)
{
    kv_service_t *svc = user;
    if (arity != 0)
        return badarg(result);
    kv_store_each(svc->store, encode_key, result);
    ei_x_encode_empty_list(result);
    return 0;
}

/* subscribe and unsubscribe: their one argument is a pid. */
static int rpc_subscription(kv_service_t *svc, const char *args, int index,
                            int arity, ei_x_buff *result, int on)
{
    erlang_pid pid;
    if (arity != 1 || ei_decode_pid(args, &index, &pid) < 0)
        return badarg(result);
    struct subscriber *s = find_sub(svc, &pid);
    if (on && subscribe(svc, &pid) < 0) {
        ei_x_encode_atom(result, "enomem");
        return 1;
    }
    if (!on && s) {
        enode_demonitor(svc->mbox, &s->monitor);
        drop_sub(svc, s);
    }
    ei_x_encode_atom(result, "ok");
    return 0;
}

static int rpc_subscribe(void *user, const char *args, int index, int arity,
                         ei_x_buff *result)
{
    return rpc_subscription(user, args, index, arity, result, 1);
}

static int rpc_unsubscribe(void *user, const char *args, int index, int arity,
                           ei_x_buff *result)
{
    return rpc_subscription(user, args, index, arity, result, 0);
}

/* ---- life ---------------------------------------------------------------------- */

int kv_service_new(kv_service_t **out, enode_t *node)
{
    static const struct {
        const char *name;
        enode_rpc_fn fn;
    } fns[] = {{"put", rpc_put}, {"get", rpc_get}, {"delete", rpc_delete},
               {"keys", rpc_keys}, {"subscribe", rpc_subscribe},
               {"unsubscribe", rpc_unsubscribe}};
    kv_service_t *svc = calloc(1, sizeof *svc);
    int rc = ENODE_ENOMEM;

    if (!svc || !(svc->store = kv_store_new()))
        goto fail;
    svc->node = node;
    if ((rc = enode_mbox_new(node, &svc->mbox)) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if ((rc = enode_rpc_register(node, "kv", fns[i].name, fns[i].fn, svc)) < 0)
            goto fail;
    *out = svc;
    return 0;
fail:
    kv_service_free(svc);
    return rc;
}

void kv_service_free(kv_service_t *svc)
{
    if (!svc)
        return;
    if (svc->mbox)
        enode_mbox_free(svc->mbox);
    kv_store_free(svc->store);
    free(svc->subs);
    free(svc);
}
