/* Whole-video prediction: decoder thread -> sliding-window clips batched through the engine -> writer thread (PNGs, overlays, video, .npy). */
#include "app/predict.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/audio.h"
#include "io/imageout.h"
#include "io/npy.h"
#include "runtime/runtime.h"
#include "runtime/status.h"

#define NAME_CAP 256
#define RING 16            /* the sliding window: every clip's frames are among the last 16 decoded */
#define FRAME_QUEUE 16     /* decoded frames waiting for the device */
#define RESULT_QUEUE 2     /* finished batches waiting for the writer */
#define REORDER 64         /* maps arrive at most ~30 frames out of order (reversed clips) */

int cn_predict_clip_frames(int64_t t, int64_t nframes, int64_t idx[CN_CLIP_LEN], int64_t *first,
                           int64_t *last)
{
    if (nframes < CN_CLIP_LEN || t < 0 || t >= nframes || !idx)
        return -1;
    int rev = t < CN_CLIP_LEN - 1;
    for (int k = 0; k < CN_CLIP_LEN; k++) {
        int64_t f = rev ? t + (CN_CLIP_LEN - 1) - k : t - (CN_CLIP_LEN - 1) + k;
        idx[k] = f < nframes ? f : nframes - 1;
    }
    if (first)
        *first = rev ? t : t - (CN_CLIP_LEN - 1);
    if (last)
        *last = rev ? t + (CN_CLIP_LEN - 1) : t;
    return rev;
}

void cn_predict_frame_name(const char *stem, int64_t t, char *out, size_t cap)
{
    if (stem && stem[0])
        snprintf(out, cap, "%s.png", stem);
    else
        snprintf(out, cap, "%06lld.png", (long long)(t + 1));
}

int cn_predict_default_batch(uint64_t global_mem, uint64_t weight_bytes, int H, int W)
{
    /* ~700 MB of activations per 224 x 384 clip (README: 675 MiB peak for one clip, weights included) */
    double per = 700e6 * ((double)H * W) / (224.0 * 384.0);
    double room = 0.8 * (double)global_mem - (double)weight_bytes;
    int b = room > per ? (int)(room / per) : 1;
    return b < 1 ? 1 : b > 8 ? 8 : b;
}

/* ---- shared state and queues ------------------------------------------------ */

typedef struct frame_item {
    int64_t t;
    uint8_t *small; /* H x W x 3 at model size */
    uint8_t *orig;  /* full frame, kept only for overlays */
    char name[NAME_CAP];
} frame_item;

typedef struct map_item { /* one finished frame on its way to the writer */
    int64_t t;
    float *map;     /* H x W, model size */
    uint8_t *orig;
    char name[NAME_CAP];
} map_item;

typedef struct batch_out {
    int n;
    map_item m[];
} batch_out;

typedef struct queue {
    void **slot;
    int cap, head, count, closed;
} queue;

typedef struct run {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* one condition for every change; waiters re-check their own predicate */
    int failed, status, cancelled;
    char msg[1024];
    queue frames, results;

    cn_engine *e;
    cn_video *v;
    const cn_predict_opts *o;
    const char *input, *out_dir;
    cn_video_info info;
    int H, W, keep_orig;
    int64_t nframes;   /* set by the main thread once the decoder has finished */
    double t0; /* cn_seconds() at the start */

    /* writer side */
    int created_dir, created_overlay;
    char **written;
    int64_t nwritten, written_cap;
    cn_npy_stream *npy; /* (frames, H, W) maps.npy while it is written */
    char video_tmp[4096];
    cn_proc ff;
} run;

/* Records the first failure (this thread's cn_last_error text) and wakes every waiter. */
static int run_fail(run *r, int st)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        r->failed = 1;
        r->status = st;
        snprintf(r->msg, sizeof r->msg, "%s", cn_last_error());
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return st;
}

static int check_cancel(run *r)
{
    if (r->o->cancel && *r->o->cancel) {
        pthread_mutex_lock(&r->mu);
        r->cancelled = 1;
        pthread_mutex_unlock(&r->mu);
        return run_fail(r, cn_fail(CN_ERR_ARG, "%s: interrupted", r->input));
    }
    return CN_OK;
}

