/* Bilinear resize of the last two axes with PyTorch's align_corners=False arithmetic. */

/* The source coordinate must round exactly as PyTorch's float arithmetic
 * (scale*(dst+0.5) - 0.5, each step rounded); a fused multiply-add would move
 * it by an ulp, which at coordinate ~100 is a 1e-5 change in the weights. */
#pragma OPENCL FP_CONTRACT OFF

/* Storage of x and y, float (0) or half (1): cl/storage.h. The blend is
 * float either way; a half y is rounded once, after any accumulation. */

/* Source index and the weight of its upper neighbour along one axis; the
 * caller reads the upper neighbour at min(i0 + 1, n - 1). */
static int src_index(const int dst, const float scale, const int n, float *lambda)
{
    float src = scale * ((float)dst + 0.5f) - 0.5f;
    src = fmax(src, 0.0f); /* PyTorch clamps below at 0 for linear modes */
    int i0 = min((int)src, n - 1);
    *lambda = clamp(src - (float)i0, 0.0f, 1.0f);
    return i0;
}

/* One work-item per output element of y (L, Ho, Wo), L = product of the
 * leading axes. sh/sw are in/out ratios computed on the host in float, as
 * PyTorch does. accumulate = 1 adds the resized value to y. */
__kernel void resize_bilinear(const int total, const int Hi, const int Wi, const int Ho,
                              const int Wo, const float sh, const float sw, const int accumulate,
                              __global const CN_T(X_H) *x, __global CN_T(Y_H) *y)
{
    int i = get_global_id(0);
    if (i >= total)
        return;
    int wo = i % Wo, ho = (i / Wo) % Ho, l = i / (Wo * Ho);
    float lh, lw;
    int h0 = src_index(ho, sh, Hi, &lh), w0 = src_index(wo, sw, Wi, &lw);
    int h1 = min(h0 + 1, Hi - 1), w1 = min(w0 + 1, Wi - 1);
    __global const CN_T(X_H) *xp = x + (long)l * Hi * Wi;
    float v00 = CN_LD(X_H, xp, h0 * Wi + w0), v01 = CN_LD(X_H, xp, h0 * Wi + w1);
    float v10 = CN_LD(X_H, xp, h1 * Wi + w0), v11 = CN_LD(X_H, xp, h1 * Wi + w1);
    /* same association as PyTorch's CPU kernel */
    float v = (1.0f - lh) * ((1.0f - lw) * v00 + lw * v01) + lh * ((1.0f - lw) * v10 + lw * v11);
    CN_ST(Y_H, y, i, accumulate ? CN_LD(Y_H, y, i) + v : v);
}
