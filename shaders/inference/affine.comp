#version 450
// Per-channel affine map y = x * scale[c] + shift[c] over an NC... tensor: BatchNormalization at inference,
// with its statistics folded into scale and shift by the planner.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer S { float scale[]; };
layout(std430, set = 0, binding = 2) readonly buffer T { float shift[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    uint channels;
    uint inner;
} p;

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint c = (i / p.inner) % p.channels;
    y[i] = x[i] * scale[c] + shift[c];
}
