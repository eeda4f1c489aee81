/* The tuner's measurements: a model problem set up on the device with seeded random operands, run under the context's tuning, checked (the reference against a double computation on sampled outputs, candidates against the reference) and timed with profiling events. */
#include "ops/tuning_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv3d.h"
#include "runtime/half.h"

#define HALF_U 0x1p-11 /* half's unit roundoff */

/* ---- set-up ------------------------------------------------------------------------------ */

static float urand(uint64_t *s, float lo, float hi)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17; /* xorshift64 */
    return lo + (hi - lo) * (float)((*s >> 40) * (1.0 / 16777216.0));
}

static float *rand_host(uint64_t *s, int64_t n, float lo, float hi)
{
    float *h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
    for (int64_t i = 0; h && i < n; i++)
        h[i] = urand(s, lo, hi);
    return h;
}

/* A device tensor of dtype dt holding seeded random values, with its host
 * copy (rounded to half for a half tensor: what the device holds). */
static int rand_tensor(cn_ctx *ctx, uint64_t *s, cn_dtype dt, int nd, const int64_t *shape,
                       float lo, float hi, cn_tensor *t, float **host)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= shape[i];
    *host = rand_host(s, n, lo, hi);
    if (!*host)
        return cn_fail(CN_ERR_OOM, "tuner: out of host memory");
    if (dt == CN_F16)
        cn_f16_round_n(*host, (size_t)n);
    return cn_tensor_from_host_as(ctx, t, dt, nd, shape, *host);
}

