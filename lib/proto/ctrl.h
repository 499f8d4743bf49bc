/* ctrl.h - distribution messages: the control tuple and its message.
 *
 * After the handshake, each non-tick packet carries one control tuple
 * (`{Op, ...}`, doc/internals.md section 8), optionally followed by one more
 * term: the message of a send, the reason of a payload exit, the argument
 * list of a spawn request. OTP frames the pair in one of two ways,
 * depending on the negotiated flags (doc/internals.md section 7):
 *
 *   pass-through       112 | 131 Ctrl | 131 Msg   (neither DIST_HDR_ATOM_CACHE
 *                                                  nor FRAGMENTS negotiated)
 *   distribution hdr   131 68 0 | Ctrl | Msg      (FRAGMENTS negotiated; we
 *                                                  never use the atom cache,
 *                                                  so N is always 0)
 *
 * en_ctrl_decode() reads both, and en_ctrl_send() & co. write either.
 * Fragmented messages (131 69 / 131 70) are recognised but not reassembled
 * here: decode returns EN_CTRL_EFRAG for them.
 *
 * Terms are encoded and decoded with ei. ei, however, trusts its input:
 * its decoders take no length and will read past the end of a truncated or
 * lying term. So before ei sees a byte from the peer, en_term_size() walks
 * the term's structure within the packet's bounds (without decoding any
 * value) and refuses anything that would take ei outside them.
 *
 * Message bytes: everywhere in this API a term handed out (msg, reason,
 * token, ...) is the bare external term *without* the 131 version byte,
 * whatever the wire form was. Decode it with ei starting at index 0 and
 * without ei_decode_version():
 *
 *     int i = 0;
 *     ei_decode_tuple_header(m.msg, &i, &arity);
 *
 * en_term_put_versioned() makes a 131-prefixed copy for APIs that want
 * one (ei_print_term after ei_decode_version, binary_to_term, ...).
 * Encoders accept terms with or without the leading 131.
 */
#ifndef ENODE_CTRL_H
#define ENODE_CTRL_H

#include <stddef.h>
#include <stdint.h>

#include <ei.h>

#include "base/buf.h"
#include "proto/dflags.h"

/* Control message operations (dist.h `enum dop`). 5 (NODE_LINK) and the
 * gaps are historical and come back as EN_CTRL_EUNKNOWN. */
enum en_dop {
    EN_DOP_LINK = 1,
    EN_DOP_SEND = 2,
    EN_DOP_EXIT = 3,
    EN_DOP_UNLINK = 4,
    EN_DOP_REG_SEND = 6,
    EN_DOP_GROUP_LEADER = 7,
    EN_DOP_EXIT2 = 8,
    EN_DOP_SEND_TT = 12,
    EN_DOP_EXIT_TT = 13,
    EN_DOP_REG_SEND_TT = 16,
    EN_DOP_EXIT2_TT = 18,
    EN_DOP_MONITOR_P = 19,
    EN_DOP_DEMONITOR_P = 20,
    EN_DOP_MONITOR_P_EXIT = 21,
    EN_DOP_SEND_SENDER = 22,
    EN_DOP_SEND_SENDER_TT = 23,
    EN_DOP_PAYLOAD_EXIT = 24,
    EN_DOP_PAYLOAD_EXIT_TT = 25,
    EN_DOP_PAYLOAD_EXIT2 = 26,
    EN_DOP_PAYLOAD_EXIT2_TT = 27,
    EN_DOP_PAYLOAD_MONITOR_P_EXIT = 28,
    EN_DOP_SPAWN_REQUEST = 29,
    EN_DOP_SPAWN_REQUEST_TT = 30,
    EN_DOP_SPAWN_REPLY = 31,
    EN_DOP_SPAWN_REPLY_TT = 32,
    EN_DOP_ALIAS_SEND = 33,
    EN_DOP_ALIAS_SEND_TT = 34,
    EN_DOP_UNLINK_ID = 35,
    EN_DOP_UNLINK_ID_ACK = 36,
    EN_DOP_ALTACT_SIG_SEND = 37 /* OTP 28 */
};

/* The Flags of ALTACT_SIG_SEND (dist.h ERTS_DOP_ALTACT_SIG_FLG_*). OTP
 * reads the least significant byte of Flags and ignores the bits it does
 * not know; so does en_ctrl_decode(). */
