/* cn_gemm: validation and backend dispatch, the launcher of the own kernels (cl/gemm.cl). */
#include "ops/gemm.h"
#include "ops/tuning.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tuning ------------------------------------------------------------------ */

typedef struct gemm_tuning {
    int vw, nv, wm, local, tk, lm, ln, sk_rp, sk_pv; /* kernel macros (cl/gemm.cl) */
    int wgm, skinny;                          /* launch knobs */
} gemm_tuning;

static const struct {
    const char *name;
    size_t off;
    int lo, hi;
} tuning_fields[] = {
    {"GEMM_VW", offsetof(gemm_tuning, vw), 1, 16},
    {"GEMM_NV", offsetof(gemm_tuning, nv), 1, 8},
    {"GEMM_WM", offsetof(gemm_tuning, wm), 1, 16},
    {"GEMM_LOCAL", offsetof(gemm_tuning, local), 0, 1},
    {"GEMM_TK", offsetof(gemm_tuning, tk), 1, 256},
    {"GEMM_LM", offsetof(gemm_tuning, lm), 1, 64},
    {"GEMM_LN", offsetof(gemm_tuning, ln), 1, 64},
    {"GEMM_SK_RP", offsetof(gemm_tuning, sk_rp), 1, 16},
    {"GEMM_SK_PV", offsetof(gemm_tuning, sk_pv), 1, 8},
    {"GEMM_WGM", offsetof(gemm_tuning, wgm), 1, 256},
    {"GEMM_SKINNY", offsetof(gemm_tuning, skinny), 0, 64},
};
#define NFIELDS (sizeof tuning_fields / sizeof tuning_fields[0])

/* CPU defaults measured with bench/bench_gemm on PoCL 3.1, 2-core AVX-512
 * Xeon: 8 x 32 blocks (16 zmm accumulators) fed from global memory reach
 * ~150 GFLOP/s at 1024^3 where the local-memory variant reaches ~40 (its
 * barriers spill the accumulators); 6 x 32, 12 x 32, 4 x 64 and 8 x 48 blocks
 * were 5-15% slower, VW 8 half as fast. Products with min(M, N) <= 16 run
 * faster in the skinny kernels (N = 8: 22 vs 6 GFLOP/s; N = 32: 21 vs 110).
 * The GPU defaults (devices with real local memory: 64 x 64 tiles, 16 deep,
 * 8 x 8 groups of 8 x 8 blocks) are a conventional start, not measured. */
static gemm_tuning device_defaults(const cn_device_info *dev)
{
    cl_device_local_mem_type lt = CL_GLOBAL;
    clGetDeviceInfo(dev->device, CL_DEVICE_LOCAL_MEM_TYPE, sizeof lt, &lt, NULL);
    if (lt == CL_LOCAL)
        return (gemm_tuning){.vw = 4, .nv = 2, .wm = 8, .local = 1, .tk = 16, .lm = 8, .ln = 8,
                             .sk_rp = 4, .sk_pv = 4, .wgm = 1, .skinny = 8};
    return (gemm_tuning){.vw = 16, .nv = 2, .wm = 8, .local = 0, .tk = 32, .lm = 8, .ln = 8,
                         .sk_rp = 4, .sk_pv = 4, .wgm = 16, .skinny = 16};
}

/* Applies "-DNAME=value" tokens; unknown names and bad values are errors. */
static int apply_tuning(const char *s, gemm_tuning *t)
{
    while (s && *s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        char name[32];
        int v, used = 0;
        if (sscanf(s, "-D%31[A-Z_0-9]=%d%n", name, &v, &used) != 2 || (s[used] && s[used] != ' '))
            return cn_fail(CN_ERR_ARG, "gemm tuning: cannot parse '%s' (want -DNAME=integer)", s);
        size_t i = 0;
        while (i < NFIELDS && strcmp(tuning_fields[i].name, name) != 0)
            i++;
        if (i == NFIELDS)
            return cn_fail(CN_ERR_ARG, "gemm tuning: unknown macro %s", name);
        if (v < tuning_fields[i].lo || v > tuning_fields[i].hi)
            return cn_fail(CN_ERR_ARG, "gemm tuning: %s=%d outside [%d, %d]", name, v,
                           tuning_fields[i].lo, tuning_fields[i].hi);
        *(int *)((char *)t + tuning_fields[i].off) = v;
        s += used;
    }
    if (t->vw != 1 && t->vw != 2 && t->vw != 4 && t->vw != 8 && t->vw != 16)
        return cn_fail(CN_ERR_ARG, "gemm tuning: GEMM_VW=%d is not 1, 2, 4, 8 or 16", t->vw);
    return CN_OK;
}

