/* Micro-benchmark of cn_conv2d on the VGGish layer shapes and cn_conv_transpose3d on CPC's theta (stride 1, and stride 2 for the gather kernel): GFLOP/s, median of profiled runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

/* Uniform in [-a, a) from a fixed LCG: reproducible, finite, not denormal. */
static void rand_fill(float *v, int64_t n, float a, uint32_t *state)
{
    for (int64_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        v[i] = a * ((float)(*state >> 8) / 8388608.0f - 1.0f);
    }
}

static int random_tensor(cn_ctx *ctx, cn_tensor *t, int ndim, const int64_t *shape, float a,
                         uint32_t *state)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *h = malloc((size_t)n * sizeof *h);
    if (!h)
        return cn_fail(CN_ERR_OOM, "bench: out of host memory");
    rand_fill(h, n, a, state);
    int st = cn_tensor_from_host(ctx, t, ndim, shape, h);
    free(h);
    return st;
}

/* Device seconds of one call: the sum of the profiled launches it made. */
static int run_once(cn_ctx *ctx, int transposed, const cn_conv_args *a, double *dev_s)
{
    cn_prof_entry *e = NULL;
    int ne = 0;
    CN_TRY(cn_prof_collect(ctx, &e, &ne)); /* drop what earlier calls recorded */
    free(e);
    CN_TRY(transposed ? cn_conv_transpose3d(ctx, a) : cn_conv2d(ctx, a));
    CN_TRY(cn_prof_collect(ctx, &e, &ne));
    double s = 0;
    for (int i = 0; i < ne; i++)
        s += e[i].seconds;
    free(e);
    *dev_s = s;
    return ne > 0 ? CN_OK : cn_fail(CN_ERR_UNSUPPORTED, "bench: no profiled launch (profiling off?)");
}

/* One shape: a warm-up run (builds or loads the program), then the median of reps. */
static int bench(cn_ctx *ctx, const char *name, int transposed, int nd, const int64_t *xs,
                 const int64_t *ws, cn_conv_args a, double gflop, int reps, uint32_t *seed)
{
    cn_tensor x = {0}, w = {0}, y = {0};
    double *v = malloc((size_t)reps * sizeof *v), warm = 0;
    int64_t ys[5];
    int st = v ? CN_OK : cn_fail(CN_ERR_OOM, "bench: out of host memory");
    if (st == CN_OK)
        st = random_tensor(ctx, &x, nd, xs, 1.0f, seed);
    if (st == CN_OK)
        st = random_tensor(ctx, &w, nd, ws, 0.05f, seed);
    a.x = &x, a.w = &w;
    if (st == CN_OK)
        st = transposed ? cn_conv_transpose3d_out_shape(&a, ys) : cn_conv2d_out_shape(&a, ys);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &y, nd, ys);
    a.y = &y;
    if (st == CN_OK)
        st = run_once(ctx, transposed, &a, &warm);
    for (int r = 0; r < reps && st == CN_OK; r++)
        st = run_once(ctx, transposed, &a, &v[r]);
    if (st == CN_OK) {
        const double ms = cn_median(v, reps) * 1e3;
        printf("%-44s %10.3f %10.3f %8.2f\n", name, gflop, ms, gflop / ms * 1e3);
        fflush(stdout);
    }
    free(v);
    cn_tensor_release(ctx, &x), cn_tensor_release(ctx, &w), cn_tensor_release(ctx, &y);
    return st;
}

int main(int argc, char **argv)
{
    cn_ctx_opts o = {0};
    o.profiling = 1;
    int reps = 5;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--device D] [--reps N]\n"
                   "Times cn_conv2d on the VGGish 3x3 layer shapes (batch 1) and\n"
                   "cn_conv_transpose3d on CPC's theta (256->256, 3x3x3, pad 1 at 2x7x12;\n"
                   "stride 1, and stride 2 with output padding 1 for the gather kernel):\n"
                   "a warm-up run, then the median of --reps (default 5) runs of the OpenCL\n"
                   "profiling time. GFLOP counts a multiply-add as 2 (for the transposed\n"
                   "conv: every input element meets every tap once).\n",
                   argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--device") == 0 && v) {
            o.device = v, i++;
        } else if (strcmp(argv[i], "--reps") == 0 && v && atoi(v) > 0) {
            reps = atoi(v), i++;
        } else {
            fprintf(stderr, "bad argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    cn_ctx *ctx = NULL;
    if (cn_ctx_create(&o, &ctx) != CN_OK) {
        fprintf(stderr, "cannot create OpenCL context: %s\n", cn_last_error());
        return 1;
    }
    const cn_device_info *dev = cn_ctx_device(ctx);
    printf("device: %s (%s, driver %s)\nmedian of %d runs after a warm-up\n\n", dev->name,
           dev->platform_name, dev->driver, reps);
    printf("%-44s %10s %10s %8s\n", "shape", "GFLOP", "median ms", "GFLOP/s");
    uint32_t seed = 12345u;
    int st = CN_OK;
    static const int vgg[][4] = {{1, 64, 96, 64}, {64, 128, 48, 32}, {256, 256, 24, 16},
                                 {512, 512, 12, 8}};
    for (int i = 0; i < 4 && st == CN_OK; i++) {
        const int Ci = vgg[i][0], Co = vgg[i][1], H = vgg[i][2], W = vgg[i][3];
        const int64_t xs[4] = {1, Ci, H, W}, ws[4] = {Co, Ci, 3, 3};
        cn_conv_args a = {.pad = {0, 1, 1}};
        char name[64];
        snprintf(name, sizeof name, "conv2d 3x3 %d->%d @ %dx%d", Ci, Co, H, W);
        st = bench(ctx, name, 0, 4, xs, ws, a, 2.0 * Co * Ci * 9 * H * W * 1e-9, reps, &seed);
    }
    for (int stride = 1; stride <= 2 && st == CN_OK; stride++) {
        const int64_t xs[5] = {1, 256, 2, 7, 12}, ws[5] = {256, 256, 3, 3, 3};
        cn_conv_args a = {.stride = {stride, stride, stride}, .pad = {1, 1, 1},
                          .out_pad = {stride - 1, stride - 1, stride - 1}};
        char name[64];
        snprintf(name, sizeof name, "conv_transpose3d 3x3x3 256->256 @ 2x7x12 s%d", stride);
        st = bench(ctx, name, 1, 5, xs, ws, a, 2.0 * 256 * 256 * 27 * 168 * 1e-9, reps, &seed);
    }
    if (st != CN_OK)
        fprintf(stderr, "error: %s\n", cn_last_error());
    cn_ctx_destroy(ctx);
    return st == CN_OK ? 0 : 1;
}
