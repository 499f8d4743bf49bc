/* config_int.h - what an enode_config_t holds (internal).
 *
 * The struct is opaque to programs, so that a setting can be added
 * without breaking the ABI. Strings and the TLS option pairs are the
 * configuration's own copies, freed by enode_config_free(). Tests read the
 * fields here to check what enode_config_from_args() parsed.
 */
#ifndef ENODE_NODE_CONFIG_INT_H
#define ENODE_NODE_CONFIG_INT_H

#include "enode.h"
#include "net/net.h"

struct enode_config {
    char *name;             /* NULL until set */
    int long_names;         /* 1: like -name */
    char *cookie;           /* NULL: ~/.erlang.cookie */
    enode_proto_t proto;
    int ipv6;
    int hidden;
    unsigned net_ticktime;  /* seconds */
    unsigned setup_time_ms;
    int epmd_port;          /* 0: $ERL_EPMD_PORT, else 4369 */
    int dist_port;          /* > 0: no EPMD */
    int listen_min, listen_max;
    size_t max_message_size;
    unsigned max_fragmented; /* fragmented messages open per connection */
    size_t mbox_max_len, mbox_max_bytes; /* 0: no limit */
    size_t dist_buf_busy_limit; /* bytes queued for a peer before sends wait */
    char *ssl_dist_optfile; /* NULL: none */
    char **ssl_dist_opts;   /* key, value, key, value... */
    int n_ssl_dist_opts;    /* pairs */
    int room_ssl_dist_opts; /* pairs ssl_dist_opts has room for */
    enode_log_fn log;       /* NULL: standard error */
    void *log_user;
    int log_level;
    enode_verify_fn verify;
    void *verify_user;
    int connect_all;        /* 0: like -connect_all false, global off */
    en_verify_fun_entry_t *verify_funs; /* for verify_fun options */
    int n_verify_funs;
    char *listen_addr;      /* an IP literal; NULL: every address */
    enode_auto_connect_t auto_connect;
    en_allow_t allowed;     /* net_kernel:allow/1's list; empty: every node */
};

/* erl's flags as words, from the environment or a file (config_words.c). */
typedef struct en_words {
    char **word;
    int n, room;
} en_words_t;

/* Split s into words as erl splits ERL_FLAGS (comments 0) and -args_file
 * files (comments 1: '#' starts a comment to the end of the line), and
 * append them to *w. 0, or ENODE_ENOMEM. */
int en_words_split(en_words_t *w, const char *s, int comments);
/* Append the words of the file at path. 0, or a code with err set. */
int en_words_read_file(en_words_t *w, const char *path, char *err,
                       size_t errlen);
void en_words_free(en_words_t *w);

/* Read erl's flags from words[0..n) into c (config_args.c). keep: where
 * the words that are not enode's go, for the program (argv; *kept counts
 * them), or NULL to skip them, with -kernel parameters enode does not
 * know. depth: how deep in -args_file files. 0, or a code with err set. */
int en_config_read_words(enode_config_t *c, int n, char **words,
                         char **keep, int *kept, int depth, char *err,
                         size_t errlen);
/* Put "what: " before the sentence in err. */
void en_config_err_prefix(char *err, size_t errlen, const char *what);

#endif
