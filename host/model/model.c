/* The model on the device: units with folded weights in one allocation, the forward pass in order, FLOP counting. */
#include "model/model_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Derives the units from the weight keys: every ".weight" that is not a
 * BatchNorm's is a unit; its BatchNorm is found by the spec's naming. */
static int build_units(cn_model *m, const cn_weights *w)
{
    m->u = calloc((size_t)w->count, sizeof *m->u);
    if (!m->u)
        return cn_fail(CN_ERR_OOM, "out of host memory");
    for (int i = 0; i < w->count; i++) {
        const cn_weight *t = &w->w[i];
        if (!ends_with(t->name, ".weight"))
            continue;
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(strlen(t->name) - 7), t->name);
        if (ends_with(key, ".bn") || ends_with(key, ".bn_s") || ends_with(key, ".bn_t"))
            continue;
        cn_unit *u = &m->u[m->nu++];
        snprintf(u->key, sizeof u->key, "%s", key);
        u->transposed = strncmp(key, "cpc.theta", 9) == 0;
        u->permute_vggish = strcmp(key, "audio.embeddings.0") == 0;
        u->head = strcmp(key, "dec.1.head") == 0;
        u->co = u->transposed ? t->shape[1] : t->shape[0];
        u->ci = u->transposed ? t->shape[0] : t->shape[1];
        char bn[72] = "";
        if (ends_with(key, ".conv_s") || ends_with(key, ".conv_t"))
            snprintf(bn, sizeof bn, "%.*s.bn_%c", (int)(strlen(key) - 7), key, key[strlen(key) - 1]);
        else if (ends_with(key, ".conv"))
            snprintf(bn, sizeof bn, "%.*s.bn", (int)(strlen(key) - 5), key);
        char probe[96];
        snprintf(probe, sizeof probe, "%s.weight", bn);
        if (bn[0] && cn_weights_get(w, probe)) {
            snprintf(u->bn, sizeof u->bn, "%s", bn);
            u->kind = strncmp(key, "dec.", 4) == 0 ? UNIT_PRE_BN : UNIT_POST_BN;
            u->eps = strncmp(key, "video.", 6) == 0 ? 1e-3f : 1e-5f;
        }
        snprintf(probe, sizeof probe, "%s.bias", key);
        u->has_bias = u->kind == UNIT_POST_BN || cn_weights_get(w, probe) != NULL;
    }
    return CN_OK;
}

/* A view of n elements of `dtype` at *off in the block (pass 2; pass 1 only
 * advances *off). */
static int sub_tensor(cn_model *m, cn_tensor *t, uint64_t *off, uint64_t align, cn_dtype dtype,
                      int64_t n, int ndim, const int64_t *shape)
{
    uint64_t bytes = (uint64_t)n * cn_dtype_size(dtype);
    if (m->block) {
        cl_buffer_region r = {(size_t)*off, (size_t)bytes};
        cl_int err;
        cl_mem s = clCreateSubBuffer(m->block, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &r, &err);
        CN_TRY(CN_CL_ERR(err, "clCreateSubBuffer(weights)"));
        m->subs[m->nsubs++] = s;
        cn_tensor_wrap(t, s, (size_t)bytes, ndim, shape);
        t->dtype = dtype;
    }
    *off += (bytes + align - 1) / align * align;
    return CN_OK;
}

/* Lays the units out in the block: pass 1 (block NULL) sizes it, pass 2 makes
 * views. Weights are stored in the model's dtype; biases and the pre-BN
 * scale and shift stay float (a channel's worth each, and added after the
 * products, where their rounding would count fully). */
