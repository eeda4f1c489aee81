/* The AVIMs: ASPP on each encoder stage, then linear or quadratic attention with the broadcast audio key. */
#include "model/model_internal.h"

#define C CN_SPEC_C
#define A CN_SPEC_ASPP_W

/* x (N, Ci, T, h, w) -> v (N, 256, T, h, w) */
static int aspp(cn_model *m, int i, const cn_tensor *x, cn_tensor *v)
{
    int64_t N = x->shape[0], T = x->shape[2], h = x->shape[3], w = x->shape[4];
    int64_t n64[2] = {N, A};
    cn_tensor cat = {0}, mean = {0}, pv = {0}, pb = {0};
    cn_unit *u;
    int st;
    TRY_DONE(model_alloc5(m, &cat, N, CN_SPEC_ASPP_CAT, T, h, w)); // (N, 320, T, h, w)
    for (int b = 0; b < CN_SPEC_ASPP_RATES; b++) { // channels [64b, 64b + 64) of cat
        TRY_DONE(unit_find(m, &u, "avim.%d.aspp.b%d.conv", i, b));
        cn_conv_args a = {0};
        a.x = x;
        a.y = &cat;
        a.y_c_off = A * b;
        a.pad[1] = a.pad[2] = a.dil[1] = a.dil[2] = 2 * b; /* r = 2, 4, 6; b0 is 1x1x1 */
        TRY_DONE(unit_conv(m, u, &a, 3));
    }
    /* image-pool branch: mean over T, H, W -> CBR -> broadcast into [256, 320) */
    TRY_DONE(unit_find(m, &u, "avim.%d.aspp.pool.conv", i));
    TRY_DONE(model_alloc5(m, &mean, N, x->shape[1], 1, 1, 1)); // (N, Ci, 1, 1, 1)
    TRY_DONE(ENQ(m, cn_mean_axes(m->ctx, x, 2, 5, &mean)));
    TRY_DONE(model_alloc5(m, &pv, N, A, 1, 1, 1)); // (N, 64, 1, 1, 1)
    {
        cn_conv_args a = {0};
        calib_src src = {0};
        src.unpooled = x;
        a.x = &mean;
        a.y = &pv;
        TRY_DONE(unit_conv_src(m, u, &a, 3, &src));
    }
    TRY_DONE(model_alloc5(m, &pb, N, A, T, h, w)); // (N, 64, T, h, w)
    TRY_DONE(cn_tensor_reshape(&pv, 2, n64));
    TRY_DONE(ENQ(m, cn_broadcast_nc(m->ctx, &pv, &pb)));
    TRY_DONE(ENQ(m, cn_copy_channels(m->ctx, &pb, &cat, A * CN_SPEC_ASPP_RATES)));
    cn_tensor_release(m->ctx, &mean);
    cn_tensor_release(m->ctx, &pv);
    cn_tensor_release(m->ctx, &pb);
    TRY_DONE(unit_find(m, &u, "avim.%d.aspp.proj.conv", i));
    {
        cn_conv_args a = {0};
        a.x = &cat;
        TRY_DONE(unit_conv_new(m, u, &a, 3, v)); // (N, 256, T, h, w)
    }
done:
    cn_tensor_release(m->ctx, &cat);
    cn_tensor_release(m->ctx, &mean);
    cn_tensor_release(m->ctx, &pv);
    cn_tensor_release(m->ctx, &pb);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, v);
    return st;
}

/* F = V + out(A) with every key row equal to k(f_A): the linear form is
 * A_l = (phi(q_l) . phi(k)) / L * (sum_j V_j) = s_l * u with u = v(mean V),
 * and the quadratic form's softmax over equal scores is uniform, A_l = u.
 * v (N, 256, T, h, w), kvec (N, 256) -> f (N, 256, T, h, w) */
