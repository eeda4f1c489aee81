/* Internals shared by host/ops/tuning*.c: the lookup's bookkeeping in the context's tuning state. */
#ifndef CASPNET_OPS_TUNING_INTERNAL_H
#define CASPNET_OPS_TUNING_INTERNAL_H

#include "ops/tuning.h"

/* Whether cn_tuning_ensure has run on ctx. */
int cn_tuning_loaded_(const cn_ctx *ctx);
/* Marks it run (CN_ERR_OOM when the state cannot be made). */
int cn_tuning_mark_loaded_(cn_ctx *ctx);
/* Sets family f's source description. */
void cn_tuning_set_source_(cn_ctx *ctx, int family, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a line to the context's notes (and prints it under CASPNET_VERBOSE). */
void cn_tuning_note_(cn_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
