/* Shared test helpers: seeded random data, guarded device outputs, comparison against double-precision references, scratch directories and files. */
#ifndef CASPNET_TESTUTIL_H
#define CASPNET_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

#include "ops/ops.h"
#include "runtime/runtime.h"
#include "runtime/tensor.h"

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
    size_t pre, total; /* in elements of t.dtype */
} tu_guarded;
int tu_guarded_alloc(cn_ctx *ctx, tu_guarded *g, int ndim, const int64_t *shape);
/* The same for a tensor of `dtype`; a half one's sentinel is a signalling NaN
 * (0x7dbe), which no conversion to half produces. */
int tu_guarded_alloc_as(cn_ctx *ctx, tu_guarded *g, cn_dtype dtype, int ndim,
                        const int64_t *shape);
/* Downloads the output into host (numel floats, converted from half where the
 * tensor is) and checks guards; returns the number of guard or unwritten
 * elements found (0 is good). */
int tu_guard_check(cn_ctx *ctx, tu_guarded *g, float *host, const char *what);

/* Half storage in tolerances: a float stored as half moves by at most
 * TU_HALF_U of its magnitude (the unit roundoff 2^-11, rounding to nearest) in
 * half's normal range, and by at most TU_HALF_ABS (half the subnormal spacing
 * 2^-24) below 2^-14. A half case's tolerance is its float one plus these for
 * the output's one rounding; its inputs are rounded to half first
 * (tu_half_inputs) and the double reference runs on them, so they add
 * nothing. */
#define TU_HALF_U 0x1p-11
#define TU_HALF_ABS 0x1p-25
/* Rounds x[0..n) to half in place when dtype is CN_F16 (what the upload does),
 * so that the reference sees the values the kernel reads. */
void tu_half_inputs(cn_dtype dtype, float *x, int64_t n);
void tu_guarded_free(tu_guarded *g);

/* Compares got (float) against want (double): |got-want| <= atol + rtol*|want|
 * everywhere, no NaN/Inf. Prints the worst element and the max abs and rel
 * errors. Returns 1 when it passes (and counts a failure otherwise). */
int tu_compare(const char *what, const float *got, const double *want, int64_t n, double atol,
               double rtol);

/* Scratch files for file-format tests. Paths are caller-owned buffers; only
 * tu_read_file allocates. */

/* Creates a fresh directory "$TMPDIR/<tag>XXXXXX" (TMPDIR unset or empty:
 * /tmp) and writes its path into buf (n bytes). Returns 0, or -1 after
 * perror("mkdtemp"). Remove it with tu_tmpdir_remove. */
int tu_tmpdir_make(char *buf, size_t n, const char *tag);
/* Writes "dir/name" into out (cap bytes, truncating like snprintf). */
void tu_path(char *out, size_t cap, const char *dir, const char *name);
/* Creates or replaces path with the n bytes at p; a failed open or short
 * write counts as a test failure. Returns 1 when all n bytes were written. */
int tu_write_file(const char *path, const void *p, size_t n);
/* The whole file, malloc'd with one extra NUL byte after the contents (so it
 * can be searched as text); the caller frees it. Stores the byte count in *n.
 * Returns NULL (and leaves *n alone) when the file cannot be opened or read. */
unsigned char *tu_read_file(const char *path, size_t *n);
/* How many entries of dir have a name containing substring (0 if dir cannot
 * be opened). */
int tu_count_matching(const char *dir, const char *substring);
/* Removes every plain entry of dir (not recursive), then dir itself. */
void tu_tmpdir_remove(const char *dir);

/* Checks a call that was expected to fail: status st is `want`, the output
 * pointer was reset (out_null), and cn_last_error() names `path` and, unless
 * needle is NULL, contains needle. `what` labels the failure messages. */
void tu_check_failure(const char *what, int st, int want, int out_null, const char *path,
                      const char *needle);

/* 1 when /usr/bin/python3 can import numpy; otherwise prints
 * "note: ... <what> skipped" and returns 0. */
int tu_have_numpy(const char *what);

/* Prints the summary line CTest logs and returns the exit code. */
int tu_finish(const char *name);

#endif
