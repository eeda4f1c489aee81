/* Convolution as an implicit GEMM (Co x Ci*kT*kH*kW times the on-the-fly im2col of x) with fused pre-activation and epilogue. */

/* Two kernels share one argument list (CONV_ARGS):
 *  conv_pw*:  1x1x1, stride 1, pad 0. Output positions are the flattened
 *             L = T*H*W, so the B operand is x itself (Ci x L, contiguous
 *             rows) and the kernel is a plain register-blocked GEMM.
 *  conv_row*: everything else. A work-item owns RM output channels x NR
 *             output rows (consecutive ho) x TW = VW*NV consecutive wo of one
 *             (n, to). For a tap (kt, kh, kw) the inputs of the TW outputs of
 *             one output row lie on one input row, so the im2col gather is a
 *             vector load per input channel (masked where the window crosses
 *             the zero padding); taps on a padding plane are skipped.
 * Suffix _pre: per-input-channel affine (+ReLU) applied to x before the zero
 * padding. Without it the inner loops carry no pre-activation code at all.
 *
 * The weight is addressed through strides, so the same kernels run a
 * stride-1 transposed convolution (transposed, flipped weight, negative
 * strides) without copying it, and conv_row a packed weight (cn_conv_pack):
 *   w[wbase + (m/R_RM)*wsb + (m%R_RM)*wsm + ci*wsc + kt*wst + kh*wsh + kw*wsw]
 * (conv_pw: w[wbase + m*wsm + ci*wsc]).
 *
 * Loops over the register block carry #pragma unroll, as in cl/gemm.cl: not
 * fully unrolled, PoCL keeps the accumulators in memory (measured: the S3D
 * 1x3x3/3x1x1 convs 1.9x faster with it and R_RM 16, host/ops/conv3d.c).
 *
 * No local memory: on the CPU device (PoCL) the caches already hold the
 * B panel that the work-items of one work-group share, and barriers would
 * split the kernel into loops that spill the accumulators.
 *
 * Tuning macros (the values in parentheses are this file's fallbacks; the host
 * passes the set it measured best, CONV_DEFAULT_OPTS in host/ops/conv3d.c):
 *   VW    vector width along the output positions: 4, 8 or 16 (16)
 *   P_RM  conv_pw output channels per work-item (16)
 *   P_NV  conv_pw vectors of VW positions per work-item (2)
 *   R_RM  conv_row output channels per work-item (16)
 *   R_NR  conv_row output rows per work-item (2)
 *   R_NV  conv_row vectors of VW positions per output row (1)          */

#ifndef VW
#define VW 16
#endif
#ifndef P_RM
#define P_RM 16
#endif
#ifndef P_NV
#define P_NV 2
#endif
#ifndef R_RM
#define R_RM 16
#endif
#ifndef R_NR
#define R_NR 2
#endif
#ifndef R_NV
#define R_NV 1
#endif

/* Storage of x, w, res and y, float (0) or half (1) each (cl/storage.h; the
 * host sets them from the tensors' dtypes): products and sums stay float,
 * a half y is the float result rounded once. bias, pscale and pshift are
 * always float. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define floatV CAT(float, VW)
#define intV CAT(int, VW)
#define vloadV CAT(vload, VW)
#define vstoreV CAT(vstore, VW)

#define P_TN (VW * P_NV)
#define R_TW (VW * R_NV)

/* flags: the bits of cl/conv_flags.h */

#define CONV_ARGS                                                                              \
    const int Ci, const int Co, const int Cx, const int xoff, const int Cy, const int yoff,   \
        const int T, const int H, const int W, const int To, const int Ho, const int Wo,       \
        const int kT, const int kH, const int kW, const int sT, const int sH, const int sW,    \
        const int pT, const int pH, const int pW, const int dT, const int dH, const int dW,    \
        __global const CN_T(X_H) *x, __global const CN_T(W_H) *w, const int wbase,             \
        const int wsm, const int wsc, const int wst, const int wsh, const int wsw,              \
        const int wsb, __global const float *bias, __global const float *pscale,               \
        __global const float *pshift, __global const CN_T(R_H) *res, const int Cr,             \
        const int roff, const int flags, const float alpha, __global CN_T(Y_H) *y

#define CONV_PASS                                                                         \
    Ci, Co, Cx, xoff, Cy, yoff, T, H, W, To, Ho, Wo, kT, kH, kW, sT, sH, sW, pT, pH, pW, dT, \
        dH, dW, x, w, wbase, wsm, wsc, wst, wsh, wsw, wsb, bias, pscale, pshift, res, Cr, roff, \
        flags, alpha, y

