// What conv and conv_gemm share with their CPU builds (conv_cpu, conv_gemm_cpu), one text for both so that the builds
// cannot drift apart: the buffers, the parameters, the fused activation and the index set-up of an output element
// (direct convolution) or of a (batch, group) slice (implicit GEMM, with RF_CONV_GEMM defined), and the direct
// convolution's sum over one output's window, which conv runs for every output and conv_cpu off its fast path. The
// GEMM builds keep their own sums (tiles in shared memory against blocks in registers, over the same k order).
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;          // output elements
    uint c;          // input channels
    uint h;
    uint w;
    uint m;          // output channels
    uint oh;
    uint ow;
    uint kh;
    uint kw;
    uint strideH;
    uint strideW;
    uint dilationH;
    uint dilationW;
    int padTop;
    int padLeft;
    uint groups;
    uint hasBias;
    uint activation; // 0 none, 1 relu, 2 leaky relu (alpha)
    float alpha;
#ifdef RF_CONV_GEMM
    uint zBase;      // first (batch * groups + group) of this dispatch
#endif
} p;

#include "device.glsl"

float convActivate(float sum)
{
    if (p.activation == 1u)
    {
        return max(sum, 0.0);
    }

    if (p.activation == 2u)
    {
        return sum >= 0.0 ? sum : p.alpha * sum;
    }

    return sum;
}

#ifdef RF_CONV_GEMM

// The (batch, group) slice a workgroup of the implicit GEMM works in: Y[m][p] = sum_k W[m][k] * X'[k][p] over its
// output channels m, output pixels p and k = (input channel, ky, kx).
struct ConvSlice
{
    uint batch;
    uint channelsPerGroup;
    uint outputsPerGroup;
    uint kernelSize;
    uint depth;           // k's extent
    uint pixels;
    uint firstOutput;     // the slice's first output channel
    uint inputBase;       // its first input channel's plane
};

ConvSlice convSlice()
{
    uint z = p.zBase + gl_WorkGroupID.z;
    uint group = z % p.groups;
    ConvSlice s;
    s.batch = z / p.groups;
    s.channelsPerGroup = p.c / p.groups;
    s.outputsPerGroup = p.m / p.groups;
    s.kernelSize = p.kh * p.kw;
    s.depth = s.channelsPerGroup * s.kernelSize;
    s.pixels = p.oh * p.ow;
    s.firstOutput = group * s.outputsPerGroup;
    s.inputBase = (s.batch * p.c + group * s.channelsPerGroup) * p.h * p.w;
    return s;
}

#else

// Output element i of a direct convolution: its pixel, channel and batch item, and where its window starts.
struct ConvOutput
{
    uint ox;
    uint oy;
    uint oc;
    uint batch;
    uint channelsPerGroup;
    uint firstChannel;    // the first input channel of oc's group
    int y0;               // the window's top row, before padding is cut away
    int x0;               // its left column
    uint weightBase;      // oc's first weight
};

ConvOutput convOutput(uint i)
{
    ConvOutput o;
    o.ox = i % p.ow;
    o.oy = (i / p.ow) % p.oh;
    o.oc = (i / (p.ow * p.oh)) % p.m;
    o.batch = i / (p.ow * p.oh * p.m);
    o.channelsPerGroup = p.c / p.groups;
    uint outputsPerGroup = p.m / p.groups;
    o.firstChannel = (o.oc / outputsPerGroup) * o.channelsPerGroup;
    o.y0 = int(o.oy * p.strideH) - p.padTop;
    o.x0 = int(o.ox * p.strideW) - p.padLeft;
    o.weightBase = o.oc * o.channelsPerGroup * p.kh * p.kw;
    return o;
}

// Where row ky of input channel ci (counted in o's group) under o's window starts in x, and its weights in w; false
// where the row lies in the padding.
bool convWindowRow(ConvOutput o, uint ci, uint ky, out uint row, out uint weightRow)
{
    int iy = o.y0 + int(ky * p.dilationH);
    if (iy < 0 || iy >= int(p.h))
    {
        return false;
    }

    row = ((o.batch * p.c) + o.firstChannel + ci) * p.h * p.w + uint(iy) * p.w;
    weightRow = o.weightBase + ci * p.kh * p.kw + ky * p.kw;
    return true;
}

// Adds output o's window to sum, channel by channel, row by row, in the order every build of conv sums it: taps outside
// the input are skipped.
float convWindowSum(ConvOutput o, float sum)
{
    for (uint ci = 0u; ci < o.channelsPerGroup; ci++)
    {
        for (uint ky = 0u; ky < p.kh; ky++)
        {
            uint row;
            uint weightRow;
            if (!convWindowRow(o, ci, ky, row, weightRow))
            {
                continue;
            }

            for (uint kx = 0u; kx < p.kw; kx++)
            {
                int ix = o.x0 + int(kx * p.dilationW);
                if (ix < 0 || ix >= int(p.w))
                {
                    continue;
                }

                sum = rfMad(x[row + uint(ix)], w[weightRow + kx], sum);
            }
        }
    }

    return sum;
}

#endif
