/* Interface between the op test runner (tests/test_ops.c) and the op families (tests/ops/<op>.c), each of which lists its cases. */
#ifndef CASPNET_OP_TEST_H
#define CASPNET_OP_TEST_H

#include <stdint.h>

#include "testutil.h"

/* One case: fn checks through TU_CHECK/TU_OK/tu_compare with arg (a table
 * row, or NULL). Each case gets its own generator, seeded from the family's
 * seed and the case name, so a case filtered out of its family draws the same
 * data as in a full run. A case must leave the context as it found it
 * (backend, tunings), since the next case shares it. */
typedef void (*op_case_fn)(cn_ctx *ctx, tu_rng *r, const void *arg);

/* A case that needs only the context (fixed inputs of its own: NaN, rejections, hand-checked values). */
typedef void (*op_plain_fn)(cn_ctx *ctx);

typedef struct op_case {
    char name[128];
    op_case_fn fn;
    const void *arg;
    op_plain_fn plain; /* instead of fn when set */
} op_case;

typedef struct op_cases {
    op_case *v;
    int n, cap;
} op_cases;

/* Appends a case named by the printf-style format. */
void op_add(op_cases *l, op_case_fn fn, const void *arg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Appends a case that takes only the context. */
void op_add_plain(op_cases *l, op_plain_fn fn, const char *name);

typedef struct op_family {
    const char *name; /* what `test_ops NAME` selects; CTest runs it as test_ops_NAME */
    uint64_t seed;
    void (*add_cases)(op_cases *l);
    void (*setup)(cn_ctx *ctx); /* NULL, or what every case of the family needs */
} op_family;

/* One per tests/ops/<op>.c; tests/test_ops.c lists them. */
extern const op_family op_family_attention, op_family_conv2d, op_family_conv3d,
    op_family_conv_transpose3d, op_family_eltwise, op_family_gemm, op_family_linear,
    op_family_mean, op_family_pool, op_family_resize, op_family_tuning;

#endif
