/* Max pooling over (T, H, W) in PyTorch's floor mode; padding is -inf, so it never wins. */

/* One work-item per output element of y (NC, To, Ho, Wo), NC = N*C flattened;
 * MaxPool2d runs here as T = To = kt = 1. in/out/k/s/p hold (T, H, W) in
 * .s012. The window is clipped to the input instead of reading padding: that
 * is exactly -inf padding, and PyTorch's p <= k/2 rule (checked on the host)
 * guarantees every clipped window still holds at least one input element. */
__kernel void maxpool3d(const int total, const int4 in, const int4 out, const int4 k,
                        const int4 s, const int4 p, __global const float *x,
                        __global float *y)
{
    int i = get_global_id(0);
    if (i >= total)
        return;
    int wo = i % out.s2, ho = (i / out.s2) % out.s1, to = (i / (out.s2 * out.s1)) % out.s0;
    int nc = i / (out.s2 * out.s1 * out.s0);
    int t0 = to * s.s0 - p.s0, h0 = ho * s.s1 - p.s1, w0 = wo * s.s2 - p.s2;
    int t1 = min(t0 + k.s0, in.s0), h1 = min(h0 + k.s1, in.s1), w1 = min(w0 + k.s2, in.s2);
    t0 = max(t0, 0), h0 = max(h0, 0), w0 = max(w0, 0);
    __global const float *xc = x + (long)nc * in.s0 * in.s1 * in.s2;
    float m = -INFINITY;
    for (int t = t0; t < t1; t++)
        for (int h = h0; h < h1; h++) {
            __global const float *row = xc + ((long)t * in.s1 + h) * in.s2;
            for (int w = w0; w < w1; w++) {
                float v = row[w];
                /* NaN propagates, as in PyTorch's max pooling */
                if (v > m || isnan(v))
                    m = v;
            }
        }
    y[i] = m;
}
