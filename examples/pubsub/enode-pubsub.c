/* enode-pubsub - a C subscriber in an Erlang publish/subscribe cluster.
 * It is a member of a process group (OTP's pg) that Erlang publishers
 * broadcast to, holds a global name (OTP's global) that any node can send
 * requests to, and calls back into Erlang for every event it receives.
 *
 *   enode-pubsub -sname sub -setcookie secret \
 *                -proto_dist inet_tls -ssl_dist_optfile dist.conf \
 *                -group events -global enode_pubsub -handler audit:event
 *
 * Publishers broadcast as to any pg group:
 *   [P ! Event || P <- pg:get_members(events)]
 * For each event the node calls Module:Function(Event) (-handler) on the
 * publisher's node, with rpc (erpc underneath), and counts the outcome.
 * Requests to the global name, from any node:
 *   global:send(enode_pubsub, {self(), stats})
 *       -> {pubsub_stats, Events, Handled, Failed}
 *   global:send(enode_pubsub, {self(), publish, Event})
 *       -> Event goes to every other member of the group, then
 *          {published, HowMany} comes back
 *   global:send(enode_pubsub, stop)
 *       -> it leaves the group, drops the name and exits (status 0)
 * Any other message is an event. Flags, beside erl's:
 *   -group NAME      the group (an atom) in the default scope (default events)
 *   -global NAME     the global name (default enode_pubsub)
 *   -handler M:F     the callback (default: none, events are only counted)
 *   -connect NODE    connect to NODE at start
 *   -v               log the node's connections
 * Once it is in the group and holds the name it prints "ready <node>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enode.h>

#define CALLBACK_TIMEOUT_MS 5000
#define MAX_MEMBERS 1024

struct options {
    const char *group, *global, *connect_to;
    char module[MAXATOMLEN_UTF8], function[MAXATOMLEN_UTF8]; /* "" if none */
};

struct subscriber {
    enode_t *node;
    enode_mbox_t *mbox;
    ei_x_buff group;       /* the group as a term */
    const struct options *opt;
    long events, handled, failed;
};

/* ---- events ------------------------------------------------------------------ */

/* Call the handler on the publisher's node with the event as argument. */
static void call_handler(struct subscriber *s, const enode_msg_t *m, int start)
{
    ei_x_buff args, result;
    int rc;

    if (!s->opt->module[0])
        return;
    if (!m->has_from) { /* nowhere to call back */
        s->failed++;
        return;
    }
    ei_x_new(&args);
    ei_x_encode_list_header(&args, 1);
    ei_x_append_buf(&args, m->msg.buff + start, m->msg.index - start);
    ei_x_encode_empty_list(&args);
    rc = enode_rpc_call(s->mbox, m->from.node, s->opt->module,
                        s->opt->function, &args, &result, CALLBACK_TIMEOUT_MS);
    ei_x_free(&args);
    if (rc == 0)
        s->handled++;
    else
        s->failed++;
    if (rc != 0)
        fprintf(stderr, "enode-pubsub: %s:%s on %s: %s\n", s->opt->module,
                s->opt->function, m->from.node, enode_strerror(rc));
    if (rc == 0 || rc == ENODE_ERAISED)
        ei_x_free(&result);
}

/* ---- requests to the global name ------------------------------------------------ */

static void reply(struct subscriber *s, const erlang_pid *to, ei_x_buff *r)
{
    enode_send(s->mbox, to, r);
    ei_x_free(r);
}

static void stats(struct subscriber *s, const erlang_pid *from)
{
    ei_x_buff r;
    ei_x_new_with_version(&r);
    ei_x_encode_tuple_header(&r, 4);
    ei_x_encode_atom(&r, "pubsub_stats");
    ei_x_encode_long(&r, s->events);
    ei_x_encode_long(&r, s->handled);
    ei_x_encode_long(&r, s->failed);
    reply(s, from, &r);
}

static int same_pid(const erlang_pid *a, const erlang_pid *b)
{
    return a->num == b->num && a->serial == b->serial &&
           a->creation == b->creation && strcmp(a->node, b->node) == 0;
}

/* Send the term at buf[start..end) to every member but ourselves, as
 * Erlang publishers do; tell `from` how many got it. */
static void publish(struct subscriber *s, const erlang_pid *from,
                    const char *buf, int start, int end)
{
    erlang_pid *members = calloc(MAX_MEMBERS, sizeof *members);
    ei_x_buff event, r;
    int n = members ? enode_pg_members(s->node, NULL, &s->group, members,
                                       MAX_MEMBERS)
                    : 0;
    long sent = 0;

    ei_x_new_with_version(&event);
    ei_x_append_buf(&event, buf + start, end - start);
    for (int i = 0; i < n && i < MAX_MEMBERS; i++)
        if (!same_pid(&members[i], enode_mbox_pid(s->mbox)) &&
            enode_send(s->mbox, &members[i], &event) == 0)
            sent++;
    ei_x_free(&event);
    free(members);
    ei_x_new_with_version(&r);
    ei_x_encode_tuple_header(&r, 2);
    ei_x_encode_atom(&r, "published");
    ei_x_encode_long(&r, sent);
    reply(s, from, &r);
}

