/* epmd_codec.h - EPMD requests and replies as bytes; no sockets.
 *
 * Requests are framed Length:16 | Request and are appended to an en_buf_t.
 * Replies carry no length, so each parser says how much it used:
 *   > 0  bytes consumed (one whole reply),
 *     0  the reply is incomplete: read more and call again,
 *   < 0  an EN_EPMD_E_* code; en_epmd_strerror() says it in words.
 * Parsers never read past `len`.  Layouts: doc/internals.md section 4.
 */
#ifndef ENODE_EPMD_CODEC_H
#define ENODE_EPMD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Request and reply tags. */
#define EN_EPMD_ALIVE2_X_RESP    118
#define EN_EPMD_PORT2_RESP       119
#define EN_EPMD_ALIVE2_REQ       120
#define EN_EPMD_ALIVE2_RESP      121
#define EN_EPMD_PORT_PLEASE2_REQ 122
#define EN_EPMD_NAMES_REQ        110

/* NodeType in ALIVE2_REQ: OTP always sends 77, even for hidden nodes;
 * visibility is decided by DFLAG_PUBLISHED in the handshake. */
#define EN_EPMD_NODE_TYPE_NORMAL 77
#define EN_EPMD_NODE_TYPE_HIDDEN 72

/* Bytes in an alive name, plus the NUL: epmd's MAXSYMLEN is 255*4
 * (255 characters of UTF-8). */
#define EN_EPMD_NAME_MAX 1024

enum {
    EN_EPMD_E_TAG = -1,       /* reply starts with an unexpected tag */
    EN_EPMD_E_MALFORMED = -2, /* a field is out of range or inconsistent */
    EN_EPMD_E_ARG = -3,       /* bad argument to a request builder */
    EN_EPMD_E_NOMEM = -4,     /* could not grow the output buffer */
};

const char *en_epmd_strerror(int code);

/* ALIVE2_REQ: register `alive` (the name before '@') listening on `port`.
 * Protocol is 0 (TCP, also for TLS) and Extra is empty, as OTP sends.
 * Returns 0, EN_EPMD_E_ARG (empty name, '@' in it, or too long) or
 * EN_EPMD_E_NOMEM. */
int en_epmd_alive2_req(en_buf_t *out, uint16_t port, const char *alive,
                       uint8_t node_type, uint16_t high, uint16_t low);

/* ALIVE2_X_RESP (118, Creation:32) or ALIVE2_RESP (121, Creation:16).
 * *result is epmd's code (0 = registered, else the name is taken). */
int en_epmd_parse_alive2_resp(const uint8_t *p, size_t len, int *result,
                              uint32_t *creation);

/* PORT_PLEASE2_REQ: ask where `alive` (no "@host") listens. */
int en_epmd_port_please2_req(en_buf_t *out, const char *alive);

struct en_epmd_node_info {
    int result;        /* 0 = found; otherwise epmd's "not registered" code
                          and no other field is set */
    uint16_t port;     /* distribution listen port */
    uint8_t node_type; /* 77 normal, 72 hidden, 104 ei (see above) */
    uint8_t protocol;  /* 0 = TCP/IPv4 */
    uint16_t high;     /* highest distribution version */
    uint16_t low;      /* lowest distribution version */
    char name[EN_EPMD_NAME_MAX]; /* alive name, NUL-terminated */
    uint16_t extra_len;
    const uint8_t *extra; /* points into the parsed input, not copied */
};

/* PORT2_RESP (119).  Failure is the 2-byte `119, Result`; success is the
 * full node record. */
int en_epmd_parse_port2_resp(const uint8_t *p, size_t len,
                             struct en_epmd_node_info *info);

/* NAMES_REQ (110): list the nodes registered with this epmd. */
int en_epmd_names_req(en_buf_t *out);

/* The NAMES reply is EPMDPort:32 and then text lines
 * "name <N> at port <P>\n"; epmd closes the connection after it, so parse
 * it once the whole reply has been read:
 *
 *     struct en_epmd_names_iter it;
 *     struct en_epmd_name n;
 *     if (en_epmd_names_begin(&it, p, len, &epmd_port) < 0) ...
 *     while ((rc = en_epmd_names_next(&it, &n)) > 0) use(n.name, n.port);
 *     if (rc < 0) ... malformed
 */
struct en_epmd_names_iter {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

struct en_epmd_name {
    char name[EN_EPMD_NAME_MAX];
    uint16_t port;
};

/* 0, or EN_EPMD_E_MALFORMED if the reply is shorter than its header. */
int en_epmd_names_begin(struct en_epmd_names_iter *it, const uint8_t *p,
                        size_t len, uint32_t *epmd_port);
/* 1 and *out filled, 0 at the end, or EN_EPMD_E_MALFORMED (a line that
 * does not match the format, including an unterminated last line). */
int en_epmd_names_next(struct en_epmd_names_iter *it,
                       struct en_epmd_name *out);

#endif
