/* fragment.c - fragmented distribution messages, both directions.
 *
 * Receiving keeps, per live sequence, the `131 68 0 | Ctrl` head and,
 * apart from it, the message received so far behind a version byte,
 * reserved at the size the first fragment announces, so completing a
 * message is handing these buffers out: nothing is copied twice, and the
 * message's buffer is never moved by a reallocation (doubling from a
 * small buffer costs copies, and twice the message's size at the peak).
 * Live sequences sit in a small open-addressing hash table keyed on
 * SeqId (linear probing, backward-shift deletion), so a peer with many
 * senders costs no linear scans.
 */
#include "proto/fragment.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errmsg.h"
#include "base/spare.h"
#include "proto/ctrl.h"
#include "proto/framing.h"

#define VERSION_MAGIC 131
#define DIST_HEADER 68
#define DIST_FRAG_HEADER 69
#define DIST_FRAG_CONT 70

/* The plain header each reassembled message starts with. */
static const uint8_t plain_header[] = {VERSION_MAGIC, DIST_HEADER, 0};
#define PLAIN_HDR_LEN sizeof plain_header

#define SLOTS_MIN 8

struct en_frag_seq {
    uint64_t seq_id;
    uint64_t next_frag; /* FragId the next 131 70 must carry; 0: slot free */
    size_t total;       /* bytes so far, counted as 131 68 0 | Ctrl | Msg */
    size_t frag_len;    /* when apart: the first fragment's data bytes */
    int apart;          /* the message goes to body, not msg */
    en_buf_t msg;       /* 131 68 0 | Ctrl, then (unless apart) the rest */
    en_buf_t body;      /* when apart: 131, then the message so far */
};

/* ------------------------------------------------------------------ */
/* The table of live sequences                                          */
/* ------------------------------------------------------------------ */

/* SeqIds are pid words whose low bits vary little; mix them (the
 * splitmix64 finaliser) before masking. */
static size_t home_slot(uint64_t seq_id, size_t nslots)
{
    uint64_t z = seq_id;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (size_t)z & (nslots - 1);
}

static int slot_is_free(const struct en_frag_seq *s)
{
    return s->next_frag == 0;
}

/* The live sequence seq_id, or NULL. */
static struct en_frag_seq *seq_find(const en_frag_table_t *t, uint64_t seq_id)
{
    if (t->nslots == 0)
        return NULL;
    size_t mask = t->nslots - 1;
    for (size_t i = home_slot(seq_id, t->nslots);; i = (i + 1) & mask) {
        struct en_frag_seq *s = &t->slots[i];
        if (slot_is_free(s))
            return NULL;
        if (s->seq_id == seq_id)
            return s;
    }
}

/* The free slot in slots[0..nslots) where seq_id belongs; the caller
 * knows that seq_id is not there and that there is room. */
static struct en_frag_seq *free_slot_for(struct en_frag_seq *slots,
                                         size_t nslots, uint64_t seq_id)
{
    size_t mask = nslots - 1;
    size_t i = home_slot(seq_id, nslots);
    while (!slot_is_free(&slots[i]))
        i = (i + 1) & mask;
    return &slots[i];
}

/* Makes sure one more sequence fits with the table at most half full,
 * which keeps probe runs short. 0 or -1 (out of memory). */
static int table_make_room(en_frag_table_t *t)
{
    if (t->nslots && (t->live + 1) * 2 <= t->nslots)
        return 0;
    size_t n = t->nslots ? t->nslots : SLOTS_MIN / 2;
    if (n > SIZE_MAX / 2 / sizeof *t->slots)
        return -1;
    n *= 2;
    struct en_frag_seq *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->nslots; i++)
        if (!slot_is_free(&t->slots[i]))
            *free_slot_for(slots, n, t->slots[i].seq_id) = t->slots[i];
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return 0;
}

/* Empties slot s and closes the gap, so that every remaining entry stays
 * reachable from its home slot without a run of tombstones. */
