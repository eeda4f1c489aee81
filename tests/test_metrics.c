/* Saliency metrics and loss: hand-worked cases, invariances, finite-difference gradient, and agreement with tests/torch_reference/metrics_ref.py. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* popen, mkdtemp */
#endif
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/metrics.h"
#include "runtime/status.h"

static int n_pass, n_fail;

#define CHECK(cond, ...)                                                \
    do {                                                                \
        if (cond) {                                                     \
            n_pass++;                                                   \
        } else {                                                        \
            n_fail++;                                                   \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);        \
            fprintf(stderr, __VA_ARGS__);                               \
            fputc('\n', stderr);                                        \
        }                                                               \
    } while (0)

#define CHECK_OK(expr)                                                              \
    do {                                                                            \
        int st_ = (expr);                                                           \
        CHECK(st_ == CN_OK, "%s -> %s: %s", #expr, cn_status_name(st_), cn_last_error()); \
    } while (0)

#define CHECK_FAILS(want, expr)                                                        \
    do {                                                                               \
        cn_clear_error();                                                              \
        int st_ = (expr);                                                              \
        CHECK(st_ == (want) && cn_last_error()[0], "%s should fail with %s, got %s", #expr, \
              cn_status_name(want), cn_status_name(st_));                              \
    } while (0)

#define CHECK_NEAR(got, want, tol, what)                                               \
    do {                                                                               \
        double g_ = (got), w_ = (want);                                                \
        CHECK(fabs(g_ - w_) <= (tol), "%s: got %.17g, want %.17g (tol %g)", what, g_, w_, \
              (double)(tol));                                                          \
    } while (0)

/* Test-side data generator (independent of the library's splitmix use). */
static uint64_t rng_state;
static double urand(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* ---------------- hand-worked cases ---------------- */

static void test_identical_maps(void)
{
    float P[48];
    for (int i = 0; i < 48; i++)
        P[i] = (float)(0.05 + urand());
    double cc, sim, kl, loss;
    float grad[48];
    CHECK_OK(cn_metric_cc(P, P, 48, &cc));
    CHECK_OK(cn_metric_sim(P, P, 48, &sim));
    CHECK_OK(cn_metric_kl(P, P, 48, &kl));
    CHECK_OK(cn_saliency_loss(P, P, 48, &loss, grad));
    CHECK_NEAR(cc, 1.0, 1e-12, "CC(P, P)");
    CHECK_NEAR(sim, 1.0, 1e-12, "SIM(P, P)");
    CHECK_NEAR(kl, 0.0, 1e-12, "KL(P, P)");
    CHECK_NEAR(loss, -0.2, 1e-12, "loss(P, P)");
    /* Every pixel is a tie of the min() in SIM; the gradient is 0 whatever
     * the subgradient, since P is a minimum of KL - 0.1 CC along P. */
    double gmax = 0;
    for (int i = 0; i < 48; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    CHECK(gmax < 1e-6, "loss gradient at P == Q: max |g| = %g", gmax);
}

static void test_constant_prediction(void)
{
    enum { N = 30 };
    float P[N], Q[N], F[N];
    size_t other[] = {0, 3, 7, 11, 29};
    for (int i = 0; i < N; i++) {
        P[i] = 0.3f;
        Q[i] = (float)urand();
        F[i] = (i % 7 == 2) ? 1.0f : 0.0f;
    }
    double v;
    CHECK_OK(cn_metric_auc_judd(P, F, N, &v));
    CHECK_NEAR(v, 0.5, 1e-15, "AUC-Judd of a constant map");
    CHECK_OK(cn_metric_auc_borji(P, F, N, 1, &v));
    CHECK_NEAR(v, 0.5, 1e-15, "AUC-Borji of a constant map");
    CHECK_OK(cn_metric_sauc(P, F, N, other, 5, 1, &v));
    CHECK_NEAR(v, 0.5, 1e-15, "sAUC of a constant map");
    CHECK_OK(cn_metric_nss(P, F, N, &v));
    CHECK(isnan(v), "NSS of a constant map should be NaN, got %g", v);
    CHECK_OK(cn_metric_cc(P, Q, N, &v));
    CHECK(isnan(v), "CC with a constant map should be NaN, got %g", v);
    CHECK_OK(cn_metric_sim(P, Q, N, &v));
    CHECK(isnan(v), "SIM with a constant non-zero map should be NaN (MIT), got %g", v);
    double l;
    CHECK_FAILS(CN_ERR_ARG, cn_saliency_loss(P, Q, N, &l, NULL));

    float Z[N] = {0};
    CHECK_OK(cn_metric_sim(Z, Q, N, &v));
    CHECK_NEAR(v, 0.0, 0, "SIM of an all-zero map");
    float E[N] = {0};
    CHECK_OK(cn_metric_nss(Q, E, N, &v));
    CHECK(isnan(v), "NSS without fixations should be NaN, got %g", v);
    CHECK_OK(cn_metric_auc_judd(Q, E, N, &v));
    CHECK(isnan(v), "AUC-Judd without fixations should be NaN, got %g", v);
    CHECK_OK(cn_metric_sauc(Q, F, N, other, 0, 1, &v));
    CHECK(isnan(v), "sAUC without other fixations should be NaN, got %g", v);
}

static void test_judd_by_hand(void)
{
    /* P (row-major 3x3)   F
     *   .9 .1 .5         1 0 0
     *   .3 .8 .2         1 0 0
     *   .4 .6 .7         0 1 0
     * Fixated values descending: .9, .6, .3; Nf = 3, the 6 others are
     * .1 .5 .8 .2 .4 .7.
     *   t=.9: 1 pixel  >= t -> tp 1/3, fp (1-1)/6 = 0
     *   t=.6: 4 pixels >= t (.9 .8 .7 .6) -> tp 2/3, fp (4-2)/6 = 1/3
     *   t=.3: 7 pixels >= t -> tp 1, fp (7-3)/6 = 2/3
     * Curve (0,0) (0,1/3) (1/3,2/3) (2/3,1) (1,1): area
     *   0 + 1/3*(1/3+2/3)/2 + 1/3*(2/3+1)/2 + 1/3*1 = 1/6 + 5/18 + 1/3 = 7/9.
     * (Pairwise it would be 12/18: Judd interpolates between fixations.) */
    float P[9] = {.9f, .1f, .5f, .3f, .8f, .2f, .4f, .6f, .7f};
    float F[9] = {1, 0, 0, 1, 0, 0, 0, 1, 0};
    double v;
    CHECK_OK(cn_metric_auc_judd(P, F, 9, &v));
    CHECK_NEAR(v, 7.0 / 9.0, 1e-15, "AUC-Judd 3x3 by hand");

    /* Tied fixated values: a perfect binary prediction must score 1 (the
     * unjittered MIT loop would give 0.75 here). */
    float B[4] = {1, 1, 0, 0}, G[4] = {1, 1, 0, 0};
    CHECK_OK(cn_metric_auc_judd(B, G, 4, &v));
    CHECK_NEAR(v, 1.0, 1e-15, "AUC-Judd of P == F");
    /* Inverted: both fixations at the minimum, so the only threshold takes
     * every pixel -> (0,0) (1,1): Judd has no point below the diagonal. */
    float R[4] = {0, 0, 1, 1};
    CHECK_OK(cn_metric_auc_judd(R, G, 4, &v));
    CHECK_NEAR(v, 0.5, 1e-15, "AUC-Judd of an inverted map");
}

static void test_small_by_hand(void)
{
    double v;
    /* mean .25, std (N-1) = sqrt((3*.0625 + .5625)/3) = .5 -> (1-.25)/.5 */
    float P[4] = {0, 0, 0, 1}, F[4] = {0, 0, 0, 1};
    CHECK_OK(cn_metric_nss(P, F, 4, &v));
    CHECK_NEAR(v, 1.5, 1e-15, "NSS by hand");
    float F2[4] = {1, 0, 0, 1}; /* (-.5 + 1.5) / 2 */
    CHECK_OK(cn_metric_nss(P, F2, 4, &v));
    CHECK_NEAR(v, 0.5, 1e-15, "NSS two fixations");

    /* min-max then sum: P' = [0 1/6 1/3 1/2], Q' = [1/2 1/3 1/6 0] -> 1/3 */
    float a[4] = {0, 1, 2, 3}, b[4] = {3, 2, 1, 0};
    CHECK_OK(cn_metric_sim(a, b, 4, &v));
    CHECK_NEAR(v, 1.0 / 3.0, 1e-15, "SIM by hand");
    /* The MIT min-max step at work: [1 2] vs [2 3] both become [0 1]. */
    float c[2] = {1, 2}, d[2] = {2, 3};
    CHECK_OK(cn_metric_sim(c, d, 2, &v));
    CHECK_NEAR(v, 1.0, 1e-15, "SIM after min-max");

    float k1[2] = {1, 1}, k2[2] = {1, 0}; /* 1 * ln(1 / .5) */
    CHECK_OK(cn_metric_kl(k1, k2, 2, &v));
    CHECK_NEAR(v, log(2.0), 1e-12, "KL by hand");
    CHECK_OK(cn_metric_kl(k2, k1, 2, &v)); /* .5 ln(.5/1) + .5 ln(eps + .5/eps) */
    CHECK_NEAR(v, 0.5 * log(0.5) + 0.5 * log(CN_METRIC_EPS + 0.5 / CN_METRIC_EPS), 1e-12,
               "KL with a zero in P");

    float x[3] = {1, 2, 3}, y[3] = {2, 4, 6}, z[3] = {3, 2, 1};
    CHECK_OK(cn_metric_cc(x, y, 3, &v));
    CHECK_NEAR(v, 1.0, 1e-15, "CC of proportional maps");
    CHECK_OK(cn_metric_cc(x, z, 3, &v));
    CHECK_NEAR(v, -1.0, 1e-15, "CC of reversed maps");

    /* sAUC: P == F and the other frames' fixations all on non-fixated
     * pixels (value 0) -> every negative below every threshold > 0 -> 1. */
    float S[6] = {1, 0, 0, 1, 0, 0}, SF[6] = {1, 0, 0, 1, 0, 0};
    size_t oth[4] = {1, 2, 4, 5};
    CHECK_OK(cn_metric_sauc(S, SF, 6, oth, 4, 7, &v));
    CHECK_NEAR(v, 1.0, 1e-15, "sAUC with negatives all at 0");
}

/* ---------------- properties ---------------- */

static void test_properties(void)
{
    enum { N = 40 * 30 };
    float *P = malloc(N * sizeof *P), *Q = malloc(N * sizeof *Q), *F = malloc(N * sizeof *F);
    float *T = malloc(N * sizeof *T);
    size_t *oth = malloc(2 * 200 * sizeof *oth), *uniq = malloc(200 * sizeof *uniq);
    for (int i = 0; i < N; i++) {
        /* k/1024 grid: P*P + 3 is then exact in float, so the order is kept. */
        P[i] = (float)floor(urand() * 1024) / 1024.0f;
        Q[i] = (float)(urand() * urand());
        F[i] = urand() < 0.03 ? 1.0f : 0.0f;
    }
    double a, b;
    CHECK_OK(cn_metric_cc(P, Q, N, &a));
    CHECK_OK(cn_metric_cc(Q, P, N, &b));
    CHECK_NEAR(a, b, 1e-14, "CC symmetric");
    CHECK_OK(cn_metric_sim(P, Q, N, &a));
    CHECK_OK(cn_metric_sim(Q, P, N, &b));
    CHECK_NEAR(a, b, 1e-14, "SIM symmetric");
    CHECK(a > 0 && a <= 1, "SIM in (0, 1]: %g", a);
    CHECK_OK(cn_metric_kl(P, Q, N, &a));
    CHECK(a >= 0, "KL >= 0: %g", a);

    for (int i = 0; i < N; i++)
        T[i] = 4.0f * P[i] + 1.0f; /* exact: P on a 2^-10 grid */
    CHECK_OK(cn_metric_cc(P, Q, N, &a));
    CHECK_OK(cn_metric_cc(T, Q, N, &b));
    CHECK_NEAR(a, b, 1e-12, "CC invariant to positive affine maps");
    for (int i = 0; i < N; i++)
        T[i] = -P[i];
    CHECK_OK(cn_metric_cc(T, Q, N, &b));
    CHECK_NEAR(a, -b, 1e-12, "CC flips sign with the map");
    for (int i = 0; i < N; i++)
        T[i] = 4.0f * P[i] + 1.0f;
    CHECK_OK(cn_metric_nss(P, F, N, &a));
    CHECK_OK(cn_metric_nss(T, F, N, &b));
    CHECK_NEAR(a, b, 1e-12, "NSS invariant to positive affine maps");
    for (int i = 0; i < N; i++)
        T[i] = P[i] * P[i] + 3.0f;
    CHECK_OK(cn_metric_auc_judd(P, F, N, &a));
    CHECK_OK(cn_metric_auc_judd(T, F, N, &b));
    CHECK(a == b, "AUC-Judd invariant to monotone maps: %.17g vs %.17g", a, b);
    CHECK(a > 0 && a < 1, "AUC-Judd in (0, 1): %g", a);

    CHECK_OK(cn_metric_auc_borji(P, F, N, 5, &a));
    CHECK_OK(cn_metric_auc_borji(P, F, N, 5, &b));
    CHECK(a == b, "AUC-Borji deterministic for a seed");
    CHECK(a > 0.3 && a < 0.7, "AUC-Borji of a random map near chance: %g", a);

    /* Duplicates and order of `other` do not matter (it is a set, as MIT's union map). */
    for (int i = 0; i < 200; i++)
        uniq[i] = (size_t)(i * 37 % N);
    for (int i = 0; i < 200; i++) {
        oth[i] = uniq[199 - i];
        oth[200 + i] = uniq[(i * 7) % 200];
    }
    CHECK_OK(cn_metric_sauc(P, F, N, uniq, 200, 9, &a));
    CHECK_OK(cn_metric_sauc(P, F, N, oth, 400, 9, &b));
    CHECK(a == b, "sAUC independent of duplicates/order: %.17g vs %.17g", a, b);
    free(P), free(Q), free(F), free(T), free(oth), free(uniq);
}

static void test_errors(void)
{
    float P[4] = {0, 1, 2, 3}, F[4] = {1, 0, 0, 0}, out[4];
    double v;
    size_t bad[1] = {4};
    CHECK_FAILS(CN_ERR_ARG, cn_metric_cc(NULL, P, 4, &v));
    CHECK_FAILS(CN_ERR_ARG, cn_metric_sim(P, P, 0, &v));
    CHECK_FAILS(CN_ERR_ARG, cn_metric_nss(P, F, 4, NULL));
    CHECK_FAILS(CN_ERR_ARG, cn_metric_sauc(P, F, 4, bad, 1, 0, &v));
    float N[4] = {0, NAN, 1, 1}, M[4] = {1, -1, 0, 0};
    CHECK_FAILS(CN_ERR_ARG, cn_metric_auc_judd(N, F, 4, &v));
    CHECK_FAILS(CN_ERR_ARG, cn_metric_kl(M, P, 4, &v));
    CHECK_FAILS(CN_ERR_ARG, cn_saliency_loss(P, M, 4, &v, NULL));
    CHECK_FAILS(CN_ERR_ARG, cn_eval_prepare(P, 2, 2, 0, 3, out));
    CHECK_FAILS(CN_ERR_ARG, cn_eval_prepare(N, 2, 2, 2, 2, out));
}

static void test_prepare_basics(void)
{
    enum { S = 21 };
    float in[S * S] = {0}, out[S * S];
    in[10 * S + 10] = 5.0f;
    CHECK_OK(cn_eval_prepare(in, S, S, S, S, out));
    /* Same size: the resize is the identity, so this is the 9x9 kernel. */
    double k[9], ks = 0, sum = 0;
    for (int t = -4; t <= 4; t++)
        ks += k[t + 4] = exp(-t * t / 8.0);
    for (int i = 0; i < S * S; i++)
        sum += out[i];
    CHECK_NEAR(sum, 1.0, 1e-5, "blurred impulse keeps its mass");
    CHECK_NEAR(out[10 * S + 10], (k[4] / ks) * (k[4] / ks), 1e-7, "impulse centre");
    CHECK_NEAR(out[10 * S + 15], 0.0, 0, "kernel radius is 4");
    float c[6] = {2, 2, 2, 2, 2, 2}, co[12];
    CHECK_OK(cn_eval_prepare(c, 2, 3, 3, 4, co));
    double m = 0;
    for (int i = 0; i < 12; i++)
        m = fmax(m, fabs(co[i]));
    CHECK(m == 0, "constant prediction prepares to zeros");
}

/* ---------------- loss gradient ---------------- */

static void test_loss_gradient(void)
{
    enum { N = 7 * 5 };
    const double h = 1.0 / 4096; /* with P on a 2^-20 grid in [.25, .49], P +- h is exact */
    float P[N], Q[N], g[N], Pp[N];
    for (int tries = 0;; tries++) {
        for (int i = 0; i < N; i++) {
            P[i] = (float)(floor((0.25 + 0.24 * urand()) * 1048576.0) / 1048576.0);
            Q[i] = i % 9 == 4 ? 0.0f : (float)urand();
        }
        /* Keep every pixel well away from SIM's kink, also after a step. */
        double sp = 0, sq = 0, gap = 1;
        for (int i = 0; i < N; i++)
            sp += P[i], sq += Q[i];
        for (int i = 0; i < N; i++)
            gap = fmin(gap, fabs(P[i] / sp - Q[i] / sq));
        if (gap > 1e-4 || tries > 50)
            break;
    }
    double L, lp, lm, worst = 0, gmax = 0;
    CHECK_OK(cn_saliency_loss(P, Q, N, &L, g));
    for (int j = 0; j < N; j++) {
        memcpy(Pp, P, sizeof P);
        Pp[j] = (float)(P[j] + h);
        CHECK_OK(cn_saliency_loss(Pp, Q, N, &lp, NULL));
        Pp[j] = (float)(P[j] - h);
        CHECK_OK(cn_saliency_loss(Pp, Q, N, &lm, NULL));
        double fd = (lp - lm) / (2 * h);
        worst = fmax(worst, fabs(fd - g[j]));
        gmax = fmax(gmax, fabs(g[j]));
    }
    printf("loss gradient vs central differences: max |diff| %.3e (max |g| %.3e)\n", worst, gmax);
    CHECK(worst < 1e-6 * (1 + gmax), "loss gradient off by %g", worst);
    CHECK(gmax > 1e-3, "gradient suspiciously small: %g", gmax);
}

/* ---------------- agreement with the numpy reference ---------------- */

static int write_npy(const char *path, const void *data, const char *descr, size_t esize, int h, int w)
{
    char hdr[128];
    int len = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }",
                       descr, h, w);
    int total = ((10 + len + 1 + 63) / 64) * 64; /* magic+version+len, header, '\n', 64-aligned */
    while (10 + len < total - 1)
        hdr[len++] = ' ';
    hdr[len++] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 0xff),
                             (unsigned char)(len >> 8)};
    size_t cnt = (size_t)h * (size_t)w;
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)len, f) == (size_t)len &&
             fwrite(data, esize, cnt, f) == cnt;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static char *run_capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    int rc = pclose(p);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    if (rc != 0) {
        fprintf(stderr, "reference command failed (%d): %s\n%s\n", rc, cmd, buf);
        free(buf);
        return NULL;
    }
    return buf;
}

