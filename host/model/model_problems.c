/* The convolutions and products the model runs at a clip size, recorded by a dry forward pass over the architecture tables (what `caspnet tune` times). */
#include "model/model_internal.h"
#include "model/model_problems.h"

#include <stdlib.h>
#include <string.h>

/* Two records of the same shape are one problem run `count` times. */
static int same(const cn_tune_problem *a, const cn_tune_problem *b)
{
    if (a->op != b->op)
        return 0;
    if (a->op == CN_TP_GEMM) {
        const cn_gemm_desc *x = &a->g, *y = &b->g;
        return x->trans_a == y->trans_a && x->trans_b == y->trans_b && x->M == y->M &&
               x->N == y->N && x->K == y->K && x->alpha == y->alpha && x->beta == y->beta &&
               x->lda == y->lda && x->ldb == y->ldb && x->ldc == y->ldc && x->batch == y->batch &&
               x->stride_a == y->stride_a && x->stride_b == y->stride_b &&
               x->stride_c == y->stride_c;
    }
    const int ia[] = {a->N, a->Ci, a->Co, a->Cx, a->xoff, a->Cy, a->yoff, a->T, a->H, a->W,
                      a->To, a->Ho, a->Wo, a->flags};
    const int ib[] = {b->N, b->Ci, b->Co, b->Cx, b->xoff, b->Cy, b->yoff, b->T, b->H, b->W,
                      b->To, b->Ho, b->Wo, b->flags};
    return memcmp(ia, ib, sizeof ia) == 0 && memcmp(a->k, b->k, sizeof a->k) == 0 &&
           memcmp(a->s, b->s, sizeof a->s) == 0 && memcmp(a->p, b->p, sizeof a->p) == 0 &&
           memcmp(a->d, b->d, sizeof a->d) == 0 && memcmp(a->op_pad, b->op_pad, sizeof a->op_pad) == 0 &&
           a->alpha == b->alpha;
}

static int add(cn_model *m, const cn_tune_problem *p)
{
    for (int i = 0; i < m->nrec; i++)
        if (same(&m->rec[i], p)) {
            m->rec[i].count++;
            return CN_OK;
        }
    if (m->nrec == m->caprec) {
        int cap = m->caprec ? 2 * m->caprec : 64;
        cn_tune_problem *r = realloc(m->rec, (size_t)cap * sizeof *r);
        if (!r)
            return cn_fail(CN_ERR_OOM, "out of host memory");
        m->rec = r, m->caprec = cap;
    }
    m->rec[m->nrec] = *p;
    m->rec[m->nrec].count = 1;
    m->nrec++;
    return CN_OK;
}

int model_record_conv(cn_model *m, const cn_unit *u, const cn_conv_args *a, int dims,
                      int weight_only)
{
    if (!m->rec_on)
        return CN_OK;
    cn_tune_problem p = {0};
    const cn_tensor *x = a->x, *y = a->y, *w = a->w;
    const int two = dims == 2, sp = two ? 1 : 0; /* first spatial axis of the args */
    p.op = two ? CN_TP_CONV2D : u->transposed && !weight_only ? CN_TP_TCONV : CN_TP_CONV;
    p.N = (int)x->shape[0], p.Cx = (int)x->shape[1];
    p.Cy = (int)y->shape[1];
    p.Ci = (int)(p.op == CN_TP_TCONV ? w->shape[0] : w->shape[1]);
    p.Co = (int)(p.op == CN_TP_TCONV ? w->shape[1] : w->shape[0]);
    p.xoff = (int)a->x_c_off, p.yoff = (int)a->y_c_off;
    int in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
    for (int i = sp; i < 3; i++) {
        in[i] = (int)x->shape[2 + i - sp];
        out[i] = (int)y->shape[2 + i - sp];
        p.k[i] = (int)w->shape[2 + i - sp];
        p.s[i] = a->stride[i] ? a->stride[i] : 1;
        p.d[i] = a->dil[i] ? a->dil[i] : 1;
        p.p[i] = a->pad[i];
        p.op_pad[i] = a->out_pad[i];
    }
    for (int i = 0; i < sp; i++)
        p.k[i] = p.s[i] = p.d[i] = 1;
    p.T = in[0], p.H = in[1], p.W = in[2], p.To = out[0], p.Ho = out[1], p.Wo = out[2];
    p.flags = (a->bias ? CN_TPF_BIAS : 0) | (a->pre_scale || a->pre_shift ? CN_TPF_PRE : 0) |
              (a->relu ? CN_TPF_RELU : 0) | (a->w_packed ? CN_TPF_PACKED : 0) |
              (a->y == a->x ? CN_TPF_Y_IS_X : 0) |
              (a->residual ? (a->residual == a->y ? CN_TPF_RES_INPLACE : CN_TPF_RES) : 0);
    p.alpha = a->alpha;
    p.flops = 2.0 * p.Ci * p.k[0] * p.k[1] * p.k[2] * (double)p.Co * p.N * (double)out[0] *
              out[1] * out[2];
    snprintf(p.tag, sizeof p.tag, "%s", a->tag ? a->tag : u->key);
    return add(m, &p);
}

int model_record_gemm(cn_model *m, const cn_gemm_desc *d)
{
    if (!m->rec_on || !m->dry)
        return CN_OK;
    cn_tune_problem p = {0};
    p.op = CN_TP_GEMM;
    p.g = *d;
    p.g.tag = NULL;
    p.flops = 2.0 * (double)d->M * (double)d->N * (double)d->K * (double)(d->batch > 0 ? d->batch : 1);
    snprintf(p.tag, sizeof p.tag, "%s", d->tag ? d->tag : "gemm");
    return add(m, &p);
}

int cn_model_problems(cn_ctx *ctx, const char *variant, int N, int H, int W,
                      cn_tune_problem **out, int *count)
{
    *out = NULL;
    *count = 0;
    cn_model *m;
    CN_TRY(model_create_shapes(ctx, variant, &m));
    cn_tensor clip = {0}, mel = {0}, sal = {0};
    int64_t cs[5] = {N, 3, CN_SPEC_CLIP_T, H, W}, ms[4] = {N, 1, CN_SPEC_MEL_T, CN_SPEC_MEL_F};
    /* shapes only: tensors are views of no buffer, nothing is allocated or run */
    cn_tensor_wrap(&clip, NULL, 0, 5, cs);
    cn_tensor_wrap(&mel, NULL, 0, 4, ms);
    m->dry = 1;
    m->rec_on = 1;
    int st = cn_model_forward(m, &clip, m->av ? &mel : NULL, NULL, &sal);
    cn_tensor_release(ctx, &sal);
    if (st == CN_OK) {
        *out = m->rec, *count = m->nrec;
        m->rec = NULL;
    }
    cn_model_destroy(m);
    return st;
}
