/* list.h - taking elements out of singly linked lists (internal).
 *
 * The runtime keeps its small collections as singly linked lists whose
 * elements link through a member named `next`. Taking an element out
 * means walking the list with a pointer to the link that points at the
 * element, so that the head needs no special case; these two macros are
 * that walk, written once. Both need the element's pointer type only
 * through `elem`, a variable the caller declares, and read the list
 * through headp, the address of its head.
 */
#ifndef ENODE_LIST_H
#define ENODE_LIST_H

/* Unlinks the first element for which `match` (an expression reading
 * elem) holds, and leaves it in elem; elem is NULL if none matched.
 *
 *     g_call_t *k;
 *     EN_LIST_UNLINK(&g->calls, k, en_ref_eq(&k->tag, tag));
 *     if (k)
 *         call_free(k);
 */
#define EN_LIST_UNLINK(headp, elem, match)                                     \
    do {                                                                       \
        __typeof__(headp) en_link_ = (headp);                                  \
        while (((elem) = *en_link_) != NULL && !(match))                       \
            en_link_ = &(elem)->next;                                          \
        if (elem)                                                              \
            *en_link_ = (elem)->next;                                          \
    } while (0)

/* A loop header: every element for which `match` holds is unlinked, then
 * the statement that follows runs with it in elem (and may free it). The
 * other elements stay, in their order. `match` runs once per element,
 * in list order.
 *
 *     g_name_t *e;
 *     EN_LIST_UNLINK_EACH(&g->names, e, en_pid_eq(&e->pid, pid))
 *         name_free(e);
 */
#define EN_LIST_UNLINK_EACH(headp, elem, match)                                \
    for (__typeof__(headp) en_link_ = (headp); ((elem) = *en_link_) != NULL;) \
        if (!(match))                                                          \
            en_link_ = &(elem)->next;                                          \
        else if ((*en_link_ = (elem)->next, 1))

#endif
