/* Host launchers for cl/conv3d.cl: conv3d and conv2d (a conv3d with T = kT = 1), shape validation shared with the transposed convolution. */
#include "ops/conv3d.h"
#include "ops/gemm.h"
#include "ops/tuning.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults measured on PoCL 3.1 (2-core AVX-512 EPYC) on the whole model at
 * 16 x 224 x 384 with `caspnet bench --conv-tuning` (bench/README.md): one
 * output row and 32 channels per work-item beat the kernel's own defaults
 * (2 rows, 16 channels; 3.36 s per clip) by 17% (2.80 s); a second sweep
 * with packed weights kept them (bench/README.md, 19:14 UTC). Since conv_row's
 * register loops are unrolled (cl/conv3d.cl), 16 channels per work-item (16
 * zmm accumulators, the x vector and the broadcast weight fit AVX-512's 32
 * registers) run the S3D 1x3x3/3x1x1/stem convs 1.9x faster than 32 on both
 * CPU implementations (bench_conv --quick --packed, bench/README.md). No GPU
 * has been measured: 16 x 16 accumulators per work-item may spill there, which
 * is why GPUs run cl/conv_tiled.cl by default (host/ops/conv_tiled.c). */
#define CONV_DEFAULT_OPTS "-DVW=16 -DP_RM=32 -DP_NV=1 -DR_RM=16 -DR_NR=1 -DR_NV=1"

/* The context's tuning (its CN_OPS_CONV slot; absent means the defaults).
 * The launch geometry reads the tile sizes back from the string (opt_int),
 * with fallbacks equal to the kernel's own defaults. */
typedef struct conv_state {
    char opts[512];
    int set;                                 /* opts came from cn_conv_set_tuning */
    cn_conv_tiled_cache tiled[CN_CONV_TILED_CACHE_]; /* host/ops/conv_tiled.c */
    int next_tiled;                          /* the entry to reuse next */
} conv_state;

int cn_conv_set_tuning(cn_ctx *ctx, const char *options)
{
    if (!ctx)
        return cn_fail(CN_ERR_ARG, "conv tuning: no context");
    if (!options || !*options)
        return cn_ctx_set_op_state(ctx, CN_OPS_CONV, NULL, NULL);
    if (strlen(options) >= sizeof ((conv_state *)0)->opts)
        return cn_fail(CN_ERR_ARG, "conv tuning: option string longer than %zu bytes",
                       sizeof ((conv_state *)0)->opts - 1);
    conv_state *s = cn_ctx_op_state(ctx, CN_OPS_CONV);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return cn_fail(CN_ERR_OOM, "conv tuning: out of host memory");
        CN_TRY(cn_ctx_set_op_state(ctx, CN_OPS_CONV, s, free));
    }
    strcpy(s->opts, options);
    s->set = 1;
    return CN_OK;
}

cn_conv_tiled_cache *cn_conv_tiled_cache_(cn_ctx *ctx, const char *key)
{
    conv_state *s = cn_ctx_op_state(ctx, CN_OPS_CONV);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return NULL;
        strcpy(s->opts, CONV_DEFAULT_OPTS);
        if (cn_ctx_set_op_state(ctx, CN_OPS_CONV, s, free) != CN_OK)
            return NULL;
    }
    for (int i = 0; i < CN_CONV_TILED_CACHE_; i++)
        if (s->tiled[i].checked && strcmp(s->tiled[i].key, key) == 0)
            return &s->tiled[i];
    cn_conv_tiled_cache *c = &s->tiled[s->next_tiled];
    s->next_tiled = (s->next_tiled + 1) % CN_CONV_TILED_CACHE_;
    memset(c, 0, sizeof *c);
    return c;
}

const char *cn_conv_tuning(const cn_ctx *ctx)
{
    const conv_state *s = cn_ctx_op_state(ctx, CN_OPS_CONV);
    return s ? s->opts : CONV_DEFAULT_OPTS;
}

/* The one place the per-class tuning (host/ops/tuning.c) comes in: a
 * string set with cn_conv_set_tuning rules the whole context, else the
 * string of the convolution's shape class, else the defaults. */
const char *cn_conv_opts_(const cn_ctx *ctx, const cn_conv_geom *g)
{
    const conv_state *s = cn_ctx_op_state(ctx, CN_OPS_CONV);
    if (s && s->set)
        return s->opts;
    const char *t = g ? cn_tuning_conv_opts(ctx, g->k, g->s, g->d) : NULL;
    return t ? t : CONV_DEFAULT_OPTS;
}

