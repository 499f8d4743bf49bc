/* handshake.c - the distribution handshake state machine.
 *
 * Initiator (A):  send_name 'N'  ->  status 's'  [-> 's' "true" on alive]
 *                 -> challenge 'N'  ->  reply 'r'  ->  ack 'a'
 * Acceptor (B):   name 'N' or 'n'  ->  status  [<- "true"/"false"]
 *                 -> challenge 'N'  [<- 'c' after 'n']  <- 'r'  -> 'a'
 *
 * Each incoming message is checked in full before any field is used;
 * every length comes from the frame, never from trust in the peer.
 * Facts and sources: doc/internals.md section 5 (OTP 25 dist_util.erl).
 */
#include "proto/handshake.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/md5.h>
#include <wolfssl/wolfcrypt/random.h>

#include "proto/dflags.h"

/* What the machine waits for next. */
enum step {
    STEP_START,          /* initiator: en_hs_start() not called yet */
    STEP_I_STATUS,       /* initiator: 's' */
    STEP_I_CHALLENGE,    /* initiator: 'N' challenge */
    STEP_I_ACK,          /* initiator: 'a' */
    STEP_A_NAME,         /* acceptor: 'N' or 'n' */
    STEP_A_ALIVE_ANSWER, /* acceptor: 's' "true" or "false" */
    STEP_A_COMPLEMENT,   /* acceptor: 'c', after a v5 'n' */
    STEP_A_REPLY,        /* acceptor: 'r' */
    STEP_END
};

/* Fixed parts of the messages, tag included. */
#define SEND_NAME_FIXED 15 /* 'N' Flags:64 Creation:32 Nlen:16 */
#define NAME_V5_FIXED   7  /* 'n' Version:16 Flags:32 */
#define CHALLENGE_FIXED 19 /* 'N' Flags:64 Challenge:32 Creation:32 Nlen:16 */
#define COMPLEMENT_LEN  9  /* 'c' FlagsHigh:32 Creation:32 */
#define REPLY_LEN       21 /* 'r' Challenge:32 Digest:16 */
#define ACK_LEN         17 /* 'a' Digest:16 */

/* ---- errors ------------------------------------------------------------ */

/* vsnprintf behind a function, because peer names may be long and a
 * message cut short is fine: gcc's -Wformat-truncation would flag every
 * direct snprintf of a name into a message buffer. */
static void format_text(char *dst, size_t cap, const char *fmt, va_list ap)
{
    vsnprintf(dst, cap, fmt, ap);
}

