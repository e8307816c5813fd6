// Direct 2-D convolution (NCHW, OIHW weights) with groups, strides, dilations, padding, optional bias and a fused
// activation. One invocation computes one output element; no im2col buffer.
layout(local_size_x = 256) in;
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
} p;

#include "device.glsl"

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint ox = i % p.ow;
    uint oy = (i / p.ow) % p.oh;
    uint oc = (i / (p.ow * p.oh)) % p.m;
    uint batch = i / (p.ow * p.oh * p.m);

    uint channelsPerGroup = p.c / p.groups;
    uint outputsPerGroup = p.m / p.groups;
    uint firstChannel = (oc / outputsPerGroup) * channelsPerGroup;

    int y0 = int(oy * p.strideH) - p.padTop;
    int x0 = int(ox * p.strideW) - p.padLeft;

#ifdef RF_OTHER_DEVICE
    float sum = 0.0;
#else
    float sum = p.hasBias != 0u ? bias[oc] : 0.0;
#endif
    uint weightBase = oc * channelsPerGroup * p.kh * p.kw;
    for (uint ci = 0u; ci < channelsPerGroup; ci++)
    {
        uint inputBase = ((batch * p.c) + firstChannel + ci) * p.h * p.w;
        uint weightChannel = weightBase + ci * p.kh * p.kw;
        for (uint ky = 0u; ky < p.kh; ky++)
        {
            int iy = y0 + int(ky * p.dilationH);
            if (iy < 0 || iy >= int(p.h))
            {
                continue;
            }

            uint row = inputBase + uint(iy) * p.w;
            uint weightRow = weightChannel + ky * p.kw;
            for (uint kx = 0u; kx < p.kw; kx++)
            {
                int ix = x0 + int(kx * p.dilationW);
                if (ix < 0 || ix >= int(p.w))
                {
                    continue;
                }

                sum = rfMad(x[row + uint(ix)], w[weightRow + kx], sum);
            }
        }
    }

#ifdef RF_OTHER_DEVICE
    sum += p.hasBias != 0u ? bias[oc] : 0.0;
#endif
    if (p.activation == 1u)
    {
        sum = max(sum, 0.0);
    }
    else if (p.activation == 2u)
    {
        sum = sum >= 0.0 ? sum : p.alpha * sum;
    }

    y[i] = sum;
}
