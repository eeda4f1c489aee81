/* Whole-video prediction pieces without a device: clip scheduling, output names, default batch, resize, blur, 8-bit scaling, colormap, PNG files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/imageout.h"
#include "app/predict.h"
#include "testutil.h"

static void test_clips(void)
{
    int64_t idx[16], first, last;
    /* long video: reversed clips for t < 15, forward ones after */
    TU_CHECK(cn_predict_clip_frames(0, 100, idx, &first, &last) == 1, "t=0 is reversed");
    for (int k = 0; k < 16; k++)
        TU_CHECK(idx[k] == 15 - k, "t=0 idx[%d] = %lld, want %d", k, (long long)idx[k], 15 - k);
    TU_CHECK(first == 0 && last == 15, "t=0 audio window %lld..%lld, want 0..15", (long long)first, (long long)last);
    TU_CHECK(cn_predict_clip_frames(14, 100, idx, &first, &last) == 1, "t=14 is reversed");
    for (int k = 0; k < 16; k++)
        TU_CHECK(idx[k] == 29 - k, "t=14 idx[%d] = %lld", k, (long long)idx[k]);
    TU_CHECK(first == 14 && last == 29, "t=14 window %lld..%lld", (long long)first, (long long)last);
    TU_CHECK(cn_predict_clip_frames(15, 100, idx, &first, &last) == 0, "t=15 is forward");
    for (int k = 0; k < 16; k++)
        TU_CHECK(idx[k] == k, "t=15 idx[%d] = %lld", k, (long long)idx[k]);
    TU_CHECK(first == 0 && last == 15, "t=15 window");
    TU_CHECK(cn_predict_clip_frames(99, 100, idx, &first, &last) == 0, "t=99 is forward");
    for (int k = 0; k < 16; k++)
        TU_CHECK(idx[k] == 84 + k, "t=99 idx[%d] = %lld", k, (long long)idx[k]);
    TU_CHECK(first == 84 && last == 99, "t=99 window");
    /* short video: reversed clips past the end start with copies of the last frame */
    TU_CHECK(cn_predict_clip_frames(3, 16, idx, &first, &last) == 1, "N=16 t=3 reversed");
    for (int k = 0; k < 16; k++) {
        int64_t want = 18 - k < 15 ? 18 - k : 15;
        TU_CHECK(idx[k] == want, "N=16 t=3 idx[%d] = %lld, want %lld", k, (long long)idx[k], (long long)want);
    }
    TU_CHECK(first == 3 && last == 18, "N=16 t=3 nominal window %lld..%lld", (long long)first, (long long)last);
    /* every clip ends at its frame, stays in the video, and only spans 16 consecutive frames
     * (so a window of the last 16 decoded frames always holds it) */
    int bad = 0;
    for (int64_t n = 16; n <= 48; n++)
        for (int64_t t = 0; t < n; t++) {
            if (cn_predict_clip_frames(t, n, idx, NULL, NULL) < 0) {
                bad++;
                continue;
            }
            int64_t lo = idx[0], hi = idx[0];
            for (int k = 0; k < 16; k++) {
                bad += idx[k] < 0 || idx[k] >= n;
                lo = idx[k] < lo ? idx[k] : lo;
                hi = idx[k] > hi ? idx[k] : hi;
                if (k > 0)
                    bad += t < 15 ? idx[k] > idx[k - 1] : idx[k] != idx[k - 1] + 1;
            }
            bad += idx[15] != t || hi - lo > 15;
        }
    TU_CHECK(bad == 0, "%d clip index violations over N = 16..48", bad);
    TU_CHECK(cn_predict_clip_frames(0, 15, idx, NULL, NULL) == -1, "15 frames rejected");
    TU_CHECK(cn_predict_clip_frames(20, 20, idx, NULL, NULL) == -1, "t = N rejected");
    TU_CHECK(cn_predict_clip_frames(-1, 20, idx, NULL, NULL) == -1, "t < 0 rejected");
}

static void test_names_batch(void)
{
    char b[64];
    cn_predict_frame_name("img_7", 6, b, sizeof b);
    TU_CHECK(strcmp(b, "img_7.png") == 0, "folder stem: %s", b);
    cn_predict_frame_name("", 0, b, sizeof b);
    TU_CHECK(strcmp(b, "000001.png") == 0, "empty stem, t=0: %s", b);
    cn_predict_frame_name(NULL, 41, b, sizeof b);
    TU_CHECK(strcmp(b, "000042.png") == 0, "no stem, t=41: %s", b);
    cn_predict_frame_name("000123", 122, b, sizeof b);
    TU_CHECK(strcmp(b, "000123.png") == 0, "video stem: %s", b);

    uint64_t G = 1ull << 30;
    TU_CHECK(cn_predict_default_batch(80 * G, 400000000ull, 224, 384) == 8, "80 GiB -> 8");
    TU_CHECK(cn_predict_default_batch(2 * G, 400000000ull, 224, 384) == 1, "2 GiB -> 1");
    TU_CHECK(cn_predict_default_batch(G / 4, 400000000ull, 224, 384) == 1, "too small -> still 1");
    int b4 = cn_predict_default_batch(4 * G, 400000000ull, 224, 384);
    TU_CHECK(b4 >= 3 && b4 <= 5, "4 GiB -> %d, want about 4", b4);
    TU_CHECK(cn_predict_default_batch(2 * G, 400000000ull, 64, 96) == 8, "small clips fit 8");
}

