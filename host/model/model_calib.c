/* BatchNorm folding into device form, and the calibration that makes random weights behave like trained ones. */
#include "model/model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fewer values per channel than this give no usable spread: pool over channels. */
#define CALIB_MIN_COUNT 16
/* A channel's variance is floored at this fraction of the layer's mean variance,
 * so a channel that happened to be (almost) constant on the calibration clip is
 * not amplified a thousandfold on other inputs. */
#define CALIB_VAR_FLOOR 0.1

/* Uploads float host values into t, rounded once to half where t is half. */
static int write_f(cn_model *m, const cn_tensor *t, const float *host)
{
    cn_tensor v = *t; /* the upload takes a non-const tensor; it only writes the buffer */
    return cn_tensor_upload(m->ctx, &v, host);
}

static int bn_params(const cn_weights *w, const cn_unit *u, cn_weight *p[4])
{
    static const char *f[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++)
        CN_TRY(cn_weights_find(w, &p[i], "%s.%s", u->bn, f[i]));
    return CN_OK;
}

/* wt of a transposed unit: its (Ci, Co, k) weight w as the stride-1
 * convolution it equals, (Co, Ci, k) with every kernel flipped, packed. */
static int upload_flipped(cn_model *m, cn_unit *u, const float *w)
{
    const cn_tensor *t = &u->w;
    const int64_t ci = t->shape[0], co = t->shape[1], n = cn_numel(t), ks = n / (ci * co);
    int64_t fs[5];
    memcpy(fs, t->shape, sizeof fs);
    fs[0] = co, fs[1] = ci;
    float *f = malloc((size_t)n * sizeof *f), *hp = malloc((size_t)cn_numel(&u->wt) * sizeof *hp);
    int st = f && hp ? CN_OK : cn_fail(CN_ERR_OOM, "out of host memory");
    for (int64_t c = 0; st == CN_OK && c < ci; c++)
        for (int64_t o = 0; o < co; o++)
            for (int64_t k = 0; k < ks; k++)
                f[(o * ci + c) * ks + k] = w[(c * co + o) * ks + ks - 1 - k];
    if (st == CN_OK)
        st = cn_conv_pack_of(m->ctx, t->ndim, fs, f, hp);
    if (st == CN_OK)
        st = write_f(m, &u->wt, hp);
    free(f);
    free(hp);
    return st;
}

int unit_upload(cn_model *m, cn_unit *u, const cn_weights *w)
{
    cn_weight *wt, *bias = NULL, *bn[4] = {0};
    CN_TRY(cn_weights_find(w, &wt, "%s.weight", u->key));
    if (u->kind == UNIT_PLAIN && u->has_bias)
        CN_TRY(cn_weights_find(w, &bias, "%s.bias", u->key));
    if (u->kind == UNIT_PRE_BN && u->has_bias)
        CN_TRY(cn_weights_find(w, &bias, "%s.bias", u->key));
    if (u->kind != UNIT_PLAIN)
        CN_TRY(bn_params(w, u, bn));
    int64_t n = wt->numel, per = n / (u->transposed ? wt->shape[0] : u->co);
    float *hw = malloc((size_t)n * sizeof *hw);
    double *s = malloc((size_t)(u->co > u->ci ? u->co : u->ci) * sizeof *s);
    float *hb = malloc((size_t)(u->co > u->ci ? u->co : u->ci) * 2 * sizeof *hb);
    int st = hw && s && hb ? CN_OK : cn_fail(CN_ERR_OOM, "out of host memory");
    if (st != CN_OK)
        goto done;
    int raw = u->calibrated == -1;
    if (u->kind == UNIT_POST_BN && !raw) {
        for (int64_t o = 0; o < u->co; o++) {
            s[o] = bn[0]->data[o] / sqrt((double)bn[3]->data[o] + u->eps);
            hb[o] = (float)(bn[1]->data[o] - bn[2]->data[o] * s[o]);
        }
        for (int64_t o = 0; o < u->co; o++)
            for (int64_t j = 0; j < per; j++)
                hw[o * per + j] = (float)(wt->data[o * per + j] * s[o]);
    } else if (u->permute_vggish) {
        /* PyTorch flattens N x 6 x 4 x 512 (h, w, c); our features are (c, h, w) */
        for (int64_t o = 0; o < u->co; o++)
            for (int c = 0; c < 512; c++)
                for (int hw_ = 0; hw_ < 24; hw_++)
                    hw[o * 12288 + c * 24 + hw_] = wt->data[o * 12288 + hw_ * 512 + c];
    } else {
        memcpy(hw, wt->data, (size_t)n * sizeof *hw);
    }
    if (!u->packed || u->transposed)
        st = write_f(m, &u->w, hw);
    if (st == CN_OK && u->packed) { /* w is a view of wp unless transposed */
        float *hp = malloc((size_t)cn_numel(&u->wp) * sizeof *hp); /* float, whatever wp stores */
        st = hp ? cn_conv_pack_of(m->ctx, u->w.ndim, u->w.shape, hw, hp) : cn_fail(CN_ERR_OOM, "out of host memory");
        if (st == CN_OK)
            st = write_f(m, &u->wp, hp);
        free(hp);
    }
    if (st == CN_OK && u->packed && u->transposed) /* the equivalent convolution's, for wt */
        st = upload_flipped(m, u, hw);
    if (st == CN_OK && u->has_bias && !(u->kind == UNIT_POST_BN && raw))
        st = write_f(m, &u->b, u->kind == UNIT_POST_BN ? hb : bias->data);
    if (st == CN_OK && u->kind == UNIT_PRE_BN) {
        for (int64_t c = 0; c < u->ci; c++) {
            double sc = bn[0]->data[c] / sqrt((double)bn[3]->data[c] + u->eps);
            hb[c] = (float)sc;
            hb[u->ci + c] = (float)(bn[1]->data[c] - bn[2]->data[c] * sc);
        }
        st = write_f(m, &u->ps, hb);
        if (st == CN_OK)
            st = write_f(m, &u->pt, hb + u->ci);
    }
done:
    free(hw);
    free(s);
    free(hb);
    return st;
}

