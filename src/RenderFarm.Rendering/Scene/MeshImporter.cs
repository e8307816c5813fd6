using System.Globalization;
using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Reads one glTF mesh into the <see cref="MeshPart"/>s the renderer draws: triangle lists (strips and fans converted),
/// their vertex attributes, joint influences and morph targets, each checked against the mesh's vertex count.
/// </summary>
internal static class MeshImporter
{
    /// <summary>Reads the triangle primitives of <paramref name="mesh"/>; what it cannot draw goes to <paramref name="report"/>.</summary>
    /// <exception cref="UserInputException">An index, an attribute or a joint of the mesh is out of range.</exception>
    public static MeshPart[] Import(Mesh mesh, GpuMaterial[] materials, uint defaultMaterial, string displayName, SceneReport report)
    {
        string meshName = string.IsNullOrEmpty(mesh.Name)
            ? string.Create(CultureInfo.InvariantCulture, $"mesh {mesh.LogicalIndex}")
            : $"mesh '{ImportGuards.Shorten(mesh.Name)}'";
        var parts = new List<MeshPart>();
        foreach (MeshPrimitive primitive in mesh.Primitives)
        {
            if (primitive.DrawPrimitiveType is not (PrimitiveType.TRIANGLES or PrimitiveType.TRIANGLE_STRIP or PrimitiveType.TRIANGLE_FAN))
            {
                report.Add($"{meshName} has {primitive.DrawPrimitiveType} primitives; points and lines are not drawn.");
                continue;
            }

            if (primitive.GetVertexAccessor("POSITION") is not Accessor positionAccessor)
            {
                continue;
            }

            Vector3[] positions = ToArray(positionAccessor.AsVector3Array());
            var indices = new List<int>();
            foreach ((int a, int b, int c) in primitive.GetTriangleIndices())
            {
                if ((uint)a >= (uint)positions.Length || (uint)b >= (uint)positions.Length || (uint)c >= (uint)positions.Length)
                {
                    throw new UserInputException(
                        $"'{displayName}' is not a valid glTF file: mesh {mesh.LogicalIndex} has a vertex index past its {positions.Length} vertices.");
                }

                indices.Add(a);
                indices.Add(b);
                indices.Add(c);
            }

            if (indices.Count == 0)
            {
                continue;
            }

            ReportAttributes(primitive, meshName, report);
            Vector3[]? normals = primitive.GetVertexAccessor("NORMAL") is Accessor n ? ToArray(n.AsVector3Array()) : null;
            Vector4[]? tangents = primitive.GetVertexAccessor("TANGENT") is Accessor t ? ToArray(t.AsVector4Array()) : null;
            Vector2[]? uvs = primitive.GetVertexAccessor("TEXCOORD_0") is Accessor uv ? ToArray(uv.AsVector2Array()) : null;
            Vector2[]? uvs1 = primitive.GetVertexAccessor("TEXCOORD_1") is Accessor uv1 ? ToArray(uv1.AsVector2Array()) : null;
            Vector4[]? colors = primitive.GetVertexAccessor("COLOR_0") is Accessor color ? ToArray(color.AsColorArray()) : null;

            // Attributes of the wrong length are invalid glTF; drop them rather than read past their end.
            normals = normals?.Length == positions.Length ? normals : null;
            tangents = tangents?.Length == positions.Length ? tangents : null;
            uvs = uvs?.Length == positions.Length ? uvs : null;
            uvs1 = uvs1?.Length == positions.Length ? uvs1 : null;
            colors = colors?.Length == positions.Length ? colors : null;

            uint material = primitive.Material is Material m ? (uint)m.LogicalIndex : defaultMaterial;
            bool generateTangents = tangents is null && uvs is not null && materials[material].NormalTexture >= 0;
            (int[]? joints, Vector4[]? weights, int maxJoint) = ImportInfluences(primitive, positions.Length, displayName, meshName);
            MorphTarget[]? targets = ImportTargets(primitive, positions.Length, displayName, meshName, report);
            parts.Add(new MeshPart([.. indices], positions, normals, tangents, uvs, material, generateTangents, joints, weights, targets)
            {
                MaxJoint = maxJoint,
                Uvs1 = uvs1,
                Colors = colors,
            });
        }

        return [.. parts];
    }

