// The device's arithmetic. The farm's build maps these names to the built-in functions. The other-device
// build (pathtrace_other_device.comp, RF_OTHER_DEVICE) behaves like another conforming Vulkan driver, so
// verification can measure how far honest renders on different hardware drift apart: the dot and cross
// products of ray-triangle intersection are evaluated in another order with fused multiply-adds, and
// every transcendental result carries an error at the bound the Vulkan specification allows for it
// (sin and cos: absolute 2^-11; sqrt: 2.5 ulp, from 1/inversesqrt; inversesqrt: 2 ulp; pow: from
// exp2(y * log2(x)), log2 absolute 2^-21 within [0.5, 2] and 3 ulp outside, exp2 3 + 2|x| ulp). The
// error is a fixed pseudo-random function of the argument, as a device's would be.
#ifdef RF_OTHER_DEVICE
const float ULP1 = 1.1920929e-7;

// A deterministic value in [-1, 1) from the bits of the arguments.
float deviceError(float x, float y)
{
    uint h = floatBitsToUint(x) * 747796405u + floatBitsToUint(y) * 2891336453u + 0x9e3779b9u;
    h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
    h = (h >> 22u) ^ h;
    return float(h >> 8u) * (2.0 / 16777216.0) - 1.0;
}

float dev_sin(float x) { return clamp(sin(x) + 4.8828125e-4 * deviceError(x, 1.0), -1.0, 1.0); }
float dev_cos(float x) { return clamp(cos(x) + 4.8828125e-4 * deviceError(x, 2.0), -1.0, 1.0); }
float dev_sqrt(float x) { return sqrt(x) * (1.0 + 2.5 * ULP1 * deviceError(x, 3.0)); }
float dev_inversesqrt(float x) { return inversesqrt(x) * (1.0 + 2.0 * ULP1 * deviceError(x, 4.0)); }
float dev_pow(float x, float y)
{
    float l = log2(x);
    l += (x >= 0.5 && x <= 2.0) ? 4.76837158e-7 * deviceError(x, 5.0) : 3.0 * ULP1 * abs(l) * deviceError(x, 6.0);
    float z = y * l;
    return exp2(z) * (1.0 + (3.0 + 2.0 * abs(z)) * ULP1 * deviceError(z, 7.0));
}
float dev_dot(vec3 a, vec3 b) { return fma(a.z, b.z, fma(a.y, b.y, a.x * b.x)); }
vec3 dev_cross(vec3 a, vec3 b)
{
    return vec3(fma(a.y, b.z, -(a.z * b.y)), fma(a.z, b.x, -(a.x * b.z)), fma(a.x, b.y, -(a.y * b.x)));
}
#else
#define dev_sin sin
#define dev_cos cos
#define dev_sqrt sqrt
#define dev_inversesqrt inversesqrt
#define dev_pow pow
#define dev_dot dot
#define dev_cross cross
#endif
