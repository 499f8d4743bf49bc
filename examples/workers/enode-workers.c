/* enode-workers - a pool of worker threads serving Erlang: the node runs
 * on its own thread (enode_start_thread), each worker blocks on its own
 * mailbox and sends its replies itself, all at once, and the program
 * shuts down cleanly on a message or on SIGINT/SIGTERM, freeing all it
 * holds (no leaks under ASan).
 *
 *   enode-workers -sname pool -setcookie secret \
 *                 -proto_dist inet_tls -ssl_dist_optfile dist.conf -workers 8
 *
 * Messages:
 *   {workers, Node} ! {self(), pool}   -> {pool, [WorkerPid]}
 *   Worker ! {self(), Ref, {count_primes, N}}
 *                                      -> {Ref, WorkerIndex, PrimesBelowN}
 *     (any other job: {Ref, WorkerIndex, {error, badjob}})
 *   {workers, Node} ! stop             -> the workers finish the jobs they
 *                                         have, and the program exits 0
 * Workers are also registered as worker1, worker2, ... Flags, beside erl's:
 *   -workers N      how many (default 4, at most 64)
 *   -connect NODE   connect to NODE at start
 *   -v              log the node's connections
 * Once all run it prints "ready <node name>".
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enode.h>

#define MAX_WORKERS 64
#define MAX_PRIME_LIMIT 100000000L /* a job longer than this is refused */

struct worker {
    int index; /* from 1 */
    enode_mbox_t *mbox;
    pthread_t thread;
    long jobs;
};

struct pool {
    enode_t *node;
    enode_mbox_t *control; /* registered as `workers` */
    struct worker workers[MAX_WORKERS];
    int nworkers, started;
    pthread_t signal_thread;
    int signal_thread_started;
};

/* ---- the work ---------------------------------------------------------------- */

static long count_primes(long below)
{
    long count = 0;
    for (long n = 2; n < below; n++) {
        int prime = 1;
        for (long d = 2; d * d <= n; d++)
            if (n % d == 0) {
                prime = 0;
                break;
            }
        count += prime;
    }
    return count;
}

/* {From, Ref, Job}: the reply {Ref, Index, Result} to From. 0, or -1 if m
 * is not a job. */
static int do_job(struct worker *w, const enode_msg_t *m)
{
    const char *buf = m->msg.buff;
    int i = 0, version, arity, ref_start, ref_end, job_arity;
    erlang_pid from;
    char what[MAXATOMLEN_UTF8];
    long n;
    ei_x_buff r;

    if (ei_decode_version(buf, &i, &version) < 0 ||
        ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 3 ||
        ei_decode_pid(buf, &i, &from) < 0)
        return -1;
    ref_start = i; /* any term serves as the tag */
    if (ei_skip_term(buf, &i) < 0)
        return -1;
    ref_end = i;
    ei_x_new_with_version(&r);
    ei_x_encode_tuple_header(&r, 3);
    ei_x_append_buf(&r, buf + ref_start, ref_end - ref_start);
    ei_x_encode_long(&r, w->index);
    if (ei_decode_tuple_header(buf, &i, &job_arity) == 0 && job_arity == 2 &&
        ei_decode_atom(buf, &i, what) == 0 &&
        strcmp(what, "count_primes") == 0 && ei_decode_long(buf, &i, &n) == 0 &&
        n >= 0 && n <= MAX_PRIME_LIMIT) {
        ei_x_encode_long(&r, count_primes(n));
    } else {
        ei_x_encode_tuple_header(&r, 2);
        ei_x_encode_atom(&r, "error");
        ei_x_encode_atom(&r, "badjob");
    }
    enode_send(w->mbox, &from, &r); /* from this thread, beside the others */
    ei_x_free(&r);
    w->jobs++;
    return 0;
}

static int is_atom(const enode_msg_t *m, const char *atom)
{
    char a[MAXATOMLEN_UTF8];
    int i = 0, version;
    return ei_decode_version(m->msg.buff, &i, &version) == 0 &&
           ei_decode_atom(m->msg.buff, &i, a) == 0 && strcmp(a, atom) == 0;
}

/* A worker thread: its own mailbox, until `stop`. */
static void *work(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        enode_msg_t m;
        if (enode_receive(w->mbox, &m, -1) < 0)
            break;
        int stop = is_atom(&m, "stop");
        if (!stop)
            do_job(w, &m); /* anything else is dropped */
        enode_msg_free(&m);
        if (stop)
            break;
    }
    return NULL;
}

/* ---- signals: turned into a `stop` message ------------------------------------ */

/* SIGUSR1 is the pool's own: it ends this thread at shutdown. */
static void signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1);
}

/* Waits for signals (blocked in every thread) and sends `stop` to the
 * control mailbox for SIGINT and SIGTERM, so that one path shuts down. */
static void *signals(void *arg)
{
    struct pool *p = arg;
    enode_mbox_t *self;
    sigset_t set;
    int sig;
    ei_x_buff stop;

    if (enode_mbox_new(p->node, &self) < 0)
        return NULL;
    ei_x_new_with_version(&stop);
    ei_x_encode_atom(&stop, "stop");
    signal_set(&set);
    while (sigwait(&set, &sig) == 0 && sig != SIGUSR1)
        enode_send(self, enode_mbox_pid(p->control), &stop);
    ei_x_free(&stop);
    enode_mbox_free(self);
    return NULL;
}

/* ---- the pool ------------------------------------------------------------------ */

