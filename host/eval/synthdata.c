/* Synthetic STAViS-layout dataset: moving targets, Gaussian dense maps (JPEG), fixation maps through matio, WAVs through libsndfile, fold lists. */
#include "eval/synthdata.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <matio.h>
#include <sndfile.h>
/* Declarations only: the implementation is compiled once elsewhere in the library (video input). */
#include <stb/stb_image.h>

/* Declarations only: the implementation is compiled once, in stb_write_impl.c. */
#include <stb/stb_image_write.h>

#include "eval/dataset.h"
#include "runtime/status.h"

#define SY_H 48
#define SY_W 64
#define SY_FIX_PER_FRAME 8
#define SY_SIGMA 5.0

typedef struct sy_video {
    const char *name;
    int nframes;
    int ntargets;
    double y0[2], x0[2], y1[2], x1[2]; /* start and end of each target's path */
} sy_video;

typedef struct sy_db {
    const char *name;
    const char *fps;
    int numbered; /* three numbered folds, else one unnumbered split */
    int logical;  /* store fixations as logical uint8, else double */
    int nvideos;
    sy_video v[3];
} sy_db;

static const sy_db sy_dbs[2] = {
    {"SynthA", "25", 1, 0, 3,
     {{"a1", 20, 1, {10, 0}, {8, 0}, {36, 0}, {54, 0}},
      {"a2", 20, 2, {12, 34}, {50, 14}, {30, 20}, {20, 48}},
      {"a3", 20, 1, {24, 0}, {32, 0}, {26, 0}, {34, 0}}}},
    {"SynthB", "29.97", 0, 1, 2,
     {{"b1", 16, 1, {38, 0}, {10, 0}, {8, 0}, {56, 0}},
      {"b2", 16, 2, {8, 40}, {30, 6}, {20, 30}, {40, 58}}}},
};

static uint64_t sy_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double sy_unif(uint64_t *s)
{
    return (double)(sy_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double sy_normal(uint64_t *s)
{
    double u = sy_unif(s), v = sy_unif(s);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* mkdir -p. */
static int mkdirs(const char *path)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return cn_fail(CN_ERR_ARG, "%s: path too long", path);
    for (char *c = p + 1;; c++) {
        if (*c == '/' || *c == '\0') {
            char keep = *c;
            *c = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return cn_fail(CN_ERR_IO, "%s: cannot create directory: %s", p, strerror(errno));
            *c = keep;
            if (!keep)
                return CN_OK;
        }
    }
}

/* Directory part of a file path, created. */
static int mkparent(const char *file)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", file);
    char *slash = strrchr(d, '/');
    if (!slash)
        return CN_OK;
    *slash = '\0';
    return mkdirs(d);
}

static void target_at(const sy_video *v, int t, int f, double *y, double *x)
{
    double a = v->nframes > 1 ? (double)(f - 1) / (v->nframes - 1) : 0.0;
    *y = v->y0[t] + a * (v->y1[t] - v->y0[t]);
    *x = v->x0[t] + a * (v->x1[t] - v->x0[t]);
}

static int write_frame(const char *path, const sy_video *v, int f)
{
    unsigned char rgb[SY_H * SY_W * 3];
    for (int y = 0; y < SY_H; y++)
        for (int x = 0; x < SY_W; x++) {
            unsigned char *p = rgb + (y * SY_W + x) * 3;
            p[0] = (unsigned char)(30 + x), p[1] = (unsigned char)(40 + y), p[2] = 60;
            for (int t = 0; t < v->ntargets; t++) {
                double ty, tx;
                target_at(v, t, f, &ty, &tx);
                if ((y - ty) * (y - ty) + (x - tx) * (x - tx) <= 16.0)
                    p[0] = 250, p[1] = (unsigned char)(t ? 80 : 230), p[2] = 40;
            }
        }
    CN_TRY(mkparent(path));
    if (!stbi_write_jpg(path, SY_W, SY_H, 3, rgb, 95))
        return cn_fail(CN_ERR_IO, "%s: cannot write JPEG", path);
    return CN_OK;
}

/* Dense map: Gaussians on the targets scaled to 255; below one grey level
 * it is exactly 0, so the map has a true zero background. */
static int write_dense(const char *path, const char *pred_path, const sy_video *v, int f)
{
    unsigned char g[SY_H * SY_W];
    for (int y = 0; y < SY_H; y++)
        for (int x = 0; x < SY_W; x++) {
            double s = 0;
            for (int t = 0; t < v->ntargets; t++) {
                double ty, tx;
                target_at(v, t, f, &ty, &tx);
                s += (t ? 0.6 : 1.0) *
                     exp(-((y - ty) * (y - ty) + (x - tx) * (x - tx)) / (2 * SY_SIGMA * SY_SIGMA));
            }
            double val = 255.0 * fmin(s, 1.0);
            g[y * SY_W + x] = (unsigned char)(val < 1.0 ? 0 : floor(val + 0.5));
        }
    CN_TRY(mkparent(path));
    if (!stbi_write_jpg(path, SY_W, SY_H, 1, g, 95))
        return cn_fail(CN_ERR_IO, "%s: cannot write JPEG", path);
    /* The ground truth as a prediction: the JPEG as it decodes, losslessly. */
    int w, h, c;
    unsigned char *back = stbi_load(path, &w, &h, &c, 1);
    if (!back)
        return cn_fail(CN_ERR_FORMAT, "%s: cannot decode what was just written", path);
    CN_TRY(mkparent(pred_path));
    int ok = stbi_write_png(pred_path, w, h, 1, back, w);
    stbi_image_free(back);
    if (!ok)
        return cn_fail(CN_ERR_IO, "%s: cannot write PNG", pred_path);
    return CN_OK;
}

static int write_fix(const char *path, const sy_db *db, const sy_video *v, int f, uint64_t *rng)
{
    /* Column-major, as MATLAB stores it. */
    double dm[SY_H * SY_W] = {0};
    mat_uint8_t um[SY_H * SY_W] = {0};
    int blink = !strcmp(v->name, "b2") && f == 5;
    for (int i = 0; i < SY_FIX_PER_FRAME && !blink; i++) {
        int t = (v->ntargets > 1 && i % 3 == 2) ? 1 : 0;
        double ty, tx;
        target_at(v, t, f, &ty, &tx);
        int y = (int)lround(ty + 2.5 * sy_normal(rng)), x = (int)lround(tx + 2.5 * sy_normal(rng));
        y = y < 0 ? 0 : y >= SY_H ? SY_H - 1 : y;
        x = x < 0 ? 0 : x >= SY_W ? SY_W - 1 : x;
        dm[x * SY_H + y] = 1.0;
        um[x * SY_H + y] = 1;
    }
    CN_TRY(mkparent(path));
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    if (!mat)
        return cn_fail(CN_ERR_IO, "%s: cannot create MAT file", path);
    size_t dims[2] = {SY_H, SY_W};
    matvar_t *var = db->logical
                        ? Mat_VarCreate("eyeMap", MAT_C_UINT8, MAT_T_UINT8, 2, dims, um, MAT_F_LOGICAL)
                        : Mat_VarCreate("eyeMap", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, dm, 0);
    int st = CN_OK;
    if (!var || Mat_VarWrite(mat, var, MAT_COMPRESSION_ZLIB) != 0)
        st = cn_fail(CN_ERR_IO, "%s: cannot write variable eyeMap", path);
    Mat_VarFree(var);
    Mat_Close(mat);
    return st;
}

static int write_wav(const char *path, int nframes, double fps, double freq)
{
    CN_TRY(mkparent(path));
    SF_INFO info = {0};
    info.samplerate = 16000;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf)
        return cn_fail(CN_ERR_IO, "%s: cannot create WAV: %s", path, sf_strerror(NULL));
    sf_count_t n = (sf_count_t)ceil(nframes / fps * 16000.0);
    float buf[1024];
    int st = CN_OK;
    for (sf_count_t i = 0; i < n && st == CN_OK;) {
        sf_count_t k = n - i < 1024 ? n - i : 1024;
        for (sf_count_t j = 0; j < k; j++) {
            double t = (double)(i + j) / 16000.0;
            buf[j] = (float)(0.3 * sin(6.283185307179586 * freq * t) * (0.6 + 0.4 * sin(6.28318 * 2 * t)));
        }
        if (sf_writef_float(sf, buf, k) != k)
            st = cn_fail(CN_ERR_IO, "%s: write failed: %s", path, sf_strerror(sf));
        i += k;
    }
    sf_close(sf);
    return st;
}

