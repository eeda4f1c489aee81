/* The model's weight keys and shapes, built from the architecture tables of the spec. */
#include "model/modelspec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/status.h"

const int cn_spec_stage_ch[CN_SPEC_STAGES] = {192, 480, 832, 1024};

const cn_mixed_spec cn_spec_mixed[9] = {
    {5, 192, 64, 96, 128, 16, 32, 32},     {6, 256, 128, 128, 192, 32, 96, 64},
    {8, 480, 192, 96, 208, 16, 48, 64},    {9, 512, 160, 112, 224, 24, 64, 64},
    {10, 512, 128, 128, 256, 24, 64, 64},  {11, 512, 112, 144, 288, 32, 64, 64},
    {12, 528, 256, 160, 320, 32, 128, 128}, {14, 832, 256, 160, 320, 32, 128, 128},
    {15, 832, 384, 192, 384, 48, 128, 128},
};

const cn_mixed_spec *cn_spec_mixed_at(int index)
{
    for (int i = 0; i < 9; i++)
        if (cn_spec_mixed[i].index == index)
            return &cn_spec_mixed[i];
    return NULL;
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

static void sep(builder *b, const char *p, int ci, int co, int k)
{
    char s[64];
    add(b, SHAPE(co, ci, 1, k, k), "%s.conv_s.weight", p);
    snprintf(s, sizeof s, "%s.bn_s", p);
    bn(b, s, co);
    add(b, SHAPE(co, co, k, 1, 1), "%s.conv_t.weight", p);
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
    sep(&b, "video.base.0", 3, 64, 7);
    basic(&b, "video.base.2", 64, 64);
    sep(&b, "video.base.3", 64, 192, 3);
    for (int i = 0; i < 9; i++) {
        const cn_mixed_spec *m = &cn_spec_mixed[i];
        snprintf(p, sizeof p, "video.base.%d.branch0.0", m->index);
        basic(&b, p, m->cin, m->a);
        snprintf(p, sizeof p, "video.base.%d.branch1.0", m->index);
        basic(&b, p, m->cin, m->b);
        snprintf(p, sizeof p, "video.base.%d.branch1.1", m->index);
        sep(&b, p, m->b, m->c, 3);
        snprintf(p, sizeof p, "video.base.%d.branch2.0", m->index);
        basic(&b, p, m->cin, m->d);
        snprintf(p, sizeof p, "video.base.%d.branch2.1", m->index);
        sep(&b, p, m->d, m->e, 3);
        snprintf(p, sizeof p, "video.base.%d.branch3.1", m->index);
        basic(&b, p, m->cin, m->f);
    }
    if (av) {
        static const int feat[6][3] = {{0, 1, 64},    {3, 64, 128},   {6, 128, 256},
                                       {8, 256, 256}, {11, 256, 512}, {13, 512, 512}};
        for (int i = 0; i < 6; i++) {
            add(&b, SHAPE(feat[i][2], feat[i][1], 3, 3), "audio.features.%d.weight", feat[i][0]);
            add(&b, SHAPE(feat[i][2]), "audio.features.%d.bias", feat[i][0]);
        }
        static const int emb[3][3] = {{0, 12288, 4096}, {2, 4096, 4096}, {4, 4096, 128}};
        for (int i = 0; i < 3; i++) {
            add(&b, SHAPE(emb[i][2], emb[i][1]), "audio.embeddings.%d.weight", emb[i][0]);
            add(&b, SHAPE(emb[i][2]), "audio.embeddings.%d.bias", emb[i][0]);
        }
    }
    for (int i = 1; i <= CN_SPEC_STAGES; i++) {
        int ci = cn_spec_stage_ch[i - 1];
        add(&b, SHAPE(64, ci, 1, 1, 1), "avim.%d.aspp.b0.conv.weight", i);
        snprintf(p, sizeof p, "avim.%d.aspp.b0.bn", i);
        bn(&b, p, 64);
        for (int r = 1; r <= 3; r++) {
            add(&b, SHAPE(64, ci, 1, 3, 3), "avim.%d.aspp.b%d.conv.weight", i, r);
            snprintf(p, sizeof p, "avim.%d.aspp.b%d.bn", i, r);
            bn(&b, p, 64);
        }
        add(&b, SHAPE(64, ci, 1, 1, 1), "avim.%d.aspp.pool.conv.weight", i);
        snprintf(p, sizeof p, "avim.%d.aspp.pool.bn", i);
        bn(&b, p, 64);
        add(&b, SHAPE(256, 320, 1, 1, 1), "avim.%d.aspp.proj.conv.weight", i);
        snprintf(p, sizeof p, "avim.%d.aspp.proj.bn", i);
        bn(&b, p, 256);
        if (av) {
            add(&b, SHAPE(256, 128), "avim.%d.audio_proj.weight", i);
            add(&b, SHAPE(256), "avim.%d.audio_proj.bias", i);
            static const char *m[] = {"q", "k", "v", "out"};
            for (int j = 0; j < 4; j++) {
                add(&b, SHAPE(256, 256, 1, 1, 1), "avim.%d.%s.weight", i, m[j]);
                add(&b, SHAPE(256), "avim.%d.%s.bias", i, m[j]);
            }
        }
    }
    if (av) {
        add(&b, SHAPE(256, 128), "cpc.audio_proj.weight");
        add(&b, SHAPE(256), "cpc.audio_proj.bias");
        static const char *m[] = {"phi1", "phi2", "theta1", "theta2"};
        for (int j = 0; j < 4; j++) {
            add(&b, SHAPE(256, 256, 3, 3, 3), "cpc.%s.weight", m[j]);
            add(&b, SHAPE(256), "cpc.%s.bias", m[j]);
        }
    }
    for (int k = 1; k <= 4; k++) {
        for (int j = 0; j < 3; j++) {
            snprintf(p, sizeof p, "dec.%d.dense.%d.bn", k, j);
            bn(&b, p, 256 + 32 * j);
            add(&b, SHAPE(32, 256 + 32 * j, 1, 3, 3), "dec.%d.dense.%d.conv.weight", k, j);
        }
        snprintf(p, sizeof p, "dec.%d.trans.bn", k);
        bn(&b, p, 352);
        add(&b, SHAPE(64, 352, 1, 1, 1), "dec.%d.trans.conv.weight", k);
        snprintf(p, sizeof p, "dec.%d.gen.bn", k);
        bn(&b, p, 64);
        add(&b, SHAPE(64, 64, 1, 3, 3), "dec.%d.gen.conv.weight", k);
        add(&b, SHAPE(64), "dec.%d.gen.conv.bias", k);
        if (k == 1) {
            add(&b, SHAPE(1, 64, 1, 3, 3), "dec.1.head.weight");
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

const char *cn_spec_module(const char *key, char *buf, int n)
{
    if (strncmp(key, "avim.", 5) == 0)
        snprintf(buf, (size_t)n, "avim.%c", key[5]);
    else {
        size_t len = strcspn(key, ".");
        snprintf(buf, (size_t)n, "%.*s", (int)len, key);
    }
    return buf;
}
