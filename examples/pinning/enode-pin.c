/* enode-pin - a C node that talks only to peers whose TLS certificate it
 * knows: certificate pinning by SHA-256 fingerprint, on top of the CA
 * checks the ssl_dist_optfile asks for. It echoes like enode-echo.
 *
 *   enode-pin -sname pinned -setcookie secret \
 *             -proto_dist inet_tls -ssl_dist_optfile dist.conf \
 *             -pin 3f1a...e2 -pin 77c0...19
 *
 * A fingerprint is what
 *   openssl x509 -in node.pem -noout -fingerprint -sha256
 * prints, with or without the colons, in either case. Flags:
 *   -pin SHA256     accept a peer with this certificate (repeatable)
 *   -connect NODE   connect to NODE at start
 *   -v              log connections and refusals
 * Once it listens it prints "ready <node name>".
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <enode.h>

#define MAX_PINS 32

struct pins {
    int count;
    char sha256[MAX_PINS][65]; /* lowercase hex, no colons */
};

/* "AB:cd:..." -> "abcd...": 0, or -1 if it is not 32 bytes of hex. */
static int normalise(const char *in, char out[65])
{
    int n = 0;
    for (; *in; in++) {
        if (*in == ':')
            continue;
        if (!isxdigit((unsigned char)*in) || n == 64)
            return -1;
        out[n++] = (char)tolower((unsigned char)*in);
    }
    out[n] = '\0';
    return n == 64 ? 0 : -1;
}

/* The verify callback: enode has checked the chain (when a CA is
 * configured); we accept only pinned certificates. */
static int check_pin(void *user, const enode_peer_cert_t *cert, char *why,
                     size_t whylen)
{
    const struct pins *pins = user;
    if (!cert->present) {
        snprintf(why, whylen, "the peer sent no certificate to pin");
        return 1;
    }
    for (int i = 0; i < pins->count; i++)
        if (strcmp(pins->sha256[i], cert->sha256) == 0)
            return 0;
    snprintf(why, whylen, "certificate %s of %s is not pinned", cert->sha256,
             cert->peer_node ? cert->peer_node : cert->peer_addr);
    return 1;
}

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
        return;
    ei_x_new_with_version(&reply);
    ei_x_append_buf(&reply, buf + i, m->msg.index - i);
    enode_send(mbox, &from, &reply);
    ei_x_free(&reply);
}

/* Fill config from erl's flags and ours, pins included. 0, or the status
 * to exit with once it said why. */
static int configure(enode_config_t *config, int argc, char **argv,
                     struct pins *pins, const char **connect_to)
{
    char err[512];

    if (enode_config_from_args(config, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-pin: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-pin") == 0 && i + 1 < argc) {
            if (pins->count == MAX_PINS ||
                normalise(argv[++i], pins->sha256[pins->count]) < 0) {
                fprintf(stderr, "enode-pin: -pin %s: not a SHA-256 "
                        "fingerprint (or more than %d)\n", argv[i], MAX_PINS);
                return 2;
            }
            pins->count++;
        } else if (strcmp(argv[i], "-connect") == 0 && i + 1 < argc) {
            *connect_to = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            enode_config_set_log(config, NULL, NULL, ENODE_LOG_INFO);
        } else {
            fprintf(stderr, "enode-pin: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (pins->count == 0) {
        fprintf(stderr, "enode-pin: give at least one -pin SHA256\n");
        return 2;
    }
    if (!enode_config_get_name(config, NULL))
        enode_config_set_name(config, "pinned", 0);
    enode_config_set_verify(config, check_pin, pins);
    return 0;
}

int main(int argc, char **argv)
{
    static struct pins pins;
    enode_config_t *config;
    enode_t *node;
    enode_mbox_t *mbox;
    const char *connect_to = NULL;
    char err[512];
    int status;

    if (enode_config_new(&config) < 0) {
        fprintf(stderr, "enode-pin: out of memory\n");
        return 1;
    }
    status = configure(config, argc, argv, &pins, &connect_to);
    if (status == 0 && enode_new(&node, config, err, sizeof err) < 0) {
        fprintf(stderr, "enode-pin: %s\n", err);
        status = 1;
    }
    enode_config_free(config); /* the node keeps what it needs */
    if (status != 0)
        return status;
    enode_mbox_new(node, &mbox);
    enode_register(mbox, "echo");
    if (connect_to && enode_connect(node, connect_to) < 0) {
        fprintf(stderr, "enode-pin: cannot connect to %s: %s\n", connect_to,
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
