/* Dataset-scale prediction: the video list, the shard rule, completion markers and the workers that share one queue of videos. */
#include "app/predict_dataset.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/dataset.h"
#include "io/fileio.h"
#include "runtime/runtime.h"
#include "runtime/status.h"

int cn_predict_shard_of(const char *db, const char *video, int count)
{
    if (count <= 1)
        return 0;
    uint64_t h = cn_fnv1a(CN_FNV_OFFSET, db, strlen(db));
    h = cn_fnv1a(h, "/", 1);
    h = cn_fnv1a(h, video, strlen(video));
    return (int)(h % (uint64_t)count);
}

static int fingerprint(const cn_predict_dataset_opts *o, char hex[17])
{
    FILE *f = fopen(o->weights, "rb");
    if (!f)
        return cn_fail(CN_ERR_IO, "%s: cannot read: %s", o->weights, strerror(errno));
    uint64_t h = CN_FNV_OFFSET;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        h = cn_fnv1a(h, buf, n);
    int err = ferror(f);
    fclose(f);
    if (err)
        return cn_fail(CN_ERR_IO, "%s: read error", o->weights);
    const cn_predict_opts *b = &o->base;
    char s[256];
    int len = snprintf(s, sizeof s, "size %dx%d blur %.17g attention %s no_audio %d overlay %d npy %d",
                       b->H ? b->H : 224, b->W ? b->W : 384, b->blur_sigma, o->attention ? o->attention : "linear",
                       b->no_audio, b->overlay, b->npy);
    /* appended only when not fp32, so that the markers of fp32 runs made
     * before precision existed still match */
    if (o->precision && strcmp(o->precision, "fp32") != 0 && len > 0 && (size_t)len < sizeof s)
        len += snprintf(s + len, sizeof s - (size_t)len, " precision %s", o->precision);
    h = cn_fnv1a(h, s, (size_t)len < sizeof s ? (size_t)len : sizeof s - 1);
    snprintf(hex, 17, "%016" PRIx64, h);
    return CN_OK;
}

/* ---- per-video state on disk ------------------------------------------------- */

enum { V_NEW, V_DONE, V_STALE, V_PARTIAL };

typedef struct job {
    cn_dataset_video v;
    int split;
    int state;
    char dir[4096];
} job;

static int count_pngs(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        n += de->d_name[0] != '.' && l > 4 && strcmp(de->d_name + l - 4, ".png") == 0;
    }
    closedir(d);
    return n;
}

/* V_NEW: no folder; V_DONE: marker of this fingerprint and its frames' PNGs;
 * V_STALE: marker of another fingerprint; V_PARTIAL: anything else. */
static int classify(const char *dir, const char *fp)
{
    struct stat s;
    if (stat(dir, &s) != 0)
        return V_NEW;
    char path[4200], line[128], mfp[64] = "";
    snprintf(path, sizeof path, "%s/%s", dir, CN_PREDICT_DONE_NAME);
    FILE *f = fopen(path, "r");
    if (!f)
        return V_PARTIAL;
    long long frames = -1;
    int version = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "caspnet-predict-done %d", &version) == 1)
            continue;
        if (sscanf(line, "frames %lld", &frames) == 1)
            continue;
        sscanf(line, "fingerprint %63s", mfp);
    }
    fclose(f);
    if (version != 1 || frames < 1 || !mfp[0])
        return V_PARTIAL;
    if (strcmp(mfp, fp) != 0)
        return V_STALE;
    return count_pngs(dir) == frames ? V_DONE : V_PARTIAL;
}

static int ours(const char *name)
{
    size_t l = strlen(name);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    return name[0] == '.' || (l > 4 && strcmp(name + l - 4, ".png") == 0) || strncmp(name, "maps.npy", 8) == 0;
}

/* Removes what a run of this video writes (the marker first, so that a kill
 * during the clean-up still leaves a partial video). */
