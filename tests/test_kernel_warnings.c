/* Every embedded OpenCL program builds without a compiler warning, with each option set the ops use, on every device of every OpenCL implementation present. */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Mirrors of the ops' launch constants (host/ops/attention.c, mean.c): the
 * option strings below are built the way those ops build theirs. */
#define ATT_TE 8
#define ATT_TQ_MAX 32
#define MEAN_WG 128

typedef struct opt_list {
    int n;
    char s[24][512];
} opt_list;

static void add(opt_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(opt_list *l, const char *fmt, ...)
{
    if (l->n == (int)(sizeof l->s / sizeof l->s[0])) {
        TU_CHECK(0, "too many option sets; enlarge opt_list");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->s[l->n++], sizeof l->s[0], fmt, ap);
    va_end(ap);
}

static int pow2_within(int want, size_t max_wg)
{
    while (want > 1 && (size_t)want > max_wg)
        want /= 2;
    return want;
}

/* The option sets of one program on this context's device; "" is the
 * program's own defaults (its #ifndef values), built for every program.
 * Returns 0 for a program this test does not know yet (then only its
 * defaults are built, and a note asks for its ops' option sets here). */
static int option_sets(cn_ctx *ctx, const char *program, opt_list *l)
{
    const cn_device_info *dev = cn_ctx_device(ctx);
    l->n = 0;
    add(l, "%s", "");
    if (strcmp(program, "attention") == 0) {
        /* one program per accumulator length ceil(Dv / ATT_TE) */
        int tq = pow2_within(ATT_TQ_MAX * ATT_TE, dev->max_wg) / ATT_TE;
        const int ept[] = {1, 2, 4, 8, 16, 32, 64};
        for (size_t i = 0; i < sizeof ept / sizeof ept[0]; i++)
            add(l, "-DATT_EPT=%d -DATT_TQ=%d", ept[i], tq > 0 ? tq : 1);
        add(l, "-DATT_EPT=32 -DATT_TQ=%d -DQ_H=1 -DK_H=1 -DV_H=1 -DY_H=1", tq > 0 ? tq : 1);
        add(l, "%s", "-DX_H=1 -DS_H=1 -DU_H=1 -DB_H=1 -DY_H=1");
    } else if (strcmp(program, "conv3d") == 0) {
        add(l, "%s", cn_conv_tuning(ctx));
        /* half storage of every tensor, and the mixes the model runs */
        add(l, "%s -DX_H=1 -DW_H=1 -DR_H=1 -DY_H=1", cn_conv_tuning(ctx));
        add(l, "%s -DW_H=1 -DY_H=1", cn_conv_tuning(ctx));
    } else if (strcmp(program, "conv_tiled") == 0) {
        /* the tile sets host/ops/conv_tiled.c builds (its default, then the
         * smaller fallbacks), and half storage of every tensor */
        add(l, "%s", "-DCT_TM=64 -DCT_TN=128 -DCT_TK=16 -DCT_WM=4 -DCT_WN=8");
        add(l, "%s", "-DCT_TM=32 -DCT_TN=64 -DCT_TK=16 -DCT_WM=4 -DCT_WN=4");
        add(l, "%s", "-DCT_TM=16 -DCT_TN=16 -DCT_TK=16 -DCT_WM=2 -DCT_WN=2");
        add(l, "%s", "-DX_H=1 -DW_H=1 -DR_H=1 -DY_H=1");
    } else if (strcmp(program, "conv_transpose3d") == 0) {
        add(l, "-DTRM=4");
        add(l, "-DTRM=4 -DX_H=1 -DW_H=1 -DR_H=1 -DY_H=1");
    } else if (strcmp(program, "conv_im2col") == 0) {
        add(l, "%s", "-DX_H=1 -DR_H=1 -DY_H=1"); /* half storage of x, res and y */
    } else if (strcmp(program, "eltwise") == 0) {
        add(l, "-DEW_PER_ITEM=4");
        add(l, "-DEW_PER_ITEM=4 -DX_H=1 -DZ_H=1 -DY_H=1");
    } else if (strcmp(program, "gemm") == 0) {
        /* the context's tuning for each transpose combination, and the
         * local-memory tiles (the default where local memory is real) */
        char t[512];
        cn_gemm_tuning(ctx, t, sizeof t);
        TU_CHECK(strncmp(t, "-D", 2) == 0, "gemm tuning of %s unreadable: %s", dev->name, t);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                add(l, "-DGEMM_TA=%d -DGEMM_TB=%d %s", ta, tb, t);
                add(l, "-DGEMM_TA=%d -DGEMM_TB=%d -DGEMM_VW=4 -DGEMM_NV=2 -DGEMM_WM=8 "
                       "-DGEMM_LOCAL=1 -DGEMM_TK=16 -DGEMM_LM=8 -DGEMM_LN=8", ta, tb);
            }
        /* half storage of every matrix (cl/storage.h), both variants */
        add(l, "-DGEMM_TA=0 -DGEMM_TB=1 %s -DA_H=1 -DB_H=1 -DC_H=1 -DU_H=1 -DV_H=1", t);
        add(l, "-DGEMM_TA=1 -DGEMM_TB=0 -DGEMM_VW=4 -DGEMM_NV=2 -DGEMM_WM=8 -DGEMM_LOCAL=1 "
               "-DGEMM_TK=16 -DGEMM_LM=8 -DGEMM_LN=8 -DA_H=1 -DB_H=1 -DC_H=1 -DU_H=1 -DV_H=1");
    } else if (strcmp(program, "mean") == 0) {
        int wg = pow2_within(MEAN_WG, dev->max_wg);
        add(l, "-DMEAN_WG=%d -DMEAN_FP64=0", wg);
        add(l, "-DMEAN_WG=%d -DMEAN_FP64=0 -DX_H=1 -DY_H=1", wg);
        if (dev->fp64) {
            add(l, "-DMEAN_WG=%d -DMEAN_FP64=1", wg);
            add(l, "-DMEAN_WG=%d -DMEAN_FP64=1 -DX_H=1 -DY_H=1", wg);
        }
    } else if (strcmp(program, "linear") == 0) {
        add(l, "%s", "-DY_H=1 -DB_H=1");
    } else if (strcmp(program, "pool") == 0 || strcmp(program, "resize") == 0) {
        add(l, "%s", "-DX_H=1 -DY_H=1"); /* half storage (cl/storage.h) */
    } else {
        return 0;
    }
    return 1;
}

