/* Host launchers for cl/attention.cl and the linear attention built from cn_gelu and two batched GEMMs. */
#include "ops/attention.h"

#include <limits.h>
#include <stdio.h>

#include "ops/eltwise.h"
#include "ops/gemm.h"

/* Must match the kernel defaults in cl/attention.cl (ATT_TQ is passed). */
#define ATT_QPT 2
#define ATT_TE 8
#define ATT_TQ_MAX 32
#define RES_WG 64

/* The four operands of an attention, viewed as (N, channels, L) with any
 * trailing dims flattened. */
typedef struct att_dims {
    int64_t n, d, dv, lq, lk;
} att_dims;

static int64_t trailing(const cn_tensor *t)
{
    int64_t l = 1;
    for (int i = 2; i < t->ndim; i++)
        l *= t->shape[i];
    return l;
}

static int same_trailing(const cn_tensor *a, const cn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 2; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

static int check_attention(const char *op, const cn_tensor *q, const cn_tensor *k,
                           const cn_tensor *v, const cn_tensor *y, float scale, att_dims *dm)
{
    char s1[96], s2[96], s3[96], s4[96];
    if (!q || !k || !v || !y || !q->buf || !k->buf || !v->buf || !y->buf)
        return cn_fail(CN_ERR_ARG, "%s: q, k, v and y are required", op);
    int ok = q->ndim >= 3 && k->ndim >= 3 && v->ndim >= 3 && y->ndim >= 3 &&
             same_trailing(q, y) && same_trailing(k, v) && k->shape[0] == q->shape[0] &&
             v->shape[0] == q->shape[0] && y->shape[0] == q->shape[0] &&
             k->shape[1] == q->shape[1] && y->shape[1] == v->shape[1];
    if (!ok)
        return cn_fail(CN_ERR_SHAPE, "%s: q %s, k %s, v %s, y %s: want q (N, D, Lq), k (N, D, "
                       "Lk), v (N, Dv, Lk), y (N, Dv, Lq)", op, cn_shape_str(q, s1, sizeof s1),
                       cn_shape_str(k, s2, sizeof s2), cn_shape_str(v, s3, sizeof s3),
                       cn_shape_str(y, s4, sizeof s4));
    dm->n = q->shape[0];
    dm->d = q->shape[1];
    dm->dv = v->shape[1];
    dm->lq = trailing(q);
    dm->lk = trailing(k);
    /* An empty key set has no softmax, and empty outputs are not worth a
     * special path in either form: reject them all alike. */
    if (cn_numel(q) == 0 || cn_numel(k) == 0 || cn_numel(v) == 0)
        return cn_fail(CN_ERR_SHAPE, "%s: q %s, k %s, v %s: every dimension must be at least 1",
                       op, cn_shape_str(q, s1, sizeof s1), cn_shape_str(k, s2, sizeof s2),
                       cn_shape_str(v, s3, sizeof s3));
    if (cn_numel(q) > INT_MAX || cn_numel(k) > INT_MAX || cn_numel(v) > INT_MAX ||
        cn_numel(y) > INT_MAX || dm->d * dm->dv > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "%s: q %s, k %s, v %s or y %s exceeds the 32-bit index "
                       "range", op, cn_shape_str(q, s1, sizeof s1), cn_shape_str(k, s2, sizeof s2),
                       cn_shape_str(v, s3, sizeof s3), cn_shape_str(y, s4, sizeof s4));
    if (!(scale == scale) || scale - scale != 0.0f)
        return cn_fail(CN_ERR_ARG, "%s: scale %g is not finite", op, (double)scale);
    return CN_OK;
}

int cn_attention_linear(cn_ctx *ctx, const cn_tensor *q, const cn_tensor *k, const cn_tensor *v,
                        float scale, cn_tensor *y)
{
    att_dims dm;
    CN_TRY(check_attention("attention_linear", q, k, v, y, scale, &dm));
    /* phi(Q), phi(K) and the per-batch D x Dv matrix phi(K)^T V are the only
     * temporaries: O(D (Lq + Lk + Dv)) per batch, never Lq x Lk. They are
     * float whatever q, k, v and y are: kv holds sums over all Lk keys. */
    cn_tensor pq = {0}, pk = {0}, kv = {0};
    int st = cn_tensor_alloc(ctx, &pq, q->ndim, q->shape);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &pk, k->ndim, k->shape);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &kv, 3, (int64_t[]){dm.n, dm.d, dm.dv});
    if (st == CN_OK)
        st = cn_gelu(ctx, 0.2f, q, &pq);
    if (st == CN_OK)
        st = cn_gelu(ctx, 0.2f, k, &pk);
    /* Channel-first storage makes phi(K) a D x Lk matrix and V a Dv x Lk one,
     * so the model's phi(K)^T V is phi(K) V^T here. */
    if (st == CN_OK) {
        cn_gemm_desc g = {.trans_b = 1, .M = dm.d, .N = dm.dv, .K = dm.lk, .alpha = 1.0f,
                          .lda = dm.lk, .ldb = dm.lk, .ldc = dm.dv, .batch = dm.n,
                          .stride_a = dm.d * dm.lk, .stride_b = dm.dv * dm.lk,
                          .stride_c = dm.d * dm.dv, .tag = "attention_kv",
                          .b_type = v->dtype};
        st = cn_gemm(ctx, &g, pk.buf, pk.cap, v->buf, v->cap, kv.buf, kv.cap);
    }
    /* y (Dv x Lq) = scale * (phi(K) V^T)^T phi(Q), the model's phi(Q) (phi(K)^T V)
     * transposed into channel-first order. */
    if (st == CN_OK) {
        cn_gemm_desc g = {.trans_a = 1, .M = dm.dv, .N = dm.lq, .K = dm.d, .alpha = scale,
                          .lda = dm.dv, .ldb = dm.lq, .ldc = dm.lq, .batch = dm.n,
                          .stride_a = dm.d * dm.dv, .stride_b = dm.d * dm.lq,
                          .stride_c = dm.dv * dm.lq, .tag = "attention_out",
                          .c_type = y->dtype};
        st = cn_gemm(ctx, &g, kv.buf, kv.cap, pq.buf, pq.cap, y->buf, y->cap);
    }
    /* The queue is in order, so a buffer handed back to the arena here is only
     * reused by work enqueued after these products. */
    cn_tensor_release(ctx, &pq);
    cn_tensor_release(ctx, &pk);
    cn_tensor_release(ctx, &kv);
    return st;
}

