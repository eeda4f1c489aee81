/* Shared test helpers: seeded random data, guarded device outputs, comparison against double-precision references. */
#ifndef CASPNET_TESTUTIL_H
#define CASPNET_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

#include "ops.h"
#include "runtime.h"
#include "tensor.h"

/* Failures are counted, not fatal, so one run reports every broken case;
 * main() returns tu_finish(). */
extern int tu_failures;
extern int tu_checks;

#define TU_CHECK(cond, ...)                                              \
    do {                                                                 \
        tu_checks++;                                                     \
        if (!(cond)) {                                                   \
            tu_failures++;                                               \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                \
            fprintf(stderr, "\n");                                       \
        }                                                                \
    } while (0)

/* Asserts a status is CN_OK, printing the library's message otherwise. */
#define TU_OK(expr)                                                                   \
    do {                                                                              \
        int tu_st_ = (expr);                                                          \
        TU_CHECK(tu_st_ == CN_OK, "%s -> %s: %s", #expr, cn_status_name(tu_st_),      \
                 cn_last_error());                                                    \
    } while (0)

/* Asserts a call fails with `want` and leaves a non-empty message. */
#define TU_FAILS(want, expr)                                                          \
    do {                                                                              \
        cn_clear_error();                                                             \
        int tu_st_ = (expr);                                                          \
        TU_CHECK(tu_st_ == (want) && cn_last_error()[0] != '\0',                      \
                 "%s should fail with %s, got %s (%s)", #expr, cn_status_name(want),  \
                 cn_status_name(tu_st_), cn_last_error());                            \
    } while (0)

/* Deterministic generator (splitmix64): identical sequences on every machine. */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;
tu_rng tu_seed(uint64_t seed);
uint64_t tu_next(tu_rng *r);
double tu_uniform(tu_rng *r, double lo, double hi); /* [lo, hi) */
double tu_normal(tu_rng *r);
int tu_int(tu_rng *r, int lo, int hi);              /* [lo, hi] inclusive */
/* malloc'd array of n uniform floats in [lo, hi). */
float *tu_rand_array(tu_rng *r, int64_t n, double lo, double hi);

/* Creates the test context (CASPNET_DEVICE or the default device) and prints
 * which device it is; returns NULL after printing the error on failure. */
cn_ctx *tu_ctx(void);
cn_ctx *tu_ctx_opts(const cn_ctx_opts *o);

/* A device output with guard regions: the tensor views the middle of a larger
 * buffer whose every float starts as a NaN sentinel. tu_guard_check() then
 * proves the op wrote every output element (none left as the sentinel) and
 * nothing outside (guards intact). */
typedef struct tu_guarded {
    cn_tensor t;
    cl_mem parent;
    size_t pre, total; /* in floats */
} tu_guarded;
int tu_guarded_alloc(cn_ctx *ctx, tu_guarded *g, int ndim, const int64_t *shape);
/* Downloads the output into host (numel floats) and checks guards; returns the
 * number of guard or unwritten elements found (0 is good). */
int tu_guard_check(cn_ctx *ctx, tu_guarded *g, float *host, const char *what);
void tu_guarded_free(tu_guarded *g);

/* Compares got (float) against want (double): |got-want| <= atol + rtol*|want|
 * everywhere, no NaN/Inf. Prints the worst element and the max abs and rel
 * errors. Returns 1 when it passes (and counts a failure otherwise). */
int tu_compare(const char *what, const float *got, const double *want, int64_t n, double atol,
               double rtol);

/* Prints the summary line CTest logs and returns the exit code. */
int tu_finish(const char *name);

#endif
