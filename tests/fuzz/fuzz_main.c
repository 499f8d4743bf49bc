/* fuzz_main.c - runs a libFuzzer target without libFuzzer, for make check.
 *
 * Linked with one target's LLVMFuzzerTestOneInput() as the program
 * fuzz_NAME, it
 *   1. replays every file of the target's corpus (in name order), then
 *   2. runs a mutation loop from a fixed seed: each input is a corpus
 *      input (any one, or one picked by size) changed one to four times
 *      (bit flips, random bytes, inserted and deleted runs, copied
 *      chunks, "interesting" integers, small additions, splices with
 *      another corpus input, dictionary words, truncation), so a run is
 *      the same on every machine and a failure is reproducible from its
 *      seed and iteration number;
 *   3. says in one line which input failed, saves it, and exits non-zero
 *      on a crash: a signal (SIGSEGV, SIGABRT from the target's own
 *      checks, ...), an AddressSanitizer or UBSan report, an input that
 *      runs too long, or a leak that LeakSanitizer finds (checked every
 *      LEAK_WINDOW inputs; the window is named, not the input).
 *      The inputs run in a child process, which writes each one to memory
 *      it shares with the parent first; the parent waits, and names the
 *      input however the child ended (a sanitizer exits as it likes).
 *
 * There is no coverage feedback: this is a regression net that runs in
 * seconds. For real fuzzing, build the targets with libFuzzer (make fuzz,
 * see README.md).
 *
 * Usage: fuzz_NAME [-n ITERATIONS] [-s SEED] [-t SECONDS] [-d DICT]
 *                  [-o CRASH_DIR] [-w SAVE_DIR] [-v] [-x] [PATH...]
 *   PATH       corpus directories or files (default: the target's
 *              corpus, FUZZ_DIR/corpus/NAME). Given only files, it replays
 *              them and mutates nothing unless -n says so:
 *              `fuzz_ctrl crash-fuzz_ctrl-...` reproduces a crash.
 *   -n         mutated inputs to run (default: the target's
 *              fuzz_iterations, else 20000; or $ENODE_FUZZ_ITERATIONS)
 *   -s         the seed (default 1, or $ENODE_FUZZ_SEED)
 *   -t         stop mutating after this many seconds even if fewer inputs
 *              ran (default 10, or $ENODE_FUZZ_SECONDS; 0: no limit)
 *   -d         a libFuzzer-style dictionary (default FUZZ_DIR/fuzz_NAME.dict
 *              if there is one)
 *   -o         where crashing inputs are saved (default ., or
 *              $ENODE_FUZZ_CRASH_DIR)
 *   -w         save every mutated input there too (debugging)
 *   -v         say which corpus file runs
 *   -x         run in this process, not in a child (for a debugger)
 * Each input has FUZZ_INPUT_TIMEOUT seconds (10) before it counts as a
 * hang.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Where the corpora and dictionaries are: FUZZ_DIR/corpus/NAME and
 * FUZZ_DIR/fuzz_NAME.dict, NAME coming from the program's name. */
#ifndef FUZZ_DIR
#define FUZZ_DIR "tests/fuzz"
#endif
#define FUZZ_ITERATIONS 20000
#define FUZZ_SECONDS 10
#define FUZZ_INPUT_TIMEOUT 10
#define LEAK_WINDOW 1000
#define MAX_DICT 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A target may set its own number of mutated inputs (a slow one fewer). */
extern const unsigned long fuzz_iterations __attribute__((weak));

/* fuzz_NAME, from argv[0]. */
static char prog[64] = "fuzz";

/* LeakSanitizer's hook, when the program is built with it. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

/* ---- inputs -------------------------------------------------------------- */

typedef struct input {
    char *name;
    uint8_t *data;
    size_t len;
} input_t;

typedef struct inputs {
    input_t *v;
    size_t n, cap;
} inputs_t;

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("%s", "out of memory");
    return p;
}

