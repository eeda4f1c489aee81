/* Per-device tuning of the op families: one registry (families, shape classes, -D macros, curated candidates, per-device-kind defaults), the option strings a context runs with, their lookup, and the tuner behind `caspnet tune`. */
#ifndef CASPNET_OPS_TUNING_H
#define CASPNET_OPS_TUNING_H

#include <stddef.h>

#include "ops/gemm.h"
#include "runtime/runtime.h"

/* ---- the registry (host/ops/tuning.c) ----------------------------------------
 * Everything the tuner, the lookup and the tests iterate is in the tables
 * of host/ops/tuning.c: adding a candidate is one row of cn_tune_candidates,
 * a macro one row of its family's parameter table, a shape class one line of
 * CN_TUNE_CLASSES plus its rule in cn_tune_conv_class (or the GEMM split). */

typedef enum cn_tune_family_id { CN_TF_GEMM = 0, CN_TF_CONV = 1, CN_TF_COUNT } cn_tune_family_id;

/* X(id, name, family, pinned macro or NULL, what it covers). The order is the
 * tuning order: GEMM first, since the pointwise convolutions of a CPU run as
 * GEMMs and the conv classes are then timed with the GEMM tuning in place. */
#define CN_TUNE_CLASSES(X)                                                                      \
    X(GEMM_GENERAL, "gemm.general", CN_TF_GEMM, NULL,                                          \
      "products with min(M, N) above GEMM_SKINNY; timed on the model's pointwise convs")       \
    X(GEMM_SKINNY, "gemm.skinny", CN_TF_GEMM, NULL,                                            \
      "products with min(M, N) <= GEMM_SKINNY: linear layers, attention scores")               \
    X(CONV_PW, "conv.pw", CN_TF_CONV, NULL, "1x1x1 convolutions (conv_pw, tiled)")             \
    X(CONV_S3, "conv.s3", CN_TF_CONV, NULL, "1x3x3 (and 2D 3x3) convolutions, dilation 1")     \
    X(CONV_DIL, "conv.dil", CN_TF_CONV, "R_RM",                                                \
      "dilated 1x3x3 convolutions (ASPP); R_RM is conv.s3's, whose weight layout they share")  \
    X(CONV_T3, "conv.t3", CN_TF_CONV, NULL, "3x1x1 convolutions")                              \
    X(CONV_K3, "conv.k3", CN_TF_CONV, NULL,                                                    \
      "3x3x3 convolutions, their adjoints and stride-1 transposed convolutions (CPC)")        \
    X(CONV_STEM, "conv.stem", CN_TF_CONV, NULL,                                                \
      "strided convolutions and kernels wider than 3 (the 1x7x7 / 7x1x1 stem)")

typedef enum cn_tune_class_id {
#define CN_TUNE_X_(id, name, fam, pin, what) CN_TC_##id,
    CN_TUNE_CLASSES(CN_TUNE_X_)
#undef CN_TUNE_X_
    CN_TC_COUNT
} cn_tune_class_id;

/* Kinds of device: candidate lists and per-kind defaults are by kind. */
enum {
    CN_TD_CPU = 1,
    CN_TD_NVIDIA = 2,
    CN_TD_AMD = 4,
    CN_TD_INTEL_GPU = 8,
    CN_TD_OTHER = 16, /* other GPUs and accelerators */
    CN_TD_GPU = CN_TD_NVIDIA | CN_TD_AMD | CN_TD_INTEL_GPU | CN_TD_OTHER,
    CN_TD_ANY = CN_TD_CPU | CN_TD_GPU
};
int cn_tune_device_kind(const cn_device_info *dev);
const char *cn_tune_kind_name(int kind); /* "CPU", "NVIDIA", "AMD", "Intel GPU", "other" */

