/* Micro-benchmark of cn_gemm: GFLOP/s of the own kernels and of CLBlast on a few products, median of several profiled runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

typedef struct shape {
    long long M, N, K, batch;
    int ta, tb;
} shape;

/* 1024^3, the model's attention-sized and VGGish-FC-sized products (the FC
 * layer both ways round: y^T = W x^T and y = x W^T), a batched one, and an
 * odd one that exercises the edge paths. */
static const shape default_shapes[] = {
    {1024, 1024, 1024, 1, 0, 0}, {256, 10752, 480, 1, 0, 0}, {4096, 2, 12288, 1, 0, 1},
    {2, 4096, 12288, 1, 0, 1},   {256, 256, 480, 4, 0, 0},   {1024, 1024, 1024, 1, 0, 1},
    {1024, 1024, 1024, 1, 1, 0}, {67, 129, 33, 3, 0, 0},
};

static void usage(const char *prog)
{
    printf("usage: %s [options]\n"
           "Times cn_gemm with the own kernels and with CLBlast: a warm-up run, then the\n"
           "median of --runs runs, timed with OpenCL profiling events (own kernels through\n"
           "cn_prof_collect, CLBlast between two markers) and by the wall clock.\n"
           "  --device D      device index or name substring (as caspnet --device)\n"
           "  --size MxNxK[xB][:TT]  a product to time instead of the defaults; repeatable.\n"
           "                  TT: N or T for op(A) then op(B), e.g. 4096x2x12288:NT\n"
           "  --runs R        timed runs per product and backend (default 5)\n"
           "  --backend B     own, clblast or both (default both)\n"
           "  --tuning S      -D tuning of the own kernels (see cl/gemm.cl), e.g.\n"
           "                  \"-DGEMM_WM=6 -DGEMM_NV=2\"\n"
           "  --help          this text\n",
           prog);
}

static int parse_shape(const char *s, shape *out)
{
    shape sh = {0, 0, 0, 1, 0, 0};
    char tt[3] = "NN";
    int n = sscanf(s, "%lldx%lldx%lldx%lld", &sh.M, &sh.N, &sh.K, &sh.batch);
    if (n < 3)
        return 0;
    const char *c = strchr(s, ':');
    if (c) {
        if (strlen(c + 1) != 2)
            return 0;
        memcpy(tt, c + 1, 2);
    }
    if ((tt[0] != 'N' && tt[0] != 'T') || (tt[1] != 'N' && tt[1] != 'T'))
        return 0;
    sh.ta = tt[0] == 'T', sh.tb = tt[1] == 'T';
    if (sh.M < 1 || sh.N < 1 || sh.K < 1 || sh.batch < 1)
        return 0;
    *out = sh;
    return 1;
}

static int marker(cn_ctx *ctx, cl_event *ev)
{
    return CN_CL(clEnqueueMarkerWithWaitList(cn_ctx_queue(ctx), 0, NULL, ev));
}

static double event_end(cl_event ev)
{
    cl_ulong t = 0;
    clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t, &t, NULL);
    return (double)t * 1e-9;
}

/* One timed run: device seconds (profiled) and wall seconds. */
static int run_once(cn_ctx *ctx, const cn_gemm_desc *d, cl_mem *bufs, size_t *bytes,
                    double *dev_s, double *wall_s)
{
    cl_event m0 = NULL, m1 = NULL;
    CN_TRY(cn_ctx_finish(ctx));
    cn_prof_entry *e = NULL;
    int ne = 0;
    CN_TRY(cn_prof_collect(ctx, &e, &ne)); /* drop what earlier calls recorded */
    free(e);
    double t0 = cn_seconds();
    CN_TRY(marker(ctx, &m0));
    int st = cn_gemm(ctx, d, bufs[0], bytes[0], bufs[1], bytes[1], bufs[2], bytes[2]);
    if (st == CN_OK)
        st = marker(ctx, &m1);
    if (st == CN_OK)
        st = cn_ctx_finish(ctx);
    *wall_s = cn_seconds() - t0;
    if (st == CN_OK)
        st = cn_prof_collect(ctx, &e, &ne);
    if (st == CN_OK) {
        /* own kernels: the sum of their own events; CLBlast launches its
         * kernels itself, so only the marker span sees them */
        double s = 0;
        for (int i = 0; i < ne; i++)
            s += e[i].seconds;
        *dev_s = ne > 0 ? s : event_end(m1) - event_end(m0);
        free(e);
    }
    if (m0)
        clReleaseEvent(m0);
    if (m1)
        clReleaseEvent(m1);
    return st;
}

