/* Op family gemm: cn_gemm against a double reference on both backends, every transpose, odd and skinny sizes, batches with offsets and strides, tunings, guards and rejections. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_ref.h"
#include "ops/helpers/gemm_case.h"
#include "ops/op_test.h"

static cl_mem upload(cn_ctx *ctx, const float *h, int64_t n)
{
    cl_int err;
    cl_mem m = clCreateBuffer(cn_ctx_cl(ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                              (size_t)(n > 0 ? n : 1) * sizeof(float), (void *)h, &err);
    TU_CHECK(err == CL_SUCCESS, "clCreateBuffer: %s", cn_cl_error_name(err));
    return m;
}

/* One transpose combination (ta, tb) on odd, tiny, edge-crossing, divisible
 * and skinny sizes, plain and batched with offsets, padded strides and beta. */
static void run_transpose(cn_ctx *ctx, tu_rng *r, const char *what, int quick, int ta, int tb,
                          const cn_dtype st[3])
{
    static const int64_t odd[][3] = {{13, 11, 9}, {1, 1, 1}, {67, 129, 33}, {128, 64, 40}};
    static const int64_t skinny[][3] = {{300, 2, 257}, {3, 150, 77}, {500, 1, 33}, {1, 70, 1000}};
    for (int s = 0; s < 4; s++) {
        const int64_t *z = odd[s];
        cn_gemm_desc d = gemm_mk(ta, tb, z[0], z[1], z[2], 1, 0, 1.0f, 0.0f);
        d.a_type = st[0], d.b_type = st[1], d.c_type = st[2];
        gemm_run_case(ctx, r, &d, what);
        if (quick && s != 2)
            continue;
        d = gemm_mk(ta, tb, z[0], z[1], z[2], 3, 1, -0.7f, 1.3f);
        d.a_type = st[0], d.b_type = st[1], d.c_type = st[2];
        gemm_run_case(ctx, r, &d, what);
    }
    for (int s = 0; s < 4; s++) {
        const int64_t *z = skinny[s];
        cn_gemm_desc d = gemm_mk(ta, tb, z[0], z[1], z[2], s == 1 ? 2 : 1, s == 1, 1.0f,
                            s == 1 ? 0.5f : 0.0f);
        d.a_type = st[0], d.b_type = st[1], d.c_type = st[2];
        gemm_run_case(ctx, r, &d, what);
    }
}

/* Sizes divisible by every default tile (only fast paths), K = 0 (C = beta C),
 * and a batch that reuses one A. */
static void run_special(cn_ctx *ctx, tu_rng *r, const char *what, const cn_dtype st[3])
{
    cn_gemm_desc d = gemm_mk(0, 0, 128, 256, 64, 2, 0, 1.0f, 0.0f);
    d.a_type = st[0], d.b_type = st[1], d.c_type = st[2];
    gemm_run_case(ctx, r, &d, what);
    d = gemm_mk(0, 1, 5, 7, 0, 2, 1, 2.0f, 0.5f);
    d.a_type = st[0], d.b_type = st[1], d.c_type = st[2];
    gemm_run_case(ctx, r, &d, what);
    /* stride 0, as a broadcast weight would */
    d = gemm_mk(1, 0, 19, 33, 21, 3, 0, 1.0f, 0.0f);
    d.a_type = st[0], d.b_type = st[1], d.c_type = st[2];
    d.stride_a = 0;
    gemm_run_case(ctx, r, &d, what);
}