static int layout(cn_model *m, const cn_weights *w, uint64_t align, uint64_t *total)
{
    uint64_t off = 0;
    for (int i = 0; i < m->nu; i++) {
        cn_unit *u = &m->u[i];
        char name[80];
        snprintf(name, sizeof name, "%s.weight", u->key);
        const cn_weight *t = cn_weights_get(w, name);
        int64_t taps = 1, ps[3];
        for (int d = 2; d < t->ndim; d++)
            taps *= t->shape[d];
        /* a transposed unit (CPC's theta) keeps its plain weight and, when
         * packed in one block for the im2col variant, a packed copy that its
         * adjoint (cn_conv3d on the same weight) reads */
        u->packed = t->ndim >= 4 && taps > 1 &&
                    (!u->transposed || cn_conv_pack_whole_of(m->ctx, t->ndim, t->shape));
        if (u->packed && !u->transposed) {
            /* every conv of such a unit reads wp, so w is only a view with the
             * plain shape over wp's buffer (not a second copy of the weights) */
            CN_TRY(cn_conv_pack_shape_of(m->ctx, t->ndim, t->shape, ps));
            CN_TRY(sub_tensor(m, &u->wp, &off, align, m->dtype, ps[0] * ps[1] * ps[2], 3, ps));
            if (m->block) {
                cn_tensor_wrap(&u->w, u->wp.buf, (size_t)t->numel * cn_dtype_size(m->dtype),
                               t->ndim, t->shape);
                u->w.dtype = m->dtype;
            }
        } else {
            CN_TRY(sub_tensor(m, &u->w, &off, align, m->dtype, t->numel, t->ndim, t->shape));
            if (u->packed) {
                CN_TRY(cn_conv_pack_shape_of(m->ctx, t->ndim, t->shape, ps));
                CN_TRY(sub_tensor(m, &u->wp, &off, align, m->dtype, ps[0] * ps[1] * ps[2], 3, ps));
                int64_t fs[5];
                memcpy(fs, t->shape, sizeof fs);
                fs[0] = t->shape[1], fs[1] = t->shape[0];
                CN_TRY(cn_conv_pack_shape_of(m->ctx, t->ndim, fs, ps));
                CN_TRY(sub_tensor(m, &u->wt, &off, align, m->dtype, ps[0] * ps[1] * ps[2], 3, ps));
            }
        }
        if (u->has_bias)
            CN_TRY(sub_tensor(m, &u->b, &off, align, CN_F32, u->co, 1, &u->co));
        if (u->kind == UNIT_PRE_BN) {
            CN_TRY(sub_tensor(m, &u->ps, &off, align, CN_F32, u->ci, 1, &u->ci));
            CN_TRY(sub_tensor(m, &u->pt, &off, align, CN_F32, u->ci, 1, &u->ci));
        }
    }
    *total = off;
    return CN_OK;
}

int cn_model_create(cn_ctx *ctx, const cn_weights *w, cn_model **out)
{
    return cn_model_create_as(ctx, w, CN_F32, out);
}

int cn_model_create_as(cn_ctx *ctx, const cn_weights *w, cn_dtype dtype, cn_model **out)
{
    *out = NULL;
    if (dtype != CN_F32 && dtype != CN_F16)
        return cn_fail(CN_ERR_ARG, "model storage dtype %d is neither CN_F32 nor CN_F16",
                       (int)dtype);
    cn_model *m = calloc(1, sizeof *m);
    if (!m)
        return cn_fail(CN_ERR_OOM, "out of host memory");
    m->ctx = ctx;
    m->dtype = dtype;
    snprintf(m->variant, sizeof m->variant, "%s", w->variant);
    m->av = strcmp(w->variant, "av") == 0;
    cl_uint align_bits = 1024;
    uint64_t align, total = 0;
    int st;
    /* the context's tuning, looked up once, before the weights are packed for it */
    TRY_DONE(cn_tuning_ensure(ctx));
    TRY_DONE(build_units(m, w));
    TRY_DONE(CN_CL(clGetDeviceInfo(cn_ctx_device(ctx)->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN,
                                   sizeof align_bits, &align_bits, NULL)));
    align = align_bits / 8 < 64 ? 64 : align_bits / 8;
    TRY_DONE(layout(m, w, align, &total));
    m->subs = calloc((size_t)m->nu * 6, sizeof *m->subs); /* w, b, ps, pt, wp, wt at most */
    if (!m->subs)
        TRY_DONE(cn_fail(CN_ERR_OOM, "out of host memory"));
    st = cn_buffer_create(ctx, (size_t)total, &m->block);
    if (st != CN_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", cn_last_error());
        TRY_DONE(cn_fail(st, "cannot allocate %.1f MiB of device memory for the weights: %s",
                         (double)total / (1 << 20), why));
    }
    m->block_bytes = total;
    TRY_DONE(layout(m, w, align, &total));
    for (int i = 0; i < m->nu; i++)
        TRY_DONE(unit_upload(m, &m->u[i], w));
    TRY_DONE(cn_ctx_finish(ctx));
done:
    if (st != CN_OK) {
        cn_model_destroy(m); /* the model's block and views are its only device memory */
        return st;
    }
    *out = m;
    return CN_OK;
}

