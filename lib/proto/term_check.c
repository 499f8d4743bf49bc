/* term_check.c - a bounds checker for external terms.
 *
 * ei has no notion of a buffer's end: its decoders trust the term. So
 * before ei sees a byte from a peer, en_term_size() walks the term's
 * structure within the packet's bounds and refuses anything that would
 * take ei outside them (see proto/ctrl.h).
 */
#include "proto/ctrl.h"

#include <limits.h>
#include <string.h>

#include "proto/ctrl_int.h"

/* ------------------------------------------------------------------ */
/* Bounds checking of external terms                                    */
/* ------------------------------------------------------------------ */

/* A cursor over buf[0..len). Every helper checks before it moves. */
struct walk {
    const uint8_t *p;
    size_t len;
    size_t pos;
    const char *why; /* set on failure */
};

static int walk_fail(struct walk *w, const char *why)
{
    w->why = why;
    return -1;
}

/* Fails unless n more bytes are available at the cursor. */
static int walk_need(struct walk *w, size_t n)
{
    if (w->len - w->pos < n)
        return walk_fail(w, "term is truncated");
    return 0;
}

static int walk_skip(struct walk *w, size_t n)
{
    if (walk_need(w, n) < 0)
        return -1;
    w->pos += n;
    return 0;
}

static int walk_u8(struct walk *w, uint32_t *v)
{
    if (walk_need(w, 1) < 0)
        return -1;
    *v = w->p[w->pos++];
    return 0;
}

static int walk_u16(struct walk *w, uint32_t *v)
{
    if (walk_need(w, 2) < 0)
        return -1;
    *v = en_get16(w->p + w->pos);
    w->pos += 2;
    return 0;
}

static int walk_u32(struct walk *w, uint32_t *v)
{
    if (walk_need(w, 4) < 0)
        return -1;
    *v = en_get32(w->p + w->pos);
    w->pos += 4;
    return 0;
}

/* A 16- or 32-bit length followed by that many bytes. */
static int walk_sized(struct walk *w, int (*get_len)(struct walk *, uint32_t *),
                      size_t extra)
{
    uint32_t n;
    if (get_len(w, &n) < 0)
        return -1;
    return walk_skip(w, extra) < 0 ? -1 : walk_skip(w, n);
}

/* The length in code points of the UTF-8 text s[0..len), or -1 unless it
 * is valid UTF-8 as OTP's erts_analyze_utf8 has it: shortest forms only,
 * no surrogates (U+D800..U+DFFF), nothing above U+10FFFF. */
