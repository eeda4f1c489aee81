/* Micro-benchmark of cn_conv3d on every distinct convolution of the S3D encoder at 16x224x384: GFLOP/s, median of profiled runs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelspec.h"
#include "ops/ops.h"

/* The clip the model is specified for (spec section 2), batch 1. */
enum { IN_T = 16, IN_H = 224, IN_W = 384, MAX_LAYERS = 128, MAX_NAMES = 16 };

/* One convolution as the model runs it. `block` is what --quick selects on. */
typedef struct conv_layer {
    char name[40];
    int block; /* 0: base.0, 2: base.2, 3: base.3, else the Mixed block's base index */
    int ci, co, k[3], s[3], p[3], thw[3];
} conv_layer;

/* Layers with the same shape share one timing: the model pays it once per use. */
typedef struct conv_group {
    const conv_layer *first;
    const char *names[MAX_NAMES];
    int uses;
    double gflop, ms; /* gflop of one use; ms: median device time of one use */
} conv_group;

static conv_layer layers[MAX_LAYERS];
static int nlayers;

static void usage(const char *prog)
{
    printf("usage: %s [options]\n"
           "Times cn_conv3d (BN folded into the bias, ReLU fused, as the model runs it) on\n"
           "every distinct convolution of the S3D encoder for a 1x3x%dx%dx%d clip: a\n"
           "warm-up run, then the median of --reps runs of the OpenCL profiling time\n"
           "(cn_prof_collect). Layers of identical shape are timed once and counted per use.\n"
           "GFLOP counts a multiply-add as 2 (bias and ReLU not counted).\n"
           "  --device D       device index or name substring (as caspnet --device)\n"
           "  --reps N         timed runs per shape (default 5)\n"
           "  --layer S        only layers whose name contains S (e.g. Mixed_4, conv_t)\n"
           "  --packed         general (not 1x1x1) convs read the packed weight layout\n"
           "                   (cn_conv_pack), as the model runs them\n"
           "  --quick          only base.0, base.2, base.3 and the first Mixed block of each\n"
           "                   resolution (Mixed_3b, Mixed_4b, Mixed_5b)\n"
           "  --tuning S       -D tuning of cl/conv3d.cl (see cn_conv_set_tuning)\n"
           "  --help           this text\n",
           prog, IN_T, IN_H, IN_W);
}

/* Output size of one axis of a conv or pool; PyTorch's floor rule. */
static int out_len(int n, int k, int s, int p) { return (n + 2 * p - k) / s + 1; }

static void pool(int thw[3], int k0, int k1, int s0, int s1, int p0, int p1)
{
    thw[0] = out_len(thw[0], k0, s0, p0);
    thw[1] = out_len(thw[1], k1, s1, p1);
    thw[2] = out_len(thw[2], k1, s1, p1);
}

static void add(const char *name, int block, int ci, int co, const int k[3], const int s[3],
                const int p[3], const int thw[3])
{
    conv_layer *l = &layers[nlayers++];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->block = block, l->ci = ci, l->co = co;
    memcpy(l->k, k, sizeof l->k), memcpy(l->s, s, sizeof l->s);
    memcpy(l->p, p, sizeof l->p), memcpy(l->thw, thw, sizeof l->thw);
}

/* SepConv3d(k, s, p): conv_s (1,k,k)/(1,s,s)/(0,p,p) then conv_t (k,1,1)/(s,1,1)/(p,0,0).
 * Advances thw to the output size. */
static void sepconv(const char *prefix, int block, int ci, int co, int k, int s, int p, int thw[3])
{
    char n[48];
    const int ks[3] = {1, k, k}, ss[3] = {1, s, s}, ps[3] = {0, p, p};
    const int kt[3] = {k, 1, 1}, st[3] = {s, 1, 1}, pt[3] = {p, 0, 0};
    snprintf(n, sizeof n, "%s.conv_s", prefix);
    add(n, block, ci, co, ks, ss, ps, thw);
    for (int d = 1; d < 3; d++)
        thw[d] = out_len(thw[d], k, s, p);
    snprintf(n, sizeof n, "%s.conv_t", prefix);
    add(n, block, co, co, kt, st, pt, thw);
    thw[0] = out_len(thw[0], k, s, p);
}

