/* bif.c - the built-in functions every node answers, for the liveness
 * checks operators make with rpc:call and erpc:call:
 *
 *   erlang:node/0         this node's name
 *   erlang:nodes/0,1      the connected nodes: visible, hidden, connected,
 *                         this, known, or a list of those
 *   erlang:is_alive/0     true
 *   erlang:system_time/0,1  the time since the Epoch, in native units
 *                         (nanoseconds, as OTP on Linux) or the unit given
 *
 * They run without side effects and under the lock. A C function
 * registered under the same name is called instead (rpc.c). Bad
 * arguments fail with badarg, the stack naming the function and its
 * arguments as OTP's own BIFs do.
 */
#include "svc/rpc.h"

#include <string.h>
#include <time.h>

/* error:badarg in erlang:f(Args...). */
static int badarg(ei_x_buff *out, const char *f, const char *args,
                  int args_len)
{
    ei_x_encode_atom(out, "badarg");
    ei_x_encode_list_header(out, 1);
    ei_x_encode_tuple_header(out, 4);
    ei_x_encode_atom(out, "erlang");
    ei_x_encode_atom(out, f);
    ei_x_append_buf(out, args, args_len);
    ei_x_encode_empty_list(out);
    ei_x_encode_empty_list(out);
    return EN_RPC_ERROR;
}

/* ---- nodes/0,1 ------------------------------------------------------------ */

enum { N_VISIBLE = 1, N_HIDDEN = 2, N_THIS = 4 };

/* The kinds of node an atom of nodes/1 asks for, or 0 if none. */
static int node_kind(const char *atom)
{
    static const struct { const char *name; int kinds; } table[] = {
        {"visible", N_VISIBLE},
        {"hidden", N_HIDDEN},
        {"connected", N_VISIBLE | N_HIDDEN},
        {"this", N_THIS},
        {"known", N_VISIBLE | N_HIDDEN | N_THIS},
    };
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (strcmp(atom, table[k].name) == 0)
            return table[k].kinds;
    return 0;
}

/* The kinds nodes/1's argument at args[*i] asks for: an atom or a list
 * of them (perhaps empty); -1 if it is neither. */
static int node_kinds(const char *args, int *i)
{
    char atom[MAXATOMLEN_UTF8];
    int type, size, kinds = 0;

    if (ei_get_type(args, i, &type, &size) < 0)
        return -1;
    if (type == ERL_ATOM_EXT || type == ERL_SMALL_ATOM_EXT ||
        type == ERL_ATOM_UTF8_EXT || type == ERL_SMALL_ATOM_UTF8_EXT)
        return ei_decode_atom(args, i, atom) < 0 || !node_kind(atom)
                   ? -1
                   : node_kind(atom);
    if (ei_decode_list_header(args, i, &size) < 0)
        return -1;
    if (size == 0)
        return 0; /* [] */
    for (int k = 0; k < size; k++) {
        int kind;
        if (ei_decode_atom(args, i, atom) < 0 || !(kind = node_kind(atom)))
            return -1;
        kinds |= kind;
    }
    return ei_decode_list_header(args, i, &size) == 0 && size == 0 ? kinds
                                                                   : -1;
}

typedef struct {
    int kinds;
    int count;
    ei_x_buff *out; /* NULL while counting */
} node_list_t;

static void each_node(void *ud, const char *peer, int visible)
{
    node_list_t *l = ud;
    if (!(l->kinds & (visible ? N_VISIBLE : N_HIDDEN)))
        return;
    l->count++;
    if (l->out)
        en_encode_name(l->out, peer);
}

/* [Node] of the kinds asked for: this node first, then its peers. */
static int put_nodes(en_proc_t *p, int kinds, ei_x_buff *out)
{
    node_list_t l = {.kinds = kinds};

    en_net_each_peer(p->net, each_node, &l); /* count them */
    int this = (kinds & N_THIS) != 0;
    if (l.count + this > 0) {
        ei_x_encode_list_header(out, l.count + this);
        if (this)
            en_encode_name(out, p->core->name);
        l.out = out;
        en_net_each_peer(p->net, each_node, &l);
    }
    ei_x_encode_empty_list(out);
    return EN_RPC_RETURN;
}

/* ---- system_time/0,1 ------------------------------------------------------- */

/* Parts per second of a time unit atom, or 0. */
static long long unit_atom(const char *atom)
{
    static const struct { const char *name; long long per_second; } table[] = {
        {"second", 1}, {"seconds", 1},
        {"millisecond", 1000}, {"milli_seconds", 1000},
        {"microsecond", 1000000}, {"micro_seconds", 1000000},
        {"nanosecond", 1000000000}, {"nano_seconds", 1000000000},
        {"native", 1000000000}, {"perf_counter", 1000000000},
    };
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (strcmp(atom, table[k].name) == 0)
            return table[k].per_second;
    return 0;
}

/* Parts per second of the unit at args[*i], or 0 if it is none. */
static long long time_unit(const char *args, int *i)
{
    char atom[MAXATOMLEN_UTF8];
    long long n;
    int at = *i;

    if (ei_decode_atom(args, i, atom) == 0)
        return unit_atom(atom);
    *i = at;
    return ei_decode_longlong(args, i, &n) == 0 && n > 0 ? n : 0;
}

/* The time since the Epoch in units of 1/per_second s, rounded down as
 * erlang:system_time/1 does; -1 if it does not fit 64 bits. */
static int put_system_time(long long per_second, ei_x_buff *out)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    __int128 t = (__int128)ts.tv_sec * per_second +
                 (__int128)ts.tv_nsec * per_second / 1000000000;
    if (t > (__int128)INT64_MAX)
        return -1;
    ei_x_encode_longlong(out, (long long)t);
    return 0;
}

/* ---- the table ---------------------------------------------------------------- */

int en_bif_apply(en_proc_t *p, const char *m, const char *f, const char *args,
                 int args_len, int index, int arity, ei_x_buff *out)
{
    int i = index;

    if (strcmp(m, "erlang") != 0)
        return -1;
    if (strcmp(f, "node") == 0 && arity == 0) {
        en_encode_name(out, p->core->name);
        return EN_RPC_RETURN;
    }
    if (strcmp(f, "is_alive") == 0 && arity == 0) {
        ei_x_encode_atom(out, "true");
        return EN_RPC_RETURN;
    }
    if (strcmp(f, "nodes") == 0 && arity <= 1) {
        int kinds = arity == 0 ? N_VISIBLE : node_kinds(args, &i);
        return kinds >= 0 ? put_nodes(p, kinds, out)
                          : badarg(out, f, args, args_len);
    }
    if (strcmp(f, "system_time") == 0 && arity <= 1) {
        long long unit = arity == 0 ? 1000000000 : time_unit(args, &i);
        if (unit > 0 && put_system_time(unit, out) == 0)
            return EN_RPC_RETURN;
        return badarg(out, f, args, args_len);
    }
    return -1;
}
