/* Transposed 3D convolution as a direct gather over the input taps that reach each output (general stride; stride 1 runs on cl/conv3d.cl). */

/* Tuning macro: TRM output channels per work-item (4); each work-item owns
 * one output position and reuses every input value it gathers TRM times. */
#ifndef TRM
#define TRM 4
#endif

/* Storage of x, w, res and y, float (0) or half (1): cl/storage.h; bias,
 * pscale and pshift are float. Sums and the epilogue are float. */

/* flags: the bits of cl/conv_flags.h */

/* One output position per work-item: the input index along an axis is
 * (o + p - k*d) / s when that division is exact and lands inside the input. */
__kernel void conv_transpose_gather(
    const int Ci, const int Co, const int Cx, const int xoff, const int Cy, const int yoff,
    const int T, const int H, const int W, const int To, const int Ho, const int Wo,
    const int kT, const int kH, const int kW, const int sT, const int sH, const int sW,
    const int pT, const int pH, const int pW, const int dT, const int dH, const int dW,
    __global const CN_T(X_H) *x, __global const CN_T(W_H) *w, __global const float *bias,
    __global const float *pscale, __global const float *pshift, __global const CN_T(R_H) *res,
    const int Cr, const int roff, const int flags, const float alpha, __global CN_T(Y_H) *y)
{
    const int pos = get_global_id(0), m0 = get_global_id(1) * TRM, n = get_global_id(2);
    const int L = To * Ho * Wo;
    if (pos >= L || m0 >= Co)
        return;
    const int wo = pos % Wo, ho = pos / Wo % Ho, to = pos / Wo / Ho;
    const int KS = kT * kH * kW;
    const long THW = (long)T * H * W;
    __global const CN_T(X_H) *xb = x + ((long)n * Cx + xoff) * THW;
    float acc[TRM];
    for (int i = 0; i < TRM; i++)
        acc[i] = 0.0f;
    for (int kt = 0; kt < kT; kt++) {
        const int nt = to + pT - kt * dT;
        if (nt < 0 || nt % sT != 0 || nt / sT >= T)
            continue;
        for (int kh = 0; kh < kH; kh++) {
            const int nh = ho + pH - kh * dH;
            if (nh < 0 || nh % sH != 0 || nh / sH >= H)
                continue;
            for (int kw = 0; kw < kW; kw++) {
                const int nw = wo + pW - kw * dW;
                if (nw < 0 || nw % sW != 0 || nw / sW >= W)
                    continue;
                const long xi = ((long)(nt / sT) * H + nh / sH) * W + nw / sW;
                const int tap = (kt * kH + kh) * kW + kw;
                for (int ci = 0; ci < Ci; ci++) {
                    float v = CN_LD(X_H, xb, ci * THW + xi);
                    if (flags & F_PSCALE)
                        v *= pscale[ci];
                    if (flags & F_PSHIFT)
                        v += pshift[ci];
                    if (flags & F_PRELU)
                        v = fmax(v, 0.0f);
                    __global const CN_T(W_H) *wc = w + ((long)ci * Co) * KS + tap;
                    for (int i = 0; i < TRM; i++)
                        acc[i] = fma(v, CN_LD(W_H, wc, (long)min(m0 + i, Co - 1) * KS), acc[i]);
                }
            }
        }
    }
    for (int i = 0; i < TRM && m0 + i < Co; i++) {
        const int m = m0 + i;
        float o = acc[i];
        if (flags & F_BIAS)
            o += bias[m];
        o *= alpha;
        if (flags & F_RES)
            o += CN_LD(R_H, res, ((long)n * Cr + roff + m) * L + pos);
        if (flags & F_RELU)
            o = fmax(o, 0.0f);
        CN_ST(Y_H, y, ((long)n * Cy + yoff + m) * L + pos, o);
    }
}
