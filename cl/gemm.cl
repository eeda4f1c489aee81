/* Register-blocked GEMM for cn_gemm (host/ops/gemm.c): a tiled kernel for general products and skinny kernels for products with one small dimension. */

/* All kernels compute, for batch b = get_global_id(2),
 *     C_b = alpha * op(A_b) * op(B_b) + beta * C_b      (beta 0: C not read)
 * with row-major matrices, element offsets and batch strides as arguments.
 * The host checks that every index fits in an int.
 *
 * gemm: a work-item owns a GEMM_WM x (GEMM_VW*GEMM_NV) block of C held in
 *   registers. Two ways to feed it, chosen by GEMM_LOCAL:
 *   1  the work-group stages a GEMM_TK deep slice of A (TM x TK) and of B
 *      (TK x TN) in local memory, k-major, transposing on the way in, so
 *      the inner loop is the same for every transpose combination. For
 *      devices with real local memory (GPUs).
 *   0  work-items read A and B straight from global memory. On CPU devices
 *      (PoCL) local memory is ordinary memory and every barrier splits the
 *      kernel into loops over the work-items that spill the accumulators,
 *      while the caches already keep the B panel shared by a work-group.
 *   Blocks that lie fully inside C (always, when the sizes divide evenly)
 *   take a path without bounds checks; edge blocks clamp their reads and
 *   mask their writes.
 *
 * gemm_skinny_k / gemm_skinny_p: C (P x Q, element (p,q) at p*c_ps + q*c_qs)
 *   = U (P x K) * V (Q x K)^T for Q small (a GEMV with a few right-hand
 *   sides, e.g. a linear layer on a batch of 2). The host maps (M, N) or
 *   (N, M) onto (P, Q) so that Q is the small side. _k: U is contiguous
 *   along k, so a work-item forms GEMM_SK_RP dot products with vector loads
 *   and reduces them at the end; _p: U is contiguous along p, so a work-item
 *   accumulates GEMM_SK_PV vectors of GEMM_VW consecutive rows. Both read U
 *   once per 4 rows of V, so a GEMV is bound by memory bandwidth, as it must be.
 *
 * Loops over a register block carry #pragma unroll: unless they are fully
 * unrolled, PoCL keeps the accumulators in memory and runs 5x slower.
 * Compilers that do not know the pragma ignore it.
 *
 * Tuning macros (the host passes them; defaults measured on PoCL 3.1 on a
 * 2-core AVX-512 Xeon, see host/ops/gemm.c):
 *   GEMM_TA, GEMM_TB  0/1: op(A) = A^T, op(B) = B^T (one program per combination)
 *   GEMM_VW     vector width along n: 1, 2, 4, 8 or 16 (16)
 *   GEMM_NV     vectors per work-item along n (2)
 *   GEMM_WM     rows of C per work-item (8)
 *   GEMM_LOCAL  stage tiles in local memory (0)
 *   GEMM_TK     k depth of a local tile (32)
 *   GEMM_LM, GEMM_LN  work-group shape with GEMM_LOCAL: rows x column groups (8 x 8);
 *               tile TM = LM*WM rows by TN = LN*VW*NV columns
 *   GEMM_SK_RP  rows of U per work-item in gemm_skinny_k (4)
 *   GEMM_SK_PV  vectors of VW rows of U per work-item in gemm_skinny_p (4)
 */

#ifndef GEMM_TA
#define GEMM_TA 0
#endif
#ifndef GEMM_TB
#define GEMM_TB 0
#endif
#ifndef GEMM_VW
#define GEMM_VW 16
#endif
#ifndef GEMM_NV
#define GEMM_NV 2
#endif
#ifndef GEMM_WM
#define GEMM_WM 8
#endif
#ifndef GEMM_LOCAL
#define GEMM_LOCAL 0
#endif
#ifndef GEMM_TK
#define GEMM_TK 32
#endif
#ifndef GEMM_LM
#define GEMM_LM 8
#endif
#ifndef GEMM_LN
#define GEMM_LN 8
#endif
#ifndef GEMM_SK_RP
#define GEMM_SK_RP 4
#endif
#ifndef GEMM_SK_PV
#define GEMM_SK_PV 4
#endif

