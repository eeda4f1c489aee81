/* The AUTO GEMM backend: measured once per device, then read from the on-disk cache by later contexts; corrupt files, a disabled cache, forced backends and $CASPNET_GEMM. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gemm_ref.h"
#include "testutil.h"

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[1200];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            remove(path);
        }
    closedir(d);
    rmdir(dir);
}

static void print_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        printf("    | %s", line);
    if (f)
        fclose(f);
}

/* A small AUTO product, checked against the reference: whatever was chosen
 * must compute the right thing. Returns the number of own-kernel launches
 * the profile saw (CLBlast's launches are not recorded there). */
static int auto_product(cn_ctx *ctx, tu_rng *r)
{
    cn_gemm_desc d = {.M = 21, .N = 17, .K = 19, .alpha = 1.0f, .lda = 19, .ldb = 17, .ldc = 17};
    float *A = tu_rand_array(r, 21 * 19, -1, 1), *B = tu_rand_array(r, 19 * 17, -1, 1);
    float *C0 = tu_rand_array(r, 21 * 17, -1, 1), got[21 * 17];
    double want[21 * 17];
    cn_tensor a, b, c;
    TU_OK(cn_tensor_from_host(ctx, &a, 2, (int64_t[]){21, 19}, A));
    TU_OK(cn_tensor_from_host(ctx, &b, 2, (int64_t[]){19, 17}, B));
    TU_OK(cn_tensor_alloc(ctx, &c, 2, (int64_t[]){21, 17}));
    cn_prof_entry *e = NULL;
    int ne = 0;
    TU_OK(cn_prof_collect(ctx, &e, &ne));
    free(e);
    TU_OK(cn_gemm(ctx, &d, a.buf, a.cap, b.buf, b.cap, c.buf, c.cap));
    TU_OK(cn_prof_collect(ctx, &e, &ne));
    int own = 0;
    for (int i = 0; i < ne; i++)
        own += strcmp(e[i].tag, "gemm") == 0 ? e[i].launches : 0;
    free(e);
    TU_OK(cn_tensor_download(ctx, &c, got));
    ref_gemm(&d, A, B, C0, 21 * 17, want, NULL);
    /* K = 19 products of [-1, 1] values: 1e-5 is ~40x the rounding error */
    tu_compare("AUTO product", got, want, 21 * 17, 1e-5, 1e-5);
    cn_tensor_release(ctx, &a);
    cn_tensor_release(ctx, &b);
    cn_tensor_release(ctx, &c);
    free(A), free(B), free(C0);
    return own;
}