static void slot_clear(en_frag_table_t *t, struct en_frag_seq *s)
{
    size_t mask = t->nslots - 1;
    size_t hole = (size_t)(s - t->slots);
    for (size_t j = (hole + 1) & mask; !slot_is_free(&t->slots[j]);
         j = (j + 1) & mask) {
        size_t home = home_slot(t->slots[j].seq_id, t->nslots);
        /* Entry j may fill the hole unless its home lies cyclically in
         * (hole, j]: then moving it before its home would hide it. */
        int stays =
            hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        t->slots[hole] = t->slots[j];
        hole = j;
    }
    memset(&t->slots[hole], 0, sizeof t->slots[hole]);
    t->live--;
}

/* Forgets a live sequence and what it received. */
static void seq_discard(en_frag_table_t *t, struct en_frag_seq *s)
{
    t->pending -= s->msg.cap + s->body.cap;
    t->held -= s->total;
    en_buf_free(&s->msg);
    en_buf_free(&s->body);
    slot_clear(t, s);
}

static int seq_nomem(const struct en_frag_seq *s, size_t size, char *err,
                     size_t errlen)
{
    en_errf(err, errlen,
            "out of memory growing fragmented message %#" PRIx64
            " to %zu bytes",
            s->seq_id, size);
    return EN_FRAG_ENOMEM;
}

/* Makes room for extra more bytes in b, one of s's buffers. */
static int seq_reserve(en_frag_table_t *t, struct en_frag_seq *s, en_buf_t *b,
                       size_t extra, char *err, size_t errlen)
{
    size_t old_cap = b->cap;
    if (en_buf_reserve(b, extra) < 0)
        return seq_nomem(s, b->len + extra, err, errlen);
    t->pending += b->cap - old_cap;
    return 0;
}

/* The bytes to reserve in a message apart for `now` bytes that are in
 * hand and the `after` fragments still due behind them, `counted` bytes
 * being held already (this message's and every other unfinished one's,
 * as max_message bounds them together, so that many sequences announcing
 * huge messages reserve no more than one could hold): as if
 * all but the last were as full as the first (frag_len) and the last
 * fitted in EN_FRAG_BODY_ROOM. OTP fills every fragment but the last,
 * and a message of N times 64 KiB leaves a last fragment of a few bytes,
 * so a message of two fragments is not reserved at twice its size.
 * Within max_message (and EN_FRAG_PRESIZE_MAX) and never below now. */
static size_t body_room(const en_frag_table_t *t, size_t frag_len,
                        size_t counted, size_t now, uint64_t after)
{
    size_t most = t->max_message - counted + EN_FRAG_BODY_ROOM;
    if (most > EN_FRAG_PRESIZE_MAX)
        most = EN_FRAG_PRESIZE_MAX;
    if (now >= most)
        return now; /* over the limit: seq_append() refuses it */
    size_t want = most;
    if (after == 0)
        want = now + EN_FRAG_BODY_ROOM;
    else if (after - 1 <= (uint64_t)((most - now) / frag_len))
        want = now + (size_t)(after - 1) * frag_len + EN_FRAG_BODY_ROOM;
    if (want > most)
        want = most;
    return want > now ? want : now;
}

/* Grows s's body to take len more bytes and what the fragments still due
 * after them announce, at that size exactly: en_buf_reserve() would round
 * up to a power of two, twice a large message's size at worst. */
static int body_grow(en_frag_table_t *t, struct en_frag_seq *s, size_t len,
                     char *err, size_t errlen)
{
    en_buf_t *b = &s->body;
    if (b->cap - b->len >= len)
        return 0;
    size_t extra = body_room(t, s->frag_len, t->held, len, s->next_frag - 1);
    if (extra > SIZE_MAX - b->len)
        return seq_nomem(s, SIZE_MAX, err, errlen);
    uint8_t *p = realloc(b->data, b->len + extra);
    if (!p)
        return seq_nomem(s, b->len + extra, err, errlen);
    t->pending += b->len + extra - b->cap;
    b->data = p;
    b->cap = b->len + extra;
    return 0;
}