static int queue_init(queue *q, int cap)
{
    q->slot = calloc((size_t)cap, sizeof *q->slot);
    q->cap = cap;
    return q->slot ? CN_OK : CN_ERR_OOM;
}

/* 0 when pushed; -1 when the run has failed (item stays the caller's). */
static int queue_push(run *r, queue *q, void *item)
{
    pthread_mutex_lock(&r->mu);
    while (q->count == q->cap && !r->failed)
        pthread_cond_wait(&r->cv, &r->mu);
    int ok = !r->failed;
    if (ok) {
        q->slot[(q->head + q->count) % q->cap] = item;
        q->count++;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return ok ? 0 : -1;
}

/* Next item; NULL at the end of a closed queue or when the run has failed. */
static void *queue_pop(run *r, queue *q)
{
    void *item = NULL;
    pthread_mutex_lock(&r->mu);
    while (q->count == 0 && !q->closed && !r->failed)
        pthread_cond_wait(&r->cv, &r->mu);
    if (!r->failed && q->count > 0) {
        item = q->slot[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return item;
}

static void queue_close(run *r, queue *q)
{
    pthread_mutex_lock(&r->mu);
    q->closed = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void frame_free(frame_item *f)
{
    if (f) {
        free(f->small);
        free(f->orig);
        free(f);
    }
}

static void batch_free(batch_out *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->n; i++) {
        free(b->m[i].map);
        free(b->m[i].orig);
    }
    free(b);
}

/* ---- decoder thread ----------------------------------------------------------- */

static void *decode_main(void *arg)
{
    run *r = arg;
    const int fw = r->info.width, fh = r->info.height;
    const size_t full_bytes = (size_t)fw * fh * 3;
    uint8_t *full = NULL;
    for (int64_t t = 0;; t++) {
        if (check_cancel(r))
            break;
        frame_item *it = calloc(1, sizeof *it);
        if (!full)
            full = malloc(full_bytes);
        if (it)
            it->small = malloc((size_t)r->H * r->W * 3);
        if (!it || !it->small || !full) {
            frame_free(it);
            run_fail(r, cn_fail(CN_ERR_OOM, "%s: out of host memory decoding frame %lld", r->input,
                                (long long)t + 1));
            break;
        }
        int got = cn_video_read(r->v, full, it->name, sizeof it->name);
        if (got <= 0) {
            frame_free(it);
            /* Ctrl-C reaches the ffmpeg child too: its death is then the interruption, not an error */
            if (got < 0 && !check_cancel(r))
                run_fail(r, got);
            break;
        }
        cn_resize_u8(full, fw, fh, 3, it->small, r->W, r->H);
        if (r->keep_orig) { /* hand the buffer over; the next frame gets a fresh one */
            it->orig = full;
            full = NULL;
        }
        it->t = t;
        if (queue_push(r, &r->frames, it) < 0) {
            frame_free(it);
            break;
        }
    }
    free(full);
    queue_close(r, &r->frames);
    return NULL;
}

/* ---- writer thread -------------------------------------------------------------- */

static int remember(run *r, const char *path)
{
    if (r->nwritten == r->written_cap) {
        int64_t cap = r->written_cap ? 2 * r->written_cap : 256;
        char **p = realloc(r->written, (size_t)cap * sizeof *p);
        if (!p)
            return cn_fail(CN_ERR_OOM, "out of host memory");
        r->written = p;
        r->written_cap = cap;
    }
    /* only for clean-up after a failure; an unrecorded path is merely left behind */
    char *s = strdup(path);
    if (s)
        r->written[r->nwritten++] = s;
    return CN_OK;
}

static int npy_open(run *r)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/maps.npy", r->out_dir);
    const int64_t row[2] = {r->H, r->W};
    return cn_npy_stream_open(path, 2, row, &r->npy);
}

static int npy_finish(run *r)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/maps.npy", r->out_dir);
    int st = cn_npy_stream_close(r->npy);
    r->npy = NULL;
    return st == CN_OK ? remember(r, path) : st;
}

/* ffmpeg reads the overlay frames as raw RGB on stdin and takes the sound from the input. */
static int video_start(run *r)
{
    const char *out = r->o->video_out;
    char ffmpeg[4096], size[64], rate[64], pad[64] = "pad=ceil(iw/2)*2:ceil(ih/2)*2";
    CN_TRY(cn_find_program("ffmpeg", ffmpeg, sizeof ffmpeg));
    /* the temporary keeps the extension last, since ffmpeg picks the container from it */
    const char *slash = strrchr(out, '/');
    size_t dir = slash ? (size_t)(slash - out) + 1 : 0;
    const char *base = out + dir, *dot = strrchr(base, '.');
    if (!dot || dot == base)
        dot = base + strlen(base);
    snprintf(r->video_tmp, sizeof r->video_tmp, "%.*s.%.*s.partial-%ld%s", (int)dir, out, (int)(dot - base),
             base, (long)getpid(), dot);
    snprintf(size, sizeof size, "%dx%d", r->info.width, r->info.height);
    snprintf(rate, sizeof rate, "%.9g", r->info.fps);
    const char *audio = r->o->video.audio_path ? r->o->video.audio_path
                        : r->info.is_folder    ? NULL
                                               : r->input;
    const char *argv[40];
    int n = 0;
    const char *head[] = {ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-video_size", size, "-framerate", rate, "-i", "pipe:0"};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        argv[n++] = head[i];
    if (audio) {
        const char *a[] = {"-i", audio, "-map", "0:v:0", "-map", "1:a:0?", "-c:a", "aac", "-shortest"};
        for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
            argv[n++] = a[i];
    }
    const char *tail[] = {"-vf", pad, "-pix_fmt", "yuv420p", r->video_tmp, NULL};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        argv[n++] = tail[i];
    int st = cn_proc_start(argv, 1, 0, 1, &r->ff);
    if (st != CN_OK)
        r->video_tmp[0] = '\0';
    return st;
}

static int video_finish(run *r)
{
    int code = cn_proc_wait(&r->ff);
    if (code != 0)
        return cn_fail(CN_ERR_IO, "%s: ffmpeg failed (exit %d): %s", r->o->video_out, code,
                       cn_proc_last_error(&r->ff));
    if (rename(r->video_tmp, r->o->video_out) != 0)
        return cn_fail(CN_ERR_IO, "%s: cannot write: %s", r->o->video_out, strerror(errno));
    r->video_tmp[0] = '\0';
    return CN_OK;
}

typedef struct out_bufs {
    float *full;   /* map at frame size */
    uint8_t *gray, *rgb;
} out_bufs;

static int write_frame(run *r, const map_item *m, out_bufs *b, int64_t done)
{
    const int fw = r->info.width, fh = r->info.height;
    char path[4096], file[NAME_CAP + 8];
    cn_predict_frame_name(m->name, m->t, file, sizeof file);
    cn_resize_f32(m->map, r->W, r->H, b->full, fw, fh);
    CN_TRY(cn_blur_f32(b->full, fw, fh, r->o->blur_sigma));
    cn_map_to_u8(b->full, (int64_t)fw * fh, b->gray);
    snprintf(path, sizeof path, "%s/%s", r->out_dir, file);
    CN_TRY(cn_png_write(path, b->gray, fw, fh, 1));
    CN_TRY(remember(r, path));
    if (r->keep_orig) {
        cn_overlay(m->orig, b->gray, fw, fh, b->rgb);
        if (r->o->overlay) {
            snprintf(path, sizeof path, "%s/overlay/%s", r->out_dir, file);
            CN_TRY(cn_png_write(path, b->rgb, fw, fh, 3));
            CN_TRY(remember(r, path));
        }
        if (r->o->video_out) {
            if (!r->ff.pid && done == 0)
                CN_TRY(video_start(r));
            CN_TRY(cn_proc_write(&r->ff, b->rgb, (size_t)fw * fh * 3, r->o->video_out));
        }
    }
    if (r->npy)
        CN_TRY(cn_npy_stream_append(r->npy, m->map, 1));
    return CN_OK;
}

static void *write_main(void *arg)
{
    run *r = arg;
    const size_t fpx = (size_t)r->info.width * r->info.height;
    out_bufs b = {malloc(fpx * sizeof(float)), malloc(fpx), r->keep_orig ? malloc(fpx * 3) : NULL};
    map_item pend[REORDER];
    int present[REORDER] = {0};
    int64_t next = 0;
    int st = CN_OK;
    if (!b.full || !b.gray || (r->keep_orig && !b.rgb))
        st = cn_fail(CN_ERR_OOM, "out of host memory for %d x %d output frames", r->info.width,
                     r->info.height);
    if (st == CN_OK && r->o->npy)
        st = npy_open(r);
    batch_out *bo;
    while (st == CN_OK && (bo = queue_pop(r, &r->results))) {
        for (int i = 0; i < bo->n && st == CN_OK; i++) {
            map_item *m = &bo->m[i];
            if (m->t - next >= REORDER || present[m->t % REORDER]) {
                st = cn_fail(CN_ERR_ARG, "predict: internal error: frame %lld out of order", (long long)m->t);
                break;
            }
            pend[m->t % REORDER] = *m; /* ownership of map and orig moves to pend */
            m->map = NULL;
            m->orig = NULL;
            present[m->t % REORDER] = 1;
        }
        batch_free(bo);
        while (st == CN_OK && present[next % REORDER]) {
            map_item *m = &pend[next % REORDER];
            st = write_frame(r, m, &b, next);
            free(m->map);
            free(m->orig);
            present[next % REORDER] = 0;
            next++;
            if (st == CN_OK && r->o->progress) {
                cn_predict_progress p = {next, r->info.nframes, cn_seconds() - r->t0};
                r->o->progress(r->o->progress_user, &p);
            }
        }
    }
    for (int i = 0; i < REORDER; i++)
        if (present[i]) {
            free(pend[i].map);
            free(pend[i].orig);
        }
    pthread_mutex_lock(&r->mu);
    int failed = r->failed;
    pthread_mutex_unlock(&r->mu);
    if (st == CN_OK && !failed) {
        if (next != r->nframes)
            st = cn_fail(CN_ERR_ARG, "predict: internal error: wrote %lld of %lld frames", (long long)next,
                         (long long)r->nframes);
        if (st == CN_OK && r->npy)
            st = npy_finish(r);
        if (st == CN_OK && r->o->video_out)
            st = video_finish(r);
    }
    if (st != CN_OK)
        run_fail(r, st);
    free(b.full);
    free(b.gray);
    free(b.rgb);
    return NULL;
}

/* ---- the device loop (caller's thread) -------------------------------------------- */

typedef struct batcher {
    run *r;
    int B, n;
    const cn_audio *audio;
    int need_mel, silence;
    uint8_t *frames; /* B x 16 x H x W x 3 */
    float *mel;      /* B x 96 x 64 */
    map_item meta[64];
    double device_s;
} batcher;

static int flush(batcher *bt)
{
    run *r = bt->r;
    if (bt->n == 0)
        return CN_OK;
    size_t px = (size_t)r->H * r->W;
    batch_out *bo = calloc(1, sizeof *bo + (size_t)bt->n * sizeof(map_item));
    float *sal = malloc((size_t)bt->n * px * sizeof *sal);
    if (!bo || !sal) {
        free(bo);
        free(sal);
        return cn_fail(CN_ERR_OOM, "out of host memory for %d maps", bt->n);
    }
    const double t0 = cn_seconds();
    int st = cn_engine_run_rgb8(r->e, bt->n, r->H, r->W, bt->frames, bt->need_mel ? bt->mel : NULL, sal);
    bt->device_s += cn_seconds() - t0;
    bo->n = bt->n;
    for (int i = 0; i < bt->n; i++) { /* each map gets its own buffer so the writer frees them one by one */
        bo->m[i] = bt->meta[i];
        bt->meta[i].orig = NULL;
        bo->m[i].map = st == CN_OK ? malloc(px * sizeof(float)) : NULL;
        if (st == CN_OK && !bo->m[i].map)
            st = cn_fail(CN_ERR_OOM, "out of host memory for %d maps", bt->n);
        else if (st == CN_OK)
            memcpy(bo->m[i].map, sal + i * px, px * sizeof(float));
    }
    free(sal);
    bt->n = 0;
    if (st != CN_OK) {
        batch_free(bo);
        return st;
    }
    if (queue_push(r, &r->results, bo) < 0)
        batch_free(bo);
    return CN_OK;
}

/* Adds the clip of frame t (frames decoded so far: known) to the batch. */
static int add_clip(batcher *bt, frame_item **ring, int64_t t, int64_t known)
{
    run *r = bt->r;
    int64_t idx[CN_CLIP_LEN], first, last;
    if (cn_predict_clip_frames(t, known, idx, &first, &last) < 0)
        return cn_fail(CN_ERR_ARG, "predict: internal error: no clip for frame %lld", (long long)t);
    size_t fb = (size_t)r->H * r->W * 3;
    for (int k = 0; k < CN_CLIP_LEN; k++) {
        frame_item *f = ring[idx[k] % RING];
        if (!f || f->t != idx[k])
            return cn_fail(CN_ERR_ARG, "predict: internal error: frame %lld left the window", (long long)idx[k]);
        memcpy(bt->frames + ((size_t)bt->n * CN_CLIP_LEN + k) * fb, f->small, fb);
    }
    float *mel = bt->mel + (size_t)bt->n * CN_LOGMEL_FRAMES * CN_LOGMEL_BANDS;
    if (bt->silence)
        for (int i = 0; i < CN_LOGMEL_FRAMES * CN_LOGMEL_BANDS; i++)
            mel[i] = logf(0.01f);
    else if (bt->need_mel)
        CN_TRY(cn_logmel_clip(bt->audio, first, last, r->info.fps, mel));
    frame_item *self = ring[t % RING];
    map_item *m = &bt->meta[bt->n++];
    m->t = t;
    m->map = NULL;
    m->orig = self->orig; /* the writer needs the full frame t only */
    self->orig = NULL;
    memcpy(m->name, self->name, NAME_CAP);
    return bt->n == bt->B ? flush(bt) : CN_OK;
}

static int device_loop(run *r, batcher *bt)
{
    frame_item *ring[RING] = {0};
    int64_t f = 0;
    int st = CN_OK;
    frame_item *it;
    while (st == CN_OK && (it = queue_pop(r, &r->frames))) {
        frame_free(ring[f % RING]);
        ring[f % RING] = it;
        /* at frame f both the reversed clip of f-15 and the forward clip of f are complete */
        if (f >= CN_CLIP_LEN - 1 && f - (CN_CLIP_LEN - 1) < CN_CLIP_LEN - 1)
            st = add_clip(bt, ring, f - (CN_CLIP_LEN - 1), f + 1);
        if (st == CN_OK && f >= CN_CLIP_LEN - 1)
            st = add_clip(bt, ring, f, f + 1);
        f++;
        if (st == CN_OK)
            st = check_cancel(r);
    }
    pthread_mutex_lock(&r->mu);
    int failed = r->failed;
    pthread_mutex_unlock(&r->mu);
    if (st == CN_OK && !failed) {
        r->nframes = f;
        if (f < CN_CLIP_LEN)
            st = cn_fail(CN_ERR_FORMAT, "%s: has %lld frame%s; at least %d are needed", r->input, (long long)f,
                         f == 1 ? "" : "s", CN_CLIP_LEN);
        /* short videos (16..29 frames): reversed clips that run past the end, clamped */
        for (int64_t t = f > CN_CLIP_LEN - 1 ? f - (CN_CLIP_LEN - 1) : 0; st == CN_OK && t < CN_CLIP_LEN - 1; t++)
            st = add_clip(bt, ring, t, f);
        if (st == CN_OK)
            st = flush(bt);
    }
    for (int i = 0; i < RING; i++)
        frame_free(ring[i]);
    return st;
}

/* ---- set-up and clean-up ----------------------------------------------------------- */

static int check_out_dir(const char *out, const char *input, int force)
{
    struct stat so, si;
    if (stat(out, &so) != 0) {
        if (errno != ENOENT)
            return cn_fail(CN_ERR_IO, "%s: cannot use as output folder: %s", out, strerror(errno));
        return CN_OK; /* created later, once the input has passed every check */
    }
    if (!S_ISDIR(so.st_mode))
        return cn_fail(CN_ERR_ARG, "%s: exists and is not a folder", out);
    if (stat(input, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
        return cn_fail(CN_ERR_ARG, "%s: is the input; refusing to write maps into it", out);
    if (access(out, W_OK | X_OK) != 0)
        return cn_fail(CN_ERR_IO, "%s: output folder is not writable: %s", out, strerror(errno));
    DIR *d = opendir(out);
    if (!d)
        return cn_fail(CN_ERR_IO, "%s: cannot read: %s", out, strerror(errno));
    int empty = 1;
    struct dirent *de;
    while (empty && (de = readdir(d)))
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    if (!empty && !force)
        return cn_fail(CN_ERR_ARG, "%s: output folder is not empty (use --force to write into it anyway)", out);
    return CN_OK;
}

static int make_dir(const char *path, int *created)
{
    if (mkdir(path, 0777) == 0) {
        *created = 1;
        return CN_OK;
    }
    struct stat s;
    if (errno == EEXIST && stat(path, &s) == 0 && S_ISDIR(s.st_mode))
        return CN_OK;
    return cn_fail(CN_ERR_IO, "%s: cannot create output folder: %s", path, strerror(errno));
}

static void note(const cn_predict_opts *o, const char *fmt, const char *a)
{
    if (o->note) {
        char msg[4200];
        snprintf(msg, sizeof msg, fmt, a);
        o->note(o->note_user, msg);
    }
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Opens and checks everything that can be checked before any output exists. */
static int prepare(run *r, cn_video_opts *vo, int *silence)
{
    const cn_predict_opts *o = r->o;
    const char *variant = cn_engine_variant(r->e);
    if (!variant)
        return cn_fail(CN_ERR_ARG, "predict: no weights loaded in the engine");
    if (r->H < 32 || r->W < 32 || r->H % 32 || r->W % 32 || r->H > 4096 || r->W > 4096)
        return cn_fail(CN_ERR_ARG, "predict: model size %d x %d: both must be multiples of 32 in 32..4096", r->H,
                       r->W);
    if (o->batch < 0 || o->batch > 64)
        return cn_fail(CN_ERR_ARG, "predict: batch %d is not in 1..64", o->batch);
    if (o->video_out && (same_file(o->video_out, r->input) || same_file(o->video_out, o->video.audio_path)))
        return cn_fail(CN_ERR_ARG, "%s: is one of the inputs; refusing to overwrite it", o->video_out);
    CN_TRY(check_out_dir(r->out_dir, r->input, o->force));
    if (o->video_out) { /* found now rather than after the first batch has run */
        char dir[4096];
        const char *slash = strrchr(o->video_out, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - o->video_out) + 1 : 1, slash ? o->video_out : ".");
        if (access(dir, W_OK | X_OK) != 0)
            return cn_fail(CN_ERR_IO, "%s: cannot write there: %s", o->video_out, strerror(errno));
    }
    int av = strcmp(variant, "av") == 0;
    *vo = o->video;
    vo->no_audio = !av || o->no_audio;
    CN_TRY(cn_video_open(r->input, vo, &r->v));
    cn_video_info_get(r->v, &r->info);
    if (r->info.nframes >= 0 && r->info.nframes < CN_CLIP_LEN)
        return cn_fail(CN_ERR_FORMAT, "%s: has %lld frame%s; at least %d are needed", r->input,
                       (long long)r->info.nframes, r->info.nframes == 1 ? "" : "s", CN_CLIP_LEN);
    if (!(r->info.fps > 0))
        return cn_fail(CN_ERR_FORMAT, "%s: no usable frame rate; give one", r->input);
    if (r->info.fps_assumed)
        note(o, "%s: no frame rate given; fps assumed 30", r->input);
    *silence = av && o->no_audio;
    if (av && !o->no_audio && !cn_video_audio(r->v))
        return cn_fail(CN_ERR_FORMAT,
                       "%s: has no audio track, and the weights are audio-visual (av): give an audio file, "
                       "or --no-audio to feed silence",
                       r->input);
    if (*silence)
        note(o, "%s: audio-visual weights without audio: feeding the log-mel of silence (log 0.01)", r->input);
    return CN_OK;
}

static int interrupted(run *r)
{
    return r->cancelled || (r->o->cancel && *r->o->cancel);
}

static void cleanup_failed(run *r)
{
    if (r->ff.pid)
        cn_proc_kill(&r->ff);
    if (r->video_tmp[0])
        unlink(r->video_tmp);
    cn_npy_stream_abort(r->npy);
    r->npy = NULL;
    /* complete files stay after an interruption; after a failure a folder we made is taken back */
    if (!interrupted(r) && r->created_dir) {
        for (int64_t i = 0; i < r->nwritten; i++)
            unlink(r->written[i]);
        char p[4096];
        snprintf(p, sizeof p, "%s/overlay", r->out_dir);
        if (r->created_overlay)
            rmdir(p);
        rmdir(r->out_dir);
    }
}

int cn_predict_video(cn_engine *e, const char *input, const char *out_dir, const cn_predict_opts *opts,
                     cn_predict_result *res)
{
    static const cn_predict_opts defaults;
    if (!e || !input || !out_dir)
        return cn_fail(CN_ERR_ARG, "predict: engine, input and output folder are required");
    run *r = calloc(1, sizeof *r);
    if (!r)
        return cn_fail(CN_ERR_OOM, "out of host memory");
    r->e = e;
    r->o = opts ? opts : &defaults;
    r->input = input;
    r->out_dir = out_dir;
    r->H = r->o->H ? r->o->H : 224;
    r->W = r->o->W ? r->o->W : 384;
    r->keep_orig = r->o->overlay || r->o->video_out;
    r->nframes = -1;
    r->t0 = cn_seconds();
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);

    batcher bt = {0};
    bt.r = r;
    cn_video_opts vo;
    int st = prepare(r, &vo, &bt.silence);
    if (st == CN_OK) {
        const cn_device_info *di = cn_ctx_device(cn_engine_ctx(e));
        bt.B = r->o->batch ? r->o->batch : cn_predict_default_batch(di->global_mem, cn_engine_peak_bytes(e), r->H, r->W);
        bt.audio = cn_video_audio(r->v);
        bt.need_mel = strcmp(cn_engine_variant(e), "av") == 0;
        bt.frames = malloc((size_t)bt.B * CN_CLIP_LEN * r->H * r->W * 3);
        bt.mel = malloc((size_t)bt.B * CN_LOGMEL_FRAMES * CN_LOGMEL_BANDS * sizeof(float));
        if (!bt.frames || !bt.mel || queue_init(&r->frames, FRAME_QUEUE) || queue_init(&r->results, RESULT_QUEUE))
            st = cn_fail(CN_ERR_OOM, "out of host memory for a batch of %d clips", bt.B);
    }
    if (st == CN_OK)
        st = make_dir(out_dir, &r->created_dir);
    if (st == CN_OK && r->o->overlay) {
        char p[4096];
        snprintf(p, sizeof p, "%s/overlay", out_dir);
        st = make_dir(p, &r->created_overlay);
    }
    if (st != CN_OK) {
        run_fail(r, st);
    } else {
        pthread_t dec, wr;
        int have_dec = pthread_create(&dec, NULL, decode_main, r) == 0;
        int have_wr = have_dec && pthread_create(&wr, NULL, write_main, r) == 0;
        if (!have_dec || !have_wr)
            run_fail(r, cn_fail(CN_ERR_OOM, "predict: cannot start a thread"));
        else {
            st = device_loop(r, &bt);
            if (st != CN_OK)
                run_fail(r, st);
        }
        queue_close(r, &r->results);
        if (have_dec)
            pthread_join(dec, NULL);
        if (have_wr)
            pthread_join(wr, NULL);
        for (; r->frames.count; r->frames.count--, r->frames.head = (r->frames.head + 1) % r->frames.cap)
            frame_free(r->frames.slot[r->frames.head]);
        for (; r->results.count; r->results.count--, r->results.head = (r->results.head + 1) % r->results.cap)
            batch_free(r->results.slot[r->results.head]);
    }
    for (int i = 0; i < bt.n; i++)
        free(bt.meta[i].orig);
    if (r->failed) {
        cleanup_failed(r);
        if (interrupted(r))
            st = cn_fail(CN_ERR_ARG, "%s: interrupted", input);
        else
            st = cn_fail(r->status ? r->status : CN_ERR_ARG, "%s", r->msg);
    } else if (res) {
        res->frames = r->nframes;
        res->batch = bt.B;
        res->width = r->info.width;
        res->height = r->info.height;
        res->fps = r->info.fps;
        res->seconds = cn_seconds() - r->t0;
        res->device_seconds = bt.device_s;
    }
    cn_video_close(r->v);
    for (int64_t i = 0; i < r->nwritten; i++)
        free(r->written[i]);
    free(r->written);
    free(r->frames.slot);
    free(r->results.slot);
    free(bt.frames);
    free(bt.mel);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
    return st;
}