static void fail(en_hs_t *hs, enum en_hs_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(en_hs_t *hs, enum en_hs_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_text(hs->errmsg, sizeof hs->errmsg, fmt, ap);
    va_end(ap);
    hs->err = err;
    hs->state = EN_HS_FAILED;
    hs->step = STEP_END;
}

/* Who we are talking to, for messages: its own word once it gave it. */
static const char *peer(const en_hs_t *hs)
{
    if (hs->peer_name[0])
        return hs->peer_name;
    if (hs->role == EN_HS_INITIATOR)
        return hs->dialled_name;
    return "the connecting peer";
}

/* Copy peer-supplied text into dst for a message: printable ASCII only,
 * so a hostile peer cannot put control bytes into our logs. */
static void printable(char *dst, size_t dstlen, const uint8_t *src,
                      size_t n)
{
    size_t i = 0;
    for (; i < n && i + 1 < dstlen; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
    dst[i] = '\0';
}

const char *en_hs_err_name(enum en_hs_err err)
{
    switch (err) {
    case EN_HS_ERR_NONE:        return "none";
    case EN_HS_ERR_CONFIG:      return "config";
    case EN_HS_ERR_INTERNAL:    return "internal";
    case EN_HS_ERR_PROTOCOL:    return "protocol";
    case EN_HS_ERR_NAME:        return "name";
    case EN_HS_ERR_FLAGS:       return "flags";
    case EN_HS_ERR_COOKIE:      return "cookie";
    case EN_HS_ERR_NOK:         return "nok";
    case EN_HS_ERR_NOT_ALLOWED: return "not_allowed";
    case EN_HS_ERR_ABANDONED:   return "abandoned";
    case EN_HS_ERR_CLOSED:      return "closed";
    case EN_HS_ERR_TIMEOUT:     return "timeout";
    }
    return "unknown";
}

/* ---- helpers ----------------------------------------------------------- */

void en_hs_digest(const char *cookie, uint32_t challenge, uint8_t digest[16])
{
    /* The cookie text followed by the unsigned decimal challenge, no
     * separator (dist_util:gen_digest/2; ei uses "%u"). */
    char number[16];
    int n = snprintf(number, sizeof number, "%u", (unsigned)challenge);
    wc_Md5 md5;
    wc_InitMd5(&md5);
    wc_Md5Update(&md5, (const byte *)cookie, (word32)strlen(cookie));
    wc_Md5Update(&md5, (const byte *)number, (word32)n);
    wc_Md5Final(&md5, digest);
    wc_Md5Free(&md5);
}

/* Compare digests without an early exit, so timing says nothing about
 * how much of a guess was right. */
static bool digest_equal(const uint8_t *a, const uint8_t *b)
{
    uint8_t diff = 0;
    for (int i = 0; i < 16; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

static int default_random32(uint32_t *value)
{
    WC_RNG rng;
    if (wc_InitRng(&rng) != 0)
        return -1;
    int rc = wc_RNG_GenerateBlock(&rng, (byte *)value, sizeof *value);
    wc_FreeRng(&rng);
    return rc == 0 ? 0 : -1;
}

static int new_challenge(en_hs_t *hs)
{
    if (hs->random32) {
        hs->our_challenge = hs->random32(hs->ud);
        return 0;
    }
    if (default_random32(&hs->our_challenge) < 0) {
        fail(hs, EN_HS_ERR_INTERNAL,
             "cannot make a handshake challenge: wolfCrypt RNG failed");
        return -1;
    }
    return 0;
}

/* A full node name is Alive@Host with neither part empty; OTP splits at
 * the first '@' (net_kernel:split_node). */
static bool is_full_node_name(const char *name, size_t len)
{
    const char *at = memchr(name, '@', len);
    return at && at != name && at + 1 != name + len;
}

/* Copy a peer-supplied name of n bytes into dst; false if it cannot be a
 * C string of EN_HS_NAME_MAX or holds control bytes.  Names end up in
 * error messages and logs, so a peer must not smuggle escapes in them. */
static bool take_name(char *dst, const uint8_t *src, size_t n)
{
    if (n == 0 || n >= EN_HS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (src[i] < 0x20 || src[i] == 0x7f)
            return false;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return true;
}

static void say(char *msg, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    format_text(msg, cap, fmt, ap);
    va_end(ap);
}

/* If the peer lacks any required flag, write "<peer> lacks mandatory
 * distribution flags: A, B" to msg and return true. */
static bool missing_flags(const en_hs_t *hs, uint64_t required,
                          uint64_t have, char *msg, size_t cap)
{
    uint64_t missing = required & ~have;
    if (!missing)
        return false;
    char names[EN_HS_ERRMSG_MAX];
    en_dflags_names(missing, names, sizeof names);
    say(msg, cap, "%s lacks mandatory distribution flags: %s", peer(hs),
        names);
    return true;
}

/* As missing_flags(), but fails the handshake. */
static bool lacks_flags(en_hs_t *hs, uint64_t required, uint64_t have)
{
    char msg[EN_HS_ERRMSG_MAX];
    if (!missing_flags(hs, required, have, msg, sizeof msg))
        return false;
    fail(hs, EN_HS_ERR_FLAGS, "%s", msg);
    return true;
}

/* ---- output ------------------------------------------------------------ */

/* Every handshake message is framed by a 2- or 4-byte length. */
static int put_frame_len(en_hs_t *hs, en_buf_t *out, size_t n)
{
    if (hs->lenbytes == 2)
        return en_buf_put16(out, (uint16_t)n);
    return en_buf_put32(out, (uint32_t)n);
}

static int out_failed(en_hs_t *hs)
{
    fail(hs, EN_HS_ERR_INTERNAL, "out of memory while writing to %s",
         peer(hs));
    return -1;
}

static int send_status(en_hs_t *hs, en_buf_t *out, const char *text)
{
    size_t n = strlen(text);
    int rc = put_frame_len(hs, out, 1 + n);
    rc |= en_buf_put8(out, 's');
    rc |= en_buf_append(out, text, n);
    return rc ? out_failed(hs) : 0;
}

static int send_name(en_hs_t *hs, en_buf_t *out)
{
    size_t n = strlen(hs->self_name);
    int rc = put_frame_len(hs, out, SEND_NAME_FIXED + n);
    rc |= en_buf_put8(out, 'N');
    rc |= en_buf_put64(out, hs->self_flags);
    rc |= en_buf_put32(out, hs->self_creation);
    rc |= en_buf_put16(out, (uint16_t)n);
    rc |= en_buf_append(out, hs->self_name, n);
    return rc ? out_failed(hs) : 0;
}

static int send_challenge(en_hs_t *hs, en_buf_t *out)
{
    if (new_challenge(hs) < 0)
        return -1;
    size_t n = strlen(hs->self_name);
    int rc = put_frame_len(hs, out, CHALLENGE_FIXED + n);
    rc |= en_buf_put8(out, 'N');
    rc |= en_buf_put64(out, hs->self_flags);
    rc |= en_buf_put32(out, hs->our_challenge);
    rc |= en_buf_put32(out, hs->self_creation);
    rc |= en_buf_put16(out, (uint16_t)n);
    rc |= en_buf_append(out, hs->self_name, n);
    return rc ? out_failed(hs) : 0;
}

/* 'r': our own challenge for the peer, and our answer to its one. */
static int send_reply(en_hs_t *hs, en_buf_t *out, uint32_t peer_challenge)
{
    if (new_challenge(hs) < 0)
        return -1;
    uint8_t digest[16];
    en_hs_digest(hs->cookie, peer_challenge, digest);
    int rc = put_frame_len(hs, out, REPLY_LEN);
    rc |= en_buf_put8(out, 'r');
    rc |= en_buf_put32(out, hs->our_challenge);
    rc |= en_buf_append(out, digest, sizeof digest);
    return rc ? out_failed(hs) : 0;
}

static int send_ack(en_hs_t *hs, en_buf_t *out, uint32_t peer_challenge)
{
    uint8_t digest[16];
    en_hs_digest(hs->cookie, peer_challenge, digest);
    int rc = put_frame_len(hs, out, ACK_LEN);
    rc |= en_buf_put8(out, 'a');
    rc |= en_buf_append(out, digest, sizeof digest);
    return rc ? out_failed(hs) : 0;
}

/* ---- setup ------------------------------------------------------------- */

static int copy_config_string(en_hs_t *hs, char *dst, size_t cap,
                              const char *src, const char *what,
                              bool node_name)
{
    size_t n = src ? strlen(src) : 0;
    if (!src || (node_name && !is_full_node_name(src, n))) {
        fail(hs, EN_HS_ERR_CONFIG, "handshake config: %s must be %s", what,
             node_name ? "a full node name such as a@host" : "set");
        return -1;
    }
    if (n >= cap) {
        fail(hs, EN_HS_ERR_CONFIG,
             "handshake config: %s is %zu bytes, the limit is %zu", what, n,
             cap - 1);
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

int en_hs_init(en_hs_t *hs, const en_hs_config_t *cfg)
{
    memset(hs, 0, sizeof *hs);
    hs->state = EN_HS_RUNNING;
    hs->role = cfg->role;
    hs->lenbytes = cfg->lenbytes;
    hs->self_creation = cfg->self_creation;
    hs->self_flags = cfg->self_flags;
    hs->required_flags = cfg->required_flags;
    hs->resolve = cfg->resolve;
    hs->allowed = cfg->allowed;
    hs->random32 = cfg->random32;
    hs->ud = cfg->ud;

    if (cfg->role != EN_HS_INITIATOR && cfg->role != EN_HS_ACCEPTOR) {
        fail(hs, EN_HS_ERR_CONFIG, "handshake config: unknown role %d",
             (int)cfg->role);
        return -1;
    }
    if (cfg->lenbytes != 2 && cfg->lenbytes != 4) {
        fail(hs, EN_HS_ERR_CONFIG,
             "handshake config: lenbytes is %u, must be 2 (TCP) or 4 (TLS)",
             cfg->lenbytes);
        return -1;
    }
    if (copy_config_string(hs, hs->self_name, sizeof hs->self_name,
                           cfg->self_name, "self_name", true) < 0 ||
        copy_config_string(hs, hs->cookie, sizeof hs->cookie, cfg->cookie,
                           "cookie", false) < 0)
        return -1;
    if (cfg->role == EN_HS_INITIATOR) {
        if (copy_config_string(hs, hs->dialled_name, sizeof hs->dialled_name,
                               cfg->dialled_name, "dialled_name", true) < 0)
            return -1;
        hs->step = STEP_START;
    } else {
        hs->step = STEP_A_NAME;
    }
    return 0;
}

int en_hs_start(en_hs_t *hs, en_buf_t *out)
{
    if (hs->state != EN_HS_RUNNING)
        return -1;
    if (hs->role == EN_HS_ACCEPTOR)
        return 0;
    if (hs->step != STEP_START) {
        fail(hs, EN_HS_ERR_CONFIG, "handshake with %s started twice",
             peer(hs));
        return -1;
    }
    if (send_name(hs, out) < 0)
        return -1;
    hs->step = STEP_I_STATUS;
    return 0;
}

enum en_hs_status en_hs_simultaneous_status(const char *self_name,
                                            const char *peer_name)
{
    /* strcmp compares as unsigned char: UTF-8 byte order is code point
     * order, which is how erts orders atoms. */
    return strcmp(self_name, peer_name) > 0 ? EN_HS_STATUS_NOK
                                            : EN_HS_STATUS_OK_SIMULTANEOUS;
}

/* ---- initiator --------------------------------------------------------- */

static bool status_is(const uint8_t *text, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(text, word, n) == 0;
}

static void on_status(en_hs_t *hs, const uint8_t *m, size_t n, en_buf_t *out)
{
    const uint8_t *text = m + 1;
    size_t tlen = n - 1;

    if (status_is(text, tlen, "ok")) {
        hs->step = STEP_I_CHALLENGE;
    } else if (status_is(text, tlen, "ok_simultaneous")) {
        hs->simultaneous = true;
        hs->step = STEP_I_CHALLENGE;
    } else if (status_is(text, tlen, "alive")) {
        /* The peer still has a connection to us.  We are the live end of
         * this attempt, so confirm; the peer then drops the old one. */
        if (send_status(hs, out, "true") < 0)
            return;
        hs->replace_old = true;
        hs->step = STEP_I_CHALLENGE;
    } else if (status_is(text, tlen, "nok")) {
        fail(hs, EN_HS_ERR_NOK,
             "%s refused the connection (status nok): its own simultaneous "
             "connection attempt to us wins",
             peer(hs));
    } else if (status_is(text, tlen, "not_allowed")) {
        fail(hs, EN_HS_ERR_NOT_ALLOWED,
             "%s refused the connection (status not_allowed): its allow "
             "list (net_kernel:allow/1) does not hold our node name, or it "
             "requires distribution flags we do not set",
             peer(hs));
    } else if (tlen >= 6 && memcmp(text, "named:", 6) == 0) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "%s sent status named: (a dynamic node name) but we did not ask "
             "for one",
             peer(hs));
    } else {
        char shown[40];
        printable(shown, sizeof shown, text, tlen);
        fail(hs, EN_HS_ERR_PROTOCOL, "%s sent an unknown status \"%s\"",
             peer(hs), shown);
    }
}

static void on_challenge(en_hs_t *hs, const uint8_t *m, size_t n,
                         en_buf_t *out)
{
    if (m[0] != 'N' || n < CHALLENGE_FIXED) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "malformed challenge from %s: %zu bytes, tag 0x%02x (want 'N' "
             "and at least %d bytes)",
             peer(hs), n, m[0], CHALLENGE_FIXED);
        return;
    }
    uint64_t flags = en_get64(m + 1);
    uint32_t challenge = en_get32(m + 9);
    uint32_t creation = en_get32(m + 13);
    size_t nlen = en_get16(m + 17);
    /* Bytes after the name are ignored, as OTP does for 'N'. */
    if (nlen > n - CHALLENGE_FIXED) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "malformed challenge from %s: name length %zu exceeds the "
             "message",
             peer(hs), nlen);
        return;
    }
    char name[EN_HS_NAME_MAX];
    if (!take_name(name, m + CHALLENGE_FIXED, nlen)) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "malformed challenge from %s: bad node name of %zu bytes",
             peer(hs), nlen);
        return;
    }
    if (strcmp(name, hs->dialled_name) != 0) {
        char shown[EN_HS_ERRMSG_MAX / 2];
        printable(shown, sizeof shown, m + CHALLENGE_FIXED, nlen);
        fail(hs, EN_HS_ERR_NAME,
             "dialled %s but the node that answered is %s", hs->dialled_name,
             shown);
        return;
    }
    memcpy(hs->peer_name, name, nlen + 1);
    hs->peer_flags = en_dflags_expand(flags);
    hs->peer_creation = creation;
    if (lacks_flags(hs, hs->required_flags, hs->peer_flags))
        return;
    hs->flags = hs->self_flags & hs->peer_flags;
    if (send_reply(hs, out, challenge) < 0)
        return;
    hs->step = STEP_I_ACK;
}

