/* dflags.h - distribution capability flags exchanged in the handshake.
 *
 * Values from OTP's kernel include/dist.hrl, erts dist.h and ei's
 * ei_connect_int.h (see doc/internals.md section 6).  They are 64-bit: the
 * v6 handshake carries Flags:64, the old v5 name message only the low
 * 32 bits, completed later by a 'c' message.
 */
#ifndef ENODE_DFLAGS_H
#define ENODE_DFLAGS_H

#include <stddef.h>
#include <stdint.h>

#define EN_DFLAG_PUBLISHED           0x1ULL
#define EN_DFLAG_ATOM_CACHE          0x2ULL /* obsolete */
#define EN_DFLAG_EXTENDED_REFERENCES 0x4ULL
#define EN_DFLAG_DIST_MONITOR        0x8ULL
#define EN_DFLAG_FUN_TAGS            0x10ULL
#define EN_DFLAG_DIST_MONITOR_NAME   0x20ULL
#define EN_DFLAG_HIDDEN_ATOM_CACHE   0x40ULL /* obsolete */
#define EN_DFLAG_NEW_FUN_TAGS        0x80ULL
#define EN_DFLAG_EXTENDED_PIDS_PORTS 0x100ULL
#define EN_DFLAG_EXPORT_PTR_TAG      0x200ULL
#define EN_DFLAG_BIT_BINARIES        0x400ULL
#define EN_DFLAG_NEW_FLOATS          0x800ULL
#define EN_DFLAG_UNICODE_IO          0x1000ULL
#define EN_DFLAG_DIST_HDR_ATOM_CACHE 0x2000ULL
#define EN_DFLAG_SMALL_ATOM_TAGS     0x4000ULL
#define EN_DFLAG_ETS_COMPRESSED      0x8000ULL /* internal to erts */
#define EN_DFLAG_UTF8_ATOMS          0x10000ULL
#define EN_DFLAG_MAP_TAG             0x20000ULL
#define EN_DFLAG_BIG_CREATION        0x40000ULL
#define EN_DFLAG_SEND_SENDER         0x80000ULL
#define EN_DFLAG_BIG_SEQTRACE_LABELS 0x100000ULL
#define EN_DFLAG_PENDING_CONNECT     0x200000ULL /* internal to erts */
#define EN_DFLAG_EXIT_PAYLOAD        0x400000ULL
#define EN_DFLAG_FRAGMENTS           0x800000ULL
#define EN_DFLAG_HANDSHAKE_23        0x1000000ULL
#define EN_DFLAG_UNLINK_ID           0x2000000ULL
/* The erl_dist_protocol guide says 1 bsl 36; the real value is 1 bsl 26
 * (dist.hrl, dist.h and ei all agree; OTP's default word has bit 26). */
#define EN_DFLAG_MANDATORY_25_DIGEST 0x4000000ULL
#define EN_DFLAG_SPAWN               (1ULL << 32)
#define EN_DFLAG_NAME_ME             (1ULL << 33)
#define EN_DFLAG_V4_NC               (1ULL << 34)
#define EN_DFLAG_ALIAS               (1ULL << 35)
#define EN_DFLAG_LOCAL_EXT           (1ULL << 36) /* internal to erts */
#define EN_DFLAG_ALTACT_SIG          (1ULL << 37) /* OTP 28 */

/* What OTP 25 refuses to talk without (dist.hrl MANDATORY_DFLAGS_25). */
#define EN_DFLAGS_MANDATORY_25 0x1070F94ULL
/* OTP 26 and later add V4_NC and UNLINK_ID (dist.h DFLAG_DIST_MANDATORY_26). */
#define EN_DFLAGS_MANDATORY_26 0x403070F94ULL

/* OTP 25-27 treat a peer that sets MANDATORY_25_DIGEST as having the
 * whole OTP 25 mandatory set (dist_util.erl), so the short form must be
 * expanded before flags are checked or ANDed. */
static inline uint64_t en_dflags_expand(uint64_t flags)
{
    if (flags & EN_DFLAG_MANDATORY_25_DIGEST)
        flags |= EN_DFLAGS_MANDATORY_25;
    return flags;
}

/* Write the names of the bits set in `flags` to buf as a comma-separated
 * list ("UNLINK_ID, V4_NC"), lowest bit first; bits without a name appear
 * as "bit N".  The result is always NUL-terminated when len > 0, and cut
 * short if buf is too small.  Returns the length the full list needs,
 * not counting the NUL (like snprintf). */
size_t en_dflags_names(uint64_t flags, char *buf, size_t len);

/* The name of a single flag ("UNLINK_ID"), or NULL if the bit has none. */
const char *en_dflag_name(uint64_t flag);

#endif
