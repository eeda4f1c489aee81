/* Device discovery and choice, the context and queue, kernel launch, profiling and device-buffer accounting. */
#include "runtime/runtime_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void info_str(cl_device_id d, cl_device_info what, char *buf, size_t n)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS)
        snprintf(buf, n, "?");
    buf[n - 1] = '\0';
}

static int has_ext(const char *exts, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = exts; (p = strstr(p, name)) != NULL; p += n)
        if ((p == exts || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static void fill_info(cn_device_info *di, cl_platform_id p, cl_device_id d, int index)
{
    memset(di, 0, sizeof *di);
    di->index = index;
    di->platform = p;
    di->device = d;
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof di->platform_name, di->platform_name,
                          NULL) != CL_SUCCESS)
        snprintf(di->platform_name, sizeof di->platform_name, "?");
    info_str(d, CL_DEVICE_NAME, di->name, sizeof di->name);
    info_str(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
    info_str(d, CL_DRIVER_VERSION, di->driver, sizeof di->driver);
    info_str(d, CL_DEVICE_VERSION, di->version, sizeof di->version);
    info_str(d, CL_DEVICE_OPENCL_C_VERSION, di->c_version, sizeof di->c_version);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof di->compute_units, &di->compute_units,
                    NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof di->global_mem, &di->global_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof di->local_mem, &di->local_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof di->max_alloc, &di->max_alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof di->max_wg, &di->max_wg, NULL);
    size_t n = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) == CL_SUCCESS && n > 0) {
        char *ext = malloc(n + 1);
        if (ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, ext, NULL) == CL_SUCCESS) {
            ext[n] = '\0';
            di->fp16 = has_ext(ext, "cl_khr_fp16");
            di->fp64 = has_ext(ext, "cl_khr_fp64");
        }
        free(ext);
    }
}

int cn_list_devices(cn_device_info **out, int *count)
{
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || np == 0)
        return cn_fail(CN_ERR_UNSUPPORTED,
                       "no OpenCL platform found: install an OpenCL driver (for the CPU, "
                       "Debian's pocl-opencl-icd) and check /etc/OpenCL/vendors");
    CN_TRY(CN_CL_ERR(err, "clGetPlatformIDs"));
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats)
        return cn_fail(CN_ERR_OOM, "out of host memory listing platforms");
    err = clGetPlatformIDs(np, plats, NULL);
    if (err != CL_SUCCESS) {
        free(plats);
        return CN_CL_ERR(err, "clGetPlatformIDs");
    }
    cn_device_info *list = NULL;
    int n = 0;
    for (cl_uint i = 0; i < np; i++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            continue; /* a platform without devices is not an error */
        cl_device_id *devs = calloc(nd, sizeof *devs);
        cn_device_info *grown = realloc(list, (size_t)(n + (int)nd) * sizeof *list);
        if (!devs || !grown) {
            free(devs);
            free(grown ? grown : list);
            free(plats);
            return cn_fail(CN_ERR_OOM, "out of host memory listing devices");
        }
        list = grown;
        if (clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, nd, devs, NULL) == CL_SUCCESS)
            for (cl_uint j = 0; j < nd; j++, n++)
                fill_info(&list[n], plats[i], devs[j], n);
        free(devs);
    }
    free(plats);
    if (n == 0) {
        free(list);
        return cn_fail(CN_ERR_UNSUPPORTED, "OpenCL platforms exist but expose no device");
    }
    *out = list;
    *count = n;
    return CN_OK;
}

const char *cn_device_type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "ACCELERATOR";
    return "OTHER";
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

/* The default device's order of preference, best first: a discrete GPU (one with its
 * own memory), then an integrated one, each by more compute units and then more global
 * memory; then CPUs, PoCL first, since the recorded parity and speed figures were
 * measured on it; then anything else. Ties keep the enumeration order. */
