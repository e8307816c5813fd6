#version 450
#extension GL_GOOGLE_include_directive : require
// First-hit AOVs of a frame for compositing and denoising: base colour, world-space shading normal,
// camera distance and emission of the first surface each camera ray meets, averaged over a 4×4 grid of
// positions in the pixel (u_tile.sampleCount of them, at most 16). It shares the path tracer's scene
// layout, traversal, textures and shading point, and traces no paths: the integrator is untouched.
//
// Output, three vec4 per pixel of the tile in `accumulation` (binding 9):
//   [3i]     albedo.rgb sum over all positions, hit count
//   [3i + 1] shading normal sum over hits, camera distance sum over hits
//   [3i + 2] emission sum over all positions, 0
#include "pathtrace/device.glsl"
#include "pathtrace/layout.glsl"
#include "pathtrace/features.glsl"
#include "pathtrace/random.glsl"
#include "pathtrace/textures.glsl"
#include "pathtrace/bvh.glsl"
#include "pathtrace/surface.glsl"

void main()
{
    if (gl_GlobalInvocationID.x >= u_tile.tileWidth || gl_GlobalInvocationID.y >= u_tile.tileHeight)
    {
        return;
    }
    uint x = u_tile.tileX + gl_GlobalInvocationID.x;
    uint y = u_tile.tileY + gl_GlobalInvocationID.y;
    uint slot = gl_GlobalInvocationID.y * u_tile.tileWidth + gl_GlobalInvocationID.x;
    vec3 albedo = vec3(0.0);
    vec3 normal = vec3(0.0);
    vec3 emission = vec3(0.0);
    float distance = 0.0;
    float hits = 0.0;
    uint count = min(u_tile.sampleCount, 16u);
    for (uint i = 0u; i < count; i++)
    {
        // The camera ray as the integrator's entry point makes it, at a fixed position of the grid.
        float sx = (float(x) + (float(i % 4u) + 0.5) * 0.25) / float(u_frame.width) * 2.0 - 1.0;
        float sy = 1.0 - (float(y) + (float(i / 4u) + 0.5) * 0.25) / float(u_frame.height) * 2.0;
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
        // A fixed key per pixel and position draws stochastic transparency, so alpha-blended surfaces average out.
        Hit hit;
        if (!traceRay(origin, direction, INFINITY, false, rayKey(pcgHash(u_frame.seed ^ (y * u_frame.width + x)), i), hit))
        {
            continue;
        }
        SurfacePoint p = surfaceAt(hit, origin, direction);
        albedo += p.baseColor;
        normal += p.normal;
        emission += p.emission;
        distance += hit.t * length(direction);
        hits += 1.0;
    }
    accumulation[3u * slot] = vec4(albedo, hits);
    accumulation[3u * slot + 1u] = vec4(normal, distance);
    accumulation[3u * slot + 2u] = vec4(emission, 0.0);
}
