/* Op family tuning: every configuration the tuner can start from (host/ops/tuning.c's curated candidates and per-kind defaults, the built-in defaults, every macro at the first rung of its ladder) set for its shape class and, where the device is of a kind it is listed for, run on that class's odd shapes against the double reference; a configuration the device cannot run must be refused by the family's check, as the tuner refuses it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops/helpers/conv_case.h"
#include "ops/helpers/gemm_case.h"
#include "ops/op_test.h"

#define V3(a, b, c) {a, b, c}

/* Odd shapes of each class, with the fused features its layers use. */
static const conv_case pw_cases[] = {
    {.name = "1x1x1 pre window residual", .N = 3, .Ci = 13, .Co = 11, .cx_extra = 4, .xoff = 3,
     .cy_extra = 6, .yoff = 2, .in = V3(3, 9, 7), .k = V3(1, 1, 1), .pre_scale = 1,
     .pre_shift = 1, .pre_relu = 1, .residual = 1, .alpha = 0.5f},
    {.name = "1x1x1 windows residual in place", .N = 2, .Ci = 17, .Co = 19, .cx_extra = 4,
     .xoff = 1, .cy_extra = 6, .yoff = 5, .in = V3(3, 7, 9), .k = V3(1, 1, 1), .bias = 1,
     .residual = 2, .alpha = -0.75f, .relu = 1},
};
static const conv_case s3_cases[] = {
    {.name = "1x3x3 pre-BN-ReLU window", .N = 2, .Ci = 13, .Co = 19, .cy_extra = 5, .yoff = 3,
     .in = V3(2, 7, 40), .k = V3(1, 3, 3), .p = V3(0, 1, 1), .pre_scale = 1, .pre_shift = 1,
     .pre_relu = 1, .packed = 1},
    {.name = "2D 3x3 bias relu", .mode = 1, .N = 2, .Ci = 5, .Co = 9, .in = V3(1, 13, 11),
     .k = V3(1, 3, 3), .p = V3(0, 1, 1), .bias = 1, .relu = 1, .packed = 1},
};
static const conv_case dil_cases[] = {
    {.name = "1x3x3 dil 2 windows", .N = 3, .Ci = 13, .Co = 11, .cx_extra = 5, .xoff = 5,
     .cy_extra = 3, .yoff = 3, .in = V3(3, 9, 7), .k = V3(1, 3, 3), .p = V3(0, 2, 2),
     .d = V3(1, 2, 2), .bias = 1, .relu = 1, .packed = 1},
};
static const conv_case t3_cases[] = {
    {.name = "3x1x1 pad 1", .N = 2, .Ci = 13, .Co = 11, .in = V3(5, 11, 10), .k = V3(3, 1, 1),
     .p = V3(1, 0, 0), .bias = 1, .relu = 1, .packed = 1},
};
static const conv_case k3_cases[] = {
    {.name = "3x3x3 pad 1 residual", .N = 2, .Ci = 13, .Co = 11, .in = V3(3, 7, 6),
     .k = V3(3, 3, 3), .p = V3(1, 1, 1), .bias = 1, .residual = 1, .alpha = -1.0f, .packed = 1},
    {.name = "3x3x3 adjoint in place", .N = 1, .Ci = 9, .Co = 7, .in = V3(2, 5, 9),
     .k = V3(3, 3, 3), .p = V3(1, 1, 1), .residual = 2, .alpha = 0.1f, .relu = 1},
    {.name = "3x3x3 transposed stride 1", .mode = 2, .N = 2, .Ci = 7, .Co = 5, .in = V3(2, 6, 5),
     .k = V3(3, 3, 3), .p = V3(1, 1, 1), .bias = 1},
};
static const conv_case stem_cases[] = {
    {.name = "1x7x7 s(1,2,2) p(0,3,3)", .N = 2, .Ci = 3, .Co = 11, .in = V3(3, 23, 45),
     .k = V3(1, 7, 7), .s = V3(1, 2, 2), .p = V3(0, 3, 3), .bias = 1, .relu = 1, .packed = 1},
    {.name = "7x1x1 s(2,1,1) p(3,0,0)", .N = 2, .Ci = 13, .Co = 11, .in = V3(9, 5, 7),
     .k = V3(7, 1, 1), .s = V3(2, 1, 1), .p = V3(3, 0, 0), .bias = 1, .relu = 1, .packed = 1},
};

