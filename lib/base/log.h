/* log.h - a node's log sink and level (internal). */
#ifndef ENODE_LOG_H
#define ENODE_LOG_H

#include <stdarg.h>

#include "enode.h"

typedef struct en_log {
    enode_log_fn fn; /* never NULL once set up: stderr by default */
    void *user;
    int level;       /* messages above it are dropped */
} en_log_t;

/* The sink enode uses when the application gives none: stderr, with
 * "enode LEVEL: " in front. */
void en_log_to_stderr(void *user, int level, const char *message);

/* Format one line and hand it to the sink, if level is within range. */
void en_log_v(const en_log_t *log, int level, const char *fmt, va_list ap);

#endif
