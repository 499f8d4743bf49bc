/* ctrl.c - decoding distribution messages: the control tuple and its
 * message. The encoders are in ctrl_encode.c, the term bounds checker in
 * term_check.c.
 */
#include "proto/ctrl.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/errmsg.h"
#include "proto/ctrl_int.h"
#include "proto/framing.h"

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
    case EN_CTRL_ECTRLSIZE:
        return "control message over 64 KiB, which cannot be fragmented "
               "(the peer lacks EXIT_PAYLOAD)";
    case EN_CTRL_SKIP: return "nothing to send to this peer";
    default: return "unknown error";
    }
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
    F_RESULT,    /* any term -> spawn_result */
    F_AFLAGS,    /* non-negative integer -> altact_flags (its low byte) */
    F_ATO        /* per altact_flags: ref, atom -> to_name, or pid -> to_pid */
};

/* What may follow the control tuple. */
enum payload_kind {
    P_NONE,   /* nothing */
    P_MSG,    /* a message -> msg */
    P_REASON  /* an exit reason -> msg and reason */
};


struct layout {
    const char *name;
    unsigned char nfields; /* elements after the op */
    unsigned char payload;
    unsigned char fields[FIELDS_MAX];
    unsigned char open;    /* more elements may follow (ALTACT_SIG_SEND) */
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
    [EN_DOP_ALTACT_SIG_SEND] = {"ALTACT_SIG_SEND", 3, P_MSG,
                                {F_AFLAGS, F_FROM, F_ATO}, 1},
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
    case F_AFLAGS: return "Flags (a non-negative integer)";
    case F_ATO: return "To (an alias, a name or a pid, as Flags say)";
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

/* ALTACT_SIG_SEND's Flags: any non-negative integer, of which OTP reads
 * the least significant byte (dist.c), so a peer may add bits and even
 * make it a bignum. */
static int decode_altact_flags(const char *ctrl, size_t ctrl_len, int *idx,
                               en_dmsg_t *m)
{
    const char *term;
    size_t len;

    if (take_term(ctrl, ctrl_len, idx, &term, &len) < 0)
        return -1;
    const uint8_t *t = (const uint8_t *)term;
    switch (t[0]) {
    case ERL_SMALL_INTEGER_EXT:
        m->altact_flags = t[1];
        return 0;
    case ERL_INTEGER_EXT:
        if (t[1] & 0x80) /* negative */
            return -1;
        m->altact_flags = t[4];
        return 0;
    case ERL_SMALL_BIG_EXT: /* 110 N Sign Digits, least significant first */
        if (t[2] != 0)
            return -1;
        m->altact_flags = t[1] > 0 ? t[3] : 0;
        return 0;
    case ERL_LARGE_BIG_EXT: /* 111 N:32 Sign Digits */
        if (t[5] != 0)
            return -1;
        m->altact_flags = en_get32(t + 1) > 0 ? t[6] : 0;
        return 0;
    default:
        return -1;
    }
}

/* ALTACT_SIG_SEND's To: what Flags say it is (dist.c refuses the rest). */
static int decode_altact_to(const char *ctrl, int *idx, en_dmsg_t *m)
{
    unsigned f = m->altact_flags;
    int type, size;

    if (ei_get_type(ctrl, idx, &type, &size) < 0)
        return -1;
    if (f & EN_ALTACT_ALIAS) {
        if (f & EN_ALTACT_NAME)
            return -1;
        m->has_ref = 1;
        return ei_decode_ref(ctrl, idx, &m->ref);
    }
    if (f & EN_ALTACT_NAME) {
        if (!is_atom_type(type))
            return -1;
        m->has_to_name = 1;
        return decode_atom(ctrl, idx, m->to_name);
    }
    m->has_to_pid = 1;
    return ei_decode_pid(ctrl, idx, &m->to_pid);
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
    case F_AFLAGS:
        return decode_altact_flags(ctrl, ctrl_len, idx, m);
    case F_ATO:
        return decode_altact_to(ctrl, idx, m);
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
        en_errf(errbuf, errlen, "control message is not a tuple");
        return EN_CTRL_EMALFORMED;
    }
    if (ei_decode_tuple_header(pp->ctrl, idx, arity) < 0 || *arity < 1) {
        en_errf(errbuf, errlen, "control message is an empty tuple");
        return EN_CTRL_EMALFORMED;
    }
    if (ei_decode_long(pp->ctrl, idx, op) < 0) {
        en_errf(errbuf, errlen,
                  "control message op (first element) is not an integer");
        return EN_CTRL_EMALFORMED;
    }
    return 0;
}

/* What follows the fixed elements of ALTACT_SIG_SEND: the token when
 * Flags announce one, then elements a later OTP may add, skipped. */
