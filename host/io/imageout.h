/* Image helpers for whole-video output: bilinear resize, Gaussian blur, 8-bit scaling, colormap overlay, atomic PNG writing. */
#ifndef CASPNET_IMAGEOUT_H
#define CASPNET_IMAGEOUT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bilinear resize with pixel-centre alignment (output pixel x samples the
 * source at (x + 0.5) * sw / dw - 0.5, clamped to the edge), the convention
 * of PyTorch's align_corners=False and OpenCV's INTER_LINEAR; no
 * antialiasing when shrinking. Interleaved channels; 8-bit results are
 * rounded to nearest. src and dst must not overlap. */
void cn_resize_u8(const uint8_t *src, int sw, int sh, int ch, uint8_t *dst, int dw, int dh);
void cn_resize_f32(const float *src, int sw, int sh, float *dst, int dw, int dh);

/* Separable Gaussian blur in place of a w x h float image, sigma in pixels;
 * the kernel spans +-ceil(3 sigma) and is normalised to sum 1; pixels
 * outside the image repeat the nearest edge pixel. sigma <= 0 does nothing.
 * Fails only on memory (CN_ERR_OOM). */
int cn_blur_f32(float *img, int w, int h, double sigma);

/* n values scaled so that the largest becomes 255: out = round(v * 255 / max),
 * negatives and non-finite values to 0; an all-zero (or negative) map gives
 * all zeros. */
void cn_map_to_u8(const float *map, int64_t n, uint8_t *out);

/* The project's perceptual colormap (dark purple through red and orange to
 * pale yellow, monotone in lightness) at level v in 0..255. */
void cn_colormap(uint8_t v, uint8_t rgb[3]);

/* Heatmap over a frame: each pixel is the frame blended with the colormap of
 * its gray level, with the colour's weight growing with the level (0 leaves
 * the frame as it is, 255 is 70 % colour). frame, out: w x h x 3; gray: w x h. */
void cn_overlay(const uint8_t *frame, const uint8_t *gray, int w, int h, uint8_t *out);

/* Writes an 8-bit PNG (comp 1 = gray, 3 = RGB) to a temporary name in the
 * same folder and renames it over path, so path is either absent, its old
 * content, or the complete new image. Errors (CN_ERR_IO) name the path. */
int cn_png_write(const char *path, const uint8_t *px, int w, int h, int comp);

#ifdef __cplusplus
}
#endif
#endif
