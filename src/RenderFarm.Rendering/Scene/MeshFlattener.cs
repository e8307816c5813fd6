using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using static RenderFarm.Rendering.Scene.TriangleAttributes;
using static RenderFarm.Rendering.Scene.VectorMath;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Flattens meshes to world-space triangles with their shading attributes: morph targets, skins and node transforms
/// applied.
/// </summary>
/// <remarks>
/// <para>Triangles are emitted so that cross(V1 − V0, V2 − V0) points to the front side: nodes whose world
/// transform mirrors (negative determinant) are re-wound.</para>
/// <para>Normals: vertex normals when present, otherwise the flat face normal repeated on all three vertices.
/// Tangents: vertex tangents when present; otherwise, for materials with a normal texture, per-triangle tangents
/// from the UV gradient, orthogonalised against each vertex normal, with w = +1 when the bitangent cross(N, T)
/// points along decreasing glTF v (the MikkTSpace/Blender convention); where UVs are absent or degenerate the
/// tangents stay zero.</para>
/// </remarks>
internal static class MeshFlattener
{
    /// <summary>
    /// Every triangle of <paramref name="scene"/> in world space, in node order: morph targets applied in the mesh's
    /// space, then the skin's joint matrices (which replace the node's own transform, as glTF specifies) or the
    /// node's world matrix.
    /// </summary>
    /// <param name="scene">The scene.</param>
    /// <param name="pose">Its pose.</param>
    /// <param name="include">Which node instances to flatten; null for all.</param>
    internal static (Vector3[] Vertices, GpuTriangleShading[] Shading, uint[] Materials) Flatten(SceneDescription scene, ScenePose pose, bool[]? include = null)
    {
        int count = 0;
        for (int i = 0; i < scene.Nodes.Length; i++)
        {
            if (include is null || include[i])
            {
                foreach (MeshPart part in scene.Nodes[i].Parts)
                {
                    count = checked(count + (part.Indices.Length / 3));
                }
            }
        }

        var vertices = new Vector3[3 * count];
        var shading = new GpuTriangleShading[count];
        var materials = new uint[count];
        int written = 0;
        for (int i = 0; i < scene.Nodes.Length; i++)
        {
            if (include is not null && !include[i])
            {
                continue;
            }

            SceneNode node = scene.Nodes[i];
            Matrix4x4[]? joints = node.Skin >= 0 ? pose.JointMatrices[node.Skin] : null;
            foreach (MeshPart part in node.Parts)
            {
                written = AppendPart(part, pose.World[i], pose.MorphWeights[i], joints, vertices, shading, materials, written);
            }
        }

        return (vertices, shading, materials);
    }

    // Mesh-space attributes with the weighted morph displacements added; the part's own arrays when no weight is set.
    private static (Vector3[] Positions, Vector3[]? Normals, Vector4[]? Tangents) Morph(MeshPart part, float[] weights)
    {
        Vector3[] positions = part.Positions;
        Vector3[]? normals = part.Normals;
        Vector4[]? tangents = part.Tangents;
        if (part.Targets is not MorphTarget[] targets || !weights.Any(w => w != 0))
        {
            return (positions, normals, tangents);
        }

        positions = (Vector3[])positions.Clone();
        normals = (Vector3[]?)normals?.Clone();
        tangents = (Vector4[]?)tangents?.Clone();
        for (int k = 0; k < targets.Length && k < weights.Length; k++)
        {
            float w = weights[k];
            if (w == 0)
            {
                continue;
            }

            MorphTarget target = targets[k];
            if (target.Positions is Vector3[] dp)
            {
                for (int v = 0; v < positions.Length; v++)
                {
                    positions[v] += w * dp[v];
                }
            }

            if (normals is not null && target.Normals is Vector3[] dn)
            {
                for (int v = 0; v < normals.Length; v++)
                {
                    normals[v] += w * dn[v];
                }
            }

            if (tangents is not null && target.Tangents is Vector3[] dt)
            {
                for (int v = 0; v < tangents.Length; v++)
                {
                    tangents[v] += new Vector4(w * dt[v], 0);
                }
            }
        }

        return (positions, normals, tangents);
    }

    // The blend of the joint matrices by the vertex's weights (linear blend skinning).
    private static Matrix4x4 SkinMatrix(Matrix4x4[] joints, int[] indices, int vertex, Vector4 weights)
    {
        int first = 4 * vertex;
        return (joints[indices[first]] * weights.X)
            + (joints[indices[first + 1]] * weights.Y)
            + (joints[indices[first + 2]] * weights.Z)
            + (joints[indices[first + 3]] * weights.W);
    }

