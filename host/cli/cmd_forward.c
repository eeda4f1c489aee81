/* caspnet forward: one forward pass on raw NumPy tensors, optionally dumping every tap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caspnet.h"
#include "cli.h"
#include "io/npy.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: caspnet forward --weights W.safetensors --clip CLIP.npy [--logmel MEL.npy]\n"
            "                       --out SAL.npy [--dump-dir DIR] [--attention linear|quadratic]\n"
            "                       [--general-attention] [--precision fp32|fp16|auto]\n"
            "                       [--device D] [--quiet]\n\n"
            "Runs one forward pass on float32 NumPy tensors: CLIP is N x 3 x 16 x H x W in\n"
            "[-1, 1] (H, W multiples of 32), MEL is N x 1 x 96 x 64 (required for variant av).\n"
            "Writes the maps of the clips' last frames, N x 1 x H x W, to SAL.npy. With\n"
            "--dump-dir, every tap (X1..X4, fA, V1..V4, F1..F4, F4p, sal) is written there\n"
            "as DIR/<name>.npy, for comparison with other implementations.\n"
            "--general-attention runs the literal L x 256 attention formulas instead of the\n"
            "closed form for the broadcast audio key (same result; for tests).\n"
            "--precision: how weights and activations are stored on the device, fp32\n"
            "(default), fp16 (where the device has cl_khr_fp16; else fp32, with a note) or\n"
            "auto (fp16 on a GPU that has it); arithmetic is float either way.\n");
}

typedef struct dumper {
    cn_ctx *ctx;
    const char *dir;
} dumper;

static int dump_tap(void *user, const char *name, const cn_tensor *t)
{
    dumper *d = user;
    float *h = malloc((size_t)cn_numel(t) * sizeof *h); /* float on the host, also for a half tap */
    if (!h)
        return cn_fail(CN_ERR_OOM, "out of host memory dumping %s", name);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", d->dir, name);
    int st = cn_tensor_download(d->ctx, t, h);
    if (st == CN_OK)
        st = cn_npy_write(path, h, t->ndim, t->shape);
    free(h);
    return st;
}

int cmd_forward(int argc, char **argv)
{
    const char *weights = NULL, *clip = NULL, *mel = NULL, *out = NULL, *dump = NULL,
               *device = NULL, *att = "linear", *prec = "fp32";
    int quiet = 0, general = 0;
    const cli_opt opts[] = {CLI_VALUE("--weights", &weights),  CLI_VALUE("--clip", &clip),
                            CLI_VALUE("--logmel", &mel),       CLI_VALUE("--out", &out),
                            CLI_VALUE("--dump-dir", &dump),    CLI_VALUE("--device", &device),
                            CLI_VALUE("--attention", &att),    CLI_FLAG("--quiet", &quiet),
                            CLI_FLAG("--general-attention", &general),
                            CLI_VALUE("--precision", &prec), CLI_END};
    const cli_cmd cmd = {.name = "forward", .usage = usage, .opts = opts, .style = CLI_UNKNOWN};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    if (!weights || !clip || !out) {
        usage(stderr);
        cli_error("forward: --weights, --clip and --out are required");
        return 2;
    }
    cn_forward_opts fo = {0};
    if (strcmp(att, "linear") == 0)
        fo.attention = CN_ATTENTION_LINEAR;
    else if (strcmp(att, "quadratic") == 0)
        fo.attention = CN_ATTENTION_QUADRATIC;
    else {
        cli_error("forward: --attention must be linear or quadratic, not '%s'", att);
        return 2;
    }
    fo.general_attention = general;
    cn_precision pr;
    if (!cli_precision("forward", prec, &pr))
        return 2;
    if (cli_same_file(out, clip) || cli_same_file(out, weights) || (mel && cli_same_file(out, mel))) {
        cli_error("forward: --out %s is one of the inputs; refusing to overwrite it", out);
        return 2;
    }
    float *c = NULL, *m = NULL, *sal = NULL;
    int cd, md = 0, rc = 1;
    int64_t cs[6], ms[6];
    cn_engine *e = NULL;
    if (cn_npy_read(clip, &c, &cd, cs) != CN_OK) {
        cli_error("%s", cn_last_error());
        goto done;
    }
    if (cd != 5 || cs[1] != 3 || cs[2] != 16 || cs[3] % 32 || cs[4] % 32 || cs[3] < 32 || cs[4] < 32) {
        cli_error("%s: clip must be N x 3 x 16 x H x W with H, W multiples of 32", clip);
        goto done;
    }
    if (mel && cn_npy_read(mel, &m, &md, ms) != CN_OK) {
        cli_error("%s", cn_last_error());
        goto done;
    }
    if (mel && (md != 4 || ms[0] != cs[0] || ms[1] != 1 || ms[2] != 96 || ms[3] != 64)) {
        cli_error("%s: log-mel must be %lld x 1 x 96 x 64 to match the clip", mel, (long long)cs[0]);
        goto done;
    }
    if (dump && mkdir(dump, 0777) != 0 && errno != EEXIST) {
        cli_error("cannot create --dump-dir %s: %s", dump, strerror(errno));
        goto done;
    }
    if (!cli_engine(device, fo.attention, pr, quiet, &e))
        goto done;
    if (cn_engine_load(e, weights) != CN_OK) {
        cli_error("%s", cn_last_error());
        goto done;
    }
    if (cn_engine_warning(e)[0])
        fprintf(stderr, "caspnet: warning: %s\n", cn_engine_warning(e));
    if (!mel && strcmp(cn_engine_variant(e), "av") == 0) {
        cli_error("forward: %s is variant av: --logmel MEL.npy is required", weights);
        goto done;
    }
    dumper d = {cn_engine_ctx(e), dump};
    if (dump) {
        fo.tap = dump_tap;
        fo.tap_user = &d;
    }
    int N = (int)cs[0], H = (int)cs[3], W = (int)cs[4];
    sal = malloc((size_t)N * H * W * sizeof *sal);
    if (!sal) {
        cli_error("out of host memory");
        goto done;
    }
    const double t0 = cn_seconds();
    if (cn_engine_run_opts(e, N, H, W, c, m, &fo, sal) != CN_OK) {
        cli_error("forward: %s", cn_last_error());
        goto done;
    }
    const double dt = cn_seconds() - t0;
    int64_t os[4] = {N, 1, H, W};
    if (cn_npy_write(out, sal, 4, os) != CN_OK) {
        cli_error("%s", cn_last_error());
        goto done;
    }
    if (!quiet) {
        int64_t inside = 0;
        for (int64_t j = 0; j < (int64_t)N * H * W; j++)
            inside += sal[j] > 0.01f && sal[j] < 0.99f;
        fprintf(stderr, "caspnet: forward of %d x 16 x %d x %d in %.2f s (%s attention, %s), peak device memory %.1f MiB, "
                        "map in (0.01, 0.99): %.3f; wrote %s\n",
                N, H, W, dt, att, cn_precision_name(cn_engine_precision(e)),
                (double)cn_engine_peak_bytes(e) / (1 << 20), (double)inside / ((double)N * H * W), out);
    }
    rc = 0;
done:
    cn_engine_destroy(e);
    free(c);
    free(m);
    free(sal);
    return rc;
}
