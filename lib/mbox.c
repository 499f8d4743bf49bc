/* mbox.c - mailboxes: the C "processes" of a node, their pids, names and
 * message queues, and references. */
#include "node_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void en_make_pid(enode_t *n, erlang_pid *pid)
{
    memset(pid, 0, sizeof *pid);
    strcpy(pid->node, n->name);
    /* The classic 15-bit number and 13-bit serial every OTP release
     * decodes, whatever its NEW_PID_EXT limits. */
    pid->num = n->next_pid_num;
    pid->serial = n->next_pid_serial;
    pid->creation = n->creation;
    if (++n->next_pid_num > 0x7fff) {
        n->next_pid_num = 1;
        n->next_pid_serial = (n->next_pid_serial + 1) & 0x1fff;
    }
}

struct enode_mbox *en_mbox_by_pid(enode_t *n, const erlang_pid *pid)
{
    for (struct enode_mbox *mb = n->mboxes; mb; mb = mb->next)
        if (en_pid_eq(&mb->pid, pid))
            return mb;
    return NULL;
}

struct enode_mbox *en_mbox_by_name(enode_t *n, const char *name)
{
    for (struct enode_mbox *mb = n->mboxes; mb; mb = mb->next)
        if (mb->name[0] && strcmp(mb->name, name) == 0)
            return mb;
    return NULL;
}

struct enode_mbox *en_mbox_by_alias(enode_t *n, const erlang_ref *alias)
{
    for (struct enode_mbox *mb = n->mboxes; mb; mb = mb->next)
        for (en_alias_t *a = mb->aliases; a; a = a->next)
            if (en_ref_eq(&a->ref, alias))
                return mb;
    return NULL;
}

int enode_alias(enode_mbox_t *mb, erlang_ref *alias)
{
    en_alias_t *a = malloc(sizeof *a);

    if (!a)
        return ENODE_ENOMEM;
    pthread_mutex_lock(&mb->node->lock);
    en_make_ref_locked(mb->node, &a->ref);
    a->next = mb->aliases;
    mb->aliases = a;
    *alias = a->ref;
    pthread_mutex_unlock(&mb->node->lock);
    return 0;
}

