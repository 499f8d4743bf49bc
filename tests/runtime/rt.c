/* rt.c - what the runtime tests share (rt.h). */
#include "rt.h"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enode_t *rt_node;
fp_t *rt_fp;

/* ---- the node's log ------------------------------------------------------ */

static char log_text[256 * 1024];
static size_t log_len;

static void keep_log(void *user, int level, const char *message)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)user;
    int n = snprintf(log_text + log_len, sizeof log_text - log_len, "%s: %s\n",
                     names[level & 3], message);
    if (n > 0 && (size_t)n < sizeof log_text - log_len)
        log_len += (size_t)n;
    if (getenv("RT_VERBOSE"))
        fprintf(stderr, "node %s: %s\n", names[level & 3], message);
}

const char *rt_log(void)
{
    return log_text;
}

/* ---- the node ------------------------------------------------------------ */

/* A port the kernel had free a moment ago. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

enode_t *rt_node_new(const rt_node_opts_t *opts)
{
    rt_node_opts_t none = {0};
    enode_config_t *cfg;
    enode_t *n = NULL;
    char err[512] = "";

    if (!opts)
        opts = &none;
    cr_assert_eq(enode_config_new(&cfg), 0);
    cr_assert_eq(enode_config_set_name(cfg, RT_NODE, 0), 0);
    cr_assert_eq(enode_config_set_cookie(cfg, FP_DEFAULT_COOKIE), 0);
    cr_assert_eq(enode_config_set_proto(cfg, ENODE_PROTO_TCP), 0);
    cr_assert_eq(enode_config_set_hidden(cfg, opts->hidden), 0);
    cr_assert_eq(enode_config_set_max_message_size(cfg, opts->max_message),
                 0);
    cr_assert_eq(
        enode_config_set_max_fragmented_messages(cfg, opts->max_fragmented), 0);
    cr_assert_eq(enode_config_set_dist_buf_busy_limit(cfg, opts->busy_limit),
                 0);
    cr_assert_eq(enode_config_set_mbox_limit(cfg, opts->mbox_max_len,
                                             opts->mbox_max_bytes),
                 0);
    cr_assert_eq(enode_config_set_log(cfg, keep_log, NULL, ENODE_LOG_DEBUG),
                 0);
    cr_assert_eq(enode_config_set_connect_all(cfg, !opts->global_off), 0);
    for (size_t i = 0; i < opts->n_allowed; i++)
        cr_assert_eq(enode_config_add_allowed_node(cfg, opts->allowed[i]), 0);
    /* Another test process may take the port between the two steps. */
    for (int attempt = 0; attempt < 20 && !n; attempt++) {
        cr_assert_eq(enode_config_set_dist_port(cfg, free_port()), 0);
        if (enode_new(&n, cfg, err, sizeof err) != 0)
            n = NULL;
    }
    enode_config_free(cfg);
    cr_assert(n, "cannot make the node under test: %s", err);
    return n;
}

void rt_setup_with(const rt_node_opts_t *opts, const fp_config_t *fpc)
{
    rt_node = rt_node_new(opts);
    int rc = fp_connect(&rt_fp, rt_node, fpc);
    cr_assert(rc == 0, "the fake peer cannot connect: %s\nnode log:\n%s",
              fp_error(rt_fp), rt_log());
}

void rt_setup(void)
{
    rt_setup_with(NULL, NULL);
}

/* ---- terms --------------------------------------------------------------- */

#define RT_TERMS 128
static ei_x_buff terms[RT_TERMS];
static int nterms;

ei_x_buff *rt_term_slot(void)
{
    cr_assert(nterms < RT_TERMS, "too many rt_term() in one test");
    ei_x_buff *x = &terms[nterms++];
    ei_x_new_with_version(x);
    return x;
}

void rt_term_check(int ei_rc)
{
    cr_assert(ei_rc == 0, "rt_term: ei_x_format refused the format");
}

static void terms_free(void)
{
    while (nterms > 0)
        ei_x_free(&terms[--nterms]);
}

/* ---- mailboxes ----------------------------------------------------------- */

enode_mbox_t *rt_mbox(const char *name, int trap)
{
    enode_mbox_t *mb;
    cr_assert_eq(enode_mbox_new(rt_node, &mb), 0);
    if (name)
        cr_assert_eq(enode_register(mb, name), 0);
    if (trap)
        cr_assert_eq(enode_trap_exit(mb, 1), 0);
    return mb;
}

int rt_recv(enode_mbox_t *mb, int timeout_ms, rt_msg_t *m)
{
    enode_msg_t msg;
    int rc = enode_receive(mb, &msg, timeout_ms);

    memset(m, 0, sizeof *m);
    if (rc != 0)
        return rc;
    snprintf(m->text, sizeof m->text, "%s", fp_xtext(&msg.msg));
    m->has_from = msg.has_from;
    m->from = msg.from;
    snprintf(m->to_name, sizeof m->to_name, "%s", msg.to_name);
    enode_msg_free(&msg);
    return 0;
}

const char *rt_next(enode_mbox_t *mb, int timeout_ms)
{
    static rt_msg_t m;
    int rc = rt_recv(mb, timeout_ms, &m);
    if (rc == ENODE_ETIMEOUT)
        return "(timeout)";
    if (rc == ENODE_ECLOSED)
        return "(closed)";
    if (rc != 0)
        return enode_strerror(rc);
    return m.text;
}

const char *rt_exit_reason(const enode_mbox_t *mb)
{
    const ei_x_buff *r = enode_mbox_exit_reason(mb);
    return r ? fp_xtext(r) : "(alive)";
}

erlang_pid rt_peer_pid(unsigned num)
{
    erlang_pid p;
    fp_pid(rt_fp, num, &p);
    return p;
}

const char *rt_fmt(const char *fmt, ...)
{
    static char bufs[8][FP_TEXT_MAX];
    static unsigned next;
    char *out = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, FP_TEXT_MAX, fmt, ap);
    va_end(ap);
    return out;
}

/* ---- teardown ------------------------------------------------------------ */

void rt_teardown(void)
{
    unsigned bad = rt_fp ? fp_malformed(rt_fp) : 0;
    fp_free(rt_fp);
    rt_fp = NULL;
    enode_free(rt_node);
    rt_node = NULL;
    terms_free();
    cr_expect_eq(bad, 0, "the node sent %u packets that do not decode", bad);
}
