/* Double-precision references for the strided-batched GEMM and the linear layer, written for clarity, not speed. */
#include "gemm_ref.h"

#include <math.h>

static int64_t nbatch(const cn_gemm_desc *d) { return d->batch > 0 ? d->batch : 1; }

static int64_t extent(int64_t rows, int64_t cols, int64_t ld, int64_t off, int64_t batch,
                      int64_t stride)
{
    if (rows == 0 || cols == 0)
        return 0;
    return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

int64_t ref_gemm_extent_a(const cn_gemm_desc *d)
{
    return extent(d->trans_a ? d->K : d->M, d->trans_a ? d->M : d->K, d->lda, d->off_a,
                  nbatch(d), d->stride_a);
}

int64_t ref_gemm_extent_b(const cn_gemm_desc *d)
{
    return extent(d->trans_b ? d->N : d->K, d->trans_b ? d->K : d->N, d->ldb, d->off_b,
                  nbatch(d), d->stride_b);
}

int64_t ref_gemm_extent_c(const cn_gemm_desc *d)
{
    return extent(d->M, d->N, d->ldc, d->off_c, nbatch(d), d->stride_c);
}

void ref_gemm(const cn_gemm_desc *d, const float *A, const float *B, const float *c0,
              int64_t c_len, double *out, double *mag)
{
    for (int64_t i = 0; i < c_len; i++) {
        out[i] = c0[i];
        if (mag)
            mag[i] = 0.0;
    }
    for (int64_t b = 0; b < nbatch(d); b++) {
        const float *a = A + d->off_a + b * d->stride_a;
        const float *bb = B + d->off_b + b * d->stride_b;
        for (int64_t m = 0; m < d->M; m++)
            for (int64_t n = 0; n < d->N; n++) {
                double s = 0.0, sa = 0.0;
                for (int64_t k = 0; k < d->K; k++) {
                    double x = d->trans_a ? a[k * d->lda + m] : a[m * d->lda + k];
                    double y = d->trans_b ? bb[n * d->ldb + k] : bb[k * d->ldb + n];
                    s += x * y;
                    sa += fabs(x * y);
                }
                int64_t ci = d->off_c + b * d->stride_c + m * d->ldc + n;
                double v = (double)d->alpha * s;
                if (d->beta != 0.0f)
                    v += (double)d->beta * c0[ci];
                out[ci] = v;
                if (mag)
                    mag[ci] = fabs((double)d->alpha) * sa;
            }
    }
}

void ref_linear(int64_t n, int64_t in, int64_t out, const float *x, const float *w,
                const float *b, int relu, double *y, double *mag)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0, sa = fabs(s);
            for (int64_t k = 0; k < in; k++) {
                s += (double)x[i * in + k] * w[o * in + k];
                sa += fabs((double)x[i * in + k] * w[o * in + k]);
            }
            y[i * out + o] = relu && s < 0.0 ? 0.0 : s;
            if (mag)
                mag[i * out + o] = sa;
        }
}
