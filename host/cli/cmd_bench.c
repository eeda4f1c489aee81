/* caspnet bench: seconds per clip, per-layer-group device time and the device's own GEMM and copy ceilings, on one or every device. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "cli.h"
#include "io/fileio.h"
#include "ops/ops.h"
#include "model/weights_init.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: caspnet bench [--weights W.safetensors] [--device D|all] [--size HxW]\n"
            "                     [--reps N] [--batches 1,2,4] [--attention linear|quadratic]\n"
            "                     [--json FILE] [--conv-tuning \"-DNAME=V ...\"] [--layers N]\n"
            "                     [--precision fp32,fp16]\n\n"
            "Times the engine on each selected device (--device all: every device): one\n"
            "warm-up pass, then N timed passes (default 5) of one clip of 16 x H x W (default\n"
            "224 x 384), reporting min / median / max seconds per clip, a table per layer\n"
            "group (S3D stages, VGGish, each ASPP and attention, CPC, each decoder block)\n"
            "from OpenCL profiling events (median over the passes), the GFLOP of each group,\n"
            "its GFLOP/s and share; then seconds per clip at each batch size, the sliding-\n"
            "window frames per second at the fastest batch (one clip per frame), the peak\n"
            "device memory, and the device's measured GEMM GFLOP/s (1024^3) and copy\n"
            "bandwidth, so every figure can be read against the device's own ceiling.\n"
            "Without --weights, random av weights are used (timing does not depend on them).\n"
            "--conv-tuning overrides the -D tuning macros of cl/conv3d.cl (documented there)\n"
            "for this run, to try a variant on the whole model. --layers N also lists the N\n"
            "layers (profiling tags) that took the most device time in the last timed pass.\n"
            "--precision lists the storage precisions to run, each a full run with its own\n"
            "peak device memory (fp32, fp16, auto; default fp32,fp16); where fp16 falls back\n"
            "to fp32 (no cl_khr_fp16) and fp32 is listed too, the fp16 run is left out with\n"
            "the reason. The last line per device compares fp16 with fp32 (time, memory).\n");
}

/* Device ceilings: the best of 5 timed 1024^3 products and 256 MiB copies. */
static int ceilings(cn_ctx *ctx, double *gemm_gfs, double *copy_gbs)
{
    const int64_t n = 1024;
    cn_tensor a = {0}, b = {0}, c = {0}, s = {0}, d = {0};
    int64_t sh[2] = {n, n}, big = (int64_t)64 << 20; /* floats: 256 MiB */
    int st = cn_tensor_alloc(ctx, &a, 2, sh);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &b, 2, sh);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &c, 2, sh);
    float zero = 0.5f;
    if (st == CN_OK)
        st = CN_CL(clEnqueueFillBuffer(cn_ctx_queue(ctx), a.buf, &zero, 4, 0, cn_tensor_bytes(&a), 0, NULL, NULL));
    if (st == CN_OK)
        st = CN_CL(clEnqueueFillBuffer(cn_ctx_queue(ctx), b.buf, &zero, 4, 0, cn_tensor_bytes(&b), 0, NULL, NULL));
    double best = 1e30;
    for (int r = 0; st == CN_OK && r < 6; r++) {
        cn_gemm_desc g = {0};
        g.M = g.N = g.K = n, g.alpha = 1, g.lda = g.ldb = g.ldc = n, g.tag = "ceiling.gemm";
        double t0 = cn_seconds();
        st = cn_gemm(ctx, &g, a.buf, cn_tensor_bytes(&a), b.buf, cn_tensor_bytes(&b), c.buf, cn_tensor_bytes(&c));
        if (st == CN_OK)
            st = cn_ctx_finish(ctx);
        if (r > 0)
            best = fmin(best, cn_seconds() - t0);
    }
    *gemm_gfs = st == CN_OK ? 2.0 * (double)(n * n * n) / best * 1e-9 : 0;
    cn_tensor_release(ctx, &a);
    cn_tensor_release(ctx, &b);
    cn_tensor_release(ctx, &c);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &s, 1, &big);
    if (st == CN_OK)
        st = cn_tensor_alloc(ctx, &d, 1, &big);
    if (st == CN_OK)
        st = CN_CL(clEnqueueFillBuffer(cn_ctx_queue(ctx), s.buf, &zero, 4, 0, cn_tensor_bytes(&s), 0, NULL, NULL));
    best = 1e30;
    for (int r = 0; st == CN_OK && r < 6; r++) {
        double t0 = cn_seconds();
        st = CN_CL(clEnqueueCopyBuffer(cn_ctx_queue(ctx), s.buf, d.buf, 0, 0, cn_tensor_bytes(&s), 0, NULL, NULL));
        if (st == CN_OK)
            st = cn_ctx_finish(ctx);
        if (r > 0)
            best = fmin(best, cn_seconds() - t0);
    }
    /* a copy reads and writes every byte */
    *copy_gbs = st == CN_OK ? 2.0 * (double)cn_tensor_bytes(&s) / best * 1e-9 : 0;
    cn_tensor_release(ctx, &s);
    cn_tensor_release(ctx, &d);
    cn_arena_trim(ctx);
    return st;
}