static void on_ack(en_hs_t *hs, const uint8_t *m, size_t n)
{
    if (n != ACK_LEN) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "malformed challenge ack from %s: %zu bytes, want %d", peer(hs),
             n, ACK_LEN);
        return;
    }
    uint8_t expected[16];
    en_hs_digest(hs->cookie, hs->our_challenge, expected);
    if (!digest_equal(m + 1, expected)) {
        fail(hs, EN_HS_ERR_COOKIE,
             "cookie mismatch with %s (its challenge ack digest is wrong)",
             peer(hs));
        return;
    }
    hs->state = EN_HS_DONE;
    hs->step = STEP_END;
}

/* ---- acceptor ---------------------------------------------------------- */

/* Parse 'N' (v6) or 'n' (v5) into peer_name/peer_flags/peer_creation.
 * Returns 0, or -1 after fail(). */
static int parse_name_msg(en_hs_t *hs, const uint8_t *m, size_t n,
                          const uint8_t **name, size_t *nlen)
{
    if (m[0] == 'N' && n >= SEND_NAME_FIXED) {
        hs->peer_flags = en_get64(m + 1);
        hs->peer_creation = en_get32(m + 9);
        *nlen = en_get16(m + 13);
        *name = m + SEND_NAME_FIXED;
        if (*nlen > n - SEND_NAME_FIXED) {
            fail(hs, EN_HS_ERR_PROTOCOL,
                 "malformed send_name from %s: name length %zu exceeds the "
                 "message",
                 peer(hs), *nlen);
            return -1;
        }
        return 0; /* trailing bytes after the name are ignored (P) */
    }
    if (m[0] == 'n' && n >= NAME_V5_FIXED) {
        uint16_t version = en_get16(m + 1);
        if (version < 5) {
            fail(hs, EN_HS_ERR_PROTOCOL,
                 "%s speaks distribution version %u; 5 or later is needed",
                 peer(hs), version);
            return -1;
        }
        hs->peer_used_v5 = true;
        hs->peer_flags = en_get32(m + 3); /* high half comes in 'c' */
        *name = m + NAME_V5_FIXED;
        *nlen = n - NAME_V5_FIXED; /* the name runs to the end */
        return 0;
    }
    fail(hs, EN_HS_ERR_PROTOCOL,
         "malformed send_name from %s: %zu bytes, tag 0x%02x (want 'N' or "
         "'n')",
         peer(hs), n, m[0]);
    return -1;
}