/* A -D macro the tuner varies. */
typedef struct cn_tune_param {
    const char *name;    /* the macro */
    const char *ladder;  /* its values in order, space-separated: the local search steps
                          * to the neighbours of the current value */
    const char *when;    /* NULL, or "MACRO=value": it matters only under that setting */
    const char *classes; /* NULL (every class of the family) or the class names it matters for */
    const char *deflt;   /* the value the op uses when the macro is absent from a string
                          * that needs it (NULL: the op's strings always carry it) */
} cn_tune_param;

typedef struct cn_tune_family {
    const char *name;     /* "gemm", "conv" */
    const char *programs; /* cl/ stems whose text keys the tuning (their hash is in the file) */
    const cn_tune_param *params;
    int nparams;
    /* Whether an option string is valid for this family on ctx's device
     * (macros known, values in range, the work-group and local memory fit):
     * CN_OK, or a status with the reason in cn_last_error. */
    int (*check)(cn_ctx *ctx, const char *opts);
} cn_tune_family;

typedef struct cn_tune_class {
    const char *name;   /* "conv.s3" */
    int family;         /* cn_tune_family_id */
    const char *pinned; /* a macro the class takes from the class that owns its weight layout */
    const char *what;
} cn_tune_class;

/* One curated configuration: tried for class cls on the device kinds in
 * `kinds`, in table order (the canonical order that breaks near-ties). */
typedef struct cn_tune_candidate {
    int cls;
    int kinds;
    const char *options;
} cn_tune_candidate;

extern const cn_tune_family cn_tune_families[CN_TF_COUNT];
extern const cn_tune_class cn_tune_classes[CN_TC_COUNT];
extern const cn_tune_candidate cn_tune_candidates[];
extern const int cn_tune_ncandidates;
/* Per-kind defaults, the lookup's third layer: the first row whose class and
 * kind match. A class without a row runs the ops' built-in defaults. */
extern const cn_tune_candidate cn_tune_kind_defaults[];
extern const int cn_tune_nkind_defaults;

/* Class index by name ("conv.s3"), or -1. */
int cn_tune_class_by_name(const char *name);
/* The per-kind default of class cls for a device of kind `kind` ("" none). */
const char *cn_tune_kind_default(int cls, int kind);
/* Whether parameter p of cls's family matters for cls under opts (its
 * `classes` and `when`; a macro absent from opts counts with the value
 * `deflt` gives, e.g. CONV_VARIANT resolved by device type). */
int cn_tune_param_applies(const cn_tune_param *p, int cls, const char *opts);

/* Shape classes of a convolution (k, s, d: T/H/W kernel, stride, dilation;
 * a 2D conv is T = 1) and of its weight: the class whose R_RM blocks the
 * packed weight depends on the kernel shape alone (cn_conv_pack_shape_of). */
int cn_tune_conv_class(const int k[3], const int s[3], const int d[3]);
int cn_tune_conv_pack_class(const int k[3]);

/* ---- option strings ------------------------------------------------------------ */

#define CN_TUNE_MAXTOK 24
typedef struct cn_tune_opts {
    int n;
    char name[CN_TUNE_MAXTOK][24];
    char val[CN_TUNE_MAXTOK][16];
} cn_tune_opts;
/* Parses "-DNAME=VALUE ..." (VALUE an integer or a lower-case word); a later
 * token for the same name replaces the earlier one. CN_ERR_ARG otherwise. */
int cn_tune_opts_parse(const char *s, cn_tune_opts *o);
const char *cn_tune_opts_get(const cn_tune_opts *o, const char *name); /* NULL: absent */
int cn_tune_opts_set(cn_tune_opts *o, const char *name, const char *val); /* val NULL: remove */
/* "-DA=1 -DB=2": the family's macros in its table order, then any others. */
void cn_tune_opts_str(const cn_tune_opts *o, int family, char *buf, size_t n);
/* Parses, then writes back in canonical form; CN_ERR_ARG when it does not parse. */
int cn_tune_normalize(const char *s, int family, char *buf, size_t n);

/* ---- a context's tuning (host/ops/tuning.c) --------------------------------------
 * Each context holds one option string per class. Ops ask for the string of
 * the class a launch belongs to; "" and an unset class mean the op's
 * built-in defaults. cn_conv_set_tuning / cn_gemm_set_tuning still override
 * everything for the whole context (benchmarks, tests). */