static char script[1024], tmpdir[1024];
static int have_torch; /* Debian's python3-torch: the loss gradient is also checked by autograd */

static void locate_script(void)
{
    const char *here = __FILE__, *slash = strrchr(here, '/');
    int dlen = slash ? (int)(slash - here) : 1;
    snprintf(script, sizeof script, "%.*s/torch_reference/metrics_ref.py", dlen, slash ? here : ".");
}

static double json_num(const cJSON *o, const char *key, int *found)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    *found = it != NULL;
    return cJSON_IsNumber(it) ? it->valuedouble : NAN; /* null stands for NaN */
}

static double max_metric_diff;

static void compare_metric(const cJSON *ref, const char *key, double ours, const char *label)
{
    int found;
    double want = json_num(ref, key, &found);
    CHECK(found, "%s: reference printed no %s", label, key);
    if (!found)
        return;
    if (isnan(want) || isnan(ours)) {
        CHECK(isnan(want) && isnan(ours), "%s %s: ours %.17g, reference %.17g", label, key, ours, want);
        return;
    }
    double d = fabs(ours - want);
    max_metric_diff = fmax(max_metric_diff, d);
    CHECK(d <= 1e-5, "%s %s: ours %.17g, reference %.17g", label, key, ours, want);
}

/* Our loss and gradient against PyTorch autograd of the same formula. The
 * gradient is float32 here, so the bound is relative to its largest entry. */
