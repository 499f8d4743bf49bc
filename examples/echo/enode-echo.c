/* enode-echo - a C node that echoes: for every message {From, Term} it
 * receives at the registered name `echo`, it sends Term back to From.
 *
 *   enode-echo -sname echo1 -setcookie secret \
 *              -proto_dist inet_tls -ssl_dist_optfile dist.conf
 *
 * It takes erl's flags (see enode_config_from_args), plus
 *   -connect NODE   connect to NODE at start
 *   -v              log connections and what is dropped
 * Once it listens and is registered it prints "ready <node name>".
 */
#include <stdio.h>
#include <string.h>

#include <enode.h>

/* Send the Term of {From, Term} in `m` back to From. */
static void echo(enode_mbox_t *mbox, const enode_msg_t *m)
{
    const char *buf = m->msg.buff;
    int i = 0, version, arity;
    erlang_pid from;
    ei_x_buff reply;

    if (ei_decode_version(buf, &i, &version) < 0 ||
        ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 2 ||
        ei_decode_pid(buf, &i, &from) < 0)
        return; /* not {Pid, Term}: ignore it, like a selective receive */
    ei_x_new_with_version(&reply);
    ei_x_append_buf(&reply, buf + i, m->msg.index - i); /* Term, as is */
    enode_send(mbox, &from, &reply);
    ei_x_free(&reply);
}

/* Fill config from erl's flags and ours. 0, or the status to exit with
 * once it said why. */
static int configure(enode_config_t *config, int argc, char **argv,
                     const char **connect_to)
{
    char err[512];

    if (enode_config_from_args(config, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-echo: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-connect") == 0 && i + 1 < argc) {
            *connect_to = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            enode_config_set_log(config, NULL, NULL, ENODE_LOG_INFO);
        } else {
            fprintf(stderr, "enode-echo: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!enode_config_get_name(config, NULL))
        enode_config_set_name(config, "echo", 0);
    return 0;
}

int main(int argc, char **argv)
{
    enode_config_t *config;
    enode_t *node;
    enode_mbox_t *mbox;
    const char *connect_to = NULL;
    char err[512];
    int status;

    if (enode_config_new(&config) < 0) {
        fprintf(stderr, "enode-echo: out of memory\n");
        return 1;
    }
    status = configure(config, argc, argv, &connect_to);
    if (status == 0 && enode_new(&node, config, err, sizeof err) < 0) {
        fprintf(stderr, "enode-echo: %s\n", err);
        status = 1;
    }
    enode_config_free(config); /* the node keeps what it needs */
    if (status != 0)
        return status;
    enode_mbox_new(node, &mbox);
    enode_register(mbox, "echo");
    if (connect_to && enode_connect(node, connect_to) < 0) {
        fprintf(stderr, "enode-echo: cannot connect to %s: %s\n", connect_to,
                enode_last_error(node));
        enode_free(node);
        return 1;
    }
    printf("ready %s\n", enode_name(node));
    fflush(stdout);

    for (;;) {
        enode_msg_t m;
        if (enode_receive(mbox, &m, -1) == 0) {
            echo(mbox, &m);
            enode_msg_free(&m);
        }
    }
}