static int clear_outputs(const char *dir)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, CN_PREDICT_DONE_NAME);
    if (unlink(path) != 0 && errno != ENOENT)
        return cn_fail(CN_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    const char *sub[2] = {"", "/overlay"};
    for (int k = 0; k < 2; k++) {
        char d[4200];
        snprintf(d, sizeof d, "%s%s", dir, sub[k]);
        DIR *dd = opendir(d);
        if (!dd)
            continue;
        struct dirent *de;
        while ((de = readdir(dd))) {
            if (!ours(de->d_name))
                continue;
            snprintf(path, sizeof path, "%s/%s", d, de->d_name);
            struct stat s;
            if (lstat(path, &s) == 0 && S_ISREG(s.st_mode) && unlink(path) != 0) {
                closedir(dd);
                return cn_fail(CN_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
            }
        }
        closedir(dd);
    }
    return CN_OK;
}

static int write_marker(const char *dir, int64_t frames, const char *fp)
{
    char path[4200], text[256];
    snprintf(path, sizeof path, "%s/%s", dir, CN_PREDICT_DONE_NAME);
    snprintf(text, sizeof text, "caspnet-predict-done 1\nframes %lld\nfingerprint %s\n", (long long)frames, fp);
    return cn_write_text_atomic(path, text);
}

/* ---- the run ------------------------------------------------------------------- */

typedef struct dsrun {
    const cn_predict_dataset_opts *o;
    int nengines;
    job *jobs;
    int *todo, ntodo, next, finished;
    char fp[17];
    pthread_mutex_t mu;
    int failed, status;
    char msg[2048];
    long abort_after; /* test switch */
    int64_t frames_written;
    cn_predict_dataset_result res;
} dsrun;

typedef struct worker {
    dsrun *d;
    cn_engine *e;
    int index;
    int64_t frames; /* frames of the current video written */
} worker;

static void say(const dsrun *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void say(const dsrun *d, const char *fmt, ...)
{
    if (!d->o->base.note)
        return;
    char msg[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->o->base.note(d->o->base.note_user, msg);
}

static void on_frame(void *user, const cn_predict_progress *p)
{
    worker *w = user;
    dsrun *d = w->d;
    pthread_mutex_lock(&d->mu);
    int64_t n = ++d->frames_written;
    pthread_mutex_unlock(&d->mu);
    if (d->abort_after > 0 && n >= d->abort_after)
        raise(SIGKILL); /* the test of resuming: stop as a killed job does, with no clean-up at all */
    if (d->nengines == 1 && d->o->base.progress)
        d->o->base.progress(d->o->base.progress_user, p);
}

static int run_job(worker *w, job *j, int order)
{
    dsrun *d = w->d;
    const cn_predict_dataset_opts *o = d->o;
    char frames[4096], wav[4096], parent[4096];
    if (snprintf(frames, sizeof frames, "%s/video_frames/%s/%s", o->root, o->db, j->v.name) >= (int)sizeof frames)
        return cn_fail(CN_ERR_ARG, "dataset path too long for video '%s'", j->v.name);
    CN_TRY(cn_dataset_wav_path(wav, sizeof wav, o->root, o->db, j->v.name));
    snprintf(parent, sizeof parent, "%s/%s", o->out, o->db);
    mkdir(o->out, 0777);
    mkdir(parent, 0777);
    if (j->state != V_NEW)
        CN_TRY(clear_outputs(j->dir));
    cn_predict_opts po = o->base;
    po.video.fps = j->v.fps;
    po.video.audio_path = o->base.no_audio || access(wav, R_OK) != 0 ? NULL : wav;
    po.force = 1; /* the folder holds nothing of ours now; anything else in it is left alone */
    po.progress = on_frame;
    po.progress_user = w;
    if (d->nengines > 1)
        say(d, "[%d/%d] %s/%s (split %d, %d frames at %g fps) on worker %d, %s", order, d->ntodo, o->db, j->v.name,
            j->split, j->v.nframes, j->v.fps, w->index, cn_engine_device(w->e));
    else
        say(d, "[%d/%d] %s/%s (split %d, %d frames at %g fps)", order, d->ntodo, o->db, j->v.name, j->split,
            j->v.nframes, j->v.fps);
    cn_predict_result r;
    CN_TRY(cn_predict_video(w->e, frames, j->dir, &po, &r));
    CN_TRY(write_marker(j->dir, r.frames, d->fp));
    pthread_mutex_lock(&d->mu);
    d->res.predicted++;
    d->res.frames += r.frames;
    d->res.device_seconds += r.device_seconds;
    d->res.batch = r.batch;
    d->res.width = r.width;
    d->res.height = r.height;
    int fin = ++d->finished;
    pthread_mutex_unlock(&d->mu);
    if (d->nengines > 1)
        say(d, "%s/%s: %lld frames in %.1f s (%d/%d videos done)", o->db, j->v.name, (long long)r.frames, r.seconds,
            fin, d->ntodo);
    return CN_OK;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    dsrun *d = w->d;
    const volatile sig_atomic_t *cancel = d->o->base.cancel;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        int stop = d->failed || (cancel && *cancel) || d->next >= d->ntodo;
        int i = stop ? -1 : d->next++;
        pthread_mutex_unlock(&d->mu);
        if (stop)
            break;
        int st = run_job(w, &d->jobs[d->todo[i]], i + 1);
        if (st != CN_OK) {
            pthread_mutex_lock(&d->mu);
            if (!d->failed) {
                d->failed = 1;
                d->status = st;
                snprintf(d->msg, sizeof d->msg, "%s", cn_last_error());
            }
            pthread_mutex_unlock(&d->mu);
            break;
        }
    }
    return NULL;
}

/* The distinct test videos of the split(s), in fold-list order. */
static int list_videos(const cn_predict_dataset_opts *o, job **out, int *count)
{
    int splits[CN_DATASET_MAX_SPLITS], ns = 0;
    *out = NULL;
    *count = 0;
    if (o->split == 0)
        CN_TRY(cn_dataset_test_splits(o->root, o->db, splits, &ns));
    else if (o->split < 1 || o->split > CN_DATASET_MAX_SPLITS)
        return cn_fail(CN_ERR_ARG, "--split %d must be 1, 2, 3 or all", o->split);
    else
        splits[0] = o->split, ns = 1;
    job *jobs = NULL;
    int n = 0;
    for (int s = 0; s < ns; s++) {
        cn_dataset_list l;
        int st = cn_dataset_load_split(o->root, o->db, "test", splits[s], &l);
        if (st != CN_OK) {
            free(jobs);
            return st;
        }
        job *grown = realloc(jobs, (size_t)(n + l.count) * sizeof *jobs);
        if (!grown) {
            cn_dataset_list_free(&l);
            free(jobs);
            return cn_fail(CN_ERR_OOM, "out of host memory");
        }
        jobs = grown;
        for (int v = 0; v < l.count; v++) {
            int seen = 0;
            for (int k = 0; k < n && !seen; k++)
                seen = strcmp(jobs[k].v.name, l.videos[v].name) == 0;
            if (seen)
                continue; /* a video in several test splits is predicted once */
            job *j = &jobs[n];
            memset(j, 0, sizeof *j);
            j->v = l.videos[v];
            j->split = l.split;
            if (snprintf(j->dir, sizeof j->dir, "%s/%s/%s", o->out, o->db, j->v.name) >= (int)sizeof j->dir) {
                cn_dataset_list_free(&l);
                free(jobs);
                return cn_fail(CN_ERR_ARG, "dataset path too long for video '%s'", l.videos[v].name);
            }
            n++;
        }
        cn_dataset_list_free(&l);
    }
    *out = jobs;
    *count = n;
    return CN_OK;
}

int cn_predict_dataset(cn_engine *const *engines, int nengines, const cn_predict_dataset_opts *o,
                       cn_predict_dataset_result *res)
{
    if (!engines || nengines < 1 || !o || !o->root || !o->db || !o->out || !o->weights)
        return cn_fail(CN_ERR_ARG, "predict: engines, dataset, name, output folder and weights are required");
    int N = o->shard_count > 1 ? o->shard_count : 1;
    if (o->shard_index < 0 || o->shard_index >= N)
        return cn_fail(CN_ERR_ARG, "--shard %d/%d: the index must be in 0..%d", o->shard_index, N, N - 1);
    dsrun *d = calloc(1, sizeof *d);
    if (!d)
        return cn_fail(CN_ERR_OOM, "out of host memory");
    d->o = o;
    d->nengines = nengines;
    const char *ab = getenv("CASPNET_TEST_ABORT_AFTER_FRAMES");
    d->abort_after = ab ? strtol(ab, NULL, 10) : 0;
    pthread_mutex_init(&d->mu, NULL);
    const double t0 = cn_seconds();
    int njobs = 0, st = fingerprint(o, d->fp);
    if (st == CN_OK)
        st = list_videos(o, &d->jobs, &njobs);
    if (st == CN_OK && !(d->todo = malloc((size_t)(njobs ? njobs : 1) * sizeof *d->todo)))
        st = cn_fail(CN_ERR_OOM, "out of host memory");
    int stale = 0, first_stale = -1;
    for (int i = 0; st == CN_OK && i < njobs; i++) {
        job *j = &d->jobs[i];
        d->res.listed++;
        if (cn_predict_shard_of(o->db, j->v.name, N) != o->shard_index)
            continue;
        d->res.in_shard++;
        j->state = classify(j->dir, d->fp);
        if (j->state == V_DONE && !o->force) {
            d->res.skipped++;
            continue;
        }
        if (j->state == V_STALE && !o->force) {
            stale++;
            if (first_stale < 0)
                first_stale = i;
        }
        d->res.partial += j->state == V_PARTIAL;
        d->todo[d->ntodo++] = i;
    }
    if (st == CN_OK && stale)
        st = cn_fail(CN_ERR_ARG,
                     "%s: %d video%s made with other weights or options (marker %s/%s); --force recomputes "
                     "them, or choose another --out",
                     o->out, stale, stale == 1 ? " was" : "s were", d->jobs[first_stale].dir, CN_PREDICT_DONE_NAME);
    if (st == CN_OK) {
        char shard[64] = "";
        if (N > 1)
            snprintf(shard, sizeof shard, ", %d in shard %d/%d", d->res.in_shard, o->shard_index, N);
        say(d, "%s: %d test video%s%s; %d complete already (skipped), %d partial (redone), %d to run on %d worker%s",
            o->db, d->res.listed, d->res.listed == 1 ? "" : "s", shard, d->res.skipped, d->res.partial, d->ntodo,
            nengines, nengines == 1 ? "" : "s");
        worker *w = calloc((size_t)nengines, sizeof *w);
        pthread_t *th = calloc((size_t)nengines, sizeof *th);
        int *started = calloc((size_t)nengines, sizeof *started);
        if (!w || !th || !started)
            st = cn_fail(CN_ERR_OOM, "out of host memory");
        for (int k = 0; st == CN_OK && k < nengines; k++)
            w[k] = (worker){d, engines[k], k, 0};
        if (st == CN_OK && nengines == 1)
            worker_main(&w[0]); /* one device: the caller's thread, as a single-video run */
        else if (st == CN_OK) {
            int workers = nengines < d->ntodo ? nengines : d->ntodo;
            for (int k = 0; k < workers; k++)
                started[k] = pthread_create(&th[k], NULL, worker_main, &w[k]) == 0;
            for (int k = 0; k < workers; k++)
                if (started[k])
                    pthread_join(th[k], NULL);
            for (int k = 0; k < workers && !d->failed; k++)
                if (!started[k]) /* the others did its share; fewer workers is not a failure */
                    say(d, "could not start worker %d; ran with fewer", k);
        }
        free(w);
        free(th);
        free(started);
        if (st == CN_OK && d->failed)
            st = cn_fail(d->status ? d->status : CN_ERR_ARG, "%s", d->msg);
        if (st == CN_OK && o->base.cancel && *o->base.cancel)
            st = cn_fail(CN_ERR_ARG, "%s: interrupted", o->db);
        if (st == CN_OK && d->res.predicted + d->res.skipped != d->res.in_shard)
            st = cn_fail(CN_ERR_ARG, "predict: internal error: %d of %d videos done", d->res.predicted + d->res.skipped,
                         d->res.in_shard);
    }
    d->res.seconds = cn_seconds() - t0;
    if (res)
        *res = d->res;
    free(d->jobs);
    free(d->todo);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return st;
}
