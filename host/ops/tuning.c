/* The tuning registry (families, shape classes, -D macros, curated candidates, per-kind defaults), option strings, and the tuned strings a context runs with. */
#include "ops/tuning.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv3d.h"
#include "ops/tuning_internal.h"

/* ---- families and their macros ------------------------------------------------------ */

#define NONPW "conv.s3 conv.dil conv.t3 conv.k3 conv.stem"
#define DIRECT "CONV_VARIANT=direct"
#define TILED "CONV_VARIANT=tiled"

/* cl/conv3d.cl and cl/conv_tiled.cl document these macros. */
static const cn_tune_param conv_params[] = {
    {"CONV_VARIANT", "direct tiled im2col", NULL, NULL, NULL},
    {"VW", "4 8 16", DIRECT, NULL, NULL},
    {"P_RM", "4 8 12 16 24 32", DIRECT, "conv.pw", NULL},
    {"P_NV", "1 2 3 4", DIRECT, "conv.pw", NULL},
    {"R_RM", "4 8 12 16 24 32", DIRECT, NONPW, NULL},
    {"R_NR", "1 2 3 4", DIRECT, NONPW, NULL},
    {"R_NV", "1 2", DIRECT, NONPW, NULL},
    /* host/ops/conv_tiled.c's CT_DEFAULT when absent */
    {"CT_TM", "16 32 64 128", TILED, NULL, "64"},
    {"CT_TN", "16 32 64 128 256", TILED, NULL, "128"},
    {"CT_TK", "4 8 16 32", TILED, NULL, "16"},
    {"CT_WM", "1 2 4 8", TILED, NULL, "4"},
    {"CT_WN", "1 2 4 8", TILED, NULL, "8"},
};

/* cl/gemm.cl documents these; GEMM_SKINNY draws the line between the two
 * classes, so it is read but never searched (no ladder). */
static const cn_tune_param gemm_params[] = {
    {"GEMM_LOCAL", "0 1", NULL, "gemm.general", NULL},
    {"GEMM_VW", "1 2 4 8 16", NULL, NULL, NULL},
    {"GEMM_NV", "1 2 3 4", NULL, "gemm.general", NULL},
    {"GEMM_WM", "2 4 6 8 12 16", NULL, "gemm.general", NULL},
    {"GEMM_TK", "8 16 32 64", "GEMM_LOCAL=1", "gemm.general", NULL},
    {"GEMM_LM", "2 4 8 16", "GEMM_LOCAL=1", "gemm.general", NULL},
    {"GEMM_LN", "2 4 8 16", "GEMM_LOCAL=1", "gemm.general", NULL},
    {"GEMM_WGM", "1 2 4 8 16 32", "GEMM_LOCAL=0", "gemm.general", NULL},
    {"GEMM_SK_RP", "1 2 4 8", NULL, "gemm.skinny", NULL},
    {"GEMM_SK_PV", "1 2 4 8", NULL, "gemm.skinny", NULL},
    {"GEMM_SKINNY", NULL, NULL, NULL, NULL},
};

static int check_gemm(cn_ctx *ctx, const char *opts) { return cn_gemm_check_tuning_(ctx, opts); }
static int check_conv(cn_ctx *ctx, const char *opts) { return cn_conv_check_tuning_(ctx, opts); }

const cn_tune_family cn_tune_families[CN_TF_COUNT] = {
    [CN_TF_GEMM] = {"gemm", "gemm", gemm_params, sizeof gemm_params / sizeof gemm_params[0],
                    check_gemm},
    [CN_TF_CONV] = {"conv", "conv3d conv_tiled conv_transpose3d conv_im2col", conv_params,
                    sizeof conv_params / sizeof conv_params[0], check_conv},
};

const cn_tune_class cn_tune_classes[CN_TC_COUNT] = {
#define CN_TUNE_X_(id, name, fam, pin, what) [CN_TC_##id] = {name, fam, pin, what},
    CN_TUNE_CLASSES(CN_TUNE_X_)
#undef CN_TUNE_X_
};

/* ---- curated candidates --------------------------------------------------------------
 * Tried after the class default and the previous best, in this order, on the
 * device kinds named. CPU rows: register blocks around the measured defaults
 * (host/ops/conv3d.c, host/ops/gemm.c) for 32 zmm (AVX-512) and 16 ymm (AVX2)
 * registers (the tiled convolution is one local-search step away); GPU
 * rows: work-groups of 64-256 items with at most 32 accumulators each, not
 * yet measured on a GPU. Each row costs the op test (tests/ops/tuning.c) a
 * program build on every device of its kinds: keep the list short. */
