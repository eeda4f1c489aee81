/* caspnet eval's engine: reads a split's annotations and predictions, applies the protocol per frame, averages per video, split and dataset, and reports. */
#include "eval/evalrun.h"
#include "io/fileio.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "eval/metrics.h"
#include "runtime/status.h"

const char *const cn_eval_metric_keys[CN_EV_N] = {"cc", "nss", "auc_judd", "sim", "sauc", "kl", "auc_borji"};
const char *const cn_eval_metric_titles[CN_EV_N] = {"CC", "NSS", "AUC-J", "SIM", "sAUC", "KL", "AUC-B"};

uint64_t cn_eval_frame_seed(const char *video, int frame, uint64_t seed)
{
    char key[CN_DATASET_NAME_MAX + 16];
    snprintf(key, sizeof key, "%s:%d", video, frame);
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h ^ seed;
}

static void warnf(const cn_eval_opts *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void warnf(const cn_eval_opts *o, const char *fmt, ...)
{
    if (!o->warn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->warn(o->warn_ud, msg);
}

/* A missing file is an error, or with skip_missing a warning and a skip
 * (returns 1); any other failure stays an error. */
static int missing_or_fail(const cn_eval_opts *o, int st)
{
    if (st == CN_ERR_IO && o->skip_missing) {
        warnf(o, "skipping frame: %s", cn_last_error());
        cn_clear_error();
        return 1;
    }
    return st;
}

/* Accumulates v unless it is NaN: undefined frames and videos drop out of means. */
static void add_defined(double *sum, int *cnt, double v)
{
    if (!isnan(v))
        *sum += v, (*cnt)++;
}

/* Everything about one video's fixations that the second pass needs. */
typedef struct fixset {
    int h, w;
    size_t **idx; /* per frame, the fixated pixel indices (NULL when skipped) */
    size_t *nidx;
    int *present;
    int *union_count; /* per pixel, how many frames fixate it */
} fixset;

static void fixset_free(fixset *fs, int nframes)
{
    if (fs->idx)
        for (int i = 0; i < nframes; i++)
            free(fs->idx[i]);
    free(fs->idx), free(fs->nidx), free(fs->present), free(fs->union_count);
    memset(fs, 0, sizeof *fs);
}

/* Pass 1: every fixation map of the video, kept sparse (a dense copy of a
 * long video would not fit in memory), and the union for sAUC. */
static int read_fixations(const cn_eval_opts *o, const cn_dataset_video *v, fixset *fs, int *skipped)
{
    int nf = v->nframes;
    char path[4096], first[4096] = "";
    fs->idx = calloc((size_t)nf, sizeof *fs->idx);
    fs->nidx = calloc((size_t)nf, sizeof *fs->nidx);
    fs->present = calloc((size_t)nf, sizeof *fs->present);
    if (!fs->idx || !fs->nidx || !fs->present)
        return cn_fail(CN_ERR_OOM, "eval: %s: out of memory", v->name);
    for (int f = 1; f <= nf; f++) {
        CN_TRY(cn_dataset_fix_path(path, sizeof path, o->data_root, o->db, v->name, f));
        float *m;
        int h, w, st = cn_dataset_read_mat(path, "eyeMap", &m, &h, &w);
        if (st != CN_OK) {
            st = missing_or_fail(o, st);
            if (st == 1) {
                (*skipped)++;
                continue;
            }
            return st;
        }
        if (!fs->union_count) {
            fs->h = h, fs->w = w;
            strcpy(first, path);
            fs->union_count = calloc((size_t)h * (size_t)w, sizeof *fs->union_count);
            if (!fs->union_count) {
                free(m);
                return cn_fail(CN_ERR_OOM, "eval: %s: out of memory", path);
            }
        } else if (h != fs->h || w != fs->w) {
            free(m);
            return cn_fail(CN_ERR_SHAPE, "%s: fixation map is %dx%d but %s is %dx%d", path, h, w, first,
                           fs->h, fs->w);
        }
        size_t n = (size_t)h * (size_t)w, k = 0;
        for (size_t i = 0; i < n; i++)
            k += m[i] != 0.0f;
        fs->idx[f - 1] = malloc((k ? k : 1) * sizeof **fs->idx);
        if (!fs->idx[f - 1]) {
            free(m);
            return cn_fail(CN_ERR_OOM, "eval: %s: out of memory", path);
        }
        for (size_t i = 0, j = 0; i < n; i++)
            if (m[i] != 0.0f) {
                fs->idx[f - 1][j++] = i;
                fs->union_count[i]++;
            }
        fs->nidx[f - 1] = k;
        fs->present[f - 1] = 1;
        free(m);
    }
    return CN_OK;
}

/* All metrics of one frame on prepared prediction P and dense map Q; F and
 * `other` are scratch of n entries (the frame's fixation map, sAUC's pool). */
static int frame_metrics(const cn_eval_opts *o, const cn_dataset_video *v, int frame, const fixset *fs,
                         const float *P, const float *Q, float *F, size_t *other, cn_eval_frame *out)
{
    size_t n = (size_t)fs->h * (size_t)fs->w, nfix = fs->nidx[frame - 1], no = 0;
    const size_t *fix = fs->idx[frame - 1];
    memset(F, 0, n * sizeof *F);
    for (size_t i = 0; i < nfix; i++)
        F[fix[i]] = 1.0f;
    /* sAUC negatives: pixels fixated in some other frame of this video and
     * not in this one (the union over the video minus this frame's map). */
    for (size_t i = 0; i < n; i++)
        if (fs->union_count[i] > 0 && F[i] == 0.0f)
            other[no++] = i;
    uint64_t seed = cn_eval_frame_seed(v->name, frame, o->seed);
    out->frame = frame;
    out->nfix = (int)nfix;
    CN_TRY(cn_metric_cc(P, Q, n, &out->m[CN_EV_CC]));
    CN_TRY(cn_metric_nss(P, F, n, &out->m[CN_EV_NSS]));
    CN_TRY(cn_metric_auc_judd(P, F, n, &out->m[CN_EV_AUCJ]));
    CN_TRY(cn_metric_sim(P, Q, n, &out->m[CN_EV_SIM]));
    CN_TRY(cn_metric_sauc(P, F, n, other, no, seed, &out->m[CN_EV_SAUC]));
    CN_TRY(cn_metric_kl(P, Q, n, &out->m[CN_EV_KL]));
    CN_TRY(cn_metric_auc_borji(P, F, n, seed, &out->m[CN_EV_AUCB]));
    return CN_OK;
}

/* Reads one image file; 1 when skipped (missing, with skip_missing). */
static int read_image(const cn_eval_opts *o, const char *path, float **m, int *h, int *w)
{
    int st = cn_dataset_read_gray(path, m, h, w);
    return st == CN_OK ? CN_OK : missing_or_fail(o, st);
}

/* Pass 2 over the frames of one video. */
static int eval_frames(const cn_eval_opts *o, cn_eval_video *ev, const fixset *fs)
{
    const cn_dataset_video *v = &ev->info;
    size_t n = (size_t)fs->h * (size_t)fs->w;
    float *P = malloc(n * sizeof *P), *F = malloc(n * sizeof *F);
    size_t *other = malloc(n * sizeof *other);
    ev->frames = calloc((size_t)v->nframes, sizeof *ev->frames);
    int st = CN_OK;
    if (!P || !F || !other || !ev->frames)
        st = cn_fail(CN_ERR_OOM, "eval: %s: out of memory", v->name);
    char mpath[4096], ppath[4096];
    for (int f = 1; f <= v->nframes && st == CN_OK; f++) {
        if (!fs->present[f - 1])
            continue;
        if (o->valid_only && fs->nidx[f - 1] == 0)
            continue;
        float *Q = NULL, *pred = NULL;
        int qh, qw, ph, pw;
        if ((st = cn_dataset_map_path(mpath, sizeof mpath, o->data_root, o->db, v->name, f)) != CN_OK ||
            (st = cn_dataset_pred_path(ppath, sizeof ppath, o->pred_root, o->db, v->name, f)) != CN_OK)
            break;
        st = read_image(o, mpath, &Q, &qh, &qw);
        if (st == CN_OK && (qh != fs->h || qw != fs->w)) {
            char fpath[4096];
            cn_dataset_fix_path(fpath, sizeof fpath, o->data_root, o->db, v->name, f);
            st = cn_fail(CN_ERR_SHAPE, "%s: dense map is %dx%d but fixation map %s is %dx%d", mpath, qh, qw,
                         fpath, fs->h, fs->w);
        }
        if (st == CN_OK)
            st = read_image(o, ppath, &pred, &ph, &pw);
        if (st == CN_OK)
            st = cn_eval_prepare_ex(pred, ph, pw, fs->h, fs->w, !o->no_blur, P);
        if (st == CN_OK)
            st = frame_metrics(o, v, f, fs, P, Q, F, other, &ev->frames[ev->count]);
        if (st == CN_OK)
            ev->count++;
        free(Q), free(pred);
        if (st == 1) {
            ev->skipped++;
            st = CN_OK;
        }
    }
    free(P), free(F), free(other);
    return st;
}

static void video_means(const cn_eval_opts *o, cn_eval_video *ev)
{
    for (int k = 0; k < CN_EV_N; k++) {
        double s = 0;
        int c = 0;
        for (int i = 0; i < ev->count; i++)
            add_defined(&s, &c, ev->frames[i].m[k]);
        ev->defined[k] = c;
        ev->mean[k] = c ? s / c : NAN;
        if (!c && k < CN_EV_KL)
            warnf(o, "%s/%s: no frame with a defined %s; the video is left out of that mean", o->db,
                  ev->info.name, cn_eval_metric_titles[k]);
    }
}

static int eval_split(const cn_eval_opts *o, int split, cn_eval_split *es)
{
    cn_dataset_list l;
    CN_TRY(cn_dataset_load_split(o->data_root, o->db, "test", split, &l));
    es->split = l.split;
    strcpy(es->list, l.path);
    es->videos = calloc((size_t)l.count, sizeof *es->videos);
    if (!es->videos) {
        cn_dataset_list_free(&l);
        return cn_fail(CN_ERR_OOM, "eval: out of memory");
    }
    int st = CN_OK;
    for (int i = 0; i < l.count && st == CN_OK; i++) {
        cn_eval_video *ev = &es->videos[es->count++];
        ev->info = l.videos[i];
        fixset fs = {0};
        st = read_fixations(o, &ev->info, &fs, &ev->skipped);
        if (st == CN_OK && fs.union_count) {
            ev->gh = fs.h, ev->gw = fs.w;
            st = eval_frames(o, ev, &fs);
        }
        fixset_free(&fs, ev->info.nframes);
        if (st == CN_OK)
            video_means(o, ev);
    }
    cn_dataset_list_free(&l);
    for (int k = 0; k < CN_EV_N && st == CN_OK; k++) {
        double s = 0, fw = 0;
        int c = 0, fc = 0;
        for (int i = 0; i < es->count; i++) {
            add_defined(&s, &c, es->videos[i].mean[k]);
            if (es->videos[i].defined[k])
                fw += es->videos[i].mean[k] * es->videos[i].defined[k], fc += es->videos[i].defined[k];
        }
        es->mean[k] = c ? s / c : NAN;
        es->frame_weighted[k] = fc ? fw / fc : NAN;
    }
    return st;
}

void cn_eval_result_free(cn_eval_result *r)
{
    if (!r)
        return;
    for (int s = 0; s < r->count; s++) {
        for (int v = 0; v < r->splits[s].count; v++)
            free(r->splits[s].videos[v].frames);
        free(r->splits[s].videos);
    }
    free(r);
}

/* Appends to a growing text; 0 when out of memory. */
static int text_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int text_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return 0;
    if (*len + (size_t)n + 1 > *cap) {
        size_t c = 2 * (*len + (size_t)n + 1);
        char *p = realloc(*buf, c);
        if (!p)
            return 0;
        *buf = p, *cap = c;
    }
    va_start(ap, fmt);
    vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
    return 1;
}

#define MISSING_NAMED 20 /* a whole missing shard would make the line unreadable */

int cn_eval_missing(const cn_eval_opts *o, char **list, int *missing, int *videos, char *first, size_t first_cap)
{
    if (!list || !missing || !videos)
        return cn_fail(CN_ERR_ARG, "eval: NULL result");
    *list = NULL, *missing = 0, *videos = 0;
    if (first && first_cap)
        first[0] = '\0';
    if (!o || !o->pred_root || !o->data_root || !o->db)
        return cn_fail(CN_ERR_ARG, "eval: predictions, dataset root and dataset name are required");
    int splits[CN_DATASET_MAX_SPLITS], ns = 1;
    splits[0] = o->split;
    if (o->split == 0)
        CN_TRY(cn_dataset_test_splits(o->data_root, o->db, splits, &ns));
    char *buf = NULL, (*seen)[CN_DATASET_NAME_MAX] = NULL;
    size_t len = 0, cap = 0;
    int nseen = 0, st = CN_OK;
    for (int s = 0; s < ns && st == CN_OK; s++) {
        cn_dataset_list l;
        st = cn_dataset_load_split(o->data_root, o->db, "test", splits[s], &l);
        if (st != CN_OK)
            break;
        void *grown = realloc(seen, (size_t)(nseen + l.count) * sizeof *seen);
        if (!grown) {
            cn_dataset_list_free(&l);
            st = cn_fail(CN_ERR_OOM, "eval: out of memory");
            break;
        }
        seen = grown;
        for (int v = 0; v < l.count && st == CN_OK; v++) {
            const cn_dataset_video *vid = &l.videos[v];
            int dup = 0;
            for (int k = 0; k < nseen && !dup; k++)
                dup = strcmp(seen[k], vid->name) == 0;
            if (dup)
                continue;
            snprintf(seen[nseen++], CN_DATASET_NAME_MAX, "%s", vid->name);
            char path[4096];
            int absent = 0, folder = 1;
            for (int f = 1; f <= vid->nframes && st == CN_OK; f++) {
                st = cn_dataset_pred_path(path, sizeof path, o->pred_root, o->db, vid->name, f);
                if (st == CN_OK && access(path, F_OK) != 0 && !absent++ && first && first_cap && !first[0])
                    snprintf(first, first_cap, "%s", path);
            }
            if (st != CN_OK)
                break;
            if (absent == vid->nframes) {
                char *slash = strrchr(path, '/');
                if (slash)
                    *slash = '\0';
                folder = access(path, F_OK) == 0;
            }
            if (!absent)
                continue;
            if (++*missing > MISSING_NAMED)
                continue;
            int okk = !folder ? text_add(&buf, &len, &cap, "%s%s (no folder)", len ? ", " : "", vid->name)
                              : text_add(&buf, &len, &cap, "%s%s (%d of %d frames missing)", len ? ", " : "",
                                         vid->name, absent, vid->nframes);
            if (!okk)
                st = cn_fail(CN_ERR_OOM, "eval: out of memory");
        }
        cn_dataset_list_free(&l);
    }
    *videos = nseen;
    free(seen);
    if (st == CN_OK && *missing > MISSING_NAMED &&
        !text_add(&buf, &len, &cap, " and %d more", *missing - MISSING_NAMED))
        st = cn_fail(CN_ERR_OOM, "eval: out of memory");
    if (st != CN_OK) {
        free(buf);
        *missing = 0;
        return st;
    }
    *list = buf;
    return CN_OK;
}

int cn_eval_run(const cn_eval_opts *o, cn_eval_result **out)
{
    if (!out)
        return cn_fail(CN_ERR_ARG, "eval: NULL result");
    *out = NULL;
    if (!o || !o->pred_root || !o->data_root || !o->db)
        return cn_fail(CN_ERR_ARG, "eval: predictions, dataset root and dataset name are required");
    if (strlen(o->db) >= CN_DATASET_NAME_MAX || strchr(o->db, '/') || !o->db[0])
        return cn_fail(CN_ERR_ARG, "eval: bad dataset name '%.40s'", o->db);
    if (o->split < 0 || o->split > CN_DATASET_MAX_SPLITS)
        return cn_fail(CN_ERR_ARG, "eval: split %d is not 1..3 (or 0 for all)", o->split);
    int splits[CN_DATASET_MAX_SPLITS], ns = 1;
    splits[0] = o->split;
    if (o->split == 0)
        CN_TRY(cn_dataset_test_splits(o->data_root, o->db, splits, &ns));
    cn_eval_result *r = calloc(1, sizeof *r);
    if (!r)
        return cn_fail(CN_ERR_OOM, "eval: out of memory");
    strcpy(r->db, o->db);
    r->valid_only = o->valid_only, r->no_blur = o->no_blur, r->skip_missing = o->skip_missing;
    r->seed = o->seed;
    int st = CN_OK;
    for (int i = 0; i < ns && st == CN_OK; i++)
        st = eval_split(o, splits[i], &r->splits[r->count++]);
    for (int k = 0; k < CN_EV_N && st == CN_OK; k++) {
        double s = 0;
        int c = 0;
        for (int i = 0; i < r->count; i++)
            add_defined(&s, &c, r->splits[i].mean[k]);
        r->mean[k] = c ? s / c : NAN;
    }
    if (st != CN_OK) {
        cn_eval_result_free(r);
        return st;
    }
    *out = r;
    return CN_OK;
}

/* ---- reports ---- */

static int split_frames(const cn_eval_split *s)
{
    int n = 0;
    for (int v = 0; v < s->count; v++)
        n += s->videos[v].count;
    return n;
}

static void print_num(FILE *f, double v)
{
    if (isnan(v))
        fprintf(f, " %8s", "n/a");
    else
        fprintf(f, " %8.4f", v);
}

void cn_eval_print_table(const cn_eval_result *r, FILE *f)
{
    fprintf(f, "%s, frames %s, %s (%s)\n", r->db, r->valid_only ? "valid" : "all",
            r->no_blur ? "no blur" : "blur sigma 2", "CC, SIM vs dense maps; NSS, AUC-J, sAUC vs fixations");
    fprintf(f, "%-8s %6s %7s", "split", "videos", "frames");
    for (int k = 0; k <= CN_EV_SAUC; k++)
        fprintf(f, " %8s", cn_eval_metric_titles[k]);
    fputc('\n', f);
    for (int i = 0; i < r->count; i++) {
        const cn_eval_split *s = &r->splits[i];
        char name[16];
        snprintf(name, sizeof name, s->split ? "%d" : "single", s->split);
        fprintf(f, "%-8s %6d %7d", name, s->count, split_frames(s));
        for (int k = 0; k <= CN_EV_SAUC; k++)
            print_num(f, s->mean[k]);
        fputc('\n', f);
    }
    if (r->count > 1) {
        fprintf(f, "%-8s %6s %7s", "mean", "", "");
        for (int k = 0; k <= CN_EV_SAUC; k++)
            print_num(f, r->mean[k]);
        fputc('\n', f);
    }
}

static cJSON *metrics_obj(const double *m)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; o && k < CN_EV_N; k++)
        cJSON_AddItemToObject(o, cn_eval_metric_keys[k], isnan(m[k]) ? cJSON_CreateNull() : cJSON_CreateNumber(m[k]));
    return o;
}