/* A -D value of the tuning string, so that the NDRange always matches the
 * tiles the program was built with; `def` must equal the kernel default. */
static int opt_int(const char *opts, const char *name, int def)
{
    char key[32];
    snprintf(key, sizeof key, "-D%s=", name);
    const char *p = strstr(opts, key);
    if (!p)
        return def;
    int v = 0;
    if (sscanf(p + strlen(key), "%d", &v) != 1 || v < 1)
        return def;
    return v;
}


static int check_vec(const char *op, const cn_tensor *t, const char *name, int64_t len)
{
    if (!t)
        return CN_OK;
    char s[96];
    if (!t->buf)
        return cn_fail(CN_ERR_ARG, "%s: %s is empty", op, name);
    if (t->ndim != 1 || t->shape[0] != len)
        return cn_fail(CN_ERR_SHAPE, "%s: %s is %s but must be (%lld)", op, name,
                       cn_shape_str(t, s, sizeof s), (long long)len);
    return CN_OK;
}

static int fits_int(const cn_tensor *t) { return cn_numel(t) <= INT_MAX; }

int cn_conv_prepare_(const char *op, const cn_conv_args *a, int mode, int full, cn_conv_geom *g)
{
    char s1[96], s2[96], s3[96];
    memset(g, 0, sizeof *g);
    if (!a || !a->x || !a->w || !a->x->buf || !a->w->buf)
        return cn_fail(CN_ERR_ARG, "%s: x and w are required", op);
    const cn_tensor *x = a->x, *w = a->w;
    const int nd = mode == 1 ? 4 : 5, sp0 = mode == 1 ? 1 : 0; /* first spatial axis used */
    if (x->ndim != nd || w->ndim != nd)
        return cn_fail(CN_ERR_SHAPE, "%s: x %s and w %s must have %d dims", op,
                       cn_shape_str(x, s1, sizeof s1), cn_shape_str(w, s2, sizeof s2), nd);
    if ((x->dtype != CN_F32 && x->dtype != CN_F16) || (w->dtype != CN_F32 && w->dtype != CN_F16))
        return cn_fail(CN_ERR_UNSUPPORTED, "%s: x (%s) and w (%s) must be float32 or float16", op,
                       cn_dtype_name(x->dtype), cn_dtype_name(w->dtype));
    if (!fits_int(x) || !fits_int(w))
        return cn_fail(CN_ERR_SHAPE, "%s: x %s or w %s exceeds the 32-bit index range", op,
                       cn_shape_str(x, s1, sizeof s1), cn_shape_str(w, s2, sizeof s2));
    for (int i = sp0; i < 3; i++) {
        if (a->stride[i] < 0 || a->pad[i] < 0 || a->dil[i] < 0 || a->out_pad[i] < 0)
            return cn_fail(CN_ERR_ARG, "%s: negative stride, pad, dilation or output padding "
                           "on axis %d", op, i);
        if (a->stride[i] > 65535 || a->pad[i] > 65535 || a->dil[i] > 65535 ||
            a->out_pad[i] > 65535)
            return cn_fail(CN_ERR_ARG, "%s: stride, pad, dilation or output padding above "
                           "65535 on axis %d", op, i);
        if (mode != 2 && a->out_pad[i] != 0)
            return cn_fail(CN_ERR_ARG, "%s: out_pad is for transposed convolutions only", op);
    }
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, out[3];
    for (int i = sp0; i < 3; i++) {
        in[i] = x->shape[2 + i - sp0];
        k[i] = w->shape[2 + i - sp0];
        g->s[i] = a->stride[i] ? a->stride[i] : 1;
        g->d[i] = a->dil[i] ? a->dil[i] : 1;
        g->p[i] = a->pad[i];
        g->op[i] = a->out_pad[i];
    }
    for (int i = 0; i < sp0; i++)
        g->s[i] = g->d[i] = 1;
    const int64_t N = x->shape[0], Cx = x->shape[1];
    const int64_t Ci = mode == 2 ? w->shape[0] : w->shape[1];
    const int64_t Co = mode == 2 ? w->shape[1] : w->shape[0];
    if (N < 1 || Ci < 1 || Co < 1 || k[0] < 1 || k[1] < 1 || k[2] < 1 || in[0] < 1 ||
        in[1] < 1 || in[2] < 1)
        return cn_fail(CN_ERR_SHAPE, "%s: empty x %s or w %s", op, cn_shape_str(x, s1, sizeof s1),
                       cn_shape_str(w, s2, sizeof s2));
    if (a->x_c_off < 0 || a->y_c_off < 0)
        return cn_fail(CN_ERR_ARG, "%s: negative channel offset (x_c_off %lld, y_c_off %lld)", op,
                       (long long)a->x_c_off, (long long)a->y_c_off);
    if (a->x_c_off + Ci > Cx)
        return cn_fail(CN_ERR_SHAPE, "%s: w %s needs %lld input channels from offset %lld but x "
                       "%s has %lld", op, cn_shape_str(w, s2, sizeof s2), (long long)Ci,
                       (long long)a->x_c_off, cn_shape_str(x, s1, sizeof s1), (long long)Cx);
    for (int i = sp0; i < 3; i++) {
        const int64_t span = (int64_t)g->d[i] * (k[i] - 1);
        if (mode == 2) {
            if (g->op[i] >= g->s[i] && g->op[i] >= g->d[i])
                return cn_fail(CN_ERR_ARG, "%s: out_pad %d on axis %d must be smaller than the "
                               "stride (%d) or the dilation (%d)", op, g->op[i], i, g->s[i],
                               g->d[i]);
            out[i] = (in[i] - 1) * g->s[i] - 2 * (int64_t)g->p[i] + span + g->op[i] + 1;
        } else {
            const int64_t num = in[i] + 2 * (int64_t)g->p[i] - span - 1;
            out[i] = num < 0 ? 0 : num / g->s[i] + 1;
        }
        if (out[i] < 1 || out[i] > INT_MAX)
            return cn_fail(CN_ERR_SHAPE, "%s: x %s with w %s, stride %d, pad %d, dilation %d "
                           "gives an output size of %lld on axis %d", op,
                           cn_shape_str(x, s1, sizeof s1), cn_shape_str(w, s2, sizeof s2),
                           g->s[i], g->p[i], g->d[i], (long long)out[i], i);
    }
    for (int i = 0; i < sp0; i++)
        out[i] = 1;
    g->N = (int)N, g->Ci = (int)Ci, g->Co = (int)Co, g->Cx = (int)Cx, g->xoff = (int)a->x_c_off;
    g->T = (int)in[0], g->H = (int)in[1], g->W = (int)in[2];
    g->To = (int)out[0], g->Ho = (int)out[1], g->Wo = (int)out[2];
    for (int i = 0; i < 3; i++)
        g->k[i] = (int)k[i];
    g->alpha = a->alpha != 0.0f ? a->alpha : 1.0f;
    g->x = x->buf, g->w = w->buf;
    g->xt = x->dtype, g->wt = w->dtype;
    if (!full)
        return CN_OK;

    /* ---- output, bias, pre-activation, residual ---- */
    const cn_tensor *y = a->y;
    if (!y || !y->buf)
        return cn_fail(CN_ERR_ARG, "%s: y is required", op);
    if (y->dtype != CN_F32 && y->dtype != CN_F16)
        return cn_fail(CN_ERR_UNSUPPORTED, "%s: y (%s) must be float32 or float16", op,
                       cn_dtype_name(y->dtype));
    int ok = y->ndim == nd && y->shape[0] == N;
    for (int i = sp0; ok && i < 3; i++)
        ok = y->shape[2 + i - sp0] == out[i];
    if (!ok || a->y_c_off + Co > y->shape[1])
        return cn_fail(CN_ERR_SHAPE, "%s: y is %s but x %s with w %s gives %lld channels "
                       "(at offset %lld) of %lldx%lldx%lld", op, cn_shape_str(y, s1, sizeof s1),
                       cn_shape_str(x, s2, sizeof s2), cn_shape_str(w, s3, sizeof s3),
                       (long long)Co, (long long)a->y_c_off, (long long)out[0],
                       (long long)out[1], (long long)out[2]);
    if (!fits_int(y))
        return cn_fail(CN_ERR_SHAPE, "%s: y %s exceeds the 32-bit index range", op,
                       cn_shape_str(y, s1, sizeof s1));
    if (y->buf == x->buf) {
        /* only disjoint channel windows of one tensor: no element is both
         * read as input and written (a dense block appending to its input) */
        const int disjoint = a->x_c_off + Ci <= a->y_c_off || a->y_c_off + Co <= a->x_c_off;
        if (!cn_same_shape(x, y) || x->dtype != y->dtype || !disjoint)
            return cn_fail(CN_ERR_ARG, "%s: y shares x's buffer but is not the same tensor with "
                           "a channel window apart from x's (x %s channels %lld+%lld, y %s "
                           "channels %lld+%lld)", op, cn_shape_str(x, s1, sizeof s1),
                           (long long)a->x_c_off, (long long)Ci, cn_shape_str(y, s2, sizeof s2),
                           (long long)a->y_c_off, (long long)Co);
    }
    if (y->buf == w->buf)
        return cn_fail(CN_ERR_ARG, "%s: y must not alias w", op);
    CN_TRY(check_vec(op, a->bias, "bias", Co));
    CN_TRY(check_vec(op, a->pre_scale, "pre_scale", Ci));
    CN_TRY(check_vec(op, a->pre_shift, "pre_shift", Ci));
    const cn_tensor *vecs[3] = {a->bias, a->pre_scale, a->pre_shift};
    for (int i = 0; i < 3; i++)
        if (vecs[i] && vecs[i]->buf == y->buf)
            return cn_fail(CN_ERR_ARG, "%s: y must not alias bias or pre_scale/pre_shift", op);
    for (int i = 0; i < 3; i++)
        if (vecs[i] && vecs[i]->dtype != CN_F32)
            return cn_fail(CN_ERR_UNSUPPORTED, "%s: bias, pre_scale and pre_shift must be "
                           "float32 (they are added after the products)", op);
    g->Cy = (int)y->shape[1], g->yoff = (int)a->y_c_off;
    g->Cr = g->Cy, g->roff = g->yoff;
    if (a->residual) {
        const cn_tensor *r = a->residual;
        if (!r->buf)
            return cn_fail(CN_ERR_ARG, "%s: residual is empty", op);
        if (r->buf == y->buf) {
            /* in-place accumulation: each element is read by the work-item
             * that then writes it, so only the identical window is safe */
            if (r != y && (!cn_same_shape(r, y) || r->dtype != y->dtype))
                return cn_fail(CN_ERR_ARG, "%s: residual shares y's buffer but is %s, not y %s",
                               op, cn_shape_str(r, s1, sizeof s1), cn_shape_str(y, s2, sizeof s2));
        } else {
            ok = r->ndim == nd && r->shape[0] == N && r->shape[1] == Co;
            for (int i = sp0; ok && i < 3; i++)
                ok = r->shape[2 + i - sp0] == out[i];
            if (!ok)
                return cn_fail(CN_ERR_SHAPE, "%s: residual is %s but the output is %lldx%lld"
                               "x%lldx%lldx%lld", op, cn_shape_str(r, s1, sizeof s1),
                               (long long)N, (long long)Co, (long long)out[0],
                               (long long)out[1], (long long)out[2]);
            g->Cr = (int)Co, g->roff = 0;
        }
        if (r->dtype != CN_F32 && r->dtype != CN_F16)
            return cn_fail(CN_ERR_UNSUPPORTED, "%s: residual (%s) must be float32 or float16", op,
                           cn_dtype_name(r->dtype));
        g->res = r->buf;
        g->rt = r->dtype;
        g->flags |= F_RES;
    }
    if (a->bias)
        g->bias = a->bias->buf, g->flags |= F_BIAS;
    if (a->pre_scale)
        g->pscale = a->pre_scale->buf, g->flags |= F_PSCALE;
    if (a->pre_shift)
        g->pshift = a->pre_shift->buf, g->flags |= F_PSHIFT;
    if (a->pre_relu)
        g->flags |= F_PRELU;
    if (a->relu)
        g->flags |= F_RELU;
    g->y = y->buf;
    g->yt = y->dtype;
    return CN_OK;
}

