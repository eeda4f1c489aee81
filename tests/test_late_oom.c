/* Late out-of-memory in a whole forward pass: a kernel enqueue that returns CL_OUT_OF_RESOURCES and a final read that returns CL_MEM_OBJECT_ALLOCATION_FAILURE (where drivers that allocate lazily report a full device) each end in one CN_ERR_OOM naming a layer of the model, hold no tensors afterwards, and leave the engine working bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "testutil.h"
#include "model/weights_init.h"

#define N_CLIPS 2
#define H 32
#define W 64

/* Whether msg names one of the model's layer groups right after `prefix`. */
static int names_layer(cn_engine *e, const char *msg, const char *prefix)
{
    const char *p = strstr(msg, prefix);
    if (!p)
        return 0;
    p += strlen(prefix);
    const char *const *names;
    const double *gflop;
    const int n = cn_model_groups(cn_engine_model(e), &names, &gflop);
    for (int i = 0; i < n; i++) {
        const size_t len = strlen(names[i]);
        if (strncmp(p, names[i], len) == 0 && (p[len] == ' ' || p[len] == ':'))
            return 1;
    }
    return 0;
}

/* One pass with the switch armed: CN_ERR_OOM, the message, nothing held,
 * and the next pass identical to the first. Returns whether it was clean. */
static int fail_once(cn_engine *e, const char *what, int read, long n, const char *want_prefix,
                     const float *clip, const float *mel, const float *sal0, float *sal)
{
    cn_ctx *ctx = cn_engine_ctx(e);
    const size_t nmap = (size_t)N_CLIPS * H * W;
    const uint64_t in_use = cn_arena_in_use(ctx);
    cn_clear_error();
    if (read)
        cn_ctx_fail_read_after(ctx, n);
    else
        cn_ctx_fail_enqueue_after(ctx, n);
    const int st = cn_engine_run(e, N_CLIPS, H, W, clip, mel, sal);
    cn_ctx_fail_read_after(ctx, 0);
    cn_ctx_fail_enqueue_after(ctx, 0);
    const char *msg = cn_last_error();
    const char *inj = read ? "injected by CASPNET_TEST_FAIL_READ" : "injected by CASPNET_TEST_FAIL_ENQUEUE";
    int ok = st == CN_ERR_OOM && strstr(msg, "the device ran out of memory") && strstr(msg, inj) &&
             strstr(msg, "--batch") && names_layer(e, msg, want_prefix);
    TU_CHECK(ok, "%s: %s %ld failing: status %s, message '%s'", what, read ? "read" : "enqueue",
             n, cn_status_name(st), msg);
    cn_ctx_finish(ctx);
    TU_CHECK(cn_arena_in_use(ctx) == in_use, "%s: %s %ld failing leaves %lld bytes in tensors",
             what, read ? "read" : "enqueue", n, (long long)(cn_arena_in_use(ctx) - in_use));
    memset(sal, 0, nmap * sizeof *sal);
    TU_OK(cn_engine_run(e, N_CLIPS, H, W, clip, mel, sal));
    const int same = memcmp(sal, sal0, nmap * sizeof *sal) == 0;
    TU_CHECK(same, "%s: the map after %s %ld failed differs from the first", what,
             read ? "read" : "enqueue", n);
    return ok && same && cn_arena_in_use(ctx) == in_use;
}

static void run_variant(const char *variant, uint64_t seed, const float *clip, const float *mel)
{
    const size_t nmap = (size_t)N_CLIPS * H * W;
    float *sal0 = calloc(nmap, sizeof *sal0), *sal = calloc(nmap, sizeof *sal);
    cn_engine *e = NULL;
    cn_weights *w = NULL;
    TU_OK(cn_engine_create(NULL, &e));
    if (!e || !sal0 || !sal)
        goto out;
    cn_ctx *ctx = cn_engine_ctx(e);
    TU_OK(cn_weights_new(variant, &w));
    if (!w)
        goto out;
    cn_weights_randomize(w, seed);
    TU_OK(cn_engine_load_weights(e, w));
    TU_OK(cn_engine_run(e, N_CLIPS, H, W, clip, mel, sal0));
    const cn_launch_stats s0 = cn_ctx_launch_stats(ctx);
    TU_OK(cn_engine_run(e, N_CLIPS, H, W, clip, mel, sal));
    const cn_launch_stats s1 = cn_ctx_launch_stats(ctx);
    const long enq = s1.enqueues - s0.enqueues, reads = s1.reads - s0.reads;
    TU_CHECK(enq > 20 && reads >= 1, "%s: a pass made %ld enqueues and %ld reads", variant, enq,
             reads);
    /* every 37th enqueue and the last: every layer group is reached */
    int tried = 0, clean = 0;
    for (long n = 1; n <= enq; n = (n < enq && n + 37 > enq) ? enq : n + 37) {
        tried++;
        clean += fail_once(e, variant, 0, n, "in layer ", clip, mel, sal0, sal);
    }
    tried++;
    clean += fail_once(e, variant, 1, reads, "queued up to layer ", clip, mel, sal0, sal);
    printf("%s: %d of %d late failures (enqueues 1 to %ld of a pass, and its final read) ended in "
           "one clean CN_ERR_OOM naming the layer, the engine working after each\n", variant, clean,
           tried, enq);
    /* an enqueue past the pass's last one is never reached: the pass succeeds */
    cn_ctx_fail_enqueue_after(ctx, enq + 1);
    TU_OK(cn_engine_run(e, N_CLIPS, H, W, clip, mel, sal));
    cn_ctx_fail_enqueue_after(ctx, 0);
    TU_CHECK(memcmp(sal, sal0, nmap * sizeof *sal) == 0, "%s: armed past the end, map differs",
             variant);
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
    return tu_finish("test_late_oom");
}