/* The S3D layer list of spec section 2, with each conv's input size derived
 * from the clip through the convs and pools in between (not copied from the
 * table, so a wrong table entry would show up as a mismatch with the model). */
static void build_layers(void)
{
    static const int one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
    int thw[3] = {IN_T, IN_H, IN_W};
    sepconv("base.0", 0, 3, 64, 7, 2, 3, thw);
    pool(thw, 1, 3, 1, 2, 0, 1);
    add("base.2", 2, 64, 64, one, one, zero, thw);
    sepconv("base.3", 3, 64, 192, 3, 1, 1, thw);
    pool(thw, 1, 3, 1, 2, 0, 1);
    for (int i = 0; i < 9; i++) {
        const cn_mixed_spec *m = &cn_spec_mixed[i];
        if (m->index == 8)
            pool(thw, 3, 3, 2, 2, 1, 1);
        else if (m->index == 14)
            pool(thw, 2, 2, 2, 2, 0, 0);
        char blk[16], n[48];
        /* base index -> torchvision-style name: 5,6 -> 3b,3c; 8..12 -> 4b..4f; 14,15 -> 5b,5c */
        const int stage = m->index < 8 ? 3 : m->index < 14 ? 4 : 5;
        const int first = stage == 3 ? 5 : stage == 4 ? 8 : 14;
        snprintf(blk, sizeof blk, "Mixed_%d%c", stage, 'b' + (m->index - first));
        int t[3];
        snprintf(n, sizeof n, "%s.branch0.0", blk);
        add(n, m->index, m->cin, m->a, one, one, zero, thw);
        snprintf(n, sizeof n, "%s.branch1.0", blk);
        add(n, m->index, m->cin, m->b, one, one, zero, thw);
        memcpy(t, thw, sizeof t);
        snprintf(n, sizeof n, "%s.branch1.1", blk);
        sepconv(n, m->index, m->b, m->c, 3, 1, 1, t);
        snprintf(n, sizeof n, "%s.branch2.0", blk);
        add(n, m->index, m->cin, m->d, one, one, zero, thw);
        memcpy(t, thw, sizeof t);
        snprintf(n, sizeof n, "%s.branch2.1", blk);
        sepconv(n, m->index, m->d, m->e, 3, 1, 1, t);
        /* branch3's max pool (k3 s1 p1) keeps the size */
        snprintf(n, sizeof n, "%s.branch3.1", blk);
        add(n, m->index, m->cin, m->f, one, one, zero, thw);
    }
}

static int same_shape(const conv_layer *a, const conv_layer *b)
{
    return a->ci == b->ci && a->co == b->co && !memcmp(a->k, b->k, sizeof a->k) &&
           !memcmp(a->s, b->s, sizeof a->s) && !memcmp(a->p, b->p, sizeof a->p) &&
           !memcmp(a->thw, b->thw, sizeof a->thw);
}

/* Uniform in [-a, a) from a fixed LCG: reproducible, and the values only
 * need to be finite and not denormal. */
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

/* Device seconds of one cn_conv3d: the sum of the profiled launches it made. */
static int run_once(cn_ctx *ctx, const cn_conv_args *a, double *dev_s)
{
    cn_prof_entry *e = NULL;
    int ne = 0;
    CN_TRY(cn_prof_collect(ctx, &e, &ne)); /* drop what earlier calls recorded */
    free(e);
    CN_TRY(cn_conv3d(ctx, a));
    CN_TRY(cn_prof_collect(ctx, &e, &ne));
    double s = 0;
    for (int i = 0; i < ne; i++)
        s += e[i].seconds;
    free(e);
    *dev_s = s;
    return ne > 0 ? CN_OK : cn_fail(CN_ERR_UNSUPPORTED, "bench: no profiled launch (profiling off?)");
}

static int g_packed; /* --packed: general convs read cn_conv_pack's layout */

