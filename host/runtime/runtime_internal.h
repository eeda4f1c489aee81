/* The context's layout, shared by the runtime's own files only (runtime.c, progcache.c, tensor.c). */
#ifndef CASPNET_RUNTIME_INTERNAL_H
#define CASPNET_RUNTIME_INTERNAL_H

#include "runtime/runtime.h"

typedef struct cn_program_entry {
    char *program;  /* file stem */
    char *options;  /* caller's extra options */
    cl_program prog;
    int nkernels;
    char **kernel_names;
    cl_kernel *kernels;
    char *build_log; /* compiler output of a build from source; NULL if none */
} cn_program_entry;

typedef struct cn_prof_rec {
    const char *group;
    const char *tag;
    cl_event ev;
} cn_prof_rec;

struct cn_ctx {
    cn_device_info dev;
    cl_context cl;
    cl_command_queue q;
    char cache_dir[1024]; /* "" when disabled */

    cn_program_entry *programs;
    int nprograms, capprograms;
    cn_build_stats bstats;

    int profiling;
    const char *prof_group;
    cn_prof_rec *prof;
    int nprof, capprof;

    long fail_alloc_nth;
    int fail_alloc_rest; /* cn_ctx_fail_alloc_after: allocations after the nth fail too */
    long fail_enqueue_nth, fail_read_nth; /* absolute counts of lstats.enqueues / reads */
    int split_pieces; /* > 0: every cost-aware launch in this many pieces (a test switch) */
    cn_launch_stats lstats;
    /* Group of the latest kernel launch since the queue was last drained: a
     * read or wait that fails late names it as the layer it got to. */
    const char *last_group;
    uint64_t mem_cap;
    cn_mem_stats mem;

    struct cn_arena *arena;

    struct {
        void *state;
        void (*release)(void *);
    } ops[CN_OPS_COUNT]; /* cn_ctx_op_state */
};

void cn_programs_release(cn_ctx *ctx);

/* The on-disk cache folder: `want` if given ("off" gives ""), else
 * $CASPNET_CACHE_DIR, else $XDG_CACHE_HOME/caspnet, else ~/.cache/caspnet
 * (runtime.c). */
void cn_default_cache_dir(const char *want, char *dst, size_t n);
struct cn_arena *cn_arena_create(void);
void cn_arena_destroy(cn_ctx *ctx, struct cn_arena *a);

#endif
