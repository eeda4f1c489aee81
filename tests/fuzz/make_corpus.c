/* Writes the fuzzers' seed corpora: small valid safetensors, .npy, WAV and image files, one folder per target (usage: fuzz_make_corpus OUTDIR). */
/* Written byte by byte from the format descriptions rather than with the
 * project's own writers, so the seeds also exercise layouts those writers
 * never produce (other dtypes, versions, padding, tensor order). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* M_PI is not in strict C11 */
static const double PI = 3.14159265358979323846;

static const char *outdir;
static int failures;

/* A growable byte buffer; each seed is built in one and written at once. */
typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "make_corpus: out of memory\n");
            exit(1);
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_str(buf *b, const char *s) { put(b, s, strlen(s)); }
static void put_le(buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}
static void put_be(buf *b, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}
static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static uint64_t f64_bits(double f)
{
    uint64_t u;
    memcpy(&u, &f, 8);
    return u;
}
/* Truncation is enough for seeds: the values only need to be finite halves. */
static uint16_t f16_bits(float f)
{
    uint32_t u = f32_bits(f);
    int e = (int)((u >> 23) & 0xff) - 127 + 15;
    uint16_t s = (uint16_t)((u >> 16) & 0x8000);
    if (f == 0.0f || e <= 0)
        return s;
    return (uint16_t)(s | (e << 10) | ((u >> 13) & 0x3ff));
}

static void save(const char *target, const char *name, buf *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_corpus: cannot create %s: %s\n", path, strerror(errno));
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        failures++;
    }
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- safetensors: 8-byte length, JSON header, data section ---- */

static void st_file(const char *name, const char *json, const buf *data, int pad)
{
    buf b = {0};
    size_t n = strlen(json);
    size_t padded = pad ? (n + 7) / 8 * 8 : n; /* writers pad with spaces to align the data */
    put_le(&b, padded, 8);
    put_str(&b, json);
    for (size_t i = n; i < padded; i++)
        put_str(&b, " ");
    if (data)
        put(&b, data->p, data->n);
    save("safetensors", name, &b);
}

static void seeds_safetensors(void)
{
    buf d = {0};
    for (int i = 0; i < 6; i++)
        put_le(&d, f32_bits(0.5f * (float)i - 1.0f), 4);
    st_file("f32_2x3.safetensors",
            "{\"__metadata__\":{\"format\":\"pt\",\"variant\":\"v\"},"
            "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
            &d, 1);
    free(d.p);
    memset(&d, 0, sizeof d);

    /* every dtype, a scalar, an empty tensor, and header order != data order */
    put_le(&d, f32_bits(3.25f), 4);               /* s: F32 scalar, bytes 0..4 */
    for (int i = 0; i < 4; i++)                   /* h: F16 [4], bytes 4..12 */
        put_le(&d, f16_bits((float)i - 1.5f), 2);
    for (int i = 0; i < 4; i++)                   /* b: BF16 [2,2], bytes 12..20 */
        put_le(&d, f32_bits((float)i * 0.25f) >> 16, 2);
    st_file("mixed.safetensors",
            "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[12,20]},"
            "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[20,20]},"
            "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
            "\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[4,12]}}",
            &d, 1);
    free(d.p);
    memset(&d, 0, sizeof d);

    for (int i = 0; i < 12; i++)
        put_le(&d, f32_bits(sinf((float)i)), 4);
    st_file("six_dims.safetensors",
            "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,2,1,3,1,2],\"data_offsets\":[0,48]}}", &d, 0);
    free(d.p);
    st_file("empty.safetensors", "{}", NULL, 0);
}

/* ---- .npy: magic, version, header length, dict, data ---- */

static void npy_file(const char *name, int major, const char *descr, const char *shape,
                     const void *data, size_t bytes)
{
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t pre = major == 1 ? 10 : 12; /* magic 6 + version 2 + length 2 or 4 */
    size_t n = strlen(dict) + 1;       /* + the newline */
    size_t total = (pre + n + 63) / 64 * 64;
    buf b = {0};
    put_str(&b, "\x93NUMPY");
    unsigned char ver[2] = {(unsigned char)major, 0};
    put(&b, ver, 2);
    put_le(&b, total - pre, major == 1 ? 2 : 4);
    put_str(&b, dict);
    for (size_t i = pre + n; i < total; i++)
        put_str(&b, " ");
    put_str(&b, "\n");
    put(&b, data, bytes);
    save("npy", name, &b);
}

static void seeds_npy(void)
{
    buf d = {0};
    for (int i = 0; i < 6; i++)
        put_le(&d, f32_bits((float)i / 3.0f), 4);
    npy_file("f4_2x3.npy", 1, "<f4", "(2, 3)", d.p, d.n);
    free(d.p);
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 5; i++)
        put_le(&d, f64_bits(-1.0 + 0.5 * i), 8);
    npy_file("f8_5_v2.npy", 2, "<f8", "(5,)", d.p, d.n);
    free(d.p);
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 4; i++)
        put_le(&d, f16_bits(0.25f * (float)i), 2);
    npy_file("f2_4_v3.npy", 3, "<f2", "(4,)", d.p, d.n);
    free(d.p);
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 8; i++) {
        unsigned char c = (unsigned char)(i * 31);
        put(&d, &c, 1);
    }
    npy_file("u1_2x2x2.npy", 1, "|u1", "(2, 2, 2)", d.p, d.n);
    free(d.p);
    memset(&d, 0, sizeof d);
    put_be(&d, f32_bits(7.5f), 4);
    npy_file("be_f4_scalar.npy", 1, ">f4", "()", d.p, d.n);
    free(d.p);
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 3; i++)
        put_be(&d, f64_bits(i * 1.5), 8);
    npy_file("be_f8_3x1.npy", 1, ">f8", "(3, 1)", d.p, d.n);
    free(d.p);
    npy_file("empty_0x4.npy", 1, "<f4", "(0, 4)", NULL, 0);
    float one = 1.0f;
    npy_file("six_dims.npy", 1, "<f4", "(1, 1, 1, 1, 1, 1)", &one, 4);
}

