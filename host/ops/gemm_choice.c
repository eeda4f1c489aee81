/* Backend choice for cn_gemm: per-context forced backend, and the AUTO choice measured once per device and cached on disk. */
#include "ops/gemm.h"

#include <clblast_c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const cls_names[CN_GEMM_NCLS_] = {"general", "skinny"};

/* The forced backend and the AUTO choice live in the context's GEMM state
 * (cn_gemm_state_); only this count is a fact about the whole process. */
static _Atomic long nmeasure;

void cn_gemm_set_backend(cn_ctx *ctx, cn_gemm_backend b)
{
    if (!ctx || (b != CN_GEMM_AUTO && b != CN_GEMM_OWN && b != CN_GEMM_CLBLAST))
        return;
    cn_gemm_state *s = cn_gemm_state_(ctx, b != CN_GEMM_AUTO);
    if (s)
        s->forced = b;
}

int cn_gemm_choice_origin(cn_ctx *ctx)
{
    const cn_gemm_state *s = cn_gemm_state_(ctx, 0);
    return s ? s->origin : 0;
}

long cn_gemm_choice_measurements(void) { return nmeasure; }

/* ---- the cache file ---------------------------------------------------------------- */

/* What the measured times depend on: the device and its driver, CLBlast's
 * version, and our kernels with their tuning. */
static uint64_t choice_key(cn_ctx *ctx)
{
    const cn_device_info *dev = cn_ctx_device(ctx);
    char tuning[512], skinny[512], clb[32];
    cn_gemm_tuning(ctx, tuning, sizeof tuning);
    cn_gemm_tuning_class_(ctx, 1, skinny, sizeof skinny);
    snprintf(clb, sizeof clb, "clblast %d.%d.%d", CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR,
             CLBLAST_VERSION_PATCH);
    /* the skinny class's tuning counts only where it differs (older keys stay valid) */
    const char *parts[] = {dev->platform_name, dev->name, dev->driver, clb, tuning,
                           strcmp(skinny, tuning) ? skinny : NULL};
    uint64_t h = 1469598103934665603ULL; /* the cache key seed since the first release */
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i])
            h = cn_fnv1a(h, parts[i], strlen(parts[i]) + 1);
    for (int i = 0; i < cn_cl_source_count; i++)
        if (strcmp(cn_cl_sources[i].name, "gemm") == 0)
            h = cn_fnv1a(h, cn_cl_sources[i].text, cn_cl_sources[i].len);
    return h;
}

const char *cn_gemm_choice_file(cn_ctx *ctx, char *buf, size_t n)
{
    const char *dir = cn_ctx_cache_dir(ctx);
    if (!dir[0]) {
        if (n)
            buf[0] = '\0';
        return buf;
    }
    snprintf(buf, n, "%s/gemm-choice-%016llx.txt", dir, (unsigned long long)choice_key(ctx));
    return buf;
}

static const char *const file_magic = "caspnet-gemm-choice 1";

static int parse_backend(const char *s, cn_gemm_backend *b)
{
    if (strcmp(s, "own") == 0)
        *b = CN_GEMM_OWN;
    else if (strcmp(s, "clblast") == 0)
        *b = CN_GEMM_CLBLAST;
    else
        return 0;
    return 1;
}

/* 1 when the file exists, is ours, is for this key and names every class. */
static int read_choice(const char *path, uint64_t key, cn_gemm_backend choice[CN_GEMM_NCLS_])
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    int ok = fgets(line, sizeof line, f) && strncmp(line, file_magic, strlen(file_magic)) == 0;
    int got = 0, key_ok = 0;
    while (ok && fgets(line, sizeof line, f)) {
        char word[32], name[32];
        unsigned long long k;
        if (sscanf(line, "key %llx", &k) == 1) {
            key_ok = k == key;
            continue;
        }
        if (sscanf(line, "%31s %31s", word, name) != 2)
            continue;
        for (int c = 0; c < CN_GEMM_NCLS_; c++)
            if (strcmp(word, cls_names[c]) == 0) {
                if (!parse_backend(name, &choice[c]))
                    ok = 0;
                got |= 1 << c;
            }
    }
    fclose(f);
    return ok && key_ok && got == (1 << CN_GEMM_NCLS_) - 1;
}

/* Best effort, like the program cache: written to a temporary name and
 * renamed, so a reader never sees half a file. */