static int attention_closed(cn_model *m, int i, const cn_tensor *v, const cn_tensor *kvec,
                            int quadratic, cn_tensor *f)
{
    int64_t N = v->shape[0], L = cn_numel(v) / (N * C);
    cn_unit *uq, *uv, *uo;
    cn_tensor q = {0}, s = {0}, mean = {0}, u = {0}, up = {0}, pk = {0};
    int64_t nc[2] = {N, C}, nl[2] = {N, L};
    int st;
    TRY_DONE(unit_find(m, &uq, "avim.%d.q", i));
    TRY_DONE(unit_find(m, &uv, "avim.%d.v", i));
    TRY_DONE(unit_find(m, &uo, "avim.%d.out", i));
    if (!quadratic) {
        cn_conv_args a = {0};
        a.x = v;
        TRY_DONE(unit_conv_new(m, uq, &a, 3, &q)); // (N, 256, T, h, w)
        TRY_DONE(ENQ(m, cn_gelu(m->ctx, 0.2f, &q, &q)));
        TRY_DONE(model_alloc(m, &pk, 2, nc)); // (N, 256)
        TRY_DONE(ENQ(m, cn_gelu(m->ctx, 0.2f, kvec, &pk)));
        TRY_DONE(model_alloc(m, &s, 2, nl)); // (N, L)
        /* s[n, l] = phi(k_n) . phi(q_{n,l}): a 1 x C by C x L product per clip (the 1/L is in u = mean V) */
        cn_gemm_desc d = {0};
        d.M = 1, d.N = L, d.K = C, d.alpha = 1.0f;
        d.lda = C, d.ldb = L, d.ldc = L;
        d.batch = N, d.stride_a = C, d.stride_b = C * L, d.stride_c = L;
        d.tag = "attention.score";
        d.a_type = pk.dtype, d.b_type = q.dtype, d.c_type = s.dtype;
        model_count(m, 2.0 * (double)(N * L * C));
        TRY_DONE(model_record_gemm(m, &d));
        TRY_DONE(ENQ(m, cn_gemm(m->ctx, &d, pk.buf, cn_tensor_bytes(&pk), q.buf,
                                cn_tensor_bytes(&q), s.buf, cn_tensor_bytes(&s))));
        cn_tensor_release(m->ctx, &q);
        cn_tensor_release(m->ctx, &pk);
    }
    TRY_DONE(model_alloc5(m, &mean, N, C, 1, 1, 1));
    TRY_DONE(ENQ(m, cn_mean_axes(m->ctx, v, 2, 5, &mean)));
    TRY_DONE(cn_tensor_reshape(&mean, 2, nc)); // (N, 256)
    TRY_DONE(model_alloc(m, &u, 2, nc));
    TRY_DONE(unit_linear(m, uv, &mean, 0, &u)); // u (N, 256)
    TRY_DONE(model_alloc(m, &up, 2, nc));
    {
        /* u' = W_out u; the linear form adds out's bias separately, since A_l = s_l u */
        calib_src src = {0};
        if (!quadratic)
            src.v = v, src.s = &s;
        TRY_DONE(unit_matvec(m, uo, &u, quadratic, &src, &up)); // (N, 256)
    }
    TRY_DONE(model_alloc5(m, f, N, C, v->shape[2], v->shape[3], v->shape[4]));
    TRY_DONE(ENQ(m, cn_rank1_residual(m->ctx, v, quadratic ? NULL : &s, &up,
                                      quadratic ? NULL : &uo->b, f)));
done:
    cn_tensor_release(m->ctx, &q);
    cn_tensor_release(m->ctx, &pk);
    cn_tensor_release(m->ctx, &s);
    cn_tensor_release(m->ctx, &mean);
    cn_tensor_release(m->ctx, &u);
    cn_tensor_release(m->ctx, &up);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, f);
    return st;
}

/* The literal formulas on L x 256 matrices (tests compare it with the closed form).
 * v (N, 256, T, h, w), kvec (N, 256) -> f (N, 256, T, h, w) */