#define GPU CN_TD_GPU
#define CPU CN_TD_CPU
#define ANY CN_TD_ANY
#define TILE(tm, tn, tk, wm, wn)                                                              \
    "-DCONV_VARIANT=tiled -DCT_TM=" #tm " -DCT_TN=" #tn " -DCT_TK=" #tk " -DCT_WM=" #wm      \
    " -DCT_WN=" #wn
#define ROW(vw, rm, nr, nv) "-DCONV_VARIANT=direct -DVW=" #vw " -DR_RM=" #rm " -DR_NR=" #nr " -DR_NV=" #nv
#define GENERAL_CONV(c)                                                                       \
    {c, CPU, ROW(16, 16, 2, 1)}, {c, CPU, ROW(16, 24, 1, 1)}, {c, CPU, ROW(8, 32, 2, 1)},    \
    {c, CPU, ROW(16, 8, 4, 1)},  {c, GPU, TILE(64, 128, 16, 4, 8)},                           \
    {c, GPU, TILE(64, 64, 16, 4, 4)}, {c, GPU, TILE(32, 64, 16, 4, 4)},                       \
    {c, GPU, TILE(128, 64, 8, 8, 4)}

const cn_tune_candidate cn_tune_candidates[] = {
    {CN_TC_GEMM_GENERAL, CPU, "-DGEMM_LOCAL=0 -DGEMM_VW=8 -DGEMM_NV=2 -DGEMM_WM=6"},
    {CN_TC_GEMM_GENERAL, CPU, "-DGEMM_LOCAL=0 -DGEMM_VW=16 -DGEMM_NV=1 -DGEMM_WM=12"},
    {CN_TC_GEMM_GENERAL, CPU, "-DGEMM_LOCAL=0 -DGEMM_VW=16 -DGEMM_NV=2 -DGEMM_WM=6"},
    {CN_TC_GEMM_GENERAL, GPU, "-DGEMM_LOCAL=1 -DGEMM_VW=4 -DGEMM_NV=2 -DGEMM_WM=8 -DGEMM_TK=16 "
                              "-DGEMM_LM=8 -DGEMM_LN=8"},
    {CN_TC_GEMM_GENERAL, GPU, "-DGEMM_LOCAL=1 -DGEMM_VW=4 -DGEMM_NV=1 -DGEMM_WM=4 -DGEMM_TK=16 "
                              "-DGEMM_LM=16 -DGEMM_LN=16"},
    {CN_TC_GEMM_GENERAL, GPU, "-DGEMM_LOCAL=1 -DGEMM_VW=2 -DGEMM_NV=2 -DGEMM_WM=4 -DGEMM_TK=16 "
                              "-DGEMM_LM=16 -DGEMM_LN=16"},
    {CN_TC_GEMM_SKINNY, ANY, "-DGEMM_VW=16 -DGEMM_SK_RP=8 -DGEMM_SK_PV=2"},
    {CN_TC_GEMM_SKINNY, ANY, "-DGEMM_VW=8 -DGEMM_SK_RP=2 -DGEMM_SK_PV=8"},
    {CN_TC_GEMM_SKINNY, ANY, "-DGEMM_VW=16 -DGEMM_SK_RP=2 -DGEMM_SK_PV=4"},
    {CN_TC_GEMM_SKINNY, GPU, "-DGEMM_VW=4 -DGEMM_SK_RP=1 -DGEMM_SK_PV=1"},
    {CN_TC_CONV_PW, CPU, "-DCONV_VARIANT=direct -DVW=16 -DP_RM=16 -DP_NV=2"},
    {CN_TC_CONV_PW, CPU, "-DCONV_VARIANT=direct -DVW=16 -DP_RM=24 -DP_NV=1"},
    {CN_TC_CONV_PW, CPU, "-DCONV_VARIANT=direct -DVW=8 -DP_RM=32 -DP_NV=1"},
    {CN_TC_CONV_PW, GPU, TILE(64, 128, 16, 4, 8)},
    {CN_TC_CONV_PW, GPU, TILE(64, 64, 16, 4, 4)},
    {CN_TC_CONV_PW, GPU, TILE(32, 64, 8, 2, 4)},
    GENERAL_CONV(CN_TC_CONV_S3),
    GENERAL_CONV(CN_TC_CONV_DIL),
    GENERAL_CONV(CN_TC_CONV_T3),
    GENERAL_CONV(CN_TC_CONV_K3),
    {CN_TC_CONV_K3, CPU, "-DCONV_VARIANT=im2col"},
    GENERAL_CONV(CN_TC_CONV_STEM),
};
const int cn_tune_ncandidates = sizeof cn_tune_candidates / sizeof cn_tune_candidates[0];

