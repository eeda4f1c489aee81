/* The convolutions and products the model runs at a clip size, for the tuner (host/model/model_problems.c). */
#ifndef CASPNET_MODEL_PROBLEMS_H
#define CASPNET_MODEL_PROBLEMS_H

#include "ops/tuning.h"

/* Every convolution and matrix product one forward pass of variant ("av"
 * or "v") runs on N clips of 16 x H x W, with the closed-form attention the
 * engine uses: recorded by a dry run of the forward pass over a model with
 * the spec's shapes and no weights (nothing is enqueued, one 64-byte buffer
 * is made on ctx). Equal shapes are one problem with its count. *out is
 * malloc'd; caller frees. */
int cn_model_problems(cn_ctx *ctx, const char *variant, int N, int H, int W,
                      cn_tune_problem **out, int *count);

#endif
