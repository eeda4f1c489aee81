/* caspnet info: validates a weights file and prints its parameters per module and the GFLOP of one clip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "cli.h"
#include "model/modelspec.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: caspnet info [--height H] [--width W] [--device D] W.safetensors\n\n"
               "Validates the weights file against the spec, prints its variant, the parameters\n"
               "per module, and the GFLOP of one forward pass of a 16 x H x W clip (default\n"
               "224 x 384; multiply-adds counted twice, convolutions, linear layers and\n"
               "attention products).\n");
}

int cmd_info(int argc, char **argv)
{
    const char *hs = "224", *ws = "384", *device = NULL, *path = NULL;
    const cli_opt opts[] = {CLI_VALUE("--height", &hs), CLI_VALUE("--width", &ws),
                            CLI_VALUE("--device", &device), CLI_END};
    const cli_cmd cmd = {.name = "info", .usage = usage, .opts = opts, .style = CLI_UNEXPECTED,
                         .pos = &path, .max_pos = 1};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    long H, W;
    if (!path) {
        usage(stderr);
        return 2;
    }
    if (!cli_int("--height", hs, 32, 8192, &H) || !cli_int("--width", ws, 32, 8192, &W))
        return 2;
    if (H % 32 || W % 32) {
        cli_error("info: height and width must be multiples of 32");
        return 2;
    }
    cn_weights *w;
    if (cn_weights_load(path, &w) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 1;
    }
    printf("%s: variant %s, %d tensors\n", path, w->variant, w->count);
    if (w->nonfinite)
        printf("warning: %d tensor(s) hold NaN or Inf, first '%s'\n", w->nonfinite, w->nonfinite_first);
    int64_t cnt[CN_SPEC_KEY_MODULES] = {0}, bn[CN_SPEC_KEY_MODULES] = {0}, total = 0, total_bn = 0;
    for (int i = 0; i < w->count; i++) {
        int k = cn_spec_key_module(w->w[i].name);
        int stat = strstr(w->w[i].name, "running_") != NULL;
        if (k >= 0)
            (stat ? bn : cnt)[k] += w->w[i].numel;
        *(stat ? &total_bn : &total) += w->w[i].numel;
    }
    printf("%-8s %14s %16s\n", "module", "parameters", "+BN statistics");
    for (int k = 0; k < CN_SPEC_KEY_MODULES; k++)
        if (cnt[k])
            printf("%-8s %14lld %16lld\n", cn_spec_key_modules[k], (long long)cnt[k],
                   (long long)bn[k]);
    printf("%-8s %14lld %16lld  (%.2f M with statistics)\n", "total", (long long)total,
           (long long)total_bn, (double)(total + total_bn) * 1e-6);
    cn_engine *e = NULL;
    int rc = 1;
    if (!cli_engine(device, CN_ATTENTION_LINEAR, CN_PRECISION_FP32, 1, &e))
        goto done;
    if (cn_engine_load_weights(e, w) != CN_OK) {
        cli_error("%s", cn_last_error());
        goto done;
    }
    double gf, per[CN_MOD_COUNT], lit;
    if (cn_model_flops(cn_engine_model(e), 1, (int)H, (int)W, 1, &lit, NULL) != CN_OK ||
        cn_model_flops(cn_engine_model(e), 1, (int)H, (int)W, 0, &gf, per) != CN_OK) {
        cli_error("%s", cn_last_error());
        goto done;
    }
    printf("GFLOP per 16 x %ld x %ld clip: %.1f (", H, W, gf);
    for (int k = 0; k < CN_MOD_COUNT; k++)
        if (per[k] > 0)
            printf("%s%s %.1f", k ? ", " : "", cn_spec_mod_names[k], per[k]);
    printf(")\n");
    if (lit != gf)
        printf("GFLOP of the spec's literal attention formulas: %.1f (the engine's closed form for the\n"
               "broadcast audio key gives the same result with %.1f fewer)\n", lit, lit - gf);
    rc = 0;
done:
    cn_engine_destroy(e);
    cn_weights_free(w);
    return rc;
}
