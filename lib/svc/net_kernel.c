/* net_kernel.c - net_kernel's answers: {'$gen_call', {Pid, Tag},
 * {is_auth, Node}} -> yes, which makes net_adm:ping/1 say pong. */
#include "svc/net_kernel.h"

#include <string.h>

static void on_message(void *ud, en_mbox_t *self, const erlang_pid *from,
                       const char *msg, size_t len)
{
    en_proc_t *p = ud;
    erlang_pid caller;
    char atom[MAXATOMLEN_UTF8];
    int tag_at, tag_len, i, arity;
    ei_x_buff yes;

    (void)from;
    if (en_parse_gen_call(msg, len, &caller, &tag_at, &tag_len, &i) < 0) {
        en_core_log(p->core, ENODE_LOG_DEBUG,
                    "net_kernel: a message that is no call; dropped");
        return;
    }
    if (ei_decode_tuple_header(msg, &i, &arity) == 0 && arity == 2 &&
        ei_decode_atom(msg, &i, atom) == 0 && strcmp(atom, "is_auth") == 0 &&
        en_atom_term(&yes, "yes") == 0) {
        en_gen_reply_locked(p, en_mbox_self(self), &caller, msg + tag_at,
                            tag_len, yes.buff, (size_t)yes.index);
        ei_x_free(&yes);
        return;
    }
    en_core_log(p->core, ENODE_LOG_INFO,
                "net_kernel: a call from %s that enode does not serve; "
                "ignored", caller.node);
}

int en_net_kernel_start(en_proc_t *p)
{
    en_mbox_t *self;
    return en_service_new(p, "net_kernel", on_message, p, &self);
}
