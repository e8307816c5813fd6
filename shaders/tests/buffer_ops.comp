#version 450
// saxpy: result[i] = a * x[i] + y[i]. Exercises storage buffers and push constants.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer Y { float y[]; };
layout(set = 0, binding = 2, std430) writeonly buffer Result { float result[]; };

layout(push_constant, std430) uniform Params
{
    float a;
    uint count;
} params;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i < params.count)
    {
        result[i] = params.a * x[i] + y[i];
    }
}
