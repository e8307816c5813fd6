using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>
/// What the importer hands the shader for TEXCOORD_1, COLOR_0 and KHR_texture_transform (samples/texture-features),
/// checked on the CPU: the GPU renders of the same files are compared with Cycles in TextureFeatureCyclesFacts.
/// </summary>
public sealed class TextureFeatureImportFacts
{
    private static GpuSceneData Frame(string sample) =>
        SceneAsset.Load(RepositoryPaths.Combine($"samples/texture-features/{sample}.glb")).BuildFrame(0, 1);

    // Guards the second set of every vertex: vertex 2's TEXCOORD_1 shares a vector with its TEXCOORD_0, and writing one
    // after the other once zeroed it (the floor's checker came out sheared along the diagonal).
    [Fact]
    public void Every_triangle_carries_the_three_vertices_of_its_second_set()
    {
        GpuSceneData frame = Frame("texcoord1");

        // The cube and the floor sample one image with one sampler and set: one entry, read with TEXCOORD_1.
        GpuTexture texture = Assert.Single(frame.Textures);
        Assert.NotEqual(0u, texture.Flags & GpuTexture.FlagTexCoord1);
        // The Tiles layer's corners (scale 3 on the cube, 1.5 on the floor), V flipped by the exporter as glTF wants.
        float[] fileU = [0, 1.5f, 3];
        float[] fileV = [1, -0.5f, -2];
        int withSecondSet = 0;
        foreach (GpuTriangleShading s in frame.Shading)
        {
            Vector2[] set1 = [new(s.Uv1Of01.X, s.Uv1Of01.Y), new(s.Uv1Of01.Z, s.Uv1Of01.W), new(s.Uv2.Z, s.Uv2.W)];
            if (set1.All(p => p == Vector2.Zero))
            {
                continue; // the light quad has one set
            }

            withSecondSet++;
            Assert.All(set1, p => Assert.True(fileU.Contains(p.X) && fileV.Contains(p.Y), $"{p} is not a TEXCOORD_1 value of the file"));
            Vector2 e1 = set1[1] - set1[0];
            Vector2 e2 = set1[2] - set1[0];
            Assert.NotEqual(0f, (e1.X * e2.Y) - (e1.Y * e2.X));
        }

        Assert.Equal(14, withSecondSet); // the cube's 12 triangles and the floor's 2
    }

    [Fact]
    public void Vertex_colours_reach_the_coloured_triangles_and_others_stay_white()
    {
        GpuSceneData frame = Frame("vertex-colors");

        // Stored complemented: zero is opaque white, the value of every triangle without COLOR_0.
        int coloured = frame.Shading.Count(s => s.Color0 != 0 || s.Color1 != 0 || s.Color2 != 0);
        Assert.Equal(frame.Shading.Length - 4, coloured); // all but the floor's and the light's two triangles each
        Assert.Contains(frame.Shading, s => (~s.Color0 & 0xFFu) > 200 && ((~s.Color0 >> 16) & 0xFFu) < 100); // reddish corners
        Assert.Contains(frame.Shading, s => (~s.Color0 & 0xFFu) < 100 && ((~s.Color0 >> 16) & 0xFFu) > 200); // bluish corners
        Assert.All(frame.Shading, s => Assert.Equal(0xFFu, (~s.Color0 >> 24) & 0xFFu));
    }

    [Fact]
    public void A_texture_transform_is_carried_per_texture_and_its_absence_is_the_identity()
    {
        GpuSceneData transformed = Frame("texture-transform");
        GpuSceneData plain = Frame("texcoord1");

        Assert.All(plain.Textures, t => Assert.Equal((Vector4.UnitX, Vector4.UnitY), (t.TransformU, t.TransformV)));
        // The cube's and the floor's textures share the image but not the transform: two entries, neither the identity.
        Assert.Equal(2, transformed.Textures.Length);
        Assert.Equal(transformed.Textures[0].Offset, transformed.Textures[1].Offset);
        Assert.NotEqual(transformed.Textures[0].TransformU, transformed.Textures[1].TransformU);
        Assert.All(transformed.Textures, t => Assert.NotEqual(Vector4.UnitX, t.TransformU));
    }
}
