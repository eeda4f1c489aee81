/* caspnet predict: saliency maps for every frame of a video file or frame folder, as PNGs (plus overlays, a video, a .npy). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "caspnet.h"

#include "cli.h"
#include "eval/dataset.h"
#include "app/predict.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: caspnet predict --weights W.safetensors --out DIR [options] INPUT\n\n"
            "Computes a saliency map for every frame of INPUT, a video file (anything ffmpeg\n"
            "reads: mp4, mkv, avi, webm, ...) or a folder of JPEG/PNG frames, and writes one\n"
            "8-bit grayscale PNG per frame into DIR at the frame's own size, named after the\n"
            "frame (000001.png, ... for videos; the frame file's stem for folders), scaled so\n"
            "that its maximum is 255. Frame t >= 15 gets the map of clip t-15..t, the first 15\n"
            "frames the maps of time-reversed clips t+15..t. At least 16 frames are needed.\n\n"
            "options:\n"
            "  --weights W        weights file (required); variant v ignores the audio\n"
            "  --out DIR          output folder; must not exist or be empty (see --force)\n"
            "  --size HxW         model input size, multiples of 32 (default 224x384)\n"
            "  --batch N          clips per forward pass (default: from device memory, at most 8)\n"
            "  --blur SIGMA       Gaussian blur of the maps, sigma in output pixels (default off)\n"
            "  --overlay          also write DIR/overlay/NAME.png: the map in colour over the frame\n"
            "  --video-out F      also write the overlay frames as a video F (ffmpeg), with the\n"
            "                     input's sound\n"
            "  --npy              also write DIR/maps.npy: N x H x W float32 at the model size,\n"
            "                     the engine's maps in (0, 1), frames in order, no blur or scaling\n"
            "  --fps R            frame rate of a frame folder (default 30, said when assumed);\n"
            "                     for a video file it overrides the file's rate\n"
            "  --audio F          audio file (WAV, FLAC, OGG, ...) for a frame folder, or to\n"
            "                     replace a video's own sound\n"
            "  --no-audio         do not use sound; av weights then get the log-mel of silence\n"
            "  --force            write into a non-empty DIR (files of the same names are replaced)\n"
            "  --attention linear|quadratic   (default linear)\n"
            "  --device D         OpenCL device (index or name; see caspnet devices)\n"
            "  --quiet            no progress or notes on stderr, errors only\n\n"
            "Datasets in the STAViS layout (see caspnet eval --help):\n"
            "  caspnet predict --weights W --out PRED --dataset ROOT --db NAME [--split K|all]\n"
            "runs every test video of the split(s) (default all) from ROOT/video_frames/NAME/<video>/\n"
            "with ROOT/video_audio/NAME/<video>/<video>.wav and the fps of the fold list, and\n"
            "writes PRED/NAME/<video>/img_%%05d.png, the tree caspnet eval reads.\n\n"
            "Progress goes to stderr (a bar on a terminal, a line every 5 s or 10 %% otherwise).\n"
            "Every file is written under a temporary name and renamed, so an interrupted run\n"
            "(Ctrl-C) leaves only complete files; after a failure a DIR made by this run is\n"
            "removed again.\n");
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

typedef struct progress_state {
    int tty;
    double last_print;
    int64_t last_tenth;
    int drew;
} progress_state;

static void fmt_time(double s, char *buf, size_t cap)
{
    long v = (long)(s + 0.5);
    if (v >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", v / 60, v % 60);
}

static void show_progress(void *user, const cn_predict_progress *p)
{
    progress_state *ps = user;
    double fps = p->seconds > 0 ? (double)p->done / p->seconds : 0;
    char left[32] = "?";
    if (p->total > 0 && fps > 0)
        fmt_time((double)(p->total - p->done) / fps, left, sizeof left);
    if (ps->tty) {
        if (p->seconds - ps->last_print < 0.1 && p->done != p->total)
            return; /* a terminal redraw per frame is wasted work at high frame rates */
        ps->last_print = p->seconds;
        char bar[31];
        int fill = p->total > 0 ? (int)(30 * p->done / p->total) : 0;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        if (p->total > 0)
            fprintf(stderr, "\r[%s] %3d%% %lld/%lld frames, %.1f frames/s, %s left  ", bar,
                    (int)(100 * p->done / p->total), (long long)p->done, (long long)p->total, fps, left);
        else
            fprintf(stderr, "\r%lld frames, %.1f frames/s  ", (long long)p->done, fps);
        ps->drew = 1;
        return;
    }
    int64_t tenth = p->total > 0 ? 10 * p->done / p->total : 0;
    if (p->seconds - ps->last_print >= 5.0 || tenth > ps->last_tenth) {
        ps->last_print = p->seconds;
        ps->last_tenth = tenth;
        if (p->total > 0)
            fprintf(stderr, "caspnet: %lld/%lld frames (%d%%), %.1f frames/s, %s left\n", (long long)p->done,
                    (long long)p->total, (int)(100 * p->done / p->total), fps, left);
        else
            fprintf(stderr, "caspnet: %lld frames, %.1f frames/s\n", (long long)p->done, fps);
    }
}

