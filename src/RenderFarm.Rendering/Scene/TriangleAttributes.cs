using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using static RenderFarm.Rendering.Scene.VectorMath;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// The per-triangle shading attributes beside positions and normals: tangents generated from the UV gradient, the
/// second UV set and packed vertex colours.
/// </summary>
internal static class TriangleAttributes
{
    // TEXCOORD_1 (beside TEXCOORD_0 of vertex 2, and in its own vector) and COLOR_0, packed as the shader reads them.
    internal static void SecondSetAndColors(ref GpuTriangleShading s, MeshPart part, int a, int b, int c)
    {
        if (part.Uvs1 is Vector2[] uvs1)
        {
            s.Uv1Of01 = new Vector4(uvs1[a].X, uvs1[a].Y, uvs1[b].X, uvs1[b].Y);
            s.Uv2.Z = uvs1[c].X;
            s.Uv2.W = uvs1[c].Y;
        }

        if (part.Colors is Vector4[] colors)
        {
            s.Color0 = PackColor(colors[a]);
            s.Color1 = PackColor(colors[b]);
            s.Color2 = PackColor(colors[c]);
        }
    }

    // Linear RGBA to sRGB-encoded RGBA8 (alpha linear), complemented: 8 bits hold dark colours well only after the sRGB
    // curve, and the complement makes an all-zero record (a triangle without colours) opaque white.
    internal static uint PackColor(Vector4 linear)
    {
        static uint Byte(float value) => (uint)MathF.Round(Math.Clamp(float.IsFinite(value) ? value : 0f, 0f, 1f) * 255f);
        static float Encode(float c) => c <= 0.0031308f ? c * 12.92f : (1.055f * MathF.Pow(c, 1f / 2.4f)) - 0.055f;
        uint packed = Byte(Encode(Math.Clamp(linear.X, 0f, 1f))) | (Byte(Encode(Math.Clamp(linear.Y, 0f, 1f))) << 8)
            | (Byte(Encode(Math.Clamp(linear.Z, 0f, 1f))) << 16) | (Byte(linear.W) << 24);
        return ~packed;
    }

    // Per-triangle tangent from the UV gradient; w = +1 when cross(N, T) runs along decreasing v.
    internal static void GenerateTangents(ref GpuTriangleShading s, Vector3 p0, Vector3 p1, Vector3 p2, Vector2 uv0, Vector2 uv1, Vector2 uv2)
    {
        Vector3 e1 = p1 - p0;
        Vector3 e2 = p2 - p0;
        Vector2 d1 = uv1 - uv0;
        Vector2 d2 = uv2 - uv0;
        float r = (d1.X * d2.Y) - (d2.X * d1.Y);
        if (r == 0 || !float.IsFinite(r))
        {
            return;
        }

        Vector3 dpdu = ((e1 * d2.Y) - (e2 * d1.Y)) / r;
        Vector3 dpdv = ((e2 * d1.X) - (e1 * d2.X)) / r;
        s.T0 = Orthogonalize(s.N0, dpdu, dpdv);
        s.T1 = Orthogonalize(s.N1, dpdu, dpdv);
        s.T2 = Orthogonalize(s.N2, dpdu, dpdv);
    }

    private static Vector4 Orthogonalize(Vector4 normal4, Vector3 dpdu, Vector3 dpdv)
    {
        var normal = new Vector3(normal4.X, normal4.Y, normal4.Z);
        Vector3 tangent = SafeNormalize(dpdu - (normal * Vector3.Dot(normal, dpdu)));
        if (tangent == Vector3.Zero)
        {
            return Vector4.Zero;
        }

        float w = Vector3.Dot(Vector3.Cross(normal, tangent), dpdv) < 0 ? 1 : -1;
        return new Vector4(tangent, w);
    }
}
