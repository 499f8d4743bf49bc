/* ctrl_int.h - what the control-message codec's files share (private to
 * proto/ctrl*.c and term_check.c). */
#ifndef ENODE_CTRL_INT_H
#define ENODE_CTRL_INT_H

#define VERSION_MAGIC 131   /* in front of a standalone external term */
#define DIST_HEADER 68      /* 131 68: normal distribution header */
#define DIST_FRAG_HEADER 69 /* 131 69: first fragment */
#define DIST_FRAG_CONT 70   /* 131 70: following fragments */
#define PASS_THROUGH 112    /* ERL_PASS_THROUGH */

/* Tags that ei 5.3 cannot decode; the checker names them in its refusal. */
#define COMPRESSED_EXT 80
#define ATOM_CACHE_REF 82
#define LOCAL_EXT 121

#define REF_WORDS_MAX 5     /* erlang_ref.n[] holds 5 words */
#define MAX_ATOM_CHARS 255  /* OTP's MAX_ATOM_CHARACTERS */
#define FUN_NESTING_MAX 64  /* funs inside the environment of funs */

/* The most elements a control tuple has, the op included. */
#define FIELDS_MAX 6

#endif
