/* Device-side case runner shared by the gemm and tuning op families (tests/ops/helpers/gemm_case.c). */
#ifndef CASPNET_GEMM_CASE_H
#define CASPNET_GEMM_CASE_H

#include "testutil.h"

/* A strided-batched description: pad 0 packs the matrices tightly; pad 1
 * adds offsets, padded leading dimensions and gaps between batch items. */
cn_gemm_desc gemm_mk(int ta, int tb, int64_t M, int64_t N, int64_t K, int64_t batch, int pad,
                     float alpha, float beta);
/* One product on ctx's current backend and tuning against the double
 * reference; failures go to tu_failures, labelled with `what`. */
void gemm_run_case(cn_ctx *ctx, tu_rng *r, const cn_gemm_desc *d, const char *what);

#endif
