/* caspnet tune: times kernel variants and -D parameters per shape class of the model on one device and writes the device's tuning file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caspnet.h"
#include "cli.h"
#include "model/model_problems.h"
#include "ops/ops.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: caspnet tune [--device D] [--size HxW] [--batch N] [--variant av|v]\n"
            "                    [--mode rapid|normal|exhaustive] [--budget SECONDS]\n"
            "                    [--out FILE | --out-dir DIR] [--notes TEXT] [--class NAME]\n"
            "                    [--precision fp32|fp16] [--quiet]\n\n"
            "Tunes the kernels for one device (default: the one predict would use) and writes\n"
            "its tuning file, which predict, forward, bench and the engine API then use\n"
            "unasked. For each shape class the model runs at 16 x H x W (default 224 x 384)\n"
            "with N clips (default 1), taken from a dry run of the forward pass, it times on\n"
            "the class's largest shapes: the class default, the previous best (the file this\n"
            "writes, or the shipped database), the curated candidates for this kind of\n"
            "device, then (normal, exhaustive) a local search one macro at a time along its\n"
            "ladder of values. Every candidate's output is compared with the default's (and\n"
            "that one with a double computation on sampled outputs); a wrong candidate, or one\n"
            "that fails to build or launch, is dropped. Times are medians of device time\n"
            "(profiling events) after a warm-up run; candidates within 3%% of the fastest go\n"
            "to the earliest in the list, so equal timings give equal choices. The choice\n"
            "is timed against the default again in alternating rounds (1, 3, 5 by mode)\n"
            "and kept only if it stays 3%% faster.\n\n"
            "  --mode     rapid: 2 shapes per class, 3 runs each, the first 4 candidates, no\n"
            "             search (default budget 60 s); normal: 4 shapes, 5 runs, all\n"
            "             candidates, 2 search rounds (600 s); exhaustive: 12 shapes, 9 runs,\n"
            "             search until no neighbour is 3%% faster (3600 s)\n"
            "  --budget   wall seconds for the whole run (shared among classes by FLOPs; a\n"
            "             class's default is always timed)\n"
            "  --out      the file to write (default: CACHE_DIR/tuning-<device hash>.json, the\n"
            "             user file the lookup reads; CACHE_DIR as CASPNET_CACHE_DIR)\n"
            "  --out-dir  write DIR/<device>.json instead, named after the device (how the\n"
            "             shipped database cl/tuning/ is made: bench/tune-shipped.sh)\n"
            "  --notes    text stored in the file's notes field (e.g. that the machine was busy)\n"
            "  --class    tune only this class (see below); the file then holds only it\n"
            "  --precision  the storage the candidates run on: fp32 (default), or fp16 as\n"
            "             --precision fp16 runs the model (weights and feature maps half,\n"
            "             sums float): each candidate is then timed and checked in half.\n"
            "             The file holds one choice per class for both precisions: tune\n"
            "             with the one you run. A device without cl_khr_fp16 tunes fp32,\n"
            "             with a note, as forward and predict then run fp32 there\n"
            "  --quiet    no progress bar and no per-candidate lines\n\n"
            "Classes:\n");
    for (int c = 0; c < CN_TC_COUNT; c++)
        fprintf(f, "  %-13s %s\n", cn_tune_classes[c].name, cn_tune_classes[c].what);
    fprintf(f,
            "\nLookup, per op family, when a model is loaded: CASPNET_TUNING=FILE or the user\n"
            "file, then the database shipped in cl/tuning/ (built into the library), then\n"
            "defaults for the device's kind (CPU, NVIDIA, AMD, Intel GPU, other), then the\n"
            "built-in defaults. A file for another device, older kernels (hash), another\n"
            "schema, or bad JSON is skipped with a note. CASPNET_TUNING=off: built-in\n"
            "defaults; =db: the shipped database and kind defaults only. Tuning never starts\n"
            "by itself; `caspnet bench` prints which tuning it ran.\n");
}

typedef struct bar {
    int tty;   /* a progress bar on stderr */
    int drawn; /* the bar is on the screen now */
} bar;

static void on_log(void *user, const char *line)
{
    bar *b = user;
    if (b->drawn) { /* the line goes where the bar was; the bar comes back below it */
        fputs("\r\033[K", stderr);
        fflush(stderr);
        b->drawn = 0;
    }
    printf("%s\n", line);
    fflush(stdout);
}

