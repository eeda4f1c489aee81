/* Builds embedded OpenCL programs once per (program, options), caching binaries on disk keyed by device, driver, options and source, and keeps each build log. */
#include "runtime/runtime_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Options every program gets: the portable language level we promise. */
#define CN_BASE_OPTIONS "-cl-std=CL1.2"

static const cn_cl_source *find_source(const char *name)
{
    for (int i = 0; i < cn_cl_source_count; i++)
        if (strcmp(cn_cl_sources[i].name, name) == 0)
            return &cn_cl_sources[i];
    return NULL;
}

int cn_mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

/* The storage prelude, then the source text, with a deliberate syntax error
 * appended when the test switch CASPNET_TEST_BREAK_PROGRAM names this program
 * (exercises the build-failure path). */
static char *program_text(const cn_cl_source *src, size_t *len)
{
    const char *brk = getenv("CASPNET_TEST_BREAK_PROGRAM");
    const char *junk = (brk && strcmp(brk, src->name) == 0) ? "\n__kernel void broken( {\n" : "";
    static const char line1[] = "\n#line 1\n";
    const size_t np = cn_cl_prelude.len, nl = sizeof line1 - 1;
    size_t n = np + nl + src->len + strlen(junk);
    char *t = malloc(n + 1);
    if (!t)
        return NULL;
    memcpy(t, cn_cl_prelude.text, np);
    memcpy(t + np, line1, nl);
    memcpy(t + np + nl, src->text, src->len);
    memcpy(t + np + nl + src->len, junk, strlen(junk) + 1);
    *len = n;
    return t;
}

static void cache_path(const cn_ctx *ctx, const char *name, const char *opts, const char *text,
                       size_t len, char *dst, size_t n)
{
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
    const char *parts[] = {ctx->dev.platform_name, ctx->dev.name, ctx->dev.driver,
                           ctx->dev.version, opts};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        h1 = cn_fnv1a(h1, parts[i], strlen(parts[i]) + 1);
        h2 = cn_fnv1a(h2, parts[i], strlen(parts[i]) + 1);
    }
    h1 = cn_fnv1a(h1, text, len);
    h2 = cn_fnv1a(h2, text, len);
    snprintf(dst, n, "%s/%s-%016llx%016llx.clbin", ctx->cache_dir, name, (unsigned long long)h1,
             (unsigned long long)h2);
}

static cl_program load_cached(cn_ctx *ctx, const char *path, const char *opts)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    cl_program prog = NULL;
    unsigned char *bin = NULL;
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        sz = ftell(f);
    if (sz > 0 && fseek(f, 0, SEEK_SET) == 0 && (bin = malloc((size_t)sz)) &&
        fread(bin, 1, (size_t)sz, f) == (size_t)sz) {
        size_t len = (size_t)sz;
        const unsigned char *bins[1] = {bin};
        cl_int st = CL_SUCCESS, err;
        prog = clCreateProgramWithBinary(ctx->cl, 1, &ctx->dev.device, &len, bins, &st, &err);
        if (prog && (err != CL_SUCCESS || st != CL_SUCCESS ||
                     clBuildProgram(prog, 1, &ctx->dev.device, opts, NULL, NULL) != CL_SUCCESS)) {
            clReleaseProgram(prog); /* stale or foreign binary: rebuild from source */
            prog = NULL;
        } else if (err != CL_SUCCESS) {
            prog = NULL;
        }
    }
    free(bin);
    fclose(f);
    return prog;
}

/* Best effort: a cache that cannot be written only costs the next run a rebuild. */
static void store_cached(cn_ctx *ctx, cl_program prog, const char *path)
{
    size_t sz = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof sz, &sz, NULL) != CL_SUCCESS ||
        sz == 0)
        return;
    unsigned char *bin = malloc(sz);
    if (!bin)
        return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS &&
        cn_mkdir_p(ctx->cache_dir) == 0) {
        char tmp[1200];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        if (f) {
            int ok = fwrite(bin, 1, sz, f) == sz;
            ok = (fclose(f) == 0) && ok;
            if (ok && rename(tmp, path) == 0)
                ctx->bstats.cache_writes++;
            else
                remove(tmp);
        }
    }
    free(bin);
}

/* CASPNET_VERBOSE=1 (the CLI's --verbose): print the compiler's logs. */
static int verbose(void)
{
    const char *v = getenv("CASPNET_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* The build log without trailing blank lines; NULL when there is nothing in
 * it (a clean build on most drivers) or it cannot be read. */
static char *build_log(cn_ctx *ctx, cl_program p)
{
    size_t n = 0;
    if (clGetProgramBuildInfo(p, ctx->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) !=
            CL_SUCCESS || n == 0)
        return NULL;
    char *log = calloc(n + 1, 1);
    if (!log)
        return NULL;
    if (clGetProgramBuildInfo(p, ctx->dev.device, CL_PROGRAM_BUILD_LOG, n, log, NULL) !=
        CL_SUCCESS)
        log[0] = '\0';
    size_t len = strlen(log);
    while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == '\r' || log[len - 1] == ' '))
        log[--len] = '\0';
    if (len == 0) {
        free(log);
        return NULL;
    }
    return log;
}