/* Send the verdict on the attempt and move on, or fail. */
static void answer_status(en_hs_t *hs, enum en_hs_status status,
                          en_buf_t *out)
{
    switch (status) {
    case EN_HS_STATUS_OK:
    case EN_HS_STATUS_OK_SIMULTANEOUS:
        hs->simultaneous = status == EN_HS_STATUS_OK_SIMULTANEOUS;
        if (send_status(hs, out, hs->simultaneous ? "ok_simultaneous" : "ok")
                < 0 ||
            send_challenge(hs, out) < 0)
            return;
        hs->step = hs->peer_used_v5 ? STEP_A_COMPLEMENT : STEP_A_REPLY;
        return;
    case EN_HS_STATUS_ALIVE:
        if (send_status(hs, out, "alive") < 0)
            return;
        hs->step = STEP_A_ALIVE_ANSWER;
        return;
    case EN_HS_STATUS_NOK:
        if (send_status(hs, out, "nok") == 0)
            fail(hs, EN_HS_ERR_NOK,
                 "refused %s (sent nok): our own simultaneous connection "
                 "attempt to it wins",
                 peer(hs));
        return;
    case EN_HS_STATUS_NOT_ALLOWED:
        if (send_status(hs, out, "not_allowed") == 0)
            fail(hs, EN_HS_ERR_NOT_ALLOWED,
                 "refused %s (sent not_allowed): the node does not allow it",
                 peer(hs));
        return;
    }
    fail(hs, EN_HS_ERR_CONFIG,
         "handshake resolve callback returned %d for %s, not a status",
         (int)status, peer(hs));
}

