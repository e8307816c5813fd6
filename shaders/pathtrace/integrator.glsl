// The integrator: one path per sample, and the entry point that adds a tile's samples.

vec3 tracePath(vec3 origin, vec3 direction, inout uint rng)
{
    vec3 radiance = vec3(0.0);
    vec3 throughput = vec3(1.0);
    float previousBsdfPdf = 0.0;
    // Beer–Lambert coefficient of the volume the ray travels in (KHR_materials_volume), zero outside.
    vec3 medium = vec3(0.0);
    for (uint depth = 0u; ; depth++)
    {
        Hit hit;
        if (!traceRay(origin, direction, INFINITY, false, rayKey(rng, 0u), hit))
        {
            float weight = 1.0;
            if (depth > 0u && samplesEnvironment())
            {
                // The environment was light-sampled at the last vertex too: MIS with that sample.
                weight = powerHeuristic(previousBsdfPdf, environmentPdf(direction));
            }
            radiance += throughput * environmentRadiance(direction) * weight;
            break;
        }
        if (FEATURE_TRANSMISSION && any(greaterThan(medium, vec3(0.0))))
        {
            throughput *= exp(-medium * hit.t);
        }
        SurfacePoint p = surfaceAt(hit, origin, direction);
        if (FEATURE_EMISSION && any(greaterThan(p.emission, vec3(0.0))))
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
                // After a glass event (pdf -1) light sampling could not have found this emitter.
                weight = previousBsdfPdf < 0.0 ? 1.0 : powerHeuristic(previousBsdfPdf, lightPdf);
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
        vec3 weight;
        float pdf;
        if (!sampleBsdf(p, wo, rng, wi, weight, pdf))
        {
            break;
        }
        throughput *= weight;
        previousBsdfPdf = pdf;
        if (FEATURE_TRANSMISSION && pdf < 0.0 && !p.thin && dot(wi, p.geometricNormal) < 0.0)
        {
            // Refracted into or out of a volume.
            medium = p.entering ? p.absorption : vec3(0.0);
        }
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
