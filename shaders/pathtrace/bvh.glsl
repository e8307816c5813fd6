// Ray-triangle and ray-box intersection and BVH traversal.

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

// Whether a ray meets triangle i at (u, v): single-sided back faces are skipped (glTF doubleSided
// false; refracting materials always have two sides), MASK materials are cut at alphaCutoff, and
// BLEND ones are crossed with probability 1 - alpha (stochastic transparency). The BLEND decision
// hashes the ray's key with the triangle, so it does not depend on the order of traversal.
bool surfaceMeets(uint i, float u, float v, vec3 direction, uint rayKey)
{
    Triangle tri = triangles[i];
    uint flags = materials[tri.material].flags;
    if (FEATURE_SINGLE_SIDED && (flags & MATERIAL_DOUBLE_SIDED) == 0u && (!FEATURE_TRANSMISSION || materials[tri.material].transmission <= 0.0)
        && dot(cross(tri.v1 - tri.v0, tri.v2 - tri.v0), direction) > 0.0)
    {
        return false;
    }
    uint mode = flags & ALPHA_MODE_MASK;
    if (!FEATURE_ALPHA || mode == 0u)
    {
        return true;
    }
    Material m = materials[tri.material];
    float alpha = m.baseColor.a;
    if (FEATURE_BASE_COLOR_TEXTURE && m.baseColorTexture >= 0)
    {
        TriangleShading s = shading[i];
        alpha *= textureAlpha(m.baseColorTexture, triangleUvs(s, u, v));
    }
    alpha *= vertexColor(shading[i], u, v).a;
    if (!FEATURE_ALPHA_BLEND || mode == ALPHA_MASK)
    {
        return alpha >= m.alphaCutoff;
    }
    uint h = pcgHash(rayKey ^ (i * 2654435769u));
    return float(h >> 8u) * (1.0 / 16777216.0) < alpha;
}

// Closest hit when anyHit is false; the first hit found (for shadow rays) when true. rayKey
// draws the ray's stochastic transparency decisions.
bool traceRay(vec3 origin, vec3 direction, float tMax, bool anyHit, uint rayKey, out Hit hit)
{
    g_rayCount++;
    hit.t = tMax;
    hit.u = 0.0;
    hit.v = 0.0;
    hit.triangle = 0u;
    bool found = false;
    vec3 inverseDirection = 1.0 / direction;
    uint stack[STACK_SIZE];
    // Where the ray enters each stacked node's box: a pop needs only this against the closest hit so far.
    float stackEnter[STACK_SIZE];
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
                if (intersectTriangle(origin, direction, triangles[i], hit.t, t, u, v) && surfaceMeets(i, u, v, direction, rayKey))
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
                    stackEnter[stackSize] = dRight;
                    stack[stackSize++] = right;
                }
                nodeIndex = left;
                continue;
            }
        }
        // Pop the next node that may still hold a closer hit. Its box was entered at stackEnter before the limit it
        // was pushed under, and hit.t has only shrunk since, so testing the entry against hit.t decides as
        // intersecting the box again with hit.t would, without fetching the node.
        bool popped = false;
        while (stackSize > 0)
        {
            uint candidate = stack[--stackSize];
            if (stackEnter[stackSize] <= hit.t)
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