cn_gemm_state *cn_gemm_state_(cn_ctx *ctx, int create)
{
    cn_gemm_state *s = cn_ctx_op_state(ctx, CN_OPS_GEMM);
    if (s || !create)
        return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    s->forced = CN_GEMM_AUTO;
    if (cn_ctx_set_op_state(ctx, CN_OPS_GEMM, s, free) != CN_OK) {
        free(s);
        return NULL;
    }
    return s;
}

int cn_gemm_set_tuning(cn_ctx *ctx, const char *options)
{
    if (!ctx)
        return cn_fail(CN_ERR_ARG, "gemm tuning: no context");
    if (!options)
        options = "";
    if (strlen(options) >= sizeof ((cn_gemm_state *)0)->tuning)
        return cn_fail(CN_ERR_ARG, "gemm tuning: option string longer than %zu bytes",
                       sizeof ((cn_gemm_state *)0)->tuning - 1);
    gemm_tuning t = {.vw = 16};
    CN_TRY(apply_tuning(options, &t));
    cn_gemm_state *s = cn_gemm_state_(ctx, *options != '\0');
    if (!s && *options)
        return cn_fail(CN_ERR_OOM, "gemm tuning: out of host memory");
    if (s)
        strcpy(s->tuning, options);
    return CN_OK;
}

/* Whether the device can run t's work-groups (and local tiles). */
static int check_limits(const cn_device_info *dev, const gemm_tuning *t)
{
    if (t->local) {
        size_t wg = (size_t)t->lm * t->ln;
        /* cl/gemm.cl pads each local row by one float (bank conflicts) */
        size_t lbytes =
            (size_t)t->tk * ((size_t)t->lm * t->wm + 1 + (size_t)t->ln * t->vw * t->nv + 1) * 4;
        if (wg > dev->max_wg || lbytes > dev->local_mem)
            return cn_fail(CN_ERR_UNSUPPORTED, "gemm tuning: groups of %zu work-items with %zu "
                           "bytes of local memory exceed %s (%zu, %llu)", wg, lbytes, dev->name,
                           dev->max_wg, (unsigned long long)dev->local_mem);
    } else if ((size_t)t->wgm > dev->max_wg) {
        return cn_fail(CN_ERR_UNSUPPORTED, "gemm tuning: GEMM_WGM=%d exceeds %s's %zu work-items",
                       t->wgm, dev->name, dev->max_wg);
    }
    return CN_OK;
}

/* Device defaults, then the context's per-class tuning (host/ops/tuning.h;
 * skinny: the skinny class's), then cn_gemm_set_tuning's overrides. */
static int get_tuning_cls(cn_ctx *ctx, int skinny, gemm_tuning *t)
{
    const cn_device_info *dev = cn_ctx_device(ctx);
    const cn_gemm_state *s = cn_gemm_state_(ctx, 0);
    *t = device_defaults(dev);
    CN_TRY(apply_tuning(cn_tuning_get(ctx, skinny ? CN_TC_GEMM_SKINNY : CN_TC_GEMM_GENERAL), t));
    CN_TRY(apply_tuning(s ? s->tuning : "", t));
    return check_limits(dev, t);
}

static int get_tuning(cn_ctx *ctx, gemm_tuning *t) { return get_tuning_cls(ctx, 0, t); }

int cn_gemm_check_tuning_(cn_ctx *ctx, const char *opts)
{
    const cn_device_info *dev = cn_ctx_device(ctx);
    gemm_tuning t = device_defaults(dev);
    CN_TRY(apply_tuning(opts, &t));
    return check_limits(dev, &t);
}

/* Kernel macros only: the launch knobs do not change the program. */
static void tuning_options(const gemm_tuning *t, int ta, int tb, char *buf, size_t n)
{
    snprintf(buf, n, "-DGEMM_TA=%d -DGEMM_TB=%d -DGEMM_VW=%d -DGEMM_NV=%d -DGEMM_WM=%d "
             "-DGEMM_LOCAL=%d -DGEMM_TK=%d -DGEMM_LM=%d -DGEMM_LN=%d -DGEMM_SK_RP=%d "
             "-DGEMM_SK_PV=%d",
             ta, tb, t->vw, t->nv, t->wm, t->local, t->tk, t->lm, t->ln, t->sk_rp, t->sk_pv);
}