/* The lookup's third layer. CPUs have one row (CPC's class); elsewhere the
 * ops' built-in defaults are the measured CPU defaults. GPU rows are conventional starting points, not
 * measurements (no GPU has been available yet): the tiled convolution with
 * 256 items on NVIDIA and AMD, 128 items and 16 accumulators on Intel GPUs
 * (smaller register files per lane), local-memory GEMM tiles. */
const cn_tune_candidate cn_tune_kind_defaults[] = {
    /* CPC's 3x3x3 convs on a 2 x 7 x 12 map (K = 6912, 168 positions): the
     * direct kernel leaves cores idle there; im2col + cn_gemm measured 1.5-3x
     * faster on PoCL and Intel's CPU runtime (bench/README.md) */
    {CN_TC_CONV_K3, CN_TD_CPU, "-DCONV_VARIANT=im2col"},
    {CN_TC_CONV_PW, CN_TD_NVIDIA | CN_TD_AMD, TILE(64, 128, 16, 4, 8)},
    {CN_TC_CONV_S3, CN_TD_NVIDIA | CN_TD_AMD, TILE(64, 128, 16, 4, 8)},
    {CN_TC_CONV_DIL, CN_TD_NVIDIA | CN_TD_AMD, TILE(64, 128, 16, 4, 8)},
    {CN_TC_CONV_T3, CN_TD_NVIDIA | CN_TD_AMD, TILE(64, 128, 16, 4, 8)},
    {CN_TC_CONV_K3, CN_TD_NVIDIA | CN_TD_AMD, TILE(64, 128, 16, 4, 8)},
    {CN_TC_CONV_STEM, CN_TD_NVIDIA | CN_TD_AMD, TILE(64, 128, 16, 4, 8)},
    {CN_TC_CONV_PW, CN_TD_INTEL_GPU, TILE(32, 64, 16, 4, 4)},
    {CN_TC_CONV_S3, CN_TD_INTEL_GPU, TILE(32, 64, 16, 4, 4)},
    {CN_TC_CONV_DIL, CN_TD_INTEL_GPU, TILE(32, 64, 16, 4, 4)},
    {CN_TC_CONV_T3, CN_TD_INTEL_GPU, TILE(32, 64, 16, 4, 4)},
    {CN_TC_CONV_K3, CN_TD_INTEL_GPU, TILE(32, 64, 16, 4, 4)},
    {CN_TC_CONV_STEM, CN_TD_INTEL_GPU, TILE(32, 64, 16, 4, 4)},
    {CN_TC_GEMM_GENERAL, CN_TD_NVIDIA | CN_TD_AMD,
     "-DGEMM_LOCAL=1 -DGEMM_VW=4 -DGEMM_NV=1 -DGEMM_WM=4 -DGEMM_TK=16 -DGEMM_LM=16 -DGEMM_LN=16"},
    {CN_TC_GEMM_GENERAL, CN_TD_INTEL_GPU,
     "-DGEMM_LOCAL=1 -DGEMM_VW=4 -DGEMM_NV=2 -DGEMM_WM=4 -DGEMM_TK=16 -DGEMM_LM=8 -DGEMM_LN=8"},
};
const int cn_tune_nkind_defaults = sizeof cn_tune_kind_defaults / sizeof cn_tune_kind_defaults[0];

int cn_tune_device_kind(const cn_device_info *dev)
{
    if (!(dev->type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)))
        return CN_TD_CPU;
    char v[sizeof dev->vendor + sizeof dev->platform_name + 2];
    snprintf(v, sizeof v, "%s %s", dev->vendor, dev->platform_name);
    for (char *p = v; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strstr(v, "nvidia"))
        return CN_TD_NVIDIA;
    if (strstr(v, "advanced micro devices") || strstr(v, "amd"))
        return CN_TD_AMD;
    if (strstr(v, "intel"))
        return CN_TD_INTEL_GPU;
    return CN_TD_OTHER;
}

const char *cn_tune_kind_name(int kind)
{
    switch (kind) {
    case CN_TD_CPU: return "CPU";
    case CN_TD_NVIDIA: return "NVIDIA";
    case CN_TD_AMD: return "AMD";
    case CN_TD_INTEL_GPU: return "Intel GPU";
    default: return "other";
    }
}