/* *log_out: the compiler's log of a successful build from source, or NULL. */
static int build_program(cn_ctx *ctx, const char *name, const char *extra, cl_program *out,
                         char **log_out)
{
    *log_out = NULL;
    const cn_cl_source *src = find_source(name);
    if (!src)
        return cn_fail(CN_ERR_ARG, "no embedded OpenCL program named '%s'", name);
    char opts[2048];
    snprintf(opts, sizeof opts, "%s%s%s%s", CN_BASE_OPTIONS, ctx->dev.fp64 ? " -DCN_HAS_FP64=1" : "",
             extra && *extra ? " " : "", extra ? extra : "");
    size_t len = 0;
    char *text = program_text(src, &len);
    if (!text)
        return cn_fail(CN_ERR_OOM, "out of host memory building '%s'", name);
    double t0 = cn_seconds();
    char path[1200] = "";
    if (ctx->cache_dir[0]) {
        cache_path(ctx, name, opts, text, len, path, sizeof path);
        cl_program p = load_cached(ctx, path, opts);
        if (p) {
            free(text);
            ctx->bstats.loaded_from_cache++;
            ctx->bstats.build_seconds += cn_seconds() - t0;
            *out = p;
            return CN_OK;
        }
    }
    cl_int err;
    const char *texts[1] = {text};
    cl_program p = clCreateProgramWithSource(ctx->cl, 1, texts, &len, &err);
    free(text);
    CN_TRY(CN_CL_ERR(err, "clCreateProgramWithSource"));
    err = clBuildProgram(p, 1, &ctx->dev.device, opts, NULL, NULL);
    char *log = build_log(ctx, p);
    if (err != CL_SUCCESS) {
        int st = cn_fail(CN_ERR_BUILD, "OpenCL program cl/%s.cl failed to build on %s (%s) with "
                         "options '%s': %s\n--- build log ---\n%s", name, ctx->dev.name,
                         ctx->dev.driver, opts, cn_cl_error_name(err), log ? log : "(none)");
        free(log);
        clReleaseProgram(p);
        return st;
    }
    if (log && verbose())
        fprintf(stderr, "caspnet: build log of cl/%s.cl on %s with options '%s':\n%s\n", name,
                ctx->dev.name, opts, log);
    ctx->bstats.built_from_source++;
    ctx->bstats.build_seconds += cn_seconds() - t0;
    if (path[0])
        store_cached(ctx, p, path);
    *out = p;
    *log_out = log;
    return CN_OK;
}

/* The context's entry for (program, options), built now if it is new. */
static int program_entry(cn_ctx *ctx, const char *program, const char *options,
                         cn_program_entry **out)
{
    const char *o = options ? options : "";
    cn_program_entry *pe = NULL;
    for (int i = 0; i < ctx->nprograms; i++)
        if (strcmp(ctx->programs[i].program, program) == 0 &&
            strcmp(ctx->programs[i].options, o) == 0) {
            pe = &ctx->programs[i];
            break;
        }
    if (!pe) {
        if (ctx->nprograms == ctx->capprograms) {
            int cap = ctx->capprograms ? 2 * ctx->capprograms : 16;
            cn_program_entry *g = realloc(ctx->programs, (size_t)cap * sizeof *g);
            if (!g)
                return cn_fail(CN_ERR_OOM, "out of host memory");
            ctx->programs = g;
            ctx->capprograms = cap;
        }
        cl_program p;
        char *log;
        CN_TRY(build_program(ctx, program, o, &p, &log));
        pe = &ctx->programs[ctx->nprograms];
        memset(pe, 0, sizeof *pe);
        pe->program = strdup(program);
        pe->options = strdup(o);
        pe->prog = p;
        pe->build_log = log;
        ctx->nprograms++;
        if (!pe->program || !pe->options)
            return cn_fail(CN_ERR_OOM, "out of host memory");
    }
    *out = pe;
    return CN_OK;
}

int cn_program_log(cn_ctx *ctx, const char *program, const char *options, const char **log)
{
    cn_program_entry *pe;
    CN_TRY(program_entry(ctx, program, options, &pe));
    *log = pe->build_log;
    return CN_OK;
}

int cn_kernel(cn_ctx *ctx, const char *program, const char *options, const char *kernel,
              cl_kernel *out)
{
    cn_program_entry *pe;
    CN_TRY(program_entry(ctx, program, options, &pe));
    for (int i = 0; i < pe->nkernels; i++)
        if (strcmp(pe->kernel_names[i], kernel) == 0) {
            *out = pe->kernels[i];
            return CN_OK;
        }
    cl_int err;
    cl_kernel k = clCreateKernel(pe->prog, kernel, &err);
    if (err != CL_SUCCESS)
        return cn_fail(CN_ERR_CL, "kernel '%s' not found in cl/%s.cl: %s", kernel, program,
                       cn_cl_error_name(err));
    char **names = realloc(pe->kernel_names, (size_t)(pe->nkernels + 1) * sizeof *names);
    if (names)
        pe->kernel_names = names;
    cl_kernel *ks = realloc(pe->kernels, (size_t)(pe->nkernels + 1) * sizeof *ks);
    if (ks)
        pe->kernels = ks;
    char *dup = strdup(kernel);
    if (!names || !ks || !dup) {
        free(dup);
        clReleaseKernel(k);
        return cn_fail(CN_ERR_OOM, "out of host memory");
    }
    pe->kernel_names[pe->nkernels] = dup;
    pe->kernels[pe->nkernels++] = k;
    *out = k;
    return CN_OK;
}

void cn_programs_release(cn_ctx *ctx)
{
    for (int i = 0; i < ctx->nprograms; i++) {
        cn_program_entry *pe = &ctx->programs[i];
        for (int j = 0; j < pe->nkernels; j++) {
            clReleaseKernel(pe->kernels[j]);
            free(pe->kernel_names[j]);
        }
        free(pe->kernels);
        free(pe->kernel_names);
        if (pe->prog)
            clReleaseProgram(pe->prog);
        free(pe->build_log);
        free(pe->program);
        free(pe->options);
    }
    free(ctx->programs);
    ctx->programs = NULL;
    ctx->nprograms = ctx->capprograms = 0;
}
