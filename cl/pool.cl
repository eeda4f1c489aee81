/* Max pooling over (T, H, W) in PyTorch's floor mode; padding is -inf, so it never wins. */

/* Storage of x and y, float (0) or half (1): cl/storage.h. A max returns
 * one of its inputs, so half in and half out is exact. */

/* y (NC, To, Ho, Wo), NC = N*C flattened; MaxPool2d runs here as T = To =
 * kt = 1. in/out/k/s/p hold (T, H, W) in .s012. The window is clipped to the
 * input instead of reading padding: that is exactly -inf padding, and
 * PyTorch's p <= k/2 rule (checked on the host) guarantees every clipped
 * window still holds at least one input element.
 *
 * One work-item computes 16 consecutive outputs of one output row (global:
 * (ceil(Wo/16), To*Ho, NC)). With a W stride of 1 or 2, each tap column is
 * one vector load (stride 2: 32 floats, the even ones kept) whose lanes
 * outside the row are masked to -inf, wherever the loads stay inside x
 * (xlen elements); elsewhere each lane walks its own clipped window. */
__kernel void maxpool3d_rows(const int4 in, const int4 out, const int4 k, const int4 s,
                             const int4 p, const long xlen, __global const CN_T(X_H) *x,
                             __global CN_T(Y_H) *y)
{
    const int wo0 = get_global_id(0) * 16, orow = get_global_id(1), nc = get_global_id(2);
    if (wo0 >= out.s2 || orow >= out.s0 * out.s1)
        return;
    const int to = orow / out.s1, ho = orow % out.s1;
    int t0 = to * s.s0 - p.s0, h0 = ho * s.s1 - p.s1;
    const int t1 = min(t0 + k.s0, in.s0), h1 = min(h0 + k.s1, in.s1);
    t0 = max(t0, 0), h0 = max(h0, 0);
    const int iw0 = wo0 * s.s2 - p.s2;
    __global const CN_T(X_H) *xc = x + (long)nc * in.s0 * in.s1 * in.s2;
    /* elements a vector read spans from its first column, over all taps */
    const int span = (s.s2 == 2 ? 32 : 16) + k.s2 - 1;
    /* rows lie in increasing order in memory: the first and last read of the
     * window bound them all; columns outside the row are masked, not skipped */
    const long first = (long)nc * in.s0 * in.s1 * in.s2 + ((long)t0 * in.s1 + h0) * in.s2 + iw0;
    const long last = (long)nc * in.s0 * in.s1 * in.s2 + ((long)(t1 - 1) * in.s1 + h1 - 1) * in.s2 +
                      iw0 + span - 1;
    const int fast = (s.s2 == 1 || s.s2 == 2) && first >= 0 && last < xlen;
    float16 m = (float16)(-INFINITY);
    if (fast) {
        const int16 lanes = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) * s.s2;
        for (int t = t0; t < t1; t++)
            for (int h = h0; h < h1; h++) {
                __global const CN_T(X_H) *row = xc + ((long)t * in.s1 + h) * in.s2 + iw0;
                for (int kw = 0; kw < k.s2; kw++) {
                    float16 v = CN_LDN(X_H, 16, row, kw);
                    if (s.s2 == 2)
                        v = (float16)(v.even, CN_LDN(X_H, 16, row, kw + 16).even);
                    const int16 col = lanes + (iw0 + kw);
                    v = select((float16)(-INFINITY), v, (col >= 0) & (col < in.s2));
                    /* NaN propagates, as in PyTorch's max pooling */
                    m = select(m, v, isnan(v) | (v > m));
                }
            }
    } else {
        float t16[16];
        for (int l = 0; l < 16; l++) {
            const int w0 = iw0 + l * s.s2, w1 = min(w0 + k.s2, in.s2);
            float ml = -INFINITY;
            for (int t = t0; t < t1; t++)
                for (int h = h0; h < h1; h++) {
                    __global const CN_T(X_H) *row = xc + ((long)t * in.s1 + h) * in.s2;
                    for (int w = max(w0, 0); w < w1; w++) {
                        float v = CN_LD(X_H, row, w);
                        if (v > ml || isnan(v))
                            ml = v;
                    }
                }
            t16[l] = ml;
        }
        m = vload16(0, t16);
    }
    __global CN_T(Y_H) *yr = y + ((long)nc * out.s0 * out.s1 + orow) * out.s2 + wo0;
    if (wo0 + 16 <= out.s2) {
        CN_STN(Y_H, 16, yr, 0, m);
    } else {
        float t16[16];
        vstore16(m, 0, t16);
        for (int l = 0; l < out.s2 - wo0; l++)
            CN_ST(Y_H, yr, l, t16[l]);
    }
}