static void reply_pool(struct pool *p, const enode_msg_t *m)
{
    const char *buf = m->msg.buff;
    int i = 0, version, arity;
    erlang_pid from;
    char what[MAXATOMLEN_UTF8];
    ei_x_buff r;

    if (ei_decode_version(buf, &i, &version) < 0 ||
        ei_decode_tuple_header(buf, &i, &arity) < 0 || arity != 2 ||
        ei_decode_pid(buf, &i, &from) < 0 || ei_decode_atom(buf, &i, what) < 0 ||
        strcmp(what, "pool") != 0)
        return;
    ei_x_new_with_version(&r);
    ei_x_encode_tuple_header(&r, 2);
    ei_x_encode_atom(&r, "pool");
    ei_x_encode_list_header(&r, p->nworkers);
    for (int w = 0; w < p->nworkers; w++)
        ei_x_encode_pid(&r, enode_mbox_pid(p->workers[w].mbox));
    ei_x_encode_empty_list(&r);
    enode_send(p->control, &from, &r);
    ei_x_free(&r);
}

/* Answer `pool` requests until `stop`. */
static void control(struct pool *p)
{
    for (;;) {
        enode_msg_t m;
        if (enode_receive(p->control, &m, -1) < 0)
            return;
        int stop = is_atom(&m, "stop");
        if (!stop)
            reply_pool(p, &m);
        enode_msg_free(&m);
        if (stop)
            return;
    }
}

/* Mailboxes and threads. 0, or -1 once it said why. */
static int start(struct pool *p)
{
    char name[32];
    int rc;

    if ((rc = enode_start_thread(p->node)) < 0 ||
        (rc = enode_mbox_new(p->node, &p->control)) < 0 ||
        (rc = enode_register(p->control, "workers")) < 0) {
        fprintf(stderr, "enode-workers: %s\n", enode_strerror(rc));
        return -1;
    }
    for (int w = 0; w < p->nworkers; w++) {
        struct worker *wk = &p->workers[w];
        wk->index = w + 1;
        snprintf(name, sizeof name, "worker%d", wk->index);
        if ((rc = enode_mbox_new(p->node, &wk->mbox)) < 0 ||
            (rc = enode_register(wk->mbox, name)) < 0) {
            fprintf(stderr, "enode-workers: %s: %s\n", name, enode_strerror(rc));
            return -1;
        }
    }
    for (; p->started < p->nworkers; p->started++)
        if (pthread_create(&p->workers[p->started].thread, NULL, work,
                           &p->workers[p->started]) != 0) {
            fprintf(stderr, "enode-workers: cannot start a thread\n");
            return -1;
        }
    if (pthread_create(&p->signal_thread, NULL, signals, p) != 0) {
        fprintf(stderr, "enode-workers: cannot start a thread\n");
        return -1;
    }
    p->signal_thread_started = 1;
    return 0;
}

/* Stop the workers (after the jobs they have queued), then everything. */
static void shut_down(struct pool *p)
{
    ei_x_buff stop;
    long jobs = 0;

    ei_x_new_with_version(&stop);
    ei_x_encode_atom(&stop, "stop");
    for (int w = 0; w < p->started; w++)
        enode_send(p->control, enode_mbox_pid(p->workers[w].mbox), &stop);
    ei_x_free(&stop);
    for (int w = 0; w < p->started; w++) {
        pthread_join(p->workers[w].thread, NULL);
        jobs += p->workers[w].jobs;
    }
    if (p->signal_thread_started) {
        pthread_kill(p->signal_thread, SIGUSR1);
        pthread_join(p->signal_thread, NULL);
    }
    for (int w = 0; w < p->nworkers; w++)
        if (p->workers[w].mbox)
            enode_mbox_free(p->workers[w].mbox);
    if (p->control)
        enode_mbox_free(p->control);
    enode_free(p->node); /* stops the loop thread, closes connections */
    fprintf(stderr, "enode-workers: stopped after %ld jobs\n", jobs);
}

/* erl's flags into config, ours into p and *connect_to. 0, or the exit
 * status. */
static int configure(enode_config_t *config, struct pool *p, int argc,
                     char **argv, const char **connect_to)
{
    char err[512];

    if (enode_config_from_args(config, &argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "enode-workers: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-workers") == 0 && i + 1 < argc) {
            p->nworkers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-connect") == 0 && i + 1 < argc) {
            *connect_to = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0) {
            enode_config_set_log(config, NULL, NULL, ENODE_LOG_INFO);
        } else {
            fprintf(stderr, "enode-workers: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (p->nworkers < 1 || p->nworkers > MAX_WORKERS) {
        fprintf(stderr, "enode-workers: -workers wants 1 to %d\n", MAX_WORKERS);
        return 2;
    }
    if (!enode_config_get_name(config, NULL))
        enode_config_set_name(config, "workers", 0);
    return 0;
}

int main(int argc, char **argv)
{
    static struct pool p = {.nworkers = 4};
    enode_config_t *config;
    const char *connect_to = NULL;
    sigset_t set;
    char err[512];
    int status;

    /* Blocked before any thread starts, so every thread inherits it and
     * only the signal thread's sigwait sees them. */
    signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (enode_config_new(&config) < 0)
        return 1;
    status = configure(config, &p, argc, argv, &connect_to);
    if (status == 0 && enode_new(&p.node, config, err, sizeof err) < 0) {
        fprintf(stderr, "enode-workers: %s\n", err);
        status = 1;
    }
    enode_config_free(config);
    if (status == 0 && start(&p) < 0)
        status = 1;
    if (status == 0 && connect_to && enode_connect(p.node, connect_to) < 0) {
        fprintf(stderr, "enode-workers: cannot connect to %s: %s\n", connect_to,
                enode_last_error(p.node));
        status = 1;
    }
    if (status == 0) {
        printf("ready %s\n", enode_name(p.node));
        fflush(stdout);
        control(&p);
    }
    if (p.node)
        shut_down(&p);
    return status;
}
