/* Tensor helpers and a best-fit arena of device buffers, so a forward pass reuses memory instead of allocating per layer. */
#include "runtime/tensor.h"
#include "runtime/half.h"
#include "runtime/runtime_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cn_block {
    cl_mem buf;
    size_t cap;
} cn_block;

struct cn_arena {
    cn_block *free_list;
    int nfree, capfree;
    uint64_t in_use;
    int no_reuse; /* cn_arena_set_reuse(ctx, 0): every tensor a fresh buffer */
};

struct cn_arena *cn_arena_create(void) { return calloc(1, sizeof(struct cn_arena)); }

void cn_arena_destroy(cn_ctx *ctx, struct cn_arena *a)
{
    for (int i = 0; i < a->nfree; i++)
        cn_buffer_release(ctx, a->free_list[i].buf, a->free_list[i].cap);
    free(a->free_list);
    free(a);
}

void cn_arena_trim(cn_ctx *ctx)
{
    struct cn_arena *a = ctx->arena;
    for (int i = 0; i < a->nfree; i++)
        cn_buffer_release(ctx, a->free_list[i].buf, a->free_list[i].cap);
    a->nfree = 0;
}

uint64_t cn_arena_in_use(cn_ctx *ctx) { return ctx->arena->in_use; }

void cn_arena_set_reuse(cn_ctx *ctx, int on)
{
    ctx->arena->no_reuse = !on;
    if (!on)
        cn_arena_trim(ctx);
}

int64_t cn_numel(const cn_tensor *t)
{
    if (t->ndim <= 0)
        return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t cn_dtype_size(cn_dtype d) { return d == CN_F16 ? 2 : 4; }

const char *cn_dtype_name(cn_dtype d) { return d == CN_F16 ? "f16" : "f32"; }

size_t cn_tensor_bytes(const cn_tensor *t) { return (size_t)cn_numel(t) * cn_dtype_size(t->dtype); }

const char *cn_shape_str(const cn_tensor *t, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? "x%lld" : "%lld", (long long)t->shape[i]);
    if (t->ndim == 0)
        snprintf(buf, n, "(empty)");
    return buf;
}

void cn_storage_opts(char *opts, size_t n, int count, ...)
{
    va_list ap;
    va_start(ap, count);
    size_t o = strlen(opts);
    for (int i = 0; i < count; i++) {
        const char *name = va_arg(ap, const char *);
        const cn_tensor *t = va_arg(ap, const cn_tensor *);
        if (t && t->dtype == CN_F16 && o < n)
            o += (size_t)snprintf(opts + o, n - o, "%s-D%s=1", o ? " " : "", name);
    }
    va_end(ap);
}

int cn_same_shape(const cn_tensor *a, const cn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

static int set_shape(cn_tensor *t, int ndim, const int64_t *shape)
{
    if (ndim < 1 || ndim > CN_MAX_DIMS)
        return cn_fail(CN_ERR_SHAPE, "tensor rank %d outside 1..%d", ndim, CN_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && n > INT64_MAX / 4 / shape[i]))
            return cn_fail(CN_ERR_SHAPE, "tensor dimension %d = %lld is negative or too large", i,
                           (long long)shape[i]);
        n *= shape[i];
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    return CN_OK;
}

int cn_tensor_alloc(cn_ctx *ctx, cn_tensor *t, int ndim, const int64_t *shape)
{
    return cn_tensor_alloc_as(ctx, t, CN_F32, ndim, shape);
}

int cn_tensor_alloc_as(cn_ctx *ctx, cn_tensor *t, cn_dtype dtype, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    if (dtype != CN_F32 && dtype != CN_F16)
        return cn_fail(CN_ERR_ARG, "tensor dtype %d is neither CN_F32 nor CN_F16", (int)dtype);
    cn_tensor tmp = {0};
    tmp.dtype = dtype;
    CN_TRY(set_shape(&tmp, ndim, shape));
    size_t need = cn_tensor_bytes(&tmp);
    if (need == 0)
        need = 4;
    struct cn_arena *a = ctx->arena;
    /* Best fit among idle buffers, but never waste more than half a buffer:
     * a tiny tensor must not pin a huge block. */
    int best = -1;
    for (int i = 0; !a->no_reuse && i < a->nfree; i++) {
        size_t c = a->free_list[i].cap;
        if (c >= need && c <= 2 * need && (best < 0 || c < a->free_list[best].cap))
            best = i;
    }
    cl_mem buf = NULL;
    size_t cap = need;
    if (best >= 0) {
        buf = a->free_list[best].buf;
        cap = a->free_list[best].cap;
        a->free_list[best] = a->free_list[--a->nfree];
    } else {
        int st = cn_buffer_create(ctx, need, &buf);
        if (st == CN_ERR_OOM && a->nfree > 0) {
            /* Idle buffers of the wrong size may be what fills the device. */
            cn_arena_trim(ctx);
            st = cn_buffer_create(ctx, need, &buf);
        }
        if (st != CN_OK) {
            char s[128];
            const char *why = cn_last_error();
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", why);
            return cn_fail(st, "cannot allocate a %s tensor (%s, %zu bytes): %s",
                           cn_shape_str(&tmp, s, sizeof s), cn_dtype_name(dtype), need, msg);
        }
    }
    *t = tmp;
    t->buf = buf;
    t->cap = cap;
    t->owned = 1;
    a->in_use += cap;
    return CN_OK;
}

