/* Internals shared by host/model*.c: weight units, the model struct, and the launch helpers every stage uses. */
#ifndef CASPNET_MODEL_INTERNAL_H
#define CASPNET_MODEL_INTERNAL_H

#include "model/model.h"
#include "ops/ops.h"

/* How a weight tensor's BatchNorm (if any) is applied. */
typedef enum unit_kind {
    UNIT_PLAIN = 0, /* conv / linear, optional bias */
    UNIT_POST_BN,   /* conv (no bias) -> BN: folded into weight and bias */
    UNIT_PRE_BN     /* BN -> ReLU -> conv: BN kept as the conv's input affine */
} unit_kind;

/* One convolution or linear layer: its folded device parameters. The key is
 * the weight's name without ".weight" (e.g. "video.base.0.conv_s", "avim.1.q",
 * "dec.2.dense.0.conv"). */
typedef struct cn_unit {
    char key[64];
    char bn[64]; /* BatchNorm prefix ("" for UNIT_PLAIN) */
    unit_kind kind;
    float eps;
    int has_bias;      /* device bias exists (conv bias, or folded BN shift) */
    int transposed;    /* ConvTranspose3d weight layout (C_in x C_out x k) */
    int permute_vggish;/* columns reordered from (h, w, c) to (c, h, w) */
    int64_t co, ci;    /* output / input channels */
    cn_tensor w, b, ps, pt; /* device views into the weight allocation */
    /* Convolutions with more than one tap hold their weight only in
     * cn_conv_pack's layout (wp), which the general conv kernel reads a block
     * at a time; w is then a borrowed view of wp's buffer with the plain shape,
     * for validation (cn_conv3d refuses it if the tuning changed since). */
    int packed;
    cn_tensor wp;
    int calibrated;
} cn_unit;

struct cn_model {
    cn_ctx *ctx;
    char variant[4];
    int av;
    cn_unit *u;
    int nu;
    cl_mem block;
    uint64_t block_bytes;
    cl_mem *subs;
    int nsubs;
    /* per forward */
    const cn_forward_opts *opts;
    int dry;                  /* shapes and counts only, nothing enqueued */
    double flops[6];          /* per module during the current pass */
    int module;               /* index into flops */
    const char *gname[32];    /* layer groups of the current pass, in order */
    double gflops[32];
    int ngroup, group;
    /* calibration */
    cn_weights *cal;          /* non-NULL during cn_model_calibrate */
    double res_scale, head_std;
};

enum { MOD_VIDEO = 0, MOD_AUDIO, MOD_ASPP, MOD_ATT, MOD_CPC, MOD_DEC };

/* Starts a layer group: FLOPs go to module `mod`, profiled launches to `name`
 * (a static string: "S3D.1", "ASPP.2", "decoder.4", ...). */
void model_group(cn_model *m, int mod, const char *name);

/* Adds FLOPs to the current module and layer group. */
void model_count(cn_model *m, double flops);

/* Finds a unit by key (printf-style); fails naming it when absent. */
int unit_find(cn_model *m, cn_unit **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Runs the unit as a convolution: fills a->w, bias, pre_scale/shift from the
 * unit (pre_relu for UNIT_PRE_BN, relu for UNIT_POST_BN unless `no_relu`), counts
 * its FLOPs, and in calibration mode first sets the unit's BatchNorm from the
 * actual statistics. dims 2 runs cn_conv2d, transposed units cn_conv_transpose3d. */
int unit_conv(cn_model *m, cn_unit *u, cn_conv_args *a, int dims);
/* Calibration: uploads the unit's unfolded host weight and runs a->x through
 * it with no bias, pre-activation or ReLU into a->y (what its BatchNorm, or
 * the head's scaling, sees). The unit is left marked as not yet calibrated. */
int unit_conv_raw(cn_model *m, cn_unit *u, const cn_conv_args *a, int dims);
/* The unit's weight used as a plain conv3d (the CPC adjoint thetaT), no bias. */
int unit_conv_weight_only(cn_model *m, cn_unit *u, cn_conv_args *a);
/* y = x W^T + b (relu optional); a 1x1x1 conv unit is taken as a 256x256 matrix. */
int unit_linear(cn_model *m, cn_unit *u, const cn_tensor *x, int relu, cn_tensor *y);

/* Allocates an arena tensor; in dry mode as well (shapes drive the counts). */
int model_alloc(cn_model *m, cn_tensor *t, int ndim, const int64_t *shape);
int model_alloc5(cn_model *m, cn_tensor *t, int64_t n, int64_t c, int64_t d, int64_t h, int64_t w);
/* Emits a tap to the caller's callback (not in dry mode). */
int model_tap(cn_model *m, const char *name, const cn_tensor *t);

/* Skips the enqueue in dry mode. */
#define ENQ(m, call) ((m)->dry ? CN_OK : (call))

/* Stages (model_s3d.c, model_av.c, model_dec.c). Outputs are arena tensors
 * the caller releases. */
int model_s3d(cn_model *m, const cn_tensor *clip, cn_tensor X[4]);
int model_vggish(cn_model *m, const cn_tensor *logmel, cn_tensor *fa);
int model_avim(cn_model *m, int stage, const cn_tensor *x, const cn_tensor *fa, cn_tensor *v,
               cn_tensor *f);
int model_cpc(cn_model *m, const cn_tensor *v, const cn_tensor *fa, cn_tensor *out);
int model_decoder(cn_model *m, cn_tensor F[4], int H, int W, cn_tensor *sal);

/* Calibration helpers (model_calib.c). */
/* Sets the unit's BN running statistics from per-channel statistics of
 * channels [c_off, c_off + C) of t (downloaded), folds and uploads. */
int calib_bn_from(cn_model *m, cn_unit *u, const cn_tensor *t, int64_t c_off);
/* Folds the unit's host weights (BN, permutation) into device form and
 * uploads them. w are the host weights. */
int unit_upload(cn_model *m, cn_unit *u, const cn_weights *w);
/* Per-tensor mean and variance (double) of a device tensor. */
int calib_moments(cn_model *m, const cn_tensor *t, double *mean, double *var);

#endif