static int device_class(const cn_device_info *d)
{
    if (d->type & CL_DEVICE_TYPE_GPU) {
        /* A device that cannot answer is taken as integrated: the safer guess. */
        cl_bool host_unified = CL_TRUE;
        if (clGetDeviceInfo(d->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof host_unified,
                            &host_unified, NULL) != CL_SUCCESS)
            return 1;
        return host_unified ? 1 : 0;
    }
    if (d->type & CL_DEVICE_TYPE_CPU)
        return ci_contains(d->platform_name, "Portable Computing Language") ? 2 : 3;
    return 4;
}

/* Whether device a comes strictly before device b in the default order. */
static int device_rank_before(const cn_device_info *a, const cn_device_info *b)
{
    int ca = device_class(a), cb = device_class(b);
    if (ca != cb)
        return ca < cb;
    if (ca <= 1) {
        if (a->compute_units != b->compute_units)
            return a->compute_units > b->compute_units;
        return a->global_mem > b->global_mem;
    }
    return 0;
}

static int choose_device(const cn_device_info *list, int n, const char *want, int *chosen)
{
    if (want && *want) {
        char *end = NULL;
        long idx = strtol(want, &end, 10);
        if (end && *end == '\0') {
            if (idx < 0 || idx >= n)
                return cn_fail(CN_ERR_ARG, "device index %ld out of range: %d device(s) found "
                               "(see 'caspnet devices')", idx, n);
            *chosen = (int)idx;
            return CN_OK;
        }
        for (int i = 0; i < n; i++) {
            char full[400];
            snprintf(full, sizeof full, "%s %s", list[i].platform_name, list[i].name);
            if (ci_contains(full, want)) {
                *chosen = i;
                return CN_OK;
            }
        }
        return cn_fail(CN_ERR_ARG, "no OpenCL device matches '%s' (see 'caspnet devices')", want);
    }
    int best = 0;
    for (int i = 1; i < n; i++)
        if (device_rank_before(&list[i], &list[best]))
            best = i;
    *chosen = best;
    return CN_OK;
}

void cn_default_cache_dir(const char *want, char *dst, size_t n)
{
    const char *env = getenv("CASPNET_CACHE_DIR");
    if (!want || !*want)
        want = env;
    if (want && *want) {
        if (strcmp(want, "off") == 0)
            dst[0] = '\0';
        else
            snprintf(dst, n, "%s", want);
        return;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(dst, n, "%s/caspnet", xdg);
    else if (home && *home)
        snprintf(dst, n, "%s/.cache/caspnet", home);
    else
        dst[0] = '\0';
}

int cn_ctx_create(const cn_ctx_opts *opts, cn_ctx **out)
{
    cn_ctx_opts o = {0};
    if (opts)
        o = *opts;
    *out = NULL;
    cn_device_info *list = NULL;
    int n = 0;
    CN_TRY(cn_list_devices(&list, &n));
    const char *want = o.device ? o.device : getenv("CASPNET_DEVICE");
    int idx = 0;
    int st = choose_device(list, n, want, &idx);
    if (st != CN_OK) {
        free(list);
        return st;
    }
    cn_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        free(list);
        return cn_fail(CN_ERR_OOM, "out of host memory creating the context");
    }
    ctx->dev = list[idx];
    free(list);
    ctx->profiling = o.profiling;
    ctx->fail_alloc_nth = o.fail_alloc_nth;
    ctx->mem_cap = o.mem_cap;
    const char *e;
    if (!ctx->fail_alloc_nth && (e = getenv("CASPNET_TEST_FAIL_ALLOC")) && *e)
        ctx->fail_alloc_nth = strtol(e, NULL, 10);
    if (!ctx->mem_cap && (e = getenv("CASPNET_TEST_MEM_CAP")) && *e)
        ctx->mem_cap = strtoull(e, NULL, 10);
    long fail_enqueue = o.fail_enqueue_nth, fail_read = o.fail_read_nth;
    if (!fail_enqueue && (e = getenv("CASPNET_TEST_FAIL_ENQUEUE")) && *e)
        fail_enqueue = strtol(e, NULL, 10);
    if (!fail_read && (e = getenv("CASPNET_TEST_FAIL_READ")) && *e)
        fail_read = strtol(e, NULL, 10);
    cn_ctx_fail_enqueue_after(ctx, fail_enqueue);
    cn_ctx_fail_read_after(ctx, fail_read);
    ctx->split_pieces = o.split_pieces;
    if (!ctx->split_pieces && (e = getenv("CASPNET_TEST_SPLIT")) && *e)
        ctx->split_pieces = (int)strtol(e, NULL, 10);
    cn_default_cache_dir(o.cache_dir, ctx->cache_dir, sizeof ctx->cache_dir);

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->dev.platform,
                                     0};
    ctx->cl = clCreateContext(props, 1, &ctx->dev.device, NULL, NULL, &err);
    if ((st = CN_CL_ERR(err, "clCreateContext")) != CN_OK)
        goto fail;
    ctx->q = clCreateCommandQueue(ctx->cl, ctx->dev.device,
                                  o.profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if ((st = CN_CL_ERR(err, "clCreateCommandQueue")) != CN_OK)
        goto fail;
    ctx->arena = cn_arena_create();
    if (!ctx->arena) {
        st = cn_fail(CN_ERR_OOM, "out of host memory creating the buffer arena");
        goto fail;
    }
    *out = ctx;
    return CN_OK;
fail:
    cn_ctx_destroy(ctx);
    return st;
}

