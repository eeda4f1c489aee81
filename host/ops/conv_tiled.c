/* Host side of the GPU-shaped convolution (cl/conv_tiled.cl): which variant a context runs, the checked tile configuration, the launcher. */
#include "ops/conv3d.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tile sets tried in order: the tuning's (or the defaults below), then two
 * smaller work-groups (128 and 64 items) for a device or kernel build that
 * cannot run 256 items. The defaults are the kernel's own fallbacks; no GPU
 * has measured them yet (issue 12's tuner is to). */
typedef struct tile_cfg {
    int tm, tn, tk, wm, wn;
} tile_cfg;
static const tile_cfg CT_DEFAULT = {64, 128, 16, 4, 8};
static const tile_cfg CT_SMALLER[] = {{32, 64, 16, 4, 4}, {16, 16, 16, 2, 2}};

static int verbose(void)
{
    const char *v = getenv("CASPNET_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* A -D value of the tuning string; `def` when absent. */
static int tuning_int(const char *opts, const char *name, int def)
{
    char key[32];
    snprintf(key, sizeof key, "-D%s=", name);
    const char *p = strstr(opts, key);
    int v = 0;
    if (!p || sscanf(p + strlen(key), "%d", &v) != 1)
        return def;
    return v;
}

static int cfg_valid(const tile_cfg *c)
{
    if (c->tm < 1 || c->tn < 1 || c->tk < 1 || c->wm < 1 || c->wn < 1 || c->tm % c->wm ||
        c->tn % c->wn)
        return 0;
    const int g = (c->tm / c->wm) * (c->tn / c->wn);
    return g % c->tm == 0 && g % c->tn == 0 && (c->tk * c->tm) % g == 0 &&
           (c->tk * c->tn) % g == 0 && c->tm <= 1024 && c->tn <= 1024 && c->tk <= 1024;
}

static void cfg_opts(const tile_cfg *c, char *buf, size_t n)
{
    snprintf(buf, n, "-DCT_TM=%d -DCT_TN=%d -DCT_TK=%d -DCT_WM=%d -DCT_WN=%d", c->tm, c->tn,
             c->tk, c->wm, c->wn);
}

/* The variant the tuning string or CASPNET_CONV_VARIANT asks for: 1 tiled,
 * 0 direct, -1 auto (by device type). */
static int wanted_variant(const char *opts, int *out)
{
    const char *src = "conv tuning", *v = NULL;
    char val[16] = "";
    const char *p = strstr(opts, "-DCONV_VARIANT=");
    if (p) {
        sscanf(p + strlen("-DCONV_VARIANT="), "%15[a-z0-9]", val);
        v = val;
    } else if ((v = getenv("CASPNET_CONV_VARIANT")) && *v) {
        src = "CASPNET_CONV_VARIANT";
    } else {
        v = "auto";
    }
    if (strcmp(v, "tiled") == 0)
        *out = 1;
    else if (strcmp(v, "im2col") == 0)
        *out = 2; /* host/ops/conv_im2col.c; not tiled */
    else if (strcmp(v, "direct") == 0)
        *out = 0;
    else if (strcmp(v, "auto") == 0 || !*v)
        *out = -1;
    else
        return cn_fail(CN_ERR_ARG, "%s: CONV_VARIANT '%s': want tiled, direct, im2col or auto", src, v);
    return CN_OK;
}

/* Whether the kernel built with `opts` can run the work-group of `c` on this
 * device; why not in `why`. */
static int cfg_runs(cn_ctx *ctx, const tile_cfg *c, const char *opts, int *runs, char *why,
                    size_t nwhy)
{
    const cn_device_info *dev = cn_ctx_device(ctx);
    const size_t lx = (size_t)(c->tn / c->wn), ly = (size_t)(c->tm / c->wm);
    cl_kernel k;
    CN_TRY(cn_kernel(ctx, "conv_tiled", opts, "conv_tiled", &k));
    size_t kwg = 0, mult = 0, items[3] = {0, 0, 0};
    cl_ulong priv = 0, lmem = 0;
    CN_TRY(CN_CL(clGetKernelWorkGroupInfo(k, dev->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg,
                                          &kwg, NULL)));
    CN_TRY(CN_CL(clGetKernelWorkGroupInfo(k, dev->device,
                                          CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                          sizeof mult, &mult, NULL)));
    CN_TRY(CN_CL(clGetKernelWorkGroupInfo(k, dev->device, CL_KERNEL_PRIVATE_MEM_SIZE,
                                          sizeof priv, &priv, NULL)));
    CN_TRY(CN_CL(clGetKernelWorkGroupInfo(k, dev->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lmem,
                                          &lmem, NULL)));
    CN_TRY(CN_CL(clGetDeviceInfo(dev->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items,
                                 NULL)));
    *runs = 0;
    if (lx * ly > kwg)
        snprintf(why, nwhy, "%zu work-items, the kernel allows %zu", lx * ly, kwg);
    else if (lx > items[0] || ly > items[1])
        snprintf(why, nwhy, "work-group %zu x %zu, the device allows %zu x %zu", lx, ly,
                 items[0], items[1]);
    else if (lmem > dev->local_mem)
        snprintf(why, nwhy, "%llu bytes of local memory, the device has %llu",
                 (unsigned long long)lmem, (unsigned long long)dev->local_mem);
    else
        *runs = 1;
    if (verbose()) {
        fprintf(stderr, "caspnet: conv_tiled %s on %s: work-group %zu x %zu (kernel max %zu, "
                "preferred multiple %zu), private %llu B, local %llu B per group%s%s\n", opts,
                dev->name, lx, ly, kwg, mult, (unsigned long long)priv,
                (unsigned long long)lmem, *runs ? "" : ": cannot run, ", *runs ? "" : why);
        if (*runs && mult && (lx * ly) % mult)
            fprintf(stderr, "caspnet: conv_tiled: the work-group is not a multiple of the "
                    "preferred %zu\n", mult);
        if (*runs && priv > 0)
            fprintf(stderr, "caspnet: conv_tiled: %llu bytes of private memory per item (on a "
                    "GPU, mostly spilled registers)\n", (unsigned long long)priv);
    }
    return CN_OK;
}

int cn_conv_check_tuning_(cn_ctx *ctx, const char *opts)
{
    int want;
    CN_TRY(wanted_variant(opts, &want));
    static const char *const blocks[] = {"P_RM", "P_NV", "R_RM", "R_NR", "R_NV"};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        const int v = tuning_int(opts, blocks[i], 1);
        if (v < 1 || v > 64)
            return cn_fail(CN_ERR_ARG, "conv tuning: %s=%d outside [1, 64]", blocks[i], v);
    }
    const int vw = tuning_int(opts, "VW", 16);
    if (vw != 2 && vw != 4 && vw != 8 && vw != 16)
        return cn_fail(CN_ERR_ARG, "conv tuning: VW=%d is not 2, 4, 8 or 16", vw);
    const tile_cfg cfg = {tuning_int(opts, "CT_TM", CT_DEFAULT.tm),
                          tuning_int(opts, "CT_TN", CT_DEFAULT.tn),
                          tuning_int(opts, "CT_TK", CT_DEFAULT.tk),
                          tuning_int(opts, "CT_WM", CT_DEFAULT.wm),
                          tuning_int(opts, "CT_WN", CT_DEFAULT.wn)};
    if (!cfg_valid(&cfg))
        return cn_fail(CN_ERR_ARG, "conv tuning: CT_TM %d, CT_TN %d, CT_TK %d, CT_WM %d, CT_WN "
                       "%d break cl/conv_tiled.cl's constraints", cfg.tm, cfg.tn, cfg.tk, cfg.wm,
                       cfg.wn);
    if (want > 0 && (size_t)(cfg.tm / cfg.wm) * (size_t)(cfg.tn / cfg.wn) >
                        cn_ctx_device(ctx)->max_wg)
        return cn_fail(CN_ERR_UNSUPPORTED, "conv tuning: a tiled work-group of %d items "
                       "exceeds the device's %zu", (cfg.tm / cfg.wm) * (cfg.tn / cfg.wn),
                       cn_ctx_device(ctx)->max_wg);
    return CN_OK;
}

int cn_conv_tiled_pick_(cn_ctx *ctx, const cn_conv_geom *g, int *use)
{
    *use = 0;
    const char *tuning = cn_conv_opts_(ctx, g);
    int want;
    CN_TRY(wanted_variant(tuning, &want));
    if (want == 0 || want == 2)
        return CN_OK;
    if (want < 0 && !(cn_ctx_device(ctx)->type & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR)))
        return CN_OK;
    cn_conv_tiled_cache *c = cn_conv_tiled_cache_(ctx, tuning);
    if (!c)
        return cn_fail(CN_ERR_OOM, "conv: out of host memory");
    if (c->checked) {
        *use = c->ok;
        return CN_OK;
    }
    tile_cfg cfg = {tuning_int(tuning, "CT_TM", CT_DEFAULT.tm),
                    tuning_int(tuning, "CT_TN", CT_DEFAULT.tn),
                    tuning_int(tuning, "CT_TK", CT_DEFAULT.tk),
                    tuning_int(tuning, "CT_WM", CT_DEFAULT.wm),
                    tuning_int(tuning, "CT_WN", CT_DEFAULT.wn)};
    if (!cfg_valid(&cfg))
        return cn_fail(CN_ERR_ARG, "conv tuning: CT_TM %d, CT_TN %d, CT_TK %d, CT_WM %d, CT_WN "
                       "%d break cl/conv_tiled.cl's constraints", cfg.tm, cfg.tn, cfg.tk, cfg.wm,
                       cfg.wn);
    c->checked = 0, c->ok = 0;
    const int ntries = 1 + (int)(sizeof CT_SMALLER / sizeof CT_SMALLER[0]);
    char why[160] = "";
    for (int t = 0; t < ntries && !c->ok; t++) {
        const tile_cfg *tc = t == 0 ? &cfg : &CT_SMALLER[t - 1];
        if (t > 0 && tc->tm * tc->tn >= cfg.tm * cfg.tn)
            continue; /* only ever smaller than the configured tile */
        char opts[sizeof c->opts];
        cfg_opts(tc, opts, sizeof opts);
        int runs = 0;
        const int st = cfg_runs(ctx, tc, opts, &runs, why, sizeof why);
        if (st != CN_OK && want > 0)
            return st; /* a forced variant that does not build is an error, not a fallback */
        if (st != CN_OK)
            snprintf(why, sizeof why, "%s", cn_last_error());
        if (st == CN_OK && runs) {
            c->ok = 1, c->cfg_tm = tc->tm, c->cfg_tn = tc->tn, c->cfg_wm = tc->wm,
            c->cfg_wn = tc->wn;
            snprintf(c->opts, sizeof c->opts, "%s", opts);
        } else if (verbose()) {
            fprintf(stderr, "caspnet: conv_tiled %s cannot run here (%s)%s\n", opts, why,
                    t + 1 < ntries ? "; trying a smaller work-group" : "");
        }
    }
    if (!c->ok && want > 0)
        return cn_fail(CN_ERR_UNSUPPORTED, "conv: the tiled variant was asked for but no tile "
                       "configuration runs on %s (%s)", cn_ctx_device(ctx)->name, why);
    if (!c->ok && verbose())
        fprintf(stderr, "caspnet: conv: the direct kernels (cl/conv3d.cl) instead\n");
    snprintf(c->key, sizeof c->key, "%s", tuning);
    c->checked = 1;
    *use = c->ok;
    return CN_OK;
}

const char *cn_conv_variant(cn_ctx *ctx)
{
    int use = 0;
    if (cn_conv_tiled_pick_(ctx, NULL, &use) != CN_OK)
        return NULL;
    return use ? "tiled" : cn_conv_im2col_wanted_(ctx, NULL) ? "im2col" : "direct";
}

int cn_conv_tiled_(cn_ctx *ctx, const cn_conv_geom *g, int wbase, const int ws[6], int R,
                   int transposed, const char *tag)
{
    int use = 0;
    CN_TRY(cn_conv_tiled_pick_(ctx, g, &use));
    const cn_conv_tiled_cache *c = cn_conv_tiled_cache_(ctx, cn_conv_opts_(ctx, g));
    if (!use || !c)
        return cn_fail(CN_ERR_ARG, "conv: the tiled variant is not chosen for this context");
    cl_kernel k;
    char sopts[400]; /* the checked tiles (its work-group limits hold for either storage) */
    CN_TRY(cn_kernel(ctx, "conv_tiled", cn_conv_storage_opts_(c->opts, g, sopts, sizeof sopts),
                     "conv_tiled", &k));
    const int iargs[] = {g->N, g->Ci, g->Co, g->Cx, g->xoff, g->Cy, g->yoff, g->T, g->H, g->W,
                         g->To, g->Ho, g->Wo, g->k[0], g->k[1], g->k[2], g->s[0], g->s[1],
                         g->s[2], g->p[0], g->p[1], g->p[2], g->d[0], g->d[1], g->d[2]};
    cl_uint ai = 0;
    for (size_t i = 0; i < sizeof iargs / sizeof iargs[0]; i++, ai++)
        CN_TRY(CN_ARG(k, ai, iargs[i]));
    const int wsb = ws[5] ? ws[5] : R * ws[0];
    const int wargs[] = {wbase, R, wsb, ws[0], ws[1], ws[2], ws[3], ws[4]};
    CN_TRY(CN_ARG(k, ai, g->x)); ai++;
    CN_TRY(CN_ARG(k, ai, g->w)); ai++;
    for (size_t i = 0; i < sizeof wargs / sizeof wargs[0]; i++, ai++)
        CN_TRY(CN_ARG(k, ai, wargs[i]));
    /* absent optional buffers are passed as x: the flags keep them unread */
    cl_mem bufs[4] = {g->bias ? g->bias : g->x, g->pscale ? g->pscale : g->x,
                      g->pshift ? g->pshift : g->x, g->res ? g->res : g->x};
    for (int i = 0; i < 4; i++, ai++)
        CN_TRY(CN_ARG(k, ai, bufs[i]));
    const int flags = (g->flags & (F_BIAS | F_RES | F_RELU | F_PSCALE | F_PSHIFT | F_PRELU)) |
                      (transposed ? F_TRANS : 0);
    CN_TRY(CN_ARG(k, ai, g->Cr)); ai++;
    CN_TRY(CN_ARG(k, ai, g->roff)); ai++;
    CN_TRY(CN_ARG(k, ai, flags)); ai++;
    CN_TRY(CN_ARG(k, ai, g->alpha)); ai++;
    CN_TRY(CN_ARG(k, ai, g->y)); ai++;
    const size_t P = (size_t)g->N * g->To * g->Ho * g->Wo;
    const size_t lx = (size_t)(c->cfg_tn / c->cfg_wn), ly = (size_t)(c->cfg_tm / c->cfg_wm);
    const size_t gl[3] = {(P + c->cfg_tn - 1) / c->cfg_tn * lx,
                          ((size_t)g->Co + c->cfg_tm - 1) / c->cfg_tm * ly, 1};
    const size_t lo[3] = {lx, ly, 1};
    /* every tap is multiplied, the zero ones of the gather form too; the
     * kernel adds the global offset to its group ids, so it may be cut */
    const double flops = 2.0 * g->Ci * g->k[0] * g->k[1] * g->k[2] * (double)g->Co * (double)P;
    return cn_launch_cost(ctx, k, tag, 3, gl, lo, flops);
}
