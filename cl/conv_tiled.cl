/* GPU-shaped convolution: an implicit GEMM with local-memory tiles, work-groups of 64-256 items along the output positions and a small register tile per item, with the fused pre-activation and epilogue of cl/conv3d.cl. */

/* The product, for one convolution (host/ops/conv_tiled.c launches it):
 *     Y (M x P) = W (M x K) * im2col(x) (K x P)
 *   M = Co output channels; P = N*To*Ho*Wo output positions, batch items one
 *   after another (so a small spatial size still fills the device);
 *   K = Ci*kT*kH*kW, ordered tap-major, k = tap*Ci + ci. No im2col buffer:
 *   a work-group stages a CT_TM x CT_TK slice of W and a CT_TK x CT_TN slice
 *   of im2col(x), gathered on the fly, in local memory, then each work-item
 *   multiplies its CT_WM x CT_WN block of Y from there.
 *
 * Work-group (CT_TN/CT_WN, CT_TM/CT_WM). Lanes run along the output positions
 * everywhere it matters: for the im2col gather a work-item keeps one column
 * (position) and consecutive items take consecutive positions, so for a
 * stride-1 conv the items of a warp read consecutive input floats; an item's
 * columns of Y are tx, tx + NTX, ... so the stores of a warp are consecutive
 * too, and its reads of a B row in local memory hit consecutive banks. The
 * items of one row of the work-group read the same A values (a broadcast).
 * Both tiles are written and read along their rows, so no bank conflicts
 * arise and no padding of the local arrays is needed.
 *
 * The weight is read through strides, as in cl/conv3d.cl, so the same
 * kernel reads the plain layout, cn_conv_pack's packed one (blocks of R
 * output channels) and the flipped, transposed weight of a stride-1
 * transposed convolution:
 *   w[wbase + (m/R)*wsb + (m%R)*wsm + ci*wsc + kt*wst + kh*wsh + kw*wsw]
 *
 * Input coordinates of output o for tap k on an axis:
 *   convolution (flags without F_TRANS): i = o*s - p + k*d, padding outside [0, n);
 *   transposed gather (F_TRANS, any stride): i = (o + p - k*d) / s where that
 *   division is exact and lands inside [0, n), else the tap contributes zero
 *   (PyTorch ConvTranspose semantics; the weight then is (Ci, Co, k) read
 *   with positive strides). With stride s this multiplies s^3 zero taps in
 *   for each useful one; the host sends only strides above 1 here.
 *
 * Fast paths, each chosen per tile or per launch so the branch is uniform:
 * Ci % CT_TK == 0 (every K tile lies inside one tap: the tap and each
 * column's input offset are decided once per tile, not per element), and
 * tiles fully inside M x P (epilogue without bounds checks). Otherwise every
 * element is bounds-checked.
 *
 * Tuning macros (the fallbacks below; the host passes its set):
 *   CT_TM, CT_TN  tile of Y per work-group: output channels x positions (64 x 128)
 *   CT_TK         K depth of a staged slice (16)
 *   CT_WM, CT_WN  register tile per work-item (4 x 8: 32 accumulators)
 * Storage of x, w, res and y, float (0) or half (1) each: X_H, W_H, R_H, Y_H
 * (cl/storage.h). The local tiles, the accumulators and the epilogue are
 * float whatever the storage; a half y is rounded once at the end. bias,
 * pscale and pshift are always float (per channel, a few KiB).
 * Constraints (checked below): with G = (CT_TM/CT_WM)*(CT_TN/CT_WN) items,
 * G divisible by CT_TM and by CT_TN, and CT_TK*CT_TM, CT_TK*CT_TN by G. */

#ifndef CT_TM
#define CT_TM 64
#endif
#ifndef CT_TN
#define CT_TN 128
#endif
#ifndef CT_TK
#define CT_TK 16
#endif
#ifndef CT_WM
#define CT_WM 4
#endif
#ifndef CT_WN
#define CT_WN 8
#endif

#define NTX (CT_TN / CT_WN)
#define NTY (CT_TM / CT_WM)
#define WG (NTX * NTY)
#define A_PER (CT_TK * CT_TM / WG) /* A elements each item stages per slice */
#define B_PER (CT_TK * CT_TN / WG)

#if CT_TM % CT_WM || CT_TN % CT_WN || WG % CT_TM || WG % CT_TN || (CT_TK * CT_TM) % WG || \
    (CT_TK * CT_TN) % WG