const char *cn_conv_storage_opts_(const char *opts, const cn_conv_geom *g, char *buf, size_t n)
{
    snprintf(buf, n, "%s", opts);
    const cn_dtype t[4] = {g->xt, g->wt, (g->flags & F_RES) ? g->rt : CN_F32, g->yt};
    static const char *const names[4] = {"X_H", "W_H", "R_H", "Y_H"};
    for (int i = 0; i < 4; i++) {
        size_t o = strlen(buf);
        if (t[i] == CN_F16 && o < n)
            snprintf(buf + o, n - o, "%s-D%s=1", o ? " " : "", names[i]);
    }
    return buf;
}

static size_t pick_local(size_t rows, size_t cols)
{
    /* Work-items of a group run one after another on one core and share the
     * B panel in cache, so a group spans the output-channel blocks (up to
     * 16) of one column block, unless that leaves too few groups for both
     * cores. Powers of two only: PoCL compiles a kernel once per local size,
     * and the extra work-items past Co return at once. */
    size_t ly = 1;
    while (ly < rows && ly < 16)
        ly *= 2;
    while (ly > 1 && cols * ((rows + ly - 1) / ly) < 8)
        ly /= 2;
    return ly;
}

/* 1x1x1, stride 1, no padding: conv_pw, whose weight is always plain. */
static int is_pw(const cn_conv_geom *g)
{
    return g->k[0] == 1 && g->k[1] == 1 && g->k[2] == 1 && g->s[0] == 1 && g->s[1] == 1 &&
           g->s[2] == 1 && g->p[0] == 0 && g->p[1] == 0 && g->p[2] == 0 && g->To == g->T &&
           g->Ho == g->H && g->Wo == g->W;
}

