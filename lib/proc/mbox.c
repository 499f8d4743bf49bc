/* mbox.c - mailboxes: the C "processes" of a node, their names, aliases
 * and message queues, and the services that are mailboxes with a handler.
 */
#include "proc/mbox.h"
#include "base/list.h"
#include "base/spare.h"

#include <limits.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

en_mbox_t *en_mbox_by_pid(en_proc_t *p, const erlang_pid *pid)
{
    for (en_mbox_t *mb = p->mboxes; mb; mb = mb->next)
        if (en_pid_eq(&mb->pid, pid))
            return mb;
    return NULL;
}

int en_pid_alive(en_proc_t *p, const erlang_pid *pid)
{
    en_mbox_t *mb = en_mbox_by_pid(p, pid);
    return mb && !mb->dead;
}

en_mbox_t *en_mbox_live(en_proc_t *p, const erlang_pid *pid)
{
    en_mbox_t *mb = en_core_is_local(p->core, pid->node)
                        ? en_mbox_by_pid(p, pid)
                        : NULL;
    return mb && !mb->dead ? mb : NULL;
}

en_mbox_t *en_mbox_by_name(en_proc_t *p, const char *name)
{
    for (en_mbox_t *mb = p->mboxes; mb; mb = mb->next)
        if (mb->name[0] && strcmp(mb->name, name) == 0)
            return mb;
    return NULL;
}

en_mbox_t *en_mbox_by_alias(en_proc_t *p, const erlang_ref *alias)
{
    for (en_mbox_t *mb = p->mboxes; mb; mb = mb->next)
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
    pthread_mutex_lock(en_mbox_lock(mb));
    en_make_ref(mb->proc, &a->ref);
    a->next = mb->aliases;
    mb->aliases = a;
    *alias = a->ref;
    pthread_mutex_unlock(en_mbox_lock(mb));
    return 0;
}

int enode_unalias(enode_mbox_t *mb, const erlang_ref *alias)
{
    en_alias_t *a;

    pthread_mutex_lock(en_mbox_lock(mb));
    EN_LIST_UNLINK(&mb->aliases, a, en_ref_eq(&a->ref, alias));
    pthread_mutex_unlock(en_mbox_lock(mb));
    free(a);
    return a ? 0 : ENODE_ENOTFOUND;
}

/* Where the queue entry goes behind a term of len bytes. */
static size_t qmsg_offset(size_t len)
{
    return (len + _Alignof(en_qmsg_t) - 1) & ~(_Alignof(en_qmsg_t) - 1);
}

/* Bytes for a queue entry naming from and to_name; sets their lengths. */
static size_t qmsg_size(const erlang_pid *from, const char *to_name,
                        size_t *node_len, size_t *to_len)
{
    *node_len = from ? strnlen(from->node, sizeof from->node - 1) : 0;
    *to_len = to_name ? strnlen(to_name, MAXATOMLEN_UTF8 - 1) : 0;
    return sizeof(en_qmsg_t) + *node_len + *to_len + 2;
}

/* Whether a message of size bytes more would take mb over its limit. */
static int over_limit(const en_mbox_t *mb, size_t size)
{
    return (mb->max_len && mb->queue_len >= mb->max_len) ||
           (mb->max_bytes && (mb->queue_bytes >= mb->max_bytes ||
                              size > mb->max_bytes - mb->queue_bytes));
}

/* Writes the entry for the term of len bytes (131 first) at term, in the
 * room behind it, and queues it. */
static void qmsg_enqueue(en_mbox_t *mb, char *term, size_t size, size_t len,
                         const erlang_pid *from, const char *to_name,
                         size_t node_len, size_t to_len)
{
    en_qmsg_t *q = (en_qmsg_t *)(void *)(term + qmsg_offset(len));
    q->next = NULL;
    q->term = term;
    q->size = size;
    q->len = (int)len;
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
    mb->queue_len++;
    mb->queue_bytes += size;
    en_core_broadcast(mb->proc->core);
}

