/* Runtime tests: device listing and choice, the on-disk program cache (a second context loads instead of compiling), build failures, allocation faults and the arena, half tensors, per-context op state and tunings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conv_ref.h"
#include "gemm_ref.h"
#include "testutil.h"

static void test_devices(void)
{
    cn_device_info *list = NULL;
    int n = 0;
    TU_OK(cn_list_devices(&list, &n));
    TU_CHECK(n >= 1, "no device listed");
    for (int i = 0; i < n; i++) {
        TU_CHECK(list[i].index == i, "device %d has index %d", i, list[i].index);
        TU_CHECK(list[i].name[0] && list[i].global_mem > 0 && list[i].compute_units > 0,
                 "device %d facts missing", i);
    }
    free(list);

    cn_ctx *ctx = NULL;
    TU_FAILS(CN_ERR_ARG, cn_ctx_create(&(cn_ctx_opts){.device = "999"}, &ctx));
    TU_FAILS(CN_ERR_ARG, cn_ctx_create(&(cn_ctx_opts){.device = "no-such-device-xyz"}, &ctx));
    TU_CHECK(ctx == NULL, "failed create left a context");
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.device = "0", .cache_dir = "off"}, &ctx));
    cn_ctx_destroy(ctx);
}

/* Builds the eltwise program in a fresh context and reports where it came from. */
static cn_build_stats build_once(const char *dir, const char *options)
{
    cn_ctx *ctx = NULL;
    cn_build_stats s = {0};
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.cache_dir = dir}, &ctx));
    if (!ctx)
        return s;
    cl_kernel k;
    TU_OK(cn_kernel(ctx, "eltwise", options, "axpby", &k));
    /* the same program again is served from memory, not rebuilt */
    TU_OK(cn_kernel(ctx, "eltwise", options, "unary", &k));
    s = cn_ctx_build_stats(ctx);
    cn_ctx_destroy(ctx);
    return s;
}

static void test_program_cache(void)
{
    char dir[] = "/tmp/caspnet-cache-XXXXXX";
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    cn_build_stats a = build_once(dir, "-DEW_PER_ITEM=4");
    TU_CHECK(a.built_from_source == 1 && a.loaded_from_cache == 0 && a.cache_writes == 1,
             "first run: built %d, loaded %d, written %d (want 1, 0, 1)", a.built_from_source,
             a.loaded_from_cache, a.cache_writes);
    cn_build_stats b = build_once(dir, "-DEW_PER_ITEM=4");
    TU_CHECK(b.built_from_source == 0 && b.loaded_from_cache == 1,
             "second run: built %d, loaded %d (want 0, 1): the binary cache was not used",
             b.built_from_source, b.loaded_from_cache);
    printf("  program build: %.3f s from source, %.3f s from cache\n", a.build_seconds,
           b.build_seconds);
    /* different options are a different key */
    cn_build_stats c = build_once(dir, "-DEW_PER_ITEM=2");
    TU_CHECK(c.built_from_source == 1, "new options should compile (built %d)",
             c.built_from_source);
    /* a corrupt cache file is ignored, not fatal */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "for f in %s/*.clbin; do echo garbage > \"$f\"; done", dir);
    TU_CHECK(system(cmd) == 0, "corrupting cache");
    cn_build_stats d = build_once(dir, "-DEW_PER_ITEM=4");
    TU_CHECK(d.built_from_source == 1 && d.loaded_from_cache == 0,
             "corrupt cache: built %d, loaded %d (want 1, 0)", d.built_from_source,
             d.loaded_from_cache);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    TU_CHECK(system(cmd) == 0, "cleanup");
}

