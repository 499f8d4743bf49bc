/* test_pg.c - C mailboxes in OTP's process groups (pg), with real OTP
 * nodes over mutual TLS: a C member is what pg:get_members/1,2 returns on
 * every OTP node (also one that connects later) and Erlang reaches it;
 * leave, the mailbox's end and enode_free take it away everywhere; the
 * members of an OTP node that goes vanish from the C node's view; any
 * scope works, and an OTP scope the C node does not use is left alone;
 * monitors get join and leave notices, both ways. Every test ends by
 * checking that the OTP nodes' scopes are the processes they were at
 * the start: nothing the C node sent crashed one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enode.h"
#include "enode_fixture.h"
#include "harness.h"

static h_cluster_t *cluster;
static h_node_t *a, *b;
static enode_t *node;
static char scope_a[64], scope_b[64]; /* whereis(pg) at the start */

/* OTP starts the default scope only when asked. */
static const char *const pg_args[] = {"-kernel", "start_pg", "true", NULL};

static void up(void)
{
    h_node_opts_t o = H_NODE_OPTS_INIT;

    cluster = h_cluster_with_epmd();
    cr_assert_not_null(cluster);
    o.extra_args = pg_args;
    a = h_node_launch(cluster, "pga", &o);
    b = h_node_launch(cluster, "pgb", &o);
    cr_assert(a && b);
    cr_assert_eq(h_node_wait_ready(a, 30000), 0);
    cr_assert_eq(h_node_wait_ready(b, 30000), 0);
    cr_assert(h_eval_expectf(a, "pong", "net_adm:ping('%s').", h_node_name(b)));
    cr_assert_eq(h_eval(a, "whereis(pg)", scope_a, sizeof scope_a, 0), H_OK);
    cr_assert_eq(h_eval(b, "whereis(pg)", scope_b, sizeof scope_b, 0), H_OK);
}

static void down(void)
{
    enode_free(node);
    node = NULL;
    h_cluster_stop(cluster);
}

static void start_c_node(const char *name)
{
    enode_config_t *cfg;
    char err[512];

    cfg = h_enode_config(cluster, name);
    cr_assert_not_null(cfg);
    if (getenv("TEST_PG_DEBUG"))
        cr_assert_eq(enode_config_set_log(cfg, NULL, NULL, ENODE_LOG_DEBUG),
                     0);
    int new_rc = enode_new(&node, cfg, err, sizeof err);
    enode_config_free(cfg);
    cr_assert_eq(new_rc, 0, "%s", err);
    cr_assert_eq(enode_start_thread(node), 0);
}

/* The C node connected to both OTP nodes. */
static void connect_both(void)
{
    cr_assert_eq(enode_connect(node, h_node_name(a)), 0, "%s",
                 enode_last_error(node));
    cr_assert(h_eval_expectf(b, "pong", "net_adm:ping('%s').",
                             enode_name(node)));
}

/* The scopes of both OTP nodes are the processes they were. */
static void scopes_unharmed(void)
{
    cr_assert(h_eval_expect(a, "whereis(pg)", scope_a), "a's pg restarted");
    cr_assert(h_eval_expect(b, "whereis(pg)", scope_b), "b's pg restarted");
}

/* An Erlang expression for the pid: binary_to_term(<<...>>). */
static const char *pid_expr(const erlang_pid *pid)
{
    static char bufs[4][512];
    static int next;
    char *buf = bufs[next++ % 4];
    ei_x_buff x;
    size_t at;

    ei_x_new_with_version(&x);
    ei_x_encode_pid(&x, pid);
    at = (size_t)snprintf(buf, 512, "binary_to_term(<<");
    for (int i = 0; i < x.index && at + 5 < 512; i++)
        at += (size_t)snprintf(buf + at, 512 - at, "%s%u", i ? "," : "",
                               (unsigned char)x.buff[i]);
    snprintf(buf + at, 512 - at, ">>)");
    ei_x_free(&x);
    return buf;
}

/* On n, how many times mb is in the group (an Erlang term) of scope,
 * becomes `want` within 10 s. */