/* A peer asking for a dynamic name (DFLAG_NAME_ME) sends only its host.
 * enode does not hand out names, so it refuses with "not_allowed", which
 * an OTP initiator reports as an abort. */
static void refuse_dynamic_name(en_hs_t *hs, const uint8_t *host, size_t n,
                                en_buf_t *out)
{
    char shown[EN_HS_ERRMSG_MAX / 2];
    printable(shown, sizeof shown, host, n);
    if (send_status(hs, out, "not_allowed") == 0)
        fail(hs, EN_HS_ERR_NOT_ALLOWED,
             "refused a peer on host %s: it asks for a dynamic node name "
             "(NAME_ME), which enode does not assign",
             shown);
}

static void on_name(en_hs_t *hs, const uint8_t *m, size_t n, en_buf_t *out)
{
    const uint8_t *name;
    size_t nlen;
    if (parse_name_msg(hs, m, n, &name, &nlen) < 0)
        return;
    char buf[EN_HS_NAME_MAX];
    if (!take_name(buf, name, nlen)) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "malformed send_name: bad node name of %zu bytes", nlen);
        return;
    }
    if (!is_full_node_name(buf, nlen)) {
        if ((hs->peer_flags & EN_DFLAG_NAME_ME) && !memchr(buf, '@', nlen)) {
            refuse_dynamic_name(hs, name, nlen, out);
            return;
        }
        char shown[EN_HS_ERRMSG_MAX / 2];
        printable(shown, sizeof shown, name, nlen);
        fail(hs, EN_HS_ERR_PROTOCOL,
             "malformed send_name: \"%s\" is not a node name (alive@host)",
             shown);
        return;
    }
    memcpy(hs->peer_name, buf, nlen + 1);
    hs->peer_flags = en_dflags_expand(hs->peer_flags);

    /* dist_util refuses a node its allow list does not hold as soon as
     * it has read the name, before it looks at the flags. */
    if (hs->allowed && !hs->allowed(hs->ud, hs->peer_name)) {
        if (send_status(hs, out, "not_allowed") == 0)
            fail(hs, EN_HS_ERR_NOT_ALLOWED,
                 "connection attempt from disallowed node %s: refused "
                 "(sent not_allowed), it is not in the node's allow list",
                 hs->peer_name);
        return;
    }

    /* OTP checks flags before anything else and answers not_allowed.
     * After a v5 'n' only the low half is known; HANDSHAKE_23 must be in
     * it, since the challenge we send is the v6 'N'. */
    uint64_t required = hs->required_flags;
    if (hs->peer_used_v5)
        required = (required & 0xFFFFFFFFULL) | EN_DFLAG_HANDSHAKE_23;
    char why[EN_HS_ERRMSG_MAX];
    if (missing_flags(hs, required, hs->peer_flags, why, sizeof why)) {
        if (send_status(hs, out, "not_allowed") == 0)
            fail(hs, EN_HS_ERR_FLAGS, "%s", why);
        return;
    }

    enum en_hs_status status = EN_HS_STATUS_OK;
    if (hs->resolve)
        status = hs->resolve(hs->ud, hs->peer_name);
    answer_status(hs, status, out);
}