/* Storage of the matrices, float (0) or half (1) each (cl/storage.h; the
 * host sets them from the operands' dtypes): A_H, B_H, C_H for gemm, U_H,
 * V_H for the skinny kernels' U and V (A or B, whichever the host maps
 * there). Products and sums stay float; a half C is rounded once. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if GEMM_VW == 1
#define floatV float
#define vloadV(o, p) ((p)[o])
#define vstoreV(v, o, p) ((p)[o] = (v))
#define LDV(h, p, i) CN_LD(h, p, i)
#define STV(h, p, i, v) CN_ST(h, p, i, v)
#else
#define floatV CAT(float, GEMM_VW)
#define vloadV CAT(vload, GEMM_VW)
#define vstoreV CAT(vstore, GEMM_VW)
#define LDV(h, p, i) CN_LDN(h, GEMM_VW, p, i)
#define STV(h, p, i, v) CN_STN(h, GEMM_VW, p, i, v)
#endif

#define WN (GEMM_VW * GEMM_NV)
#define TM (GEMM_LM * GEMM_WM)
#define TN (GEMM_LN * WN)
#define SK_QMAX 4

/* Index of element (m, k) of op(A) and (k, n) of op(B), and the elements. */
#if GEMM_TA
#define A_IX(m, k) ((k) * lda + (m))
#else
#define A_IX(m, k) ((m) * lda + (k))
#endif
#if GEMM_TB
#define B_IX(k, n) ((n) * ldb + (k))
#else
#define B_IX(k, n) ((k) * ldb + (n))
#endif
#define A_AT(m, k) CN_LD(A_H, A, A_IX(m, k))
#define B_AT(k, n) CN_LD(B_H, B, B_IX(k, n))

/* VW elements spaced `stride` apart (stride 1 becomes one vector load), of
 * B (gather_b) or of the skinny kernels' V (gather_v). */
static inline floatV gather_b(__global const CN_T(B_H) *p, const int stride)
{
    if (stride == 1)
        return LDV(B_H, p, 0);
    float t[GEMM_VW];
    #pragma unroll
    for (int i = 0; i < GEMM_VW; i++)
        t[i] = CN_LD(B_H, p, i * stride);
    return vloadV(0, t);
}

static inline floatV gather_v(__global const CN_T(V_H) *p, const int stride)
{
    if (stride == 1)
        return LDV(V_H, p, 0);
    float t[GEMM_VW];
    #pragma unroll
    for (int i = 0; i < GEMM_VW; i++)
        t[i] = CN_LD(V_H, p, i * stride);
    return vloadV(0, t);
}

static inline float hsum(const floatV v)
{
    float t[GEMM_VW];
    vstoreV(v, 0, t);
    float s = 0.0f;
    #pragma unroll
    for (int i = 0; i < GEMM_VW; i++)
        s += t[i];
    return s;
}

/* C block = alpha*acc + beta*C for rows m0.., columns n0..; chk masks edges. */
static inline void store_block(const int chk, const int M, const int N, const float alpha,
                        const float beta, __global CN_T(C_H) *C, const int ldc, const int m0,
                        const int n0, floatV acc[GEMM_WM][GEMM_NV])
{
    #pragma unroll
    for (int i = 0; i < GEMM_WM; i++) {
        const int m = m0 + i;
        if (chk && m >= M)
            break;
        __global CN_T(C_H) *c = C + m * ldc;
        #pragma unroll
        for (int j = 0; j < GEMM_NV; j++) {
            const int n = n0 + j * GEMM_VW;
            if (!chk || n + GEMM_VW <= N) {
                floatV v = alpha * acc[i][j];
                if (beta != 0.0f)
                    v += beta * LDV(C_H, c, n);
                STV(C_H, c, n, v);
            } else {
                float t[GEMM_VW];
                vstoreV(acc[i][j], 0, t);
                /* Intel's CPU compiler cannot unroll this early-exit loop
                 * around vstore_half (and says so): half C leaves it rolled */
#if !C_H
                #pragma unroll
#endif
                for (int e = 0; e < GEMM_VW && n + e < N; e++)
                    CN_ST(C_H, c, n + e,
                          beta != 0.0f ? alpha * t[e] + beta * CN_LD(C_H, c, n + e) : alpha * t[e]);
            }
        }
    }
}

