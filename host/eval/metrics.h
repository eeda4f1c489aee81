/* Saliency metrics (MIT saliency benchmark definitions), the training loss with its gradient, and the evaluation resize, on the host in double. */
#ifndef CASPNET_METRICS_H
#define CASPNET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Conventions shared by every function here:
 * - One frame of n = h*w pixels, row-major. P is the prediction, Q the dense
 *   ground-truth map, F the fixation map (float, non-zero = fixated).
 * - All arithmetic is in double; the result goes to *out.
 * - Bad arguments (NULL, n == 0, a NaN or infinite value, a negative value
 *   where a distribution is needed) fail with CN_ERR_ARG. A metric that is
 *   undefined for valid input (MIT's code yields NaN there) returns CN_OK
 *   with *out = NaN; each function says when.
 * - The MIT code first resizes P to the fixation map's size; here P, Q and F
 *   already share one size (see cn_eval_prepare). */

/* MATLAB's eps, as the MIT KLdiv.m uses it. */
#define CN_METRIC_EPS 2.2204e-16
/* AUC-Borji and shuffled AUC: random splits and threshold step of the MIT code. */
#define CN_AUC_NSPLITS 100
#define CN_AUC_STEP 0.1

/* Pearson correlation of P and Q. NaN when either map is constant. */
int cn_metric_cc(const float *P, const float *Q, size_t n, double *out);

/* Histogram intersection sum min(P', Q') where each map is first min-max
 * normalised to [0, 1] and then divided by its sum (MIT similarity.m; the
 * min-max step is what the MIT code does beyond MODEL.md's formula, and it
 * changes the value whenever min P > 0). An all-zero map stays all zero;
 * NaN when a map is constant and non-zero (MIT divides by a zero range). */
int cn_metric_sim(const float *P, const float *Q, size_t n, double *out);

/* sum Qn * ln(eps + Qn / (Pn + eps)) with Pn = P / sum P, Qn = Q / sum Q
 * (an all-zero map is left unnormalised, as MIT KLdiv.m). P, Q >= 0. */
int cn_metric_kl(const float *P, const float *Q, size_t n, double *out);

/* Mean over fixated pixels of (P - mean P) / std P, std with N - 1.
 * NaN when P is constant or there is no fixation (or n == 1). */
int cn_metric_nss(const float *P, const float *F, size_t n, double *out);

/* AUC-Judd (MIT AUC_Judd.m, jitter off). With the fixated values sorted
 * descending, v_1 >= ... >= v_Nf, the ROC has a point at each v_i:
 *   tp = i / Nf,  fp = (#{pixels with P >= v_i} - i) / (Npixels - Nf),
 * plus (0,0) and (1,1), and the score is the trapezoid area.
 * Ties: MIT breaks them with random jitter (1e-7 * U(0,1)) because the loop
 * above is wrong when fixated values are equal (the count includes all tied
 * pixels but i only some of them: a constant map scores
 * (Np - Nf^2) / (2 Nf (Np - Nf)), not 0.5). Jitter is non-deterministic and
 * reorders genuinely distinct small values, so instead a run of equal fixated
 * values contributes only its last point (i at the end of the run): the curve
 * crosses a tie on a straight line, chance level within the tie as a random
 * tie-break is on average, and is MIT's exactly whenever the fixated values
 * are distinct. Hence a constant map gives 0.5 and P == F gives 1. MIT's min-max normalisation is skipped: the score depends
 * only on the order of values. NaN when F has no fixation or every pixel is
 * fixated. */
int cn_metric_auc_judd(const float *P, const float *F, size_t n, double *out);

/* AUC-Borji (MIT AUC_Borji.m): P min-max normalised to [0, 1]; for each of
 * CN_AUC_NSPLITS splits, Nf negatives are drawn uniformly with replacement
 * from all n pixels; thresholds k * CN_AUC_STEP for k = K..0, K =
 * floor(max(fixated and drawn values) / step + 1e-9); tp = #(fixated >= t) / Nf,
 * fp = #(drawn >= t) / Nf; trapezoid with (0,0) and (1,1); mean over splits.
 * Random source (so any implementation can reproduce the draws): splitmix64,
 *   state += 0x9E3779B97F4A7C15; z = state;
 *   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
 *   return z ^ (z >> 31);
 * with state = seed at the start; an index in [0, m) is z % m for the first z
 * below 2^64 - (2^64 % m) (rejection, so unbiased). Draws go split by split,
 * fixation by fixation. A constant P gives 0.5 (MIT: NaN). NaN when F has
 * fewer than two fixations (MIT's own guard). */
int cn_metric_auc_borji(const float *P, const float *F, size_t n, uint64_t seed, double *out);

/* Shuffled AUC (MIT AUC_shuffled.m): as AUC-Borji, but the negatives of each
 * split are k = min(Nf, m) distinct pixels taken from the fixations of other
 * frames: `other` holds n_other pixel indices (< n); duplicates are merged and
 * the set sorted ascending (MIT's find() over the union map), then each split
 * takes a fresh partial Fisher-Yates shuffle of that sorted set: for j = 0..k-1,
 * swap element j with element j + index(m - j), drawn with the generator
 * above; fp = #(negatives >= t) / k. A constant P gives 0.5. NaN when F has no
 * fixation or `other` is empty. */
int cn_metric_sauc(const float *P, const float *F, size_t n, const size_t *other, size_t n_other,
                   uint64_t seed, double *out);

/* Training loss KL(P, Q) - 0.1 * CC(P, Q) - 0.1 * SIM(P, Q) (MODEL.md section 7)
 * into *loss and, if grad is not NULL, its gradient with respect to P (n
 * floats). KL and CC are the metrics above; SIM is MODEL.md's
 * sum min(P/sum P, Q/sum Q) without the MIT min-max step, which would make the
 * loss depend on the argmin/argmax pixels only through a kink.
 * Subgradient of min(a, b) with respect to a: 1 where a < b, 0 where a > b and
 * 1/2 at a tie (PyTorch's torch.minimum convention); where P == Q everywhere
 * any choice gives the same gradient, 0. Needs P, Q >= 0, both sums > 0 and
 * neither map constant (CN_ERR_ARG otherwise). */
int cn_saliency_loss(const float *P, const float *Q, size_t n, double *loss, float *grad);

/* Evaluation protocol: a ph x pw prediction to the ground truth's gh x gw, in
 * this order: min-max normalise to [0, 1] (a constant map becomes zeros);
 * Gaussian blur, sigma 2 px of the prediction's grid, 9 taps (radius
 * ceil(2 sigma), MATLAB imgaussfilt's default size), separable, with symmetric
 * padding (edge pixel repeated: ... b a | a b ...); bilinear resize with
 * align_corners = false semantics (source = (dst + 0.5) * in / out - 0.5,
 * clamped at 0, as PyTorch). Blurring before resizing keeps the cost at the
 * prediction's size, and since both steps average with weights summing to 1
 * the result stays within [0, 1]; it is not normalised again. `out` holds gh*gw
 * floats and must not overlap `pred`. */
int cn_eval_prepare(const float *pred, int ph, int pw, int gh, int gw, float *out);

/* cn_eval_prepare with the blur optional: blur == 0 only min-max normalises
 * and resizes (a same-size map is then P / max P when min P = 0), for
 * predictions that are already smoothed and for checks that compare the
 * ground truth with itself. */
int cn_eval_prepare_ex(const float *pred, int ph, int pw, int gh, int gw, int blur, float *out);

#ifdef __cplusplus
}
#endif
#endif
