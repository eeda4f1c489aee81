/* Saliency metrics, training loss and evaluation resize in double precision (definitions in metrics.h). */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/status.h"

static int check_map(const float *x, size_t n, const char *what, int nonneg)
{
    if (!x)
        return cn_fail(CN_ERR_ARG, "metrics: %s is NULL", what);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return cn_fail(CN_ERR_ARG, "metrics: %s[%zu] is not finite", what, i);
        if (nonneg && x[i] < 0.0f)
            return cn_fail(CN_ERR_ARG, "metrics: %s[%zu] = %g is negative", what, i, (double)x[i]);
    }
    return CN_OK;
}

static int check_common(size_t n, const double *out_or_null, int need_out)
{
    if (n == 0)
        return cn_fail(CN_ERR_ARG, "metrics: empty map (n == 0)");
    if (need_out && !out_or_null)
        return cn_fail(CN_ERR_ARG, "metrics: output pointer is NULL");
    return CN_OK;
}

static void min_max(const float *x, size_t n, double *lo, double *hi)
{
    double a = x[0], b = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < a)
            a = x[i];
        if (x[i] > b)
            b = x[i];
    }
    *lo = a;
    *hi = b;
}

static double mean_of(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

/* ---- CC, SIM, KL, NSS ---- */

int cn_metric_cc(const float *P, const float *Q, size_t n, double *out)
{
    CN_TRY(check_common(n, out, 1));
    CN_TRY(check_map(P, n, "P", 0));
    CN_TRY(check_map(Q, n, "Q", 0));
    double plo, phi, qlo, qhi;
    min_max(P, n, &plo, &phi);
    min_max(Q, n, &qlo, &qhi);
    /* Tested on the range, not on the variance: the double mean of n equal
     * floats can be off by an ulp and leave a spurious tiny variance. */
    if (plo == phi || qlo == qhi) {
        *out = NAN;
        return CN_OK;
    }
    double mp = mean_of(P, n), mq = mean_of(Q, n), sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        double a = P[i] - mp, b = Q[i] - mq;
        sab += a * b;
        saa += a * a;
        sbb += b * b;
    }
    *out = sab / sqrt(saa * sbb);
    return CN_OK;
}

/* MIT similarity.m's per-map normalisation; returns 0 when the map is
 * constant and non-zero (the caller reports NaN). */
static int sim_normalise(const float *x, size_t n, double *v)
{
    double lo, hi;
    min_max(x, n, &lo, &hi);
    if (lo == 0.0 && hi == 0.0) {
        memset(v, 0, n * sizeof *v);
        return 1;
    }
    if (lo == hi)
        return 0;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        v[i] = (x[i] - lo) / (hi - lo);
        s += v[i];
    }
    for (size_t i = 0; i < n; i++)
        v[i] /= s;
    return 1;
}

int cn_metric_sim(const float *P, const float *Q, size_t n, double *out)
{
    CN_TRY(check_common(n, out, 1));
    CN_TRY(check_map(P, n, "P", 0));
    CN_TRY(check_map(Q, n, "Q", 0));
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    if (!a || !b) {
        free(a), free(b);
        return cn_fail(CN_ERR_OOM, "metrics: SIM of %zu pixels: out of memory", n);
    }
    if (!sim_normalise(P, n, a) || !sim_normalise(Q, n, b)) {
        *out = NAN;
    } else {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += a[i] < b[i] ? a[i] : b[i];
        *out = s;
    }
    free(a), free(b);
    return CN_OK;
}

int cn_metric_kl(const float *P, const float *Q, size_t n, double *out)
{
    CN_TRY(check_common(n, out, 1));
    CN_TRY(check_map(P, n, "P", 1));
    CN_TRY(check_map(Q, n, "Q", 1));
    double sp = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        sp += P[i];
        sq += Q[i];
    }
    /* An all-zero map stays as it is (MIT: `if any(map)`), so dividing by 1. */
    if (sp == 0.0)
        sp = 1.0;
    if (sq == 0.0)
        sq = 1.0;
    double kl = 0.0;
    for (size_t i = 0; i < n; i++) {
        double pn = P[i] / sp, qn = Q[i] / sq;
        kl += qn * log(CN_METRIC_EPS + qn / (pn + CN_METRIC_EPS));
    }
    *out = kl;
    return CN_OK;
}

