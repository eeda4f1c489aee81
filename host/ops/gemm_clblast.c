/* The CLBlast backend of cn_gemm: row-major (strided-batched) SGEMM through CLBlast's C API. */
#include "ops/gemm.h"

#include <clblast_c.h>
#include <stdio.h>

static const char *clblast_status_name(CLBlastStatusCode s)
{
    switch (s) {
    case CLBlastNotImplemented:
        return "CLBlastNotImplemented";
    case CLBlastInvalidDimension:
        return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA:
    case CLBlastInvalidLeadDimB:
    case CLBlastInvalidLeadDimC:
        return "CLBlastInvalidLeadDim";
    case CLBlastInsufficientMemoryA:
    case CLBlastInsufficientMemoryB:
    case CLBlastInsufficientMemoryC:
        return "CLBlastInsufficientMemory";
    case CLBlastInvalidBatchCount:
        return "CLBlastInvalidBatchCount";
    case CLBlastInvalidLocalMemUsage:
        return "CLBlastInvalidLocalMemUsage";
    case CLBlastDatabaseError:
        return "CLBlastDatabaseError";
    case CLBlastUnknownError:
        return "CLBlastUnknownError";
    case CLBlastUnexpectedError:
        return "CLBlastUnexpectedError";
    default:
        /* the codes above -1000 are OpenCL's own */
        return s > -1000 ? cn_cl_error_name((cl_int)s) : "CLBlast error";
    }
}

int cn_gemm_clblast_(cn_ctx *ctx, const cn_gemm_desc *d, cl_mem A, cl_mem B, cl_mem C)
{
    cl_command_queue q = cn_ctx_queue(ctx);
    const CLBlastTranspose ta = d->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    const CLBlastTranspose tb = d->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    const size_t M = (size_t)d->M, N = (size_t)d->N, K = (size_t)d->K;
    const size_t batch = d->batch > 1 ? (size_t)d->batch : 1;
    CLBlastStatusCode s;
    if (batch == 1)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, M, N, K, d->alpha, A, (size_t)d->off_a,
                         (size_t)d->lda, B, (size_t)d->off_b, (size_t)d->ldb, d->beta, C,
                         (size_t)d->off_c, (size_t)d->ldc, &q, NULL);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, M, N, K, d->alpha, A,
                                       (size_t)d->off_a, (size_t)d->lda, (size_t)d->stride_a, B,
                                       (size_t)d->off_b, (size_t)d->ldb, (size_t)d->stride_b,
                                       d->beta, C, (size_t)d->off_c, (size_t)d->ldc,
                                       (size_t)d->stride_c, batch, &q, NULL);
    if (s == CLBlastSuccess)
        return CN_OK;
    if (s == CLBlastOpenCLOutOfResources || (int)s == CL_MEM_OBJECT_ALLOCATION_FAILURE)
        return cn_queue_check(ctx, (cl_int)s,
                              batch == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched",
                              d->tag ? d->tag : "gemm", __FILE__, __LINE__);
    const int st = (s == CLBlastTempBufferAllocFailure || s == CLBlastOpenCLOutOfHostMemory)
                       ? CN_ERR_OOM
                       : CN_ERR_CL;
    return cn_fail(st, "gemm%s%s: CLBlast %s failed for M=%zu N=%zu K=%zu batch=%zu: %s (%d)",
                   d->tag ? " " : "", d->tag ? d->tag : "",
                   batch == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched", M, N, K, batch,
                   clblast_status_name(s), (int)s);
}