/* A file name for the device: implementation, device, host ISA, compute
 * units ("pocl-pthread-skylake-avx512-amd-epyc-avx512f-2cu"); only [a-z0-9-],
 * since the build embeds cl/tuning/ files under their stem. */
static void device_slug(cn_ctx *ctx, char *buf, size_t n)
{
    cn_tune_identity id;
    cn_tuning_identity(ctx, &id);
    char plat[64], raw[512];
    snprintf(plat, sizeof plat, "%s", id.platform);
    for (char *p = plat; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    static const char *const known[][2] = {{"portable computing", "pocl"}, {"intel", "intel"},
                                           {"nvidia", "nvidia"}, {"amd", "amd"},
                                           {"advanced micro", "amd"}, {"apple", "apple"},
                                           {"rusticl", "rusticl"}, {"clover", "clover"}};
    const char *pl = NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0] && !pl; i++)
        if (strstr(plat, known[i][0]))
            pl = known[i][1];
    if (!pl) {
        plat[strcspn(plat, " ")] = '\0';
        pl = plat;
    }
    snprintf(raw, sizeof raw, "%s-%s-%s-%ucu", pl, id.name, id.host_isa, id.compute_units);
    size_t k = 0;
    for (const char *p = raw; *p && k + 1 < n && k < 96; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            c = '-';
        if (c == '-' && (k == 0 || buf[k - 1] == '-'))
            continue;
        buf[k++] = c;
    }
    while (k > 0 && buf[k - 1] == '-')
        k--;
    buf[k] = '\0';
}

