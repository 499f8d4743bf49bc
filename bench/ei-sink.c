/* ei-sink - the reference receiver of ./dev bench: a minimal C node
 * written against erl_interface's own API (ei_connect), as OTP ships it,
 * over plain TCP.
 *
 *   ei-sink -sname NAME -setcookie COOKIE
 *
 * Publishes NAME with the EPMD at $ERL_EPMD_PORT, accepts one connection
 * at a time and answers the protocol of bench_proto.h (the same code the
 * enode receiver runs, so only the node underneath differs). Prints
 * "ready <node name>" once published; runs until killed.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ei.h>

#include "bench_proto.h"

/* Serve one connection until the peer goes away. */
static void serve(int fd)
{
    bench_sink_t sink;
    ei_x_buff x;
    erlang_msg msg;

    memset(&sink, 0, sizeof sink);
    ei_x_new(&x);
    for (;;) {
        x.index = 0;
        int got = ei_xreceive_msg(fd, &msg, &x);
        if (got == ERL_TICK)
            continue;
        if (got == ERL_ERROR)
            break;
        if (msg.msgtype != ERL_SEND && msg.msgtype != ERL_REG_SEND)
            continue; /* links, exits: not part of the benchmark */
        ei_x_buff reply;
        erlang_pid to;
        if (bench_sink_take(&sink, x.buff, (size_t)x.index, &reply, &to)) {
            ei_send(fd, &to, reply.buff, reply.index);
            ei_x_free(&reply);
        }
    }
    ei_x_free(&x);
    ei_close_connection(fd);
}

int main(int argc, char **argv)
{
    const char *name = "ei_sink", *cookie = NULL;
    ei_cnode ec;
    int port = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-sname") == 0) {
            name = argv[i + 1];
        } else if (strcmp(argv[i], "-setcookie") == 0) {
            cookie = argv[i + 1];
        } else {
            fprintf(stderr, "ei-sink: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (ei_init() < 0 || ei_connect_init(&ec, name, cookie, 0) < 0) {
        fprintf(stderr, "ei-sink: ei_connect_init failed\n");
        return 1;
    }
    int lfd = ei_listen(&ec, &port, 5);
    if (lfd < 0 || ei_publish(&ec, port) < 0) {
        fprintf(
            stderr,
            "ei-sink: cannot listen or publish (EPMD at $ERL_EPMD_PORT?)\n");
        return 1;
    }
    printf("ready %s\n", ei_thisnodename(&ec));
    fflush(stdout);
    for (;;) {
        ErlConnect peer;
        int fd = ei_accept(&ec, lfd, &peer);
        if (fd >= 0)
            serve(fd);
    }
}
