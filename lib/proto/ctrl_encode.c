/* ctrl_encode.c - encoding distribution messages: one packet per call,
 * the control tuple and its message, in either wire form (proto/ctrl.h).
 */
#include "proto/ctrl.h"

#include <limits.h>
#include <string.h>

#include "proto/ctrl_int.h"
#include "proto/framing.h"

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

/* {Op, From, To} + Reason: PAYLOAD_EXIT and PAYLOAD_EXIT2. */
static int put_payload_exit(en_buf_t *out, int wire, long op,
                            const erlang_pid *from, const erlang_pid *to,
                            const char *reason, size_t reason_len)
{
    struct enc_ctrl c = {op, 2, {pid_field(from), pid_field(to)}, reason,
                         reason_len};
    if (!reason)
        return EN_CTRL_EINVAL;
    return put_packet(out, wire, &c);
}

int en_ctrl_payload_exit(en_buf_t *out, int wire, const erlang_pid *from,
                         const erlang_pid *to, const char *reason,
                         size_t reason_len)
{
    return put_payload_exit(out, wire, EN_DOP_PAYLOAD_EXIT, from, to, reason,
                            reason_len);
}

int en_ctrl_payload_exit2(en_buf_t *out, int wire, const erlang_pid *from,
                          const erlang_pid *to, const char *reason,
                          size_t reason_len)
{
    return put_payload_exit(out, wire, EN_DOP_PAYLOAD_EXIT2, from, to, reason,
                            reason_len);
}

int en_ctrl_payload_monitor_p_exit(en_buf_t *out, int wire,
                                   const erlang_pid *from_pid,
                                   const char *from_name,
                                   const erlang_pid *to,
                                   const erlang_ref *ref, const char *reason,
                                   size_t reason_len)
{
    struct enc_ctrl c = {EN_DOP_PAYLOAD_MONITOR_P_EXIT, 3,
                         {{0}, pid_field(to), ref_field(ref)}, reason,
                         reason_len};
    if (proc_field(from_pid, from_name, &c.f[0]) < 0 || !reason)
        return EN_CTRL_EINVAL;
    return put_packet(out, wire, &c);
}

int en_ctrl_altact_sig_send(en_buf_t *out, int wire, unsigned flags,
                            const erlang_pid *from, const erlang_pid *to_pid,
                            const char *to_name, const erlang_ref *alias,
                            const char *msg, size_t msg_len)
{
    struct enc_ctrl c = {EN_DOP_ALTACT_SIG_SEND, 3,
                         {{0}, pid_field(from), {0}}, msg, msg_len};
    int targets = (to_pid != NULL) + (to_name != NULL) + (alias != NULL);

    if (targets != 1 || !msg || (flags & ~(EN_ALTACT_PRIO | EN_ALTACT_EXIT)))
        return EN_CTRL_EINVAL;
    if (to_pid) {
        c.f[2] = pid_field(to_pid);
    } else if (to_name) {
        c.f[2] = atom_field(to_name);
        flags |= EN_ALTACT_NAME;
    } else {
        c.f[2] = ref_field(alias);
        flags |= EN_ALTACT_ALIAS;
    }
    c.f[0] = long_field((long)flags);
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

int en_ctrl_spawn_request(en_buf_t *out, int wire, const erlang_ref *req_id,
                          const erlang_pid *from,
                          const erlang_pid *group_leader, const char *module,
                          const char *function, long arity, const char *opts,
                          size_t opts_len, const char *args, size_t args_len)
{
    /* {Module, Function, Arity}: two atoms of at most 255 characters,
     * 4 bytes each in UTF-8. */
    char mfa[2 * (MAXATOMLEN_UTF8 + 8) + 16];
    int n = 0;

    if (!args || !module || !function || strlen(module) >= MAXATOMLEN_UTF8 ||
        strlen(function) >= MAXATOMLEN_UTF8 ||
        ei_encode_tuple_header(mfa, &n, 3) < 0 ||
        ei_encode_atom_as(mfa, &n, module, ERLANG_UTF8, ERLANG_UTF8) < 0 ||
        ei_encode_atom_as(mfa, &n, function, ERLANG_UTF8, ERLANG_UTF8) < 0 ||
        ei_encode_long(mfa, &n, arity) < 0)
        return EN_CTRL_EINVAL;
    struct enc_ctrl c = {EN_DOP_SPAWN_REQUEST, 5,
                         {ref_field(req_id), pid_field(from),
                          pid_field(group_leader), term_field(mfa, (size_t)n),
                          term_field(opts, opts_len)},
                         args, args_len};
    return put_packet(out, wire, &c);
}
