/* Epilogue of the linear layer (host/ops/gemm.c): y = relu?(y + b) in place after the product, which either GEMM backend computes. */

/* Storage of y and b, float (0) or half (1): cl/storage.h. The sum is float;
 * a half y is rounded once more. */

/* y (rows, cols); b (cols) when has_b. NDRange (cols, rows). */
__kernel void bias_relu(const int rows, const int cols, __global const CN_T(B_H) *b,
                        const int has_b, const int relu, __global CN_T(Y_H) *y)
{
    const int c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows)
        return;
    float v = CN_LD(Y_H, y, r * cols + c);
    if (has_b)
        v += CN_LD(B_H, b, c);
    /* written so that a NaN stays visible instead of becoming 0 */
    CN_ST(Y_H, y, r * cols + c, relu && v < 0.0f ? 0.0f : v);
}