#define EN_ALTACT_PRIO 0x01  /* a priority signal */
#define EN_ALTACT_TOKEN 0x02 /* the tuple has a fifth element, the token */
#define EN_ALTACT_ALIAS 0x04 /* To is an alias (a reference) */
#define EN_ALTACT_NAME 0x08  /* To is a registered name (an atom) */
#define EN_ALTACT_EXIT 0x10  /* an exit signal: the payload is its reason */

/* How a packet is framed on the wire; see the top of this file. */
enum en_wire {
    EN_WIRE_PASSTHROUGH = 0, /* 112 | 131 Ctrl | 131 Msg */
    EN_WIRE_DISTHDR = 1      /* 131 68 0 | Ctrl | Msg    */
};

/* Return codes. */
#define EN_CTRL_OK 0
#define EN_CTRL_EMALFORMED (-1) /* the peer sent garbage: drop the connection */
#define EN_CTRL_EUNKNOWN (-2)   /* well-formed, op not known: log and ignore */
#define EN_CTRL_EFRAG (-3)      /* a fragment (131 69/70): not handled here */
#define EN_CTRL_ENOMEM (-4)     /* encoders: out of memory */
#define EN_CTRL_EINVAL (-5)     /* encoders: bad argument (NULL pid, bad term,
                                   atom too long, unknown wire mode) */
#define EN_CTRL_ETOOBIG (-6)    /* encoders: packet would not fit Len:32 */
#define EN_CTRL_ECTRLSIZE (-7)  /* encoders: a control tuple over 64 KiB to a
                                   peer with FRAGMENTS, which needs it whole
                                   in the first fragment */
#define EN_CTRL_SKIP 1          /* en_ctrl_encode: nothing to send, the peer
                                   takes no such signal (out is unchanged) */

/* A short English description of an EN_CTRL_* code. */
const char *en_ctrl_strerror(int code);

/* One decoded distribution message. Which fields are set depends on op;
 * every has_* flag and pointer not listed for an op is 0/NULL.
 *
 *   op                      from      to              other fields
 *   LINK, UNLINK,
 *   GROUP_LEADER            from      to_pid
 *   SEND                    -         to_pid          msg
 *   SEND_SENDER             from      to_pid          msg
 *   REG_SEND                from      to_name         msg
 *   EXIT, EXIT2             from      to_pid          reason
 *   PAYLOAD_EXIT, _EXIT2    from      to_pid          reason (= msg)
 *   MONITOR_P, DEMONITOR_P  from      to_pid|to_name  ref
 *   MONITOR_P_EXIT          from|from_name  to_pid    ref, reason
 *   PAYLOAD_MONITOR_P_EXIT  from|from_name  to_pid    ref, reason (= msg)
 *   SPAWN_REQUEST           from      -               ref (ReqId),
 *                           group_leader, spawn_module/function/arity,
 *                           spawn_opts, msg (the argument list)
 *   SPAWN_REPLY             -         to_pid          ref (ReqId),
 *                           spawn_flags, spawn_result (pid, or error atom)
 *   ALIAS_SEND              from      -               ref (the alias), msg
 *   UNLINK_ID, _ACK         from      to_pid          unlink_id
 *   ALTACT_SIG_SEND         from      to_pid|to_name  altact_flags, msg;
 *                                     or ref (alias)  with EN_ALTACT_EXIT
 *                                                     reason (= msg); with
 *                                                     EN_ALTACT_TOKEN token
 *   ..._TT variants         as above, plus token
 *
 * from_name is set instead of from when a monitor was set up by name: the
 * monitored process is then named by its registered name.
 *
 * ALTACT_SIG_SEND is {37, Flags, From, To} or, with EN_ALTACT_TOKEN,
 * {37, Flags, From, To, Token}; like OTP, the decoder accepts and skips
 * elements after those (dist.c keeps the tuple open for additions). To
 * is the alias when EN_ALTACT_ALIAS is set, the name when EN_ALTACT_NAME
 * is, else a pid; both at once, a negative Flags or a To of the wrong
 * type is malformed.
 */
