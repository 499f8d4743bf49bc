/* fuzz_termtext.c - libFuzzer target for the Erlang term text reader.
 *
 * Build:  clang -g -fsanitize=fuzzer,address,undefined -Ilib \
 *             -I$EI/include tests/fuzz/fuzz_termtext.c lib/termtext.c \
 *             lib/buf.c $EI/lib/libei.a -lpthread -o fuzz_termtext
 * Run:    ./fuzz_termtext tests/fuzz/corpus/termtext
 *
 * Besides not crashing, the reader promises two things that are checked
 * here: a success yields ETF that ei can walk to its very end, and a
 * failure yields a message and a position inside the text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/termtext.h"

static void check_output(const ei_x_buff *x)
{
    int idx = 0, version, arity;
    if (ei_decode_version(x->buff, &idx, &version) < 0 ||
        ei_decode_list_header(x->buff, &idx, &arity) < 0)
        abort();
    for (int i = 0; i < arity; i++)
        if (ei_skip_term(x->buff, &idx) < 0)
            abort();
    if (arity > 0 && ei_skip_term(x->buff, &idx) < 0) /* the [] tail */
        abort();
    if (idx != x->index)
        abort();
}

static void check_error(const en_termtext_error_t *err, const uint8_t *data,
                        size_t size)
{
    int lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (err->msg[0] == 0 || err->line < 1 || err->line > lines ||
        err->column < 1 || (size_t)err->column > size + 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ei_x_buff x;
    en_termtext_error_t err;
    if (en_termtext_parse((const char *)data, size, &x, &err) == 0) {
        check_output(&x);
        ei_x_free(&x);
    } else {
        if (x.buff)
            abort();
        check_error(&err, data, size);
    }
    return 0;
}
