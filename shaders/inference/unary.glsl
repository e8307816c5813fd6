// Elementwise unary operators: y = f(x), selected by an op code.
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params
{
    uint n;
    uint op;
    float alpha;
    float beta;
} p;

#include "device.glsl"

const uint OpCopy = 0u;
const uint OpRelu = 1u;
const uint OpLeakyRelu = 2u;
const uint OpSigmoid = 3u;
const uint OpTanh = 4u;
const uint OpClip = 5u;
const uint OpHardSigmoid = 6u;
const uint OpHardSwish = 7u;
const uint OpSqrt = 8u;
const uint OpExp = 9u;
const uint OpNeg = 10u;
const uint OpAbs = 11u;
const uint OpLog = 12u;
const uint OpReciprocal = 13u;
const uint OpAffine = 14u;
const uint OpElu = 15u;
const uint OpErf = 16u;
const uint OpGelu = 17u;
const uint OpGeluTanh = 18u;
const uint OpSoftplus = 19u;
const uint OpNot = 20u;
const uint OpFloor = 21u;
const uint OpCeil = 22u;
const uint OpRound = 23u;
const uint OpTrunc = 24u;
const uint OpToBool = 25u;
const uint OpSign = 26u;
const uint OpSin = 27u;
const uint OpCos = 28u;

// erf with max abs error 1.5e-7 (Abramowitz and Stegun 7.1.26).
float erfApprox(float v)
{
    float t = rfDiv(1.0, 1.0 + 0.3275911 * abs(v));
    float poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return sign(v) * (1.0 - poly * rfExp(-v * v));
}

float tanhSafe(float v)
{
    // tanh(v) = sign(v) (1 - e^{-2|v|}) / (1 + e^{-2|v|}): no overflow for large |v|.
    float e = rfExp(-2.0 * abs(v));
    return sign(v) * rfDiv(1.0 - e, 1.0 + e);
}

void main()
{
    uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n)
    {
        return;
    }

    float v = x[i];
    float r;
    switch (p.op)
    {
        case OpRelu: r = max(v, 0.0); break;
        case OpLeakyRelu: r = v >= 0.0 ? v : p.alpha * v; break;
        case OpSigmoid: r = rfDiv(1.0, 1.0 + rfExp(-v)); break;
        case OpTanh: r = tanhSafe(v); break;
        case OpClip: r = min(max(v, p.alpha), p.beta); break;
        case OpHardSigmoid: r = clamp(p.alpha * v + p.beta, 0.0, 1.0); break;
        case OpHardSwish: r = v * clamp(rfDiv(v, 6.0) + 0.5, 0.0, 1.0); break;
        case OpSqrt: r = rfSqrt(v); break;
        case OpExp: r = rfExp(v); break;
        case OpNeg: r = -v; break;
        case OpAbs: r = abs(v); break;
        case OpLog: r = rfLog(v); break;
        case OpReciprocal: r = rfDiv(1.0, v); break;
        case OpAffine: r = p.alpha * v + p.beta; break;
        case OpElu: r = v >= 0.0 ? v : p.alpha * (rfExp(v) - 1.0); break;
        case OpErf: r = erfApprox(v); break;
        case OpGelu: r = 0.5 * v * (1.0 + erfApprox(v * 0.70710678118654752)); break;
        case OpGeluTanh: r = 0.5 * v * (1.0 + tanhSafe(0.79788456080286536 * (v + 0.044715 * v * v * v))); break;
        case OpSoftplus: r = v > 20.0 ? v : rfLog(1.0 + rfExp(v)); break;
        case OpNot: r = v == 0.0 ? 1.0 : 0.0; break;
        case OpFloor: r = floor(v); break;
        case OpCeil: r = ceil(v); break;
        case OpRound: r = roundEven(v); break;
        case OpTrunc: r = trunc(v); break;
        case OpToBool: r = v != 0.0 ? 1.0 : 0.0; break;
        case OpSign: r = sign(v); break;
        case OpSin: r = sin(v); break;
        case OpCos: r = cos(v); break;
        default: r = v; break;
    }

    y[i] = r;
}