typedef struct en_dmsg {
    int op;
    erlang_pid from;
    int has_from;
    char from_name[MAXATOMLEN_UTF8]; /* UTF-8, NUL-terminated */
    int has_from_name;
    erlang_pid to_pid;
    int has_to_pid;
    char to_name[MAXATOMLEN_UTF8];   /* UTF-8, NUL-terminated */
    int has_to_name;
    erlang_ref ref;
    int has_ref;
    uint64_t unlink_id;
    /* SPAWN_REQUEST / SPAWN_REPLY */
    erlang_pid group_leader;
    int has_group_leader;
    char spawn_module[MAXATOMLEN_UTF8];
    char spawn_function[MAXATOMLEN_UTF8];
    long spawn_arity;
    long spawn_flags;                /* SPAWN_REPLY: 1 = link, 2 = monitor */
    unsigned altact_flags;           /* ALTACT_SIG_SEND: EN_ALTACT_* */
    /* Terms as bare ETF (no 131), pointing into the packet; NULL if absent. */
    const char *reason;              /* exit/monitor-exit reason */
    size_t reason_len;
    const char *token;               /* seq_trace token of the _TT ops */
    size_t token_len;
    const char *spawn_opts;          /* SPAWN_REQUEST option list */
    size_t spawn_opts_len;
    const char *spawn_result;        /* SPAWN_REPLY result */
    size_t spawn_result_len;
    const char *msg;                 /* the term after the control tuple */
    size_t msg_len;
} en_dmsg_t;

/* Decodes one packet's data (what follows the 4-byte length; not a tick).
 * On success returns 0 and fills *m; its pointers point into data, so
 * data must outlive them. On failure returns a negative EN_CTRL_* code and,
 * if errbuf is not NULL, writes a NUL-terminated sentence for the log:
 *   EN_CTRL_EMALFORMED  bad framing, malformed term, wrong arity, wrong
 *                       field type, missing or trailing bytes;
 *   EN_CTRL_EUNKNOWN    a well-formed control tuple with an op we do not
 *                       know (m->op holds it): log and drop the message;
 *   EN_CTRL_EFRAG       the packet is a fragment (131 69 or 131 70).
 * Nothing the peer sends makes it read outside data[0..len). */
int en_ctrl_decode(const uint8_t *data, size_t len, en_dmsg_t *m,
                   char *errbuf, size_t errlen);

/* The same for a packet whose message lies apart (en_frag_feed_msg()):
 * data holds the packet up to the end of its control term, body the
 * message with its version byte, 131 | Msg, and m->msg points into
 * body. With body NULL, en_ctrl_decode(). */
int en_ctrl_decode_msg(const uint8_t *data, size_t len, const uint8_t *body,
                       size_t body_len, en_dmsg_t *m, char *errbuf,
                       size_t errlen);

/* Bounds check for one external term (no 131) at buf[0..len): on success
 * returns 0 and sets *term_len to the bytes it occupies. Fails with
 * EN_CTRL_EMALFORMED, and *why set to a static explanation, when the term
 * is truncated, uses a tag ei cannot decode (atom cache refs, compressed
 * terms, LOCAL_EXT, the pre-OTP 23 FUN_EXT, the text FLOAT_EXT that
 * ei reads with sscanf), has a reference with more
 * than 5 ID words, a fun whose size field lies, or an atom OTP would not
 * take: over 255 characters, or (the UTF-8 tags) not valid UTF-8. A term that passes
 * can be decoded or skipped with ei within buf[0..*term_len). Iterative:
 * deep nesting costs no stack (funs nested more than 64 deep excepted,
 * which are refused). */
int en_term_size(const char *buf, size_t len, size_t *term_len,
                 const char **why);

/* Appends 131 followed by term[0..len) (a bare term; a term that already
 * starts with 131 is copied as is). 0, or EN_CTRL_ENOMEM. */
int en_term_put_versioned(en_buf_t *out, const char *term, size_t len);

/* Encoders. Each appends one complete packet, length prefix included, to
 * *out in the given wire mode, or leaves *out unchanged and returns a
 * negative EN_CTRL_* code. Term arguments (msg, reason, result) are one
 * complete external term, with or without the leading 131; they are
 * checked with en_term_size() and copied once, straight into *out. Atom
 * names are UTF-8 and at most 255 characters. */

/* A message to a pid. With send_sender (the peer negotiated SEND_SENDER)
 * and from != NULL: {22, From, To}; otherwise {2, '', To}. */
int en_ctrl_send(en_buf_t *out, int wire, int send_sender,
                 const erlang_pid *from, const erlang_pid *to,
                 const char *msg, size_t msg_len);

/* A message to a registered name on the peer: {6, From, '', ToName}. */
int en_ctrl_reg_send(en_buf_t *out, int wire, const erlang_pid *from,
                     const char *to_name, const char *msg, size_t msg_len);

/* A message to an alias reference: {33, From, Alias}. Only if the peer
 * negotiated ALIAS. */
int en_ctrl_alias_send(en_buf_t *out, int wire, const erlang_pid *from,
                       const erlang_ref *alias, const char *msg,
                       size_t msg_len);