int cn_eval_write_json(const cn_eval_result *r, const char *path)
{
    cJSON *root = cJSON_CreateObject(), *splits = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "dataset", r->db);
    cJSON *proto = cJSON_AddObjectToObject(root, "protocol");
    cJSON_AddStringToObject(proto, "frames", r->valid_only ? "valid" : "all");
    cJSON_AddBoolToObject(proto, "blur", !r->no_blur);
    cJSON_AddBoolToObject(proto, "skip_missing", r->skip_missing);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    cJSON_AddStringToObject(proto, "seed", seed); /* a string: 64 bits do not fit a JSON double */
    cJSON_AddItemToObject(root, "mean", metrics_obj(r->mean));
    cJSON_AddItemToObject(root, "splits", splits);
    for (int i = 0; i < r->count; i++) {
        const cn_eval_split *s = &r->splits[i];
        cJSON *js = cJSON_CreateObject(), *vids = cJSON_CreateArray();
        cJSON_AddItemToArray(splits, js);
        cJSON_AddNumberToObject(js, "split", s->split);
        cJSON_AddStringToObject(js, "list", s->list);
        cJSON_AddNumberToObject(js, "frames", split_frames(s));
        cJSON_AddItemToObject(js, "mean", metrics_obj(s->mean));
        cJSON_AddItemToObject(js, "frame_weighted_mean", metrics_obj(s->frame_weighted));
        cJSON_AddItemToObject(js, "videos", vids);
        for (int v = 0; v < s->count; v++) {
            const cn_eval_video *ev = &s->videos[v];
            cJSON *jv = cJSON_CreateObject(), *frames = cJSON_CreateArray();
            cJSON_AddItemToArray(vids, jv);
            cJSON_AddStringToObject(jv, "video", ev->info.name);
            cJSON_AddNumberToObject(jv, "nframes", ev->info.nframes);
            cJSON_AddNumberToObject(jv, "fps", ev->info.fps);
            cJSON_AddNumberToObject(jv, "height", ev->gh);
            cJSON_AddNumberToObject(jv, "width", ev->gw);
            cJSON_AddNumberToObject(jv, "evaluated", ev->count);
            cJSON_AddNumberToObject(jv, "skipped", ev->skipped);
            cJSON_AddItemToObject(jv, "mean", metrics_obj(ev->mean));
            cJSON_AddItemToObject(jv, "frames", frames);
            for (int k = 0; k < ev->count; k++) {
                cJSON *jf = metrics_obj(ev->frames[k].m);
                cJSON_AddNumberToObject(jf, "frame", ev->frames[k].frame);
                cJSON_AddNumberToObject(jf, "fixations", ev->frames[k].nfix);
                cJSON_AddItemToArray(frames, jf);
            }
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return cn_fail(CN_ERR_OOM, "%s: out of memory building JSON", path);
    int st = cn_write_text_atomic(path, text);
    cJSON_free(text);
    return st;
}

/* A growing text buffer for the CSV. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n >= 0 && b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 1 << 16) + (n > 0 ? (size_t)n : 0);
        char *np = realloc(b->p, nc);
        if (!np || n < 0) {
            b->oom = 1;
            return;
        }
        b->p = np, b->cap = nc;
    }
}

static void csv_row(sbuf *b, const char *level, int split, const char *video, int frame, int nfix,
                    const double *m)
{
    sb_printf(b, "%s,", level);
    if (split >= 0)
        sb_printf(b, "%d", split);
    sb_printf(b, ",%s,", video ? video : "");
    if (frame > 0)
        sb_printf(b, "%d", frame);
    sb_printf(b, ",");
    if (nfix >= 0)
        sb_printf(b, "%d", nfix);
    for (int k = 0; k < CN_EV_N; k++) {
        if (isnan(m[k]))
            sb_printf(b, ",");
        else
            sb_printf(b, ",%.10g", m[k]);
    }
    sb_printf(b, "\n");
}

int cn_eval_write_csv(const cn_eval_result *r, const char *path)
{
    sbuf b = {0};
    sb_printf(&b, "level,split,video,frame,fixations");
    for (int k = 0; k < CN_EV_N; k++)
        sb_printf(&b, ",%s", cn_eval_metric_keys[k]);
    sb_printf(&b, "\n");
    for (int i = 0; i < r->count; i++) {
        const cn_eval_split *s = &r->splits[i];
        for (int v = 0; v < s->count; v++) {
            const cn_eval_video *ev = &s->videos[v];
            for (int k = 0; k < ev->count; k++)
                csv_row(&b, "frame", s->split, ev->info.name, ev->frames[k].frame, ev->frames[k].nfix,
                        ev->frames[k].m);
            csv_row(&b, "video", s->split, ev->info.name, 0, -1, ev->mean);
        }
        csv_row(&b, "split", s->split, NULL, 0, -1, s->mean);
    }
    csv_row(&b, "dataset", -1, NULL, 0, -1, r->mean);
    if (b.oom) {
        free(b.p);
        return cn_fail(CN_ERR_OOM, "%s: out of memory building CSV", path);
    }
    int st = cn_write_text_atomic(path, b.p);
    free(b.p);
    return st;
}