int model_create_shapes(cn_ctx *ctx, const char *variant, cn_model **out)
{
    *out = NULL;
    cn_spec_key *keys;
    int nk, st = CN_OK;
    CN_TRY(cn_spec_keys(variant, &keys, &nk));
    cn_weights w = {0};
    snprintf(w.variant, sizeof w.variant, "%s", variant);
    w.count = nk;
    w.w = calloc((size_t)nk, sizeof *w.w);
    cn_model *m = calloc(1, sizeof *m);
    if (!w.w || !m) {
        st = cn_fail(CN_ERR_OOM, "out of host memory");
        goto done;
    }
    for (int i = 0; i < nk; i++) {
        snprintf(w.w[i].name, sizeof w.w[i].name, "%s", keys[i].name);
        w.w[i].ndim = keys[i].ndim;
        memcpy(w.w[i].shape, keys[i].shape, sizeof keys[i].shape);
    }
    m->ctx = ctx;
    snprintf(m->variant, sizeof m->variant, "%s", variant);
    m->av = strcmp(variant, "av") == 0;
    TRY_DONE(build_units(m, &w));
    /* shape rules borrow a buffer but read nothing: one small one serves all */
    m->block_bytes = 64;
    TRY_DONE(cn_buffer_create(ctx, (size_t)m->block_bytes, &m->block));
    for (int i = 0; i < m->nu; i++) {
        cn_unit *u = &m->u[i];
        char name[80];
        snprintf(name, sizeof name, "%s.weight", u->key);
        const cn_weight *t = cn_weights_get(&w, name);
        int64_t taps = 1;
        for (int d = 2; d < t->ndim; d++)
            taps *= t->shape[d];
        u->packed = t->ndim >= 4 && taps > 1 &&
                    (!u->transposed || cn_conv_pack_whole_of(ctx, t->ndim, t->shape));
        cn_tensor_wrap(&u->w, m->block, 0, t->ndim, t->shape);
        cn_tensor_wrap(&u->wp, m->block, 0, t->ndim, t->shape);
        cn_tensor_wrap(&u->wt, m->block, 0, t->ndim, t->shape);
        cn_tensor_wrap(&u->b, m->block, 0, 1, &u->co);
        cn_tensor_wrap(&u->ps, m->block, 0, 1, &u->ci);
        cn_tensor_wrap(&u->pt, m->block, 0, 1, &u->ci);
    }
done:
    free(w.w);
    free(keys);
    if (st != CN_OK) {
        cn_model_destroy(m);
        return st;
    }
    *out = m;
    return CN_OK;
}

void cn_model_destroy(cn_model *m)
{
    if (!m)
        return;
    free(m->rec);
    for (int i = 0; i < m->nsubs; i++)
        clReleaseMemObject(m->subs[i]);
    if (m->block)
        cn_buffer_release(m->ctx, m->block, (size_t)m->block_bytes);
    free(m->subs);
    free(m->u);
    free(m);
}

const char *cn_model_variant(const cn_model *m) { return m->variant; }
cn_dtype cn_model_dtype(const cn_model *m) { return m->dtype; }
uint64_t cn_model_weight_bytes(const cn_model *m) { return m->block_bytes; }