/* {Pid, stats} or {Pid, publish, Event}: 1 if m is one and was answered. */
static int request(struct subscriber *s, const enode_msg_t *m, int start)
{
    const char *buf = m->msg.buff;
    int i = start, arity;
    erlang_pid from;
    char verb[MAXATOMLEN_UTF8];

    if (ei_decode_tuple_header(buf, &i, &arity) < 0 || arity < 2 ||
        arity > 3 || ei_decode_pid(buf, &i, &from) < 0 ||
        ei_decode_atom(buf, &i, verb) < 0)
        return 0;
    if (arity == 2 && strcmp(verb, "stats") == 0) {
        stats(s, &from);
        return 1;
    }
    if (arity == 3 && strcmp(verb, "publish") == 0) {
        publish(s, &from, buf, i, (int)m->msg.index);
        return 1;
    }
    return 0;
}

/* The atom stop: 1 if m is it. */
static int is_stop(const enode_msg_t *m, int start)
{
    char atom[MAXATOMLEN_UTF8];
    int i = start;
    return ei_decode_atom(m->msg.buff, &i, atom) == 0 &&
           i == (int)m->msg.index && strcmp(atom, "stop") == 0;
}

static void serve(struct subscriber *s)
{
    for (;;) {
        enode_msg_t m;
        int start = 0, version, stop;
        if (enode_receive(s->mbox, &m, -1) < 0)
            return;
        if (ei_decode_version(m.msg.buff, &start, &version) < 0) {
            enode_msg_free(&m);
            continue;
        }
        stop = is_stop(&m, start);
        if (!stop && !request(s, &m, start)) {
            s->events++;
            call_handler(s, &m, start);
        }
        enode_msg_free(&m);
        if (stop)
            return;
    }
}

/* ---- set-up ---------------------------------------------------------------------- */

/* "module:function" into opt. 0, or -1. */
static int parse_handler(const char *text, struct options *opt)
{
    const char *colon = strchr(text, ':');
    size_t mlen = colon ? (size_t)(colon - text) : 0;
    if (!colon || mlen == 0 || mlen >= sizeof opt->module || !colon[1] ||
        strlen(colon + 1) >= sizeof opt->function)
        return -1;
    memcpy(opt->module, text, mlen);
    opt->module[mlen] = '\0';
    strcpy(opt->function, colon + 1);
    return 0;
}

/* erl's flags into config, ours into opt. 0, or the exit status. */
static int configure(enode_config_t *config, struct options *opt, int argc,
                     char **argv)
{
    char err[512];

    if (enode_config_from_args(config, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-pubsub: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-group") == 0 && v) {
            opt->group = v;
        } else if (strcmp(a, "-global") == 0 && v) {
            opt->global = v;
        } else if (strcmp(a, "-handler") == 0 && v) {
            if (parse_handler(v, opt) < 0) {
                fprintf(stderr, "enode-pubsub: -handler wants Module:Function\n");
                return 2;
            }
        } else if (strcmp(a, "-connect") == 0 && v) {
            opt->connect_to = v;
        } else if (strcmp(a, "-v") == 0) {
            enode_config_set_log(config, NULL, NULL, ENODE_LOG_INFO);
            continue;
        } else {
            fprintf(stderr, "enode-pubsub: unknown argument '%s'\n", a);
            return 2;
        }
        i++; /* the flag's value */
    }
    if (!enode_config_get_name(config, NULL))
        enode_config_set_name(config, "pubsub", 0);
    return 0;
}

/* Connect, join the group, take the global name. 0, or -1 once it said
 * why. */
static int join(struct subscriber *s)
{
    const struct options *opt = s->opt;
    int rc;

    if (opt->connect_to && enode_connect(s->node, opt->connect_to) < 0) {
        fprintf(stderr, "enode-pubsub: cannot connect to %s: %s\n",
                opt->connect_to, enode_last_error(s->node));
        return -1;
    }
    ei_x_new(&s->group);
    ei_x_encode_atom(&s->group, opt->group);
    if ((rc = enode_mbox_new(s->node, &s->mbox)) < 0 ||
        (rc = enode_pg_join(s->mbox, NULL, &s->group)) < 0) {
        fprintf(stderr, "enode-pubsub: cannot join %s: %s\n", opt->group,
                enode_strerror(rc));
        return -1;
    }
    if ((rc = enode_global_register(s->mbox, opt->global)) < 0) {
        fprintf(stderr, "enode-pubsub: cannot register %s globally: %s\n",
                opt->global, enode_strerror(rc));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options opt = {.group = "events", .global = "enode_pubsub"};
    struct subscriber s = {.opt = &opt};
    enode_config_t *config;
    char err[512];
    int status;

    if (enode_config_new(&config) < 0)
        return 1;
    status = configure(config, &opt, argc, argv);
    if (status == 0 && enode_new(&s.node, config, err, sizeof err) < 0) {
        fprintf(stderr, "enode-pubsub: %s\n", err);
        status = 1;
    }
    enode_config_free(config);
    if (status == 0 && join(&s) < 0)
        status = 1;
    if (status == 0) {
        printf("ready %s\n", enode_name(s.node));
        fflush(stdout);
        serve(&s);
        /* Gone from the group and the name at once, everywhere; enode_free
         * would do both too, as the node leaves the cluster. */
        enode_pg_leave(s.mbox, NULL, &s.group);
        enode_global_unregister(s.node, opt.global);
    }
    if (s.group.buff)
        ei_x_free(&s.group);
    enode_free(s.node);
    return status;
}