/* Independent bilinear reference: the half-pixel formula written out per pixel in double. */
static double ref_sample(const double *src, int sw, int sh, int ch, int c, double sx, double sy)
{
    sx = sx < 0 ? 0 : sx;
    sy = sy < 0 ? 0 : sy;
    int x0 = (int)floor(sx), y0 = (int)floor(sy);
    if (x0 > sw - 1)
        x0 = sw - 1;
    if (y0 > sh - 1)
        y0 = sh - 1;
    int x1 = x0 + 1 < sw ? x0 + 1 : x0, y1 = y0 + 1 < sh ? y0 + 1 : y0;
    double fx = x1 == x0 ? 0 : sx - x0, fy = y1 == y0 ? 0 : sy - y0;
#define P(x, y) src[((size_t)(y) * sw + (x)) * ch + c]
    return (1 - fy) * ((1 - fx) * P(x0, y0) + fx * P(x1, y0)) + fy * ((1 - fx) * P(x0, y1) + fx * P(x1, y1));
#undef P
}

static void test_resize(void)
{
    tu_rng r = tu_seed(11);
    const int sizes[][4] = {{37, 23, 96, 64}, {96, 64, 37, 23}, {80, 60, 80, 60}, {5, 3, 384, 224}, {640, 360, 96, 64}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int sw = sizes[s][0], sh = sizes[s][1], dw = sizes[s][2], dh = sizes[s][3];
        size_t sn = (size_t)sw * sh * 3, dn = (size_t)dw * dh * 3;
        uint8_t *src = malloc(sn), *dst = malloc(dn);
        double *sd = malloc(sn * sizeof *sd), *want = malloc(dn * sizeof *want);
        float *sf = malloc((size_t)sw * sh * sizeof *sf), *df = malloc((size_t)dw * dh * sizeof *df);
        double *wf = malloc((size_t)dw * dh * sizeof *wf), *sfd = malloc((size_t)sw * sh * sizeof *sfd);
        for (size_t i = 0; i < sn; i++)
            sd[i] = src[i] = (uint8_t)tu_int(&r, 0, 255);
        for (int i = 0; i < sw * sh; i++)
            sfd[i] = sf[i] = (float)tu_uniform(&r, 0, 1);
        cn_resize_u8(src, sw, sh, 3, dst, dw, dh);
        cn_resize_f32(sf, sw, sh, df, dw, dh);
        int worst = 0;
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++) {
                double sx = (x + 0.5) * sw / dw - 0.5, sy = (y + 0.5) * sh / dh - 0.5;
                for (int c = 0; c < 3; c++) {
                    double v = ref_sample(sd, sw, sh, 3, c, sx, sy);
                    int d = abs((int)dst[((size_t)y * dw + x) * 3 + c] - (int)lround(v));
                    worst = d > worst ? d : worst;
                }
                wf[(size_t)y * dw + x] = ref_sample(sfd, sw, sh, 1, 0, sx, sy);
            }
        /* float arithmetic may round an exact .5 the other way: at most 1 level */
        TU_CHECK(worst <= 1, "resize u8 %dx%d -> %dx%d: off by %d levels", sw, sh, dw, dh, worst);
        char what[64];
        snprintf(what, sizeof what, "resize f32 %dx%d -> %dx%d", sw, sh, dw, dh);
        tu_compare(what, df, wf, (int64_t)dw * dh, 1e-6, 1e-5);
        if (sw == dw && sh == dh)
            TU_CHECK(memcmp(src, dst, sn) == 0, "same-size resize is the identity");
        free(src);
        free(dst);
        free(sd);
        free(want);
        free(sf);
        free(df);
        free(wf);
        free(sfd);
    }
}

