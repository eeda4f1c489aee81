/* The public engine API: a context, one loaded model, and host-side input and output handling. */
#include "model/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/tuning.h"
#include "runtime/runtime.h"
#include "runtime/tensor.h"

struct cn_engine {
    cn_ctx *ctx;
    cn_model *model;
    cn_attention_mode attention;
    cn_precision precision; /* resolved: FP32 or FP16 */
    char device[400];
    char warning[512];
    char precision_note[512];
};

static const char *const precision_names[] = {"fp32", "fp16", "auto"};

const char *cn_precision_name(cn_precision p)
{
    return (int)p >= 0 && (int)p < 3 ? precision_names[p] : "?";
}

int cn_precision_parse(const char *s, cn_precision *out)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, precision_names[i]) == 0) {
            *out = (cn_precision)i;
            return CN_OK;
        }
    return cn_fail(CN_ERR_ARG, "precision '%s': want fp32, fp16 or auto", s ? s : "(null)");
}

cn_precision cn_precision_resolve(const cn_device_info *d, cn_precision want, char *note,
                                  size_t n)
{
    if (note && n)
        note[0] = '\0';
    if (want == CN_PRECISION_AUTO)
        want = (d->type & CL_DEVICE_TYPE_GPU) && d->fp16 ? CN_PRECISION_FP16 : CN_PRECISION_FP32;
    if (want != CN_PRECISION_FP16)
        return CN_PRECISION_FP32;
    if (!d->fp16) {
        if (note && n)
            snprintf(note, n, "precision fp16: %s has no cl_khr_fp16; running in fp32", d->name);
        return CN_PRECISION_FP32;
    }
    return CN_PRECISION_FP16;
}

int cn_engine_create(const cn_engine_opts *opts, cn_engine **out)
{
    *out = NULL;
    cn_engine *e = calloc(1, sizeof *e);
    if (!e)
        return cn_fail(CN_ERR_OOM, "out of host memory");
    cn_ctx_opts co = {0};
    if (opts) {
        co.device = opts->device;
        co.cache_dir = opts->cache_dir;
        co.profiling = opts->profiling;
        e->attention = opts->attention;
    }
    cn_precision want = opts ? opts->precision : CN_PRECISION_FP32;
    if ((int)want < 0 || (int)want > 2) {
        free(e);
        return cn_fail(CN_ERR_ARG, "cn_engine_create: unknown precision %d", (int)want);
    }
    int st = cn_ctx_create(&co, &e->ctx);
    if (st == CN_OK)
        st = cn_tuning_ensure(e->ctx); /* the device's tuning, before anything runs on it */
    if (st != CN_OK) {
        cn_ctx_destroy(e->ctx);
        free(e);
        return st;
    }
    const cn_device_info *d = cn_ctx_device(e->ctx);
    snprintf(e->device, sizeof e->device, "%s: %s", d->platform_name, d->name);
    e->precision = cn_precision_resolve(d, want, e->precision_note, sizeof e->precision_note);
    *out = e;
    return CN_OK;
}

void cn_engine_destroy(cn_engine *e)
{
    if (!e)
        return;
    cn_model_destroy(e->model);
    cn_ctx_destroy(e->ctx);
    free(e);
}

const char *cn_engine_device(const cn_engine *e) { return e->device; }
cn_precision cn_engine_precision(const cn_engine *e) { return e->precision; }
const char *cn_engine_precision_note(const cn_engine *e) { return e->precision_note; }
cn_ctx *cn_engine_ctx(cn_engine *e) { return e->ctx; }
cn_model *cn_engine_model(cn_engine *e) { return e->model; }
const char *cn_engine_variant(const cn_engine *e) { return e->model ? cn_model_variant(e->model) : NULL; }

int cn_engine_load_weights(cn_engine *e, const cn_weights *w)
{
    cn_model_destroy(e->model);
    e->model = NULL;
    cn_arena_trim(e->ctx);
    return cn_model_create_as(e->ctx, w, e->precision == CN_PRECISION_FP16 ? CN_F16 : CN_F32,
                              &e->model);
}

