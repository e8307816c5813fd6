// The BSDF: evaluation, its sampling pdf, and sampling. Two models (RenderSettings.Bsdf):
// - principled (default), close to Blender's Principled BSDF, which is what Blender makes of a glTF
//   material: Burley's diffuse (retro-reflective when rough, not weighted by 1 - F) under GGX
//   specular with multiple-scattering energy compensation (Turquin 2019: the single-scattering lobe
//   scaled by 1 + F0 (1 - E(v)) / E(v), E from ggx_albedo.glsl), so a white rough metal loses nothing;
// - gltf: the glTF specification's appendix, Lambert diffuse weighted by 1 - F at the view angle under
//   single-scattering GGX.

#include "ggx_albedo.glsl"

bool principledBsdf()
{
    return FEATURE_PRINCIPLED_BSDF && (!FEATURE_GLTF_BSDF || (u_frame.flags & FLAG_GLTF_BSDF) == 0u);
}

float luminance(vec3 c)
{
    return dot(c, vec3(0.2126, 0.7152, 0.0722));
}

vec3 fresnelSchlick(vec3 f0, float cosTheta)
{
    float f = dev_pow(1.0 - clamp(cosTheta, 0.0, 1.0), 5.0);
    return f0 + (vec3(1.0) - f0) * f;
}

float ggxD(float nh, float alpha)
{
    float a2 = alpha * alpha;
    float d = nh * nh * (a2 - 1.0) + 1.0;
    return a2 / (PI * d * d);
}

float smithLambda(float nx, float alpha)
{
    float a2 = alpha * alpha;
    float n2 = nx * nx;
    return (dev_sqrt(1.0 + a2 * (1.0 - n2) / max(n2, 1.0e-8)) - 1.0) * 0.5;
}

float smithG1(float nx, float alpha)
{
    return 1.0 / (1.0 + smithLambda(nx, alpha));
}

float smithG2(float nl, float nv, float alpha)
{
    return 1.0 / (1.0 + smithLambda(nl, alpha) + smithLambda(nv, alpha));
}

// Directional albedo of single-scattering GGX with Fresnel 1, bilinear in the table.
float ggxAlbedo(float nv, float roughness)
{
    vec2 g = vec2(clamp(nv, 0.0, 1.0), clamp(roughness, 0.0, 1.0)) * float(GGX_ALBEDO_SIZE - 1);
    ivec2 i = min(ivec2(g), ivec2(GGX_ALBEDO_SIZE - 2));
    vec2 f = g - vec2(i);
    int k = i.y * GGX_ALBEDO_SIZE + i.x;
    float lower = mix(GGX_ALBEDO[k], GGX_ALBEDO[k + 1], f.x);
    float upper = mix(GGX_ALBEDO[k + GGX_ALBEDO_SIZE], GGX_ALBEDO[k + GGX_ALBEDO_SIZE + 1], f.x);
    return mix(lower, upper, f.y);
}

// Burley's diffuse factor as Cycles' Principled BSDF evaluates it (times base colour / pi).
float burleyDiffuse(float nl, float nv, float lh, float roughness)
{
    float fd90 = 0.5 + 2.0 * lh * lh * roughness;
    float fl = dev_pow(1.0 - nl, 5.0);
    float fv = dev_pow(1.0 - nv, 5.0);
    return (1.0 + (fd90 - 1.0) * fl) * (1.0 + (fd90 - 1.0) * fv);
}

// F0 of the base layer's specular lobe: the dielectric's (KHR_materials_ior and _specular) or the metal's base colour.
vec3 specularF0(SurfacePoint p)
{
    return mix(p.dielectricF0, p.baseColor, p.metallic);
}

// Schlick Fresnel of the base layer's specular lobe, whose F90 is the KHR_materials_specular factor for dielectrics.
vec3 baseFresnel(SurfacePoint p, float cosTheta)
{
    vec3 f0 = specularF0(p);
    float f90 = mix(p.specularWeight, 1.0, p.metallic);
    float f = dev_pow(1.0 - clamp(cosTheta, 0.0, 1.0), 5.0);
    return f0 + (vec3(f90) - f0) * f;
}

// The clearcoat layer's Fresnel: a dielectric of index 1.5.
float coatFresnel(float cosTheta)
{
    return 0.04 + 0.96 * dev_pow(1.0 - clamp(cosTheta, 0.0, 1.0), 5.0);
}

// Fresnel reflectance of a smooth dielectric interface; eta is the index of the far side over the near side's.
float fresnelDielectric(float cosI, float eta)
{
    float c = abs(cosI);
    float g2 = eta * eta - 1.0 + c * c;
    if (g2 <= 0.0)
    {
        return 1.0; // total internal reflection
    }
    float g = dev_sqrt(g2);
    float a = (g - c) / (g + c);
    float b = (c * (g + c) - 1.0) / (c * (g - c) + 1.0);
    return 0.5 * a * a * (1.0 + b * b);
}