static void show_note(void *user, const char *msg)
{
    (void)user;
    fprintf(stderr, "caspnet: %s\n", msg);
}

static int parse_size(const char *s, int *H, int *W)
{
    char *end;
    long h = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X'))
        goto bad;
    const char *s2 = end + 1;
    long w = strtol(s2, &end, 10);
    if (end == s2 || *end || h < 32 || w < 32 || h > 4096 || w > 4096 || h % 32 || w % 32)
        goto bad;
    *H = (int)h;
    *W = (int)w;
    return 1;
bad:
    cli_error("predict: --size '%s' must be HxW with H and W multiples of 32 in 32..4096", s);
    return 0;
}

/* Every test video of the split(s) of a STAViS-layout dataset, each with its
 * fold list's fps and its WAV, into out/<DB>/<video>/ (the tree eval reads). */
static int predict_dataset(cn_engine *e, const char *root, const char *db, const char *split,
                           const char *out, const cn_predict_opts *base, int quiet,
                           cn_predict_result *total)
{
    int splits[CN_DATASET_MAX_SPLITS], ns = 0;
    memset(total, 0, sizeof *total);
    if (strcmp(split, "all") == 0)
        CN_TRY(cn_dataset_test_splits(root, db, splits, &ns));
    else {
        char *end;
        long k = strtol(split, &end, 10);
        if (end == split || *end || k < 1 || k > CN_DATASET_MAX_SPLITS)
            return cn_fail(CN_ERR_ARG, "--split '%s' must be 1, 2, 3 or all", split);
        splits[0] = (int)k, ns = 1;
    }
    char (*done)[CN_DATASET_NAME_MAX] = NULL;
    int ndone = 0, st = CN_OK;
    for (int s = 0; st == CN_OK && s < ns; s++) {
        cn_dataset_list l;
        st = cn_dataset_load_split(root, db, "test", splits[s], &l);
        if (st != CN_OK)
            break;
        void *grown = realloc(done, (size_t)(ndone + l.count) * sizeof *done);
        if (!grown) {
            cn_dataset_list_free(&l);
            st = cn_fail(CN_ERR_OOM, "out of host memory");
            break;
        }
        done = grown;
        for (int v = 0; st == CN_OK && v < l.count; v++) {
            const cn_dataset_video *vid = &l.videos[v];
            int seen = 0;
            for (int j = 0; j < ndone; j++)
                seen |= strcmp(done[j], vid->name) == 0;
            if (seen)
                continue; /* a video in several test splits is predicted once */
            char frames[4096], wav[4096], dst[4096];
            int n1 = snprintf(frames, sizeof frames, "%s/video_frames/%s/%s", root, db, vid->name);
            int n2 = snprintf(dst, sizeof dst, "%s/%s/%s", out, db, vid->name);
            if (n1 >= (int)sizeof frames || n2 >= (int)sizeof dst) {
                st = cn_fail(CN_ERR_ARG, "dataset path too long for video '%s'", vid->name);
                break;
            }
            st = cn_dataset_wav_path(wav, sizeof wav, root, db, vid->name);
            if (st != CN_OK)
                break;
            char parent[4096];
            snprintf(parent, sizeof parent, "%s/%s", out, db);
            mkdir(out, 0777);
            mkdir(parent, 0777);
            cn_predict_opts o = *base;
            o.video.fps = vid->fps;
            o.video.audio_path = base->no_audio || access(wav, R_OK) != 0 ? NULL : wav;
            if (!quiet)
                fprintf(stderr, "caspnet: %s/%s (split %d, %d frames at %g fps)\n", db, vid->name,
                        l.split, vid->nframes, vid->fps);
            cn_predict_result r;
            st = cn_predict_video(e, frames, dst, &o, &r);
            if (st == CN_OK) {
                total->frames += r.frames;
                total->seconds += r.seconds;
                total->device_seconds += r.device_seconds;
                total->batch = r.batch;
                total->width = r.width;
                total->height = r.height;
                snprintf(done[ndone++], CN_DATASET_NAME_MAX, "%s", vid->name);
            }
        }
        cn_dataset_list_free(&l);
    }
    free(done);
    return st;
}

