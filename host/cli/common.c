/* Helpers shared by the subcommands: option values, engine creation, output-path safety. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caspnet.h"
#include "cli.h"

int cli_value(int argc, char **argv, int *i, const char *name, const char **out)
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

int cli_engine(const char *device, cn_attention_mode att, int quiet, cn_engine **e)
{
    cn_engine_opts o = {0};
    o.device = device;
    o.attention = att;
    if (cn_engine_create(&o, e) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 0;
    }
    if (!quiet)
        fprintf(stderr, "caspnet: device %s\n", cn_engine_device(*e));
    return 1;
}