static void test_build_failure(void)
{
    setenv("CASPNET_TEST_BREAK_PROGRAM", "eltwise", 1);
    cn_ctx *ctx = NULL;
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.cache_dir = "off"}, &ctx));
    cl_kernel k;
    TU_FAILS(CN_ERR_BUILD, cn_kernel(ctx, "eltwise", NULL, "axpby", &k));
    TU_CHECK(strstr(cn_last_error(), "cl/eltwise.cl") && strstr(cn_last_error(), "build log"),
             "build failure message should name the file and carry the log: %s",
             cn_last_error());
    /* the broken line, numbered in eltwise.cl, not counting the storage
     * prelude in front of it (the #line 1 between them) */
    int lines = 0;
    for (int i = 0; i < cn_cl_source_count; i++)
        if (strcmp(cn_cl_sources[i].name, "eltwise") == 0)
            for (size_t j = 0; j < cn_cl_sources[i].len; j++)
                lines += cn_cl_sources[i].text[j] == '\n';
    char at[32];
    snprintf(at, sizeof at, ":%d:", lines + 2);
    TU_CHECK(lines > 0 && strstr(cn_last_error(), at) != NULL,
             "the build log should place the error at line %d of cl/eltwise.cl: %s", lines + 2,
             cn_last_error());
    unsetenv("CASPNET_TEST_BREAK_PROGRAM");
    TU_OK(cn_kernel(ctx, "eltwise", NULL, "axpby", &k));
    TU_FAILS(CN_ERR_ARG, cn_kernel(ctx, "no_such_program", NULL, "x", &k));
    TU_FAILS(CN_ERR_CL, cn_kernel(ctx, "eltwise", NULL, "no_such_kernel", &k));
    /* a work-group larger than the kernel can run is refused by name before
     * the enqueue (the launch never reaches the driver) */
    size_t kwg = 0;
    TU_CHECK(clGetKernelWorkGroupInfo(k, cn_ctx_device(ctx)->device, CL_KERNEL_WORK_GROUP_SIZE,
                                      sizeof kwg, &kwg, NULL) == CL_SUCCESS && kwg > 0,
             "CL_KERNEL_WORK_GROUP_SIZE unreadable");
    const size_t g[1] = {2 * (kwg + 1)}, l[1] = {kwg + 1};
    TU_FAILS(CN_ERR_UNSUPPORTED, cn_launch(ctx, k, "axpby", 1, g, l));
    TU_CHECK(strstr(cn_last_error(), "CL_KERNEL_WORK_GROUP_SIZE") != NULL,
             "the refusal should name the limit: %s", cn_last_error());
    cn_ctx_destroy(ctx);
}

static void test_arena_and_faults(void)
{
    cn_ctx *ctx = NULL;
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.cache_dir = "off", .fail_alloc_nth = 3}, &ctx));
    if (!ctx)
        return;
    cn_tensor a, b, c;
    int64_t sh[2] = {100, 100};
    TU_OK(cn_tensor_alloc(ctx, &a, 2, sh));
    TU_OK(cn_tensor_alloc(ctx, &b, 2, sh));
    TU_FAILS(CN_ERR_OOM, cn_tensor_alloc(ctx, &c, 2, sh));
    TU_CHECK(c.buf == NULL, "failed allocation must leave the tensor empty");
    cn_mem_stats m = cn_ctx_mem_stats(ctx);
    TU_CHECK(m.current == 2 * 40000 && m.peak == 2 * 40000, "accounting: current %llu peak %llu",
             (unsigned long long)m.current, (unsigned long long)m.peak);
    /* released buffers are reused, not reallocated */
    cl_mem old = a.buf;
    cn_tensor_release(ctx, &a);
    TU_OK(cn_tensor_alloc(ctx, &a, 2, (int64_t[]){99, 101}));
    TU_CHECK(a.buf == old, "arena did not reuse a fitting buffer");
    /* a tiny tensor must not take a big block */
    cn_tensor_release(ctx, &b);
    TU_OK(cn_tensor_alloc(ctx, &c, 1, (int64_t[]){10}));
    TU_CHECK(c.buf != b.buf, "tiny tensor pinned a big buffer");
    TU_CHECK(cn_ctx_mem_stats(ctx).allocations == 4, "allocations %ld (want 4)",
             cn_ctx_mem_stats(ctx).allocations);
    TU_FAILS(CN_ERR_SHAPE, cn_tensor_reshape(&a, 2, (int64_t[]){10, 10}));
    TU_OK(cn_tensor_reshape(&a, 3, (int64_t[]){3, 33, 101}));
    TU_FAILS(CN_ERR_SHAPE, cn_tensor_alloc(ctx, &b, 2, (int64_t[]){-1, 3}));
    cn_tensor_release(ctx, &a);
    cn_tensor_release(ctx, &c);
    cn_arena_trim(ctx);
    TU_CHECK(cn_ctx_mem_stats(ctx).current == 0, "trim left %llu bytes",
             (unsigned long long)cn_ctx_mem_stats(ctx).current);
    cn_ctx_destroy(ctx);

    /* memory cap */
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.cache_dir = "off", .mem_cap = 1000}, &ctx));
    TU_OK(cn_tensor_alloc(ctx, &a, 1, (int64_t[]){200}));
    TU_FAILS(CN_ERR_OOM, cn_tensor_alloc(ctx, &b, 1, (int64_t[]){200}));
    TU_CHECK(strstr(cn_last_error(), "200 tensor") != NULL, "OOM message should name the tensor: %s",
             cn_last_error());
    cn_tensor_release(ctx, &a);
    cn_ctx_destroy(ctx);
}

