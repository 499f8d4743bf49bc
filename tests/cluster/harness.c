/*
 * harness.c - private epmd, certificates and real OTP nodes for tests.
 * See harness.h for the API and the rules about processes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define H_PATH 1024
#define H_NAME 256
#define H_STOP_GRACE_MS 3000   /* SIGTERM -> SIGKILL */
#define H_KILL_WAIT_MS 2000    /* after SIGKILL, how long to wait for reaping */
#define H_EPMD_READY_MS 5000
#define H_EPMD_TRIES 5
#define H_DEFAULT_READY_MS 20000
#define H_DEFAULT_EVAL_MS 10000
#define H_LOG_TAIL_LINES 40
#define H_CTL_FD 3             /* the agent writes replies to this fd */

/* A child process we started: it leads its own process group (pgid == pid).
 * `reaped` records that waitpid() collected it, so we never signal a PID
 * that may since have been reused. */
typedef struct h_proc {
    pid_t pid;
    bool reaped;
    int status;
} h_proc_t;

struct h_node {
    h_cluster_t *cluster;
    h_node_t *next;
    h_proc_t proc;
    int ctl; /* our end of the node's control socket; -1 once closed */
    unsigned long seq;
    char *rbuf; /* bytes read from ctl, not yet consumed as lines */
    size_t rlen, rcap;
    char sname[H_NAME]; /* name given on the command line, without host */
    char name[H_NAME];  /* full name as node() reports it */
    char host[H_NAME];
    char log[H_PATH];
};

struct h_cluster {
    h_cluster_t *next_live; /* list walked by the atexit handler */
    pid_t owner;            /* only this process may stop the cluster */
    char dir[H_PATH];
    char pki[H_PATH];
    char optfile[H_PATH];
    char cookie[33];
    int epmd_port;
    h_proc_t epmd;
    h_node_t *nodes; /* newest first */
    pid_t *pids;     /* every PID started, for h_cluster_pids() */
    size_t npids, cappids;
};

static h_cluster_t *live_clusters;
static unsigned node_counter;

/* ---------------------------------------------------------------------- */
/* Small utilities                                                         */

static void h_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void h_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("h: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* snprintf that reports truncation as failure: a cut path is a wrong path. */
static int fmt_into(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fmt_into(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        h_err("string too long: %.60s...", buf);
        return -1;
    }
    return 0;
}

static void copy_out(char *out, size_t outlen, const char *s, size_t n)
{
    if (!out || outlen == 0)
        return;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Writes s as the body of an Erlang string literal (no quotes around). */
static int erl_escape(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *s; s++) {
        bool esc = (*s == '"' || *s == '\\');
        if (o + 2 >= outlen)
            return -1;
        if (esc)
            out[o++] = '\\';
        out[o++] = *s;
    }
    out[o] = '\0';
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Locating files and binaries                                             */

static bool srcdir_ok(const char *dir)
{
    char p[H_PATH];
    if (!dir || !*dir || fmt_into(p, sizeof p, "%s/mkcerts.sh", dir) < 0)
        return false;
    return file_exists(p);
}

/* Directory part of path into out ("." when there is none). */
static void dirname_into(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        copy_out(out, outlen, ".", 1);
        return;
    }
    copy_out(out, outlen, path, (size_t)(slash - path));
}

const char *h_srcdir(void)
{
    static char found[H_PATH];
    if (found[0])
        return found;

    char exe_dir[H_PATH] = "", exe[H_PATH], file_dir[H_PATH];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        dirname_into(exe, exe_dir, sizeof exe_dir);
    }
    dirname_into(__FILE__, file_dir, sizeof file_dir);

    const char *candidates[] = {
        getenv("H_SRCDIR"),
#ifdef H_SRCDIR
        H_SRCDIR,
#endif
        exe_dir,
        file_dir,
        "tests/cluster",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        /* Absolute, because nodes run with the cluster dir as cwd. */
        char abs[PATH_MAX];
        if (srcdir_ok(candidates[i]) && realpath(candidates[i], abs)) {
            copy_out(found, sizeof found, abs, strlen(abs));
            return found;
        }
    }
    h_err("cannot find mkcerts.sh/harness_agent.erl; set H_SRCDIR");
    return NULL;
}

const char *h_erl(void)
{
    const char *erl = getenv("ERL");
    return erl && *erl ? erl : "erl";
}

/* Resolves a command name through PATH before fork(), so the child only
 * has to execve() and a missing binary is reported clearly. */
static int find_in_path(const char *cmd, char *out, size_t outlen)
{
    if (strchr(cmd, '/')) {
        if (access(cmd, X_OK) < 0) {
            h_err("%s: %s", cmd, strerror(errno));
            return -1;
        }
        return fmt_into(out, outlen, "%s", cmd);
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        char cand[H_PATH];
        if (snprintf(cand, sizeof cand, "%.*s/%s", (int)len, path, cmd) <
                (int)sizeof cand &&
            access(cand, X_OK) == 0)
            return fmt_into(out, outlen, "%s", cand);
        path += len;
        if (*path == ':')
            path++;
    }
    h_err("'%s' not found in PATH", cmd);
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Environment for children                                                */

typedef struct h_env {
    char **vars;
    size_t n;
} h_env_t;

static void env_free(h_env_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->vars[i]);
    free(e->vars);
    e->vars = NULL;
    e->n = 0;
}

/* Copies environ without the names that `overrides` ("NAME=value") set,
 * then appends the overrides. */