static int fill(cn_ctx *ctx, cl_mem b, size_t bytes, float v)
{
    CN_TRY(CN_CL(clEnqueueFillBuffer(cn_ctx_queue(ctx), b, &v, sizeof v, 0, bytes, 0, NULL, NULL)));
    return cn_ctx_finish(ctx);
}

static int bench_shape(cn_ctx *ctx, const shape *s, int runs, int which)
{
    const long long ra = s->ta ? s->K : s->M, ca = s->ta ? s->M : s->K;
    const long long rb = s->tb ? s->N : s->K, cb = s->tb ? s->K : s->N;
    cn_gemm_desc d = {.trans_a = s->ta, .trans_b = s->tb, .M = s->M, .N = s->N, .K = s->K,
                      .alpha = 1.0f, .beta = 0.0f, .lda = ca, .ldb = cb, .ldc = s->N,
                      .batch = s->batch, .stride_a = ra * ca, .stride_b = rb * cb,
                      .stride_c = s->M * s->N, .tag = "bench"};
    size_t bytes[3] = {(size_t)(ra * ca * s->batch) * 4, (size_t)(rb * cb * s->batch) * 4,
                       (size_t)(s->M * s->N * s->batch) * 4};
    cl_mem bufs[3] = {NULL, NULL, NULL};
    const float vals[3] = {0.5f, 0.25f, 0.0f};
    int st = CN_OK;
    for (int i = 0; i < 3 && st == CN_OK; i++) {
        st = cn_buffer_create(ctx, bytes[i], &bufs[i]);
        if (st == CN_OK)
            st = fill(ctx, bufs[i], bytes[i], vals[i]);
    }
    const double flop = 2.0 * (double)s->M * (double)s->N * (double)s->K * (double)s->batch;
    char name[96], bs[32] = "";
    if (s->batch > 1)
        snprintf(bs, sizeof bs, " x%lld", s->batch);
    snprintf(name, sizeof name, "%lldx%lldx%lld%s:%c%c", s->M, s->N, s->K, bs, s->ta ? 'T' : 'N',
             s->tb ? 'T' : 'N');
    const cn_gemm_backend bes[2] = {CN_GEMM_OWN, CN_GEMM_CLBLAST};
    double *dv = malloc((size_t)runs * sizeof *dv), *wv = malloc((size_t)runs * sizeof *wv);
    if (!dv || !wv)
        st = cn_fail(CN_ERR_OOM, "bench: out of host memory");
    for (int b = 0; b < 2 && st == CN_OK; b++) {
        if (!(which & (1 << b)))
            continue;
        cn_gemm_set_backend(ctx, bes[b]);
        double warm_d, warm_w;
        st = run_once(ctx, &d, bufs, bytes, &warm_d, &warm_w);
        for (int r = 0; r < runs && st == CN_OK; r++)
            st = run_once(ctx, &d, bufs, bytes, &dv[r], &wv[r]);
        if (st != CN_OK) {
            printf("%-26s %-8s failed: %s\n", name, cn_gemm_backend_name(bes[b]), cn_last_error());
            st = CN_OK;
            continue;
        }
        /* A and B are constant, so every element of C is K * 0.5 * 0.25 */
        float first = 0, last = 0;
        const size_t lastc = bytes[2] - sizeof(float);
        clEnqueueReadBuffer(cn_ctx_queue(ctx), bufs[2], CL_TRUE, 0, 4, &first, 0, NULL, NULL);
        clEnqueueReadBuffer(cn_ctx_queue(ctx), bufs[2], CL_TRUE, lastc, 4, &last, 0, NULL, NULL);
        const float expect = (float)s->K * 0.125f;
        if (first != expect || last != expect)
            printf("%-26s %-8s WRONG RESULT: C[0] = %g, C[end] = %g, want %g\n", name,
                   cn_gemm_backend_name(bes[b]), first, last, expect);
        double md = cn_median(dv, runs), mw = cn_median(wv, runs);
        printf("%-26s %-8s %9.3f ms %8.2f GFLOP/s   (wall %9.3f ms %8.2f GFLOP/s, first run "
               "%.0f ms)\n", name, cn_gemm_backend_name(bes[b]), md * 1e3, flop / md * 1e-9,
               mw * 1e3, flop / mw * 1e-9, warm_w * 1e3);
        fflush(stdout);
    }
    cn_gemm_set_backend(ctx, CN_GEMM_AUTO);
    free(dv), free(wv);
    for (int i = 0; i < 3; i++)
        cn_buffer_release(ctx, bufs[i], bytes[i]);
    return st;
}

