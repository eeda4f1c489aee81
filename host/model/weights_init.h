/* Deterministic random weights that behave like trained ones (spec section 9), and the synthetic clip they are calibrated on. */
#ifndef CASPNET_WEIGHTS_INIT_H
#define CASPNET_WEIGHTS_INIT_H

#include <stdint.h>

#include "runtime/runtime.h"
#include "model/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills w from seed: convolutions and linear layers He-normal (std sqrt(2/fan_in)),
 * their biases N(0, 0.05^2); BatchNorm weights U(0.5, 1.5) and biases N(0, 0.1^2)
 * (away from identity, so folding is exercised), running stats 0 / 1 until
 * calibrated; cpc.theta* weights x0.1 and biases N(0, 0.01^2). */
void cn_weights_randomize(cn_weights *w, uint64_t seed);

/* n synthetic clips (n x 3 x 16 x H x W in [-1, 1]: moving gratings, smooth
 * texture and pixel noise of random strengths) and log-mels (n x 96 x 64).
 * Buffers are malloc'd by the call; caller frees. */
int cn_synth_inputs(int n, int H, int W, uint64_t seed, float **clip, float **logmel);

/* The inputs calibration runs on: given ones, or synthetic at H x W. */
typedef struct cn_calib_input {
    int n, H, W;
    const float *clip;   /* NULL: synthetic n clips of H x W */
    const float *logmel; /* NULL: synthetic (with clip NULL) */
} cn_calib_input;

/* Random weights of `variant` from `seed`, calibrated on the device of ctx
 * with the given inputs (NULL: 8 synthetic clips of 64 x 96). Caller frees *out. */
int cn_weights_init(cn_ctx *ctx, const char *variant, uint64_t seed, const cn_calib_input *in,
                    cn_weights **out);

#ifdef __cplusplus
}
#endif
#endif
