/* ids.c - fresh pids and references of this node. */
#include "proc/mbox.h"

#include <string.h>
#include <time.h>

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