static int mentions_warning(const char *log)
{
    static const char w[] = "warning";
    for (const char *p = log; *p; p++) {
        size_t i = 0;
        while (w[i] && tolower((unsigned char)p[i]) == w[i])
            i++;
        if (!w[i])
            return 1;
    }
    return 0;
}

/* The check can fail: this implementation puts a warning into the build log
 * (else a clean log would prove nothing), and the search finds it. */
static void test_detects_warning(cn_ctx *ctx)
{
    static const char src[] = "#warning caspnet probe\n"
                              "__kernel void probe(__global float *x) { x[0] = 1.0f; }\n";
    const char *texts[1] = {src};
    size_t len = sizeof src - 1;
    cl_int err = CL_SUCCESS;
    cl_program p = clCreateProgramWithSource(cn_ctx_cl(ctx), 1, texts, &len, &err);
    TU_OK(CN_CL_ERR(err, "clCreateProgramWithSource"));
    if (err != CL_SUCCESS)
        return;
    cl_device_id dev = cn_ctx_device(ctx)->device;
    /* PoCL also says "N warnings generated." on stderr: kept out of the test's
     * output, where it would read as a finding */
    fflush(stderr);
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0)
        dup2(null, STDERR_FILENO);
    int st = CN_CL(clBuildProgram(p, 1, &dev, "-cl-std=CL1.2", NULL, NULL));
    fflush(stderr);
    if (saved >= 0 && null >= 0)
        dup2(saved, STDERR_FILENO);
    if (saved >= 0)
        close(saved);
    if (null >= 0)
        close(null);
    TU_OK(st);
    size_t n = 0;
    TU_OK(CN_CL(clGetProgramBuildInfo(p, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &n)));
    char *log = calloc(n + 1, 1);
    if (log && n)
        TU_OK(CN_CL(clGetProgramBuildInfo(p, dev, CL_PROGRAM_BUILD_LOG, n, log, NULL)));
    TU_CHECK(log && mentions_warning(log), "%s: a #warning left no warning in the build log: '%s'",
             cn_ctx_device(ctx)->name, log ? log : "(out of memory)");
    free(log);
    TU_OK(CN_CL(clReleaseProgram(p)));
    TU_CHECK(mentions_warning("x.cl:3:5: Warning: unused variable") &&
                 !mentions_warning("Compilation done"), "warning search");
}