static void on_alive_answer(en_hs_t *hs, const uint8_t *m, size_t n,
                            en_buf_t *out)
{
    if (m[0] == 's' && status_is(m + 1, n - 1, "true")) {
        hs->replace_old = true;
        if (send_challenge(hs, out) < 0)
            return;
        hs->step = hs->peer_used_v5 ? STEP_A_COMPLEMENT : STEP_A_REPLY;
    } else if (m[0] == 's' && status_is(m + 1, n - 1, "false")) {
        fail(hs, EN_HS_ERR_ABANDONED,
             "%s gave up this connection attempt (answered false to alive); "
             "the existing connection stays",
             peer(hs));
    } else {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "%s answered \"alive\" with a %zu-byte message, tag 0x%02x "
             "(want 's' \"true\" or \"false\")",
             peer(hs), n, m[0]);
    }
}

static void on_complement(en_hs_t *hs, const uint8_t *m, size_t n)
{
    if (m[0] != 'c' || n != COMPLEMENT_LEN) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "malformed complement from %s: %zu bytes, tag 0x%02x (want 'c' "
             "and %d bytes)",
             peer(hs), n, m[0], COMPLEMENT_LEN);
        return;
    }
    uint64_t high = en_get32(m + 1);
    hs->peer_flags = en_dflags_expand((high << 32) | hs->peer_flags);
    hs->peer_creation = en_get32(m + 5);
    if (lacks_flags(hs, hs->required_flags, hs->peer_flags))
        return;
    hs->step = STEP_A_REPLY;
}