static int otp_counts(h_node_t *n, const char *scope, const char *group,
                      const enode_mbox_t *mb, int want)
{
    char expr[1024], count[16];
    snprintf(expr, sizeof expr,
             "length([P || P <- pg:get_members(%s, %s), P =:= %s])", scope,
             group, pid_expr(enode_mbox_pid(mb)));
    snprintf(count, sizeof count, "%d", want);
    return h_wait_until(n, expr, count, 10000);
}

static ei_x_buff *term(const char *fmt)
{
    static ei_x_buff xs[8];
    static int next;
    ei_x_buff *x = &xs[next++ % 8];
    if (x->buff)
        ei_x_free(x);
    ei_x_new_with_version(x);
    cr_assert_eq(ei_x_format_wo_ver(x, fmt), 0, "%s", fmt);
    return x;
}

/* The nodes of the group's members as the C node sees them, sorted, as
 * ~w prints them: "['a@h','b@h']". */
static const char *c_member_nodes(const char *scope, const char *group)
{
    static char text[2048];
    erlang_pid pids[32];
    int n = enode_pg_members(node, scope, term(group), pids, 32);
    cr_assert(n >= 0 && n <= 32, "%d", n);
    for (int i = 1; i < n; i++) /* insertion sort by node */
        for (int j = i; j > 0 && strcmp(pids[j - 1].node, pids[j].node) > 0;
             j--) {
            erlang_pid t = pids[j];
            pids[j] = pids[j - 1];
            pids[j - 1] = t;
        }
    size_t at = (size_t)snprintf(text, sizeof text, "[");
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, "%s'%s'",
                               i ? "," : "", pids[i].node);
    snprintf(text + at, sizeof text - at, "]");
    return text;
}

/* Polls c_member_nodes until it is `want`, at most 10 s. */
static int c_sees(const char *scope, const char *group, const char *want)
{
    for (int i = 0; i < 200; i++) {
        if (strcmp(c_member_nodes(scope, group), want) == 0)
            return 1;
        usleep(50000);
    }
    fprintf(stderr, "C node sees %s in %s: %s, not %s\n", group,
            scope ? scope : "pg", c_member_nodes(scope, group), want);
    return 0;
}

/* A process on n, registered as name, that joins group in scope and
 * lives until sent `stop`. */
static void otp_member(h_node_t *n, const char *name, const char *scope,
                       const char *group)
{
    cr_assert(h_eval_expectf(
        n, "ok",
        "Self = self(), P = spawn(fun() -> ok = pg:join(%s, %s, self()), "
        "Self ! joined, receive stop -> ok end end), register(%s, P), "
        "receive joined -> ok after 5000 -> timeout end",
        scope, group, name));
}

static void otp_stop(h_node_t *n, const char *name)
{
    cr_assert(h_eval_expectf(
        n, "ok",
        "P = whereis(%s), Ref = monitor(process, P), P ! stop, "
        "receive {'DOWN', Ref, _, _, _} -> ok after 5000 -> timeout end",
        name));
}

static const char *nodes_text(int n, const char *node_name)
{
    static char text[1024];
    size_t at = (size_t)snprintf(text, sizeof text, "[");
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, "%s%s",
                               i ? "," : "", node_name);
    snprintf(text + at, sizeof text - at, "]");
    return text;
}

/* The next message of mb as ei prints it. */
static const char *next_text(enode_mbox_t *mb, int timeout_ms)
{
    static char text[2048];
    enode_msg_t m;
    int rc = enode_receive(mb, &m, timeout_ms);
    if (rc != 0)
        return rc == ENODE_ETIMEOUT ? "(timeout)" : enode_strerror(rc);
    char *s = NULL;
    int i = 1;
    ei_s_print_term(&s, m.msg.buff, &i);
    snprintf(text, sizeof text, "%s", s ? s : "(bad term)");
    free(s);
    enode_msg_free(&m);
    return text;
}

/* ---- membership seen from OTP -------------------------------------------- */

