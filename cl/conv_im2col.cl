/* Convolution as an explicit GEMM for small maps with deep K (CPC's 3x3x3 convs): im2col, col2im for transposed convolutions, and the epilogue after the product. */

/* host/ops/conv_im2col.c runs a convolution on a weight packed in one block
 * (cn_conv_pack with R = Co: Wk, K x Co, k = tap*Ci + c) as
 *     im2col_t:   Bt (np x K) = the input windows of positions p0 .. p0+np-1
 *     cn_gemm:    Ct (np x Co) = Bt * Wk
 *     conv_epi_t: y = relu?(alpha*(Ct^T + bias) + res)
 * on a plain (Co, Ci, kT, kH, kW) weight W (Co x K as stored, k = c*KS + tap) as
 *     im2col:     B (K x np);   cn_gemm: C (Co x np) = W * B;   conv_epi
 * and a transposed convolution (any stride) on its (Ci, Co*KS) weight as
 *     cn_gemm:    Zt[n] (T*H*W x Co*KS) = x[n]^T * W
 *     col2im_epi: y[o] = relu?(alpha*(sum of the Zt taps that land on o + bias) + res)
 * where the direct kernel (cl/conv3d.cl) would give each work-item a slice of
 * K thousands deep and leave cores idle on a map of a few hundred positions.
 * Positions along the product's rows (the packed form, Zt) measured faster
 * than along its columns on both CPU implementations at CPC's 168 x 256 x
 * 6912 (bench/README.md).
 *
 * Positions p run over N*To*Ho*Wo, batch items one after another; tap =
 * (kt*kH + kh)*kW + kw.
 * B, C and Z are float scratch; x, res and y have the storage macros of
 * cl/storage.h (X_H, R_H, Y_H); bias, pscale and pshift are float. */

/* flags: the bits of cl/conv_flags.h */

/* One input value of the window of position p (of N*To*Ho*Wo) for input
 * channel c and tap (kt, kh, kw): pre-activated, or 0 on the padding. */
static inline float window_at(const int p, const int c, const int kt, const int kh,
                              const int kw, const int Cx, const int xoff, const int T,
                              const int H, const int W, const int To, const int Ho, const int Wo,
                              const int sT, const int sH, const int sW, const int pT,
                              const int pH, const int pW, const int dT, const int dH,
                              const int dW, const int flags, __global const CN_T(X_H) *x,
                              __global const float *pscale, __global const float *pshift)
{
    const int L = To * Ho * Wo, n = p / L, l = p - n * L;
    const int to = l / (Ho * Wo), ho = l / Wo % Ho, wo = l % Wo;
    const int it = to * sT - pT + kt * dT, ih = ho * sH - pH + kh * dH, iw = wo * sW - pW + kw * dW;
    if (it < 0 || it >= T || ih < 0 || ih >= H || iw < 0 || iw >= W)
        return 0.0f;
    float v = CN_LD(X_H, x, (((long)n * Cx + xoff + c) * T + it) * H * W + (long)ih * W + iw);
    /* the pre-activation before the zero padding, as PyTorch pads the conv's input */
    if (flags & F_PSCALE)
        v *= pscale[c];
    if (flags & F_PSHIFT)
        v += pshift[c];
    if (flags & F_PRELU)
        v = fmax(v, 0.0f);
    return v;
}

#define WINDOW_ARGS                                                                          \
    const int Ci, const int Cx, const int xoff, const int T, const int H, const int W,       \
        const int To, const int Ho, const int Wo, const int kT, const int kH, const int kW,  \
        const int sT, const int sH, const int sW, const int pT, const int pH, const int pW,  \
        const int dT, const int dH, const int dW, const int p0, const int np,                \
        const int flags, __global const CN_T(X_H) *x, __global const float *pscale,         \
        __global const float *pshift
#define WINDOW_PASS(p, c)                                                                    \
    window_at(p, c, kt, kh, kw, Cx, xoff, T, H, W, To, Ho, Wo, sT, sH, sW, pT, pH, pW, dT, dH, \
              dW, flags, x, pscale, pshift)

/* Bt[j][k] for j < np and k = tap*Ci + c < Ci*KS: a work-item per (position,
 * tap) decides the window once and copies its Ci channels to one contiguous
 * run (an item per element spent more on index arithmetic than on the copy:
 * 20 ms for CPC's 168 x 6912 on PoCL). global (np, KS). */
__kernel void im2col_t(WINDOW_ARGS, __global float *Bt)
{
    const int j = get_global_id(0), tap = get_global_id(1);
    const int KS = kT * kH * kW, K = Ci * KS;
    if (j >= np || tap >= KS)
        return;
    const int kt = tap / (kH * kW), kh = tap / kW % kH, kw = tap % kW;
    const int L = To * Ho * Wo, p = p0 + j, n = p / L, l = p - n * L;
    const int to = l / (Ho * Wo), ho = l / Wo % Ho, wo = l % Wo;
    const int it = to * sT - pT + kt * dT, ih = ho * sH - pH + kh * dH, iw = wo * sW - pW + kw * dW;
    __global float *out = Bt + (long)j * K + (long)tap * Ci;
    if (it < 0 || it >= T || ih < 0 || ih >= H || iw < 0 || iw >= W) {
        for (int c = 0; c < Ci; c++)
            out[c] = 0.0f;
        return;
    }
    const long THW = (long)T * H * W;
    const long xi = ((long)n * Cx + xoff) * THW + ((long)it * H + ih) * W + iw;
    for (int c = 0; c < Ci; c++) {
        float v = CN_LD(X_H, x, xi + c * THW);
        if (flags & F_PSCALE)
            v *= pscale[c];
        if (flags & F_PSHIFT)
            v += pshift[c];
        if (flags & F_PRELU)
            v = fmax(v, 0.0f);
        out[c] = v;
    }
}