int cn_metric_nss(const float *P, const float *F, size_t n, double *out)
{
    CN_TRY(check_common(n, out, 1));
    CN_TRY(check_map(P, n, "P", 0));
    CN_TRY(check_map(F, n, "F", 0));
    double lo, hi;
    min_max(P, n, &lo, &hi);
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        nf += F[i] != 0.0f;
    if (n < 2 || lo == hi || nf == 0) {
        *out = NAN;
        return CN_OK;
    }
    double m = mean_of(P, n), ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (P[i] - m) * (P[i] - m);
    double sd = sqrt(ss / (double)(n - 1)), acc = 0.0;
    for (size_t i = 0; i < n; i++)
        if (F[i] != 0.0f)
            acc += (P[i] - m) / sd;
    *out = acc / (double)nf;
    return CN_OK;
}

/* ---- AUC family ---- */

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

int cn_metric_auc_judd(const float *P, const float *F, size_t n, double *out)
{
    CN_TRY(check_common(n, out, 1));
    CN_TRY(check_map(P, n, "P", 0));
    CN_TRY(check_map(F, n, "F", 0));
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        nf += F[i] != 0.0f;
    if (nf == 0 || nf == n) {
        *out = NAN;
        return CN_OK;
    }
    double *all = malloc(n * sizeof *all), *fix = malloc(nf * sizeof *fix);
    if (!all || !fix) {
        free(all), free(fix);
        return cn_fail(CN_ERR_OOM, "metrics: AUC-Judd of %zu pixels: out of memory", n);
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        all[i] = P[i];
        if (F[i] != 0.0f)
            fix[k++] = P[i];
    }
    qsort(all, n, sizeof *all, cmp_desc);
    qsort(fix, nf, sizeof *fix, cmp_desc);

    /* Both lists descend, so the count of pixels >= threshold only grows. */
    double area = 0.0, tp0 = 0.0, fp0 = 0.0;
    size_t above = 0;
    for (size_t i = 0; i < nf; i++) {
        if (i + 1 < nf && fix[i + 1] == fix[i])
            continue; /* inside a run of tied fixated values: see metrics.h */
        while (above < n && all[above] >= fix[i])
            above++;
        double tp = (double)(i + 1) / (double)nf;
        double fp = (double)(above - (i + 1)) / (double)(n - nf);
        area += (fp - fp0) * (tp + tp0) * 0.5;
        tp0 = tp, fp0 = fp;
    }
    area += (1.0 - fp0) * (1.0 + tp0) * 0.5;
    free(all), free(fix);
    *out = area;
    return CN_OK;
}

static uint64_t sm_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, m) by rejection; (0 - m) % m is 2^64 mod m in 64-bit arithmetic. */
static size_t sm_index(uint64_t *state, size_t m)
{
    uint64_t mm = (uint64_t)m, r = (0 - mm) % mm;
    for (;;) {
        uint64_t z = sm_next(state);
        if (r == 0 || z < 0 - r)
            return (size_t)(z % mm);
    }
}

/* Min-max normalised copy for the fixed-step AUCs; a constant map becomes
 * zeros so that every threshold sees all pixels tied (score 0.5). */
static void range_normalise(const float *x, size_t n, double *v)
{
    double lo, hi;
    min_max(x, n, &lo, &hi);
    for (size_t i = 0; i < n; i++)
        v[i] = hi > lo ? (x[i] - lo) / (hi - lo) : 0.0;
}

