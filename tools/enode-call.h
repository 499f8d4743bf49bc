/* enode-call.h - the parts of enode-call, the erl_call work-alike.
 *
 *   enode-call.c  the command line (erl_call's flags, then erl's) and the
 *                 order of the work, as erl_call does it
 *   call_args.c   -a 'Mod Fun Args': the split and the Args reader
 *   call_run.c    the calls through the target node's rex server
 *   call_print.c  results printed as erl_call prints them
 */
#ifndef ENODE_CALL_H
#define ENODE_CALL_H

#include <stdio.h>

#include <enode.h>

/* erl_call's exit statuses, which enode-call keeps (erl_call exits with
 * -1 where a call cannot be made or its arguments cannot be read). */
enum {
    EC_EXIT_OK = 0,
    EC_EXIT_FAIL = 1,
    EC_EXIT_APPLY = 255,
};

/* ---- call_args.c -------------------------------------------------------- */

/* -a's text split as erl_call splits it: Mod, then Fun (default "start"),
 * then the rest, the text of Args (default "[]"). */
typedef struct ec_apply {
    char *mod, *fun;  /* owned */
    const char *args; /* points into the text given to ec_apply_split */
} ec_apply_t;

/* 0, or -1 when the text holds nothing but white space. */
int ec_apply_split(const char *text, ec_apply_t *apply);
void ec_apply_free(ec_apply_t *apply);

/* Read Args, one term in erl_call's syntax (see call_args.c), into *args
 * as external format without a version byte. 0, or -1 with the column and
 * the reason in err; *args is then empty but must still be freed. */
int ec_args_read(const char *text, ei_x_buff *args, char *err, size_t errlen);

/* ---- call_run.c --------------------------------------------------------- */

/* A connection to the target node, with a monitor on its rex server so a
 * call learns when the node goes away. */
typedef struct ec_session {
    enode_t *node;
    enode_mbox_t *mbox;
    const char *target; /* alive@host */
    erlang_ref rex_monitor;
} ec_session_t;

/* rpc:call(Target, Mod, Fun, Args) as erl_call makes it: {call, Mod, Fun,
 * Args, user} to rex. *result gets the answer, version byte first. 0, or
 * -1 with the reason in err (the connection was lost, Mod or Fun is no
 * atom). */
int ec_rex_call(ec_session_t *s, const char *mod, const char *fun,
                const ei_x_buff *args, ei_x_buff *result, char *err,
                size_t errlen);

/* -q: erlang:halt() on the target; waits until the node is gone. */
void ec_halt(ec_session_t *s);

/* -e: the text through erl_eval:eval_str/1, as erl_call does; prints the
 * answer unless quiet. Returns an exit status. */
int ec_eval(ec_session_t *s, const char *text, size_t len, int quiet);

/* -a: splits, reads and calls; prints the answer unless quiet. Returns an
 * exit status. */
int ec_apply(ec_session_t *s, const char *spec, int quiet);

/* ---- call_print.c ------------------------------------------------------- */

/* Print term (version byte first) to out as erl_call does: ei's
 * ei_print_term() syntax, with no newline after it. Atoms beyond Latin-1,
 * which ei cannot print, come out in UTF-8. */
void ec_print_term(FILE *out, const ei_x_buff *term);

#endif
