/* ctrl.c - distribution messages: the control tuple and its message.
 *
 * Three parts: a bounds checker for external terms (so that ei, which has
 * no notion of a buffer's end, only ever sees terms that lie wholly inside
 * the packet), the decoder, and the encoders.
 */
#include "proto/ctrl.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/framing.h"

#define VERSION_MAGIC 131   /* in front of a standalone external term */
#define DIST_HEADER 68      /* 131 68: normal distribution header */
#define DIST_FRAG_HEADER 69 /* 131 69: first fragment */
#define DIST_FRAG_CONT 70   /* 131 70: following fragments */
#define PASS_THROUGH 112    /* ERL_PASS_THROUGH */

/* Tags that ei 5.3 cannot decode; the checker names them in its refusal. */
#define COMPRESSED_EXT 80
#define ATOM_CACHE_REF 82
#define LOCAL_EXT 121

#define REF_WORDS_MAX 5     /* erlang_ref.n[] holds 5 words */
#define FUN_NESTING_MAX 64  /* funs inside the environment of funs */

const char *en_ctrl_strerror(int code)
{
    switch (code) {
    case EN_CTRL_OK: return "success";
    case EN_CTRL_EMALFORMED: return "malformed distribution message";
    case EN_CTRL_EUNKNOWN: return "unknown control message";
    case EN_CTRL_EFRAG: return "fragmented distribution message";
    case EN_CTRL_ENOMEM: return "out of memory";
    case EN_CTRL_EINVAL: return "invalid argument";
    case EN_CTRL_ETOOBIG: return "message too large for one packet";
    default: return "unknown error";
    }
}