int unit_find(cn_model *m, cn_unit **out, const char *fmt, ...)
{
    char key[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    for (int i = 0; i < m->nu; i++)
        if (strcmp(m->u[i].key, key) == 0) {
            *out = &m->u[i];
            return CN_OK;
        }
    *out = NULL;
    return cn_fail(CN_ERR_MISMATCH, "model has no layer '%s' (variant %s)", key, m->variant);
}

void model_count(cn_model *m, double flops)
{
    m->flops[m->module] += flops;
    if (m->group >= 0)
        m->gflops[m->group] += flops;
}

void model_group(cn_model *m, int mod, int stage)
{
    const char *name = cn_spec_group(mod, stage);
    m->module = mod;
    m->group = -1;
    for (int i = 0; i < m->ngroup; i++)
        if (strcmp(m->gname[i], name) == 0)
            m->group = i;
    if (m->group < 0 && m->ngroup < 32) {
        m->group = m->ngroup++;
        m->gname[m->group] = name;
        m->gflops[m->group] = 0;
    }
    if (!m->dry)
        cn_prof_group(m->ctx, name);
}

int model_alloc_as(cn_model *m, cn_tensor *t, cn_dtype dtype, int ndim, const int64_t *shape)
{
    if (m->dry) { /* a view of nothing: only the shape matters */
        cn_tensor_wrap(t, NULL, 0, ndim, shape);
        t->dtype = dtype;
        return CN_OK;
    }
    return cn_tensor_alloc_as(m->ctx, t, dtype, ndim, shape);
}

/* Activations take the model's storage when they are feature maps: 4 or 5
 * dims, several channels and several positions. The rest stays float in
 * every precision: per-clip vectors (audio features, pooled means, keys,
 * attention scores; a few KiB, and sums over whole maps), and one-channel
 * maps (the logits and the saliency map, where a half rounding would land
 * directly in the output). */
int model_alloc(cn_model *m, cn_tensor *t, int ndim, const int64_t *shape)
{
    int64_t pos = 1;
    for (int d = 2; d < ndim; d++)
        pos *= shape[d];
    const int map = ndim >= 4 && shape[1] > 1 && pos > 1;
    return model_alloc_as(m, t, map ? m->dtype : CN_F32, ndim, shape);
}

int model_alloc5(cn_model *m, cn_tensor *t, int64_t n, int64_t c, int64_t d, int64_t h, int64_t w)
{
    int64_t s[5] = {n, c, d, h, w};
    return model_alloc(m, t, 5, s);
}

int model_tap(cn_model *m, const char *name, const cn_tensor *t)
{
    if (m->dry || !m->opts || !m->opts->tap)
        return CN_OK;
    return m->opts->tap(m->opts->tap_user, name, t);
}

static double conv_flops(const cn_unit *u, const cn_tensor *y, int64_t co)
{
    int64_t k = 1;
    for (int d = 2; d < u->w.ndim; d++)
        k *= u->w.shape[d];
    return 2.0 * (double)u->ci * (double)k * (double)cn_numel(y) / (double)y->shape[1] * (double)co;
}

int unit_out_shape(const cn_unit *u, const cn_conv_args *a, int dims, int64_t *out)
{
    cn_conv_args p = *a;
    cn_tensor x = *a->x;
    /* the rule reads no data: a dry run's view of nothing borrows the weight's buffer */
    if (!x.buf)
        x.buf = u->w.buf;
    p.x = &x;
    p.w = &u->w;
    if (u->transposed)
        return cn_conv_transpose3d_out_shape(&p, out);
    if (dims == 2)
        return cn_conv2d_out_shape(&p, out);
    /* The rule is separable by axis, and cn_conv3d_out_shape keeps tensors to
     * 32-bit indices, which a dry run (cn_model_flops) of a large clip exceeds:
     * each axis comes from a probe of one clip with the needed channels, that
     * axis of x, and the kernel's dilated extent on the other two. */
    int64_t ps[5] = {1, a->x_c_off + u->ci, 0, 0, 0}, o[5];
    out[0] = x.shape[0];
    out[1] = u->co;
    for (int d = 0; d < 3; d++) {
        for (int j = 0; j < 3; j++)
            ps[2 + j] = j == d ? x.shape[2 + j]
                               : (a->dil[j] ? a->dil[j] : 1) * (u->w.shape[2 + j] - 1) + 1;
        cn_tensor probe;
        cn_tensor_wrap(&probe, x.buf, 0, 5, ps);
        p.x = &probe;
        CN_TRY(cn_conv3d_out_shape(&p, o));
        out[2 + d] = o[2 + d];
    }
    return CN_OK;
}

int model_pool_shape(cn_model *m, const cn_tensor *x, int dims, const int *k, const int *s,
                     const int *p, int64_t *out)
{
    /* as in unit_out_shape: one probe per axis keeps dry runs of large clips
     * inside the op's 32-bit index range; it borrows the weights' buffer (the
     * rule reads no data) */
    int sp = dims == 2 ? 2 : 3;
    int64_t ps[5] = {1, 1, 0, 0, 0}, o[5];
    out[0] = x->shape[0];
    out[1] = x->shape[1];
    for (int d = 0; d < sp; d++) {
        for (int j = 0; j < sp; j++)
            ps[2 + j] = j == d ? x->shape[2 + j] : k[j];
        cn_tensor probe;
        cn_tensor_wrap(&probe, m->block, 0, sp + 2, ps);
        CN_TRY(sp == 2 ? cn_maxpool2d_out_shape(&probe, k, s, p, o)
                       : cn_maxpool3d_out_shape(&probe, k, s, p, o));
        out[2 + d] = o[2 + d];
    }
    return CN_OK;
}

int unit_conv_src(cn_model *m, cn_unit *u, cn_conv_args *a, int dims, const calib_src *src)
{
    a->w = &u->w;
    a->w_packed = u->packed ? (u->transposed ? &u->wt : &u->wp) : NULL;
    a->bias = u->has_bias ? &u->b : NULL;
    if (u->kind == UNIT_PRE_BN) {
        a->pre_scale = &u->ps;
        a->pre_shift = &u->pt;
        a->pre_relu = 1;
    }
    if (u->kind == UNIT_POST_BN)
        a->relu = 1;
    if (!a->tag)
        a->tag = u->key;
    model_count(m, conv_flops(u, a->y, u->co));
    if (m->dry)
        return model_record_conv(m, u, a, dims, 0);
    CN_TRY(calib_unit(m, u, a, dims, src));
    if (u->transposed)
        return cn_conv_transpose3d(m->ctx, a);
    return dims == 2 ? cn_conv2d(m->ctx, a) : cn_conv3d(m->ctx, a);
}

int unit_conv(cn_model *m, cn_unit *u, cn_conv_args *a, int dims)
{
    return unit_conv_src(m, u, a, dims, NULL);
}

int unit_conv_new(cn_model *m, cn_unit *u, cn_conv_args *a, int dims, cn_tensor *y)
{
    int64_t o[5];
    CN_TRY(unit_out_shape(u, a, dims, o));
    CN_TRY(model_alloc(m, y, dims == 2 ? 4 : 5, o));
    a->y = y;
    int st = unit_conv(m, u, a, dims);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, y);
    return st;
}

