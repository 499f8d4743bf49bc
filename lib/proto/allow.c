/* allow.c - the allow list and its match (allow.h), after dist_util's
 * split_node/1 and is_allowed/2.
 */
#include "proto/allow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/handshake.h"

/* What dist_util:split_node/1 makes of a name or an entry. */
enum kind { K_BAD, K_NODE, K_HOST, K_NAME };

typedef struct split {
    enum kind kind;
    const char *name, *host; /* name: up to the '@' (name_len bytes) */
    size_t name_len;
} split_t;

static split_t split(const char *s)
{
    split_t sp = {.kind = K_BAD};
    const char *at = strchr(s, '@');
    if (!at) {
        if (*s) {
            sp.kind = K_HOST;
            sp.host = s;
        }
        return sp;
    }
    if (at == s || strchr(at + 1, '@'))
        return sp; /* "@host", "a@b@c": no name, or too many parts */
    sp.name = s;
    sp.name_len = (size_t)(at - s);
    if (at[1]) {
        sp.kind = K_NODE;
        sp.host = at + 1;
    } else {
        sp.kind = K_NAME;
    }
    return sp;
}

int en_allow_check(const char *entry, char *err, size_t errlen)
{
    if (!entry) {
        snprintf(err, errlen, "an allowed node is NULL");
        return -1;
    }
    if (strlen(entry) >= EN_HS_NAME_MAX) {
        snprintf(err, errlen,
                 "allowed node '%.40s...' is too long: a node name has at "
                 "most %d bytes", entry, EN_HS_NAME_MAX - 1);
        return -1;
    }
    if (split(entry).kind == K_BAD) {
        snprintf(err, errlen,
                 "allowed node '%s' matches no node: give name@host, a host, "
                 "or name@", entry);
        return -1;
    }
    return 0;
}

static bool has(const en_allow_t *a, const char *entry)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->entry[i], entry) == 0)
            return true;
    return false;
}

int en_allow_add(en_allow_t *a, const char *entry)
{
    if (has(a, entry))
        return 0;
    if (a->n == a->room) {
        size_t room = a->room ? 2 * a->room : 8;
        char **more = realloc(a->entry, room * sizeof *more);
        if (!more)
            return -1;
        a->entry = more;
        a->room = room;
    }
    char *copy = strdup(entry);
    if (!copy)
        return -1;
    a->entry[a->n++] = copy;
    return 0;
}

int en_allow_add_all(en_allow_t *dst, const en_allow_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (en_allow_add(dst, src->entry[i]) < 0)
            return -1;
    return 0;
}

static bool same_name(const split_t *a, const split_t *b)
{
    return a->name_len == b->name_len &&
           memcmp(a->name, b->name, a->name_len) == 0;
}

/* One clause of is_allowed/2: does the entry e admit the name n? */
static bool admits(const split_t *e, const split_t *n)
{
    switch (e->kind) {
    case K_NODE:
        return n->kind == K_NODE && same_name(e, n) &&
               strcmp(e->host, n->host) == 0;
    case K_HOST:
        return (n->kind == K_NODE || n->kind == K_HOST) &&
               strcmp(e->host, n->host) == 0;
    case K_NAME:
        return (n->kind == K_NODE || n->kind == K_NAME) && same_name(e, n);
    default:
        return false;
    }
}

bool en_allow_match(const en_allow_t *a, const char *name)
{
    split_t n = split(name);
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->entry[i], name) == 0)
            return true;
        split_t e = split(a->entry[i]);
        if (admits(&e, &n))
            return true;
    }
    return false;
}

const char *en_allow_host(const char *entry)
{
    split_t sp = split(entry);
    return sp.kind == K_NODE || sp.kind == K_HOST ? sp.host : NULL;
}

void en_allow_free(en_allow_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->entry[i]);
    free(a->entry);
    memset(a, 0, sizeof *a);
}
