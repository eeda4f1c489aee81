/* The CASP-Net network on the device: weights folded and uploaded once, forward pass, calibration of random weights. */
#ifndef CASPNET_MODEL_H
#define CASPNET_MODEL_H

#include "runtime/tensor.h"
#include "model/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cn_model cn_model;

typedef enum cn_attention_mode { CN_ATTENTION_LINEAR = 0, CN_ATTENTION_QUADRATIC = 1 } cn_attention_mode;

/* Called for every tap (X1..X4, fA, V1..V4, F1..F4, F4p, sal) while it is
 * alive on the device; a non-zero return aborts the forward pass with it. */
typedef int (*cn_tap_fn)(void *user, const char *name, const cn_tensor *t);

typedef struct cn_forward_opts {
    cn_attention_mode attention;
    int general_attention; /* 1: run the literal L x 256 formulas instead of the
                              closed form for the broadcast audio key (tests) */
    cn_tap_fn tap;
    void *tap_user;
} cn_forward_opts;

/* Folds BatchNorm and uploads every weight of `w` into one device allocation.
 * `w` is only read during the call (the model keeps no pointer to it). */
int cn_model_create(cn_ctx *ctx, const cn_weights *w, cn_model **out);
/* The same with the weights stored as `dtype` on the device: CN_F16 halves
 * them (biases and BatchNorm's pre-activation scale and shift stay float).
 * BatchNorm is folded on the host in double and rounded to float, then to
 * the storage on upload; an F16 weights file's values pass through float
 * exactly, so a layer without folding gets its file values bit for bit, and
 * device memory never holds a float copy of a half weight. */
int cn_model_create_as(cn_ctx *ctx, const cn_weights *w, cn_dtype dtype, cn_model **out);
void cn_model_destroy(cn_model *m);

const char *cn_model_variant(const cn_model *m);
/* Storage of the model's weights (cn_model_create_as). */
cn_dtype cn_model_dtype(const cn_model *m);
/* Bytes of the device weight allocation. */
uint64_t cn_model_weight_bytes(const cn_model *m);

/* clip (N, 3, 16, H, W) with H, W positive multiples of 32; logmel (N, 1, 96, 64)
 * for variant av (ignored and may be NULL for v). sal receives a tensor
 * (N, 1, H, W) from the arena: the caller releases it. Enqueues everything and
 * returns without waiting unless a tap reads data. */
int cn_model_forward(cn_model *m, const cn_tensor *clip, const cn_tensor *logmel,
                     const cn_forward_opts *o, cn_tensor *sal);

/* Operation count (GFLOP) of one forward pass at N x 3 x 16 x H x W without
 * running it: multiply-adds of convolutions, linear layers and attention
 * products counted twice. literal = 0 counts what the engine runs (the closed
 * form for the broadcast audio key), 1 the literal formulas of the spec (q, k,
 * v at every position and the L x 256 products). per_module (may be NULL)
 * receives GFLOP for S3D, VGGish, ASPP, attention, CPC, decoder in that order. */
int cn_model_flops(cn_model *m, int N, int H, int W, int literal, double *total,
                   double per_module[6]);

/* Layer groups of the last forward or cn_model_flops pass, in execution order
 * ("S3D.1".."S3D.4", "VGGish", "ASPP.i", "attention.i", "CPC", "decoder.k"),
 * with their FLOPs (not GFLOP). Returns the count; arrays owned by the model.
 * Profiled launches carry the same group names (cn_prof_collect). */
int cn_model_groups(const cn_model *m, const char *const **names, const double **flops);

/* Calibration of random weights (spec section 9): runs one forward pass on
 * clip/logmel in which every BatchNorm takes the per-channel statistics of its
 * actual input as running statistics, each avim.{i}.out weight is scaled so
 * that its residual has res_scale times the standard deviation of V_i, and the
 * head is scaled and shifted so the logits have mean 0 and standard deviation
 * head_std. The results are written into `w` (BatchNorm running statistics,
 * avim.{i}.out.weight, dec.1.head.*) and into the device copy. */
typedef struct cn_calib_opts {
    double res_scale; /* 0: 0.1 */
    double head_std;  /* 0: 0.5 (logits of order one; the map is informative, and float32
                         rounding of the logits stays well inside the 1e-4 parity bound) */
} cn_calib_opts;
int cn_model_calibrate(cn_model *m, cn_weights *w, const cn_tensor *clip, const cn_tensor *logmel,
                       const cn_calib_opts *o);

#ifdef __cplusplus
}
#endif
#endif
