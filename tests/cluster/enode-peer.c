/* enode-peer - a C node that Erlang-side tests drive remotely.
 *
 * Flags as enode-echo (erl's, plus -connect NODE and -v); registers a
 * mailbox as `peer` and prints "ready <node>" once it listens.
 *   {From, Term}          Term is sent back to From (as enode-echo does);
 *   {From, Ref, Request}  {Ref, Reply} is sent to From, where Request is
 *     self                       -> the pid of the `peer` mailbox
 *     {link, Pid} {unlink, Pid}  -> ok
 *     {monitor, Pid | Name | {Name, Node}} -> the monitor reference
 *     {demonitor, Ref}           -> ok
 *     {trap_exit, Bool}          -> ok
 *     {send, Dest, Msg}          -> ok, once sent (Dest: pid, name, {Name, Node})
 *     {call, Dest, Req, Ms}      -> {ok, Reply} | {error, Reason}
 *     {exit, Reason}             -> no reply: `peer` exits with Reason and
 *                                   a fresh mailbox registers as `peer`.
 * Every {'EXIT', ...} and {'DOWN', ...} that `peer` receives goes on to
 * the From of the last request. -v prints every signal to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enode.h>

static enode_t *node;
static enode_mbox_t *peer;
static erlang_pid last_from;
static int have_last_from, verbose;

static void die(const char *what)
{
    fprintf(stderr, "enode-peer: %s: %s\n", what, enode_last_error(node));
    exit(1);
}

static void new_peer(void)
{
    if (enode_mbox_new(node, &peer) < 0 || enode_register(peer, "peer") < 0)
        die("cannot register peer");
}

/* ---- decoding helpers ---------------------------------------------------- */

static int is_atom(const char *buf, int i, const char *want)
{
    char a[MAXATOMLEN_UTF8];
    return ei_decode_atom(buf, &i, a) == 0 && strcmp(a, want) == 0;
}

/* Dest at buf[*i]: a pid, a name (this node), or {Name, Node}. */
struct dest {
    int is_pid;
    erlang_pid pid;
    char name[MAXATOMLEN_UTF8], node[MAXATOMLEN_UTF8];
};

static int decode_dest(const char *buf, int *i, struct dest *d)
{
    int arity, at = *i;

    memset(d, 0, sizeof *d);
    if (ei_decode_pid(buf, i, &d->pid) == 0) {
        d->is_pid = 1;
        return 0;
    }
    *i = at;
    if (ei_decode_atom(buf, i, d->name) == 0)
        return 0;
    *i = at;
    return ei_decode_tuple_header(buf, i, &arity) == 0 && arity == 2 &&
                   ei_decode_atom(buf, i, d->name) == 0 &&
                   ei_decode_atom(buf, i, d->node) == 0
               ? 0
               : -1;
}

static const char *dest_node(const struct dest *d)
{
    return d->node[0] ? d->node : NULL;
}

/* ---- requests ------------------------------------------------------------ */

static void reply(const erlang_pid *to, const char *ref, int ref_len,
                  const ei_x_buff *answer)
{
    ei_x_buff x;

    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_append_buf(&x, ref, ref_len);
    ei_x_append_buf(&x, answer->buff + 1, answer->index - 1);
    enode_send(peer, to, &x);
    ei_x_free(&x);
}

static void answer_atom(ei_x_buff *a, const char *atom)
{
    ei_x_encode_atom(a, atom);
}

static void do_call(const char *buf, int i, ei_x_buff *a)
{
    struct dest d;
    long timeout;
    int req_at, rc;
    ei_x_buff req, rep;

    if (decode_dest(buf, &i, &d) < 0)
        return answer_atom(a, "badarg");
    req_at = i;
    ei_skip_term(buf, &i);
    int req_end = i;
    if (ei_decode_long(buf, &i, &timeout) < 0)
        return answer_atom(a, "badarg");
    ei_x_new_with_version(&req);
    ei_x_append_buf(&req, buf + req_at, req_end - req_at);
    rc = enode_call(peer, d.is_pid ? &d.pid : NULL, d.name, dest_node(&d),
                    &req, &rep, (int)timeout);
    ei_x_free(&req);
    ei_x_encode_tuple_header(a, 2);
    if (rc == 0) {
        ei_x_encode_atom(a, "ok");
        ei_x_append_buf(a, rep.buff + 1, rep.index - 1);
        ei_x_free(&rep);
    } else {
        ei_x_encode_atom(a, "error");
        ei_x_encode_atom(a, rc == ENODE_ETIMEOUT ? "timeout"
                            : rc == ENODE_ECONN  ? "noconnection"
                                                 : "noproc");
    }
}

static void do_monitor(const char *buf, int i, ei_x_buff *a)
{
    struct dest d;
    erlang_ref ref;
    int rc;

    if (decode_dest(buf, &i, &d) < 0)
        return answer_atom(a, "badarg");
    rc = d.is_pid ? enode_monitor(peer, &d.pid, &ref)
                  : enode_monitor_name(peer, d.name, dest_node(&d), &ref);
    if (rc < 0)
        return answer_atom(a, "error");
    ei_x_encode_ref(a, &ref);
}