const char *cn_engine_warning(const cn_engine *e) { return e->warning; }

int cn_engine_load(cn_engine *e, const char *path)
{
    cn_weights *w;
    e->warning[0] = '\0';
    CN_TRY(cn_weights_load(path, &w));
    if (w->nonfinite)
        snprintf(e->warning, sizeof e->warning, "%s: %d tensor%s hold%s NaN or Inf values (first: '%s'); the maps may be NaN",
                 path, w->nonfinite, w->nonfinite == 1 ? "" : "s", w->nonfinite == 1 ? "s" : "",
                 w->nonfinite_first);
    int st = cn_engine_load_weights(e, w);
    cn_weights_free(w);
    return st;
}

int cn_engine_run_opts(cn_engine *e, int n, int H, int W, const float *clip, const float *logmel,
                       const cn_forward_opts *o, float *sal)
{
    if (!e->model)
        return cn_fail(CN_ERR_ARG, "no weights loaded (cn_engine_load first)");
    if (n < 1 || H < 1 || W < 1 || !clip || !sal)
        return cn_fail(CN_ERR_ARG, "cn_engine_run: need n, H, W >= 1 and clip and sal buffers");
    int av = strcmp(cn_model_variant(e->model), "av") == 0;
    if (av && !logmel)
        return cn_fail(CN_ERR_ARG, "variant av needs a log-mel per clip");
    cn_tensor tc = {0}, tm = {0}, ts = {0};
    int64_t cs[5] = {n, 3, 16, H, W}, ms[4] = {n, 1, 96, 64};
    cn_forward_opts def = {0};
    def.attention = e->attention;
    int st = cn_tensor_from_host(e->ctx, &tc, 5, cs, clip);
    if (st == CN_OK && av)
        st = cn_tensor_from_host(e->ctx, &tm, 4, ms, logmel);
    if (st == CN_OK)
        st = cn_model_forward(e->model, &tc, av ? &tm : NULL, o ? o : &def, &ts);
    cn_tensor_release(e->ctx, &tc);
    cn_tensor_release(e->ctx, &tm);
    if (st == CN_OK)
        st = cn_tensor_download(e->ctx, &ts, sal);
    cn_tensor_release(e->ctx, &ts);
    /* A full device (at an allocation, or late at an enqueue or the read):
     * give the idle buffers back, so that a retry with less fits. */
    if (st == CN_ERR_OOM)
        cn_arena_trim(e->ctx);
    return st;
}

int cn_engine_run(cn_engine *e, int n, int H, int W, const float *clip, const float *logmel,
                  float *sal)
{
    return cn_engine_run_opts(e, n, H, W, clip, logmel, NULL, sal);
}

int cn_engine_run_rgb8(cn_engine *e, int n, int H, int W, const uint8_t *frames,
                       const float *logmel, float *sal)
{
    if (n < 1 || H < 1 || W < 1 || !frames)
        return cn_fail(CN_ERR_ARG, "cn_engine_run_rgb8: need n, H, W >= 1 and frames");
    size_t plane = (size_t)H * W, total = (size_t)n * 3 * 16 * plane;
    float *clip = malloc(total * sizeof *clip);
    if (!clip)
        return cn_fail(CN_ERR_OOM, "out of host memory for %zu clip values", total);
    /* interleaved n x 16 x H x W x 3 -> planar n x 3 x 16 x H x W */
    for (size_t i = 0; i < (size_t)n; i++)
        for (size_t t = 0; t < 16; t++)
            for (size_t p = 0; p < plane; p++)
                for (size_t c = 0; c < 3; c++)
                    clip[((i * 3 + c) * 16 + t) * plane + p] =
                        (float)frames[((i * 16 + t) * plane + p) * 3 + c] * (2.0f / 255.0f) - 1.0f;
    int st = cn_engine_run(e, n, H, W, clip, logmel, sal);
    free(clip);
    return st;
}

uint64_t cn_engine_peak_bytes(const cn_engine *e) { return cn_ctx_mem_stats(e->ctx).peak; }
void cn_engine_reset_peak(cn_engine *e) { cn_ctx_reset_peak(e->ctx); }