/* Fixed-step ROC of one split, tp from fixated values `pos`, fp from `neg`. */
static double step_auc(const double *pos, size_t np, const double *neg, size_t nn)
{
    double m = 0.0;
    for (size_t i = 0; i < np; i++)
        m = pos[i] > m ? pos[i] : m;
    for (size_t i = 0; i < nn; i++)
        m = neg[i] > m ? neg[i] : m;
    long K = (long)floor(m / CN_AUC_STEP + 1e-9);
    double area = 0.0, tp0 = 0.0, fp0 = 0.0;
    for (long k = K; k >= 0; k--) {
        double t = (double)k * CN_AUC_STEP;
        size_t cp = 0, cn = 0;
        for (size_t i = 0; i < np; i++)
            cp += pos[i] >= t;
        for (size_t i = 0; i < nn; i++)
            cn += neg[i] >= t;
        double tp = (double)cp / (double)np, fp = (double)cn / (double)nn;
        area += (fp - fp0) * (tp + tp0) * 0.5;
        tp0 = tp, fp0 = fp;
    }
    return area + (1.0 - fp0) * (1.0 + tp0) * 0.5;
}

/* Normalised map plus its fixated values, shared by Borji and shuffled AUC. */
static int step_auc_setup(const float *P, const float *F, size_t n, size_t nf, size_t nneg,
                          double **S, double **pos, double **neg)
{
    *S = malloc(n * sizeof **S);
    *pos = malloc(nf * sizeof **pos);
    *neg = malloc((nneg ? nneg : 1) * sizeof **neg);
    if (!*S || !*pos || !*neg) {
        free(*S), free(*pos), free(*neg);
        return cn_fail(CN_ERR_OOM, "metrics: AUC of %zu pixels: out of memory", n);
    }
    range_normalise(P, n, *S);
    for (size_t i = 0, k = 0; i < n; i++)
        if (F[i] != 0.0f)
            (*pos)[k++] = (*S)[i];
    return CN_OK;
}

int cn_metric_auc_borji(const float *P, const float *F, size_t n, uint64_t seed, double *out)
{
    CN_TRY(check_common(n, out, 1));
    CN_TRY(check_map(P, n, "P", 0));
    CN_TRY(check_map(F, n, "F", 0));
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        nf += F[i] != 0.0f;
    if (nf <= 1) {
        *out = NAN;
        return CN_OK;
    }
    double *S, *pos, *neg;
    CN_TRY(step_auc_setup(P, F, n, nf, nf, &S, &pos, &neg));
    uint64_t state = seed;
    double sum = 0.0;
    for (int s = 0; s < CN_AUC_NSPLITS; s++) {
        for (size_t i = 0; i < nf; i++)
            neg[i] = S[sm_index(&state, n)];
        sum += step_auc(pos, nf, neg, nf);
    }
    free(S), free(pos), free(neg);
    *out = sum / CN_AUC_NSPLITS;
    return CN_OK;
}

int cn_metric_sauc(const float *P, const float *F, size_t n, const size_t *other, size_t n_other,
                   uint64_t seed, double *out)
{
    CN_TRY(check_common(n, out, 1));
    CN_TRY(check_map(P, n, "P", 0));
    CN_TRY(check_map(F, n, "F", 0));
    if (n_other && !other)
        return cn_fail(CN_ERR_ARG, "metrics: shuffled AUC: `other` is NULL with %zu entries", n_other);
    for (size_t i = 0; i < n_other; i++)
        if (other[i] >= n)
            return cn_fail(CN_ERR_ARG, "metrics: shuffled AUC: other[%zu] = %zu is outside the %zu pixels",
                           i, other[i], n);
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        nf += F[i] != 0.0f;
    if (nf == 0 || n_other == 0) {
        *out = NAN;
        return CN_OK;
    }
    size_t *set = malloc(n_other * sizeof *set), *perm = malloc(n_other * sizeof *perm);
    if (!set || !perm) {
        free(set), free(perm);
        return cn_fail(CN_ERR_OOM, "metrics: shuffled AUC: out of memory");
    }
    memcpy(set, other, n_other * sizeof *set);
    qsort(set, n_other, sizeof *set, cmp_size);
    size_t m = 0;
    for (size_t i = 0; i < n_other; i++)
        if (m == 0 || set[i] != set[m - 1])
            set[m++] = set[i];
    size_t k = nf < m ? nf : m;

    double *S, *pos, *neg;
    int st = step_auc_setup(P, F, n, nf, k, &S, &pos, &neg);
    if (st != CN_OK) {
        free(set), free(perm);
        return st;
    }
    uint64_t state = seed;
    double sum = 0.0;
    for (int s = 0; s < CN_AUC_NSPLITS; s++) {
        /* A fresh copy each split, as MIT permutes `ind` anew every time. */
        memcpy(perm, set, m * sizeof *perm);
        for (size_t j = 0; j < k; j++) {
            size_t t = j + sm_index(&state, m - j);
            size_t tmp = perm[j];
            perm[j] = perm[t];
            perm[t] = tmp;
            neg[j] = S[perm[j]];
        }
        sum += step_auc(pos, nf, neg, k);
    }
    free(S), free(pos), free(neg), free(set), free(perm);
    *out = sum / CN_AUC_NSPLITS;
    return CN_OK;
}

