// InstanceNormalization and LayerNormalization: one workgroup per plane (a (batch, channel) image, or the trailing
// axes of a layer) computes the plane's mean and variance with a shared-memory reduction (two passes, for accuracy),
// then normalizes it with the channel's scale and bias, or with per-element scale and bias for a layer.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer S { float scale[]; };
layout(std430, set = 0, binding = 2) readonly buffer B { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint planes;
    uint channels;
    uint size;
    float epsilon;
    uint perElement; // 1: scale and bias indexed by the position in the plane (LayerNormalization)
} p;

#include "device.glsl"

shared float partial[256];

float reduceSum(float v)
{
    uint t = gl_LocalInvocationID.x;
    partial[t] = v;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1)
    {
        if (t < s)
        {
            partial[t] += partial[t + s];
        }

        barrier();
    }

    float total = partial[0];
    barrier();
    return total;
}

void main()
{
    uint plane = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (plane >= p.planes)
    {
        return;
    }

    uint t = gl_LocalInvocationID.x;
    uint base = plane * p.size;
    float sum = 0.0;
    for (uint j = t; j < p.size; j += 256u)
    {
        sum += x[base + j];
    }

    float mean = rfDiv(reduceSum(sum), float(p.size));
    float squares = 0.0;
    for (uint j = t; j < p.size; j += 256u)
    {
        float d = x[base + j] - mean;
        squares += d * d;
    }

    float variance = rfDiv(reduceSum(squares), float(p.size));
    float inverse = rfDiv(1.0, rfSqrt(variance + p.epsilon));
    if (p.perElement != 0u)
    {
        for (uint j = t; j < p.size; j += 256u)
        {
            y[base + j] = (x[base + j] - mean) * inverse * scale[j] + bias[j];
        }

        return;
    }

    uint c = plane % p.channels;
    float factor = scale[c] * inverse;
    float offset = bias[c] - mean * factor;
    for (uint j = t; j < p.size; j += 256u)
    {
        y[base + j] = x[base + j] * factor + offset;
    }
}
