/* log.c - a node's log sink. */
#include "base/log.h"

#include <stdio.h>

void en_log_to_stderr(void *user, int level, const char *message)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    (void)user;
    fprintf(stderr, "enode %s: %s\n", names[level & 3], message);
}

void en_log_v(const en_log_t *log, int level, const char *fmt, va_list ap)
{
    char msg[1024];

    if (level > log->level)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    log->fn(log->user, level, msg);
}
