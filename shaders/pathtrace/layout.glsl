// Workgroup size, buffer layouts (mirroring src/RenderFarm.Rendering/PathTracing/GpuLayout.cs, std430),
// push constants and constants shared by every part of the path tracer.

layout(local_size_x = 8, local_size_y = 8, local_size_z = 1) in;

struct BvhNode { vec3 bmin; uint leftOrFirst; vec3 bmax; uint count; };
struct Triangle { vec3 v0; uint material; vec3 v1; uint emitterProbabilityBits; vec3 v2; uint padding2; };
struct TriangleShading { vec4 n0; vec4 n1; vec4 n2; vec4 t0; vec4 t1; vec4 t2; vec4 uv01; vec4 uv2; vec4 uv1of01; uint color0; uint color1; uint color2; uint colorPadding; };
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
    float transmission;
    float ior;
    float thickness;
    float alphaCutoff;
    vec3 absorption; uint flags;
    vec3 sheenColor; float sheenRoughness;
    vec3 specularColor; float specular;
    float clearcoat;
    float clearcoatRoughness;
    int transmissionTexture;
    int clearcoatTexture;
    int sheenColorTexture;
    int specularColorTexture;
    int materialPadding1;
    int materialPadding2;
};
struct Texture { uint offset; uint width; uint height; uint flags; vec4 transformU; vec4 transformV; };
struct Emitter { uint triangle; float area; float cdf; float probability; };
struct Light
{
    vec3 position; uint type;
    vec3 direction; float range;
    vec3 intensity; float innerConeCos;
    float outerConeCos; float spotSmooth; float padding1; float padding2;
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
    // The environment map: x, y the cosine and sine of its rotation, z its strength, w 1 when it is light-sampled.
    vec4 environmentRotation;
    // 0 × 0 without a map: the uniform environment above lights the scene.
    uint environmentWidth;
    uint environmentHeight;
    uint environmentPadding0;
    uint environmentPadding1;
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
// The environment map's linear RGB texels, rows top to bottom, and its sampling tables (see environment.glsl).
layout(std430, set = 0, binding = 11) readonly buffer EnvironmentTexelBlock { float environmentTexels[]; };
layout(std430, set = 0, binding = 12) readonly buffer EnvironmentCdfBlock { float environmentCdf[]; };

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
// The glTF specification appendix's BSDF instead of the principled one (RenderSettings.Bsdf).
const uint FLAG_GLTF_BSDF = 256u;
// Stratified draws instead of independent ones (RenderSettings.Sampler, random.glsl).
const uint FLAG_STRATIFIED = 512u;
const uint LIGHT_POINT = 0u;
const uint LIGHT_SPOT = 1u;
const uint LIGHT_DIRECTIONAL = 2u;
const uint ALPHA_MODE_MASK = 3u;
const uint ALPHA_MASK = 1u;
const uint ALPHA_BLEND = 2u;
const uint MATERIAL_DOUBLE_SIDED = 4u;
const uint TEXTURE_NEAREST = 16u;
const uint TEXTURE_SRGB = 32u;
const uint TEXTURE_SET1 = 64u;
const int STACK_SIZE = 64;

// Instancing (GpuInstance in GpuLayout.cs): the rows of the world-to-object and object-to-world transforms (x' = dot(row,
// (p, 1))), the root of the instance's BVH in `nodes` (its leaves index `triangles` directly) and INSTANCE_* flags. With
// FLAG_INSTANCES, node 0 roots the top-level BVH, whose leaves index `instances`.
struct Instance
{
    vec4 worldToObject0; vec4 worldToObject1; vec4 worldToObject2;
    vec4 objectToWorld0; vec4 objectToWorld1; vec4 objectToWorld2;
    uint root; uint flags; uint instancePadding0; uint instancePadding1;
};
layout(std430, set = 0, binding = 13) readonly buffer InstanceBlock { Instance instances[]; };
const uint FLAG_INSTANCES = 65536u;
// The instance's transform has a negative determinant (its triangles' winding is reversed in world space).
const uint INSTANCE_MIRRORED = 1u;
// The instance's triangles are in world space already (the flattened meshes): no transform.
const uint INSTANCE_IDENTITY = 2u;

uint g_rayCount = 0u;