static void write_choice(cn_ctx *ctx, const char *path, uint64_t key,
                         const cn_gemm_backend choice[CN_GEMM_NCLS_], double t[CN_GEMM_NCLS_][2])
{
    const char *dir = cn_ctx_cache_dir(ctx);
    if (!dir[0] || cn_mkdir_p(dir) != 0)
        return;
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    const cn_device_info *dev = cn_ctx_device(ctx);
    fprintf(f, "%s\n# GEMM backend per class of product, measured seconds own, clblast; "
            "delete this file to measure again\nkey %016llx\ndevice %s / %s / %s\n", file_magic,
            (unsigned long long)key, dev->platform_name, dev->name, dev->driver);
    for (int c = 0; c < CN_GEMM_NCLS_; c++)
        fprintf(f, "%s %s %.6f %.6f\n", cls_names[c], cn_gemm_backend_name(choice[c]), t[c][0],
                t[c][1]);
    int ok = fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0)
        remove(tmp);
}

/* ---- measurement --------------------------------------------------------------- */

/* Representative products of the model: a batched attention-sized one, a
 * square one, and the VGGish fully connected layer's shape (a GEMV against a
 * batch of two, here with a quarter of its K to keep the probe short). */
typedef struct probe {
    int ta, tb;
    int64_t M, N, K, batch;
} probe;
static const probe probes[] = {
    {0, 0, 256, 256, 480, 4},
    {0, 0, 512, 512, 512, 1},
    {0, 1, 4096, 2, 3072, 1},
    {0, 1, 2, 4096, 3072, 1},
};
#define NPROBES (sizeof probes / sizeof probes[0])
#define PROBE_RUNS 3

static cn_gemm_desc probe_desc(const probe *p)
{
    const int64_t ra = p->ta ? p->K : p->M, ca = p->ta ? p->M : p->K;
    const int64_t rb = p->tb ? p->N : p->K, cb = p->tb ? p->K : p->N;
    return (cn_gemm_desc){.trans_a = p->ta, .trans_b = p->tb, .M = p->M, .N = p->N, .K = p->K,
                          .alpha = 1.0f, .beta = 0.0f, .lda = ca, .ldb = cb, .ldc = p->N,
                          .batch = p->batch, .stride_a = ra * ca, .stride_b = rb * cb,
                          .stride_c = p->M * p->N, .tag = "gemm_choice"};
}

/* Fastest of PROBE_RUNS runs after a warm-up run (which builds the kernels). */
static int time_one(cn_ctx *ctx, cn_gemm_backend be, const cn_gemm_desc *d, cl_mem A, cl_mem B,
                    cl_mem C, double *best)
{
    *best = 1e30;
    for (int r = 0; r <= PROBE_RUNS; r++) {
        CN_TRY(cn_ctx_finish(ctx));
        double t0 = cn_seconds();
        CN_TRY(be == CN_GEMM_OWN ? cn_gemm_own_(ctx, d, A, B, C)
                                 : cn_gemm_clblast_(ctx, d, A, B, C));
        CN_TRY(cn_ctx_finish(ctx));
        double t = cn_seconds() - t0;
        if (r > 0 && t < *best)
            *best = t;
    }
    return CN_OK;
}

static int make_filled(cn_ctx *ctx, size_t floats, float value, cl_mem *out)
{
    cl_int err;
    /* Not cn_buffer_create: the probe's transient buffers stay out of the
     * model's memory accounting and its fault-injection switches. */
    *out = clCreateBuffer(cn_ctx_cl(ctx), CL_MEM_READ_WRITE, floats * sizeof(float), NULL, &err);
    CN_TRY(CN_CL_ERR(err, "clCreateBuffer(gemm choice probe)"));
    /* finite, normal values: denormals or NaN would distort CPU timings */
    return CN_CL(clEnqueueFillBuffer(cn_ctx_queue(ctx), *out, &value, sizeof value, 0,
                                     floats * sizeof(float), 0, NULL, NULL));
}

/* t[class][0 own, 1 clblast]: summed seconds. *clblast_ok is 0 when CLBlast
 * failed on this device; then the own kernels are chosen. */
