/* The AVIMs: ASPP on each encoder stage, then linear or quadratic attention with the broadcast audio key. */
#include "model/model_internal.h"

#include <math.h>
#include <stdlib.h>

#define C 256

static int aspp(cn_model *m, int i, const cn_tensor *x, cn_tensor *v)
{
    int64_t N = x->shape[0], T = x->shape[2], h = x->shape[3], w = x->shape[4];
    cn_tensor cat = {0}, mean = {0}, pv = {0}, pb = {0}, raw = {0};
    cn_unit *u;
    CN_TRY(model_alloc5(m, &cat, N, 320, T, h, w));
    int st = CN_OK;
    for (int b = 0; st == CN_OK && b < 4; b++) {
        st = unit_find(m, &u, "avim.%d.aspp.b%d.conv", i, b);
        cn_conv_args a = {0};
        a.x = x;
        a.y = &cat;
        a.y_c_off = 64 * b;
        a.pad[1] = a.pad[2] = a.dil[1] = a.dil[2] = 2 * b; /* r = 2, 4, 6; b0 is 1x1x1 */
        if (st == CN_OK)
            st = unit_conv(m, u, &a, 3);
    }
    /* image-pool branch: mean over T, H, W -> CBR -> broadcast */
    if (st == CN_OK)
        st = unit_find(m, &u, "avim.%d.aspp.pool.conv", i);
    if (st == CN_OK && m->cal && !u->calibrated) {
        /* one pooled value per clip says nothing about spread: take the BN's
         * statistics from the same 1x1x1 conv over every position */
        cn_conv_args a = {0};
        a.x = x;
        a.y = &raw;
        st = model_alloc5(m, &raw, N, 64, T, h, w);
        if (st == CN_OK)
            st = unit_conv_raw(m, u, &a, 3);
        if (st == CN_OK)
            st = calib_bn_from(m, u, &raw, 0);
        cn_tensor_release(m->ctx, &raw);
    }
    if (st == CN_OK)
        st = model_alloc5(m, &mean, N, x->shape[1], 1, 1, 1);
    if (st == CN_OK)
        st = ENQ(m, cn_mean_axes(m->ctx, x, 2, 5, &mean));
    if (st == CN_OK)
        st = model_alloc5(m, &pv, N, 64, 1, 1, 1);
    if (st == CN_OK) {
        cn_conv_args a = {0};
        a.x = &mean;
        a.y = &pv;
        st = unit_conv(m, u, &a, 3);
    }
    if (st == CN_OK)
        st = model_alloc5(m, &pb, N, 64, T, h, w);
    if (st == CN_OK) {
        int64_t s2[2] = {N, 64};
        st = cn_tensor_reshape(&pv, 2, s2);
    }
    if (st == CN_OK)
        st = ENQ(m, cn_broadcast_nc(m->ctx, &pv, &pb));
    if (st == CN_OK)
        st = ENQ(m, cn_copy_channels(m->ctx, &pb, &cat, 256));
    cn_tensor_release(m->ctx, &mean);
    cn_tensor_release(m->ctx, &pv);
    cn_tensor_release(m->ctx, &pb);
    if (st == CN_OK)
        st = unit_find(m, &u, "avim.%d.aspp.proj.conv", i);
    if (st == CN_OK)
        st = model_alloc5(m, v, N, C, T, h, w);
    if (st == CN_OK) {
        cn_conv_args a = {0};
        a.x = &cat;
        a.y = v;
        st = unit_conv(m, u, &a, 3);
    }
    cn_tensor_release(m->ctx, &cat);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, v);
    return st;
}

/* Moments of out(A) = s_l * u'_c over all (n, c, l), from s (N, L) and u' (N, C). */
static int rank1_moments(cn_model *m, const cn_tensor *s, const cn_tensor *up, double *var)
{
    int64_t N = s->shape[0], L = s->shape[1];
    float *hs = malloc((size_t)(N * L) * sizeof *hs), *hu = malloc((size_t)(N * C) * sizeof *hu);
    int st = hs && hu ? CN_OK : cn_fail(CN_ERR_OOM, "out of host memory");
    if (st == CN_OK)
        st = cn_tensor_download(m->ctx, s, hs);
    if (st == CN_OK)
        st = cn_tensor_download(m->ctx, up, hu);
    double sum = 0, sq = 0;
    for (int64_t n = 0; st == CN_OK && n < N; n++) {
        double s1 = 0, s2 = 0, u1 = 0, u2 = 0;
        for (int64_t l = 0; l < L; l++)
            s1 += hs[n * L + l], s2 += (double)hs[n * L + l] * hs[n * L + l];
        for (int64_t c = 0; c < C; c++)
            u1 += hu[n * C + c], u2 += (double)hu[n * C + c] * hu[n * C + c];
        sum += s1 * u1;
        sq += s2 * u2;
    }
    double cnt = (double)(N * L * C), mean = sum / cnt;
    *var = sq / cnt - mean * mean;
    free(hs);
    free(hu);
    return st;
}

