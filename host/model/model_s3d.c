/* The encoders: S3D on the clip (taps X1..X4) and VGGish on the log-mel (fA). */
#include "model/model_internal.h"

#include <stdio.h>

#include "model/modelspec.h"

/* Output shape of a conv of x by unit u (also for dry runs, where x has no buffer). */
static int conv_out(cn_model *m, cn_unit *u, const cn_tensor *x, const cn_conv_args *a, int64_t o[5])
{
    o[0] = x->shape[0];
    o[1] = u->co;
    for (int d = 0; d < 3; d++) {
        int64_t k = u->w.shape[2 + d], dil = a->dil[d] ? a->dil[d] : 1;
        o[2 + d] = (x->shape[2 + d] + 2 * a->pad[d] - dil * (k - 1) - 1) / a->stride[d] + 1;
        if (o[2 + d] < 1)
            return cn_fail(CN_ERR_SHAPE, "%s: input too small for its kernel", u->key);
    }
    return CN_OK;
}

/* Floor-mode pooling output size. */
static int64_t pool_out(int64_t in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

/* A conv unit from x (channels from x_c_off) into a new tensor, or into
 * channels [y_off, ...) of *into when it is given. */
static int conv_into(cn_model *m, cn_unit *u, const cn_tensor *x, const int k_stride[3],
                     const int pad[3], cn_tensor *into, int64_t y_off, cn_tensor *y)
{
    cn_conv_args a = {0};
    a.x = x;
    for (int d = 0; d < 3; d++) {
        a.stride[d] = k_stride ? k_stride[d] : 1;
        a.pad[d] = pad ? pad[d] : 0;
    }
    if (into) {
        a.y = into;
        a.y_c_off = y_off;
        return unit_conv(m, u, &a, 3);
    }
    int64_t o[5];
    CN_TRY(conv_out(m, u, x, &a, o));
    o[1] = u->co;
    CN_TRY(model_alloc(m, y, 5, o));
    a.y = y;
    int st = unit_conv(m, u, &a, 3);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, y);
    return st;
}

/* SepConv3d: conv_s (1,k,k) stride (1,s,s) pad (0,p,p), then conv_t (k,1,1)
 * stride (s,1,1) pad (p,0,0), each folded with its BN and ReLU. */
static int sepconv(cn_model *m, const char *p, const cn_tensor *x, int s, int pad, cn_tensor *into,
                   int64_t y_off, cn_tensor *y)
{
    cn_unit *us, *ut;
    CN_TRY(unit_find(m, &us, "%s.conv_s", p));
    CN_TRY(unit_find(m, &ut, "%s.conv_t", p));
    int ss[3] = {1, s, s}, ps[3] = {0, pad, pad}, st_[3] = {s, 1, 1}, pt[3] = {pad, 0, 0};
    cn_tensor mid = {0};
    CN_TRY(conv_into(m, us, x, ss, ps, NULL, 0, &mid));
    int st = conv_into(m, ut, &mid, st_, pt, into, y_off, y);
    cn_tensor_release(m->ctx, &mid);
    return st;
}

static int maxpool(cn_model *m, const cn_tensor *x, int k0, int k1, int s0, int s1, int p0, int p1,
                   cn_tensor *y)
{
    int k[3] = {k0, k1, k1}, s[3] = {s0, s1, s1}, p[3] = {p0, p1, p1};
    CN_TRY(model_alloc5(m, y, x->shape[0], x->shape[1], pool_out(x->shape[2], k0, s0, p0),
                        pool_out(x->shape[3], k1, s1, p1), pool_out(x->shape[4], k1, s1, p1)));
    return ENQ(m, cn_maxpool3d(m->ctx, k, s, p, x, y));
}

static int mixed(cn_model *m, const cn_mixed_spec *ms, const cn_tensor *x, cn_tensor *y)
{
    char p[64];
    cn_unit *u;
    CN_TRY(model_alloc5(m, y, x->shape[0], ms->a + ms->c + ms->e + ms->f, x->shape[2], x->shape[3],
                        x->shape[4]));
    int st;
    cn_tensor t = {0};
    CN_TRY(unit_find(m, &u, "video.base.%d.branch0.0.conv", ms->index));
    CN_TRY(conv_into(m, u, x, NULL, NULL, y, 0, NULL));
    /* branches 1 and 2: 1x1x1 reduction, then a separable 3x3x3 */
    for (int b = 1; b <= 2; b++) {
        CN_TRY(unit_find(m, &u, "video.base.%d.branch%d.0.conv", ms->index, b));
        CN_TRY(conv_into(m, u, x, NULL, NULL, NULL, 0, &t));
        snprintf(p, sizeof p, "video.base.%d.branch%d.1", ms->index, b);
        st = sepconv(m, p, &t, 1, 1, y, b == 1 ? ms->a : ms->a + ms->c, NULL);
        cn_tensor_release(m->ctx, &t);
        CN_TRY(st);
    }
    CN_TRY(maxpool(m, x, 3, 3, 1, 1, 1, 1, &t));
    st = unit_find(m, &u, "video.base.%d.branch3.1.conv", ms->index);
    if (st == CN_OK)
        st = conv_into(m, u, &t, NULL, NULL, y, ms->a + ms->c + ms->e, NULL);
    cn_tensor_release(m->ctx, &t);
    return st;
}

