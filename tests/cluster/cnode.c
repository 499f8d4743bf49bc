/* cnode.c - run C node programs in cluster tests. */
#include "cnode.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CNODES 64

struct h_cnode {
    pid_t pid;
    int out_fd;    /* its stdout */
    int exited;
    int status;
    char name[512];
    char banner[1024]; /* what it printed before the ready line */
    char log[1024];
};

static h_cnode_t *live[MAX_CNODES];
static int atexit_set;

static void stop_all(void)
{
    for (int i = 0; i < MAX_CNODES; i++)
        if (live[i])
            h_cnode_stop(live[i]);
}

static void track(h_cnode_t *n, int on)
{
    for (int i = 0; i < MAX_CNODES; i++) {
        if (on && !live[i]) {
            live[i] = n;
            return;
        }
        if (!on && live[i] == n) {
            live[i] = NULL;
            return;
        }
    }
}

const char *h_build_path(const char *rel, char *buf, size_t len)
{
    const char *b = getenv("ENODE_BUILDDIR");
    snprintf(buf, len, "%s/%s", b && *b ? b : ".", rel);
    return buf;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void exec_child(h_cluster_t *c, const char *const *argv, int out_w,
                       const char *log)
{
    char port[16];
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out_w, 1);
    if (fd >= 0)
        dup2(fd, 2);
    snprintf(port, sizeof port, "%d", h_cluster_epmd_port(c));
    setenv("ERL_EPMD_PORT", port, 1);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "h: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Read stdout until "ready <name>\n" or the deadline. */
static int wait_ready(h_cnode_t *n, int timeout_ms)
{
    char buf[1024];
    size_t have = 0;
    long until = now_ms() + timeout_ms;

    while (now_ms() < until && have < sizeof buf - 1) {
        struct pollfd p = {.fd = n->out_fd, .events = POLLIN};
        if (poll(&p, 1, (int)(until - now_ms())) <= 0)
            continue;
        ssize_t r = read(n->out_fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        buf[have] = '\0';
        char *line = strstr(buf, "ready ");
        char *nl = line ? strchr(line, '\n') : NULL;
        if (nl) {
            *nl = '\0';
            snprintf(n->name, sizeof n->name, "%s", line + 6);
            snprintf(n->banner, sizeof n->banner, "%.*s", (int)(line - buf),
                     buf);
            return 0;
        }
    }
    return -1;
}

static void print_log(const h_cnode_t *n)
{
    char line[512];
    FILE *f = fopen(n->log, "r");
    fprintf(stderr, "h: ---- %s\n", n->log);
    while (f && fgets(line, sizeof line, f))
        fputs(line, stderr);
    if (f)
        fclose(f);
}

h_cnode_t *h_cnode_start(h_cluster_t *c, const char *const *argv,
                         int timeout_ms)
{
    static int seq;
    int pipefd[2];
    h_cnode_t *n = calloc(1, sizeof *n);

    if (!n || pipe2(pipefd, O_CLOEXEC) < 0) {
        free(n);
        return NULL;
    }
    snprintf(n->log, sizeof n->log, "%s/cnode-%d-%d.log", h_cluster_dir(c),
             (int)getpid(), ++seq);
    n->pid = fork();
    if (n->pid == 0)
        exec_child(c, argv, pipefd[1], n->log);
    close(pipefd[1]);
    n->out_fd = pipefd[0];
    if (n->pid < 0) {
        close(n->out_fd);
        free(n);
        return NULL;
    }
    setpgid(n->pid, n->pid);
    if (!atexit_set) {
        atexit(stop_all);
        atexit_set = 1;
    }
    track(n, 1);
    if (wait_ready(n, timeout_ms) < 0) {
        fprintf(stderr, "h: %s did not print its ready line\n", argv[0]);
        h_cnode_kill(n);
        print_log(n);
        h_cnode_stop(n);
        return NULL;
    }
    return n;
}

const char *h_cnode_name(const h_cnode_t *n)
{
    return n->name;
}

const char *h_cnode_banner(const h_cnode_t *n)
{
    return n->banner;
}

pid_t h_cnode_pid(const h_cnode_t *n)
{
    return n->pid;
}

const char *h_cnode_log(const h_cnode_t *n)
{
    return n->log;
}

int h_cnode_wait_exit(h_cnode_t *n, int timeout_ms)
{
    long until = now_ms() + timeout_ms;

    while (!n->exited) {
        pid_t r = waitpid(n->pid, &n->status, WNOHANG);
        if (r == n->pid) {
            n->exited = 1;
            break;
        }
        if (now_ms() >= until)
            return -1;
        usleep(20000);
    }
    return WIFEXITED(n->status) ? WEXITSTATUS(n->status) : 128;
}

void h_cnode_kill(h_cnode_t *n)
{
    if (!n->exited)
        kill(-n->pid, SIGKILL);
}

void h_cnode_stop(h_cnode_t *n)
{
    if (!n)
        return;
    if (!n->exited) {
        kill(-n->pid, SIGTERM);
        if (h_cnode_wait_exit(n, 3000) < 0) {
            kill(-n->pid, SIGKILL);
            h_cnode_wait_exit(n, 3000);
        }
    }
    track(n, 0);
    close(n->out_fd);
    free(n);
}
