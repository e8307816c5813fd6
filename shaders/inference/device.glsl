// Arithmetic whose rounding the Vulkan specification leaves to the device. The kernels the engine runs use the plain
// definitions; the `*_other_device` builds (RF_OTHER_DEVICE) behave like another conforming device, to measure how far
// honest results may move between devices before tolerances are trusted. They are never used to deliver outputs.
//   - multiply-adds are contracted into fused multiply-adds (rfMad), and reductions walk their terms in another order;
//   - exp, log, sqrt and division land at the edge of their precision bounds (Vulkan 1.2, "Precision and Operation of
//     SPIR-V Instructions": exp 3 + 2|x| ULP, log 3 ULP, inversesqrt 2 ULP and so sqrt about 3, division 2.5 ULP),
//     one way or the other by a hash of the operands.

#ifdef RF_OTHER_DEVICE

uint rfHash(uint v)
{
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    v ^= v >> 16;
    return v;
}

// r moved by `ulps` units in the last place, away from or toward zero by a hash of r and `salt`; zero, subnormal,
// infinite and NaN results stay. From a normal exponent (1 to 253) a few hundred units never reach the sign bit or
// an infinity.
float rfNudge(float r, uint ulps, float salt)
{
    uint bits = floatBitsToUint(r);
    uint exponent = (bits >> 23) & 0xffu;
    if (exponent == 0u || exponent >= 0xfeu)
    {
        return r;
    }

    bool up = (rfHash(bits ^ (floatBitsToUint(salt) * 0x9e3779b9u)) & 1u) != 0u;
    return uintBitsToFloat(up ? bits + ulps : bits - ulps);
}

float rfMad(float a, float b, float c) { return fma(a, b, c); }
float rfExp(float v) { return rfNudge(exp(v), 3u + uint(min(2.0 * abs(v), 200.0)), v); }
float rfLog(float v) { return rfNudge(log(v), 3u, v); }
float rfSqrt(float v) { return rfNudge(sqrt(v), 3u, v); }
float rfDiv(float a, float b) { return rfNudge(a / b, 2u, a + b); }

#else

float rfMad(float a, float b, float c) { return c + a * b; }
float rfExp(float v) { return exp(v); }
float rfLog(float v) { return log(v); }
float rfSqrt(float v) { return sqrt(v); }
float rfDiv(float a, float b) { return a / b; }

#endif