static void set_error(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

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

/* The atom inside a pid, port, reference or export. ei reads these with
 * its internal atom reader, which accepts the four atom tags only. */
static int walk_atom(struct walk *w)
{
    uint32_t tag;
    if (walk_u8(w, &tag) < 0)
        return -1;
    switch (tag) {
    case ERL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
        return walk_sized(w, walk_u16, 0);
    case ERL_SMALL_ATOM_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        return walk_sized(w, walk_u8, 0);
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
    case ERL_STRING_EXT: return walk_sized(w, walk_u16, 0);
    case ERL_SMALL_ATOM_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT: return walk_sized(w, walk_u8, 0);
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

/* ------------------------------------------------------------------ */
/* Decoding                                                             */
/* ------------------------------------------------------------------ */

/* What each element of a control tuple holds. */
enum field_kind {
    F_FROM,      /* pid -> from */
    F_UNUSED,    /* any term, '' in practice: skipped */
    F_TO_PID,    /* pid -> to_pid */
    F_TO_NAME,   /* atom -> to_name */
    F_TO_PROC,   /* pid -> to_pid, or atom -> to_name */
    F_FROM_PROC, /* pid -> from, or atom -> from_name */
    F_REF,       /* reference -> ref */
    F_TOKEN,     /* any term -> token */
    F_REASON,    /* any term -> reason */
    F_ID,        /* unsigned 64-bit integer -> unlink_id */
    F_GL,        /* pid -> group_leader */
    F_MFA,       /* {Module, Function, Arity} -> spawn_* */
    F_OPTS,      /* any term -> spawn_opts */
    F_FLAGS,     /* integer -> spawn_flags */
    F_RESULT     /* any term -> spawn_result */
};

/* What may follow the control tuple. */
enum payload_kind {
    P_NONE,   /* nothing */
    P_MSG,    /* a message -> msg */
    P_REASON  /* an exit reason -> msg and reason */
};

#define FIELDS_MAX 6

struct layout {
    const char *name;
    unsigned char nfields; /* elements after the op */
    unsigned char payload;
    unsigned char fields[FIELDS_MAX];
};

/* P §Protocol between Connected Nodes; ordered by op. */
static const struct layout layouts[] = {
    [EN_DOP_LINK] = {"LINK", 2, P_NONE, {F_FROM, F_TO_PID}},
    [EN_DOP_SEND] = {"SEND", 2, P_MSG, {F_UNUSED, F_TO_PID}},
    [EN_DOP_EXIT] = {"EXIT", 3, P_NONE, {F_FROM, F_TO_PID, F_REASON}},
    [EN_DOP_UNLINK] = {"UNLINK", 2, P_NONE, {F_FROM, F_TO_PID}},
    [EN_DOP_REG_SEND] = {"REG_SEND", 3, P_MSG,
                         {F_FROM, F_UNUSED, F_TO_NAME}},
    [EN_DOP_GROUP_LEADER] = {"GROUP_LEADER", 2, P_NONE, {F_FROM, F_TO_PID}},
    [EN_DOP_EXIT2] = {"EXIT2", 3, P_NONE, {F_FROM, F_TO_PID, F_REASON}},
    [EN_DOP_SEND_TT] = {"SEND_TT", 3, P_MSG, {F_UNUSED, F_TO_PID, F_TOKEN}},
    [EN_DOP_EXIT_TT] = {"EXIT_TT", 4, P_NONE,
                        {F_FROM, F_TO_PID, F_TOKEN, F_REASON}},
    [EN_DOP_REG_SEND_TT] = {"REG_SEND_TT", 4, P_MSG,
                            {F_FROM, F_UNUSED, F_TO_NAME, F_TOKEN}},
    [EN_DOP_EXIT2_TT] = {"EXIT2_TT", 4, P_NONE,
                         {F_FROM, F_TO_PID, F_TOKEN, F_REASON}},
    [EN_DOP_MONITOR_P] = {"MONITOR_P", 3, P_NONE, {F_FROM, F_TO_PROC, F_REF}},
    [EN_DOP_DEMONITOR_P] = {"DEMONITOR_P", 3, P_NONE,
                            {F_FROM, F_TO_PROC, F_REF}},
    [EN_DOP_MONITOR_P_EXIT] = {"MONITOR_P_EXIT", 4, P_NONE,
                               {F_FROM_PROC, F_TO_PID, F_REF, F_REASON}},
    [EN_DOP_SEND_SENDER] = {"SEND_SENDER", 2, P_MSG, {F_FROM, F_TO_PID}},
    [EN_DOP_SEND_SENDER_TT] = {"SEND_SENDER_TT", 3, P_MSG,
                               {F_FROM, F_TO_PID, F_TOKEN}},
    [EN_DOP_PAYLOAD_EXIT] = {"PAYLOAD_EXIT", 2, P_REASON, {F_FROM, F_TO_PID}},
    [EN_DOP_PAYLOAD_EXIT_TT] = {"PAYLOAD_EXIT_TT", 3, P_REASON,
                                {F_FROM, F_TO_PID, F_TOKEN}},
    [EN_DOP_PAYLOAD_EXIT2] = {"PAYLOAD_EXIT2", 2, P_REASON,
                              {F_FROM, F_TO_PID}},
    [EN_DOP_PAYLOAD_EXIT2_TT] = {"PAYLOAD_EXIT2_TT", 3, P_REASON,
                                 {F_FROM, F_TO_PID, F_TOKEN}},
    [EN_DOP_PAYLOAD_MONITOR_P_EXIT] = {"PAYLOAD_MONITOR_P_EXIT", 3, P_REASON,
                                       {F_FROM_PROC, F_TO_PID, F_REF}},
    [EN_DOP_SPAWN_REQUEST] = {"SPAWN_REQUEST", 5, P_MSG,
                              {F_REF, F_FROM, F_GL, F_MFA, F_OPTS}},
    [EN_DOP_SPAWN_REQUEST_TT] = {"SPAWN_REQUEST_TT", 6, P_MSG,
                                 {F_REF, F_FROM, F_GL, F_MFA, F_OPTS,
                                  F_TOKEN}},
    [EN_DOP_SPAWN_REPLY] = {"SPAWN_REPLY", 4, P_NONE,
                            {F_REF, F_TO_PID, F_FLAGS, F_RESULT}},
    [EN_DOP_SPAWN_REPLY_TT] = {"SPAWN_REPLY_TT", 5, P_NONE,
                               {F_REF, F_TO_PID, F_FLAGS, F_RESULT, F_TOKEN}},
    [EN_DOP_ALIAS_SEND] = {"ALIAS_SEND", 2, P_MSG, {F_FROM, F_REF}},
    [EN_DOP_ALIAS_SEND_TT] = {"ALIAS_SEND_TT", 3, P_MSG,
                              {F_FROM, F_REF, F_TOKEN}},
    [EN_DOP_UNLINK_ID] = {"UNLINK_ID", 3, P_NONE, {F_ID, F_FROM, F_TO_PID}},
    [EN_DOP_UNLINK_ID_ACK] = {"UNLINK_ID_ACK", 3, P_NONE,
                              {F_ID, F_FROM, F_TO_PID}},
};

#define OP_MAX ((long)(sizeof layouts / sizeof layouts[0]) - 1)

static const struct layout *find_layout(long op)
{
    if (op < 0 || op > OP_MAX || layouts[op].name == NULL)
        return NULL;
    return &layouts[op];
}

/* The element names used in error messages. */
static const char *field_name(enum field_kind kind)
{
    switch (kind) {
    case F_FROM: return "From (a pid)";
    case F_UNUSED: return "Unused";
    case F_TO_PID: return "To (a pid)";
    case F_TO_NAME: return "ToName (an atom)";
    case F_TO_PROC: return "ToProc (a pid or an atom)";
    case F_FROM_PROC: return "FromProc (a pid or an atom)";
    case F_REF: return "Ref (a reference)";
    case F_TOKEN: return "TraceToken";
    case F_REASON: return "Reason";
    case F_ID: return "Id (an integer in [0, 2^64-1])";
    case F_GL: return "GroupLeader (a pid)";
    case F_MFA: return "{Module, Function, Arity}";
    case F_OPTS: return "OptList";
    case F_FLAGS: return "Flags (an integer)";
    case F_RESULT: return "Result";
    }
    return "?";
}

/* The control term, and what follows it, inside one packet. */
struct packet_parts {
    const char *ctrl;
    size_t ctrl_len;
    const char *msg; /* NULL if the control term ends the packet */
    size_t msg_len;
};

/* A term element of the control tuple: its position and extent. The
 * control term passed en_term_size(), so this cannot fail; it is written
 * defensively all the same. */
static int take_term(const char *ctrl, size_t ctrl_len, int *idx,
                     const char **term, size_t *term_len)
{
    size_t n;
    if (en_term_size(ctrl + *idx, ctrl_len - (size_t)*idx, &n, NULL) < 0)
        return -1;
    *term = ctrl + *idx;
    *term_len = n;
    *idx += (int)n;
    return 0;
}

static int is_pid_type(int type)
{
    return type == ERL_PID_EXT || type == ERL_NEW_PID_EXT;
}

static int is_atom_type(int type)
{
    return type == ERL_ATOM_EXT || type == ERL_SMALL_ATOM_EXT ||
           type == ERL_ATOM_UTF8_EXT || type == ERL_SMALL_ATOM_UTF8_EXT;
}

static int decode_atom(const char *buf, int *idx, char *dst)
{
    return ei_decode_atom_as(buf, idx, dst, MAXATOMLEN_UTF8, ERLANG_UTF8,
                             NULL, NULL);
}

/* A pid, or an atom naming a registered process. */
static int decode_proc(const char *buf, int *idx, erlang_pid *pid,
                       int *has_pid, char *name, int *has_name)
{
    int type, size;
    if (ei_get_type(buf, idx, &type, &size) < 0)
        return -1;
    if (is_pid_type(type)) {
        *has_pid = 1;
        return ei_decode_pid(buf, idx, pid);
    }
    if (is_atom_type(type)) {
        *has_name = 1;
        return decode_atom(buf, idx, name);
    }
    return -1;
}

/* {Module, Function, Arity} of a spawn request. */
static int decode_mfa(const char *buf, int *idx, en_dmsg_t *m)
{
    int arity;
    if (ei_decode_tuple_header(buf, idx, &arity) < 0 || arity != 3)
        return -1;
    if (decode_atom(buf, idx, m->spawn_module) < 0 ||
        decode_atom(buf, idx, m->spawn_function) < 0)
        return -1;
    return ei_decode_long(buf, idx, &m->spawn_arity);
}

static int decode_field(const char *ctrl, size_t ctrl_len, int *idx,
                        enum field_kind kind, en_dmsg_t *m)
{
    const char *unused;
    size_t unused_len;
    EI_ULONGLONG id;

    switch (kind) {
    case F_FROM:
        m->has_from = 1;
        return ei_decode_pid(ctrl, idx, &m->from);
    case F_UNUSED:
        return take_term(ctrl, ctrl_len, idx, &unused, &unused_len);
    case F_TO_PID:
        m->has_to_pid = 1;
        return ei_decode_pid(ctrl, idx, &m->to_pid);
    case F_TO_NAME:
        m->has_to_name = 1;
        return decode_atom(ctrl, idx, m->to_name);
    case F_TO_PROC:
        return decode_proc(ctrl, idx, &m->to_pid, &m->has_to_pid, m->to_name,
                           &m->has_to_name);
    case F_FROM_PROC:
        return decode_proc(ctrl, idx, &m->from, &m->has_from, m->from_name,
                           &m->has_from_name);
    case F_REF:
        m->has_ref = 1;
        return ei_decode_ref(ctrl, idx, &m->ref);
    case F_TOKEN:
        return take_term(ctrl, ctrl_len, idx, &m->token, &m->token_len);
    case F_REASON:
        return take_term(ctrl, ctrl_len, idx, &m->reason, &m->reason_len);
    case F_ID:
        if (ei_decode_ulonglong(ctrl, idx, &id) < 0)
            return -1;
        m->unlink_id = id;
        return 0;
    case F_GL:
        m->has_group_leader = 1;
        return ei_decode_pid(ctrl, idx, &m->group_leader);
    case F_MFA:
        return decode_mfa(ctrl, idx, m);
    case F_OPTS:
        return take_term(ctrl, ctrl_len, idx, &m->spawn_opts,
                         &m->spawn_opts_len);
    case F_FLAGS:
        return ei_decode_long(ctrl, idx, &m->spawn_flags);
    case F_RESULT:
        return take_term(ctrl, ctrl_len, idx, &m->spawn_result,
                         &m->spawn_result_len);
    }
    return -1;
}

/* Reads the tuple header and the op. */
static int decode_op(const struct packet_parts *pp, int *idx, int *arity,
                     long *op, char *errbuf, size_t errlen)
{
    int type = 0, size;
    ei_get_type(pp->ctrl, idx, &type, &size);
    if (type != ERL_SMALL_TUPLE_EXT && type != ERL_LARGE_TUPLE_EXT) {
        set_error(errbuf, errlen, "control message is not a tuple");
        return EN_CTRL_EMALFORMED;
    }
    if (ei_decode_tuple_header(pp->ctrl, idx, arity) < 0 || *arity < 1) {
        set_error(errbuf, errlen, "control message is an empty tuple");
        return EN_CTRL_EMALFORMED;
    }
    if (ei_decode_long(pp->ctrl, idx, op) < 0) {
        set_error(errbuf, errlen,
                  "control message op (first element) is not an integer");
        return EN_CTRL_EMALFORMED;
    }
    return 0;
}

/* The control tuple, element by element, per the op's layout. */
static int decode_tuple(const struct packet_parts *pp, en_dmsg_t *m,
                        const struct layout **layout_out, char *errbuf,
                        size_t errlen)
{
    int idx = 0, arity;
    long op;
    int rc = decode_op(pp, &idx, &arity, &op, errbuf, errlen);
    if (rc < 0)
        return rc;

    m->op = op >= INT_MIN && op <= INT_MAX ? (int)op : -1;
    const struct layout *lay = find_layout(op);
    if (!lay) {
        set_error(errbuf, errlen,
                  "unknown control message op %ld (a tuple of %d elements)",
                  op, arity);
        return EN_CTRL_EUNKNOWN;
    }
    if (arity != 1 + lay->nfields) {
        set_error(errbuf, errlen,
                  "%s control message has %d elements; expected %d",
                  lay->name, arity, 1 + lay->nfields);
        return EN_CTRL_EMALFORMED;
    }
    for (int i = 0; i < lay->nfields; i++) {
        enum field_kind kind = (enum field_kind)lay->fields[i];
        if (decode_field(pp->ctrl, pp->ctrl_len, &idx, kind, m) < 0) {
            set_error(errbuf, errlen,
                      "%s control message: element %d is not %s", lay->name,
                      i + 2, field_name(kind));
            return EN_CTRL_EMALFORMED;
        }
    }
    /* ei and en_term_size() must agree on where the tuple ends; if they
     * ever did not, the pointers we hand out could not be trusted. */
    if ((size_t)idx != pp->ctrl_len) {
        set_error(errbuf, errlen, "%s control message: elements end at byte "
                                  "%d of %zu",
                  lay->name, idx, pp->ctrl_len);
        return EN_CTRL_EMALFORMED;
    }
    *layout_out = lay;
    return 0;
}

/* Checks the optional term after the control tuple against the layout. */
static int attach_payload(const struct packet_parts *pp,
                          const struct layout *lay, en_dmsg_t *m,
                          char *errbuf, size_t errlen)
{
    if (lay->payload == P_NONE) {
        if (pp->msg) {
            set_error(errbuf, errlen,
                      "%s control message is followed by a term; it takes "
                      "none",
                      lay->name);
            return EN_CTRL_EMALFORMED;
        }
        return 0;
    }
    if (!pp->msg) {
        set_error(errbuf, errlen, "%s control message without its %s",
                  lay->name, lay->payload == P_REASON ? "reason" : "message");
        return EN_CTRL_EMALFORMED;
    }
    m->msg = pp->msg;
    m->msg_len = pp->msg_len;
    if (lay->payload == P_REASON) {
        m->reason = pp->msg;
        m->reason_len = pp->msg_len;
    }
    return 0;
}

/* The framing of pass-through and header packets: where the terms start.
 * Sets *with_magic when each term carries its own 131 (pass-through). */
static int find_control(const uint8_t *data, size_t len, size_t *start,
                        int *with_magic, char *errbuf, size_t errlen)
{
    if (data[0] == PASS_THROUGH) {
        if (len < 2 || data[1] != VERSION_MAGIC) {
            set_error(errbuf, errlen, "pass-through packet: control message "
                                      "does not start with 131");
            return EN_CTRL_EMALFORMED;
        }
        *start = 2;
        *with_magic = 1;
        return 0;
    }
    if (data[0] != VERSION_MAGIC) {
        set_error(errbuf, errlen,
                  "packet starts with byte %u; expected 112 (pass-through) "
                  "or 131 (distribution header)",
                  data[0]);
        return EN_CTRL_EMALFORMED;
    }
    if (len < 2) {
        set_error(errbuf, errlen, "distribution header is truncated");
        return EN_CTRL_EMALFORMED;
    }
    if (data[1] == DIST_FRAG_HEADER || data[1] == DIST_FRAG_CONT) {
        set_error(errbuf, errlen,
                  "fragmented message (131 %u): fragments are not supported",
                  data[1]);
        return EN_CTRL_EFRAG;
    }
    if (data[1] != DIST_HEADER) {
        set_error(errbuf, errlen, "unknown distribution header 131 %u",
                  data[1]);
        return EN_CTRL_EMALFORMED;
    }
    if (len < 3) {
        set_error(errbuf, errlen, "distribution header is truncated");
        return EN_CTRL_EMALFORMED;
    }
    if (data[2] != 0) {
        set_error(errbuf, errlen,
                  "distribution header uses %u atom cache references; this "
                  "node never negotiates the atom cache",
                  data[2]);
        return EN_CTRL_EMALFORMED;
    }
    *start = 3;
    *with_magic = 0;
    return 0;
}

/* Splits a packet into its control term and the optional term after it,
 * checking that both lie within the packet and nothing else follows. */
static int split_packet(const uint8_t *data, size_t len,
                        struct packet_parts *pp, char *errbuf, size_t errlen)
{
    size_t pos, n;
    int with_magic;
    const char *why = NULL;

    if (len == 0) {
        set_error(errbuf, errlen, "empty packet (a tick is not a message)");
        return EN_CTRL_EMALFORMED;
    }
    if (len > INT_MAX) { /* ei indexes with int */
        set_error(errbuf, errlen, "packet of %zu bytes is too large", len);
        return EN_CTRL_EMALFORMED;
    }
    int rc = find_control(data, len, &pos, &with_magic, errbuf, errlen);
    if (rc < 0)
        return rc;

    const char *text = (const char *)data;
    if (en_term_size(text + pos, len - pos, &n, &why) < 0) {
        set_error(errbuf, errlen, "control message: %s", why);
        return EN_CTRL_EMALFORMED;
    }
    pp->ctrl = text + pos;
    pp->ctrl_len = n;
    pp->msg = NULL;
    pp->msg_len = 0;
    pos += n;
    if (pos == len)
        return 0;

    if (with_magic && data[pos++] != VERSION_MAGIC) {
        set_error(errbuf, errlen,
                  "pass-through packet: message does not start with 131");
        return EN_CTRL_EMALFORMED;
    }
    if (en_term_size(text + pos, len - pos, &n, &why) < 0) {
        set_error(errbuf, errlen, "message: %s", why);
        return EN_CTRL_EMALFORMED;
    }
    if (pos + n != len) {
        set_error(errbuf, errlen, "%zu stray bytes after the message",
                  len - pos - n);
        return EN_CTRL_EMALFORMED;
    }
    pp->msg = text + pos;
    pp->msg_len = n;
    return 0;
}

int en_ctrl_decode(const uint8_t *data, size_t len, en_dmsg_t *m,
                   char *errbuf, size_t errlen)
{
    struct packet_parts pp;
    const struct layout *lay = NULL;

    memset(m, 0, sizeof *m);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    int rc = split_packet(data, len, &pp, errbuf, errlen);
    if (rc == 0)
        rc = decode_tuple(&pp, m, &lay, errbuf, errlen);
    if (rc == 0)
        rc = attach_payload(&pp, lay, m, errbuf, errlen);
    if (rc < 0 && rc != EN_CTRL_EUNKNOWN) {
        int op = m->op;
        memset(m, 0, sizeof *m);
        m->op = op; /* still useful in a log line */
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */
/* ------------------------------------------------------------------ */

/* One element of a control tuple to encode. */
enum enc_kind { E_PID, E_ATOM, E_EMPTY_ATOM, E_REF, E_U64, E_LONG, E_TERM };

struct enc_field {
    enum enc_kind kind;
    const erlang_pid *pid;
    const erlang_ref *ref;
    const char *str;  /* E_ATOM: the name; E_TERM: bare ETF */
    size_t len;       /* E_TERM */
    uint64_t u64;
    long l;
};

struct enc_ctrl {
    long op;
    int nfields;
    struct enc_field f[FIELDS_MAX];
    const char *msg; /* bare ETF or NULL */
    size_t msg_len;
};

static struct enc_field pid_field(const erlang_pid *pid)
{
    return (struct enc_field){.kind = E_PID, .pid = pid};
}

static struct enc_field atom_field(const char *name)
{
    return (struct enc_field){.kind = E_ATOM, .str = name};
}

static struct enc_field empty_atom_field(void)
{
    return (struct enc_field){.kind = E_EMPTY_ATOM};
}

static struct enc_field ref_field(const erlang_ref *ref)
{
    return (struct enc_field){.kind = E_REF, .ref = ref};
}

static struct enc_field u64_field(uint64_t v)
{
    return (struct enc_field){.kind = E_U64, .u64 = v};
}

static struct enc_field long_field(long v)
{
    return (struct enc_field){.kind = E_LONG, .l = v};
}

static struct enc_field term_field(const char *term, size_t len)
{
    return (struct enc_field){.kind = E_TERM, .str = term, .len = len};
}

/* A pid or a name, whichever the caller gave (exactly one). */
static int proc_field(const erlang_pid *pid, const char *name,
                      struct enc_field *f)
{
    if ((pid == NULL) == (name == NULL))
        return -1;
    *f = pid ? pid_field(pid) : atom_field(name);
    return 0;
}

/* Strips an optional leading 131 and checks that what is left is exactly
 * one well-formed term. */
static int bare_term(const char **term, size_t *len)
{
    size_t n;
    if (*term == NULL || *len == 0)
        return -1;
    if ((uint8_t)(*term)[0] == VERSION_MAGIC) {
        (*term)++;
        (*len)--;
    }
    if (en_term_size(*term, *len, &n, NULL) < 0 || n != *len)
        return -1;
    return 0;
}

/* Checks the caller's arguments once, before any byte is written. */
static int check_fields(struct enc_ctrl *c)
{
    for (int i = 0; i < c->nfields; i++) {
        struct enc_field *f = &c->f[i];
        if ((f->kind == E_PID && !f->pid) || (f->kind == E_REF && !f->ref) ||
            (f->kind == E_ATOM && !f->str))
            return EN_CTRL_EINVAL;
        if (f->kind == E_REF && (f->ref->len < 1 || f->ref->len > 5))
            return EN_CTRL_EINVAL;
        if (f->kind == E_TERM && bare_term(&f->str, &f->len) < 0)
            return EN_CTRL_EINVAL;
        if (f->kind == E_TERM && f->len > INT_MAX / 2)
            return EN_CTRL_ETOOBIG;
    }
    if (c->msg && bare_term(&c->msg, &c->msg_len) < 0)
        return EN_CTRL_EINVAL;
    return 0;
}

/* Encodes one element; with buf == NULL only advances *idx (ei's sizing
 * mode), so the same code measures and writes. */
static int encode_field(char *buf, int *idx, const struct enc_field *f)
{
    switch (f->kind) {
    case E_PID: return ei_encode_pid(buf, idx, f->pid);
    case E_ATOM:
        return ei_encode_atom_as(buf, idx, f->str, ERLANG_UTF8, ERLANG_UTF8);
    case E_EMPTY_ATOM:
        return ei_encode_atom_len_as(buf, idx, "", 0, ERLANG_UTF8,
                                     ERLANG_UTF8);
    case E_REF: return ei_encode_ref(buf, idx, f->ref);
    case E_U64: return ei_encode_ulonglong(buf, idx, f->u64);
    case E_LONG: return ei_encode_long(buf, idx, f->l);
    case E_TERM:
        if (buf)
            memcpy(buf + *idx, f->str, f->len);
        *idx += (int)f->len;
        return 0;
    }
    return -1;
}

static int encode_tuple(char *buf, int *idx, const struct enc_ctrl *c)
{
    if (ei_encode_tuple_header(buf, idx, 1 + c->nfields) < 0 ||
        ei_encode_long(buf, idx, c->op) < 0)
        return -1;
    for (int i = 0; i < c->nfields; i++)
        if (encode_field(buf, idx, &c->f[i]) < 0)
            return -1;
    return 0;
}

/* Appends `Len:32 | header | ctrl | msg` to out. The control tuple is
 * measured with ei's sizing mode, then encoded straight into out; the
 * message is copied once; the length is written last. */
static int put_packet(en_buf_t *out, int wire, struct enc_ctrl *c)
{
    if (wire != EN_WIRE_PASSTHROUGH && wire != EN_WIRE_DISTHDR)
        return EN_CTRL_EINVAL;
    int rc = check_fields(c);
    if (rc < 0)
        return rc;

    int ctrl_len = 0;
    if (encode_tuple(NULL, &ctrl_len, c) < 0)
        return EN_CTRL_EINVAL; /* e.g. an atom over 255 characters */

    int pass = wire == EN_WIRE_PASSTHROUGH;
    size_t head_len = pass ? 2 : 3; /* 112 131 | 131 68 0 */
    size_t msg_part = c->msg ? (size_t)pass + c->msg_len : 0;
    uint64_t body = (uint64_t)head_len + (uint64_t)ctrl_len + msg_part;
    if (body > UINT32_MAX || body > SIZE_MAX - EN_FRAME_HDR_LEN)
        return EN_CTRL_ETOOBIG;
    if (en_buf_reserve(out, EN_FRAME_HDR_LEN + (size_t)body) < 0)
        return EN_CTRL_ENOMEM;

    uint8_t *packet = out->data + out->len;
    uint8_t *p = packet + EN_FRAME_HDR_LEN;
    if (pass) {
        *p++ = PASS_THROUGH;
        *p++ = VERSION_MAGIC;
    } else {
        *p++ = VERSION_MAGIC;
        *p++ = DIST_HEADER;
        *p++ = 0; /* no atom cache references */
    }
    int idx = 0;
    if (encode_tuple((char *)p, &idx, c) < 0 || idx != ctrl_len)
        return EN_CTRL_EINVAL; /* not reached: the sizing pass agreed */
    p += ctrl_len;
    if (c->msg) {
        if (pass)
            *p++ = VERSION_MAGIC;
        memcpy(p, c->msg, c->msg_len);
    }
    packet[0] = (uint8_t)(body >> 24);
    packet[1] = (uint8_t)(body >> 16);
    packet[2] = (uint8_t)(body >> 8);
    packet[3] = (uint8_t)body;
    out->len += EN_FRAME_HDR_LEN + (size_t)body;
    return 0;
}

int en_ctrl_send(en_buf_t *out, int wire, int send_sender,
                 const erlang_pid *from, const erlang_pid *to,
                 const char *msg, size_t msg_len)
{
    struct enc_ctrl c = {.nfields = 2, .msg = msg, .msg_len = msg_len};
    if (send_sender && from) {
        c.op = EN_DOP_SEND_SENDER;
        c.f[0] = pid_field(from);
    } else {
        c.op = EN_DOP_SEND;
        c.f[0] = empty_atom_field();
    }
    c.f[1] = pid_field(to);
    if (!msg)
        return EN_CTRL_EINVAL;
    return put_packet(out, wire, &c);
}

int en_ctrl_reg_send(en_buf_t *out, int wire, const erlang_pid *from,
                     const char *to_name, const char *msg, size_t msg_len)
{
    struct enc_ctrl c = {EN_DOP_REG_SEND, 3,
                         {pid_field(from), empty_atom_field(),
                          atom_field(to_name)},
                         msg, msg_len};
    if (!msg)
        return EN_CTRL_EINVAL;
    return put_packet(out, wire, &c);
}

int en_ctrl_alias_send(en_buf_t *out, int wire, const erlang_pid *from,
                       const erlang_ref *alias, const char *msg,
                       size_t msg_len)
{
    struct enc_ctrl c = {EN_DOP_ALIAS_SEND, 2,
                         {pid_field(from), ref_field(alias)}, msg, msg_len};
    if (!msg)
        return EN_CTRL_EINVAL;
    return put_packet(out, wire, &c);
}

int en_ctrl_link(en_buf_t *out, int wire, const erlang_pid *from,
                 const erlang_pid *to)
{
    struct enc_ctrl c = {EN_DOP_LINK, 2, {pid_field(from), pid_field(to)},
                         NULL, 0};
    return put_packet(out, wire, &c);
}

static int put_unlink_id(en_buf_t *out, int wire, long op,
                         const erlang_pid *from, const erlang_pid *to,
                         uint64_t id)
{
    struct enc_ctrl c = {op, 3,
                         {u64_field(id), pid_field(from), pid_field(to)},
                         NULL, 0};
    if (id == 0) /* P: the id is never 0 */
        return EN_CTRL_EINVAL;
    return put_packet(out, wire, &c);
}

int en_ctrl_unlink_id(en_buf_t *out, int wire, const erlang_pid *from,
                      const erlang_pid *to, uint64_t id)
{
    return put_unlink_id(out, wire, EN_DOP_UNLINK_ID, from, to, id);
}

int en_ctrl_unlink_id_ack(en_buf_t *out, int wire, const erlang_pid *from,
                          const erlang_pid *to, uint64_t id)
{
    return put_unlink_id(out, wire, EN_DOP_UNLINK_ID_ACK, from, to, id);
}

static int put_exit(en_buf_t *out, int wire, long op, const erlang_pid *from,
                    const erlang_pid *to, const char *reason,
                    size_t reason_len)
{
    struct enc_ctrl c = {op, 3,
                         {pid_field(from), pid_field(to),
                          term_field(reason, reason_len)},
                         NULL, 0};
    return put_packet(out, wire, &c);
}

int en_ctrl_exit(en_buf_t *out, int wire, const erlang_pid *from,
                 const erlang_pid *to, const char *reason, size_t reason_len)
{
    return put_exit(out, wire, EN_DOP_EXIT, from, to, reason, reason_len);
}

int en_ctrl_exit2(en_buf_t *out, int wire, const erlang_pid *from,
                  const erlang_pid *to, const char *reason, size_t reason_len)
{
    return put_exit(out, wire, EN_DOP_EXIT2, from, to, reason, reason_len);
}

static int put_monitor(en_buf_t *out, int wire, long op,
                       const erlang_pid *from, const erlang_pid *to_pid,
                       const char *to_name, const erlang_ref *ref)
{
    struct enc_ctrl c = {op, 3, {pid_field(from), {0}, ref_field(ref)},
                         NULL, 0};
    if (proc_field(to_pid, to_name, &c.f[1]) < 0)
        return EN_CTRL_EINVAL;
    return put_packet(out, wire, &c);
}

int en_ctrl_monitor_p(en_buf_t *out, int wire, const erlang_pid *from,
                      const erlang_pid *to_pid, const char *to_name,
                      const erlang_ref *ref)
{
    return put_monitor(out, wire, EN_DOP_MONITOR_P, from, to_pid, to_name,
                       ref);
}

int en_ctrl_demonitor_p(en_buf_t *out, int wire, const erlang_pid *from,
                        const erlang_pid *to_pid, const char *to_name,
                        const erlang_ref *ref)
{
    return put_monitor(out, wire, EN_DOP_DEMONITOR_P, from, to_pid, to_name,
                       ref);
}

int en_ctrl_monitor_p_exit(en_buf_t *out, int wire,
                           const erlang_pid *from_pid, const char *from_name,
                           const erlang_pid *to, const erlang_ref *ref,
                           const char *reason, size_t reason_len)
{
    struct enc_ctrl c = {EN_DOP_MONITOR_P_EXIT, 4,
                         {{0}, pid_field(to), ref_field(ref),
                          term_field(reason, reason_len)},
                         NULL, 0};
    if (proc_field(from_pid, from_name, &c.f[0]) < 0)
        return EN_CTRL_EINVAL;
    return put_packet(out, wire, &c);
}

int en_ctrl_spawn_reply(en_buf_t *out, int wire, const erlang_ref *req_id,
                        const erlang_pid *to, long flags,
                        const char *result, size_t result_len)
{
    struct enc_ctrl c = {EN_DOP_SPAWN_REPLY, 4,
                         {ref_field(req_id), pid_field(to), long_field(flags),
                          term_field(result, result_len)},
                         NULL, 0};
    return put_packet(out, wire, &c);
}