static float *download(cn_model *m, const cn_tensor *t, int *st)
{
    float *h = malloc(cn_numel(t) ? (size_t)cn_numel(t) * sizeof *h : 1); /* floats on the host */
    if (!h) {
        *st = cn_fail(CN_ERR_OOM, "out of host memory");
        return NULL;
    }
    *st = cn_tensor_download(m->ctx, t, h);
    if (*st != CN_OK) {
        free(h);
        return NULL;
    }
    return h;
}

static int calib_bn_from(cn_model *m, cn_unit *u, const cn_tensor *t, int64_t c_off)
{
    int64_t C = u->kind == UNIT_PRE_BN ? u->ci : u->co, N = t->shape[0], Ct = t->shape[1];
    int64_t sp = cn_numel(t) / (N * Ct);
    cn_weight *bn[4];
    CN_TRY(bn_params(m->cal, u, bn));
    int st;
    float *h = download(m, t, &st);
    if (!h)
        return st;
    double cnt = (double)(N * sp), tot_m = 0, tot_q = 0, avg_var = 0;
    for (int64_t c = 0; c < C; c++) {
        double s1 = 0, s2 = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *p = h + (n * Ct + c_off + c) * sp;
            for (int64_t j = 0; j < sp; j++)
                s1 += p[j], s2 += (double)p[j] * p[j];
        }
        double mean = s1 / cnt, var = fmax(s2 / cnt - mean * mean, 0);
        bn[2]->data[c] = (float)mean;
        bn[3]->data[c] = (float)var;
        tot_m += s1;
        tot_q += s2;
        avg_var += var / (double)C;
    }
    free(h);
    double pm = tot_m / (cnt * C), pv = fmax(tot_q / (cnt * C) - pm * pm, 0);
    for (int64_t c = 0; c < C; c++) {
        if (cnt < CALIB_MIN_COUNT) {
            bn[2]->data[c] = (float)pm;
            bn[3]->data[c] = (float)pv;
        } else if (bn[3]->data[c] < CALIB_VAR_FLOOR * avg_var) {
            bn[3]->data[c] = (float)(CALIB_VAR_FLOOR * avg_var);
        }
        if (!(bn[3]->data[c] > 0))
            bn[3]->data[c] = 1.0f; /* an all-zero input: any positive variance normalises it */
    }
    u->calibrated = 1;
    return unit_upload(m, u, m->cal);
}

static int calib_moments(cn_model *m, const cn_tensor *t, double *mean, double *var)
{
    int st;
    float *h = download(m, t, &st);
    if (!h)
        return st;
    int64_t n = cn_numel(t);
    double s1 = 0, s2 = 0;
    for (int64_t j = 0; j < n; j++)
        s1 += h[j], s2 += (double)h[j] * h[j];
    free(h);
    *mean = s1 / (double)n;
    *var = fmax(s2 / (double)n - *mean * *mean, 0);
    return CN_OK;
}

/* Uploads the unit's unfolded host weight and runs a->x through it with no
 * bias, pre-activation or ReLU into a->y (what its BatchNorm, or the head's
 * scaling, sees). The unit is left marked as not yet calibrated. */
static int unit_conv_raw(cn_model *m, cn_unit *u, const cn_conv_args *a, int dims)
{
    cn_conv_args raw = *a;
    raw.w = &u->w;
    raw.w_packed = u->packed ? &u->wp : NULL; /* unit_upload repacks the raw weights too */
    raw.bias = NULL;
    raw.pre_scale = raw.pre_shift = NULL;
    raw.pre_relu = raw.relu = 0;
    u->calibrated = -1; /* unit_upload: raw weights */
    CN_TRY(unit_upload(m, u, m->cal));
    return dims == 2 ? cn_conv2d(m->ctx, &raw) : cn_conv3d(m->ctx, &raw);
}