#define GEMM_ARGS                                                                            \
    const int M, const int N, const int K, const float alpha, const float beta,              \
        __global const CN_T(A_H) *A, const int offa, const int lda, const int sa,            \
        __global const CN_T(B_H) *B, const int offb, const int ldb, const int sb,            \
        __global CN_T(C_H) *C, const int offc, const int ldc, const int sc

#if !GEMM_LOCAL

/* One register block fed from global memory. On edge blocks (chk) rows and
 * columns past the end are clamped to the last valid one, so every load is
 * in bounds and the extra results are simply not stored. */
static inline void direct_block(const int chk, const int M, const int N, const int K,
                         const float alpha, const float beta, __global const CN_T(A_H) *A,
                         const int lda, __global const CN_T(B_H) *B, const int ldb,
                         __global CN_T(C_H) *C, const int ldc, const int m0, const int n0)
{
    floatV acc[GEMM_WM][GEMM_NV];
    #pragma unroll
    for (int i = 0; i < GEMM_WM; i++)
        #pragma unroll
        for (int j = 0; j < GEMM_NV; j++)
            acc[i][j] = (floatV)0.0f;
    int rows[GEMM_WM];
    #pragma unroll
    for (int i = 0; i < GEMM_WM; i++)
        rows[i] = chk ? min(m0 + i, M - 1) : m0 + i;
    for (int k = 0; k < K; k++) {
        floatV b[GEMM_NV];
        #pragma unroll
        for (int j = 0; j < GEMM_NV; j++) {
            const int n = n0 + j * GEMM_VW;
            if (!chk || n + GEMM_VW <= N) {
#if GEMM_TB
                b[j] = gather_b(B + B_IX(k, n), ldb);
#else
                b[j] = LDV(B_H, B, B_IX(k, n));
#endif
            } else {
                float t[GEMM_VW];
                #pragma unroll
                for (int e = 0; e < GEMM_VW; e++)
                    t[e] = B_AT(k, min(n + e, N - 1));
                b[j] = vloadV(0, t);
            }
        }
        #pragma unroll
        for (int i = 0; i < GEMM_WM; i++) {
            const floatV a = (floatV)A_AT(rows[i], k);
            #pragma unroll
            for (int j = 0; j < GEMM_NV; j++)
                acc[i][j] += a * b[j];
        }
    }
    store_block(chk, M, N, alpha, beta, C, ldc, m0, n0, acc);
}

/* NDRange: (ceil(N/WN), ceil(M/WM), batch); any local size. */
__kernel void gemm(GEMM_ARGS)
{
    const int bt = get_global_id(2);
    const int n0 = get_global_id(0) * WN, m0 = get_global_id(1) * GEMM_WM;
    if (n0 >= N || m0 >= M)
        return;
    A += offa + bt * sa;
    B += offb + bt * sb;
    C += offc + bt * sc;
    if (m0 + GEMM_WM <= M && n0 + WN <= N)
        direct_block(0, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc, m0, n0);
    else
        direct_block(1, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc, m0, n0);
}

#else /* GEMM_LOCAL */

/* Local rows are one float longer than the tile: a copy that walks along k
 * (A not transposed, B transposed) stores with a stride of a row, which at
 * TM or TN = 64 floats would put every work-item of a warp on one bank;
 * with TM+1 or TN+1 consecutive work-items land on consecutive banks. */
#define TMP (TM + 1)
#define TNP (TN + 1)

/* Copies op(A)[mb.., k0..] into As[kk*TMP + mm] and op(B)[k0.., nb..] into
 * Bs[kk*TNP + nn]; with chk, elements past M, N or K become 0 so that the
 * product loop can always run the full tile. The loop order follows the
 * stored layout so that neighbouring work-items read neighbouring floats.
 * always_inline: PoCL 3.1 (LLVM 15) miscompiled this helper when it was
 * static but not inlined (half A and B, tiles 67x129x33: every element
 * wrong; tests/ops/gemm.c "half/local"). */
