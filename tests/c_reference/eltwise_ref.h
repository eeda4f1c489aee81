/* Plain-C double-precision references for the elementwise ops. */
#ifndef CASPNET_ELTWISE_REF_H
#define CASPNET_ELTWISE_REF_H
#include <stdint.h>

void ref_axpby(int64_t n, double a, const float *x, double b, const float *z, double *y);
/* op: 0 relu, 1 gelu (erf), 2 sigmoid */
void ref_unary(int64_t n, int op, double shift, const float *x, double *y);
void ref_broadcast_nc(int64_t nc, int64_t inner, const float *v, double *y);
void ref_copy_channels(int64_t n, int64_t cx, int64_t inner, int64_t cy, int64_t coff,
                       const float *x, double *y);
#endif