int main(int argc, char **argv)
{
    cn_ctx_opts o = {0};
    o.profiling = 1;
    int runs = 5, which = 3, nshapes = 0;
    shape *shapes = calloc((size_t)argc, sizeof *shapes);
    if (!shapes)
        return 1;
    const char *tuning = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(argv[0]);
            free(shapes);
            return 0;
        } else if (strcmp(a, "--device") == 0 && v) {
            o.device = v, i++;
        } else if (strcmp(a, "--runs") == 0 && v && atoi(v) > 0) {
            runs = atoi(v), i++;
        } else if (strcmp(a, "--tuning") == 0 && v) {
            tuning = v, i++;
        } else if (strcmp(a, "--backend") == 0 && v) {
            which = strcmp(v, "own") == 0 ? 1 : strcmp(v, "clblast") == 0 ? 2
                    : strcmp(v, "both") == 0 ? 3 : 0;
            if (!which) {
                fprintf(stderr, "--backend: want own, clblast or both\n");
                free(shapes);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--size") == 0 && v && parse_shape(v, &shapes[nshapes])) {
            nshapes++, i++;
        } else {
            fprintf(stderr, "bad argument '%s' (see --help)\n", a);
            free(shapes);
            return 2;
        }
    }
    cn_ctx *ctx = NULL;
    if (cn_ctx_create(&o, &ctx) != CN_OK) {
        fprintf(stderr, "cannot create OpenCL context: %s\n", cn_last_error());
        free(shapes);
        return 1;
    }
    if (tuning && cn_gemm_set_tuning(ctx, tuning) != CN_OK) {
        fprintf(stderr, "%s\n", cn_last_error());
        cn_ctx_destroy(ctx);
        free(shapes);
        return 2;
    }
    const cn_device_info *dev = cn_ctx_device(ctx);
    char tb[512];
    printf("device: %s (%s, driver %s)\nown kernel tuning: %s\nmedian of %d runs after a "
           "warm-up\n", dev->name, dev->platform_name, dev->driver,
           cn_gemm_tuning(ctx, tb, sizeof tb), runs);
    int st = CN_OK;
    if (nshapes == 0)
        for (size_t i = 0; i < sizeof default_shapes / sizeof default_shapes[0] && st == CN_OK; i++)
            st = bench_shape(ctx, &default_shapes[i], runs, which);
    for (int i = 0; i < nshapes && st == CN_OK; i++)
        st = bench_shape(ctx, &shapes[i], runs, which);
    if (st != CN_OK)
        fprintf(stderr, "error: %s\n", cn_last_error());
    free(shapes);
    cn_ctx_destroy(ctx);
    return st == CN_OK ? 0 : 1;
}