/* Appends the storage macro `name` (cl/gemm.cl) for a half operand; float
 * operands add nothing, so float products keep their programs. */
static void storage_option(char *buf, size_t n, const char *name, cn_dtype t)
{
    size_t o = strlen(buf);
    if (t == CN_F16 && o < n)
        snprintf(buf + o, n - o, " -D%s=1", name);
}

const char *cn_gemm_tuning_class_(cn_ctx *ctx, int skinny, char *buf, size_t n)
{
    gemm_tuning t;
    if (get_tuning_cls(ctx, skinny, &t) != CN_OK) {
        snprintf(buf, n, "(invalid: %s)", cn_last_error());
        return buf;
    }
    char o[384];
    tuning_options(&t, 0, 0, o, sizeof o);
    snprintf(buf, n, "%s -DGEMM_WGM=%d -DGEMM_SKINNY=%d", o + 24, t.wgm, t.skinny);
    return buf;
}

const char *cn_gemm_tuning(cn_ctx *ctx, char *buf, size_t n)
{
    return cn_gemm_tuning_class_(ctx, 0, buf, n);
}

/* ---- own kernels -------------------------------------------------------------- */

static int64_t batch_of(const cn_gemm_desc *d) { return d->batch > 0 ? d->batch : 1; }

/* The launch cost for cn_launch_cost: every own kernel indexes by
 * get_global_id (the local-memory one adds the offset back), so a launch may
 * run in pieces. */
static double gemm_flops(const cn_gemm_desc *d)
{
    return 2.0 * (double)d->M * (double)d->N * (double)d->K * (double)batch_of(d);
}

int cn_gemm_is_skinny_(cn_ctx *ctx, const cn_gemm_desc *d)
{
    gemm_tuning t;
    if (get_tuning(ctx, &t) != CN_OK)
        return 0;
    return (d->M < d->N ? d->M : d->N) <= t.skinny;
}

static int launch_skinny(cn_ctx *ctx, const gemm_tuning *t, const cn_gemm_desc *d, cl_mem A,
                         cl_mem B, cl_mem C, const char *tag)
{
    const int ta = d->trans_a, tb = d->trans_b;
    const int lda = (int)d->lda, ldb = (int)d->ldb, ldc = (int)d->ldc;
    /* C (P x Q) = U (P x K) V (Q x K)^T with Q the small side of C. */
    int P, Q, u_ps, u_ks, v_qs, v_ks, c_ps, c_qs, offu, offv, su, sv;
    cl_mem U, V;
    if (d->N <= d->M) {
        P = (int)d->M, Q = (int)d->N;
        U = A, offu = (int)d->off_a, su = (int)d->stride_a;
        u_ps = ta ? 1 : lda, u_ks = ta ? lda : 1;
        V = B, offv = (int)d->off_b, sv = (int)d->stride_b;
        v_qs = tb ? ldb : 1, v_ks = tb ? 1 : ldb;
        c_ps = ldc, c_qs = 1;
    } else {
        P = (int)d->N, Q = (int)d->M;
        U = B, offu = (int)d->off_b, su = (int)d->stride_b;
        u_ps = tb ? ldb : 1, u_ks = tb ? 1 : ldb;
        V = A, offv = (int)d->off_a, sv = (int)d->stride_a;
        v_qs = ta ? 1 : lda, v_ks = ta ? lda : 1;
        c_ps = 1, c_qs = ldc;
    }
    const int along_k = u_ks == 1;
    char opts[400];
    tuning_options(t, 0, 0, opts, sizeof opts);
    storage_option(opts, sizeof opts, "U_H", d->N <= d->M ? d->a_type : d->b_type);
    storage_option(opts, sizeof opts, "V_H", d->N <= d->M ? d->b_type : d->a_type);
    storage_option(opts, sizeof opts, "C_H", d->c_type);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "gemm", opts, along_k ? "gemm_skinny_k" : "gemm_skinny_p", &k));
    const int K = (int)d->K, offc = (int)d->off_c, sc = (int)d->stride_c;
    const float alpha = d->alpha, beta = d->beta;
    CN_TRY(CN_ARG(k, 0, P));
    CN_TRY(CN_ARG(k, 1, Q));
    CN_TRY(CN_ARG(k, 2, K));
    CN_TRY(CN_ARG(k, 3, alpha));
    CN_TRY(CN_ARG(k, 4, beta));
    CN_TRY(CN_ARG(k, 5, U));
    CN_TRY(CN_ARG(k, 6, offu));
    CN_TRY(CN_ARG(k, 7, u_ps));
    CN_TRY(CN_ARG(k, 8, u_ks));
    CN_TRY(CN_ARG(k, 9, su));
    CN_TRY(CN_ARG(k, 10, V));
    CN_TRY(CN_ARG(k, 11, offv));
    CN_TRY(CN_ARG(k, 12, v_qs));
    CN_TRY(CN_ARG(k, 13, v_ks));
    CN_TRY(CN_ARG(k, 14, sv));
    CN_TRY(CN_ARG(k, 15, C));
    CN_TRY(CN_ARG(k, 16, offc));
    CN_TRY(CN_ARG(k, 17, c_ps));
    CN_TRY(CN_ARG(k, 18, c_qs));
    CN_TRY(CN_ARG(k, 19, sc));
    const size_t per = (size_t)(along_k ? t->sk_rp : t->vw * t->sk_pv);
    size_t g[3] = {((size_t)P + per - 1) / per, 1, (size_t)batch_of(d)}, l[3] = {8, 1, 1};
    return cn_launch_cost(ctx, k, tag, 3, g, l, gemm_flops(d));
}

