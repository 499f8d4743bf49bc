/* spawn.c - processes this node's mailboxes start on other nodes, as
 * spawn_request/5 does (erpc's calls are such requests).
 *
 * A mailbox sends SPAWN_REQUEST {29, ReqId, From, GroupLeader, {M, F,
 * Arity}, Opts} with the argument list, and the peer answers SPAWN_REPLY
 * {31, ReqId, From, Flags, Result}: the new pid, or an error atom. With
 * `monitor` among the options the peer has set up a monitor from the
 * mailbox to the new process by the time it answers; its reference is
 * ReqId, and the process's end arrives as MONITOR_P_EXIT (or its PAYLOAD
 * form) with that reference.
 *
 * As OTP's runtime does for [{reply, error_only}, monitor], the mailbox
 * hears nothing of a successful spawn but the monitor's DOWN,
 * {'DOWN', ReqId, process, Pid, Reason}, and of a failed one
 * {spawn_reply, ReqId, error, Reason}; a lost connection is a failed
 * spawn with `noconnection` until the reply came, and the monitor's
 * `noconnection` after. A request that is abandoned, or whose mailbox is
 * gone, has its monitor removed when the reply comes. Without `monitor`
 * ([{reply, no}]) the reply is dropped.
 */
#include "proc/spawn.h"
#include "base/list.h"

#include <stdlib.h>
#include <string.h>

/* A request waiting for its SPAWN_REPLY. */
struct en_spawn_req {
    struct en_spawn_req *next;
    erlang_ref req_id;
    erlang_pid requester;
    char node[EN_HS_NAME_MAX];
};

long en_list_length(const char *t, size_t len)
{
    size_t n;
    int i = 0, type, size;
    long count = 0;

    en_skip_version(&t, &len);
    if (en_term_size(t, len, &n, NULL) < 0 || n != len ||
        ei_get_type(t, &i, &type, &size) < 0)
        return -1;
    if (type == ERL_NIL_EXT || type == ERL_STRING_EXT)
        return type == ERL_NIL_EXT ? 0 : size;
    while (type == ERL_LIST_EXT) {
        if (ei_decode_list_header(t, &i, &size) < 0)
            return -1;
        count += size;
        for (int k = 0; k < size; k++)
            if (ei_skip_term(t, &i) < 0)
                return -1;
        /* The tail: [] ends it; anything but a list makes it improper. */
        if (ei_get_type(t, &i, &type, &size) < 0)
            return -1;
        if (type == ERL_NIL_EXT)
            return count;
        if (type == ERL_STRING_EXT)
            return count + size;
    }
    return -1;
}

int en_spawn_request_locked(en_mbox_t *mb, const char *node,
                            const erlang_pid *group_leader,
                            const char *module, const char *function,
                            const char *args, size_t len, int monitor,
                            erlang_ref *req_id)
{
    en_proc_t *p = mb->proc;
    /* [monitor] or [], as OTP's runtime puts them on the wire: the reply
     * options stay with the requester. */
    static const char with_monitor[] = {108, 0, 0, 0, 1, 119, 7, 'm', 'o',
                                        'n', 'i', 't', 'o', 'r', 106};
    static const char without[] = {106};
    struct en_spawn_req *req = NULL;

    en_skip_version(&args, &len);
    long arity = en_list_length(args, len);
    if (arity < 0 || arity > 255)
        return ENODE_EINVAL;
    if (mb->dead)
        return ENODE_ECLOSED;
    en_make_ref(p, req_id);
    if (monitor && !(req = calloc(1, sizeof *req)))
        return ENODE_ENOMEM;
    en_spawn_sig_t spawn = {
        .group_leader = group_leader, .module = module, .function = function,
        .arity = arity, .opts = monitor ? with_monitor : without,
        .opts_len = monitor ? sizeof with_monitor : sizeof without};
    en_sig_t sig = {.op = EN_DOP_SPAWN_REQUEST, .ref = req_id,
                    .from = &mb->pid, .msg = args, .msg_len = len,
                    .spawn = &spawn};
    int rc = en_emit(p, node, 1, &sig);
    if (rc < 0 || !req) {
        free(req);
        return rc;
    }
    req->req_id = *req_id;
    req->requester = mb->pid;
    snprintf(req->node, sizeof req->node, "%s", node);
    req->next = p->spawns;
    p->spawns = req;
    return 0;
}

