/* Launches cut in pieces (cn_launch_cost, the watchdog rule) give the same results bit for bit: quadratic attention, the own GEMM (both forms) and a conv3d on their own, and whole forward passes of v and av, with the own GEMM kernels and with CLBlast, linear and quadratic attention, each launch forced into 2, 3 and 7 pieces (CASPNET_TEST_SPLIT's switch), against the same pass unsplit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "testutil.h"
#include "model/weights_init.h"

#define N_CLIPS 2
#define H 32
#define W 64

static void run_case(const char *variant, uint64_t seed, cn_gemm_backend be,
                     cn_attention_mode att, const float *clip, const float *mel)
{
    const size_t nmap = (size_t)N_CLIPS * H * W;
    float *sal0 = calloc(nmap, sizeof *sal0), *sal = calloc(nmap, sizeof *sal);
    cn_engine *e = NULL;
    cn_weights *w = NULL;
    char what[96];
    snprintf(what, sizeof what, "%s, %s GEMM, %s attention", variant, cn_gemm_backend_name(be),
             att == CN_ATTENTION_QUADRATIC ? "quadratic" : "linear");
    TU_OK(cn_engine_create(NULL, &e));
    if (!e || !sal0 || !sal)
        goto out;
    cn_ctx *ctx = cn_engine_ctx(e);
    cn_gemm_set_backend(ctx, be);
    cn_ctx_set_split(ctx, 0);
    TU_OK(cn_weights_new(variant, &w));
    if (!w)
        goto out;
    cn_weights_randomize(w, seed);
    TU_OK(cn_engine_load_weights(e, w));
    cn_forward_opts o = {0};
    o.attention = att;
    TU_OK(cn_engine_run_opts(e, N_CLIPS, H, W, clip, mel, &o, sal0));
    const cn_launch_stats s0 = cn_ctx_launch_stats(ctx);
    TU_OK(cn_engine_run_opts(e, N_CLIPS, H, W, clip, mel, &o, sal));
    const cn_launch_stats s1 = cn_ctx_launch_stats(ctx);
    /* at this size nothing comes near the budget: the rule alone cuts nothing */
    TU_CHECK(s1.split == s0.split, "%s: %ld launches split unforced", what, s1.split - s0.split);
    TU_CHECK(memcmp(sal, sal0, nmap * sizeof *sal) == 0, "%s: two unsplit passes differ", what);
    static const int pieces[] = {2, 3, 7};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        memset(sal, 0, nmap * sizeof *sal);
        cn_ctx_set_split(ctx, pieces[i]);
        const cn_launch_stats a = cn_ctx_launch_stats(ctx);
        TU_OK(cn_engine_run_opts(e, N_CLIPS, H, W, clip, mel, &o, sal));
        const cn_launch_stats b = cn_ctx_launch_stats(ctx);
        cn_ctx_set_split(ctx, 0);
        const long split = b.split - a.split, launches = b.launches - a.launches;
        const long extra = (b.enqueues - a.enqueues) - launches;
        TU_CHECK(split > 10 && extra >= split, "%s: in %d pieces, %ld of %ld launches split "
                 "(%ld extra enqueues)", what, pieces[i], split, launches, extra);
        size_t diff = 0;
        for (size_t j = 0; j < nmap; j++)
            diff += memcmp(&sal[j], &sal0[j], sizeof *sal) != 0;
        TU_CHECK(diff == 0, "%s: in %d pieces, %zu of %zu map values differ from unsplit", what,
                 pieces[i], diff, nmap);
        printf("%s: %ld of %ld launches in up to %d pieces: map %s\n", what, split, launches,
               pieces[i], diff ? "DIFFERS" : "bitwise identical");
    }
out:
    cn_weights_free(w);
    cn_engine_destroy(e);
    free(sal0);
    free(sal);
}

/* ---- single ops, at shapes where the split falls on the dimension whose
 * indexing a global offset would break (query tiles, GEMM tiles, output
 * positions of a single clip) ---------------------------------------------- */

