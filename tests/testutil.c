/* Shared test helpers: seeded random data, guarded device outputs, tolerance comparisons, scratch files. */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tu_failures = 0;
int tu_checks = 0;

static const uint32_t TU_SENTINEL = 0x7fc0beefu; /* a quiet NaN no kernel produces */
static const uint16_t TU_SENTINEL_HALF = 0x7dbeu; /* a signalling NaN: conversions quieten NaNs */

tu_rng tu_seed(uint64_t seed) { return (tu_rng){seed * 0x9e3779b97f4a7c15ULL + 1}; }

uint64_t tu_next(tu_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double tu_uniform(tu_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(tu_next(r) >> 11) * (1.0 / 9007199254740992.0));
}

double tu_normal(tu_rng *r)
{
    double u1 = tu_uniform(r, 1e-12, 1.0), u2 = tu_uniform(r, 0.0, 1.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int tu_int(tu_rng *r, int lo, int hi) { return lo + (int)(tu_next(r) % (uint64_t)(hi - lo + 1)); }

float *tu_rand_array(tu_rng *r, int64_t n, double lo, double hi)
{
    float *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a);
    if (!a) {
        fprintf(stderr, "out of host memory\n");
        exit(2);
    }
    for (int64_t i = 0; i < n; i++)
        a[i] = (float)tu_uniform(r, lo, hi);
    return a;
}

cn_ctx *tu_ctx_opts(const cn_ctx_opts *o)
{
    cn_ctx *ctx = NULL;
    int st = cn_ctx_create(o, &ctx);
    if (st != CN_OK) {
        fprintf(stderr, "cannot create OpenCL context: %s\n", cn_last_error());
        return NULL;
    }
    const cn_device_info *d = cn_ctx_device(ctx);
    printf("device: %s (%s, driver %s)\n", d->name, d->platform_name, d->driver);
    return ctx;
}

cn_ctx *tu_ctx(void) { return tu_ctx_opts(NULL); }

int tu_guarded_alloc(cn_ctx *ctx, tu_guarded *g, int ndim, const int64_t *shape)
{
    return tu_guarded_alloc_as(ctx, g, CN_F32, ndim, shape);
}

int tu_guarded_alloc_as(cn_ctx *ctx, tu_guarded *g, cn_dtype dtype, int ndim,
                        const int64_t *shape)
{
    memset(g, 0, sizeof *g);
    const size_t es = cn_dtype_size(dtype);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    /* Sub-buffer origins must respect the device's base alignment (in bits). */
    cl_uint align_bits = 1024;
    clGetDeviceInfo(cn_ctx_device(ctx)->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits,
                    &align_bits, NULL);
    size_t align = align_bits / 8 < 64 ? 64 : align_bits / 8;
    size_t pre_bytes = (1024 + align - 1) / align * align;
    g->pre = pre_bytes / es;
    g->total = g->pre + (size_t)n + 1024;
    unsigned char *fill = malloc(g->total * es);
    if (!fill)
        return cn_fail(CN_ERR_OOM, "test: out of host memory");
    for (size_t i = 0; i < g->total; i++) {
        if (dtype == CN_F16)
            memcpy(fill + 2 * i, &TU_SENTINEL_HALF, 2);
        else
            memcpy(fill + 4 * i, &TU_SENTINEL, 4);
    }
    cl_int err;
    g->parent = clCreateBuffer(cn_ctx_cl(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                               g->total * es, fill, &err);
    free(fill);
    CN_TRY(CN_CL_ERR(err, "clCreateBuffer(guarded)"));
    cl_buffer_region reg = {pre_bytes, (size_t)(n > 0 ? n : 1) * es};
    cl_mem sub = clCreateSubBuffer(g->parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &reg,
                                   &err);
    CN_TRY(CN_CL_ERR(err, "clCreateSubBuffer(guarded)"));
    cn_tensor_wrap(&g->t, sub, reg.size, ndim, shape);
    g->t.dtype = dtype;
    return CN_OK;
}

int tu_guard_check(cn_ctx *ctx, tu_guarded *g, float *host, const char *what)
{
    const int half = g->t.dtype == CN_F16;
    const size_t es = half ? 2 : 4;
    unsigned char *all = malloc(g->total * es);
    if (!all) {
        TU_CHECK(0, "%s: out of host memory", what);
        return 1;
    }
    int st = CN_CL(clEnqueueReadBuffer(cn_ctx_queue(ctx), g->parent, CL_TRUE, 0, g->total * es,
                                       all, 0, NULL, NULL));
    if (st != CN_OK) {
        TU_CHECK(0, "%s: reading guarded buffer: %s", what, cn_last_error());
        free(all);
        return 1;
    }
    int64_t n = cn_numel(&g->t);
    int bad_guard = 0, unwritten = 0;
    for (size_t i = 0; i < g->total; i++) {
        int inside = i >= g->pre && i < g->pre + (size_t)n;
        int sentinel = half ? memcmp(all + 2 * i, &TU_SENTINEL_HALF, 2) == 0
                            : memcmp(all + 4 * i, &TU_SENTINEL, 4) == 0;
        if (!inside && !sentinel)
            bad_guard++;
        if (inside && sentinel)
            unwritten++;
    }
    if (host && half)
        cn_f16_to_f32_n(host, (const uint16_t *)(const void *)(all + 2 * g->pre), (size_t)n);
    else if (host)
        memcpy(host, all + 4 * g->pre, (size_t)n * sizeof(float));
    free(all);
    TU_CHECK(bad_guard == 0, "%s: %d guard elements overwritten (out-of-bounds write)", what,
             bad_guard);
    TU_CHECK(unwritten == 0, "%s: %d output elements never written", what, unwritten);
    return bad_guard + unwritten;
}

void tu_half_inputs(cn_dtype dtype, float *x, int64_t n)
{
    if (dtype == CN_F16)
        cn_f16_round_n(x, (size_t)n);
}

void tu_guarded_free(tu_guarded *g)
{
    if (g->t.buf)
        clReleaseMemObject(g->t.buf);
    if (g->parent)
        clReleaseMemObject(g->parent);
    memset(g, 0, sizeof *g);
}

int tu_compare(const char *what, const float *got, const double *want, int64_t n, double atol,
               double rtol)
{
    double max_abs = 0, max_rel = 0;
    int64_t worst = -1, nbad = 0;
    double worst_excess = -1;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double d = fabs(g - w);
        if (!isfinite(g) || !isfinite(w)) {
            d = INFINITY;
        }
        double lim = atol + rtol * fabs(w);
        if (d > max_abs)
            max_abs = d;
        double rel = d / (fabs(w) > 1e-30 ? fabs(w) : 1e-30);
        if (fabs(w) > atol && rel > max_rel)
            max_rel = rel;
        if (!(d <= lim)) {
            nbad++;
            if (d - lim > worst_excess) {
                worst_excess = d - lim;
                worst = i;
            }
        }
    }
    tu_checks++;
    if (nbad) {
        tu_failures++;
        fprintf(stderr, "FAIL %s: %lld of %lld elements out of tolerance (atol %g, rtol %g); "
                "worst [%lld] got %.9g want %.9g\n", what, (long long)nbad, (long long)n, atol,
                rtol, (long long)worst, got[worst], want[worst]);
        return 0;
    }
    printf("  ok %-48s n=%-9lld max abs %.3g  max rel %.3g\n", what, (long long)n, max_abs,
           max_rel);
    return 1;
}

int tu_tmpdir_make(char *buf, size_t n, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, n, "%s/%sXXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

void tu_path(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

int tu_write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    TU_CHECK(fp != NULL, "cannot create %s", path);
    if (!fp)
        return 0;
    int ok = fwrite(p, 1, n, fp) == n;
    TU_CHECK(ok, "short write %s", path);
    fclose(fp);
    return ok;
}

unsigned char *tu_read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = sz < 0 ? NULL : malloc((size_t)sz + 1);
    if (!p) {
        fclose(fp);
        return NULL;
    }
    *n = fread(p, 1, (size_t)sz, fp);
    p[*n] = 0;
    fclose(fp);
    return p;
}

int tu_count_matching(const char *dir, const char *substring)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, substring))
            n++;
    if (d)
        closedir(d);
    return n;
}

void tu_tmpdir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    char p[1024];
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            remove(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

void tu_check_failure(const char *what, int st, int want, int out_null, const char *path,
                      const char *needle)
{
    TU_CHECK(st == want, "%s: got %s want %s (%s)", what, cn_status_name(st), cn_status_name(want),
             cn_last_error());
    TU_CHECK(out_null, "%s: output not NULL on failure", what);
    TU_CHECK(strstr(cn_last_error(), path) != NULL, "%s: message lacks the path: %s", what,
             cn_last_error());
    if (needle)
        TU_CHECK(strstr(cn_last_error(), needle) != NULL, "%s: message lacks '%s': %s", what,
                 needle, cn_last_error());
}

int tu_have_numpy(const char *what)
{
    if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0)
        return 1;
    printf("note: /usr/bin/python3 with numpy not available, %s skipped\n", what);
    return 0;
}

int tu_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, tu_checks - tu_failures, tu_failures);
    return tu_failures ? 1 : 0;
}
