#version 450
// Gather along one axis of a tensor viewed as [outer, axisLength, inner] with indices computed at run time (held
// as floats like every integer tensor). Negative indices count from the end; an index outside the axis, which ONNX
// leaves undefined, gives 0 instead of reading outside the tensor.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer I { float indices[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    uint axisLength;
    uint count;
    uint inner;
} p;

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint inner = i % p.inner;
    uint k = (i / p.inner) % p.count;
    uint outer = i / (p.inner * p.count);
    float raw = trunc(indices[k]);
    float length = float(p.axisLength);
    float index = raw < 0.0 ? raw + length : raw;
    y[i] = index >= 0.0 && index < length ? x[(outer * p.axisLength + uint(index)) * p.inner + inner] : 0.0;
}
