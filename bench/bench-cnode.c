/* bench-cnode - the C node receiver of ./dev bench.
 *
 *   bench-cnode -sname NAME -setcookie C -proto_dist inet_tls \
 *               -ssl_dist_optfile F [-threaded]
 *
 * Registers `bench` and answers the protocol of bench_proto.h: counts the
 * data it gets, checks the order, acknowledges marks and echoes pings.
 * It runs the node from enode_receive() (event-loop mode: one thread does
 * the I/O and the counting), or with -threaded on enode's loop thread.
 * Prints "ready <node name>" once it listens; runs until killed.
 */
#include <stdio.h>
#include <string.h>

#include <enode.h>

#include "bench_proto.h"

static int serve(enode_mbox_t *mbox)
{
    bench_sink_t sink;

    memset(&sink, 0, sizeof sink);
    for (;;) {
        enode_msg_t m;
        ei_x_buff reply;
        erlang_pid to;
        int rc = enode_receive(mbox, &m, -1);

        if (rc == ENODE_ECLOSED)
            return 1;
        if (rc < 0)
            continue;
        if (bench_sink_take(&sink, m.msg.buff, (size_t)m.msg.index, &reply,
                            &to)) {
            enode_send(mbox, &to, &reply);
            ei_x_free(&reply);
        }
        enode_msg_free(&m);
    }
}

/* Fill config from erl's flags and ours. 0, or the status to exit with. */
static int configure(enode_config_t *config, int argc, char **argv,
                     int *threaded)
{
    char err[512];

    if (enode_config_from_args(config, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "bench-cnode: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-threaded") == 0) {
            *threaded = 1;
        } else {
            fprintf(stderr, "bench-cnode: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!enode_config_get_name(config, NULL))
        enode_config_set_name(config, "bench", 0);
    return 0;
}

int main(int argc, char **argv)
{
    enode_config_t *config;
    enode_t *node;
    enode_mbox_t *mbox;
    int threaded = 0, status;
    char err[512];

    if (enode_config_new(&config) < 0) {
        fprintf(stderr, "bench-cnode: out of memory\n");
        return 1;
    }
    status = configure(config, argc, argv, &threaded);
    if (status == 0 && enode_new(&node, config, err, sizeof err) < 0) {
        fprintf(stderr, "bench-cnode: %s\n", err);
        status = 1;
    }
    enode_config_free(config);
    if (status != 0)
        return status;
    if (enode_mbox_new(node, &mbox) < 0 || enode_register(mbox, "bench") < 0 ||
        (threaded && enode_start_thread(node) < 0)) {
        fprintf(stderr, "bench-cnode: %s\n", enode_last_error(node));
        enode_free(node);
        return 1;
    }
    printf("ready %s\n", enode_name(node));
    fflush(stdout);
    int rc = serve(mbox);
    enode_free(node);
    return rc;
}
