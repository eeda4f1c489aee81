/* Table-driven op test runner: runs the cases of every op family in tests/ops/ (or those named on the command line) against the double-precision C references, one line per case. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op_test.h"

static const op_family *const families[] = {
    &op_family_attention, &op_family_conv2d, &op_family_conv3d, &op_family_conv_transpose3d,
    &op_family_eltwise,   &op_family_gemm,   &op_family_linear, &op_family_mean,
    &op_family_pool,      &op_family_resize,    &op_family_tuning,
};
#define NFAMILIES (int)(sizeof families / sizeof families[0])

void op_add(op_cases *l, op_case_fn fn, const void *arg, const char *fmt, ...)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        if (!l->v) {
            fprintf(stderr, "out of host memory\n");
            exit(2);
        }
    }
    op_case *c = &l->v[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->name, sizeof c->name, fmt, ap);
    va_end(ap);
    c->fn = fn, c->arg = arg, c->plain = NULL;
}

void op_add_plain(op_cases *l, op_plain_fn fn, const char *name)
{
    op_add(l, NULL, NULL, "%s", name);
    l->v[l->n - 1].plain = fn;
}

/* A case's seed depends only on its name, not on its position. */
static uint64_t name_hash(const char *s) { return cn_fnv1a(1469598103934665603ULL, s, strlen(s)); }

static void usage(const char *prog)
{
    printf("usage: %s [--list] [FAMILY | FAMILY/SUBSTRING]...\n"
           "Runs every case of the named op families (all when none is named); FAMILY/SUBSTRING\n"
           "runs the cases of FAMILY whose name contains SUBSTRING. --list prints the case\n"
           "names instead. Exit status 1 when a case fails, 2 on a bad argument.\n"
           "families:",
           prog);
    for (int i = 0; i < NFAMILIES; i++)
        printf(" %s", families[i]->name);
    printf("\n");
}

/* Which cases of family f the arguments select: NULL filter = all of them. */
typedef struct selection {
    int any;            /* the family is selected at all */
    const char *sub[16]; /* substrings; none (nsub 0) = every case */
    int nsub;
} selection;

static int selected(const selection *s, const char *case_name)
{
    if (s->nsub == 0)
        return 1;
    for (int i = 0; i < s->nsub; i++)
        if (strstr(case_name, s->sub[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int list = 0, named = 0;
    selection sel[NFAMILIES] = {{0}};
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--list") == 0) {
            list = 1;
            continue;
        }
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(argv[0]);
            return 0;
        }
        const char *slash = strchr(argv[a], '/');
        size_t len = slash ? (size_t)(slash - argv[a]) : strlen(argv[a]);
        int f = 0;
        while (f < NFAMILIES &&
               !(strlen(families[f]->name) == len && strncmp(families[f]->name, argv[a], len) == 0))
            f++;
        if (f == NFAMILIES) {
            fprintf(stderr, "test_ops: no op family '%.*s'\n", (int)len, argv[a]);
            usage(argv[0]);
            return 2;
        }
        named = 1;
        /* a bare family name after a filtered one selects all of it again */
        if (!slash)
            sel[f].nsub = -1;
        else if (sel[f].nsub >= 0 && sel[f].nsub < 16)
            sel[f].sub[sel[f].nsub++] = slash + 1;
        sel[f].any = 1;
    }
    for (int f = 0; f < NFAMILIES; f++) {
        if (!named)
            sel[f].any = 1;
        if (sel[f].nsub < 0)
            sel[f].nsub = 0;
    }

    int ncases = 0, nfailed = 0, nrun_families = 0;
    cn_ctx *ctx = NULL;
    for (int f = 0; f < NFAMILIES; f++) {
        if (!sel[f].any)
            continue;
        op_cases l = {0};
        families[f]->add_cases(&l);
        int nsel = 0;
        for (int i = 0; i < l.n; i++)
            nsel += selected(&sel[f], l.v[i].name);
        if (nsel == 0) {
            fprintf(stderr, "test_ops: no case of %s matches the filter\n", families[f]->name);
            nfailed++;
        }
        if (list) {
            for (int i = 0; i < l.n; i++)
                if (selected(&sel[f], l.v[i].name))
                    printf("%s/%s\n", families[f]->name, l.v[i].name);
            free(l.v);
            continue;
        }
        /* one context per family, so what one family sets (backends, tunings)
         * cannot carry into another */
        ctx = nsel ? tu_ctx() : NULL;
        if (nsel && !ctx) {
            free(l.v);
            return 1;
        }
        nrun_families++;
        if (ctx && families[f]->setup)
            families[f]->setup(ctx);
        for (int i = 0; i < l.n; i++) {
            const op_case *c = &l.v[i];
            if (!selected(&sel[f], c->name))
                continue;
            tu_rng r = tu_seed(families[f]->seed ^ name_hash(c->name));
            const int f0 = tu_failures, k0 = tu_checks;
            const double t0 = cn_seconds();
            if (c->plain)
                c->plain(ctx);
            else
                c->fn(ctx, &r, c->arg);
            TU_OK(cn_ctx_finish(ctx));
            const double dt = cn_seconds() - t0;
            const int fails = tu_failures - f0, checks = tu_checks - k0 - 1;
            /* a case that checked nothing proves nothing */
            const int bad = fails > 0 || checks <= 0;
            ncases++;
            nfailed += bad;
            printf("%s %s/%s: %d checks%s, %.2f s\n", bad ? "FAIL" : "ok  ", families[f]->name,
                   c->name, checks, fails ? " (some failed)" : checks <= 0 ? " (none)" : "",
                   dt);
            fflush(stdout);
        }
        cn_ctx_destroy(ctx);
        free(l.v);
    }
    if (list)
        return nfailed ? 2 : 0;
    printf("test_ops: %d cases in %d families, %d failed (%d of %d checks failed)\n", ncases,
           nrun_families, nfailed, tu_failures, tu_checks);
    return nfailed ? 1 : 0;
}