/* Largest |ref[key][i] - g[i]| over i < n, and in *gmax the largest |ref|; the
 * array must have n entries. */
static double grad_diff(const cJSON *ref, const char *key, const float *g, int n, const char *label,
                        double *gmax)
{
    const cJSON *gr = cJSON_GetObjectItemCaseSensitive(ref, key);
    CHECK(cJSON_GetArraySize(gr) == n, "%s: %s has %d entries, not %d", label, key, cJSON_GetArraySize(gr), n);
    double worst = 0;
    int i = 0;
    const cJSON *e;
    *gmax = 0;
    cJSON_ArrayForEach(e, gr)
    {
        if (i < n) {
            worst = fmax(worst, fabs(e->valuedouble - g[i]));
            *gmax = fmax(*gmax, fabs(e->valuedouble));
        }
        i++;
    }
    return worst;
}

static void compare_autograd(const cJSON *ref, const float *g, int n, double loss, const char *label)
{
    compare_metric(ref, "loss_torch", loss, label);
    double gmax, worst = grad_diff(ref, "grad_torch", g, n, label, &gmax);
    printf("%s: loss gradient vs PyTorch autograd: max |diff| %.3e (max |g| %.3e)\n", label, worst, gmax);
    CHECK(worst <= 1e-6 * fmax(1.0, gmax), "%s: gradient differs from autograd by %g", label, worst);
}