int model_s3d(cn_model *m, const cn_tensor *clip, cn_tensor X[4])
{
    cn_tensor cur = {0}, nxt = {0};
    cn_unit *u;
    int cur_is_tap = 0;
    int st = sepconv(m, "video.base.0", clip, 2, 3, NULL, 0, &cur);
    for (int i = 1; st == CN_OK && i < 16; i++) {
        static const char *stage_g[4] = {"S3D.1", "S3D.2", "S3D.3", "S3D.4"};
        if (i == 4 || i == 7 || i == 13) /* each stage ends at a tap: X1..X4 */
            model_group(m, MOD_VIDEO, stage_g[i == 4 ? 1 : i == 7 ? 2 : 3]);
        const cn_mixed_spec *ms = cn_spec_mixed_at(i);
        if (ms)
            st = mixed(m, ms, &cur, &nxt);
        else if (i == 1 || i == 4)
            st = maxpool(m, &cur, 1, 3, 1, 2, 0, 1, &nxt);
        else if (i == 7)
            st = maxpool(m, &cur, 3, 3, 2, 2, 1, 1, &nxt);
        else if (i == 13)
            st = maxpool(m, &cur, 2, 2, 2, 2, 0, 0, &nxt);
        else if (i == 2) {
            st = unit_find(m, &u, "video.base.2.conv");
            if (st == CN_OK)
                st = conv_into(m, u, &cur, NULL, NULL, NULL, 0, &nxt);
        } else /* i == 3 */
            st = sepconv(m, "video.base.3", &cur, 1, 1, NULL, 0, &nxt);
        if (st != CN_OK)
            break;
        if (!cur_is_tap)
            cn_tensor_release(m->ctx, &cur);
        cur = nxt;
        nxt = (cn_tensor){0};
        int tap = i == 3 ? 0 : i == 6 ? 1 : i == 12 ? 2 : i == 15 ? 3 : -1;
        cur_is_tap = tap >= 0;
        if (cur_is_tap)
            X[tap] = cur; /* stays alive for its AVIM; the next layer reads it too */
    }
    if (!cur_is_tap)
        cn_tensor_release(m->ctx, &cur);
    if (st != CN_OK)
        for (int i = 0; i < 4; i++)
            cn_tensor_release(m->ctx, &X[i]);
    return st;
}

int model_vggish(cn_model *m, const cn_tensor *logmel, cn_tensor *fa)
{
    static const int convs[6] = {0, 3, 6, 8, 11, 13};
    static const int pool_after[6] = {1, 1, 0, 1, 0, 1};
    cn_tensor cur = {0}, nxt = {0};
    const cn_tensor *in = logmel;
    int st = CN_OK;
    for (int i = 0; st == CN_OK && i < 6; i++) {
        cn_unit *u;
        CN_TRY(unit_find(m, &u, "audio.features.%d", convs[i]));
        int64_t o[4] = {in->shape[0], u->co, in->shape[2], in->shape[3]};
        st = model_alloc(m, &nxt, 4, o);
        if (st == CN_OK) {
            cn_conv_args a = {0};
            a.x = in;
            a.y = &nxt;
            a.pad[1] = a.pad[2] = 1;
            a.relu = 1;
            st = unit_conv(m, u, &a, 2);
        }
        cn_tensor_release(m->ctx, &cur);
        cur = nxt;
        nxt = (cn_tensor){0};
        in = &cur;
        if (st == CN_OK && pool_after[i]) {
            int k[2] = {2, 2}, s[2] = {2, 2}, p[2] = {0, 0};
            int64_t po[4] = {cur.shape[0], cur.shape[1], pool_out(cur.shape[2], 2, 2, 0),
                             pool_out(cur.shape[3], 2, 2, 0)};
            st = model_alloc(m, &nxt, 4, po);
            if (st == CN_OK)
                st = ENQ(m, cn_maxpool2d(m->ctx, k, s, p, &cur, &nxt));
            cn_tensor_release(m->ctx, &cur);
            cur = nxt;
            nxt = (cn_tensor){0};
        }
    }
    /* N x 512 x 6 x 4 read as N x 12288 in (c, h, w) order: the first
     * embedding's columns were permuted at load to match */
    int64_t flat[2] = {logmel->shape[0], 512 * 6 * 4};
    if (st == CN_OK)
        st = cn_tensor_reshape(&cur, 2, flat);
    static const int emb[3] = {0, 2, 4};
    for (int i = 0; st == CN_OK && i < 3; i++) {
        cn_unit *u;
        st = unit_find(m, &u, "audio.embeddings.%d", emb[i]);
        int64_t o[2] = {logmel->shape[0], u ? u->co : 0};
        if (st == CN_OK)
            st = model_alloc(m, &nxt, 2, o);
        if (st == CN_OK)
            st = unit_linear(m, u, &cur, 1, &nxt);
        cn_tensor_release(m->ctx, &cur);
        cur = nxt;
        nxt = (cn_tensor){0};
    }
    if (st != CN_OK) {
        cn_tensor_release(m->ctx, &cur);
        return st;
    }
    *fa = cur;
    return CN_OK;
}