/* Elements from a strided-batched matrix's first to one past its last. */
static int64_t extent(int64_t rows, int64_t cols, int64_t ld, int64_t off, int64_t batch,
                      int64_t stride)
{
    return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

int tune_inst_create(cn_ctx *ctx, const cn_tune_problem *p, uint64_t seed, cn_dtype dt,
                     tune_inst *in)
{
    memset(in, 0, sizeof *in);
    in->p = p;
    in->dt = dt;
    uint64_t s = seed | 1;
    if (p->op == CN_TP_GEMM) {
        const cn_gemm_desc *d = &p->g;
        const int64_t nb = d->batch > 0 ? d->batch : 1;
        const int64_t na = extent(d->trans_a ? d->K : d->M, d->trans_a ? d->M : d->K, d->lda,
                                  d->off_a, nb, d->stride_a);
        const int64_t nbb = extent(d->trans_b ? d->N : d->K, d->trans_b ? d->K : d->N, d->ldb,
                                   d->off_b, nb, d->stride_b);
        in->ny = extent(d->M, d->N, d->ldc, d->off_c, nb, d->stride_c);
        const float sb = (float)(1.0 / sqrt((double)(d->K > 0 ? d->K : 1)));
        CN_TRY(rand_tensor(ctx, &s, dt, 1, &na, -1, 1, &in->x, &in->hx));
        CN_TRY(rand_tensor(ctx, &s, dt, 1, &nbb, -sb, sb, &in->w, &in->hw));
        CN_TRY(rand_tensor(ctx, &s, dt, 1, &in->ny, -1, 1, &in->y0, &in->hy0));
        CN_TRY(cn_tensor_alloc_as(ctx, &in->y, dt, 1, &in->ny));
    } else {
        const int two = p->op == CN_TP_CONV2D, nd = two ? 4 : 5, tr = p->op == CN_TP_TCONV;
        const int64_t xs[5] = {p->N, p->Cx, p->T, p->H, p->W};
        const int64_t ys[5] = {p->N, p->Cy, p->To, p->Ho, p->Wo};
        const int64_t rs[5] = {p->N, p->Co, p->To, p->Ho, p->Wo};
        int64_t ws[5] = {tr ? p->Ci : p->Co, tr ? p->Co : p->Ci, p->k[0], p->k[1], p->k[2]};
        int64_t x4[4] = {p->N, p->Cx, p->H, p->W}, y4[4] = {p->N, p->Cy, p->Ho, p->Wo};
        int64_t w4[4] = {ws[0], ws[1], p->k[1], p->k[2]}, r4[4] = {p->N, p->Co, p->Ho, p->Wo};
        const int64_t taps = (int64_t)p->k[0] * p->k[1] * p->k[2];
        const float sw = (float)(1.0 / sqrt((double)(tr ? p->Co : p->Ci) * (double)taps));
        CN_TRY(rand_tensor(ctx, &s, dt, nd, two ? x4 : xs, -1, 1, &in->x, &in->hx));
        CN_TRY(rand_tensor(ctx, &s, dt, nd, two ? w4 : ws, -sw, sw, &in->w, &in->hw));
        CN_TRY(rand_tensor(ctx, &s, CN_F32, 1, (int64_t[]){p->Co}, -0.5f, 0.5f, &in->b, &in->hb));
        CN_TRY(rand_tensor(ctx, &s, CN_F32, 1, (int64_t[]){p->Ci}, 0.5f, 1.5f, &in->ps, &in->hps));
        CN_TRY(rand_tensor(ctx, &s, CN_F32, 1, (int64_t[]){p->Ci}, -0.5f, 0.5f, &in->pt, &in->hpt));
        if (p->flags & CN_TPF_RES)
            CN_TRY(rand_tensor(ctx, &s, dt, nd, two ? r4 : rs, -1, 1, &in->res, &in->hres));
        if (p->flags & CN_TPF_Y_IS_X) {
            /* a dense block appends to the tensor it reads: y is x */
            in->ny = cn_numel(&in->x);
            CN_TRY(cn_tensor_from_host_as(ctx, &in->y0, dt, 1, &in->ny, in->hx));
            in->hy0 = malloc((size_t)in->ny * sizeof *in->hy0);
            if (!in->hy0)
                return cn_fail(CN_ERR_OOM, "tuner: out of host memory");
            memcpy(in->hy0, in->hx, (size_t)in->ny * sizeof *in->hy0);
        } else {
            CN_TRY(rand_tensor(ctx, &s, dt, nd, two ? y4 : ys, -1, 1, &in->y, &in->hy0));
            in->ny = cn_numel(&in->y);
            CN_TRY(cn_tensor_from_host_as(ctx, &in->y0, dt, 1, &in->ny, in->hy0));
        }
    }
    in->ref = malloc((size_t)in->ny * sizeof *in->ref);
    in->got = malloc((size_t)in->ny * sizeof *in->got);
    if (!in->ref || !in->got)
        return cn_fail(CN_ERR_OOM, "tuner: out of host memory (%lld floats)", (long long)in->ny);
    return CN_OK;
}

void tune_inst_destroy(cn_ctx *ctx, tune_inst *in)
{
    cn_tensor *ts[] = {&in->x, &in->w, &in->b, &in->ps, &in->pt, &in->res, &in->y, &in->y0};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        cn_tensor_release(ctx, ts[i]);
    for (int i = 0; i < in->npk; i++)
        cn_tensor_release(ctx, &in->pk[i]);
    float *hs[] = {in->hx, in->hw, in->hb, in->hps, in->hpt, in->hres, in->hy0, in->ref, in->got};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        free(hs[i]);
    memset(in, 0, sizeof *in);
}

/* ---- one run ------------------------------------------------------------------------------ */

/* The weight packed for the block the current tuning gives it, made on first
 * need; flip: a transposed convolution's (Ci, Co, k) weight as the stride-1
 * convolution it equals ((Co, Ci, k), kernels flipped), which the model
 * passes for CPC's theta under the im2col variant (host/model/model.c). */
static int packed_weight(cn_ctx *ctx, tune_inst *in, int flip, const cn_tensor **out)
{
    const cn_tensor *w = &in->w;
    int64_t ps[3], ws[5] = {1, 1, 1, 1, 1};
    memcpy(ws, w->shape, (size_t)w->ndim * sizeof ws[0]);
    if (flip)
        ws[0] = w->shape[1], ws[1] = w->shape[0];
    CN_TRY(cn_conv_pack_shape_of(ctx, w->ndim, ws, ps));
    for (int i = 0; i < in->npk; i++)
        if (in->pk[i].shape[2] == ps[2]) {
            *out = &in->pk[i];
            return CN_OK;
        }
    if (in->npk == TUNE_MAXPACK) { /* rare: drop the oldest */
        cn_tensor_release(ctx, &in->pk[0]);
        memmove(&in->pk[0], &in->pk[1], (TUNE_MAXPACK - 1) * sizeof in->pk[0]);
        in->npk--;
    }
    const int64_t nw = cn_numel(w), ks = nw / (ws[0] * ws[1]);
    float *hp = malloc((size_t)(ps[0] * ps[1] * ps[2]) * sizeof *hp);
    float *hf = flip ? malloc((size_t)nw * sizeof *hf) : NULL;
    if (!hp || (flip && !hf)) {
        free(hp), free(hf);
        return cn_fail(CN_ERR_OOM, "tuner: out of host memory");
    }
    for (int64_t c = 0; flip && c < ws[1]; c++)
        for (int64_t o = 0; o < ws[0]; o++)
            for (int64_t k = 0; k < ks; k++)
                hf[(o * ws[1] + c) * ks + k] = in->hw[(c * ws[0] + o) * ks + ks - 1 - k];
    int st = cn_conv_pack_of(ctx, w->ndim, ws, flip ? hf : in->hw, hp);
    free(hf);
    if (st == CN_OK)
        st = cn_tensor_from_host_as(ctx, &in->pk[in->npk], in->dt, 3, ps, hp);
    free(hp);
    CN_TRY(st);
    *out = &in->pk[in->npk++];
    return CN_OK;
}

int tune_inst_run(cn_ctx *ctx, tune_inst *in)
{
    const cn_tune_problem *p = in->p;
    if (p->op == CN_TP_GEMM) {
        cn_gemm_desc d = p->g;
        d.tag = "tune";
        d.a_type = d.b_type = d.c_type = in->dt;
        return cn_gemm(ctx, &d, in->x.buf, cn_tensor_bytes(&in->x), in->w.buf,
                       cn_tensor_bytes(&in->w), in->y.buf, cn_tensor_bytes(&in->y));
    }
    cn_conv_args a = {0};
    a.x = &in->x;
    a.w = &in->w;
    a.y = p->flags & CN_TPF_Y_IS_X ? &in->x : &in->y;
    a.bias = p->flags & CN_TPF_BIAS ? &in->b : NULL;
    if (p->flags & CN_TPF_PRE)
        a.pre_scale = &in->ps, a.pre_shift = &in->pt, a.pre_relu = 1;
    a.relu = (p->flags & CN_TPF_RELU) != 0;
    a.residual = p->flags & CN_TPF_RES ? &in->res : p->flags & CN_TPF_RES_INPLACE ? a.y : NULL;
    a.alpha = p->alpha;
    a.x_c_off = p->xoff, a.y_c_off = p->yoff;
    for (int i = 0; i < 3; i++)
        a.stride[i] = p->s[i], a.pad[i] = p->p[i], a.dil[i] = p->d[i], a.out_pad[i] = p->op_pad[i];
    a.tag = "tune";
    /* under the im2col variant the model packs every such weight in one
     * block, CPC's adjoints too (whatever the dry run that found the problem
     * was tuned for) */
    if (p->op != CN_TP_TCONV && ((p->flags & CN_TPF_PACKED) ||
                                 cn_conv_pack_whole_of(ctx, in->w.ndim, in->w.shape)))
        CN_TRY(packed_weight(ctx, in, 0, &a.w_packed));
    /* the stride-1 transposed conv's packed copy, read only by the im2col variant */
    if (p->op == CN_TP_TCONV && p->s[0] == 1 && p->s[1] == 1 && p->s[2] == 1 && in->w.ndim == 5)
        CN_TRY(packed_weight(ctx, in, 1, &a.w_packed));
    if (p->op == CN_TP_TCONV)
        return cn_conv_transpose3d(ctx, &a);
    return p->op == CN_TP_CONV2D ? cn_conv2d(ctx, &a) : cn_conv3d(ctx, &a);
}

/* Restores y's first content, runs once and downloads y into in->got;
 * *seconds: that run's device time (cold: an upper estimate). */
static int run_fresh(cn_ctx *ctx, tune_inst *in, double *seconds)
{
    cn_tensor *y = in->p->flags & CN_TPF_Y_IS_X ? &in->x : &in->y;
    CN_TRY(CN_CL(clEnqueueCopyBuffer(cn_ctx_queue(ctx), in->y0.buf, y->buf, 0, 0,
                                     cn_tensor_bytes(&in->y0), 0, NULL, NULL)));
    CN_TRY(tune_inst_run(ctx, in));
    CN_TRY(cn_tensor_download(ctx, y, in->got)); /* ny values, from half where y is */
    cn_prof_entry *pe = NULL;
    int np = 0;
    CN_TRY(cn_prof_collect(ctx, &pe, &np));
    *seconds = 0;
    for (int i = 0; i < np; i++)
        *seconds += pe[i].seconds;
    free(pe);
    return CN_OK;
}

/* ---- checks --------------------------------------------------------------------------------- */

/* Output element i of a convolution in double, and the size of what it sums. */
static double conv_at(const tune_inst *in, int64_t i, double *mag)
{
    const cn_tune_problem *p = in->p;
    const int64_t osp = (int64_t)p->To * p->Ho * p->Wo;
    const int64_t n = i / ((int64_t)p->Cy * osp), c = i / osp % p->Cy, o = i % osp;
    const int co = (int)c - p->yoff;
    const int oo[3] = {(int)(o / ((int64_t)p->Ho * p->Wo)), (int)(o / p->Wo % p->Ho),
                       (int)(o % p->Wo)};
    const int in3[3] = {p->T, p->H, p->W};
    const int tr = p->op == CN_TP_TCONV;
    double acc = 0, sa = 0;
    for (int ci = 0; ci < p->Ci; ci++)
        for (int kt = 0; kt < p->k[0]; kt++)
            for (int kh = 0; kh < p->k[1]; kh++)
                for (int kw = 0; kw < p->k[2]; kw++) {
                    const int kk[3] = {kt, kh, kw};
                    int ii[3], ok = 1;
                    for (int a = 0; a < 3 && ok; a++) {
                        if (tr) {
                            const int num = oo[a] + p->p[a] - kk[a] * p->d[a];
                            ok = num >= 0 && num % p->s[a] == 0 && num / p->s[a] < in3[a];
                            ii[a] = ok ? num / p->s[a] : 0;
                        } else {
                            ii[a] = oo[a] * p->s[a] - p->p[a] + kk[a] * p->d[a];
                            ok = ii[a] >= 0 && ii[a] < in3[a];
                        }
                    }
                    if (!ok)
                        continue;
                    double xv = in->hx[(((n * p->Cx + p->xoff + ci) * p->T + ii[0]) * p->H +
                                        ii[1]) * (int64_t)p->W + ii[2]];
                    if (p->flags & CN_TPF_PRE) {
                        xv = xv * in->hps[ci] + in->hpt[ci];
                        xv = xv > 0 ? xv : 0;
                    }
                    const int64_t wi = tr ? (int64_t)ci * p->Co + co : (int64_t)co * p->Ci + ci;
                    const double t = xv * in->hw[((wi * p->k[0] + kt) * p->k[1] + kh) * p->k[2] + kw];
                    acc += t, sa += fabs(t);
                }
    const double al = p->alpha != 0 ? p->alpha : 1;
    double v = al * (acc + (p->flags & CN_TPF_BIAS ? in->hb[co] : 0));
    double r = 0;
    if (p->flags & CN_TPF_RES)
        r = in->hres[(n * p->Co + co) * osp + o];
    else if (p->flags & CN_TPF_RES_INPLACE)
        r = in->hy0[i];
    v += r;
    if ((p->flags & CN_TPF_RELU) && v < 0)
        v = 0;
    *mag = fabs(al) * (sa + 0.5) + fabs(r);
    return v;
}

static double gemm_at(const tune_inst *in, int64_t i, int *inside, double *mag)
{
    const cn_gemm_desc *d = &in->p->g;
    const int64_t nb = d->batch > 0 ? d->batch : 1;
    const int64_t rel = i - d->off_c, b = d->stride_c ? rel / d->stride_c : 0;
    const int64_t r = rel - b * d->stride_c, m = r / d->ldc, nn = r % d->ldc;
    *inside = rel >= 0 && b < nb && m < d->M && nn < d->N;
    if (!*inside)
        return in->hy0[i];
    double acc = 0, sa = 0;
    for (int64_t k = 0; k < d->K; k++) {
        const float a = in->hx[d->off_a + b * d->stride_a + (d->trans_a ? k * d->lda + m : m * d->lda + k)];
        const float bb = in->hw[d->off_b + b * d->stride_b + (d->trans_b ? nn * d->ldb + k : k * d->ldb + nn)];
        acc += (double)a * bb, sa += fabs((double)a * bb);
    }
    *mag = fabs(d->alpha) * sa + fabs(d->beta * in->hy0[i]);
    return d->alpha * acc + (d->beta != 0 ? d->beta * in->hy0[i] : 0);
}

static int64_t kdepth(const cn_tune_problem *p)
{
    if (p->op == CN_TP_GEMM)
        return p->g.K > 0 ? p->g.K : 1;
    return (int64_t)p->Ci * p->k[0] * p->k[1] * p->k[2];
}

/* Whether y element i lies in the convolution's output window. */
static int in_window(const cn_tune_problem *p, int64_t i)
{
    const int64_t osp = (int64_t)p->To * p->Ho * p->Wo, c = i / osp % p->Cy;
    return c >= p->yoff && c < p->yoff + p->Co;
}

int tune_inst_reference(cn_ctx *ctx, tune_inst *in, char *why, size_t n)
{
    double secs;
    CN_TRY(run_fresh(ctx, in, &secs));
    memcpy(in->ref, in->got, (size_t)in->ny * sizeof *in->ref);
    const cn_tune_problem *p = in->p;
    const double sk = sqrt((double)kdepth(p));
    uint64_t s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)in->ny;
    in->refmax = 0;
    for (int64_t i = 0; i < in->ny; i++) {
        if (!isfinite(in->ref[i])) {
            snprintf(why, n, "the default configuration gives a non-finite value at %lld",
                     (long long)i);
            return 1;
        }
        in->refmax = fmax(in->refmax, fabs(in->ref[i]));
        /* outside the output window nothing may change */
        const int window = p->op == CN_TP_GEMM || in_window(p, i);
        if (!window && in->ref[i] != in->hy0[i]) {
            snprintf(why, n, "the default configuration wrote outside the output window (%lld)",
                     (long long)i);
            return 1;
        }
    }
    for (int t = 0; t < 96; t++) {
        int64_t i = (int64_t)(urand(&s, 0, 1) * (float)in->ny);
        i = i < in->ny ? i : in->ny - 1;
        double mag = 0, want;
        int inside = 1;
        if (p->op == CN_TP_GEMM)
            want = gemm_at(in, i, &inside, &mag);
        else if (!in_window(p, i))
            continue;
        else
            want = conv_at(in, i, &mag);
        /* float32 sums of K terms in any order: well inside 2e-6 sqrt(K) of their size;
         * half storage adds at most two roundings (a pointwise conv's GEMM,
         * then its bias pass) of values no larger than that size */
        const double tol = 2e-6 * sk * mag + 1e-6 +
                           (in->dt == CN_F16 ? 2 * HALF_U * (mag + fabs(want)) : 0);
        if (fabs(in->ref[i] - want) > tol) {
            snprintf(why, n, "the default configuration is wrong at element %lld: %.7g, the "
                     "double computation %.7g (tolerance %.2g)", (long long)i, in->ref[i], want, tol);
            return 1;
        }
    }
    return CN_OK;
}

