// 2-D convolution as an implicit GEMM for CPU-type devices, with conv_gemm.glsl's parameters, dispatch and per-output
// sums (bit for bit the same results): a workgroup still owns 64 output channels by 64 output pixels, but as 16
// invocations that each hold a 16x16 block of outputs in registers (RF_BLOCK), read straight from weights and input.
// A CPU driver (llvmpipe) runs a workgroup's invocations as SIMD lanes, switches between lane groups at every barrier,
// and reads memory (shared or not) one lane at a time: what costs is loads per multiply-add. The GPU kernel's 4x4
// blocks read 8 values from shared memory per 16 multiply-adds, plus the tile fills and two barriers per 16-deep
// step; a 16x16 block reads 32 per 256, and has no barriers (measured: 4x the GPU kernel's speed on lavapipe).
// Each invocation holds an RF_BLOCK x RF_BLOCK block of outputs; (64 / RF_BLOCK)^2 invocations cover a 64x64 tile.
#ifndef RF_BLOCK
#define RF_BLOCK 16
#endif
#define RF_SPREAD (64 / RF_BLOCK)
layout(local_size_x = RF_SPREAD * RF_SPREAD) in;
#define RF_CONV_GEMM 1
#include "conv_common.glsl"

void main()
{
    ConvSlice s = convSlice();

    // Invocation (tx, ty) owns output channels rowBase + ty + RF_SPREAD i and pixels colBase + tx + RF_SPREAD j. Channels and
    // pixels past the edge read the last one again and are never stored.
    uint tx = gl_LocalInvocationID.x % RF_SPREAD;
    uint ty = gl_LocalInvocationID.x / RF_SPREAD;
    uint rowBase = gl_WorkGroupID.y * 64u + ty;
    uint colBase = gl_WorkGroupID.x * 64u + tx;
    uint weightRow[RF_BLOCK];
    int y0[RF_BLOCK];
    int x0[RF_BLOCK];
    for (uint i = 0u; i < RF_BLOCK; i++)
    {
        weightRow[i] = (s.firstOutput + min(rowBase + RF_SPREAD * i, s.outputsPerGroup - 1u)) * s.depth;
        uint pixel = min(colBase + RF_SPREAD * i, s.pixels - 1u);
        y0[i] = int((pixel / p.ow) * p.strideH) - p.padTop;
        x0[i] = int((pixel % p.ow) * p.strideW) - p.padLeft;
    }

    float acc[RF_BLOCK][RF_BLOCK];
    for (uint i = 0u; i < RF_BLOCK; i++)
    {
        for (uint j = 0u; j < RF_BLOCK; j++)
        {
            acc[i][j] = 0.0;
        }
    }

    // k = (channel, ky, kx) in order, as the GPU kernel sums; taps outside the input add 0 * w as it does.
    uint k = 0u;
    for (uint ci = 0u; ci < s.channelsPerGroup; ci++)
    {
        uint plane = s.inputBase + ci * p.h * p.w;
        for (uint ky = 0u; ky < p.kh; ky++)
        {
            int dy = int(ky * p.dilationH);
            for (uint kx = 0u; kx < p.kw; kx++, k++)
            {
                int dx = int(kx * p.dilationW);
                float wv[RF_BLOCK];
                float xv[RF_BLOCK];
                for (uint i = 0u; i < RF_BLOCK; i++)
                {
                    wv[i] = w[weightRow[i] + k];
                    int iy = y0[i] + dy;
                    int ix = x0[i] + dx;
                    bool inside = iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w);
                    float v = x[inside ? plane + uint(iy) * p.w + uint(ix) : 0u];
                    xv[i] = inside ? v : 0.0;
                }

                for (uint i = 0u; i < RF_BLOCK; i++)
                {
                    for (uint j = 0u; j < RF_BLOCK; j++)
                    {
                        acc[i][j] = acc[i][j] + wv[i] * xv[j];
                    }
                }
            }
        }
    }

    for (uint i = 0u; i < RF_BLOCK; i++)
    {
        uint outputChannel = rowBase + RF_SPREAD * i;
        if (outputChannel >= s.outputsPerGroup)
        {
            continue;
        }

        uint channel = s.firstOutput + outputChannel;
        float b0 = p.hasBias != 0u ? bias[channel] : 0.0;
        uint outBase = (s.batch * p.m + channel) * s.pixels;
        for (uint j = 0u; j < RF_BLOCK; j++)
        {
            uint pixel = colBase + RF_SPREAD * j;
            if (pixel >= s.pixels)
            {
                continue;
            }

            y[outBase + pixel] = convActivate(acc[i][j] + b0);
        }
    }
}
