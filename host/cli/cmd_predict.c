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
#include "app/predict_dataset.h"

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
            CLI_PRECISION_HELP
            "  --device D         OpenCL device (index or name; see caspnet devices)\n"
            "  --quiet            no progress or notes on stderr, errors only\n\n"
            "Datasets in the STAViS layout (see caspnet eval --help):\n"
            "  caspnet predict --weights W --out PRED --dataset ROOT --db NAME [--split K|all]\n"
            "runs every test video of the split(s) (default all) from ROOT/video_frames/NAME/<video>/\n"
            "with ROOT/video_audio/NAME/<video>/<video>.wav and the fps of the fold list, and\n"
            "writes PRED/NAME/<video>/img_%%05d.png, the tree caspnet eval reads.\n"
            "  --device all|A,B,...  one worker per device (index or name; a device may be\n"
            "                     listed twice), each taking the next video when it is free\n"
            "  --shard I/N        only the videos with FNV-1a-64(\"NAME/<video>\") mod N == I\n"
            "                     (0 <= I < N): N runs, e.g. a Slurm array, cover the set once\n"
            "  --force            recompute videos that are complete already\n"
            "Each finished video gets PRED/NAME/<video>/.done (frame count and a fingerprint of\n"
            "the weights and map options), written last; a rerun skips those videos, redoes a\n"
            "video without one (a killed run's) after clearing its outputs, and refuses a tree\n"
            "made with other weights or options unless --force.\n\n"
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
    int64_t last_done;
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
    if (p->done <= ps->last_done) { /* the next video of a dataset: its own clock and tenths */
        ps->last_print = -1e9;
        ps->last_tenth = 0;
    }
    ps->last_done = p->done;
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

static int parse_shard(const char *s, int *index, int *count)
{
    char *end;
    long i = strtol(s, &end, 10);
    if (end == s || *end != '/')
        goto bad;
    const char *s2 = end + 1;
    long n = strtol(s2, &end, 10);
    if (end == s2 || *end || n < 1 || n > 1000000 || i < 0 || i >= n)
        goto bad;
    *index = (int)i;
    *count = (int)n;
    return 1;
bad:
    cli_error("predict: --shard '%s' must be I/N with 0 <= I < N (e.g. 3/8)", s);
    return 0;
}

#define MAX_WORKERS 64

/* "all": every OpenCL device; "A,B,...": each item an index or name (an item
 * may repeat: two workers on one device). Else one device, as given.
 * Returns 0, or the exit code after an error: 1 (no devices), 2 (a bad list). */
static int device_list(const char *device, char specs[MAX_WORKERS][256], int *n)
{
    *n = 0;
    if (device && strcmp(device, "all") == 0) {
        cn_device_info *d;
        int count;
        if (cn_list_devices(&d, &count) != CN_OK) {
            cli_error("%s", cn_last_error());
            return 1;
        }
        for (int i = 0; i < count && i < MAX_WORKERS; i++)
            snprintf(specs[(*n)++], 256, "%d", d[i].index);
        free(d);
        if (*n == 0) {
            cli_error("predict: --device all: no OpenCL device found (see caspnet devices)");
            return 1;
        }
        return 0;
    }
    if (!device || !strchr(device, ',')) {
        snprintf(specs[(*n)++], 256, "%s", device ? device : "");
        return 0;
    }
    for (const char *p = device;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == 0 || len >= 256 || *n == MAX_WORKERS) {
            cli_error("predict: --device '%s': a list of at most %d indices or names, separated by commas", device,
                      MAX_WORKERS);
            return 2;
        }
        snprintf(specs[(*n)++], 256, "%.*s", (int)len, p);
        if (!c)
            break;
        p = c + 1;
    }
    return 0;
}

static void free_engines(cn_engine **e, int n)
{
    for (int i = 0; i < n; i++)
        cn_engine_destroy(e[i]);
}

