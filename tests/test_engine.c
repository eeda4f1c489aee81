/* The public engine API end to end on small clips: load, run float and 8-bit inputs, determinism, peak memory, and its errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "testutil.h"
#include "model/weights_init.h"

int main(void)
{
    cn_engine *e = NULL;
    TU_OK(cn_engine_create(NULL, &e));
    if (!e)
        return tu_finish("test_engine");
    cn_gemm_set_backend(cn_engine_ctx(e), CN_GEMM_OWN);
    int n = 2, H = 64, W = 96;
    size_t nclip = (size_t)n * 3 * 16 * H * W, nmap = (size_t)n * H * W;
    float *clip = malloc(nclip * sizeof *clip), *sal = malloc(nmap * sizeof *sal),
          *sal2 = malloc(nmap * sizeof *sal2), *sal3 = malloc(nmap * sizeof *sal3);
    uint8_t *rgb = malloc(nclip);
    /* 8-bit frames, and the same frames as floats in the model's range */
    tu_rng r = tu_seed(5);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < 16; t++)
            for (int p = 0; p < H * W; p++)
                for (int c = 0; c < 3; c++) {
                    uint8_t v = (uint8_t)tu_int(&r, 0, 255);
                    rgb[(((size_t)i * 16 + t) * H * W + p) * 3 + c] = v;
                    clip[(((size_t)i * 3 + c) * 16 + t) * H * W + p] = (float)v * (2.0f / 255.0f) - 1.0f;
                }

    TU_FAILS(CN_ERR_ARG, cn_engine_run(e, n, H, W, clip, NULL, sal)); /* nothing loaded */
    TU_CHECK(cn_engine_variant(e) == NULL, "variant before load");
    TU_FAILS(CN_ERR_IO, cn_engine_load(e, "/nonexistent/w.safetensors"));

    cn_weights *w = NULL;
    TU_OK(cn_weights_new("v", &w));
    if (w) {
        cn_weights_randomize(w, 1);
        TU_OK(cn_engine_load_weights(e, w));
        cn_weights_free(w);
    }
    TU_CHECK(cn_engine_variant(e) && strcmp(cn_engine_variant(e), "v") == 0, "variant v");
    cn_engine_reset_peak(e);
    TU_OK(cn_engine_run(e, n, H, W, clip, NULL, sal));
    TU_OK(cn_engine_run(e, n, H, W, clip, NULL, sal2));
    TU_OK(cn_engine_run_rgb8(e, n, H, W, rgb, NULL, sal3));
    int finite = 1, in01 = 1;
    for (size_t j = 0; j < nmap; j++) {
        finite &= isfinite(sal[j]) != 0;
        in01 &= sal[j] >= 0.0f && sal[j] <= 1.0f;
    }
    TU_CHECK(finite && in01, "maps finite and in [0, 1]");
    TU_CHECK(memcmp(sal, sal2, nmap * sizeof *sal) == 0, "two runs on one device are bit-identical");
    TU_CHECK(memcmp(sal, sal3, nmap * sizeof *sal) == 0, "8-bit frames give the same maps as their float form");
    uint64_t peak = cn_engine_peak_bytes(e);
    printf("peak device memory for 2 x 16 x 64 x 96 (v): %.1f MiB\n", (double)peak / (1 << 20));
    TU_CHECK(peak > 0, "peak memory reported");

    /* batch: one clip alone gives the same map as within a batch of two */
    TU_OK(cn_engine_run(e, 1, H, W, clip + nclip / 2, NULL, sal2));
    double d = 0;
    for (size_t j = 0; j < nmap / 2; j++)
        d = fmax(d, fabs((double)sal2[j] - sal[nmap / 2 + j]));
    TU_CHECK(d <= 1e-6, "clip 2 alone vs in a batch: max difference %.3e", d);

    /* bad shapes are errors with a message */
    TU_FAILS(CN_ERR_SHAPE, cn_engine_run(e, 1, 60, 96, clip, NULL, sal));
    TU_FAILS(CN_ERR_ARG, cn_engine_run(e, 0, H, W, clip, NULL, sal));

    /* variant av needs a log-mel */
    TU_OK(cn_weights_new("av", &w));
    if (w) {
        cn_weights_randomize(w, 2);
        TU_OK(cn_engine_load_weights(e, w));
        cn_weights_free(w);
        TU_FAILS(CN_ERR_ARG, cn_engine_run(e, n, H, W, clip, NULL, sal));
    }
    cn_engine_destroy(e);
    free(clip);
    free(sal);
    free(sal2);
    free(sal3);
    free(rgb);
    return tu_finish("test_engine");
}
