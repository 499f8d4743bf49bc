/* epmd_client.c - registering the node with the local EPMD, and asking
 * an EPMD for its list of names.
 *
 * Both block with a time limit like OTP's (10 s for a reply). The
 * registration connection then stays open: closing it unregisters us.
 * Port lookups of other nodes run inside the loop (dial.c).
 */
#include "net/conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdlib.h>

#include "proto/epmd_codec.h"

#define EPMD_REPLY_MS 10000

/* Connect to the EPMD on host: over IPv4, else over IPv6. The reason
 * given is that of the first address tried: a host with no IPv6 address
 * (127.0.0.1) does not hide why IPv4 failed. */
static int connect_epmd(const char *host, int port, char *err, size_t errlen)
{
    en_addr_t a;
    char why[256] = "", unresolved[256] = "";

    for (int v6 = 0; v6 < 2; v6++) {
        if (en_sock_resolve(host, (uint16_t)port, v6, &a, unresolved,
                            sizeof unresolved) < 0)
            continue;
        char failed[256];
        int fd = en_sock_connect_wait(&a, 3000, failed, sizeof failed);
        if (fd >= 0)
            return fd;
        if (!why[0])
            snprintf(why, sizeof why, "%s", failed);
    }
    snprintf(err, errlen,
             "cannot reach EPMD on %s port %d (%s): start it with `epmd "
             "-daemon`, or set ERL_EPMD_PORT", host, port,
             why[0] ? why : unresolved);
    return -1;
}

int en_epmd_default_port(int port)
{
    const char *env = getenv("ERL_EPMD_PORT");
    if (port > 0)
        return port;
    return env && atoi(env) > 0 && atoi(env) < 65536 ? atoi(env) : 4369;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, EPMD_REPLY_MS) != 1)
            return -1;
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (w > 0) {
            p += w;
            len -= (size_t)w;
        }
    }
    return 0;
}

/* Read until the ALIVE2 reply is whole. */
static int read_reply(int fd, int *result, uint32_t *creation)
{
    uint8_t buf[16];
    size_t have = 0;

    while (have < sizeof buf) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, EPMD_REPLY_MS) != 1)
            return -1;
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r == 0)
            return -1;
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (r > 0)
            have += (size_t)r;
        int rc = en_epmd_parse_alive2_resp(buf, have, result, creation);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
    }
    return -1;
}

int en_epmd_register(en_net_t *net, char *err, size_t errlen)
{
    en_buf_t req = EN_BUF_INIT;
    int result = -1;
    uint32_t creation = 0;
    int fd = connect_epmd("127.0.0.1", net->epmd_port, err, errlen);

    if (fd < 0)
        return ENODE_EEPMD;
    if (en_epmd_alive2_req(&req, net->port, net->core->alive,
                           EN_EPMD_NODE_TYPE_NORMAL, 6, 5) < 0 ||
        write_all(fd, req.data, req.len) < 0 ||
        read_reply(fd, &result, &creation) < 0) {
        en_buf_free(&req);
        close(fd);
        snprintf(err, errlen, "EPMD on port %d did not answer our "
                 "registration properly", net->epmd_port);
        return ENODE_EEPMD;
    }
    en_buf_free(&req);
    if (result != 0) {
        close(fd);
        snprintf(err, errlen,
                 "the name '%s' is taken: EPMD on port %d has a node "
                 "registered under it already", net->core->alive,
                 net->epmd_port);
        return ENODE_ENAMETAKEN;
    }
    net->epmd_fd = fd;
    net->core->creation = creation;
    return 0;
}

/* Read until EPMD closes the connection (it does after NAMES). */
static int read_to_eof(int fd, en_buf_t *in)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, EPMD_REPLY_MS) != 1 || in->len > (1u << 20) ||
            en_buf_reserve(in, 4096) < 0)
            return -1;
        ssize_t r = read(fd, in->data + in->len, 4096);
        if (r == 0)
            return 0;
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (r > 0)
            in->len += (size_t)r;
    }
}

int enode_epmd_names(const char *host, int epmd_port, enode_names_fn fn,
                     void *user, char *err, size_t errlen)
{
    en_buf_t req = EN_BUF_INIT, in = EN_BUF_INIT;
    struct en_epmd_names_iter it;
    struct en_epmd_name name;
    uint32_t port;
    char dummy[256];
    int rc = 0, fd;

    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    epmd_port = en_epmd_default_port(epmd_port);
    fd = connect_epmd(host ? host : "127.0.0.1", epmd_port, err, errlen);
    if (fd < 0)
        return ENODE_EEPMD;
    if (en_epmd_names_req(&req) < 0 || write_all(fd, req.data, req.len) < 0 ||
        read_to_eof(fd, &in) < 0 ||
        en_epmd_names_begin(&it, in.data, in.len, &port) < 0) {
        snprintf(err, errlen, "EPMD on %s port %d gave no list of names",
                 host ? host : "127.0.0.1", epmd_port);
        rc = ENODE_EEPMD;
    }
    while (rc == 0 && (rc = en_epmd_names_next(&it, &name)) > 0) {
        fn(user, name.name, name.port);
        rc = 0;
    }
    if (rc < 0) {
        snprintf(err, errlen, "EPMD's list of names is malformed");
        rc = ENODE_EEPMD;
    }
    close(fd);
    en_buf_free(&req);
    en_buf_free(&in);
    return rc;
}
