/* bench_proto.c - the messages of ./dev bench (see bench_proto.h). */
#include "bench_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t bench_kind_bytes(bench_kind_t kind)
{
    static const size_t bytes[BENCH_NKINDS] = {0, 1024, 65536, 1048576};
    return kind < BENCH_NKINDS ? bytes[kind] : 0;
}

const char *bench_kind_name(bench_kind_t kind)
{
    static const char *const names[BENCH_NKINDS] = {"small", "bin_1k",
                                                    "bin_64k", "bin_1m"};
    return kind < BENCH_NKINDS ? names[kind] : "?";
}

/* ---- receiving side ------------------------------------------------------ */

/* Keep the first error only: later ones are usually its consequences. */
static void sink_fail(bench_sink_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sink_fail(bench_sink_t *s, const char *fmt, ...)
{
    va_list ap;

    if (s->error[0])
        return;
    va_start(ap, fmt);
    vsnprintf(s->error, sizeof s->error, fmt, ap);
    va_end(ap);
}

/* The list [1,2,3]: Erlang sends it as a string, ei may build a list. */
static int is_one_two_three(const char *buf, int *i)
{
    int type, size, arity;
    long v;

    if (ei_get_type(buf, i, &type, &size) < 0)
        return 0;
    if (type == ERL_STRING_EXT) {
        char s[4];
        return size == 3 && ei_decode_string(buf, i, s) == 0 &&
               memcmp(s, "\1\2\3", 3) == 0;
    }
    if (ei_decode_list_header(buf, i, &arity) < 0 || arity != 3)
        return 0;
    for (long want = 1; want <= 3; want++)
        if (ei_decode_long(buf, i, &v) < 0 || v != want)
            return 0;
    return ei_decode_list_header(buf, i, &arity) == 0 && arity == 0;
}

/* {Seq, Binary}: in order, and counted. */
static void take_binary(bench_sink_t *s, const char *buf, int *i)
{
    long seq;
    int type, size;

    if (ei_decode_long(buf, i, &seq) < 0 ||
        ei_get_type(buf, i, &type, &size) < 0 || type != ERL_BINARY_EXT) {
        sink_fail(s, "message %ld: not {Seq, Binary}", s->count);
        return;
    }
    if (seq != s->count)
        sink_fail(s, "out of order: message %ld carries Seq %ld", s->count,
                  seq);
    s->count++;
    s->bytes += size;
}

static void encode_atom_pair(ei_x_buff *x, const char *tag, long value)
{
    ei_x_new_with_version(x);
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, tag);
    ei_x_encode_long(x, value);
}

/* {bench_done, Result, Count, Bytes}, then counting starts anew. */
static void finish_run(bench_sink_t *s, long sent, long long sent_bytes,
                       ei_x_buff *reply)
{
    if (s->count != sent || s->bytes != sent_bytes)
        sink_fail(s, "got %ld messages and %lld bytes of %ld and %lld sent",
                  s->count, s->bytes, sent, sent_bytes);
    ei_x_new_with_version(reply);
    ei_x_encode_tuple_header(reply, 4);
    ei_x_encode_atom(reply, "bench_done");
    if (s->error[0])
        ei_x_encode_string(reply, s->error);
    else
        ei_x_encode_atom(reply, "ok");
    ei_x_encode_long(reply, s->count);
    ei_x_encode_longlong(reply, s->bytes);
    memset(s, 0, sizeof *s);
}

/* The tuples tagged with an atom: data, marks, ends and pings. */
static int take_tagged(bench_sink_t *s, const char *buf, int *i, int arity,
                       ei_x_buff *reply, erlang_pid *to)
{
    char tag[MAXATOMLEN_UTF8];
    long n, k;
    long long bytes;

    if (ei_decode_atom(buf, i, tag) < 0)
        goto unexpected;
    if (arity == 3 && strcmp(tag, "hello") == 0) {
        if (ei_decode_long(buf, i, &n) < 0 || n != 42 ||
            !is_one_two_three(buf, i))
            goto unexpected;
        s->count++;
        return 0;
    }
    if (arity == 3 && strcmp(tag, "bench_ping") == 0 &&
        ei_decode_pid(buf, i, to) == 0 && ei_decode_long(buf, i, &n) == 0) {
        encode_atom_pair(reply, "bench_pong", n);
        return 1;
    }
    if (arity == 4 && strcmp(tag, "bench_mark") == 0 &&
        ei_decode_pid(buf, i, to) == 0 && ei_decode_long(buf, i, &k) == 0 &&
        ei_decode_long(buf, i, &n) == 0) {
        if (n != s->count)
            sink_fail(s, "at mark %ld: %ld messages sent, %ld received", k, n,
                      s->count);
        encode_atom_pair(reply, "bench_ack", k);
        return 1;
    }
    if (arity == 4 && strcmp(tag, "bench_end") == 0 &&
        ei_decode_pid(buf, i, to) == 0 && ei_decode_long(buf, i, &n) == 0 &&
        ei_decode_longlong(buf, i, &bytes) == 0) {
        finish_run(s, n, bytes, reply);
        return 1;
    }
unexpected:
    sink_fail(s, "unexpected message after %ld messages", s->count);
    return 0;
}

