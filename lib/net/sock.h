/* sock.h - non-blocking TCP sockets, IPv4 and IPv6. */
#ifndef ENODE_SOCK_H
#define ENODE_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct en_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} en_addr_t;

/* Resolve host (a name or an IP literal) for TCP port `port`, preferring
 * the family asked for (ipv6 = 1: AF_INET6). 0, or -1 with err set. */
int en_sock_resolve(const char *host, uint16_t port, int ipv6, en_addr_t *out,
                    char *err, size_t errlen);

/* Listen on addr (an IP literal of the family; NULL: any address of the
 * family), on a port in [min, max] (0, 0: any port). Returns the fd
 * (non-blocking) and the port, or -1. */
int en_sock_listen(int ipv6, const char *addr, int min, int max,
                   uint16_t *port, char *err, size_t errlen);

/* Start a non-blocking connect. Returns the fd, or -1. The connect ends
 * when the fd is writable; en_sock_connect_result() then says how. */
int en_sock_connect(const en_addr_t *addr, char *err, size_t errlen);

/* 0 once connected, or -1 with the reason in err. */
int en_sock_connect_result(int fd, char *err, size_t errlen);

/* Accept one connection, non-blocking with TCP_NODELAY. -1 with errno
 * EAGAIN when none is waiting. */
int en_sock_accept(int lfd, en_addr_t *peer);

/* "1.2.3.4:5" or "[::1]:5". */
const char *en_addr_str(const en_addr_t *a, char *buf, size_t len);

/* Blocking connect with a time limit, for EPMD registration at start-up. */
int en_sock_connect_wait(const en_addr_t *addr, int timeout_ms, char *err,
                         size_t errlen);

#endif