int en_mbox_deliver(en_mbox_t *mb, const erlang_pid *from,
                    const char *to_name, const char *msg, size_t len)
{
    if (mb->dead)
        return 0; /* like a send to a process that has exited */
    en_skip_version(&msg, &len); /* one is put back below */
    if (mb->handler) {
        mb->handler(mb->handler_ud, mb, from, msg, len);
        return 0;
    }
    size_t node_len, to_len;
    size_t qsize = qmsg_size(from, to_name, &node_len, &to_len);
    if (len > 0x7ffffff0)
        return ENODE_ENOMEM;
    size_t size = qmsg_offset(len + 1) + qsize, spare_size;
    if (over_limit(mb, size)) {
        mb->proc->mbox_over(mb, size);
        return 0; /* like a send to a process that has exited */
    }
    char *term = en_spare_take(size, &spare_size);
    if (term)
        size = spare_size;
    else if (!(term = malloc(size)))
        return ENODE_ENOMEM;
    term[0] = (char)131;
    memcpy(term + 1, msg, len);
    qmsg_enqueue(mb, term, size, len + 1, from, to_name, node_len, to_len);
    return 0;
}

int en_mbox_deliver_buf(en_mbox_t *mb, const erlang_pid *from,
                        const char *to_name, en_buf_t *term)
{
    if (mb->dead || mb->handler || term->len < 1 || term->data[0] != 131 ||
        term->len > 0x7ffffff0)
        return en_mbox_deliver(mb, from, to_name, (const char *)term->data,
                               term->len);
    size_t node_len, to_len;
    size_t need = qmsg_offset(term->len) + qmsg_size(from, to_name, &node_len,
                                                     &to_len);
    size_t size = need > term->cap ? need : term->cap;
    if (over_limit(mb, size)) {
        mb->proc->mbox_over(mb, size);
        return 0; /* like a send to a process that has exited */
    }
    if (need > term->cap) {
        uint8_t *grown = realloc(term->data, need);
        if (!grown)
            return ENODE_ENOMEM;
        term->data = grown;
        term->cap = need;
    }
    qmsg_enqueue(mb, (char *)term->data, term->cap, term->len, from, to_name,
                 node_len, to_len);
    en_buf_init(term);
    return 0;
}

/* q has left mb's queue. */
static void uncount(en_mbox_t *mb, const en_qmsg_t *q)
{
    mb->queue_len--;
    mb->queue_bytes -= q->size;
}

void en_mbox_clear_queue(en_mbox_t *mb)
{
    while (mb->head) {
        en_qmsg_t *q = mb->head;
        mb->head = q->next;
        en_qmsg_free(q);
    }
    mb->tail = NULL;
    mb->queue_len = 0;
    mb->queue_bytes = 0;
}

int enode_mbox_info(const enode_mbox_t *mb, size_t *len, size_t *bytes)
{
    if (!mb)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(mb));
    if (len)
        *len = mb->queue_len;
    if (bytes)
        *bytes = mb->queue_bytes;
    pthread_mutex_unlock(en_mbox_lock(mb));
    return 0;
}

int enode_mbox_set_limit(enode_mbox_t *mb, size_t max_len, size_t max_bytes)
{
    if (!mb)
        return ENODE_EINVAL;
    pthread_mutex_lock(en_mbox_lock(mb));
    mb->max_len = max_len;
    mb->max_bytes = max_bytes;
    pthread_mutex_unlock(en_mbox_lock(mb));
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
    out->msg.buffsz = q->size > INT_MAX ? INT_MAX : (int)q->size;
    out->msg.index = q->len;
}

void enode_msg_free(enode_msg_t *m)
{
    if (!m)
        return;
    /* A large block is kept for the next large message (base/spare.h):
     * buffsz is its size, as ei_x_buff has it. */
    en_spare_give(m->msg.buff, m->msg.buffsz > 0 ? (size_t)m->msg.buffsz : 0);
    /* Not the whole struct: its atom-sized arrays make that a 2 KiB
     * memset per message. */
    m->msg.buff = NULL;
    m->msg.buffsz = 0;
    m->msg.index = 0;
}

