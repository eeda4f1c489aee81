/* The architecture tables (S3D, VGGish, widths, module names) and the weight key list built from them. */
#include "model/modelspec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/status.h"

const char *const cn_spec_mod_names[CN_MOD_COUNT] = {"S3D", "VGGish", "ASPP", "attention",
                                                     "CPC", "decoder"};

const char *cn_spec_group(int mod, int stage)
{
    static const char *const g[CN_MOD_COUNT][CN_SPEC_STAGES] = {
        {"S3D.1", "S3D.2", "S3D.3", "S3D.4"},
        {"VGGish", "VGGish", "VGGish", "VGGish"},
        {"ASPP.1", "ASPP.2", "ASPP.3", "ASPP.4"},
        {"attention.1", "attention.2", "attention.3", "attention.4"},
        {"CPC", "CPC", "CPC", "CPC"},
        {"decoder.1", "decoder.2", "decoder.3", "decoder.4"},
    };
    if (mod < 0 || mod >= CN_MOD_COUNT)
        return "?";
    return g[mod][stage >= 1 && stage <= CN_SPEC_STAGES ? stage - 1 : 0];
}

const char *const cn_spec_key_modules[CN_SPEC_KEY_MODULES] = {
    "video", "audio", "avim.1", "avim.2", "avim.3", "avim.4", "cpc", "dec"};

int cn_spec_key_module(const char *key)
{
    for (int k = 0; k < CN_SPEC_KEY_MODULES; k++) {
        size_t n = strlen(cn_spec_key_modules[k]);
        if (strncmp(key, cn_spec_key_modules[k], n) == 0 && key[n] == '.')
            return k;
    }
    return -1;
}

const cn_mixed_spec cn_spec_mixed[9] = {
    {5, 192, 64, 96, 128, 16, 32, 32},     {6, 256, 128, 128, 192, 32, 96, 64},
    {8, 480, 192, 96, 208, 16, 48, 64},    {9, 512, 160, 112, 224, 24, 64, 64},
    {10, 512, 128, 128, 256, 24, 64, 64},  {11, 512, 112, 144, 288, 32, 64, 64},
    {12, 528, 256, 160, 320, 32, 128, 128}, {14, 832, 256, 160, 320, 32, 128, 128},
    {15, 832, 384, 192, 384, 48, 128, 128},
};

#define SEP(co, k, s, p) {CN_S3D_SEP, co, {k, k, k}, {s, s, s}, {p, p, p}, NULL, 0}
#define POOL(kt, k, st, s, pt, p) {CN_S3D_POOL, 0, {kt, k, k}, {st, s, s}, {pt, p, p}, NULL, 0}
#define MIXED(j) {CN_S3D_MIXED, 0, {0}, {0}, {0}, &cn_spec_mixed[j], 0}

/* Shapes for a clip (N, 3, 16, H, W). */
const cn_s3d_layer cn_spec_s3d[CN_SPEC_S3D_LAYERS] = {
    SEP(64, 7, 2, 3),        /*  0: (N, 64, 8, H/2, W/2) */
    POOL(1, 3, 1, 2, 0, 1),  /*  1: (N, 64, 8, H/4, W/4) */
    {CN_S3D_CONV, 64, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, NULL, 0}, /* 2: (N, 64, 8, H/4, W/4) */
    {CN_S3D_SEP, 192, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, NULL, 1}, /* 3: X1 (N, 192, 8, H/4, W/4) */
    POOL(1, 3, 1, 2, 0, 1),  /*  4: (N, 192, 8, H/8, W/8) */
    MIXED(0),                /*  5: (N, 256, 8, H/8, W/8) */
    {CN_S3D_MIXED, 0, {0}, {0}, {0}, &cn_spec_mixed[1], 2}, /* 6: X2 (N, 480, 8, H/8, W/8) */
    POOL(3, 3, 2, 2, 1, 1),  /*  7: (N, 480, 4, H/16, W/16) */
    MIXED(2),                /*  8: (N, 512, 4, H/16, W/16) */
    MIXED(3),                /*  9: (N, 512, 4, H/16, W/16) */
    MIXED(4),                /* 10: (N, 512, 4, H/16, W/16) */
    MIXED(5),                /* 11: (N, 528, 4, H/16, W/16) */
    {CN_S3D_MIXED, 0, {0}, {0}, {0}, &cn_spec_mixed[6], 3}, /* 12: X3 (N, 832, 4, H/16, W/16) */
    POOL(2, 2, 2, 2, 0, 0),  /* 13: (N, 832, 2, H/32, W/32) */
    MIXED(7),                /* 14: (N, 832, 2, H/32, W/32) */
    {CN_S3D_MIXED, 0, {0}, {0}, {0}, &cn_spec_mixed[8], 4}, /* 15: X4 (N, 1024, 2, H/32, W/32) */
};

int cn_spec_s3d_cout(int i, int cin)
{
    const cn_s3d_layer *l = &cn_spec_s3d[i];
    if (l->op == CN_S3D_POOL)
        return cin;
    if (l->op == CN_S3D_MIXED)
        return l->mixed->a + l->mixed->c + l->mixed->e + l->mixed->f;
    return l->cout;
}

