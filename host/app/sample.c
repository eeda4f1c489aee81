/* The bundled sample clip, drawn and synthesised here: frames as PNG, the sound as WAV, both muxed to mp4 by the ffmpeg program. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/audio.h"
#include "app/sample.h"
#include "runtime/status.h"
#include "io/video.h"

/* declarations only: the library's copy is compiled in stb_write_impl.c */
#include <stb_image_write.h>

#define W CN_SAMPLE_WIDTH
#define H CN_SAMPLE_HEIGHT
#define FLOOR_Y 188.0   /* top of the floor, in pixels */
#define R_BOUNCE 20.0   /* radius of the sounding disc */
#define R_SILENT 16.0
#define BOUNCE_HEIGHT 110.0
#define PI 3.14159265358979323846

/* Integer hash to [0, 1): the texture and the noise are the same on every machine. */
static double hash01(uint32_t x, uint32_t y)
{
    uint32_t h = x * 0x8da6b343u ^ y * 0xd8163841u ^ 0x9e3779b9u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    h *= 0x297a2d39u;
    h ^= h >> 15;
    return (h >> 8) / 16777216.0;
}

/* Smooth value noise with 16-pixel cells: a texture without sharp edges that compresses well. */
static double value_noise(double x, double y)
{
    double fx = x / 16, fy = y / 16;
    int ix = (int)floor(fx), iy = (int)floor(fy);
    double tx = fx - ix, ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    double a = hash01((uint32_t)ix, (uint32_t)iy), b = hash01((uint32_t)ix + 1, (uint32_t)iy);
    double c = hash01((uint32_t)ix, (uint32_t)iy + 1), d = hash01((uint32_t)ix + 1, (uint32_t)iy + 1);
    return (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty;
}

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* Height of the sounding disc above its floor contact at time t: a parabola
 * per period, zero exactly at the bounce times. */
static double bounce_height(double t)
{
    double ph = fmod(t - CN_SAMPLE_FIRST_BOUNCE, CN_SAMPLE_BOUNCE_PERIOD);
    if (ph < 0)
        ph += CN_SAMPLE_BOUNCE_PERIOD;
    double s = 2 * ph / CN_SAMPLE_BOUNCE_PERIOD - 1;
    return BOUNCE_HEIGHT * (1 - s * s);
}

/* A triangle wave between lo and hi: the disc crosses the frame and comes back. */
static double sweep(double t, double speed, double lo, double hi)
{
    double span = hi - lo, p = fmod(speed * t, 2 * span);
    return lo + (p < span ? p : 2 * span - p);
}

typedef struct disc {
    double x, y, r;
    double col[3];
} disc;

static void blend(double *px, const double *col, double a)
{
    for (int c = 0; c < 3; c++)
        px[c] = px[c] * (1 - a) + col[c] * a;
}

/* A lit sphere look: brighter toward the upper left, anti-aliased rim. */
static void draw_disc(double *px, double x, double y, const disc *d)
{
    double dx = x - d->x, dy = y - d->y, dist = sqrt(dx * dx + dy * dy);
    double cover = clamp01(d->r - dist + 0.5);
    if (cover <= 0)
        return;
    double nx = dx / d->r, ny = dy / d->r, nz = sqrt(fmax(0, 1 - nx * nx - ny * ny));
    double lit = 0.55 + 0.6 * fmax(0, -0.45 * nx - 0.55 * ny + 0.70 * nz);
    double col[3];
    for (int c = 0; c < 3; c++)
        col[c] = fmin(255, d->col[c] * lit);
    blend(px, col, cover);
}

/* A soft elliptical shadow on the floor under a disc at height h. */
static void draw_shadow(double *px, double x, double y, double cx, double r, double h)
{
    double rx = r * (1.3 - 0.5 * h / BOUNCE_HEIGHT), ry = rx * 0.25;
    double dx = (x - cx) / rx, dy = (y - (FLOOR_Y + 4)) / ry, q = dx * dx + dy * dy;
    if (q >= 1)
        return;
    static const double black[3] = {0, 0, 0};
    blend(px, black, (1 - q) * 0.45 * (1 - 0.6 * h / BOUNCE_HEIGHT));
}

void cn_sample_frame(int i, uint8_t *rgb)
{
    double t = (double)i / CN_SAMPLE_FPS;
    double hb = bounce_height(t);
    disc a = {sweep(t, 110, 40, W - 40), FLOOR_Y - R_BOUNCE - hb, R_BOUNCE, {235, 95, 40}};
    disc b = {W * 0.68 + 80 * cos(2 * PI * t / 1.6), 62 + 28 * sin(2 * PI * t / 1.6), R_SILENT,
              {40, 175, 165}};
    double hs = FLOOR_Y - (b.y + R_SILENT);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double px[3], n = value_noise(x, y);
            if (y < FLOOR_Y) {
                /* wall: a vertical gradient, soft blotches, faint diagonal stripes */
                double g = (double)y / FLOOR_Y, stripe = 6 * sin((x + y) * 0.21);
                px[0] = 150 + 40 * g + 30 * (n - 0.5) + stripe;
                px[1] = 165 + 30 * g + 30 * (n - 0.5) + stripe;
                px[2] = 195 - 10 * g + 25 * (n - 0.5) + stripe;
            } else {
                /* floor: wooden boards */
                double grain = 10 * sin(x * 0.09 + 3 * n) + ((x / 64 + (y > 205)) % 2 ? 8 : -8);
                px[0] = 120 + grain + 20 * (n - 0.5);
                px[1] = 85 + grain * 0.8 + 15 * (n - 0.5);
                px[2] = 55 + grain * 0.5 + 10 * (n - 0.5);
                draw_shadow(px, x + 0.5, y + 0.5, a.x, a.r, hb);
                draw_shadow(px, x + 0.5, y + 0.5, b.x, b.r, fmin(hs, BOUNCE_HEIGHT));
            }
            draw_disc(px, x + 0.5, y + 0.5, &b);
            draw_disc(px, x + 0.5, y + 0.5, &a);
            for (int c = 0; c < 3; c++)
                rgb[((size_t)y * W + x) * 3 + c] = (uint8_t)lrint(fmin(255, fmax(0, px[c])));
        }
}

