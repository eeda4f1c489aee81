/* Plain-C double-precision references for max pooling, axis means and bilinear resizing. */
#ifndef CASPNET_POOL_REF_H
#define CASPNET_POOL_REF_H
#include <stdint.h>

/* Output size of one pooled axis in PyTorch's floor mode. */
int64_t ref_pool_out(int64_t in, int k, int s, int p);
/* x (nc, T, H, W) -> y (nc, To, Ho, Wo) with sizes from ref_pool_out; padded
 * positions count as -inf. */
void ref_maxpool3d(int64_t nc, const int64_t in[3], const int k[3], const int s[3],
                   const int p[3], const float *x, double *y);
/* x (outer, R, inner) -> y (outer, inner) */
void ref_mean(int64_t outer, int64_t R, int64_t inner, const float *x, double *y);
/* x (L, hi, wi) -> y (L, ho, wo); y += resized when accumulate, else y = resized. */
void ref_resize_bilinear(int64_t L, int64_t hi, int64_t wi, int64_t ho, int64_t wo,
                         const float *x, double *y, int accumulate);
#endif
