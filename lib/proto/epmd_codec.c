/* epmd_codec.c - EPMD requests and replies (doc/internals.md section 4). */
#include "proto/epmd_codec.h"

#include <string.h>

const char *en_epmd_strerror(int code)
{
    switch (code) {
    case 0:
        return "EPMD reply incomplete";
    case EN_EPMD_E_TAG:
        return "EPMD reply has an unexpected tag";
    case EN_EPMD_E_MALFORMED:
        return "EPMD reply is malformed";
    case EN_EPMD_E_ARG:
        return "invalid EPMD request argument";
    case EN_EPMD_E_NOMEM:
        return "out of memory";
    default:
        return code > 0 ? "EPMD reply parsed" : "unknown EPMD error";
    }
}

/* An alive name is what comes before '@'; epmd limits it to MAXSYMLEN. */
static int alive_name_length(const char *alive, size_t *nlen)
{
    if (!alive)
        return EN_EPMD_E_ARG;
    size_t n = strlen(alive);
    if (n == 0 || n >= EN_EPMD_NAME_MAX || strchr(alive, '@'))
        return EN_EPMD_E_ARG;
    *nlen = n;
    return 0;
}

int en_epmd_alive2_req(en_buf_t *out, uint16_t port, const char *alive,
                       uint8_t node_type, uint16_t high, uint16_t low)
{
    size_t nlen;
    if (alive_name_length(alive, &nlen) < 0)
        return EN_EPMD_E_ARG;

    /* Everything after the length: tag, port, type, protocol, high, low,
     * Nlen, name, Elen (13 fixed bytes). */
    size_t body = 13 + nlen;
    int rc = 0;
    rc |= en_buf_reserve(out, 2 + body);
    rc |= en_buf_put16(out, (uint16_t)body);
    rc |= en_buf_put8(out, EN_EPMD_ALIVE2_REQ);
    rc |= en_buf_put16(out, port);
    rc |= en_buf_put8(out, node_type);
    rc |= en_buf_put8(out, 0); /* protocol: TCP/IPv4, also under TLS */
    rc |= en_buf_put16(out, high);
    rc |= en_buf_put16(out, low);
    rc |= en_buf_put16(out, (uint16_t)nlen);
    rc |= en_buf_append(out, alive, nlen);
    rc |= en_buf_put16(out, 0); /* Elen: no extra */
    return rc ? EN_EPMD_E_NOMEM : 0;
}

int en_epmd_parse_alive2_resp(const uint8_t *p, size_t len, int *result,
                              uint32_t *creation)
{
    if (len < 1)
        return 0;
    size_t need;
    if (p[0] == EN_EPMD_ALIVE2_X_RESP)
        need = 6;
    else if (p[0] == EN_EPMD_ALIVE2_RESP)
        need = 4;
    else
        return EN_EPMD_E_TAG;
    if (len < need)
        return 0;
    *result = p[1];
    *creation = need == 6 ? en_get32(p + 2) : en_get16(p + 2);
    return (int)need;
}

int en_epmd_port_please2_req(en_buf_t *out, const char *alive)
{
    size_t nlen;
    if (alive_name_length(alive, &nlen) < 0)
        return EN_EPMD_E_ARG;
    int rc = 0;
    rc |= en_buf_reserve(out, 3 + nlen);
    rc |= en_buf_put16(out, (uint16_t)(1 + nlen));
    rc |= en_buf_put8(out, EN_EPMD_PORT_PLEASE2_REQ);
    rc |= en_buf_append(out, alive, nlen);
    return rc ? EN_EPMD_E_NOMEM : 0;
}

int en_epmd_parse_port2_resp(const uint8_t *p, size_t len,
                             struct en_epmd_node_info *info)
{
    if (len < 1)
        return 0;
    if (p[0] != EN_EPMD_PORT2_RESP)
        return EN_EPMD_E_TAG;
    if (len < 2)
        return 0;
    if (p[1] != 0) {
        memset(info, 0, sizeof *info);
        info->result = p[1];
        return 2;
    }