static int decode_open_tail(const struct packet_parts *pp, int *idx,
                            int extra, en_dmsg_t *m, const char *name,
                            char *errbuf, size_t errlen)
{
    const char *skipped;
    size_t skipped_len;

    if (m->altact_flags & EN_ALTACT_TOKEN) {
        if (extra < 1) {
            en_errf(errbuf, errlen,
                    "%s control message: Flags announce a token, but the "
                    "tuple ends before it", name);
            return -1;
        }
        if (take_term(pp->ctrl, pp->ctrl_len, idx, &m->token,
                      &m->token_len) < 0)
            return -1;
        extra--;
    }
    while (extra-- > 0)
        if (take_term(pp->ctrl, pp->ctrl_len, idx, &skipped, &skipped_len) < 0)
            return -1; /* not reached: the tuple passed en_term_size() */
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
        en_errf(errbuf, errlen,
                  "unknown control message op %ld (a tuple of %d elements)",
                  op, arity);
        return EN_CTRL_EUNKNOWN;
    }
    if (lay->open ? arity < 1 + lay->nfields : arity != 1 + lay->nfields) {
        en_errf(errbuf, errlen,
                  "%s control message has %d elements; expected %s%d",
                  lay->name, arity, lay->open ? "at least " : "",
                  1 + lay->nfields);
        return EN_CTRL_EMALFORMED;
    }
    for (int i = 0; i < lay->nfields; i++) {
        enum field_kind kind = (enum field_kind)lay->fields[i];
        if (decode_field(pp->ctrl, pp->ctrl_len, &idx, kind, m) < 0) {
            en_errf(errbuf, errlen,
                      "%s control message: element %d is not %s", lay->name,
                      i + 2, field_name(kind));
            return EN_CTRL_EMALFORMED;
        }
    }
    if (lay->open &&
        decode_open_tail(pp, &idx, arity - 1 - lay->nfields, m, lay->name,
                         errbuf, errlen) < 0)
        return EN_CTRL_EMALFORMED;
    /* ei and en_term_size() must agree on where the tuple ends; if they
     * ever did not, the pointers we hand out could not be trusted. */
    if ((size_t)idx != pp->ctrl_len) {
        en_errf(errbuf, errlen, "%s control message: elements end at byte "
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
            en_errf(errbuf, errlen,
                      "%s control message is followed by a term; it takes "
                      "none",
                      lay->name);
            return EN_CTRL_EMALFORMED;
        }
        return 0;
    }
    if (!pp->msg) {
        en_errf(errbuf, errlen, "%s control message without its %s",
                  lay->name, lay->payload == P_REASON ? "reason" : "message");
        return EN_CTRL_EMALFORMED;
    }
    m->msg = pp->msg;
    m->msg_len = pp->msg_len;
    if (lay->payload == P_REASON ||
        (m->op == EN_DOP_ALTACT_SIG_SEND && (m->altact_flags & EN_ALTACT_EXIT))) {
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
            en_errf(errbuf, errlen, "pass-through packet: control message "
                                      "does not start with 131");
            return EN_CTRL_EMALFORMED;
        }
        *start = 2;
        *with_magic = 1;
        return 0;
    }
    if (data[0] != VERSION_MAGIC) {
        en_errf(errbuf, errlen,
                  "packet starts with byte %u; expected 112 (pass-through) "
                  "or 131 (distribution header)",
                  data[0]);
        return EN_CTRL_EMALFORMED;
    }
    if (len < 2) {
        en_errf(errbuf, errlen, "distribution header is truncated");
        return EN_CTRL_EMALFORMED;
    }
    if (data[1] == DIST_FRAG_HEADER || data[1] == DIST_FRAG_CONT) {
        en_errf(errbuf, errlen,
                  "fragmented message (131 %u): fragments are not supported",
                  data[1]);
        return EN_CTRL_EFRAG;
    }
    if (data[1] != DIST_HEADER) {
        en_errf(errbuf, errlen, "unknown distribution header 131 %u",
                  data[1]);
        return EN_CTRL_EMALFORMED;
    }
    if (len < 3) {
        en_errf(errbuf, errlen, "distribution header is truncated");
        return EN_CTRL_EMALFORMED;
    }
    if (data[2] != 0) {
        en_errf(errbuf, errlen,
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
        en_errf(errbuf, errlen, "empty packet (a tick is not a message)");
        return EN_CTRL_EMALFORMED;
    }
    if (len > INT_MAX) { /* ei indexes with int */
        en_errf(errbuf, errlen, "packet of %zu bytes is too large", len);
        return EN_CTRL_EMALFORMED;
    }
    int rc = find_control(data, len, &pos, &with_magic, errbuf, errlen);
    if (rc < 0)
        return rc;

    const char *text = (const char *)data;
    if (en_term_size(text + pos, len - pos, &n, &why) < 0) {
        en_errf(errbuf, errlen, "control message: %s", why);
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
        en_errf(errbuf, errlen,
                  "pass-through packet: message does not start with 131");
        return EN_CTRL_EMALFORMED;
    }
    if (en_term_size(text + pos, len - pos, &n, &why) < 0) {
        en_errf(errbuf, errlen, "message: %s", why);
        return EN_CTRL_EMALFORMED;
    }
    if (pos + n != len) {
        en_errf(errbuf, errlen, "%zu stray bytes after the message",
                  len - pos - n);
        return EN_CTRL_EMALFORMED;
    }
    pp->msg = text + pos;
    pp->msg_len = n;
    return 0;
}