static int bench_group(cn_ctx *ctx, conv_group *g, int reps, uint32_t *seed)
{
    const conv_layer *l = g->first;
    const int64_t xs[5] = {1, l->ci, l->thw[0], l->thw[1], l->thw[2]};
    const int64_t ws[5] = {l->co, l->ci, l->k[0], l->k[1], l->k[2]};
    const int64_t bs[1] = {l->co};
    cn_tensor x = {0}, w = {0}, wp = {0}, b = {0}, y = {0};
    cn_conv_args a = {0};
    a.x = &x, a.w = &w, a.bias = &b, a.y = &y, a.relu = 1, a.tag = l->name;
    memcpy(a.stride, l->s, sizeof a.stride), memcpy(a.pad, l->p, sizeof a.pad);
    double *v = malloc((size_t)reps * sizeof *v);
    int64_t ys[5];
    int st = v ? CN_OK : cn_fail(CN_ERR_OOM, "bench: out of host memory");
    if (st == CN_OK)
        st = random_tensor(ctx, &x, 5, xs, 1.0f, seed);
    const int64_t taps = (int64_t)l->k[0] * l->k[1] * l->k[2], wn = l->co * l->ci * taps;
    float *hw = st == CN_OK ? malloc((size_t)wn * sizeof *hw) : NULL;
    if (st == CN_OK && !hw)
        st = cn_fail(CN_ERR_OOM, "bench: out of host memory");
    if (st == CN_OK) { /* ~1/sqrt(fan-in) keeps outputs O(1) through the ReLU */
        rand_fill(hw, wn, 1.0f / sqrtf((float)(l->ci * taps)), seed);
        st = cn_tensor_from_host(ctx, &w, 5, ws, hw);
    }
    if (st == CN_OK && g_packed) {
        int64_t ps[3];
        float *hp = NULL;
        st = cn_conv_pack_shape(ctx, l->co, l->ci, taps, ps);
        if (st == CN_OK && !(hp = malloc((size_t)(ps[0] * ps[1] * ps[2]) * sizeof *hp)))
            st = cn_fail(CN_ERR_OOM, "bench: out of host memory");
        if (st == CN_OK)
            st = cn_conv_pack(ctx, hw, l->co, l->ci, taps, hp);
        if (st == CN_OK)
            st = cn_tensor_from_host(ctx, &wp, 3, ps, hp);
        a.w_packed = &wp;
        free(hp);
    }
    free(hw);
    if (st == CN_OK)
        st = random_tensor(ctx, &b, 1, bs, 0.1f, seed);
    if (st == CN_OK)
        st = cn_conv3d_out_shape(&a, ys);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &y, 5, ys);
    double warm = 0;
    if (st == CN_OK) /* first launch builds (or loads) the program */
        st = run_once(ctx, &a, &warm);
    for (int r = 0; r < reps && st == CN_OK; r++)
        st = run_once(ctx, &a, &v[r]);
    if (st == CN_OK) {
        const double macs = (double)ys[1] * (double)(ys[2] * ys[3] * ys[4]) * (double)l->ci *
                            (double)(l->k[0] * l->k[1] * l->k[2]);
        g->gflop = 2.0 * macs * 1e-9;
        g->ms = cn_median(v, reps) * 1e3;
    }
    free(v);
    cn_tensor_release(ctx, &x), cn_tensor_release(ctx, &w), cn_tensor_release(ctx, &wp);
    cn_tensor_release(ctx, &b), cn_tensor_release(ctx, &y);
    return st;
}

static int selected(const conv_layer *l, const char *filter, int quick)
{
    if (quick && !(l->block <= 3 || l->block == 5 || l->block == 8 || l->block == 14))
        return 0;
    return !filter || strstr(l->name, filter);
}

