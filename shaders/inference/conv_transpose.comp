#version 450
// 2-D transposed convolution (NCHW input, C x M/groups x KH x KW weights) as a gather: each invocation computes one
// output element from the input positions whose strided, dilated kernel footprint covers it.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    uint c;
    uint h;
    uint w;
    uint m;
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
} p;

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
    uint group = oc / outputsPerGroup;
    uint ocInGroup = oc % outputsPerGroup;

    float sum = p.hasBias != 0u ? bias[oc] : 0.0;
    for (uint ky = 0u; ky < p.kh; ky++)
    {
        int ny = int(oy) + p.padTop - int(ky * p.dilationH);
        if (ny < 0 || ny % int(p.strideH) != 0)
        {
            continue;
        }

        int iy = ny / int(p.strideH);
        if (iy >= int(p.h))
        {
            continue;
        }

        for (uint kx = 0u; kx < p.kw; kx++)
        {
            int nx = int(ox) + p.padLeft - int(kx * p.dilationW);
            if (nx < 0 || nx % int(p.strideW) != 0)
            {
                continue;
            }

            int ix = nx / int(p.strideW);
            if (ix >= int(p.w))
            {
                continue;
            }

            for (uint ci = 0u; ci < channelsPerGroup; ci++)
            {
                uint channel = group * channelsPerGroup + ci;
                float v = x[((batch * p.c + channel) * p.h + uint(iy)) * p.w + uint(ix)];
                float k = w[((channel * outputsPerGroup + ocInGroup) * p.kh + ky) * p.kw + kx];
                sum += v * k;
            }
        }
    }

    y[i] = sum;
}