int unit_conv_weight_only(cn_model *m, cn_unit *u, cn_conv_args *a)
{
    a->w = &u->w;
    a->w_packed = u->packed ? &u->wp : NULL;
    a->bias = NULL;
    if (!a->tag)
        a->tag = u->key;
    /* the adjoint maps C_out(theta) back to C_in(theta) */
    model_count(m, 2.0 * (double)u->co * 27.0 * (double)cn_numel(a->y));
    if (m->dry)
        return model_record_conv(m, u, a, 3, 1);
    return cn_conv3d(m->ctx, a);
}

int unit_linear(cn_model *m, cn_unit *u, const cn_tensor *x, int relu, cn_tensor *y)
{
    cn_tensor w = u->w;
    int64_t s2[2] = {u->co, u->ci};
    CN_TRY(cn_tensor_reshape(&w, 2, s2));
    model_count(m, 2.0 * (double)u->co * (double)u->ci * (double)x->shape[0]);
    if (m->dry)
        return model_record_gemm(m, &(cn_gemm_desc){.trans_b = 1, .M = x->shape[0], .N = u->co,
                                                     .K = u->ci, .alpha = 1.0f, .lda = u->ci,
                                                     .ldb = u->ci, .ldc = u->co, .tag = u->key});
    return cn_linear(m->ctx, x, &w, u->has_bias ? &u->b : NULL, relu, y);
}

