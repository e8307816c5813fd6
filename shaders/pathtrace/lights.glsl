// Next-event estimation: emissive triangles, punctual lights and the environment map, with shadow rays.

bool visible(vec3 origin, vec3 direction, float distance, uint rayKey)
{
    Hit shadow;
    return !traceRay(origin, direction, distance, true, rayKey, shadow);
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
    bool stratified = (u_frame.flags & FLAG_STRATIFIED) != 0u;
    float choice = stratified ? 0.0 : nextFloat(rng);
    vec2 u = draw2(rng, DRAW_EMITTER);
    uint chosen = pickEmitter(stratified ? u.x : choice);
    if (stratified)
    {
        // One stratified point picks the emitter and the point on it: x, rescaled within the emitter's share of the
        // CDF, is uniform again and keeps its strata.
        float low = chosen > 0u ? emitters[chosen - 1u].cdf : 0.0;
        float span = emitters[chosen].cdf - low;
        u.x = span > 0.0 ? clamp((u.x - low) / span, 0.0, 0.99999994) : 0.5;
    }
    float r1 = u.x;
    float r2 = u.y;
    Emitter e = emitters[chosen];
    Triangle tri = triangles[e.triangle];
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
    // A single-sided emitter is invisible from behind (surfaceMeets), so it lights nothing there either.
    Material lightMaterial = materials[tri.material];
    if (FEATURE_SINGLE_SIDED && (lightMaterial.flags & MATERIAL_DOUBLE_SIDED) == 0u && (!FEATURE_TRANSMISSION || lightMaterial.transmission <= 0.0) && dot(lightNormal, wi) > 0.0)
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
    if (FEATURE_DIRECTIONAL_LIGHTS && light.type == LIGHT_DIRECTIONAL)
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
        if (FEATURE_SPOT_LIGHTS && light.type == LIGHT_SPOT)
        {
            // Cycles' spot, as Blender imports a glTF spot: the cosine to the axis inside the outer cone,
            // faded in by a smoothstep over spotSmooth of the cosine (spot_blend).
            float cosAxis = dot(light.direction, -wi);
            float t = cosAxis - light.outerConeCos;
            float cone = t > 0.0 ? cosAxis : 0.0;
            if (t > 0.0 && t < light.spotSmooth)
            {
                cone *= smoothstep(0.0, 1.0, t / light.spotSmooth);
            }
            radiance *= cone;
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

// A light sample on the environment map, like emissiveCandidate; nothing blocks it but the scene.
bool environmentCandidate(SurfacePoint p, vec3 wo, inout uint rng, out vec3 wi, out float distance, out vec3 contribution)
{
    float lightPdf;
    wi = sampleEnvironment(rng, lightPdf);
    distance = INFINITY;
    contribution = vec3(0.0);
    if (lightPdf <= 0.0)
    {
        return false;
    }
    float bsdfPdf;
    vec3 f = evaluateBsdf(p, wo, wi, bsdfPdf);
    if (bsdfPdf <= 0.0)
    {
        return false;
    }
    contribution = f * dot(p.normal, wi) * environmentRadiance(wi) * powerHeuristic(lightPdf, bsdfPdf) / lightPdf;
    return true;
}

// Next-event estimation: every punctual light, then one sample on the emissive triangles. All
// candidates share one shadow-ray call site, which keeps the compiled shader small.
vec3 directLight(SurfacePoint p, vec3 wo, inout uint rng)
{
    vec3 sum = vec3(0.0);
    uint emissive = u_frame.lightCount + (u_frame.emitterCount > 0u ? 1u : 0u);
    uint candidates = emissive + (samplesEnvironment() ? 1u : 0u);
    for (uint i = 0u; i < candidates; i++)
    {
        vec3 wi;
        float distance;
        vec3 contribution;
        bool candidate;
        if (FEATURE_PUNCTUAL_LIGHTS && i < u_frame.lightCount)
        {
            candidate = punctualCandidate(p, wo, lights[i], wi, distance, contribution);
        }
        else if (FEATURE_EMISSION && i < emissive)
        {
            candidate = emissiveCandidate(p, wo, rng, wi, distance, contribution);
        }
        else
        {
            candidate = FEATURE_ENVIRONMENT_MAP && environmentCandidate(p, wo, rng, wi, distance, contribution);
        }
        if (candidate && visible(offsetOrigin(p.position, p.geometricNormal, wi), wi, distance, rayKey(rng, i + 1u)))
        {
            sum += contribution;
        }
    }
    return sum;
}
