// Ray-triangle and ray-box intersection and BVH traversal.

struct Hit
{
    float t;
    float u;
    float v;
    uint triangle;
    uint instance; // into `instances`; 0 without FLAG_INSTANCES
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

// Traverses the triangle BVH rooted at node `root` for hits closer than hit.t, recording them in hit as triangles of
// `instance`. Closest hit when anyHit is false; the first hit found (for shadow rays) when true. rayKey draws the
// ray's stochastic transparency decisions.
bool traverseBvh(uint root, vec3 origin, vec3 direction, bool anyHit, uint rayKey, uint instance, inout Hit hit)
{
    bool found = false;
    vec3 inverseDirection = 1.0 / direction;
    uint stack[STACK_SIZE];
    // Where the ray enters each stacked node's box: a pop needs only this against the closest hit so far.
    float stackEnter[STACK_SIZE];
    int stackSize = 0;
    uint nodeIndex = root;
    if (intersectBox(origin, inverseDirection, nodes[root].bmin, nodes[root].bmax, hit.t) == INFINITY)
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
                    hit.instance = instance;
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

// The top level: a BVH over instances (node 0), whose leaves hold runs of `instances`. Each instance met takes the ray
// into its own space, where the mesh's BVH is traversed: the direction is not renormalised, so t is the same parameter
// in both spaces and the closest hit so far bounds both levels.
bool traceInstances(vec3 origin, vec3 direction, bool anyHit, uint rayKey, inout Hit hit)
{
    bool found = false;
    vec3 inverseDirection = 1.0 / direction;
    uint stack[STACK_SIZE];
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
            for (uint k = node.leftOrFirst; k < node.leftOrFirst + node.count; k++)
            {
                Instance inst = instances[k];
                vec3 o = origin;
                vec3 d = direction;
                uint key = rayKey;
                if ((inst.flags & INSTANCE_IDENTITY) == 0u)
                {
                    o = vec3(dot(inst.worldToObject0, vec4(origin, 1.0)), dot(inst.worldToObject1, vec4(origin, 1.0)), dot(inst.worldToObject2, vec4(origin, 1.0)));
                    d = vec3(dot(inst.worldToObject0.xyz, direction), dot(inst.worldToObject1.xyz, direction), dot(inst.worldToObject2.xyz, direction));
                    // Instances of one mesh share triangle indices: their transparency decisions must not.
                    key = rayKey ^ pcgHash(k + 0x9e3779b9u);
                }
                if (traverseBvh(inst.root, o, d, anyHit, key, k, hit))
                {
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
                float e = dLeft; dLeft = dRight; dRight = e;
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

// Closest hit when anyHit is false; the first hit found (for shadow rays) when true. rayKey
// draws the ray's stochastic transparency decisions.
bool traceRay(vec3 origin, vec3 direction, float tMax, bool anyHit, uint rayKey, out Hit hit)
{
    g_rayCount++;
    hit.t = tMax;
    hit.u = 0.0;
    hit.v = 0.0;
    hit.triangle = 0u;
    hit.instance = 0u;
    if (FEATURE_INSTANCING && (u_frame.flags & FLAG_INSTANCES) != 0u)
    {
        return traceInstances(origin, direction, anyHit, rayKey, hit);
    }
    return traverseBvh(0u, origin, direction, anyHit, rayKey, 0u, hit);
}

// A hit triangle of an instance in world space: positions by the object-to-world transform, normals by its inverse
// transpose (the transpose of world-to-object's linear part), tangents by the linear part with the bitangent's sign
// flipped by a mirroring instance, whose triangles are also re-wound so that their cross product faces the front as
// the flattened meshes' do. Normals and tangents are renormalised per vertex, as the flattened meshes store them.
vec3 instanceNormal(Instance inst, vec3 n)
{
    vec3 w = inst.worldToObject0.xyz * n.x + inst.worldToObject1.xyz * n.y + inst.worldToObject2.xyz * n.z;
    return dot(w, w) > 0.0 ? normalize(w) : vec3(0.0);
}

vec4 instanceTangent(Instance inst, vec4 t)
{
    vec3 w = vec3(dot(inst.objectToWorld0.xyz, t.xyz), dot(inst.objectToWorld1.xyz, t.xyz), dot(inst.objectToWorld2.xyz, t.xyz));
    return vec4(dot(w, w) > 0.0 ? normalize(w) : vec3(0.0), (inst.flags & INSTANCE_MIRRORED) != 0u ? -t.w : t.w);
}

void instanceToWorld(uint instance, inout Triangle tri, inout TriangleShading s)
{
    Instance inst = instances[instance];
    if ((inst.flags & INSTANCE_IDENTITY) != 0u)
    {
        return;
    }
    vec3 p0 = vec3(dot(inst.objectToWorld0, vec4(tri.v0, 1.0)), dot(inst.objectToWorld1, vec4(tri.v0, 1.0)), dot(inst.objectToWorld2, vec4(tri.v0, 1.0)));
    vec3 p1 = vec3(dot(inst.objectToWorld0, vec4(tri.v1, 1.0)), dot(inst.objectToWorld1, vec4(tri.v1, 1.0)), dot(inst.objectToWorld2, vec4(tri.v1, 1.0)));
    vec3 p2 = vec3(dot(inst.objectToWorld0, vec4(tri.v2, 1.0)), dot(inst.objectToWorld1, vec4(tri.v2, 1.0)), dot(inst.objectToWorld2, vec4(tri.v2, 1.0)));
    bool mirrored = (inst.flags & INSTANCE_MIRRORED) != 0u;
    tri.v0 = p0;
    tri.v1 = mirrored ? p2 : p1;
    tri.v2 = mirrored ? p1 : p2;
    s.n0.xyz = instanceNormal(inst, s.n0.xyz);
    s.n1.xyz = instanceNormal(inst, s.n1.xyz);
    s.n2.xyz = instanceNormal(inst, s.n2.xyz);
    s.t0 = instanceTangent(inst, s.t0);
    s.t1 = instanceTangent(inst, s.t1);
    s.t2 = instanceTangent(inst, s.t2);
}

// Moves a ray origin off the surface along the geometric normal, on the side the ray leaves by,
// by an amount that scales with the coordinates' magnitude (float spacing).
vec3 offsetOrigin(vec3 position, vec3 geometricNormal, vec3 direction)
{
    float scale = 1.0e-4 * (1.0 + max(max(abs(position.x), abs(position.y)), abs(position.z)));
    return position + geometricNormal * (dot(direction, geometricNormal) > 0.0 ? scale : -scale);
}