/* Moments of out(A) = s_l * u'_c over all (n, c, l), from s (N, L) and u' (N, C). */
static int rank1_moments(cn_model *m, const cn_tensor *s, const cn_tensor *up, double *var)
{
    int64_t N = s->shape[0], L = s->shape[1], C = up->shape[1];
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

/* Scales avim.{i}.out.weight so that its residual s_l * (W u) has res_scale x
 * std(V): a->x is u, a->y receives W u with the raw weight, v and s from src. */
static int calib_out(cn_model *m, cn_unit *uo, const cn_conv_args *a, const calib_src *src)
{
    cn_tensor w = uo->w;
    int64_t s2[2] = {uo->co, uo->ci};
    CN_TRY(cn_tensor_reshape(&w, 2, s2));
    CN_TRY(cn_linear(m->ctx, a->x, &w, NULL, 0, a->y));
    double var_o, mv, var_v;
    CN_TRY(rank1_moments(m, src->s, a->y, &var_o));
    CN_TRY(calib_moments(m, src->v, &mv, &var_v));
    double k = m->res_scale * sqrt(var_v) / fmax(sqrt(var_o), 1e-12);
    cn_weight *wt;
    CN_TRY(cn_weights_find(m->cal, &wt, "%s.weight", uo->key));
    for (int64_t j = 0; j < wt->numel; j++)
        wt->data[j] = (float)(wt->data[j] * k);
    uo->calibrated = 1;
    return unit_upload(m, uo, m->cal);
}

/* Scales and shifts the head so the logits have mean 0 and std head_std. */
static int calib_head(cn_model *m, cn_unit *u, const cn_conv_args *a, int dims)
{
    CN_TRY(unit_conv_raw(m, u, a, dims));
    double mean, var;
    CN_TRY(calib_moments(m, a->y, &mean, &var));
    double s = m->head_std / fmax(sqrt(var), 1e-12);
    cn_weight *w, *b;
    CN_TRY(cn_weights_find(m->cal, &w, "%s.weight", u->key));
    CN_TRY(cn_weights_find(m->cal, &b, "%s.bias", u->key));
    for (int64_t j = 0; j < w->numel; j++)
        w->data[j] = (float)(w->data[j] * s);
    b->data[0] = (float)(-mean * s);
    u->calibrated = 1;
    return unit_upload(m, u, m->cal);
}

/* One pooled value per clip says nothing about spread: the BN's statistics
 * come from the same conv over every position of the unpooled input. */
static int calib_pooled(cn_model *m, cn_unit *u, const cn_tensor *unpooled, int dims)
{
    int st;
    cn_tensor raw = {0};
    cn_conv_args a = {0};
    int64_t o[5];
    a.x = unpooled;
    TRY_DONE(unit_out_shape(u, &a, dims, o));
    TRY_DONE(model_alloc(m, &raw, dims == 2 ? 4 : 5, o));
    a.y = &raw;
    TRY_DONE(unit_conv_raw(m, u, &a, dims));
    TRY_DONE(calib_bn_from(m, u, &raw, 0));
done:
    cn_tensor_release(m->ctx, &raw);
    return st;
}

int calib_unit(cn_model *m, cn_unit *u, const cn_conv_args *a, int dims, const calib_src *src)
{
    if (!m->cal || u->calibrated)
        return CN_OK;
    if (src && src->v)
        return calib_out(m, u, a, src);
    if (u->head)
        return calib_head(m, u, a, dims);
    if (u->kind == UNIT_PLAIN)
        return CN_OK;
    if (src && src->unpooled)
        return calib_pooled(m, u, src->unpooled, dims);
    if (u->kind == UNIT_PRE_BN)
        return calib_bn_from(m, u, a->x, a->x_c_off);
    /* the BN's input is this conv's raw output: run it unfolded first */
    CN_TRY(unit_conv_raw(m, u, a, dims));
    return calib_bn_from(m, u, a->y, a->y_c_off);
}

int cn_model_calibrate(cn_model *m, cn_weights *w, const cn_tensor *clip, const cn_tensor *logmel,
                       const cn_calib_opts *o)
{
    if (strcmp(w->variant, m->variant) != 0)
        return cn_fail(CN_ERR_ARG, "calibration weights are variant %s, the model is %s",
                       w->variant, m->variant);
    m->cal = w;
    m->res_scale = o && o->res_scale > 0 ? o->res_scale : 0.1;
    m->head_std = o && o->head_std > 0 ? o->head_std : 0.5;
    for (int i = 0; i < m->nu; i++)
        m->u[i].calibrated = 0;
    cn_tensor sal = {0};
    cn_forward_opts fo = {0};
    int st = cn_model_forward(m, clip, logmel, &fo, &sal);
    cn_tensor_release(m->ctx, &sal);
    for (int i = 0; st == CN_OK && i < m->nu; i++)
        if (m->u[i].kind != UNIT_PLAIN && m->u[i].calibrated != 1)
            st = cn_fail(CN_ERR_ARG, "calibration never reached layer '%s'", m->u[i].key);
    if (st == CN_OK)
        st = cn_ctx_finish(m->ctx);
    m->cal = NULL;
    return st;
}