static void test_blur(void)
{
    tu_rng r = tu_seed(12);
    const int w = 41, h = 27;
    const double sigmas[] = {0.7, 2.0, 9.5};
    float *img = tu_rand_array(&r, (int64_t)w * h, 0, 1);
    float *orig = malloc((size_t)w * h * sizeof *orig);
    double *want = malloc((size_t)w * h * sizeof *want);
    memcpy(orig, img, (size_t)w * h * sizeof *img);
    TU_OK(cn_blur_f32(img, w, h, 0));
    TU_CHECK(memcmp(orig, img, (size_t)w * h * sizeof *img) == 0, "sigma 0 leaves the map alone");
    for (size_t s = 0; s < sizeof sigmas / sizeof sigmas[0]; s++) {
        double sg = sigmas[s];
        int rad = (int)ceil(3 * sg);
        double norm = 0;
        for (int i = -rad; i <= rad; i++)
            norm += exp(-i * i / (2 * sg * sg));
        /* direct 2-D convolution, edges repeated */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double acc = 0;
                for (int j = -rad; j <= rad; j++)
                    for (int i = -rad; i <= rad; i++) {
                        int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                        int yy = y + j < 0 ? 0 : y + j >= h ? h - 1 : y + j;
                        acc += exp(-(i * i + j * j) / (2 * sg * sg)) * orig[yy * w + xx];
                    }
                want[y * w + x] = acc / (norm * norm);
            }
        memcpy(img, orig, (size_t)w * h * sizeof *img);
        TU_OK(cn_blur_f32(img, w, h, sg));
        char what[64];
        snprintf(what, sizeof what, "blur sigma %.1f", sg);
        tu_compare(what, img, want, (int64_t)w * h, 1e-5, 1e-4);
    }
    for (int i = 0; i < w * h; i++)
        img[i] = 0.25f;
    TU_OK(cn_blur_f32(img, w, h, 3.0));
    float dev = 0;
    for (int i = 0; i < w * h; i++)
        dev = fmaxf(dev, fabsf(img[i] - 0.25f));
    TU_CHECK(dev < 1e-6f, "a constant map stays constant (off by %g)", dev);
    free(img);
    free(orig);
    free(want);
}

static void test_u8_colormap(void)
{
    float m[6] = {0.5f, 0.25f, -0.1f, NAN, 0.125f, 0.0f};
    uint8_t o[6];
    cn_map_to_u8(m, 6, o);
    TU_CHECK(o[0] == 255 && o[1] == 128 && o[2] == 0 && o[3] == 0 && o[4] == 64 && o[5] == 0,
             "scaled to max 255: %d %d %d %d %d %d", o[0], o[1], o[2], o[3], o[4], o[5]);
    float z[3] = {0, 0, 0};
    cn_map_to_u8(z, 3, o);
    TU_CHECK(o[0] == 0 && o[1] == 0 && o[2] == 0, "an all-zero map stays zero");

    double prev = -1;
    int mono = 1;
    uint8_t c[3];
    for (int v = 0; v < 256; v++) {
        cn_colormap((uint8_t)v, c);
        double lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        mono &= lum >= prev;
        prev = lum;
    }
    TU_CHECK(mono, "colormap lightness rises with the level");
    cn_colormap(0, c);
    TU_CHECK(c[0] + c[1] + c[2] < 60, "colormap starts dark");
    cn_colormap(255, c);
    TU_CHECK(c[0] > 200 && c[1] > 200, "colormap ends light");

    uint8_t frame[2 * 3] = {10, 200, 30, 90, 90, 90}, gray[2] = {0, 255}, out[6];
    cn_overlay(frame, gray, 2, 1, out);
    TU_CHECK(memcmp(out, frame, 3) == 0, "level 0 leaves the frame pixel as it is");
    TU_CHECK(memcmp(out + 3, frame + 3, 3) != 0, "level 255 colours the pixel");
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_png(void)
{
    char dir[512], path[600];
    if (tu_tmpdir_make(dir, sizeof dir, "predict_png") != 0)
        return;
    uint8_t px[7 * 5 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 7);
    const int comps[2] = {1, 3};
    for (int k = 0; k < 2; k++) {
        tu_path(path, sizeof path, dir, comps[k] == 1 ? "gray.png" : "rgb.png");
        TU_OK(cn_png_write(path, px, 7, 5, comps[k]));
        size_t n = 0;
        unsigned char *f = tu_read_file(path, &n);
        TU_CHECK(f && n > 33 && memcmp(f, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(f + 12, "IHDR", 4) == 0,
                 "%s is a PNG", path);
        if (f && n > 33) {
            TU_CHECK(be32(f + 16) == 7 && be32(f + 20) == 5, "%s is 7 x 5", path);
            TU_CHECK(f[24] == 8 && f[25] == (comps[k] == 1 ? 0 : 2), "%s: 8-bit %s", path,
                     comps[k] == 1 ? "gray" : "RGB");
        }
        free(f);
    }
    /* replacing keeps one file, and no temporary is left behind */
    tu_path(path, sizeof path, dir, "gray.png");
    TU_OK(cn_png_write(path, px, 7, 5, 1));
    TU_CHECK(tu_count_matching(dir, ".png") == 2, "two PNGs and no temporaries in %s", dir);
    TU_CHECK(tu_count_matching(dir, "XXXX") == 0 && tu_count_matching(dir, ".gray") == 0, "no temporary names");
    /* a folder that does not exist: CN_ERR_IO naming the file, nothing written */
    snprintf(path, sizeof path, "%s/missing/x.png", dir);
    cn_clear_error();
    int st = cn_png_write(path, px, 7, 5, 1);
    TU_CHECK(st == CN_ERR_IO && strstr(cn_last_error(), "missing/x.png"), "unwritable: %s (%s)",
             cn_status_name(st), cn_last_error());
    TU_FAILS(CN_ERR_ARG, cn_png_write(path, px, 7, 5, 2));
    tu_tmpdir_remove(dir);
}

int main(void)
{
    test_clips();
    test_names_batch();
    test_resize();
    test_blur();
    test_u8_colormap();
    test_png();
    return tu_finish("test_predict");
}