/* Scales avim.{i}.out.weight so that its residual has res_scale x std(V). */
static int calib_out(cn_model *m, cn_unit *uo, const cn_tensor *v, const cn_tensor *s,
                     const cn_tensor *up)
{
    double var_o, mv, var_v;
    CN_TRY(rank1_moments(m, s, up, &var_o));
    CN_TRY(calib_moments(m, v, &mv, &var_v));
    double k = m->res_scale * sqrt(var_v) / fmax(sqrt(var_o), 1e-12);
    cn_weight *w;
    CN_TRY(cn_weights_find(m->cal, &w, "%s.weight", uo->key));
    for (int64_t j = 0; j < w->numel; j++)
        w->data[j] = (float)(w->data[j] * k);
    uo->calibrated = 1;
    return unit_upload(m, uo, m->cal);
}

/* F = V + out(A) with every key row equal to k(f_A): the linear form is
 * A_l = (phi(q_l) . phi(k)) / L * (sum_j V_j) = s_l * u with u = v(mean V),
 * and the quadratic form's softmax over equal scores is uniform, A_l = u. */
static int attention_closed(cn_model *m, int i, const cn_tensor *v, const cn_tensor *kvec,
                            int quadratic, cn_tensor *f)
{
    int64_t N = v->shape[0], L = cn_numel(v) / (N * C);
    cn_unit *uq, *uv, *uo;
    CN_TRY(unit_find(m, &uq, "avim.%d.q", i));
    CN_TRY(unit_find(m, &uv, "avim.%d.v", i));
    CN_TRY(unit_find(m, &uo, "avim.%d.out", i));
    cn_tensor q = {0}, s = {0}, mean = {0}, u = {0}, up = {0}, pk = {0};
    int64_t nc[2] = {N, C}, nl[2] = {N, L};
    int st = CN_OK;
    if (!quadratic) {
        st = model_alloc5(m, &q, N, C, v->shape[2], v->shape[3], v->shape[4]);
        if (st == CN_OK) {
            cn_conv_args a = {0};
            a.x = v;
            a.y = &q;
            st = unit_conv(m, uq, &a, 3);
        }
        if (st == CN_OK)
            st = ENQ(m, cn_gelu(m->ctx, 0.2f, &q, &q));
        if (st == CN_OK)
            st = model_alloc(m, &pk, 2, nc);
        if (st == CN_OK)
            st = ENQ(m, cn_gelu(m->ctx, 0.2f, kvec, &pk));
        if (st == CN_OK)
            st = model_alloc(m, &s, 2, nl);
        if (st == CN_OK) {
            /* s[n, l] = phi(k_n) . phi(q_{n,l}): a 1 x C by C x L product per clip (the 1/L is in u = mean V) */
            cn_gemm_desc d = {0};
            d.M = 1, d.N = L, d.K = C, d.alpha = 1.0f;
            d.lda = C, d.ldb = L, d.ldc = L;
            d.batch = N, d.stride_a = C, d.stride_b = C * L, d.stride_c = L;
            d.tag = "attention.score";
            model_count(m, 2.0 * (double)(N * L * C));
            st = ENQ(m, cn_gemm(m->ctx, &d, pk.buf, cn_tensor_bytes(&pk), q.buf,
                                cn_tensor_bytes(&q), s.buf, cn_tensor_bytes(&s)));
        }
        cn_tensor_release(m->ctx, &q);
        cn_tensor_release(m->ctx, &pk);
    }
    if (st == CN_OK)
        st = model_alloc5(m, &mean, N, C, 1, 1, 1);
    if (st == CN_OK)
        st = ENQ(m, cn_mean_axes(m->ctx, v, 2, 5, &mean));
    if (st == CN_OK)
        st = cn_tensor_reshape(&mean, 2, nc);
    if (st == CN_OK)
        st = model_alloc(m, &u, 2, nc);
    if (st == CN_OK)
        st = unit_linear(m, uv, &mean, 0, &u);
    if (st == CN_OK)
        st = model_alloc(m, &up, 2, nc);
    if (st == CN_OK) {
        /* u' = W_out u; the linear form adds out's bias separately, since A_l = s_l u */
        cn_tensor w = uo->w;
        int64_t s2[2] = {C, C};
        st = cn_tensor_reshape(&w, 2, s2);
        if (st == CN_OK)
            st = ENQ(m, cn_linear(m->ctx, &u, &w, quadratic ? &uo->b : NULL, 0, &up));
        if (st == CN_OK && m->cal && !uo->calibrated && !quadratic) {
            st = calib_out(m, uo, v, &s, &up);
            if (st == CN_OK)
                st = cn_linear(m->ctx, &u, &w, NULL, 0, &up);
        }
    }
    if (st == CN_OK)
        st = model_alloc5(m, f, N, C, v->shape[2], v->shape[3], v->shape[4]);
    if (st == CN_OK)
        st = ENQ(m, cn_rank1_residual(m->ctx, v, quadratic ? NULL : &s, &up,
                                      quadratic ? NULL : &uo->b, f));
    cn_tensor_release(m->ctx, &s);
    cn_tensor_release(m->ctx, &mean);
    cn_tensor_release(m->ctx, &u);
    cn_tensor_release(m->ctx, &up);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, f);
    return st;
}