static int env_build(h_env_t *e, const char *const *overrides, size_t nover)
{
    size_t count = 0;
    while (environ[count])
        count++;
    e->vars = calloc(count + nover + 1, sizeof *e->vars);
    e->n = 0;
    if (!e->vars)
        return -1;
    for (size_t i = 0; i < count; i++) {
        bool replaced = false;
        for (size_t j = 0; j < nover; j++) {
            size_t name_len = strcspn(overrides[j], "=") + 1;
            if (strncmp(environ[i], overrides[j], name_len) == 0)
                replaced = true;
        }
        if (!replaced && !(e->vars[e->n++] = strdup(environ[i])))
            goto fail;
    }
    for (size_t j = 0; j < nover; j++)
        if (!(e->vars[e->n++] = strdup(overrides[j])))
            goto fail;
    return 0;
fail:
    env_free(e);
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Starting and stopping child processes                                   */

typedef struct h_spawn {
    const char *path;       /* resolved executable */
    char *const *argv;
    char *const *envp;
    const char *log;        /* stdout and stderr are appended here */
    const char *cwd;
    int ctl;                /* -1, or a socket that becomes fd 0 and fd 3 */
} h_spawn_t;

/* Runs in the child between fork() and execve(): only async-signal-safe
 * calls, and _exit() on any failure. */
static void child_setup_and_exec(const h_spawn_t *s, pid_t parent)
{
    /* Own process group: teardown signals the whole group, and the
     * terminal's or Criterion's signals to our group do not reach it. */
    setpgid(0, 0);
    /* Die with the thread that started us, even if it is SIGKILLed (e.g. by
     * Criterion's timeout). If it already died, the signal would never come. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(126);

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);

    /* Park every source fd above the targets first, so dup2() onto 0-3
     * can never clobber one we still need (the test may have closed 0-2). */
    int log = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log < 0 || null < 0)
        _exit(126);
    log = fcntl(log, F_DUPFD_CLOEXEC, 10);
    null = fcntl(null, F_DUPFD_CLOEXEC, 10);
    int ctl = s->ctl >= 0 ? fcntl(s->ctl, F_DUPFD_CLOEXEC, 10) : -1;
    if (log < 0 || null < 0 || (s->ctl >= 0 && ctl < 0))
        _exit(126);
    /* dup2() clears close-on-exec on the new descriptors. */
    if (dup2(ctl >= 0 ? ctl : null, 0) < 0 || dup2(log, 1) < 0 ||
        dup2(log, 2) < 0 || (ctl >= 0 && dup2(ctl, H_CTL_FD) < 0))
        _exit(126);
    /* Keep nothing else of the test process open in the node: another
     * node's control socket held open here would hide its EOF. */
    int first_free = ctl >= 0 ? H_CTL_FD + 1 : 3;
    if (close_range((unsigned)first_free, ~0U, 0) < 0)
        for (int fd = first_free; fd < 1024; fd++)
            close(fd);
    if (s->cwd && chdir(s->cwd) < 0)
        _exit(126);
    execve(s->path, s->argv, s->envp);
    /* stderr is the log now: leave the reason where the harness looks. */
    static const char msg[] = "h: execve failed\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(127);
    _exit(127);
}

static pid_t spawn_child(const h_spawn_t *s)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        h_err("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        child_setup_and_exec(s, parent);
    /* Also from the parent, so the group exists before we might signal it. */
    setpgid(pid, pid);
    return pid;
}

/* Collects the process if it has exited (never blocks); true once reaped. */
static bool proc_reap(h_proc_t *p)
{
    if (p->pid <= 0 || p->reaped)
        return true;
    pid_t r;
    do
        r = waitpid(p->pid, &p->status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == p->pid || (r < 0 && errno == ECHILD))
        p->reaped = true;
    return p->reaped;
}

/* Reaps any exited member of group pgid that became our child because we
 * are a subreaper (e.g. erl_child_setup after beam.smp died). */
static void reap_group_orphans(pid_t pgid)
{
    while (waitpid(-pgid, NULL, WNOHANG) > 0)
        ;
}

static void proc_signal_group(const h_proc_t *p, int sig)
{
    if (p->pid > 0)
        kill(-p->pid, sig); /* the group may already be empty: ignore ESRCH */
}

static bool proc_group_gone(h_proc_t *p)
{
    if (p->pid <= 0)
        return true;
    proc_reap(p);
    reap_group_orphans(p->pid);
    return p->reaped && !h_pgrp_alive(p->pid);
}

/* Waits until every process (and its group) in procs is gone, or deadline. */
static bool procs_wait_gone(h_proc_t **procs, size_t n, int64_t deadline)
{
    for (;;) {
        bool all_gone = true;
        for (size_t i = 0; i < n; i++)
            if (!proc_group_gone(procs[i]))
                all_gone = false;
        if (all_gone)
            return true;
        if (now_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
}

/* Processes our children started outside their process group: beam.smp's
 * erl_child_setup makes itself a session leader, and port programs run
 * under it. They normally exit when beam.smp does; teardown snapshots them
 * (PID plus start time, so a reused PID is never signalled) and makes sure
 * they are gone and, once re-parented to us (we are a subreaper), reaped. */
typedef struct h_stray {
    pid_t pid;
    unsigned long long start;
} h_stray_t;

#define H_MAX_STRAYS 64

typedef struct h_stat {
    char state;
    pid_t ppid, sid;
    unsigned long long start; /* clock ticks after boot */
} h_stat_t;

/* Reads the fields we need from /proc/<pid>/stat. */
static bool read_proc_stat(pid_t pid, h_stat_t *st)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    /* The command name may contain spaces and ')': parse after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    int ppid, sid;
    /* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime priority nice num_threads
     * itrealvalue starttime */
    if (sscanf(p + 2, "%c %d %*d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
                      "%*d %*d %*d %*d %*d %*d %llu",
               &st->state, &ppid, &sid, &st->start) != 4)
        return false;
    st->ppid = ppid;
    st->sid = sid;
    return true;
}

/* Calls fn for every process listed in /proc. */
static void for_each_proc(void (*fn)(pid_t, const h_stat_t *, void *), void *arg)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        pid_t pid = (pid_t)atoi(e->d_name);
        h_stat_t st;
        if (pid > 0 && read_proc_stat(pid, &st))
            fn(pid, &st, arg);
    }
    closedir(d);
}