Test(pg, a_c_member_is_found_and_reached_from_every_otp_node, .init = up,
     .fini = down, .timeout = 120)
{
    enode_mbox_t *mb;
    char expr[1024];

    start_c_node("pgc1");
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    /* Joined before any connection: the first sync carries it. */
    cr_assert_eq(enode_pg_join(mb, NULL, term("chat")), 0);
    connect_both();
    cr_assert(otp_counts(a, "pg", "chat", mb, 1));
    cr_assert(otp_counts(b, "pg", "chat", mb, 1));
    /* pg:get_members/1 is the default scope. */
    snprintf(expr, sizeof expr, "pg:get_members(chat) =:= [%s]",
             pid_expr(enode_mbox_pid(mb)));
    cr_assert(h_eval_expect(b, expr, "true"));

    /* Erlang sends to the group and reaches the mailbox. */
    cr_assert(h_eval_expect(a, "[P ! {hello, node()} || P <- "
                               "pg:get_members(chat)], ok", "ok"));
    char want[256];
    snprintf(want, sizeof want, "{hello, %s}", h_node_name(a));
    cr_assert_str_eq(next_text(mb, 5000), want);

    /* A join once connected goes out at once; a mailbox may join twice. */
    cr_assert_eq(enode_pg_join(mb, NULL, term("{room, 42}")), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, term("{room, 42}")), 0);
    cr_assert(otp_counts(a, "pg", "{room, 42}", mb, 2));
    cr_assert(otp_counts(b, "pg", "{room, 42}", mb, 2));
    cr_assert_eq(enode_pg_leave(mb, NULL, term("{room, 42}")), 0);
    cr_assert(otp_counts(a, "pg", "{room, 42}", mb, 1));
    cr_assert(otp_counts(b, "pg", "{room, 42}", mb, 1));
    scopes_unharmed();
}

Test(pg, a_node_that_connects_later_learns_the_c_member, .init = up,
     .fini = down, .timeout = 120)
{
    enode_mbox_t *mb;
    h_node_opts_t o = H_NODE_OPTS_INIT;

    start_c_node("pgc2");
    connect_both();
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, term("\"late\"")), 0);
    cr_assert(otp_counts(a, "pg", "\"late\"", mb, 1));

    o.extra_args = pg_args;
    h_node_t *c = h_node_start(cluster, "pgl", &o);
    cr_assert_not_null(c);
    cr_assert(h_eval_expectf(c, "pong", "net_adm:ping('%s').",
                             enode_name(node)));
    cr_assert(otp_counts(c, "pg", "\"late\"", mb, 1));
    /* And the C node learns the members of the newcomer. */
    otp_member(c, "late_member", "pg", "\"late\"");
    char want[512];
    snprintf(want, sizeof want, "['%s','%s']", enode_name(node),
             h_node_name(c));
    if (strcmp(enode_name(node), h_node_name(c)) > 0)
        snprintf(want, sizeof want, "['%s','%s']", h_node_name(c),
                 enode_name(node));
    cr_assert(c_sees(NULL, "\"late\"", want));
    scopes_unharmed();
}

Test(pg, leave_mailbox_end_and_enode_free_take_the_member_away, .init = up,
     .fini = down, .timeout = 120)
{
    enode_mbox_t *mb[3];
    char expr[512];

    start_c_node("pgc3");
    connect_both();
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(enode_mbox_new(node, &mb[i]), 0);
        cr_assert_eq(enode_pg_join(mb[i], NULL, term("g")), 0);
    }
    snprintf(expr, sizeof expr,
             "lists:sort([node(P) || P <- pg:get_members(g)])");
    cr_assert(h_wait_until(a, expr, nodes_text(3, enode_name(node)), 10000));
    cr_assert(h_wait_until(b, expr, nodes_text(3, enode_name(node)), 10000));

    cr_assert_eq(enode_pg_leave(mb[0], NULL, term("g")), 0);
    cr_assert(otp_counts(a, "pg", "g", mb[0], 0));
    cr_assert(otp_counts(b, "pg", "g", mb[0], 0));
    cr_assert(h_wait_until(a, expr, nodes_text(2, enode_name(node)), 10000));

    cr_assert_eq(enode_mbox_exit(mb[1], term("shutdown")), 0);
    cr_assert(h_wait_until(a, expr, nodes_text(1, enode_name(node)), 10000));
    cr_assert(h_wait_until(b, expr, nodes_text(1, enode_name(node)), 10000));
    enode_mbox_free(mb[1]);

    enode_free(node);
    node = NULL;
    cr_assert(h_wait_until(a, expr, "[]", 10000));
    cr_assert(h_wait_until(b, expr, "[]", 10000));
    scopes_unharmed();
}

