// RenderFarm path tracer: one invocation per pixel of a tile, adding SampleCount samples to the
// pixel's running sum. Buffers mirror src/RenderFarm.Rendering/PathTracing/GpuLayout.cs (std430).
//
// Light transport: unidirectional path tracing with next-event estimation to emissive triangles
// (chosen in proportion to power) and punctual lights, multiple importance sampling (power
// heuristic) between light and BSDF sampling, a glTF metallic-roughness BSDF (Lambert diffuse plus
// GGX microfacet specular with Smith height-correlated masking and Schlick Fresnel, specular
// sampled from the visible-normal distribution) and Russian roulette.
//
// Determinism: every random number of a sample comes from a stream seeded by
// (job seed, frame, pixel, sample index), and samples are added to the pixel's sum in index order,
// so the result does not depend on how the work was split into dispatches.

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

layout(local_size_x = 8, local_size_y = 8, local_size_z = 1) in;

struct BvhNode { vec3 bmin; uint leftOrFirst; vec3 bmax; uint count; };
struct Triangle { vec3 v0; uint material; vec3 v1; uint emitterProbabilityBits; vec3 v2; uint padding2; };
struct TriangleShading { vec4 n0; vec4 n1; vec4 n2; vec4 t0; vec4 t1; vec4 t2; vec4 uv01; vec4 uv2; };
struct Material
{
    vec4 baseColor;
    vec4 emissive;
    float metallic;
    float roughness;
    float normalScale;
    float padding;
    int baseColorTexture;
    int metallicRoughnessTexture;
    int normalTexture;
    int emissiveTexture;
};
struct Texture { uint offset; uint width; uint height; uint flags; };
struct Emitter { uint triangle; float area; float cdf; float probability; };
struct Light
{
    vec3 position; uint type;
    vec3 direction; float range;
    vec3 intensity; float innerConeCos;
    float outerConeCos; float padding0; float padding1; float padding2;
};

layout(std430, set = 0, binding = 0) readonly buffer FrameBlock
{
    vec4 cameraOrigin;
    vec4 cameraRight;
    vec4 cameraUp;
    vec4 cameraForward;
    vec4 environment;
    uint width;
    uint height;
    uint seed;
    uint frame;
    uint emitterCount;
    uint lightCount;
    uint maxBounces;
    uint flags;
} u_frame;
layout(std430, set = 0, binding = 1) readonly buffer NodeBlock { BvhNode nodes[]; };
layout(std430, set = 0, binding = 2) readonly buffer TriangleBlock { Triangle triangles[]; };
layout(std430, set = 0, binding = 3) readonly buffer ShadingBlock { TriangleShading shading[]; };
layout(std430, set = 0, binding = 4) readonly buffer MaterialBlock { Material materials[]; };
layout(std430, set = 0, binding = 5) readonly buffer TextureBlock { Texture textures[]; };
layout(std430, set = 0, binding = 6) readonly buffer TexelBlock { uint texels[]; };
layout(std430, set = 0, binding = 7) readonly buffer EmitterBlock { Emitter emitters[]; };
layout(std430, set = 0, binding = 8) readonly buffer LightBlock { Light lights[]; };
// Per pixel of the current tile: the running sum of samples (rgb) and the count of dropped samples (a).
layout(std430, set = 0, binding = 9) buffer AccumulationBlock { vec4 accumulation[]; };
// Rays traced per pixel of the current tile (camera, bounce and shadow rays), for the Mrays/s figure.
layout(std430, set = 0, binding = 10) buffer RayCountBlock { uint rayCounts[]; };

layout(push_constant) uniform TilePush
{
    uint tileX;
    uint tileY;
    uint tileWidth;
    uint tileHeight;
    uint sampleStart;
    uint sampleCount;
    uint padding0;
    uint padding1;
} u_tile;