/* The literal formulas on L x 256 matrices (tests compare it with the closed form). */
static int attention_general(cn_model *m, int i, const cn_tensor *v, const cn_tensor *kvec,
                             int quadratic, cn_tensor *f)
{
    int64_t N = v->shape[0], T = v->shape[2], h = v->shape[3], w = v->shape[4], L = T * h * w;
    cn_unit *uq, *uv, *uo;
    CN_TRY(unit_find(m, &uq, "avim.%d.q", i));
    CN_TRY(unit_find(m, &uv, "avim.%d.v", i));
    CN_TRY(unit_find(m, &uo, "avim.%d.out", i));
    cn_tensor q = {0}, k = {0}, vv = {0}, a = {0};
    int st = model_alloc5(m, &q, N, C, T, h, w);
    if (st == CN_OK)
        st = model_alloc5(m, &k, N, C, T, h, w);
    if (st == CN_OK)
        st = model_alloc5(m, &vv, N, C, T, h, w);
    if (st == CN_OK)
        st = model_alloc5(m, &a, N, C, T, h, w);
    cn_conv_args ca = {0};
    ca.x = v;
    ca.y = &q;
    if (st == CN_OK)
        st = unit_conv(m, uq, &ca, 3);
    ca.y = &vv;
    if (st == CN_OK)
        st = unit_conv(m, uv, &ca, 3);
    if (st == CN_OK)
        st = ENQ(m, cn_broadcast_nc(m->ctx, kvec, &k));
    int64_t s3[3] = {N, C, L};
    cn_tensor q3 = q, k3 = k, v3 = vv, a3 = a;
    if (st == CN_OK)
        st = cn_tensor_reshape(&q3, 3, s3) || cn_tensor_reshape(&k3, 3, s3) ||
             cn_tensor_reshape(&v3, 3, s3) || cn_tensor_reshape(&a3, 3, s3);
    model_count(m, quadratic ? 4.0 * (double)(N * L) * (double)L * C : 4.0 * (double)(N * L) * C * C);
    if (st == CN_OK)
        st = ENQ(m, quadratic ? cn_attention_quadratic(m->ctx, &q3, &k3, &v3, 1.0f / (float)L, &a3)
                              : cn_attention_linear(m->ctx, &q3, &k3, &v3, 1.0f / (float)L, &a3));
    cn_tensor_release(m->ctx, &q);
    cn_tensor_release(m->ctx, &k);
    cn_tensor_release(m->ctx, &vv);
    if (st == CN_OK)
        st = model_alloc5(m, f, N, C, T, h, w);
    if (st == CN_OK) {
        cn_conv_args o = {0};
        o.x = &a;
        o.y = f;
        o.residual = v;
        st = unit_conv(m, uo, &o, 3);
    }
    cn_tensor_release(m->ctx, &a);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, f);
    return st;
}

int model_avim(cn_model *m, int stage, const cn_tensor *x, const cn_tensor *fa, cn_tensor *v,
               cn_tensor *f)
{
    static const char *aspp_g[4] = {"ASPP.1", "ASPP.2", "ASPP.3", "ASPP.4"},
                      *att_g[4] = {"attention.1", "attention.2", "attention.3", "attention.4"};
    model_group(m, MOD_ASPP, aspp_g[stage - 1]);
    CN_TRY(aspp(m, stage, x, v));
    if (!m->av) {
        *f = *v; /* F_i = V_i: the same tensor, released once by the caller */
        return CN_OK;
    }
    model_group(m, MOD_ATT, att_g[stage - 1]);
    cn_unit *ua, *uk;
    cn_tensor fh = {0}, kv = {0};
    int64_t nc[2] = {x->shape[0], C};
    int st = unit_find(m, &ua, "avim.%d.audio_proj", stage);
    if (st == CN_OK)
        st = unit_find(m, &uk, "avim.%d.k", stage);
    if (st == CN_OK)
        st = model_alloc(m, &fh, 2, nc);
    if (st == CN_OK)
        st = unit_linear(m, ua, fa, 0, &fh);
    if (st == CN_OK)
        st = model_alloc(m, &kv, 2, nc);
    if (st == CN_OK)
        st = unit_linear(m, uk, &fh, 0, &kv); /* k of the broadcast f_A-hat, once per clip */
    int quad = m->opts->attention == CN_ATTENTION_QUADRATIC;
    if (st == CN_OK)
        st = (m->opts->general_attention && !m->cal) ? attention_general(m, stage, v, &kv, quad, f)
                                                      : attention_closed(m, stage, v, &kv, quad && !m->cal, f);
    cn_tensor_release(m->ctx, &fh);
    cn_tensor_release(m->ctx, &kv);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, v);
    return st;
}
