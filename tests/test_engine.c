/* The public engine API end to end on small clips: load, run float and 8-bit inputs, determinism, peak memory, the precision option, and its errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "testutil.h"
#include "model/weights_init.h"

/* The precision option: names, the rule on made-up devices, the engine on
 * this one, and a model stored in half. */
static void test_precision(void)
{
    cn_precision p;
    for (int i = 0; i < 3; i++) {
        TU_OK(cn_precision_parse(cn_precision_name((cn_precision)i), &p));
        TU_CHECK(p == (cn_precision)i, "precision name %d round trip", i);
    }
    TU_FAILS(CN_ERR_ARG, cn_precision_parse("half", &p));
    TU_CHECK(strstr(cn_last_error(), "half") != NULL, "the message names the bad value");

    /* the rule: devices made up from their type and fp16 flag */
    cn_device_info cpu = {0}, gpu = {0}, gpu16 = {0}, cpu16 = {0};
    cpu.type = cpu16.type = CL_DEVICE_TYPE_CPU;
    gpu.type = gpu16.type = CL_DEVICE_TYPE_GPU;
    cpu16.fp16 = gpu16.fp16 = 1;
    snprintf(cpu.name, sizeof cpu.name, "NoHalfCPU");
    snprintf(gpu.name, sizeof gpu.name, "NoHalfGPU");
    char note[512];
    const cn_device_info *all[4] = {&cpu, &gpu, &cpu16, &gpu16};
    for (int i = 0; i < 4; i++) {
        TU_CHECK(cn_precision_resolve(all[i], CN_PRECISION_FP32, note, sizeof note) ==
                     CN_PRECISION_FP32 && !note[0], "fp32 stays fp32, silently (device %d)", i);
        /* auto asks for fp16 only where a GPU has it: elsewhere no note */
        if (all[i] != &gpu16)
            TU_CHECK(cn_precision_resolve(all[i], CN_PRECISION_AUTO, note, sizeof note) ==
                         CN_PRECISION_FP32 && !note[0], "auto is fp32, silently (device %d)", i);
    }
    for (int i = 0; i < 2; i++) {
        TU_CHECK(cn_precision_resolve(all[i], CN_PRECISION_FP16, note, sizeof note) ==
                     CN_PRECISION_FP32 && strstr(note, all[i]->name) && strstr(note, "cl_khr_fp16"),
                 "fp16 without cl_khr_fp16 falls back to fp32 with a note naming the device and "
                 "the extension: '%s'", note);
    }
    /* with the extension fp16 is used, CPU or GPU, without a note; auto too on the GPU */
    for (int i = 2; i < 4; i++)
        TU_CHECK(cn_precision_resolve(all[i], CN_PRECISION_FP16, note, sizeof note) ==
                     CN_PRECISION_FP16 && !note[0], "fp16 with cl_khr_fp16 (device %d): '%s'", i,
                 note);
    TU_CHECK(cn_precision_resolve(&gpu16, CN_PRECISION_AUTO, note, sizeof note) ==
                 CN_PRECISION_FP16 && !note[0], "auto on a GPU with cl_khr_fp16 is fp16");

    /* this device: fp16 runs, or falls back with the note; never fails */
    cn_engine *e = NULL;
    TU_FAILS(CN_ERR_ARG, cn_engine_create(&(cn_engine_opts){.precision = (cn_precision)9}, &e));
    TU_OK(cn_engine_create(&(cn_engine_opts){.precision = CN_PRECISION_FP16}, &e));
    if (!e)
        return;
    const cn_device_info *d = cn_ctx_device(cn_engine_ctx(e));
    const cn_precision used = cn_engine_precision(e);
    printf("precision fp16 on %s (cl_khr_fp16 %s): %s%s%s\n", d->name, d->fp16 ? "yes" : "no",
           cn_precision_name(used), cn_engine_precision_note(e)[0] ? "; note: " : "",
           cn_engine_precision_note(e));
    TU_CHECK(used == CN_PRECISION_FP16 || used == CN_PRECISION_FP32, "resolved to fp32 or fp16");
    TU_CHECK(d->fp16 || (used == CN_PRECISION_FP32 && strstr(cn_engine_precision_note(e),
                                                             "cl_khr_fp16")),
             "without cl_khr_fp16: fp32 and a note that says why");
    TU_CHECK((used == CN_PRECISION_FP16) == !cn_engine_precision_note(e)[0],
             "a note exactly when fp16 was asked for and is not used");

    /* a model stored in half takes about half the weight memory */
    cn_weights *w = NULL;
    TU_OK(cn_weights_new("av", &w));
    if (w) {
        cn_weights_randomize(w, 4);
        cn_model *m32 = NULL, *m16 = NULL;
        TU_OK(cn_model_create_as(cn_engine_ctx(e), w, CN_F32, &m32));
        TU_OK(cn_model_create_as(cn_engine_ctx(e), w, CN_F16, &m16));
        if (m32 && m16) {
            const double ratio = (double)cn_model_weight_bytes(m16) / (double)cn_model_weight_bytes(m32);
            printf("weights on the device: %.1f MiB as fp32, %.1f MiB as fp16 (%.3f)\n",
                   (double)cn_model_weight_bytes(m32) / (1 << 20),
                   (double)cn_model_weight_bytes(m16) / (1 << 20), ratio);
            TU_CHECK(ratio > 0.5 && ratio < 0.51, "half weights take %.3f of the float ones", ratio);
            TU_CHECK(cn_model_dtype(m16) == CN_F16 && cn_model_dtype(m32) == CN_F32, "model dtype");
        }
        cn_model *bad = NULL;
        TU_FAILS(CN_ERR_ARG, cn_model_create_as(cn_engine_ctx(e), w, (cn_dtype)3, &bad));
        TU_CHECK(bad == NULL, "a failed create leaves no model");
        cn_model_destroy(m32);
        cn_model_destroy(m16);
        /* the engine in its resolved precision loads and runs; where that is
         * fp16, against an fp32 engine on the same clip: about half the peak
         * device memory (the map difference is printed only: these weights
         * are not calibrated, and accuracy is tests/test_fp16.sh's, on the
         * parity fixture's calibrated weights) */
        TU_OK(cn_engine_load_weights(e, w));
        const int H = 64, Wd = 96;
        tu_rng r = tu_seed(21);
        float *clip = tu_rand_array(&r, (int64_t)3 * 16 * H * Wd, -1, 1);
        float *mel = tu_rand_array(&r, 96 * 64, -4, 1);
        float *sal = malloc((size_t)H * Wd * sizeof *sal), *sal32 = malloc((size_t)H * Wd * sizeof *sal);
        cn_engine_reset_peak(e);
        TU_OK(cn_engine_run(e, 1, H, Wd, clip, mel, sal));
        cn_engine *e32 = NULL;
        if (used == CN_PRECISION_FP16 && cn_engine_create(NULL, &e32) == CN_OK) {
            const uint64_t peak16 = cn_engine_peak_bytes(e);
            TU_OK(cn_engine_load_weights(e32, w));
            cn_engine_reset_peak(e32);
            TU_OK(cn_engine_run(e32, 1, H, Wd, clip, mel, sal32));
            const uint64_t peak32 = cn_engine_peak_bytes(e32);
            double worst = 0;
            for (int i = 0; i < H * Wd; i++)
                worst = fmax(worst, fabs((double)sal[i] - sal32[i]));
            printf("fp16 against fp32 at 1x%dx%d: peak device memory %.1f MiB against %.1f MiB "
                   "(%.3f); map max difference %.2e\n", H, Wd, (double)peak16 / (1 << 20),
                   (double)peak32 / (1 << 20), (double)peak16 / (double)peak32, worst);
            TU_CHECK((double)peak16 < 0.55 * (double)peak32, "fp16 peak memory is about half");
        }
        cn_engine_destroy(e32);
        free(clip), free(mel), free(sal), free(sal32);
        cn_weights_free(w);
    }
    cn_engine_destroy(e);
}

int main(void)
{
    test_precision();
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
