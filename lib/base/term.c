/* term.c - small helpers over ei's terms. */
#include "base/term.h"

int en_atom_term(ei_x_buff *x, const char *atom)
{
    if (ei_x_new_with_version(x) < 0)
        return -1;
    if (ei_x_encode_atom(x, atom) < 0) {
        ei_x_free(x);
        return -1;
    }
    return 0;
}

int en_term_is_atom(const char *t, size_t len, const char *atom)
{
    char buf[MAXATOMLEN_UTF8];
    int i = 0;

    en_skip_version(&t, &len);
    return len > 0 && ei_decode_atom(t, &i, buf) == 0 && (size_t)i <= len &&
           strcmp(buf, atom) == 0;
}
