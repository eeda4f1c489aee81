/* Host-side model weights: spec-validated loading from safetensors, saving, lookup by key. */
#ifndef CASPNET_WEIGHTS_H
#define CASPNET_WEIGHTS_H

#include <stdint.h>

#include "io/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cn_weight {
    char name[64];
    int ndim;
    int64_t shape[5];
    int64_t numel;
    float *data; /* points into cn_weights.block */
} cn_weight;

/* Every tensor of one model, in the spec's key order, in one float32 block. */
typedef struct cn_weights {
    char variant[4];  /* "av" or "v" */
    int count;
    cn_weight *w;
    float *block;
    int64_t total;    /* values in block */
    int nonfinite;    /* tensors holding NaN or Inf (a warning, not an error) */
    char nonfinite_first[64];
} cn_weights;

/* All tensors of `variant` with spec shapes, zero-filled. Caller frees. */
int cn_weights_new(const char *variant, cn_weights **out);

/* Reads and validates a weights file: metadata format/version/variant, then
 * every key of the spec present with its exact shape and no other key
 * (CN_ERR_MISMATCH naming the first offending key). Caller frees. */
int cn_weights_load(const char *path, cn_weights **out);

/* Writes the weights (metadata format=caspnet, version=1, variant) in `dtype`;
 * the file appears complete or not at all. */
int cn_weights_save(const cn_weights *w, const char *path, cn_st_dtype dtype);

/* Lookup by full key; NULL when absent. */
cn_weight *cn_weights_get(const cn_weights *w, const char *name);
/* printf-style lookup that fails (CN_ERR_MISMATCH) when absent. */
int cn_weights_find(const cn_weights *w, cn_weight **out, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

void cn_weights_free(cn_weights *w);

#ifdef __cplusplus
}
#endif
#endif