typedef struct class_cases {
    const conv_case *c;
    int n;
} class_cases;
#define CASES(a) {a, (int)(sizeof a / sizeof a[0])}
static const class_cases conv_cases[CN_TC_COUNT] = {
    [CN_TC_CONV_PW] = CASES(pw_cases),   [CN_TC_CONV_S3] = CASES(s3_cases),
    [CN_TC_CONV_DIL] = CASES(dil_cases), [CN_TC_CONV_T3] = CASES(t3_cases),
    [CN_TC_CONV_K3] = CASES(k3_cases),   [CN_TC_CONV_STEM] = CASES(stem_cases),
};

/* Products of each GEMM class as the model runs them: general ones above
 * GEMM_SKINNY in both dimensions, as its pointwise convs (NN, batched with
 * offsets and gaps); skinny ones of both skinny kernels (_p: an attention
 * score, _k: a linear layer on a few rows). Every transpose pair is a
 * program build of its own, slow on Intel's compiler; linear layers on more
 * than GEMM_SKINNY clips (NT) share the blocking code, which tests/ops/gemm.c
 * runs in every transpose under its tunings. */
static void run_gemm_class(cn_ctx *ctx, tu_rng *r, int cls, const char *label)
{
    cn_gemm_desc d[3];
    if (cls == CN_TC_GEMM_GENERAL) {
        d[0] = gemm_mk(0, 0, 37, 45, 29, 2, 1, 1.0f, 0.0f);
        d[1] = gemm_mk(0, 0, 19, 130, 70, 1, 0, 1.0f, 1.0f);
        d[2] = gemm_mk(0, 0, 64, 48, 33, 3, 1, -0.5f, 0.0f);
    } else {
        d[0] = gemm_mk(0, 0, 1, 75, 43, 2, 1, 1.0f, 0.0f);
        d[1] = gemm_mk(0, 1, 3, 150, 77, 1, 0, 1.0f, 0.0f);
        d[2] = gemm_mk(0, 1, 130, 2, 37, 2, 1, 1.0f, 0.5f);
    }
    for (int i = 0; i < 3; i++)
        gemm_run_case(ctx, r, &d[i], label);
}

/* ---- the configurations, from the registry ----------------------------------------- */

typedef struct cfg_case {
    int cls;
    int kinds;     /* the device kinds it is listed for (CN_TD_*) */
    int synthetic; /* the ladders' first rungs: the checks may refuse it for any reason */
    char opts[256];
} cfg_case;
static cfg_case cfgs[768];
static int ncfgs;

static void add_cfg(int cls, int kinds, const char *opts, int synthetic)
{
    char norm[256];
    if (cn_tune_normalize(opts, cn_tune_classes[cls].family, norm, sizeof norm) != CN_OK)
        snprintf(norm, sizeof norm, "%s", opts); /* the case reports it */
    for (int i = 0; i < ncfgs; i++)
        if (cfgs[i].cls == cls && strcmp(cfgs[i].opts, norm) == 0) {
            cfgs[i].kinds |= kinds;
            return;
        }
    if (ncfgs == (int)(sizeof cfgs / sizeof cfgs[0]))
        return;
    cfgs[ncfgs].cls = cls;
    cfgs[ncfgs].kinds = kinds;
    cfgs[ncfgs].synthetic = synthetic;
    snprintf(cfgs[ncfgs].opts, sizeof cfgs[ncfgs].opts, "%s", norm);
    ncfgs++;
}

/* The i-th rung (-1: the last) of a ladder. */
static void rung(const char *ladder, int i, char *out, size_t n)
{
    int k = 0;
    const char *last = ladder;
    for (const char *s = ladder; *s;) {
        const size_t len = strcspn(s, " ");
        if (k++ == i) {
            snprintf(out, n, "%.*s", (int)len, s);
            return;
        }
        last = s;
        s += len + (s[len] == ' ');
    }
    snprintf(out, n, "%.*s", (int)strcspn(last, " "), last);
}

/* For every rung of the macro others depend on (CONV_VARIANT, GEMM_LOCAL):
 * every other macro of the class at the first rung of its ladder, the
 * smallest blocks, whose ragged edges the odd shapes cross most. (The last
 * rungs together make register blocks no search would pick, and PoCL takes
 * minutes to build them; the tuner checks whatever it times anyway.) */