/* Appends one fragment's data to a live sequence, within max_message. */
static int seq_append(en_frag_table_t *t, struct en_frag_seq *s,
                      const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (len > t->max_message - s->total) {
        en_errf(err, errlen,
                  "fragmented message %#" PRIx64 " would grow to %zu bytes, "
                  "over the limit of %zu bytes",
                  s->seq_id, s->total + len, t->max_message);
        return EN_FRAG_ETOOBIG;
    }
    /* Each message within the limit is not enough: a peer could keep
     * many of them half sent. Together they get one message's worth. */
    if (len > t->max_message - t->held) {
        en_errf(err, errlen,
                "%zu unfinished fragmented messages would hold %zu bytes "
                "together, over the limit of %zu bytes",
                t->live, t->held + len, t->max_message);
        return EN_FRAG_ETOOBIG;
    }
    en_buf_t *b = s->apart ? &s->body : &s->msg;
    int rc = s->apart ? body_grow(t, s, len, err, errlen)
                      : seq_reserve(t, s, b, len, err, errlen);
    if (rc < 0)
        return rc;
    en_buf_append(b, data, len); /* cannot fail: the room is there */
    s->total += len;
    t->held += len;
    return 0;
}

/* Sets s up to gather the message apart from the control term, when the
 * first fragment (data[0..len) after its header) holds the whole control
 * term. Otherwise (a broken peer) the message stays behind the control
 * term, and en_ctrl_decode() will say what is wrong with it. */
