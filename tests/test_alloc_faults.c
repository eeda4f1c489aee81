/* Device allocation faults in a whole forward pass (after ncnn's allocator test): for every N the N-th allocation fails; each run must end in one clean CN_ERR_OOM, hold no device memory afterwards, and leave the engine working. Run with the arena as in use and with its reuse off, where every tensor allocation is a device allocation and so every error path is reached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "testutil.h"
#include "model/weights_init.h"

/* Batch 2 at the smallest size the model accepts (multiples of 32), so the
 * loop over every allocation of a pass stays quick on a CPU device. */
#define N_CLIPS 2
#define H 32
#define W 32

/* "Live" device memory of the context: bytes held by tensors
 * (cn_arena_in_use) and bytes of device buffers that still exist once the
 * arena has freed its idle ones (cn_mem_stats.current after cn_arena_trim:
 * the weights, and anything leaked outside the arena). Idle arena buffers are
 * a cache the next pass reuses, not a leak, so they are trimmed away first;
 * that also makes every pass start from an empty arena, allocating the same
 * sequence of buffers. */
typedef struct live {
    uint64_t in_use, buffers;
} live;

static live live_now(cn_ctx *ctx)
{
    cn_ctx_finish(ctx); /* a failed pass may leave work queued on freed tensors */
    cn_arena_trim(ctx);
    return (live){cn_arena_in_use(ctx), cn_ctx_mem_stats(ctx).current};
}

/* The context's allocation count when the pass reaches the X4 tap (the end
 * of S3D) and the F4p tap (before the decoder). */
typedef struct marks {
    cn_ctx *ctx;
    long x4, f4p;
} marks;

static int tap_marks(void *user, const char *name, const cn_tensor *t)
{
    (void)t;
    marks *a = user;
    if (strcmp(name, "X4") == 0)
        a->x4 = cn_ctx_mem_stats(a->ctx).allocations;
    if (strcmp(name, "F4p") == 0)
        a->f4p = cn_ctx_mem_stats(a->ctx).allocations;
    return CN_OK;
}

/* Counts the device allocations of one pass, then fails each in turn; with
 * between_taps only those from X4 to F4p (the rest is code another run covers). */
static void fail_each(cn_engine *e, const char *what, int between_taps, const float *clip,
                      const float *mel, const float *sal0, float *sal)
{
    cn_ctx *ctx = cn_engine_ctx(e);
    size_t nmap = (size_t)N_CLIPS * H * W;
    live base = live_now(ctx);
    long a0 = cn_ctx_mem_stats(ctx).allocations;
    marks mk = {ctx, a0, a0};
    cn_forward_opts fo = {0};
    fo.tap = tap_marks;
    fo.tap_user = &mk;
    double t0 = cn_seconds();
    TU_OK(cn_engine_run_opts(e, N_CLIPS, H, W, clip, mel, &fo, sal));
    double t_pass = cn_seconds() - t0;
    long count = cn_ctx_mem_stats(ctx).allocations - a0, first = 1, last = count;
    if (between_taps) {
        first = mk.x4 - a0 + 1;
        last = mk.f4p - a0;
    }
    TU_CHECK(first >= 1 && first <= last && last <= count,
             "%s: allocations %ld..%ld between the taps, of %ld", what, first, last, count);
    TU_CHECK(memcmp(sal, sal0, nmap * sizeof *sal) == 0, "%s: pass differs from the first", what);
    TU_CHECK(count > 10, "%s: a forward pass made only %ld device allocations", what, count);

    int clean = 0;
    for (long n = first; n <= last; n++) {
        live before = live_now(ctx);
        long start = cn_ctx_mem_stats(ctx).allocations;
        cn_clear_error();
        cn_ctx_fail_alloc_after(ctx, n);
        int st = cn_engine_run(e, N_CLIPS, H, W, clip, mel, sal);
        cn_ctx_fail_alloc_after(ctx, 0);
        const char *msg = cn_last_error();
        long made = cn_ctx_mem_stats(ctx).allocations - start;
        int ok = st == CN_ERR_OOM && msg[0] != '\0' && strstr(msg, "injected") != NULL;
        TU_CHECK(ok, "%s: allocation %ld of %ld failing: status %s, message '%s'", what, n, count,
                 cn_status_name(st), msg);
        TU_CHECK(made >= n, "%s: allocation %ld never attempted (%ld made)", what, n, made);
        live after = live_now(ctx);
        TU_CHECK(after.in_use == before.in_use && after.buffers == before.buffers,
                 "%s: allocation %ld failing leaves %lld bytes in tensors and %lld in buffers "
                 "(before: %llu, %llu)", what, n, (long long)(after.in_use - before.in_use),
                 (long long)(after.buffers - before.buffers),
                 (unsigned long long)before.in_use, (unsigned long long)before.buffers);
        TU_CHECK(after.in_use == base.in_use && after.buffers == base.buffers,
                 "%s: live memory drifted from the start after allocation %ld", what, n);
        clean += ok && after.in_use == base.in_use && after.buffers == base.buffers;
    }
    printf("%s: allocations %ld..%ld of the %ld of a pass (2 x 16 x %d x %d), each failing: %d "
           "ended in one clean CN_ERR_OOM with no memory held (one pass %.2f s, the loop %.1f s)\n",
           what, first, last, count, H, W, clean, t_pass, cn_seconds() - t0);

    /* and the engine still works, bit for bit */
    memset(sal, 0, nmap * sizeof *sal);
    TU_OK(cn_engine_run(e, N_CLIPS, H, W, clip, mel, sal));
    TU_CHECK(memcmp(sal, sal0, nmap * sizeof *sal) == 0,
             "%s: the map after the failures differs from the first", what);
    live end = live_now(ctx);
    TU_CHECK(end.in_use == base.in_use && end.buffers == base.buffers,
             "%s: live memory after the final pass differs from the start", what);
}