static inline __attribute__((always_inline)) void load_tiles(const int chk, const int M, const int N, const int K,
                       __global const CN_T(A_H) *A, const int lda, __global const CN_T(B_H) *B,
                       const int ldb, const int mb, const int nb, const int k0,
                       __local float *As, __local float *Bs)
{
    const int lid = get_local_id(1) * GEMM_LN + get_local_id(0);
    const int nth = GEMM_LM * GEMM_LN;
    for (int e = lid; e < TM * GEMM_TK; e += nth) {
#if GEMM_TA
        const int mm = e % TM, kk = e / TM;
#else
        const int kk = e % GEMM_TK, mm = e / GEMM_TK;
#endif
        const int m = mb + mm, k = k0 + kk;
        As[kk * TMP + mm] = (!chk || (m < M && k < K)) ? A_AT(m, k) : 0.0f;
    }
    for (int e = lid; e < TN * GEMM_TK; e += nth) {
#if GEMM_TB
        const int kk = e % GEMM_TK, nn = e / GEMM_TK;
#else
        const int nn = e % TN, kk = e / TN;
#endif
        const int n = nb + nn, k = k0 + kk;
        Bs[kk * TNP + nn] = (!chk || (n < N && k < K)) ? B_AT(k, n) : 0.0f;
    }
}