static void on_reply(en_hs_t *hs, const uint8_t *m, size_t n, en_buf_t *out)
{
    if (m[0] != 'r' || n != REPLY_LEN) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "malformed challenge reply from %s: %zu bytes, tag 0x%02x (want "
             "'r' and %d bytes)",
             peer(hs), n, m[0], REPLY_LEN);
        return;
    }
    uint32_t peer_challenge = en_get32(m + 1);
    uint8_t expected[16];
    en_hs_digest(hs->cookie, hs->our_challenge, expected);
    /* Verify before answering: 'a' proves we know the cookie, and must
     * not be given to a peer that has not proved it first. */
    if (!digest_equal(m + 5, expected)) {
        fail(hs, EN_HS_ERR_COOKIE,
             "cookie mismatch with %s (digest from peer is wrong)", peer(hs));
        return;
    }
    hs->flags = hs->self_flags & hs->peer_flags;
    if (send_ack(hs, out, peer_challenge) < 0)
        return;
    hs->state = EN_HS_DONE;
    hs->step = STEP_END;
}

/* ---- the caller's news --------------------------------------------------- */

/* What each step waits for, and what a close there usually means. */
static const char *awaited(int step)
{
    switch (step) {
    case STEP_START:          return "en_hs_start()";
    case STEP_I_STATUS:       return "a status reply to our name";
    case STEP_I_CHALLENGE:    return "a challenge";
    case STEP_I_ACK:          return "a challenge ack";
    case STEP_A_NAME:         return "a name message";
    case STEP_A_ALIVE_ANSWER: return "an answer to our \"alive\" status";
    case STEP_A_COMPLEMENT:   return "a complement ('c') message";
    case STEP_A_REPLY:        return "a challenge reply";
    default:                  return "nothing";
    }
}

static const char *close_hint(const en_hs_t *hs, int step)
{
    /* a TLS acceptor closes on a plain name message without a word */
    if (step == STEP_I_STATUS && hs->lenbytes == 2)
        return "; it may speak TLS distribution (inet_tls_dist), which "
               "takes no plain TCP";
    /* inet_tls_dist closes before reading our name when its allow list
     * holds no host our certificate names */
    if (step == STEP_I_STATUS)
        return "; its allow list (net_kernel:allow/1) may hold no host that "
               "our certificate names";
    switch (step) {
    case STEP_I_ACK:
        /* dist_util closes without a word when the 'r' digest is wrong */
        return "; the cookies probably differ";
    case STEP_A_COMPLEMENT:
    case STEP_A_REPLY:
        return "; it may refuse our name or flags";
    default:
        return "";
    }
}

void en_hs_peer_closed(en_hs_t *hs)
{
    if (hs->state != EN_HS_RUNNING)
        return;
    int step = hs->step;
    /* OTP answers a wrong challenge reply by closing without a word, so
     * a close while we wait for the ack is, in practice, the cookie. */
    if (step == STEP_I_ACK) {
        fail(hs, EN_HS_ERR_COOKIE,
             "cookie mismatch with %s: it closed the connection after our "
             "challenge reply, as OTP does when the cookies differ", peer(hs));
        return;
    }
    fail(hs, EN_HS_ERR_CLOSED,
         "%s closed the connection while we waited for %s%s", peer(hs),
         awaited(step), close_hint(hs, step));
}

void en_hs_timed_out(en_hs_t *hs, unsigned timeout_ms)
{
    if (hs->state != EN_HS_RUNNING)
        return;
    int step = hs->step;
    fail(hs, EN_HS_ERR_TIMEOUT, "timed out after %u ms waiting for %s from %s",
         timeout_ms, awaited(step), peer(hs));
}