static void fmt_time(double s, char *buf, size_t n)
{
    if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static void on_progress(void *user, const cn_tune_progress *p)
{
    bar *b = user;
    if (!b->tty)
        return;
    const int width = 30, fill = (int)(p->fraction * width + 0.5);
    char eta[32];
    fmt_time(p->eta, eta, sizeof eta);
    fprintf(stderr, "\r[%.*s%.*s] %3.0f%% %-12s %3d/%-3d ETA %s ", fill,
            "##############################", width - fill, "..............................",
            100 * p->fraction, p->cls ? p->cls : "", p->cand, p->ncand, eta);
    fflush(stderr);
    b->drawn = 1;
}

int cmd_tune(int argc, char **argv)
{
    const char *device = NULL, *size = "224x384", *batch_s = "1", *mode_s = "normal",
               *budget_s = NULL, *out = NULL, *notes = "", *variant = "av", *only = NULL,
               *out_dir = NULL, *prec_s = "fp32";
    int quiet = 0;
    const cli_opt opts[] = {CLI_VALUE("--device", &device), CLI_VALUE("--size", &size),
                            CLI_VALUE("--batch", &batch_s),  CLI_VALUE("--mode", &mode_s),
                            CLI_VALUE("--budget", &budget_s), CLI_VALUE("--out", &out),
                            CLI_VALUE("--notes", &notes),   CLI_VALUE("--variant", &variant),
                            CLI_VALUE("--class", &only),    CLI_FLAG("--quiet", &quiet),
                            CLI_VALUE("--out-dir", &out_dir), CLI_VALUE("--precision", &prec_s),
                            CLI_END};
    const cli_cmd cmd = {.name = "tune", .usage = usage, .opts = opts, .style = CLI_UNEXPECTED};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    int H, W;
    long N, budget = 0;
    if (sscanf(size, "%dx%d", &H, &W) != 2 || H < 32 || W < 32 || H % 32 || W % 32) {
        cli_error("tune: --size '%s' must be HxW with multiples of 32", size);
        return 2;
    }
    if (!cli_int("--batch", batch_s, 1, 64, &N) ||
        (budget_s && !cli_int("--budget", budget_s, 1, 7 * 86400, &budget)))
        return 2;
    cn_tune_run_opts ro = {0};
    ro.only_cls = -1;
    if (strcmp(mode_s, "rapid") == 0)
        ro.mode = CN_TUNE_RAPID;
    else if (strcmp(mode_s, "normal") == 0)
        ro.mode = CN_TUNE_NORMAL;
    else if (strcmp(mode_s, "exhaustive") == 0)
        ro.mode = CN_TUNE_EXHAUSTIVE;
    else {
        cli_error("tune: --mode must be rapid, normal or exhaustive, not '%s'", mode_s);
        return 2;
    }
    if (strcmp(variant, "av") != 0 && strcmp(variant, "v") != 0) {
        cli_error("tune: --variant must be av or v");
        return 2;
    }
    if (only && (ro.only_cls = cn_tune_class_by_name(only)) < 0) {
        cli_error("tune: no class '%s' (see caspnet tune --help)", only);
        return 2;
    }
    if (out && out_dir) {
        cli_error("tune: --out and --out-dir exclude each other");
        return 2;
    }
    cn_precision prec;
    if (!cli_precision("tune", prec_s, &prec))
        return 2;
    ro.budget = (double)budget;
    const char *cv = getenv("CASPNET_CONV_VARIANT");
    if (cv && *cv) {
        fprintf(stderr, "caspnet: tune: ignoring CASPNET_CONV_VARIANT=%s (the tuner times both "
                "variants)\n", cv);
        unsetenv("CASPNET_CONV_VARIANT");
    }
    cn_ctx_opts co = {0};
    co.device = device;
    co.profiling = 1;
    cn_ctx *ctx;
    if (cn_ctx_create(&co, &ctx) != CN_OK) {
        cli_error("tune: %s", cn_last_error());
        return 1;
    }
    const cn_device_info *dev = cn_ctx_device(ctx);
    char note[512];
    prec = cn_precision_resolve(dev, prec, note, sizeof note);
    if (note[0])
        fprintf(stderr, "caspnet: note: %s\n", note);
    ro.storage = prec == CN_PRECISION_FP16 ? CN_F16 : CN_F32;
    char path[1200];
    if (out)
        snprintf(path, sizeof path, "%s", out);
    else if (out_dir) {
        char slug[128];
        device_slug(ctx, slug, sizeof slug);
        snprintf(path, sizeof path, "%s/%s.json", out_dir, slug);
    }
    else if (!cn_tuning_user_file(ctx, path, sizeof path)[0]) {
        cli_error("tune: the cache folder is off (CASPNET_CACHE_DIR=off): give --out FILE");
        cn_ctx_destroy(ctx);
        return 2;
    }
    printf("tuning %s: %s (%s), %s mode, precision %s, 16 x %d x %d, batch %ld, budget %ld "
           "s -> %s\n", dev->platform_name, dev->name, cn_tune_kind_name(cn_tune_device_kind(dev)),
           mode_s, cn_precision_name(prec), H, W, N, budget ? budget : ro.mode == CN_TUNE_RAPID ? 60L : ro.mode == CN_TUNE_NORMAL
                                                              ? 600L : 3600L, path);
    fflush(stdout);
    cn_tune_problem *probs = NULL;
    int np = 0, nres = 0, rc = 1;
    cn_tune_result res[CN_TC_COUNT];
    bar b = {!quiet && isatty(2), 0};
    ro.log = quiet ? NULL : on_log;
    ro.progress = on_progress;
    ro.user = &b;
    const double t0 = cn_seconds();
    if (cn_model_problems(ctx, variant, (int)N, H, W, &probs, &np) != CN_OK ||
        cn_tune_run(ctx, probs, np, &ro, res, &nres) != CN_OK) {
        if (b.drawn)
            fputs("\r\033[K", stderr);
        cli_error("tune: %s", cn_last_error());
        goto done;
    }
    if (b.drawn)
        fputs("\r\033[K", stderr);
    char command[512];
    int len = snprintf(command, sizeof command, "caspnet tune");
    for (int i = 1; i < argc && len < (int)sizeof command; i++) {
        /* the notes have their own field */
        const int is_notes = strncmp(argv[i - 1], "--notes", 8) == 0 && argv[i - 1][7] == '\0';
        len += snprintf(command + len, sizeof command - (size_t)len, " %s",
                        is_notes ? "..." : strncmp(argv[i], "--notes=", 8) == 0 ? "--notes=..."
                                                                                : argv[i]);
    }
    if (cn_tuning_write(ctx, path, res, nres, command, notes) != CN_OK) {
        cli_error("tune: cannot write %s: %s", path, cn_last_error());
        goto done;
    }
    printf("\n%-13s %12s %12s %8s  %s\n", "class", "default ms", "tuned ms", "speedup",
           "options");
    for (int i = 0; i < nres; i++)
        printf("%-13s %12.3f %12.3f %7.2fx  %s\n", cn_tune_classes[res[i].cls].name,
               res[i].default_seconds * 1e3, res[i].seconds * 1e3,
               res[i].seconds > 0 ? res[i].default_seconds / res[i].seconds : 0, res[i].opts);
    printf("(timed shapes only, per forward pass; %.0f s) wrote %s\n", cn_seconds() - t0, path);
    rc = 0;
done:
    free(probs);
    cn_ctx_destroy(ctx);
    return rc;
}