typedef struct group_time {
    const char *name;
    double flops;
    double t[64];
} group_time;

static int by_seconds_desc(const void *a, const void *b)
{
    const cn_prof_entry *x = a, *y = b;
    return (x->seconds < y->seconds) - (x->seconds > y->seconds);
}

/* The n launches (group, tag) of one pass that took the most device time. */
static void print_layers(cn_prof_entry *pe, int np, int n, double total)
{
    qsort(pe, (size_t)np, sizeof *pe, by_seconds_desc);
    printf("%-14s %-40s %8s %10s %7s\n", "layer group", "layer (tag)", "launches", "ms", "share");
    for (int i = 0; i < np && i < n; i++)
        printf("%-14s %-40s %8d %10.2f %6.1f%%\n", pe[i].group[0] ? pe[i].group : "(other)", pe[i].tag,
               pe[i].launches, pe[i].seconds * 1e3, total > 0 ? 100.0 * pe[i].seconds / total : 0.0);
}

/* What one run measured, for the comparison of precisions (0: not run). */
typedef struct run_result {
    double seconds; /* median per clip at batch 1 */
    uint64_t peak;  /* bytes */
    int fp16;       /* ran in fp16 */
} run_result;

/* prec: as asked; skip_fallback: leave the run out when it falls back to
 * fp32 (fp32 is run on its own). */