/* The message of a packet decoded in two parts: body is 131 | Msg. */
static int attach_body(const uint8_t *body, size_t body_len,
                       struct packet_parts *pp, char *errbuf, size_t errlen)
{
    const char *why = NULL;
    size_t n;

    if (pp->msg) {
        en_errf(errbuf, errlen, "a message both after the control term and "
                                "apart from it");
        return EN_CTRL_EMALFORMED;
    }
    if (body_len < 1 || body_len > INT_MAX || body[0] != VERSION_MAGIC) {
        en_errf(errbuf, errlen, "message does not start with 131");
        return EN_CTRL_EMALFORMED;
    }
    const char *text = (const char *)body + 1;
    if (en_term_size(text, body_len - 1, &n, &why) < 0) {
        en_errf(errbuf, errlen, "message: %s", why);
        return EN_CTRL_EMALFORMED;
    }
    if (n != body_len - 1) {
        en_errf(errbuf, errlen, "%zu stray bytes after the message",
                body_len - 1 - n);
        return EN_CTRL_EMALFORMED;
    }
    pp->msg = text;
    pp->msg_len = n;
    return 0;
}

static void clear_pid(erlang_pid *pid)
{
    pid->node[0] = '\0';
    pid->num = pid->serial = pid->creation = 0;
}

/* *m as a memset to 0 would leave it, but for the bytes behind the NUL
 * of its names: it holds seven atom-sized arrays (about 7 KiB), and
 * clearing them all was a tenth of a small message's cost. A field added
 * to en_dmsg_t is cleared here too. */
static void clear_dmsg(en_dmsg_t *m)
{
    m->op = 0;
    clear_pid(&m->from);
    m->has_from = 0;
    m->from_name[0] = '\0';
    m->has_from_name = 0;
    clear_pid(&m->to_pid);
    m->has_to_pid = 0;
    m->to_name[0] = '\0';
    m->has_to_name = 0;
    m->ref.node[0] = '\0';
    m->ref.len = 0;
    memset(m->ref.n, 0, sizeof m->ref.n);
    m->ref.creation = 0;
    m->has_ref = 0;
    m->unlink_id = 0;
    clear_pid(&m->group_leader);
    m->has_group_leader = 0;
    m->spawn_module[0] = '\0';
    m->spawn_function[0] = '\0';
    m->spawn_arity = 0;
    m->spawn_flags = 0;
    m->altact_flags = 0;
    m->reason = m->token = m->spawn_opts = m->spawn_result = m->msg = NULL;
    m->reason_len = m->token_len = m->spawn_opts_len = 0;
    m->spawn_result_len = m->msg_len = 0;
}

int en_ctrl_decode_msg(const uint8_t *data, size_t len, const uint8_t *body,
                       size_t body_len, en_dmsg_t *m, char *errbuf,
                       size_t errlen)
{
    struct packet_parts pp;
    const struct layout *lay = NULL;

    clear_dmsg(m);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    int rc = split_packet(data, len, &pp, errbuf, errlen);
    if (rc == 0 && body)
        rc = attach_body(body, body_len, &pp, errbuf, errlen);
    if (rc == 0)
        rc = decode_tuple(&pp, m, &lay, errbuf, errlen);
    if (rc == 0)
        rc = attach_payload(&pp, lay, m, errbuf, errlen);
    if (rc < 0 && rc != EN_CTRL_EUNKNOWN) {
        int op = m->op;
        clear_dmsg(m);
        m->op = op; /* still useful in a log line */
    }
    return rc;
}

int en_ctrl_decode(const uint8_t *data, size_t len, en_dmsg_t *m,
                   char *errbuf, size_t errlen)
{
    return en_ctrl_decode_msg(data, len, NULL, 0, m, errbuf, errlen);
}