    internal static int AppendPart(
        MeshPart part,
        Matrix4x4 world,
        float[] morphWeights,
        Matrix4x4[]? joints,
        Vector3[] vertices,
        GpuTriangleShading[] shading,
        uint[] materials,
        int written)
    {
        (Vector3[] local, Vector3[]? localNormals, Vector4[]? localTangents) = Morph(part, morphWeights);
        float worldDet = world.GetDeterminant();
        Matrix4x4 worldNormalMatrix = NormalMatrix(world, worldDet);
        bool skinned = joints is not null && part.Joints is not null && part.Weights is not null;
        bool[]? mirrored = skinned ? new bool[local.Length] : null;
        var positions = new Vector3[local.Length];
        Vector3[]? normals = localNormals is null ? null : new Vector3[local.Length];
        Vector4[]? tangents = localTangents is null ? null : new Vector4[local.Length];
        for (int i = 0; i < positions.Length; i++)
        {
            Matrix4x4 m = world;
            Matrix4x4 normalMatrix = worldNormalMatrix;
            float det = worldDet;

            // A vertex without weights follows the skinned node rigidly.
            if (skinned && part.Weights![i] != Vector4.Zero)
            {
                m = SkinMatrix(joints!, part.Joints!, i, part.Weights[i]);
                det = m.GetDeterminant();
                normalMatrix = NormalMatrix(m, det);
                mirrored![i] = det < 0;
            }
            else if (mirrored is not null)
            {
                mirrored[i] = det < 0;
            }

            positions[i] = Vector3.Transform(local[i], m);
            if (normals is not null)
            {
                normals[i] = SafeNormalize(Vector3.TransformNormal(localNormals![i], normalMatrix));
            }

            if (tangents is not null)
            {
                // A mirroring transform flips the bitangent's handedness.
                Vector4 t = localTangents![i];
                Vector3 xyz = SafeNormalize(Vector3.TransformNormal(new Vector3(t.X, t.Y, t.Z), m));
                tangents[i] = new Vector4(xyz, (t.W < 0 ? -1 : 1) * (det < 0 ? -1 : 1));
            }
        }

        int[] indices = part.Indices;
        for (int k = 0; k < indices.Length; k += 3)
        {
            // A skinned triangle is re-wound when the blend at its first vertex mirrors.
            bool flip = mirrored?[indices[k]] ?? worldDet < 0;
            int a = indices[k];
            int b = flip ? indices[k + 2] : indices[k + 1];
            int c = flip ? indices[k + 1] : indices[k + 2];
            Vector3 p0 = positions[a];
            Vector3 p1 = positions[b];
            Vector3 p2 = positions[c];
            vertices[3 * written] = p0;
            vertices[(3 * written) + 1] = p1;
            vertices[(3 * written) + 2] = p2;
            materials[written] = part.Material;

            GpuTriangleShading s = default;
            if (normals is not null)
            {
                s.N0 = new Vector4(normals[a], 0);
                s.N1 = new Vector4(normals[b], 0);
                s.N2 = new Vector4(normals[c], 0);
            }
            else
            {
                var face = new Vector4(SafeNormalize(Vector3.Cross(p1 - p0, p2 - p0)), 0);
                s.N0 = s.N1 = s.N2 = face;
            }

            if (part.Uvs is Vector2[] uvs)
            {
                s.Uv01 = new Vector4(uvs[a].X, uvs[a].Y, uvs[b].X, uvs[b].Y);
                s.Uv2 = new Vector4(uvs[c].X, uvs[c].Y, 0, 0);
                if (part.GenerateTangents)
                {
                    GenerateTangents(ref s, p0, p1, p2, uvs[a], uvs[b], uvs[c]);
                }
            }

            SecondSetAndColors(ref s, part, a, b, c);

            if (tangents is not null)
            {
                s.T0 = tangents[a];
                s.T1 = tangents[b];
                s.T2 = tangents[c];
            }

            shading[written] = s;
            written++;
        }

        return written;
    }

    // Inverse transpose of the linear part, up to a positive scale: rows of the cofactor matrix with
    // the determinant's sign, which stays defined for singular (flattened) transforms.
    private static Matrix4x4 NormalMatrix(Matrix4x4 m, float det)
    {
        var r0 = new Vector3(m.M11, m.M12, m.M13);
        var r1 = new Vector3(m.M21, m.M22, m.M23);
        var r2 = new Vector3(m.M31, m.M32, m.M33);
        float sign = det < 0 ? -1 : 1;
        Vector3 c0 = Vector3.Cross(r1, r2) * sign;
        Vector3 c1 = Vector3.Cross(r2, r0) * sign;
        Vector3 c2 = Vector3.Cross(r0, r1) * sign;
        return new Matrix4x4(
            c0.X, c0.Y, c0.Z, 0,
            c1.X, c1.Y, c1.Z, 0,
            c2.X, c2.Y, c2.Z, 0,
            0, 0, 0, 1);
    }
}
