/* caspnet devices: every OpenCL platform and device with the facts that decide whether and how the engine runs there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caspnet.h"
#include "cli.h"

static void human(cl_ulong b, char *buf, size_t n)
{
    if (b >= (1ULL << 30))
        snprintf(buf, n, "%.1f GiB", (double)b / (1ULL << 30));
    else if (b >= (1ULL << 20))
        snprintf(buf, n, "%.1f MiB", (double)b / (1ULL << 20));
    else
        snprintf(buf, n, "%.0f KiB", (double)b / 1024);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: caspnet devices\n\n"
               "Lists every OpenCL platform and device. Pick one for other commands with\n"
               "--device N (the index shown), --device NAME (a substring of the platform\n"
               "or device name), or the CASPNET_DEVICE environment variable. By default\n"
               "a discrete GPU is used (most compute units, then most memory), else an\n"
               "integrated GPU, else a CPU device, PoCL first; commands print the device.\n");
}

int cmd_devices(int argc, char **argv)
{
    const cli_opt opts[] = {CLI_END};
    const cli_cmd cmd = {.name = "devices", .usage = usage, .opts = opts, .style = CLI_BARE};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed >= 0)
        return parsed;
    cn_device_info *list = NULL;
    int n = 0;
    if (cn_list_devices(&list, &n) != CN_OK) {
        cli_error("%s", cn_last_error());
        return 1;
    }
    const char *last_platform = "";
    for (int i = 0; i < n; i++) {
        cn_device_info *d = &list[i];
        if (strcmp(d->platform_name, last_platform) != 0) {
            printf("platform: %s\n", d->platform_name);
            last_platform = d->platform_name;
        }
        char g[32], l[32], a[32];
        human(d->global_mem, g, sizeof g);
        human(d->local_mem, l, sizeof l);
        human(d->max_alloc, a, sizeof a);
        printf("  [%d] %s\n"
               "      vendor %s, type %s, driver %s\n"
               "      %s, %s\n"
               "      compute units %u, global memory %s, local memory %s, max allocation %s\n"
               "      max work-group %zu, fp16 %s, fp64 %s\n",
               d->index, d->name, d->vendor, cn_device_type_name(d->type), d->driver, d->version,
               d->c_version, d->compute_units, g, l, a, d->max_wg, d->fp16 ? "yes" : "no",
               d->fp64 ? "yes" : "no");
    }
    free(list);
    return 0;
}