/* Sets class cls's string (the tuner, tests): checked with the family's
 * check and stored normalized; NULL or "" back to the built-in defaults. */
int cn_tuning_set(cn_ctx *ctx, int cls, const char *opts);
/* Every class back to the built-in defaults; the lookup is not run again. */
int cn_tuning_reset(cn_ctx *ctx);
/* Class cls's string, or NULL when none is set (built-in defaults). */
const char *cn_tuning_get(const cn_ctx *ctx, int cls);
/* What conv3d.c builds a convolution with: class (k, s, d)'s string over
 * the built-in defaults, with R_RM from the weight's pack class and without
 * a CONV_VARIANT token when $CASPNET_CONV_VARIANT is set; NULL when no conv
 * class is set. Valid until the context's tuning changes. */
const char *cn_tuning_conv_opts(const cn_ctx *ctx, const int k[3], const int s[3],
                                const int d[3]);

/* ---- lookup and files (host/ops/tuning_db.c) ------------------------------------- */

/* Loads the context's tuning once (later calls return at once); the model
 * calls it before packing weights, so predict, forward, bench and the
 * engine API use it unasked. Per family, the first of these that has an
 * entry for this device (identity below) and this family's kernel hash:
 *   $CASPNET_TUNING=PATH (a file) in place of the user's file,
 *   the user's file CACHE_DIR/tuning-<device hash>.json (cn_tuning_user_file),
 *   the shipped database (cl/tuning/ JSON files, embedded at build time),
 *   the defaults for the device's kind (cn_tune_kind_defaults),
 *   the ops' built-in defaults.
 * $CASPNET_TUNING=off: built-in defaults only; =db: the shipped database and
 * the kind defaults only (what the test suite runs). A missing, corrupt,
 * stale or foreign file is a note (cn_tuning_notes; on stderr with
 * CASPNET_VERBOSE) and the next layer, never an error: fails only when out
 * of host memory. Tuning never starts by itself. */
int cn_tuning_ensure(cn_ctx *ctx);
/* Where family f's strings came from, e.g. "user file /x/tuning-0123.json",
 * "shipped database pocl-skylake-avx512", "defaults for CPU devices",
 * "built-in defaults (CASPNET_TUNING=off)"; "not loaded" before ensure. */
const char *cn_tuning_source(const cn_ctx *ctx, int family);
/* Notes of the lookup, one per line ("" none). */
const char *cn_tuning_notes(const cn_ctx *ctx);

/* The shipped database: the JSON files of cl/tuning/ (one per measured
 * device, named after it), embedded by cmake/embed_cl.cmake like the kernels. */
extern const cn_cl_source cn_tuning_db_sources[];
extern const int cn_tuning_db_source_count;

/* What a tuning file is keyed by. */
typedef struct cn_tune_identity {
    char platform[128], name[256], vendor[128], driver[128];
    unsigned compute_units;
    unsigned long long local_mem;
    char host_isa[16]; /* CPU devices: widest vector ISA of the host ("avx512f", "avx2", ...) */
} cn_tune_identity;
void cn_tuning_identity(const cn_ctx *ctx, cn_tune_identity *id);
/* FNV-1a of family f's kernel sources (cn_tune_families[f].programs, after
 * the prelude every program is built with). */
uint64_t cn_tuning_family_hash(int family);
/* The user's file for ctx's device ("" when the cache folder is off). */
const char *cn_tuning_user_file(const cn_ctx *ctx, char *buf, size_t n);
/* The best string of class cls from an earlier run on this device (the
 * user's file, else the shipped database; kernel hash not required): the
 * tuner's second seed. 0 when there is none. */
int cn_tuning_previous(const cn_ctx *ctx, int cls, char *buf, size_t n);