int cn_conv_gemm_(cn_ctx *ctx, const cn_conv_geom *g, int wbase, const int ws[6],
                  const char *tag)
{
    const char *opts = cn_conv_opts_(ctx, g);
    int tiled;
    CN_TRY(cn_conv_tiled_pick_(ctx, g, &tiled));
    if (tiled)
        return cn_conv_tiled_(ctx, g, wbase, ws, opt_int(opts, "R_RM", 16), 0, tag);
    const int vw = opt_int(opts, "VW", 16);
    const int pw = is_pw(g);
    const int pre = (g->flags & (F_PSCALE | F_PSHIFT | F_PRELU)) != 0;
    char name[32], sopts[600];
    snprintf(name, sizeof name, "%s%s", pw ? "conv_pw" : "conv_row", pre ? "_pre" : "");
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "conv3d", cn_conv_storage_opts_(opts, g, sopts, sizeof sopts), name, &k));
    const int iargs[] = {g->Ci, g->Co, g->Cx, g->xoff, g->Cy, g->yoff, g->T, g->H, g->W,
                         g->To, g->Ho, g->Wo, g->k[0], g->k[1], g->k[2], g->s[0], g->s[1],
                         g->s[2], g->p[0], g->p[1], g->p[2], g->d[0], g->d[1], g->d[2]};
    cl_uint ai = 0;
    for (size_t i = 0; i < sizeof iargs / sizeof iargs[0]; i++, ai++)
        CN_TRY(CN_ARG(k, ai, iargs[i]));
    /* absent optional buffers are passed as x: the flags keep them unread */
    cl_mem bias = g->bias ? g->bias : g->x, ps = g->pscale ? g->pscale : g->x;
    cl_mem sh = g->pshift ? g->pshift : g->x, res = g->res ? g->res : g->x;
    CN_TRY(CN_ARG(k, ai, g->x)); ai++;
    CN_TRY(CN_ARG(k, ai, g->w)); ai++;
    CN_TRY(CN_ARG(k, ai, wbase)); ai++;
    for (int i = 0; i < 5; i++, ai++)
        CN_TRY(CN_ARG(k, ai, ws[i]));
    const int wsb = ws[5] ? ws[5] : opt_int(opts, "R_RM", 16) * ws[0];
    CN_TRY(CN_ARG(k, ai, wsb)); ai++;
    CN_TRY(CN_ARG(k, ai, bias)); ai++;
    CN_TRY(CN_ARG(k, ai, ps)); ai++;
    CN_TRY(CN_ARG(k, ai, sh)); ai++;
    CN_TRY(CN_ARG(k, ai, res)); ai++;
    CN_TRY(CN_ARG(k, ai, g->Cr)); ai++;
    CN_TRY(CN_ARG(k, ai, g->roff)); ai++;
    /* kT > 1: consecutive output planes share kT-1 input planes (measured:
     * 7x1x1 64->64 at 16x112x192 went from 62 to 77 GFLOP/s) */
    const int flags = g->flags | (!pw && g->k[0] > 1 && g->To > 1 ? F_TFAST : 0);
    CN_TRY(CN_ARG(k, ai, flags)); ai++;
    CN_TRY(CN_ARG(k, ai, g->alpha)); ai++;
    CN_TRY(CN_ARG(k, ai, g->y)); ai++;

    size_t gl[3], lo[3];
    if (pw) {
        const size_t tn = (size_t)vw * opt_int(opts, "P_NV", 2), rm = opt_int(opts, "P_RM", 16);
        const size_t L = (size_t)g->T * g->H * g->W;
        gl[0] = (L + tn - 1) / tn;
        gl[1] = (g->Co + rm - 1) / rm;
    } else {
        const size_t tw = (size_t)vw * opt_int(opts, "R_NV", 1), nr = opt_int(opts, "R_NR", 2);
        const size_t rm = opt_int(opts, "R_RM", 16);
        gl[0] = (size_t)g->To * ((g->Ho + nr - 1) / nr) * ((g->Wo + tw - 1) / tw);
        gl[1] = (g->Co + rm - 1) / rm;
    }
    gl[2] = (size_t)g->N;
    lo[0] = 1, lo[1] = pick_local(gl[1], gl[0] * gl[2]), lo[2] = 1;
    /* the kernels index by get_global_id only: safe to launch in pieces */
    const double flops = 2.0 * g->Ci * g->k[0] * g->k[1] * g->k[2] * (double)g->Co * g->To *
                         (double)g->Ho * g->Wo * g->N;
    return cn_launch_cost(ctx, k, tag, 3, gl, lo, flops);
}