void cn_ctx_destroy(cn_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->q)
        clFinish(ctx->q);
    for (int f = 0; f < CN_OPS_COUNT; f++)
        if (ctx->ops[f].state && ctx->ops[f].release)
            ctx->ops[f].release(ctx->ops[f].state);
    for (int i = 0; i < ctx->nprof; i++)
        clReleaseEvent(ctx->prof[i].ev);
    free(ctx->prof);
    if (ctx->arena)
        cn_arena_destroy(ctx, ctx->arena);
    cn_programs_release(ctx);
    if (ctx->q)
        clReleaseCommandQueue(ctx->q);
    if (ctx->cl)
        clReleaseContext(ctx->cl);
    free(ctx);
}

const cn_device_info *cn_ctx_device(const cn_ctx *ctx) { return &ctx->dev; }
cl_context cn_ctx_cl(const cn_ctx *ctx) { return ctx->cl; }
cl_command_queue cn_ctx_queue(const cn_ctx *ctx) { return ctx->q; }
cn_build_stats cn_ctx_build_stats(const cn_ctx *ctx) { return ctx->bstats; }
cn_mem_stats cn_ctx_mem_stats(const cn_ctx *ctx) { return ctx->mem; }
void cn_ctx_reset_peak(cn_ctx *ctx) { ctx->mem.peak = ctx->mem.current; }

void cn_ctx_fail_alloc_after(cn_ctx *ctx, long n)
{
    ctx->fail_alloc_nth = n > 0 ? ctx->mem.allocations + n : 0;
    ctx->fail_alloc_rest = n > 0;
}
struct cn_arena *cn_ctx_arena(cn_ctx *ctx) { return ctx->arena; }

/* cn_queue_check with a note saying which test switch made the error. */
static int queue_error(cn_ctx *ctx, cl_int err, const char *call, const char *kernel,
                       const char *injected, const char *file, int line)
{
    if (err == CL_SUCCESS)
        return CN_OK;
    char why[96] = "";
    if (injected)
        snprintf(why, sizeof why, " (injected by %s)", injected);
    if (err == CL_OUT_OF_RESOURCES || err == CL_MEM_OBJECT_ALLOCATION_FAILURE) {
        /* Drivers that allocate on first use report a full device here, not at
         * clCreateBuffer; the queue has run at most up to this layer. */
        const char *layer = kernel ? ctx->prof_group : ctx->last_group;
        char where[160];
        if (kernel && layer)
            snprintf(where, sizeof where, "in layer %s (kernel %s)", layer, kernel);
        else if (kernel)
            snprintf(where, sizeof where, "in kernel %s", kernel);
        else if (layer)
            snprintf(where, sizeof where, "running the work queued up to layer %s", layer);
        else
            snprintf(where, sizeof where, "moving data");
        return cn_fail(CN_ERR_OOM, "the device ran out of memory %s: %s returned %s (%d)%s; "
                       "try a smaller batch (--batch) or frame size (--size), or close other "
                       "programs using the device", where, call, cn_cl_error_name(err), (int)err,
                       why);
    }
    if (kernel)
        return cn_fail(err == CL_OUT_OF_HOST_MEMORY ? CN_ERR_OOM : CN_ERR_CL,
                       "OpenCL call %s(%s) failed: %s (%d)%s", call, kernel,
                       cn_cl_error_name(err), (int)err, why);
    return cn_cl_check(err, call, file, line);
}