/* y[n, yoff+m, l] (of L positions) = relu?(alpha*(v + bias[m]) + res[n, roff+m, l]). */
static inline void store_out(float v, const int n, const int m, const int l, const int L,
                             const int Cy, const int yoff, const int Cr, const int roff,
                             const int flags, const float alpha, __global const float *bias,
                             __global const CN_T(R_H) *res, __global CN_T(Y_H) *y)
{
    if (flags & F_BIAS)
        v += bias[m];
    v *= alpha;
    if (flags & F_RES)
        v += CN_LD(R_H, res, ((long)n * Cr + roff + m) * L + l);
    if (flags & F_RELU)
        v = fmax(v, 0.0f);
    CN_ST(Y_H, y, ((long)n * Cy + yoff + m) * L + l, v);
}

/* y[n, yoff+m, l] for the np positions from p0, Ct (np x Co). global (np, Co). */
__kernel void conv_epi_t(const int Co, const int L, const int p0, const int np, const int Cy,
                         const int yoff, const int Cr, const int roff, const int flags,
                         const float alpha, __global const float *Ct, __global const float *bias,
                         __global const CN_T(R_H) *res, __global CN_T(Y_H) *y)
{
    const int j = get_global_id(0), m = get_global_id(1);
    if (j >= np || m >= Co)
        return;
    const int p = p0 + j, n = p / L;
    store_out(Ct[(long)j * Co + m], n, m, p - n * L, L, Cy, yoff, Cr, roff, flags, alpha, bias,
              res, y);
}

/* B[k][j] for k = c*KS + tap < Ci*KS and j < np. global (np, Ci*KS). */
__kernel void im2col(WINDOW_ARGS, __global float *B)
{
    const int j = get_global_id(0), k = get_global_id(1);
    const int KS = kT * kH * kW;
    if (j >= np || k >= Ci * KS)
        return;
    const int c = k / KS, tap = k - c * KS;
    const int kt = tap / (kH * kW), kh = tap / kW % kH, kw = tap % kW;
    B[(long)k * np + j] = WINDOW_PASS(p0 + j, c);
}

/* y[n, yoff+m, l] for the np positions from p0, C (Co x np). global (np, Co). */
__kernel void conv_epi(const int Co, const int L, const int p0, const int np, const int Cy,
                       const int yoff, const int Cr, const int roff, const int flags,
                       const float alpha, __global const float *C, __global const float *bias,
                       __global const CN_T(R_H) *res, __global CN_T(Y_H) *y)
{
    const int j = get_global_id(0), m = get_global_id(1);
    if (j >= np || m >= Co)
        return;
    const int p = p0 + j, n = p / L;
    store_out(C[(long)m * np + j], n, m, p - n * L, L, Cy, yoff, Cr, roff, flags, alpha, bias,
              res, y);
}

/* Transposed convolution's output from Zt (N, T*H*W, Co*KS: column m*KS +
 * tap of batch item n holds tap `tap` of output channel m at every input
 * position): input index
 * (o + p - k*d) / s along each axis where the division is exact and inside
 * the input. global (To*Ho*Wo, Co, N). */
__kernel void col2im_epi(const int Co, const int Cy, const int yoff, const int T, const int H,
                         const int W, const int To, const int Ho, const int Wo, const int kT,
                         const int kH, const int kW, const int sT, const int sH, const int sW,
                         const int pT, const int pH, const int pW, const int dT, const int dH,
                         const int dW, __global const float *Z,
                         __global const float *bias, __global const CN_T(R_H) *res,
                         const int Cr, const int roff, const int flags, const float alpha,
                         __global CN_T(Y_H) *y)
{
    const int o = get_global_id(0), m = get_global_id(1), n = get_global_id(2);
    const int L = To * Ho * Wo;
    if (o >= L || m >= Co)
        return;
    const int wo = o % Wo, ho = o / Wo % Ho, to = o / (Ho * Wo);
    const int KS = kT * kH * kW, THW = T * H * W;
    __global const float *zm = Z + (long)n * THW * Co * KS + m * KS;
    float acc = 0.0f;
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
                const int tap = (kt * kH + kh) * kW + kw;
                acc += zm[(long)(((nt / sT) * H + nh / sH) * W + nw / sW) * Co * KS + tap];
            }
        }
    }
    store_out(acc, n, m, o, L, Cy, yoff, Cr, roff, flags, alpha, bias, res, y);
}
