/* Image helpers for whole-video output: bilinear resize, Gaussian blur, 8-bit scaling, colormap overlay, atomic PNG writing. */
#include "io/imageout.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/status.h"
#include "stb_image_write.h"

/* Source coordinate table for one axis: for each output index the two
 * source indices and the weight of the second. Shared by both resizers so
 * 8-bit frames and float maps follow exactly the same geometry. */
typedef struct axis_tap {
    int i0, i1;
    float w1;
} axis_tap;

static void axis_taps(int sn, int dn, axis_tap *t)
{
    double scale = (double)sn / (double)dn;
    for (int d = 0; d < dn; d++) {
        double s = (d + 0.5) * scale - 0.5;
        if (s < 0)
            s = 0; /* edge pixels clamp rather than blend with a virtual border */
        int i0 = (int)s;
        if (i0 > sn - 1)
            i0 = sn - 1;
        int i1 = i0 + 1 < sn ? i0 + 1 : sn - 1;
        t[d].i0 = i0;
        t[d].i1 = i1;
        t[d].w1 = (float)(s - i0);
        if (i1 == i0)
            t[d].w1 = 0.f;
    }
}

/* Stack buffers keep the common sizes allocation-free; larger ones fall back to malloc. */
#define TAPS_STACK 4096

void cn_resize_u8(const uint8_t *src, int sw, int sh, int ch, uint8_t *dst, int dw, int dh)
{
    axis_tap xs_s[TAPS_STACK], ys_s[TAPS_STACK];
    axis_tap *xs = dw <= TAPS_STACK ? xs_s : malloc((size_t)dw * sizeof *xs);
    axis_tap *ys = dh <= TAPS_STACK ? ys_s : malloc((size_t)dh * sizeof *ys);
    if (!xs || !ys) { /* frames this large (> 4096 px a side) and no memory: leave black */
        memset(dst, 0, (size_t)dw * dh * ch);
        goto out;
    }
    axis_taps(sw, dw, xs);
    axis_taps(sh, dh, ys);
    for (int y = 0; y < dh; y++) {
        const uint8_t *r0 = src + (size_t)ys[y].i0 * sw * ch;
        const uint8_t *r1 = src + (size_t)ys[y].i1 * sw * ch;
        float wy = ys[y].w1;
        uint8_t *o = dst + (size_t)y * dw * ch;
        for (int x = 0; x < dw; x++) {
            const int a = xs[x].i0 * ch, b = xs[x].i1 * ch;
            float wx = xs[x].w1;
            for (int c = 0; c < ch; c++) {
                float top = r0[a + c] + wx * (float)(r0[b + c] - r0[a + c]);
                float bot = r1[a + c] + wx * (float)(r1[b + c] - r1[a + c]);
                float v = top + wy * (bot - top);
                o[x * ch + c] = (uint8_t)(v + 0.5f); /* v in [0, 255]: +0.5 then truncation rounds */
            }
        }
    }
out:
    if (xs != xs_s)
        free(xs);
    if (ys != ys_s)
        free(ys);
}

void cn_resize_f32(const float *src, int sw, int sh, float *dst, int dw, int dh)
{
    axis_tap xs_s[TAPS_STACK], ys_s[TAPS_STACK];
    axis_tap *xs = dw <= TAPS_STACK ? xs_s : malloc((size_t)dw * sizeof *xs);
    axis_tap *ys = dh <= TAPS_STACK ? ys_s : malloc((size_t)dh * sizeof *ys);
    if (!xs || !ys) {
        memset(dst, 0, (size_t)dw * dh * sizeof *dst);
        goto out;
    }
    axis_taps(sw, dw, xs);
    axis_taps(sh, dh, ys);
    for (int y = 0; y < dh; y++) {
        const float *r0 = src + (size_t)ys[y].i0 * sw;
        const float *r1 = src + (size_t)ys[y].i1 * sw;
        float wy = ys[y].w1;
        float *o = dst + (size_t)y * dw;
        for (int x = 0; x < dw; x++) {
            float top = r0[xs[x].i0] + xs[x].w1 * (r0[xs[x].i1] - r0[xs[x].i0]);
            float bot = r1[xs[x].i0] + xs[x].w1 * (r1[xs[x].i1] - r1[xs[x].i0]);
            o[x] = top + wy * (bot - top);
        }
    }
out:
    if (xs != xs_s)
        free(xs);
    if (ys != ys_s)
        free(ys);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int cn_blur_f32(float *img, int w, int h, double sigma)
{
    if (!(sigma > 0) || w <= 0 || h <= 0)
        return CN_OK;
    int r = (int)ceil(3.0 * sigma);
    float *k = malloc((size_t)(2 * r + 1) * sizeof *k);
    int n = w > h ? w : h;
    float *line = malloc((size_t)n * sizeof *line);
    if (!k || !line) {
        free(k);
        free(line);
        return cn_fail(CN_ERR_OOM, "out of host memory for a blur of sigma %g on %d x %d", sigma, w, h);
    }
    double sum = 0;
    for (int i = -r; i <= r; i++)
        sum += exp(-0.5 * (double)i * i / (sigma * sigma));
    for (int i = -r; i <= r; i++)
        k[i + r] = (float)(exp(-0.5 * (double)i * i / (sigma * sigma)) / sum);
    /* rows, then columns; each line copied out first so the pass reads unblurred values */
    for (int y = 0; y < h; y++) {
        float *row = img + (size_t)y * w;
        memcpy(line, row, (size_t)w * sizeof *line);
        for (int x = 0; x < w; x++) {
            float acc = 0;
            for (int i = -r; i <= r; i++)
                acc += k[i + r] * line[clampi(x + i, 0, w - 1)];
            row[x] = acc;
        }
    }
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++)
            line[y] = img[(size_t)y * w + x];
        for (int y = 0; y < h; y++) {
            float acc = 0;
            for (int i = -r; i <= r; i++)
                acc += k[i + r] * line[clampi(y + i, 0, h - 1)];
            img[(size_t)y * w + x] = acc;
        }
    }
    free(k);
    free(line);
    return CN_OK;
}

