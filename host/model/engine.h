/* Public C API of the caspnet engine: create on a device, load weights, run clips, read maps, destroy. */
#ifndef CASPNET_ENGINE_H
#define CASPNET_ENGINE_H

#include <stdint.h>

#include "model/model.h"
#include "runtime/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cn_engine cn_engine;

/* How the weights and activations are stored on the device. Arithmetic is
 * float in every case (products are accumulated in float); half storage
 * halves the device memory and the memory traffic.
 *   FP32  float storage (the default).
 *   FP16  half storage (IEEE binary16) where the device reports cl_khr_fp16;
 *         on a device without it the engine runs in FP32 and says so once
 *         (cn_engine_precision_note): it never fails for lack of fp16.
 *   AUTO  FP16 on a GPU that has cl_khr_fp16, FP32 on every other device. */
typedef enum cn_precision {
    CN_PRECISION_FP32 = 0,
    CN_PRECISION_FP16 = 1,
    CN_PRECISION_AUTO = 2
} cn_precision;

/* "fp32", "fp16", "auto" ("?" for another value). */
const char *cn_precision_name(cn_precision p);
/* Parses one of those names; CN_ERR_ARG (naming s) otherwise. */
int cn_precision_parse(const char *s, cn_precision *out);
/* What `want` means on device d: CN_PRECISION_FP32 or CN_PRECISION_FP16,
 * never AUTO. note (n bytes, may be NULL) gets one sentence when FP16 was
 * asked for and is not used, naming the device and the reason, else "". */
cn_precision cn_precision_resolve(const cn_device_info *d, cn_precision want, char *note,
                                  size_t n);

typedef struct cn_engine_opts {
    const char *device;    /* NULL: $CASPNET_DEVICE, else first GPU, else CPU (see runtime.h) */
    const char *cache_dir; /* NULL: $CASPNET_CACHE_DIR or ~/.cache/caspnet; "off" disables */
    int profiling;         /* record OpenCL profiling events (benchmarks) */
    cn_attention_mode attention; /* default linear */
    cn_precision precision; /* default CN_PRECISION_FP32 */
} cn_engine_opts;

/* Creates an engine on a device. opts may be NULL. Caller destroys. Every
 * function returns a cn_status; cn_last_error() says what went wrong. */
int cn_engine_create(const cn_engine_opts *opts, cn_engine **out);
void cn_engine_destroy(cn_engine *e);

/* Name of the device the engine runs on ("Platform: Device"). */
const char *cn_engine_device(const cn_engine *e);
/* The precision the engine runs in (the options' resolved on its device:
 * FP32 or FP16), and why FP16 was not used where it was asked for ("" when
 * it was, or was not asked for). The note is owned by e. */
cn_precision cn_engine_precision(const cn_engine *e);
const char *cn_engine_precision_note(const cn_engine *e);

/* Reads, validates and uploads a weights file (replacing any loaded model).
 * The host copy is freed once uploaded. */
int cn_engine_load(cn_engine *e, const char *weights_path);
/* Same from weights already in memory (borrowed for the call only). */
int cn_engine_load_weights(cn_engine *e, const cn_weights *w);
/* A warning about the loaded weights ("" when none): tensors holding NaN or
 * Inf, which load (the file is valid) but poison the maps. Owned by e. */
const char *cn_engine_warning(const cn_engine *e);
/* "av" or "v"; NULL before a successful load. */
const char *cn_engine_variant(const cn_engine *e);

/* Runs n clips of 16 frames of H x W (multiples of 32) and writes n maps of
 * H x W floats in (0, 1) (the map of each clip's last frame) into sal.
 * clip: n x 3 x 16 x H x W floats in the model's range [-1, 1];
 * logmel: n x 96 x 64 floats (required for variant av, ignored for v).
 * Blocks until the maps are on the host. */
int cn_engine_run(cn_engine *e, int n, int H, int W, const float *clip, const float *logmel,
                  float *sal);
/* Same from 8-bit RGB frames, n x 16 x H x W x 3 interleaved, mapped to v*2/255 - 1. */
int cn_engine_run_rgb8(cn_engine *e, int n, int H, int W, const uint8_t *frames,
                       const float *logmel, float *sal);
/* Same as cn_engine_run with per-call forward options (attention mode, taps). */
int cn_engine_run_opts(cn_engine *e, int n, int H, int W, const float *clip, const float *logmel,
                       const cn_forward_opts *o, float *sal);

/* Highest device memory held since the engine was made (or since the last
 * reset): weights plus activations. */
uint64_t cn_engine_peak_bytes(const cn_engine *e);
void cn_engine_reset_peak(cn_engine *e);

/* The underlying context and model, for tools that go below this API
 * (benchmarks, calibration). Owned by the engine. */
cn_ctx *cn_engine_ctx(cn_engine *e);
cn_model *cn_engine_model(cn_engine *e);

#ifdef __cplusplus
}
#endif
#endif