Test(pg, a_freed_mailbox_leaves_everywhere, .init = up, .fini = down,
     .timeout = 120)
{
    enode_mbox_t *mb, *other;

    start_c_node("pgc4");
    connect_both();
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_mbox_new(node, &other), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, term("g")), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, term("h")), 0);
    cr_assert_eq(enode_pg_join(other, NULL, term("g")), 0);
    cr_assert(otp_counts(b, "pg", "h", mb, 1));
    erlang_pid gone = *enode_mbox_pid(mb);
    enode_mbox_free(mb);
    char expr[1024];
    snprintf(expr, sizeof expr,
             "{lists:member(%s, pg:get_members(g) ++ pg:get_members(h)), "
             "length(pg:get_members(g))}", pid_expr(&gone));
    cr_assert(h_wait_until(a, expr, "{false,1}", 10000));
    cr_assert(h_wait_until(b, expr, "{false,1}", 10000));
    scopes_unharmed();
}

/* ---- members seen from C ------------------------------------------------- */

Test(pg, the_members_of_an_otp_node_that_goes_vanish, .init = up, .fini = down,
     .timeout = 120)
{
    char want[512];

    start_c_node("pgc5");
    cr_assert_eq(enode_pg_start(node, NULL), 0);
    connect_both();
    otp_member(a, "m1", "pg", "workers");
    otp_member(b, "m2", "pg", "workers");
    otp_member(b, "m3", "pg", "workers");
    snprintf(want, sizeof want, "['%s','%s','%s']", h_node_name(a),
             h_node_name(b), h_node_name(b));
    cr_assert(c_sees(NULL, "workers", want));
    cr_assert_eq(enode_pg_local_members(node, NULL, term("workers"), NULL, 0),
                 0);
    /* A member leaves: the C node hears it from b's scope. */
    otp_stop(b, "m3");
    snprintf(want, sizeof want, "['%s','%s']", h_node_name(a), h_node_name(b));
    cr_assert(c_sees(NULL, "workers", want));
    /* a goes down hard: its members go with it. */
    h_node_kill(a);
    snprintf(want, sizeof want, "['%s']", h_node_name(b));
    cr_assert(c_sees(NULL, "workers", want));
    ei_x_buff groups;
    cr_assert_eq(enode_pg_which_groups(node, NULL, &groups), 1);
    ei_x_free(&groups);
    cr_assert(h_eval_expect(b, "whereis(pg)", scope_b));
}

/* ---- scopes -------------------------------------------------------------- */

Test(pg, a_scope_other_than_pg_works_both_ways, .init = up, .fini = down,
     .timeout = 120)
{
    enode_mbox_t *mb;
    char want[512];

    cr_assert(h_eval_expect(a, "element(1, pg:start(chat_scope))", "ok"));
    cr_assert(h_eval_expect(b, "element(1, pg:start(chat_scope))", "ok"));
    start_c_node("pgc6");
    connect_both();
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_pg_join(mb, "chat_scope", term("{room, 7}")), 0);
    cr_assert(otp_counts(a, "chat_scope", "{room, 7}", mb, 1));
    cr_assert(otp_counts(b, "chat_scope", "{room, 7}", mb, 1));
    /* Not in the default scope. */
    cr_assert(otp_counts(a, "pg", "{room, 7}", mb, 0));
    otp_member(a, "r1", "chat_scope", "{room, 7}");
    snprintf(want, sizeof want, "['%s','%s']", h_node_name(a),
             enode_name(node)); /* "pga..." < "pgc..." */
    cr_assert(c_sees("chat_scope", "{room, 7}", want));
    cr_assert(c_sees(NULL, "{room, 7}", "[]"));
    cr_assert(h_eval_expect(a, "[P ! {to_room, 7} || P <- "
                               "pg:get_members(chat_scope, {room, 7})], ok",
                            "ok"));
    cr_assert_str_eq(next_text(mb, 5000), "{to_room, 7}");
    scopes_unharmed();
}

