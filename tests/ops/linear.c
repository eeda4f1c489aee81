/* Op family linear: cn_linear against a double reference on both GEMM backends: odd sizes, a long input (the VGGish FC shape, scaled down), bias and ReLU combinations, shape errors. */
#include <math.h>
#include <stdlib.h>

#include "gemm_ref.h"
#include "ops/op_test.h"

/* As in the gemm family: the float32 sum of `in` products drifts by about
 * sqrt(in) * u * sum|x w| (u = 2^-24) with independent rounding signs; allow
 * 4x that. A wrong or missing term (|x w| ~ 1/4 here) is far larger. */
#define U32 5.96e-8

/* st: storage of x, w and y (bias float): half inputs are rounded before the
 * reference sees them. */
static void run_case(cn_ctx *ctx, tu_rng *r, int64_t n, int64_t in, int64_t out, int bias,
                     int relu, const char *what, const cn_dtype st[3])
{
    float *x = tu_rand_array(r, n * in, -1, 1), *w = tu_rand_array(r, out * in, -1, 1);
    float *b = tu_rand_array(r, out, -1, 1), *got = malloc((size_t)(n * out) * sizeof *got);
    double *want = malloc((size_t)(n * out) * sizeof *want);
    double *mag = malloc((size_t)(n * out) * sizeof *mag);
    tu_half_inputs(st[0], x, n * in);
    tu_half_inputs(st[1], w, out * in);
    cn_tensor tx, tw, tb = {0};
    TU_OK(cn_tensor_from_host_as(ctx, &tx, st[0], 2, (int64_t[]){n, in}, x));
    TU_OK(cn_tensor_from_host_as(ctx, &tw, st[1], 2, (int64_t[]){out, in}, w));
    if (bias)
        TU_OK(cn_tensor_from_host(ctx, &tb, 1, (int64_t[]){out}, b));
    tu_guarded g;
    TU_OK(tu_guarded_alloc_as(ctx, &g, st[2], 2, (int64_t[]){n, out}));
    TU_OK(cn_linear(ctx, &tx, &tw, bias ? &tb : NULL, relu, &g.t));
    char label[160];
    snprintf(label, sizeof label, "%s linear %lldx%lld -> %lld%s%s%s", what, (long long)n,
             (long long)in, (long long)out, bias ? " +b" : "", relu ? " relu" : "",
             st[0] || st[1] || st[2] ? " [half]" : "");
    tu_guard_check(ctx, &g, got, label);
    ref_linear(n, in, out, x, w, bias ? b : NULL, relu, want, mag);
    double maxmag = 0;
    for (int64_t i = 0; i < n * out; i++)
        maxmag = mag[i] > maxmag ? mag[i] : maxmag;
    double atol = 4.0 * sqrt((double)in) * U32 * maxmag, rtol = 4.0 * U32;
    if (st[2] == CN_F16) {
        /* the product is stored as half, then bias and ReLU are applied and
         * it is stored again: two roundings, the first of a value at most
         * |y| + |b| (|b| < 1) in magnitude */
        rtol += 2 * TU_HALF_U;
        atol += 2 * TU_HALF_ABS + (bias ? TU_HALF_U : 0);
    }
    tu_compare(label, got, want, n * out, atol, rtol);
    if (relu) {
        int neg = 0;
        for (int64_t i = 0; i < n * out; i++)
            neg += got[i] < 0.0f;
        TU_CHECK(neg == 0, "%s: %d negative outputs after ReLU", label, neg);
    }
    cn_tensor_release(ctx, &tx);
    cn_tensor_release(ctx, &tw);
    cn_tensor_release(ctx, &tb);
    tu_guarded_free(&g);
    free(x), free(w), free(b), free(got), free(want), free(mag);
}

