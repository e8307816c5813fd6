// Reductions and softmax along one axis of a tensor viewed as [outer, length, inner]; one invocation per
// (outer, inner) pair walks the axis.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;      // outer * inner
    uint axisLength;
    uint inner;
    uint op;     // 0 mean, 1 sum, 2 max, 3 min, 4 argmax, 5 argmin (+2: last index), 10 softmax, 11 log-softmax,
                 // 12 cumulative sum (+1 exclusive, +2 reverse)
} p;

#include "device.glsl"

#ifdef RF_OTHER_DEVICE
#define RF_AXIS(step) (p.axisLength - 1u - (step))
#else
#define RF_AXIS(step) (step)
#endif

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint outer = i / p.inner;
    uint inner = i % p.inner;
    uint base = outer * p.axisLength * p.inner + inner;

    if (p.op >= 12u && p.op <= 15u)
    {
        bool exclusive = (p.op & 1u) != 0u;
        bool reverse = p.op >= 14u;
        float total = 0.0;
        for (uint t = 0u; t < p.axisLength; t++)
        {
            uint j = reverse ? p.axisLength - 1u - t : t;
            float v = x[base + j * p.inner];
            if (exclusive)
            {
                y[base + j * p.inner] = total;
                total += v;
            }
            else
            {
                total += v;
                y[base + j * p.inner] = total;
            }
        }

        return;
    }

    if (p.op >= 4u && p.op <= 7u)
    {
        // The index of the first (or, +2, last) extreme value; written as a float like every integer.
        bool largest = p.op == 4u || p.op == 6u;
        bool last = p.op >= 6u;
        uint best = 0u;
        float bestValue = x[base];
        for (uint j = 1u; j < p.axisLength; j++)
        {
            float v = x[base + j * p.inner];
            bool better = largest ? (v > bestValue || (last && v == bestValue)) : (v < bestValue || (last && v == bestValue));
            if (better)
            {
                best = j;
                bestValue = v;
            }
        }

        y[i] = float(best);
        return;
    }

    if (p.op >= 10u)
    {
        float largest = uintBitsToFloat(0xff800000u);
        for (uint j = 0u; j < p.axisLength; j++)
        {
            largest = max(largest, x[base + j * p.inner]);
        }

        float total = 0.0;
        for (uint step = 0u; step < p.axisLength; step++)
        {
            uint j = RF_AXIS(step);
            total += rfExp(x[base + j * p.inner] - largest);
        }

        if (p.op == 10u)
        {
            float scale = rfDiv(1.0, total);
            for (uint j = 0u; j < p.axisLength; j++)
            {
                y[base + j * p.inner] = rfExp(x[base + j * p.inner] - largest) * scale;
            }
        }
        else
        {
            float offset = largest + rfLog(total);
            for (uint j = 0u; j < p.axisLength; j++)
            {
                y[base + j * p.inner] = x[base + j * p.inner] - offset;
            }
        }

        return;
    }

    float r = p.op == 2u ? uintBitsToFloat(0xff800000u) : (p.op == 3u ? uintBitsToFloat(0x7f800000u) : 0.0);
    for (uint step = 0u; step < p.axisLength; step++)
    {
        float v = x[base + RF_AXIS(step) * p.inner];
        if (p.op == 2u)
        {
            r = max(r, v);
        }
        else if (p.op == 3u)
        {
            r = min(r, v);
        }
        else
        {
            r += v;
        }
    }

    if (p.op == 0u)
    {
        r = rfDiv(r, float(p.axisLength));
    }

    y[i] = r;
}
