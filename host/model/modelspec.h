/* The architecture in one place (spec sections 2-6): widths, module names and the S3D and VGGish layer tables that drive both the weight keys and the forward pass. */
#ifndef CASPNET_MODELSPEC_H
#define CASPNET_MODELSPEC_H

#include <stdint.h>

/* ---- widths ----------------------------------------------------------------- */

#define CN_SPEC_C 256            /* AVIM feature width: V_i, F_i, the CPC state */
#define CN_SPEC_STAGES 4         /* encoder stages, taps X1..X4, AVIMs, decoder blocks */
#define CN_SPEC_CLIP_T 16        /* frames per clip */
#define CN_SPEC_MEL_T 96         /* log-mel frames per clip */
#define CN_SPEC_MEL_F 64         /* log-mel bands */
#define CN_SPEC_AUDIO_EMB 128    /* VGGish embedding f_A */
#define CN_SPEC_ASPP_W 64        /* each ASPP branch: b0 (1x1x1), b1..b3 (1x3x3), image pool */
#define CN_SPEC_ASPP_RATES 4     /* b0..b3; b_r has dilation and padding 2r (b0 is 1x1x1) */
#define CN_SPEC_ASPP_CAT (CN_SPEC_ASPP_W * (CN_SPEC_ASPP_RATES + 1)) /* 320 into the projection */
#define CN_SPEC_DEC_LAYERS 3     /* dense layers per decoder block */
#define CN_SPEC_DEC_GROWTH 32    /* channels each dense layer appends */
#define CN_SPEC_DEC_CAT (CN_SPEC_C + CN_SPEC_DEC_LAYERS * CN_SPEC_DEC_GROWTH) /* 352 */
#define CN_SPEC_DEC_W 64         /* decoder transition and feature-generation width */
#define CN_SPEC_MIXED_K 3        /* the separable kernel and max pool inside a Mixed block */

/* Channels of X_stage (stage 1..4): 192, 480, 832, 1024, from the S3D table. */
int cn_spec_stage_channels(int stage);

/* ---- modules ---------------------------------------------------------------- */

/* Modules as FLOPs are counted (cn_model_flops's per_module order). */
typedef enum cn_spec_mod {
    CN_MOD_VIDEO = 0, CN_MOD_AUDIO, CN_MOD_ASPP, CN_MOD_ATT, CN_MOD_CPC, CN_MOD_DEC, CN_MOD_COUNT
} cn_spec_mod;
/* "S3D", "VGGish", "ASPP", "attention", "CPC", "decoder" */
extern const char *const cn_spec_mod_names[CN_MOD_COUNT];
/* Layer group name of a module ("S3D.2", "VGGish", "attention.3", "decoder.1"):
 * stage 1..4 for the staged modules, ignored for VGGish and CPC. A static string. */
const char *cn_spec_group(int mod, int stage);

/* Modules the weight keys belong to, for per-module parameter counts:
 * "video", "audio", "avim.1".."avim.4", "cpc", "dec". */
#define CN_SPEC_KEY_MODULES 8
extern const char *const cn_spec_key_modules[CN_SPEC_KEY_MODULES];
/* Index of a key's module in cn_spec_key_modules, or -1. */
int cn_spec_key_module(const char *key);

/* ---- S3D (video.base.<i>) ---------------------------------------------------- */

/* Mixed block "a / b->c / d->e / pool->f" at base index `index`: branch 0 a 1x1x1
 * conv to a, branches 1 and 2 a 1x1x1 reduction to b (d) then a separable
 * CN_SPEC_MIXED_K conv to c (e), branch 3 a max pool then a 1x1x1 conv to f. */
typedef struct cn_mixed_spec {
    int index, cin, a, b, c, d, e, f;
} cn_mixed_spec;
extern const cn_mixed_spec cn_spec_mixed[9];

typedef enum cn_s3d_op {
    CN_S3D_SEP,   /* SepConv3d: conv_s (1, kH, kW) then conv_t (kT, 1, 1), each BN + ReLU */
    CN_S3D_CONV,  /* BasicConv3d 1x1x1: conv, BN, ReLU */
    CN_S3D_POOL,  /* MaxPool3d, floor mode */
    CN_S3D_MIXED
} cn_s3d_op;

/* Row i is video.base.<i>. */
typedef struct cn_s3d_layer {
    cn_s3d_op op;
    int cout;                   /* SEP and CONV output channels */
    int k[3], s[3], p[3];       /* SEP and POOL: kernel, stride, pad over T, H, W */
    const cn_mixed_spec *mixed; /* MIXED */
    int tap;                    /* 1..4: the output is X_tap, the end of stage tap */
} cn_s3d_layer;
#define CN_SPEC_S3D_LAYERS 16
extern const cn_s3d_layer cn_spec_s3d[CN_SPEC_S3D_LAYERS];
/* Output channels of row i given its input channels. */
int cn_spec_s3d_cout(int i, int cin);

/* ---- VGGish (audio.features.<index>, audio.embeddings.<index>) ---------------- */

/* 3x3 conv, pad 1, ReLU; then a 2x2 stride-2 max pool where pool_after. */
typedef struct cn_vggish_conv {
    int index, cout, pool_after;
} cn_vggish_conv;
#define CN_SPEC_VGGISH_CONVS 6
extern const cn_vggish_conv cn_spec_vggish_conv[CN_SPEC_VGGISH_CONVS];
/* Linear + ReLU; the first reads the flattened features (cn_spec_vggish_flat). */
typedef struct cn_vggish_fc {
    int index, cout;
} cn_vggish_fc;
#define CN_SPEC_VGGISH_FCS 3
extern const cn_vggish_fc cn_spec_vggish_fc[CN_SPEC_VGGISH_FCS];
/* Width of the flattened last feature map: 512 x 6 x 4 = 12288. */
int cn_spec_vggish_flat(void);

/* ---- weight keys ------------------------------------------------------------- */

typedef struct cn_spec_key {
    char name[64];
    int ndim;
    int64_t shape[5];
} cn_spec_key;

/* The ordered key list of a weights file of variant "av" or "v" (the order of
 * tests/torch_reference/caspnet_ref.py's spec_keys). *keys is malloc'd; caller frees.
 * Returns CN_ERR_ARG for an unknown variant. */
int cn_spec_keys(const char *variant, cn_spec_key **keys, int *count);

#endif