int tune_inst_check(cn_ctx *ctx, tune_inst *in, char *why, size_t n, double *seconds)
{
    CN_TRY(run_fresh(ctx, in, seconds));
    /* another summation order moves each value by float32 rounding only:
     * far below one product term, which a wrong tap or channel would be */
    const double tol = 5e-6 * sqrt((double)kdepth(in->p)) * (in->refmax > 1 ? in->refmax : 1);
    /* half outputs: each of the two is within two roundings of its float
     * value (the first of a value at most |y| + |alpha bias|, bias < 0.5) */
    const double al = in->p->alpha != 0 ? fabs(in->p->alpha) : 1;
    const double hu = in->dt == CN_F16 ? HALF_U : 0;
    for (int64_t i = 0; i < in->ny; i++) {
        const double e = fabs((double)in->got[i] - in->ref[i]);
        const double big = fmax(fabs((double)in->got[i]), fabs((double)in->ref[i]));
        if (!(e <= tol + hu * (4 * big + al + 0x1p-12))) {
            snprintf(why, n, "wrong output: element %lld is %.7g, the default gives %.7g "
                     "(tolerance %.2g)", (long long)i, in->got[i], in->ref[i], tol);
            return 1;
        }
    }
    return CN_OK;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int tune_inst_time(cn_ctx *ctx, tune_inst *in, int reps, double *median)
{
    double t[32];
    reps = reps < 1 ? 1 : reps > 32 ? 32 : reps;
    for (int r = 0; r < reps; r++) {
        CN_TRY(tune_inst_run(ctx, in));
        cn_prof_entry *pe = NULL;
        int np = 0;
        CN_TRY(cn_prof_collect(ctx, &pe, &np));
        t[r] = 0;
        for (int i = 0; i < np; i++)
            t[r] += pe[i].seconds;
        free(pe);
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    *median = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    return CN_OK;
}