int cn_spec_stage_channels(int stage)
{
    int c = 3;
    for (int i = 0; i < CN_SPEC_S3D_LAYERS; i++) {
        c = cn_spec_s3d_cout(i, c);
        if (cn_spec_s3d[i].tap == stage)
            return c;
    }
    return 0;
}

/* Shapes for a log-mel (N, 1, 96, 64), after the pool where there is one. */
const cn_vggish_conv cn_spec_vggish_conv[CN_SPEC_VGGISH_CONVS] = {
    {0, 64, 1},   /* (N, 64, 48, 32) */
    {3, 128, 1},  /* (N, 128, 24, 16) */
    {6, 256, 0},  /* (N, 256, 24, 16) */
    {8, 256, 1},  /* (N, 256, 12, 8) */
    {11, 512, 0}, /* (N, 512, 12, 8) */
    {13, 512, 1}, /* (N, 512, 6, 4) */
};
const cn_vggish_fc cn_spec_vggish_fc[CN_SPEC_VGGISH_FCS] = {
    {0, 4096}, /* (N, 4096) from (N, 12288) */
    {2, 4096}, /* (N, 4096) */
    {4, CN_SPEC_AUDIO_EMB}, /* f_A (N, 128) */
};

int cn_spec_vggish_flat(void)
{
    int t = CN_SPEC_MEL_T, f = CN_SPEC_MEL_F;
    for (int i = 0; i < CN_SPEC_VGGISH_CONVS; i++)
        if (cn_spec_vggish_conv[i].pool_after)
            t /= 2, f /= 2;
    return cn_spec_vggish_conv[CN_SPEC_VGGISH_CONVS - 1].cout * t * f;
}

typedef struct builder {
    cn_spec_key *k;
    int n, cap;
    int oom;
} builder;

__attribute__((format(printf, 4, 5)))
static void add(builder *b, int ndim, const int64_t *shape, const char *fmt, ...)
{
    if (b->oom)
        return;
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 512;
        cn_spec_key *k = realloc(b->k, (size_t)cap * sizeof *k);
        if (!k) {
            b->oom = 1;
            return;
        }
        b->k = k;
        b->cap = cap;
    }
    cn_spec_key *e = &b->k[b->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        e->shape[i] = shape[i];
}

#define SHAPE(...) (sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

static void bn(builder *b, const char *p, int c)
{
    static const char *f[] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++)
        add(b, SHAPE(c), "%s.%s", p, f[i]);
}

static void basic(builder *b, const char *p, int ci, int co)
{
    char s[64];
    add(b, SHAPE(co, ci, 1, 1, 1), "%s.conv.weight", p);
    snprintf(s, sizeof s, "%s.bn", p);
    bn(b, s, co);
}

static void sep(builder *b, const char *p, int ci, int co, const int k[3])
{
    char s[64];
    add(b, SHAPE(co, ci, 1, k[1], k[2]), "%s.conv_s.weight", p);
    snprintf(s, sizeof s, "%s.bn_s", p);
    bn(b, s, co);
    add(b, SHAPE(co, co, k[0], 1, 1), "%s.conv_t.weight", p);
    snprintf(s, sizeof s, "%s.bn_t", p);
    bn(b, s, co);
}