int enode_unalias(enode_mbox_t *mb, const erlang_ref *alias)
{
    int rc = ENODE_ENOTFOUND;

    pthread_mutex_lock(&mb->node->lock);
    for (en_alias_t **pp = &mb->aliases; *pp; pp = &(*pp)->next) {
        if (en_ref_eq(&(*pp)->ref, alias)) {
            en_alias_t *a = *pp;
            *pp = a->next;
            free(a);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&mb->node->lock);
    return rc;
}

/* Where the queue entry goes behind a term of len bytes. */
static size_t qmsg_offset(size_t len)
{
    return (len + _Alignof(en_qmsg_t) - 1) & ~(_Alignof(en_qmsg_t) - 1);
}

int en_mbox_deliver(struct enode_mbox *mb, const erlang_pid *from,
                    const char *to_name, const char *msg, size_t len)
{
    if (mb->dead)
        return 0; /* like a send to a process that has exited */
    en_skip_version(&msg, &len); /* one is put back below */
    size_t node_len = from ? strnlen(from->node, sizeof from->node - 1) : 0;
    size_t to_len = to_name ? strnlen(to_name, MAXATOMLEN_UTF8 - 1) : 0;
    if (len > 0x7ffffff0)
        return ENODE_ENOMEM;
    size_t at = qmsg_offset(len + 1);
    char *term = malloc(at + sizeof(en_qmsg_t) + node_len + to_len + 2);
    if (!term)
        return ENODE_ENOMEM;

    term[0] = (char)131;
    memcpy(term + 1, msg, len);
    en_qmsg_t *q = (en_qmsg_t *)(void *)(term + at);
    q->next = NULL;
    q->term = term;
    q->len = (int)len + 1;
    q->has_from = from != NULL;
    q->from_num = from ? from->num : 0;
    q->from_serial = from ? from->serial : 0;
    q->from_creation = from ? from->creation : 0;
    q->from_node_len = node_len;
    q->to_name_len = to_len;
    memcpy(q->names, from ? from->node : "", node_len);
    q->names[node_len] = '\0';
    memcpy(q->names + node_len + 1, to_name ? to_name : "", to_len);
    q->names[node_len + 1 + to_len] = '\0';

    if (mb->tail)
        mb->tail->next = q;
    else
        mb->head = q;
    mb->tail = q;
    pthread_cond_broadcast(&mb->node->cond);
    return 0;
}

/* The message as the API hands it out; out->msg.buff now owns q. */
static void qmsg_unpack(const en_qmsg_t *q, enode_msg_t *out)
{
    out->has_from = q->has_from;
    memcpy(out->from.node, q->names, q->from_node_len + 1);
    out->from.num = q->from_num;
    out->from.serial = q->from_serial;
    out->from.creation = q->from_creation;
    memcpy(out->to_name, q->names + q->from_node_len + 1, q->to_name_len + 1);
    out->msg.buff = q->term;
    out->msg.buffsz = q->len;
    out->msg.index = q->len;
}

void enode_msg_free(enode_msg_t *m)
{
    if (!m)
        return;
    free(m->msg.buff);
    /* Not the whole struct: its atom-sized arrays make that a 2 KiB
     * memset per message. */
    m->msg.buff = NULL;
    m->msg.buffsz = 0;
    m->msg.index = 0;
}

int enode_mbox_new(enode_t *n, enode_mbox_t **out)
{
    struct enode_mbox *mb = calloc(1, sizeof *mb);

    if (!mb)
        return ENODE_ENOMEM;
    pthread_mutex_lock(&n->lock);
    mb->node = n;
    en_make_pid(n, &mb->pid);
    mb->next = n->mboxes;
    n->mboxes = mb;
    pthread_mutex_unlock(&n->lock);
    *out = mb;
    return 0;
}

/* A mailbox that goes without having exited exits with `normal`. */
static void exit_normally(struct enode_mbox *mb)
{
    ei_x_buff normal;
    if (!mb->dead && en_atom_term(&normal, "normal") == 0) {
        en_mbox_exit_locked(mb, normal.buff, (size_t)normal.index);
        ei_x_free(&normal);
    }
}

void en_mbox_free_locked(struct enode_mbox *mb)
{
    enode_t *n = mb->node;
    struct enode_mbox **pp = &n->mboxes;

    exit_normally(mb);

    while (*pp && *pp != mb)
        pp = &(*pp)->next;
    if (*pp)
        *pp = mb->next;
    while (mb->head) {
        en_qmsg_t *q = mb->head;
        mb->head = q->next;
        en_qmsg_free(q);
    }
    if (mb->exit_reason.buff)
        ei_x_free(&mb->exit_reason);
    while (mb->aliases) {
        en_alias_t *a = mb->aliases;
        mb->aliases = a->next;
        free(a);
    }
    free(mb);
}

void enode_mbox_free(enode_mbox_t *mb)
{
    if (!mb)
        return;
    enode_t *n = mb->node;
    pthread_mutex_lock(&n->lock);
    en_mbox_free_locked(mb);
    pthread_mutex_unlock(&n->lock);
}

const erlang_pid *enode_mbox_pid(const enode_mbox_t *mb)
{
    return &mb->pid;
}

int enode_register(enode_mbox_t *mb, const char *name)
{
    enode_t *n = mb->node;
    int rc = 0;

    char why[200];

    if (!name || !*name)
        return ENODE_EINVAL;
    if (en_name_too_long("registered name", name, why, sizeof why) ||
        strlen(name) >= sizeof mb->name) {
        pthread_mutex_lock(&n->lock);
        en_set_error(n, "%s", why);
        pthread_mutex_unlock(&n->lock);
        return ENODE_EINVAL;
    }
    pthread_mutex_lock(&n->lock);
    if (mb->name[0])
        rc = ENODE_EINVAL;
    else if (en_mbox_by_name(n, name))
        rc = ENODE_EEXIST;
    else
        strcpy(mb->name, name);
    pthread_mutex_unlock(&n->lock);
    return rc;
}

int enode_unregister(enode_mbox_t *mb)
{
    pthread_mutex_lock(&mb->node->lock);
    mb->name[0] = '\0';
    pthread_mutex_unlock(&mb->node->lock);
    return 0;
}

/* Take the first message `match` accepts (NULL: the first message),
 * leaving the others in order, as a selective receive does. */
static int take_message(struct enode_mbox *mb, en_match_fn match, void *ud,
                        enode_msg_t *out)
{
    en_qmsg_t **pp = &mb->head, *prev = NULL;

    while (*pp && match && !match((*pp)->term, (*pp)->len, ud)) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    en_qmsg_t *q = *pp;
    if (!q)
        return 0;
    *pp = q->next;
    if (mb->tail == q)
        mb->tail = prev;
    qmsg_unpack(q, out);
    return 1;
}

int en_receive_match(struct enode_mbox *mb, en_match_fn match, void *ud,
                     enode_msg_t *out, int timeout_ms)
{
    enode_t *n = mb->node;
    uint64_t until = timeout_ms < 0 ? UINT64_MAX
                                    : en_now_ms() + (uint64_t)timeout_ms;
    int got = 0, waited = 0;

    pthread_mutex_lock(&n->lock);
    /* Even with no time to wait, the loop gets one turn before giving up. */
    while (!mb->dead && !(got = take_message(mb, match, ud, out)) &&
           (!waited || en_now_ms() < until)) {
        en_wait_locked(n, until);
        waited = 1;
    }
    int dead = mb->dead;
    pthread_mutex_unlock(&n->lock);
    return got ? 0 : dead ? ENODE_ECLOSED : ENODE_ETIMEOUT;
}

int enode_receive(enode_mbox_t *mb, enode_msg_t *out, int timeout_ms)
{
    return en_receive_match(mb, NULL, NULL, out, timeout_ms);
}

void en_make_ref_locked(enode_t *n, erlang_ref *ref)
{
    if (n->ref_words[1] == 0 && n->ref_words[2] == 0) {
        /* Start from the clock so refs differ across restarts. */
        uint64_t t = (uint64_t)time(NULL) ^ en_now_ms();
        n->ref_words[1] = (uint32_t)t;
        n->ref_words[2] = (uint32_t)(t >> 32) | 1;
    }
    memset(ref, 0, sizeof *ref);
    strcpy(ref->node, n->name);
    ref->len = 3;
    ref->creation = n->creation;
    /* The first word keeps to 18 bits, as OTP's own references do. */
    if (++n->ref_words[0] > 0x3ffff) {
        n->ref_words[0] = 0;
        n->ref_words[1]++;
    }
    ref->n[0] = n->ref_words[0];
    ref->n[1] = n->ref_words[1];
    ref->n[2] = n->ref_words[2];
}

int enode_make_ref(enode_t *n, erlang_ref *ref)
{
    pthread_mutex_lock(&n->lock);
    en_make_ref_locked(n, ref);
    pthread_mutex_unlock(&n->lock);
    return 0;
}