static long utf8_chars(const uint8_t *s, size_t len)
{
    long chars = 0;
    size_t i = 0;

    while (i < len) {
        uint32_t c = s[i], need, min;
        if (c < 0x80) {
            i++;
            chars++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            need = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0)
            need = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0)
            need = 3, min = 0x10000, c &= 0x07;
        else
            return -1; /* a continuation byte, or 0xF8 and up */
        if (len - i - 1 < need)
            return -1;
        for (uint32_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
            c = (c << 6) | (s[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return -1;
        i += 1 + need;
        chars++;
    }
    return chars;
}

/* An atom's text after its tag, of the given length field size: OTP
 * takes no atom over 255 characters, and no UTF-8 atom that is not valid
 * UTF-8 (atom.c erts_atom_put_index); a peer that sends one loses the
 * connection there. */
static int walk_atom_text(struct walk *w, int (*get_len)(struct walk *,
                                                         uint32_t *),
                          int utf8)
{
    uint32_t n;
    if (get_len(w, &n) < 0 || walk_need(w, n) < 0)
        return -1;
    long chars = utf8 ? utf8_chars(w->p + w->pos, n) : (long)n;
    if (chars < 0)
        return walk_fail(w, "an atom is not valid UTF-8");
    if (chars > MAX_ATOM_CHARS)
        return walk_fail(w, "an atom is over 255 characters long");
    w->pos += n;
    return 0;
}

/* The atom inside a pid, port, reference or export. ei reads these with
 * its internal atom reader, which accepts the four atom tags only. */
static int walk_atom(struct walk *w)
{
    uint32_t tag;
    if (walk_u8(w, &tag) < 0)
        return -1;
    switch (tag) {
    case ERL_ATOM_EXT: return walk_atom_text(w, walk_u16, 0);
    case ERL_ATOM_UTF8_EXT: return walk_atom_text(w, walk_u16, 1);
    case ERL_SMALL_ATOM_EXT: return walk_atom_text(w, walk_u8, 0);
    case ERL_SMALL_ATOM_UTF8_EXT: return walk_atom_text(w, walk_u8, 1);
    case ATOM_CACHE_REF:
        return walk_fail(w, "atom cache reference (the atom cache is never "
                            "negotiated)");
    default:
        return walk_fail(w, "a pid, port, reference or fun has a node or "
                            "module that is not an atom");
    }
}

/* NEW_REFERENCE_EXT / NEWER_REFERENCE_EXT after the tag. erlang_ref has
 * room for 5 ID words: more would overflow it. */
static int walk_new_ref(struct walk *w, size_t creation_len)
{
    uint32_t words;
    if (walk_u16(w, &words) < 0)
        return -1;
    if (words > REF_WORDS_MAX)
        return walk_fail(w, "reference has more than 5 ID words");
    if (walk_atom(w) < 0)
        return -1;
    return walk_skip(w, creation_len + 4 * (size_t)words);
}

static int walk_terms(struct walk *w, uint64_t pending, int fun_depth);

/* NEW_FUN_EXT after the tag. ei trusts its Size field to find the end of
 * the free variables (it memcpy()s Size minus the fields it parsed), so
 * the fields must end exactly where Size says. Checked with a bounded
 * sub-walk over exactly Size bytes. */
static int walk_new_fun(struct walk *w, int fun_depth)
{
    size_t start = w->pos - 1; /* the tag */
    uint32_t size, num_free;
    if (fun_depth >= FUN_NESTING_MAX)
        return walk_fail(w, "funs nested too deeply");
    if (walk_u32(w, &size) < 0)
        return -1;
    /* Size counts itself, arity, uniq, index and num_free: 29 bytes. */
    if (size < 29)
        return walk_fail(w, "fun size field is too small");
    if (size > w->len - start - 1)
        return walk_fail(w, "term is truncated");
    if (walk_skip(w, 1 + 16 + 4) < 0 || walk_u32(w, &num_free) < 0)
        return -1;

    /* Module, then OldIndex, OldUniq, Pid and the free variables. Running
     * out of room inside Size means Size lies, not that the packet is cut. */
    static const char size_lies[] = "fun size field does not match its "
                                    "contents";
    struct walk sub = {w->p, start + 1 + size, w->pos, NULL};
    if (walk_atom(&sub) < 0 ||
        walk_terms(&sub, 3 + (uint64_t)num_free, fun_depth + 1) < 0) {
        int cut = strcmp(sub.why, "term is truncated") == 0;
        return walk_fail(w, cut ? size_lies : sub.why);
    }
    if (sub.pos != sub.len)
        return walk_fail(w, size_lies);
    w->pos = sub.pos;
    return 0;
}

/* One term's tag and fixed part. Sets *children to the number of terms
 * that follow as its elements (tuple, list, map, export). */
static int walk_one(struct walk *w, uint64_t *children, int fun_depth)
{
    uint32_t tag, n;
    *children = 0;
    if (walk_u8(w, &tag) < 0)
        return -1;
    switch (tag) {
    case ERL_SMALL_INTEGER_EXT: return walk_skip(w, 1);
    case ERL_INTEGER_EXT: return walk_skip(w, 4);
    case NEW_FLOAT_EXT: return walk_skip(w, 8);
    case ERL_FLOAT_EXT:
        /* ei parses this one with sscanf(), which does not stop at the
         * 31-byte field and could read past the packet. OTP has sent
         * NEW_FLOAT_EXT since R11 (NEW_FLOATS is mandatory). */
        return walk_fail(w, "old FLOAT_EXT (NEW_FLOATS is mandatory)");
    case ERL_NIL_EXT: return 0;
    case ERL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        w->pos--; /* the tag again, for walk_atom */
        return walk_atom(w);
    case ERL_STRING_EXT: return walk_sized(w, walk_u16, 0);
    case ERL_BINARY_EXT: return walk_sized(w, walk_u32, 0);
    case ERL_BIT_BINARY_EXT: return walk_sized(w, walk_u32, 1);
    case ERL_SMALL_BIG_EXT: return walk_sized(w, walk_u8, 1);
    case ERL_LARGE_BIG_EXT: return walk_sized(w, walk_u32, 1);
    case ERL_SMALL_TUPLE_EXT:
        if (walk_u8(w, &n) < 0)
            return -1;
        *children = n;
        return 0;
    case ERL_LARGE_TUPLE_EXT:
        if (walk_u32(w, &n) < 0)
            return -1;
        *children = n;
        return 0;
    case ERL_LIST_EXT: /* elements, then the tail */
        if (walk_u32(w, &n) < 0)
            return -1;
        *children = (uint64_t)n + 1;
        return 0;
    case ERL_MAP_EXT:
        if (walk_u32(w, &n) < 0)
            return -1;
        *children = 2 * (uint64_t)n;
        return 0;
    case ERL_PID_EXT: return walk_atom(w) < 0 ? -1 : walk_skip(w, 9);
    case ERL_NEW_PID_EXT: return walk_atom(w) < 0 ? -1 : walk_skip(w, 12);
    case ERL_PORT_EXT: return walk_atom(w) < 0 ? -1 : walk_skip(w, 5);
    case ERL_NEW_PORT_EXT: return walk_atom(w) < 0 ? -1 : walk_skip(w, 8);
    case ERL_V4_PORT_EXT: return walk_atom(w) < 0 ? -1 : walk_skip(w, 12);
    case ERL_REFERENCE_EXT: return walk_atom(w) < 0 ? -1 : walk_skip(w, 5);
    case ERL_NEW_REFERENCE_EXT: return walk_new_ref(w, 1);
    case ERL_NEWER_REFERENCE_EXT: return walk_new_ref(w, 4);
    case ERL_EXPORT_EXT: /* Module, Function, Arity */
        if (walk_atom(w) < 0 || walk_atom(w) < 0)
            return -1;
        if (walk_u8(w, &tag) < 0)
            return -1;
        if (tag != ERL_SMALL_INTEGER_EXT)
            return walk_fail(w, "export fun arity is not a small integer");
        return walk_skip(w, 1);
    case ERL_NEW_FUN_EXT: return walk_new_fun(w, fun_depth);
    case ERL_FUN_EXT:
        return walk_fail(w, "old FUN_EXT (not used since OTP 23)");
    case ATOM_CACHE_REF:
        return walk_fail(w, "atom cache reference (the atom cache is never "
                            "negotiated)");
    case COMPRESSED_EXT:
        return walk_fail(w, "compressed term (not supported)");
    case LOCAL_EXT:
        return walk_fail(w, "LOCAL_EXT term (node-local format)");
    case VERSION_MAGIC:
        return walk_fail(w, "unexpected version byte 131 inside a term");
    default:
        return walk_fail(w, "unknown term tag");
    }
}

/* Walks `pending` consecutive terms. A single counter replaces recursion:
 * a compound term just adds its elements to what is still to come. Every
 * term takes at least one byte, so more pending terms than bytes left is
 * already a truncation; that test also keeps the counter small. */
static int walk_terms(struct walk *w, uint64_t pending, int fun_depth)
{
    while (pending > 0) {
        if (pending > w->len - w->pos)
            return walk_fail(w, "term is truncated");
        pending--;
        uint64_t children;
        if (walk_one(w, &children, fun_depth) < 0)
            return -1;
        pending += children;
    }
    return 0;
}

int en_term_size(const char *buf, size_t len, size_t *term_len,
                 const char **why)
{
    struct walk w = {(const uint8_t *)buf, len, 0, NULL};
    if (walk_terms(&w, 1, 0) < 0) {
        if (why)
            *why = w.why;
        return EN_CTRL_EMALFORMED;
    }
    *term_len = w.pos;
    return 0;
}

int en_term_put_versioned(en_buf_t *out, const char *term, size_t len)
{
    if (len > 0 && (uint8_t)term[0] == VERSION_MAGIC)
        return en_buf_append(out, term, len) < 0 ? EN_CTRL_ENOMEM : 0;
    if (len == SIZE_MAX || en_buf_reserve(out, len + 1) < 0)
        return EN_CTRL_ENOMEM;
    out->data[out->len++] = VERSION_MAGIC;
    en_buf_append(out, term, len); /* cannot fail: reserved above */
    return 0;
}
