/* dflags.c - names of distribution flags, for error messages. */
#include "proto/dflags.h"

#include <stdio.h>
#include <string.h>

/* Indexed by bit number. */
static const char *const dflag_names[] = {
    "PUBLISHED",           "ATOM_CACHE",
    "EXTENDED_REFERENCES", "DIST_MONITOR",
    "FUN_TAGS",            "DIST_MONITOR_NAME",
    "HIDDEN_ATOM_CACHE",   "NEW_FUN_TAGS",
    "EXTENDED_PIDS_PORTS", "EXPORT_PTR_TAG",
    "BIT_BINARIES",        "NEW_FLOATS",
    "UNICODE_IO",          "DIST_HDR_ATOM_CACHE",
    "SMALL_ATOM_TAGS",     "ETS_COMPRESSED",
    "UTF8_ATOMS",          "MAP_TAG",
    "BIG_CREATION",        "SEND_SENDER",
    "BIG_SEQTRACE_LABELS", "PENDING_CONNECT",
    "EXIT_PAYLOAD",        "FRAGMENTS",
    "HANDSHAKE_23",        "UNLINK_ID",
    "MANDATORY_25_DIGEST", NULL,
    NULL,                  NULL,
    NULL,                  NULL,
    "SPAWN",               "NAME_ME",
    "V4_NC",               "ALIAS",
    "LOCAL_EXT",           "ALTACT_SIG",
};

#define NUM_NAMED_BITS (sizeof dflag_names / sizeof dflag_names[0])

static unsigned bit_index(uint64_t flag)
{
    unsigned bit = 0;
    while (bit < 63 && !(flag & (1ULL << bit)))
        bit++;
    return bit;
}

const char *en_dflag_name(uint64_t flag)
{
    /* Exactly one bit must be set. */
    if (flag == 0 || (flag & (flag - 1)) != 0)
        return NULL;
    unsigned bit = bit_index(flag);
    return bit < NUM_NAMED_BITS ? dflag_names[bit] : NULL;
}

size_t en_dflags_names(uint64_t flags, char *buf, size_t len)
{
    size_t need = 0;

    if (len > 0)
        buf[0] = '\0';
    for (unsigned bit = 0; bit < 64; bit++) {
        if (!(flags & (1ULL << bit)))
            continue;
        char unnamed[16];
        const char *name = en_dflag_name(1ULL << bit);
        if (!name) {
            snprintf(unnamed, sizeof unnamed, "bit %u", bit);
            name = unnamed;
        }
        const char *sep = need ? ", " : "";
        /* Append as much as fits, but always count the whole length. */
        if (need < len)
            snprintf(buf + need, len - need, "%s%s", sep, name);
        need += strlen(sep) + strlen(name);
    }
    return need;
}