/* ---- training loss ---- */

int cn_saliency_loss(const float *P, const float *Q, size_t n, double *loss, float *grad)
{
    CN_TRY(check_common(n, loss, 1));
    CN_TRY(check_map(P, n, "P", 1));
    CN_TRY(check_map(Q, n, "Q", 1));
    double plo, phi, qlo, qhi;
    min_max(P, n, &plo, &phi);
    min_max(Q, n, &qlo, &qhi);
    if (plo == phi || qlo == qhi)
        return cn_fail(CN_ERR_ARG, "saliency loss: %s is constant, so CC is undefined",
                       plo == phi ? "P" : "Q");
    /* Non-constant and non-negative implies a positive sum. */
    double sp = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        sp += P[i];
        sq += Q[i];
    }
    double mp = sp / (double)n, mq = sq / (double)n;
    double sab = 0, saa = 0, sbb = 0, kl = 0, sim = 0;
    for (size_t i = 0; i < n; i++) {
        double a = P[i] - mp, b = Q[i] - mq, pn = P[i] / sp, qn = Q[i] / sq;
        sab += a * b;
        saa += a * a;
        sbb += b * b;
        kl += qn * log(CN_METRIC_EPS + qn / (pn + CN_METRIC_EPS));
        sim += pn < qn ? pn : qn;
    }
    double den = sqrt(saa * sbb), cc = sab / den;
    *loss = kl - 0.1 * cc - 0.1 * sim;
    if (!grad)
        return CN_OK;

    /* KL and SIM depend on P through Pn = P / sum P, whose Jacobian maps a
     * gradient g over Pn to (g_j - <g, Pn>) / sum P; CC's mean subtraction
     * drops out because the centred maps sum to zero. */
    double gdot = 0.0;
    for (size_t i = 0; i < n; i++) {
        double pn = P[i] / sp, qn = Q[i] / sq, pe = pn + CN_METRIC_EPS;
        double gkl = -qn * qn / ((CN_METRIC_EPS + qn / pe) * pe * pe);
        double gsim = pn < qn ? 1.0 : pn > qn ? 0.0 : 0.5;
        gdot += (gkl - 0.1 * gsim) * pn;
    }
    for (size_t j = 0; j < n; j++) {
        double pn = P[j] / sp, qn = Q[j] / sq, pe = pn + CN_METRIC_EPS;
        double gkl = -qn * qn / ((CN_METRIC_EPS + qn / pe) * pe * pe);
        double gsim = pn < qn ? 1.0 : pn > qn ? 0.0 : 0.5;
        double gnorm = (gkl - 0.1 * gsim - gdot) / sp;
        double gcc = (Q[j] - mq) / den - cc * (P[j] - mp) / saa;
        grad[j] = (float)(gnorm - 0.1 * gcc);
    }
    return CN_OK;
}

/* ---- evaluation protocol ---- */