/* One class's result, as the tuner writes it. */
typedef struct cn_tune_result {
    int cls;
    char opts[256];         /* chosen, normalized */
    double seconds;         /* per forward pass, over the timed shapes */
    double default_seconds; /* the same with the class default */
    int tried, dropped;     /* candidates timed; dropped (wrong, no build, no launch) */
    char shapes[160];       /* which shapes were timed */
} cn_tune_result;
/* Writes a tuning file for ctx's device (temporary file, then rename). */
int cn_tuning_write(const cn_ctx *ctx, const char *path, const cn_tune_result *r, int n,
                    const char *command, const char *notes);

/* ---- the tuner (host/ops/tuning_search.c, tuning_run.c) ----------------------------- */

/* One convolution or product the model runs, as the tuner times it. */
enum { CN_TP_CONV = 0, CN_TP_CONV2D = 1, CN_TP_TCONV = 2, CN_TP_GEMM = 3 };
enum { CN_TPF_BIAS = 1, CN_TPF_PRE = 2, CN_TPF_RELU = 4, CN_TPF_RES = 8, CN_TPF_RES_INPLACE = 16,
       CN_TPF_Y_IS_X = 32, CN_TPF_PACKED = 64 };
typedef struct cn_tune_problem {
    int op;       /* CN_TP_* */
    int count;    /* runs per forward pass */
    double flops; /* per run */
    char tag[48]; /* the model's first layer of this shape */
    /* convolutions: x (N, Cx, T, H, W), channels [xoff, xoff + Ci); y (N, Cy,
     * To, Ho, Wo), channels [yoff, yoff + Co); flags CN_TPF_* */
    int N, Ci, Co, Cx, xoff, Cy, yoff, T, H, W, To, Ho, Wo;
    int k[3], s[3], p[3], d[3], op_pad[3], flags;
    float alpha;
    cn_gemm_desc g; /* CN_TP_GEMM (tag and buffers aside) */
} cn_tune_problem;
/* The class a problem is timed under with ctx's current tuning (a pointwise
 * convolution also under CN_TC_GEMM_GENERAL: *also, else -1). */
int cn_tune_problem_class(cn_ctx *ctx, const cn_tune_problem *p, int *also);

enum { CN_TUNE_RAPID = 0, CN_TUNE_NORMAL = 1, CN_TUNE_EXHAUSTIVE = 2 };

typedef struct cn_tune_progress {
    double fraction; /* of the planned work, 0..1 */
    double eta;      /* seconds left (estimate, capped by the budget) */
    const char *cls; /* class being tuned */
    int cand, ncand; /* candidate of this class, of those planned so far */
} cn_tune_progress;

typedef struct cn_tune_run_opts {
    int mode;      /* CN_TUNE_* */
    double budget; /* seconds of wall time; 0: the mode's default (60, 600, 3600) */
    int only_cls;  /* -1 all, else one class (tests) */
    /* Storage of the operands the candidates run on: CN_F32 (0), or CN_F16
     * as the fp16 model stores its weights and feature maps (every operand
     * half but bias and pre-activation); each candidate is then timed and
     * checked in half. */
    cn_dtype storage;
    /* one line per class and per candidate (its time, or why it was
     * dropped), without the newline; NULL: quiet */
    void (*log)(void *user, const char *line);
    void (*progress)(void *user, const cn_tune_progress *p);
    void *user;
} cn_tune_run_opts;

/* Tunes every class that has problems: times the class default, the
 * previous best, the curated candidates for this device kind and a bounded
 * local search around the best, each checked against the default's output
 * (itself checked against a double computation on sampled outputs); wrong,
 * unbuildable or unlaunchable candidates are dropped; the fastest wins, and
 * candidates within 3% of it go to the earliest in canonical order; the
 * winner is timed against the default again in alternating rounds and kept
 * only if it stays 3% faster. The context must have profiling on. Leaves the chosen strings set in ctx and
 * fills res (one per class tuned, at most CN_TC_COUNT). */
int cn_tune_run(cn_ctx *ctx, const cn_tune_problem *p, int np, const cn_tune_run_opts *o,
                cn_tune_result *res, int *nres);

#endif
