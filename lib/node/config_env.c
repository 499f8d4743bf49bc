/* config_env.c - erl's flags from erl's environment, in erl's order.
 *
 * erlexec (erts/etc/common/erlexec.c) builds its argument list from
 * ERL_AFLAGS, then the command line, then ERL_FLAGS, then ERL_ZFLAGS, and
 * later flags override earlier ones; the TLS distribution guide exports
 * -proto_dist and -ssl_dist_optfile through ERL_FLAGS. A C node that
 * reads the same variables joins a cluster set up that way unchanged.
 *
 * The variables hold flags for every Erlang node of the host, so the
 * words enode does not know are skipped here, not handed to the program.
 * ERL_EPMD_PORT is read where the node starts (en_epmd_default_port).
 * ERL_EPMD_ADDRESS is for epmd itself, which listens on it (and always on
 * the loopback address too): erl's nodes register over loopback and look
 * a peer up at the peer's host, whatever it says, and so does enode.
 */
#include "node/config_int.h"

#include <stdio.h>
#include <stdlib.h>

/* The flags of the environment variable `name`, if it is set. */
static int read_variable(enode_config_t *c, const char *name, char *err,
                         size_t errlen)
{
    const char *value = getenv(name);
    en_words_t w = {0};
    int rc;

    if (!value)
        return 0;
    rc = en_words_split(&w, value, 0);
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    else
        rc = en_config_read_words(c, w.n, w.word, NULL, NULL, 0, err,
                                  errlen);
    if (rc < 0)
        en_config_err_prefix(err, errlen, name);
    en_words_free(&w);
    return rc;
}

int enode_config_from_env_args(enode_config_t *c, int *argc, char **argv,
                               char *err, size_t errlen)
{
    char dummy[1];
    int rc;

    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!c || !argc || (*argc > 0 && !argv)) {
        snprintf(err, errlen, "enode_config_from_env_args: no "
                 "configuration or no argv");
        return ENODE_EINVAL;
    }
    if ((rc = read_variable(c, "ERL_AFLAGS", err, errlen)) < 0 ||
        (rc = enode_config_from_args(c, argc, argv, err, errlen)) < 0 ||
        (rc = read_variable(c, "ERL_FLAGS", err, errlen)) < 0 ||
        (rc = read_variable(c, "ERL_ZFLAGS", err, errlen)) < 0)
        return rc;
    return 0;
}
