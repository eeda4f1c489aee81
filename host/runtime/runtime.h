/* OpenCL runtime: device discovery and choice, checked calls, program build with an on-disk binary cache, kernel launch and profiling. */
#ifndef CASPNET_RUNTIME_H
#define CASPNET_RUNTIME_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- checked OpenCL calls ------------------------------------------------ */

/* Name of an OpenCL error code ("CL_OUT_OF_RESOURCES"), or "CL_UNKNOWN_ERROR". */
const char *cn_cl_error_name(cl_int err);

/* Turns a cl_int into a status: CN_OK, or CN_ERR_CL / CN_ERR_OOM with a message
 * naming the call, the error and the source location. */
int cn_cl_check(cl_int err, const char *call, const char *file, int line);

/* Usage: CN_TRY(CN_CL(clFinish(q)));  For calls that return the error through
 * an out-parameter, pass that variable: CN_TRY(CN_CL_ERR(err, "clCreateBuffer")). */
#define CN_CL(call) cn_cl_check((call), #call, __FILE__, __LINE__)
#define CN_CL_ERR(err, name) cn_cl_check((err), (name), __FILE__, __LINE__)

/* ---- devices --------------------------------------------------------------- */

typedef struct cn_device_info {
    int index;                /* global index over all platforms, as --device N */
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[128];
    char name[256];
    char vendor[128];
    char driver[128];
    char version[128];        /* CL_DEVICE_VERSION */
    char c_version[128];      /* CL_DEVICE_OPENCL_C_VERSION */
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem;
    cl_ulong local_mem;
    cl_ulong max_alloc;
    size_t max_wg;
    int fp16, fp64;
} cn_device_info;

/* Enumerates every device of every platform. *out is malloc'd; caller frees. */
int cn_list_devices(cn_device_info **out, int *count);

/* "GPU", "CPU", "ACCELERATOR" or "OTHER". */
const char *cn_device_type_name(cl_device_type t);

/* ---- context ---------------------------------------------------------------- */

typedef struct cn_ctx cn_ctx;

typedef struct cn_ctx_opts {
    const char *device;    /* NULL: $CASPNET_DEVICE, else a discrete GPU, an
                              integrated one, a CPU (PoCL first): see choose_device.
                              Digits: global index; otherwise a case-insensitive
                              substring of "platform device" name. */
    const char *cache_dir; /* NULL: $CASPNET_CACHE_DIR, else ~/.cache/caspnet;
                              "off" disables the program binary cache. */
    int profiling;         /* record an event per launch for cn_prof_* */
    /* Test switches for fault paths (0 = off); also read from the environment
     * as CASPNET_TEST_FAIL_ALLOC and CASPNET_TEST_MEM_CAP when left 0. */
    long fail_alloc_nth;   /* the N-th device allocation (1-based) fails */
    uint64_t mem_cap;      /* device allocations beyond this many bytes fail */
    /* Late out-of-memory, as drivers that allocate lazily report it (also
     * CASPNET_TEST_FAIL_ENQUEUE, CASPNET_TEST_FAIL_READ): */
    long fail_enqueue_nth; /* the N-th kernel enqueue returns CL_OUT_OF_RESOURCES */
    long fail_read_nth;    /* the N-th read to the host (cn_buffer_read) returns
                              CL_MEM_OBJECT_ALLOCATION_FAILURE */
    int split_pieces;      /* every cn_launch_cost launch in this many pieces
                              (CASPNET_TEST_SPLIT): for the identity test of splitting */
} cn_ctx_opts;

/* Creates a context and in-order queue on the chosen device. Caller destroys. */
int cn_ctx_create(const cn_ctx_opts *opts, cn_ctx **out);
void cn_ctx_destroy(cn_ctx *ctx);

const cn_device_info *cn_ctx_device(const cn_ctx *ctx);
cl_context cn_ctx_cl(const cn_ctx *ctx);
cl_command_queue cn_ctx_queue(const cn_ctx *ctx);

/* Blocks until the queue is empty. */
int cn_ctx_finish(cn_ctx *ctx);

/* This context's on-disk cache folder (program binaries, the GEMM choice);
 * "" when the cache is off. */
const char *cn_ctx_cache_dir(const cn_ctx *ctx);
/* mkdir -p; 0 on success. */
int cn_mkdir_p(const char *path);

/* ---- per-context op state ---------------------------------------------------
 * Each op family keeps its tuning and measured choices in a slot of the
 * context rather than in process-wide variables, so two contexts (devices)
 * in one process can run different tunings. The runtime only stores the
 * pointer; the family owns the type. Like the rest of a context, a slot is
 * for one thread at a time. */
typedef enum cn_op_family {
    CN_OPS_CONV = 0, /* host/ops/conv3d.c: the -D tuning of cl/conv3d.cl */
    CN_OPS_GEMM = 1, /* host/ops/gemm*.c: own-kernel tuning, forced backend, AUTO choice */
    CN_OPS_TUNING = 2, /* host/ops/tuning*.c: the per-class strings, their source, lookup notes */
    CN_OPS_COUNT
} cn_op_family;

