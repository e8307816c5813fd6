#version 450
// Copies the whole push-constant block into a buffer, so tests can see exactly what arrived.

layout(local_size_x = 1) in;

layout(set = 0, binding = 0, std430) writeonly buffer Result { uint words[]; };

layout(push_constant, std430) uniform Params
{
    uint values[16];
} params;

void main()
{
    for (uint i = 0; i < 16; i++)
    {
        words[i] = params.values[i];
    }
}
