/* The tuner behind `caspnet tune`: per shape class, the class default, the previous best and the curated candidates, then a bounded local search over the macros' ladders, under a time budget; near-ties go to the earliest candidate. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv3d.h"
#include "ops/tuning_run.h"

typedef struct mode_cfg {
    int reps;       /* timed runs per shape and candidate (median) */
    int confirm;    /* rounds of the choice against the default, interleaved */
    int max_shapes; /* per class: the largest by FLOPs x count ... */
    double cover;   /* ... until they make this share of the class's FLOPs */
    int curated;    /* curated candidates tried at most */
    int rounds;     /* local search rounds */
    int step;       /* ladder steps a neighbour may be away */
    double budget;  /* default seconds */
} mode_cfg;

static const mode_cfg modes[3] = {
    {3, 1, 2, 0.5, 4, 0, 1, 60},     /* rapid */
    {5, 3, 4, 0.8, 64, 2, 1, 600},   /* normal */
    {9, 5, 12, 1.0, 64, 8, 2, 3600}, /* exhaustive */
};

#define NEAR_TIE 1.03 /* within 3% of the fastest counts as a tie */
#define GIVE_UP 1.5   /* a candidate surely this much slower than the fastest is not timed further */
#define MAXCAND 128
#define MAXSHAPES 16

typedef struct cand {
    char opts[256]; /* projected: the macros that matter for the class */
    double t;       /* seconds per forward pass over the timed shapes */
    int state;      /* 0 not run, 1 timed, -1 dropped */
} cand;

typedef struct tuner {
    cn_ctx *ctx;
    const cn_tune_run_opts *o;
    const mode_cfg *m;
    int kind;
    double t0, deadline;
    double units_done, units_total, cost_sum; /* progress: candidates run and their cost */
    const char *cls_name;
    int cand_i, cand_n;
} tuner;