static int seq_start_apart(en_frag_table_t *t, struct en_frag_seq *s,
                           uint64_t frags, const uint8_t *data, size_t len,
                           size_t *ctrl_len, char *err, size_t errlen)
{
    size_t n;
    if (en_term_size((const char *)data, len, &n, NULL) < 0 ||
        n > t->max_message - s->total) {
        *ctrl_len = len;
        return 0;
    }
    s->frag_len = len;
    size_t want = 1 + body_room(t, len, t->held + n, len - n, frags - 1), got;
    void *spare = en_spare_take(want, &got);
    if (spare) { /* pages a message before used: no faults */
        s->body.data = spare;
        s->body.cap = got;
        t->pending += got;
    } else {
        if (!(s->body.data = malloc(want)))
            return seq_nomem(s, want, err, errlen);
        s->body.cap = want;
        t->pending += want;
    }
    en_buf_put8(&s->body, VERSION_MAGIC); /* room reserved just above */
    *ctrl_len = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                            */
/* ------------------------------------------------------------------ */

void en_frag_init(en_frag_table_t *t, size_t max_message)
{
    memset(t, 0, sizeof *t);
    t->max_message = max_message;
    en_buf_init(&t->done);
    en_buf_init(&t->done_body);
}

void en_frag_set_max_sequences(en_frag_table_t *t, size_t max)
{
    t->max_sequences = max;
}

void en_frag_free(en_frag_table_t *t)
{
    size_t max_sequences = t->max_sequences;

    for (size_t i = 0; i < t->nslots; i++) {
        en_buf_free(&t->slots[i].msg);
        en_buf_free(&t->slots[i].body);
    }
    free(t->slots);
    en_buf_free(&t->done);
    en_buf_free(&t->done_body);
    en_frag_init(t, t->max_message);
    t->max_sequences = max_sequences;
}

size_t en_frag_pending_bytes(const en_frag_table_t *t)
{
    return t->pending;
}

size_t en_frag_held_bytes(const en_frag_table_t *t)
{
    return t->held;
}

/* Hands the finished sequence's buffers out as the completed message. */
static int complete(en_frag_table_t *t, struct en_frag_seq *s,
                    en_frag_msg_t *out)
{
    t->pending -= s->msg.cap + s->body.cap;
    t->held -= s->total;
    t->done = s->msg;
    t->done_body = s->body;
    en_buf_init(&s->msg);
    en_buf_init(&s->body);
    slot_clear(t, s);
    if (t->done_body.len == 1) /* no message after the control term */
        en_buf_free(&t->done_body);
    out->head = t->done.data;
    out->head_len = t->done.len;
    out->body = t->done_body.len ? &t->done_body : NULL;
    return EN_FRAG_COMPLETE;
}

/* 131 69 SeqId FragId N | data */
static int feed_first(en_frag_table_t *t, uint64_t seq_id, uint64_t frag_id,
                      const uint8_t *data, size_t len, en_frag_msg_t *out,
                      char *err, size_t errlen)
{
    uint8_t atoms = data[EN_FRAG_FIRST_HDR_LEN - 1];
    if (atoms != 0) {
        en_errf(err, errlen,
                  "first fragment of message %#" PRIx64 " uses %u atom "
                  "cache references; this node never negotiates the atom "
                  "cache",
                  seq_id, atoms);
        return EN_FRAG_EPROTO;
    }
    struct en_frag_seq *live = seq_find(t, seq_id);
    if (live) {
        seq_discard(t, live);
        en_errf(err, errlen,
                  "first fragment of message %#" PRIx64 " arrived while "
                  "that message was still being received",
                  seq_id);
        return EN_FRAG_EPROTO;
    }
    /* A message in one fragment (FragId 1) is whole at once and stays
     * open for no one. */
    if (t->max_sequences && frag_id > 1 && t->live >= t->max_sequences) {
        en_errf(err, errlen,
                "first fragment of message %#" PRIx64 " would open %zu "
                "fragmented messages at once, over the limit of %zu",
                seq_id, t->live + 1, t->max_sequences);
        return EN_FRAG_ETOOMANY;
    }
    if (table_make_room(t) < 0) {
        en_errf(err, errlen,
                  "out of memory starting fragmented message "
                  "%#" PRIx64,
                  seq_id);
        return EN_FRAG_ENOMEM;
    }

    struct en_frag_seq *s = free_slot_for(t->slots, t->nslots, seq_id);
    memset(s, 0, sizeof *s);
    s->seq_id = seq_id;
    s->next_frag = frag_id; /* makes the slot live: decremented below */
    t->live++;
    const uint8_t *rest = data + EN_FRAG_FIRST_HDR_LEN;
    size_t rest_len = len - EN_FRAG_FIRST_HDR_LEN, ctrl_len = rest_len;
    int rc = seq_append(t, s, plain_header, PLAIN_HDR_LEN, err, errlen);
    if (rc == 0 && frag_id > 1)
        rc = seq_start_apart(t, s, frag_id, rest, rest_len, &ctrl_len, err,
                             errlen);
    if (rc == 0)
        rc = seq_append(t, s, rest, ctrl_len, err, errlen);
    s->apart = s->body.len > 0;
    if (rc == 0)
        rc = seq_append(t, s, rest + ctrl_len, rest_len - ctrl_len, err,
                        errlen);
    if (rc < 0) {
        seq_discard(t, s);
        return rc;
    }
    if (--s->next_frag == 0)
        return complete(t, s, out);
    return EN_FRAG_PENDING;
}

/* 131 70 SeqId FragId | data */
static int feed_next(en_frag_table_t *t, uint64_t seq_id, uint64_t frag_id,
                     const uint8_t *data, size_t len, en_frag_msg_t *out,
                     char *err, size_t errlen)
{
    struct en_frag_seq *s = seq_find(t, seq_id);
    if (!s) {
        en_errf(err, errlen,
                  "fragment %" PRIu64 " of message %#" PRIx64 " arrived "
                  "without a first fragment",
                  frag_id, seq_id);
        return EN_FRAG_EPROTO;
    }
    if (frag_id != s->next_frag) {
        en_errf(err, errlen,
                  "fragment %" PRIu64 " of message %#" PRIx64 " arrived "
                  "when fragment %" PRIu64 " was due",
                  frag_id, seq_id, s->next_frag);
        seq_discard(t, s);
        return EN_FRAG_EPROTO;
    }
    int rc = seq_append(t, s, data + EN_FRAG_CONT_HDR_LEN,
                        len - EN_FRAG_CONT_HDR_LEN, err, errlen);
    if (rc < 0) {
        seq_discard(t, s);
        return rc;
    }
    if (--s->next_frag == 0)
        return complete(t, s, out);
    return EN_FRAG_PENDING;
}

/* Checks the fixed part of a fragment header; sets *first. */
static int check_header(const uint8_t *data, size_t len, int *first, char *err,
                        size_t errlen)
{
    if (len < 2 || data[0] != VERSION_MAGIC ||
        (data[1] != DIST_FRAG_HEADER && data[1] != DIST_FRAG_CONT)) {
        en_errf(err, errlen,
                  "packet of %zu bytes is not a fragment: a "
                  "fragment starts with 131 69 or 131 70",
                  len);
        return EN_FRAG_EPROTO;
    }
    *first = data[1] == DIST_FRAG_HEADER;
    size_t need = *first ? EN_FRAG_FIRST_HDR_LEN : EN_FRAG_CONT_HDR_LEN;
    if (len < need) {
        en_errf(err, errlen,
                  "fragment header is truncated: %zu of %zu bytes (131 %u)",
                  len, need, data[1]);
        return EN_FRAG_EPROTO;
    }
    if (en_get64(data + 10) == 0) {
        en_errf(err, errlen,
                  "fragment of message %#" PRIx64 " has FragId 0; FragIds "
                  "count down to 1",
                  en_get64(data + 2));
        return EN_FRAG_EPROTO;
    }
    return 0;
}

int en_frag_feed_msg(en_frag_table_t *t, const uint8_t *data, size_t len,
                     en_frag_msg_t *out, char *err, size_t errlen)
{
    int first;

    /* The previous message is the caller's no longer. */
    en_buf_free(&t->done);
    en_buf_free(&t->done_body);
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';

    int rc = check_header(data, len, &first, err, errlen);
    if (rc < 0)
        return rc;
    uint64_t seq_id = en_get64(data + 2);
    uint64_t frag_id = en_get64(data + 10);
    if (first)
        return feed_first(t, seq_id, frag_id, data, len, out, err, errlen);
    return feed_next(t, seq_id, frag_id, data, len, out, err, errlen);
}

int en_frag_feed(en_frag_table_t *t, const uint8_t *data, size_t len,
                 const uint8_t **msg, size_t *msg_len, char *err, size_t errlen)
{
    en_frag_msg_t m;
    int rc = en_frag_feed_msg(t, data, len, &m, err, errlen);

    *msg = NULL;
    *msg_len = 0;
    if (rc != EN_FRAG_COMPLETE)
        return rc;
    if (m.body) { /* join: the message follows the control term */
        int joined = en_buf_append(&t->done, m.body->data + 1,
                                   m.body->len - 1);
        en_buf_free(&t->done_body);
        if (joined < 0) {
            en_buf_free(&t->done);
            en_errf(err, errlen, "out of memory joining a fragmented "
                                 "message of %zu bytes", t->max_message);
            return EN_FRAG_ENOMEM;
        }
    }
    *msg = t->done.data;
    *msg_len = t->done.len;
    return EN_FRAG_COMPLETE;
}

/* ------------------------------------------------------------------ */
/* Sending                                                              */
/* ------------------------------------------------------------------ */

static void put32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64_at(uint8_t *p, uint64_t v)
{
    put32_at(p, (uint32_t)(v >> 32));
    put32_at(p + 4, (uint32_t)v);
}

/* Checks that packet is `Len:32 | 131 68 0 | Ctrl | Msg` with Len right
 * and Ctrl well formed; returns Ctrl's length, or 0 if anything is off. */
static size_t header_packet_ctrl_len(const uint8_t *packet, size_t len)
{
    const size_t head = EN_FRAME_HDR_LEN + PLAIN_HDR_LEN;
    if (!packet || len < head || en_get32(packet) != len - EN_FRAME_HDR_LEN ||
        memcmp(packet + EN_FRAME_HDR_LEN, plain_header, PLAIN_HDR_LEN) != 0)
        return 0;
    size_t ctrl_len;
    if (en_term_size((const char *)packet + head, len - head, &ctrl_len, NULL) <
        0)
        return 0;
    return ctrl_len;
}

/* Writes the header of one fragment packet carrying len bytes, ending at
 * p (where its data starts). */
static void put_fragment_header(uint8_t *p, int first, uint64_t seq_id,
                                uint64_t frag_id, size_t len)
{
    size_t hdr = first ? EN_FRAG_FIRST_HDR_LEN : EN_FRAG_CONT_HDR_LEN;
    uint8_t *h = p - hdr - EN_FRAME_HDR_LEN;

    put32_at(h, (uint32_t)(hdr + len));
    h += EN_FRAME_HDR_LEN;
    *h++ = VERSION_MAGIC;
    *h++ = first ? DIST_FRAG_HEADER : DIST_FRAG_CONT;
    put64_at(h, seq_id);
    put64_at(h + 8, frag_id);
    if (first)
        h[16] = 0; /* no atom cache references */
}

/* The packet is cut where it lies: buf grows by the headers the fragments
 * add, and the pieces of the body move towards the end, the last one
 * first. Piece k (from 0) moves by 16 + 22k bytes (the k + 1 fragment
 * headers in front of it, less the 7 bytes of `Len 131 68 0`), so
 * neither it nor its header lands on a piece that has not moved yet.
 * Nothing is copied twice, and a message of many megabytes needs no
 * second buffer. */
int en_frag_split_tail(en_buf_t *buf, size_t at, uint64_t seq_id,
                       size_t frag_size)
{
    const size_t head = EN_FRAME_HDR_LEN + PLAIN_HDR_LEN;
    if (at > buf->len || frag_size == 0)
        return EN_CTRL_EINVAL;
    size_t packet_len = buf->len - at;
    size_t ctrl_len = header_packet_ctrl_len(buf->data + at, packet_len);
    if (ctrl_len == 0)
        return EN_CTRL_EINVAL;
    size_t body_len = packet_len - head;
    if (body_len <= frag_size)
        return 0;
    if (ctrl_len > frag_size)
        return EN_CTRL_EINVAL;
    if (frag_size > UINT32_MAX - EN_FRAG_FIRST_HDR_LEN)
        return EN_CTRL_ETOOBIG;

    /* Measured before anything moves, so a failure leaves buf as it was.
     * body_len < 2^32, so nothing here overflows a 64-bit count. */
    uint64_t frags = (body_len - 1) / frag_size + 1;
    uint64_t total = (uint64_t)body_len + EN_FRAG_FIRST_HDR_LEN +
                     frags * EN_FRAME_HDR_LEN +
                     (frags - 1) * EN_FRAG_CONT_HDR_LEN;
    if (total > SIZE_MAX - at || en_buf_reserve(buf, (size_t)total -
                                                         packet_len) < 0)
        return EN_CTRL_ENOMEM;

    uint8_t *base = buf->data + at;
    const size_t first_head = EN_FRAME_HDR_LEN + EN_FRAG_FIRST_HDR_LEN;
    const size_t cont_head = EN_FRAME_HDR_LEN + EN_FRAG_CONT_HDR_LEN;
    for (uint64_t k = frags; k-- > 0;) {
        size_t from = head + (size_t)k * frag_size;
        size_t n = k + 1 == frags ? body_len - (size_t)k * frag_size
                                  : frag_size;
        size_t to = first_head + (size_t)k * (frag_size + cont_head);
        memmove(base + to, base + from, n);
        put_fragment_header(base + to, k == 0, seq_id, frags - k, n);
    }
    buf->len = at + (size_t)total;
    return 0;
}

int en_frag_split(en_buf_t *out, const uint8_t *packet, size_t packet_len,
                  uint64_t seq_id, size_t frag_size)
{
    size_t at = out->len;

    if (!packet || frag_size == 0 ||
        header_packet_ctrl_len(packet, packet_len) == 0)
        return EN_CTRL_EINVAL;
    if (en_buf_append(out, packet, packet_len) < 0)
        return EN_CTRL_ENOMEM;
    int rc = en_frag_split_tail(out, at, seq_id, frag_size);
    if (rc < 0)
        out->len = at;
    return rc;
}