static void ladder_starts(int cls)
{
    const cn_tune_family *f = &cn_tune_families[cn_tune_classes[cls].family];
    const cn_tune_param *sw = NULL;
    for (int i = 0; i < f->nparams && !sw; i++)
        for (int j = 0; j < f->nparams; j++)
            if (f->params[j].when && cn_tune_param_applies(&f->params[i], cls, "") &&
                strncmp(f->params[j].when, f->params[i].name, strlen(f->params[i].name)) == 0)
                sw = &f->params[i];
    for (int s = 0; s < (sw ? 2 : 1); s++) {
        char opts[256] = "", v[16];
        size_t len = 0;
        if (sw) {
            rung(sw->ladder, s ? -1 : 0, v, sizeof v);
            len += (size_t)snprintf(opts, sizeof opts, "-D%s=%s", sw->name, v);
        }
        for (int i = 0; i < f->nparams; i++) {
            const cn_tune_param *p = &f->params[i];
            if (p == sw || !cn_tune_param_applies(p, cls, opts))
                continue;
            rung(p->ladder, 0, v, sizeof v);
            len += (size_t)snprintf(opts + len, sizeof opts - len, " -D%s=%s", p->name, v);
        }
        add_cfg(cls, CN_TD_ANY, opts, 1);
    }
}

/* The string the class's launches now run with, to see the configuration took effect. */
static const char *in_effect(cn_ctx *ctx, int cls, char *buf, size_t n)
{
    if (cn_tune_classes[cls].family == CN_TF_GEMM)
        return cn_gemm_tuning_class_(ctx, cls == CN_TC_GEMM_SKINNY, buf, n);
    const conv_case *c = &conv_cases[cls].c[0];
    int s[3], d[3];
    for (int i = 0; i < 3; i++)
        s[i] = c->s[i] ? c->s[i] : 1, d[i] = c->d[i] ? c->d[i] : 1;
    const char *e = cn_tuning_conv_opts(ctx, c->k, s, d);
    snprintf(buf, n, "%s", e ? e : "(none)");
    return buf;
}

static int all_kinds(void);

/* The compiler said nothing of a warning building program with opts (as
 * tests/test_kernel_warnings.c asks of the ops' default option sets); a
 * program loaded from the binary cache has no log and passes. */
static void no_warning(cn_ctx *ctx, const char *program, const char *opts, const char *name)
{
    const char *log = NULL;
    TU_OK(cn_program_log(ctx, program, opts, &log));
    int warns = 0;
    for (const char *p = log; p && *p && !warns; p++)
        warns = strncasecmp(p, "warning", 7) == 0;
    TU_CHECK(!warns, "%s: building %s with '%s' warns:\n%s", name, program, opts, log);
}

/* The program builds a configuration makes, as host/ops/conv3d.c,
 * conv_tiled.c and gemm.c form their options. */
static void check_builds(cn_ctx *ctx, int cls, const char *eff, const char *name)
{
    cn_tune_opts o;
    if (cn_tune_opts_parse(eff, &o) != CN_OK)
        return;
    if (cn_tune_classes[cls].family == CN_TF_GEMM) {
        char opts[600];
        const char *knobs = strstr(eff, " -DGEMM_WGM=");
        snprintf(opts, sizeof opts, "-DGEMM_TA=0 -DGEMM_TB=0 %.*s",
                 knobs ? (int)(knobs - eff) : (int)strlen(eff), eff);
        no_warning(ctx, "gemm", opts, name);
        return;
    }
    const char *v = cn_tune_opts_get(&o, "CONV_VARIANT");
    if (v && strcmp(v, "tiled") == 0) {
        static const char *const ct[5] = {"CT_TM", "CT_TN", "CT_TK", "CT_WM", "CT_WN"};
        static const char *const dflt[5] = {"64", "128", "16", "4", "8"};
        char opts[200];
        size_t len = 0;
        for (int i = 0; i < 5; i++)
            len += (size_t)snprintf(opts + len, sizeof opts - len, "%s-D%s=%s", i ? " " : "",
                                    ct[i], cn_tune_opts_get(&o, ct[i]) ? cn_tune_opts_get(&o, ct[i])
                                                                      : dflt[i]);
        no_warning(ctx, "conv_tiled", opts, name);
    }
    no_warning(ctx, "conv3d", eff, name);
}

