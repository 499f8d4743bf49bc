/* proc.c - the process layer: its place above the network layer, and the
 * services that follow nodes.
 */
#include "proc/dispatch.h"
#include "proc/exit.h"
#include "proc/monitors.h"
#include "proc/spawn.h"

#include "base/list.h"

#include <string.h>
#include <time.h>

/* Like net_kernel:monitor_nodes(true), mailboxes that watch nodes hear
 * of visible nodes only (doc/enode_monitor_nodes.3). */
static void on_node_up(void *ud, const char *peer, int visible)
{
    en_proc_t *p = ud;

    if (visible)
        en_monitors_tell_nodes(p, "nodeup", peer);
    for (en_node_watch_t *w = p->watches; w; w = w->next)
        if (w->up)
            w->up(w->ud, peer);
}

static void on_node_down(void *ud, const char *peer, int was_up,
                         int visible)
{
    en_proc_t *p = ud;

    en_monitors_node_down(p, peer);
    en_spawn_node_down(p, peer);
    en_exit_node_down(p, peer);
    /* Services hear of failed dials too, as global's sync_other does
     * through monitor_node: it forgets the node and ends calls waiting
     * on it. */
    for (en_node_watch_t *w = p->watches; w; w = w->next)
        if (w->down)
            w->down(w->ud, peer);
    /* Like net_kernel: no nodedown for a node that never came up. */
    if (was_up && visible)
        en_monitors_tell_nodes(p, "nodedown", peer);
}

void en_proc_init(en_proc_t *p, en_core_t *core, en_net_t *net)
{
    memset(p, 0, sizeof *p);
    p->core = core;
    p->net = net;
    p->next_pid_num = 1;
    p->mbox_over = en_mbox_over_limit;
    net->hooks.ud = p;
    net->hooks.packet = en_dispatch_packet;
    net->hooks.node_up = on_node_up;
    net->hooks.node_down = on_node_down;
}

void en_proc_free(en_proc_t *p)
{
    while (p->mboxes)
        en_mbox_free_locked(p->mboxes);
    en_spawn_free_all(p);
}

void en_proc_watch_nodes(en_proc_t *p, en_node_watch_t *w)
{
    w->next = p->watches;
    p->watches = w;
}

void en_proc_unwatch_nodes(en_proc_t *p, en_node_watch_t *w)
{
    en_node_watch_t *x;
    EN_LIST_UNLINK(&p->watches, x, x == w);
}

void en_proc_on_spawn(en_proc_t *p, en_spawn_fn fn, void *ud)
{
    p->spawn = fn;
    p->spawn_ud = ud;
}