#error "conv_tiled: tile sizes break the constraints listed at the top of cl/conv_tiled.cl"
#endif

/* flags: the bits of cl/conv_flags.h */

/* The im2col column a work-item gathers: where its output position's
 * window starts, and the batch item's first input channel. */
typedef struct col_info {
    int ok;          /* the position exists (p < P) */
    int bt, bh, bw;  /* o*s - p (convolution) or o + p (transposed), per axis */
    int xb;          /* offset of (n, xoff, 0, 0, 0) in x */
} col_info;

/* One input value of im2col(x): channel c of tap (kt, kh, kw) for column ci,
 * pre-activated, or 0 where the tap falls on padding (applied after the
 * pre-activation, as PyTorch pads the conv's own input). */
static inline float gather(const col_info *ci, const int c, const int kt, const int kh,
                           const int kw, const int T, const int H, const int W, const int sT,
                           const int sH, const int sW, const int dT, const int dH, const int dW,
                           const int flags, __global const CN_T(X_H) *x,
                           __global const float *pscale, __global const float *pshift)
{
    int it, ih, iw;
    if (flags & F_TRANS) {
        const int nt = ci->bt - kt * dT, nh = ci->bh - kh * dH, nw = ci->bw - kw * dW;
        if (nt < 0 || nh < 0 || nw < 0 || nt % sT || nh % sH || nw % sW)
            return 0.0f;
        it = nt / sT, ih = nh / sH, iw = nw / sW;
    } else {
        it = ci->bt + kt * dT, ih = ci->bh + kh * dH, iw = ci->bw + kw * dW;
        if (it < 0 || ih < 0 || iw < 0)
            return 0.0f;
    }
    if (!ci->ok || it >= T || ih >= H || iw >= W)
        return 0.0f;
    float v = CN_LD(X_H, x, ci->xb + c * (T * H * W) + (it * H + ih) * W + iw);
    if (flags & F_PSCALE)
        v *= pscale[c];
    if (flags & F_PSHIFT)
        v += pshift[c];
    if (flags & F_PRELU)
        v = fmax(v, 0.0f);
    return v;
}

