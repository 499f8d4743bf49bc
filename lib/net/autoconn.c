/* autoconn.c - when a send may connect by itself: the kernel parameter
 * dist_auto_connect.
 *
 * As net_kernel.erl decides it: by default a send, a link or a monitor
 * toward a node that is not connected sets a connection up. With `never`
 * none does; with `once` none does toward a node whose connection was up
 * and went down (the node is "barred"). Either way an explicit connect
 * (enode_connect, like net_kernel:connect_node/1) still connects and
 * lifts the bar, and a peer may always connect to us; a connection that
 * comes up, either way, lifts the bar too.
 */
#include "net/conn.h"

#include "base/list.h"

#include <stdlib.h>
#include <string.h>

struct en_barred {
    struct en_barred *next;
    char peer[EN_HS_NAME_MAX];
};

static struct en_barred **find_bar(en_net_t *net, const char *peer)
{
    struct en_barred **b = &net->barred;

    while (*b && strcmp((*b)->peer, peer) != 0)
        b = &(*b)->next;
    return b;
}

int en_net_may_dial(en_net_t *net, const char *peer)
{
    switch (net->auto_connect) {
    case ENODE_AUTO_CONNECT_NEVER:
        return 0;
    case ENODE_AUTO_CONNECT_ONCE:
        return *find_bar(net, peer) == NULL;
    default:
        return 1;
    }
}

int en_net_refuse_dial(en_net_t *net, const char *peer)
{
    en_core_error(net->core,
                  "%s: not connected, and dist_auto_connect %s keeps a "
                  "send from connecting (enode_connect() connects)",
                  peer, net->auto_connect == ENODE_AUTO_CONNECT_NEVER
                            ? "never" : "once");
    return ENODE_ECONN;
}

void en_net_bar(en_net_t *net, const char *peer)
{
    struct en_barred *b;

    if (net->auto_connect != ENODE_AUTO_CONNECT_ONCE ||
        *find_bar(net, peer))
        return;
    if (!(b = calloc(1, sizeof *b))) { /* a send may then connect again */
        en_core_log(net->core, ENODE_LOG_WARNING, "%s: out of memory to "
                    "bar it (dist_auto_connect once)", peer);
        return;
    }
    strncpy(b->peer, peer, sizeof b->peer - 1);
    b->next = net->barred;
    net->barred = b;
}

void en_net_unbar(en_net_t *net, const char *peer)
{
    struct en_barred *gone;

    EN_LIST_UNLINK(&net->barred, gone, strcmp(gone->peer, peer) == 0);
    free(gone);
}

void en_net_free_bars(en_net_t *net)
{
    while (net->barred) {
        struct en_barred *b = net->barred;
        net->barred = b->next;
        free(b);
    }
}