int cn_attention_quadratic(cn_ctx *ctx, const cn_tensor *q, const cn_tensor *k,
                           const cn_tensor *v, float scale, cn_tensor *y)
{
    att_dims dm;
    CN_TRY(check_attention("attention_quadratic", q, k, v, y, scale, &dm));
    /* A smaller query tile keeps the work-group within devices that allow
     * fewer than ATT_TQ_MAX * ATT_TE work-items. */
    size_t max_wg = cn_ctx_device(ctx)->max_wg;
    int tq = ATT_TQ_MAX;
    while (tq > 1 && (size_t)tq * ATT_TE > max_wg)
        tq /= 2;
    if ((size_t)tq * ATT_TE > max_wg)
        return cn_fail(CN_ERR_UNSUPPORTED, "attention_quadratic: device allows %zu work-items "
                       "per group, need %d", max_wg, tq * ATT_TE);
    /* One program per accumulator length keeps the Dv-long sums in private
     * registers sized exactly for this Dv. */
    char opts[128];
    const int ept = (int)((dm.dv + ATT_TE - 1) / ATT_TE);
    snprintf(opts, sizeof opts, "-DATT_EPT=%d -DATT_TQ=%d", ept, tq);
    cn_storage_opts(opts, sizeof opts, 4, "Q_H", q, "K_H", k, "V_H", v, "Y_H", y);
    cl_kernel kr;
    CN_TRY(cn_kernel(ctx, "attention", opts, "attention_quadratic", &kr));
    const int D = (int)dm.d, Dv = (int)dm.dv, Lq = (int)dm.lq, Lk = (int)dm.lk;
    CN_TRY(CN_ARG(kr, 0, D));
    CN_TRY(CN_ARG(kr, 1, Dv));
    CN_TRY(CN_ARG(kr, 2, Lq));
    CN_TRY(CN_ARG(kr, 3, Lk));
    CN_TRY(CN_ARG(kr, 4, scale));
    CN_TRY(CN_ARG(kr, 5, q->buf));
    CN_TRY(CN_ARG(kr, 6, k->buf));
    CN_TRY(CN_ARG(kr, 7, v->buf));
    CN_TRY(CN_ARG(kr, 8, y->buf));
    const int64_t qw = (int64_t)tq * ATT_QPT, groups = (dm.lq + qw - 1) / qw;
    size_t g[3] = {(size_t)(groups * tq), ATT_TE, (size_t)dm.n}, l[3] = {(size_t)tq, ATT_TE, 1};
    /* scores (2 D) and the weighted sum (2 Dv) for every query and key */
    const double flops = (double)dm.n * (double)dm.lq * (double)dm.lk * 2.0 * (double)(dm.d + dm.dv);
    return cn_launch_cost(ctx, kr, "attention_quadratic", 3, g, l, flops);
}

