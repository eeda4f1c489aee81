/* The tuner's measurements of one model problem (host/ops/tuning_run.c): set-up, runs, checks, timing. */
#ifndef CASPNET_OPS_TUNING_RUN_H
#define CASPNET_OPS_TUNING_RUN_H

#include "ops/tuning.h"

#define TUNE_MAXPACK 6

/* A problem on the device: seeded random operands (host copies kept for the
 * double computation), y's first content y0 (a dense block's y is x), the
 * reference output and the last run's output, packed weights per block. */
typedef struct tune_inst {
    const cn_tune_problem *p;
    cn_dtype dt; /* storage of x, w, res and y (GEMM: A, B, C); b, ps, pt are float */
    cn_tensor x, w, b, ps, pt, res, y, y0; /* GEMM: x = A, w = B, y = C */
    float *hx, *hw, *hb, *hps, *hpt, *hres, *hy0;
    float *ref, *got;                      /* ny floats each */
    int64_t ny;
    double refmax;
    cn_tensor pk[TUNE_MAXPACK];
    int npk;
} tune_inst;

/* Allocates and uploads, the operands stored as dt (a half operand's host
 * copy is rounded to half, so the double computation reads what the device
 * does); on failure the caller still destroys. */
int tune_inst_create(cn_ctx *ctx, const cn_tune_problem *p, uint64_t seed, cn_dtype dt,
                     tune_inst *in);
void tune_inst_destroy(cn_ctx *ctx, tune_inst *in);
/* Enqueues the problem once under the context's current tuning. */
int tune_inst_run(cn_ctx *ctx, tune_inst *in);
/* From y0, runs and keeps the output as the reference, after checking it
 * (finite, nothing outside the output window touched, 96 sampled outputs
 * against a double computation). CN_OK, 1 when it is wrong (why says how),
 * or the failing status of the run. */
int tune_inst_reference(cn_ctx *ctx, tune_inst *in, char *why, size_t n);
/* From y0, runs and compares every element with the reference: CN_OK, 1
 * wrong, or a status; *seconds gets the run's device time (a first run:
 * cache-cold, so at least the timed runs' median, give or take noise). */
int tune_inst_check(cn_ctx *ctx, tune_inst *in, char *why, size_t n, double *seconds);
/* The median device time of `reps` runs (profiling events; the context must profile). */
int tune_inst_time(cn_ctx *ctx, tune_inst *in, int reps, double *median);

#endif
