/* call.c - gen:call from C, and gen:call requests to C.
 *
 * enode_call() speaks the protocol of gen_server:call/3: monitor the
 * server, send {'$gen_call', {Self, Ref}, Request}, then wait for
 * {Ref, Reply} or for the DOWN of the monitor, so that a dead server or
 * an unreachable node is an error, not a hang. Other messages that arrive
 * meanwhile stay in the mailbox, in order.
 *
 * The other side: a mailbox that receives {'$gen_call', {Pid, Tag}, Req}
 * answers with enode_gen_reply(), which sends {Tag, Reply} with the tag
 * copied as it came: to the alias when the tag is [alias | Alias] (what
 * OTP 24 and later send), as gen:reply/2 does, else to Pid.
 */
#include "proc/mbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int en_parse_gen_call(const char *buf, size_t len, erlang_pid *caller,
                      int *tag_at, int *tag_len, int *req_at)
{
    char atom[MAXATOMLEN_UTF8];
    int i = 0, arity, end;

    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 3 ||
        ei_decode_atom(buf, &i, atom) < 0 || strcmp(atom, "$gen_call") != 0 ||
        ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 2 ||
        ei_decode_pid(buf, &i, caller) < 0)
        return -1;
    *tag_at = i;
    if (ei_skip_term(buf, &i) < 0 || (size_t)i > len)
        return -1;
    *tag_len = i - *tag_at;
    *req_at = i;
    end = i;
    return ei_skip_term(buf, &end) < 0 || (size_t)end > len ? -1 : 0;
}

/* The alias in a gen:call tag [alias | Alias] or [[alias | Alias] | _]
 * (gen.erl since OTP 24: the reply goes to the alias, which the caller
 * deactivates when it stops waiting, so a late reply is dropped). */
static int tag_alias(const char *tag, erlang_ref *alias)
{
    char atom[MAXATOMLEN_UTF8];
    int i = 0, arity, type, size;

    for (int depth = 0; depth < 2; depth++) {
        if (ei_decode_list_header(tag, &i, &arity) < 0 || arity < 1)
            return 0;
        if (ei_get_type(tag, &i, &type, &size) < 0)
            return 0;
        if (type != ERL_LIST_EXT)
            break; /* [alias | Alias] itself */
    }
    return arity == 1 && ei_decode_atom(tag, &i, atom) == 0 &&
           strcmp(atom, "alias") == 0 && ei_decode_ref(tag, &i, alias) == 0;
}

int en_gen_reply_locked(en_proc_t *p, const erlang_pid *self,
                        const erlang_pid *caller, const char *tag,
                        int tag_len, const char *reply, size_t reply_len)
{
    ei_x_buff x;
    erlang_ref alias;
    int rc = ENODE_ENOMEM;

    en_skip_version(&reply, &reply_len);
    if (ei_x_new_with_version(&x) < 0)
        return ENODE_ENOMEM;
    if (ei_x_encode_tuple_header(&x, 2) == 0 &&
        ei_x_append_buf(&x, tag, tag_len) == 0 &&
        ei_x_append_buf(&x, reply, (int)reply_len) == 0)
        rc = tag_alias(tag, &alias)
                 ? en_alias_send_locked(p, self, &alias, x.buff,
                                        (size_t)x.index)
                 : en_send_locked(p, self, caller, x.buff, (size_t)x.index);
    ei_x_free(&x);
    return rc;
}

int enode_gen_call_parse(const enode_msg_t *msg, enode_from_t *from,
                         int *request_index)
{
    int tag_at, tag_len, req_at;

    if (msg->msg.index < 2 || (unsigned char)msg->msg.buff[0] != 131 ||
        en_parse_gen_call(msg->msg.buff + 1, (size_t)msg->msg.index - 1,
                          &from->pid, &tag_at, &tag_len, &req_at) < 0 ||
        tag_len > (int)sizeof from->tag)
        return 0;
    memcpy(from->tag, msg->msg.buff + 1 + tag_at, (size_t)tag_len);
    from->tag_len = tag_len;
    *request_index = 1 + req_at;
    return 1;
}

int enode_gen_reply(enode_mbox_t *mb, const enode_from_t *from,
                    const ei_x_buff *reply)
{
    if (!from || !reply || reply->index <= 0)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(mb));
    int rc = en_gen_reply_locked(mb->proc, &mb->pid, &from->pid, from->tag,
                                 from->tag_len, reply->buff,
                                 (size_t)reply->index);
    pthread_mutex_unlock(en_mbox_lock(mb));
    return rc;
}

/* ---- calling ---------------------------------------------------------------- */

/* The ref at buf[*i], compared with want. */
static int ref_at(const char *buf, int *i, const erlang_ref *want)
{
    erlang_ref r;
    return ei_decode_ref(buf, i, &r) == 0 && en_ref_eq(&r, want);
}

static int tuple_arity(const char *term, int len)
{
    int i = 1, arity;
    if (len < 2 || ei_decode_tuple_header(term, &i, &arity) < 0)
        return -1;
    return arity;
}

