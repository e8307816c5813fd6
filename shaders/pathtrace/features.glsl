// Scene features as specialization constants (src/RenderFarm.Rendering/PathTracing/SceneFeatures.cs sets them per
// scene). Each guards code that only a scene using the feature reaches; switched off, the driver drops that code at
// pipeline creation. A guard only skips work whose result is already fixed when no material, light or map uses the
// feature, so a scene renders to the same bytes with every feature on (the defaults) and with only its own.

// The BSDF models the frames may ask for; with both on, FLAG_GLTF_BSDF picks one at run time.
layout(constant_id = 0) const bool FEATURE_PRINCIPLED_BSDF = true;
layout(constant_id = 1) const bool FEATURE_GLTF_BSDF = true;
// KHR_materials_transmission (with _ior and _volume): glass events and absorption inside volumes.
layout(constant_id = 2) const bool FEATURE_TRANSMISSION = true;
layout(constant_id = 3) const bool FEATURE_CLEARCOAT = true;
layout(constant_id = 4) const bool FEATURE_SHEEN = true;
// KHR_materials_specular's colour texture.
layout(constant_id = 5) const bool FEATURE_SPECULAR = true;
layout(constant_id = 6) const bool FEATURE_ALPHA_MASK = true;
layout(constant_id = 7) const bool FEATURE_ALPHA_BLEND = true;
// Materials that are not double-sided: their back faces are skipped.
layout(constant_id = 8) const bool FEATURE_SINGLE_SIDED = true;
layout(constant_id = 9) const bool FEATURE_ENVIRONMENT_MAP = true;
// Texture kinds of the core material.
layout(constant_id = 10) const bool FEATURE_BASE_COLOR_TEXTURE = true;
layout(constant_id = 11) const bool FEATURE_METALLIC_ROUGHNESS_TEXTURE = true;
layout(constant_id = 12) const bool FEATURE_NORMAL_TEXTURE = true;
// Emissive materials (the emitters of next-event estimation), and their emissive textures.
layout(constant_id = 13) const bool FEATURE_EMISSION = true;
layout(constant_id = 14) const bool FEATURE_EMISSIVE_TEXTURE = true;
// KHR_lights_punctual, per kind.
layout(constant_id = 15) const bool FEATURE_POINT_LIGHTS = true;
layout(constant_id = 16) const bool FEATURE_SPOT_LIGHTS = true;
layout(constant_id = 17) const bool FEATURE_DIRECTIONAL_LIGHTS = true;

const bool FEATURE_ALPHA = FEATURE_ALPHA_MASK || FEATURE_ALPHA_BLEND;
const bool FEATURE_PUNCTUAL_LIGHTS = FEATURE_POINT_LIGHTS || FEATURE_SPOT_LIGHTS || FEATURE_DIRECTIONAL_LIGHTS;
// Meshes shared by several nodes, stored once and drawn through a top-level BVH over their instances (FLAG_INSTANCES
// marks the frames that have them; without it the single-level traversal runs as before).
layout(constant_id = 18) const bool FEATURE_INSTANCING = true;