/* NDRange: (ceil(N/TN)*LN, ceil(M/TM)*LM, batch), local (LN, LM, 1). */
__kernel __attribute__((reqd_work_group_size(GEMM_LN, GEMM_LM, 1))) void gemm(GEMM_ARGS)
{
    __local float As[GEMM_TK * TMP];
    __local float Bs[GEMM_TK * TNP];
    const int bt = get_global_id(2);
    const int tx = get_local_id(0), ty = get_local_id(1);
    /* group indices from the global ids, so that a launch in pieces with a
     * global offset (cn_launch_cost) computes the same tiles */
    const int mb = (get_global_id(1) - ty) / GEMM_LM * TM;
    const int nb = (get_global_id(0) - tx) / GEMM_LN * TN;
    A += offa + bt * sa;
    B += offb + bt * sb;
    C += offc + bt * sc;
    const int inside = mb + TM <= M && nb + TN <= N; /* same for the whole group */
    floatV acc[GEMM_WM][GEMM_NV];
    #pragma unroll
    for (int i = 0; i < GEMM_WM; i++)
        #pragma unroll
        for (int j = 0; j < GEMM_NV; j++)
            acc[i][j] = (floatV)0.0f;
    for (int k0 = 0; k0 < K; k0 += GEMM_TK) {
        if (inside && k0 + GEMM_TK <= K)
            load_tiles(0, M, N, K, A, lda, B, ldb, mb, nb, k0, As, Bs);
        else
            load_tiles(1, M, N, K, A, lda, B, ldb, mb, nb, k0, As, Bs);
        barrier(CLK_LOCAL_MEM_FENCE);
        __local const float *ap = As + ty * GEMM_WM;
        __local const float *bp = Bs + tx * WN;
        for (int kk = 0; kk < GEMM_TK; kk++) {
            floatV b[GEMM_NV];
            #pragma unroll
            for (int j = 0; j < GEMM_NV; j++)
                b[j] = vloadV(0, bp + kk * TNP + j * GEMM_VW);
            #pragma unroll
            for (int i = 0; i < GEMM_WM; i++) {
                const floatV a = (floatV)ap[kk * TMP + i];
                #pragma unroll
                for (int j = 0; j < GEMM_NV; j++)
                    acc[i][j] += a * b[j];
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const int m0 = mb + ty * GEMM_WM, n0 = nb + tx * WN;
    if (inside)
        store_block(0, M, N, alpha, beta, C, ldc, m0, n0, acc);
    else if (m0 < M && n0 < N)
        store_block(1, M, N, alpha, beta, C, ldc, m0, n0, acc);
}

#endif /* GEMM_LOCAL */

/* ---------------------------------------------------------------- skinny */

#define SKINNY_ARGS                                                                           \
    const int P, const int Q, const int K, const float alpha, const float beta,               \
        __global const CN_T(U_H) *U, const int offu, const int u_ps, const int u_ks,          \
        const int su, __global const CN_T(V_H) *V, const int offv, const int v_qs,            \
        const int v_ks, const int sv, __global CN_T(C_H) *C, const int offc, const int c_ps,  \
        const int c_qs, const int sc

static inline void skinny_store(const int P, const int Q, const float alpha, const float beta,
                         __global CN_T(C_H) *C, const int c_ps, const int c_qs, const int p,
                         const int q, const float s)
{
    if (p < P && q < Q) {
        const int i = p * c_ps + q * c_qs;
        CN_ST(C_H, C, i, beta != 0.0f ? alpha * s + beta * CN_LD(C_H, C, i) : alpha * s);
    }
}

/* SK_RP rows of U against nq (<= SK_QMAX, a constant at every call site)
 * rows of V starting at q0. Rows past P or Q are clamped, not stored. */
static inline void skinny_k_body(const int nq, const int P, const int Q, const int K,
                          const float alpha, const float beta, __global const CN_T(U_H) *U,
                          const int u_ps, __global const CN_T(V_H) *V, const int v_qs,
                          const int v_ks, __global CN_T(C_H) *C, const int c_ps, const int c_qs,
                          const int p0, const int q0)
{
    __global const CN_T(U_H) *u[GEMM_SK_RP];
    __global const CN_T(V_H) *v[SK_QMAX];
    #pragma unroll
    for (int i = 0; i < GEMM_SK_RP; i++)
        u[i] = U + min(p0 + i, P - 1) * u_ps;
    for (int j = 0; j < nq; j++)
        v[j] = V + min(q0 + j, Q - 1) * v_qs;
    floatV acc[GEMM_SK_RP][SK_QMAX];
    #pragma unroll
    for (int i = 0; i < GEMM_SK_RP; i++)
        for (int j = 0; j < nq; j++)
            acc[i][j] = (floatV)0.0f;
    const int kv = K / GEMM_VW * GEMM_VW;
    for (int k = 0; k < kv; k += GEMM_VW) {
        floatV b[SK_QMAX];
        for (int j = 0; j < nq; j++)
            b[j] = gather_v(v[j] + k * v_ks, v_ks);
        #pragma unroll
        for (int i = 0; i < GEMM_SK_RP; i++) {
            const floatV a = LDV(U_H, u[i], k);
            for (int j = 0; j < nq; j++)
                acc[i][j] += a * b[j];
        }
    }
    #pragma unroll
    for (int i = 0; i < GEMM_SK_RP; i++)
        for (int j = 0; j < nq; j++) {
            float s = hsum(acc[i][j]);
            for (int k = kv; k < K; k++)
                s += CN_LD(U_H, u[i], k) * CN_LD(V_H, v[j], k * v_ks);
            skinny_store(P, Q, alpha, beta, C, c_ps, c_qs, p0 + i, q0 + j, s);
        }
}

/* U contiguous along k (u_ks == 1). NDRange: (ceil(P/SK_RP), 1, batch). */
__kernel void gemm_skinny_k(SKINNY_ARGS)
{
    const int bt = get_global_id(2);
    const int p0 = get_global_id(0) * GEMM_SK_RP;
    if (p0 >= P)
        return;
    U += offu + bt * su;
    V += offv + bt * sv;
    C += offc + bt * sc;
    for (int q0 = 0; q0 < Q; q0 += SK_QMAX) {
        const int left = Q - q0;
        if (left >= 4)
            skinny_k_body(4, P, Q, K, alpha, beta, U, u_ps, V, v_qs, v_ks, C, c_ps, c_qs, p0, q0);
        else if (left == 3)
            skinny_k_body(3, P, Q, K, alpha, beta, U, u_ps, V, v_qs, v_ks, C, c_ps, c_qs, p0, q0);
        else if (left == 2)
            skinny_k_body(2, P, Q, K, alpha, beta, U, u_ps, V, v_qs, v_ks, C, c_ps, c_qs, p0, q0);
        else
            skinny_k_body(1, P, Q, K, alpha, beta, U, u_ps, V, v_qs, v_ks, C, c_ps, c_qs, p0, q0);
    }
}

/* SK_PV*VW consecutive rows of U (p-contiguous) against nq rows of V. Edge
 * work-items (chk) clamp rows past P in their loads and do not store them. */
static inline void skinny_p_body(const int nq, const int chk, const int P, const int Q, const int K,
                          const float alpha, const float beta, __global const CN_T(U_H) *U,
                          const int u_ks, __global const CN_T(V_H) *V, const int v_qs,
                          const int v_ks, __global CN_T(C_H) *C, const int c_ps, const int c_qs,
                          const int p0, const int q0)
{
    __global const CN_T(V_H) *v[SK_QMAX];
    for (int j = 0; j < nq; j++)
        v[j] = V + min(q0 + j, Q - 1) * v_qs;
    floatV acc[GEMM_SK_PV][SK_QMAX];
    #pragma unroll
    for (int i = 0; i < GEMM_SK_PV; i++)
        for (int j = 0; j < nq; j++)
            acc[i][j] = (floatV)0.0f;
    for (int k = 0; k < K; k++) {
        __global const CN_T(U_H) *u = U + k * u_ks;
        floatV a[GEMM_SK_PV];
        #pragma unroll
        for (int i = 0; i < GEMM_SK_PV; i++) {
            if (!chk) {
                a[i] = LDV(U_H, u, p0 + i * GEMM_VW);
            } else {
                float t[GEMM_VW];
                #pragma unroll
                for (int e = 0; e < GEMM_VW; e++)
                    t[e] = CN_LD(U_H, u, min(p0 + i * GEMM_VW + e, P - 1));
                a[i] = vloadV(0, t);
            }
        }
        for (int j = 0; j < nq; j++) {
            const floatV b = (floatV)CN_LD(V_H, v[j], k * v_ks);
            #pragma unroll
            for (int i = 0; i < GEMM_SK_PV; i++)
                acc[i][j] += a[i] * b;
        }
    }
    for (int j = 0; j < nq; j++) {
        #pragma unroll
        for (int i = 0; i < GEMM_SK_PV; i++) {
            float t[GEMM_VW];
            vstoreV(acc[i][j], 0, t);
            #pragma unroll
            for (int e = 0; e < GEMM_VW; e++)
                skinny_store(P, Q, alpha, beta, C, c_ps, c_qs, p0 + i * GEMM_VW + e, q0 + j,
                             t[e]);
        }
    }
}

/* U contiguous along p (u_ps == 1). NDRange: (ceil(P/(SK_PV*VW)), 1, batch). */
__kernel void gemm_skinny_p(SKINNY_ARGS)
{
    const int bt = get_global_id(2);
    const int p0 = get_global_id(0) * GEMM_SK_PV * GEMM_VW;
    if (p0 >= P)
        return;
    U += offu + bt * su;
    V += offv + bt * sv;
    C += offc + bt * sc;
    for (int q0 = 0; q0 < Q; q0 += SK_QMAX) {
        const int left = Q - q0;
        if (p0 + GEMM_SK_PV * GEMM_VW > P)
            skinny_p_body(4, 1, P, Q, K, alpha, beta, U, u_ks, V, v_qs, v_ks, C, c_ps, c_qs, p0,
                          q0);
        else if (left >= 4)
            skinny_p_body(4, 0, P, Q, K, alpha, beta, U, u_ks, V, v_qs, v_ks, C, c_ps, c_qs, p0,
                          q0);
        else if (left == 3)
            skinny_p_body(3, 0, P, Q, K, alpha, beta, U, u_ks, V, v_qs, v_ks, C, c_ps, c_qs, p0,
                          q0);
        else if (left == 2)
            skinny_p_body(2, 0, P, Q, K, alpha, beta, U, u_ks, V, v_qs, v_ks, C, c_ps, c_qs, p0,
                          q0);
        else
            skinny_p_body(1, 0, P, Q, K, alpha, beta, U, u_ks, V, v_qs, v_ks, C, c_ps, c_qs, p0,
                          q0);
    }
}