int cn_tune_class_by_name(const char *name)
{
    for (int c = 0; c < CN_TC_COUNT; c++)
        if (strcmp(cn_tune_classes[c].name, name) == 0)
            return c;
    return -1;
}

const char *cn_tune_kind_default(int cls, int kind)
{
    for (int i = 0; i < cn_tune_nkind_defaults; i++)
        if (cn_tune_kind_defaults[i].cls == cls && (cn_tune_kind_defaults[i].kinds & kind))
            return cn_tune_kind_defaults[i].options;
    return "";
}

/* Whether `word` is one of the space-separated words of `list`. */
static int in_list(const char *list, const char *word)
{
    const size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

int cn_tune_param_applies(const cn_tune_param *p, int cls, const char *opts)
{
    if (!p->ladder || (p->classes && !in_list(p->classes, cn_tune_classes[cls].name)))
        return 0;
    const char *pin = cn_tune_classes[cls].pinned;
    if (pin && strcmp(pin, p->name) == 0)
        return 0;
    if (!p->when)
        return 1;
    char name[24];
    const char *eq = strchr(p->when, '=');
    snprintf(name, sizeof name, "%.*s", (int)(eq - p->when), p->when);
    cn_tune_opts o;
    if (cn_tune_opts_parse(opts, &o) != CN_OK)
        return 1;
    const char *v = cn_tune_opts_get(&o, name);
    return !v || strcmp(v, eq + 1) == 0;
}

int cn_tune_conv_pack_class(const int k[3])
{
    if (k[0] == 1 && k[1] == 1 && k[2] == 1)
        return CN_TC_CONV_PW;
    if (k[0] == 1 && k[1] == 3 && k[2] == 3)
        return CN_TC_CONV_S3;
    if (k[0] == 3 && k[1] == 1 && k[2] == 1)
        return CN_TC_CONV_T3;
    if (k[0] == 3 && k[1] == 3 && k[2] == 3)
        return CN_TC_CONV_K3;
    return CN_TC_CONV_STEM;
}

int cn_tune_conv_class(const int k[3], const int s[3], const int d[3])
{
    if (s[0] > 1 || s[1] > 1 || s[2] > 1)
        return CN_TC_CONV_STEM;
    const int c = cn_tune_conv_pack_class(k);
    if (c == CN_TC_CONV_S3 && (d[1] > 1 || d[2] > 1))
        return CN_TC_CONV_DIL;
    return c;
}

/* ---- option strings --------------------------------------------------------------------- */

int cn_tune_opts_parse(const char *s, cn_tune_opts *o)
{
    o->n = 0;
    while (s && *s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        char name[24], val[16];
        int used = 0;
        if (sscanf(s, "-D%23[A-Z_0-9]=%15[a-z0-9-]%n", name, val, &used) != 2 ||
            (s[used] && s[used] != ' '))
            return cn_fail(CN_ERR_ARG, "tuning: cannot parse '%.40s' (want -DNAME=value)", s);
        CN_TRY(cn_tune_opts_set(o, name, val));
        s += used;
    }
    return CN_OK;
}

const char *cn_tune_opts_get(const cn_tune_opts *o, const char *name)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->name[i], name) == 0)
            return o->val[i];
    return NULL;
}

int cn_tune_opts_set(cn_tune_opts *o, const char *name, const char *val)
{
    int i = 0;
    while (i < o->n && strcmp(o->name[i], name) != 0)
        i++;
    if (!val) {
        if (i < o->n) {
            memmove(o->name[i], o->name[i + 1], (size_t)(o->n - i - 1) * sizeof o->name[0]);
            memmove(o->val[i], o->val[i + 1], (size_t)(o->n - i - 1) * sizeof o->val[0]);
            o->n--;
        }
        return CN_OK;
    }
    if (i == o->n && o->n == CN_TUNE_MAXTOK)
        return cn_fail(CN_ERR_ARG, "tuning: more than %d macros", CN_TUNE_MAXTOK);
    if (strlen(name) >= sizeof o->name[0] || strlen(val) >= sizeof o->val[0])
        return cn_fail(CN_ERR_ARG, "tuning: macro %.30s=%.30s too long", name, val);
    if (i == o->n)
        o->n++;
    strcpy(o->name[i], name);
    strcpy(o->val[i], val);
    return CN_OK;
}

