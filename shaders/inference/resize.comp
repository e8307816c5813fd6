#version 450
// Resize of the last two dims of an [N*C, H, W] tensor: nearest or bilinear, with the ONNX coordinate
// transformation modes.
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
    uint linear;
    uint coordinateMode; // 0 half_pixel, 1 asymmetric, 2 align_corners, 3 pytorch_half_pixel
    uint nearestMode;    // 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil
    float scaleH;
    float scaleW;
} p;

float original(uint o, float scale, uint inSize, uint outSize)
{
    float x = float(o);
    switch (p.coordinateMode)
    {
        case 1u: return x / scale;
        case 2u: return outSize == 1u ? 0.0 : x * float(inSize - 1u) / float(outSize - 1u);
        case 3u: return outSize > 1u ? (x + 0.5) / scale - 0.5 : 0.0;
        default: return (x + 0.5) / scale - 0.5;
    }
}

int nearest(float v, uint size)
{
    float r;
    switch (p.nearestMode)
    {
        case 1u: r = fract(v) == 0.5 ? ceil(v) : floor(v + 0.5); break;
        case 2u: r = floor(v); break;
        case 3u: r = ceil(v); break;
        default: r = fract(v) == 0.5 ? floor(v) : floor(v + 0.5); break;
    }

    return clamp(int(r), 0, int(size) - 1);
}

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
    float fy = original(oy, p.scaleH, p.h, p.oh);
    float fx = original(ox, p.scaleW, p.w, p.ow);

    if (p.linear == 0u)
    {
        y[i] = x[base + uint(nearest(fy, p.h)) * p.w + uint(nearest(fx, p.w))];
        return;
    }

    fy = clamp(fy, 0.0, float(p.h - 1u));
    fx = clamp(fx, 0.0, float(p.w - 1u));
    uint y1 = uint(fy);
    uint x1 = uint(fx);
    uint y2 = min(y1 + 1u, p.h - 1u);
    uint x2 = min(x1 + 1u, p.w - 1u);
    float dy = fy - float(y1);
    float dx = fx - float(x1);
    float top = x[base + y1 * p.w + x1] * (1.0 - dx) + x[base + y1 * p.w + x2] * dx;
    float bottom = x[base + y2 * p.w + x1] * (1.0 - dx) + x[base + y2 * p.w + x2] * dx;
    y[i] = top * (1.0 - dy) + bottom * dy;
}