int cn_conv_pack_block(const cn_ctx *ctx) { return opt_int(cn_conv_tuning(ctx), "R_RM", 16); }

/* The block a weight of kernel k and co output channels is packed in: R_RM
 * of the string its convolutions run with at stride and dilation 1 (that of
 * its pack class, which every class of that kernel shape takes R_RM from);
 * under -DCONV_VARIANT=im2col all co in one block, the (K, co) matrix that
 * host/ops/conv_im2col.c multiplies (the direct kernels read it too). */
static int pack_block_k(const cn_ctx *ctx, const int k[3], int64_t co)
{
    const cn_conv_geom g = {.k = {k[0], k[1], k[2]}, .s = {1, 1, 1}, .d = {1, 1, 1}};
    if (cn_conv_im2col_wanted_(ctx, &g) && co >= 1 && co <= INT_MAX)
        return (int)co;
    return opt_int(cn_conv_opts_(ctx, &g), "R_RM", 16);
}

static int kernel_of(int ndim, const int64_t *wshape, int k[3])
{
    if ((ndim != 4 && ndim != 5) || !wshape)
        return cn_fail(CN_ERR_ARG, "conv pack: a weight has 4 or 5 dims, not %d", ndim);
    k[0] = ndim == 5 ? (int)wshape[2] : 1;
    k[1] = (int)wshape[ndim - 2];
    k[2] = (int)wshape[ndim - 1];
    return CN_OK;
}

