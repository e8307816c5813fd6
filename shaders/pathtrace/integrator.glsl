// The integrator: one path per sample, and the entry point that adds a tile's samples.
//
// lavapipe runs invocations eight lanes at a time, and a loop runs until its last lane is done. A loop over samples
// around a loop over a path's segments would make every lane wait, at each sample, for the longest path among the
// eight; instead one loop runs over segments and a lane whose path has ended starts its next sample at once (path
// regeneration). Each lane still traces its own samples one after another in index order, with the same arithmetic
// as one loop per sample would, so a pixel's value is the same; only the lanes' waiting is shorter.

// The state of a path between segments.
struct PathState
{
    vec3 origin;
    vec3 direction;
    vec3 radiance;
    vec3 throughput;
    float previousBsdfPdf;
    // Beer–Lambert coefficient of the volume the ray travels in (KHR_materials_volume), zero outside.
    vec3 medium;
    uint depth;
    uint rng;
};

// Starts sample sampleIndex of pixel (x, y): its camera ray and an empty path.
PathState startPath(uint x, uint y, uint pixel, uint sampleIndex)
{
    PathState s;
    s.rng = streamSeed(u_frame.seed, u_frame.frame, pixel, sampleIndex);
    g_pixelKey = pixelKey(u_frame.seed, u_frame.frame, pixel);
    g_sampleIndex = sampleIndex;
    g_vertex = 0u;
    // Box filter over the pixel; image y runs downwards.
    vec2 jitter = draw2(s.rng, DRAW_CAMERA);
    float sx = (float(x) + jitter.x) / float(u_frame.width) * 2.0 - 1.0;
    float sy = 1.0 - (float(y) + jitter.y) / float(u_frame.height) * 2.0;
    if ((u_frame.flags & FLAG_ORTHOGRAPHIC) != 0u)
    {
        s.origin = u_frame.cameraOrigin.xyz + sx * u_frame.cameraRight.xyz + sy * u_frame.cameraUp.xyz;
        s.direction = u_frame.cameraForward.xyz;
    }
    else
    {
        s.origin = u_frame.cameraOrigin.xyz;
        s.direction = normalize(u_frame.cameraForward.xyz + sx * u_frame.cameraRight.xyz + sy * u_frame.cameraUp.xyz);
    }
    s.radiance = vec3(0.0);
    s.throughput = vec3(1.0);
    s.previousBsdfPdf = 0.0;
    s.medium = vec3(0.0);
    s.depth = 0u;
    return s;
}

// Traces one segment of the path: the ray to its next hit, the emission found there, light samples and the next
// direction. False once the path has ended (its radiance is then final).
bool traceSegment(inout PathState s)
{
    Hit hit;
    if (!traceRay(s.origin, s.direction, INFINITY, false, rayKey(s.rng, 0u), hit))
    {
        float weight = 1.0;
        if (s.depth > 0u && samplesEnvironment())
        {
            // The environment was light-sampled at the last vertex too: MIS with that sample.
            weight = powerHeuristic(s.previousBsdfPdf, environmentPdf(s.direction));
        }
        s.radiance += s.throughput * environmentRadiance(s.direction) * weight;
        return false;
    }
    if (FEATURE_TRANSMISSION && any(greaterThan(s.medium, vec3(0.0))))
    {
        s.throughput *= exp(-s.medium * hit.t);
    }
    SurfacePoint p = surfaceAt(hit, s.origin, s.direction);
    if (FEATURE_EMISSION && any(greaterThan(p.emission, vec3(0.0))))
    {
        float weight = 1.0;
        if (s.depth > 0u)
        {
            // The light-sampling pdf of reaching this point, for MIS with the BSDF sample.
            float probability = uintBitsToFloat(triangles[hit.triangle].emitterProbabilityBits);
            Triangle tri = triangles[hit.triangle];
            float area = 0.5 * length(cross(tri.v1 - tri.v0, tri.v2 - tri.v0));
            float cosLight = abs(dot(p.geometricNormal, s.direction));
            float lightPdf = probability > 0.0 && area > 0.0 && cosLight > 0.0
                ? probability * hit.t * hit.t / (area * cosLight)
                : 0.0;
            // After a glass event (pdf -1) light sampling could not have found this emitter.
            weight = s.previousBsdfPdf < 0.0 ? 1.0 : powerHeuristic(s.previousBsdfPdf, lightPdf);
        }
        s.radiance += s.throughput * p.emission * weight;
    }
    // The last segment only gathers emission: vertices 0..maxBounces sample lights (as Cycles counts bounces).
    if (s.depth > u_frame.maxBounces)
    {
        return false;
    }
    vec3 wo = -s.direction;
    g_vertex = s.depth;
    s.radiance += s.throughput * directLight(p, wo, s.rng);

    vec3 wi;
    vec3 weight;
    float pdf;
    if (!sampleBsdf(p, wo, s.rng, wi, weight, pdf))
    {
        return false;
    }
    s.throughput *= weight;
    s.previousBsdfPdf = pdf;
    if (FEATURE_TRANSMISSION && pdf < 0.0 && !p.thin && dot(wi, p.geometricNormal) < 0.0)
    {
        // Refracted into or out of a volume.
        s.medium = p.entering ? p.absorption : vec3(0.0);
    }
    s.origin = offsetOrigin(p.position, p.geometricNormal, wi);
    s.direction = wi;

    if (s.depth >= 3u)
    {
        float survive = min(max(max(s.throughput.r, s.throughput.g), s.throughput.b), 0.95);
        if (nextFloat(s.rng) >= survive)
        {
            return false;
        }
        s.throughput /= survive;
    }
    s.depth++;
    return true;
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
    if (u_tile.sampleCount > 0u)
    {
        uint i = 0u;
        PathState s = startPath(x, y, pixel, u_tile.sampleStart);
        while (true)
        {
            if (traceSegment(s))
            {
                continue;
            }
            // A non-finite sample (a numerical accident) is dropped and counted, not averaged in.
            if (any(isnan(s.radiance)) || any(isinf(s.radiance)))
            {
                dropped += 1.0;
            }
            else
            {
                sum += s.radiance;
            }
            i++;
            if (i >= u_tile.sampleCount)
            {
                break;
            }
            s = startPath(x, y, pixel, u_tile.sampleStart + i);
        }
    }
    accumulation[slot] = vec4(sum, dropped);
    rayCounts[slot] += g_rayCount;
}
