/* The model's weight keys and shapes (spec sections 2-6), generated from the architecture tables. */
#ifndef CASPNET_MODELSPEC_H
#define CASPNET_MODELSPEC_H

#include <stdint.h>

#define CN_SPEC_C 256              /* AVIM feature width */
#define CN_SPEC_STAGES 4
extern const int cn_spec_stage_ch[CN_SPEC_STAGES]; /* 192, 480, 832, 1024 */

/* S3D Mixed block "a / b->c / d->e / pool->f" at base index `index`. */
typedef struct cn_mixed_spec {
    int index, cin, a, b, c, d, e, f;
} cn_mixed_spec;
extern const cn_mixed_spec cn_spec_mixed[9];
const cn_mixed_spec *cn_spec_mixed_at(int index); /* NULL if base.index is not Mixed */

typedef struct cn_spec_key {
    char name[64];
    int ndim;
    int64_t shape[5];
} cn_spec_key;

/* The ordered key list of a weights file of variant "av" or "v" (the order of
 * tests/torch_reference/caspnet_ref.py's spec_keys). *keys is malloc'd; caller frees.
 * Returns CN_ERR_ARG for an unknown variant. */
int cn_spec_keys(const char *variant, cn_spec_key **keys, int *count);

/* Module a key belongs to, for per-module parameter counts: "video", "audio",
 * "avim.1".."avim.4", "cpc", "dec". Writes into buf. */
const char *cn_spec_module(const char *key, char *buf, int n);

#endif