int cmd_predict(int argc, char **argv)
{
    const char *weights = NULL, *out = NULL, *input = NULL, *device = NULL, *att = "linear", *size = NULL,
               *batch = NULL, *blur = NULL, *fps = NULL, *audio = NULL, *video_out = NULL,
               *dataset = NULL, *db = NULL, *split = "all";
    int quiet = 0;
    cn_predict_opts o = {0};
    const cli_opt opts[] = {CLI_VALUE("--weights", &weights),     CLI_VALUE("--out", &out),
                            CLI_VALUE("--device", &device),       CLI_VALUE("--attention", &att),
                            CLI_VALUE("--size", &size),           CLI_VALUE("--batch", &batch),
                            CLI_VALUE("--blur", &blur),           CLI_VALUE("--fps", &fps),
                            CLI_VALUE("--audio", &audio),         CLI_VALUE("--video-out", &video_out),
                            CLI_VALUE("--dataset", &dataset),     CLI_VALUE("--db", &db),
                            CLI_VALUE("--split", &split),         CLI_FLAG("--quiet", &quiet),
                            CLI_FLAG("--overlay", &o.overlay),    CLI_FLAG("--npy", &o.npy),
                            CLI_FLAG("--force", &o.force),        CLI_FLAG("--no-audio", &o.no_audio),
                            CLI_END};
    const cli_cmd cmd = {.name = "predict", .usage = usage, .opts = opts, .style = CLI_UNKNOWN,
                         .pos = &input, .max_pos = 1, .one = "input"};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    if (dataset && (input || !db)) {
        cli_error("predict: --dataset takes --db NAME and no INPUT");
        return 2;
    }
    if (!weights || !out || (!input && !dataset)) {
        usage(stderr);
        cli_error("predict: --weights, --out and an INPUT (or --dataset) are required");
        return 2;
    }
    cn_attention_mode am;
    if (strcmp(att, "linear") == 0)
        am = CN_ATTENTION_LINEAR;
    else if (strcmp(att, "quadratic") == 0)
        am = CN_ATTENTION_QUADRATIC;
    else {
        cli_error("predict: --attention must be linear or quadratic, not '%s'", att);
        return 2;
    }
    long lv;
    if (size && !parse_size(size, &o.H, &o.W))
        return 2;
    if (batch) {
        if (!cli_int("--batch", batch, 1, 64, &lv))
            return 2;
        o.batch = (int)lv;
    }
    char *end;
    if (blur) {
        o.blur_sigma = strtod(blur, &end);
        if (end == blur || *end || !(o.blur_sigma >= 0) || o.blur_sigma > 1000) {
            cli_error("predict: --blur '%s' must be a sigma in pixels in 0..1000", blur);
            return 2;
        }
    }
    if (fps) {
        o.video.fps = strtod(fps, &end);
        if (end == fps || *end || !(o.video.fps > 0) || o.video.fps > 1000) {
            cli_error("predict: --fps '%s' must be a frame rate in (0, 1000]", fps);
            return 2;
        }
    }
    o.video.audio_path = audio;
    o.video_out = video_out;
    if (cli_same_file(out, weights) || (audio && cli_same_file(out, audio))) {
        cli_error("predict: --out %s is one of the inputs; refusing to write into it", out);
        return 2;
    }
    if (video_out && (cli_same_file(video_out, weights) || cli_same_file(video_out, input) ||
                      (audio && cli_same_file(video_out, audio)))) {
        cli_error("predict: --video-out %s is one of the inputs; refusing to overwrite it", video_out);
        return 2;
    }
    progress_state ps = {isatty(2), -1e9, 0, 0};
    if (!quiet) {
        o.progress = show_progress;
        o.progress_user = &ps;
        o.note = show_note;
    }
    o.cancel = &stop_flag;

    cn_engine *e = NULL;
    int rc = 1;
    if (!cli_engine(device, am, quiet, &e))
        return 1;
    if (cn_engine_load(e, weights) != CN_OK) {
        cli_error("%s", cn_last_error());
        goto done;
    }
    if (cn_engine_warning(e)[0])
        fprintf(stderr, "caspnet: warning: %s\n", cn_engine_warning(e));
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* pipe reads carry on; the loops poll the flag */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    cn_predict_result res;
    int st = dataset ? predict_dataset(e, dataset, db, split, out, &o, quiet, &res)
                     : cn_predict_video(e, input, out, &o, &res);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (ps.drew)
        fputc('\n', stderr);
    if (st != CN_OK) {
        cli_error("%s", cn_last_error());
        rc = stop_flag ? 130 : 1;
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "caspnet: wrote %lld maps of %d x %d to %s in %.1f s (%.2f frames/s, %d clip%s per pass)\n",
                (long long)res.frames, res.width, res.height, out, res.seconds,
                res.seconds > 0 ? (double)res.frames / res.seconds : 0.0, res.batch, res.batch == 1 ? "" : "s");
    rc = 0;
done:
    cn_engine_destroy(e);
    return rc;
}
