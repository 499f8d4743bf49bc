/* spare.h - large blocks kept for the next large messages.
 *
 * A large message that arrives is gathered in a fresh block, which the
 * program frees once it has read it (enode_msg_free()), and the next one
 * needs another. Fresh pages cost a fault each on first touch, which on
 * a virtual machine with shadow paging is far dearer than the copy that
 * fills them, and a malloc of a large block is a fresh mapping every
 * time. So enode_msg_free() hands a large block here instead, and the
 * next large message is gathered in it, pages already mapped.
 *
 * A few blocks, shared by the whole process (the release has no node to
 * go back to), each of at least EN_SPARE_MIN bytes and together at most
 * EN_SPARE_MAX, which is what an idle program keeps after a burst of
 * large messages. Safe from any thread. Blocks are malloc()'s: a block
 * taken may be grown with realloc() and released with free().
 */
#ifndef ENODE_SPARE_H
#define ENODE_SPARE_H

#include <stddef.h>

#define EN_SPARE_MIN ((size_t)64 * 1024)
#define EN_SPARE_MAX ((size_t)16 * 1024 * 1024)

/* The smallest spare block of at least min bytes and not much larger
 * (at most 4 * min), with its size in *size; else NULL. */
void *en_spare_take(size_t min, size_t *size);

/* Keeps block (malloc()'d, size bytes) as a spare if it is large and
 * fits within EN_SPARE_MAX, else frees it. */
void en_spare_give(void *block, size_t size);

/* Frees every spare block. enode_free() calls it: a program that is done
 * with a node keeps nothing for messages that will not come. */
void en_spare_drain(void);

/* The bytes kept in spare blocks now. */
size_t en_spare_bytes(void);

#endif