    // JOINTS_0 and WEIGHTS_0 together, weights normalised so their sum is 1 (exporters round them); a vertex whose
    // weights are all zero is left all zero and follows the skinned node rigidly.
    private static (int[]? Joints, Vector4[]? Weights, int MaxJoint) ImportInfluences(
        MeshPrimitive primitive, int vertexCount, string displayName, string meshName)
    {
        if (primitive.GetVertexAccessor("JOINTS_0") is not Accessor jointAccessor
            || primitive.GetVertexAccessor("WEIGHTS_0") is not Accessor weightAccessor)
        {
            return (null, null, -1);
        }

        IList<Vector4> jointValues = jointAccessor.AsVector4Array();
        IList<Vector4> weightValues = weightAccessor.AsVector4Array();
        if (jointValues.Count != vertexCount || weightValues.Count != vertexCount)
        {
            throw new UserInputException(
                $"'{displayName}' is not a valid glTF file: {meshName} has JOINTS_0 or WEIGHTS_0 of another length than its {vertexCount} vertices.");
        }

        var joints = new int[4 * vertexCount];
        var weights = new Vector4[vertexCount];
        int maxJoint = -1;
        for (int v = 0; v < vertexCount; v++)
        {
            Vector4 j = jointValues[v];
            Vector4 w = Vector4.Max(weightValues[v], Vector4.Zero);
            float sum = w.X + w.Y + w.Z + w.W;
            weights[v] = sum > 0 && float.IsFinite(sum) ? w / sum : Vector4.Zero;
            ReadOnlySpan<float> components = [j.X, j.Y, j.Z, j.W];
            for (int k = 0; k < 4; k++)
            {
                float value = components[k];
                if (!(value >= 0 && value < SceneLimits.MaxJointsPerSkin) || value != MathF.Floor(value))
                {
                    throw new UserInputException(
                        $"'{displayName}' is not a valid glTF file: {meshName} names a joint that is not a whole number below {SceneLimits.MaxJointsPerSkin}.");
                }

                joints[(4 * v) + k] = (int)value;
                maxJoint = Math.Max(maxJoint, (int)value);
            }
        }

        return (joints, weights, maxJoint);
    }

    private static MorphTarget[]? ImportTargets(MeshPrimitive primitive, int vertexCount, string displayName, string meshName, SceneReport report)
    {
        int count = primitive.MorphTargetsCount;
        if (count == 0)
        {
            return null;
        }

        if (count > SceneLimits.MaxMorphTargetsPerPrimitive)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{displayName}': {meshName} has {count} morph targets in one primitive; the limit is {SceneLimits.MaxMorphTargetsPerPrimitive}."));
        }

        var targets = new MorphTarget[count];
        for (int i = 0; i < count; i++)
        {
            IReadOnlyDictionary<string, Accessor> accessors = primitive.GetMorphTargetAccessors(i);
            Vector3[]? Read(string attribute)
            {
                if (!accessors.TryGetValue(attribute, out Accessor? accessor))
                {
                    return null;
                }

                Vector3[] values = ToArray(accessor.AsVector3Array());
                return values.Length == vertexCount ? values : throw new UserInputException(
                    $"'{displayName}' is not a valid glTF file: {meshName} has a morph target {attribute} of another length than its {vertexCount} vertices.");
            }

            foreach (string attribute in accessors.Keys)
            {
                if (attribute is not ("POSITION" or "NORMAL" or "TANGENT"))
                {
                    report.Add($"{meshName} has morph target {ImportGuards.Shorten(attribute)} displacements; only POSITION, NORMAL and TANGENT are morphed.");
                }
            }

            targets[i] = new MorphTarget(Read("POSITION"), Read("NORMAL"), Read("TANGENT"));
        }

        return targets;
    }

    private static void ReportAttributes(MeshPrimitive primitive, string meshName, SceneReport report)
    {
        foreach (string attribute in primitive.VertexAccessors.Keys)
        {
            string? line = attribute switch
            {
                _ when attribute.StartsWith("TEXCOORD_", StringComparison.Ordinal)
                    && (!int.TryParse(attribute.AsSpan(9), NumberStyles.None, CultureInfo.InvariantCulture, out int set) || set >= SupportedFeatures.TexCoordSets)
                    => SupportedFeatures.TexCoordSets == 1
                        ? $"{meshName} has {ImportGuards.Shorten(attribute)}; only TEXCOORD_0 is read."
                        : string.Create(CultureInfo.InvariantCulture, $"{meshName} has {ImportGuards.Shorten(attribute)}; only TEXCOORD_0 to TEXCOORD_{SupportedFeatures.TexCoordSets - 1} are read."),
                _ when attribute.StartsWith("COLOR_", StringComparison.Ordinal) && !(SupportedFeatures.VertexColors && attribute == "COLOR_0")
                    => SupportedFeatures.VertexColors ? $"{meshName} has {ImportGuards.Shorten(attribute)}; only COLOR_0 is drawn." : $"{meshName} has {ImportGuards.Shorten(attribute)}; vertex colours are not drawn.",
                _ when (attribute.StartsWith("JOINTS_", StringComparison.Ordinal) || attribute.StartsWith("WEIGHTS_", StringComparison.Ordinal))
                    && attribute is not ("JOINTS_0" or "WEIGHTS_0")
                    => $"{meshName} has {ImportGuards.Shorten(attribute)}; only the four joint influences of JOINTS_0/WEIGHTS_0 are applied.",
                _ => null,
            };
            if (line is not null)
            {
                report.Add(line);
            }
        }
    }

    private static T[] ToArray<T>(IList<T> source)
    {
        var result = new T[source.Count];
        source.CopyTo(result, 0);
        return result;
    }
}
