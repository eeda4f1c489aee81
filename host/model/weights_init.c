/* Random weights that behave like trained ones: He-normal init, then BatchNorm and residual calibration on inputs. */
#include "model/weights_init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "runtime/tensor.h"

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double uniform(rng *r) { return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0); }
static double normal(rng *r)
{
    double u = uniform(r), v = uniform(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int is_bn(const char *name)
{
    return strstr(name, ".bn.") || strstr(name, ".bn_s.") || strstr(name, ".bn_t.");
}

void cn_weights_randomize(cn_weights *w, uint64_t seed)
{
    rng r = {seed * 0x2545f4914f6cdd1dULL + 1};
    for (int i = 0; i < w->count; i++) {
        cn_weight *t = &w->w[i];
        int theta = strncmp(t->name, "cpc.theta", 9) == 0;
        double lo = 0, std = 0;
        int uni = 0;
        if (is_bn(t->name)) {
            if (ends_with(t->name, ".weight"))
                uni = 1, lo = 0.5;
            else if (ends_with(t->name, ".bias"))
                std = 0.1;
            else {
                float v = ends_with(t->name, "running_var") ? 1.0f : 0.0f;
                for (int64_t j = 0; j < t->numel; j++)
                    t->data[j] = v;
                continue;
            }
        } else if (ends_with(t->name, ".weight")) {
            /* fan_in: inputs per output; for ConvTranspose3d C_in * k^3 */
            double fan = (double)(t->numel / t->shape[theta ? 1 : 0]);
            std = sqrt(2.0 / fan) * (theta ? 0.1 : 1.0);
        } else {
            std = theta ? 0.01 : 0.05;
        }
        for (int64_t j = 0; j < t->numel; j++)
            t->data[j] = (float)(uni ? lo + uniform(&r) : std * normal(&r));
    }
}

int cn_synth_inputs(int n, int H, int W, uint64_t seed, float **clip, float **logmel)
{
    size_t plane = (size_t)H * W, nc = (size_t)n * 3 * 16 * plane;
    *clip = malloc(nc * sizeof **clip);
    *logmel = malloc((size_t)n * 96 * 64 * sizeof **logmel);
    if (!*clip || !*logmel) {
        free(*clip);
        free(*logmel);
        *clip = *logmel = NULL;
        return cn_fail(CN_ERR_OOM, "out of host memory for synthetic inputs");
    }
    rng r = {seed ^ 0x5eed5eedULL};
    for (int i = 0; i < n; i++) {
        double a_wave = 0.8 * uniform(&r), a_tex = 0.8 * uniform(&r), a_noise = 0.02 + uniform(&r);
        double off = 0.6 * uniform(&r) - 0.3;
        int nw = 1 + (int)(uniform(&r) * 3);
        double fx[3], fy[3], ft[3], ph[3][3];
        for (int k = 0; k < nw; k++) {
            fx[k] = 16 * uniform(&r) - 8, fy[k] = 16 * uniform(&r) - 8, ft[k] = 16 * uniform(&r) - 8;
            for (int c = 0; c < 3; c++)
                ph[k][c] = 6.283 * uniform(&r);
        }
        /* smooth texture: a coarse random grid, bilinearly interpolated, drifting in time */
        int gh = 2 + (int)(uniform(&r) * 10), gw = 2 + (int)(uniform(&r) * 14);
        double grid[3][12][16], drift = 2 * uniform(&r) - 1;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 12; y++)
                for (int x = 0; x < 16; x++)
                    grid[c][y][x] = 2 * uniform(&r) - 1;
        for (int c = 0; c < 3; c++)
            for (int t = 0; t < 16; t++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        double yy = -1 + 2.0 * y / (H - 1), xx = -1 + 2.0 * x / (W - 1), tt = t / 15.0;
                        double s = 0;
                        for (int k = 0; k < nw; k++)
                            s += sin(fx[k] * xx + fy[k] * yy + ft[k] * tt + ph[k][c]) / nw;
                        double gy = (double)y / H * (gh - 1), gx = fmod((double)x / W * (gw - 1) + drift * tt + 16, (double)(gw - 1));
                        int y0 = (int)gy, x0 = (int)gx;
                        double fy_ = gy - y0, fx_ = gx - x0;
                        double tex = (1 - fy_) * ((1 - fx_) * grid[c][y0][x0] + fx_ * grid[c][y0][x0 + 1]) +
                                     fy_ * ((1 - fx_) * grid[c][y0 + 1][x0] + fx_ * grid[c][y0 + 1][x0 + 1]);
                        double v = off + a_wave * s + a_tex * tex + a_noise * (2 * uniform(&r) - 1);
                        (*clip)[(((size_t)i * 3 + c) * 16 + t) * plane + (size_t)y * W + x] =
                            (float)(v < -1 ? -1 : v > 1 ? 1 : v);
                    }
        double level = -4 * uniform(&r), amp = 1.5 * uniform(&r), f1 = 2 + 10 * uniform(&r),
               f2 = 2 + 10 * uniform(&r), p = 6.3 * uniform(&r), noise = 0.2 + 1.8 * uniform(&r);
        for (int t = 0; t < 96; t++)
            for (int b = 0; b < 64; b++)
                (*logmel)[(size_t)i * 6144 + t * 64 + b] =
                    (float)(level + amp * sin(f1 * t / 95.0 + p) * cos(f2 * b / 63.0) + noise * normal(&r));
    }
    return CN_OK;
}

int cn_weights_init(cn_ctx *ctx, const char *variant, uint64_t seed, const cn_calib_input *in,
                    cn_weights **out)
{
    *out = NULL;
    cn_weights *w;
    CN_TRY(cn_weights_new(variant, &w));
    cn_weights_randomize(w, seed);
    cn_calib_input def = {8, 64, 96, NULL, NULL};
    if (!in)
        in = &def;
    float *sc = NULL, *sm = NULL;
    const float *clip = in->clip, *mel = in->logmel;
    int st = CN_OK;
    if (!clip) {
        st = cn_synth_inputs(in->n, in->H, in->W, seed + 1000, &sc, &sm);
        clip = sc, mel = sm;
    } else if (!mel && strcmp(variant, "av") == 0) {
        float *c2;
        st = cn_synth_inputs(in->n, 32, 32, seed + 1000, &c2, &sm);
        free(c2);
        mel = sm;
    }
    cn_model *m = NULL;
    cn_tensor tc = {0}, tm = {0};
    int64_t cs[5] = {in->n, 3, 16, in->H, in->W}, ms[4] = {in->n, 1, 96, 64};
    if (st == CN_OK)
        st = cn_model_create(ctx, w, &m);
    if (st == CN_OK)
        st = cn_tensor_from_host(ctx, &tc, 5, cs, clip);
    if (st == CN_OK && strcmp(variant, "av") == 0)
        st = cn_tensor_from_host(ctx, &tm, 4, ms, mel);
    if (st == CN_OK)
        st = cn_model_calibrate(m, w, &tc, tm.buf ? &tm : NULL, NULL);
    cn_tensor_release(ctx, &tc);
    cn_tensor_release(ctx, &tm);
    cn_model_destroy(m);
    free(sc);
    free(sm);
    if (st != CN_OK) {
        cn_weights_free(w);
        return st;
    }
    *out = w;
    return CN_OK;
}
