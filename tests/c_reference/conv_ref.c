/* Plain-C double-precision references for conv3d, conv2d and transposed conv3d with every fused feature. */
#include "conv_ref.h"

#include <stdlib.h>
#include <string.h>

void ref_conv_out(const ref_conv_desc *c, int64_t out[3])
{
    for (int i = 0; i < 3; i++) {
        int64_t span = (int64_t)c->d[i] * (c->k[i] - 1);
        if (c->transposed)
            out[i] = (c->in[i] - 1) * c->s[i] - 2 * (int64_t)c->p[i] + span + c->op[i] + 1;
        else {
            int64_t num = c->in[i] + 2 * (int64_t)c->p[i] - span - 1;
            out[i] = num < 0 ? 0 : num / c->s[i] + 1;
        }
    }
}

/* The conv's input: the channel window of x, pre-activated. Zero padding is
 * not part of it (the loops below skip taps outside the input). */
static double xin(const ref_conv_desc *c, int64_t n, int64_t ci, int64_t idx)
{
    const int64_t sp = c->in[0] * c->in[1] * c->in[2];
    double v = c->x[(n * c->Cx + c->x_c_off + ci) * sp + idx];
    if (c->pre_scale)
        v *= c->pre_scale[ci];
    if (c->pre_shift)
        v += c->pre_shift[ci];
    if (c->pre_relu && v < 0)
        v = 0;
    return v;
}

void ref_conv(const ref_conv_desc *c, double *y, double *absy)
{
    int64_t out[3];
    ref_conv_out(c, out);
    const int64_t osp = out[0] * out[1] * out[2], isp = c->in[0] * c->in[1] * c->in[2];
    const int64_t ks = c->k[0] * c->k[1] * c->k[2];
    double *acc = calloc((size_t)(c->Co * osp), sizeof *acc);
    double *mag = calloc((size_t)(c->Co * osp), sizeof *mag);
    if (!acc || !mag)
        abort();
    for (int64_t n = 0; n < c->N; n++) {
        memset(acc, 0, (size_t)(c->Co * osp) * sizeof *acc);
        memset(mag, 0, (size_t)(c->Co * osp) * sizeof *mag);
        /* Walk (input position, tap) pairs; the output they meet is
         * o = i*s - p + k*d (transposed) or solves i = o*s - p + k*d (direct). */
        for (int64_t ci = 0; ci < c->Ci; ci++)
            for (int64_t kt = 0; kt < c->k[0]; kt++)
                for (int64_t kh = 0; kh < c->k[1]; kh++)
                    for (int64_t kw = 0; kw < c->k[2]; kw++) {
                        const int64_t kk[3] = {kt, kh, kw};
                        const int64_t tap = (kt * c->k[1] + kh) * c->k[2] + kw;
                        for (int64_t co = 0; co < c->Co; co++) {
                            double wv = c->transposed ? c->w[(ci * c->Co + co) * ks + tap]
                                                      : c->w[(co * c->Ci + ci) * ks + tap];
                            if (c->transposed) {
                                for (int64_t i = 0; i < isp; i++) {
                                    int64_t ii[3] = {i / (c->in[1] * c->in[2]),
                                                     i / c->in[2] % c->in[1], i % c->in[2]};
                                    int64_t o[3], inside = 1;
                                    for (int a = 0; a < 3; a++) {
                                        o[a] = ii[a] * c->s[a] - c->p[a] + kk[a] * c->d[a];
                                        inside &= o[a] >= 0 && o[a] < out[a];
                                    }
                                    if (!inside)
                                        continue;
                                    int64_t oi = (o[0] * out[1] + o[1]) * out[2] + o[2];
                                    double pr = wv * xin(c, n, ci, i);
                                    acc[co * osp + oi] += pr;
                                    mag[co * osp + oi] += pr < 0 ? -pr : pr;
                                }
                            } else {
                                for (int64_t oi = 0; oi < osp; oi++) {
                                    int64_t o[3] = {oi / (out[1] * out[2]), oi / out[2] % out[1],
                                                    oi % out[2]};
                                    int64_t ii[3], inside = 1;
                                    for (int a = 0; a < 3; a++) {
                                        ii[a] = o[a] * c->s[a] - c->p[a] + kk[a] * c->d[a];
                                        inside &= ii[a] >= 0 && ii[a] < c->in[a];
                                    }
                                    if (!inside)
                                        continue; /* zero padding of the activated input */
                                    int64_t i = (ii[0] * c->in[1] + ii[1]) * c->in[2] + ii[2];
                                    double pr = wv * xin(c, n, ci, i);
                                    acc[co * osp + oi] += pr;
                                    mag[co * osp + oi] += pr < 0 ? -pr : pr;
                                }
                            }
                        }
                    }
        const double alpha = c->alpha != 0 ? c->alpha : 1.0;
        for (int64_t co = 0; co < c->Co; co++)
            for (int64_t oi = 0; oi < osp; oi++) {
                double v = acc[co * osp + oi] + (c->bias ? c->bias[co] : 0.0);
                v *= alpha;
                if (c->residual)
                    v += c->residual[(n * c->res_C + c->res_off + co) * osp + oi];
                if (c->relu && v < 0)
                    v = 0;
                int64_t yi = (n * c->Cy + c->y_c_off + co) * osp + oi;
                y[yi] = v;
                if (absy)
                    absy[yi] = mag[co * osp + oi];
            }
    }
    free(acc);
    free(mag);
}
