// Texture fetches: wrap modes, sRGB decoding, nearest and bilinear filtering.

float srgbToLinear(float c)
{
    return c <= 0.04045 ? c / 12.92 : dev_pow((c + 0.055) / 1.055, 2.4);
}

int wrapCoordinate(int i, uint size, uint mode)
{
    int n = int(size);
    if (mode == 1u)
    {
        return clamp(i, 0, n - 1);
    }
    if (mode == 2u)
    {
        int period = 2 * n;
        int m = ((i % period) + period) % period;
        return m < n ? m : period - 1 - m;
    }
    return ((i % n) + n) % n;
}

vec4 fetchTexel(Texture tex, int x, int y)
{
    uint wrapS = tex.flags & 3u;
    uint wrapT = (tex.flags >> 2u) & 3u;
    uint xi = uint(wrapCoordinate(x, tex.width, wrapS));
    uint yi = uint(wrapCoordinate(y, tex.height, wrapT));
    vec4 c = unpackUnorm4x8(texels[tex.offset + yi * tex.width + xi]);
    if ((tex.flags & TEXTURE_SRGB) != 0u)
    {
        c.rgb = vec3(srgbToLinear(c.r), srgbToLinear(c.g), srgbToLinear(c.b));
    }
    return c;
}

// The alpha of the texel nearest to uv (alpha is linear in every glTF texture): the alpha test
// during traversal stays small, as it is inlined into every ray's traversal loop.
float textureAlpha(int index, vec2 uv)
{
    Texture tex = textures[index];
    vec2 p = floor(uv * vec2(tex.width, tex.height));
    uint xi = uint(wrapCoordinate(int(p.x), tex.width, tex.flags & 3u));
    uint yi = uint(wrapCoordinate(int(p.y), tex.height, (tex.flags >> 2u) & 3u));
    return float(texels[tex.offset + yi * tex.width + xi] >> 24u) * (1.0 / 255.0);
}

vec4 sampleTexture(int index, vec2 uv)
{
    Texture tex = textures[index];
    vec2 p = uv * vec2(tex.width, tex.height);
    if ((tex.flags & TEXTURE_NEAREST) != 0u)
    {
        return fetchTexel(tex, int(floor(p.x)), int(floor(p.y)));
    }
    p -= 0.5;
    vec2 base = floor(p);
    vec2 f = p - base;
    int x = int(base.x);
    int y = int(base.y);
    vec4 c00 = fetchTexel(tex, x, y);
    vec4 c10 = fetchTexel(tex, x + 1, y);
    vec4 c01 = fetchTexel(tex, x, y + 1);
    vec4 c11 = fetchTexel(tex, x + 1, y + 1);
    return mix(mix(c00, c10, f.x), mix(c01, c11, f.x), f.y);
}

// Both texture coordinate sets of a triangle's point (u, v): TEXCOORD_0 in xy, TEXCOORD_1 in zw.
vec4 triangleUvs(TriangleShading s, float u, float v)
{
    float w = 1.0 - u - v;
    return vec4(s.uv01.xy * w + s.uv01.zw * u + s.uv2.xy * v, s.uv1of01.xy * w + s.uv1of01.zw * u + s.uv2.zw * v);
}

// One vertex's COLOR_0, linear RGBA: packed sRGB-encoded and complemented (zero is opaque white, see GpuLayout.cs).
vec4 unpackVertexColor(uint packed)
{
    vec4 c = unpackUnorm4x8(~packed);
    return vec4(srgbToLinear(c.r), srgbToLinear(c.g), srgbToLinear(c.b), c.a);
}

// COLOR_0 at (u, v), interpolated in linear light as Blender does; white without colours.
vec4 vertexColor(TriangleShading s, float u, float v)
{
    if ((s.color0 | s.color1 | s.color2) == 0u)
    {
        return vec4(1.0);
    }
    return unpackVertexColor(s.color0) * (1.0 - u - v) + unpackVertexColor(s.color1) * u + unpackVertexColor(s.color2) * v;
}

// The coordinate a texture is read at: its set, through its KHR_texture_transform (rows of a 2x3 matrix).
vec2 textureCoordinate(Texture tex, vec4 uvs)
{
    vec3 uv = vec3((tex.flags & TEXTURE_SET1) != 0u ? uvs.zw : uvs.xy, 1.0);
    return vec2(dot(tex.transformU.xyz, uv), dot(tex.transformV.xyz, uv));
}

vec4 sampleTexture(int index, vec4 uvs)
{
    return sampleTexture(index, textureCoordinate(textures[index], uvs));
}

float textureAlpha(int index, vec4 uvs)
{
    return textureAlpha(index, textureCoordinate(textures[index], uvs));
}
