/* Streamed softmax attention with an online softmax, and the rank-one residual of the broadcast-key attention. */

/* Tiling of attention_quadratic (all overridable with -D; the host passes
 * ATT_EPT and ATT_TQ and reads the others back from its own defines):
 *   ATT_KB   keys per block. A block's scores live in local memory; the running
 *            max and sum are updated once per block. Lk need not be a multiple.
 *   ATT_TQ   query columns of a work-group along dimension 0.
 *   ATT_QPT  queries per work-item (rows ATT_TQ apart), so that each value
 *            loaded from v feeds ATT_QPT multiply-adds.
 *   ATT_TE   work-items sharing the same queries (work-group dimension 1):
 *            they split the block's keys to compute scores, then split the
 *            output channels to accumulate.
 *   ATT_EPT  output channels per work-item, ceil(Dv / ATT_TE). */
#ifndef ATT_KB
#define ATT_KB 32
#endif
#ifndef ATT_TQ
#define ATT_TQ 32
#endif
#ifndef ATT_QPT
#define ATT_QPT 2
#endif
#ifndef ATT_TE
#define ATT_TE 8
#endif
#ifndef ATT_EPT
#define ATT_EPT 32
#endif
#if ATT_KB % ATT_TE != 0
#error "ATT_KB must be a multiple of ATT_TE"
#endif
#define ATT_KPT (ATT_KB / ATT_TE)
#define ATT_QW (ATT_TQ * ATT_QPT)

/* Storage of each tensor argument, float (0) or half (1): cl/storage.h.
 * Scores, the running max and sum and the weighted sums are float whatever
 * the storage; a half output is rounded once, after the division. */

/* q (N, D, Lq), k (N, D, Lk), v (N, Dv, Lk), y (N, Dv, Lq); global size
 * (ceil(Lq / ATT_QPT), ATT_TE, N) with local size (ATT_TQ, ATT_TE, 1). Only
 * the ATT_KB x ATT_QW scores of the current block ever exist. */