// Share of the surface that is glass (KHR_materials_transmission): its events are sampled apart from the other lobes.
float glassShare(SurfacePoint p)
{
    return FEATURE_TRANSMISSION ? p.transmission * (1.0 - p.metallic) : 0.0;
}

// Probability of sampling the clearcoat lobe among the reflecting lobes.
float coatProbability(SurfacePoint p)
{
    return FEATURE_CLEARCOAT ? 0.25 * p.clearcoat : 0.0;
}

// The sheen lobe of KHR_materials_sheen: Charlie distribution (Estevez & Kulla 2017) with Neubelt's visibility.
vec3 sheenLobe(SurfacePoint p, float nl, float nv, float nh)
{
    float sin2 = max(1.0 - nh * nh, 0.0);
    float inverse = 1.0 / p.sheenAlpha;
    float d = sin2 > 0.0 ? (2.0 + inverse) * dev_pow(sin2, 0.5 * inverse) / (2.0 * PI) : 0.0;
    return p.sheenColor * d / (4.0 * (nl + nv - nl * nv));
}

// Probability of sampling the specular lobe, from the lobes' expected weights at this view angle.
float specularProbability(SurfacePoint p, float nv)
{
    vec3 f = baseFresnel(p, nv);
    float specular = luminance(f);
    float diffuse = (1.0 - p.metallic) * luminance(p.baseColor) * (principledBsdf() ? 1.0 : 1.0 - luminance(f));
    float total = specular + diffuse;
    return total > 0.0 ? clamp(specular / total, 0.1, 1.0) : 1.0;
}

// The reflecting lobes' value (cosine applied by the caller) and their sampling pdf for direction wi; the
// glass share's refraction and reflection are sampled only (sampleBsdf), never evaluated here.
vec3 evaluateBsdf(SurfacePoint p, vec3 wo, vec3 wi, out float pdf)
{
    pdf = 0.0;
    vec3 n = p.normal;
    float nl = dot(n, wi);
    float nv = dot(n, wo);
    if (nl <= 0.0 || nv <= 0.0 || dot(p.geometricNormal, wi) <= 0.0)
    {
        return vec3(0.0);
    }
    vec3 h = normalize(wi + wo);
    float nh = max(dot(n, h), 0.0);
    float vh = max(dot(wo, h), 0.0);
    vec3 f = baseFresnel(p, vh);
    float d = ggxD(nh, p.alpha);
    vec3 specular = f * d * smithG2(nl, nv, p.alpha) / (4.0 * nl * nv);
    vec3 diffuse;
    if (principledBsdf())
    {
        vec3 f0 = specularF0(p);
        specular *= vec3(1.0) + f0 * (1.0 / max(ggxAlbedo(nv, p.roughness), 0.05) - 1.0);
        diffuse = burleyDiffuse(nl, nv, max(dot(wi, h), 0.0), p.roughness) * (1.0 - p.metallic) * p.baseColor / PI;
    }
    else
    {
        // The diffuse layer keeps what the specular layer does not reflect, taken at the view angle:
        // a per-direction F(v·h) weight does not bound the sum of both layers by one at grazing angles.
        diffuse = (vec3(1.0) - baseFresnel(p, nv)) * (1.0 - p.metallic) * p.baseColor / PI;
    }
    // Glass takes its share from the specular lobe and the dielectric's diffuse, as in Blender's Principled BSDF.
    float glass = glassShare(p);
    vec3 value = specular * (1.0 - glass) + diffuse * (1.0 - p.transmission);
    if (FEATURE_SHEEN && any(greaterThan(p.sheenColor, vec3(0.0))))
    {
        value += sheenLobe(p, nl, nv, nh);
    }

    float ps = specularProbability(p, nv);
    // Visible-normal pdf of h, converted to a pdf of wi.
    float specularPdf = smithG1(nv, p.alpha) * d / (4.0 * nv);
    pdf = ps * specularPdf + (1.0 - ps) * nl / PI;
    if (FEATURE_CLEARCOAT && p.clearcoat > 0.0)
    {
        float coatD = ggxD(nh, p.clearcoatAlpha);
        vec3 coat = vec3(p.clearcoat * coatFresnel(vh) * coatD * smithG2(nl, nv, p.clearcoatAlpha) / (4.0 * nl * nv));
        // What the coat reflects does not reach the layers below, seen from either direction.
        value = value * (1.0 - p.clearcoat * coatFresnel(nv)) * (1.0 - p.clearcoat * coatFresnel(nl)) + coat;
        float pc = coatProbability(p);
        pdf = pc * smithG1(nv, p.clearcoatAlpha) * coatD / (4.0 * nv) + (1.0 - pc) * pdf;
    }
    pdf *= 1.0 - glass;
    return value;
}

void orthonormalBasis(vec3 n, out vec3 t, out vec3 b)
{
    // Duff et al., "Building an Orthonormal Basis, Revisited" (2017).
    float s = n.z >= 0.0 ? 1.0 : -1.0;
    float a = -1.0 / (s + n.z);
    float c = n.x * n.y * a;
    t = vec3(1.0 + s * n.x * n.x * a, s * c, -s * n.x);
    b = vec3(c, s + n.y * n.y * a, -n.y);
}