#define PREP_SIGMA 2.0
#define PREP_RADIUS 4 /* ceil(2 * sigma) */

/* MATLAB 'symmetric' padding: the edge pixel is repeated, and the reflection
 * repeats for maps narrower than the kernel. */
static int reflect(int i, int len)
{
    int period = 2 * len;
    i %= period;
    if (i < 0)
        i += period;
    return i < len ? i : period - 1 - i;
}

/* Source pixel pair and weight of one output coordinate, align_corners=False. */
static void bilinear_src(int dst, int in, int outn, int *i0, int *i1, double *w)
{
    double s = ((double)dst + 0.5) * (double)in / (double)outn - 0.5;
    if (s < 0.0)
        s = 0.0;
    int a = (int)s;
    if (a > in - 1)
        a = in - 1;
    *i0 = a;
    *i1 = a < in - 1 ? a + 1 : a;
    *w = s - a;
}

int cn_eval_prepare(const float *pred, int ph, int pw, int gh, int gw, float *out)
{
    return cn_eval_prepare_ex(pred, ph, pw, gh, gw, 1, out);
}

int cn_eval_prepare_ex(const float *pred, int ph, int pw, int gh, int gw, int blur, float *out)
{
    if (!pred || !out)
        return cn_fail(CN_ERR_ARG, "eval_prepare: NULL %s", pred ? "out" : "pred");
    if (ph <= 0 || pw <= 0 || gh <= 0 || gw <= 0)
        return cn_fail(CN_ERR_ARG, "eval_prepare: bad sizes %dx%d -> %dx%d", ph, pw, gh, gw);
    size_t np = (size_t)ph * (size_t)pw;
    CN_TRY(check_map(pred, np, "pred", 0));

    double *a = malloc(np * sizeof *a), *b = malloc(np * sizeof *b);
    if (!a || !b) {
        free(a), free(b);
        return cn_fail(CN_ERR_OOM, "eval_prepare: %dx%d: out of memory", ph, pw);
    }
    range_normalise(pred, np, a);

    double k[2 * PREP_RADIUS + 1], ks = 0.0;
    for (int t = -PREP_RADIUS; t <= PREP_RADIUS; t++) {
        k[t + PREP_RADIUS] = exp(-(double)(t * t) / (2.0 * PREP_SIGMA * PREP_SIGMA));
        ks += k[t + PREP_RADIUS];
    }
    for (int t = 0; t < 2 * PREP_RADIUS + 1; t++)
        k[t] /= ks;
    for (int y = 0; y < ph && blur; y++) /* along rows: a -> b */
        for (int x = 0; x < pw; x++) {
            double s = 0.0;
            for (int t = -PREP_RADIUS; t <= PREP_RADIUS; t++)
                s += k[t + PREP_RADIUS] * a[(size_t)y * pw + reflect(x + t, pw)];
            b[(size_t)y * pw + x] = s;
        }
    for (int y = 0; y < ph && blur; y++) /* along columns: b -> a */
        for (int x = 0; x < pw; x++) {
            double s = 0.0;
            for (int t = -PREP_RADIUS; t <= PREP_RADIUS; t++)
                s += k[t + PREP_RADIUS] * b[(size_t)reflect(y + t, ph) * pw + x];
            a[(size_t)y * pw + x] = s;
        }

    for (int y = 0; y < gh; y++) {
        int y0, y1;
        double wy;
        bilinear_src(y, ph, gh, &y0, &y1, &wy);
        for (int x = 0; x < gw; x++) {
            int x0, x1;
            double wx;
            bilinear_src(x, pw, gw, &x0, &x1, &wx);
            const double *r0 = a + (size_t)y0 * pw, *r1 = a + (size_t)y1 * pw;
            double top = (1.0 - wx) * r0[x0] + wx * r0[x1];
            double bot = (1.0 - wx) * r1[x0] + wx * r1[x1];
            out[(size_t)y * gw + x] = (float)((1.0 - wy) * top + wy * bot);
        }
    }
    free(a), free(b);
    return CN_OK;
}
