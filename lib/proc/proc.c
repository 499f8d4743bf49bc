/* proc.c - the process layer: its place above the network layer, pids,
 * references, and the services that follow nodes.
 */
#include "proc/mbox.h"

#include "base/list.h"

#include <string.h>
#include <time.h>

static void on_node_up(void *ud, const char *peer)
{
    en_proc_t *p = ud;

    en_monitors_tell_nodes(p, "nodeup", peer);
    for (en_node_watch_t *w = p->watches; w; w = w->next)
        if (w->up)
            w->up(w->ud, peer);
}

static void on_node_down(void *ud, const char *peer, int was_up)
{
    en_proc_t *p = ud;

    en_monitors_node_down(p, peer);
    en_links_node_down(p, peer);
    /* Services hear of failed dials too, as global's sync_other does
     * through monitor_node: it forgets the node and ends calls waiting
     * on it. */
    for (en_node_watch_t *w = p->watches; w; w = w->next)
        if (w->down)
            w->down(w->ud, peer);
    /* Like net_kernel: no nodedown for a node that never came up. */
    if (was_up)
        en_monitors_tell_nodes(p, "nodedown", peer);
}

void en_proc_init(en_proc_t *p, en_core_t *core, en_net_t *net)
{
    memset(p, 0, sizeof *p);
    p->core = core;
    p->net = net;
    p->next_pid_num = 1;
    net->hooks.ud = p;
    net->hooks.packet = en_dispatch_packet;
    net->hooks.node_up = on_node_up;
    net->hooks.node_down = on_node_down;
}

void en_proc_free(en_proc_t *p)
{
    while (p->mboxes)
        en_mbox_free_locked(p->mboxes);
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

void en_make_pid(en_proc_t *p, erlang_pid *pid)
{
    memset(pid, 0, sizeof *pid);
    strcpy(pid->node, p->core->name);
    /* The classic 15-bit number and 13-bit serial every OTP release
     * decodes, whatever its NEW_PID_EXT limits. */
    pid->num = p->next_pid_num;
    pid->serial = p->next_pid_serial;
    pid->creation = p->core->creation;
    if (++p->next_pid_num > 0x7fff) {
        p->next_pid_num = 1;
        p->next_pid_serial = (p->next_pid_serial + 1) & 0x1fff;
    }
}

void en_make_ref(en_proc_t *p, erlang_ref *ref)
{
    if (p->ref_words[1] == 0 && p->ref_words[2] == 0) {
        /* Start from the clock so refs differ across restarts. */
        uint64_t t = (uint64_t)time(NULL) ^ en_now_ms();
        p->ref_words[1] = (uint32_t)t;
        p->ref_words[2] = (uint32_t)(t >> 32) | 1;
    }
    memset(ref, 0, sizeof *ref);
    strcpy(ref->node, p->core->name);
    ref->len = 3;
    ref->creation = p->core->creation;
    /* The first word keeps to 18 bits, as OTP's own references do. */
    if (++p->ref_words[0] > 0x3ffff) {
        p->ref_words[0] = 0;
        p->ref_words[1]++;
    }
    ref->n[0] = p->ref_words[0];
    ref->n[1] = p->ref_words[1];
    ref->n[2] = p->ref_words[2];
}