static void test_rejections(cn_ctx *ctx)
{
    cn_gemm_desc ok = gemm_mk(0, 0, 4, 5, 6, 1, 0, 1.0f, 0.0f);
    cl_mem a = upload(ctx, (float[64]){0}, 64), b = upload(ctx, (float[64]){0}, 64);
    tu_guarded g;
    TU_OK(tu_guarded_alloc(ctx, &g, 1, (int64_t[]){20}));
    cl_mem c = g.t.buf;
    float fill[20];
    for (int i = 0; i < 20; i++)
        fill[i] = 1.5f;
    TU_OK(CN_CL(clEnqueueWriteBuffer(cn_ctx_queue(ctx), c, CL_TRUE, 0, sizeof fill, fill, 0, NULL,
                                     NULL)));
    cn_gemm_desc d;
#define REJECT(code, change, ab, bb, cb)                                                   \
    do {                                                                                   \
        d = ok;                                                                            \
        change;                                                                            \
        TU_FAILS(code, cn_gemm(ctx, &d, a, ab, b, bb, c, cb));                             \
    } while (0)
    REJECT(CN_ERR_SHAPE, (void)0, 23 * 4, 30 * 4, 20 * 4); /* A one float short */
    REJECT(CN_ERR_SHAPE, (void)0, 24 * 4, 29 * 4, 20 * 4); /* B one float short */
    REJECT(CN_ERR_SHAPE, (void)0, 24 * 4, 30 * 4, 19 * 4); /* C one float short */
    REJECT(CN_ERR_SHAPE, d.batch = 2, 64 * 4, 64 * 4, 20 * 4); /* C too small for batch 2 */
    REJECT(CN_ERR_SHAPE, d.off_c = 1, 24 * 4, 30 * 4, 20 * 4);
    REJECT(CN_ERR_SHAPE, d.M = -1, 64 * 4, 64 * 4, 20 * 4);
    REJECT(CN_ERR_SHAPE, d.K = -3, 64 * 4, 64 * 4, 20 * 4);
    REJECT(CN_ERR_SHAPE, d.batch = -2, 64 * 4, 64 * 4, 20 * 4);
    REJECT(CN_ERR_SHAPE, d.N = (int64_t)1 << 40, 64 * 4, 64 * 4, 20 * 4);
    REJECT(CN_ERR_ARG, d.lda = 5, 64 * 4, 64 * 4, 20 * 4); /* lda < K */
    REJECT(CN_ERR_ARG, d.ldb = 4, 64 * 4, 64 * 4, 20 * 4); /* ldb < N */
    REJECT(CN_ERR_ARG, d.ldc = 4, 64 * 4, 64 * 4, 20 * 4); /* ldc < N */
    REJECT(CN_ERR_ARG, (d.trans_a = 1, d.lda = 3), 64 * 4, 64 * 4, 20 * 4); /* lda < M */
    REJECT(CN_ERR_ARG, (d.trans_b = 1, d.ldb = 5), 64 * 4, 64 * 4, 20 * 4); /* ldb < K */
    REJECT(CN_ERR_ARG, d.trans_a = 2, 64 * 4, 64 * 4, 20 * 4);
    REJECT(CN_ERR_ARG, d.off_b = -1, 64 * 4, 64 * 4, 20 * 4);
    REJECT(CN_ERR_ARG, d.stride_a = -4, 64 * 4, 64 * 4, 20 * 4);
    REJECT(CN_ERR_ARG, (d.batch = 2, d.stride_c = 0), 64 * 4, 64 * 4, 64 * 4); /* racing batches */
    REJECT(CN_ERR_ARG, (d.batch = 2, d.stride_c = 19), 64 * 4, 64 * 4, 64 * 4);
    /* half operands count halves: A (24 elements) needs 48 bytes, not 96 */
    REJECT(CN_ERR_SHAPE, d.a_type = CN_F16, 23 * 2, 30 * 4, 20 * 4);
    REJECT(CN_ERR_SHAPE, d.c_type = CN_F16, 24 * 4, 30 * 4, 19 * 2);
    REJECT(CN_ERR_ARG, d.b_type = (cn_dtype)7, 64 * 4, 64 * 4, 20 * 4);
    TU_FAILS(CN_ERR_ARG, cn_gemm(ctx, &ok, NULL, 64 * 4, b, 64 * 4, c, 20 * 4));
    TU_FAILS(CN_ERR_ARG, cn_gemm(ctx, NULL, a, 64 * 4, b, 64 * 4, c, 20 * 4));
    TU_FAILS(CN_ERR_ARG, cn_gemm(ctx, &ok, a, 64 * 4, b, 64 * 4, a, 64 * 4)); /* C is A */
    /* empty products are valid and touch nothing */
    d = ok, d.M = 0;
    TU_OK(cn_gemm(ctx, &d, a, 0, b, 0, c, 0));
    d = ok, d.N = 0;
    TU_OK(cn_gemm(ctx, &d, a, 0, b, 0, c, 0));
    /* nothing above may have written C (nor, per the guards, around it) */
    float host[20];
    TU_CHECK(tu_guard_check(ctx, &g, host, "rejected calls") == 0, "guards");
    int touched = 0;
    for (int i = 0; i < 20; i++)
        touched += host[i] != 1.5f;
    TU_CHECK(touched == 0, "rejected calls wrote %d elements of C", touched);
    /* tuning strings are checked */
    TU_FAILS(CN_ERR_ARG, cn_gemm_set_tuning(ctx, "-DGEMM_VW=3"));
    TU_FAILS(CN_ERR_ARG, cn_gemm_set_tuning(ctx, "-DGEMM_NOPE=1"));
    TU_FAILS(CN_ERR_ARG, cn_gemm_set_tuning(ctx, "-DGEMM_WM=x"));
    TU_FAILS(CN_ERR_ARG, cn_gemm_set_tuning(ctx, "-DGEMM_WM=0"));
    TU_OK(cn_gemm_set_tuning(ctx, NULL));
    tu_guarded_free(&g);
    clReleaseMemObject(a);
    clReleaseMemObject(b);
#undef REJECT
}

/* A backend, and for the own kernels a tuning: the local-memory variant (the
 * default on GPUs) with small tiles, so that the test sizes cross several
 * tiles and partial k tiles, and a scalar direct variant with unusual
 * blocking. quick: the tuned variants skip most batched products. */
typedef struct gemm_config {
    const char *name;
    cn_gemm_backend backend;
    const char *tuning;
    int quick;
    cn_dtype st[3]; /* storage of A, B, C */
    int trans;      /* bit t: run transpose combination t (NN, NT, TN, TT); 0: all */
} gemm_config;

