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

// The parts below are included in dependency order; each relies on the ones before it.
#include "pathtrace/device.glsl"
#include "pathtrace/layout.glsl"
#include "pathtrace/features.glsl"
#include "pathtrace/random.glsl"
#include "pathtrace/textures.glsl"
#include "pathtrace/bvh.glsl"
#include "pathtrace/surface.glsl"
#include "pathtrace/bsdf.glsl"
#include "pathtrace/environment.glsl"
#include "pathtrace/lights.glsl"
#include "pathtrace/integrator.glsl"