/* The branch-free array conversions give the bits of the single-value ones
 * (which test_safetensors checks against their definition): every half
 * widened, and narrowed: every half value, the midpoints between neighbours
 * (the ties) and the floats either side of each, and random bit patterns.
 * (All 2^32 floats agreed in a one-off run; this keeps the suite fast.) */
static void test_half_arrays(void)
{
    enum { NH = 65536 };
    uint16_t *h = malloc(NH * sizeof *h), *got16 = malloc(4 * NH * sizeof *got16);
    float *f = malloc(4 * (size_t)NH * sizeof *f), *got = malloc(NH * sizeof *got);
    for (int i = 0; i < NH; i++)
        h[i] = (uint16_t)i;
    cn_f16_to_f32_n(got, h, NH);
    int bad = 0;
    for (int i = 0; i < NH; i++) {
        const float want = cn_f16_to_f32(h[i]);
        bad += memcmp(&want, &got[i], sizeof want) != 0;
    }
    TU_CHECK(bad == 0, "cn_f16_to_f32_n: %d of 65536 halves differ from cn_f16_to_f32", bad);
    tu_rng r = tu_seed(3);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < NH; i++) {
            float *q = f + 4 * (size_t)i;
            if (pass == 0) {
                const float lo = cn_f16_to_f32((uint16_t)i);
                const float hi = (i & 0x7fff) < 0x7c00 ? cn_f16_to_f32((uint16_t)(i + 1)) : lo;
                const float mid = (float)(0.5 * ((double)lo + (double)hi));
                q[0] = lo, q[1] = mid, q[2] = nextafterf(mid, 0.0f), q[3] = nextafterf(mid, 2 * mid);
            } else {
                for (int j = 0; j < 4; j++) {
                    const uint32_t x = (uint32_t)tu_next(&r);
                    memcpy(&q[j], &x, sizeof x);
                }
            }
        }
        cn_f32_to_f16_n(got16, f, 4 * (size_t)NH);
        bad = 0;
        for (size_t i = 0; i < 4 * (size_t)NH; i++)
            bad += got16[i] != cn_f32_to_f16(f[i]);
        TU_CHECK(bad == 0, "cn_f32_to_f16_n: %d of %d %s differ from cn_f32_to_f16", bad, 4 * NH,
                 pass ? "random floats" : "halves, ties and their neighbours");
    }
    free(h), free(got16), free(f), free(got);
}

/* Half tensors: half the bytes, float on the host, rounded to nearest even on
 * upload (what the host conversion gives, specials included) and exact on
 * download; a tensor larger than one conversion slice crosses in pieces. */
