#version 450
// Batched, broadcasting matrix product with 16x16 shared-memory tiles: Y[b] = alpha * A[b] B[b] + beta * C.
// Each operand is addressed through strides, so transposed operands (Gemm transA/transB), broadcast batch
// dimensions (stride 0) and a broadcast bias C need no copies. The Z workgroup index walks the batch.
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) readonly buffer C { float c[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint m;
    uint n;
    uint k;
    uint aRowStride;
    uint aColStride;
    uint bRowStride;
    uint bColStride;
    uint cRowStride;
    uint cColStride;
    uint hasC;
    float alpha;
    float beta;
    uint batchBase;
    uint batchShape[3];
    uint aBatchStride[3];
    uint bBatchStride[3];
} p;

shared float tileA[16][17];
shared float tileB[16][17];

void main()
{
    uint tx = gl_LocalInvocationID.x;
    uint ty = gl_LocalInvocationID.y;
    uint col = gl_WorkGroupID.x * 16u + tx;
    uint row = gl_WorkGroupID.y * 16u + ty;
    uint batch = p.batchBase + gl_WorkGroupID.z;

    uint rest = batch;
    uint aBase = 0u;
    uint bBase = 0u;
    for (int d = 2; d >= 0; d--)
    {
        uint coordinate = rest % p.batchShape[d];
        rest /= p.batchShape[d];
        aBase += coordinate * p.aBatchStride[d];
        bBase += coordinate * p.bBatchStride[d];
    }

    float sum = 0.0;
    for (uint t = 0u; t < p.k; t += 16u)
    {
        uint ka = t + tx;
        tileA[ty][tx] = (row < p.m && ka < p.k) ? a[aBase + row * p.aRowStride + ka * p.aColStride] : 0.0;
        uint kb = t + ty;
        tileB[ty][tx] = (kb < p.k && col < p.n) ? b[bBase + kb * p.bRowStride + col * p.bColStride] : 0.0;
        barrier();
        for (uint j = 0u; j < 16u; j++)
        {
            sum += tileA[ty][j] * tileB[j][tx];
        }

        barrier();
    }

    if (row >= p.m || col >= p.n)
    {
        return;
    }

    float r = p.alpha * sum;
    if (p.hasC != 0u)
    {
        r += p.beta * c[row * p.cRowStride + col * p.cColStride];
    }

    y[(batch * p.m + row) * p.n + col] = r;
}