int cn_spec_keys(const char *variant, cn_spec_key **keys, int *count)
{
    *keys = NULL;
    *count = 0;
    int av;
    if (variant && strcmp(variant, "av") == 0)
        av = 1;
    else if (variant && strcmp(variant, "v") == 0)
        av = 0;
    else
        return cn_fail(CN_ERR_ARG, "unknown model variant '%s' (expected 'av' or 'v')",
                       variant ? variant : "(null)");
    builder b = {0};
    char p[64];
    static const int mk[3] = {CN_SPEC_MIXED_K, CN_SPEC_MIXED_K, CN_SPEC_MIXED_K};
    const int C = CN_SPEC_C, A = CN_SPEC_ASPP_W, G = CN_SPEC_DEC_GROWTH, D = CN_SPEC_DEC_W;
    int ci = 3; /* channels flowing into the next layer */
    for (int i = 0; i < CN_SPEC_S3D_LAYERS; i++) {
        const cn_s3d_layer *l = &cn_spec_s3d[i];
        const cn_mixed_spec *m = l->mixed;
        snprintf(p, sizeof p, "video.base.%d", i);
        if (l->op == CN_S3D_SEP)
            sep(&b, p, ci, l->cout, l->k);
        else if (l->op == CN_S3D_CONV)
            basic(&b, p, ci, l->cout);
        else if (l->op == CN_S3D_MIXED) {
            snprintf(p, sizeof p, "video.base.%d.branch0.0", i);
            basic(&b, p, ci, m->a);
            snprintf(p, sizeof p, "video.base.%d.branch1.0", i);
            basic(&b, p, ci, m->b);
            snprintf(p, sizeof p, "video.base.%d.branch1.1", i);
            sep(&b, p, m->b, m->c, mk);
            snprintf(p, sizeof p, "video.base.%d.branch2.0", i);
            basic(&b, p, ci, m->d);
            snprintf(p, sizeof p, "video.base.%d.branch2.1", i);
            sep(&b, p, m->d, m->e, mk);
            snprintf(p, sizeof p, "video.base.%d.branch3.1", i);
            basic(&b, p, ci, m->f);
        }
        ci = cn_spec_s3d_cout(i, ci);
    }
    if (av) {
        ci = 1;
        for (int i = 0; i < CN_SPEC_VGGISH_CONVS; i++) {
            const cn_vggish_conv *c = &cn_spec_vggish_conv[i];
            add(&b, SHAPE(c->cout, ci, 3, 3), "audio.features.%d.weight", c->index);
            add(&b, SHAPE(c->cout), "audio.features.%d.bias", c->index);
            ci = c->cout;
        }
        ci = cn_spec_vggish_flat();
        for (int i = 0; i < CN_SPEC_VGGISH_FCS; i++) {
            const cn_vggish_fc *f = &cn_spec_vggish_fc[i];
            add(&b, SHAPE(f->cout, ci), "audio.embeddings.%d.weight", f->index);
            add(&b, SHAPE(f->cout), "audio.embeddings.%d.bias", f->index);
            ci = f->cout;
        }
    }
    for (int i = 1; i <= CN_SPEC_STAGES; i++) {
        ci = cn_spec_stage_channels(i);
        add(&b, SHAPE(A, ci, 1, 1, 1), "avim.%d.aspp.b0.conv.weight", i);
        snprintf(p, sizeof p, "avim.%d.aspp.b0.bn", i);
        bn(&b, p, A);
        for (int r = 1; r < CN_SPEC_ASPP_RATES; r++) {
            add(&b, SHAPE(A, ci, 1, 3, 3), "avim.%d.aspp.b%d.conv.weight", i, r);
            snprintf(p, sizeof p, "avim.%d.aspp.b%d.bn", i, r);
            bn(&b, p, A);
        }
        add(&b, SHAPE(A, ci, 1, 1, 1), "avim.%d.aspp.pool.conv.weight", i);
        snprintf(p, sizeof p, "avim.%d.aspp.pool.bn", i);
        bn(&b, p, A);
        add(&b, SHAPE(C, CN_SPEC_ASPP_CAT, 1, 1, 1), "avim.%d.aspp.proj.conv.weight", i);
        snprintf(p, sizeof p, "avim.%d.aspp.proj.bn", i);
        bn(&b, p, C);
        if (av) {
            add(&b, SHAPE(C, CN_SPEC_AUDIO_EMB), "avim.%d.audio_proj.weight", i);
            add(&b, SHAPE(C), "avim.%d.audio_proj.bias", i);
            static const char *m[] = {"q", "k", "v", "out"};
            for (int j = 0; j < 4; j++) {
                add(&b, SHAPE(C, C, 1, 1, 1), "avim.%d.%s.weight", i, m[j]);
                add(&b, SHAPE(C), "avim.%d.%s.bias", i, m[j]);
            }
        }
    }
    if (av) {
        add(&b, SHAPE(C, CN_SPEC_AUDIO_EMB), "cpc.audio_proj.weight");
        add(&b, SHAPE(C), "cpc.audio_proj.bias");
        static const char *m[] = {"phi1", "phi2", "theta1", "theta2"};
        for (int j = 0; j < 4; j++) {
            add(&b, SHAPE(C, C, 3, 3, 3), "cpc.%s.weight", m[j]);
            add(&b, SHAPE(C), "cpc.%s.bias", m[j]);
        }
    }
    for (int k = 1; k <= CN_SPEC_STAGES; k++) {
        for (int j = 0; j < CN_SPEC_DEC_LAYERS; j++) {
            snprintf(p, sizeof p, "dec.%d.dense.%d.bn", k, j);
            bn(&b, p, C + G * j);
            add(&b, SHAPE(G, C + G * j, 1, 3, 3), "dec.%d.dense.%d.conv.weight", k, j);
        }
        snprintf(p, sizeof p, "dec.%d.trans.bn", k);
        bn(&b, p, CN_SPEC_DEC_CAT);
        add(&b, SHAPE(D, CN_SPEC_DEC_CAT, 1, 1, 1), "dec.%d.trans.conv.weight", k);
        snprintf(p, sizeof p, "dec.%d.gen.bn", k);
        bn(&b, p, D);
        add(&b, SHAPE(D, D, 1, 3, 3), "dec.%d.gen.conv.weight", k);
        add(&b, SHAPE(D), "dec.%d.gen.conv.bias", k);
        if (k == 1) {
            add(&b, SHAPE(1, D, 1, 3, 3), "dec.1.head.weight");
            add(&b, SHAPE(1), "dec.1.head.bias");
        }
    }
    if (b.oom) {
        free(b.k);
        return cn_fail(CN_ERR_OOM, "out of host memory building the key list");
    }
    *keys = b.k;
    *count = b.n;
    return CN_OK;
}
