/* Subcommands of the caspnet program; each parses its own arguments and returns the exit code. */
#ifndef CASPNET_CLI_H
#define CASPNET_CLI_H

int cmd_devices(int argc, char **argv);

/* Prints "caspnet: <msg>" to stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);

#endif