static void run_variant(const char *variant, uint64_t seed, const float *clip, const float *mel)
{
    size_t nmap = (size_t)N_CLIPS * H * W;
    float *sal0 = calloc(nmap, sizeof *sal0), *sal = calloc(nmap, sizeof *sal);
    cn_engine *e = NULL;
    cn_weights *w = NULL;
    char what[64];
    TU_OK(cn_engine_create(NULL, &e));
    if (!e || !sal0 || !sal)
        goto out;
    cn_ctx *ctx = cn_engine_ctx(e);
    cn_gemm_set_backend(ctx, CN_GEMM_OWN); /* every device buffer then goes through the runtime */
    TU_OK(cn_weights_new(variant, &w));
    if (!w)
        goto out;
    cn_weights_randomize(w, seed);
    TU_OK(cn_engine_load_weights(e, w));
    /* a first pass builds the kernels and settles anything done once per context */
    TU_OK(cn_engine_run(e, N_CLIPS, H, W, clip, mel, sal0));
    /* S3D, ASPP and the decoder are the same code in both variants: the v run
     * fails each of their allocations, the av run each from the end of S3D
     * (tap X4) to the decoder (tap F4p): VGGish, the attention and CPC, with
     * the ASPPs between them. That keeps the loop near a minute on a loaded
     * CPU device. The arena as used also passes through its trim-and-retry
     * path; without reuse every tensor allocation is a device allocation, so
     * every error path is met. */
    int av = strcmp(variant, "av") == 0;
    if (!av) {
        snprintf(what, sizeof what, "%s, arena reuse", variant);
        fail_each(e, what, 0, clip, mel, sal0, sal);
    }
    cn_arena_set_reuse(ctx, 0);
    snprintf(what, sizeof what, "%s, every tensor fresh", variant);
    fail_each(e, what, av, clip, mel, sal0, sal);
    cn_arena_set_reuse(ctx, 1);
out:
    cn_weights_free(w);
    cn_engine_destroy(e);
    free(sal0);
    free(sal);
}

int main(void)
{
    float *clip = NULL, *mel = NULL;
    TU_OK(cn_synth_inputs(N_CLIPS, H, W, 7, &clip, &mel));
    if (clip && mel) {
        run_variant("v", 3, clip, NULL);
        run_variant("av", 4, clip, mel);
    }
    free(clip);
    free(mel);
    return tu_finish("test_alloc_faults");
}