typedef enum { MAP_BLOBS, MAP_QUANTISED, MAP_CONSTANT } map_kind;

static void blobs(float *m, int h, int w, int nblob)
{
    for (int i = 0; i < h * w; i++)
        m[i] = (float)(0.02 * urand());
    for (int b = 0; b < nblob; b++) {
        double cy = urand() * h, cx = urand() * w, s = 1.5 + urand() * h / 6, a = 0.3 + urand();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                m[y * w + x] += (float)(a * exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (2 * s * s)));
    }
}

static void reference_case(int h, int w, map_kind kind, uint64_t seed, int label_no)
{
    int n = h * w;
    char label[64], cmd[8192], pP[1100], pQ[1100], pF[1100], pO[1100];
    snprintf(label, sizeof label, "case %d (%dx%d)", label_no, h, w);
    float *P = malloc((size_t)n * sizeof *P), *Q = malloc((size_t)n * sizeof *Q);
    float *F = calloc((size_t)n, sizeof *F), *g = malloc((size_t)n * sizeof *g);
    int64_t other64[300];
    size_t other[300];
    blobs(Q, h, w, 3);
    if (kind == MAP_CONSTANT) {
        for (int i = 0; i < n; i++)
            P[i] = 0.25f;
    } else {
        blobs(P, h, w, 4);
        for (int i = 0; i < n; i++) /* share structure with Q so scores are not all at chance */
            P[i] = 0.6f * P[i] + 0.4f * Q[i];
        if (kind == MAP_QUANTISED) /* many ties: exercises the tie rules */
            for (int i = 0; i < n; i++)
                P[i] = (floorf(P[i] * 8.0f) + 1.0f) / 8.0f;
    }
    int nfix = 0;
    while (nfix < 40) { /* fixations drawn from Q, so the maps are related */
        int i = (int)(urand() * n);
        if (F[i] == 0 && urand() * 1.5 < Q[i])
            F[i] = 1.0f, nfix++;
    }
    for (int i = 0; i < 300; i++) /* duplicates likely: a set after merging */
        other[i] = (size_t)(urand() * n), other64[i] = (int64_t)other[i];

    snprintf(pP, sizeof pP, "%s/P.npy", tmpdir);
    snprintf(pQ, sizeof pQ, "%s/Q.npy", tmpdir);
    snprintf(pF, sizeof pF, "%s/F.npy", tmpdir);
    snprintf(pO, sizeof pO, "%s/other.npy", tmpdir);
    int wr = write_npy(pP, P, "<f4", 4, h, w) | write_npy(pQ, Q, "<f4", 4, h, w) |
             write_npy(pF, F, "<f4", 4, h, w) | write_npy(pO, other64, "<i8", 8, 1, 300);
    CHECK(wr == 0, "%s: cannot write inputs in %s", label, tmpdir);

    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s' '%s' --other '%s' --seed %llu --grad%s",
             script, pP, pQ, pF, pO, (unsigned long long)seed, have_torch ? " --autograd" : "");
    char *txt = run_capture(cmd);
    cJSON *ref = txt ? cJSON_Parse(txt) : NULL;
    CHECK(ref != NULL, "%s: no JSON from the reference", label);
    if (ref) {
        double v;
        CHECK_OK(cn_metric_cc(P, Q, n, &v));
        compare_metric(ref, "cc", v, label);
        CHECK_OK(cn_metric_sim(P, Q, n, &v));
        compare_metric(ref, "sim", v, label);
        CHECK_OK(cn_metric_kl(P, Q, n, &v));
        compare_metric(ref, "kl", v, label);
        CHECK_OK(cn_metric_nss(P, F, n, &v));
        compare_metric(ref, "nss", v, label);
        CHECK_OK(cn_metric_auc_judd(P, F, n, &v));
        compare_metric(ref, "auc_judd", v, label);
        CHECK_OK(cn_metric_auc_borji(P, F, n, seed, &v));
        compare_metric(ref, "auc_borji", v, label);
        CHECK_OK(cn_metric_sauc(P, F, n, other, 300, seed, &v));
        compare_metric(ref, "sauc", v, label);
        if (kind != MAP_CONSTANT) {
            CHECK_OK(cn_saliency_loss(P, Q, n, &v, g));
            compare_metric(ref, "loss", v, label);
            double gmax, worst = grad_diff(ref, "grad", g, n, label, &gmax);
            printf("%s: loss gradient max |diff| %.3e (max |g| %.3e)\n", label, worst, gmax);
            CHECK(worst <= 1e-5 * fmax(1.0, gmax), "%s: loss gradient differs by %g", label, worst);
            if (have_torch)
                compare_autograd(ref, g, n, v, label);
        }
        cJSON_Delete(ref);
    }
    free(txt);
    remove(pP), remove(pQ), remove(pF), remove(pO);
    free(P), free(Q), free(F), free(g);
}

