/* rt.h - what the runtime tests share: the node under test and its fake
 * peer, the node's log, terms to send, and mailbox messages as text.
 *
 * Each test runs in a process of its own (Criterion forks), with
 *
 *     rt_node   "node@localhost": plain TCP, no EPMD (a free dist_port),
 *               the fake peer's default cookie, logging at debug level
 *               into a buffer that rt_log() returns;
 *     rt_fp     a fake peer "peer@localhost" (fakepeer.h) connected to it,
 *               hidden, with FP_FLAGS_DEFAULT.
 *
 * rt_setup() makes both; a suite that needs other flags or the other
 * role calls rt_setup_with() or builds its own from rt_node_new().
 * rt_teardown() frees everything and fails the test if the node sent the
 * peer a packet it could not decode.
 */
#ifndef RT_H
#define RT_H

#include <enode.h>

#include "fakepeer.h"

#define RT_NODE "node@localhost"
#define T_MS FP_TIMEOUT_MS /* how long a test waits for what must come */

typedef struct rt_node_opts {
    int hidden;
    size_t max_message; /* 0: the default */
    int global_off;     /* like -connect_all false */
    unsigned max_fragmented; /* 0: the default */
    size_t mbox_max_len, mbox_max_bytes; /* 0: none */
    size_t busy_limit;  /* dist_buf_busy_limit; 0: the default */
    const char *const *allowed; /* enode_config_add_allowed_node, each */
    size_t n_allowed;
} rt_node_opts_t;

extern enode_t *rt_node;
extern fp_t *rt_fp;

/* A node as above (opts may be NULL). Fails the test if it cannot be
 * made. */
enode_t *rt_node_new(const rt_node_opts_t *opts);

/* rt_node and rt_fp, the peer dialling the node (fpc may be NULL). */
void rt_setup_with(const rt_node_opts_t *opts, const fp_config_t *fpc);
void rt_setup(void);
void rt_teardown(void);

/* Everything the node has logged, one line per message. */
const char *rt_log(void);

/* A term built by ei_x_format (version byte first): rt_term("boom"),
 * rt_term("{shutdown, ~i}", 3), rt_term("{~p, ok}", &pid), ... The
 * test's terms are freed by rt_teardown. */
#define rt_term(...)                                                           \
    ({                                                                         \
        ei_x_buff *rt_x_ = rt_term_slot();                                     \
        rt_term_check(ei_x_format_wo_ver(rt_x_, __VA_ARGS__));                 \
        (const ei_x_buff *)rt_x_;                                              \
    })
/* An empty term buffer (the version byte only) for a test to fill with
 * ei_x_encode_*; freed by rt_teardown like rt_term's. */
ei_x_buff *rt_term_slot(void);
void rt_term_check(int ei_rc);

/* A mailbox on rt_node, registered as name unless that is NULL, trapping
 * exits if trap. */
enode_mbox_t *rt_mbox(const char *name, int trap);

/* One message received by a mailbox, its term as text. */
typedef struct rt_msg {
    char text[FP_TEXT_MAX];
    int has_from;
    erlang_pid from;
    char to_name[MAXATOMLEN_UTF8];
} rt_msg_t;

/* enode_receive(mb, ..., timeout_ms) into m; returns what it returned. */
int rt_recv(enode_mbox_t *mb, int timeout_ms, rt_msg_t *m);

/* The text of the next message of mb, or a word for what happened
 * instead: "(timeout)", "(closed)". For assertions:
 *     cr_assert_str_eq(rt_next(mb), "{'EXIT', <peer@localhost.1.0>, boom}"); */
const char *rt_next(enode_mbox_t *mb, int timeout_ms);

/* The reason mb exited with, as text, or "(alive)". */
const char *rt_exit_reason(const enode_mbox_t *mb);

/* The peer's pid <peer@localhost.num.0>. */
erlang_pid rt_peer_pid(unsigned num);

/* sprintf into one of a few static buffers: for expected texts. */
const char *rt_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
