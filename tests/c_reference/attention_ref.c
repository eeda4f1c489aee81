/* Plain-C double-precision references for the attention ops, straight from the formulas (full score matrix). */
#include "attention_ref.h"

#include <math.h>
#include <stdlib.h>

static double phi(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))) + 0.2; }

void ref_attention_linear(int64_t n, int64_t d, int64_t dv, int64_t lq, int64_t lk,
                          const float *q, const float *k, const float *v, double scale, double *y,
                          double *mag)
{
    /* The reference forms the full lq x lk kernel matrix on purpose: it
     * follows the definition, not the associativity the op relies on. */
    double *a = malloc((size_t)(lq * lk) * sizeof *a);
    double *aa = malloc((size_t)(lq * lk) * sizeof *aa);
    for (int64_t b = 0; b < n; b++) {
        const float *qb = q + b * d * lq, *kb = k + b * d * lk, *vb = v + b * dv * lk;
        for (int64_t l = 0; l < lq; l++)
            for (int64_t j = 0; j < lk; j++) {
                double s = 0, sa = 0;
                for (int64_t c = 0; c < d; c++) {
                    double t = phi(qb[c * lq + l]) * phi(kb[c * lk + j]);
                    s += t;
                    sa += fabs(t);
                }
                a[l * lk + j] = s;
                aa[l * lk + j] = sa;
            }
        for (int64_t e = 0; e < dv; e++)
            for (int64_t l = 0; l < lq; l++) {
                double s = 0, sa = 0;
                for (int64_t j = 0; j < lk; j++) {
                    s += a[l * lk + j] * vb[e * lk + j];
                    sa += aa[l * lk + j] * fabs(vb[e * lk + j]);
                }
                y[(b * dv + e) * lq + l] = scale * s;
                if (mag)
                    mag[(b * dv + e) * lq + l] = fabs(scale) * sa;
            }
    }
    free(a);
    free(aa);
}

void ref_attention_quadratic(int64_t n, int64_t d, int64_t dv, int64_t lq, int64_t lk,
                             const float *q, const float *k, const float *v, double scale,
                             double *y, double *smax)
{
    double *sc = malloc((size_t)(lq * lk) * sizeof *sc);
    double big = 0;
    for (int64_t b = 0; b < n; b++) {
        const float *qb = q + b * d * lq, *kb = k + b * d * lk, *vb = v + b * dv * lk;
        for (int64_t l = 0; l < lq; l++) {
            double m = -HUGE_VAL;
            for (int64_t j = 0; j < lk; j++) {
                double s = 0, sa = 0;
                for (int64_t c = 0; c < d; c++) {
                    s += (double)qb[c * lq + l] * kb[c * lk + j];
                    sa += fabs((double)qb[c * lq + l] * kb[c * lk + j]);
                }
                sc[l * lk + j] = scale * s;
                big = fmax(big, fabs(scale) * sa);
                m = fmax(m, scale * s);
            }
            /* softmax over the row, stabilised by its max (exact in double) */
            double z = 0;
            for (int64_t j = 0; j < lk; j++) {
                sc[l * lk + j] = exp(sc[l * lk + j] - m);
                z += sc[l * lk + j];
            }
            for (int64_t e = 0; e < dv; e++) {
                double s = 0;
                for (int64_t j = 0; j < lk; j++)
                    s += sc[l * lk + j] * vb[e * lk + j];
                y[(b * dv + e) * lq + l] = s / z;
            }
        }
    }
    if (smax)
        *smax = big;
    free(sc);
}

void ref_rank1_residual(int64_t n, int64_t c, int64_t l, const float *x, const float *s,
                        const float *u, const float *b, double *y)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < l; p++) {
                int64_t o = (i * c + ch) * l + p;
                y[o] = (double)x[o] + (s ? (double)s[i * l + p] : 1.0) * u[i * c + ch] +
                       (b ? b[ch] : 0.0);
            }
}