int main(int argc, char **argv)
{
    cn_ctx_opts o = {0};
    o.profiling = 1;
    int reps = 5, quick = 0;
    const char *filter = NULL, *tuning = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(argv[0]);
            return 0;
        } else if (strcmp(a, "--device") == 0 && v) {
            o.device = v, i++;
        } else if (strcmp(a, "--reps") == 0 && v && atoi(v) > 0) {
            reps = atoi(v), i++;
        } else if (strcmp(a, "--layer") == 0 && v) {
            filter = v, i++;
        } else if (strcmp(a, "--tuning") == 0 && v) {
            tuning = v, i++;
        } else if (strcmp(a, "--quick") == 0) {
            quick = 1;
        } else if (strcmp(a, "--packed") == 0) {
            g_packed = 1;
        } else {
            fprintf(stderr, "bad argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    build_layers();

    static conv_group groups[MAX_LAYERS];
    int ngroups = 0;
    double all_gflop = 0; /* every conv of S3D, whatever is selected */
    for (int i = 0; i < nlayers; i++) {
        const conv_layer *l = &layers[i];
        all_gflop += 2e-9 * l->co * (double)out_len(l->thw[0], l->k[0], l->s[0], l->p[0]) *
                     out_len(l->thw[1], l->k[1], l->s[1], l->p[1]) *
                     out_len(l->thw[2], l->k[2], l->s[2], l->p[2]) * l->ci * l->k[0] * l->k[1] *
                     l->k[2];
        if (!selected(l, filter, quick))
            continue;
        int g = 0;
        while (g < ngroups && !same_shape(groups[g].first, l))
            g++;
        if (g == ngroups)
            groups[ngroups++].first = l;
        if (groups[g].uses < MAX_NAMES)
            groups[g].names[groups[g].uses] = l->name;
        groups[g].uses++;
    }
    if (ngroups == 0) {
        fprintf(stderr, "no layer matches '%s'\n", filter ? filter : "");
        return 2;
    }

    cn_ctx *ctx = NULL;
    if (cn_ctx_create(&o, &ctx) != CN_OK) {
        fprintf(stderr, "cannot create OpenCL context: %s\n", cn_last_error());
        return 1;
    }
    if (tuning && cn_conv_set_tuning(ctx, tuning) != CN_OK) {
        fprintf(stderr, "%s\n", cn_last_error());
        cn_ctx_destroy(ctx);
        return 2;
    }
    const cn_device_info *dev = cn_ctx_device(ctx);
    printf("device: %s (%s, driver %s)\nconv tuning: %s\ninput 1x3x%dx%dx%d, median of %d runs "
           "after a warm-up; %d convs, %d distinct shapes selected\n\n",
           dev->name, dev->platform_name, dev->driver, cn_conv_tuning(ctx), IN_T, IN_H, IN_W,
           reps, nlayers, ngroups);
    printf("%-30s %4s %-10s %-6s %-6s %-11s %8s %10s %8s\n", "layer (first use)", "uses",
           "Ci->Co", "kernel", "stride", "input THW", "GFLOP", "median ms", "GFLOP/s");
    uint32_t seed = 12345u;
    double tot_gflop = 0, tot_ms = 0;
    int st = CN_OK;
    for (int g = 0; g < ngroups && st == CN_OK; g++) {
        conv_group *G = &groups[g];
        const conv_layer *l = G->first;
        st = bench_group(ctx, G, reps, &seed);
        if (st != CN_OK)
            break;
        char cc[16], k[8], s[8], thw[16];
        snprintf(cc, sizeof cc, "%d->%d", l->ci, l->co);
        snprintf(k, sizeof k, "%dx%dx%d", l->k[0], l->k[1], l->k[2]);
        snprintf(s, sizeof s, "%d,%d,%d", l->s[0], l->s[1], l->s[2]);
        snprintf(thw, sizeof thw, "%dx%dx%d", l->thw[0], l->thw[1], l->thw[2]);
        printf("%-30s %4d %-10s %-6s %-6s %-11s %8.3f %10.3f %8.2f\n", l->name, G->uses, cc, k,
               s, thw, G->gflop, G->ms, G->gflop / G->ms * 1e3);
        for (int u = 1; u < G->uses && u < MAX_NAMES; u++)
            printf("  + %s\n", G->names[u]);
        fflush(stdout);
        tot_gflop += G->gflop * G->uses;
        tot_ms += G->ms * G->uses;
    }
    if (st != CN_OK) {
        fprintf(stderr, "error: %s\n", cn_last_error());
    } else {
        printf("\n%s: %.3f GFLOP in %.1f ms (sum of medians x uses) = %.2f GFLOP/s\n",
               filter || quick ? "selected convs" : "all S3D convs", tot_gflop, tot_ms,
               tot_gflop / tot_ms * 1e3);
        if (filter || quick)
            printf("all S3D convs: %.3f GFLOP\n", all_gflop);
    }
    cn_ctx_destroy(ctx);
    return st == CN_OK ? 0 : 1;
}
