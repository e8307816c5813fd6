#version 450
// Burns a known amount of ALU work per invocation so dispatch timing has something to measure.
// The result is written out so the compiler cannot drop the loop.

layout(local_size_x = 64) in;

layout(set = 0, binding = 0, std430) writeonly buffer Result { uint result[]; };

layout(push_constant, std430) uniform Params
{
    uint iterations;
} params;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    uint state = i * 747796405u + 2891336453u;
    for (uint k = 0; k < params.iterations; k++)
    {
        // PCG-style hash step: cheap, but not foldable at compile time.
        state = state * 747796405u + 2891336453u;
        state ^= state >> 16;
    }
    result[i] = state;
}
