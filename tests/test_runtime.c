/* Runtime tests: device listing and choice, the on-disk program cache (a second context loads instead of compiling), build failures, allocation faults and the arena. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    unsetenv("CASPNET_TEST_BREAK_PROGRAM");
    TU_OK(cn_kernel(ctx, "eltwise", NULL, "axpby", &k));
    TU_FAILS(CN_ERR_ARG, cn_kernel(ctx, "no_such_program", NULL, "x", &k));
    TU_FAILS(CN_ERR_CL, cn_kernel(ctx, "eltwise", NULL, "no_such_kernel", &k));
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

int main(void)
{
    test_devices();
    test_program_cache();
    test_build_failure();
    test_arena_and_faults();
    test_profiling();
    return tu_finish("test_runtime");
}