int en_mbox_new_locked(en_proc_t *p, en_mbox_t **out)
{
    en_mbox_t *mb = calloc(1, sizeof *mb);

    if (!mb)
        return ENODE_ENOMEM;
    mb->proc = p;
    mb->max_len = p->mbox_max_len;
    mb->max_bytes = p->mbox_max_bytes;
    en_make_pid(p, &mb->pid);
    mb->next = p->mboxes;
    p->mboxes = mb;
    *out = mb;
    return 0;
}

int en_service_new(en_proc_t *p, const char *name, en_handler_fn fn,
                   void *ud, en_mbox_t **out)
{
    en_mbox_t *mb;

    if (name && en_mbox_by_name(p, name))
        return ENODE_EEXIST;
    int rc = en_mbox_new_locked(p, &mb);
    if (rc < 0)
        return rc;
    if (name)
        snprintf(mb->name, sizeof mb->name, "%s", name);
    mb->handler = fn;
    mb->handler_ud = ud;
    mb->trap_exit = 1;
    *out = mb;
    return 0;
}

const erlang_pid *en_mbox_self(const en_mbox_t *mb)
{
    return &mb->pid;
}

en_proc_t *en_mbox_proc(const en_mbox_t *mb)
{
    return mb->proc;
}

const erlang_pid *enode_mbox_pid(const enode_mbox_t *mb)
{
    return &mb->pid;
}

int enode_register(enode_mbox_t *mb, const char *name)
{
    int rc = 0;
    char why[200];

    if (!name || !*name)
        return ENODE_EINVAL;
    if (en_name_too_long("registered name", name, why, sizeof why) ||
        strlen(name) >= sizeof mb->name) {
        en_core_error(mb->proc->core, "%s", why);
        return ENODE_EINVAL;
    }
    pthread_mutex_lock(en_mbox_lock(mb));
    if (mb->name[0])
        rc = ENODE_EINVAL;
    else if (en_mbox_by_name(mb->proc, name))
        rc = ENODE_EEXIST;
    else
        strcpy(mb->name, name);
    pthread_mutex_unlock(en_mbox_lock(mb));
    return rc;
}

int enode_unregister(enode_mbox_t *mb)
{
    pthread_mutex_lock(en_mbox_lock(mb));
    mb->name[0] = '\0';
    pthread_mutex_unlock(en_mbox_lock(mb));
    return 0;
}

/* Take the first message `match` accepts (NULL: the first message),
 * leaving the others in order, as a selective receive does. */
static int take_message(en_mbox_t *mb, en_match_fn match, void *ud,
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
    uncount(mb, q);
    qmsg_unpack(q, out);
    return 1;
}

void en_mbox_drop(en_mbox_t *mb,
                  int (*match)(const char *term, size_t len, void *ud),
                  void *ud)
{
    en_qmsg_t **pp = &mb->head, *prev = NULL;

    while (*pp) {
        en_qmsg_t *q = *pp;
        if (!match(q->term, (size_t)q->len, ud)) {
            prev = q;
            pp = &q->next;
            continue;
        }
        *pp = q->next;
        if (mb->tail == q)
            mb->tail = prev;
        uncount(mb, q);
        en_qmsg_free(q);
    }
}

int en_receive_match(en_mbox_t *mb, en_match_fn match, void *ud,
                     enode_msg_t *out, int timeout_ms)
{
    en_net_t *net = mb->proc->net;
    uint64_t until = timeout_ms < 0 ? UINT64_MAX
                                    : en_now_ms() + (uint64_t)timeout_ms;
    int got = 0, waited = 0;

    pthread_mutex_lock(en_mbox_lock(mb));
    /* Even with no time to wait, the loop gets one turn before giving up. */
    while (!mb->dead && !(got = take_message(mb, match, ud, out)) &&
           (!waited || en_now_ms() < until)) {
        en_net_wait_locked(net, until);
        waited = 1;
    }
    int dead = mb->dead;
    pthread_mutex_unlock(en_mbox_lock(mb));
    return got ? 0 : dead ? ENODE_ECLOSED : ENODE_ETIMEOUT;
}

int enode_receive(enode_mbox_t *mb, enode_msg_t *out, int timeout_ms)
{
    return en_receive_match(mb, NULL, NULL, out, timeout_ms);
}