int cn_queue_check(cn_ctx *ctx, cl_int err, const char *call, const char *kernel,
                   const char *file, int line)
{
    return queue_error(ctx, err, call, kernel, NULL, file, line);
}

int cn_ctx_finish(cn_ctx *ctx)
{
    CN_TRY(CN_CLQ(ctx, clFinish(ctx->q)));
    ctx->last_group = NULL; /* everything queued so far has run */
    return CN_OK;
}

cn_launch_stats cn_ctx_launch_stats(const cn_ctx *ctx) { return ctx->lstats; }

void cn_ctx_fail_enqueue_after(cn_ctx *ctx, long n)
{
    ctx->fail_enqueue_nth = n > 0 ? ctx->lstats.enqueues + n : 0;
}

void cn_ctx_fail_read_after(cn_ctx *ctx, long n)
{
    ctx->fail_read_nth = n > 0 ? ctx->lstats.reads + n : 0;
}

void cn_ctx_set_split(cn_ctx *ctx, int pieces) { ctx->split_pieces = pieces > 0 ? pieces : 0; }

/* One clEnqueueNDRangeKernel (g already a multiple of local), its profile event. */
static int enqueue(cn_ctx *ctx, cl_kernel k, const char *tag, cl_uint dims, const size_t *off,
                   const size_t *g, const size_t *local)
{
    cl_event ev = NULL;
    cl_int err;
    const char *injected = NULL;
    if (++ctx->lstats.enqueues == ctx->fail_enqueue_nth) {
        err = CL_OUT_OF_RESOURCES;
        injected = "CASPNET_TEST_FAIL_ENQUEUE";
    } else {
        err = clEnqueueNDRangeKernel(ctx->q, k, dims, off, g, local, 0, NULL,
                                     ctx->profiling ? &ev : NULL);
    }
    if (err != CL_SUCCESS)
        return queue_error(ctx, err, "clEnqueueNDRangeKernel", tag ? tag : "?", injected,
                           __FILE__, __LINE__);
    ctx->last_group = ctx->prof_group;
    if (ctx->profiling) {
        if (ctx->nprof == ctx->capprof) {
            int cap = ctx->capprof ? 2 * ctx->capprof : 256;
            cn_prof_rec *p = realloc(ctx->prof, (size_t)cap * sizeof *p);
            if (!p) {
                clReleaseEvent(ev);
                return cn_fail(CN_ERR_OOM, "out of host memory recording profile events");
            }
            ctx->prof = p;
            ctx->capprof = cap;
        }
        ctx->prof[ctx->nprof++] = (cn_prof_rec){ctx->prof_group, tag, ev};
    }
    return CN_OK;
}

int cn_launch_pieces(const cn_ctx *ctx, double flops)
{
    if (ctx->split_pieces > 0)
        return ctx->split_pieces;
    const double budget = CN_SMALL_GPU_FLOPS * CN_LAUNCH_MAX_SECONDS;
    if (!(flops > budget))
        return 1;
    const double p = flops / budget;
    if (p >= 1e6)
        return 1000000;
    const int n = (int)p;
    return n < p ? n + 1 : n;
}