const float PI = 3.14159265358979;
const float INFINITY = 1.0e30;
const uint FLAG_ORTHOGRAPHIC = 1u;
const uint LIGHT_POINT = 0u;
const uint LIGHT_SPOT = 1u;
const uint LIGHT_DIRECTIONAL = 2u;
const uint TEXTURE_NEAREST = 16u;
const uint TEXTURE_SRGB = 32u;
const int STACK_SIZE = 64;

uint g_rayCount = 0u;

// ---------------------------------------------------------------- random streams

// PCG-style integer hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020).
uint pcgHash(uint v)
{
    uint state = v * 747796405u + 2891336453u;
    uint word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// The stream of one sample; RandomStream.cs mirrors this exactly.
uint streamSeed(uint jobSeed, uint frameNumber, uint pixel, uint sampleIndex)
{
    return pcgHash(pcgHash(pcgHash(pcgHash(jobSeed) ^ frameNumber) ^ pixel) ^ sampleIndex);
}

float nextFloat(inout uint state)
{
    state = pcgHash(state);
    return float(state >> 8u) * (1.0 / 16777216.0);
}

// ---------------------------------------------------------------- geometry

struct Hit
{
    float t;
    float u;
    float v;
    uint triangle;
};

bool intersectTriangle(vec3 origin, vec3 direction, Triangle tri, float tMax, out float t, out float u, out float v)
{
    vec3 e1 = tri.v1 - tri.v0;
    vec3 e2 = tri.v2 - tri.v0;
    vec3 p = dev_cross(direction, e2);
    float det = dev_dot(e1, p);
    if (abs(det) < 1.0e-12)
    {
        return false;
    }
    float invDet = 1.0 / det;
    vec3 s = origin - tri.v0;
    u = dev_dot(s, p) * invDet;
    if (u < 0.0 || u > 1.0)
    {
        return false;
    }
    vec3 q = dev_cross(s, e1);
    v = dev_dot(direction, q) * invDet;
    if (v < 0.0 || u + v > 1.0)
    {
        return false;
    }
    t = dev_dot(e2, q) * invDet;
    return t > 0.0 && t < tMax;
}

float intersectBox(vec3 origin, vec3 inverseDirection, vec3 bmin, vec3 bmax, float tMax)
{
    vec3 t0 = (bmin - origin) * inverseDirection;
    vec3 t1 = (bmax - origin) * inverseDirection;
    vec3 tNear = min(t0, t1);
    vec3 tFar = max(t0, t1);
    float enter = max(max(tNear.x, tNear.y), max(tNear.z, 0.0));
    float exit = min(min(tFar.x, tFar.y), min(tFar.z, tMax));
    return enter <= exit ? enter : INFINITY;
}

// Closest hit when anyHit is false; the first hit found (for shadow rays) when true.
bool traceRay(vec3 origin, vec3 direction, float tMax, bool anyHit, out Hit hit)
{
    g_rayCount++;
    hit.t = tMax;
    hit.u = 0.0;
    hit.v = 0.0;
    hit.triangle = 0u;
    bool found = false;
    vec3 inverseDirection = 1.0 / direction;
    uint stack[STACK_SIZE];
    int stackSize = 0;
    uint nodeIndex = 0u;
    if (intersectBox(origin, inverseDirection, nodes[0].bmin, nodes[0].bmax, hit.t) == INFINITY)
    {
        return false;
    }
    while (true)
    {
        BvhNode node = nodes[nodeIndex];
        if (node.count > 0u)
        {
            for (uint i = node.leftOrFirst; i < node.leftOrFirst + node.count; i++)
            {
                float t, u, v;
                if (intersectTriangle(origin, direction, triangles[i], hit.t, t, u, v))
                {
                    hit.t = t;
                    hit.u = u;
                    hit.v = v;
                    hit.triangle = i;
                    found = true;
                    if (anyHit)
                    {
                        return true;
                    }
                }
            }
        }
        else
        {
            uint left = node.leftOrFirst;
            uint right = left + 1u;
            float dLeft = intersectBox(origin, inverseDirection, nodes[left].bmin, nodes[left].bmax, hit.t);
            float dRight = intersectBox(origin, inverseDirection, nodes[right].bmin, nodes[right].bmax, hit.t);
            if (dLeft > dRight)
            {
                float d = dLeft; dLeft = dRight; dRight = d;
                uint n = left; left = right; right = n;
            }
            if (dLeft != INFINITY)
            {
                if (dRight != INFINITY && stackSize < STACK_SIZE)
                {
                    stack[stackSize++] = right;
                }
                nodeIndex = left;
                continue;
            }
        }
        // Pop the next node that may still hold a closer hit.
        bool popped = false;
        while (stackSize > 0)
        {
            uint candidate = stack[--stackSize];
            if (intersectBox(origin, inverseDirection, nodes[candidate].bmin, nodes[candidate].bmax, hit.t) != INFINITY)
            {
                nodeIndex = candidate;
                popped = true;
                break;
            }
        }
        if (!popped)
        {
            break;
        }
    }
    return found;
}

// Moves a ray origin off the surface along the geometric normal, on the side the ray leaves by,
// by an amount that scales with the coordinates' magnitude (float spacing).
vec3 offsetOrigin(vec3 position, vec3 geometricNormal, vec3 direction)
{
    float scale = 1.0e-4 * (1.0 + max(max(abs(position.x), abs(position.y)), abs(position.z)));
    return position + geometricNormal * (dot(direction, geometricNormal) > 0.0 ? scale : -scale);
}

// ---------------------------------------------------------------- textures

float srgbToLinear(float c)
{
    return c <= 0.04045 ? c / 12.92 : dev_pow((c + 0.055) / 1.055, 2.4);
}

int wrapCoordinate(int i, uint size, uint mode)
{
    int n = int(size);
    if (mode == 1u)
    {
        return clamp(i, 0, n - 1);
    }
    if (mode == 2u)
    {
        int period = 2 * n;
        int m = ((i % period) + period) % period;
        return m < n ? m : period - 1 - m;
    }
    return ((i % n) + n) % n;
}

vec4 fetchTexel(Texture tex, int x, int y)
{
    uint wrapS = tex.flags & 3u;
    uint wrapT = (tex.flags >> 2u) & 3u;
    uint xi = uint(wrapCoordinate(x, tex.width, wrapS));
    uint yi = uint(wrapCoordinate(y, tex.height, wrapT));
    vec4 c = unpackUnorm4x8(texels[tex.offset + yi * tex.width + xi]);
    if ((tex.flags & TEXTURE_SRGB) != 0u)
    {
        c.rgb = vec3(srgbToLinear(c.r), srgbToLinear(c.g), srgbToLinear(c.b));
    }
    return c;
}

vec4 sampleTexture(int index, vec2 uv)
{
    Texture tex = textures[index];
    vec2 p = uv * vec2(tex.width, tex.height);
    if ((tex.flags & TEXTURE_NEAREST) != 0u)
    {
        return fetchTexel(tex, int(floor(p.x)), int(floor(p.y)));
    }
    p -= 0.5;
    vec2 base = floor(p);
    vec2 f = p - base;
    int x = int(base.x);
    int y = int(base.y);
    vec4 c00 = fetchTexel(tex, x, y);
    vec4 c10 = fetchTexel(tex, x + 1, y);
    vec4 c01 = fetchTexel(tex, x, y + 1);
    vec4 c11 = fetchTexel(tex, x + 1, y + 1);
    return mix(mix(c00, c10, f.x), mix(c01, c11, f.x), f.y);
}

// ---------------------------------------------------------------- shading point

struct SurfacePoint
{
    vec3 position;
    vec3 geometricNormal; // faces the incoming ray
    vec3 normal;          // shading normal, same hemisphere as geometricNormal
    vec3 baseColor;
    vec3 emission;
    float metallic;
    float alpha;          // GGX alpha = roughness²
};

vec2 interpolateUv(TriangleShading s, float u, float v)
{
    return s.uv01.xy * (1.0 - u - v) + s.uv01.zw * u + s.uv2.xy * v;
}

vec3 materialEmission(Material m, vec2 uv)
{
    vec3 e = m.emissive.rgb;
    if (m.emissiveTexture >= 0 && any(greaterThan(e, vec3(0.0))))
    {
        e *= sampleTexture(m.emissiveTexture, uv).rgb;
    }
    return e;
}

SurfacePoint surfaceAt(Hit hit, vec3 rayOrigin, vec3 rayDirection)
{
    Triangle tri = triangles[hit.triangle];
    TriangleShading s = shading[hit.triangle];
    Material m = materials[tri.material];
    float w = 1.0 - hit.u - hit.v;
    vec2 uv = interpolateUv(s, hit.u, hit.v);

    SurfacePoint p;
    p.position = rayOrigin + rayDirection * hit.t;
    vec3 ng = normalize(cross(tri.v1 - tri.v0, tri.v2 - tri.v0));
    vec3 n = s.n0.xyz * w + s.n1.xyz * hit.u + s.n2.xyz * hit.v;
    n = dot(n, n) > 0.0 ? normalize(n) : ng;
    if (dot(n, ng) < 0.0)
    {
        ng = -ng;
    }

    vec4 tangent = s.t0 * w + s.t1 * hit.u + s.t2 * hit.v;
    if (m.normalTexture >= 0 && dot(tangent.xyz, tangent.xyz) > 0.0)
    {
        vec3 t = normalize(tangent.xyz - n * dot(n, tangent.xyz));
        vec3 b = cross(n, t) * (tangent.w < 0.0 ? -1.0 : 1.0);
        vec3 tn = sampleTexture(m.normalTexture, uv).xyz * 2.0 - 1.0;
        tn.xy *= m.normalScale;
        vec3 mapped = t * tn.x + b * tn.y + n * tn.z;
        if (dot(mapped, mapped) > 0.0)
        {
            n = normalize(mapped);
        }
    }

    // Surfaces are two-sided: face both normals towards the viewer.
    if (dot(ng, rayDirection) > 0.0)
    {
        ng = -ng;
        n = -n;
    }
    // Keep the shading normal in the viewer's hemisphere so interpolation never shades from behind.
    float nv = dot(n, -rayDirection);
    if (nv <= 1.0e-4)
    {
        n = normalize(n + ng * (1.0e-4 - nv + 1.0e-3));
    }
    p.geometricNormal = ng;
    p.normal = n;

    vec4 base = m.baseColor;
    if (m.baseColorTexture >= 0)
    {
        base *= sampleTexture(m.baseColorTexture, uv);
    }
    float metallic = m.metallic;
    float roughness = m.roughness;
    if (m.metallicRoughnessTexture >= 0)
    {
        vec4 mr = sampleTexture(m.metallicRoughnessTexture, uv);
        roughness *= mr.g;
        metallic *= mr.b;
    }
    p.baseColor = base.rgb;
    p.metallic = clamp(metallic, 0.0, 1.0);
    roughness = clamp(roughness, 0.03, 1.0);
    p.alpha = roughness * roughness;
    p.emission = materialEmission(m, uv);
    return p;
}

// ---------------------------------------------------------------- BSDF

float luminance(vec3 c)
{
    return dot(c, vec3(0.2126, 0.7152, 0.0722));
}

vec3 fresnelSchlick(vec3 f0, float cosTheta)
{
    float f = dev_pow(1.0 - clamp(cosTheta, 0.0, 1.0), 5.0);
    return f0 + (vec3(1.0) - f0) * f;
}

float ggxD(float nh, float alpha)
{
    float a2 = alpha * alpha;
    float d = nh * nh * (a2 - 1.0) + 1.0;
    return a2 / (PI * d * d);
}

float smithLambda(float nx, float alpha)
{
    float a2 = alpha * alpha;
    float n2 = nx * nx;
    return (dev_sqrt(1.0 + a2 * (1.0 - n2) / max(n2, 1.0e-8)) - 1.0) * 0.5;
}

float smithG1(float nx, float alpha)
{
    return 1.0 / (1.0 + smithLambda(nx, alpha));
}

float smithG2(float nl, float nv, float alpha)
{
    return 1.0 / (1.0 + smithLambda(nl, alpha) + smithLambda(nv, alpha));
}

vec3 specularF0(SurfacePoint p)
{
    return mix(vec3(0.04), p.baseColor, p.metallic);
}

// Probability of sampling the specular lobe, from the lobes' expected weights at this view angle.
float specularProbability(SurfacePoint p, float nv)
{
    vec3 f = fresnelSchlick(specularF0(p), nv);
    float specular = luminance(f);
    float diffuse = (1.0 - p.metallic) * luminance(p.baseColor) * (1.0 - luminance(f));
    float total = specular + diffuse;
    return total > 0.0 ? clamp(specular / total, 0.1, 1.0) : 1.0;
}

// BSDF value times nothing (cosine applied by the caller) and its sampling pdf for direction wi.
vec3 evaluateBsdf(SurfacePoint p, vec3 wo, vec3 wi, out float pdf)
{
    pdf = 0.0;
    vec3 n = p.normal;
    float nl = dot(n, wi);
    float nv = dot(n, wo);
    if (nl <= 0.0 || nv <= 0.0 || dot(p.geometricNormal, wi) <= 0.0)
    {
        return vec3(0.0);
    }
    vec3 h = normalize(wi + wo);
    float nh = max(dot(n, h), 0.0);
    float vh = max(dot(wo, h), 0.0);
    vec3 f = fresnelSchlick(specularF0(p), vh);
    float d = ggxD(nh, p.alpha);
    vec3 specular = f * d * smithG2(nl, nv, p.alpha) / (4.0 * nl * nv);
    // The diffuse layer keeps what the specular layer does not reflect, taken at the view angle:
    // a per-direction F(v·h) weight does not bound the sum of both layers by one at grazing angles.
    vec3 diffuse = (vec3(1.0) - fresnelSchlick(specularF0(p), nv)) * (1.0 - p.metallic) * p.baseColor / PI;

    float ps = specularProbability(p, nv);
    // Visible-normal pdf of h, converted to a pdf of wi.
    float specularPdf = smithG1(nv, p.alpha) * d / (4.0 * nv);
    pdf = ps * specularPdf + (1.0 - ps) * nl / PI;
    return specular + diffuse;
}

void orthonormalBasis(vec3 n, out vec3 t, out vec3 b)
{
    // Duff et al., "Building an Orthonormal Basis, Revisited" (2017).
    float s = n.z >= 0.0 ? 1.0 : -1.0;
    float a = -1.0 / (s + n.z);
    float c = n.x * n.y * a;
    t = vec3(1.0 + s * n.x * n.x * a, s * c, -s * n.x);
    b = vec3(c, s + n.y * n.y * a, -n.y);
}

// Heitz 2018, "Sampling the GGX Distribution of Visible Normals"; ve in the local frame.
vec3 sampleGgxVisibleNormal(vec3 ve, float alpha, float r1, float r2)
{
    vec3 vh = normalize(vec3(alpha * ve.x, alpha * ve.y, ve.z));
    float lensq = vh.x * vh.x + vh.y * vh.y;
    vec3 t1 = lensq > 0.0 ? vec3(-vh.y, vh.x, 0.0) * dev_inversesqrt(lensq) : vec3(1.0, 0.0, 0.0);
    vec3 t2 = cross(vh, t1);
    float r = dev_sqrt(r1);
    float phi = 2.0 * PI * r2;
    float p1 = r * dev_cos(phi);
    float p2 = r * dev_sin(phi);
    float s = 0.5 * (1.0 + vh.z);
    p2 = (1.0 - s) * dev_sqrt(max(0.0, 1.0 - p1 * p1)) + s * p2;
    vec3 nh = p1 * t1 + p2 * t2 + dev_sqrt(max(0.0, 1.0 - p1 * p1 - p2 * p2)) * vh;
    return normalize(vec3(alpha * nh.x, alpha * nh.y, max(0.0, nh.z)));
}

// Picks a direction from the BSDF; false when the sample is below the surface.
bool sampleBsdf(SurfacePoint p, vec3 wo, inout uint rng, out vec3 wi)
{
    vec3 n = p.normal;
    vec3 t, b;
    orthonormalBasis(n, t, b);
    float nv = max(dot(n, wo), 1.0e-6);
    float ps = specularProbability(p, nv);
    float choice = nextFloat(rng);
    float r1 = nextFloat(rng);
    float r2 = nextFloat(rng);
    if (choice < ps)
    {
        vec3 woLocal = vec3(dot(wo, t), dot(wo, b), dot(wo, n));
        vec3 h = sampleGgxVisibleNormal(woLocal, p.alpha, r1, r2);
        vec3 hWorld = t * h.x + b * h.y + n * h.z;
        wi = reflect(-wo, hWorld);
    }
    else
    {
        float r = dev_sqrt(r1);
        float phi = 2.0 * PI * r2;
        wi = t * (r * dev_cos(phi)) + b * (r * dev_sin(phi)) + n * dev_sqrt(max(0.0, 1.0 - r1));
    }
    return dot(wi, n) > 0.0 && dot(wi, p.geometricNormal) > 0.0;
}

float powerHeuristic(float a, float b)
{
    float a2 = a * a;
    float b2 = b * b;
    return a2 + b2 > 0.0 ? a2 / (a2 + b2) : 0.0;
}

// ---------------------------------------------------------------- lights

bool visible(vec3 origin, vec3 direction, float distance)
{
    Hit shadow;
    return !traceRay(origin, direction, distance, true, shadow);
}

uint pickEmitter(float r)
{
    uint lo = 0u;
    uint hi = u_frame.emitterCount - 1u;
    while (lo < hi)
    {
        uint mid = (lo + hi) / 2u;
        if (r < emitters[mid].cdf)
        {
            hi = mid;
        }
        else
        {
            lo = mid + 1u;
        }
    }
    return lo;
}

// A light sample on an emissive triangle: the direction and distance to the sampled point and
// what it adds (MIS-weighted) when nothing blocks the way. False when it adds nothing.
bool emissiveCandidate(SurfacePoint p, vec3 wo, inout uint rng, out vec3 wi, out float distance, out vec3 contribution)
{
    Emitter e = emitters[pickEmitter(nextFloat(rng))];
    Triangle tri = triangles[e.triangle];
    float r1 = nextFloat(rng);
    float r2 = nextFloat(rng);
    float su = dev_sqrt(r1);
    float bu = 1.0 - su;
    float bv = r2 * su;
    vec3 lightPoint = tri.v0 * (1.0 - bu - bv) + tri.v1 * bu + tri.v2 * bv;
    vec3 lightNormal = normalize(cross(tri.v1 - tri.v0, tri.v2 - tri.v0));

    vec3 toLight = lightPoint - p.position;
    float distance2 = dot(toLight, toLight);
    distance = dev_sqrt(distance2);
    wi = toLight / distance;
    contribution = vec3(0.0);
    float cosLight = abs(dot(lightNormal, wi));
    if (cosLight < 1.0e-6 || e.probability <= 0.0)
    {
        return false;
    }
    float bsdfPdf;
    vec3 f = evaluateBsdf(p, wo, wi, bsdfPdf);
    if (bsdfPdf <= 0.0)
    {
        return false;
    }
    vec3 emission = materialEmission(materials[tri.material], interpolateUv(shading[e.triangle], bu, bv));
    float lightPdf = e.probability * distance2 / (e.area * cosLight);
    contribution = f * dot(p.normal, wi) * emission * powerHeuristic(lightPdf, bsdfPdf) / lightPdf;
    // Stop just short of the emitter so the shadow ray does not hit the light itself.
    distance *= 1.0 - 1.0e-3;
    return true;
}

// A punctual light, like emissiveCandidate. Delta lights cannot be hit by BSDF samples: no MIS.
bool punctualCandidate(SurfacePoint p, vec3 wo, Light light, out vec3 wi, out float distance, out vec3 contribution)
{
    vec3 radiance = light.intensity;
    contribution = vec3(0.0);
    if (light.type == LIGHT_DIRECTIONAL)
    {
        wi = -light.direction;
        distance = INFINITY;
    }
    else
    {
        vec3 toLight = light.position - p.position;
        float distance2 = max(dot(toLight, toLight), 1.0e-8);
        distance = dev_sqrt(distance2);
        wi = toLight / distance;
        radiance /= distance2;
        if (light.range > 0.0)
        {
            // The glTF spec's recommended smooth range window.
            float ratio = distance / light.range;
            radiance *= clamp(1.0 - ratio * ratio * ratio * ratio, 0.0, 1.0);
        }
        if (light.type == LIGHT_SPOT)
        {
            float scale = 1.0 / max(1.0e-3, light.innerConeCos - light.outerConeCos);
            float cone = clamp((dot(light.direction, -wi) - light.outerConeCos) * scale, 0.0, 1.0);
            radiance *= cone * cone;
        }
        distance *= 1.0 - 1.0e-3;
    }
    if (all(equal(radiance, vec3(0.0))))
    {
        return false;
    }
    float bsdfPdf;
    vec3 f = evaluateBsdf(p, wo, wi, bsdfPdf);
    if (bsdfPdf <= 0.0)
    {
        return false;
    }
    contribution = f * dot(p.normal, wi) * radiance;
    return true;
}

// Next-event estimation: every punctual light, then one sample on the emissive triangles. All
// candidates share one shadow-ray call site, which keeps the compiled shader small.
vec3 directLight(SurfacePoint p, vec3 wo, inout uint rng)
{
    vec3 sum = vec3(0.0);
    uint candidates = u_frame.lightCount + (u_frame.emitterCount > 0u ? 1u : 0u);
    for (uint i = 0u; i < candidates; i++)
    {
        vec3 wi;
        float distance;
        vec3 contribution;
        bool candidate;
        if (i < u_frame.lightCount)
        {
            candidate = punctualCandidate(p, wo, lights[i], wi, distance, contribution);
        }
        else
        {
            candidate = emissiveCandidate(p, wo, rng, wi, distance, contribution);
        }
        if (candidate && visible(offsetOrigin(p.position, p.geometricNormal, wi), wi, distance))
        {
            sum += contribution;
        }
    }
    return sum;
}

// ---------------------------------------------------------------- path

vec3 tracePath(vec3 origin, vec3 direction, inout uint rng)
{
    vec3 radiance = vec3(0.0);
    vec3 throughput = vec3(1.0);
    float previousBsdfPdf = 0.0;
    for (uint depth = 0u; ; depth++)
    {
        Hit hit;
        if (!traceRay(origin, direction, INFINITY, false, hit))
        {
            radiance += throughput * u_frame.environment.rgb;
            break;
        }
        SurfacePoint p = surfaceAt(hit, origin, direction);
        if (any(greaterThan(p.emission, vec3(0.0))))
        {
            float weight = 1.0;
            if (depth > 0u)
            {
                // The light-sampling pdf of reaching this point, for MIS with the BSDF sample.
                float probability = uintBitsToFloat(triangles[hit.triangle].emitterProbabilityBits);
                Triangle tri = triangles[hit.triangle];
                float area = 0.5 * length(cross(tri.v1 - tri.v0, tri.v2 - tri.v0));
                float cosLight = abs(dot(p.geometricNormal, direction));
                float lightPdf = probability > 0.0 && area > 0.0 && cosLight > 0.0
                    ? probability * hit.t * hit.t / (area * cosLight)
                    : 0.0;
                weight = powerHeuristic(previousBsdfPdf, lightPdf);
            }
            radiance += throughput * p.emission * weight;
        }
        // The last segment only gathers emission: vertices 0..maxBounces sample lights (as Cycles counts bounces).
        if (depth > u_frame.maxBounces)
        {
            break;
        }
        vec3 wo = -direction;
        radiance += throughput * directLight(p, wo, rng);

        vec3 wi;
        if (!sampleBsdf(p, wo, rng, wi))
        {
            break;
        }
        float pdf;
        vec3 f = evaluateBsdf(p, wo, wi, pdf);
        if (pdf <= 0.0)
        {
            break;
        }
        throughput *= f * dot(p.normal, wi) / pdf;
        previousBsdfPdf = pdf;
        origin = offsetOrigin(p.position, p.geometricNormal, wi);
        direction = wi;

        if (depth >= 3u)
        {
            float survive = min(max(max(throughput.r, throughput.g), throughput.b), 0.95);
            if (nextFloat(rng) >= survive)
            {
                break;
            }
            throughput /= survive;
        }
    }
    return radiance;
}

void main()
{
    if (gl_GlobalInvocationID.x >= u_tile.tileWidth || gl_GlobalInvocationID.y >= u_tile.tileHeight)
    {
        return;
    }
    uint x = u_tile.tileX + gl_GlobalInvocationID.x;
    uint y = u_tile.tileY + gl_GlobalInvocationID.y;
    uint pixel = y * u_frame.width + x;
    // The accumulation buffers hold one tile, so frames of any size fit the device's buffer limits.
    uint slot = gl_GlobalInvocationID.y * u_tile.tileWidth + gl_GlobalInvocationID.x;
    vec3 sum = accumulation[slot].rgb;
    float dropped = accumulation[slot].a;
    for (uint i = 0u; i < u_tile.sampleCount; i++)
    {
        uint sampleIndex = u_tile.sampleStart + i;
        uint rng = streamSeed(u_frame.seed, u_frame.frame, pixel, sampleIndex);
        // Box filter over the pixel; image y runs downwards.
        float sx = (float(x) + nextFloat(rng)) / float(u_frame.width) * 2.0 - 1.0;
        float sy = 1.0 - (float(y) + nextFloat(rng)) / float(u_frame.height) * 2.0;
        vec3 origin;
        vec3 direction;
        if ((u_frame.flags & FLAG_ORTHOGRAPHIC) != 0u)
        {
            origin = u_frame.cameraOrigin.xyz + sx * u_frame.cameraRight.xyz + sy * u_frame.cameraUp.xyz;
            direction = u_frame.cameraForward.xyz;
        }
        else
        {
            origin = u_frame.cameraOrigin.xyz;
            direction = normalize(u_frame.cameraForward.xyz + sx * u_frame.cameraRight.xyz + sy * u_frame.cameraUp.xyz);
        }
        vec3 l = tracePath(origin, direction, rng);
        // A non-finite sample (a numerical accident) is dropped and counted, not averaged in.
        if (any(isnan(l)) || any(isinf(l)))
        {
            dropped += 1.0;
        }
        else
        {
            sum += l;
        }
    }
    accumulation[slot] = vec4(sum, dropped);
    rayCounts[slot] += g_rayCount;
}