int cn_gemm_own_(cn_ctx *ctx, const cn_gemm_desc *d, cl_mem A, cl_mem B, cl_mem C)
{
    const char *tag = d->tag ? d->tag : "gemm";
    gemm_tuning t;
    CN_TRY(get_tuning(ctx, &t));
    if ((d->M < d->N ? d->M : d->N) <= t.skinny) {
        CN_TRY(get_tuning_cls(ctx, 1, &t));
        return launch_skinny(ctx, &t, d, A, B, C, tag);
    }
    char opts[400];
    tuning_options(&t, d->trans_a, d->trans_b, opts, sizeof opts);
    storage_option(opts, sizeof opts, "A_H", d->a_type);
    storage_option(opts, sizeof opts, "B_H", d->b_type);
    storage_option(opts, sizeof opts, "C_H", d->c_type);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "gemm", opts, "gemm", &k));
    const int M = (int)d->M, N = (int)d->N, K = (int)d->K;
    const float alpha = d->alpha, beta = d->beta;
    const int offa = (int)d->off_a, lda = (int)d->lda, sa = (int)d->stride_a;
    const int offb = (int)d->off_b, ldb = (int)d->ldb, sb = (int)d->stride_b;
    const int offc = (int)d->off_c, ldc = (int)d->ldc, sc = (int)d->stride_c;
    const int iv[] = {M, N, K};
    for (cl_uint i = 0; i < 3; i++)
        CN_TRY(CN_ARG(k, i, iv[i]));
    CN_TRY(CN_ARG(k, 3, alpha));
    CN_TRY(CN_ARG(k, 4, beta));
    CN_TRY(CN_ARG(k, 5, A));
    CN_TRY(CN_ARG(k, 6, offa));
    CN_TRY(CN_ARG(k, 7, lda));
    CN_TRY(CN_ARG(k, 8, sa));
    CN_TRY(CN_ARG(k, 9, B));
    CN_TRY(CN_ARG(k, 10, offb));
    CN_TRY(CN_ARG(k, 11, ldb));
    CN_TRY(CN_ARG(k, 12, sb));
    CN_TRY(CN_ARG(k, 13, C));
    CN_TRY(CN_ARG(k, 14, offc));
    CN_TRY(CN_ARG(k, 15, ldc));
    CN_TRY(CN_ARG(k, 16, sc));
    const size_t wn = (size_t)t.vw * t.nv, nb = (size_t)batch_of(d);
    size_t g[3], l[3];
    if (t.local) {
        const size_t tm = (size_t)t.lm * t.wm, tn = (size_t)t.ln * wn;
        g[0] = ((size_t)N + tn - 1) / tn * t.ln, g[1] = ((size_t)M + tm - 1) / tm * t.lm;
        l[0] = (size_t)t.ln, l[1] = (size_t)t.lm;
    } else {
        g[0] = ((size_t)N + wn - 1) / wn, g[1] = ((size_t)M + t.wm - 1) / t.wm;
        /* A group's work-items run one after another on one core and share
         * the B panel in its cache; keep enough groups for every core. */
        size_t lm = 1;
        while (lm * 2 <= (size_t)t.wgm && lm * 2 <= g[1])
            lm *= 2;
        while (lm > 1 && g[0] * ((g[1] + lm - 1) / lm) * nb < 4 * cn_ctx_device(ctx)->compute_units)
            lm /= 2;
        l[0] = 1, l[1] = lm;
    }
    g[2] = nb, l[2] = 1;
    return cn_launch_cost(ctx, k, tag, 3, g, l, gemm_flops(d));
}