static inline floatV pre_act(floatV v, const int ci, const int flags, __global const float *pscale,
                      __global const float *pshift)
{
    if (flags & F_PSCALE)
        v *= pscale[ci];
    if (flags & F_PSHIFT)
        v += pshift[ci];
    if (flags & F_PRELU)
        v = fmax(v, (floatV)(0.0f));
    return v;
}

/* y = relu?(alpha*(acc + bias) + res) for `nval` (<= VW) consecutive outputs. */
static inline void epilogue(floatV v, const int m, const long yi, const long ri, const int nval,
                     const int flags, const float alpha, __global const float *bias,
                     __global const CN_T(R_H) *res, __global CN_T(Y_H) *y)
{
    if (flags & F_BIAS)
        v += bias[m];
    v *= alpha;
    if (nval == VW) {
        if (flags & F_RES)
            v += CN_LDN(R_H, VW, res, ri);
        if (flags & F_RELU)
            v = fmax(v, (floatV)(0.0f));
        CN_STN(Y_H, VW, y, yi, v);
    } else {
        float t[VW];
        vstoreV(v, 0, t);
        for (int l = 0; l < nval; l++) {
            float o = t[l];
            if (flags & F_RES)
                o += CN_LD(R_H, res, ri + l);
            if (flags & F_RELU)
                o = fmax(o, 0.0f);
            CN_ST(Y_H, y, yi + l, o);
        }
    }
}

/* ---------------------------------------------------------------- 1x1x1 */

static inline void pw_body(const int pre, CONV_ARGS)
{
    const int L = T * H * W;
    const int n = get_global_id(2);
    const int m0 = get_global_id(1) * P_RM;
    const int p0 = get_global_id(0) * P_TN;
    if (m0 >= Co || p0 >= L)
        return;
    __global const CN_T(X_H) *xb = x + ((long)n * Cx + xoff) * L + p0;
    __global const CN_T(W_H) *wr[P_RM];
    for (int i = 0; i < P_RM; i++) /* clamped rows compute garbage that is never stored */
        wr[i] = w + wbase + (long)min(m0 + i, Co - 1) * wsm;
    floatV acc[P_RM][P_NV];
#pragma unroll
    for (int i = 0; i < P_RM; i++)
#pragma unroll
        for (int j = 0; j < P_NV; j++)
            acc[i][j] = (floatV)(0.0f);
    const int nval = min(L - p0, P_TN);
    if (nval == P_TN) {
        for (int k = 0; k < Ci; k++) {
            floatV b[P_NV];
            for (int j = 0; j < P_NV; j++) {
                b[j] = CN_LDN(X_H, VW, xb, (long)k * L + j * VW);
                if (pre)
                    b[j] = pre_act(b[j], k, flags, pscale, pshift);
            }
#pragma unroll
            for (int i = 0; i < P_RM; i++) {
                floatV a = (floatV)(CN_LD(W_H, wr[i], k * wsc));
#pragma unroll
                for (int j = 0; j < P_NV; j++)
                    acc[i][j] = fma(a, b[j], acc[i][j]);
            }
        }
    } else {
        /* ragged end of the positions: clamp the loads, results past L are dropped */
        for (int k = 0; k < Ci; k++) {
            floatV b[P_NV];
            for (int j = 0; j < P_NV; j++) {
                float t[VW];
                for (int l = 0; l < VW; l++)
                    t[l] = CN_LD(X_H, xb, (long)k * L + min(j * VW + l, nval - 1));
                b[j] = vloadV(0, t);
                if (pre)
                    b[j] = pre_act(b[j], k, flags, pscale, pshift);
            }
#pragma unroll
            for (int i = 0; i < P_RM; i++) {
                floatV a = (floatV)(CN_LD(W_H, wr[i], k * wsc));
#pragma unroll
                for (int j = 0; j < P_NV; j++)
                    acc[i][j] = fma(a, b[j], acc[i][j]);
            }
        }
    }
    for (int i = 0; i < P_RM; i++) {
        const int m = m0 + i;
        if (m >= Co)
            break;
        const long yi = ((long)n * Cy + yoff + m) * L + p0;
        const long ri = ((long)n * Cr + roff + m) * L + p0;
        for (int j = 0; j < P_NV; j++) {
            const int nv = clamp(nval - j * VW, 0, VW);
            if (nv > 0)
                epilogue(acc[i][j], m, yi + j * VW, ri + j * VW, nv, flags, alpha, bias, res, y);
        }
    }
}

__kernel void conv_pw(CONV_ARGS) { pw_body(0, CONV_PASS); }
__kernel void conv_pw_pre(CONV_ARGS) { pw_body(1, CONV_PASS); }

/* --------------------------------------------------------------- general */