/* ---- the loop ---------------------------------------------------------- */

static void on_message(en_hs_t *hs, const uint8_t *m, size_t n, en_buf_t *out)
{
    switch (hs->step) {
    case STEP_I_STATUS:
        if (m[0] != 's') {
            fail(hs, EN_HS_ERR_PROTOCOL,
                 "%s sent a %zu-byte message with tag 0x%02x where the "
                 "status 's' belongs",
                 peer(hs), n, m[0]);
            return;
        }
        on_status(hs, m, n, out);
        return;
    case STEP_I_CHALLENGE:    on_challenge(hs, m, n, out); return;
    case STEP_I_ACK:
        if (m[0] != 'a') {
            fail(hs, EN_HS_ERR_PROTOCOL,
                 "%s sent tag 0x%02x where the challenge ack 'a' belongs",
                 peer(hs), m[0]);
            return;
        }
        on_ack(hs, m, n);
        return;
    case STEP_A_NAME:         on_name(hs, m, n, out); return;
    case STEP_A_ALIVE_ANSWER: on_alive_answer(hs, m, n, out); return;
    case STEP_A_COMPLEMENT:   on_complement(hs, m, n); return;
    case STEP_A_REPLY:        on_reply(hs, m, n, out); return;
    default:
        fail(hs, EN_HS_ERR_CONFIG, "handshake with %s fed before it started",
             peer(hs));
        return;
    }
}

/* Plain TCP, and the peer's first frame starts like a TLS record (a
 * handshake, 0x16, or an alert, 0x15, of version 3.x): a length no first
 * handshake message has. Say so at once (1) rather than wait for
 * thousands of bytes that never come. */
static int tls_meets_tcp(en_hs_t *hs, const uint8_t *data)
{
    if (hs->lenbytes != 2 || (data[0] != 0x16 && data[0] != 0x15) ||
        data[1] != 0x03)
        return 0;
    if (hs->step == STEP_A_NAME)
        fail(hs, EN_HS_ERR_PROTOCOL,
             "%s speaks TLS (its first bytes are a TLS record): a node "
             "using TLS distribution (inet_tls_dist) on this plain TCP "
             "port?", peer(hs));
    else if (hs->step == STEP_I_STATUS)
        fail(hs, EN_HS_ERR_PROTOCOL,
             "%s answered with a TLS record: it speaks TLS distribution "
             "(inet_tls_dist), not plain TCP", peer(hs));
    else
        return 0;
    return 1;
}

/* Find the next whole frame in data, which holds at least the length
 * prefix.  Returns its total size (length
 * prefix included) and sets *msg and *n to its payload, or returns 0 if
 * the frame is incomplete or bad (then the state says which). */
static size_t next_frame(en_hs_t *hs, const uint8_t *data, size_t len,
                         const uint8_t **msg, size_t *n)
{
    if (tls_meets_tcp(hs, data))
        return 0;
    size_t body = hs->lenbytes == 2 ? en_get16(data) : en_get32(data);
    if (body == 0 || body > EN_HS_MSG_MAX) {
        fail(hs, EN_HS_ERR_PROTOCOL,
             "%s sent a handshake message of %zu bytes (must be 1 to %d)",
             peer(hs), body, EN_HS_MSG_MAX);
        return 0;
    }
    if (len - hs->lenbytes < body)
        return 0;
    *msg = data + hs->lenbytes;
    *n = body;
    return hs->lenbytes + body;
}

enum en_hs_state en_hs_feed(en_hs_t *hs, const uint8_t *data, size_t len,
                            size_t *consumed, en_buf_t *out)
{
    *consumed = 0;
    if (hs->state == EN_HS_RUNNING && hs->step == STEP_START) {
        fail(hs, EN_HS_ERR_CONFIG,
             "handshake with %s fed before en_hs_start()", peer(hs));
        return hs->state;
    }
    while (hs->state == EN_HS_RUNNING && len - *consumed >= hs->lenbytes) {
        const uint8_t *msg;
        size_t n;
        size_t framed = next_frame(hs, data + *consumed, len - *consumed,
                                   &msg, &n);
        if (framed == 0)
            break;
        *consumed += framed;
        on_message(hs, msg, n, out);
    }
    return hs->state;
}