static struct en_spawn_req *take_request(en_proc_t *p, const erlang_ref *id)
{
    struct en_spawn_req *r;
    EN_LIST_UNLINK(&p->spawns, r, en_ref_eq(&r->req_id, id));
    return r;
}

/* {spawn_reply, ReqId, error, Reason} into mb. */
static void deliver_failure(en_mbox_t *mb, const erlang_ref *req_id,
                            const char *reason, size_t len)
{
    ei_x_buff x;

    en_skip_version(&reason, &len);
    if (ei_x_new_with_version(&x) < 0)
        return;
    if (ei_x_encode_tuple_header(&x, 4) == 0 &&
        ei_x_encode_atom(&x, "spawn_reply") == 0 &&
        ei_x_encode_ref(&x, req_id) == 0 &&
        ei_x_encode_atom(&x, "error") == 0 &&
        ei_x_append_buf(&x, reason, (int)len) == 0)
        en_mbox_deliver(mb, NULL, NULL, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

/* The monitor the peer set up for mb: its DOWN comes as any other's. */
static void keep_monitor(en_mbox_t *mb, const erlang_ref *req_id,
                         const erlang_pid *pid)
{
    en_mon_t *m = calloc(1, sizeof *m);

    if (!m) {
        en_core_log(mb->proc->core, ENODE_LOG_ERROR,
                    "out of memory: the result of a spawned process is lost");
        return;
    }
    m->ref = *req_id;
    m->pid = *pid;
    snprintf(m->node, sizeof m->node, "%s", pid->node);
    m->next = mb->mons;
    mb->mons = m;
}

/* Nobody waits for what the new process does: undo the monitor or link
 * the peer set up for a requester that gave up or is gone. */
static void let_go(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m,
                   const erlang_pid *pid)
{
    if (m->spawn_flags & 2) {
        en_sig_t sig = {.op = EN_DOP_DEMONITOR_P, .from = &m->to_pid,
                        .to = pid, .ref = &m->ref};
        en_emit_on(p, c, &sig);
    }
    if (m->spawn_flags & 1) {
        ei_x_buff abandoned;
        if (en_atom_term(&abandoned, "abandoned") < 0)
            return;
        en_sig_t sig = {.op = EN_DOP_EXIT, .from = &m->to_pid, .to = pid,
                        .msg = abandoned.buff,
                        .msg_len = (size_t)abandoned.index};
        en_emit_on(p, c, &sig);
        ei_x_free(&abandoned);
    }
}

void en_spawn_reply(en_proc_t *p, en_conn_t *c, const en_dmsg_t *m)
{
    struct en_spawn_req *req = take_request(p, &m->ref);
    en_mbox_t *mb = req ? en_mbox_live(p, &req->requester) : NULL;
    erlang_pid pid;
    int i = 0, is_pid = m->spawn_result &&
                        ei_decode_pid(m->spawn_result, &i, &pid) == 0;

    free(req);
    if (!is_pid) {
        if (mb && m->spawn_result)
            deliver_failure(mb, &m->ref, m->spawn_result,
                            m->spawn_result_len);
        return;
    }
    if (mb && (m->spawn_flags & 2))
        keep_monitor(mb, &m->ref, &pid);
    else
        let_go(p, c, m, &pid);
}

int en_spawn_abandon_locked(en_mbox_t *mb, const erlang_ref *req_id)
{
    struct en_spawn_req *req = take_request(mb->proc, req_id);

    if (req) {
        free(req); /* the reply, when it comes, finds no request */
        return 1;
    }
    return en_demonitor_locked(mb, req_id) == 0;
}

void en_spawn_node_down(en_proc_t *p, const char *peer)
{
    ei_x_buff noconn;
    struct en_spawn_req *r;

    if (en_atom_term(&noconn, "noconnection") < 0)
        return;
    EN_LIST_UNLINK_EACH(&p->spawns, r, strcmp(r->node, peer) == 0) {
        en_mbox_t *mb = en_mbox_live(p, &r->requester);
        if (mb)
            deliver_failure(mb, &r->req_id, noconn.buff,
                            (size_t)noconn.index);
        free(r);
    }
    ei_x_free(&noconn);
}

void en_spawn_free_all(en_proc_t *p)
{
    while (p->spawns) {
        struct en_spawn_req *r = p->spawns;
        p->spawns = r->next;
        free(r);
    }
}