static void add_input(inputs_t *in, const char *name, uint8_t *data,
                      size_t len)
{
    if (in->n == in->cap) {
        in->cap = in->cap ? 2 * in->cap : 64;
        in->v = xrealloc(in->v, in->cap * sizeof *in->v);
    }
    in->v[in->n].name = strdup(name);
    in->v[in->n].data = data;
    in->v[in->n].len = len;
    in->n++;
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open %s", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            buf = xrealloc(buf, cap);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f))
        die("cannot read %s", path);
    fclose(f);
    *len = n;
    return buf;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every regular file in a directory (sorted, no recursion). */
static void load_path(inputs_t *in, const char *path, int *only_files)
{
    struct stat st;
    if (stat(path, &st) < 0)
        die("cannot find %s", path);
    if (!S_ISDIR(st.st_mode)) {
        size_t len;
        uint8_t *data = read_whole(path, &len);
        add_input(in, path, data, len);
        return;
    }
    *only_files = 0;
    DIR *d = opendir(path);
    if (!d)
        die("cannot open directory %s", path);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        size_t plen = strlen(path) + strlen(e->d_name) + 2;
        names[n] = xrealloc(NULL, plen);
        snprintf(names[n], plen, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            size_t len;
            uint8_t *data = read_whole(names[i], &len);
            add_input(in, names[i], data, len);
        }
        free(names[i]);
    }
    free(names);
}

/* ---- dictionary (libFuzzer's format: one "word" per line, \xNN escapes) -- */

static input_t dict[MAX_DICT];
static size_t ndict;

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void load_dict(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open the dictionary %s", path);
    char line[1024];
    while (ndict < MAX_DICT && fgets(line, sizeof line, f)) {
        char *q = strchr(line, '"'), *end = strrchr(line, '"');
        if (line[0] == '#' || !q || end == q)
            continue;
        uint8_t *w = xrealloc(NULL, (size_t)(end - q));
        size_t n = 0;
        for (char *p = q + 1; p < end; p++) {
            if (*p == '\\' && p + 1 < end && p[1] == 'x' && p + 3 < end &&
                hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
                w[n++] = (uint8_t)(hexval(p[2]) * 16 + hexval(p[3]));
                p += 3;
            } else if (*p == '\\' && p + 1 < end) {
                w[n++] = (uint8_t)p[1];
                p++;
            } else {
                w[n++] = (uint8_t)*p;
            }
        }
        dict[ndict].name = NULL;
        dict[ndict].data = w;
        dict[ndict].len = n;
        ndict++;
    }
    fclose(f);
}

/* ---- the random numbers: splitmix64, the same everywhere ----------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A number in [0, n), n > 0. */
static size_t below(size_t n)
{
    return (size_t)(rnd() % n);
}

/* ---- mutations ----------------------------------------------------------- */

typedef struct mbuf {
    uint8_t *data;
    size_t len, max;
} mbuf_t;

static const uint64_t interesting[] = {
    0,          1,          2,          3,          4,
    7,          8,          16,         31,         32,
    64,         100,        127,        128,        255,
    256,        512,        1000,       1024,       4096,
    32767,      32768,      65535,      65536,      100663296,
    0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000ull,
    0x7fffffffffffffffull,  0x8000000000000000ull,  0xffffffffffffffffull,
};

static void insert_bytes(mbuf_t *b, size_t at, const uint8_t *p, size_t n)
{
    if (b->len + n > b->max)
        n = b->max - b->len;
    if (n == 0)
        return;
    memmove(b->data + at + n, b->data + at, b->len - at);
    memcpy(b->data + at, p, n);
    b->len += n;
}

static void erase_bytes(mbuf_t *b, size_t at, size_t n)
{
    if (at + n > b->len)
        n = b->len - at;
    memmove(b->data + at, b->data + at + n, b->len - at - n);
    b->len -= n;
}

/* A length for a run: mostly short, sometimes long. */
static size_t run_len(size_t limit)
{
    size_t n = below(8) == 0 ? 1 + below(256) : 1 + below(8);
    return n < limit ? n : limit;
}

static void put_int(mbuf_t *b, uint64_t v)
{
    static const size_t widths[] = {1, 2, 4, 8};
    size_t w = widths[below(4)];
    if (b->len < w)
        return;
    size_t at = below(b->len - w + 1);
    int big_endian = below(4) != 0; /* Erlang's wire is big-endian */
    for (size_t i = 0; i < w; i++) {
        size_t shift = 8 * (big_endian ? w - 1 - i : i);
        b->data[at + i] = (uint8_t)(v >> shift);
    }
}