static void append(char *buf, size_t n, size_t *len, const char *name, const char *val)
{
    if (*len < n)
        *len += (size_t)snprintf(buf + *len, n - *len, "%s-D%s=%s", *len ? " " : "", name, val);
}

void cn_tune_opts_str(const cn_tune_opts *o, int family, char *buf, size_t n)
{
    size_t len = 0;
    if (n)
        buf[0] = '\0';
    const cn_tune_family *f = &cn_tune_families[family];
    int done[CN_TUNE_MAXTOK] = {0};
    for (int p = 0; p < f->nparams; p++)
        for (int i = 0; i < o->n; i++)
            if (!done[i] && strcmp(o->name[i], f->params[p].name) == 0) {
                append(buf, n, &len, o->name[i], o->val[i]);
                done[i] = 1;
            }
    for (int i = 0; i < o->n; i++)
        if (!done[i])
            append(buf, n, &len, o->name[i], o->val[i]);
}

int cn_tune_normalize(const char *s, int family, char *buf, size_t n)
{
    cn_tune_opts o;
    CN_TRY(cn_tune_opts_parse(s, &o));
    cn_tune_opts_str(&o, family, buf, n);
    return CN_OK;
}

/* ---- a context's tuning ------------------------------------------------------------------ */

#define NCONV (CN_TC_CONV_STEM - CN_TC_CONV_PW + 1)

typedef struct tuning_state {
    int loaded;
    int set[CN_TC_COUNT];
    char opts[CN_TC_COUNT][256];
    char source[CN_TF_COUNT][512];
    char notes[2048];
    /* conv strings as launched: [class][pack class], made on first use */
    int eff_ok[NCONV][NCONV];
    char eff[NCONV][NCONV][400];
} tuning_state;

static tuning_state *state(const cn_ctx *ctx, int create)
{
    tuning_state *s = cn_ctx_op_state(ctx, CN_OPS_TUNING);
    if (s || !create)
        return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    for (int f = 0; f < CN_TF_COUNT; f++)
        snprintf(s->source[f], sizeof s->source[f], "not loaded");
    /* the slot API takes a mutable context; the state is a cache of it */
    if (cn_ctx_set_op_state((cn_ctx *)ctx, CN_OPS_TUNING, s, free) != CN_OK) {
        free(s);
        return NULL;
    }
    return s;
}

int cn_tuning_set(cn_ctx *ctx, int cls, const char *opts)
{
    if (!ctx || cls < 0 || cls >= CN_TC_COUNT)
        return cn_fail(CN_ERR_ARG, "tuning: no context or unknown class %d", cls);
    char norm[256] = "";
    if (opts && *opts) {
        if (strlen(opts) >= sizeof norm)
            return cn_fail(CN_ERR_ARG, "tuning %s: option string longer than %zu bytes",
                           cn_tune_classes[cls].name, sizeof norm - 1);
        const int fam = cn_tune_classes[cls].family;
        const cn_tune_family *f = &cn_tune_families[fam];
        cn_tune_opts o;
        CN_TRY(cn_tune_opts_parse(opts, &o));
        for (int i = 0; i < o.n; i++) {
            int p = 0;
            while (p < f->nparams && strcmp(f->params[p].name, o.name[i]) != 0)
                p++;
            if (p == f->nparams)
                return cn_fail(CN_ERR_ARG, "tuning %s: %s is not a %s macro",
                               cn_tune_classes[cls].name, o.name[i], f->name);
        }
        cn_tune_opts_str(&o, fam, norm, sizeof norm);
        if (cn_tune_families[fam].check(ctx, norm) != CN_OK) {
            char why[400];
            snprintf(why, sizeof why, "%s", cn_last_error());
            return cn_fail(CN_ERR_ARG, "tuning %s '%s': %s", cn_tune_classes[cls].name, norm, why);
        }
    }
    tuning_state *s = state(ctx, 1);
    if (!s)
        return cn_fail(CN_ERR_OOM, "tuning: out of host memory");
    s->set[cls] = norm[0] != '\0';
    snprintf(s->opts[cls], sizeof s->opts[cls], "%s", norm);
    memset(s->eff_ok, 0, sizeof s->eff_ok);
    return CN_OK;
}

int cn_tuning_reset(cn_ctx *ctx)
{
    tuning_state *s = state(ctx, 1);
    if (!s)
        return cn_fail(CN_ERR_OOM, "tuning: out of host memory");
    memset(s->set, 0, sizeof s->set);
    memset(s->eff_ok, 0, sizeof s->eff_ok);
    return CN_OK;
}

