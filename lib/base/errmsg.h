/* errmsg.h - writing a sentence into a caller's error buffer. */
#ifndef ENODE_ERRMSG_H
#define ENODE_ERRMSG_H

#include <stddef.h>

/* Format a sentence into err[0..errlen) when err is not NULL and errlen
 * is not 0 (cut short if it does not fit), and return -1, so that a
 * failing function can end with `return en_errf(err, errlen, ...);`. */
int en_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