/* {Ref, Reply} for our call. */
static int is_reply(const char *term, int len, void *ud)
{
    int i = 1, arity;
    return tuple_arity(term, len) == 2 &&
           ei_decode_tuple_header(term, &i, &arity) == 0 &&
           ref_at(term, &i, ud);
}

/* {'DOWN', Ref, process, _, _} of our call's monitor. */
static int is_down(const char *term, int len, void *ud)
{
    char atom[MAXATOMLEN_UTF8];
    int i = 1, arity;
    return tuple_arity(term, len) == 5 &&
           ei_decode_tuple_header(term, &i, &arity) == 0 &&
           ei_decode_atom(term, &i, atom) == 0 &&
           strcmp(atom, "DOWN") == 0 && ref_at(term, &i, ud);
}

static int is_answer(const char *term, int len, void *ud)
{
    return is_reply(term, len, ud) || is_down(term, len, ud);
}

/* Drop the monitor, and a DOWN it may have queued already. */
static void demonitor_flush(enode_mbox_t *mb, const erlang_ref *ref)
{
    enode_msg_t m;
    enode_demonitor(mb, ref);
    if (en_receive_match(mb, is_down, (void *)ref, &m, 0) == 0)
        enode_msg_free(&m);
}

static int send_request(enode_mbox_t *mb, const erlang_pid *to,
                        const char *name, const char *node_name,
                        const erlang_ref *ref, const ei_x_buff *request)
{
    ei_x_buff x;
    const char *q = request->buff;
    size_t qlen = (size_t)request->index;
    int rc = ENODE_ENOMEM;

    en_skip_version(&q, &qlen);
    if (ei_x_new_with_version(&x) < 0)
        return ENODE_ENOMEM;
    if (ei_x_encode_tuple_header(&x, 3) == 0 &&
        ei_x_encode_atom(&x, "$gen_call") == 0 &&
        ei_x_encode_tuple_header(&x, 2) == 0 &&
        ei_x_encode_pid(&x, enode_mbox_pid(mb)) == 0 &&
        ei_x_encode_ref(&x, ref) == 0 && ei_x_append_buf(&x, q, (int)qlen) == 0)
        rc = to ? enode_send(mb, to, &x)
                : enode_reg_send(mb, node_name, name, &x);
    ei_x_free(&x);
    return rc;
}

/* The answer is {Ref, Reply}: move Reply into *reply. */
static int take_reply(enode_msg_t *m, ei_x_buff *reply)
{
    int i = 1, arity;

    ei_decode_tuple_header(m->msg.buff, &i, &arity);
    ei_skip_term(m->msg.buff, &i);
    if (ei_x_new_with_version(reply) < 0)
        return ENODE_ENOMEM;
    if (ei_x_append_buf(reply, m->msg.buff + i, m->msg.index - i) < 0) {
        ei_x_free(reply);
        return ENODE_ENOMEM;
    }
    return 0;
}

/* The answer is a DOWN: the server is gone; say why. */
static int server_down(enode_mbox_t *mb, enode_msg_t *m, const char *what)
{
    char *reason = NULL;
    int i = 1, arity;

    ei_decode_tuple_header(m->msg.buff, &i, &arity);
    for (int k = 0; k < 4; k++)
        ei_skip_term(m->msg.buff, &i);
    ei_s_print_term(&reason, m->msg.buff, &i);
    en_core_error(mb->proc->core, "call to %s: the server is down (%s)",
                  what, reason ? reason : "?");
    int rc = reason && strcmp(reason, "noconnection") == 0 ? ENODE_ECONN
                                                           : ENODE_ENOTFOUND;
    free(reason);
    return rc;
}

int enode_call(enode_mbox_t *mb, const erlang_pid *to, const char *name,
               const char *node_name, const ei_x_buff *request,
               ei_x_buff *reply, int timeout_ms)
{
    erlang_ref ref;
    enode_msg_t m;
    char what[2 * MAXATOMLEN_UTF8 + 16];
    int rc;

    if ((!to && !name) || !request || request->index <= 0 || !reply)
        return ENODE_EINVAL;
    snprintf(what, sizeof what, "%.1020s%s%.1020s", to ? to->node : name,
             to ? "" : " on ", to ? "" : node_name ? node_name : "this node");
    rc = to ? enode_monitor(mb, to, &ref)
            : enode_monitor_name(mb, name, node_name, &ref);
    if (rc == 0)
        rc = send_request(mb, to, name, node_name, &ref, request);
    if (rc < 0)
        return rc;
    rc = en_receive_match(mb, is_answer, &ref, &m, timeout_ms);
    if (rc < 0) {
        demonitor_flush(mb, &ref);
        if (rc == ENODE_ETIMEOUT) {
            en_core_error(mb->proc->core, "call to %s: no reply in %d ms",
                          what, timeout_ms);
        }
        return rc;
    }
    if (is_reply(m.msg.buff, m.msg.index, &ref)) {
        rc = take_reply(&m, reply);
        demonitor_flush(mb, &ref);
    } else {
        rc = server_down(mb, &m, what);
    }
    enode_msg_free(&m);
    return rc;
}