static void reference_prepare(int ph, int pw, int gh, int gw)
{
    char cmd[4096], path[1100];
    int np = ph * pw, ng = gh * gw;
    float *pred = malloc((size_t)np * sizeof *pred), *out = malloc((size_t)ng * sizeof *out);
    blobs(pred, ph, pw, 2);
    snprintf(path, sizeof path, "%s/pred.npy", tmpdir);
    CHECK(write_npy(path, pred, "<f4", 4, ph, pw) == 0, "cannot write %s", path);
    CHECK_OK(cn_eval_prepare(pred, ph, pw, gh, gw, out));
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' --prepare '%s' %d %d", script, path, gh, gw);
    char *txt = run_capture(cmd);
    cJSON *ref = txt ? cJSON_Parse(txt) : NULL;
    const cJSON *arr = ref ? cJSON_GetObjectItemCaseSensitive(ref, "prepared") : NULL;
    CHECK(cJSON_GetArraySize(arr) == ng, "prepare %dx%d->%dx%d: reference gave %d values", ph, pw, gh,
          gw, cJSON_GetArraySize(arr));
    double worst = 0;
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (i < ng)
            worst = fmax(worst, fabs(e->valuedouble - out[i]));
        i++;
    }
    printf("prepare %dx%d -> %dx%d: max |diff| %.3e\n", ph, pw, gh, gw, worst);
    CHECK(arr && worst <= 1e-6, "prepare %dx%d->%dx%d differs by %g", ph, pw, gh, gw, worst);
    cJSON_Delete(ref);
    free(txt);
    remove(path);
    free(pred), free(out);
}

