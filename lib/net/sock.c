/* sock.c - non-blocking TCP sockets, IPv4 and IPv6. */
#include "net/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int en_sock_resolve(const char *host, uint16_t port, int ipv6, en_addr_t *out,
                    char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[8];
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = ipv6 ? AF_INET6 : AF_INET;
    snprintf(service, sizeof service, "%u", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve host '%s' (%s): %s", host,
                 ipv6 ? "IPv6" : "IPv4", gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_addrlen <= sizeof out->ss) {
            memcpy(&out->ss, ai->ai_addr, ai->ai_addrlen);
            out->len = ai->ai_addrlen;
            freeaddrinfo(res);
            return 0;
        }
    }
    freeaddrinfo(res);
    snprintf(err, errlen, "host '%s' has no usable address", host);
    return -1;
}

/* Bind fd to addr (NULL: any address of the family) and port. */
static int bind_to(int fd, int ipv6, const char *addr, uint16_t port)
{
    if (ipv6) {
        struct sockaddr_in6 a6;
        memset(&a6, 0, sizeof a6);
        a6.sin6_family = AF_INET6;
        a6.sin6_addr = in6addr_any;
        if (addr && inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1)
            return -2;
        a6.sin6_port = htons(port);
        return bind(fd, (struct sockaddr *)&a6, sizeof a6);
    }
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    if (addr && inet_pton(AF_INET, addr, &a4.sin_addr) != 1)
        return -2;
    a4.sin_port = htons(port);
    return bind(fd, (struct sockaddr *)&a4, sizeof a4);
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int en_sock_listen(int ipv6, const char *addr, int min, int max,
                   uint16_t *port, char *err, size_t errlen)
{
    int fd = socket(ipv6 ? AF_INET6 : AF_INET,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, p;

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (min <= 0)
        min = max = 0;
    if (max < min)
        max = min;
    for (p = min; p <= max; p++) {
        int rc = bind_to(fd, ipv6, addr, (uint16_t)p);
        if (rc == 0)
            break;
        if (rc == -2) { /* a node of one family listens on that family */
            snprintf(err, errlen, "inet_dist_use_interface %s is not an "
                     "IPv%d address, and the node speaks IPv%d", addr,
                     ipv6 ? 6 : 4, ipv6 ? 6 : 4);
            close(fd);
            return -1;
        }
    }
    if (p > max) {
        if (min == 0)
            snprintf(err, errlen, "cannot bind a listening socket%s%s: %s",
                     addr ? " to " : "", addr ? addr : "", strerror(errno));
        else
            snprintf(err, errlen, "no free port in %d..%d: %s", min, max,
                     strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, 128) < 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *port = bound_port(fd);
    return fd;
}

int en_sock_connect(const en_addr_t *addr, char *err, size_t errlen)
{
    int fd = socket(addr->ss.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    char a[80];

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    set_nodelay(fd);
    if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 &&
        errno != EINPROGRESS) {
        snprintf(err, errlen, "connect to %s: %s",
                 en_addr_str(addr, a, sizeof a), strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int en_sock_connect_result(int fd, char *err, size_t errlen)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == 0)
        return 0;
    snprintf(err, errlen, "%s", strerror(soerr));
    return -1;
}

int en_sock_accept(int lfd, en_addr_t *peer)
{
    peer->len = sizeof peer->ss;
    int fd = accept4(lfd, (struct sockaddr *)&peer->ss, &peer->len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0)
        set_nodelay(fd);
    return fd;
}

const char *en_addr_str(const en_addr_t *a, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
    }
    return buf;
}

int en_sock_connect_wait(const en_addr_t *addr, int timeout_ms, char *err,
                         size_t errlen)
{
    int fd = en_sock_connect(addr, err, errlen);
    struct pollfd pfd;
    char a[80], why[128];

    if (fd < 0)
        return -1;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, timeout_ms) != 1) {
        snprintf(err, errlen, "connect to %s: timed out",
                 en_addr_str(addr, a, sizeof a));
        close(fd);
        return -1;
    }
    if (en_sock_connect_result(fd, why, sizeof why) < 0) {
        snprintf(err, errlen, "connect to %s: %s",
                 en_addr_str(addr, a, sizeof a), why);
        close(fd);
        return -1;
    }
    return fd;
}