/* ---- validation and dispatch ---------------------------------------------------- */

/* Elements from a matrix's first to one past its last, over all batches;
 * every term is below 2^31 (checked first), so this cannot overflow. */
static uint64_t extent(int64_t rows, int64_t cols, int64_t ld, int64_t off, int64_t batch,
                       int64_t stride)
{
    if (rows == 0 || cols == 0)
        return 0;
    return (uint64_t)off + (uint64_t)(batch - 1) * (uint64_t)stride +
           (uint64_t)(rows - 1) * (uint64_t)ld + (uint64_t)cols;
}

static int check_desc(const cn_gemm_desc *d, const char *op, uint64_t ext[3])
{
    const long long M = d->M, N = d->N, K = d->K;
    if (d->trans_a < 0 || d->trans_a > 1 || d->trans_b < 0 || d->trans_b > 1)
        return cn_fail(CN_ERR_ARG, "%s: trans_a=%d trans_b=%d must be 0 or 1", op, d->trans_a,
                       d->trans_b);
    if (M < 0 || N < 0 || K < 0 || d->batch < 0)
        return cn_fail(CN_ERR_SHAPE, "%s: negative size M=%lld N=%lld K=%lld batch=%lld", op, M,
                       N, K, (long long)d->batch);
    const int64_t vals[] = {d->M, d->N, d->K, d->batch, d->lda, d->ldb, d->ldc,
                            d->off_a, d->off_b, d->off_c, d->stride_a, d->stride_b, d->stride_c};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (vals[i] > INT_MAX)
            return cn_fail(CN_ERR_SHAPE, "%s: M=%lld N=%lld K=%lld: a size, leading dimension, "
                           "offset or stride exceeds 2^31-1", op, M, N, K);
    if (d->off_a < 0 || d->off_b < 0 || d->off_c < 0 || d->stride_a < 0 || d->stride_b < 0 ||
        d->stride_c < 0)
        return cn_fail(CN_ERR_ARG, "%s: offsets (%lld, %lld, %lld) and batch strides (%lld, "
                       "%lld, %lld) must not be negative", op, (long long)d->off_a,
                       (long long)d->off_b, (long long)d->off_c, (long long)d->stride_a,
                       (long long)d->stride_b, (long long)d->stride_c);
    const int64_t ra = d->trans_a ? K : M, ca = d->trans_a ? M : K;
    const int64_t rb = d->trans_b ? N : K, cb = d->trans_b ? K : N;
    if (d->lda < (ca > 1 ? ca : 1) || d->ldb < (cb > 1 ? cb : 1) || d->ldc < (N > 1 ? N : 1))
        return cn_fail(CN_ERR_ARG, "%s: M=%lld N=%lld K=%lld trans_a=%d trans_b=%d: need "
                       "lda >= %lld, ldb >= %lld, ldc >= %lld but got %lld, %lld, %lld", op, M, N,
                       K, d->trans_a, d->trans_b, (long long)(ca > 1 ? ca : 1),
                       (long long)(cb > 1 ? cb : 1), (N > 1 ? N : 1), (long long)d->lda,
                       (long long)d->ldb, (long long)d->ldc);
    const int64_t nb = batch_of(d);
    ext[0] = extent(ra, ca, d->lda, d->off_a, nb, d->stride_a);
    ext[1] = extent(rb, cb, d->ldb, d->off_b, nb, d->stride_b);
    ext[2] = extent(M, N, d->ldc, d->off_c, nb, d->stride_c);
    if (nb > 1 && M > 0 && N > 0 && (uint64_t)d->stride_c < extent(M, N, d->ldc, 0, 1, 0))
        return cn_fail(CN_ERR_ARG, "%s: batch stride of C (%lld) is smaller than one %lldx%lld "
                       "output with ldc %lld: batches would overwrite each other", op,
                       (long long)d->stride_c, M, N, (long long)d->ldc);
    return CN_OK;
}

static int overlaps(uint64_t lo1, uint64_t hi1, uint64_t lo2, uint64_t hi2)
{
    return lo1 < hi2 && lo2 < hi1;
}