typedef int (*op_fn)(cn_ctx *ctx, const cn_tensor *in, cn_tensor *out);

/* out = op(in) unsplit and in 2, 3 and 5 pieces: identical bit for bit and
 * actually split. */
static void check_op(cn_ctx *ctx, const char *what, op_fn op, const cn_tensor *in, cn_tensor *out)
{
    const size_t n = (size_t)cn_numel(out);
    float *want = calloc(n, sizeof *want), *got = calloc(n, sizeof *got);
    if (!want || !got)
        goto out;
    cn_ctx_set_split(ctx, 0);
    TU_OK(op(ctx, in, out));
    TU_OK(cn_tensor_download(ctx, out, want));
    static const int pieces[] = {2, 3, 5};
    const int failures = tu_failures;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        float *zero = calloc(n, sizeof *zero);
        TU_OK(zero ? cn_tensor_upload(ctx, out, zero) : CN_ERR_OOM);
        free(zero);
        cn_ctx_set_split(ctx, pieces[i]);
        const cn_launch_stats a = cn_ctx_launch_stats(ctx);
        TU_OK(op(ctx, in, out));
        const cn_launch_stats b = cn_ctx_launch_stats(ctx);
        cn_ctx_set_split(ctx, 0);
        TU_OK(cn_tensor_download(ctx, out, got));
        size_t diff = 0;
        for (size_t j = 0; j < n; j++)
            diff += memcmp(&got[j], &want[j], sizeof *got) != 0;
        TU_CHECK(b.split > a.split && b.enqueues - a.enqueues >= pieces[i],
                 "%s: not split into %d pieces", what, pieces[i]);
        TU_CHECK(diff == 0, "%s: in %d pieces, %zu of %zu values differ", what, pieces[i], diff, n);
    }
    printf("%s: in 2, 3 and 5 pieces %s\n", what,
           tu_failures == failures ? "bitwise identical" : "DIFFERENT or not split");
out:
    free(want);
    free(got);
}

/* in[0..2] = q, k, v (N 1): 300 queries make 5 query tiles along dimension 0 */
static int op_attention(cn_ctx *ctx, const cn_tensor *in, cn_tensor *out)
{
    return cn_attention_quadratic(ctx, &in[0], &in[1], &in[2], 0.25f, out);
}

/* in[0], in[1] = A (M x K), B (K x N), one product */
static int op_gemm(cn_ctx *ctx, const cn_tensor *in, cn_tensor *out)
{
    cn_gemm_desc d = {0};
    d.M = in[0].shape[0], d.K = in[0].shape[1], d.N = in[1].shape[1];
    d.alpha = 1.0f;
    d.lda = d.K, d.ldb = d.N, d.ldc = d.N;
    return cn_gemm(ctx, &d, in[0].buf, cn_tensor_bytes(&in[0]), in[1].buf,
                   cn_tensor_bytes(&in[1]), out->buf, cn_tensor_bytes(out));
}

/* in[0], in[1], in[2] = x (1 clip), w (3x3x3), bias */
static int op_conv(cn_ctx *ctx, const cn_tensor *in, cn_tensor *out)
{
    cn_conv_args a = {0};
    a.x = &in[0], a.w = &in[1], a.bias = &in[2], a.y = out;
    a.pad[0] = a.pad[1] = a.pad[2] = 1;
    a.relu = 1;
    return cn_conv3d(ctx, &a);
}