static void test_half_tensors(void)
{
    cn_ctx *ctx = NULL;
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.cache_dir = "off"}, &ctx));
    if (!ctx)
        return;
    TU_CHECK(cn_dtype_size(CN_F16) == 2 && cn_dtype_size(CN_F32) == 4, "dtype sizes");
    const int64_t n = 600001; /* odd, and over two slices of 2^18 */
    float *x = malloc((size_t)n * sizeof *x), *got = malloc((size_t)n * sizeof *got),
          *want = malloc((size_t)n * sizeof *want);
    tu_rng r = tu_seed(11);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(tu_normal(&r) * pow(2.0, tu_uniform(&r, -30, 20)));
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 65504.0f, 65520.0f,
                             0x1p-24f, 0x1p-25f, 3 * 0x1p-25f, 1.0f + 0x1p-11f, -1e-8f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        x[i * 50021] = special[i];
    memcpy(want, x, (size_t)n * sizeof *x);
    cn_f16_round_n(want, (size_t)n);
    cn_tensor t = {0};
    const uint64_t before = cn_arena_in_use(ctx);
    TU_OK(cn_tensor_from_host_as(ctx, &t, CN_F16, 1, &n, x));
    TU_CHECK(t.dtype == CN_F16 && cn_tensor_bytes(&t) == (size_t)n * 2 &&
                 cn_arena_in_use(ctx) - before == (uint64_t)n * 2,
             "a half tensor of %lld elements holds %zu bytes, the arena counts %llu", (long long)n,
             cn_tensor_bytes(&t), (unsigned long long)(cn_arena_in_use(ctx) - before));
    TU_OK(cn_tensor_download(ctx, &t, got));
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += memcmp(&got[i], &want[i], sizeof(float)) != 0 && !(isnan(got[i]) && isnan(want[i]));
    TU_CHECK(bad == 0, "half upload and download: %lld of %lld values differ from the host "
             "rounding", (long long)bad, (long long)n);
    /* reshape keeps the dtype; a float tensor is untouched by all this */
    TU_OK(cn_tensor_reshape(&t, 2, (int64_t[]){1, n}));
    TU_CHECK(t.dtype == CN_F16 && cn_tensor_bytes(&t) == (size_t)n * 2, "reshape keeps f16");
    cn_tensor_release(ctx, &t);
    TU_OK(cn_tensor_from_host(ctx, &t, 1, &n, x));
    TU_OK(cn_tensor_download(ctx, &t, got));
    TU_CHECK(t.dtype == CN_F32 && memcmp(got, x, (size_t)n * sizeof *x) == 0,
             "float tensors cross unchanged");
    cn_tensor_release(ctx, &t);
    TU_FAILS(CN_ERR_ARG, cn_tensor_alloc_as(ctx, &t, (cn_dtype)7, 1, &n));
    free(x), free(got), free(want);
    cn_ctx_destroy(ctx);
}

static void test_profiling(void)
{
    cn_ctx *ctx = NULL;
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.cache_dir = "off", .profiling = 1}, &ctx));
    if (!ctx)
        return;
    cn_tensor a;
    float h[1000] = {0};
    TU_OK(cn_tensor_from_host(ctx, &a, 1, (int64_t[]){1000}, h));
    cn_prof_group(ctx, "g1");
    TU_OK(cn_scale(ctx, 2.0f, &a, &a));
    TU_OK(cn_scale(ctx, 2.0f, &a, &a));
    cn_prof_group(ctx, "g2");
    TU_OK(cn_sigmoid(ctx, &a, &a));
    cn_prof_entry *e = NULL;
    int n = 0;
    TU_OK(cn_prof_collect(ctx, &e, &n));
    TU_CHECK(n == 2 && e && strcmp(e[0].group, "g1") == 0 && e[0].launches == 2 &&
                 strcmp(e[1].group, "g2") == 0 && e[1].seconds >= 0,
             "profile entries wrong (n=%d)", n);
    free(e);
    cn_tensor_release(ctx, &a);
    cn_ctx_destroy(ctx);
}

/* The runtime's per-context op-state slots: set, replaced, released. */
static int releases;
static void count_release(void *p)
{
    releases++;
    free(p);
}

static void test_op_state(void)
{
    cn_ctx *ctx = NULL;
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.cache_dir = "off"}, &ctx));
    if (!ctx)
        return;
    releases = 0;
    TU_CHECK(cn_ctx_op_state(ctx, CN_OPS_CONV) == NULL, "fresh context has conv state");
    int *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    TU_OK(cn_ctx_set_op_state(ctx, CN_OPS_CONV, a, count_release));
    TU_CHECK(cn_ctx_op_state(ctx, CN_OPS_CONV) == a && cn_ctx_op_state(ctx, CN_OPS_GEMM) == NULL,
             "slots are separate");
    TU_OK(cn_ctx_set_op_state(ctx, CN_OPS_CONV, b, count_release));
    TU_CHECK(releases == 1 && cn_ctx_op_state(ctx, CN_OPS_CONV) == b, "replaced state released");
    TU_FAILS(CN_ERR_ARG, cn_ctx_set_op_state(ctx, CN_OPS_COUNT, NULL, NULL));
    TU_CHECK(cn_ctx_op_state(ctx, CN_OPS_COUNT) == NULL, "unknown family has a state");
    cn_ctx_destroy(ctx);
    TU_CHECK(releases == 2, "cn_ctx_destroy released %d of 2 states", releases);
}

