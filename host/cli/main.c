/* The caspnet program: dispatches to subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"devices", cmd_devices, "list OpenCL platforms and devices"},
    {"forward", cmd_forward, "one forward pass on NumPy tensors (comparison with other implementations)"},
    {"init-weights", cmd_init_weights, "write deterministic, calibrated random weights"},
    {"info", cmd_info, "validate a weights file; parameters per module and GFLOP per clip"},
    {"predict", cmd_predict, "saliency maps for every frame of a video (or a folder of frames)"},
    {"logmel", cmd_logmel, "the VGGish log-mel of one clip's audio window"},
    {"eval", cmd_eval, "CC, NSS, AUC-Judd, SIM, sAUC of predicted maps on a dataset"},
    {"bench", cmd_bench, "time the engine per layer group on each device"},
    {"tune", cmd_tune, "tune the kernels for a device and write its tuning file"},
    {"make-sample", cmd_make_sample, "write the bundled synthetic sample clip (frames, WAV, mp4)"},
};
#define NCOMMANDS ((int)(sizeof commands / sizeof commands[0]))

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("caspnet: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

static void usage(FILE *f)
{
    fprintf(f, "caspnet %s: CASP-Net audio-visual video saliency on OpenCL\n\n"
               "usage: caspnet <command> [options] [--verbose]   (caspnet <command> --help for details)\n\n"
               "--verbose (with any command) prints the OpenCL compiler's log of each kernel\n"
               "program it builds from source (CASPNET_VERBOSE=1 does the same).\n\n"
               "commands:\n", CASPNET_VERSION);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nenvironment:\n"
               "  CASPNET_DEVICE     device index or name substring (default: discrete GPU, else integrated, else CPU)\n"
               "  CASPNET_CACHE_DIR  compiled-kernel cache (default ~/.cache/caspnet; 'off' disables)\n"
               "  CASPNET_VERBOSE    1: kernel build logs on stderr, as --verbose\n"
               "  CASPNET_TUNING     off: built-in kernel tuning; db: shipped database only; FILE: this tuning file\n");
}

int main(int argc, char **argv)
{
    /* --verbose is global: the runtime reads it from the environment, so every
     * command gets it without an option of its own */
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--verbose") == 0)
            setenv("CASPNET_VERBOSE", "1", 1);
        else
            argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("caspnet %s\n", CASPNET_VERSION);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    cli_error("unknown command '%s' (try 'caspnet --help')", argv[1]);
    return 2;
}