int cn_conv_pack_block_of(const cn_ctx *ctx, int ndim, const int64_t *wshape)
{
    int k[3] = {1, 1, 1};
    if (kernel_of(ndim, wshape, k) != CN_OK)
        return cn_conv_pack_block(ctx);
    return pack_block_k(ctx, k, wshape[0]);
}

int cn_conv_pack_whole_of(const cn_ctx *ctx, int ndim, const int64_t *wshape)
{
    int k[3] = {1, 1, 1};
    if ((ndim != 4 && ndim != 5) || !wshape || kernel_of(ndim, wshape, k) != CN_OK)
        return 0;
    const cn_conv_geom g = {.k = {k[0], k[1], k[2]}, .s = {1, 1, 1}, .d = {1, 1, 1}};
    return cn_conv_im2col_wanted_(ctx, &g);
}

static int pack_shape_r(int64_t r, int64_t co, int64_t ci, int64_t taps, int64_t shape[3])
{
    if (co < 1 || ci < 1 || taps < 1 || ci > INT_MAX / taps || (co + r - 1) / r > INT_MAX / (ci * taps * r))
        return cn_fail(CN_ERR_ARG, "conv pack: bad sizes (%lld, %lld, %lld taps)", (long long)co,
                       (long long)ci, (long long)taps);
    shape[0] = (co + r - 1) / r;
    shape[1] = ci * taps;
    shape[2] = r;
    return CN_OK;
}

static void pack_r(int64_t r, const float *w, int64_t co, int64_t ci, int64_t taps, float *out)
{
    const int64_t nb = (co + r - 1) / r;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t t = 0; t < taps; t++)
            for (int64_t c = 0; c < ci; c++) {
                float *o = out + ((b * taps + t) * ci + c) * r;
                for (int64_t i = 0; i < r; i++) {
                    const int64_t m = b * r + i;
                    o[i] = m < co ? w[(m * ci + c) * taps + t] : 0.0f;
                }
            }
}