static void op_checks(cn_ctx *ctx)
{
    tu_rng r = tu_seed(17);
    cn_tensor in[3] = {{0}}, out = {0};
    float *h[3] = {NULL, NULL, NULL};

    const int64_t qs[3] = {1, 16, 300}, ks[3] = {1, 16, 40}, vs[3] = {1, 24, 40};
    const int64_t ys[3] = {1, 24, 300};
    h[0] = tu_rand_array(&r, 16 * 300, -1, 1);
    h[1] = tu_rand_array(&r, 16 * 40, -1, 1);
    h[2] = tu_rand_array(&r, 24 * 40, -1, 1);
    TU_OK(cn_tensor_from_host(ctx, &in[0], 3, qs, h[0]));
    TU_OK(cn_tensor_from_host(ctx, &in[1], 3, ks, h[1]));
    TU_OK(cn_tensor_from_host(ctx, &in[2], 3, vs, h[2]));
    TU_OK(cn_tensor_alloc(ctx, &out, 3, ys));
    check_op(ctx, "attention_quadratic 300 queries x 40 keys", op_attention, in, &out);
    for (int i = 0; i < 3; i++) {
        cn_tensor_release(ctx, &in[i]);
        free(h[i]);
        h[i] = NULL;
    }
    cn_tensor_release(ctx, &out);

    /* the own GEMM, register-blocked and (GPU form) with local-memory tiles */
    const int64_t as[2] = {200, 70}, bs[2] = {70, 300}, cs[2] = {200, 300};
    h[0] = tu_rand_array(&r, 200 * 70, -1, 1);
    h[1] = tu_rand_array(&r, 70 * 300, -1, 1);
    TU_OK(cn_tensor_from_host(ctx, &in[0], 2, as, h[0]));
    TU_OK(cn_tensor_from_host(ctx, &in[1], 2, bs, h[1]));
    TU_OK(cn_tensor_alloc(ctx, &out, 2, cs));
    cn_gemm_set_backend(ctx, CN_GEMM_OWN);
    check_op(ctx, "own gemm 200 x 300 x 70", op_gemm, in, &out);
    TU_OK(cn_gemm_set_tuning(ctx, "-DGEMM_LOCAL=1 -DGEMM_VW=4 -DGEMM_NV=2 -DGEMM_WM=4 "
                                  "-DGEMM_TK=8 -DGEMM_LM=4 -DGEMM_LN=4"));
    check_op(ctx, "own gemm, local-memory tiles, 200 x 300 x 70", op_gemm, in, &out);
    TU_OK(cn_gemm_set_tuning(ctx, NULL));
    cn_gemm_set_backend(ctx, CN_GEMM_AUTO);
    for (int i = 0; i < 2; i++) {
        cn_tensor_release(ctx, &in[i]);
        free(h[i]);
        h[i] = NULL;
    }
    cn_tensor_release(ctx, &out);

    /* A product over the budget (2048 x 2048 x 2560: 21.5 GFLOP) with CLBlast
     * forced runs on the own kernels, cut in pieces: CLBlast's launches could
     * not be. Sampled entries against a double dot product. */
    {
        const int64_t M = 2048, N = 2048, K = 2560;
        const int64_t as2[2] = {M, K}, bs2[2] = {K, N}, cs2[2] = {M, N};
        float *ha = tu_rand_array(&r, (size_t)(M * K), -1, 1);
        float *hb = tu_rand_array(&r, (size_t)(K * N), -1, 1);
        float *hc = malloc((size_t)(M * N) * sizeof *hc);
        TU_OK(cn_tensor_from_host(ctx, &in[0], 2, as2, ha));
        TU_OK(cn_tensor_from_host(ctx, &in[1], 2, bs2, hb));
        TU_OK(cn_tensor_alloc(ctx, &out, 2, cs2));
        cn_gemm_set_backend(ctx, CN_GEMM_CLBLAST);
        const cn_launch_stats a = cn_ctx_launch_stats(ctx);
        TU_OK(op_gemm(ctx, in, &out));
        const cn_launch_stats b = cn_ctx_launch_stats(ctx);
        cn_gemm_set_backend(ctx, CN_GEMM_AUTO);
        TU_CHECK(b.split - a.split >= 1 && b.enqueues - a.enqueues >= 2,
                 "over-budget GEMM with CLBlast forced: %ld launches split, %ld enqueues",
                 b.split - a.split, b.enqueues - a.enqueues);
        if (hc && cn_tensor_download(ctx, &out, hc) == CN_OK) {
            double worst = 0;
            for (int t = 0; t < 64; t++) {
                const int64_t i = (t * 977) % M, j = (t * 1409 + 5) % N;
                double ref = 0;
                for (int64_t k = 0; k < K; k++)
                    ref += (double)ha[i * K + k] * hb[k * N + j];
                const double e = fabs(ref - hc[i * N + j]) / (1.0 + fabs(ref));
                worst = e > worst ? e : worst;
            }
            TU_CHECK(worst < 1e-4, "over-budget GEMM: sampled relative error %.3g", worst);
            printf("over-budget GEMM (21.5 GFLOP, CLBlast forced): %ld enqueues on the own "
                   "kernels, sampled error %.2g\n", b.enqueues - a.enqueues, worst);
        }
        for (int i = 0; i < 2; i++)
            cn_tensor_release(ctx, &in[i]);
        cn_tensor_release(ctx, &out);
        free(ha);
        free(hb);
        free(hc);
    }

    const int64_t xs[5] = {1, 8, 4, 12, 40}, wsz[5] = {20, 8, 3, 3, 3}, bsz[1] = {20};
    const int64_t yss[5] = {1, 20, 4, 12, 40};
    h[0] = tu_rand_array(&r, 8 * 4 * 12 * 40, -1, 1);
    h[1] = tu_rand_array(&r, 20 * 8 * 27, -1, 1);
    h[2] = tu_rand_array(&r, 20, -1, 1);
    TU_OK(cn_tensor_from_host(ctx, &in[0], 5, xs, h[0]));
    TU_OK(cn_tensor_from_host(ctx, &in[1], 5, wsz, h[1]));
    TU_OK(cn_tensor_from_host(ctx, &in[2], 1, bsz, h[2]));
    TU_OK(cn_tensor_alloc(ctx, &out, 5, yss));
    check_op(ctx, "conv3d 3x3x3 8 -> 20 on one 4 x 12 x 40 clip", op_conv, in, &out);
    for (int i = 0; i < 3; i++) {
        cn_tensor_release(ctx, &in[i]);
        free(h[i]);
    }
    cn_tensor_release(ctx, &out);
}