void cn_tensor_wrap(cn_tensor *t, cl_mem buf, size_t cap, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->buf = buf;
    t->cap = cap;
    t->owned = 0;
}

void cn_tensor_release(cn_ctx *ctx, cn_tensor *t)
{
    if (t->buf && t->owned) {
        struct cn_arena *a = ctx->arena;
        a->in_use -= t->cap;
        if (a->no_reuse) {
            cn_buffer_release(ctx, t->buf, t->cap);
            memset(t, 0, sizeof *t);
            return;
        }
        if (a->nfree == a->capfree) {
            int cap = a->capfree ? 2 * a->capfree : 64;
            cn_block *g = realloc(a->free_list, (size_t)cap * sizeof *g);
            if (!g) { /* cannot track it: give it back to the driver instead */
                cn_buffer_release(ctx, t->buf, t->cap);
                memset(t, 0, sizeof *t);
                return;
            }
            a->free_list = g;
            a->capfree = cap;
        }
        a->free_list[a->nfree++] = (cn_block){t->buf, t->cap};
    }
    memset(t, 0, sizeof *t);
}

int cn_tensor_reshape(cn_tensor *t, int ndim, const int64_t *shape)
{
    cn_tensor tmp = *t;
    CN_TRY(set_shape(&tmp, ndim, shape));
    if (cn_numel(&tmp) != cn_numel(t)) {
        char a[128], b[128];
        return cn_fail(CN_ERR_SHAPE, "cannot reshape %s to %s", cn_shape_str(t, a, sizeof a),
                       cn_shape_str(&tmp, b, sizeof b));
    }
    *t = tmp;
    return CN_OK;
}

/* Half tensors cross in slices of this many elements (512 KiB of halves):
 * the staging buffer stays small whatever the tensor, and a slice is large
 * enough that the per-transfer overhead does not matter. */
#define HALF_SLICE ((size_t)1 << 18)

int cn_tensor_upload(cn_ctx *ctx, cn_tensor *t, const float *host)
{
    size_t n = cn_tensor_bytes(t);
    if (n == 0)
        return CN_OK;
    if (t->dtype == CN_F32)
        return CN_CLQ(ctx, clEnqueueWriteBuffer(ctx->q, t->buf, CL_TRUE, 0, n, host, 0, NULL,
                                                NULL));
    const size_t count = (size_t)cn_numel(t), slice = count < HALF_SLICE ? count : HALF_SLICE;
    uint16_t *h = malloc(slice * sizeof *h);
    if (!h)
        return cn_fail(CN_ERR_OOM, "out of host memory converting a tensor to half");
    int st = CN_OK;
    for (size_t i = 0; st == CN_OK && i < count; i += slice) {
        const size_t m = count - i < slice ? count - i : slice;
        cn_f32_to_f16_n(h, host + i, m);
        /* blocking, so h may be refilled at once */
        st = CN_CLQ(ctx, clEnqueueWriteBuffer(ctx->q, t->buf, CL_TRUE, i * sizeof *h,
                                              m * sizeof *h, h, 0, NULL, NULL));
    }
    free(h);
    return st;
}

int cn_tensor_download(cn_ctx *ctx, const cn_tensor *t, float *host)
{
    if (t->dtype == CN_F32)
        return cn_buffer_read(ctx, t->buf, 0, cn_tensor_bytes(t), host);
    const size_t count = (size_t)cn_numel(t), slice = count < HALF_SLICE ? count : HALF_SLICE;
    if (count == 0)
        return CN_OK;
    uint16_t *h = malloc(slice * sizeof *h);
    if (!h)
        return cn_fail(CN_ERR_OOM, "out of host memory converting a tensor from half");
    int st = CN_OK;
    for (size_t i = 0; st == CN_OK && i < count; i += slice) {
        const size_t m = count - i < slice ? count - i : slice;
        st = cn_buffer_read(ctx, t->buf, i * sizeof *h, m * sizeof *h, h);
        if (st == CN_OK)
            cn_f16_to_f32_n(host + i, h, m);
    }
    free(h);
    return st;
}

int cn_tensor_from_host(cn_ctx *ctx, cn_tensor *t, int ndim, const int64_t *shape,
                        const float *host)
{
    return cn_tensor_from_host_as(ctx, t, CN_F32, ndim, shape, host);
}

int cn_tensor_from_host_as(cn_ctx *ctx, cn_tensor *t, cn_dtype dtype, int ndim,
                           const int64_t *shape, const float *host)
{
    CN_TRY(cn_tensor_alloc_as(ctx, t, dtype, ndim, shape));
    int st = cn_tensor_upload(ctx, t, host);
    if (st != CN_OK)
        cn_tensor_release(ctx, t);
    return st;
}