/* ---- WAV: RIFF, fmt, data ---- */

static void wav_file(const char *name, int format, int channels, int rate, int bits, int frames)
{
    int bps = bits / 8;
    buf d = {0};
    for (int i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++) {
            double v = 0.5 * sin(2 * PI * 440.0 * i / rate + c);
            if (format == 3)
                put_le(&d, bits == 64 ? f64_bits(v) : f32_bits((float)v), bps);
            else if (bits == 8)
                put_le(&d, (uint64_t)(128 + (int)(v * 127)), 1);
            else
                put_le(&d, (uint64_t)(int64_t)(v * ((1ll << (bits - 1)) - 1)), bps);
        }
    buf b = {0};
    put_str(&b, "RIFF");
    put_le(&b, 4 + 8 + 16 + 8 + d.n, 4);
    put_str(&b, "WAVEfmt ");
    put_le(&b, 16, 4);
    put_le(&b, (uint64_t)format, 2);
    put_le(&b, (uint64_t)channels, 2);
    put_le(&b, (uint64_t)rate, 4);
    put_le(&b, (uint64_t)rate * channels * bps, 4);
    put_le(&b, (uint64_t)channels * bps, 2);
    put_le(&b, (uint64_t)bits, 2);
    put_str(&b, "data");
    put_le(&b, d.n, 4);
    put(&b, d.p, d.n);
    free(d.p);
    save("wav", name, &b);
}

static void seeds_wav(void)
{
    wav_file("pcm16_mono_16k.wav", 1, 1, 16000, 16, 200);
    wav_file("pcm8_stereo_8k.wav", 1, 2, 8000, 8, 100);
    wav_file("pcm24_mono_44k.wav", 1, 1, 44100, 24, 120);
    wav_file("pcm32_3ch_22k.wav", 1, 3, 22050, 32, 60);
    wav_file("float_stereo_48k.wav", 3, 2, 48000, 32, 100);
    wav_file("double_mono_16k.wav", 3, 1, 16000, 64, 50);
    wav_file("empty_16k.wav", 1, 1, 16000, 16, 0);
}

/* ---- images: every format stb_image_write knows, small ---- */

static void to_buf(void *ctx, void *data, int size) { put((buf *)ctx, data, (size_t)size); }

static void seeds_image(void)
{
    enum { W = 12, H = 8 };
    unsigned char px[W * H * 4];
    float hdr[W * H * 3];
    for (int i = 0; i < W * H * 4; i++)
        px[i] = (unsigned char)((i * 37) ^ (i >> 3));
    for (int i = 0; i < W * H * 3; i++)
        hdr[i] = (float)i / 50.0f;
    struct {
        const char *name;
        int comp;
    } pngs[] = {{"rgb.png", 3}, {"gray.png", 1}, {"gray_alpha.png", 2}, {"rgba.png", 4}};
    for (size_t i = 0; i < sizeof pngs / sizeof pngs[0]; i++) {
        buf b = {0};
        if (!stbi_write_png_to_func(to_buf, &b, W, H, pngs[i].comp, px, W * pngs[i].comp))
            failures++;
        save("image", pngs[i].name, &b);
    }
    buf b = {0};
    if (!stbi_write_jpg_to_func(to_buf, &b, W, H, 3, px, 90))
        failures++;
    save("image", "rgb.jpg", &b);
    if (!stbi_write_jpg_to_func(to_buf, &b, W, H, 1, px, 50))
        failures++;
    save("image", "gray.jpg", &b);
    if (!stbi_write_bmp_to_func(to_buf, &b, W, H, 3, px))
        failures++;
    save("image", "rgb.bmp", &b);
    stbi_write_tga_with_rle = 1;
    if (!stbi_write_tga_to_func(to_buf, &b, W, H, 4, px))
        failures++;
    save("image", "rle.tga", &b);
    if (!stbi_write_hdr_to_func(to_buf, &b, W, H, 3, hdr))
        failures++;
    save("image", "rgb.hdr", &b);
    /* binary PPM and PGM have no writer in stb: the header is one line */
    char head[64];
    snprintf(head, sizeof head, "P6\n%d %d\n255\n", W, H);
    put_str(&b, head);
    put(&b, px, W * H * 3);
    save("image", "rgb.ppm", &b);
    snprintf(head, sizeof head, "P5 %d %d 255\n", W, H);
    put_str(&b, head);
    put(&b, px, W * H);
    save("image", "gray.pgm", &b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_corpus OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_corpus: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    seeds_safetensors();
    seeds_npy();
    seeds_wav();
    seeds_image();
    if (failures)
        fprintf(stderr, "make_corpus: %d seed(s) failed\n", failures);
    return failures ? 1 : 0;
}