__kernel void attention_quadratic(const int D, const int Dv, const int Lq, const int Lk,
                                  const float scale, __global const CN_T(Q_H) *q,
                                  __global const CN_T(K_H) *k, __global const CN_T(V_H) *v,
                                  __global CN_T(Y_H) *y)
{
    __local float sc[ATT_KB * ATT_QW];
    const int tq = get_local_id(0), te = get_local_id(1), n = get_global_id(2);
    /* the group's index over the whole range, also when the host launches
     * it in pieces with a global offset (cn_launch_cost) */
    const int l0 = (get_global_id(0) - tq) / ATT_TQ * ATT_QW + tq;
    q += (long)n * D * Lq;
    k += (long)n * D * Lk;
    v += (long)n * Dv * Lk;

    /* Query columns past Lq read a valid column (the last) so that every
     * work-item takes part in the barriers; their results are never stored. */
    int lc[ATT_QPT];
    for (int r = 0; r < ATT_QPT; r++)
        lc[r] = min(l0 + r * ATT_TQ, Lq - 1);

    float acc[ATT_QPT][ATT_EPT], m[ATT_QPT], s[ATT_QPT];
    for (int r = 0; r < ATT_QPT; r++) {
        m[r] = 0.0f;
        s[r] = 0.0f;
        for (int i = 0; i < ATT_EPT; i++)
            acc[r][i] = 0.0f;
    }

    for (int j0 = 0; j0 < Lk; j0 += ATT_KB) {
        const int nk = min(ATT_KB, Lk - j0);
        /* Scores for keys te, te + ATT_TE, ... of the block: d outermost so
         * each q element is read once per block. */
        float dot[ATT_QPT][ATT_KPT];
        for (int r = 0; r < ATT_QPT; r++)
            for (int i = 0; i < ATT_KPT; i++)
                dot[r][i] = 0.0f;
        for (int d = 0; d < D; d++) {
            __global const CN_T(K_H) *kd = k + (long)d * Lk + j0 + te;
            float kv[ATT_KPT];
            for (int i = 0; i < ATT_KPT; i++)
                kv[i] = te + i * ATT_TE < nk ? CN_LD(K_H, kd, i * ATT_TE) : 0.0f;
            for (int r = 0; r < ATT_QPT; r++) {
                const float qd = CN_LD(Q_H, q, (long)d * Lq + lc[r]);
                for (int i = 0; i < ATT_KPT; i++)
                    dot[r][i] = fma(qd, kv[i], dot[r][i]);
            }
        }
        /* The previous block's readers must be done before sc is overwritten. */
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int r = 0; r < ATT_QPT; r++)
            for (int i = 0; i < ATT_KPT; i++)
                sc[(te + i * ATT_TE) * ATT_QW + tq + r * ATT_TQ] = scale * dot[r][i];
        barrier(CLK_LOCAL_MEM_FENCE);

        /* Online softmax: rescale what was summed under the old max by
         * exp(old - new), so no exponent is ever positive and nothing
         * overflows whatever the scores' magnitude. Slots past nk hold
         * scores of missing keys and are never read. */
        float p[ATT_QPT];
        for (int r = 0; r < ATT_QPT; r++) {
            const int c = tq + r * ATT_TQ;
            float bm = sc[c];
            for (int kk = 1; kk < nk; kk++)
                bm = fmax(bm, sc[kk * ATT_QW + c]);
            /* The first block has nothing to rescale; testing j0 avoids
             * starting from -INFINITY and computing exp(-inf). */
            const float mn = j0 == 0 ? bm : fmax(m[r], bm);
            const float alpha = j0 == 0 ? 0.0f : exp(m[r] - mn);
            m[r] = mn;
            s[r] *= alpha;
            for (int i = 0; i < ATT_EPT; i++)
                acc[r][i] *= alpha;
        }
        for (int kk = 0; kk < nk; kk++) {
            for (int r = 0; r < ATT_QPT; r++) {
                p[r] = exp(sc[kk * ATT_QW + tq + r * ATT_TQ] - m[r]);
                s[r] += p[r];
            }
            __global const CN_T(V_H) *vj = v + j0 + kk;
            for (int i = 0; i < ATT_EPT; i++) {
                /* Channels past Dv re-read the last one; their sums are dropped. */
                const float vv = CN_LD(V_H, vj, (long)min(te + i * ATT_TE, Dv - 1) * Lk);
                for (int r = 0; r < ATT_QPT; r++)
                    acc[r][i] = fma(p[r], vv, acc[r][i]);
            }
        }
    }

    y += (long)n * Dv * Lq;
    for (int r = 0; r < ATT_QPT; r++) {
        const int l = l0 + r * ATT_TQ;
        if (l >= Lq)
            continue;
        const float inv = 1.0f / s[r];
        for (int i = 0; i < ATT_EPT; i++) {
            const int e = te + i * ATT_TE;
            if (e < Dv)
                CN_ST(Y_H, y, (long)e * Lq + l, acc[r][i] * inv);
        }
    }
}

/* y[n, c, l] = x[n, c, l] + s[n, l] * u[n, c] + b[c]; global size (L, C, N).
 * has_s / has_b select the optional terms (the buffers are then unused). y may
 * alias x: each element is read and written by the same work-item only. */
__kernel void rank1_residual(const int C, const int L, __global const CN_T(X_H) *x,
                             __global const CN_T(S_H) *s, const int has_s,
                             __global const CN_T(U_H) *u, __global const CN_T(B_H) *b,
                             const int has_b, __global CN_T(Y_H) *y)
{
    const int l = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (l >= L || c >= C)
        return;
    const long i = ((long)n * C + c) * L + l;
    const float sv = has_s ? CN_LD(S_H, s, (long)n * L + l) : 1.0f;
    const float bv = has_b ? CN_LD(B_H, b, c) : 0.0f;
    CN_ST(Y_H, y, i, CN_LD(X_H, x, i) + fma(sv, CN_LD(U_H, u, n * C + c), bv));
}