static int launch(cn_ctx *ctx, cl_kernel k, const char *tag, cl_uint dims, const size_t *global,
                  const size_t *local, int pieces)
{
    if (dims < 1 || dims > 3)
        return cn_fail(CN_ERR_ARG, "launch of %s: %u dimensions (1 to 3)", tag ? tag : "?",
                       (unsigned)dims);
    if (local) {
        /* A kernel can run fewer work-items per group than the device's
         * maximum (registers, local memory): a larger group would fail at the
         * enqueue on one driver and misbehave on another, so refuse it here,
         * by name, where a tuner can drop the configuration. */
        size_t wg = 1, kwg = 0;
        for (cl_uint i = 0; i < dims; i++)
            wg *= local[i] ? local[i] : 1;
        CN_TRY(CN_CL(clGetKernelWorkGroupInfo(k, ctx->dev.device, CL_KERNEL_WORK_GROUP_SIZE,
                                              sizeof kwg, &kwg, NULL)));
        if (kwg && wg > kwg)
            return cn_fail(CN_ERR_UNSUPPORTED, "launch of %s: work-groups of %zu items, but this "
                           "kernel runs at most %zu on %s (CL_KERNEL_WORK_GROUP_SIZE)",
                           tag ? tag : "?", wg, kwg, ctx->dev.name);
    }
    size_t g[3], l[3], groups[3];
    int d = 0;
    for (cl_uint i = 0; i < dims; i++) {
        g[i] = global[i];
        if (g[i] == 0)
            return CN_OK; /* empty tensor: nothing to do */
        l[i] = local && local[i] ? local[i] : 1;
        g[i] = (g[i] + l[i] - 1) / l[i] * l[i];
        groups[i] = g[i] / l[i];
        if (groups[i] >= groups[d])
            d = (int)i; /* ties: the outer dimension (batch, usually) */
    }
    ctx->lstats.launches++;
    if ((size_t)pieces > groups[d])
        pieces = (int)groups[d];
    if (pieces <= 1)
        return enqueue(ctx, k, tag, dims, NULL, g, local);
    ctx->lstats.split++;
    size_t off[3] = {0, 0, 0}, pg[3];
    for (cl_uint i = 0; i < dims; i++)
        pg[i] = g[i];
    for (int p = 0; p < pieces; p++) {
        /* consecutive work-groups [a, b) of dimension d, spread evenly */
        const size_t a = groups[d] * (size_t)p / (size_t)pieces;
        const size_t b = groups[d] * (size_t)(p + 1) / (size_t)pieces;
        off[d] = a * l[d];
        pg[d] = (b - a) * l[d];
        CN_TRY(enqueue(ctx, k, tag, dims, off, pg, local));
    }
    return CN_OK;
}

int cn_launch(cn_ctx *ctx, cl_kernel k, const char *tag, cl_uint dims, const size_t *global,
              const size_t *local)
{
    return launch(ctx, k, tag, dims, global, local, 1);
}

int cn_launch_cost(cn_ctx *ctx, cl_kernel k, const char *tag, cl_uint dims,
                   const size_t *global, const size_t *local, double flops)
{
    return launch(ctx, k, tag, dims, global, local, cn_launch_pieces(ctx, flops));
}

const char *cn_ctx_cache_dir(const cn_ctx *ctx) { return ctx->cache_dir; }

void *cn_ctx_op_state(const cn_ctx *ctx, cn_op_family family)
{
    if (!ctx || (unsigned)family >= CN_OPS_COUNT)
        return NULL;
    return ctx->ops[family].state;
}

int cn_ctx_set_op_state(cn_ctx *ctx, cn_op_family family, void *state,
                        void (*release)(void *state))
{
    if (!ctx || (unsigned)family >= CN_OPS_COUNT)
        return cn_fail(CN_ERR_ARG, "op state: no context or unknown op family %d", (int)family);
    if (ctx->ops[family].state && ctx->ops[family].state != state && ctx->ops[family].release)
        ctx->ops[family].release(ctx->ops[family].state);
    ctx->ops[family].state = state;
    ctx->ops[family].release = release;
    return CN_OK;
}

void cn_prof_group(cn_ctx *ctx, const char *group) { ctx->prof_group = group; }

