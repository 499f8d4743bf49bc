/* user.c - `user`, the io server of this node.
 *
 * Every Erlang process has a group leader, the io server its output goes
 * to, and a process spawned on another node needs a pid for one. The
 * calls this node makes with enode_rpc_call() run under this service, as
 * calls from an Erlang node run under the caller's group leader, and it
 * is registered as `user`, as on an Erlang node.
 *
 * It speaks the io protocol (OTP's io_protocol guide): a request
 * {io_request, From, ReplyAs, Request} is answered {io_reply, ReplyAs,
 * Reply}. A C node has no terminal: output (put_chars) goes to the log at
 * info level and is answered ok, input (get_chars, get_line, get_until)
 * is at its end (eof), and the rest is {error, request}. Without an
 * answer, a function that prints would wait forever.
 */
#include "svc/rpc.h"

#include <stdlib.h>
#include <string.h>

/* The term at t[*i] as text, into a buffer the caller frees. */
static char *text_of(const char *t, int *i)
{
    char *s = NULL;
    if (ei_s_print_term(&s, t, i) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* Log the output of a put_chars request whose n arguments start at
 * req[i]: [Encoding,] Chars or [Encoding,] M, F, A (the call that would
 * format them: io:format sends io_lib:format and its arguments). Log
 * lines are short: long output is cut. */
static void log_output(en_proc_t *p, const erlang_pid *from, const char *req,
                       int i, int n)
{
    char bytes[512], *t[3] = {NULL, NULL, NULL};
    int type, size, at;
    long blen;

    if (n == 2 || n == 4) {
        ei_skip_term(req, &i); /* the encoding */
        n--;
    }
    at = i;
    if (n == 1 && ei_get_type(req, &at, &type, &size) == 0 &&
        type == ERL_BINARY_EXT && size < (int)sizeof bytes &&
        ei_decode_binary(req, &at, bytes, &blen) == 0) {
        while (blen > 0 && bytes[blen - 1] == '\n')
            blen--;
        en_core_log(p->core, ENODE_LOG_INFO, "output from %s: %.*s",
                    from->node, (int)blen, bytes);
        return;
    }
    for (int k = 0; k < n && k < 3; k++)
        t[k] = text_of(req, &i);
    if (n == 3)
        en_core_log(p->core, ENODE_LOG_INFO, "output from %s: %.100s:%.100s(%.300s)",
                    from->node, t[0] ? t[0] : "?", t[1] ? t[1] : "?",
                    t[2] ? t[2] : "?");
    else
        en_core_log(p->core, ENODE_LOG_INFO, "output from %s: %.400s",
                    from->node, t[0] ? t[0] : "?");
    for (int k = 0; k < 3; k++)
        free(t[k]);
}

/* The reply to one request at req[*i], whose term it skips: ok, eof or
 * {error, request}, as an atom; "" for {error, request}. */
static const char *answer(en_proc_t *p, const erlang_pid *from,
                          const char *req, int *i)
{
    char op[MAXATOMLEN_UTF8];
    int at = *i, arity = 0, type, size;

    if (ei_get_type(req, &at, &type, &size) < 0 || ei_skip_term(req, i) < 0)
        return "";
    if (ei_decode_tuple_header(req, &at, &arity) < 0 ||
        ei_decode_atom(req, &at, op) < 0)
        return "";
    if (strcmp(op, "put_chars") == 0 && arity >= 2 && arity <= 5) {
        log_output(p, from, req, at, arity - 1);
        return "ok";
    }
    if (strncmp(op, "get_", 4) == 0 && strcmp(op, "get_geometry") != 0)
        return "eof";
    if (strcmp(op, "requests") == 0 && arity == 2 &&
        ei_decode_list_header(req, &at, &size) == 0) {
        const char *last = "ok";
        for (int k = 0; k < size && strcmp(last, "ok") == 0; k++)
            last = answer(p, from, req, &at);
        return last;
    }
    return "";
}

static void user(void *ud, en_mbox_t *self, const erlang_pid *sender,
                 const char *msg, size_t len)
{
    en_proc_t *p = ud;
    char atom[MAXATOMLEN_UTF8];
    erlang_pid from;
    int i = 0, arity, reply_at, reply_end;
    ei_x_buff x;

    (void)sender;
    if (ei_decode_tuple_header(msg, &i, &arity) < 0 || arity != 4 ||
        ei_decode_atom(msg, &i, atom) < 0 ||
        strcmp(atom, "io_request") != 0 || ei_decode_pid(msg, &i, &from) < 0)
        return; /* not the io protocol: nothing to answer */
    reply_at = reply_end = i;
    if (ei_skip_term(msg, &reply_end) < 0 || (size_t)reply_end > len)
        return;
    i = reply_end;
    const char *reply = answer(p, &from, msg, &i);
    if ((size_t)i > len || ei_x_new_with_version(&x) < 0)
        return;
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "io_reply");
    ei_x_append_buf(&x, msg + reply_at, reply_end - reply_at);
    if (*reply) {
        ei_x_encode_atom(&x, reply);
    } else {
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "error");
        ei_x_encode_atom(&x, "request");
    }
    en_send_locked(p, en_mbox_self(self), &from, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

int en_user_start(en_proc_t *p, en_mbox_t **out)
{
    return en_service_new(p, "user", user, p, out);
}
