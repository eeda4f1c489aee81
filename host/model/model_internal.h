/* Internals shared by host/model*.c: weight units, the model struct, and the launch helpers every stage uses. */
#ifndef CASPNET_MODEL_INTERNAL_H
#define CASPNET_MODEL_INTERNAL_H

#include "model/model.h"
#include "model/modelspec.h"
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
    /* A transposed unit (CPC's theta) under the im2col variant keeps w and
     * two packed copies: wp, its adjoint's (w read as a conv3d weight), and
     * wt, the equivalent stride-1 convolution's (flipped, channels swapped). */
    cn_tensor wt;
    int head;       /* dec.1.head: calibrated to logits of mean 0 and std head_std */
    int calibrated; /* during cn_model_calibrate: 0 not yet, 1 done, -1 raw weights uploaded */
} cn_unit;

struct cn_model {
    cn_ctx *ctx;
    cn_dtype dtype; /* storage of the weights (and, in a forward pass, of the activations) */
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
    double flops[CN_MOD_COUNT]; /* per module during the current pass */
    int module;               /* index into flops */
    const char *gname[32];    /* layer groups of the current pass, in order */
    double gflops[32];
    int ngroup, group;
    /* cn_model_problems: what a dry run records (rec_on), deduplicated */
    int rec_on, nrec, caprec;
    cn_tune_problem *rec;
    /* calibration */
    cn_weights *cal;          /* non-NULL during cn_model_calibrate */
    double res_scale, head_std;
};

/* The one error idiom of functions that hold device temporaries: every
 * temporary starts zeroed ({0}), each fallible step is TRY_DONE(call), which
 * stores its status in the function's `st` and jumps to the single `done:`
 * label on failure; `done:` releases every temporary (releasing an empty
 * tensor does nothing) and, when st != CN_OK, the outputs. */
#define TRY_DONE(call)                \
    do {                              \
        if ((st = (call)) != CN_OK)   \
            goto done;                \
    } while (0)

/* Starts a layer group: FLOPs go to module `mod` (CN_MOD_*), profiled launches
 * to cn_spec_group(mod, stage) ("S3D.1", "ASPP.2", "decoder.4", ...). */
void model_group(cn_model *m, int mod, int stage);

/* Adds FLOPs to the current module and layer group. */
void model_count(cn_model *m, double flops);

