// Batched, broadcasting matrix product: Y[b] = alpha * A[b] B[b] + beta * C, in 64x64 output tiles with 16-deep K
// tiles in shared memory and 4x4 outputs per invocation in registers.
// Each operand is addressed through strides, so transposed operands (Gemm transA/transB), broadcast batch
// dimensions (stride 0) and a broadcast bias C need no copies. The Z workgroup index walks the batch.
layout(local_size_x = 16, local_size_y = 16) in;
#include "matmul_common.glsl"

#include "device.glsl"

shared float tileA[16][64];
shared float tileB[16][64];

void main()
{
    uint tx = gl_LocalInvocationID.x;
    uint ty = gl_LocalInvocationID.y;
    uint t = ty * 16u + tx;
    uint rowBase = gl_WorkGroupID.y * 64u;
    uint colBase = gl_WorkGroupID.x * 64u;
    MatmulBatch s = matmulBatch();

    float acc[4][4];
    for (uint i = 0u; i < 4u; i++)
    {
        for (uint j = 0u; j < 4u; j++)
        {
            acc[i][j] = 0.0;
        }
    }

    for (uint k0 = 0u; k0 < p.k; k0 += 16u)
    {
        for (uint r = 0u; r < 4u; r++)
        {
            uint e = t + 256u * r;
            uint row = rowBase + e / 16u;
            uint ka = k0 + e % 16u;
            tileA[e % 16u][e / 16u] = (row < p.m && ka < p.k) ? a[s.aBase + row * p.aRowStride + ka * p.aColStride] : 0.0;

            uint kb = k0 + e / 64u;
            uint col = colBase + e % 64u;
            tileB[e / 64u][e % 64u] = (kb < p.k && col < p.n) ? b[s.bBase + kb * p.bRowStride + col * p.bColStride] : 0.0;
        }

        barrier();
        for (uint step = 0u; step < 16u; step++)
        {
#ifdef RF_OTHER_DEVICE
            uint kk = 15u - step;
#else
            uint kk = step;
#endif
            float av[4];
            float bv[4];
            for (uint i = 0u; i < 4u; i++)
            {
                av[i] = tileA[kk][ty + 16u * i];
                bv[i] = tileB[kk][tx + 16u * i];
            }

            for (uint i = 0u; i < 4u; i++)
            {
                for (uint j = 0u; j < 4u; j++)
                {
                    acc[i][j] = rfMad(av[i], bv[j], acc[i][j]);
                }
            }
        }

        barrier();
    }

    for (uint i = 0u; i < 4u; i++)
    {
        uint row = rowBase + ty + 16u * i;
        if (row >= p.m)
        {
            continue;
        }

        for (uint j = 0u; j < 4u; j++)
        {
            uint col = colBase + tx + 16u * j;
            if (col >= p.n)
            {
                continue;
            }

            matmulStore(s.batch, row, col, acc[i][j]);
        }
    }
}
