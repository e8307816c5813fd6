// What matmul shares with its CPU build (matmul_cpu), one text for both so that the builds cannot drift apart: the
// buffers, the parameters, where a batch's operands start, and how an output is finished and stored.
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

// The batch index a workgroup works in (the Z workgroup index walks the batch) and where its A and B start.
struct MatmulBatch
{
    uint batch;
    uint aBase;
    uint bBase;
};

MatmulBatch matmulBatch()
{
    MatmulBatch s;
    s.batch = p.batchBase + gl_WorkGroupID.z;
    uint rest = s.batch;
    s.aBase = 0u;
    s.bBase = 0u;
    for (int d = 2; d >= 0; d--)
    {
        uint coordinate = rest % p.batchShape[d];
        rest /= p.batchShape[d];
        s.aBase += coordinate * p.aBatchStride[d];
        s.bBase += coordinate * p.bBatchStride[d];
    }

    return s;
}

// Y[batch][row][col] = alpha * sum + beta * C[row][col], for an output inside Y.
void matmulStore(uint batch, uint row, uint col, float sum)
{
    float r = p.alpha * sum;
    if (p.hasC != 0u)
    {
        r += p.beta * c[row * p.cRowStride + col * p.cColStride];
    }

    y[(batch * p.m + row) * p.n + col] = r;
}
