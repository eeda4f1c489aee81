/* The bits of the convolution kernels' `flags` argument: one definition for cl/conv*.cl (this file is part of the prelude every program starts with) and host/ops/conv*.c (which include it). */
#ifndef CN_CONV_FLAGS_H
#define CN_CONV_FLAGS_H

/* Epilogue, y = relu?(alpha*(acc + bias) + res): */
#define F_BIAS 1 /* add bias[co] */
#define F_RES 2  /* add the residual after alpha */
#define F_RELU 4
/* Prologue, the pre-activation of every input value read,
 * relu?(x*pscale[ci] + pshift[ci]) (padding stays 0): */
#define F_PSCALE 8
#define F_PSHIFT 16
#define F_PRELU 32
#define F_TFAST 64  /* cl/conv3d.cl's conv_row: output planes vary fastest across work-items */
#define F_TRANS 128 /* cl/conv_tiled.cl: the transposed gather, i = (o + p - k*d) / s */

#endif