int cn_rank1_residual(cn_ctx *ctx, const cn_tensor *x, const cn_tensor *s, const cn_tensor *u,
                      const cn_tensor *b, cn_tensor *y)
{
    char s1[96], s2[96], s3[96], s4[96] = "none", s5[96] = "none";
    if (!x || !u || !y || !x->buf || !u->buf || !y->buf || (s && !s->buf) || (b && !b->buf))
        return cn_fail(CN_ERR_ARG, "rank1_residual: missing or empty tensor");
    if (s)
        cn_shape_str(s, s4, sizeof s4);
    if (b)
        cn_shape_str(b, s5, sizeof s5);
    const int64_t N = x->ndim >= 2 ? x->shape[0] : -1, C = x->ndim >= 2 ? x->shape[1] : -1;
    const int64_t L = x->ndim >= 2 ? trailing(x) : -1;
    int ok = x->ndim >= 2 && cn_same_shape(x, y) && u->ndim == 2 && u->shape[0] == N &&
             u->shape[1] == C && (!b || (b->ndim == 1 && b->shape[0] == C)) &&
             (!s || (s->ndim >= 1 && s->shape[0] == N && cn_numel(s) == N * L));
    if (!ok)
        return cn_fail(CN_ERR_SHAPE, "rank1_residual: x %s, s %s, u %s, b %s, y %s: want x and "
                       "y (N, C, ...) alike, s (N, L) with L the product of x's trailing dims, "
                       "u (N, C), b (C)", cn_shape_str(x, s1, sizeof s1), s4,
                       cn_shape_str(u, s2, sizeof s2), s5, cn_shape_str(y, s3, sizeof s3));
    if (cn_numel(x) > INT_MAX)
        return cn_fail(CN_ERR_SHAPE, "rank1_residual: x %s exceeds the 32-bit index range",
                       cn_shape_str(x, s1, sizeof s1));
    if (cn_numel(x) == 0)
        return CN_OK;
    char opts[64] = "";
    cn_storage_opts(opts, sizeof opts, 5, "X_H", x, "S_H", s, "U_H", u, "B_H", b, "Y_H", y);
    cl_kernel kr;
    CN_TRY(cn_kernel(ctx, "attention", opts, "rank1_residual", &kr));
    const int c = (int)C, l = (int)L, has_s = s != NULL, has_b = b != NULL;
    cl_mem sb = s ? s->buf : u->buf, bb = b ? b->buf : u->buf;
    CN_TRY(CN_ARG(kr, 0, c));
    CN_TRY(CN_ARG(kr, 1, l));
    CN_TRY(CN_ARG(kr, 2, x->buf));
    CN_TRY(CN_ARG(kr, 3, sb));
    CN_TRY(CN_ARG(kr, 4, has_s));
    CN_TRY(CN_ARG(kr, 5, u->buf));
    CN_TRY(CN_ARG(kr, 6, bb));
    CN_TRY(CN_ARG(kr, 7, has_b));
    CN_TRY(CN_ARG(kr, 8, y->buf));
    size_t g[3] = {(size_t)L, (size_t)C, (size_t)N}, lw[3] = {RES_WG, 1, 1};
    return cn_launch(ctx, kr, "rank1_residual", 3, g, lw);
}
