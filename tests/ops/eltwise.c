/* Op family eltwise: elementwise ops against double-precision references on odd shapes, float and half storage, with guard checks and shape errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eltwise_ref.h"
#include "ops/op_test.h"

/* float32 elementwise results are one rounding (or a few ulp for erf/exp) from
 * the exact value: 1e-6 relative plus a 1e-6 floor near zero is generous. */
#define ATOL 1e-6
#define RTOL 1e-5

/* Storage of the inputs (x, z) and of the output y of one case. */
typedef struct ew_types {
    cn_dtype in, out;
} ew_types;
static const ew_types EW_FLOAT = {CN_F32, CN_F32}, EW_HALF = {CN_F16, CN_F16},
                      EW_TO_HALF = {CN_F32, CN_F16}, EW_FROM_HALF = {CN_F16, CN_F32};

/* The float tolerances, plus the one rounding of a half output (testutil.h):
 * inputs are rounded to half before the reference sees them. */
static double atol_of(cn_dtype out) { return ATOL + (out == CN_F16 ? TU_HALF_ABS : 0); }
static double rtol_of(cn_dtype out) { return RTOL + (out == CN_F16 ? TU_HALF_U : 0); }

static void test_axpby_unary(cn_ctx *ctx, tu_rng *r, ew_types ty)
{
    int64_t shapes[][5] = {{1, 1, 1, 1, 1}, {2, 13, 3, 11, 10}, {3, 5, 7, 9, 1}};
    const double at = atol_of(ty.out), rt = rtol_of(ty.out);
    for (int s = 0; s < 3; s++) {
        int64_t *sh = shapes[s], n = sh[0] * sh[1] * sh[2] * sh[3] * sh[4];
        float *x = tu_rand_array(r, n, -6, 6), *z = tu_rand_array(r, n, -2, 2);
        tu_half_inputs(ty.in, x, n);
        tu_half_inputs(ty.in, z, n);
        float *got = malloc((size_t)n * sizeof *got);
        double *want = malloc((size_t)n * sizeof *want);
        cn_tensor tx, tz;
        TU_OK(cn_tensor_from_host_as(ctx, &tx, ty.in, 5, sh, x));
        TU_OK(cn_tensor_from_host_as(ctx, &tz, ty.in, 5, sh, z));
        tu_guarded g;
        TU_OK(tu_guarded_alloc_as(ctx, &g, ty.out, 5, sh));

        TU_OK(cn_axpby(ctx, 0.7f, &tx, -1.3f, &tz, &g.t));
        tu_guard_check(ctx, &g, got, "axpby");
        ref_axpby(n, 0.7f, x, -1.3f, z, want);
        tu_compare("axpby", got, want, n, at, rt);

        const char *names[] = {"relu", "gelu+0.2", "sigmoid"};
        for (int op = 0; op < 3; op++) {
            tu_guarded_free(&g);
            TU_OK(tu_guarded_alloc_as(ctx, &g, ty.out, 5, sh));
            float shift = op == 1 ? 0.2f : 0.0f;
            TU_OK(cn_unary(ctx, (cn_unary_op)op, shift, &tx, &g.t));
            tu_guard_check(ctx, &g, got, names[op]);
            ref_unary(n, op, shift, x, want);
            tu_compare(names[op], got, want, n, at, rt);
        }
        /* in place (x's storage in and out) */
        TU_OK(cn_scale(ctx, 2.0f, &tx, &tx));
        TU_OK(cn_tensor_download(ctx, &tx, got));
        ref_axpby(n, 2.0, x, 0, NULL, want);
        tu_compare("scale in place", got, want, n, atol_of(ty.in), rtol_of(ty.in));

        cn_tensor_release(ctx, &tx);
        cn_tensor_release(ctx, &tz);
        tu_guarded_free(&g);
        free(x), free(z), free(got), free(want);
    }
}

static void test_sigmoid_extremes(cn_ctx *ctx)
{
    float x[4] = {-200.0f, -30.0f, 30.0f, 200.0f};
    float got[4];
    double want[4];
    cn_tensor t;
    TU_OK(cn_tensor_from_host(ctx, &t, 1, (int64_t[]){4}, x));
    TU_OK(cn_sigmoid(ctx, &t, &t));
    TU_OK(cn_tensor_download(ctx, &t, got));
    ref_unary(4, 2, 0, x, want);
    tu_compare("sigmoid extremes", got, want, 4, 1e-30, RTOL);
    cn_tensor_release(ctx, &t);
}