static void reap_if_foreign_zombie(pid_t pid, const h_stat_t *st, void *arg)
{
    (void)arg;
    if (st->state == 'Z' && st->ppid == getpid() && st->sid != getsid(0))
        waitpid(pid, NULL, WNOHANG);
}

/* Because we are a subreaper, helpers that OTP starts in sessions of their
 * own (erl_child_setup does setsid(), inet_gethost too) become our children
 * when their parent exits, at any time during the test. Reap those zombies:
 * nobody else can, and PID 1 may not either. Children we forked directly,
 * or the test forked without setsid(), share our session and are left
 * alone. */
static void reap_foreign_zombies(void)
{
    for_each_proc(reap_if_foreign_zombie, NULL);
}

typedef struct h_strays {
    h_stray_t *v;
    size_t n;
    pid_t parent;
} h_strays_t;

static void add_if_child(pid_t pid, const h_stat_t *st, void *arg)
{
    h_strays_t *s = arg;
    if (st->ppid == s->parent && s->n < H_MAX_STRAYS)
        s->v[s->n++] = (h_stray_t){pid, st->start};
}

/* Appends the children of parent found in /proc to strays. */
static void add_children(pid_t parent, h_stray_t *strays, size_t *n)
{
    h_strays_t s = {strays, *n, parent};
    for_each_proc(add_if_child, &s);
    *n = s.n;
}

/* All descendants of the given processes (breadth first). */
static size_t snapshot_descendants(h_proc_t **procs, size_t nprocs,
                                   h_stray_t *strays)
{
    size_t n = 0;
    for (size_t i = 0; i < nprocs; i++)
        if (procs[i]->pid > 0 && !procs[i]->reaped)
            add_children(procs[i]->pid, strays, &n);
    for (size_t i = 0; i < n; i++)
        add_children(strays[i].pid, strays, &n);
    return n;
}

/* Same process (not a reused PID), alive, and either still running or a
 * zombie we can reap ourselves? Reaps it when it is our exited child. */
static bool stray_gone(const h_stray_t *s)
{
    h_stat_t st;
    if (!read_proc_stat(s->pid, &st) || st.start != s->start)
        return true;
    if (st.state != 'Z')
        return false;
    if (st.ppid == getpid())
        return waitpid(s->pid, NULL, WNOHANG) == s->pid;
    /* A zombie whose parent is still in the tree will be reaped by it or
     * re-parented to us, the subreaper. One already handed to PID 1 is
     * only a table entry we cannot remove. */
    return st.ppid == 1;
}

static void strays_stop(const h_stray_t *strays, size_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        int64_t deadline = now_ms() + (pass == 0 ? H_STOP_GRACE_MS : H_KILL_WAIT_MS);
        for (;;) {
            size_t left = 0;
            for (size_t i = 0; i < n; i++)
                if (!stray_gone(&strays[i]))
                    left++;
            if (left == 0)
                return;
            if (now_ms() >= deadline)
                break;
            sleep_ms(10);
        }
        for (size_t i = 0; i < n; i++)
            if (!stray_gone(&strays[i])) {
                if (pass == 0)
                    kill(strays[i].pid, SIGKILL);
                else
                    h_err("process %d (started by a node) survived SIGKILL",
                          (int)strays[i].pid);
            }
    }
}

/* SIGTERM to each group, wait up to H_STOP_GRACE_MS, then SIGKILL; then
 * make sure what they started outside their groups is gone too. */
static void procs_stop(h_proc_t **procs, size_t n)
{
    h_stray_t strays[H_MAX_STRAYS];
    size_t nstrays = snapshot_descendants(procs, n, strays);

    for (size_t i = 0; i < n; i++)
        proc_signal_group(procs[i], SIGTERM);
    if (!procs_wait_gone(procs, n, now_ms() + H_STOP_GRACE_MS)) {
        for (size_t i = 0; i < n; i++)
            if (!proc_group_gone(procs[i]))
                proc_signal_group(procs[i], SIGKILL);
        if (!procs_wait_gone(procs, n, now_ms() + H_KILL_WAIT_MS))
            for (size_t i = 0; i < n; i++)
                if (!proc_group_gone(procs[i]))
                    h_err("process group %d survived SIGKILL", (int)procs[i]->pid);
    }
    strays_stop(strays, nstrays);
    reap_foreign_zombies();
}

bool h_pid_alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

bool h_pgrp_alive(pid_t pgid)
{
    return pgid > 0 && (kill(-pgid, 0) == 0 || errno != ESRCH);
}

