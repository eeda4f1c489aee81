/* Plain-C double-precision references for max pooling, axis means and bilinear resizing. */
#include "pool_ref.h"

#include <math.h>

int64_t ref_pool_out(int64_t in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

/* Walks the full window, padding included, and lets padding contribute -inf:
 * the literal definition, independent of the kernel's clipped windows. */
void ref_maxpool3d(int64_t nc, const int64_t in[3], const int k[3], const int s[3],
                   const int p[3], const float *x, double *y)
{
    int64_t out[3];
    for (int a = 0; a < 3; a++)
        out[a] = ref_pool_out(in[a], k[a], s[a], p[a]);
    int64_t i = 0;
    for (int64_t c = 0; c < nc; c++)
        for (int64_t ot = 0; ot < out[0]; ot++)
            for (int64_t oh = 0; oh < out[1]; oh++)
                for (int64_t ow = 0; ow < out[2]; ow++) {
                    double m = -INFINITY;
                    for (int dt = 0; dt < k[0]; dt++)
                        for (int dh = 0; dh < k[1]; dh++)
                            for (int dw = 0; dw < k[2]; dw++) {
                                int64_t t = ot * s[0] - p[0] + dt, h = oh * s[1] - p[1] + dh,
                                        w = ow * s[2] - p[2] + dw;
                                int inside = t >= 0 && t < in[0] && h >= 0 && h < in[1] &&
                                             w >= 0 && w < in[2];
                                double v = inside ? x[((c * in[0] + t) * in[1] + h) * in[2] + w]
                                                  : -INFINITY;
                                if (v > m)
                                    m = v;
                            }
                    y[i++] = m;
                }
}

void ref_mean(int64_t outer, int64_t R, int64_t inner, const float *x, double *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            long double s = 0; /* the reference's own rounding stays far below float's */
            for (int64_t r = 0; r < R; r++)
                s += x[(o * R + r) * inner + i];
            y[o * inner + i] = (double)(s / R);
        }
}

/* The source coordinate is computed with PyTorch's float operations, one
 * rounding per step (volatile stops the compiler fusing them), so the
 * reference and PyTorch pick identical neighbours and weights; the blend is
 * then done in double. */
static int64_t src_coord(int64_t dst, int64_t in, int64_t out, double *lambda)
{
    volatile float scale = (float)in / (float)out;
    volatile float a = (float)dst + 0.5f;
    volatile float b = scale * a;
    float src = b - 0.5f;
    if (src < 0)
        src = 0;
    int64_t i0 = (int64_t)floorf(src);
    if (i0 > in - 1)
        i0 = in - 1;
    double l = (double)(src - (float)i0);
    *lambda = l < 0 ? 0 : l > 1 ? 1 : l;
    return i0;
}

void ref_resize_bilinear(int64_t L, int64_t hi, int64_t wi, int64_t ho, int64_t wo,
                         const float *x, double *y, int accumulate)
{
    for (int64_t l = 0; l < L; l++)
        for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++) {
                double lh, lw;
                int64_t h0 = src_coord(oh, hi, ho, &lh), w0 = src_coord(ow, wi, wo, &lw);
                int64_t h1 = h0 + (h0 < hi - 1), w1 = w0 + (w0 < wi - 1);
                const float *xp = x + l * hi * wi;
                double v = (1 - lh) * ((1 - lw) * xp[h0 * wi + w0] + lw * xp[h0 * wi + w1]) +
                           lh * ((1 - lw) * xp[h1 * wi + w0] + lw * xp[h1 * wi + w1]);
                double *yp = y + (l * ho + oh) * wo + ow;
                *yp = accumulate ? *yp + v : v;
            }
}