/* Copies are exact, but for the one rounding of a float input into a half
 * output, which must be the host's (round to nearest even): those cases
 * compare against the host-rounded input with no tolerance at all. */
static void test_broadcast_concat(cn_ctx *ctx, tu_rng *r, ew_types ty)
{
    int64_t N = 2, C = 13, inner = 3 * 5 * 7;
    float *v = tu_rand_array(r, N * C, -1, 1);
    tu_half_inputs(ty.in, v, N * C);
    double *want = malloc((size_t)(N * C * inner) * sizeof *want);
    float *got = malloc((size_t)(N * C * inner) * sizeof *got);
    cn_tensor tv;
    TU_OK(cn_tensor_from_host_as(ctx, &tv, ty.in, 2, (int64_t[]){N, C}, v));
    tu_guarded g;
    int64_t ys[5] = {N, C, 3, 5, 7};
    TU_OK(tu_guarded_alloc_as(ctx, &g, ty.out, 5, ys));
    TU_OK(cn_broadcast_nc(ctx, &tv, &g.t));
    tu_guard_check(ctx, &g, got, "broadcast");
    tu_half_inputs(ty.out, v, N * C);
    ref_broadcast_nc(N * C, inner, v, want);
    tu_compare("broadcast_nc", got, want, N * C * inner, 0, 0);
    tu_guarded_free(&g);

    /* concat of 3 inputs with 2, 13 and 1 channels */
    int64_t cs[3] = {2, 13, 1}, ctot = 16;
    cn_tensor xs[3];
    float *xh[3];
    double *want2 = malloc((size_t)(N * ctot * inner) * sizeof *want2);
    int64_t off = 0;
    for (int i = 0; i < 3; i++) {
        xh[i] = tu_rand_array(r, N * cs[i] * inner, -1, 1);
        tu_half_inputs(ty.in, xh[i], N * cs[i] * inner);
        TU_OK(cn_tensor_from_host_as(ctx, &xs[i], ty.in, 5, (int64_t[]){N, cs[i], 3, 5, 7},
                                     xh[i]));
        tu_half_inputs(ty.out, xh[i], N * cs[i] * inner);
        ref_copy_channels(N, cs[i], inner, ctot, off, xh[i], want2);
        off += cs[i];
    }
    int64_t yc[5] = {N, ctot, 3, 5, 7};
    TU_OK(tu_guarded_alloc_as(ctx, &g, ty.out, 5, yc));
    TU_OK(cn_concat_channels(ctx, xs, 3, &g.t));
    float *got2 = malloc((size_t)(N * ctot * inner) * sizeof *got2);
    tu_guard_check(ctx, &g, got2, "concat");
    tu_compare("concat_channels", got2, want2, N * ctot * inner, 0, 0);

    /* shape errors are reported before anything runs */
    TU_FAILS(CN_ERR_SHAPE, cn_copy_channels(ctx, &xs[1], &g.t, 4));
    TU_FAILS(CN_ERR_SHAPE, cn_add(ctx, &xs[0], &xs[1], &g.t));
    TU_FAILS(CN_ERR_SHAPE, cn_broadcast_nc(ctx, &xs[0], &g.t));
    TU_FAILS(CN_ERR_SHAPE, cn_concat_channels(ctx, xs, 2, &g.t));
    cn_tensor empty = {0};
    TU_FAILS(CN_ERR_ARG, cn_sigmoid(ctx, &empty, &g.t));

    for (int i = 0; i < 3; i++) {
        cn_tensor_release(ctx, &xs[i]);
        free(xh[i]);
    }
    tu_guarded_free(&g);
    cn_tensor_release(ctx, &tv);
    free(v), free(want), free(got), free(want2), free(got2);
}

/* The conversion a float-to-half copy does, on values chosen to be hard:
 * ties between two halves (even and odd), just either side of them, the
 * subnormal range, overflow, Inf, NaN and signed zeros. Each must be
 * bit-identical to the host's cn_f32_to_f16 (the upload's conversion), and a
 * half-to-float copy must give back exactly the half value. */