/* Runs argv to completion with output to stderr; returns its exit code. */
static int run_and_wait(const char *path, char *const *argv)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(path, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---------------------------------------------------------------------- */
/* Certificates and the optfile                                            */

int h_pki_make_host(const char *dir, const char *hostname)
{
    const char *src = h_srcdir();
    char script[H_PATH];
    if (!src || fmt_into(script, sizeof script, "%s/mkcerts.sh", src) < 0)
        return -1;
    char *argv[] = {"sh", script, (char *)dir, (char *)hostname, NULL};
    int rc = run_and_wait("/bin/sh", argv);
    if (rc != 0) {
        h_err("mkcerts.sh %s %s failed (exit %d)", dir, hostname, rc);
        return -1;
    }
    return 0;
}

int h_pki_make_keys(const char *dir, const char *ca_key,
                    const char *const *keys)
{
    const char *src = h_srcdir();
    char script[H_PATH], host[H_NAME] = "";
    char *argv[16] = {"sh", script, (char *)dir, host, (char *)ca_key};
    size_t argc = 5;
    if (!src || fmt_into(script, sizeof script, "%s/mkcerts.sh", src) < 0 ||
        gethostname(host, sizeof host - 1) < 0)
        return -1;
    for (; keys && *keys && argc < sizeof argv / sizeof argv[0] - 1; keys++)
        argv[argc++] = (char *)*keys;
    argv[argc] = NULL;
    int rc = run_and_wait("/bin/sh", argv);
    if (rc != 0) {
        h_err("mkcerts.sh %s %s %s ... failed (exit %d)", dir, host, ca_key,
              rc);
        return -1;
    }
    return 0;
}

int h_pki_make(const char *dir)
{
    char host[H_NAME] = "";
    if (gethostname(host, sizeof host - 1) < 0)
        return -1;
    return h_pki_make_host(dir, host);
}

int h_write_optfile(const char *pki_dir, const char *path)
{
    char d[H_PATH];
    if (erl_escape(pki_dir, d, sizeof d) < 0)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f) {
        h_err("%s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "[{server,[{certfile,\"%s/node.pem\"},{keyfile,\"%s/node.key\"},"
            "{cacertfile,\"%s/ca.pem\"},{verify,verify_peer},"
            "{fail_if_no_peer_cert,true},{secure_renegotiate,true}]},\n"
            " {client,[{certfile,\"%s/node.pem\"},{keyfile,\"%s/node.key\"},"
            "{cacertfile,\"%s/ca.pem\"},{verify,verify_peer},"
            "{secure_renegotiate,true}]}].\n",
            d, d, d, d, d, d);
    if (fclose(f) != 0) {
        h_err("%s: write failed", path);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Cluster bookkeeping                                                     */

static void stop_leftover_clusters(void)
{
    /* h_cluster_stop() unlinks each cluster from the list. Only the process
     * that created a cluster stops it (not a forked child of it). */
    h_cluster_t **pp = &live_clusters;
    while (*pp) {
        if ((*pp)->owner == getpid())
            h_cluster_stop(*pp);
        else
            pp = &(*pp)->next_live;
    }
}

static void live_add(h_cluster_t *c)
{
    static bool registered;
    if (!registered && atexit(stop_leftover_clusters) == 0)
        registered = true;
    c->next_live = live_clusters;
    live_clusters = c;
}

static void live_remove(h_cluster_t *c)
{
    for (h_cluster_t **pp = &live_clusters; *pp; pp = &(*pp)->next_live)
        if (*pp == c) {
            *pp = c->next_live;
            return;
        }
}

static int record_pid(h_cluster_t *c, pid_t pid)
{
    if (c->npids == c->cappids) {
        size_t cap = c->cappids ? c->cappids * 2 : 8;
        pid_t *p = realloc(c->pids, cap * sizeof *p);
        if (!p)
            return -1;
        c->pids = p;
        c->cappids = cap;
    }
    c->pids[c->npids++] = pid;
    return 0;
}

static int random_cookie(char *out, size_t len)
{
    unsigned char raw[32];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || len > sizeof raw + 1 || read(fd, raw, len - 1) != (ssize_t)(len - 1)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    for (size_t i = 0; i + 1 < len; i++)
        out[i] = (char)('A' + raw[i] % 26);
    out[len - 1] = '\0';
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) < 0)
        h_err("remove %s: %s", path, strerror(errno));
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

h_cluster_t *h_cluster_new(void)
{
    h_cluster_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->owner = getpid();
    const char *tmp = getenv("TMPDIR");
    if (fmt_into(c->dir, sizeof c->dir, "%s/enode-h-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp") < 0 ||
        !mkdtemp(c->dir)) {
        h_err("cannot create temp dir: %s", strerror(errno));
        free(c);
        return NULL;
    }
    live_add(c);
    /* Orphans of our nodes (erl_child_setup, inet_gethost) are re-parented
     * to us, so teardown can reap them and prove the group is empty
     * instead of relying on whatever runs as PID 1. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    if (fmt_into(c->pki, sizeof c->pki, "%s/pki", c->dir) < 0 ||
        fmt_into(c->optfile, sizeof c->optfile, "%s/ssl_dist.conf", c->dir) < 0 ||
        random_cookie(c->cookie, 21) < 0 || h_pki_make(c->pki) < 0 ||
        h_write_optfile(c->pki, c->optfile) < 0) {
        h_cluster_stop(c);
        return NULL;
    }
    return c;
}

const char *h_cluster_dir(const h_cluster_t *c) { return c->dir; }
const char *h_cluster_pki_dir(const h_cluster_t *c) { return c->pki; }
const char *h_cluster_optfile(const h_cluster_t *c) { return c->optfile; }
const char *h_cluster_cookie(const h_cluster_t *c) { return c->cookie; }
int h_cluster_epmd_port(const h_cluster_t *c) { return c->epmd_port; }
pid_t h_cluster_epmd_pid(const h_cluster_t *c) { return c->epmd.pid; }

size_t h_cluster_pids(const h_cluster_t *c, pid_t *pids, size_t max)
{
    for (size_t i = 0; i < c->npids && i < max; i++)
        pids[i] = c->pids[i];
    return c->npids;
}

/* ---------------------------------------------------------------------- */
/* Private epmd                                                            */

/* Asks the kernel for a free loopback port. Someone may take it before
 * epmd binds it; h_epmd_start() retries when that happens. */
static int pick_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* True if an epmd on 127.0.0.1:port answers a NAMES request with its own
 * port number (so it is an epmd, and the one on that port). */
static bool epmd_answers(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool ok = false;
    static const unsigned char names_req[] = {0, 1, 110}; /* len=1, 'n' */
    unsigned char reply[4];
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        send(fd, names_req, sizeof names_req, MSG_NOSIGNAL) == sizeof names_req &&
        recv(fd, reply, sizeof reply, MSG_WAITALL) == sizeof reply) {
        uint32_t p = (uint32_t)reply[0] << 24 | (uint32_t)reply[1] << 16 |
                     (uint32_t)reply[2] << 8 | reply[3];
        ok = (p == (uint32_t)port);
    }
    close(fd);
    return ok;
}

static int epmd_try_port(h_cluster_t *c, const char *epmd_path, int port)
{
    char port_s[16], log[H_PATH];
    snprintf(port_s, sizeof port_s, "%d", port);
    if (fmt_into(log, sizeof log, "%s/epmd.log", c->dir) < 0)
        return -1;
    char *argv[] = {"epmd", "-port", port_s, NULL};
    h_env_t env;
    if (env_build(&env, NULL, 0) < 0)
        return -1;
    h_spawn_t s = {.path = epmd_path, .argv = argv, .envp = env.vars,
                   .log = log, .cwd = c->dir, .ctl = -1};
    h_proc_t p = {.pid = spawn_child(&s)};
    env_free(&env);
    if (p.pid < 0)
        return -1;

    for (int64_t deadline = now_ms() + H_EPMD_READY_MS; now_ms() < deadline;) {
        if (proc_reap(&p))
            return 0; /* exited: most likely the port was taken */
        if (epmd_answers(port) && !proc_reap(&p)) {
            c->epmd = p;
            c->epmd_port = port;
            /* Only the epmd that runs is recorded: failed attempts are
             * reaped already, and their PIDs may be reused by anyone. */
            return record_pid(c, p.pid) < 0 ? -1 : port;
        }
        sleep_ms(20);
    }
    h_err("epmd on port %d did not answer in time", port);
    h_proc_t *pp = &p;
    procs_stop(&pp, 1);
    return 0;
}

/* With ERL=/path/to/otp/bin/erl, use the epmd of that release. */
static int find_epmd(char *out, size_t outlen)
{
    const char *erl = h_erl();
    if (strchr(erl, '/')) {
        char dir[H_PATH];
        dirname_into(erl, dir, sizeof dir);
        if (fmt_into(out, outlen, "%s/epmd", dir) == 0 && access(out, X_OK) == 0)
            return 0;
    }
    return find_in_path("epmd", out, outlen);
}

int h_epmd_start(h_cluster_t *c)
{
    if (c->epmd_port > 0)
        return c->epmd_port;
    char epmd_path[H_PATH];
    if (find_epmd(epmd_path, sizeof epmd_path) < 0)
        return -1;
    for (int attempt = 0; attempt < H_EPMD_TRIES; attempt++) {
        int port = pick_free_port();
        if (port < 0)
            continue;
        int rc = epmd_try_port(c, epmd_path, port);
        if (rc != 0)
            return rc;
    }
    h_err("could not start epmd (see %s/epmd.log)", c->dir);
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Nodes                                                                   */

static void node_close_ctl(h_node_t *n)
{
    if (n->ctl >= 0) {
        close(n->ctl);
        n->ctl = -1;
    }
}

void h_node_print_log_tail(const h_node_t *n, int lines)
{
    FILE *f = fopen(n->log, "r");
    if (!f) {
        h_err("no log %s", n->log);
        return;
    }
    /* Simple and good enough for test logs: remember the last offsets. */
    long *starts = calloc((size_t)lines + 1, sizeof *starts);
    size_t count = 0;
    int ch, prev = '\n';
    long pos = 0;
    while (starts && (ch = fgetc(f)) != EOF) {
        if (prev == '\n')
            starts[count++ % ((size_t)lines + 1)] = pos;
        prev = ch;
        pos++;
    }
    fprintf(stderr, "h: ---- last lines of %s ----\n", n->log);
    if (starts && count > 0) {
        size_t first = count > (size_t)lines ? count - (size_t)lines : 0;
        fseek(f, starts[first % ((size_t)lines + 1)], SEEK_SET);
        while ((ch = fgetc(f)) != EOF)
            fputc(ch, stderr);
    }
    fprintf(stderr, "h: ---- end of %s ----\n", n->log);
    free(starts);
    fclose(f);
}

bool h_node_log_contains(const h_node_t *n, const char *needle)
{
    FILE *f = fopen(n->log, "r");
    if (!f)
        return false;
    /* Test logs are small: read it whole rather than match across chunks. */
    char *text = NULL;
    size_t cap = 0, len = 0, r;
    do {
        if (cap - len < 4096) {
            char *t = realloc(text, cap + 65536);
            if (!t)
                break;
            text = t;
            cap += 65536;
        }
        r = fread(text + len, 1, cap - len - 1, f);
        len += r;
    } while (r > 0);
    fclose(f);
    bool found = false;
    if (text) {
        text[len] = '\0';
        found = strstr(text, needle) != NULL;
    }
    free(text);
    return found;
}

/* The -eval that loads the agent: compile the source in memory (no erlc
 * and no .beam to match the OTP release), then start it. */
static int agent_boot_expr(char *out, size_t outlen)
{
    const char *src = h_srcdir();
    char path[H_PATH], esc[2 * H_PATH];
    if (!src || fmt_into(path, sizeof path, "%s/harness_agent.erl", src) < 0 ||
        erl_escape(path, esc, sizeof esc) < 0)
        return -1;
    return fmt_into(
        out, outlen,
        "try {ok,M,B} = compile:file(\"%s\", [binary,report_errors]),"
        " {module,M} = code:load_binary(M, \"%s\", B),"
        " ok = harness_agent:start()"
        " catch C:R:S ->"
        " io:format(standard_error, \"harness_agent failed: ~tp~n\", [{C,R,S}]),"
        " erlang:halt(3) end.",
        esc, esc);
}

typedef struct h_argv {
    char *v[64];
    size_t n;
} h_argv_t;

static int argv_add(h_argv_t *a, const char *s)
{
    if (a->n + 1 >= sizeof a->v / sizeof *a->v) {
        h_err("too many erl arguments");
        return -1;
    }
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
    return 0;
}

/* Builds erl's command line; strings referenced must outlive the spawn. */
static int node_argv(h_node_t *n, const h_node_opts_t *o, const char *name_arg,
                     const char *boot, h_argv_t *a)
{
    h_cluster_t *c = n->cluster;
    int rc = 0;
    for (const char *const *w = o->wrapper; w && *w; w++)
        rc |= argv_add(a, *w);
    rc |= argv_add(a, o->wrapper ? h_erl() : "erl");
    rc |= argv_add(a, o->longnames ? "-name" : "-sname");
    rc |= argv_add(a, name_arg);
    if (o->tcp && o->ipv6) {
        rc |= argv_add(a, "-proto_dist");
        rc |= argv_add(a, "inet6_tcp");
    }
    if (!o->tcp) {
        rc |= argv_add(a, "-proto_dist");
        rc |= argv_add(a, o->ipv6 ? "inet6_tls" : "inet_tls");
        rc |= argv_add(a, "-ssl_dist_optfile");
        rc |= argv_add(a, o->optfile ? o->optfile : c->optfile);
    }
    rc |= argv_add(a, "-setcookie");
    rc |= argv_add(a, o->cookie ? o->cookie : c->cookie);
    /* Never let erl start an epmd of its own: it would outlive the test. */
    rc |= argv_add(a, "-start_epmd");
    rc |= argv_add(a, "false");
    rc |= argv_add(a, "-noshell");
    rc |= argv_add(a, "-noinput");
    if (o->hidden)
        rc |= argv_add(a, "-hidden");
    rc |= argv_add(a, "-eval");
    rc |= argv_add(a, boot);
    for (const char *const *x = o->extra_args; x && *x; x++)
        rc |= argv_add(a, *x);
    return rc ? -1 : 0;
}

static int node_spawn(h_node_t *n, const h_node_opts_t *o)
{
    h_cluster_t *c = n->cluster;
    char erl_path[H_PATH], boot[3 * H_PATH], name_arg[2 * H_NAME];
    char epmd_env[64], dump_env[H_PATH + 32];
    const char *prog = o->wrapper && o->wrapper[0] ? o->wrapper[0] : h_erl();
    if (find_in_path(prog, erl_path, sizeof erl_path) < 0 ||
        agent_boot_expr(boot, sizeof boot) < 0)
        return -1;
    /* -sname without a host lets erl pick the short host name, which the
     * node certificate carries; -name needs a dotted host, and
     * 127.0.0.1 is in the certificate as a dNSName for OTP 25's check. */
    const char *host = o->host ? o->host : o->longnames ? "127.0.0.1" : NULL;
    if (host)
        snprintf(name_arg, sizeof name_arg, "%s@%s", n->sname, host);
    else
        snprintf(name_arg, sizeof name_arg, "%s", n->sname);
    snprintf(epmd_env, sizeof epmd_env, "ERL_EPMD_PORT=%d", c->epmd_port);
    if (fmt_into(dump_env, sizeof dump_env, "ERL_CRASH_DUMP=%s/%s.dump",
                 c->dir, n->sname) < 0)
        return -1;

    h_argv_t a = {.n = 0};
    const char *overrides[] = {epmd_env, dump_env};
    h_env_t env;
    if (node_argv(n, o, name_arg, boot, &a) < 0 || env_build(&env, overrides, 2) < 0)
        return -1;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        h_err("socketpair: %s", strerror(errno));
        env_free(&env);
        return -1;
    }
    h_spawn_t s = {.path = erl_path, .argv = a.v, .envp = env.vars,
                   .log = n->log, .cwd = c->dir, .ctl = sv[1]};
    n->proc.pid = spawn_child(&s);
    close(sv[1]);
    env_free(&env);
    n->ctl = sv[0];
    if (n->proc.pid < 0 || record_pid(c, n->proc.pid) < 0)
        return -1;
    return 0;
}

h_node_t *h_node_launch(h_cluster_t *c, const char *prefix,
                        const h_node_opts_t *opts)
{
    static const h_node_opts_t defaults = H_NODE_OPTS_INIT;
    const h_node_opts_t *o = opts ? opts : &defaults;
    if (c->epmd_port <= 0) {
        h_err("h_node_launch: start epmd first (h_epmd_start)");
        return NULL;
    }
    h_node_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->cluster = c;
    n->ctl = -1;
    n->proc.reaped = true; /* nothing to reap until spawned */
    n->next = c->nodes;
    c->nodes = n;
    if (fmt_into(n->sname, sizeof n->sname, "%s_%d_%u", prefix, (int)getpid(),
                 ++node_counter) < 0 ||
        fmt_into(n->log, sizeof n->log, "%s/%s.log", c->dir, n->sname) < 0)
        return NULL;
    n->proc.reaped = false;
    if (node_spawn(n, o) < 0) {
        n->proc.reaped = n->proc.pid <= 0;
        h_err("could not start node %s", n->sname);
        return NULL;
    }
    return n;
}

/* node() prints as an atom, quoted when it contains dots ('a@127.0.0.1'). */
static void node_set_name(h_node_t *n, const char *printed)
{
    size_t len = strlen(printed);
    if (len >= 2 && printed[0] == '\'' && printed[len - 1] == '\'') {
        printed++;
        len -= 2;
    }
    copy_out(n->name, sizeof n->name, printed, len);
    const char *at = strchr(n->name, '@');
    const char *host = at ? at + 1 : "";
    copy_out(n->host, sizeof n->host, host, strlen(host));
}

int h_node_wait_ready(h_node_t *n, int timeout_ms)
{
    if (!n)
        return -1;
    char out[H_NAME];
    int rc = h_eval(n, "node()", out, sizeof out,
                    timeout_ms > 0 ? timeout_ms : H_DEFAULT_READY_MS);
    if (rc != H_OK || strcmp(out, "nonode@nohost") == 0) {
        h_err("node %s did not come up: %s", n->sname, out);
        h_node_print_log_tail(n, H_LOG_TAIL_LINES);
        return -1;
    }
    node_set_name(n, out);
    return 0;
}

h_node_t *h_node_start(h_cluster_t *c, const char *prefix,
                       const h_node_opts_t *opts)
{
    h_node_t *n = h_node_launch(c, prefix, opts);
    if (!n)
        return NULL;
    if (h_node_wait_ready(n, opts ? opts->start_timeout_ms : 0) < 0) {
        h_node_stop(n); /* no half-started node lingers until teardown */
        return NULL;
    }
    return n;
}

void h_node_stop(h_node_t *n)
{
    /* EOF on the control socket makes the agent halt at once; SIGTERM is
     * the fallback (init:stop) for a node whose agent never started. */
    node_close_ctl(n);
    h_proc_t *p = &n->proc;
    procs_stop(&p, 1);
}

void h_node_kill(h_node_t *n)
{
    h_proc_t *p = &n->proc;
    h_stray_t strays[H_MAX_STRAYS];
    size_t nstrays = snapshot_descendants(&p, 1, strays);
    proc_signal_group(p, SIGKILL);
    if (!procs_wait_gone(&p, 1, now_ms() + H_KILL_WAIT_MS))
        h_err("process group %d survived SIGKILL", (int)p->pid);
    strays_stop(strays, nstrays);
    reap_foreign_zombies();
    node_close_ctl(n);
}

const char *h_node_name(const h_node_t *n) { return n->name[0] ? n->name : n->sname; }
const char *h_node_host(const h_node_t *n) { return n->host; }
pid_t h_node_pid(const h_node_t *n) { return n->proc.pid; }
const char *h_node_log(const h_node_t *n) { return n->log; }

/* ---------------------------------------------------------------------- */
/* Evaluating expressions                                                  */

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            buf += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return H_EIO;
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return H_ETIMEOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        poll(&pfd, 1, left);
    }
    return H_OK;
}

/* Request line: "<seq> <expr>\n" with newlines flattened to spaces. */
static char *build_request(unsigned long seq, const char *expr, size_t *len)
{
    size_t elen = strlen(expr);
    char *req = malloc(elen + 32);
    if (!req)
        return NULL;
    int head = snprintf(req, 32, "%lu ", seq);
    for (size_t i = 0; i < elen; i++)
        req[head + i] = (expr[i] == '\n' || expr[i] == '\r') ? ' ' : expr[i];
    req[head + elen] = '\n';
    *len = (size_t)head + elen + 1;
    return req;
}

/* Reads what is available on ctl into rbuf. 0 on data, H_EIO on EOF/error. */
static int fill_rbuf(h_node_t *n)
{
    if (n->rcap - n->rlen < 4096) {
        size_t cap = n->rcap ? n->rcap * 2 : 8192;
        char *b = realloc(n->rbuf, cap);
        if (!b)
            return H_EIO;
        n->rbuf = b;
        n->rcap = cap;
    }
    ssize_t r = recv(n->ctl, n->rbuf + n->rlen, n->rcap - n->rlen, MSG_DONTWAIT);
    if (r > 0) {
        n->rlen += (size_t)r;
        return H_OK;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return H_OK;
    return H_EIO;
}

/* If rbuf holds a complete reply for seq, decodes it into out and returns
 * H_OK or H_EERL; drops replies to earlier (timed-out) requests. Returns 1
 * when no reply for seq is complete yet. */
static int take_reply(h_node_t *n, unsigned long seq, char *out, size_t outlen)
{
    for (;;) {
        char *nl = n->rlen ? memchr(n->rbuf, '\n', n->rlen) : NULL;
        if (!nl)
            return 1;
        *nl = '\0';
        size_t line_len = (size_t)(nl - n->rbuf) + 1;
        char *rest;
        unsigned long got = strtoul(n->rbuf, &rest, 10);
        int rc = 1;
        if (got == seq && strncmp(rest, " ok ", 4) == 0) {
            copy_out(out, outlen, rest + 4, strlen(rest + 4));
            rc = H_OK;
        } else if (got == seq && strncmp(rest, " err ", 5) == 0) {
            copy_out(out, outlen, rest + 5, strlen(rest + 5));
            rc = H_EERL;
        }
        memmove(n->rbuf, n->rbuf + line_len, n->rlen - line_len);
        n->rlen -= line_len;
        if (rc != 1)
            return rc;
    }
}

static int eval_fail(h_node_t *n, int rc, char *out, size_t outlen)
{
    char msg[H_PATH + 96];
    if (rc == H_ETIMEOUT) {
        snprintf(msg, sizeof msg, "timeout");
    } else if (n->proc.reaped && n->proc.pid > 0 && WIFSIGNALED(n->proc.status)) {
        snprintf(msg, sizeof msg, "node killed by signal %d, see %s",
                 WTERMSIG(n->proc.status), n->log);
    } else if (n->proc.reaped && n->proc.pid > 0) {
        snprintf(msg, sizeof msg, "node exited with code %d, see %s",
                 WEXITSTATUS(n->proc.status), n->log);
    } else {
        snprintf(msg, sizeof msg, "node not reachable, see %s", n->log);
    }
    copy_out(out, outlen, msg, strlen(msg));
    return rc;
}

int h_eval(h_node_t *n, const char *expr, char *out, size_t outlen,
           int timeout_ms)
{
    copy_out(out, outlen, "", 0);
    if (!n || n->ctl < 0)
        return n ? eval_fail(n, H_EIO, out, outlen) : H_EIO;
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : H_DEFAULT_EVAL_MS);
    unsigned long seq = ++n->seq;
    size_t len;
    char *req = build_request(seq, expr, &len);
    if (!req)
        return H_EIO;
    int rc = send_all(n->ctl, req, len, deadline);
    free(req);
    if (rc != H_OK)
        return eval_fail(n, rc, out, outlen);

    for (;;) {
        rc = take_reply(n, seq, out, outlen);
        if (rc != 1)
            return rc;
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return eval_fail(n, H_ETIMEOUT, out, outlen);
        /* Wake up now and then to notice a node that died without EOF
         * (its children may still hold the socket). */
        struct pollfd pfd = {.fd = n->ctl, .events = POLLIN};
        int pr = poll(&pfd, 1, left < 200 ? left : 200);
        if (pr > 0 && fill_rbuf(n) != H_OK) {
            /* EOF: the node is exiting; give it a moment, to report how. */
            for (int i = 0; i < 50 && !proc_reap(&n->proc); i++)
                sleep_ms(10);
            return eval_fail(n, H_EIO, out, outlen);
        }
        if (pr == 0 && proc_reap(&n->proc))
            return eval_fail(n, H_EIO, out, outlen);
    }
}

int h_evalf(h_node_t *n, char *out, size_t outlen, int timeout_ms,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *expr = NULL;
    int len = vasprintf(&expr, fmt, ap);
    va_end(ap);
    if (len < 0)
        return H_EIO;
    int rc = h_eval(n, expr, out, outlen, timeout_ms);
    free(expr);
    return rc;
}

#define H_EXPECT_BUF 4096

bool h_eval_expect(h_node_t *n, const char *expr, const char *expected)
{
    char out[H_EXPECT_BUF];
    int rc = h_eval(n, expr, out, sizeof out, 0);
    if (rc == H_OK && strcmp(out, expected) == 0)
        return true;
    h_err("on %s: %s\n   expected: %s\n   got:      %s%s", h_node_name(n), expr,
          expected, rc == H_OK ? "" : "(error) ", out);
    return false;
}

bool h_eval_expectf(h_node_t *n, const char *expected, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *expr = NULL;
    int len = vasprintf(&expr, fmt, ap);
    va_end(ap);
    if (len < 0)
        return false;
    bool ok = h_eval_expect(n, expr, expected);
    free(expr);
    return ok;
}

bool h_wait_until(h_node_t *n, const char *expr, const char *expected,
                  int timeout_ms)
{
    char out[H_EXPECT_BUF] = "";
    int64_t deadline = now_ms() + timeout_ms;
    int pause = 50, rc = H_EIO;
    for (;;) {
        int left = (int)(deadline - now_ms());
        rc = h_eval(n, expr, out, sizeof out, left > 0 ? left : 1);
        if (rc == H_OK && strcmp(out, expected) == 0)
            return true;
        if (rc == H_EIO || now_ms() + pause >= deadline)
            break;
        sleep_ms(pause);
        pause = pause < 200 ? pause * 2 : 200;
    }
    h_err("on %s: %s did not become %s in %d ms; last: %s%s", h_node_name(n),
          expr, expected, timeout_ms, rc == H_OK ? "" : "(error) ", out);
    return false;
}

/* ---------------------------------------------------------------------- */
/* Teardown                                                                */

void h_cluster_stop(h_cluster_t *c)
{
    if (!c)
        return;
    live_remove(c);

    /* Stop all nodes together (EOF + SIGTERM), so teardown takes the
     * time of the slowest node rather than the sum. */
    size_t count = 0;
    for (h_node_t *n = c->nodes; n; n = n->next)
        count++;
    h_proc_t **procs = calloc(count + 1, sizeof *procs);
    size_t np = 0;
    for (h_node_t *n = c->nodes; n; n = n->next) {
        node_close_ctl(n);
        if (procs)
            procs[np++] = &n->proc;
        else
            h_node_stop(n);
    }
    if (procs)
        procs_stop(procs, np);
    free(procs);

    /* epmd last, so nodes never lose it while shutting down. */
    h_proc_t *ep = &c->epmd;
    procs_stop(&ep, 1);

    const char *keep = getenv("H_KEEP");
    if (keep && strcmp(keep, "1") == 0)
        fprintf(stderr, "h: kept %s\n", c->dir);
    else
        remove_tree(c->dir);

    while (c->nodes) {
        h_node_t *n = c->nodes;
        c->nodes = n->next;
        free(n->rbuf);
        free(n);
    }
    free(c->pids);
    free(c);
}