/* The family's state; NULL until one is set. */
void *cn_ctx_op_state(const cn_ctx *ctx, cn_op_family family);
/* Stores `state` in the family's slot; the previous state, if any, is
 * released first. cn_ctx_destroy calls release(state) (release may be NULL
 * for state the caller frees). CN_ERR_ARG for an unknown family. */
int cn_ctx_set_op_state(cn_ctx *ctx, cn_op_family family, void *state,
                        void (*release)(void *state));

/* Program build statistics since the context was made (for the cache test). */
typedef struct cn_build_stats {
    int built_from_source;
    int loaded_from_cache;
    int cache_writes;
    double build_seconds;
} cn_build_stats;
cn_build_stats cn_ctx_build_stats(const cn_ctx *ctx);

/* ---- programs and kernels --------------------------------------------------- */

/* Returns a kernel from the embedded program `program` (the stem of cl/<program>.cl)
 * built with `options` (extra -D tuning macros; may be NULL). Programs are built
 * once per (program, options) and cached in memory and on disk. The context owns
 * the kernel: do not release it. A failing build returns CN_ERR_BUILD and the
 * message carries the build log. */
int cn_kernel(cn_ctx *ctx, const char *program, const char *options, const char *kernel,
              cl_kernel *out);

/* Embedded kernel sources (generated by CMake from the cl/ folder). */
typedef struct cn_cl_source {
    const char *name; /* file stem */
    const char *text;
    size_t len;
} cn_cl_source;
extern const cn_cl_source cn_cl_sources[];
extern const int cn_cl_source_count;
/* cl/storage.h and cl/conv_flags.h, which every program is built with in
 * front of its own text (the storage macros CN_T, CN_LD, CN_ST of float and
 * half tensors, and the convolutions' flag bits); a
 * #line 1 after it keeps the compiler's line numbers those of the .cl file. */
extern const cn_cl_source cn_cl_prelude;

/* The compiler's log of program with options (as passed to cn_kernel; built
 * now if it is not yet): NULL when the build said nothing or the program came
 * from the binary cache. Owned by ctx. With CASPNET_VERBOSE=1 in the
 * environment every non-empty log is also printed on stderr when it is made;
 * a failed build puts its log in the error message instead. */
int cn_program_log(cn_ctx *ctx, const char *program, const char *options, const char **log);

/* Sets kernel argument `idx` from an lvalue; used as CN_TRY(CN_ARG(k, 0, buf)). */
#define CN_ARG(k, idx, v) cn_cl_check(clSetKernelArg((k), (idx), sizeof(v), &(v)), \
                                      "clSetKernelArg(" #v ")", __FILE__, __LINE__)
/* Local-memory argument of `bytes` bytes. */
#define CN_ARG_LOCAL(k, idx, bytes) cn_cl_check(clSetKernelArg((k), (idx), (bytes), NULL), \
                                                "clSetKernelArg(local)", __FILE__, __LINE__)

/* Enqueues an NDRange. `global` is rounded up to a multiple of `local` (kernels
 * bounds-check); `local` may be NULL to let the driver choose. `tag` names the
 * launch in profiles. CL_OUT_OF_RESOURCES or CL_MEM_OBJECT_ALLOCATION_FAILURE
 * from the enqueue (a full device, on drivers that allocate lazily) is
 * CN_ERR_OOM naming the layer (the cn_prof_group) and the kernel. */
int cn_launch(cn_ctx *ctx, cl_kernel k, const char *tag, cl_uint dims, const size_t *global,
              const size_t *local);

/* Desktop GPUs reset a device whose kernel runs for about 2 s (the display
 * watchdog). A launch whose estimated time on a small GPU, `flops` at
 * CN_SMALL_GPU_FLOPS, exceeds CN_LAUNCH_MAX_SECONDS is enqueued in pieces
 * (consecutive ranges of work-groups along the dimension with the most
 * groups, through global_work_offset); otherwise it is cn_launch. A kernel
 * launched this way must give the same result under any global offset that
 * is a multiple of its local size: it derives positions from get_global_id
 * (or get_group_id(d) + get_global_offset(d) / get_local_size(d)), takes its
 * extents as arguments, never from get_global_size / get_num_groups, and
 * shares nothing between work-groups. Each piece then computes exactly what
 * it did as part of the whole, so split results are bitwise identical. A
 * launch is never cut finer than the work-groups of that one dimension. */
#define CN_SMALL_GPU_FLOPS 200e9  /* an entry-level GPU's sustained fp32 rate, kept low */
#define CN_LAUNCH_MAX_SECONDS 0.1 /* a twentieth of the watchdog's ~2 s */
int cn_launch_cost(cn_ctx *ctx, cl_kernel k, const char *tag, cl_uint dims,
                   const size_t *global, const size_t *local, double flops);