static void test_conversion(cn_ctx *ctx)
{
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x), *got = malloc(N * sizeof *got);
    tu_rng r = tu_seed(5);
    for (int i = 0; i < N; i++) {
        /* a random half, then the point halfway to its neighbour, nudged */
        uint16_t h = (uint16_t)(tu_next(&r) & 0x7bffu);
        const double lo = cn_f16_to_f32(h), hi = cn_f16_to_f32((uint16_t)(h + 1));
        const double mid = 0.5 * (lo + hi);
        const int kind = i % 4;
        double v = kind == 0 ? mid : kind == 1 ? lo : tu_uniform(&r, lo, hi);
        float f = (float)v;
        if (kind == 3)
            f = nextafterf((float)mid, (i & 4) ? INFINITY : 0.0f);
        x[i] = (i & 8) ? -f : f;
    }
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 65504.0f, 65519.9f, 65520.0f,
                             1e6f, 0x1p-24f, 0x1p-25f, 0x1.8p-24f, 0x1p-26f, 1e-30f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        x[i] = special[i];
    cn_tensor tx = {0}, th = {0}, tb = {0};
    const int64_t sh[3] = {1, 1, N};
    TU_OK(cn_tensor_from_host(ctx, &tx, 3, sh, x));
    TU_OK(cn_tensor_alloc_as(ctx, &th, CN_F16, 3, sh));
    TU_OK(cn_copy_channels(ctx, &tx, &th, 0));
    TU_OK(cn_tensor_download(ctx, &th, got));
    int bad = 0, first = -1;
    for (int i = 0; i < N; i++) {
        const uint16_t dev = cn_f32_to_f16(got[i]), host = cn_f32_to_f16(x[i]);
        const int same = dev == host || (isnan(got[i]) && isnan(x[i]));
        if (!same && first < 0)
            first = i;
        bad += !same;
    }
    TU_CHECK(bad == 0, "float to half on the device: %d of %d differ from the host's rounding "
             "(first: %.9g gave %.9g, host %.9g)", bad, N, first >= 0 ? x[first] : 0.0,
             first >= 0 ? got[first] : 0.0, first >= 0 ? cn_f16_to_f32(cn_f32_to_f16(x[first])) : 0.0);
    /* and back: a half read into a float tensor is exact */
    TU_OK(cn_tensor_alloc(ctx, &tb, 3, sh));
    TU_OK(cn_copy_channels(ctx, &th, &tb, 0));
    float *back = malloc(N * sizeof *back);
    TU_OK(cn_tensor_download(ctx, &tb, back));
    bad = 0;
    for (int i = 0; i < N; i++)
        bad += memcmp(&back[i], &got[i], sizeof(float)) != 0 && !(isnan(back[i]) && isnan(got[i]));
    TU_CHECK(bad == 0, "half to float on the device: %d of %d values differ from the exact "
             "widening", bad, N);
    cn_tensor_release(ctx, &tx);
    cn_tensor_release(ctx, &th);
    cn_tensor_release(ctx, &tb);
    free(x), free(got), free(back);
}

static void case_axpby_unary(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    test_axpby_unary(ctx, r, *(const ew_types *)arg);
}

static void case_broadcast_concat(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    test_broadcast_concat(ctx, r, *(const ew_types *)arg);
}

static void add_cases(op_cases *l)
{
    op_add(l, case_axpby_unary, &EW_FLOAT, "axpby and unary activations");
    op_add_plain(l, test_sigmoid_extremes, "sigmoid at extreme inputs");
    op_add(l, case_broadcast_concat, &EW_FLOAT, "broadcast and channel copies");
    /* half storage: everything half, and each direction of a mixed pair */
    op_add(l, case_axpby_unary, &EW_HALF, "axpby and unary activations, half");
    op_add(l, case_axpby_unary, &EW_TO_HALF, "axpby and unary activations, float to half");
    op_add(l, case_axpby_unary, &EW_FROM_HALF, "axpby and unary activations, half to float");
    op_add(l, case_broadcast_concat, &EW_HALF, "broadcast and channel copies, half");
    op_add(l, case_broadcast_concat, &EW_TO_HALF, "broadcast and channel copies, float to half");
    op_add(l, case_broadcast_concat, &EW_FROM_HALF, "broadcast and channel copies, half to float");
    op_add_plain(l, test_conversion, "float to half conversion, ties and specials");
}

const op_family op_family_eltwise = {"eltwise", 42, add_cases, NULL};
