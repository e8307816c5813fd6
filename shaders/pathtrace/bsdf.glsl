// The BSDF: evaluation, its sampling pdf, and sampling.

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

vec3 specularF0(SurfacePoint p)
{
    return mix(vec3(0.04), p.baseColor, p.metallic);
}

// Probability of sampling the specular lobe, from the lobes' expected weights at this view angle.
float specularProbability(SurfacePoint p, float nv)
{
    vec3 f = fresnelSchlick(specularF0(p), nv);
    float specular = luminance(f);
    float diffuse = (1.0 - p.metallic) * luminance(p.baseColor) * (1.0 - luminance(f));
    float total = specular + diffuse;
    return total > 0.0 ? clamp(specular / total, 0.1, 1.0) : 1.0;
}

// BSDF value times nothing (cosine applied by the caller) and its sampling pdf for direction wi.
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
    vec3 f = fresnelSchlick(specularF0(p), vh);
    float d = ggxD(nh, p.alpha);
    vec3 specular = f * d * smithG2(nl, nv, p.alpha) / (4.0 * nl * nv);
    // The diffuse layer keeps what the specular layer does not reflect, taken at the view angle:
    // a per-direction F(v·h) weight does not bound the sum of both layers by one at grazing angles.
    vec3 diffuse = (vec3(1.0) - fresnelSchlick(specularF0(p), nv)) * (1.0 - p.metallic) * p.baseColor / PI;

    float ps = specularProbability(p, nv);
    // Visible-normal pdf of h, converted to a pdf of wi.
    float specularPdf = smithG1(nv, p.alpha) * d / (4.0 * nv);
    pdf = ps * specularPdf + (1.0 - ps) * nl / PI;
    return specular + diffuse;
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

// Picks a direction from the BSDF; false when the sample is below the surface.
bool sampleBsdf(SurfacePoint p, vec3 wo, inout uint rng, out vec3 wi)
{
    vec3 n = p.normal;
    vec3 t, b;
    orthonormalBasis(n, t, b);
    float nv = max(dot(n, wo), 1.0e-6);
    float ps = specularProbability(p, nv);
    float choice = nextFloat(rng);
    float r1 = nextFloat(rng);
    float r2 = nextFloat(rng);
    if (choice < ps)
    {
        vec3 woLocal = vec3(dot(wo, t), dot(wo, b), dot(wo, n));
        vec3 h = sampleGgxVisibleNormal(woLocal, p.alpha, r1, r2);
        vec3 hWorld = t * h.x + b * h.y + n * h.z;
        wi = reflect(-wo, hWorld);
    }
    else
    {
        float r = dev_sqrt(r1);
        float phi = 2.0 * PI * r2;
        wi = t * (r * dev_cos(phi)) + b * (r * dev_sin(phi)) + n * dev_sqrt(max(0.0, 1.0 - r1));
    }
    return dot(wi, n) > 0.0 && dot(wi, p.geometricNormal) > 0.0;
}

float powerHeuristic(float a, float b)
{
    float a2 = a * a;
    float b2 = b * b;
    return a2 + b2 > 0.0 ? a2 / (a2 + b2) : 0.0;
}
