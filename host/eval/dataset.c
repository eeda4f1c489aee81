/* STAViS dataset layout: fold-list parsing, path construction, MAT fixation maps through matio and grey images through stb_image. */
#include "eval/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <matio.h>
/* Declarations only: the implementation is compiled once elsewhere in the library (video input). */
#include <stb/stb_image.h>

#include "io/imagecheck.h"
#include "runtime/status.h"

/* ---- fold lists ---- */

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Splits s in place at blanks; returns the field count (at most max kept). */
static int split_fields(char *s, char **f, int max)
{
    int n = 0;
    for (;;) {
        while (*s && is_blank((unsigned char)*s))
            s++;
        if (!*s)
            return n;
        if (n < max)
            f[n] = s;
        n++;
        while (*s && !is_blank((unsigned char)*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
}

void cn_dataset_list_free(cn_dataset_list *l)
{
    if (!l)
        return;
    free(l->videos);
    memset(l, 0, sizeof *l);
}

int cn_dataset_read_list(const char *path, cn_dataset_list *out)
{
    if (!out)
        return cn_fail(CN_ERR_ARG, "dataset: NULL list");
    memset(out, 0, sizeof *out);
    if (!path)
        return cn_fail(CN_ERR_ARG, "dataset: NULL list path");
    if (strlen(path) >= sizeof out->path)
        return cn_fail(CN_ERR_ARG, "%s: path too long", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return cn_fail(CN_ERR_IO, "%s: cannot open fold list: %s", path, strerror(errno));
    strcpy(out->path, path);
    char line[8192];
    int lineno = 0, cap = 0, st = CN_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            st = cn_fail(CN_ERR_FORMAT, "%s:%d: line too long", path, lineno);
            break;
        }
        char *fld[3];
        int nf = split_fields(line, fld, 3);
        if (nf == 0)
            continue;
        if (nf != 3) {
            st = cn_fail(CN_ERR_FORMAT, "%s:%d: expected '<video> <nframes> <fps>', found %d field(s)",
                         path, lineno, nf);
            break;
        }
        if (strlen(fld[0]) >= CN_DATASET_NAME_MAX || strchr(fld[0], '/') || !strcmp(fld[0], ".") ||
            !strcmp(fld[0], "..")) {
            st = cn_fail(CN_ERR_FORMAT, "%s:%d: bad video name '%.40s'", path, lineno, fld[0]);
            break;
        }
        char *end;
        errno = 0;
        long nfr = strtol(fld[1], &end, 10);
        if (errno || *end || end == fld[1] || nfr < 1 || nfr > 10000000) {
            st = cn_fail(CN_ERR_FORMAT, "%s:%d: nframes '%s' is not an integer in [1, 10000000]", path,
                         lineno, fld[1]);
            break;
        }
        errno = 0;
        double fps = strtod(fld[2], &end);
        if (errno || *end || end == fld[2] || !(fps > 0.0 && fps <= 1000.0)) {
            st = cn_fail(CN_ERR_FORMAT, "%s:%d: fps '%s' is not a number in (0, 1000]", path, lineno,
                         fld[2]);
            break;
        }
        for (int i = 0; i < out->count; i++)
            if (!strcmp(out->videos[i].name, fld[0])) {
                st = cn_fail(CN_ERR_FORMAT, "%s:%d: video '%s' is listed twice", path, lineno, fld[0]);
                break;
            }
        if (st != CN_OK)
            break;
        if (out->count == cap) {
            int nc = cap ? 2 * cap : 16;
            cn_dataset_video *nv = realloc(out->videos, (size_t)nc * sizeof *nv);
            if (!nv) {
                st = cn_fail(CN_ERR_OOM, "%s: out of memory", path);
                break;
            }
            out->videos = nv, cap = nc;
        }
        cn_dataset_video *v = &out->videos[out->count++];
        strcpy(v->name, fld[0]);
        v->nframes = (int)nfr;
        v->fps = fps;
    }
    if (st == CN_OK && ferror(f))
        st = cn_fail(CN_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st == CN_OK && out->count == 0)
        st = cn_fail(CN_ERR_FORMAT, "%s: no video in the fold list", path);
    if (st != CN_OK)
        cn_dataset_list_free(out);
    return st;
}

/* ---- paths ---- */

static int fmt_path(char *out, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fmt_path(char *out, size_t cap, const char *fmt, ...)
{
    if (!out || cap == 0)
        return cn_fail(CN_ERR_ARG, "dataset: no room for a path");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return cn_fail(CN_ERR_ARG, "dataset: path '%.60s...' longer than %zu bytes", out, cap - 1);
    return CN_OK;
}

static int check_parts(const char *a, const char *b, const char *c)
{
    if (!a || !b || !c)
        return cn_fail(CN_ERR_ARG, "dataset: NULL root, dataset or video name");
    return CN_OK;
}

int cn_dataset_frame_path(char *out, size_t cap, const char *root, const char *db, const char *video,
                          int frame)
{
    CN_TRY(check_parts(root, db, video));
    return fmt_path(out, cap, "%s/video_frames/%s/%s/img_%05d.jpg", root, db, video, frame);
}

int cn_dataset_wav_path(char *out, size_t cap, const char *root, const char *db, const char *video)
{
    CN_TRY(check_parts(root, db, video));
    return fmt_path(out, cap, "%s/video_audio/%s/%s/%s.wav", root, db, video, video);
}

int cn_dataset_map_path(char *out, size_t cap, const char *root, const char *db, const char *video,
                        int frame)
{
    CN_TRY(check_parts(root, db, video));
    return fmt_path(out, cap, "%s/annotations/%s/%s/maps/eyeMap_%05d.jpg", root, db, video, frame);
}

int cn_dataset_fix_path(char *out, size_t cap, const char *root, const char *db, const char *video,
                        int frame)
{
    CN_TRY(check_parts(root, db, video));
    return fmt_path(out, cap, "%s/annotations/%s/%s/fixMap_%05d.mat", root, db, video, frame);
}

int cn_dataset_pred_path(char *out, size_t cap, const char *pred_root, const char *db,
                         const char *video, int frame)
{
    CN_TRY(check_parts(pred_root, db, video));
    return fmt_path(out, cap, "%s/%s/%s/img_%05d.png", pred_root, db, video, frame);
}

int cn_dataset_list_path(char *out, size_t cap, const char *root, const char *db, const char *kind,
                         int split)
{
    CN_TRY(check_parts(root, db, kind));
    if (split < 0 || split > CN_DATASET_MAX_SPLITS)
        return cn_fail(CN_ERR_ARG, "dataset: split %d is not 0..%d", split, CN_DATASET_MAX_SPLITS);
    if (split == 0)
        return fmt_path(out, cap, "%s/fold_lists/%s_list_%s_fps.txt", root, db, kind);
    return fmt_path(out, cap, "%s/fold_lists/%s_list_%s_%d_fps.txt", root, db, kind, split);
}

static int exists(const char *p)
{
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

int cn_dataset_load_split(const char *root, const char *db, const char *kind, int split,
                          cn_dataset_list *out)
{
    char p[4096], p0[4096];
    if (out)
        memset(out, 0, sizeof *out);
    CN_TRY(cn_dataset_list_path(p, sizeof p, root, db, kind, split));
    if (split == 1 && !exists(p)) {
        CN_TRY(cn_dataset_list_path(p0, sizeof p0, root, db, kind, 0));
        if (exists(p0))
            strcpy(p, p0), split = 0;
    }
    CN_TRY(cn_dataset_read_list(p, out));
    out->split = split;
    return CN_OK;
}

int cn_dataset_test_splits(const char *root, const char *db, int splits[CN_DATASET_MAX_SPLITS],
                           int *count)
{
    char p[4096];
    if (!splits || !count)
        return cn_fail(CN_ERR_ARG, "dataset: NULL split output");
    *count = 0;
    for (int k = 1; k <= CN_DATASET_MAX_SPLITS; k++) {
        CN_TRY(cn_dataset_list_path(p, sizeof p, root, db, "test", k));
        if (exists(p))
            splits[(*count)++] = k;
    }
    if (*count)
        return CN_OK;
    CN_TRY(cn_dataset_list_path(p, sizeof p, root, db, "test", 0));
    if (exists(p)) {
        splits[(*count)++] = 0;
        return CN_OK;
    }
    return cn_fail(CN_ERR_IO, "%s/fold_lists: no test list for '%s' (%s_list_test_{1,2,3}_fps.txt or %s)",
                   root, db, db, p);
}

/* ---- MAT files ---- */

/* matio reports problems through a process-wide log function that prints to
 * stderr by default; the last message is kept instead so that the error we
 * return can quote it and the program prints one line. */
static _Thread_local char mat_msg[256];

static void mat_log(int level, char *message)
{
    (void)level;
    snprintf(mat_msg, sizeof mat_msg, "%s", message ? message : "");
}

static void mat_quiet_once(void)
{
    static int done; /* a benign race: every thread installs the same function */
    if (!done) {
        Mat_LogInitFunc("caspnet", mat_log);
        done = 1;
    }
}

static const char *mat_class_name(enum matio_classes c)
{
    switch (c) {
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_OBJECT: return "object";
    case MAT_C_CHAR: return "char";
    case MAT_C_SPARSE: return "sparse";
    case MAT_C_FUNCTION: return "function";
    default: return "non-numeric";
    }
}

/* Element (column-major index i) of a numeric matio array as double. */
static double mat_elem(const matvar_t *v, size_t i)
{
    switch (v->data_type) {
    case MAT_T_DOUBLE: return ((const double *)v->data)[i];
    case MAT_T_SINGLE: return ((const float *)v->data)[i];
    case MAT_T_INT8: return ((const mat_int8_t *)v->data)[i];
    case MAT_T_UINT8: return ((const mat_uint8_t *)v->data)[i];
    case MAT_T_INT16: return ((const mat_int16_t *)v->data)[i];
    case MAT_T_UINT16: return ((const mat_uint16_t *)v->data)[i];
    case MAT_T_INT32: return ((const mat_int32_t *)v->data)[i];
    case MAT_T_UINT32: return ((const mat_uint32_t *)v->data)[i];
    case MAT_T_INT64: return (double)((const mat_int64_t *)v->data)[i];
    case MAT_T_UINT64: return (double)((const mat_uint64_t *)v->data)[i];
    default: return NAN;
    }
}

static int mat_type_ok(enum matio_types t)
{
    switch (t) {
    case MAT_T_DOUBLE: case MAT_T_SINGLE: case MAT_T_INT8: case MAT_T_UINT8: case MAT_T_INT16:
    case MAT_T_UINT16: case MAT_T_INT32: case MAT_T_UINT32: case MAT_T_INT64: case MAT_T_UINT64:
        return 1;
    default:
        return 0;
    }
}

/* matio reads an uncompressed variable with a short read and no complaint,
 * so a truncated v5 file would yield garbage: walk the top-level element
 * tags and require each to end inside the file. v4 and v7.3 files are left
 * to matio (no such tags; HDF5 checks itself). */
static int mat5_check_extent(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cn_fail(CN_ERR_IO, "%s: cannot open fixation map: %s", path, strerror(errno));
    unsigned char hdr[128];
    int st = CN_OK;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    int is_v5 = size >= 128 && fread(hdr, 1, 128, f) == 128 &&
                ((hdr[126] == 'I' && hdr[127] == 'M') || (hdr[126] == 'M' && hdr[127] == 'I'));
    int version = is_v5 ? (hdr[126] == 'I' ? hdr[124] | hdr[125] << 8 : hdr[125] | hdr[124] << 8) : 0;
    if (is_v5 && version == 0x0100) {
        int swap = hdr[126] == 'M';
        long off = 128;
        while (off + 8 <= size) {
            unsigned char t[8];
            fseek(f, off, SEEK_SET);
            if (fread(t, 1, 8, f) != 8)
                break;
            unsigned long nb = swap ? (unsigned long)t[4] << 24 | t[5] << 16 | t[6] << 8 | t[7]
                                    : (unsigned long)t[7] << 24 | t[6] << 16 | t[5] << 8 | t[4];
            if ((unsigned long)(size - off - 8) < nb) {
                st = cn_fail(CN_ERR_FORMAT, "%s: truncated MAT file: an element of %lu bytes at offset %ld "
                             "runs past the end (%ld bytes)", path, nb, off, size);
                break;
            }
            off += 8 + (long)nb; /* miMATRIX sizes include their padding; miCOMPRESSED has none */
        }
    }
    fclose(f);
    return st;
}

int cn_dataset_read_mat(const char *path, const char *var, float **data, int *h, int *w)
{
    if (!path || !data || !h || !w)
        return cn_fail(CN_ERR_ARG, "dataset: read_mat: NULL argument");
    *data = NULL;
    *h = *w = 0;
    if (!var)
        var = "eyeMap";
    CN_TRY(mat5_check_extent(path));
    mat_quiet_once();
    mat_msg[0] = '\0';
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat)
        return cn_fail(CN_ERR_FORMAT, "%s: not a readable MAT file%s%s", path, mat_msg[0] ? ": " : "",
                       mat_msg);
    int st = CN_OK;
    matvar_t *v = Mat_VarRead(mat, var);
    if (!v) {
        /* Mat_VarRead fails both for a missing name and for unreadable data;
         * the header pass tells the two apart. */
        Mat_Rewind(mat);
        matvar_t *info = Mat_VarReadInfo(mat, var);
        if (info)
            st = cn_fail(CN_ERR_FORMAT, "%s: variable '%s' cannot be read (corrupt data?)%s%s", path,
                         var, mat_msg[0] ? ": " : "", mat_msg);
        else
            st = cn_fail(CN_ERR_FORMAT, "%s: no variable '%s' (is this a fixation map?)", path, var);
        Mat_VarFree(info);
        Mat_Close(mat);
        return st;
    }
    if (v->class_type == MAT_C_CELL || v->class_type == MAT_C_STRUCT || v->class_type == MAT_C_OBJECT ||
        v->class_type == MAT_C_CHAR || v->class_type == MAT_C_SPARSE || v->class_type == MAT_C_FUNCTION)
        st = cn_fail(CN_ERR_FORMAT, "%s: '%s' is a %s array, not a numeric map", path, var,
                     mat_class_name(v->class_type));
    else if (v->isComplex)
        st = cn_fail(CN_ERR_FORMAT, "%s: '%s' is complex", path, var);
    else if (v->rank != 2 || v->dims[0] < 1 || v->dims[1] < 1 || v->dims[0] > 65536 || v->dims[1] > 65536)
        st = cn_fail(CN_ERR_FORMAT, "%s: '%s' is not a 2-D map (rank %d)", path, var, v->rank);
    else if (!v->data || !mat_type_ok(v->data_type))
        st = cn_fail(CN_ERR_FORMAT, "%s: '%s' has no readable numeric data", path, var);
    if (st == CN_OK) {
        size_t rows = v->dims[0], cols = v->dims[1], n = rows * cols;
        float *d = malloc(n * sizeof *d);
        if (!d) {
            st = cn_fail(CN_ERR_OOM, "%s: %zux%zu map: out of memory", path, rows, cols);
        } else {
            /* MATLAB is column-major: element (r, c) sits at r + c * rows. */
            for (size_t c = 0; c < cols && st == CN_OK; c++)
                for (size_t r = 0; r < rows; r++) {
                    double x = mat_elem(v, r + c * rows);
                    if (!isfinite(x)) {
                        st = cn_fail(CN_ERR_FORMAT, "%s: '%s'(%zu,%zu) is not finite", path, var, r + 1,
                                     c + 1);
                        break;
                    }
                    d[r * cols + c] = (float)x;
                }
            if (st == CN_OK) {
                *data = d;
                *h = (int)rows;
                *w = (int)cols;
            } else {
                free(d);
            }
        }
    }
    Mat_VarFree(v);
    Mat_Close(mat);
    return st;
}

/* ---- images ---- */

int cn_dataset_read_gray(const char *path, float **data, int *h, int *w)
{
    if (!path || !data || !h || !w)
        return cn_fail(CN_ERR_ARG, "dataset: read_gray: NULL argument");
    *data = NULL;
    *h = *w = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cn_fail(CN_ERR_IO, "%s: cannot open image: %s", path, strerror(errno));
    int pre = cn_image_precheck(f, path);
    if (pre != CN_OK) {
        fclose(f);
        return pre;
    }
    int x, y, comp;
    /* stbi_loadf would apply a 2.2 gamma to 8-bit data, so the integer
     * loaders are used and the values kept as they are in the file. */
    int is16 = stbi_is_16_bit_from_file(f);
    fseek(f, 0, SEEK_SET);
    void *pix = is16 ? (void *)stbi_load_from_file_16(f, &x, &y, &comp, 1)
                     : (void *)stbi_load_from_file(f, &x, &y, &comp, 1);
    fclose(f);
    if (!pix)
        return cn_fail(CN_ERR_FORMAT, "%s: cannot decode image: %s", path, stbi_failure_reason());
    size_t n = (size_t)x * (size_t)y;
    float *d = malloc(n * sizeof *d);
    if (!d) {
        stbi_image_free(pix);
        return cn_fail(CN_ERR_OOM, "%s: %dx%d image: out of memory", path, y, x);
    }
    for (size_t i = 0; i < n; i++)
        d[i] = is16 ? (float)((const unsigned short *)pix)[i] : (float)((const unsigned char *)pix)[i];
    stbi_image_free(pix);
    *data = d;
    *h = y;
    *w = x;
    return CN_OK;
}
