/* caspnet init-weights: deterministic random weights, calibrated so the network behaves like a trained one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caspnet.h"
#include "cli.h"
#include "io/npy.h"
#include "model/weights_init.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: caspnet init-weights [--seed S] [--variant av|v] [--dtype F32|F16|BF16]\n"
            "                            [--calib-size HxW] [--calib-clips N]\n"
            "                            [--calib-clip CLIP.npy [--calib-logmel MEL.npy]]\n"
            "                            [--device D] [--force] OUT.safetensors\n\n"
            "Writes random CASP-Net weights (deterministic for a seed on a given device) that\n"
            "behave numerically like trained ones (spec section 9): He-normal convolutions,\n"
            "BatchNorm affine parameters away from identity, residual branches started small,\n"
            "then one calibration pass in which every BatchNorm takes the statistics of its\n"
            "actual input, each AVIM output is scaled to 0.1 x std(V_i) and the head to logits\n"
            "of mean 0 and standard deviation 0.5.\n"
            "Calibration runs on N synthetic clips of HxW (default 8 of 64x96), or on given\n"
            "clips (N x 3 x 16 x H x W NumPy, as caspnet forward reads them): a random network\n"
            "normalises best on inputs like the ones it will see, so tests calibrate on theirs.\n"
            "These maps mean nothing: see weights/README.md for real weights.\n"
            "OUT must not exist unless --force.\n");
}

int cmd_init_weights(int argc, char **argv)
{
    const char *seed_s = "0", *variant = "av", *dtype_s = "F32", *size = "64x96", *nclips = "8",
               *cclip = NULL, *cmel = NULL, *device = NULL, *out = NULL;
    int force = 0;
    const cli_opt opts[] = {CLI_VALUE("--seed", &seed_s),         CLI_VALUE("--variant", &variant),
                            CLI_VALUE("--dtype", &dtype_s),       CLI_VALUE("--calib-size", &size),
                            CLI_VALUE("--calib-clips", &nclips),  CLI_VALUE("--calib-clip", &cclip),
                            CLI_VALUE("--calib-logmel", &cmel),   CLI_VALUE("--device", &device),
                            CLI_FLAG("--force", &force),          CLI_END};
    const cli_cmd cmd = {.name = "init-weights", .usage = usage, .opts = opts, .style = CLI_UNEXPECTED,
                         .pos = &out, .max_pos = 1};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    long seed, n;
    if (!out) {
        usage(stderr);
        cli_error("init-weights: the output file is required");
        return 2;
    }
    if (!cli_int("--seed", seed_s, 0, 2147483647L, &seed) || !cli_int("--calib-clips", nclips, 1, 64, &n))
        return 2;
    if (strcmp(variant, "av") != 0 && strcmp(variant, "v") != 0) {
        cli_error("init-weights: --variant must be av or v, not '%s'", variant);
        return 2;
    }
    cn_st_dtype dt;
    if (strcmp(dtype_s, "F32") == 0)
        dt = CN_ST_F32;
    else if (strcmp(dtype_s, "F16") == 0)
        dt = CN_ST_F16;
    else if (strcmp(dtype_s, "BF16") == 0)
        dt = CN_ST_BF16;
    else {
        cli_error("init-weights: --dtype must be F32, F16 or BF16, not '%s'", dtype_s);
        return 2;
    }
    int H = 0, W = 0;
    if (sscanf(size, "%dx%d", &H, &W) != 2 || H < 32 || W < 32 || H % 32 || W % 32) {
        cli_error("init-weights: --calib-size '%s' must be HxW with multiples of 32", size);
        return 2;
    }
    if (!force && access(out, F_OK) == 0) {
        cli_error("init-weights: %s exists (use --force to replace it)", out);
        return 2;
    }
    if ((cclip && cli_same_file(out, cclip)) || (cmel && cli_same_file(out, cmel))) {
        cli_error("init-weights: %s is an input; refusing to overwrite it", out);
        return 2;
    }
    cn_calib_input in = {(int)n, H, W, NULL, NULL};
    float *c = NULL, *m = NULL;
    int rc = 1, nd;
    int64_t s[6];
    cn_engine *e = NULL;
    cn_weights *w = NULL;
    if (cclip) {
        if (cn_npy_read(cclip, &c, &nd, s) != CN_OK) {
            cli_error("%s", cn_last_error());
            goto done;
        }
        if (nd != 5 || s[1] != 3 || s[2] != 16 || s[3] % 32 || s[4] % 32 || s[3] < 32 || s[4] < 32) {
            cli_error("%s: calibration clip must be N x 3 x 16 x H x W with H, W multiples of 32", cclip);
            goto done;
        }
        in.n = (int)s[0], in.H = (int)s[3], in.W = (int)s[4], in.clip = c;
        if (cmel) {
            int64_t ms[6];
            if (cn_npy_read(cmel, &m, &nd, ms) != CN_OK) {
                cli_error("%s", cn_last_error());
                goto done;
            }
            if (nd != 4 || ms[0] != s[0] || ms[1] != 1 || ms[2] != 96 || ms[3] != 64) {
                cli_error("%s: log-mel must be %lld x 1 x 96 x 64", cmel, (long long)s[0]);
                goto done;
            }
            in.logmel = m;
        }
    } else if (cmel) {
        cli_error("init-weights: --calib-logmel needs --calib-clip");
        return 2;
    }
    if (!cli_engine(device, CN_ATTENTION_LINEAR, CN_PRECISION_FP32, 0, &e))
        goto done;
    fprintf(stderr, "caspnet: init-weights variant %s seed %ld: calibrating on %d %s clip(s) of %dx%d\n",
            variant, seed, in.n, cclip ? "given" : "synthetic", in.H, in.W);
    if (cn_weights_init(cn_engine_ctx(e), variant, (uint64_t)seed, &in, &w) != CN_OK ||
        cn_weights_save(w, out, dt) != CN_OK) {
        cli_error("init-weights: %s", cn_last_error());
        goto done;
    }
    fprintf(stderr, "caspnet: wrote %s (%d tensors, %lld values, %s)\n", out, w->count,
            (long long)w->total, dtype_s);
    rc = 0;
done:
    cn_weights_free(w);
    cn_engine_destroy(e);
    free(c);
    free(m);
    return rc;
}
