/* Host binary16 conversions: the upload and download of half tensors, the F16 safetensors and .npy readers and writers. */
#include "runtime/half.h"

#include <string.h>

float cn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* Inf, or NaN keeping its payload */
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            /* Subnormal man * 2^-24: renormalise so the leading 1 becomes implicit. */
            int p = 9;
            while (!(man & (1u << p)))
                p--;
            uint32_t frac = (man << (10 - p)) & 0x3ffu;
            bits = sign | ((uint32_t)(p - 24 + 127) << 23) | (frac << 13);
        }
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t cn_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: force the quiet bit so a payload of zero bits cannot become Inf */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x47800000u) /* >= 65536 (or Inf) is beyond even the rounding range */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* normal half; a carry may roll over into Inf, which is correct */
        uint32_t h = ((((ax >> 23) - 127 + 15) << 10) | ((ax & 0x7fffffu) >> 13));
        uint32_t rem = ax & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    if (ax <= 0x33000000u) /* <= 2^-25: at most half the smallest subnormal, ties go to even zero */
        return sign;
    /* Subnormal half: count units of 2^-24 in the full 24-bit significand. */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    int shift = -((int)(ax >> 23) - 127 + 1); /* 14..24 */
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

/* The array forms give the same bits as the single-value ones above, without
 * branches, so that the compiler vectorizes them: the single-value forms take
 * about 18 ns per value here (94.6 M weights: 1.7 s at every load), these a
 * few. Each case is computed and the right one selected. */

/* Half subnormals and zero: m * 2^-24, computed exactly as the float
 * 2^-14 * (1 + m/1024) less 2^-14. Normal halves and Inf/NaN: the bits moved
 * into place and the exponent rebiased (by 112, or by 224 to reach 255). */
static inline float f16_to_f32_sel(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = h & 0x7c00u, m = h & 0x03ffu;
    uint32_t bits = ((uint32_t)(h & 0x7fffu) << 13) + (112u << 23);
    bits = e == 0x7c00u ? bits + (112u << 23) : bits;
    const uint32_t sb = (113u << 23) | (m << 13);
    float sub;
    memcpy(&sub, &sb, sizeof sub);
    sub -= 0x1p-14f;
    uint32_t subb;
    memcpy(&subb, &sub, sizeof subb);
    bits = (e == 0 ? subb : bits) | sign;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Normal range: round the float's 23-bit mantissa to 10 bits (to nearest,
 * ties to even) in the integer, then rebias; a carry into exponent 31 is the
 * correct Inf. Below 2^-14: adding 0.5 makes the float unit 2^-24, the half
 * subnormal's, so the FPU's own round-to-nearest-even does the rounding and
 * the difference of the bit patterns counts the units. */
static inline uint16_t f32_to_f16_sel(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    const uint32_t nrm = ((ax + 0x0fffu + ((ax >> 13) & 1u)) >> 13) - (112u << 10);
    float a;
    memcpy(&a, &ax, sizeof a);
    const float s = a + 0.5f;
    uint32_t sb;
    memcpy(&sb, &s, sizeof sb);
    uint32_t h = ax < 0x38800000u ? sb - 0x3f000000u : nrm;
    h = ax >= 0x47800000u ? 0x7c00u : h;
    h = ax > 0x7f800000u ? 0x7e00u | ((ax >> 13) & 0x3ffu) : h;
    return (uint16_t)(sign | h);
}

void cn_f16_to_f32_n(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f16_to_f32_sel(src[i]);
}

void cn_f32_to_f16_n(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f32_to_f16_sel(src[i]);
}

void cn_f16_round_n(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = f16_to_f32_sel(f32_to_f16_sel(v[i]));
}