int cn_gemm(cn_ctx *ctx, const cn_gemm_desc *d, cl_mem A, size_t a_bytes, cl_mem B,
            size_t b_bytes, cl_mem C, size_t c_bytes)
{
    if (!ctx || !d)
        return cn_fail(CN_ERR_ARG, "gemm: NULL %s", ctx ? "description" : "context");
    char op[80];
    snprintf(op, sizeof op, "gemm%s%s%s", d->tag ? " (" : "", d->tag ? d->tag : "",
             d->tag ? ")" : "");
    uint64_t ext[3];
    const cn_dtype types[3] = {d->a_type, d->b_type, d->c_type};
    for (int i = 0; i < 3; i++)
        if (types[i] != CN_F32 && types[i] != CN_F16)
            return cn_fail(CN_ERR_ARG, "%s: matrix %c has storage type %d, neither CN_F32 nor "
                           "CN_F16", op, "ABC"[i], (int)types[i]);
    CN_TRY(check_desc(d, op, ext));
    if (d->M == 0 || d->N == 0)
        return CN_OK;
    const uint64_t have[3] = {a_bytes / cn_dtype_size(d->a_type),
                              b_bytes / cn_dtype_size(d->b_type),
                              c_bytes / cn_dtype_size(d->c_type)};
    const cl_mem bufs[3] = {A, B, C};
    const char *names = "ABC";
    for (int i = 0; i < 3; i++) {
        if (ext[i] == 0)
            continue; /* A and B are not read when K is 0 */
        if (!bufs[i])
            return cn_fail(CN_ERR_ARG, "%s: buffer %c is NULL", op, names[i]);
        if (ext[i] > have[i])
            return cn_fail(CN_ERR_SHAPE, "%s: M=%lld N=%lld K=%lld batch=%lld trans_a=%d "
                           "trans_b=%d needs %llu elements of %c but its buffer holds %llu", op,
                           (long long)d->M, (long long)d->N, (long long)d->K,
                           (long long)batch_of(d), d->trans_a, d->trans_b,
                           (unsigned long long)ext[i], names[i], (unsigned long long)have[i]);
    }
    const int64_t offs[3] = {d->off_a, d->off_b, d->off_c};
    const uint64_t sz[3] = {cn_dtype_size(d->a_type), cn_dtype_size(d->b_type),
                            cn_dtype_size(d->c_type)};
    for (int i = 0; i < 2; i++) /* in bytes: the operands' element sizes may differ */
        if (ext[i] && bufs[i] == C &&
            overlaps((uint64_t)offs[i] * sz[i], ext[i] * sz[i], (uint64_t)d->off_c * sz[2],
                     ext[2] * sz[2]))
            return cn_fail(CN_ERR_ARG, "%s: C overlaps %c in the same buffer", op, names[i]);

    cn_gemm_backend be = CN_GEMM_OWN;
    const int half = d->a_type == CN_F16 || d->b_type == CN_F16 || d->c_type == CN_F16;
    /* with K 0 the own kernel just scales C; CLBlast rejects it. Half
     * operands: the own kernels, which keep the sums float (CLBlast's half
     * GEMM would accumulate in half) */
    if (d->K > 0 && !half)
        CN_TRY(cn_gemm_pick_(ctx, cn_gemm_is_skinny_(ctx, d), &be));
    /* CLBlast enqueues its own kernels, which cn_launch_cost cannot cut, and
     * cutting a batched product into several CLBlast calls over consecutive
     * batch items was measured to change the rounding (av, 2 clips, 64 x 96:
     * maps differ), so its products run whole. At this model's sizes one
     * clip's product stays far below the budget (256 x 43008 x 256: 28 ms at
     * CN_SMALL_GPU_FLOPS); a large --batch multiplies that, so a product over
     * the budget runs on the own kernels, which cn_launch_cost cuts. */
    const double flops = 2.0 * (double)d->M * (double)d->N * (double)d->K * (double)batch_of(d);
    if (be == CN_GEMM_CLBLAST && flops / CN_SMALL_GPU_FLOPS > CN_LAUNCH_MAX_SECONDS)
        be = CN_GEMM_OWN;
    return be == CN_GEMM_CLBLAST ? cn_gemm_clblast_(ctx, d, A, B, C)
                                 : cn_gemm_own_(ctx, d, A, B, C);
}

const char *cn_gemm_backend_name(cn_gemm_backend b)
{
    switch (b) {
    case CN_GEMM_AUTO:
        return "auto";
    case CN_GEMM_OWN:
        return "own";
    case CN_GEMM_CLBLAST:
        return "clblast";
    }
    return "?";
}