static int attention_general(cn_model *m, int i, const cn_tensor *v, const cn_tensor *kvec,
                             int quadratic, cn_tensor *f)
{
    int64_t N = v->shape[0], T = v->shape[2], h = v->shape[3], w = v->shape[4], L = T * h * w;
    cn_unit *uq, *uv, *uo;
    cn_tensor q = {0}, k = {0}, vv = {0}, a = {0};
    int64_t s3[3] = {N, C, L};
    int st;
    TRY_DONE(unit_find(m, &uq, "avim.%d.q", i));
    TRY_DONE(unit_find(m, &uv, "avim.%d.v", i));
    TRY_DONE(unit_find(m, &uo, "avim.%d.out", i));
    TRY_DONE(model_alloc5(m, &q, N, C, T, h, w));
    TRY_DONE(model_alloc5(m, &k, N, C, T, h, w));
    TRY_DONE(model_alloc5(m, &vv, N, C, T, h, w));
    TRY_DONE(model_alloc5(m, &a, N, C, T, h, w));
    cn_conv_args ca = {0};
    ca.x = v;
    ca.y = &q;
    TRY_DONE(unit_conv(m, uq, &ca, 3));
    ca.y = &vv;
    TRY_DONE(unit_conv(m, uv, &ca, 3));
    TRY_DONE(ENQ(m, cn_broadcast_nc(m->ctx, kvec, &k)));
    cn_tensor q3 = q, k3 = k, v3 = vv, a3 = a; // (N, 256, L) views
    TRY_DONE(cn_tensor_reshape(&q3, 3, s3));
    TRY_DONE(cn_tensor_reshape(&k3, 3, s3));
    TRY_DONE(cn_tensor_reshape(&v3, 3, s3));
    TRY_DONE(cn_tensor_reshape(&a3, 3, s3));
    model_count(m, quadratic ? 4.0 * (double)(N * L) * (double)L * C : 4.0 * (double)(N * L) * C * C);
    TRY_DONE(ENQ(m, quadratic ? cn_attention_quadratic(m->ctx, &q3, &k3, &v3, 1.0f / (float)L, &a3)
                              : cn_attention_linear(m->ctx, &q3, &k3, &v3, 1.0f / (float)L, &a3)));
    cn_tensor_release(m->ctx, &q);
    cn_tensor_release(m->ctx, &k);
    cn_tensor_release(m->ctx, &vv);
    {
        cn_conv_args o = {0};
        o.x = &a;
        o.residual = v;
        TRY_DONE(unit_conv_new(m, uo, &o, 3, f));
    }
done:
    cn_tensor_release(m->ctx, &q);
    cn_tensor_release(m->ctx, &k);
    cn_tensor_release(m->ctx, &vv);
    cn_tensor_release(m->ctx, &a);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, f);
    return st;
}

int model_avim(cn_model *m, int stage, const cn_tensor *x, const cn_tensor *fa, cn_tensor *v,
               cn_tensor *f)
{
    int64_t nc[2] = {x->shape[0], C};
    cn_unit *ua, *uk;
    cn_tensor fh = {0}, kv = {0};
    int st;
    model_group(m, CN_MOD_ASPP, stage);
    TRY_DONE(aspp(m, stage, x, v)); // (N, 256, T, h, w)
    if (!m->av) {
        *f = *v; /* F_i = V_i: the same tensor, released once by the caller */
        return CN_OK;
    }
    model_group(m, CN_MOD_ATT, stage);
    TRY_DONE(unit_find(m, &ua, "avim.%d.audio_proj", stage));
    TRY_DONE(unit_find(m, &uk, "avim.%d.k", stage));
    TRY_DONE(model_alloc(m, &fh, 2, nc));
    TRY_DONE(unit_linear(m, ua, fa, 0, &fh)); // f_A-hat (N, 256)
    TRY_DONE(model_alloc(m, &kv, 2, nc));
    TRY_DONE(unit_linear(m, uk, &fh, 0, &kv)); /* k of the broadcast f_A-hat, once per clip */
    int quad = m->opts->attention == CN_ATTENTION_QUADRATIC;
    /* calibration runs the default options: the closed linear form */
    TRY_DONE(m->opts->general_attention ? attention_general(m, stage, v, &kv, quad, f)
                                        : attention_closed(m, stage, v, &kv, quad, f));
done:
    cn_tensor_release(m->ctx, &fh);
    cn_tensor_release(m->ctx, &kv);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, v);
    return st;
}