__attribute__((format(printf, 2, 3))) static void say(tuner *T, const char *fmt, ...)
{
    if (!T->o->log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    line[strcspn(line, "\n")] = '\0';
    T->o->log(T->o->user, line);
}

static void progress(tuner *T)
{
    if (!T->o->progress)
        return;
    const double now = cn_seconds(), left = T->deadline - now;
    const double per = T->units_done > 0 ? T->cost_sum / T->units_done : 1.0;
    double eta = (T->units_total - T->units_done) * per;
    eta = eta > left ? left : eta;
    eta = eta < 0 ? 0 : eta;
    const double el = now - T->t0;
    double frac = el + eta > 0 ? el / (el + eta) : 0;
    frac = frac > 1 ? 1 : frac;
    cn_tune_progress p = {frac, eta, T->cls_name, T->cand_i, T->cand_n};
    T->o->progress(T->o->user, &p);
}

int cn_tune_problem_class(cn_ctx *ctx, const cn_tune_problem *p, int *also)
{
    *also = -1;
    if (p->op == CN_TP_GEMM)
        return cn_gemm_is_skinny_(ctx, &p->g) ? CN_TC_GEMM_SKINNY : CN_TC_GEMM_GENERAL;
    const int c = cn_tune_conv_class(p->k, p->s, p->d);
    /* as host/ops/conv3d.c routes them on the direct variant: a pointwise
     * conv without pre-activation and with no or an in-place residual is a GEMM */
    const int plain = p->p[0] == 0 && p->p[1] == 0 && p->p[2] == 0 &&
                      !(p->flags & (CN_TPF_PRE | CN_TPF_RES));
    if (p->op == CN_TP_CONV && c == CN_TC_CONV_PW && plain)
        *also = CN_TC_GEMM_GENERAL;
    return c;
}

/* The string class cls runs with now, cut to the macros that matter for it
 * (CONV_VARIANT resolved as the device would), the form candidates are
 * compared, deduplicated and written in. rep: a problem of the class. */
static void projected(tuner *T, int cls, const cn_tune_problem *rep, char *out, size_t n)
{
    const int fam = cn_tune_classes[cls].family;
    char full[600];
    if (fam == CN_TF_GEMM) {
        cn_gemm_tuning_class_(T->ctx, cls == CN_TC_GEMM_SKINNY, full, sizeof full);
    } else {
        const char *e = cn_tuning_conv_opts(T->ctx, rep->k, rep->s, rep->d);
        snprintf(full, sizeof full, "%s", e ? e : cn_conv_tuning(NULL));
        if (!strstr(full, "-DCONV_VARIANT="))
            snprintf(full + strlen(full), sizeof full - strlen(full), " -DCONV_VARIANT=%s",
                     T->kind == CN_TD_CPU ? "direct" : "tiled");
    }
    cn_tune_opts o, keep = {0};
    if (cn_tune_opts_parse(full, &o) != CN_OK) {
        snprintf(out, n, "%s", full);
        return;
    }
    const cn_tune_family *f = &cn_tune_families[fam];
    for (int i = 0; i < f->nparams; i++) {
        const char *v = cn_tune_opts_get(&o, f->params[i].name);
        if (!v)
            v = f->params[i].deflt;
        if (v && cn_tune_param_applies(&f->params[i], cls, full))
            cn_tune_opts_set(&keep, f->params[i].name, v);
    }
    cn_tune_opts_str(&keep, fam, out, n);
}

/* Appends raw (after checking it and projecting it) unless it is there. */
static int add_cand(tuner *T, int cls, const cn_tune_problem *rep, cand *c, int *nc,
                    const char *raw, const char *what)
{
    if (*nc == MAXCAND)
        return 0;
    if (cn_tuning_set(T->ctx, cls, raw) != CN_OK) {
        say(T, "  %s: %s %s not valid here: %s\n", cn_tune_classes[cls].name, what, raw,
            cn_last_error());
        return 0;
    }
    char p[256];
    projected(T, cls, rep, p, sizeof p);
    for (int i = 0; i < *nc; i++)
        if (strcmp(c[i].opts, p) == 0)
            return 0;
    memset(&c[*nc], 0, sizeof c[*nc]);
    snprintf(c[*nc].opts, sizeof c[*nc].opts, "%s", p);
    (*nc)++;
    return 1;
}

typedef struct shape_set {
    const cn_tune_problem *p[MAXSHAPES];
    tune_inst in[MAXSHAPES];
    int n;
} shape_set;

/* Times candidate c on every shape; drops it when it is wrong or does not
 * build or launch. bound > 0: gives up timing once the candidate is sure to
 * take longer (its checking runs past twice bound, or its medians so far
 * past bound); it keeps that estimate, so it cannot be chosen. */
static void evaluate(tuner *T, int cls, cand *c, shape_set *S, double bound)
{
    const double t0 = cn_seconds();
    char why[400] = "";
    int st = cn_tuning_set(T->ctx, cls, c->opts);
    if (st != CN_OK)
        snprintf(why, sizeof why, "%s", cn_last_error());
    double est = 0, total = 0;
    /* correctness first, on every shape; the runs' times are a first estimate */
    for (int i = 0; st == CN_OK && i < S->n; i++) {
        double t = 0;
        st = tune_inst_check(T->ctx, &S->in[i], why, sizeof why, &t);
        if (st != CN_OK && st != 1)
            snprintf(why, sizeof why, "%s", cn_last_error());
        est += t * S->p[i]->count;
    }
    /* a first run may pay for caches or a lazy kernel build: twice the margin */
    int gave_up = st == CN_OK && bound > 0 && est > 2 * bound;
    for (int i = 0; st == CN_OK && !gave_up && i < S->n; i++) {
        double med = 0;
        if ((st = tune_inst_time(T->ctx, &S->in[i], T->m->reps, &med)) != CN_OK)
            snprintf(why, sizeof why, "%s", cn_last_error());
        total += med * S->p[i]->count;
        gave_up = bound > 0 && total > bound;
    }
    cn_ctx_finish(T->ctx); /* a failed launch may leave work queued */
    c->state = st == CN_OK ? 1 : -1;
    c->t = gave_up && est > total ? est : total;
    T->units_done += 1;
    T->cost_sum += cn_seconds() - t0;
    if (st != CN_OK)
        say(T, "  %-12s dropped    %s: %s\n", cn_tune_classes[cls].name, c->opts, why);
    else
        say(T, "  %-12s %s%9.3f ms  %s\n", cn_tune_classes[cls].name, gave_up ? ">" : " ",
            c->t * 1e3, c->opts);
    progress(T);
}

/* The fastest timed candidate (-1 none), and the one chosen: the first in
 * list order within NEAR_TIE of it. */
static int choose(const cand *c, int nc, int *fastest)
{
    *fastest = -1;
    for (int i = 0; i < nc; i++)
        if (c[i].state == 1 && (*fastest < 0 || c[i].t < c[*fastest].t))
            *fastest = i;
    if (*fastest < 0)
        return -1;
    for (int i = 0; i < nc; i++)
        if (c[i].state == 1 && c[i].t <= c[*fastest].t * NEAR_TIE)
            return i;
    return *fastest;
}

/* Ladder neighbours of c's values, one macro at a time, appended to the list. */
static void neighbours(tuner *T, int cls, const cn_tune_problem *rep, const char *center, cand *c,
                       int *nc)
{
    const cn_tune_family *f = &cn_tune_families[cn_tune_classes[cls].family];
    cn_tune_opts o;
    if (cn_tune_opts_parse(center, &o) != CN_OK)
        return;
    /* a macro others depend on (the variant) last: it changes the most and
     * costs the most to time */
    for (int k = 0; k < 2 * f->nparams; k++) {
        const cn_tune_param *p = &f->params[k % f->nparams];
        int is_switch = 0;
        for (int j = 0; j < f->nparams; j++)
            is_switch |= f->params[j].when &&
                         strncmp(f->params[j].when, p->name, strlen(p->name)) == 0 &&
                         f->params[j].when[strlen(p->name)] == '=';
        if (is_switch != (k >= f->nparams))
            continue;
        const char *cur = cn_tune_opts_get(&o, p->name);
        if (!cur || !cn_tune_param_applies(p, cls, center))
            continue;
        char lad[16][16];
        int nl = 0, pos = -1;
        for (const char *s = p->ladder; *s && nl < 16;) {
            const size_t len = strcspn(s, " ");
            snprintf(lad[nl], sizeof lad[nl], "%.*s", (int)len, s);
            if (strcmp(lad[nl], cur) == 0)
                pos = nl;
            nl++;
            s += len + (s[len] == ' ');
        }
        if (pos < 0) /* off the ladder: start from the nearest rung above */
            for (pos = 0; pos < nl - 1 && atoi(lad[pos]) < atoi(cur); pos++)
                ;
        for (int step = 1; step <= T->m->step; step++)
            for (int dir = -1; dir <= 1; dir += 2) {
                const int j = pos + dir * step;
                if (j < 0 || j >= nl || strcmp(lad[j], cur) == 0)
                    continue;
                cn_tune_opts n = o;
                cn_tune_opts_set(&n, p->name, lad[j]);
                char s[256];
                cn_tune_opts_str(&n, f - cn_tune_families, s, sizeof s);
                add_cand(T, cls, rep, c, nc, s, "neighbour");
            }
    }
}

/* One pass over the class's shapes under opts: seconds per forward pass. */
static int time_all(tuner *T, int cls, shape_set *S, const char *opts, double *t)
{
    CN_TRY(cn_tuning_set(T->ctx, cls, opts));
    *t = 0;
    for (int i = 0; i < S->n; i++) {
        double med;
        CN_TRY(tune_inst_time(T->ctx, &S->in[i], T->m->reps, &med));
        *t += med * S->p[i]->count;
    }
    return CN_OK;
}

/* The choice against the class default again, in alternating rounds: on a
 * busy machine one median can be off by more than the gain. 1 when the
 * choice stays at least NEAR_TIE faster in the rounds' medians (*td, *tp
 * then hold them), 0 when the default is kept, a status on failure. */
static int confirm(tuner *T, int cls, shape_set *S, const char *dflt, const char *pick,
                   double *td, double *tp)
{
    double a[8], b[8];
    const int n = T->m->confirm < 8 ? T->m->confirm : 8;
    for (int r = 0; r < n; r++) {
        CN_TRY(time_all(T, cls, S, r % 2 ? pick : dflt, r % 2 ? &b[r] : &a[r]));
        CN_TRY(time_all(T, cls, S, r % 2 ? dflt : pick, r % 2 ? &a[r] : &b[r]));
    }
    const double md = cn_median(a, n), mp = cn_median(b, n);
    const int keep = mp * NEAR_TIE < md;
    say(T, "  %-12s confirmed over %d alternating rounds: default %.3f ms, choice %.3f ms: %s\n",
        cn_tune_classes[cls].name, n, md * 1e3, mp * 1e3,
        keep ? "kept" : "not clearly faster, the default stays");
    *td = md, *tp = mp;
    return keep;
}

/* Tunes one class on its shapes; fills r. 0 when nothing could be timed. */
static int tune_class(tuner *T, int cls, shape_set *S, double class_deadline, const double *est,
                      cn_tune_result *r)
{
    cand *c = calloc(MAXCAND, sizeof *c);
    if (!c)
        return cn_fail(CN_ERR_OOM, "tuner: out of host memory");
    const cn_tune_problem *rep = S->p[0];
    int nc = 0, ok = 1;
    char why[400] = "", prev[256];
    /* canonical order: the class default, the previous best, the curated list */
    add_cand(T, cls, rep, c, &nc, cn_tune_kind_default(cls, T->kind), "default");
    if (nc == 0)
        add_cand(T, cls, rep, c, &nc, "", "built-in default");
    if (nc == 0 || cn_tuning_set(T->ctx, cls, c[0].opts) != CN_OK) {
        free(c);
        return cn_fail(CN_ERR_ARG, "tuner: %s has no valid default", cn_tune_classes[cls].name);
    }
    for (int i = 0; i < S->n && ok; i++) {
        const int st = tune_inst_reference(T->ctx, &S->in[i], why, sizeof why);
        if (st != CN_OK) {
            say(T, "  %s: no reference on %s: %s\n", cn_tune_classes[cls].name, S->p[i]->tag,
                st == 1 ? why : cn_last_error());
            ok = 0;
        }
    }
    if (ok && cn_tuning_previous(T->ctx, cls, prev, sizeof prev))
        add_cand(T, cls, rep, c, &nc, prev, "previous best");
    int ncur = 0;
    for (int i = 0; ok && i < cn_tune_ncandidates && ncur < T->m->curated; i++)
        if (cn_tune_candidates[i].cls == cls && (cn_tune_candidates[i].kinds & T->kind))
            ncur += add_cand(T, cls, rep, c, &nc, cn_tune_candidates[i].options, "candidate");
    /* progress: this class's estimate becomes its list (and a guess at the search) */
    const double planned = nc + (T->m->rounds ? 8 : 0), done0 = T->units_done;
    T->units_total += planned - *est;
    T->cls_name = cn_tune_classes[cls].name;
    double last = 0;
    int i = 0;
    for (; ok && i < nc; i++) {
        if (i > 0 && cn_seconds() + last > class_deadline)
            break;
        T->cand_i = i + 1, T->cand_n = nc;
        const double t0 = cn_seconds();
        int fastest;
        choose(c, i, &fastest);
        evaluate(T, cls, &c[i], S, fastest >= 0 ? GIVE_UP * c[fastest].t : 0);
        last = cn_seconds() - t0;
    }
    int fastest, pick = choose(c, nc, &fastest);
    for (int round = 0; ok && pick >= 0 && i == nc && round < T->m->rounds; round++) {
        const double before = c[fastest].t;
        const int n0 = nc;
        neighbours(T, cls, rep, c[fastest].opts, c, &nc);
        T->units_total += nc - n0;
        for (; i < nc && cn_seconds() + last <= class_deadline; i++) {
            T->cand_i = i + 1, T->cand_n = nc;
            const double t0 = cn_seconds();
            evaluate(T, cls, &c[i], S, GIVE_UP * c[fastest].t);
            last = cn_seconds() - t0;
        }
        pick = choose(c, nc, &fastest);
        if (!(c[fastest].t < before / NEAR_TIE))
            break; /* no neighbour was clearly faster */
    }
    double tp = pick >= 0 ? c[pick].t : 0, td = c[0].t;
    if (pick > 0 && c[0].state == 1) {
        const int keep = confirm(T, cls, S, c[0].opts, c[pick].opts, &td, &tp);
        if (keep < 0) {
            free(c);
            return keep;
        }
        if (!keep)
            pick = 0, tp = td;
    }
    int tried = 0, dropped = 0;
    for (int k = 0; k < nc; k++)
        tried += c[k].state == 1, dropped += c[k].state == -1;
    T->units_total += (T->units_done - done0) - planned; /* what it took, not the plan */
    if (pick < 0) {
        cn_tuning_set(T->ctx, cls, cn_tune_kind_default(cls, T->kind));
        free(c);
        return 0;
    }
    const int st = cn_tuning_set(T->ctx, cls, c[pick].opts);
    if (st != CN_OK) {
        free(c);
        return st;
    }
    memset(r, 0, sizeof *r);
    r->cls = cls;
    snprintf(r->opts, sizeof r->opts, "%s", c[pick].opts);
    r->seconds = tp;
    r->default_seconds = c[0].state == 1 ? td : 0;
    r->tried = tried, r->dropped = dropped;
    say(T, "%s: %.3f ms with the default, %.3f ms chosen (%d timed, %d dropped): %s\n",
        cn_tune_classes[cls].name, r->default_seconds * 1e3, r->seconds * 1e3, tried, dropped,
        r->opts);
    free(c);
    return 1;
}

static int by_weight(const void *a, const void *b)
{
    const cn_tune_problem *x = *(const cn_tune_problem *const *)a;
    const cn_tune_problem *y = *(const cn_tune_problem *const *)b;
    const double wx = x->flops * x->count, wy = y->flops * y->count;
    return (wx < wy) - (wx > wy);
}

/* The class's problems, largest first, cut by the mode's shape count and cover. */
static int select_shapes(tuner *T, int cls, const cn_tune_problem *p, int np,
                         const cn_tune_problem **sel, double *weight, char *desc, size_t nd)
{
    const cn_tune_problem **all = malloc((size_t)(np > 0 ? np : 1) * sizeof *all);
    if (!all)
        return -1;
    int n = 0;
    double total = 0;
    for (int i = 0; i < np; i++) {
        int also;
        const int c = cn_tune_problem_class(T->ctx, &p[i], &also);
        /* a CPU runs the pointwise convs that are GEMMs as GEMMs: conv.pw's
         * macros reach only the others (the pre-activated ones) */
        if (c == CN_TC_CONV_PW && also == CN_TC_GEMM_GENERAL && cls == c && T->kind == CN_TD_CPU)
            continue;
        if (c == cls || also == cls) {
            all[n++] = &p[i];
            total += p[i].flops * p[i].count;
        }
    }
    qsort(all, (size_t)n, sizeof *all, by_weight);
    int k = 0;
    double got = 0;
    const int maxk = T->m->max_shapes < MAXSHAPES ? T->m->max_shapes : MAXSHAPES;
    while (k < n && k < maxk && (k == 0 || got < T->m->cover * total)) {
        sel[k] = all[k];
        got += all[k]->flops * all[k]->count;
        k++;
    }
    size_t len = (size_t)snprintf(desc, nd, "%d of %d shapes, %.0f%% of %.2f GFLOP:", k, n,
                                  total > 0 ? 100.0 * got / total : 0, total * 1e-9);
    for (int i = 0; i < k && len < nd; i++)
        len += (size_t)snprintf(desc + len, nd - len, "%s %s x%d", i ? "," : "", sel[i]->tag,
                                sel[i]->count);
    *weight = total;
    free(all);
    return k;
}

int cn_tune_run(cn_ctx *ctx, const cn_tune_problem *p, int np, const cn_tune_run_opts *o,
                cn_tune_result *res, int *nres)
{
    *nres = 0;
    if (!o || o->mode < CN_TUNE_RAPID || o->mode > CN_TUNE_EXHAUSTIVE)
        return cn_fail(CN_ERR_ARG, "tuner: mode must be rapid, normal or exhaustive");
    const char *env = getenv("CASPNET_CONV_VARIANT");
    if (env && *env)
        return cn_fail(CN_ERR_ARG, "tuner: CASPNET_CONV_VARIANT=%s would override the variants "
                       "it times; unset it", env);
    tuner T = {0};
    T.ctx = ctx, T.o = o, T.m = &modes[o->mode];
    T.kind = cn_tune_device_kind(cn_ctx_device(ctx));
    T.t0 = cn_seconds();
    T.deadline = T.t0 + (o->budget > 0 ? o->budget : T.m->budget);
    cn_gemm_set_backend(ctx, CN_GEMM_OWN); /* CLBlast runs none of the timed kernels */
    CN_TRY(cn_tuning_reset(ctx));
    for (int c = 0; c < CN_TC_COUNT; c++)
        CN_TRY(cn_tuning_set(ctx, c, cn_tune_kind_default(c, T.kind)));
    /* every class's shapes and weight first, for the budget's shares */
    const cn_tune_problem *sel[CN_TC_COUNT][MAXSHAPES];
    int nsel[CN_TC_COUNT] = {0};
    double w[CN_TC_COUNT] = {0}, wsum = 0, est[CN_TC_COUNT] = {0};
    char desc[CN_TC_COUNT][160];
    for (int c = 0; c < CN_TC_COUNT; c++) {
        if (o->only_cls >= 0 && c != o->only_cls)
            continue;
        nsel[c] = select_shapes(&T, c, p, np, sel[c], &w[c], desc[c], sizeof desc[c]);
        if (nsel[c] < 0)
            return cn_fail(CN_ERR_OOM, "tuner: out of host memory");
        wsum += nsel[c] ? w[c] : 0;
        /* progress estimate until the class starts: its curated list and a search */
        for (int i = 0; nsel[c] && i < cn_tune_ncandidates; i++)
            est[c] += cn_tune_candidates[i].cls == c && (cn_tune_candidates[i].kinds & T.kind);
        est[c] = nsel[c] ? (est[c] < T.m->curated ? est[c] : T.m->curated) + 2 +
                               (T.m->rounds ? 8 : 0) : 0;
        T.units_total += est[c];
    }
    int st = CN_OK;
    for (int c = 0; c < CN_TC_COUNT && st == CN_OK; c++) {
        if (!nsel[c])
            continue;
        /* the budget left, shared by FLOPs among the classes left (a floor
         * for the memory-bound ones); what a class leaves goes to the next */
        double wl = 0;
        for (int d = c; d < CN_TC_COUNT; d++)
            wl += nsel[d] ? w[d] + 0.02 * wsum : 0;
        const double share = (w[c] + 0.02 * wsum) / (wl > 0 ? wl : 1);
        const double left = T.deadline - cn_seconds() > 0 ? T.deadline - cn_seconds() : 0;
        const double class_deadline = cn_seconds() + left * share;
        say(&T, "%s (%s): %s; %.0f s of budget\n", cn_tune_classes[c].name,
            cn_tune_classes[c].what, desc[c], left * share);
        shape_set *S = calloc(1, sizeof *S);
        if (!S) {
            st = cn_fail(CN_ERR_OOM, "tuner: out of host memory");
            break;
        }
        for (int i = 0; i < nsel[c] && st == CN_OK; i++) {
            S->p[i] = sel[c][i];
            st = tune_inst_create(ctx, sel[c][i], cn_fnv1a(CN_FNV_OFFSET, &i, sizeof i),
                                  o->storage, &S->in[i]);
            S->n = i + 1;
        }
        if (st == CN_OK) {
            const int got = tune_class(&T, c, S, class_deadline, &est[c], &res[*nres]);
            if (got > 0) {
                snprintf(res[*nres].shapes, sizeof res[*nres].shapes, "%s", desc[c]);
                (*nres)++;
            } else if (got < 0) {
                st = got;
            }
        } else {
            say(&T, "%s: cannot set up its shapes: %s\n", cn_tune_classes[c].name,
                cn_last_error());
            T.units_total -= est[c];
            st = CN_OK; /* the class keeps its default; the others go on */
        }
        for (int i = 0; i < S->n; i++)
            tune_inst_destroy(ctx, &S->in[i]);
        free(S);
        cn_arena_trim(ctx);
    }
    cn_gemm_set_backend(ctx, CN_GEMM_AUTO);
    return st;
}
