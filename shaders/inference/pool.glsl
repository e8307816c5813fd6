// 2-D max and average pooling over NCHW (also global pooling: a kernel the size of the image).
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    uint h;
    uint w;
    uint oh;
    uint ow;
    uint kh;
    uint kw;
    uint strideH;
    uint strideW;
    int padTop;
    int padLeft;
    int padBottom;
    int padRight;
    uint dilationH;
    uint dilationW;
    uint op; // 0 max, 1 average over valid pixels, 2 average counting padding
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
    uint plane = i / (p.ow * p.oh);
    uint base = plane * p.h * p.w;
    int y0 = int(oy * p.strideH) - p.padTop;
    int x0 = int(ox * p.strideW) - p.padLeft;

    float best = uintBitsToFloat(0xff800000u);
    float sum = 0.0;
    uint count = 0u;
    for (uint ky = 0u; ky < p.kh; ky++)
    {
        int iy = y0 + int(ky * p.dilationH);
        if (iy < 0 || iy >= int(p.h))
        {
            continue;
        }

        for (uint kx = 0u; kx < p.kw; kx++)
        {
            int ix = x0 + int(kx * p.dilationW);
            if (ix < 0 || ix >= int(p.w))
            {
                continue;
            }

            float v = x[base + uint(iy) * p.w + uint(ix)];
            best = max(best, v);
            sum += v;
            count++;
        }
    }

    float r;
    if (p.op == 0u)
    {
        r = best;
    }
    else if (p.op == 1u)
    {
        r = count > 0u ? rfDiv(sum, float(count)) : 0.0;
    }
    else
    {
        // The window clipped to the padded image, as ONNX counts it with count_include_pad.
        int yEnd = min(y0 + int(p.kh), int(p.h) + p.padBottom);
        int xEnd = min(x0 + int(p.kw), int(p.w) + p.padRight);
        r = rfDiv(sum, float((yEnd - y0) * (xEnd - x0)));
    }

    y[i] = r;
}