int bench_sink_take(bench_sink_t *s, const char *msg, size_t len,
                    ei_x_buff *reply, erlang_pid *reply_to)
{
    int i = 0, version, arity, type, size;

    (void)len; /* ei decodes within what the term says; enode checked it */
    if (ei_decode_version(msg, &i, &version) < 0 ||
        ei_decode_tuple_header(msg, &i, &arity) < 0) {
        sink_fail(s, "unexpected message after %ld messages", s->count);
        return 0;
    }
    if (arity == 2 && ei_get_type(msg, &i, &type, &size) == 0 &&
        type != ERL_ATOM_EXT && type != ERL_SMALL_ATOM_EXT &&
        type != ERL_ATOM_UTF8_EXT && type != ERL_SMALL_ATOM_UTF8_EXT) {
        take_binary(s, msg, &i);
        return 0;
    }
    return take_tagged(s, msg, &i, arity, reply, reply_to);
}

/* ---- sending side -------------------------------------------------------- */

int bench_payload_init(bench_payload_t *p, bench_kind_t kind)
{
    size_t size = bench_kind_bytes(kind);

    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->seq_at = -1;
    if (ei_x_new_with_version(&p->x) < 0)
        return -1;
    if (kind == BENCH_SMALL) {
        /* As Erlang encodes it: [1,2,3] is a STRING_EXT. */
        ei_x_encode_tuple_header(&p->x, 3);
        ei_x_encode_atom(&p->x, "hello");
        ei_x_encode_long(&p->x, 42);
        return ei_x_encode_string_len(&p->x, "\1\2\3", 3);
    }
    char *data = malloc(size);
    if (!data)
        return -1;
    for (size_t k = 0; k < size; k++)
        data[k] = (char)(k * 7 + 1);
    /* Seq as a fixed-width INTEGER_EXT, so it can be rewritten in place. */
    static const char integer_ext[5] = {ERL_INTEGER_EXT, 0, 0, 0, 0};
    ei_x_encode_tuple_header(&p->x, 2);
    p->seq_at = p->x.index + 1;
    ei_x_append_buf(&p->x, integer_ext, sizeof integer_ext);
    int rc = ei_x_encode_binary(&p->x, data, (long)size);
    free(data);
    return rc;
}

void bench_payload_set_seq(bench_payload_t *p, long seq)
{
    if (p->seq_at < 0)
        return;
    unsigned char *at = (unsigned char *)p->x.buff + p->seq_at;
    at[0] = (unsigned char)(seq >> 24);
    at[1] = (unsigned char)(seq >> 16);
    at[2] = (unsigned char)(seq >> 8);
    at[3] = (unsigned char)seq;
}

void bench_payload_free(bench_payload_t *p)
{
    ei_x_free(&p->x);
}

int bench_encode_mark(ei_x_buff *x, const erlang_pid *from, long k, long sent)
{
    ei_x_new_with_version(x);
    ei_x_encode_tuple_header(x, 4);
    ei_x_encode_atom(x, "bench_mark");
    ei_x_encode_pid(x, from);
    ei_x_encode_long(x, k);
    return ei_x_encode_long(x, sent);
}

int bench_encode_end(ei_x_buff *x, const erlang_pid *from, long sent,
                     long long bytes)
{
    ei_x_new_with_version(x);
    ei_x_encode_tuple_header(x, 4);
    ei_x_encode_atom(x, "bench_end");
    ei_x_encode_pid(x, from);
    ei_x_encode_long(x, sent);
    return ei_x_encode_longlong(x, bytes);
}

int bench_encode_ping(ei_x_buff *x, const erlang_pid *from, long seq)
{
    ei_x_new_with_version(x);
    ei_x_encode_tuple_header(x, 3);
    ei_x_encode_atom(x, "bench_ping");
    ei_x_encode_pid(x, from);
    return ei_x_encode_long(x, seq);
}

/* Result of a bench_done: ok, or anything else printed as text. */
static void decode_result(const char *buf, int *i, bench_reply_t *r)
{
    char atom[MAXATOMLEN_UTF8];
    int at = *i;
    char *text = NULL;

    if (ei_decode_atom(buf, &at, atom) == 0 && strcmp(atom, "ok") == 0) {
        r->ok = 1;
        *i = at;
        return;
    }
    at = *i;
    if (ei_s_print_term(&text, buf, &at) >= 0) {
        snprintf(r->result, sizeof r->result, "%s", text);
        *i = at;
    } else {
        snprintf(r->result, sizeof r->result, "(an unreadable result)");
        ei_skip_term(buf, i);
    }
    free(text);
}

void bench_decode_reply(const char *msg, size_t len, bench_reply_t *r)
{
    int i = 0, version, arity;
    char tag[MAXATOMLEN_UTF8];

    (void)len;
    memset(r, 0, sizeof *r);
    r->type = BENCH_R_OTHER;
    if (ei_decode_version(msg, &i, &version) < 0 ||
        ei_decode_tuple_header(msg, &i, &arity) < 0 ||
        ei_decode_atom(msg, &i, tag) < 0)
        return;
    if (arity == 2 && strcmp(tag, "bench_ack") == 0 &&
        ei_decode_long(msg, &i, &r->k) == 0) {
        r->type = BENCH_R_ACK;
    } else if (arity == 2 && strcmp(tag, "bench_pong") == 0 &&
               ei_decode_long(msg, &i, &r->k) == 0) {
        r->type = BENCH_R_PONG;
    } else if (arity == 4 && strcmp(tag, "bench_done") == 0) {
        decode_result(msg, &i, r);
        if (ei_decode_long(msg, &i, &r->count) == 0 &&
            ei_decode_longlong(msg, &i, &r->bytes) == 0)
            r->type = BENCH_R_DONE;
    }
}