const char *cn_tuning_get(const cn_ctx *ctx, int cls)
{
    const tuning_state *s = cn_ctx_op_state(ctx, CN_OPS_TUNING);
    if (!s || cls < 0 || cls >= CN_TC_COUNT || !s->set[cls])
        return NULL;
    return s->opts[cls];
}

/* class string over the built-in defaults, R_RM from the pack class */
static void make_eff(const tuning_state *s, int cls, int pcls, char *out, size_t n)
{
    cn_tune_opts o, c;
    const char *base = cn_conv_tuning(NULL);
    if (cn_tune_opts_parse(base, &o) != CN_OK)
        o.n = 0;
    char base_r[16] = "";
    if (cn_tune_opts_get(&o, "R_RM"))
        snprintf(base_r, sizeof base_r, "%s", cn_tune_opts_get(&o, "R_RM"));
    if (s->set[cls] && cn_tune_opts_parse(s->opts[cls], &c) == CN_OK)
        for (int i = 0; i < c.n; i++)
            cn_tune_opts_set(&o, c.name[i], c.val[i]);
    if (pcls != cls) {
        /* the block of the weight's layout: its pack class's, else the default */
        const char *r = base_r[0] ? base_r : NULL;
        if (s->set[pcls] && cn_tune_opts_parse(s->opts[pcls], &c) == CN_OK &&
            cn_tune_opts_get(&c, "R_RM"))
            r = cn_tune_opts_get(&c, "R_RM");
        cn_tune_opts_set(&o, "R_RM", r);
    }
    const char *env = getenv("CASPNET_CONV_VARIANT");
    if (env && *env) /* the environment beats a tuned file's variant */
        cn_tune_opts_set(&o, "CONV_VARIANT", NULL);
    cn_tune_opts_str(&o, CN_TF_CONV, out, n);
}

const char *cn_tuning_conv_opts(const cn_ctx *ctx, const int k[3], const int s3[3],
                                const int d[3])
{
    tuning_state *s = cn_ctx_op_state(ctx, CN_OPS_TUNING);
    if (!s)
        return NULL;
    int any = 0;
    for (int c = CN_TC_CONV_PW; c <= CN_TC_CONV_STEM; c++)
        any |= s->set[c];
    if (!any)
        return NULL;
    const int c = cn_tune_conv_class(k, s3, d), pc = cn_tune_conv_pack_class(k);
    const int i = c - CN_TC_CONV_PW, j = pc - CN_TC_CONV_PW;
    if (!s->eff_ok[i][j]) {
        make_eff(s, c, pc, s->eff[i][j], sizeof s->eff[i][j]);
        s->eff_ok[i][j] = 1;
    }
    return s->eff[i][j];
}

/* ---- internal: the lookup's bookkeeping (host/ops/tuning_db.c) --------------------- */

int cn_tuning_loaded_(const cn_ctx *ctx)
{
    const tuning_state *s = cn_ctx_op_state(ctx, CN_OPS_TUNING);
    return s && s->loaded;
}

int cn_tuning_mark_loaded_(cn_ctx *ctx)
{
    tuning_state *s = state(ctx, 1);
    if (!s)
        return cn_fail(CN_ERR_OOM, "tuning: out of host memory");
    s->loaded = 1;
    return CN_OK;
}

void cn_tuning_set_source_(cn_ctx *ctx, int family, const char *fmt, ...)
{
    tuning_state *s = state(ctx, 1);
    if (!s)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->source[family], sizeof s->source[family], fmt, ap);
    va_end(ap);
}

void cn_tuning_note_(cn_ctx *ctx, const char *fmt, ...)
{
    tuning_state *s = state(ctx, 1);
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *v = getenv("CASPNET_VERBOSE");
    if (v && *v && strcmp(v, "0") != 0)
        fprintf(stderr, "caspnet: tuning: %s\n", line);
    if (!s)
        return;
    size_t len = strlen(s->notes);
    if (len + 2 < sizeof s->notes)
        snprintf(s->notes + len, sizeof s->notes - len, "%s\n", line);
}

const char *cn_tuning_source(const cn_ctx *ctx, int family)
{
    const tuning_state *s = cn_ctx_op_state(ctx, CN_OPS_TUNING);
    if (!s || family < 0 || family >= CN_TF_COUNT)
        return "not loaded";
    return s->source[family];
}

const char *cn_tuning_notes(const cn_ctx *ctx)
{
    const tuning_state *s = cn_ctx_op_state(ctx, CN_OPS_TUNING);
    return s ? s->notes : "";
}