static void test_against_reference(void)
{
    locate_script();
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/cn_metrics_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir) || strchr(tmpdir, '\'') || strchr(script, '\'')) {
        CHECK(0, "cannot make a temporary directory (or quote %s)", script);
        return;
    }
    printf("reference: %s\n", script);
    have_torch = system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
    if (!have_torch)
        printf("note: PyTorch not importable by /usr/bin/python3; autograd check of the loss gradient skipped\n");
    reference_case(36, 64, MAP_BLOBS, 1, 1);
    reference_case(45, 80, MAP_BLOBS, 2, 2);
    reference_case(30, 40, MAP_QUANTISED, 3, 3);
    reference_case(24, 24, MAP_CONSTANT, 4, 4);
    reference_case(7, 9, MAP_BLOBS, 5, 5);
    printf("metrics vs reference: max |diff| %.3e\n", max_metric_diff);
    reference_prepare(9, 16, 36, 64);
    reference_prepare(3, 2, 5, 7);
    reference_prepare(45, 80, 45, 80);
    reference_prepare(20, 30, 10, 12);
    rmdir(tmpdir);
}

int main(void)
{
    rng_state = 20240611;
    test_identical_maps();
    test_constant_prediction();
    test_judd_by_hand();
    test_small_by_hand();
    test_properties();
    test_errors();
    test_prepare_basics();
    test_loss_gradient();
    test_against_reference();
    printf("test_metrics: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
