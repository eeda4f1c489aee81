/* Helpers shared by the subcommands: argument parsing, engine creation, output-path safety. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caspnet.h"
#include "cli.h"

/* Matches option `name` at argv[*i] as "--name V" or "--name=V": 1 and *out
 * set (advancing *i past a separate value), 0 when it is another option, -1
 * (message printed) when the value is missing. */
static int cli_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", name);
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

int cli_parse(const cli_cmd *c, int argc, char **argv)
{
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            c->usage(stdout);
            return 0;
        }
        int r = 0;
        for (const cli_opt *o = c->opts; o && o->name && !r; o++) {
            if (o->value)
                r = cli_value(argc, argv, &i, o->name, o->value);
            else if (strcmp(a, o->name) == 0) {
                if (o->flag)
                    *o->flag = 1;
                r = 1;
            }
        }
        if (r < 0)
            return 2;
        if (r)
            continue;
        int option = a[0] == '-' && !(c->one && a[1] == '\0');
        if (!option && npos < c->max_pos) {
            c->pos[npos++] = a;
            continue;
        }
        if (!option && c->one && npos > 0)
            cli_error("%s: one %s only ('%s' and '%s')", c->name, c->one, c->pos[npos - 1], a);
        else if (c->style == CLI_UNKNOWN)
            cli_error("%s: unknown argument '%s' (see caspnet %s --help)", c->name, a, c->name);
        else
            cli_error("%s: unexpected argument '%s'%s", c->name, a, c->style == CLI_BARE ? "" : " (see --help)");
        return 2;
    }
    return -1;
}

int cli_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error("%s: '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cli_engine(const char *device, cn_attention_mode att, cn_precision prec, int quiet,
               cn_engine **e)
{
    cn_engine_opts o = {0};
    o.device = device;
    o.attention = att;
    o.precision = prec;
    if (cn_engine_create(&o, e) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 0;
    }
    if (!quiet) {
        fprintf(stderr, "caspnet: device %s, precision %s\n", cn_engine_device(*e),
                cn_precision_name(cn_engine_precision(*e)));
        if (cn_engine_precision_note(*e)[0])
            fprintf(stderr, "caspnet: note: %s\n", cn_engine_precision_note(*e));
    }
    return 1;
}

int cli_precision(const char *cmd, const char *s, cn_precision *out)
{
    if (cn_precision_parse(s, out) == CN_OK)
        return 1;
    cli_error("%s: --precision must be fp32, fp16 or auto, not '%s'", cmd, s);
    return 0;
}