/* Handle {Op, Args...} or an atom; fills the answer. 1 if none is due. */
static int request(const char *buf, int i, ei_x_buff *a)
{
    char op[MAXATOMLEN_UTF8];
    int arity = 0;
    erlang_pid pid;

    if (is_atom(buf, i, "self")) {
        ei_x_encode_pid(a, enode_mbox_pid(peer));
        return 0;
    }
    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity < 2 ||
        ei_decode_atom(buf, &i, op) < 0) {
        answer_atom(a, "badarg");
        return 0;
    }
    if (strcmp(op, "link") == 0 || strcmp(op, "unlink") == 0) {
        if (ei_decode_pid(buf, &i, &pid) < 0)
            answer_atom(a, "badarg");
        else if ((op[0] == 'l' ? enode_link(peer, &pid)
                               : enode_unlink(peer, &pid)) < 0)
            answer_atom(a, "noproc");
        else
            answer_atom(a, "ok");
    } else if (strcmp(op, "monitor") == 0) {
        do_monitor(buf, i, a);
    } else if (strcmp(op, "demonitor") == 0) {
        erlang_ref ref;
        if (ei_decode_ref(buf, &i, &ref) == 0)
            enode_demonitor(peer, &ref);
        answer_atom(a, "ok");
    } else if (strcmp(op, "trap_exit") == 0) {
        enode_trap_exit(peer, is_atom(buf, i, "true"));
        answer_atom(a, "ok");
    } else if (strcmp(op, "send") == 0 && arity == 3) {
        struct dest d;
        ei_x_buff msg;
        if (decode_dest(buf, &i, &d) < 0) {
            answer_atom(a, "badarg");
            return 0;
        }
        int start = i;
        ei_skip_term(buf, &i);
        ei_x_new_with_version(&msg);
        ei_x_append_buf(&msg, buf + start, i - start);
        if (d.is_pid)
            enode_send(peer, &d.pid, &msg);
        else
            enode_reg_send(peer, dest_node(&d), d.name, &msg);
        ei_x_free(&msg);
        answer_atom(a, "ok");
    } else if (strcmp(op, "call") == 0 && arity == 4) {
        do_call(buf, i, a);
    } else if (strcmp(op, "exit") == 0) {
        ei_x_buff reason;
        int start = i;
        ei_skip_term(buf, &i);
        ei_x_new_with_version(&reason);
        ei_x_append_buf(&reason, buf + start, i - start);
        enode_mbox_t *old = peer;
        enode_mbox_exit(old, &reason);
        ei_x_free(&reason);
        enode_mbox_free(old);
        new_peer();
        return 1;
    } else {
        answer_atom(a, "badarg");
    }
    return 0;
}

/* ---- messages ------------------------------------------------------------- */

/* {'EXIT', ...} or {'DOWN', ...}: pass it on to the last requester. */
static int forward_signal(const enode_msg_t *m, int i)
{
    int arity;
    if (ei_decode_tuple_header(m->msg.buff, &i, &arity) < 0 ||
        !(is_atom(m->msg.buff, i, "EXIT") || is_atom(m->msg.buff, i, "DOWN")))
        return 0;
    if (verbose) {
        char *s = NULL;
        int j = 1;
        ei_s_print_term(&s, m->msg.buff, &j);
        fprintf(stderr, "enode-peer: signal %s\n", s ? s : "?");
        free(s);
    }
    if (have_last_from)
        enode_send(peer, &last_from, &m->msg);
    return 1;
}

static void handle(const enode_msg_t *m)
{
    const char *buf = m->msg.buff;
    int i = 1, arity;
    erlang_pid from;

    if (forward_signal(m, 1))
        return;
    if (ei_decode_tuple_header(buf, &i, &arity) < 0 ||
        (arity != 2 && arity != 3) || ei_decode_pid(buf, &i, &from) < 0)
        return;
    if (arity == 2) { /* {From, Term}: echo */
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_append_buf(&x, buf + i, m->msg.index - i);
        enode_send(peer, &from, &x);
        ei_x_free(&x);
        return;
    }
    int ref_at = i;
    ei_skip_term(buf, &i);
    int ref_len = i - ref_at;
    ei_x_buff answer;
    last_from = from;
    have_last_from = 1;
    ei_x_new_with_version(&answer);
    if (request(buf, i, &answer) == 0)
        reply(&from, buf + ref_at, ref_len, &answer);
    ei_x_free(&answer);
}

/* Fill config from erl's flags and ours. 0, or the status to exit with. */
static int configure(enode_config_t *config, int argc, char **argv,
                     const char **connect_to)
{
    char err[512];

    if (enode_config_from_args(config, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-peer: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-connect") == 0 && i + 1 < argc) {
            *connect_to = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            verbose = 1;
            enode_config_set_log(config, NULL, NULL, ENODE_LOG_INFO);
        } else {
            fprintf(stderr, "enode-peer: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!enode_config_get_name(config, NULL))
        enode_config_set_name(config, "peer", 0);
    return 0;
}

int main(int argc, char **argv)
{
    enode_config_t *config;
    const char *connect_to = NULL;
    char err[512];
    int status;

    if (enode_config_new(&config) < 0) {
        fprintf(stderr, "enode-peer: out of memory\n");
        return 1;
    }
    status = configure(config, argc, argv, &connect_to);
    if (status == 0 && enode_new(&node, config, err, sizeof err) < 0) {
        fprintf(stderr, "enode-peer: %s\n", err);
        status = 1;
    }
    enode_config_free(config);
    if (status != 0)
        return status;
    new_peer();
    if (connect_to && enode_connect(node, connect_to) < 0)
        die("cannot connect");
    printf("ready %s\n", enode_name(node));
    fflush(stdout);
    for (;;) {
        enode_msg_t m;
        int rc = enode_receive(peer, &m, -1);
        if (rc == 0) {
            handle(&m);
            enode_msg_free(&m);
        } else if (rc == ENODE_ECLOSED) { /* killed by a signal */
            enode_mbox_free(peer);
            new_peer();
        }
    }
}