int unit_matvec(cn_model *m, cn_unit *u, const cn_tensor *x, int bias, const calib_src *src,
                cn_tensor *y)
{
    cn_tensor w = u->w;
    int64_t s2[2] = {u->co, u->ci};
    CN_TRY(cn_tensor_reshape(&w, 2, s2));
    if (m->dry)
        return model_record_gemm(m, &(cn_gemm_desc){.trans_b = 1, .M = x->shape[0], .N = u->co,
                                                     .K = u->ci, .alpha = 1.0f, .lda = u->ci,
                                                     .ldb = u->ci, .ldc = u->co, .tag = u->key});
    cn_conv_args a = {0};
    a.x = x;
    a.y = y;
    CN_TRY(calib_unit(m, u, &a, 2, src));
    return cn_linear(m->ctx, x, &w, bias ? &u->b : NULL, 0, y);
}

static int check_inputs(cn_model *m, const cn_tensor *clip, const cn_tensor *logmel)
{
    char s[96];
    if (clip->ndim != 5 || clip->shape[1] != 3 || clip->shape[2] != CN_SPEC_CLIP_T || clip->shape[0] < 1)
        return cn_fail(CN_ERR_SHAPE, "clip must be N x 3 x 16 x H x W, got %s",
                       cn_shape_str(clip, s, sizeof s));
    int64_t H = clip->shape[3], W = clip->shape[4];
    if (H < 32 || W < 32 || H % 32 || W % 32)
        return cn_fail(CN_ERR_SHAPE, "clip height and width must be positive multiples of 32, got %lld x %lld",
                       (long long)H, (long long)W);
    if (m->av) {
        if (!logmel)
            return cn_fail(CN_ERR_ARG, "variant av needs a log-mel input (N x 1 x 96 x 64)");
        if (logmel->ndim != 4 || logmel->shape[0] != clip->shape[0] || logmel->shape[1] != 1 ||
            logmel->shape[2] != CN_SPEC_MEL_T || logmel->shape[3] != CN_SPEC_MEL_F)
            return cn_fail(CN_ERR_SHAPE, "log-mel must be %lld x 1 x 96 x 64 to match the clip, got %s",
                           (long long)clip->shape[0], cn_shape_str(logmel, s, sizeof s));
    }
    return CN_OK;
}

_Static_assert(CN_MOD_COUNT == 6, "cn_model_flops reports six modules");