/* global (ceil(P/CT_TN)*NTX, ceil(Co/CT_TM)*NTY, 1), local (NTX, NTY, 1). */
__kernel __attribute__((reqd_work_group_size(NTX, NTY, 1))) void conv_tiled(
    const int N, const int Ci, const int Co, const int Cx, const int xoff, const int Cy,
    const int yoff, const int T, const int H, const int W, const int To, const int Ho,
    const int Wo, const int kT, const int kH, const int kW, const int sT, const int sH,
    const int sW, const int pT, const int pH, const int pW, const int dT, const int dH,
    const int dW, __global const CN_T(X_H) *x, __global const CN_T(W_H) *w, const int wbase,
    const int R, const int wsb, const int wsm, const int wsc, const int wst, const int wsh,
    const int wsw, __global const float *bias, __global const float *pscale,
    __global const float *pshift, __global const CN_T(R_H) *res, const int Cr, const int roff,
    const int flags, const float alpha, __global CN_T(Y_H) *y)
{
    __local float As[CT_TK][CT_TM];
    __local float Bs[CT_TK][CT_TN];
    const int tx = get_local_id(0), ty = get_local_id(1), lid = ty * NTX + tx;
    /* group index with the global offset of a split launch (cn_launch_cost) */
    const int gx = get_group_id(0) + get_global_offset(0) / NTX;
    const int gy = get_group_id(1) + get_global_offset(1) / NTY;
    const int p0 = gx * CT_TN, m0 = gy * CT_TM;
    const int L = To * Ho * Wo, P = N * L, KS = kT * kH * kW, K = Ci * KS, HWk = kH * kW;
    const int trans = flags & F_TRANS;

    /* this item's im2col column: B element e = lid + j*WG has column
     * e % CT_TN = lid % CT_TN (WG is a multiple of CT_TN) and row e / CT_TN */
    const int bn = lid % CT_TN, bk0 = lid / CT_TN;
    col_info col;
    {
        const int p = p0 + bn;
        col.ok = p < P;
        const int pp = col.ok ? p : 0, n = pp / L, l = pp - n * L;
        const int to = l / (Ho * Wo), ho = l / Wo % Ho, wo = l % Wo;
        col.bt = trans ? to + pT : to * sT - pT;
        col.bh = trans ? ho + pH : ho * sH - pH;
        col.bw = trans ? wo + pW : wo * sW - pW;
        col.xb = (n * Cx + xoff) * (T * H * W);
    }
    /* this item's weight row: A element e has row e % CT_TM = lid % CT_TM */
    const int am = lid % CT_TM, ak0 = lid / CT_TM;
    const int mrow = m0 + am, mok = mrow < Co;
    const int wrow = mok ? wbase + (mrow / R) * wsb + (mrow % R) * wsm : 0;

    float acc[CT_WM][CT_WN];
#pragma unroll
    for (int i = 0; i < CT_WM; i++)
#pragma unroll
        for (int j = 0; j < CT_WN; j++)
            acc[i][j] = 0.0f;

    const int one_tap = Ci % CT_TK == 0; /* uniform: every slice inside one tap */
    for (int k0 = 0; k0 < K; k0 += CT_TK) {
        if (one_tap) {
            const int tap = k0 / Ci, c0 = k0 - tap * Ci;
            const int kt = tap / HWk, kh = tap / kW % kH, kw = tap % kW;
            const int woff = wrow + c0 * wsc + kt * wst + kh * wsh + kw * wsw;
#pragma unroll
            for (int j = 0; j < A_PER; j++) {
                const int kk = ak0 + j * (WG / CT_TM);
                As[kk][am] = mok ? CN_LD(W_H, w, woff + kk * wsc) : 0.0f;
            }
#pragma unroll
            for (int j = 0; j < B_PER; j++) {
                const int kk = bk0 + j * (WG / CT_TN);
                Bs[kk][bn] = gather(&col, c0 + kk, kt, kh, kw, T, H, W, sT, sH, sW, dT, dH, dW,
                                    flags, x, pscale, pshift);
            }
        } else {
#pragma unroll
            for (int j = 0; j < A_PER; j++) {
                const int kk = ak0 + j * (WG / CT_TM), k = k0 + kk;
                float v = 0.0f;
                if (mok && k < K) {
                    const int tap = k / Ci, c = k - tap * Ci;
                    const int kt = tap / HWk, kh = tap / kW % kH, kw = tap % kW;
                    v = CN_LD(W_H, w, wrow + c * wsc + kt * wst + kh * wsh + kw * wsw);
                }
                As[kk][am] = v;
            }
#pragma unroll
            for (int j = 0; j < B_PER; j++) {
                const int kk = bk0 + j * (WG / CT_TN), k = k0 + kk;
                float v = 0.0f;
                if (k < K) {
                    const int tap = k / Ci, c = k - tap * Ci;
                    v = gather(&col, c, tap / HWk, tap / kW % kH, tap % kW, T, H, W, sT, sH,
                               sW, dT, dH, dW, flags, x, pscale, pshift);
                }
                Bs[kk][bn] = v;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll 4
        for (int kk = 0; kk < CT_TK; kk++) {
            float a[CT_WM], b[CT_WN];
#pragma unroll
            for (int i = 0; i < CT_WM; i++)
                a[i] = As[kk][ty + i * NTY];
#pragma unroll
            for (int j = 0; j < CT_WN; j++)
                b[j] = Bs[kk][tx + j * NTX];
#pragma unroll
            for (int i = 0; i < CT_WM; i++)
#pragma unroll
                for (int j = 0; j < CT_WN; j++)
                    acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    /* y = relu?(alpha*(acc + bias) + res), as cl/conv3d.cl's epilogue */
    const int full = m0 + CT_TM <= Co && p0 + CT_TN <= P;
#pragma unroll
    for (int j = 0; j < CT_WN; j++) {
        const int p = p0 + tx + j * NTX;
        if (!full && p >= P)
            break;
        const int n = p / L, l = p - n * L;
#pragma unroll
        for (int i = 0; i < CT_WM; i++) {
            const int m = m0 + ty + i * NTY;
            if (!full && m >= Co)
                break;
            float v = acc[i][j];
            if (flags & F_BIAS)
                v += bias[m];
            v *= alpha;
            if (flags & F_RES)
                v += CN_LD(R_H, res, (n * Cr + roff + m) * L + l);
            if (flags & F_RELU)
                v = fmax(v, 0.0f);
            CN_ST(Y_H, y, (n * Cy + yoff + m) * L + l, v);
        }
    }
}