/* {1, From, To} */
int en_ctrl_link(en_buf_t *out, int wire, const erlang_pid *from,
                 const erlang_pid *to);

/* {35, Id, From, To} and {36, Id, From, To}. Id is in [1, 2^64-1]; 0 is
 * refused with EN_CTRL_EINVAL. */
int en_ctrl_unlink_id(en_buf_t *out, int wire, const erlang_pid *from,
                      const erlang_pid *to, uint64_t id);
int en_ctrl_unlink_id_ack(en_buf_t *out, int wire, const erlang_pid *from,
                          const erlang_pid *to, uint64_t id);

/* {3, From, To, Reason}: a linked process exited. */
int en_ctrl_exit(en_buf_t *out, int wire, const erlang_pid *from,
                 const erlang_pid *to, const char *reason, size_t reason_len);

/* {8, From, To, Reason}: exit/2. */
int en_ctrl_exit2(en_buf_t *out, int wire, const erlang_pid *from,
                  const erlang_pid *to, const char *reason,
                  size_t reason_len);

/* {19, From, ToProc, Ref} and {20, From, ToProc, Ref}: ToProc is to_pid,
 * or the registered name to_name; pass exactly one. Only if the peer
 * negotiated DIST_MONITOR and DIST_MONITOR_NAME. */
int en_ctrl_monitor_p(en_buf_t *out, int wire, const erlang_pid *from,
                      const erlang_pid *to_pid, const char *to_name,
                      const erlang_ref *ref);
int en_ctrl_demonitor_p(en_buf_t *out, int wire, const erlang_pid *from,
                        const erlang_pid *to_pid, const char *to_name,
                        const erlang_ref *ref);

/* {21, FromProc, To, Ref, Reason}: the process we monitored for To died.
 * FromProc is from_pid, or from_name if the monitor was by name; pass
 * exactly one. */
int en_ctrl_monitor_p_exit(en_buf_t *out, int wire,
                           const erlang_pid *from_pid, const char *from_name,
                           const erlang_pid *to, const erlang_ref *ref,
                           const char *reason, size_t reason_len);

/* The EXIT_PAYLOAD forms of the three above: the reason follows the
 * control tuple as its payload, so it may be fragmented like any message
 * (a control tuple never is). {24, From, To} + Reason,
 * {26, From, To} + Reason, {28, FromProc, To, Ref} + Reason. */
int en_ctrl_payload_exit(en_buf_t *out, int wire, const erlang_pid *from,
                         const erlang_pid *to, const char *reason,
                         size_t reason_len);
int en_ctrl_payload_exit2(en_buf_t *out, int wire, const erlang_pid *from,
                          const erlang_pid *to, const char *reason,
                          size_t reason_len);
int en_ctrl_payload_monitor_p_exit(en_buf_t *out, int wire,
                                   const erlang_pid *from_pid,
                                   const char *from_name,
                                   const erlang_pid *to,
                                   const erlang_ref *ref, const char *reason,
                                   size_t reason_len);

/* {37, Flags, From, To} + Msg (or + Reason with EN_ALTACT_EXIT): OTP 28's
 * ALTACT_SIG_SEND, only to a peer that negotiated ALTACT_SIG. To is
 * to_pid, to_name or alias (pass exactly one); the encoder sets
 * EN_ALTACT_NAME or EN_ALTACT_ALIAS to match, so flags holds only
 * EN_ALTACT_PRIO and EN_ALTACT_EXIT (tokens are never sent). */
int en_ctrl_altact_sig_send(en_buf_t *out, int wire, unsigned flags,
                            const erlang_pid *from, const erlang_pid *to_pid,
                            const char *to_name, const erlang_ref *alias,
                            const char *msg, size_t msg_len);

/* {31, ReqId, To, Flags, Result}: the answer to a SPAWN_REQUEST. Result is
 * the new pid, or an error atom, as an external term. */
int en_ctrl_spawn_reply(en_buf_t *out, int wire, const erlang_ref *req_id,
                        const erlang_pid *to, long flags,
                        const char *result, size_t result_len);

/* {29, ReqId, From, GroupLeader, {Module, Function, Arity}, Opts} + Args:
 * spawn Module:Function(Args...) on the peer. opts is a list term such as
 * [monitor], args the argument list (Arity is its length, which the
 * caller gives). Only if the peer negotiated SPAWN. */
int en_ctrl_spawn_request(en_buf_t *out, int wire, const erlang_ref *req_id,
                          const erlang_pid *from,
                          const erlang_pid *group_leader, const char *module,
                          const char *function, long arity, const char *opts,
                          size_t opts_len, const char *args, size_t args_len);

