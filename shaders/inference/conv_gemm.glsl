// 2-D convolution as an implicit GEMM: per (batch, group), Y[m][p] = sum_k W[m][k] * X'[k][p] with m the output channel,
// p the output pixel and k = (input channel, ky, kx); X' (im2col) is never stored, its tiles are gathered straight
// from the input. 64x64 output tiles, 16-deep K tiles in shared memory, 4x4 outputs per invocation in registers.
// Same parameters as conv.comp; the planner picks this kernel when a group has enough output channels to fill tiles.
layout(local_size_x = 16, local_size_y = 16) in;
#define RF_CONV_GEMM 1
#include "conv_common.glsl"

shared float tileW[16][64];
shared float tileX[16][64];

void main()
{
    uint tx = gl_LocalInvocationID.x;
    uint ty = gl_LocalInvocationID.y;
    uint t = ty * 16u + tx;
    ConvSlice s = convSlice();
    uint rowBase = gl_WorkGroupID.y * 64u;
    uint colBase = gl_WorkGroupID.x * 64u;

    float acc[4][4];
    for (uint i = 0u; i < 4u; i++)
    {
        for (uint j = 0u; j < 4u; j++)
        {
            acc[i][j] = 0.0;
        }
    }

    for (uint k0 = 0u; k0 < s.depth; k0 += 16u)
    {
        for (uint r = 0u; r < 4u; r++)
        {
            // Weights: consecutive invocations read consecutive k of one output channel.
            uint e = t + 256u * r;
            uint row = e / 16u;
            uint kk = e % 16u;
            uint outputChannel = rowBase + row;
            uint k = k0 + kk;
            tileW[kk][row] = (outputChannel < s.outputsPerGroup && k < s.depth)
                ? w[(s.firstOutput + outputChannel) * s.depth + k] : 0.0;

            // Input patches: consecutive invocations read consecutive output pixels of one (channel, ky, kx).
            uint kb = e / 64u;
            uint col = e % 64u;
            uint pixel = colBase + col;
            uint kIndex = k0 + kb;
            float v = 0.0;
            if (pixel < s.pixels && kIndex < s.depth)
            {
                uint ci = kIndex / s.kernelSize;
                uint rest = kIndex % s.kernelSize;
                int iy = int((pixel / p.ow) * p.strideH) - p.padTop + int((rest / p.kw) * p.dilationH);
                int ix = int((pixel % p.ow) * p.strideW) - p.padLeft + int((rest % p.kw) * p.dilationW);
                if (iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w))
                {
                    v = x[s.inputBase + ci * p.h * p.w + uint(iy) * p.w + uint(ix)];
                }
            }

            tileX[kb][col] = v;
        }

        barrier();
        for (uint step = 0u; step < 16u; step++)
        {
#ifdef RF_OTHER_DEVICE
            uint kk = 15u - step;
#else
            uint kk = step;
#endif
            float a[4];
            float b[4];
            for (uint i = 0u; i < 4u; i++)
            {
                a[i] = tileW[kk][ty + 16u * i];
                b[i] = tileX[kk][tx + 16u * i];
            }

            for (uint i = 0u; i < 4u; i++)
            {
                for (uint j = 0u; j < 4u; j++)
                {
                    acc[i][j] = rfMad(a[i], b[j], acc[i][j]);
                }
            }
        }

        barrier();
    }

    for (uint i = 0u; i < 4u; i++)
    {
        uint outputChannel = rowBase + ty + 16u * i;
        if (outputChannel >= s.outputsPerGroup)
        {
            continue;
        }

        uint channel = s.firstOutput + outputChannel;
        float b0 = p.hasBias != 0u ? bias[channel] : 0.0;
        uint outBase = (s.batch * p.m + channel) * s.pixels;
        for (uint j = 0u; j < 4u; j++)
        {
            uint pixel = colBase + tx + 16u * j;
            if (pixel >= s.pixels)
            {
                continue;
            }

            y[outBase + pixel] = convActivate(acc[i][j] + b0);
        }
    }
}
