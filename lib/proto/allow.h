/* allow.h - a node's allow list, as net_kernel:allow/1 keeps it, and the
 * match dist_util makes of a connecting node's name against it.
 *
 * An entry is a node name "name@host", a host "host" (every node on that
 * host), or "name@" (a node of that name on any host), as dist_util's
 * is_allowed/2 in OTP 25 to 29 reads them. Names are compared byte for
 * byte, as OTP compares atoms. An empty list matches nothing here; the
 * caller decides that an empty list means "everyone", as OTP does.
 * Pure: no I/O, no lock (the node's lock guards the list it keeps).
 */
#ifndef ENODE_ALLOW_H
#define ENODE_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

typedef struct en_allow {
    char **entry; /* copies, in the order added, without duplicates */
    size_t n, room;
} en_allow_t;

/* 0 if entry is one of the three forms above and fits a node name
 * (EN_HS_NAME_MAX), else -1 with a sentence in err naming the entry:
 * "", "@", "@host" and "a@b@c" match no node, so they are refused. */
int en_allow_check(const char *entry, char *err, size_t errlen);

/* Add a copy of entry unless it is there (net_kernel:allow/1 keeps each
 * once). 0, or -1 when out of memory. entry must have passed
 * en_allow_check. */
int en_allow_add(en_allow_t *a, const char *entry);

/* The whole of src added to dst. 0, or -1 when out of memory. */
int en_allow_add_all(en_allow_t *dst, const en_allow_t *src);

/* Whether the node name (or, from a peer that asks for a dynamic name,
 * the bare host) matches an entry. */
bool en_allow_match(const en_allow_t *a, const char *name);

/* The host of an entry, or NULL for a "name@" entry, which names none. */
const char *en_allow_host(const char *entry);

void en_allow_free(en_allow_t *a);

#endif
