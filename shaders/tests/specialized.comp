#version 450
// Writes VALUE * SCALE to every element: shows that a pipeline's specialization constants reach the driver.

layout(local_size_x = 64) in;

layout(constant_id = 0) const uint VALUE = 7u;
layout(constant_id = 1) const uint SCALE = 1u;

layout(set = 0, binding = 0, std430) writeonly buffer Result { uint result[]; };

void main()
{
    result[gl_GlobalInvocationID.x] = VALUE * SCALE;
}