static int measure(cn_ctx *ctx, double t[CN_GEMM_NCLS_][2], int *clblast_ok)
{
    size_t na = 0, nb = 0, nc = 0;
    for (size_t i = 0; i < NPROBES; i++) {
        const probe *p = &probes[i];
        size_t a = (size_t)(p->M * p->K * p->batch), b = (size_t)(p->K * p->N * p->batch);
        size_t c = (size_t)(p->M * p->N * p->batch);
        na = a > na ? a : na, nb = b > nb ? b : nb, nc = c > nc ? c : nc;
    }
    cl_mem A = NULL, B = NULL, C = NULL;
    int st = make_filled(ctx, na, 0.5f, &A);
    if (st == CN_OK)
        st = make_filled(ctx, nb, 0.25f, &B);
    if (st == CN_OK)
        st = make_filled(ctx, nc, 0.0f, &C);
    memset(t, 0, sizeof(double) * CN_GEMM_NCLS_ * 2);
    *clblast_ok = 1;
    for (size_t i = 0; i < NPROBES && st == CN_OK; i++) {
        cn_gemm_desc d = probe_desc(&probes[i]);
        const int cls = cn_gemm_is_skinny_(ctx, &d) ? CN_GEMM_SKINNY_ : CN_GEMM_GENERAL_;
        double own = 0, clb = 0;
        st = time_one(ctx, CN_GEMM_OWN, &d, A, B, C, &own);
        if (st == CN_OK && *clblast_ok &&
            time_one(ctx, CN_GEMM_CLBLAST, &d, A, B, C, &clb) != CN_OK) {
            *clblast_ok = 0;
            cn_clear_error();
            cn_ctx_finish(ctx);
        }
        t[cls][0] += own;
        t[cls][1] += clb;
    }
    if (A)
        clReleaseMemObject(A);
    if (B)
        clReleaseMemObject(B);
    if (C)
        clReleaseMemObject(C);
    return st;
}

static int resolve(cn_ctx *ctx, cn_gemm_backend choice[CN_GEMM_NCLS_])
{
    cn_gemm_state *s = cn_gemm_state_(ctx, 1);
    if (!s)
        return cn_fail(CN_ERR_OOM, "gemm: out of host memory recording the backend choice");
    if (s->origin) {
        memcpy(choice, s->choice, sizeof s->choice);
        return CN_OK;
    }

    char path[1200];
    cn_gemm_choice_file(ctx, path, sizeof path);
    const uint64_t key = choice_key(ctx);
    int origin = 2;
    if (!path[0] || !read_choice(path, key, choice)) {
        double t[CN_GEMM_NCLS_][2];
        int clblast_ok = 0;
        /* A probe that cannot run (no memory for its buffers, say) leaves the
         * own kernels, whose own launch then reports any real problem. */
        const int ok = measure(ctx, t, &clblast_ok) == CN_OK;
        if (!ok)
            cn_clear_error();
        for (int c = 0; c < CN_GEMM_NCLS_; c++)
            choice[c] = ok && clblast_ok && t[c][1] > 0 && t[c][1] < t[c][0] ? CN_GEMM_CLBLAST
                                                                               : CN_GEMM_OWN;
        /* failures are not remembered: they may be transient */
        if (path[0] && ok && clblast_ok)
            write_choice(ctx, path, key, choice, t);
        origin = 1;
    }
    if (origin == 1)
        nmeasure++;
    s->origin = origin;
    memcpy(s->choice, choice, sizeof s->choice);
    return CN_OK;
}

int cn_gemm_resolve_backend(cn_ctx *ctx, cn_gemm_backend *out)
{
    cn_gemm_backend choice[CN_GEMM_NCLS_];
    CN_TRY(resolve(ctx, choice));
    *out = choice[CN_GEMM_GENERAL_];
    return CN_OK;
}

int cn_gemm_pick_(cn_ctx *ctx, int skinny, cn_gemm_backend *out)
{
    const cn_gemm_state *s = cn_gemm_state_(ctx, 0);
    cn_gemm_backend forced = s ? s->forced : CN_GEMM_AUTO;
    if (forced == CN_GEMM_AUTO) {
        const char *env = getenv("CASPNET_GEMM");
        if (env && *env && strcmp(env, "auto") != 0 && !parse_backend(env, &forced))
            return cn_fail(CN_ERR_ARG, "CASPNET_GEMM='%s': want own, clblast or auto", env);
    }
    if (forced != CN_GEMM_AUTO) {
        *out = forced;
        return CN_OK;
    }
    cn_gemm_backend choice[CN_GEMM_NCLS_];
    CN_TRY(resolve(ctx, choice));
    *out = choice[skinny ? CN_GEMM_SKINNY_ : CN_GEMM_GENERAL_];
    return CN_OK;
}