int main(void)
{
    char dir[] = "/tmp/caspnet-gemm-choice-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* before any context exists: the runtime and the choice read it */
    setenv("CASPNET_CACHE_DIR", dir, 1);
    unsetenv("CASPNET_GEMM");
    tu_rng r = tu_seed(3);
    cn_ctx_opts o = {0};
    o.profiling = 1;

    /* first context: nothing on disk, so the choice is measured and stored */
    cn_ctx *ctx = tu_ctx_opts(&o);
    if (!ctx)
        return 1;
    char path[1200], tb[512];
    cn_gemm_choice_file(ctx, path, sizeof path);
    printf("choice file: %s\nown tuning: %s\n", path, cn_gemm_tuning(ctx, tb, sizeof tb));
    TU_CHECK(strncmp(path, dir, strlen(dir)) == 0, "choice file %s is not under %s", path, dir);
    TU_CHECK(cn_gemm_choice_origin(ctx) == 0, "origin before the first use");
    const long m0 = cn_gemm_choice_measurements();
    cn_gemm_backend first = CN_GEMM_AUTO, again = CN_GEMM_AUTO;
    double t0 = cn_seconds();
    TU_OK(cn_gemm_resolve_backend(ctx, &first));
    printf("measured in %.2f s: %s\n", cn_seconds() - t0, cn_gemm_backend_name(first));
    print_file(path);
    TU_CHECK(first == CN_GEMM_OWN || first == CN_GEMM_CLBLAST, "resolved to %d", (int)first);
    TU_CHECK(cn_gemm_choice_origin(ctx) == 1, "first context must measure");
    TU_CHECK(cn_gemm_choice_measurements() == m0 + 1, "one measurement");
    struct stat st;
    TU_CHECK(stat(path, &st) == 0 && st.st_size > 0, "choice file written");
    TU_CHECK(count_files(dir, "gemm-choice-") == 1, "exactly one choice file (no temporaries)");
    TU_OK(cn_gemm_resolve_backend(ctx, &again));
    auto_product(ctx, &r);
    TU_CHECK(again == first && cn_gemm_choice_measurements() == m0 + 1,
             "a second use must not measure again");
    cn_ctx_destroy(ctx);

    /* second context on the same device: read from disk, not measured */
    ctx = tu_ctx_opts(&o);
    if (!ctx)
        return 1;
    t0 = cn_seconds();
    TU_OK(cn_gemm_resolve_backend(ctx, &again));
    printf("second context resolved in %.3f s: %s\n", cn_seconds() - t0, cn_gemm_backend_name(again));
    TU_CHECK(cn_gemm_choice_origin(ctx) == 2, "second context must read the cache (origin %d)",
             cn_gemm_choice_origin(ctx));
    TU_CHECK(cn_gemm_choice_measurements() == m0 + 1, "second context must not measure");
    TU_CHECK(again == first, "cached choice %s differs from measured %s",
             cn_gemm_backend_name(again), cn_gemm_backend_name(first));

    /* forced backends win over the choice; own launches show in the profile */
    cn_gemm_set_backend(ctx, CN_GEMM_OWN);
    TU_CHECK(auto_product(ctx, &r) == 1, "forced own: one own launch");
    cn_gemm_set_backend(ctx, CN_GEMM_CLBLAST);
    TU_CHECK(auto_product(ctx, &r) == 0, "forced CLBlast: no own launch");
    setenv("CASPNET_GEMM", "own", 1); /* the forced backend beats the environment */
    TU_CHECK(auto_product(ctx, &r) == 0, "forced CLBlast with CASPNET_GEMM=own");
    cn_gemm_set_backend(ctx, CN_GEMM_AUTO);
    TU_CHECK(auto_product(ctx, &r) == 1, "CASPNET_GEMM=own: one own launch");
    setenv("CASPNET_GEMM", "clblast", 1);
    TU_CHECK(auto_product(ctx, &r) == 0, "CASPNET_GEMM=clblast: no own launch");
    setenv("CASPNET_GEMM", "fast", 1);
    cn_gemm_desc d = {.M = 1, .N = 1, .K = 1, .lda = 1, .ldb = 1, .ldc = 1};
    cn_tensor one;
    TU_OK(cn_tensor_alloc(ctx, &one, 1, (int64_t[]){1}));
    TU_FAILS(CN_ERR_ARG, cn_gemm(ctx, &d, one.buf, 4, one.buf, 4, one.buf, 4));
    unsetenv("CASPNET_GEMM");
    TU_CHECK(auto_product(ctx, &r) == (first == CN_GEMM_OWN), "AUTO follows the choice");
    cn_tensor_release(ctx, &one);
    cn_ctx_destroy(ctx);

    /* a damaged file is measured again and replaced */
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("caspnet-gemm-choice 1\ngeneral fastest\n", f);
        fclose(f);
    }
    ctx = tu_ctx_opts(&o);
    if (!ctx)
        return 1;
    TU_OK(cn_gemm_resolve_backend(ctx, &again));
    TU_CHECK(cn_gemm_choice_origin(ctx) == 1 && cn_gemm_choice_measurements() == m0 + 2,
             "a damaged file must be measured again");
    cn_ctx_destroy(ctx);
    ctx = tu_ctx_opts(&o);
    if (!ctx)
        return 1;
    TU_OK(cn_gemm_resolve_backend(ctx, &again));
    TU_CHECK(cn_gemm_choice_origin(ctx) == 2, "the rewritten file must be read back");
    cn_ctx_destroy(ctx);

    /* cache off: measured, nothing written */
    setenv("CASPNET_CACHE_DIR", "off", 1);
    ctx = tu_ctx_opts(&o);
    if (!ctx)
        return 1;
    cn_gemm_choice_file(ctx, path, sizeof path);
    TU_CHECK(path[0] == '\0', "no choice file with the cache off (got %s)", path);
    TU_OK(cn_gemm_resolve_backend(ctx, &again));
    TU_CHECK(cn_gemm_choice_origin(ctx) == 1 && cn_gemm_choice_measurements() == m0 + 3,
             "cache off: measured");
    TU_CHECK(count_files(dir, "gemm-choice-") == 1, "cache off: nothing new written");
    cn_ctx_destroy(ctx);

    remove_dir(dir);
    return tu_finish("test_gemm_choice");
}
