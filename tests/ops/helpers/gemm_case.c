/* Device-side case runner shared by the gemm and tuning op families: random operands, a guarded C, the C reference with its rounding bound. */
#include "ops/helpers/gemm_case.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gemm_ref.h"
#include "runtime/half.h"

/* Tolerance. Inputs are uniform in [-1, 1]. A float32 sum of K products
 * makes K roundings, each at most u = 2^-24 times the partial sum, and a
 * partial sum is at most mag = |alpha| sum_k |a_k b_k| (the reference
 * reports it per element). Rounding errors of independent signs grow like
 * sqrt(K), so the error is about sqrt(K) u mag; we allow 4x that, plus a
 * few u of |beta c| and of the result. Any wrong, missing or doubled term
 * moves an element by |a_k b_k|, typically 1/4, far above this bound for the
 * sizes used here (K <= 3000: bound <= 4*55*6e-8*750 = 0.01). */
#define U32 5.96e-8

cn_gemm_desc gemm_mk(int ta, int tb, int64_t M, int64_t N, int64_t K, int64_t batch, int pad,
                     float alpha, float beta)
{
    const int64_t ra = ta ? K : M, ca = ta ? M : K, rb = tb ? N : K, cb = tb ? K : N;
    cn_gemm_desc d = {.trans_a = ta, .trans_b = tb, .M = M, .N = N, .K = K, .alpha = alpha,
                      .beta = beta, .batch = batch};
    d.lda = (ca > 1 ? ca : 1) + 3 * pad;
    d.ldb = (cb > 1 ? cb : 1) + 2 * pad;
    d.ldc = (N > 1 ? N : 1) + 5 * pad;
    d.off_a = 7 * pad, d.off_b = 5 * pad, d.off_c = 11 * pad;
    d.stride_a = ra * d.lda + 13 * pad;
    d.stride_b = rb * d.ldb + 2 * pad;
    d.stride_c = M * d.ldc + 17 * pad;
    return d;
}

/* n values of h as `dt` (a half operand is h rounded to half, which the
 * caller has done to h already so that the reference reads the same). */
static cl_mem upload(cn_ctx *ctx, const float *h, int64_t n, cn_dtype dt)
{
    cl_int err;
    const size_t cnt = (size_t)(n > 0 ? n : 1);
    uint16_t *hv = NULL;
    if (dt == CN_F16) {
        hv = calloc(cnt, sizeof *hv);
        TU_CHECK(hv != NULL, "out of host memory");
        if (!hv)
            return NULL;
        if (n > 0)
            cn_f32_to_f16_n(hv, h, (size_t)n);
    }
    cl_mem m = clCreateBuffer(cn_ctx_cl(ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                              cnt * cn_dtype_size(dt), hv ? (void *)hv : (void *)h, &err);
    TU_CHECK(err == CL_SUCCESS, "clCreateBuffer: %s", cn_cl_error_name(err));
    free(hv);
    return m;
}

/* One product on the current backend; C lives in a guarded buffer. When the
 * product covers C densely with beta 0, C starts as the NaN sentinel, which
 * proves every element is written and that C is not read; otherwise C
 * starts random and the reference says which elements must keep it. */
void gemm_run_case(cn_ctx *ctx, tu_rng *r, const cn_gemm_desc *d, const char *what)
{
    const int64_t na = ref_gemm_extent_a(d), nb = ref_gemm_extent_b(d);
    const int64_t nc = ref_gemm_extent_c(d), bt = d->batch > 0 ? d->batch : 1;
    const int dense = d->beta == 0.0f && d->off_c == 0 && d->ldc == d->N &&
                      (bt == 1 || d->stride_c == d->M * d->N);
    float *A = tu_rand_array(r, na, -1, 1), *B = tu_rand_array(r, nb, -1, 1);
    float *C0 = tu_rand_array(r, nc, -1, 1), *got = malloc((size_t)(nc + 1) * sizeof *got);
    double *want = malloc((size_t)(nc + 1) * sizeof *want);
    double *mag = malloc((size_t)(nc + 1) * sizeof *mag);
    tu_half_inputs(d->a_type, A, na);
    tu_half_inputs(d->b_type, B, nb);
    tu_half_inputs(d->c_type, C0, nc);
    cl_mem a = upload(ctx, A, na, d->a_type), b = upload(ctx, B, nb, d->b_type);
    tu_guarded g;
    TU_OK(tu_guarded_alloc_as(ctx, &g, d->c_type, 1, (int64_t[]){nc}));
    if (!dense && nc > 0)
        TU_OK(cn_tensor_upload(ctx, &g.t, C0));
    TU_OK(cn_gemm(ctx, d, a, (size_t)na * cn_dtype_size(d->a_type), b,
                  (size_t)nb * cn_dtype_size(d->b_type), g.t.buf,
                  (size_t)nc * cn_dtype_size(d->c_type)));
    char label[200];
    snprintf(label, sizeof label, "%s %c%c %lldx%lldx%lld b%lld%s a%g b%g%s%s%s", what,
             d->trans_a ? 'T' : 'N', d->trans_b ? 'T' : 'N', (long long)d->M, (long long)d->N,
             (long long)d->K, (long long)bt, d->off_c ? " strided" : "", d->alpha, d->beta,
             d->a_type == CN_F16 ? " A half" : "", d->b_type == CN_F16 ? " B half" : "",
             d->c_type == CN_F16 ? " C half" : "");
    tu_guard_check(ctx, &g, got, label);
    ref_gemm(d, A, B, C0, nc, want, mag);
    double maxmag = 0;
    for (int64_t i = 0; i < nc; i++)
        maxmag = mag[i] > maxmag ? mag[i] : maxmag;
    /* a half C adds its one rounding (TU_HALF_U relative, TU_HALF_ABS below
     * half's normal range); half A and B were rounded before the reference */
    const int hc = d->c_type == CN_F16;
    const double atol = 4.0 * sqrt((double)(d->K > 1 ? d->K : 1)) * U32 * maxmag +
                        4.0 * U32 * fabs(d->beta) + 1e-30 + (hc ? TU_HALF_ABS : 0);
    tu_compare(label, got, want, nc, atol, 4.0 * U32 + (hc ? TU_HALF_U : 0));
    tu_guarded_free(&g);
    clReleaseMemObject(a);
    clReleaseMemObject(b);
    free(A), free(B), free(C0), free(got), free(want), free(mag);
}

