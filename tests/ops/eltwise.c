/* Op family eltwise: elementwise ops against double-precision references on odd shapes, with guard checks and shape errors. */
#include <math.h>
#include <stdlib.h>

#include "eltwise_ref.h"
#include "ops/op_test.h"

/* float32 elementwise results are one rounding (or a few ulp for erf/exp) from
 * the exact value: 1e-6 relative plus a 1e-6 floor near zero is generous. */
#define ATOL 1e-6
#define RTOL 1e-5

static void test_axpby_unary(cn_ctx *ctx, tu_rng *r)
{
    int64_t shapes[][5] = {{1, 1, 1, 1, 1}, {2, 13, 3, 11, 10}, {3, 5, 7, 9, 1}};
    for (int s = 0; s < 3; s++) {
        int64_t *sh = shapes[s], n = sh[0] * sh[1] * sh[2] * sh[3] * sh[4];
        float *x = tu_rand_array(r, n, -6, 6), *z = tu_rand_array(r, n, -2, 2);
        float *got = malloc((size_t)n * sizeof *got);
        double *want = malloc((size_t)n * sizeof *want);
        cn_tensor tx, tz;
        TU_OK(cn_tensor_from_host(ctx, &tx, 5, sh, x));
        TU_OK(cn_tensor_from_host(ctx, &tz, 5, sh, z));
        tu_guarded g;
        TU_OK(tu_guarded_alloc(ctx, &g, 5, sh));

        TU_OK(cn_axpby(ctx, 0.7f, &tx, -1.3f, &tz, &g.t));
        tu_guard_check(ctx, &g, got, "axpby");
        ref_axpby(n, 0.7f, x, -1.3f, z, want);
        tu_compare("axpby", got, want, n, ATOL, RTOL);

        const char *names[] = {"relu", "gelu+0.2", "sigmoid"};
        for (int op = 0; op < 3; op++) {
            tu_guarded_free(&g);
            TU_OK(tu_guarded_alloc(ctx, &g, 5, sh));
            float shift = op == 1 ? 0.2f : 0.0f;
            TU_OK(cn_unary(ctx, (cn_unary_op)op, shift, &tx, &g.t));
            tu_guard_check(ctx, &g, got, names[op]);
            ref_unary(n, op, shift, x, want);
            tu_compare(names[op], got, want, n, ATOL, RTOL);
        }
        /* in place */
        TU_OK(cn_scale(ctx, 2.0f, &tx, &tx));
        TU_OK(cn_tensor_download(ctx, &tx, got));
        ref_axpby(n, 2.0, x, 0, NULL, want);
        tu_compare("scale in place", got, want, n, ATOL, RTOL);

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

static void test_broadcast_concat(cn_ctx *ctx, tu_rng *r)
{
    int64_t N = 2, C = 13, inner = 3 * 5 * 7;
    float *v = tu_rand_array(r, N * C, -1, 1);
    double *want = malloc((size_t)(N * C * inner) * sizeof *want);
    float *got = malloc((size_t)(N * C * inner) * sizeof *got);
    cn_tensor tv;
    TU_OK(cn_tensor_from_host(ctx, &tv, 2, (int64_t[]){N, C}, v));
    tu_guarded g;
    int64_t ys[5] = {N, C, 3, 5, 7};
    TU_OK(tu_guarded_alloc(ctx, &g, 5, ys));
    TU_OK(cn_broadcast_nc(ctx, &tv, &g.t));
    tu_guard_check(ctx, &g, got, "broadcast");
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
        TU_OK(cn_tensor_from_host(ctx, &xs[i], 5, (int64_t[]){N, cs[i], 3, 5, 7}, xh[i]));
        ref_copy_channels(N, cs[i], inner, ctot, off, xh[i], want2);
        off += cs[i];
    }
    int64_t yc[5] = {N, ctot, 3, 5, 7};
    TU_OK(tu_guarded_alloc(ctx, &g, 5, yc));
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

static void case_axpby_unary(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)arg;
    test_axpby_unary(ctx, r);
}

static void case_broadcast_concat(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)arg;
    test_broadcast_concat(ctx, r);
}

static void add_cases(op_cases *l)
{
    op_add(l, case_axpby_unary, NULL, "axpby and unary activations");
    op_add_plain(l, test_sigmoid_extremes, "sigmoid at extreme inputs");
    op_add(l, case_broadcast_concat, NULL, "broadcast and channel copies");
}

const op_family op_family_eltwise = {"eltwise", 42, add_cases, NULL};
