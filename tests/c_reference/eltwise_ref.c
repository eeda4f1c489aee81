/* Plain-C double-precision references for the elementwise ops. */
#include "eltwise_ref.h"

#include <math.h>

void ref_axpby(int64_t n, double a, const float *x, double b, const float *z, double *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a * x[i] + (z ? b * z[i] : 0.0);
}

void ref_unary(int64_t n, int op, double shift, const float *x, double *y)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        double r = op == 0 ? (v > 0 ? v : 0) : op == 1 ? 0.5 * v * (1 + erf(v / sqrt(2.0)))
                                                      : 1 / (1 + exp(-v));
        y[i] = r + shift;
    }
}

void ref_broadcast_nc(int64_t nc, int64_t inner, const float *v, double *y)
{
    for (int64_t c = 0; c < nc; c++)
        for (int64_t s = 0; s < inner; s++)
            y[c * inner + s] = v[c];
}

void ref_copy_channels(int64_t n, int64_t cx, int64_t inner, int64_t cy, int64_t coff,
                       const float *x, double *y)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t c = 0; c < cx; c++)
            for (int64_t s = 0; s < inner; s++)
                y[(b * cy + coff + c) * inner + s] = x[(b * cx + c) * inner + s];
}
