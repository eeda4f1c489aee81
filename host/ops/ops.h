/* Every device op the model uses: one launcher per op (cl/<op>.cl, host/ops/<op>.c), each validating shapes first. */
#ifndef CASPNET_OPS_H
#define CASPNET_OPS_H

#include "runtime/tensor.h"

/* Conventions for every launcher here:
 * - Inputs are const; outputs are allocated by the caller with the exact shape
 *   the op produces (the *_out_shape helpers compute it). A launcher first
 *   validates every shape and parameter and returns CN_ERR_SHAPE / CN_ERR_ARG
 *   with a message before anything is enqueued.
 * - Launchers only enqueue; they never wait for the device.
 * - `tag` arguments name launches in profiles; NULL uses the op's name. */

#include "ops/attention.h"
#include "ops/conv3d.h"
#include "ops/eltwise.h"
#include "ops/gemm.h"
#include "ops/linear.h"
#include "ops/mean.h"
#include "ops/pool.h"
#include "ops/resize.h"
#include "ops/tuning.h"

#endif