static void case_cfg(cn_ctx *ctx, tu_rng *r, const void *arg)
{
    const cfg_case *c = arg;
    const char *name = cn_tune_classes[c->cls].name;
    TU_OK(cn_tuning_reset(ctx));
    const int st = cn_tuning_set(ctx, c->cls, c->opts);
    if (st != CN_OK) {
        /* a listed configuration may only be too big for this device */
        TU_CHECK(c->synthetic || st == CN_ERR_UNSUPPORTED, "%s '%s' refused: %s", name, c->opts,
                 cn_last_error());
        printf("  %s: refused here, as the tuner would refuse it: %s\n", name, cn_last_error());
        return;
    }
    char eff[600], label[400];
    in_effect(ctx, c->cls, eff, sizeof eff);
    cn_tune_opts o;
    TU_OK(cn_tune_opts_parse(c->opts, &o));
    const char *pin = cn_tune_classes[c->cls].pinned;
    for (int i = 0; i < o.n; i++) {
        char tok[48];
        snprintf(tok, sizeof tok, "-D%s=%s", o.name[i], o.val[i]);
        if (!(pin && strcmp(pin, o.name[i]) == 0))
            TU_CHECK(strstr(eff, tok) != NULL, "%s: %s is not in effect (%s)", name, tok, eff);
    }
    /* another kind's candidate: valid and in effect here, run where it is listed */
    const int kind = cn_tune_device_kind(cn_ctx_device(ctx));
    if (!(c->kinds & kind) && !all_kinds()) {
        printf("  %s: listed for %s devices, not this %s one: checked, not run "
               "(CASPNET_TEST_TUNING_KINDS=all runs it)\n", name,
               c->kinds & CN_TD_CPU ? "CPU" : "GPU", cn_tune_kind_name(kind));
        TU_OK(cn_tuning_reset(ctx));
        return;
    }
    snprintf(label, sizeof label, "%s [%s]", name, c->opts);
    if (cn_tune_classes[c->cls].family == CN_TF_GEMM) {
        cn_gemm_set_backend(ctx, CN_GEMM_OWN);
        run_gemm_class(ctx, r, c->cls, label);
        cn_gemm_set_backend(ctx, CN_GEMM_AUTO);
    } else {
        for (int i = 0; i < conv_cases[c->cls].n; i++)
            conv_run_case(ctx, r, &conv_cases[c->cls].c[i]);
    }
    check_builds(ctx, c->cls, eff, name);
    TU_OK(cn_tuning_reset(ctx));
}

/* CASPNET_TEST_TUNING_KINDS=all: every kind's candidates run on this device
 * (by default the tuner here chooses only among its kind's, and a GPU's run
 * when the suite runs on a GPU or on Oclgrind). */
static int all_kinds(void)
{
    const char *v = getenv("CASPNET_TEST_TUNING_KINDS");
    return v && strcmp(v, "all") == 0;
}

/* The case list is the same on every device (cmake/oclgrind.sh lists the
 * cases on one device and runs them on another). */
static void add_cases(op_cases *l)
{
    ncfgs = 0;
    for (int i = 0; i < cn_tune_ncandidates; i++)
        add_cfg(cn_tune_candidates[i].cls, cn_tune_candidates[i].kinds,
                cn_tune_candidates[i].options, 0);
    for (int i = 0; i < cn_tune_nkind_defaults; i++)
        add_cfg(cn_tune_kind_defaults[i].cls, cn_tune_kind_defaults[i].kinds,
                cn_tune_kind_defaults[i].options, 0);
    for (int c = 0; c < CN_TC_COUNT; c++) {
        add_cfg(c, CN_TD_ANY, "", 0); /* the built-in defaults */
        ladder_starts(c);
    }
    for (int i = 0; i < ncfgs; i++)
        op_add(l, case_cfg, &cfgs[i], "%s %s%s", cn_tune_classes[cfgs[i].cls].name,
               cfgs[i].opts[0] ? cfgs[i].opts : "(built-in defaults)",
               cfgs[i].synthetic ? " (first rungs)" : "");
}

const op_family op_family_tuning = {"tuning", 12, add_cases, NULL};