static int write_list(const char *root, const sy_db *db, const char *kind, int split, int test_video)
{
    char path[4096];
    CN_TRY(cn_dataset_list_path(path, sizeof path, root, db->name, kind, split));
    CN_TRY(mkparent(path));
    FILE *f = fopen(path, "w");
    if (!f)
        return cn_fail(CN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    int want_test = !strcmp(kind, "test");
    for (int i = 0; i < db->nvideos; i++) {
        /* test_video < 0: one split, whose train and test lists both hold all */
        if (test_video < 0 || (i == test_video) == want_test)
            fprintf(f, "%s %d %s\n", db->v[i].name, db->v[i].nframes, db->fps);
    }
    if (fclose(f) != 0)
        return cn_fail(CN_ERR_IO, "%s: write failed", path);
    return CN_OK;
}

int cn_synth_write(const char *root, uint64_t seed)
{
    if (!root || !*root)
        return cn_fail(CN_ERR_ARG, "synthetic dataset: no root directory");
    CN_TRY(mkdirs(root));
    char pred_root[4096], p[4096], q[4096];
    if (snprintf(pred_root, sizeof pred_root, "%s/pred_gt", root) >= (int)sizeof pred_root)
        return cn_fail(CN_ERR_ARG, "%s: path too long", root);
    uint64_t rng = seed;
    for (int d = 0; d < 2; d++) {
        const sy_db *db = &sy_dbs[d];
        for (int i = 0; i < db->nvideos; i++) {
            const sy_video *v = &db->v[i];
            for (int f = 1; f <= v->nframes; f++) {
                CN_TRY(cn_dataset_frame_path(p, sizeof p, root, db->name, v->name, f));
                CN_TRY(write_frame(p, v, f));
                CN_TRY(cn_dataset_map_path(p, sizeof p, root, db->name, v->name, f));
                CN_TRY(cn_dataset_pred_path(q, sizeof q, pred_root, db->name, v->name, f));
                CN_TRY(write_dense(p, q, v, f));
                CN_TRY(cn_dataset_fix_path(p, sizeof p, root, db->name, v->name, f));
                CN_TRY(write_fix(p, db, v, f, &rng));
            }
            CN_TRY(cn_dataset_wav_path(p, sizeof p, root, db->name, v->name));
            CN_TRY(write_wav(p, v->nframes, atof(db->fps), 330.0 + 110.0 * i));
        }
        if (db->numbered) {
            for (int k = 1; k <= 3; k++) {
                CN_TRY(write_list(root, db, "test", k, k - 1));
                CN_TRY(write_list(root, db, "train", k, k - 1));
            }
        } else {
            CN_TRY(write_list(root, db, "test", 0, -1));
            CN_TRY(write_list(root, db, "train", 0, -1));
        }
    }
    return CN_OK;
}