int cn_prof_collect(cn_ctx *ctx, cn_prof_entry **out, int *count)
{
    *out = NULL;
    *count = 0;
    CN_TRY(cn_ctx_finish(ctx));
    cn_prof_entry *e = calloc((size_t)ctx->nprof + 1, sizeof *e);
    if (!e)
        return cn_fail(CN_ERR_OOM, "out of host memory collecting profile");
    int n = 0, st = CN_OK;
    for (int i = 0; i < ctx->nprof; i++) {
        cn_prof_rec *r = &ctx->prof[i];
        cl_ulong t0 = 0, t1 = 0;
        if (st == CN_OK)
            st = CN_CL(clGetEventProfilingInfo(r->ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0,
                                               NULL));
        if (st == CN_OK)
            st = CN_CL(clGetEventProfilingInfo(r->ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1,
                                               NULL));
        clReleaseEvent(r->ev);
        if (st != CN_OK)
            continue;
        const char *g = r->group ? r->group : "";
        const char *t = r->tag ? r->tag : "";
        int j = 0;
        while (j < n && !(strcmp(e[j].group, g) == 0 && strcmp(e[j].tag, t) == 0))
            j++;
        if (j == n)
            e[n++] = (cn_prof_entry){g, t, 0.0, 0};
        e[j].seconds += (double)(t1 - t0) * 1e-9;
        e[j].launches++;
    }
    ctx->nprof = 0;
    if (st != CN_OK) {
        free(e);
        return st;
    }
    *out = e;
    *count = n;
    return CN_OK;
}

int cn_buffer_create(cn_ctx *ctx, size_t bytes, cl_mem *out)
{
    *out = NULL;
    if (bytes == 0)
        bytes = 4; /* zero-sized buffers are invalid in OpenCL */
    long nth = ++ctx->mem.allocations;
    if (ctx->fail_alloc_nth && (nth == ctx->fail_alloc_nth ||
                                (ctx->fail_alloc_rest && nth > ctx->fail_alloc_nth)))
        return cn_fail(CN_ERR_OOM, "device allocation #%ld of %zu bytes failed "
                       "(injected by CASPNET_TEST_FAIL_ALLOC)", nth, bytes);
    if (ctx->mem_cap && ctx->mem.current + bytes > ctx->mem_cap)
        return cn_fail(CN_ERR_OOM, "out of device memory: %zu more bytes requested with %llu in "
                       "use and a cap of %llu bytes", bytes,
                       (unsigned long long)ctx->mem.current, (unsigned long long)ctx->mem_cap);
    if (bytes > ctx->dev.max_alloc)
        return cn_fail(CN_ERR_OOM, "a buffer of %zu bytes exceeds the device's largest "
                       "allocation (%llu bytes) on %s", bytes,
                       (unsigned long long)ctx->dev.max_alloc, ctx->dev.name);
    cl_int err;
    cl_mem m = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, &err);
    CN_TRY(CN_CL_ERR(err, "clCreateBuffer"));
    ctx->mem.current += bytes;
    if (ctx->mem.current > ctx->mem.peak)
        ctx->mem.peak = ctx->mem.current;
    *out = m;
    return CN_OK;
}

int cn_buffer_read(cn_ctx *ctx, cl_mem buf, size_t offset, size_t bytes, void *host)
{
    if (bytes == 0)
        return CN_OK;
    if (++ctx->lstats.reads == ctx->fail_read_nth)
        return queue_error(ctx, CL_MEM_OBJECT_ALLOCATION_FAILURE, "clEnqueueReadBuffer", NULL,
                           "CASPNET_TEST_FAIL_READ", __FILE__, __LINE__);
    CN_TRY(CN_CLQ(ctx, clEnqueueReadBuffer(ctx->q, buf, CL_TRUE, offset, bytes, host, 0, NULL,
                                           NULL)));
    ctx->last_group = NULL; /* a blocking read waits for everything queued before it */
    return CN_OK;
}

void cn_buffer_release(cn_ctx *ctx, cl_mem buf, size_t bytes)
{
    if (!buf)
        return;
    if (bytes == 0)
        bytes = 4;
    clReleaseMemObject(buf);
    ctx->mem.current -= bytes;
}

double cn_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cn_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

uint64_t cn_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}