Test(pg, an_otp_scope_the_c_node_does_not_use_is_left_alone, .init = up,
     .fini = down, .timeout = 120)
{
    enode_mbox_t *mb;
    char lonely[64], expr[1024];

    cr_assert(h_eval_expect(a, "element(1, pg:start(lonely))", "ok"));
    cr_assert(h_eval_expect(b, "element(1, pg:start(lonely))", "ok"));
    otp_member(a, "l1", "lonely", "g");
    cr_assert_eq(h_eval(a, "whereis(lonely)", lonely, sizeof lonely, 0), H_OK);
    start_c_node("pgc7");
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_pg_join(mb, NULL, term("g")), 0);
    connect_both();
    cr_assert(otp_counts(a, "pg", "g", mb, 1));
    /* a's pg monitors the C node's pg scope; its `lonely` monitors
     * nothing there, and has heard nothing from it. */
    const char *watching =
        "length([P || {process, P} <- element(2, process_info(whereis(%s), "
        "monitors)), node(P) =:= '%s'])";
    snprintf(expr, sizeof expr, watching, "pg", enode_name(node));
    cr_assert(h_eval_expect(a, expr, "1"));
    snprintf(expr, sizeof expr, watching, "lonely", enode_name(node));
    cr_assert(h_eval_expect(a, expr, "0"));
    cr_assert(h_eval_expect(b, expr, "0"));
    cr_assert(h_eval_expect(a, "whereis(lonely)", lonely));
    cr_assert(h_eval_expect(a, "[node(P) || P <- pg:get_members(lonely, g)] "
                               "=:= [node()]", "true"));
    scopes_unharmed();
}

/* ---- monitors ------------------------------------------------------------ */

Test(pg, monitors_get_join_and_leave_notices_both_ways, .init = up,
     .fini = down, .timeout = 120)
{
    enode_mbox_t *mb, *w;
    erlang_ref ref;
    char want[512], expr[512];

    start_c_node("pgc8");
    connect_both();
    cr_assert_eq(enode_mbox_new(node, &mb), 0);
    cr_assert_eq(enode_mbox_new(node, &w), 0);
    cr_assert_eq(enode_pg_monitor(w, NULL, term("news"), &ref), 0);
    cr_assert_str_eq(next_text(w, 0), "(timeout)"); /* no member yet */

    /* An Erlang process on a joins and leaves: the C watcher hears it. */
    otp_member(a, "n1", "pg", "news");
    const char *got = next_text(w, 5000);
    snprintf(want, sizeof want, "join, news, [<%s.", h_node_name(a));
    cr_assert(strstr(got, want), "%s", got);
    otp_stop(a, "n1");
    got = next_text(w, 5000);
    snprintf(want, sizeof want, "leave, news, [<%s.", h_node_name(a));
    cr_assert(strstr(got, want), "%s", got);

    /* An Erlang watcher (pg:monitor/2, OTP 25.1+) hears the C member.
     * It starts once b has heard that n1 left too, so that the notices
     * it gets are the C member's only. */
    cr_assert(h_wait_until(b, "pg:get_members(news).", "[]", 10000));
    cr_assert(h_eval_expect(
        b,
        "Self = self(), P = spawn(fun() -> {Ref, _} = pg:monitor(news), "
        "Self ! ready, L = fun Loop(Acc) -> receive {Ref, What, news, Pids} "
        "-> Loop([{What, [node(X) || X <- Pids]} | Acc]); {get, From} -> "
        "From ! lists:reverse(Acc), Loop(Acc) end end, L([]) end), "
        "register(watcher, P), receive ready -> ok after 5000 -> timeout end",
        "ok"));
    cr_assert_eq(enode_pg_join(mb, NULL, term("news")), 0);
    cr_assert_eq(enode_pg_leave(mb, NULL, term("news")), 0);
    snprintf(want, sizeof want, "[{join,[%s]},{leave,[%s]}]",
             enode_name(node), enode_name(node));
    snprintf(expr, sizeof expr,
             "watcher ! {get, self()}, receive R -> R after 2000 -> timeout "
             "end");
    cr_assert(h_wait_until(b, expr, want, 10000));
    /* The C watcher heard its neighbour too. */
    got = next_text(w, 5000);
    cr_assert(strstr(got, "join, news"), "%s", got);
    got = next_text(w, 5000);
    cr_assert(strstr(got, "leave, news"), "%s", got);
    cr_assert_eq(enode_pg_demonitor(w, NULL, &ref), 0);
    scopes_unharmed();
}