void cn_map_to_u8(const float *map, int64_t n, uint8_t *out)
{
    float mx = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(map[i]) && map[i] > mx)
            mx = map[i];
    float s = mx > 0 ? 255.f / mx : 0.f;
    for (int64_t i = 0; i < n; i++) {
        float v = isfinite(map[i]) && map[i] > 0 ? map[i] * s : 0.f;
        out[i] = (uint8_t)(v > 255.f ? 255 : (int)(v + 0.5f));
    }
}

/* Our own control points, chosen by eye along a dark-to-light path (purple,
 * magenta-red, orange, pale yellow) with lightness rising at every step, in
 * the spirit of the perceptual maps of van der Walt and Smith (2015).
 * Linear interpolation between 11 points is smooth enough for 8-bit output. */
static const uint8_t ramp[][3] = {
    {2, 2, 12},      {26, 12, 66},   {62, 14, 104},  {100, 26, 112}, {138, 40, 106},
    {176, 58, 90},   {210, 84, 64},  {236, 118, 36}, {248, 160, 26}, {246, 206, 70},
    {250, 248, 160},
};

void cn_colormap(uint8_t v, uint8_t rgb[3])
{
    const int segs = (int)(sizeof ramp / sizeof ramp[0]) - 1;
    int pos = v * segs; /* in units of 1/255 segment */
    int i = pos / 255, f = pos % 255;
    if (i >= segs) {
        i = segs - 1;
        f = 255;
    }
    for (int c = 0; c < 3; c++)
        rgb[c] = (uint8_t)((ramp[i][c] * (255 - f) + ramp[i + 1][c] * f + 127) / 255);
}

void cn_overlay(const uint8_t *frame, const uint8_t *gray, int w, int h, uint8_t *out)
{
    uint8_t lut[256][3];
    for (int v = 0; v < 256; v++)
        cn_colormap((uint8_t)v, lut[v]);
    for (int64_t i = 0; i < (int64_t)w * h; i++) {
        int g = gray[i];
        int a = g * 179 / 255; /* colour weight out of 255: up to 70 % */
        for (int c = 0; c < 3; c++)
            out[3 * i + c] = (uint8_t)((frame[3 * i + c] * (255 - a) + lut[g][c] * a + 127) / 255);
    }
}

typedef struct png_sink {
    FILE *f;
    int failed;
} png_sink;

static void png_put(void *ctx, void *data, int size)
{
    png_sink *s = ctx;
    if (!s->failed && fwrite(data, 1, (size_t)size, s->f) != (size_t)size)
        s->failed = 1;
}

int cn_png_write(const char *path, const uint8_t *px, int w, int h, int comp)
{
    if (!path || !px || w <= 0 || h <= 0 || (comp != 1 && comp != 3))
        return cn_fail(CN_ERR_ARG, "%s: bad PNG request (%d x %d, %d channels)", path ? path : "(null)",
                       w, h, comp);
    /* the temporary lives next to the target so rename() stays on one file system */
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp)
        return cn_fail(CN_ERR_OOM, "%s: out of host memory", path);
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    snprintf(tmp, n + 16, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return cn_fail(CN_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    /* mkstemp makes 0600; images are for sharing (umask is process-wide, so not consulted here) */
    if (fchmod(fd, 0644) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return cn_fail(CN_ERR_IO, "%s: cannot set permissions: %s", path, strerror(e));
    }
    png_sink s = {fdopen(fd, "wb"), 0};
    if (!s.f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return cn_fail(CN_ERR_IO, "%s: cannot open for writing", path);
    }
    int ok = stbi_write_png_to_func(png_put, &s, w, h, comp, px, w * comp);
    int e = 0;
    if (!ok || s.failed)
        e = errno ? errno : EIO;
    if (fclose(s.f) != 0 && !e)
        e = errno ? errno : EIO;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return cn_fail(CN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    free(tmp);
    return CN_OK;
}
