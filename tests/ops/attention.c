/* Op family attention: linear and streamed quadratic attention and the rank-one residual against double-precision references: odd sizes, broadcast keys, huge scores, float and half storage, shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention_ref.h"
#include "ops/op_test.h"

#define U32 5.96e-8 /* unit roundoff of float32 */

typedef struct att_case {
    const char *name;
    int64_t n, d, dv, lq, lk;
    double scale;       /* used when peak is 0 */
    double peak;        /* > 0: scale chosen so the largest |score| is exactly this */
    int broadcast_k;    /* every column of k equal (the model's audio key) */
    int trailing;       /* q and y as (N, C, 5, lq / 5) instead of (N, C, lq) */
} att_case;

static double max_abs(const double *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* Largest |q_l . k_j| over every batch, in double, to place the score peak. */
static double max_dot(const att_case *c, const float *q, const float *k)
{
    double m = 0;
    for (int64_t b = 0; b < c->n; b++)
        for (int64_t l = 0; l < c->lq; l++)
            for (int64_t j = 0; j < c->lk; j++) {
                double s = 0;
                for (int64_t e = 0; e < c->d; e++)
                    s += (double)q[(b * c->d + e) * c->lq + l] * k[(b * c->d + e) * c->lk + j];
                m = fmax(m, fabs(s));
            }
    return m;
}

/* xd: storage of q, k and v; yd: of y. Half storage: the reference on the
 * half-rounded inputs and y's one rounding added to the float tolerance
 * (the linear form's temporaries stay float). */
static void run_case(cn_ctx *ctx, tu_rng *r, const att_case *c, cn_dtype xd, cn_dtype yd)
{
    const int64_t nq = c->n * c->d * c->lq, nk = c->n * c->d * c->lk, nv = c->n * c->dv * c->lk,
                  ny = c->n * c->dv * c->lq;
    float *q = tu_rand_array(r, nq, -1, 1), *k = tu_rand_array(r, nk, -1, 1);
    float *v = tu_rand_array(r, nv, -1, 1), *got = malloc((size_t)ny * sizeof *got);
    double *want = malloc((size_t)ny * sizeof *want), *mag = malloc((size_t)ny * sizeof *mag);
    tu_half_inputs(xd, q, nq);
    tu_half_inputs(xd, k, nk);
    tu_half_inputs(xd, v, nv);
    if (c->broadcast_k)
        for (int64_t b = 0; b < c->n; b++)
            for (int64_t e = 0; e < c->d; e++)
                for (int64_t j = 1; j < c->lk; j++)
                    k[(b * c->d + e) * c->lk + j] = k[(b * c->d + e) * c->lk];
    double scale = c->peak > 0 ? c->peak / max_dot(c, q, k) : c->scale;
    float fscale = (float)scale;
    scale = fscale; /* the reference uses the scale the device gets */

    int64_t sq[4] = {c->n, c->d, c->lq}, sy[4] = {c->n, c->dv, c->lq};
    int nd = 3;
    if (c->trailing) {
        sq[2] = sy[2] = 5;
        sq[3] = sy[3] = c->lq / 5;
        nd = 4;
    }
    cn_tensor tq, tk, tv;
    TU_OK(cn_tensor_from_host_as(ctx, &tq, xd, nd, sq, q));
    TU_OK(cn_tensor_from_host_as(ctx, &tk, xd, 3, (int64_t[]){c->n, c->d, c->lk}, k));
    TU_OK(cn_tensor_from_host_as(ctx, &tv, xd, 3, (int64_t[]){c->n, c->dv, c->lk}, v));
    char what[128];
    tu_guarded g;

    /* Linear. Each output is a sum of D*Lk products phi*phi*v, summed in any
     * order: float rounding is at most (D + Lk) units of roundoff of the sum
     * of their absolute values (mag), plus a few hundred more for erf (16 ulp
     * in OpenCL, amplified where 1 + erf cancels) and the final scaling. */
    uint64_t before = cn_arena_in_use(ctx);
    TU_OK(tu_guarded_alloc_as(ctx, &g, yd, nd, sy));
    TU_OK(cn_attention_linear(ctx, &tq, &tk, &tv, fscale, &g.t));
    TU_CHECK(cn_arena_in_use(ctx) == before, "%s: linear kept %llu bytes of temporaries",
             c->name, (unsigned long long)(cn_arena_in_use(ctx) - before));
    snprintf(what, sizeof what, "linear %s, %s to %s", c->name, cn_dtype_name(xd),
             cn_dtype_name(yd));
    tu_guard_check(ctx, &g, got, what);
    ref_attention_linear(c->n, c->d, c->dv, c->lq, c->lk, q, k, v, scale, want, mag);
    tu_compare(what, got, want, ny,
               (double)(c->d + c->lk + 256) * U32 * max_abs(mag, ny) +
                   (yd == CN_F16 ? TU_HALF_ABS : 0),
               yd == CN_F16 ? TU_HALF_U : 0);
    tu_guarded_free(&g);

    /* Quadratic. A score is off by at most (D + 2) ulp of smax (dot product
     * and scaling); exp turns that absolute error into the same relative
     * error of a weight, plus a few ulp of exp's own; the weighted mean then
     * adds Lk units of roundoff for each of its two sums. Each weight error
     * moves the output by at most max|v|, twice (numerator, normaliser). */
    double smax = 0;
    TU_OK(tu_guarded_alloc_as(ctx, &g, yd, nd, sy));
    TU_OK(cn_attention_quadratic(ctx, &tq, &tk, &tv, fscale, &g.t));
    snprintf(what, sizeof what, "quadratic %s, %s to %s", c->name, cn_dtype_name(xd),
             cn_dtype_name(yd));
    tu_guard_check(ctx, &g, got, what);
    ref_attention_quadratic(c->n, c->d, c->dv, c->lq, c->lk, q, k, v, scale, want, &smax);
    if (c->peak > 0)
        TU_CHECK(smax >= c->peak, "%s: scores only reach %g", c->name, smax);
    double vmax = 1.0; /* v is drawn from [-1, 1) */
    double qtol = 2 * vmax * ((double)(c->d + 8) * U32 * smax + (double)(c->lk + 8) * U32);
    if (yd == CN_F16)
        qtol += TU_HALF_ABS;
    const double qrtol = yd == CN_F16 ? TU_HALF_U : 0;
    tu_compare(what, got, want, ny, qtol, qrtol);

    /* With equal keys every score of a row is equal: the softmax is uniform
     * and the output is the mean of V over the keys, whatever q is. */
    if (c->broadcast_k) {
        for (int64_t b = 0; b < c->n; b++)
            for (int64_t e = 0; e < c->dv; e++) {
                double s = 0;
                for (int64_t j = 0; j < c->lk; j++)
                    s += v[(b * c->dv + e) * c->lk + j];
                for (int64_t l = 0; l < c->lq; l++)
                    want[(b * c->dv + e) * c->lq + l] = s / (double)c->lk;
            }
        snprintf(what, sizeof what, "quadratic %s = mean of V", c->name);
        tu_compare(what, got, want, ny, qtol, qrtol);
    }
    tu_guarded_free(&g);

    cn_tensor_release(ctx, &tq);
    cn_tensor_release(ctx, &tk);
    cn_tensor_release(ctx, &tv);
    free(q), free(k), free(v), free(got), free(want), free(mag);
}

/* The kernel's key block is 32 (ATT_KB): 29 and 1 fit in one partial
 * block, 64 is two full ones, 70 and 97 end in a partial block. */
static const att_case cases[] = {
    {"odd", 2, 13, 7, 37, 29, 0.3, 0, 0, 0},
    {"batch 3, Lk 97", 3, 13, 7, 37, 97, 0.5, 0, 0, 0},
    {"Lk 64", 2, 13, 7, 37, 64, 0.7, 0, 0, 0},
    {"one key", 2, 13, 7, 37, 1, 0.9, 0, 0, 0},
    {"one query", 3, 5, 9, 1, 29, 1.1, 0, 0, 0},
    {"broadcast key", 2, 13, 7, 37, 37, 1.0 / 37, 0, 1, 0},
    {"broadcast key, strong", 2, 13, 7, 37, 70, 0, 80, 1, 0},
    {"scores 80", 2, 13, 7, 37, 70, 0, 80, 0, 0},
    /* beyond exp's float range (88.7): a softmax without the running
     * max overflows here */
    {"scores 200", 2, 13, 7, 37, 70, 0, 200, 0, 0},
    {"scale 1/L", 1, 64, 48, 300, 300, 1.0 / 300, 0, 0, 0},
    {"model width, scale 1/L", 1, 256, 256, 100, 100, 1.0 / 100, 0, 0, 0},
    {"trailing dims", 2, 13, 7, 35, 29, 0.4, 0, 0, 1},
};

static void case_table(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    run_case(ctx, r, arg, CN_F32, CN_F32);
}

/* half q, k, v into a half y (the model's), and into a float y. Each Dv
 * is a program of its own (a minute of compiling on PoCL for them all), so
 * half runs on the rows of Dv 7 and on the model's width, half out only. */
static void case_table_half(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const att_case *c = arg;
    run_case(ctx, r, c, CN_F16, CN_F16);
    if (c->dv == 7)
        run_case(ctx, r, c, CN_F16, CN_F32);
}

static void test_attention_errors(cn_ctx *ctx)
{
    const int64_t N = 2, D = 13, Dv = 7, Lq = 37, Lk = 29;
    cn_tensor q, k, v, y, kd, vl, yd, yt, q2, kn, yl, empty = {0};
    TU_OK(cn_tensor_alloc(ctx, &q, 3, (int64_t[]){N, D, Lq}));
    TU_OK(cn_tensor_alloc(ctx, &k, 3, (int64_t[]){N, D, Lk}));
    TU_OK(cn_tensor_alloc(ctx, &v, 3, (int64_t[]){N, Dv, Lk}));
    TU_OK(cn_tensor_alloc(ctx, &y, 3, (int64_t[]){N, Dv, Lq}));
    TU_OK(cn_tensor_alloc(ctx, &kd, 3, (int64_t[]){N, D + 1, Lk}));    /* D differs */
    TU_OK(cn_tensor_alloc(ctx, &vl, 3, (int64_t[]){N, Dv, Lk + 1}));   /* Lk differs */
    TU_OK(cn_tensor_alloc(ctx, &yd, 3, (int64_t[]){N, Dv + 1, Lq}));   /* Dv differs */
    TU_OK(cn_tensor_alloc(ctx, &yt, 4, (int64_t[]){N, Dv, 1, Lq}));    /* trailing differ */
    TU_OK(cn_tensor_alloc(ctx, &q2, 2, (int64_t[]){N, D * Lq}));       /* no L axis */
    TU_OK(cn_tensor_alloc(ctx, &kn, 3, (int64_t[]){N + 1, D, Lk}));    /* batch differs */
    TU_OK(cn_tensor_alloc(ctx, &yl, 3, (int64_t[]){N, Dv, Lq + 1}));   /* Lq differs */
    typedef int (*att_fn)(cn_ctx *, const cn_tensor *, const cn_tensor *, const cn_tensor *,
                          float, cn_tensor *);
    att_fn fns[2] = {cn_attention_linear, cn_attention_quadratic};
    for (int i = 0; i < 2; i++) {
        TU_FAILS(CN_ERR_SHAPE, fns[i](ctx, &q, &kd, &v, 1.0f, &y));
        TU_FAILS(CN_ERR_SHAPE, fns[i](ctx, &q, &k, &vl, 1.0f, &y));
        TU_FAILS(CN_ERR_SHAPE, fns[i](ctx, &q, &k, &v, 1.0f, &yd));
        TU_FAILS(CN_ERR_SHAPE, fns[i](ctx, &q, &k, &v, 1.0f, &yt));
        TU_FAILS(CN_ERR_SHAPE, fns[i](ctx, &q, &k, &v, 1.0f, &yl));
        TU_FAILS(CN_ERR_SHAPE, fns[i](ctx, &q2, &k, &v, 1.0f, &y));
        TU_FAILS(CN_ERR_SHAPE, fns[i](ctx, &q, &kn, &v, 1.0f, &y));
        TU_FAILS(CN_ERR_ARG, fns[i](ctx, &q, &empty, &v, 1.0f, &y));
        TU_FAILS(CN_ERR_ARG, fns[i](ctx, &q, &k, &v, NAN, &y));
        TU_FAILS(CN_ERR_ARG, fns[i](ctx, &q, &k, &v, INFINITY, &y));
    }
    cn_tensor *all[] = {&q, &k, &v, &y, &kd, &vl, &yd, &yt, &q2, &kn, &yl};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cn_tensor_release(ctx, all[i]);
}

/* xd: storage of x and y; pd: of s, u and b. */
static void test_rank1(cn_ctx *ctx, tu_rng *r, cn_dtype xd, cn_dtype pd)
{
    const int64_t N = 2, C = 13, L = 3 * 5 * 7, n = N * C * L;
    int64_t sx[5] = {N, C, 3, 5, 7};
    float *x = tu_rand_array(r, n, -2, 2), *s = tu_rand_array(r, N * L, -2, 2);
    float *u = tu_rand_array(r, N * C, -2, 2), *b = tu_rand_array(r, C, -2, 2);
    float *got = malloc((size_t)n * sizeof *got);
    double *want = malloc((size_t)n * sizeof *want);
    tu_half_inputs(xd, x, n);
    tu_half_inputs(pd, s, N * L);
    tu_half_inputs(pd, u, N * C);
    tu_half_inputs(pd, b, C);
    cn_tensor tx, ts, tu, tb, ts5;
    TU_OK(cn_tensor_from_host_as(ctx, &tx, xd, 5, sx, x));
    TU_OK(cn_tensor_from_host_as(ctx, &ts, pd, 2, (int64_t[]){N, L}, s));
    TU_OK(cn_tensor_from_host_as(ctx, &ts5, pd, 5, (int64_t[]){N, 1, 3, 5, 7}, s));
    TU_OK(cn_tensor_from_host_as(ctx, &tu, pd, 2, (int64_t[]){N, C}, u));
    TU_OK(cn_tensor_from_host_as(ctx, &tb, pd, 1, (int64_t[]){C}, b));
    /* |x| + |s u| + |b| <= 2 + 4 + 2: two roundings (fma, add) of a result
     * that size, with margin; a half y adds its own rounding. */
    const double atol = 4 * U32 * 8 + (xd == CN_F16 ? TU_HALF_ABS : 0);
    const double rtol = xd == CN_F16 ? TU_HALF_U : 0;
    const char *names[4] = {"rank1 s, b", "rank1 no s", "rank1 no b, s (N,1,T,H,W)", "rank1 u only"};
    char what[128];
    for (int m = 0; m < 4; m++) {
        const cn_tensor *sp = m & 1 ? NULL : m == 2 ? &ts5 : &ts, *bp = m & 2 ? NULL : &tb;
        tu_guarded g;
        snprintf(what, sizeof what, "%s, %s x, %s s u b", names[m], cn_dtype_name(xd),
                 cn_dtype_name(pd));
        TU_OK(tu_guarded_alloc_as(ctx, &g, xd, 5, sx));
        TU_OK(cn_rank1_residual(ctx, &tx, sp, &tu, bp, &g.t));
        tu_guard_check(ctx, &g, got, what);
        ref_rank1_residual(N, C, L, x, sp ? s : NULL, u, bp ? b : NULL, want);
        tu_compare(what, got, want, n, atol, rtol);
        tu_guarded_free(&g);
    }
    /* in place, as the AVIM applies it to its feature map */
    TU_OK(cn_rank1_residual(ctx, &tx, &ts, &tu, &tb, &tx));
    TU_OK(cn_tensor_download(ctx, &tx, got));
    ref_rank1_residual(N, C, L, x, s, u, b, want);
    tu_compare("rank1 in place", got, want, n, atol, rtol);

    cn_tensor bad_u, bad_s, bad_b, bad_y, empty = {0};
    TU_OK(cn_tensor_alloc(ctx, &bad_u, 2, (int64_t[]){N, C + 1}));
    TU_OK(cn_tensor_alloc(ctx, &bad_s, 2, (int64_t[]){N, L - 1}));
    TU_OK(cn_tensor_alloc(ctx, &bad_b, 1, (int64_t[]){C + 1}));
    TU_OK(cn_tensor_alloc(ctx, &bad_y, 5, (int64_t[]){N, C, 3, 5, 8}));
    TU_FAILS(CN_ERR_SHAPE, cn_rank1_residual(ctx, &tx, &ts, &bad_u, &tb, &tx));
    TU_FAILS(CN_ERR_SHAPE, cn_rank1_residual(ctx, &tx, &bad_s, &tu, &tb, &tx));
    TU_FAILS(CN_ERR_SHAPE, cn_rank1_residual(ctx, &tx, &ts, &tu, &bad_b, &tx));
    TU_FAILS(CN_ERR_SHAPE, cn_rank1_residual(ctx, &tx, &ts, &tu, &tb, &bad_y));
    TU_FAILS(CN_ERR_SHAPE, cn_rank1_residual(ctx, &ts, NULL, &tu, NULL, &ts));
    TU_FAILS(CN_ERR_ARG, cn_rank1_residual(ctx, &tx, &ts, &empty, &tb, &tx));

    cn_tensor *all[] = {&tx, &ts, &ts5, &tu, &tb, &bad_u, &bad_s, &bad_b, &bad_y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cn_tensor_release(ctx, all[i]);
    free(x), free(s), free(u), free(b), free(got), free(want);
}

static void case_rank1(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)arg;
    test_rank1(ctx, r, CN_F32, CN_F32);
}

/* the feature map half, with half or float scores and vectors */
static void case_rank1_half(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)arg;
    test_rank1(ctx, r, CN_F16, CN_F16);
    test_rank1(ctx, r, CN_F16, CN_F32);
}

/* The own GEMM avoids CLBlast's first-use tuning, which the test does not need. */
static void setup(cn_ctx *ctx) { cn_gemm_set_backend(ctx, CN_GEMM_OWN); }

static void add_cases(op_cases *l)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        op_add(l, case_table, &cases[i], "%s", cases[i].name);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cases[i].dv == 7 || cases[i].d == 256)
            op_add(l, case_table_half, &cases[i], "%s, half", cases[i].name);
    op_add_plain(l, test_attention_errors, "shape and argument errors");
    op_add(l, case_rank1, NULL, "rank-one residual");
    op_add(l, case_rank1_half, NULL, "rank-one residual, half");
}

const op_family op_family_attention = {"attention", 7, add_cases, setup};
