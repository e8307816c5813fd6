#version 450
// Where(condition, x, y) with numpy broadcasting of all three: the planner gives the output shape (up to 6 dims,
// right aligned) and per-dimension element strides of each input, 0 where that input is broadcast.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer C { float c[]; };
layout(std430, set = 0, binding = 1) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 2) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    uint shape[6];
    uint strideC[6];
    uint strideA[6];
    uint strideB[6];
} p;

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint rest = i;
    uint ic = 0u;
    uint ia = 0u;
    uint ib = 0u;
    for (int d = 5; d >= 0; d--)
    {
        uint coordinate = rest % p.shape[d];
        rest /= p.shape[d];
        ic += coordinate * p.strideC[d];
        ia += coordinate * p.strideA[d];
        ib += coordinate * p.strideB[d];
    }

    y[i] = c[ic] != 0.0 ? a[ia] : b[ib];
}
