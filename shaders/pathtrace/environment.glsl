// The environment seen by rays that leave the scene: a uniform radiance, or an equirectangular map laid out as
// Blender's Environment Texture reads it and importance-sampled in proportion to luminance × sin θ. The tables
// come from src/RenderFarm.Rendering/Lighting/EnvironmentLight.cs, whose TexelOf, DirectionOf and Sample mirror
// the functions below.

bool hasEnvironmentMap()
{
    return FEATURE_ENVIRONMENT_MAP && u_frame.environmentWidth > 0u;
}

// Light samples on the map: false for a black map (or none), whose rays draw no random numbers for it.
bool samplesEnvironment()
{
    return FEATURE_ENVIRONMENT_MAP && u_frame.environmentRotation.w > 0.0;
}

// Continuous texel coordinates of a unit direction: glTF (x, y, z) is Blender (x, -z, y), turned about Blender's Z.
vec2 environmentTexelOf(vec3 d)
{
    float c = u_frame.environmentRotation.x;
    float s = u_frame.environmentRotation.y;
    float bx = d.x;
    float by = -d.z;
    float rx = c * bx - s * by;
    float ry = s * bx + c * by;
    float u = (rx == 0.0 && ry == 0.0) ? 0.5 : -atan(ry, rx) / (2.0 * PI) + 0.5;
    float v = atan(d.y, dev_sqrt(rx * rx + ry * ry)) / PI + 0.5;
    return vec2(fract(u) * float(u_frame.environmentWidth), clamp(1.0 - v, 0.0, 1.0) * float(u_frame.environmentHeight));
}

uvec2 environmentCell(vec2 texel)
{
    return uvec2(min(uint(texel.x), u_frame.environmentWidth - 1u), min(uint(texel.y), u_frame.environmentHeight - 1u));
}

vec3 environmentRadiance(vec3 d)
{
    if (!hasEnvironmentMap())
    {
        return u_frame.environment.rgb;
    }
    uvec2 cell = environmentCell(environmentTexelOf(d));
    uint i = 3u * (cell.y * u_frame.environmentWidth + cell.x);
    return vec3(environmentTexels[i], environmentTexels[i + 1u], environmentTexels[i + 2u]) * u_frame.environmentRotation.z;
}

// Density over the image's unit square of sampling a cell: the marginal CDF (height + 1 values) comes first in
// the table, then one conditional CDF of width + 1 values per row.
float environmentCellPdf(uvec2 cell)
{
    uint w = u_frame.environmentWidth;
    uint h = u_frame.environmentHeight;
    float row = environmentCdf[cell.y + 1u] - environmentCdf[cell.y];
    uint start = h + 1u + cell.y * (w + 1u);
    float column = environmentCdf[start + cell.x + 1u] - environmentCdf[start + cell.x];
    return row * float(h) * column * float(w);
}

// Density over solid angle of a light sample towards unit direction d.
float environmentPdf(vec3 d)
{
    float sinTheta = dev_sqrt(max(0.0, 1.0 - d.y * d.y));
    return sinTheta > 0.0 ? environmentCellPdf(environmentCell(environmentTexelOf(d))) / (2.0 * PI * PI * sinTheta) : 0.0;
}

// The first cell of a CDF (count cells, count + 1 values from start) whose upper bound passes u.
uint sampleEnvironmentCdf(uint start, uint count, float u, out float offset)
{
    uint lo = 0u;
    uint hi = count - 1u;
    while (lo < hi)
    {
        uint mid = (lo + hi) / 2u;
        if (u < environmentCdf[start + mid + 1u])
        {
            hi = mid;
        }
        else
        {
            lo = mid + 1u;
        }
    }
    float low = environmentCdf[start + lo];
    float span = environmentCdf[start + lo + 1u] - low;
    offset = span > 0.0 ? clamp((u - low) / span, 0.0, 0.99999994) : 0.5;
    return lo;
}

// A direction drawn from the map's distribution and its density over solid angle.
vec3 sampleEnvironment(inout uint rng, out float pdf)
{
    vec2 u = draw2(rng, DRAW_ENVIRONMENT);
    float u1 = u.x;
    float u2 = u.y;
    uint w = u_frame.environmentWidth;
    uint h = u_frame.environmentHeight;
    float rowOffset;
    float columnOffset;
    uint row = sampleEnvironmentCdf(0u, h, u2, rowOffset);
    uint column = sampleEnvironmentCdf(h + 1u + row * (w + 1u), w, u1, columnOffset);
    float azimuth = (0.5 - (float(column) + columnOffset) / float(w)) * 2.0 * PI;
    float elevation = (0.5 - (float(row) + rowOffset) / float(h)) * PI;
    float rx = dev_cos(elevation) * dev_cos(azimuth);
    float ry = dev_cos(elevation) * dev_sin(azimuth);
    float c = u_frame.environmentRotation.x;
    float s = u_frame.environmentRotation.y;
    float bx = c * rx + s * ry;
    float by = -s * rx + c * ry;
    vec3 d = vec3(bx, dev_sin(elevation), -by);
    float sinTheta = dev_cos(elevation);
    pdf = sinTheta > 0.0 ? environmentCellPdf(uvec2(column, row)) / (2.0 * PI * PI * sinTheta) : 0.0;
    return d;
}
