// Batched, broadcasting matrix product for CPU-type devices, with matmul.glsl's parameters, dispatch and per-output
// sums (bit for bit the same results): a workgroup still owns 64 rows by 64 columns of Y, but as 16 invocations that
// each hold a 16x16 block of outputs in registers (RF_BLOCK), read straight from A and B.
// A CPU driver (llvmpipe) runs a workgroup's invocations as SIMD lanes, switches between lane groups at every barrier,
// and reads memory (shared or not) one lane at a time: what costs is loads per multiply-add. The GPU kernel's 4x4
// blocks read 8 values from shared memory per 16 multiply-adds, plus the tile fills and two barriers per 16-deep
// step; a 16x16 block reads 32 per 256, and has no barriers (measured: 6x the GPU kernel's speed on lavapipe).
// Each invocation holds an RF_BLOCK x RF_BLOCK block of outputs; (64 / RF_BLOCK)^2 invocations cover a 64x64 tile.
#ifndef RF_BLOCK
#define RF_BLOCK 16
#endif
#define RF_SPREAD (64 / RF_BLOCK)
layout(local_size_x = RF_SPREAD * RF_SPREAD) in;
#include "matmul_common.glsl"

void main()
{
    MatmulBatch s = matmulBatch();

    // Invocation (tx, ty) owns rows rowBase + ty + RF_SPREAD i and columns colBase + tx + RF_SPREAD j. Rows and columns past
    // the edge read the last one again and are never stored.
    uint tx = gl_LocalInvocationID.x % RF_SPREAD;
    uint ty = gl_LocalInvocationID.x / RF_SPREAD;
    uint rowBase = gl_WorkGroupID.y * 64u + ty;
    uint colBase = gl_WorkGroupID.x * 64u + tx;
    uint aRow[RF_BLOCK];
    uint bCol[RF_BLOCK];
    for (uint i = 0u; i < RF_BLOCK; i++)
    {
        aRow[i] = s.aBase + min(rowBase + RF_SPREAD * i, p.m - 1u) * p.aRowStride;
        bCol[i] = s.bBase + min(colBase + RF_SPREAD * i, p.n - 1u) * p.bColStride;
    }

    float acc[RF_BLOCK][RF_BLOCK];
    for (uint i = 0u; i < RF_BLOCK; i++)
    {
        for (uint j = 0u; j < RF_BLOCK; j++)
        {
            acc[i][j] = 0.0;
        }
    }

    for (uint kk = 0u; kk < p.k; kk++)
    {
        float av[RF_BLOCK];
        float bv[RF_BLOCK];
        for (uint i = 0u; i < RF_BLOCK; i++)
        {
            av[i] = a[aRow[i] + kk * p.aColStride];
            bv[i] = b[bCol[i] + kk * p.bRowStride];
        }

        for (uint i = 0u; i < RF_BLOCK; i++)
        {
            for (uint j = 0u; j < RF_BLOCK; j++)
            {
                acc[i][j] = acc[i][j] + av[i] * bv[j];
            }
        }
    }

    for (uint i = 0u; i < RF_BLOCK; i++)
    {
        uint row = rowBase + RF_SPREAD * i;
        for (uint j = 0u; j < RF_BLOCK; j++)
        {
            uint col = colBase + RF_SPREAD * j;
            if (row >= p.m || col >= p.n)
            {
                continue;
            }

            matmulStore(s.batch, row, col, acc[i][j]);
        }
    }
}
