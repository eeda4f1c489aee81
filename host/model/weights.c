/* Host-side weights: a spec-shaped float32 block, loaded from and saved to safetensors. */
#include "model/weights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/modelspec.h"
#include "runtime/status.h"

static int alloc_from_spec(const char *variant, cn_weights **out)
{
    *out = NULL;
    cn_spec_key *keys;
    int n;
    CN_TRY(cn_spec_keys(variant, &keys, &n));
    cn_weights *w = calloc(1, sizeof *w);
    if (w)
        w->w = calloc((size_t)n, sizeof *w->w);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        int64_t e = 1;
        for (int d = 0; d < keys[i].ndim; d++)
            e *= keys[i].shape[d];
        total += e;
    }
    if (w && w->w)
        w->block = calloc((size_t)total, sizeof(float));
    if (!w || !w->w || !w->block) {
        free(keys);
        cn_weights_free(w);
        return cn_fail(CN_ERR_OOM, "out of host memory for %lld weight values", (long long)total);
    }
    snprintf(w->variant, sizeof w->variant, "%s", variant);
    w->count = n;
    w->total = total;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        cn_weight *t = &w->w[i];
        memcpy(t->name, keys[i].name, sizeof t->name);
        t->ndim = keys[i].ndim;
        t->numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            t->shape[d] = keys[i].shape[d];
            t->numel *= t->shape[d];
        }
        t->data = w->block + off;
        off += t->numel;
    }
    free(keys);
    *out = w;
    return CN_OK;
}

int cn_weights_new(const char *variant, cn_weights **out) { return alloc_from_spec(variant, out); }

static void shape_str(const int64_t *s, int nd, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < nd && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? "x%lld" : "%lld", (long long)s[i]);
    if (nd == 0)
        snprintf(buf, n, "scalar");
}

int cn_weights_load(const char *path, cn_weights **out)
{
    *out = NULL;
    cn_st_file *f;
    CN_TRY(cn_st_read(path, &f));
    const char *fmt = cn_st_meta(f, "format"), *ver = cn_st_meta(f, "version"),
               *var = cn_st_meta(f, "variant");
    int st = CN_OK;
    if (!fmt || strcmp(fmt, "caspnet") != 0)
        st = cn_fail(CN_ERR_MISMATCH, "%s: metadata 'format' is %s%s%s, expected \"caspnet\" (not a caspnet weights file)",
                     path, fmt ? "\"" : "", fmt ? fmt : "missing", fmt ? "\"" : "");
    else if (!ver || strcmp(ver, "1") != 0)
        st = cn_fail(CN_ERR_MISMATCH, "%s: metadata 'version' is %s, expected \"1\"", path,
                     ver ? ver : "missing");
    else if (!var || (strcmp(var, "av") != 0 && strcmp(var, "v") != 0))
        st = cn_fail(CN_ERR_MISMATCH, "%s: metadata 'variant' is %s, expected \"av\" or \"v\"", path,
                     var ? var : "missing");
    cn_weights *w = NULL;
    if (st == CN_OK)
        st = alloc_from_spec(var, &w);
    for (int i = 0; st == CN_OK && i < w->count; i++) {
        cn_weight *t = &w->w[i];
        const cn_st_tensor *s = cn_st_find(f, t->name);
        char a[96], b[96];
        shape_str(t->shape, t->ndim, a, sizeof a);
        if (!s) {
            st = cn_fail(CN_ERR_MISMATCH, "%s: missing key '%s' (expected shape %s, variant %s)",
                         path, t->name, a, var);
            break;
        }
        int same = s->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = s->shape[d] == t->shape[d];
        if (!same) {
            shape_str(s->shape, s->ndim, b, sizeof b);
            st = cn_fail(CN_ERR_MISMATCH, "%s: key '%s' has shape %s, expected %s", path, t->name,
                         b, a);
            break;
        }
        memcpy(t->data, s->data, (size_t)t->numel * sizeof(float));
        if (cn_st_count_nonfinite(s) > 0) {
            if (w->nonfinite++ == 0)
                snprintf(w->nonfinite_first, sizeof w->nonfinite_first, "%s", t->name);
        }
    }
    for (int i = 0; st == CN_OK && i < f->count; i++)
        if (!cn_weights_get(w, f->tensors[i].name))
            st = cn_fail(CN_ERR_MISMATCH, "%s: unexpected key '%s' (not part of variant %s)", path,
                         f->tensors[i].name, var);
    cn_st_free(f);
    if (st != CN_OK) {
        cn_weights_free(w);
        return st;
    }
    *out = w;
    return CN_OK;
}

int cn_weights_save(const cn_weights *w, const char *path, cn_st_dtype dtype)
{
    cn_st_out *t = calloc((size_t)w->count, sizeof *t);
    if (!t)
        return cn_fail(CN_ERR_OOM, "out of host memory saving %s", path);
    for (int i = 0; i < w->count; i++) {
        t[i].name = w->w[i].name;
        t[i].ndim = w->w[i].ndim;
        t[i].shape = w->w[i].shape;
        t[i].data = w->w[i].data;
    }
    const char *meta[] = {"format", "caspnet", "version", "1", "variant", w->variant};
    int st = cn_st_write(path, t, w->count, dtype, meta, 3);
    free(t);
    return st;
}

cn_weight *cn_weights_get(const cn_weights *w, const char *name)
{
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->w[i].name, name) == 0)
            return &w->w[i];
    return NULL;
}

int cn_weights_find(const cn_weights *w, cn_weight **out, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    *out = cn_weights_get(w, name);
    if (!*out)
        return cn_fail(CN_ERR_MISMATCH, "weights lack key '%s' (variant %s)", name, w->variant);
    return CN_OK;
}

void cn_weights_free(cn_weights *w)
{
    if (!w)
        return;
    free(w->w);
    free(w->block);
    free(w);
}