/* Finds a unit by key (printf-style); fails naming it when absent. */
int unit_find(cn_model *m, cn_unit **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* What a unit's calibration may read besides its own input and output. */
typedef struct calib_src {
    const cn_tensor *unpooled; /* the unit's input is the mean of this (ASPP image pool) */
    const cn_tensor *v, *s;    /* avim.{i}.out in the closed form: V_i and the scores s */
} calib_src;

/* Output shape (N, Co, To, Ho, Wo), or (N, Co, Ho, Wo) for dims 2, of unit u
 * run on a->x with a's stride, pad and dilation (cn_conv3d_out_shape and its
 * 2D and transposed forms); also in dry runs, where x has no buffer. */
int unit_out_shape(const cn_unit *u, const cn_conv_args *a, int dims, int64_t *out);

/* Output shape of a floor-mode max pool (dims 2 or 3) of x, from
 * cn_maxpool3d_out_shape / cn_maxpool2d_out_shape; also in dry runs. */
int model_pool_shape(cn_model *m, const cn_tensor *x, int dims, const int *k, const int *s, const int *p,
                     int64_t *out);

/* Runs the unit as a convolution: fills a->w, bias, pre_scale/shift from the
 * unit (pre_relu for UNIT_PRE_BN, relu for UNIT_POST_BN), counts its FLOPs,
 * and passes it through the calibration hook (calib_unit) first. dims 2 runs
 * cn_conv2d, transposed units cn_conv_transpose3d. src may be NULL. */
int unit_conv(cn_model *m, cn_unit *u, cn_conv_args *a, int dims);
int unit_conv_src(cn_model *m, cn_unit *u, cn_conv_args *a, int dims, const calib_src *src);
/* unit_conv into a new arena tensor *y of the unit's output shape (a->y is set
 * to y); *y is left empty on failure. */
int unit_conv_new(cn_model *m, cn_unit *u, cn_conv_args *a, int dims, cn_tensor *y);
/* The unit's weight used as a plain conv3d (the CPC adjoint thetaT), no bias. */
int unit_conv_weight_only(cn_model *m, cn_unit *u, cn_conv_args *a);
/* y = x W^T + b (relu optional); a 1x1x1 conv unit is taken as a C x C matrix. */
int unit_linear(cn_model *m, cn_unit *u, const cn_tensor *x, int relu, cn_tensor *y);
/* y = x W^T, plus b only when `bias`, for a 1x1x1 conv unit taken as a C x C
 * matrix (the AVIM output projection of the closed form; its FLOPs are not
 * counted there), through the calibration hook with src. */
int unit_matvec(cn_model *m, cn_unit *u, const cn_tensor *x, int bias, const calib_src *src,
                cn_tensor *y);

/* Allocates an arena tensor; in dry mode as well (shapes drive the counts).
 * model_alloc picks the storage: the model's dtype for feature maps, float
 * for vectors and one-channel maps (see model.c); model_alloc_as is told. */
int model_alloc(cn_model *m, cn_tensor *t, int ndim, const int64_t *shape);
int model_alloc_as(cn_model *m, cn_tensor *t, cn_dtype dtype, int ndim, const int64_t *shape);
int model_alloc5(cn_model *m, cn_tensor *t, int64_t n, int64_t c, int64_t d, int64_t h, int64_t w);
/* Emits a tap to the caller's callback (not in dry mode). */
int model_tap(cn_model *m, const char *name, const cn_tensor *t);

/* A dry run's record of the convolution (after unit_conv_src filled a; dims
 * 2 for conv2d; weight_only: the unit's weight as a plain conv3d) or the
 * product about to be enqueued; CN_OK and nothing when not recording
 * (host/model/model_problems.c). */
int model_record_conv(cn_model *m, const cn_unit *u, const cn_conv_args *a, int dims,
                      int weight_only);
int model_record_gemm(cn_model *m, const cn_gemm_desc *d);
/* A model with the spec's shapes for variant and no weights (every tensor a
 * view of one small buffer), for dry runs only (host/model/model.c). */
int model_create_shapes(cn_ctx *ctx, const char *variant, cn_model **out);

/* Skips the enqueue in dry mode. */
#define ENQ(m, call) ((m)->dry ? CN_OK : (call))

/* Stages (model_s3d.c, model_av.c, model_dec.c). Outputs are arena tensors
 * the caller releases; on failure they are left empty and nothing is held. */
int model_s3d(cn_model *m, const cn_tensor *clip, cn_tensor X[4]);
int model_vggish(cn_model *m, const cn_tensor *logmel, cn_tensor *fa);
int model_avim(cn_model *m, int stage, const cn_tensor *x, const cn_tensor *fa, cn_tensor *v,
               cn_tensor *f);
int model_cpc(cn_model *m, const cn_tensor *v, const cn_tensor *fa, cn_tensor *out);
int model_decoder(cn_model *m, cn_tensor F[4], int H, int W, cn_tensor *sal);

/* Calibration and weight folding (model_calib.c). */
/* The calibration hook, called by unit_conv and unit_matvec before the unit
 * runs (a filled in; for unit_matvec a->x and a->y are its input and output):
 * outside cn_model_calibrate, or once the unit is calibrated, it does nothing.
 * Otherwise it sets the unit's BatchNorm from the statistics of its actual
 * input (pre-BN) or raw output (post-BN; from every position of
 * src->unpooled for a pooled input), scales avim.{i}.out (src->v, src->s) so
 * its residual has res_scale x std(V_i), or scales and shifts the head, and
 * uploads the result. */
int calib_unit(cn_model *m, cn_unit *u, const cn_conv_args *a, int dims, const calib_src *src);
/* Folds the unit's host weights (BN, permutation) into device form and
 * uploads them. w are the host weights. */
int unit_upload(cn_model *m, cn_unit *u, const cn_weights *w);

#endif
