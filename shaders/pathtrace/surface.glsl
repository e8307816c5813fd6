// The shading point: the material's inputs at a hit (normals, normal map, textures).

struct SurfacePoint
{
    vec3 position;
    vec3 geometricNormal; // faces the incoming ray
    vec3 normal;          // shading normal, same hemisphere as geometricNormal
    vec3 baseColor;
    vec3 emission;
    float metallic;
    float alpha;          // GGX alpha = roughness²
    float roughness;      // perceptual roughness, clamped
    vec3 dielectricF0;    // KHR_materials_ior and _specular
    float specularWeight; // F90 of the dielectric (KHR_materials_specular factor)
    float transmission;   // share of the dielectric base that refracts
    float ior;
    bool thin;            // thin-walled: refracted light leaves unbent, with no volume behind
    bool entering;        // the ray hit the side the normal points to (outside a closed mesh)
    vec3 absorption;      // Beer–Lambert coefficient of the volume behind the surface
    float clearcoat;
    float clearcoatAlpha;
    vec3 sheenColor;
    float sheenAlpha;
};

// Both coordinate sets (xy, zw): each texture picks its own and applies its own transform.
vec4 interpolateUv(TriangleShading s, float u, float v)
{
    return triangleUvs(s, u, v);
}

vec3 materialEmission(Material m, vec4 uv)
{
    if (!FEATURE_EMISSION)
    {
        return vec3(0.0);
    }
    vec3 e = m.emissive.rgb;
    if (FEATURE_EMISSIVE_TEXTURE && m.emissiveTexture >= 0 && any(greaterThan(e, vec3(0.0))))
    {
        e *= sampleTexture(m.emissiveTexture, uv).rgb;
    }
    return e;
}

SurfacePoint surfaceAt(Hit hit, vec3 rayOrigin, vec3 rayDirection)
{
    Triangle tri = triangles[hit.triangle];
    TriangleShading s = shading[hit.triangle];
    if (FEATURE_INSTANCING && (u_frame.flags & FLAG_INSTANCES) != 0u)
    {
        instanceToWorld(hit.instance, tri, s);
    }
    Material m = materials[tri.material];
    float w = 1.0 - hit.u - hit.v;
    vec4 uv = interpolateUv(s, hit.u, hit.v);

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
    if (FEATURE_NORMAL_TEXTURE && m.normalTexture >= 0 && dot(tangent.xyz, tangent.xyz) > 0.0)
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
    p.entering = dot(ng, rayDirection) <= 0.0;
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
    if (FEATURE_BASE_COLOR_TEXTURE && m.baseColorTexture >= 0)
    {
        base *= sampleTexture(m.baseColorTexture, uv);
    }
    float metallic = m.metallic;
    float roughness = m.roughness;
    if (FEATURE_METALLIC_ROUGHNESS_TEXTURE && m.metallicRoughnessTexture >= 0)
    {
        vec4 mr = sampleTexture(m.metallicRoughnessTexture, uv);
        roughness *= mr.g;
        metallic *= mr.b;
    }
    base *= vertexColor(s, hit.u, hit.v);
    p.baseColor = base.rgb;
    p.metallic = clamp(metallic, 0.0, 1.0);
    roughness = clamp(roughness, 0.03, 1.0);
    p.alpha = roughness * roughness;
    p.roughness = roughness;
    p.emission = materialEmission(m, uv);

    // The extensions' textures, sampled through one call site (each is inlined, and the shader's size
    // is what the driver compiles): transmission (R), clearcoat (R), sheen colour, specular colour.
    int extensionTextures[4] = int[](FEATURE_TRANSMISSION ? m.transmissionTexture : -1, FEATURE_CLEARCOAT ? m.clearcoatTexture : -1, FEATURE_SHEEN ? m.sheenColorTexture : -1, FEATURE_SPECULAR ? m.specularColorTexture : -1);
    vec3 extensionValues[4] = vec3[](vec3(1.0), vec3(1.0), vec3(1.0), vec3(1.0));
    for (int k = 0; k < 4; k++)
    {
        if (extensionTextures[k] >= 0)
        {
            extensionValues[k] = sampleTexture(extensionTextures[k], uv).rgb;
        }
    }
    float r = (m.ior - 1.0) / (m.ior + 1.0);
    p.dielectricF0 = min(vec3(r * r) * m.specularColor * extensionValues[3], vec3(1.0)) * m.specular;
    p.specularWeight = m.specular;
    p.transmission = m.transmission * extensionValues[0].r;
    p.ior = m.ior;
    p.thin = m.thickness <= 0.0;
    p.absorption = m.absorption;
    p.clearcoat = m.clearcoat * extensionValues[1].r;
    float coatRoughness = clamp(m.clearcoatRoughness, 0.03, 1.0);
    p.clearcoatAlpha = coatRoughness * coatRoughness;
    p.sheenColor = m.sheenColor * extensionValues[2];
    float sheenRoughness = clamp(m.sheenRoughness, 0.07, 1.0);
    p.sheenAlpha = sheenRoughness * sheenRoughness;
    return p;
}
