#version 450
// Pad in constant, reflect or edge mode over up to 6 dims (negative pads crop).
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    uint mode; // 0 constant, 1 reflect, 2 edge
    float value;
    uint inShape[6];
    uint outShape[6];
    int padBegin[6];
} p;

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint rest = i;
    uint from = 0u;
    uint stride = 1u;
    for (int d = 5; d >= 0; d--)
    {
        int size = int(p.inShape[d]);
        int coordinate = int(rest % p.outShape[d]) - p.padBegin[d];
        rest /= p.outShape[d];
        if (coordinate < 0 || coordinate >= size)
        {
            if (p.mode == 0u)
            {
                y[i] = p.value;
                return;
            }

            if (p.mode == 1u)
            {
                // Reflection without repeating the edge; the period of the pattern is 2 (size - 1).
                int period = max(2 * (size - 1), 1);
                int c = abs(coordinate) % period;
                coordinate = c < size ? c : period - c;
            }
            else
            {
                coordinate = clamp(coordinate, 0, size - 1);
            }
        }

        from += uint(coordinate) * stride;
        stride *= uint(size);
    }

    y[i] = x[from];
}