/* Into how many pieces cn_launch_cost cuts a launch of `flops` (before the
 * limit of its work-groups): 1 within the budget, else enough to keep each
 * under it; the test switch split_pieces overrides. GEMMs through CLBlast
 * enqueue their own kernels and are not cut (host/ops/gemm.c says why). */
int cn_launch_pieces(const cn_ctx *ctx, double flops);

typedef struct cn_launch_stats {
    long launches; /* cn_launch and cn_launch_cost calls that enqueued */
    long split;    /* of which cut into several pieces */
    long enqueues; /* clEnqueueNDRangeKernel calls (pieces count one each) */
    long reads;    /* cn_buffer_read calls */
} cn_launch_stats;
cn_launch_stats cn_ctx_launch_stats(const cn_ctx *ctx);
/* Test switches for the late out-of-memory paths: the n-th kernel enqueue from
 * now returns CL_OUT_OF_RESOURCES, the n-th read CL_MEM_OBJECT_ALLOCATION_
 * FAILURE (once each); n = 0 disarms. */
void cn_ctx_fail_enqueue_after(cn_ctx *ctx, long n);
void cn_ctx_fail_read_after(cn_ctx *ctx, long n);
/* Test switch: cut every cn_launch_cost launch in `pieces`, whatever its
 * cost; 0 goes back to the cost rule. */
void cn_ctx_set_split(cn_ctx *ctx, int pieces);

/* The status of a failed command on ctx's queue (CN_OK for CL_SUCCESS):
 * CL_OUT_OF_RESOURCES and CL_MEM_OBJECT_ALLOCATION_FAILURE, where drivers that
 * allocate lazily report a full device, become CN_ERR_OOM with a message that
 * the device ran out of memory in the layer and what to do about it; `kernel`
 * names a launch (NULL for reads, writes and waits, which name the layer of
 * the latest launch instead). Other errors are cn_cl_check's. */
int cn_queue_check(cn_ctx *ctx, cl_int err, const char *call, const char *kernel,
                   const char *file, int line);
#define CN_CLQ(ctx, call) cn_queue_check((ctx), (call), #call, NULL, __FILE__, __LINE__)

/* ---- profiling (only with opts.profiling) ----------------------------------- */

/* Launches made after this call are attributed to `group` (a static string or
 * one that outlives the next cn_prof_collect). */
void cn_prof_group(cn_ctx *ctx, const char *group);

typedef struct cn_prof_entry {
    const char *group;
    const char *tag;
    double seconds; /* summed device time */
    int launches;
} cn_prof_entry;

/* Waits for the queue, sums device time per (group, tag) in launch order, and
 * clears the recorded events. *out is malloc'd; caller frees. */
int cn_prof_collect(cn_ctx *ctx, cn_prof_entry **out, int *count);

/* ---- host clock ------------------------------------------------------------- */

/* Seconds on a monotonic clock; only differences mean anything. */
double cn_seconds(void);
/* Median of v[0..n), n >= 1 (the mean of the middle two when n is even);
 * sorts v in place. */
double cn_median(double *v, int n);

/* ---- hashing ----------------------------------------------------------------- */

/* 64-bit FNV-1a of n bytes, continuing from h (start with CN_FNV_OFFSET): the
 * one hash behind cache keys and dataset shards, stable across hosts. */
#define CN_FNV_OFFSET 0xcbf29ce484222325ULL
uint64_t cn_fnv1a(uint64_t h, const void *p, size_t n);

/* ---- device memory accounting (used by tensor.c's arena) -------------------- */

/* Creates a device buffer, honouring the test switches, and accounts its size. */
int cn_buffer_create(cn_ctx *ctx, size_t bytes, cl_mem *out);
/* Blocking read of `bytes` from `buf` at `offset`, honouring fail_read_nth;
 * errors through cn_queue_check. */
int cn_buffer_read(cn_ctx *ctx, cl_mem buf, size_t offset, size_t bytes, void *host);
void cn_buffer_release(cn_ctx *ctx, cl_mem buf, size_t bytes);

typedef struct cn_mem_stats {
    uint64_t current; /* bytes of device buffers that exist now */
    uint64_t peak;    /* highest `current` seen */
    long allocations; /* clCreateBuffer calls so far */
} cn_mem_stats;
cn_mem_stats cn_ctx_mem_stats(const cn_ctx *ctx);
void cn_ctx_reset_peak(cn_ctx *ctx);
/* Test switch for fault paths: the n-th device allocation from now fails with
 * CN_ERR_OOM, and so does every later one (a device that has filled up, which
 * the arena's trim-and-retry cannot hide) until the next call; n = 0 disarms. */
void cn_ctx_fail_alloc_after(cn_ctx *ctx, long n);

/* Arena of free device buffers reused by tensors (see tensor.h). */
struct cn_arena;
struct cn_arena *cn_ctx_arena(cn_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