/* A 3x3x3 convolution through the general kernel, against the double
 * reference, with the weight held only packed for this context's tuning
 * (as the model holds it): a launch under another tuning would refuse it. */
static void conv_check(cn_ctx *ctx, const char *what, const float *x, const float *w,
                       const double *want)
{
    const int64_t xs[5] = {1, 5, 3, 6, 7}, ws[5] = {11, 5, 3, 3, 3}, ys[5] = {1, 11, 3, 6, 7};
    int64_t ps[3];
    TU_OK(cn_conv_pack_shape(ctx, 11, 5, 27, ps));
    float *hp = malloc((size_t)(ps[0] * ps[1] * ps[2]) * sizeof *hp), got[11 * 126];
    TU_OK(cn_conv_pack(ctx, w, 11, 5, 27, hp));
    cn_tensor tx = {0}, tw = {0}, tp = {0}, ty = {0};
    TU_OK(cn_tensor_from_host(ctx, &tx, 5, xs, x));
    TU_OK(cn_tensor_from_host(ctx, &tp, 3, ps, hp));
    cn_tensor_wrap(&tw, tp.buf, 11 * 5 * 27 * sizeof(float), 5, ws);
    TU_OK(cn_tensor_alloc(ctx, &ty, 5, ys));
    cn_conv_args a = {0};
    a.x = &tx, a.w = &tw, a.w_packed = &tp, a.y = &ty;
    a.pad[0] = a.pad[1] = a.pad[2] = 1;
    TU_OK(cn_conv3d(ctx, &a));
    TU_OK(cn_tensor_download(ctx, &ty, got));
    /* 135 products of [-1, 1] x [-0.2, 0.2] values: 1e-5 is far above rounding */
    tu_compare(what, got, want, 11 * 126, 1e-5, 1e-5);
    cn_tensor *ts[] = {&tx, &tp, &ty};
    for (int i = 0; i < 3; i++)
        cn_tensor_release(ctx, ts[i]);
    free(hp);
}

/* C (37 x 29) = A (37 x 23) B (23 x 29) on the own kernels, which read this
 * context's GEMM tuning. */
static void gemm_check(cn_ctx *ctx, const char *what, const float *A, const float *B)
{
    cn_gemm_desc d = {.M = 37, .N = 29, .K = 23, .alpha = 1.0f, .lda = 23, .ldb = 29, .ldc = 29};
    float got[37 * 29], zero[37 * 29] = {0};
    double want[37 * 29];
    cn_tensor a = {0}, b = {0}, c = {0};
    TU_OK(cn_tensor_from_host(ctx, &a, 2, (int64_t[]){37, 23}, A));
    TU_OK(cn_tensor_from_host(ctx, &b, 2, (int64_t[]){23, 29}, B));
    TU_OK(cn_tensor_alloc(ctx, &c, 2, (int64_t[]){37, 29}));
    cn_gemm_set_backend(ctx, CN_GEMM_OWN);
    TU_OK(cn_gemm(ctx, &d, a.buf, a.cap, b.buf, b.cap, c.buf, c.cap));
    TU_OK(cn_tensor_download(ctx, &c, got));
    ref_gemm(&d, A, B, zero, 37 * 29, want, NULL);
    tu_compare(what, got, want, 37 * 29, 1e-5, 1e-5);
    cn_tensor_release(ctx, &a);
    cn_tensor_release(ctx, &b);
    cn_tensor_release(ctx, &c);
}

/* Two contexts on one device with different conv and GEMM tunings: each
 * reports, packs for and computes with its own; resetting one leaves the
 * other alone. */
