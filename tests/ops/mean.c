/* Op family mean: means over contiguous axes against a long-double reference, for both the fp64 and the compensated-float accumulators, float and half storage, plus shape errors. */
#include <math.h>
#include <stdlib.h>

#include "pool_ref.h"
#include "ops/op_test.h"

/* Both accumulators are compensated, so the error is the final rounding of the
 * sum and of the division (~2 ulp, rtol 3e-7) plus the compensated sum's
 * O(n eps^2) term, under 1e-9 of max|x| for n <= 2e5 (ATOL_REL * max|x|). */
#define RTOL 3e-7
#define ATOL_REL 1e-8
/* Half storage: the reference averages the half-rounded inputs, so a half x
 * adds nothing, and a half y adds its one rounding (testutil.h). */

typedef struct mean_case {
    const char *name;
    int ndim;
    int64_t shape[5];
    int b, e;       /* axes [b, e) */
    double lo, hi;  /* data range */
} mean_case;

static const mean_case cases[] = {
    {"ASPP pool: (T,H,W) of N,C,T,H,W", 5, {3, 13, 5, 11, 9}, 2, 5, -1, 1},
    {"decoder: T of N,C,T,H,W", 5, {2, 13, 7, 11, 10}, 2, 3, -1, 1},
    {"T of T = 1 (a copy)", 5, {2, 13, 1, 11, 10}, 2, 3, -1, 1},
    {"channels", 5, {2, 13, 3, 5, 7}, 1, 2, -1, 1},
    {"(H,W)", 5, {2, 3, 4, 11, 9}, 3, 5, -1, 1},
    {"(N) leading axis", 4, {5, 3, 7, 9}, 0, 1, -1, 1},
    {"every axis", 4, {2, 13, 11, 9}, 0, 4, -1, 1},
    {"(T,H) middle, inner = W", 5, {2, 3, 5, 11, 9}, 2, 4, -1, 1},
    /* long rows of offset data: a plain float running sum loses ~1e-5 here */
    {"ASPP 16x112x96 rows, data 1000+[0,1)", 5, {2, 3, 16, 112, 96}, 2, 5, 1000, 1001},
    {"T = 65536 columns, data 1000+[0,1)", 5, {1, 2, 65536, 3, 5}, 2, 3, 1000, 1001},
    {"rows, near-zero mean", 3, {3, 5, 100003}, 2, 3, -1, 1},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static void run_case(cn_ctx *ctx, tu_rng *r, const mean_case *mc, cn_dtype xd, cn_dtype yd)
{
    int64_t n = 1, outer = 1, R = 1, inner = 1, ys[5];
    for (int i = 0; i < mc->ndim; i++) {
        n *= mc->shape[i];
        *(i < mc->b ? &outer : i < mc->e ? &R : &inner) *= mc->shape[i];
        ys[i] = i >= mc->b && i < mc->e ? 1 : mc->shape[i];
    }
    float *x = tu_rand_array(r, n, mc->lo, mc->hi), *got = malloc((size_t)(outer * inner) * 4);
    double *want = malloc((size_t)(outer * inner) * sizeof *want);
    tu_half_inputs(xd, x, n);
    ref_mean(outer, R, inner, x, want);
    double atol = ATOL_REL * fmax(fabs(mc->lo), fabs(mc->hi)) + (yd == CN_F16 ? TU_HALF_ABS : 0);
    const double rtol = RTOL + (yd == CN_F16 ? TU_HALF_U : 0);
    cn_tensor tx;
    TU_OK(cn_tensor_from_host_as(ctx, &tx, xd, mc->ndim, mc->shape, x));
    int has64 = cn_ctx_device(ctx)->fp64;
    for (int fp64 = 0; fp64 <= 1; fp64++) {
        tu_guarded g;
        TU_OK(tu_guarded_alloc_as(ctx, &g, yd, mc->ndim, ys));
        char what[128];
        snprintf(what, sizeof what, "%s, %s acc, %s to %s", mc->name, fp64 ? "fp64" : "float",
                 cn_dtype_name(xd), cn_dtype_name(yd));
        if (fp64 && !has64) {
            TU_FAILS(CN_ERR_UNSUPPORTED, cn_mean_axes_acc(ctx, &tx, mc->b, mc->e, &g.t, 1));
        } else {
            TU_OK(cn_mean_axes_acc(ctx, &tx, mc->b, mc->e, &g.t, fp64));
            tu_guard_check(ctx, &g, got, what);
            tu_compare(what, got, want, outer * inner, atol, rtol);
        }
        tu_guarded_free(&g);
    }
    /* the default entry point picks one of the two */
    tu_guarded g;
    TU_OK(tu_guarded_alloc_as(ctx, &g, yd, mc->ndim, ys));
    TU_OK(cn_mean_axes(ctx, &tx, mc->b, mc->e, &g.t));
    tu_guard_check(ctx, &g, got, mc->name);
    tu_compare(mc->name, got, want, outer * inner, atol, rtol);
    tu_guarded_free(&g);
    cn_tensor_release(ctx, &tx);
    free(x), free(got), free(want);
}

static void test_rejections(cn_ctx *ctx)
{
    cn_tensor x = {0}, y = {0}, yt = {0}, y4 = {0}, empty = {0};
    TU_OK(cn_tensor_alloc(ctx, &x, 5, (int64_t[]){2, 3, 4, 5, 6}));
    TU_OK(cn_tensor_alloc(ctx, &y, 5, (int64_t[]){2, 3, 1, 1, 1}));
    TU_OK(cn_tensor_alloc(ctx, &yt, 5, (int64_t[]){2, 3, 1, 5, 6}));
    TU_OK(cn_tensor_alloc(ctx, &y4, 4, (int64_t[]){2, 3, 5, 6}));
    TU_OK(cn_mean_axes(ctx, &x, 2, 5, &y)); /* the baselines are valid */
    TU_OK(cn_mean_axes(ctx, &x, 2, 3, &yt));
    TU_FAILS(CN_ERR_ARG, cn_mean_axes(ctx, &x, 3, 3, &y));   /* empty range */
    TU_FAILS(CN_ERR_ARG, cn_mean_axes(ctx, &x, 4, 2, &y));   /* reversed */
    TU_FAILS(CN_ERR_ARG, cn_mean_axes(ctx, &x, 2, 6, &y));   /* past the rank */
    TU_FAILS(CN_ERR_ARG, cn_mean_axes(ctx, &x, -1, 3, &y));
    TU_FAILS(CN_ERR_SHAPE, cn_mean_axes(ctx, &x, 2, 3, &y)); /* H, W wrongly reduced */
    TU_FAILS(CN_ERR_SHAPE, cn_mean_axes(ctx, &x, 2, 5, &yt)); /* H, W kept */
    TU_FAILS(CN_ERR_SHAPE, cn_mean_axes(ctx, &x, 2, 3, &y4)); /* keepdim missing */
    TU_FAILS(CN_ERR_ARG, cn_mean_axes(ctx, &empty, 0, 1, &y));
    TU_FAILS(CN_ERR_ARG, cn_mean_axes(ctx, &x, 2, 5, &empty));
    TU_FAILS(CN_ERR_ARG, cn_mean_axes(ctx, &y, 0, 1, &y)); /* in place */
    cn_tensor_release(ctx, &x);
    cn_tensor_release(ctx, &y);
    cn_tensor_release(ctx, &yt);
    cn_tensor_release(ctx, &y4);
}

static void case_table(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    run_case(ctx, r, arg, CN_F32, CN_F32);
}

/* half in and out, and half in with a float mean (the ASPP image pool's) */
static void case_table_half(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    run_case(ctx, r, arg, CN_F16, CN_F16);
    run_case(ctx, r, arg, CN_F16, CN_F32);
    run_case(ctx, r, arg, CN_F32, CN_F16);
}

/* Which accumulator the cases exercise depends on the device. */
static void setup(cn_ctx *ctx) { printf("fp64: %s\n", cn_ctx_device(ctx)->fp64 ? "yes" : "no"); }

static void add_cases(op_cases *l)
{
    for (int i = 0; i < NCASES; i++)
        op_add(l, case_table, &cases[i], "%s", cases[i].name);
    for (int i = 0; i < NCASES; i++)
        op_add(l, case_table_half, &cases[i], "%s, half", cases[i].name);
    op_add_plain(l, test_rejections, "rejections");
}

const op_family op_family_mean = {"mean", 11, add_cases, setup};