float *cn_sample_audio(int nframes, int64_t *n)
{
    int64_t len = llround((double)nframes / CN_SAMPLE_FPS * CN_SAMPLE_RATE);
    float *s = calloc((size_t)(len > 0 ? len : 1), sizeof *s);
    if (!s) {
        cn_fail(CN_ERR_OOM, "sample: out of memory for %lld audio samples", (long long)len);
        return NULL;
    }
    /* a quiet noise floor, as any room has */
    for (int64_t k = 0; k < len; k++)
        s[k] = (float)(0.004 * (hash01((uint32_t)k, 7u) - 0.5));
    double dur = (double)len / CN_SAMPLE_RATE;
    for (double tb = CN_SAMPLE_FIRST_BOUNCE; tb < dur; tb += CN_SAMPLE_BOUNCE_PERIOD) {
        int64_t k0 = llround(tb * CN_SAMPLE_RATE);
        /* a knock: a noise click of 4 ms over a tone of 35 ms decay with two overtones */
        for (int64_t k = k0; k < len && k < k0 + CN_SAMPLE_RATE * 3 / 10; k++) {
            double u = (double)(k - k0) / CN_SAMPLE_RATE;
            double tone = sin(2 * PI * 523.25 * u) + 0.5 * sin(2 * PI * 1046.5 * u + 0.3) +
                          0.25 * sin(2 * PI * 1569.75 * u + 0.7);
            double click = 2 * hash01((uint32_t)k, 11u) - 1;
            s[k] += (float)(0.45 * exp(-u / 0.035) * tone + 0.35 * exp(-u / 0.004) * click);
        }
    }
    *n = len;
    return s;
}

/* ---- writing the sample folder ---- */

static int is_frame_png(const char *name)
{
    for (int i = 0; i < 6; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    return strcmp(name + 6, ".png") == 0;
}

/* 1 when dir has entries besides . and .., 0 when empty, -1 on error. */
static int dir_nonempty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d)) != NULL)
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any;
}

/* Removes what this generator writes (NNNNNN.png frames, audio.wav,
 * sample.mp4) under dir, then the frames folder; never anything else. */
static void remove_ours(const char *dir, int remove_dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/frames", dir);
    DIR *d = opendir(p);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (is_frame_png(e->d_name)) {
                char f[4200];
                snprintf(f, sizeof f, "%s/%s", p, e->d_name);
                unlink(f);
            }
        closedir(d);
        rmdir(p);
    }
    snprintf(p, sizeof p, "%s/audio.wav", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/sample.mp4", dir);
    unlink(p);
    if (remove_dir)
        rmdir(dir);
}

/* Encodes the mp4 with one video codec: raw frames go to ffmpeg's stdin. */
static int encode_mp4(const char *ffmpeg, const char *tmp, int nframes, const char *codec,
                      uint8_t *rgb)
{
    char wav[4200], mp4[4200], size[32], rate[16];
    snprintf(wav, sizeof wav, "file:%s/audio.wav", tmp);
    snprintf(mp4, sizeof mp4, "file:%s/sample.mp4", tmp);
    snprintf(size, sizeof size, "%dx%d", W, H);
    snprintf(rate, sizeof rate, "%d", CN_SAMPLE_FPS);
    int x264 = strcmp(codec, "libx264") == 0;
    const char *argv[] = {ffmpeg, "-hide_banner", "-nostats", "-v", "error", "-y",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-framerate", rate,
                          "-i", "pipe:0", "-i", wav, "-map", "0:v", "-map", "1:a",
                          "-c:v", codec, x264 ? "-crf" : "-q:v", x264 ? "18" : "3",
                          "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
                          "-movflags", "+faststart", "-f", "mp4", mp4, NULL};
    cn_proc p;
    CN_TRY(cn_proc_start(argv, 1, 0, 1, &p));
    int st = CN_OK;
    for (int i = 0; i < nframes && st == CN_OK; i++) {
        cn_sample_frame(i, rgb);
        st = cn_proc_write(&p, rgb, (size_t)W * H * 3, mp4 + 5);
    }
    int rc = cn_proc_wait(&p);
    if (st == CN_OK && rc != 0)
        st = cn_fail(CN_ERR_IO, "%s: ffmpeg (%s) failed: %s", mp4 + 5, codec,
                     cn_proc_last_error(&p)[0] ? cn_proc_last_error(&p) : "no message");
    return st;
}