static void test_tuning_per_context(void)
{
    cn_ctx *c1 = tu_ctx_opts(&(cn_ctx_opts){0}), *c2 = tu_ctx_opts(&(cn_ctx_opts){0});
    if (!c1 || !c2) {
        cn_ctx_destroy(c1);
        cn_ctx_destroy(c2);
        TU_CHECK(0, "two contexts");
        return;
    }
    const char *conv_t = "-DVW=8 -DP_RM=8 -DP_NV=2 -DR_RM=8 -DR_NR=2 -DR_NV=1";
    const char *gemm_t = "-DGEMM_VW=2 -DGEMM_WM=3 -DGEMM_NV=3";
    TU_OK(cn_conv_set_tuning(c1, conv_t));
    TU_OK(cn_gemm_set_tuning(c1, gemm_t));
    char g1[512], g2[512];
    cn_gemm_tuning(c1, g1, sizeof g1);
    cn_gemm_tuning(c2, g2, sizeof g2);
    printf("context 1: conv %s | gemm %s\ncontext 2: conv %s | gemm %s\n", cn_conv_tuning(c1), g1,
           cn_conv_tuning(c2), g2);
    TU_CHECK(strcmp(cn_conv_tuning(c1), conv_t) == 0, "context 1 conv tuning");
    TU_CHECK(strcmp(cn_conv_tuning(c2), cn_conv_tuning(NULL)) == 0 &&
                 strcmp(cn_conv_tuning(c2), conv_t) != 0,
             "context 2 keeps the default conv tuning");
    TU_CHECK(cn_conv_pack_block(c1) == 8 && cn_conv_pack_block(c2) == cn_conv_pack_block(NULL) &&
                 cn_conv_pack_block(c2) != 8,
             "pack blocks %d, %d", cn_conv_pack_block(c1), cn_conv_pack_block(c2));
    TU_CHECK(strstr(g1, "-DGEMM_VW=2 -DGEMM_NV=3 -DGEMM_WM=3 ") && strcmp(g1, g2) != 0 &&
                 !strstr(g2, "-DGEMM_VW=2 -DGEMM_NV=3"),
             "GEMM tunings: '%s' vs '%s'", g1, g2);

    tu_rng r = tu_seed(11);
    float *x = tu_rand_array(&r, 5 * 126, -1, 1), *w = tu_rand_array(&r, 11 * 5 * 27, -0.2, 0.2);
    double want[11 * 126];
    ref_conv_desc rd = {.N = 1, .Cx = 5, .Ci = 5, .Co = 11, .Cy = 11, .in = {3, 6, 7},
                        .k = {3, 3, 3}, .s = {1, 1, 1}, .p = {1, 1, 1}, .d = {1, 1, 1},
                        .x = x, .w = w};
    ref_conv(&rd, want, NULL);
    float *A = tu_rand_array(&r, 37 * 23, -1, 1), *B = tu_rand_array(&r, 23 * 29, -1, 1);
    /* interleaved, so that neither context can lean on the other's programs */
    conv_check(c1, "conv, context 1", x, w, want);
    conv_check(c2, "conv, context 2", x, w, want);
    gemm_check(c1, "gemm, context 1", A, B);
    gemm_check(c2, "gemm, context 2", A, B);

    TU_OK(cn_conv_set_tuning(c1, NULL));
    TU_OK(cn_gemm_set_tuning(c1, NULL));
    cn_gemm_tuning(c1, g1, sizeof g1);
    TU_CHECK(strcmp(cn_conv_tuning(c1), cn_conv_tuning(c2)) == 0 && strcmp(g1, g2) == 0,
             "reset tunings equal the untouched context's");
    TU_FAILS(CN_ERR_ARG, cn_conv_set_tuning(NULL, conv_t));
    TU_FAILS(CN_ERR_ARG, cn_gemm_set_tuning(NULL, gemm_t));
    free(x), free(w), free(A), free(B);
    cn_ctx_destroy(c1);
    cn_ctx_destroy(c2);
}

int main(void)
{
    test_devices();
    test_program_cache();
    test_build_failure();
    test_arena_and_faults();
    test_half_arrays();
    test_half_tensors();
    test_profiling();
    test_op_state();
    test_tuning_per_context();
    return tu_finish("test_runtime");
}