    /* 119, 0, Port:16, Type, Proto, High:16, Low:16, Nlen:16 = 12 bytes */
    if (len < 12)
        return 0;
    size_t nlen = en_get16(p + 10);
    if (nlen == 0 || nlen >= EN_EPMD_NAME_MAX)
        return EN_EPMD_E_MALFORMED;
    if (len < 12 + nlen + 2)
        return 0;
    if (memchr(p + 12, '\0', nlen)) /* would cut the name short */
        return EN_EPMD_E_MALFORMED;
    size_t elen = en_get16(p + 12 + nlen);
    size_t total = 12 + nlen + 2 + elen;
    if (len < total)
        return 0;

    info->result = 0;
    info->port = en_get16(p + 2);
    info->node_type = p[4];
    info->protocol = p[5];
    info->high = en_get16(p + 6);
    info->low = en_get16(p + 8);
    memcpy(info->name, p + 12, nlen);
    info->name[nlen] = '\0';
    info->extra_len = (uint16_t)elen;
    info->extra = p + 12 + nlen + 2;
    return (int)total;
}

int en_epmd_names_req(en_buf_t *out)
{
    static const uint8_t req[3] = {0, 1, EN_EPMD_NAMES_REQ};
    return en_buf_append(out, req, sizeof req) ? EN_EPMD_E_NOMEM : 0;
}

int en_epmd_names_begin(struct en_epmd_names_iter *it, const uint8_t *p,
                        size_t len, uint32_t *epmd_port)
{
    it->p = p;
    it->len = len < 4 ? 0 : len; /* a failed begin yields no names */
    it->pos = 0;
    if (len < 4)
        return EN_EPMD_E_MALFORMED;
    *epmd_port = en_get32(p);
    it->pos = 4;
    return 0;
}

/* Parse an unsigned decimal port that fills [s, s+n) exactly. */
static int parse_port(const uint8_t *s, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5)
        return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 0xFFFF)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* One line, without its '\n': "name <N> at port <P>".  epmd writes it
 * with "name %s at port %d", so the name ends at the last " at port ". */
static int parse_names_line(const uint8_t *line, size_t n,
                            struct en_epmd_name *out)
{
    static const char prefix[] = "name ";
    static const char middle[] = " at port ";
    const size_t plen = sizeof prefix - 1, mlen = sizeof middle - 1;

    if (n < plen + 1 + mlen + 1 || memcmp(line, prefix, plen) != 0)
        return EN_EPMD_E_MALFORMED;
    size_t at = n - mlen; /* search backwards for the middle */
    while (at > plen && memcmp(line + at, middle, mlen) != 0)
        at--;
    if (at <= plen)
        return EN_EPMD_E_MALFORMED;
    size_t name_len = at - plen;
    if (name_len >= EN_EPMD_NAME_MAX || memchr(line + plen, '\0', name_len))
        return EN_EPMD_E_MALFORMED;
    if (parse_port(line + at + mlen, n - at - mlen, &out->port) < 0)
        return EN_EPMD_E_MALFORMED;
    memcpy(out->name, line + plen, name_len);
    out->name[name_len] = '\0';
    return 1;
}

int en_epmd_names_next(struct en_epmd_names_iter *it,
                       struct en_epmd_name *out)
{
    if (it->pos >= it->len)
        return 0;
    const uint8_t *line = it->p + it->pos;
    size_t rest = it->len - it->pos;
    const uint8_t *nl = memchr(line, '\n', rest);
    if (!nl)
        return EN_EPMD_E_MALFORMED; /* the reply ended mid-line */
    size_t n = (size_t)(nl - line);
    int rc = parse_names_line(line, n, out);
    if (rc < 0)
        return rc;
    it->pos += n + 1;
    return 1;
}