int main(void)
{
    /* the budget's constants: 20 GFLOP a launch (0.1 s at 200 GFLOP/s) */
    cn_ctx *ctx = tu_ctx();
    if (ctx) {
        op_checks(ctx);
        const double budget = CN_SMALL_GPU_FLOPS * CN_LAUNCH_MAX_SECONDS;
        TU_CHECK(cn_launch_pieces(ctx, 0.0) == 1 && cn_launch_pieces(ctx, budget) == 1 &&
                 cn_launch_pieces(ctx, budget * 1.01) == 2 && cn_launch_pieces(ctx, budget * 5) == 5,
                 "cn_launch_pieces: %d %d %d %d", cn_launch_pieces(ctx, 0.0),
                 cn_launch_pieces(ctx, budget), cn_launch_pieces(ctx, budget * 1.01),
                 cn_launch_pieces(ctx, budget * 5));
        cn_ctx_destroy(ctx);
    }
    float *clip = NULL, *mel = NULL;
    TU_OK(cn_synth_inputs(N_CLIPS, H, W, 11, &clip, &mel));
    if (clip && mel) {
        run_case("v", 5, CN_GEMM_OWN, CN_ATTENTION_LINEAR, clip, NULL);
        run_case("v", 5, CN_GEMM_CLBLAST, CN_ATTENTION_LINEAR, clip, NULL);
        run_case("av", 6, CN_GEMM_OWN, CN_ATTENTION_QUADRATIC, clip, mel);
        run_case("av", 6, CN_GEMM_CLBLAST, CN_ATTENTION_LINEAR, clip, mel);
    }
    free(clip);
    free(mel);
    return tu_finish("test_launch_split");
}
