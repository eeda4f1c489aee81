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

#include "engine.h"
/* Matches option `name` at argv[*i] as "--name V" or "--name=V": 1 and *out
 * set (advancing *i past a separate value), 0 when it is another option, -1
 * (message printed) when the value is missing. */
int cli_value(int argc, char **argv, int *i, const char *name, const char **out);
/* Parses an integer in [lo, hi]; prints an error naming opt and returns 0 if not. */
int cli_int(const char *opt, const char *s, long lo, long hi, long *out);
/* True when both paths exist and are the same file. */
int cli_same_file(const char *a, const char *b);
/* Creates the engine on the requested device and says which one (unless quiet). */
int cli_engine(const char *device, cn_attention_mode att, int quiet, cn_engine **e);

/* Prints "caspnet: <msg>" to stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