static int bench_device(const char *device, const char *weights, const char *conv_tuning, int H,
                        int W, int reps, const int *batches, int nb, cn_attention_mode att,
                        int layers, cn_precision prec, int skip_fallback, cJSON *jdevs,
                        run_result *res)
{
    cn_prof_entry *last = NULL; /* the last timed pass, for --layers */
    int nlast = 0;
    *res = (run_result){0, 0, 0};
    cn_engine_opts eo = {0};
    eo.device = device;
    eo.profiling = 1;
    eo.attention = att;
    eo.precision = prec;
    cn_engine *e;
    if (cn_engine_create(&eo, &e) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 0;
    }
    const cn_precision used = cn_engine_precision(e);
    if (prec != CN_PRECISION_FP32 && used == CN_PRECISION_FP32 && skip_fallback) {
        printf("\n== %s, precision %s: left out, it runs in fp32 here (%s)\n",
               cn_engine_device(e), cn_precision_name(prec), cn_engine_precision_note(e)[0]
                   ? cn_engine_precision_note(e) : "auto picks fp32 on this device");
        cn_engine_destroy(e);
        return 1;
    }
    cn_ctx *ctx = cn_engine_ctx(e);
    int ok = 0, maxb = 1;
    /* the tuning belongs to this device's context; set before the weights
     * are packed for it */
    if (conv_tuning && cn_conv_set_tuning(ctx, conv_tuning) != CN_OK) {
        cli_error("bench: %s", cn_last_error());
        cn_engine_destroy(e);
        return 0;
    }
    for (int i = 0; i < nb; i++)
        maxb = batches[i] > maxb ? batches[i] : maxb;
    float *clip = NULL, *mel = NULL, *sal = NULL;
    group_time *gt = calloc(40, sizeof *gt);
    int ngt = 0;
    printf("\n== %s, precision %s\n", cn_engine_device(e), cn_precision_name(used));
    if (cn_engine_precision_note(e)[0])
        printf("note: %s\n", cn_engine_precision_note(e));
    fflush(stdout);
    double gemm = 0, copy = 0;
    if (ceilings(ctx, &gemm, &copy) != CN_OK) {
        cli_error("bench: %s", cn_last_error());
        goto done;
    }
    printf("device ceilings: GEMM %.1f GFLOP/s (1024^3, %s), copy %.1f GB/s (256 MiB, read + write)\n",
           gemm, "chosen backend", copy);
    int st;
    if (weights)
        st = cn_engine_load(e, weights);
    else {
        cn_weights *w = NULL;
        st = cn_weights_new("av", &w);
        if (st == CN_OK) {
            cn_weights_randomize(w, 0);
            st = cn_engine_load_weights(e, w);
        }
        cn_weights_free(w);
    }
    if (st == CN_OK) {
        /* which tuning this run measures (host/ops/tuning.h: user file, shipped db, defaults) */
        printf("tuning: gemm from %s; conv from %s\n", cn_tuning_source(ctx, CN_TF_GEMM),
               conv_tuning ? "--conv-tuning (every class)" : cn_tuning_source(ctx, CN_TF_CONV));
        st = cn_synth_inputs(maxb, H, W, 1, &clip, &mel);
    }
    sal = malloc((size_t)maxb * H * W * sizeof *sal);
    if (st != CN_OK || !sal) {
        cli_error("bench: %s", st != CN_OK ? cn_last_error() : "out of host memory");
        goto done;
    }
    /* warm-up: builds or loads every program, fills the arena */
    if (cn_engine_run(e, 1, H, W, clip, mel, sal) != CN_OK) {
        cli_error("bench: %s", cn_last_error());
        goto done;
    }
    cn_prof_entry *pe;
    int np;
    cn_prof_collect(ctx, &pe, &np);
    free(pe);
    cn_engine_reset_peak(e);
    double *wall = calloc((size_t)reps, sizeof *wall);
    for (int r = 0; r < reps; r++) {
        double t0 = cn_seconds();
        if (cn_engine_run(e, 1, H, W, clip, mel, sal) != CN_OK) {
            cli_error("bench: %s", cn_last_error());
            free(wall);
            goto done;
        }
        wall[r] = cn_seconds() - t0;
        cn_prof_collect(ctx, &pe, &np);
        const char *const *gn;
        const double *gf;
        int ng = cn_model_groups(cn_engine_model(e), &gn, &gf);
        for (int g = 0; g < ng && r == 0; g++) {
            gt[ngt].name = gn[g];
            gt[ngt++].flops = gf[g];
        }
        for (int i = 0; i < np; i++) {
            int g = 0;
            while (g < ngt && strcmp(gt[g].name, pe[i].group) != 0)
                g++;
            if (g == ngt && ngt < 39)
                gt[ngt++].name = pe[i].group[0] ? pe[i].group : "(other)";
            if (g < 40 && r < 64)
                gt[g].t[r] += pe[i].seconds;
        }
        if (r == reps - 1 && layers > 0)
            last = pe, nlast = np;
        else
            free(pe);
    }
    uint64_t peak = cn_engine_peak_bytes(e);
    double mn = 1e30, mx = 0;
    for (int r = 0; r < reps; r++)
        mn = fmin(mn, wall[r]), mx = fmax(mx, wall[r]);
    double med = cn_median(wall, reps);
    free(wall);
    double total_dev = 0, total_fl = 0;
    double *gmed = calloc((size_t)ngt, sizeof *gmed);
    for (int g = 0; g < ngt; g++) {
        gmed[g] = cn_median(gt[g].t, reps);
        total_dev += gmed[g];
        total_fl += gt[g].flops;
    }
    printf("batch 1, 16 x %d x %d: min %.3f s, median %.3f s, max %.3f s per clip (%d passes); "
           "peak device memory %.1f MiB (weights %.1f MiB)\n",
           H, W, mn, med, mx, reps, (double)peak / (1 << 20),
           (double)cn_model_weight_bytes(cn_engine_model(e)) / (1 << 20));
    printf("%-14s %10s %9s %9s %7s\n", "layer group", "ms", "GFLOP", "GFLOP/s", "share");
    for (int g = 0; g < ngt; g++)
        printf("%-14s %10.1f %9.2f %9.1f %6.1f%%\n", gt[g].name, gmed[g] * 1e3, gt[g].flops * 1e-9,
               gmed[g] > 0 ? gt[g].flops * 1e-9 / gmed[g] : 0.0, 100.0 * gmed[g] / total_dev);
    printf("%-14s %10.1f %9.2f %9.1f %6.1f%%  (device time; wall median %.1f ms)\n", "total",
           total_dev * 1e3, total_fl * 1e-9, total_fl * 1e-9 / total_dev, 100.0, med * 1e3);
    if (last)
        print_layers(last, nlast, layers, total_dev);
    cJSON *jd = cJSON_CreateObject();
    cJSON_AddStringToObject(jd, "device", cn_engine_device(e));
    cJSON_AddStringToObject(jd, "precision", cn_precision_name(used));
    cJSON_AddNumberToObject(jd, "weight_bytes", (double)cn_model_weight_bytes(cn_engine_model(e)));
    cJSON_AddNumberToObject(jd, "gemm_gflops", gemm);
    cJSON_AddStringToObject(jd, "tuning_gemm", cn_tuning_source(ctx, CN_TF_GEMM));
    cJSON_AddStringToObject(jd, "tuning_conv", conv_tuning ? "--conv-tuning"
                                                           : cn_tuning_source(ctx, CN_TF_CONV));
    cJSON_AddNumberToObject(jd, "copy_gbs", copy);
    cJSON_AddNumberToObject(jd, "height", H);
    cJSON_AddNumberToObject(jd, "width", W);
    cJSON_AddNumberToObject(jd, "seconds_min", mn);
    cJSON_AddNumberToObject(jd, "seconds_median", med);
    cJSON_AddNumberToObject(jd, "seconds_max", mx);
    cJSON_AddNumberToObject(jd, "peak_bytes", (double)peak);
    cJSON *jg = cJSON_AddArrayToObject(jd, "groups");
    for (int g = 0; g < ngt; g++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", gt[g].name);
        cJSON_AddNumberToObject(o, "seconds", gmed[g]);
        cJSON_AddNumberToObject(o, "gflop", gt[g].flops * 1e-9);
        cJSON_AddItemToArray(jg, o);
    }
    free(gmed);
    double best = med, bestb = 1;
    cJSON *jb = cJSON_AddArrayToObject(jd, "batches");
    for (int i = 0; i < nb; i++) {
        int b = batches[i];
        double ts[3];
        int failed = 0;
        for (int r = 0; r < 3 && !failed; r++) {
            double t0 = cn_seconds();
            failed = cn_engine_run(e, b, H, W, clip, mel, sal) != CN_OK;
            ts[r] = (cn_seconds() - t0) / b;
            cn_prof_collect(ctx, &pe, &np);
            free(pe);
        }
        if (failed) {
            printf("batch %d: %s (skipped)\n", b, cn_last_error());
            break;
        }
        double m = cn_median(ts, 3);
        printf("batch %d: %.3f s per clip (median of 3)\n", b, m);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "batch", b);
        cJSON_AddNumberToObject(o, "seconds_per_clip", m);
        cJSON_AddItemToArray(jb, o);
        if (m < best)
            best = m, bestb = b;
    }
    printf("sliding window: %.2f frames/s at batch %g (one clip per frame)\n", 1.0 / best, bestb);
    cJSON_AddNumberToObject(jd, "frames_per_second", 1.0 / best);
    cJSON_AddNumberToObject(jd, "best_batch", bestb);
    cJSON_AddItemToArray(jdevs, jd);
    res->seconds = med;
    res->peak = peak;
    res->fp16 = used == CN_PRECISION_FP16;
    ok = 1;