static void mutate_once(mbuf_t *b, const inputs_t *corpus)
{
    uint8_t tmp[256];
    size_t at, n;
    switch (below(ndict ? 14 : 12)) {
    case 0: /* flip a bit */
        if (b->len)
            b->data[below(b->len)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* a random byte */
        if (b->len)
            b->data[below(b->len)] = (uint8_t)rnd();
        break;
    case 2: /* insert random bytes, or one byte repeated */
        n = run_len(sizeof tmp);
        if (below(2)) {
            for (size_t i = 0; i < n; i++)
                tmp[i] = (uint8_t)rnd();
        } else {
            memset(tmp, (int)(uint8_t)rnd(), n);
        }
        insert_bytes(b, below(b->len + 1), tmp, n);
        break;
    case 3: /* delete a run */
        if (b->len)
            at = below(b->len), erase_bytes(b, at, run_len(b->len - at));
        break;
    case 4: /* copy a chunk over another place */
        if (b->len >= 2) {
            size_t from = below(b->len), to = below(b->len);
            n = run_len(b->len - (from > to ? from : to));
            memmove(b->data + to, b->data + from, n);
        }
        break;
    case 5: /* duplicate a chunk */
        if (b->len) {
            size_t from = below(b->len);
            n = run_len(b->len - from < sizeof tmp ? b->len - from
                                                   : sizeof tmp);
            memcpy(tmp, b->data + from, n);
            insert_bytes(b, below(b->len + 1), tmp, n);
        }
        break;
    case 6: /* an interesting integer */
    case 7:
        put_int(b, interesting[below(sizeof interesting /
                                     sizeof interesting[0])]);
        break;
    case 8: /* add or subtract a little */
        if (b->len) {
            at = below(b->len);
            b->data[at] = (uint8_t)(b->data[at] + 1 + below(35) - 18);
        }
        break;
    case 9: { /* cross over: our prefix, another input's suffix */
        const input_t *o = &corpus->v[below(corpus->n)];
        size_t keep = below(b->len + 1), from = below(o->len + 1);
        b->len = keep;
        insert_bytes(b, keep, o->data + from, o->len - from);
        break;
    }
    case 10: { /* insert a chunk of another input */
        const input_t *o = &corpus->v[below(corpus->n)];
        if (o->len) {
            size_t from = below(o->len);
            insert_bytes(b, below(b->len + 1), o->data + from,
                         run_len(o->len - from));
        }
        break;
    }
    case 11: /* cut short */
        if (b->len)
            b->len = below(b->len);
        break;
    case 12: { /* insert a dictionary word */
        const input_t *w = &dict[below(ndict)];
        insert_bytes(b, below(b->len + 1), w->data, w->len);
        break;
    }
    default: { /* write a dictionary word over what is there */
        const input_t *w = &dict[below(ndict)];
        if (b->len >= w->len)
            memcpy(b->data + below(b->len - w->len + 1), w->data, w->len);
        break;
    }
    }
}

/* The input to mutate next: any one half the time, else one picked in
 * proportion to its size, so that a corpus of many small inputs found by
 * libFuzzer does not crowd out the few large seeds that reach deep.
 * weights[i] is the running sum of the sizes (+1) up to input i. */
static const input_t *pick(const inputs_t *corpus, const size_t *weights)
{
    if (below(2))
        return &corpus->v[below(corpus->n)];
    size_t w = below(weights[corpus->n - 1]), lo = 0, hi = corpus->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (weights[mid] > w)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &corpus->v[lo];
}

/* ---- running inputs in a child, and saying which one failed -------------- */

/* The inputs run in a child process; before each one it writes the input
 * here, in memory it shares with the parent. However the child dies (a
 * signal, a sanitizer's exit, a hang), the parent then knows the input. */
enum { ST_IDLE, ST_CORPUS, ST_MUTATED, ST_REPORTED };

typedef struct shared {
    volatile int state;
    size_t corpus_index;    /* ST_CORPUS */
    unsigned long iteration; /* ST_MUTATED */
    size_t len;
    uint8_t data[];
} shared_t;

static shared_t *shared;
static unsigned long long seed;

/* Run one input from an exact-size heap copy, so that ASan sees reads
 * past its end, as libFuzzer does. */
static void run_one(const uint8_t *data, size_t len)
{
    uint8_t *copy = xrealloc(NULL, len);
    if (len)
        memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

/* LeakSanitizer, when there is one: 0 if nothing leaked so far. */
static int leaked(void)
{
    return __lsan_do_recoverable_leak_check &&
           __lsan_do_recoverable_leak_check() != 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long env_num(const char *name, unsigned long long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static void save_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0)
        die("cannot write %s", path);
}

typedef struct run {
    inputs_t corpus;
    unsigned long long iterations;
    double seconds;
    const char *save_dir;
    size_t max_len;
    int verbose;
} run_t;

/* The child: the corpus, then the mutations. Exits 0 if all went well. */
static int child(const run_t *r)
{
    double start = now_s();
    for (size_t i = 0; i < r->corpus.n; i++) {
        if (r->verbose)
            fprintf(stderr, "%s: %s\n", prog, r->corpus.v[i].name);
        shared->corpus_index = i;
        shared->state = ST_CORPUS;
        alarm(FUZZ_INPUT_TIMEOUT);
        run_one(r->corpus.v[i].data, r->corpus.v[i].len);
        alarm(0);
    }
    shared->state = ST_IDLE;
    if (leaked()) {
        fprintf(stderr, "%s: FAILED: LeakSanitizer found leaks (above) "
                        "while the corpus ran\n", prog);
        shared->state = ST_REPORTED;
        return 1;
    }
    double replayed = now_s();

    rng_state = seed;
    mbuf_t b = {xrealloc(NULL, r->max_len), 0, r->max_len};
    size_t *weights = xrealloc(NULL, r->corpus.n * sizeof *weights);
    for (size_t i = 0, sum = 0; i < r->corpus.n; i++)
        weights[i] = sum += r->corpus.v[i].len + 1;
    unsigned long done = 0;
    int timed_out = 0;
    for (unsigned long i = 0; i < r->iterations; i++) {
        if (r->seconds > 0 && (i & 15) == 0 &&
            now_s() - replayed > r->seconds) {
            timed_out = 1;
            break;
        }
        const input_t *from = pick(&r->corpus, weights);
        b.len = from->len < r->max_len ? from->len : r->max_len;
        if (b.len)
            memcpy(b.data, from->data, b.len);
        for (size_t k = 1 + below(4); k > 0; k--)
            mutate_once(&b, &r->corpus);
        if (r->save_dir) {
            char path[700];
            snprintf(path, sizeof path, "%s/%s-s%llu-i%lu", r->save_dir, prog,
                     seed, i);
            save_file(path, b.data, b.len);
        }
        shared->iteration = i;
        shared->len = b.len;
        memcpy(shared->data, b.data, b.len);
        shared->state = ST_MUTATED;
        alarm(FUZZ_INPUT_TIMEOUT);
        run_one(b.data, b.len);
        alarm(0);
        shared->state = ST_IDLE;
        done++;
        if ((done % LEAK_WINDOW == 0 || done == r->iterations) && leaked()) {
            unsigned long first = done > LEAK_WINDOW ? done - LEAK_WINDOW : 0;
            fprintf(stderr,
                    "%s: FAILED: LeakSanitizer found leaks (above) after "
                    "mutated inputs %lu to %lu of seed %llu; to find the "
                    "input, save them with -w DIR -n %lu and run %s on "
                    "each file from %lu on\n",
                    prog, first, done - 1, seed, done, prog, first);
            shared->state = ST_REPORTED;
            return 1;
        }
    }
    free(b.data);
    free(weights);
    printf("%s: %zu corpus inputs in %.2f s, %lu mutated inputs (seed %llu)"
           " in %.2f s%s: no crash\n",
           prog, r->corpus.n, replayed - start, done, seed,
           now_s() - replayed, timed_out ? ", stopped by the time limit" : "");
    fflush(stdout);
    return 0;
}

/* The parent: wait for the child and say how it ended. */
static int supervise(pid_t pid, const run_t *r, const char *crash_dir)
{
    int status;
    char how[160];
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("%s", "waitpid failed");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(how, sizeof how,
                 "an input ran for over %d s (a hang?)", FUZZ_INPUT_TIMEOUT);
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "killed by signal %d (%s)%s",
                 WTERMSIG(status), strsignal(WTERMSIG(status)),
                 WTERMSIG(status) == SIGABRT
                     ? ": a check in the target, or a sanitizer report above"
                     : "");
    else
        snprintf(how, sizeof how,
                 "exit status %d (a sanitizer report above?)",
                 WEXITSTATUS(status));
    fflush(stdout);
    switch (shared->state) {
    case ST_REPORTED: /* the child said what failed */
        break;
    case ST_CORPUS:
        fprintf(stderr, "%s: FAILED: %s, on corpus file %s\n", prog, how,
                r->corpus.v[shared->corpus_index].name);
        break;
    case ST_MUTATED: {
        char path[700];
        snprintf(path, sizeof path, "%s/crash-%s-s%llu-i%lu", crash_dir, prog,
                 seed, shared->iteration);
        save_file(path, shared->data, shared->len);
        fprintf(stderr,
                "%s: FAILED: %s, on mutated input %lu of seed %llu (%zu "
                "bytes), saved as %s; run it again with: %s %s\n",
                prog, how, shared->iteration, seed, shared->len, path, prog,
                path);
        break;
    }
    default:
        fprintf(stderr, "%s: FAILED: %s, outside any one input (a leak?)\n",
                prog, how);
        break;
    }
    return 1;
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1
                                             : argv[0];
    if (strncmp(base, "lt-", 3) == 0) /* a libtool wrapper's program */
        base += 3;
    snprintf(prog, sizeof prog, "%s", base);
    const char *name = strncmp(prog, "fuzz_", 5) == 0 ? prog + 5 : prog;
    char default_corpus[600], default_dict[600], crash_dir[512] = ".";
    snprintf(default_corpus, sizeof default_corpus, "%s/corpus/%s", FUZZ_DIR,
             name);
    snprintf(default_dict, sizeof default_dict, "%s/%s.dict", FUZZ_DIR, prog);

    run_t r = {{0}, 0, 0, NULL, 4096, 0};
    r.iterations = env_num("ENODE_FUZZ_ITERATIONS",
                           &fuzz_iterations ? fuzz_iterations
                                            : FUZZ_ITERATIONS);
    r.seconds = (double)env_num("ENODE_FUZZ_SECONDS", FUZZ_SECONDS);
    seed = env_num("ENODE_FUZZ_SEED", 1);
    if (getenv("ENODE_FUZZ_CRASH_DIR"))
        snprintf(crash_dir, sizeof crash_dir, "%s",
                 getenv("ENODE_FUZZ_CRASH_DIR"));
    const char *dict_path = default_dict;
    int iterations_given = 0, in_process = 0, opt;
    while ((opt = getopt(argc, argv, "n:s:t:d:o:w:vx")) != -1) {
        switch (opt) {
        case 'n':
            r.iterations = strtoull(optarg, NULL, 0);
            iterations_given = 1;
            break;
        case 's':
            seed = strtoull(optarg, NULL, 0);
            break;
        case 't':
            r.seconds = strtod(optarg, NULL);
            break;
        case 'd':
            dict_path = optarg;
            break;
        case 'o':
            snprintf(crash_dir, sizeof crash_dir, "%s", optarg);
            break;
        case 'w':
            r.save_dir = optarg;
            break;
        case 'v':
            r.verbose = 1;
            break;
        case 'x':
            in_process = 1;
            break;
        default:
            fprintf(stderr,
                    "usage: %s [-n ITERATIONS] [-s SEED] [-t SECONDS] "
                    "[-d DICT] [-o CRASH_DIR] [-w SAVE_DIR] [-v] [-x] "
                    "[PATH...]\n",
                    argv[0]);
            return 2;
        }
    }

    int only_files = 1;
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            load_path(&r.corpus, argv[i], &only_files);
    } else {
        load_path(&r.corpus, default_corpus, &only_files);
    }
    if (only_files && !iterations_given)
        r.iterations = 0;
    if (dict_path != default_dict || access(dict_path, R_OK) == 0)
        load_dict(dict_path);
    if (r.corpus.n == 0) /* mutate from the empty input */
        add_input(&r.corpus, "(empty)", NULL, 0);
    for (size_t i = 0; i < r.corpus.n; i++)
        if (r.corpus.v[i].len + 1024 > r.max_len)
            r.max_len = r.corpus.v[i].len + 1024;

    shared = mmap(NULL, sizeof *shared + r.max_len, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        die("%s", "mmap failed");
    shared->state = ST_IDLE;
    int rc;
    if (in_process) { /* -x: for a debugger */
        rc = child(&r);
    } else {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            die("%s", "fork failed");
        if (pid == 0)
            _exit(child(&r));
        rc = supervise(pid, &r, crash_dir);
    }
    for (size_t i = 0; i < r.corpus.n; i++) {
        free(r.corpus.v[i].name);
        free(r.corpus.v[i].data);
    }
    free(r.corpus.v);
    for (size_t i = 0; i < ndict; i++)
        free(dict[i].data);
    munmap(shared, sizeof *shared + r.max_len);
    return rc;
}
