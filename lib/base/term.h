/* term.h - small helpers over ei's terms that every layer uses. */
#ifndef ENODE_TERM_H
#define ENODE_TERM_H

#include <stddef.h>
#include <string.h>

#include <ei.h>

/* Terms reach the runtime with or without their 131 version byte; this
 * moves *term past it when it is there. */
static inline void en_skip_version(const char **term, size_t *len)
{
    if (*len > 0 && (unsigned char)(*term)[0] == 131) {
        (*term)++;
        (*len)--;
    }
}

static inline int en_pid_eq(const erlang_pid *a, const erlang_pid *b)
{
    return a->num == b->num && a->serial == b->serial &&
           a->creation == b->creation && strcmp(a->node, b->node) == 0;
}

static inline int en_ref_eq(const erlang_ref *a, const erlang_ref *b)
{
    if (a->len != b->len || a->creation != b->creation ||
        strcmp(a->node, b->node) != 0)
        return 0;
    for (int i = 0; i < a->len && i < 5; i++)
        if (a->n[i] != b->n[i])
            return 0;
    return 1;
}

/* A versioned term holding one atom, for reasons such as noproc. 0, or
 * -1 (out of memory; x is then not to be freed). */
int en_atom_term(ei_x_buff *x, const char *atom);

/* Whether the term (bare or with its version byte) is the atom `atom`. */
int en_term_is_atom(const char *t, size_t len, const char *atom);

#endif
