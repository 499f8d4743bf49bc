/* static_prog.c - a program linked with `pkg-config --static --libs
 * enode` against libenode.a alone (tests/link/test_static.sh): it makes a
 * node over TCP without EPMD, which pulls in the network layer, wolfSSL
 * and ei, and encodes a term with ei. */
#include <enode.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    enode_config_t *cfg;
    enode_t *node = NULL;
    ei_x_buff x;
    char err[256] = "";

    if (enode_config_new(&cfg) != 0 ||
        enode_config_set_name(cfg, "static@localhost", 0) != 0 ||
        enode_config_set_cookie(cfg, "c") != 0 ||
        enode_config_set_proto(cfg, ENODE_PROTO_TCP) != 0 ||
        enode_config_set_dist_port(cfg, 30000 + getpid() % 20000) != 0)
        return 1;
    if (enode_new(&node, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "enode_new: %s\n", err);
        return 1;
    }
    enode_config_free(cfg);
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "linked");
    printf("%s %s %d\n", enode_version(), enode_name(node), x.index);
    ei_x_free(&x);
    enode_free(node);
    return 0;
}
