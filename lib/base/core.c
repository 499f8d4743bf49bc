/* core.c - the lock, identity, log and last error every layer shares. */
#include "base/core.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t en_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int en_core_init(en_core_t *core)
{
    pthread_condattr_t ca;

    memset(core, 0, sizeof *core);
    if (pthread_mutex_init(&core->lock, NULL) != 0)
        return -1;
    if (pthread_mutex_init(&core->err_lock, NULL) != 0) {
        pthread_mutex_destroy(&core->lock);
        return -1;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&core->cond, &ca);
    pthread_condattr_destroy(&ca);
    core->log.fn = en_log_to_stderr;
    core->log.level = ENODE_LOG_WARNING;
    return 0;
}

void en_core_destroy(en_core_t *core)
{
    pthread_cond_destroy(&core->cond);
    pthread_mutex_destroy(&core->err_lock);
    pthread_mutex_destroy(&core->lock);
}

void en_core_log(const en_core_t *core, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    en_log_v(&core->log, level, fmt, ap);
    va_end(ap);
}

void en_core_error(en_core_t *core, const char *fmt, ...)
{
    char msg[sizeof core->errbuf];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&core->err_lock);
    memcpy(core->errbuf, msg, sizeof msg);
    pthread_mutex_unlock(&core->err_lock);
}

void en_core_error_copy(en_core_t *core, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    pthread_mutex_lock(&core->err_lock);
    snprintf(buf, len, "%s", core->errbuf);
    pthread_mutex_unlock(&core->err_lock);
}

int en_core_is_local(const en_core_t *core, const char *node_name)
{
    return node_name == NULL || strcmp(node_name, core->name) == 0;
}