done:
    free(last);
    free(gt);
    free(clip);
    free(mel);
    free(sal);
    cn_engine_destroy(e);
    return ok;
}

int cmd_bench(int argc, char **argv)
{
    const char *weights = NULL, *device = NULL, *size = "224x384", *reps_s = "5", *bs = "1,2,4",
               *att = "linear", *json = NULL, *conv_tuning = NULL, *layers_s = "0",
               *precs = "fp32,fp16";
    const cli_opt opts[] = {CLI_VALUE("--weights", &weights), CLI_VALUE("--device", &device),
                            CLI_VALUE("--size", &size),       CLI_VALUE("--reps", &reps_s),
                            CLI_VALUE("--batches", &bs),      CLI_VALUE("--attention", &att),
                            CLI_VALUE("--json", &json),       CLI_VALUE("--conv-tuning", &conv_tuning),
                            CLI_VALUE("--layers", &layers_s), CLI_VALUE("--precision", &precs),
                            CLI_END};
    const cli_cmd cmd = {.name = "bench", .usage = usage, .opts = opts, .style = CLI_UNEXPECTED};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    long reps;
    int H, W;
    long layers;
    if (!cli_int("--reps", reps_s, 1, 64, &reps) || !cli_int("--layers", layers_s, 0, 100000, &layers))
        return 2;
    if (sscanf(size, "%dx%d", &H, &W) != 2 || H < 32 || W < 32 || H % 32 || W % 32) {
        cli_error("bench: --size '%s' must be HxW with multiples of 32", size);
        return 2;
    }
    cn_attention_mode am = CN_ATTENTION_LINEAR;
    if (strcmp(att, "quadratic") == 0)
        am = CN_ATTENTION_QUADRATIC;
    else if (strcmp(att, "linear") != 0) {
        cli_error("bench: --attention must be linear or quadratic");
        return 2;
    }
    int batches[8], nb = 0;
    for (const char *p = bs; *p && nb < 8;) {
        char *end;
        long b = strtol(p, &end, 10);
        if (end == p || b < 1 || b > 64) {
            cli_error("bench: --batches '%s' must be a list like 1,2,4", bs);
            return 2;
        }
        batches[nb++] = (int)b;
        p = *end == ',' ? end + 1 : end;
    }
    cn_precision plist[3];
    int npr = 0, has32 = 0;
    char pbuf[64];
    snprintf(pbuf, sizeof pbuf, "%s", precs);
    for (char *save = NULL, *t = strtok_r(pbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (npr == 3 || !cli_precision("bench", t, &plist[npr]))
            return 2;
        has32 |= plist[npr++] == CN_PRECISION_FP32;
    }
    if (npr == 0) {
        cli_error("bench: --precision '%s' names no precision", precs);
        return 2;
    }
    cJSON *root = cJSON_CreateObject(), *devs = cJSON_AddArrayToObject(root, "devices");
    int ok = 1, any = 0;
    cn_device_info *list = NULL;
    int n = 1;
    if (device && strcmp(device, "all") == 0 && cn_list_devices(&list, &n) != CN_OK) {
        cli_error("%s", cn_last_error());
        cJSON_Delete(root);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char idx[16];
        if (list)
            snprintf(idx, sizeof idx, "%d", list[i].index);
        run_result r32 = {0, 0, 0}, r16 = {0, 0, 0};
        for (int p = 0; p < npr; p++) {
            run_result r;
            ok &= bench_device(list ? idx : device, weights, conv_tuning, H, W, (int)reps, batches,
                               nb, am, (int)layers, plist[p], has32, devs, &r);
            if (r.peak)
                *(r.fp16 ? &r16 : &r32) = r;
            any = 1;
        }
        if (r32.peak && r16.peak)
            printf("\nfp16 against fp32: %.3f s against %.3f s per clip (%.2fx), peak device memory "
                   "%.1f MiB against %.1f MiB (%.2fx)\n", r16.seconds, r32.seconds,
                   r32.seconds / r16.seconds, (double)r16.peak / (1 << 20),
                   (double)r32.peak / (1 << 20), (double)r16.peak / (double)r32.peak);
    }
    free(list);
    if (json && any) {
        char *txt = cJSON_Print(root);
        if (!txt || cn_write_text_atomic(json, txt) != CN_OK) {
            cli_error("bench: cannot write %s: %s", json, txt ? cn_last_error() : "out of memory");
            ok = 0;
        }
        free(txt);
    }
    cJSON_Delete(root);
    return ok ? 0 : 1;
}