/* What a SPAWN_REQUEST names besides the fields of en_sig_t. */
typedef struct en_spawn_sig {
    const erlang_pid *group_leader;
    const char *module, *function;
    long arity;
    const char *opts; /* a list term */
    size_t opts_len;
} en_spawn_sig_t;

/* A signal to send, for en_ctrl_encode(): the op and what it needs.
 *
 *   op                      fields
 *   SEND                    from (may be NULL), to, msg
 *   REG_SEND                from, to_name, msg
 *   ALIAS_SEND              from, ref (the alias), msg
 *   LINK                    from, to
 *   UNLINK_ID, _ACK         from, to, id
 *   EXIT, EXIT2             from, to, msg (the reason)
 *   MONITOR_P, DEMONITOR_P  from, to or to_name, ref
 *   MONITOR_P_EXIT          from or from_name, to, ref, msg (the reason)
 *   SPAWN_REPLY             ref (ReqId), to, flags, msg (the result)
 *   SPAWN_REQUEST           ref (ReqId), from, spawn, msg (the arguments)
 *
 * Terms are with or without their 131, as for the encoders above. */
typedef struct en_sig {
    int op;
    const erlang_pid *from, *to;
    const char *from_name, *to_name;
    const erlang_ref *ref;
    uint64_t id;
    long flags;
    const char *msg;
    size_t msg_len;
    const en_spawn_sig_t *spawn; /* SPAWN_REQUEST */
} en_sig_t;

/* The flags to encode for while a peer's are not known yet (the
 * connection is being set up): every signal is then written in the form
 * that keeps all it carries (SEND_SENDER, the PAYLOAD exits, MONITOR_P,
 * ALIAS_SEND), to be rewritten by en_ctrl_reencode() once they are. */
#define EN_CTRL_FLAGS_PENDING                                                  \
    (EN_DFLAG_SEND_SENDER | EN_DFLAG_EXIT_PAYLOAD | EN_DFLAG_DIST_MONITOR |    \
     EN_DFLAG_DIST_MONITOR_NAME | EN_DFLAG_ALIAS)

/* Appends the packet for sig to *out in the form a peer that negotiated
 * peer_flags takes, the form OTP's dist.c picks for the same flags:
 *
 *   SEND            SEND_SENDER when the peer has SEND_SENDER and the
 *                   sender is known, else SEND;
 *   EXIT, EXIT2,    PAYLOAD_EXIT, PAYLOAD_EXIT2, PAYLOAD_MONITOR_P_EXIT
 *   MONITOR_P_EXIT  when the peer has EXIT_PAYLOAD, else the old forms;
 *   ALIAS_SEND      ALTACT_SIG_SEND when the peer has ALTACT_SIG, ALIAS_SEND
 *                   when it has ALIAS, else nothing (the alias cannot
 *                   exist there);
 *   MONITOR_P,      nothing unless the peer has DIST_MONITOR and
 *   DEMONITOR_P,    DIST_MONITOR_NAME: the monitor then only watches the
 *   MONITOR_P_EXIT  connection;
 *
 * the other ops in their only form. Returns 0, EN_CTRL_SKIP when there is
 * nothing to send, or what the encoder returns, and also
 * EN_CTRL_ECTRLSIZE when the peer has FRAGMENTS and the control tuple is
 * over 64 KiB (the packet could not be fragmented; only the old forms
 * with a large reason or result come near), EN_CTRL_EINVAL for an op it
 * does not send. On failure and on EN_CTRL_SKIP, *out is unchanged. */
int en_ctrl_encode(en_buf_t *out, int wire, uint64_t peer_flags,
                   const en_sig_t *sig);

/* Re-encodes one packet written by en_ctrl_encode() (Len:32 included, any
 * wire form, any flags, EN_CTRL_FLAGS_PENDING in particular) for a peer
 * that negotiated peer_flags, appending it to *out in the given wire
 * form: it is decoded and encoded again, so every choice above is made
 * afresh (a PAYLOAD exit may become an old one, a MONITOR_P may go).
 * Returns what en_ctrl_encode() returns, or EN_CTRL_EMALFORMED (with a
 * sentence in errbuf) if pkt is not such a packet. */
int en_ctrl_reencode(en_buf_t *out, int wire, uint64_t peer_flags,
                     const uint8_t *pkt, size_t len, char *errbuf,
                     size_t errlen);

#endif
