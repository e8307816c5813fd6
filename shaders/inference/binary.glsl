// Elementwise binary operators with numpy broadcasting: the planner gives the output shape (up to 6 dims, right
// aligned) and per-dimension element strides of each input, 0 where that input is broadcast.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    uint op;
    uint shape[6];
    uint strideA[6];
    uint strideB[6];
} p;

#include "device.glsl"

const uint OpAdd = 0u;
const uint OpSub = 1u;
const uint OpMul = 2u;
const uint OpDiv = 3u;
const uint OpPow = 4u;
const uint OpMax = 5u;
const uint OpMin = 6u;
const uint OpPRelu = 7u;
const uint OpEqual = 8u;
const uint OpLess = 9u;
const uint OpGreater = 10u;
const uint OpLessOrEqual = 11u;
const uint OpGreaterOrEqual = 12u;
const uint OpAnd = 13u;
const uint OpOr = 14u;
const uint OpXor = 15u;
const uint OpFmod = 16u;
const uint OpFloorMod = 17u;
const uint OpIntDiv = 18u;

float power(float base, float exponent)
{
    if (exponent == 2.0)
    {
        return base * base;
    }

    if (exponent == 1.0)
    {
        return base;
    }

    if (exponent == 0.0)
    {
        return 1.0;
    }

    if (base >= 0.0)
    {
        return pow(base, exponent);
    }

    // Negative bases have a real power only for integer exponents; its sign follows the exponent's parity.
    if (exponent != floor(exponent))
    {
        return uintBitsToFloat(0x7fc00000u);
    }

    float magnitude = pow(-base, exponent);
    return mod(exponent, 2.0) == 1.0 ? -magnitude : magnitude;
}

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    uint rest = i;
    uint ia = 0u;
    uint ib = 0u;
    for (int d = 5; d >= 0; d--)
    {
        uint coordinate = rest % p.shape[d];
        rest /= p.shape[d];
        ia += coordinate * p.strideA[d];
        ib += coordinate * p.strideB[d];
    }

    float u = a[ia];
    float v = b[ib];
    float r;
    switch (p.op)
    {
        case OpAdd: r = u + v; break;
        case OpSub: r = u - v; break;
        case OpMul: r = u * v; break;
        case OpDiv: r = rfDiv(u, v); break;
        case OpPow: r = power(u, v); break;
        case OpMax: r = max(u, v); break;
        case OpMin: r = min(u, v); break;
        case OpPRelu: r = u >= 0.0 ? u : u * v; break;
        // Comparisons and logic give 1.0 or 0.0: booleans are carried as floats.
        case OpEqual: r = u == v ? 1.0 : 0.0; break;
        case OpLess: r = u < v ? 1.0 : 0.0; break;
        case OpGreater: r = u > v ? 1.0 : 0.0; break;
        case OpLessOrEqual: r = u <= v ? 1.0 : 0.0; break;
        case OpGreaterOrEqual: r = u >= v ? 1.0 : 0.0; break;
        case OpAnd: r = (u != 0.0 && v != 0.0) ? 1.0 : 0.0; break;
        case OpOr: r = (u != 0.0 || v != 0.0) ? 1.0 : 0.0; break;
        case OpXor: r = ((u != 0.0) != (v != 0.0)) ? 1.0 : 0.0; break;
        // Mod with fmod=1 takes the dividend's sign; integer Mod (fmod=0) the divisor's.
        case OpFmod: r = u - v * trunc(u / v); break;
        case OpFloorMod: r = u - v * floor(u / v); break;
        // Division of integer tensors truncates toward zero.
        case OpIntDiv: r = trunc(u / v); break;
        default: r = u; break;
    }

    y[i] = r;
}
