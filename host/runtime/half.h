/* IEEE 754 binary16 ("half") on the host: exact widening to float32, narrowing with round to nearest even, one value or whole arrays. */
#ifndef CASPNET_HALF_H
#define CASPNET_HALF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exact (subnormals, Inf and NaN with its payload included). */
float cn_f16_to_f32(uint16_t h);
/* Round to nearest, ties to even, as the device's vstore_half does by
 * default; beyond the half range Inf; NaN stays a quiet NaN with its sign. */
uint16_t cn_f32_to_f16(float f);

/* The same over n values; src and dst must not overlap. */
void cn_f16_to_f32_n(float *dst, const uint16_t *src, size_t n);
void cn_f32_to_f16_n(uint16_t *dst, const float *src, size_t n);

/* Rounds each of n floats to the nearest half value, in place (what storing
 * and reloading a half tensor does to them): for references of half tests. */
void cn_f16_round_n(float *v, size_t n);

#ifdef __cplusplus
}
#endif
#endif
