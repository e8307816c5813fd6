#version 450
// Copies a strided view of X into a strided view of Y over an iteration shape of up to 6 dims:
// Transpose, Slice (any step), Concat (one dispatch per input), DepthToSpace/SpaceToDepth and Expand.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    int inOffset;
    int outOffset;
    uint shape[6];
    int inStride[6];
    int outStride[6];
} p;

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint rest = i;
    int from = p.inOffset;
    int to = p.outOffset;
    for (int d = 5; d >= 0; d--)
    {
        int coordinate = int(rest % p.shape[d]);
        rest /= p.shape[d];
        from += coordinate * p.inStride[d];
        to += coordinate * p.outStride[d];
    }

    y[to] = x[from];
}