int cn_conv_pack_shape(const cn_ctx *ctx, int64_t co, int64_t ci, int64_t taps,
                       int64_t shape[3])
{
    return pack_shape_r(cn_conv_pack_block(ctx), co, ci, taps, shape);
}

int cn_conv_pack(const cn_ctx *ctx, const float *w, int64_t co, int64_t ci, int64_t taps,
                 float *out)
{
    int64_t s[3];
    CN_TRY(cn_conv_pack_shape(ctx, co, ci, taps, s));
    pack_r(s[2], w, co, ci, taps, out);
    return CN_OK;
}

int cn_conv_pack_shape_of(const cn_ctx *ctx, int ndim, const int64_t *wshape, int64_t shape[3])
{
    int k[3] = {1, 1, 1};
    CN_TRY(kernel_of(ndim, wshape, k));
    return pack_shape_r(pack_block_k(ctx, k, wshape[0]), wshape[0], wshape[1], (int64_t)k[0] * k[1] * k[2],
                        shape);
}

int cn_conv_pack_of(const cn_ctx *ctx, int ndim, const int64_t *wshape, const float *w,
                    float *out)
{
    int64_t s[3] = {1, 1, 1};
    CN_TRY(cn_conv_pack_shape_of(ctx, ndim, wshape, s));
    pack_r(s[2], w, wshape[0], wshape[1], s[1] / wshape[1], out);
    return CN_OK;
}

/* A pointwise convolution without pre-activation is a GEMM per batch item:
 * y[n] (Co x L) = w (Co x Ci) x[n] (Ci x L), channel windows as offsets and
 * batch strides. cn_gemm's kernel is register-blocked and K-tiled for this
 * (measured on PoCL: 146 GFLOP/s on 256 x 43008 x 256 against conv_pw's
 * 69). An in-place residual is its beta = 1; bias and ReLU follow in one
 * pass over the window. */
static int pw_as_gemm(const cn_conv_geom *g)
{
    const int res_in_place = g->res == g->y && g->roff == g->yoff && g->Cr == g->Cy;
    return !(g->flags & (F_PSCALE | F_PSHIFT | F_PRELU)) && (!(g->flags & F_RES) || res_in_place);
}

static int conv_pw_gemm(cn_ctx *ctx, const cn_conv_args *a, const cn_conv_geom *g, const char *tag)
{
    const int64_t L = (int64_t)g->T * g->H * g->W;
    cn_gemm_desc d = {0};
    d.M = g->Co, d.N = L, d.K = g->Ci;
    d.alpha = g->alpha, d.beta = (g->flags & F_RES) ? 1.0f : 0.0f;
    d.lda = g->Ci, d.ldb = L, d.ldc = L;
    d.off_b = (int64_t)g->xoff * L, d.off_c = (int64_t)g->yoff * L;
    d.batch = g->N, d.stride_b = (int64_t)g->Cx * L, d.stride_c = (int64_t)g->Cy * L;
    d.tag = tag;
    d.a_type = g->wt, d.b_type = g->xt, d.c_type = g->yt;
    CN_TRY(cn_gemm(ctx, &d, g->w, cn_tensor_bytes(a->w), g->x, cn_tensor_bytes(a->x), g->y,
                   cn_tensor_bytes(a->y)));
    if (!(g->flags & (F_BIAS | F_RELU)))
        return CN_OK;
    cl_kernel k;
    char sopts[600];
    CN_TRY(cn_kernel(ctx, "conv3d", cn_conv_storage_opts_(cn_conv_opts_(ctx, g), g, sopts,
                                                          sizeof sopts), "conv_bias_act", &k));
    const int iL = (int)L, flags = g->flags & (F_BIAS | F_RELU);
    cl_mem bias = g->bias ? g->bias : g->y; /* unread without F_BIAS */
    CN_TRY(CN_ARG(k, 0, iL));
    CN_TRY(CN_ARG(k, 1, g->Co));
    CN_TRY(CN_ARG(k, 2, g->Cy));
    CN_TRY(CN_ARG(k, 3, g->yoff));
    CN_TRY(CN_ARG(k, 4, flags));
    CN_TRY(CN_ARG(k, 5, g->alpha));
    CN_TRY(CN_ARG(k, 6, bias));
    CN_TRY(CN_ARG(k, 7, g->y));
    size_t gl[3] = {((size_t)L + 15) / 16, (size_t)g->Co, (size_t)g->N}, lo[3] = {1, 1, 1};
    return cn_launch(ctx, k, tag, 3, gl, lo);
}

