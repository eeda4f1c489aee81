/* Subcommands of the caspnet program; each parses its own arguments and returns the exit code. */
#ifndef CASPNET_CLI_H
#define CASPNET_CLI_H

int cmd_devices(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_init_weights(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_logmel(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_make_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);

#include <stdio.h>

#include "model/engine.h"
/* One option of a subcommand: "--name V" or "--name=V" stores V in *value
 * (when value is set), a bare "--name" sets *flag to 1 (when flag is set). */
typedef struct cli_opt {
    const char *name;
    const char **value;
    int *flag;
} cli_opt;
#define CLI_VALUE(name, ptr) {(name), (ptr), NULL}
#define CLI_FLAG(name, ptr) {(name), NULL, (ptr)}
#define CLI_END {NULL, NULL, NULL}

/* How a subcommand words an argument it does not take ('X'). */
typedef enum cli_style {
    CLI_UNEXPECTED, /* "<cmd>: unexpected argument 'X' (see --help)" */
    CLI_UNKNOWN,    /* "<cmd>: unknown argument 'X' (see caspnet <cmd> --help)" */
    CLI_BARE,       /* "<cmd>: unexpected argument 'X'" */
} cli_style;

/* A subcommand's command line. */
typedef struct cli_cmd {
    const char *name;      /* in messages */
    void (*usage)(FILE *); /* the --help / -h text, printed on stdout */
    const cli_opt *opts;   /* ends with CLI_END */
    cli_style style;
    const char **pos;      /* positional arguments go to pos[0 .. max_pos - 1] */
    int max_pos;
    const char *one;       /* when set, a lone "-" is positional too, and one more than max_pos
                            * is "<cmd>: one <one> only ('A' and 'B')" */
} cli_cmd;

/* Parses argv[1..] by c: -1 when the command goes on, else the exit code to
 * return: 0 after --help, 2 after an error (printed: an unknown option, an
 * extra positional argument, a value missing). */
int cli_parse(const cli_cmd *c, int argc, char **argv);
/* Parses an integer in [lo, hi]; prints an error naming opt and returns 0 if not. */
int cli_int(const char *opt, const char *s, long lo, long hi, long *out);
/* True when both paths exist and are the same file. */
int cli_same_file(const char *a, const char *b);
/* Creates the engine on the requested device in the requested precision and
 * says which device and precision (unless quiet), with the note when fp16
 * was asked for and is not used (cn_engine_precision_note). */
int cli_engine(const char *device, cn_attention_mode att, cn_precision prec, int quiet,
               cn_engine **e);
/* Parses a --precision value (fp32, fp16, auto); prints an error naming the
 * command and returns 0 when it is none of them. */
int cli_precision(const char *cmd, const char *s, cn_precision *out);
/* The --precision line of a subcommand's usage text. */
#define CLI_PRECISION_HELP                                                                  \
    "  --precision P      fp32 (default), fp16 or auto: how weights and activations are\n"  \
    "                     stored on the device (arithmetic is float either way); fp16\n"    \
    "                     needs cl_khr_fp16 (else fp32, with a note); auto is fp16 on a\n"  \
    "                     GPU that has it, fp32 elsewhere\n"

/* Prints "caspnet: <msg>" to stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