static void test_errors(cn_ctx *ctx, tu_rng *r)
{
    float *h = tu_rand_array(r, 64, -1, 1);
    cn_tensor x, w, b, y, y3, b2;
    TU_OK(cn_tensor_from_host(ctx, &x, 2, (int64_t[]){3, 5}, h));
    TU_OK(cn_tensor_from_host(ctx, &w, 2, (int64_t[]){4, 5}, h));
    TU_OK(cn_tensor_from_host(ctx, &b, 1, (int64_t[]){4}, h));
    TU_OK(cn_tensor_from_host(ctx, &b2, 1, (int64_t[]){5}, h));
    TU_OK(cn_tensor_alloc(ctx, &y, 2, (int64_t[]){3, 4}));
    TU_OK(cn_tensor_alloc(ctx, &y3, 3, (int64_t[]){3, 4, 1}));
    TU_OK(cn_linear(ctx, &x, &w, &b, 1, &y));
    TU_FAILS(CN_ERR_SHAPE, cn_linear(ctx, &x, &x, &b, 0, &y));  /* w (3,5): out 3 != 4 */
    TU_FAILS(CN_ERR_SHAPE, cn_linear(ctx, &w, &w, &b, 0, &y));  /* x rows 4 != 3 */
    TU_FAILS(CN_ERR_SHAPE, cn_linear(ctx, &x, &w, &b2, 0, &y)); /* bias of 5 */
    TU_FAILS(CN_ERR_SHAPE, cn_linear(ctx, &x, &w, &x, 0, &y));  /* 2-D bias */
    TU_FAILS(CN_ERR_SHAPE, cn_linear(ctx, &x, &w, NULL, 0, &y3));
    TU_FAILS(CN_ERR_SHAPE, cn_linear(ctx, &x, &y, NULL, 0, &y)); /* w (3,4): in 4 != 5 */
    cn_tensor empty = {0};
    TU_FAILS(CN_ERR_ARG, cn_linear(ctx, &empty, &w, NULL, 0, &y));
    TU_FAILS(CN_ERR_ARG, cn_linear(ctx, &x, &w, &empty, 0, &y));
    cn_tensor_release(ctx, &x);
    cn_tensor_release(ctx, &w);
    cn_tensor_release(ctx, &b);
    cn_tensor_release(ctx, &b2);
    cn_tensor_release(ctx, &y);
    cn_tensor_release(ctx, &y3);
    free(h);
}

typedef struct linear_shape {
    int64_t n, in, out;
    int bias, relu;
} linear_shape;

static const linear_shape shapes[] = {
    {3, 13, 11, 0, 0}, {3, 13, 11, 1, 0}, {3, 13, 11, 0, 1}, {3, 13, 11, 1, 1},
    /* a batch of 2 on a long input (the FC layer's 12288, scaled down) */
    {2, 3072, 96, 1, 1}, {3, 1537, 11, 0, 1},
    /* a wider batch, which takes the general (not skinny) kernels */
    {37, 129, 70, 1, 0}, {1, 1, 1, 1, 1},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

/* Storage of x, w, y: float; the model's linear layers in fp16 (half
 * weight, float vectors); everything half. */
static const cn_dtype storages[3][3] = {
    {CN_F32, CN_F32, CN_F32}, {CN_F32, CN_F16, CN_F32}, {CN_F16, CN_F16, CN_F16}};
static const char *const storage_names[3] = {"", ", half w", ", half x w y"};

typedef struct linear_case {
    cn_gemm_backend backend;
    const linear_shape *s;
    int storage;
} linear_case;
static linear_case linear_cases[4 * NSHAPES];

static void case_shape(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const linear_case *c = arg;
    cn_gemm_set_backend(ctx, c->backend);
    run_case(ctx, r, c->s->n, c->s->in, c->s->out, c->s->bias, c->s->relu,
             cn_gemm_backend_name(c->backend), storages[c->storage]);
}

static void case_errors(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)arg;
    test_errors(ctx, r);
}

static void add_cases(op_cases *l)
{
    static const cn_gemm_backend bes[4] = {CN_GEMM_OWN, CN_GEMM_CLBLAST, CN_GEMM_OWN,
                                           CN_GEMM_OWN};
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < NSHAPES; i++) {
            linear_case *c = &linear_cases[b * NSHAPES + i];
            c->backend = bes[b], c->s = &shapes[i], c->storage = b < 2 ? 0 : b - 1;
            op_add(l, case_shape, c, "%s %lldx%lld -> %lld%s%s%s", cn_gemm_backend_name(bes[b]),
                   (long long)shapes[i].n, (long long)shapes[i].in, (long long)shapes[i].out,
                   shapes[i].bias ? " +b" : "", shapes[i].relu ? " relu" : "",
                   storage_names[c->storage]);
        }
    op_add(l, case_errors, NULL, "shape errors");
}

const op_family op_family_linear = {"linear", 11, add_cases, NULL};
