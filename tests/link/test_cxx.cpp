// test_cxx.cpp - the public header compiles as C++ and its calls link
// from C++ (extern "C"): a configuration from erl-style flags, a term
// through ei, a node over TCP without EPMD, a mailbox sending to itself.
#include <enode.h>

#include <cstdio>
#include <cstring>
#include <unistd.h>

static int fail(const char *what)
{
    std::fprintf(stderr, "test_cxx: %s\n", what);
    return 1;
}

int main()
{
    enode_config_t *cfg = nullptr;
    char err[256] = "";
    char prog[] = "test_cxx", sname[] = "-sname", name[] = "cxx@localhost";
    char *argv[] = {prog, sname, name, nullptr};
    int argc = 3;

    if (enode_config_new(&cfg) != ENODE_OK ||
        enode_config_from_args(cfg, &argc, argv, err, sizeof err) != 0 ||
        enode_config_set_cookie(cfg, "c") != 0 ||
        enode_config_set_proto(cfg, ENODE_PROTO_TCP) != 0 ||
        enode_config_set_dist_port(cfg, 30000 + getpid() % 20000) != 0)
        return fail(err);
    enode_t *node = nullptr;
    if (enode_new(&node, cfg, err, sizeof err) != 0)
        return fail(err);
    enode_config_free(cfg);

    enode_mbox_t *mbox = nullptr;
    ei_x_buff x;
    enode_msg_t msg;
    if (enode_mbox_new(node, &mbox) != 0)
        return fail("enode_mbox_new");
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "from_cxx");
    if (enode_send(mbox, enode_mbox_pid(mbox), &x) != 0 ||
        enode_receive(mbox, &msg, 1000) != 0)
        return fail("send to self");
    ei_x_free(&x);

    int index = 0, version;
    char atom[MAXATOMLEN_UTF8];
    if (ei_decode_version(msg.msg.buff, &index, &version) != 0 ||
        ei_decode_atom(msg.msg.buff, &index, atom) != 0 ||
        std::strcmp(atom, "from_cxx") != 0)
        return fail("the message");
    enode_msg_free(&msg);
    std::printf("%s: %s got %s (enode %s, headers %s)\n", prog,
                enode_name(node), atom, enode_version(),
                ENODE_VERSION_STRING);
    enode_free(node);
    return 0;
}