static int generate(const char *ffmpeg, const char *tmp, int nframes, uint8_t *rgb)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/frames", tmp);
    if (mkdir(p, 0777) != 0)
        return cn_fail(CN_ERR_IO, "%s: cannot create: %s", p, strerror(errno));
    for (int i = 0; i < nframes; i++) {
        cn_sample_frame(i, rgb);
        snprintf(p, sizeof p, "%s/frames/%06d.png", tmp, i + 1);
        if (!stbi_write_png(p, W, H, 3, rgb, W * 3))
            return cn_fail(CN_ERR_IO, "%s: cannot write the PNG", p);
    }
    int64_t n;
    float *s = cn_sample_audio(nframes, &n);
    if (!s)
        return CN_ERR_OOM;
    snprintf(p, sizeof p, "%s/audio.wav", tmp);
    int st = cn_audio_write(p, s, n, 1, CN_SAMPLE_RATE, CN_AUDIO_PCM_16);
    free(s);
    CN_TRY(st);
    /* Debian's ffmpeg has libx264; a build without it still has MPEG-4 part 2 */
    st = encode_mp4(ffmpeg, tmp, nframes, "libx264", rgb);
    if (st != CN_OK)
        st = encode_mp4(ffmpeg, tmp, nframes, "mpeg4", rgb);
    return st;
}

/* Moves tmp's three entries over an existing, non-empty dir (--force). */
static int replace_into(const char *tmp, const char *dir)
{
    char from[4200], to[4200];
    remove_ours(dir, 0);
    static const char *names[] = {"frames", "audio.wav", "sample.mp4"};
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s/%s", tmp, names[i]);
        snprintf(to, sizeof to, "%s/%s", dir, names[i]);
        if (rename(from, to) != 0)
            return cn_fail(CN_ERR_IO, "%s: cannot replace: %s%s", to, strerror(errno),
                           errno == ENOTEMPTY || errno == EEXIST ? " (it holds files that are not frames)" : "");
    }
    rmdir(tmp);
    return CN_OK;
}

int cn_sample_write(const char *dir, int nframes, int force)
{
    if (!dir || !dir[0])
        return cn_fail(CN_ERR_ARG, "make-sample: no output folder");
    if (nframes == 0)
        nframes = CN_SAMPLE_FRAMES;
    if (nframes < 1 || nframes > 100000)
        return cn_fail(CN_ERR_ARG, "make-sample: %d frames is not in [1, 100000]", nframes);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len >= 3000)
        return cn_fail(CN_ERR_ARG, "%s: path too long", dir);
    char out[3100], parent[3100], tmp[3200];
    snprintf(out, sizeof out, "%.*s", (int)len, dir);
    struct stat st;
    int exists = stat(out, &st) == 0;
    if (exists && !S_ISDIR(st.st_mode))
        return cn_fail(CN_ERR_IO, "%s: exists and is not a folder", out);
    int nonempty = exists ? dir_nonempty(out) : 0;
    if (nonempty < 0)
        return cn_fail(CN_ERR_IO, "%s: cannot read: %s", out, strerror(errno));
    if (nonempty && !force)
        return cn_fail(CN_ERR_IO, "%s: folder is not empty (use --force to replace the sample in it)",
                       out);
    char ffmpeg[4096];
    CN_TRY(cn_find_program("ffmpeg", ffmpeg, sizeof ffmpeg));

    /* the temporary folder sits beside the output, so the renames stay on one file system */
    const char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == out)
        snprintf(parent, sizeof parent, "/");
    else
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - out), out);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp-XXXXXX", parent, slash ? slash + 1 : out);
    if (!mkdtemp(tmp))
        return cn_fail(CN_ERR_IO, "%s: cannot create a temporary folder in %s: %s", out, parent,
                       strerror(errno));
    uint8_t *rgb = malloc((size_t)W * H * 3);
    int s = rgb ? generate(ffmpeg, tmp, nframes, rgb)
                : cn_fail(CN_ERR_OOM, "make-sample: out of memory");
    free(rgb);
    if (s == CN_OK) {
        /* rename replaces an empty folder in one step */
        if (!nonempty) {
            if (rename(tmp, out) != 0)
                s = cn_fail(CN_ERR_IO, "%s: cannot rename %s to it: %s", out, tmp, strerror(errno));
        } else
            s = replace_into(tmp, out);
    }
    if (s != CN_OK)
        remove_ours(tmp, 1);
    return s;
}