static int forward(cn_model *m, const cn_tensor *clip, const cn_tensor *logmel, cn_tensor *sal)
{
    cn_tensor X[4] = {{0}}, V[4] = {{0}}, F[4] = {{0}}, fa = {0}, f4p = {0};
    static const char *xn[4] = {"X1", "X2", "X3", "X4"}, *vn[4] = {"V1", "V2", "V3", "V4"},
                      *fn[4] = {"F1", "F2", "F3", "F4"};
    int st = CN_OK;
    // clip (N, 3, 16, H, W)
    model_group(m, CN_MOD_VIDEO, 1);
    TRY_DONE(model_s3d(m, clip, X)); // X1..X4 (N, 192|480|832|1024, 8|8|4|2, H/4|8|16|32, W/..)
    for (int i = 0; i < 4; i++)
        TRY_DONE(model_tap(m, xn[i], &X[i]));
    if (m->av) {
        model_group(m, CN_MOD_AUDIO, 0);
        TRY_DONE(model_vggish(m, logmel, &fa)); // (N, 128)
        TRY_DONE(model_tap(m, "fA", &fa));
    }
    /* each stage's encoder output dies as soon as its AVIM has read it */
    for (int i = 0; i < 4; i++) {
        st = model_avim(m, i + 1, &X[i], m->av ? &fa : NULL, &V[i], &F[i]); // (N, 256, T_i, h_i, w_i)
        cn_tensor_release(m->ctx, &X[i]);
        if (st != CN_OK)
            goto done;
        if (!m->av)
            V[i] = (cn_tensor){0}; /* F[i] is the same tensor: held (and released) once */
        TRY_DONE(model_tap(m, vn[i], m->av ? &V[i] : &F[i]));
        if (m->av) {
            TRY_DONE(model_tap(m, fn[i], &F[i]));
            cn_tensor_release(m->ctx, &V[i]);
        }
    }
    if (!m->av)
        for (int i = 0; i < 4; i++)
            TRY_DONE(model_tap(m, fn[i], &F[i]));
    if (m->av) {
        model_group(m, CN_MOD_CPC, 0);
        TRY_DONE(model_cpc(m, &F[3], &fa, &f4p)); // (N, 256, 2, H/32, W/32)
        cn_tensor_release(m->ctx, &F[3]);
        F[3] = f4p;
        f4p = (cn_tensor){0};
    }
    TRY_DONE(model_tap(m, "F4p", &F[3]));
    cn_tensor_release(m->ctx, &fa);
    model_group(m, CN_MOD_DEC, 4);
    TRY_DONE(model_decoder(m, F, (int)clip->shape[3], (int)clip->shape[4], sal)); // (N, 1, H, W)
    TRY_DONE(model_tap(m, "sal", sal));
done:
    for (int i = 0; i < 4; i++) {
        cn_tensor_release(m->ctx, &X[i]);
        cn_tensor_release(m->ctx, &V[i]);
        cn_tensor_release(m->ctx, &F[i]);
    }
    cn_tensor_release(m->ctx, &fa);
    cn_tensor_release(m->ctx, &f4p);
    if (st != CN_OK)
        cn_tensor_release(m->ctx, sal);
    return st;
}

int cn_model_forward(cn_model *m, const cn_tensor *clip, const cn_tensor *logmel,
                     const cn_forward_opts *o, cn_tensor *sal)
{
    static const cn_forward_opts defaults = {0};
    *sal = (cn_tensor){0};
    CN_TRY(check_inputs(m, clip, logmel));
    if (o && o->attention != CN_ATTENTION_LINEAR && o->attention != CN_ATTENTION_QUADRATIC)
        return cn_fail(CN_ERR_ARG, "unknown attention mode %d", (int)o->attention);
    m->opts = o ? o : &defaults;
    memset(m->flops, 0, sizeof m->flops);
    m->ngroup = 0;
    m->group = -1;
    int st = forward(m, clip, logmel, sal);
    if (!m->dry)
        cn_prof_group(m->ctx, NULL);
    m->opts = NULL;
    return st;
}

int cn_model_groups(const cn_model *m, const char *const **names, const double **gflop)
{
    *names = m->gname;
    *gflop = m->gflops;
    return m->ngroup;
}

int cn_model_flops(cn_model *m, int N, int H, int W, int literal, double *total,
                   double per_module[CN_MOD_COUNT])
{
    cn_tensor clip = {0}, mel = {0}, sal = {0};
    int64_t cs[5] = {N, 3, 16, H, W}, ms[4] = {N, 1, 96, 64};
    /* shapes only: tensors are views of no buffer, nothing is allocated or run */
    cn_tensor_wrap(&clip, NULL, 0, 5, cs);
    cn_tensor_wrap(&mel, NULL, 0, 4, ms);
    m->dry = 1;
    cn_forward_opts o = {0};
    o.general_attention = literal;
    int st = cn_model_forward(m, &clip, m->av ? &mel : NULL, &o, &sal);
    m->dry = 0;
    cn_tensor_release(m->ctx, &sal);
    if (st != CN_OK)
        return st;
    *total = 0;
    for (int i = 0; i < CN_MOD_COUNT; i++) {
        *total += m->flops[i] * 1e-9;
        if (per_module)
            per_module[i] = m->flops[i] * 1e-9;
    }
    return CN_OK;
}