static void test_device(const cn_device_info *dev)
{
    char idx[16];
    snprintf(idx, sizeof idx, "%d", dev->index);
    cn_ctx *ctx = NULL;
    /* no binary cache: a program loaded from binary has no compiler log */
    TU_OK(cn_ctx_create(&(cn_ctx_opts){.device = idx, .cache_dir = "off"}, &ctx));
    if (!ctx)
        return;
    test_detects_warning(ctx);
    int builds = 0, quiet = 0;
    for (int i = 0; i < cn_cl_source_count; i++) {
        const char *prog = cn_cl_sources[i].name;
        opt_list l;
        if (!option_sets(ctx, prog, &l))
            printf("  note: cl/%s.cl built with its defaults only; add the option sets its "
                   "ops use to tests/test_kernel_warnings.c\n", prog);
        for (int j = 0; j < l.n; j++) {
            const char *log = NULL;
            int st = cn_program_log(ctx, prog, l.s[j][0] ? l.s[j] : NULL, &log);
            TU_CHECK(st == CN_OK, "cl/%s.cl '%s' on %s: %s", prog, l.s[j], dev->name,
                     cn_last_error());
            if (st != CN_OK)
                continue;
            builds++;
            quiet += log == NULL;
            TU_CHECK(!log || !mentions_warning(log),
                     "cl/%s.cl with '%s' on %s (%s): the build log has a warning:\n%s", prog,
                     l.s[j], dev->name, dev->platform_name, log);
        }
    }
    cn_build_stats bs = cn_ctx_build_stats(ctx);
    TU_CHECK(bs.built_from_source == builds && bs.loaded_from_cache == 0,
             "%d builds, but %d from source and %d from a cache", builds, bs.built_from_source,
             bs.loaded_from_cache);
    printf("  %s / %s: %d programs, %d builds, %d with an empty log\n", dev->platform_name,
           dev->name, cn_cl_source_count, builds, quiet);
    cn_ctx_destroy(ctx);
}

/* A plain `inline` function has no external definition in OpenCL C: a
 * compiler that chooses not to inline a call fails to link the program
 * (GPU compilers do), so every helper in cl/ and the prelude is `static inline`. */
static void test_static_inline(void)
{
    for (int i = 0; i <= cn_cl_source_count; i++) {
        const cn_cl_source *s = i < cn_cl_source_count ? &cn_cl_sources[i] : &cn_cl_prelude;
        int line = 1;
        for (const char *p = s->text; *p; p++) {
            if (p == s->text || p[-1] == '\n') {
                const char *q = p;
                while (*q == ' ')
                    q++;
                TU_CHECK(strncmp(q, "inline ", 7) != 0, "cl/%s: line %d: an `inline` helper "
                         "that is not `static inline`", s->name, line);
            }
            line += *p == '\n';
        }
    }
}

int main(void)
{
    test_static_inline();
    cn_device_info *devs = NULL;
    int n = 0;
    TU_OK(cn_list_devices(&devs, &n));
    TU_CHECK(n >= 1, "no OpenCL device");
    for (int i = 0; i < n; i++)
        test_device(&devs[i]);
    free(devs);
    return tu_finish("test_kernel_warnings");
}
