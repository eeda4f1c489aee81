/* Epilogue of the linear layer (host/ops/gemm.c): y = relu?(y + b) in place after the product, which either GEMM backend computes. */

/* y (rows, cols); b (cols) when has_b. NDRange (cols, rows). */
__kernel void bias_relu(const int rows, const int cols, __global const float *b, const int has_b,
                        const int relu, __global float *y)
{
    const int c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows)
        return;
    float v = y[r * cols + c];
    if (has_b)
        v += b[c];
    /* written so that a NaN stays visible instead of becoming 0 */
    y[r * cols + c] = relu && v < 0.0f ? 0.0f : v;
}