// Heitz 2018, "Sampling the GGX Distribution of Visible Normals"; ve in the local frame.
vec3 sampleGgxVisibleNormal(vec3 ve, float alpha, float r1, float r2)
{
    vec3 vh = normalize(vec3(alpha * ve.x, alpha * ve.y, ve.z));
    float lensq = vh.x * vh.x + vh.y * vh.y;
    vec3 t1 = lensq > 0.0 ? vec3(-vh.y, vh.x, 0.0) * dev_inversesqrt(lensq) : vec3(1.0, 0.0, 0.0);
    vec3 t2 = cross(vh, t1);
    float r = dev_sqrt(r1);
    float phi = 2.0 * PI * r2;
    float p1 = r * dev_cos(phi);
    float p2 = r * dev_sin(phi);
    float s = 0.5 * (1.0 + vh.z);
    p2 = (1.0 - s) * dev_sqrt(max(0.0, 1.0 - p1 * p1)) + s * p2;
    vec3 nh = p1 * t1 + p2 * t2 + dev_sqrt(max(0.0, 1.0 - p1 * p1 - p2 * p2)) * vh;
    return normalize(vec3(alpha * nh.x, alpha * nh.y, max(0.0, nh.z)));
}

// Picks a direction from the BSDF and the sample's weight (value × cosine / pdf); false when it ends the
// path. pdf is that of the reflecting lobes, or -1 after a glass event (refraction, or the glass's own
// reflection), which light sampling does not cover, so an emitter it reaches counts in full.
bool sampleBsdf(SurfacePoint p, vec3 wo, inout uint rng, out vec3 wi, out vec3 weight, out float pdf)
{
    vec3 n = p.normal;
    vec3 t, b;
    orthonormalBasis(n, t, b);
    float nv = max(dot(n, wo), 1.0e-6);
    float ps = specularProbability(p, nv);
    float choice = nextFloat(rng);
    vec2 direction = draw2(rng, DRAW_BSDF);
    float r1 = direction.x;
    float r2 = direction.y;
    weight = vec3(0.0);
    pdf = 0.0;
    vec3 woLocal = vec3(dot(wo, t), dot(wo, b), dot(wo, n));
    // Pick the lobe first, so every microfacet lobe shares one visible-normal sampling call site.
    float glass = glassShare(p);
    bool glassEvent = FEATURE_TRANSMISSION && choice < glass;
    float lobeChoice = glassEvent ? choice / glass : (glass > 0.0 ? (choice - glass) / (1.0 - glass) : choice);
    float pc = coatProbability(p);
    bool coatEvent = !glassEvent && pc > 0.0 && lobeChoice < pc;
    if (!glassEvent && !coatEvent && pc > 0.0)
    {
        lobeChoice = (lobeChoice - pc) / (1.0 - pc);
    }
    bool diffuseEvent = !glassEvent && !coatEvent && lobeChoice >= ps;
    if (diffuseEvent)
    {
        float r = dev_sqrt(r1);
        float phi = 2.0 * PI * r2;
        wi = t * (r * dev_cos(phi)) + b * (r * dev_sin(phi)) + n * dev_sqrt(max(0.0, 1.0 - r1));
    }
    else
    {
        vec3 h = sampleGgxVisibleNormal(woLocal, coatEvent ? p.clearcoatAlpha : p.alpha, r1, r2);
        vec3 hWorld = t * h.x + b * h.y + n * h.z;
        wi = reflect(-wo, hWorld);
        if (glassEvent)
        {
            // The glass reflects with the dielectric's Fresnel at this microfacet, else refracts
            // (thin-walled: passes straight through, mirrored back across the surface's plane).
            float eta = p.entering ? p.ior : 1.0 / p.ior;
            pdf = -1.0;
            if (lobeChoice < fresnelDielectric(dot(wo, hWorld), eta))
            {
                weight = vec3(smithG1(abs(dot(n, wi)), p.alpha));
                return dot(wi, n) > 0.0 && dot(wi, p.geometricNormal) > 0.0;
            }
            wi = p.thin ? wi - 2.0 * dot(wi, n) * n : refract(-wo, hWorld, 1.0 / eta);
            weight = p.baseColor * smithG1(abs(dot(n, wi)), p.alpha);
            return dot(wi, n) < 0.0 && dot(wi, p.geometricNormal) < 0.0;
        }
    }
    if (dot(wi, n) <= 0.0 || dot(wi, p.geometricNormal) <= 0.0)
    {
        return false;
    }
    vec3 f = evaluateBsdf(p, wo, wi, pdf);
    if (pdf <= 0.0)
    {
        return false;
    }
    weight = f * dot(p.normal, wi) / pdf;
    return true;
}

float powerHeuristic(float a, float b)
{
    float a2 = a * a;
    float b2 = b * b;
    return a2 + b2 > 0.0 ? a2 / (a2 + b2) : 0.0;
}