static const gemm_config configs[] = {
    {"own", CN_GEMM_OWN, NULL, 0, {CN_F32, CN_F32, CN_F32}, 0},
    {"own/local", CN_GEMM_OWN,
     "-DGEMM_LOCAL=1 -DGEMM_VW=4 -DGEMM_NV=2 -DGEMM_WM=4 -DGEMM_LM=4 -DGEMM_LN=2 -DGEMM_TK=8", 1,
     {CN_F32, CN_F32, CN_F32}, 0},
    {"own/scalar", CN_GEMM_OWN,
     "-DGEMM_VW=1 -DGEMM_NV=3 -DGEMM_WM=3 -DGEMM_WGM=4 -DGEMM_SK_RP=3 -DGEMM_SK_PV=2 "
     "-DGEMM_SKINNY=3",
     1, {CN_F32, CN_F32, CN_F32}, 0},
    {"clblast", CN_GEMM_CLBLAST, NULL, 0, {CN_F32, CN_F32, CN_F32}, 0},
    /* half storage (the own kernels, whatever backend is asked for: CLBlast
     * would sum in half): all half on each variant, and the mixes the model
     * runs (half weight and activation into a float product, a float
     * operand into a half C) */
    /* Each (variant, transposes, storage) is a program of its own, and
     * Intel's CPU compiler takes up to half a minute per gemm program: the
     * half cases take the transposes that reach every half code path. NN
     * and TT switch both operands' indexing and TB's gathers; the mixes
     * change which matrices are half, not the code paths, and NN's skinny
     * sizes map A and B onto U and V both ways. */
    {"half", CN_GEMM_OWN, NULL, 0, {CN_F16, CN_F16, CN_F16}, 9},
    {"half/local", CN_GEMM_OWN,
     "-DGEMM_LOCAL=1 -DGEMM_VW=4 -DGEMM_NV=2 -DGEMM_WM=4 -DGEMM_LM=4 -DGEMM_LN=2 -DGEMM_TK=8", 1,
     {CN_F16, CN_F16, CN_F16}, 9},
    {"half/scalar", CN_GEMM_OWN,
     "-DGEMM_VW=1 -DGEMM_NV=3 -DGEMM_WM=3 -DGEMM_WGM=4 -DGEMM_SK_RP=3 -DGEMM_SK_PV=2 "
     "-DGEMM_SKINNY=3",
     1, {CN_F16, CN_F16, CN_F16}, 8},
    {"half A B, float C", CN_GEMM_OWN, NULL, 1, {CN_F16, CN_F16, CN_F32}, 1},
    {"float A, half B C", CN_GEMM_OWN, NULL, 1, {CN_F32, CN_F16, CN_F16}, 1},
    {"half asked of clblast", CN_GEMM_CLBLAST, NULL, 1, {CN_F16, CN_F32, CN_F16}, 1},
};
#define NCONFIGS (int)(sizeof configs / sizeof configs[0])

typedef struct gemm_case {
    const gemm_config *cfg;
    int t; /* -1: the special sizes; else trans_a = t >> 1, trans_b = t & 1 */
} gemm_case;
static gemm_case gemm_cases[NCONFIGS * 5];

static void case_products(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const gemm_case *c = arg;
    cn_gemm_set_backend(ctx, c->cfg->backend);
    if (c->cfg->tuning)
        TU_OK(cn_gemm_set_tuning(ctx, c->cfg->tuning));
    if (c->t < 0)
        run_special(ctx, r, c->cfg->name, c->cfg->st);
    else
        run_transpose(ctx, r, c->cfg->name, c->cfg->quick, c->t >> 1, c->t & 1, c->cfg->st);
    if (c->cfg->tuning)
        TU_OK(cn_gemm_set_tuning(ctx, NULL));
}

static void case_rejections(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    (void)r;
    cn_gemm_set_backend(ctx, *(const cn_gemm_backend *)arg);
    test_rejections(ctx);
}

static void add_cases(op_cases *l)
{
    static const char *const tr[4] = {"NN", "NT", "TN", "TT"};
    int n = 0;
    for (int i = 0; i < NCONFIGS; i++) {
        for (int t = 0; t < 4; t++) {
            if (configs[i].trans && !(configs[i].trans >> t & 1))
                continue;
            gemm_cases[n] = (gemm_case){&configs[i], t};
            op_add(l, case_products, &gemm_cases[n++], "%s %s", configs[i].name, tr[t]);
        }
        if (!configs[i].quick) {
            gemm_cases[n] = (gemm_case){&configs[i], -1};
            op_add(l, case_products, &gemm_cases[n++], "%s divisible, K = 0, shared A",
                   configs[i].name);
        }
    }
    static const cn_gemm_backend bes[2] = {CN_GEMM_OWN, CN_GEMM_CLBLAST};
    for (int i = 0; i < 2; i++)
        op_add(l, case_rejections, &bes[i], "%s rejections", cn_gemm_backend_name(bes[i]));
}

/* Which tuning the own kernels run with by default on this device. */
static void setup(cn_ctx *ctx)
{
    char tb[512];
    printf("own kernel tuning: %s\n", cn_gemm_tuning(ctx, tb, sizeof tb));
}

const op_family op_family_gemm = {"gemm", 7, add_cases, setup};