int cmd_predict(int argc, char **argv)
{
    const char *weights = NULL, *out = NULL, *input = NULL, *device = NULL, *att = "linear", *size = NULL,
               *batch = NULL, *blur = NULL, *fps = NULL, *audio = NULL, *video_out = NULL,
               *dataset = NULL, *db = NULL, *split = "all", *shard = NULL, *prec = "fp32";
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
                            CLI_VALUE("--shard", &shard),         CLI_VALUE("--precision", &prec),
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
    if (!dataset && (shard || (device && (strchr(device, ',') || strcmp(device, "all") == 0)))) {
        cli_error("predict: --shard and a --device list or 'all' are for --dataset runs");
        return 2;
    }
    if (dataset && video_out) {
        cli_error("predict: --video-out names one file; it cannot take every video of --dataset");
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
    cn_precision pr;
    if (!cli_precision("predict", prec, &pr))
        return 2;
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
    progress_state ps = {isatty(2), -1e9, 0, 0, 0};
    if (!quiet) {
        o.progress = show_progress;
        o.progress_user = &ps;
        o.note = show_note;
    }
    o.cancel = &stop_flag;

    cn_predict_dataset_opts dso = {0};
    if (dataset) {
        dso.root = dataset, dso.db = db, dso.out = out, dso.weights = weights, dso.attention = att;
        dso.precision = prec;
        dso.force = o.force;
        if (strcmp(split, "all") != 0) {
            long k = strtol(split, &end, 10);
            if (end == split || *end || k < 1 || k > CN_DATASET_MAX_SPLITS) {
                cli_error("--split '%s' must be 1, 2, 3 or all", split);
                return 2;
            }
            dso.split = (int)k;
        }
        if (shard && !parse_shard(shard, &dso.shard_index, &dso.shard_count))
            return 2;
    }
    static char specs[MAX_WORKERS][256];
    int nspec = 0;
    int bad = device_list(device, specs, &nspec);
    if (bad)
        return bad;
    cn_engine *engines[MAX_WORKERS] = {0};
    int neng = 0, rc = 1;
    for (; neng < nspec; neng++) {
        if (!cli_engine(specs[neng][0] ? specs[neng] : NULL, am, pr, quiet, &engines[neng]))
            goto done;
        if (cn_engine_load(engines[neng], weights) != CN_OK) {
            cli_error("%s", cn_last_error());
            neng++;
            goto done;
        }
    }
    cn_engine *e = engines[0];
    if (cn_engine_warning(e)[0])
        fprintf(stderr, "caspnet: warning: %s\n", cn_engine_warning(e));
    if (nspec > 1) /* several workers' per-frame bars would overwrite each other: per-video lines only */
        o.progress = NULL;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* pipe reads carry on; the loops poll the flag */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    cn_predict_result res = {0};
    cn_predict_dataset_result dres = {0};
    int st;
    if (dataset) {
        dso.base = o;
        st = cn_predict_dataset(engines, neng, &dso, &dres);
    } else
        st = cn_predict_video(e, input, out, &o, &res);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (ps.drew)
        fputc('\n', stderr);
    if (st != CN_OK) {
        cli_error("%s", cn_last_error());
        rc = stop_flag ? 130 : 1;
        goto done;
    }
    if (!quiet && dataset)
        fprintf(stderr,
                "caspnet: %s: predicted %d video%s (%lld frames) into %s in %.1f s (%.2f frames/s); %d complete "
                "already, skipped\n",
                db, dres.predicted, dres.predicted == 1 ? "" : "s", (long long)dres.frames, out, dres.seconds,
                dres.seconds > 0 ? (double)dres.frames / dres.seconds : 0.0, dres.skipped);
    else if (!quiet)
        fprintf(stderr, "caspnet: wrote %lld maps of %d x %d to %s in %.1f s (%.2f frames/s, %d clip%s per pass)\n",
                (long long)res.frames, res.width, res.height, out, res.seconds,
                res.seconds > 0 ? (double)res.frames / res.seconds : 0.0, res.batch, res.batch == 1 ? "" : "s");
    rc = 0;
done:
    free_engines(engines, neng);
    return rc;
}