__constant int LANES[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* p[l*sW] for lanes l < VW. Stride 2 reads the 2*VW floats from p and keeps
 * the even ones (one float past the last one used). */
static inline floatV ld_strided(__global const CN_T(X_H) *p, const int sW)
{
    if (sW == 1)
        return CN_LDN(X_H, VW, p, 0);
    if (sW == 2) {
        floatV lo = CN_LDN(X_H, VW, p, 0), hi = CN_LDN(X_H, VW, p, VW);
        return (floatV)(lo.even, hi.even);
    }
    float t[VW];
    for (int l = 0; l < VW; l++)
        t[l] = CN_LD(X_H, p, l * sW);
    return vloadV(0, t);
}

/* The same lanes for an input row at any iw: each lane clamped into the row
 * (the caller masks the lanes that fell outside it). */
static inline floatV ld_clamped(__global const CN_T(X_H) *row, const int iw, const int W,
                         const int sW)
{
    float t[VW];
    for (int l = 0; l < VW; l++)
        t[l] = CN_LD(X_H, row, clamp(iw + l * sW, 0, W - 1));
    return vloadV(0, t);
}

/* Taps are the outer loops and input channels the inner one, so everything
 * that depends only on the tap (which input rows are padding, whether the
 * TW inputs of a row leave [0, W), the lane masks) is decided once per tap,
 * and the channel loop is loads and FMAs. A tap is one of three kinds:
 *   0  every row valid, all lanes inside the row: plain vector loads;
 *   1  some lanes or rows are padding, but the vector reads of every
 *      channel stay inside the channel window read:
 *      load, pre-activate, then zero the padding lanes (select);
 *   2  the read would leave x (first/last row of the tensor) or the stride
 *      is over 2: per-lane clamped loads, then the same zeroing. */
static inline void row_body(const int pre, CONV_ARGS)
{
    const int n = get_global_id(2);
    const int m0 = get_global_id(1) * R_RM;
    const int nwb = (Wo + R_TW - 1) / R_TW, nhb = (Ho + R_NR - 1) / R_NR;
    const int g0 = get_global_id(0);
    if (m0 >= Co || g0 >= To * nhb * nwb)
        return;
    /* With a temporal kernel, neighbouring work-groups take neighbouring
     * output planes so that the input planes they share are still cached. */
    const int tfast = flags & F_TFAST;
    const int to = tfast ? g0 % To : g0 / nwb / nhb;
    const int gs = tfast ? g0 / To : g0;
    const int wo0 = (gs % nwb) * R_TW;
    const int ho0 = (gs / nwb % nhb) * R_NR;
    const long HW = (long)H * W, THW = T * HW;
    /* A row's vector reads must stay inside the channel window being read
     * (the last channel read is ci = Ci-1): past it may lie the window this
     * launch writes (a dense block appending to the concatenation it reads),
     * and reading that, even into lanes masked off afterwards, is a race. */
    const long xboff = ((long)n * Cx + xoff) * THW;
    const long xhi = xboff + THW;
    /* wsb: distance between blocks of R_RM output channels, R_RM*wsm for a
     * plain layout; a packed one (cn_conv_pack) keeps a block's R_RM weights
     * of one (tap, ci) in one contiguous run (wsm 1, wsc R_RM) */
    __global const CN_T(W_H) *wr[R_RM];
    for (int i = 0; i < R_RM; i++)
        wr[i] = w + wbase + (long)(m0 / R_RM) * wsb + (long)min(i, Co - 1 - m0) * wsm;
    floatV acc[R_RM][R_NR][R_NV];
#pragma unroll
    for (int i = 0; i < R_RM; i++)
#pragma unroll
        for (int r = 0; r < R_NR; r++)
#pragma unroll
            for (int j = 0; j < R_NV; j++)
                acc[i][r][j] = (floatV)(0.0f);
    const intV lanes = vloadV(0, LANES) * sW;
    /* elements a row's vector reads span from its first input */
    const int ext = sW == 2 ? 2 * R_TW : (R_TW - 1) * sW + 1;
    const int it0 = to * sT - pT, iw0 = wo0 * sW - pW;
    for (int kt = 0; kt < kT; kt++) {
        const int it = it0 + kt * dT;
        if (it < 0 || it >= T)
            continue; /* a padding plane contributes nothing */
        for (int kh = 0; kh < kH; kh++) {
            long rowo[R_NR]; /* row start relative to x */
            int ok[R_NR], allok = 1;
            for (int r = 0; r < R_NR; r++) {
                const int ih = (ho0 + r) * sH - pH + kh * dH;
                ok[r] = ih >= 0 && ih < H && ho0 + r < Ho;
                allok &= ok[r];
                rowo[r] = xboff + it * HW + (long)(ok[r] ? ih : 0) * W;
            }
            for (int kw = 0; kw < kW; kw++) {
                const int iw = iw0 + kw * dW;
                const int tap = kt * wst + kh * wsh + kw * wsw;
                int kind = allok && iw >= 0 && iw + ext <= W ? 0 : 1;
                for (int r = 0; r < R_NR; r++)
                    if (kind == 1 && (sW > 2 || rowo[r] + iw < xboff || rowo[r] + iw + ext > xhi))
                        kind = 2;
                intV mask[R_NR][R_NV];
                for (int r = 0; r < R_NR; r++)
                    for (int j = 0; j < R_NV; j++) {
                        const intV id = iw + j * VW * sW + lanes;
                        mask[r][j] = (id >= 0 && id < W) & (intV)(ok[r] ? -1 : 0);
                    }
                __global const CN_T(X_H) *xp[R_NR];
                for (int r = 0; r < R_NR; r++)
                    xp[r] = x + rowo[r] + (kind == 2 ? 0 : iw);
                for (int ci = 0; ci < Ci; ci++) {
                    floatV b[R_NR][R_NV];
                    for (int r = 0; r < R_NR; r++)
                        for (int j = 0; j < R_NV; j++) {
                            __global const CN_T(X_H) *p = xp[r] + ci * THW;
                            floatV v = kind == 2 ? ld_clamped(p, iw + j * VW * sW, W, sW)
                                                 : ld_strided(p + j * VW * sW, sW);
                            if (pre)
                                v = pre_act(v, ci, flags, pscale, pshift);
                            b[r][j] = kind == 0 ? v : select((floatV)(0.0f), v, mask[r][j]);
                        }
#pragma unroll
                    for (int i = 0; i < R_RM; i++) {
                        const floatV a = (floatV)(CN_LD(W_H, wr[i], tap + ci * wsc));
#pragma unroll
                        for (int r = 0; r < R_NR; r++)
#pragma unroll
                            for (int j = 0; j < R_NV; j++)
                                acc[i][r][j] = fma(a, b[r][j], acc[i][r][j]);
                    }
                }
            }
        }
    }
    const long plane = (long)To * Ho * Wo;
    for (int i = 0; i < R_RM; i++) {
        const int m = m0 + i;
        if (m >= Co)
            break;
        for (int r = 0; r < R_NR; r++) {
            if (ho0 + r >= Ho)
                break;
            const long pos = ((long)to * Ho + ho0 + r) * Wo + wo0;
            const long yi = ((long)n * Cy + yoff + m) * plane + pos;
            const long ri = ((long)n * Cr + roff + m) * plane + pos;
            for (int j = 0; j < R_NV; j++) {
                const int nv = clamp(Wo - wo0 - j * VW, 0, VW);
                if (nv > 0)
                    epilogue(acc[i][r][j], m, yi + j * VW, ri + j * VW, nv, flags, alpha, bias,
                             res, y);
            }
        }
    }
}

__kernel void conv_row(CONV_ARGS) { row_body(0, CONV_PASS); }
__kernel void conv_row_pre(CONV_ARGS) { row_body(1, CONV_PASS); }

/* ------------------------------------------------ epilogue after a GEMM */

/* The pointwise convolution as a GEMM (host/ops/conv3d.c) leaves
 * alpha*conv (+ the in-place residual) in y's window; this adds alpha*bias
 * and applies the ReLU: y[n, yoff+m, l] for l < L, 16 per work-item.
 * global (ceil(L/16), Co, N). */
__kernel void conv_bias_act(const int L, const int Co, const int Cy, const int yoff,
                            const int flags, const float alpha, __global const float *bias,
                            __global CN_T(Y_H) *y)
{
    const int l0 = get_global_id(0) * 16, m = get_global_id(1), n = get_global_id(2);
    if (l0 >= L || m >= Co)
        return;
    __global CN_T(Y_H) *p = y + ((long)n * Cy + yoff + m) * L + l0;
    const float b = (flags & F_BIAS) ? alpha * bias[m] : 0.0f;
    if (l0 + 16 <= L) {
        float16 v = CN_LDN(Y_H, 16, p, 0) + b;
        if (flags & F_RELU)
            v = fmax(v, (float16)(0.0f));
        CN_STN(Y_H, 16, p, 0, v);
    } else {
        for (int l = 0; l < L - l0; l++) {
            float v = CN_LD(Y_H, p, l) + b;
            CN_ST(Y_H, p, l, (flags & F_RELU) ? fmax(v, 0.0f) : v);
        }
    }
}