static int conv_direct(cn_ctx *ctx, const cn_conv_args *a, int mode)
{
    const char *op = mode == 1 ? "conv2d" : "conv3d";
    cn_conv_geom g;
    CN_TRY(cn_conv_prepare_(op, a, mode, 1, &g));
    int tiled; /* the tiled kernel runs pointwise convs too, epilogue fused */
    CN_TRY(cn_conv_tiled_pick_(ctx, &g, &tiled));
    if (!tiled && is_pw(&g) && pw_as_gemm(&g))
        return conv_pw_gemm(ctx, a, &g, a->tag ? a->tag : op);
    const int ks = g.k[0] * g.k[1] * g.k[2];
    int64_t ps[3] = {0, 0, 0};
    const cn_tensor *wp = a->w_packed;
    const int wp_ok = wp && !is_pw(&g) &&
                      pack_shape_r(pack_block_k(ctx, g.k, g.Co), g.Co, g.Ci, ks, ps) == CN_OK &&
                      wp->ndim == 3 && wp->shape[0] == ps[0] && wp->shape[1] == ps[1] &&
                      wp->shape[2] == ps[2] && wp->buf && (wp->dtype == CN_F32 || wp->dtype == CN_F16) &&
                      wp->cap >= cn_tensor_bytes(wp);
    /* a packed weight that matches must be read (the caller may hold no
     * other): im2col takes it only in its own one-block layout */
    const int whole = wp_ok && ps[0] == 1 && ps[2] == g.Co;
    if (!tiled && (!wp_ok || whole) && cn_conv_im2col_wanted_(ctx, &g)) {
        int done;
        CN_TRY(cn_conv_im2col_(ctx, &g, a, wp_ok ? wp : NULL, &done));
        if (done)
            return CN_OK;
    }
    if (wp_ok) {
        /* (block, tap, ci, i): the R_RM weights a work-item reads together are
         * adjacent; one block (im2col's layout) is R_RM-blocks R_RM apart */
        const int r = (int)ps[2], rc = r * g.Ci;
        const int ws[6] = {1, r, g.k[1] * g.k[2] * rc, g.k[2] * rc, rc, ps[0] == 1 ? 0 : ks * rc};
        g.w = wp->buf;
        g.wt = wp->dtype;
        return cn_conv_gemm_(ctx, &g, 0, ws, a->tag ? a->tag : op);
    }
    if (wp && wp->buf == a->w->buf)
        return cn_fail(CN_ERR_ARG, "%s: the weight is held only packed, for blocks of %lld output "
                       "channels, and the tuning now uses %d (%s): reload the weights after "
                       "changing the tuning", op, wp->ndim == 3 ? (long long)wp->shape[2] : -1LL,
                       pack_block_k(ctx, g.k, g.Co), a->tag ? a->tag : op);
    const int ws[6] = {g.Ci * ks, ks, g.k[1] * g.k[2], g.k[2], 1, 0};
    return cn_conv_gemm_(ctx, &g, 0, ws, a->tag ? a->tag : op);
}

int cn_conv3d(cn_ctx *ctx, const cn_conv_args *a) { return conv_direct(ctx, a, 0); }
int cn_conv2d(cn_ctx *ctx, const cn_conv_args *a) { return conv_direct(ctx, a, 1); }

static int out_shape(const char *op, const cn_conv_args *a, int mode, int64_t *out)
{
    cn_conv_geom g;
    CN_TRY(cn_conv_prepare_(op, a, mode, 0, &g));
    int i = 0;
    out[i++] = g.N;
    out[i++] = g.Co;
    if (mode != 1)
        out[i++] = g.To;
    out[i++] = g.Ho;
    out[i++] = g.Wo;
    return CN_OK;
}

int cn_conv3d_out_shape(const cn_conv_args *a, int64_t out[5])
{
    return out_shape("conv3d", a, 0, out);
}

int cn_conv2d_out_shape(const cn_conv_args *a, int64_t out[4])
{
    return out_shape("conv2d", a, 1, out);
}

int cn_conv_transpose3d_out_shape(const cn_conv_args *a, int64_t out[5])
{
    return out_shape("conv_transpose3d", a, 2, out);
}
