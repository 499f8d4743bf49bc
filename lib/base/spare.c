/* spare.c - large blocks kept for the next large messages.
 *
 * A few slots under a mutex: a burst puts several large messages in a
 * mailbox before the program frees the first, so one block is not
 * enough, and the bound on the bytes kept is what matters.
 */
#include "base/spare.h"

#include <pthread.h>
#include <stdlib.h>

#define SLOTS 64

static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *block;
    size_t size;
} spare[SLOTS];
static size_t spare_bytes; /* in all slots */

void *en_spare_take(size_t min, size_t *size)
{
    void *block = NULL;
    int best = -1;

    if (min < EN_SPARE_MIN / 2 || min > EN_SPARE_MAX)
        return NULL;
    pthread_mutex_lock(&spare_lock);
    for (int i = 0; i < SLOTS; i++)
        if (spare[i].block && spare[i].size >= min &&
            spare[i].size / 4 <= min &&
            (best < 0 || spare[i].size < spare[best].size))
            best = i;
    if (best >= 0) {
        block = spare[best].block;
        *size = spare[best].size;
        spare[best].block = NULL;
        spare_bytes -= *size;
    }
    pthread_mutex_unlock(&spare_lock);
    return block;
}

void en_spare_give(void *block, size_t size)
{
    if (!block)
        return;
    if (size >= EN_SPARE_MIN && size <= EN_SPARE_MAX) {
        pthread_mutex_lock(&spare_lock);
        for (int i = 0; i < SLOTS && spare_bytes + size <= EN_SPARE_MAX; i++)
            if (!spare[i].block) {
                spare[i].block = block;
                spare[i].size = size;
                spare_bytes += size;
                block = NULL;
                break;
            }
        pthread_mutex_unlock(&spare_lock);
    }
    free(block);
}

void en_spare_drain(void)
{
    pthread_mutex_lock(&spare_lock);
    for (int i = 0; i < SLOTS; i++) {
        free(spare[i].block);
        spare[i].block = NULL;
    }
    spare_bytes = 0;
    pthread_mutex_unlock(&spare_lock);
}

size_t en_spare_bytes(void)
{
    pthread_mutex_lock(&spare_lock);
    size_t bytes = spare_bytes;
    pthread_mutex_unlock(&spare_lock);
    return bytes;
}
