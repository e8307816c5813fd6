using System.Globalization;
using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.Acceleration;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Packs a posed <see cref="SceneDescription"/> for the path tracer: world-space triangles in BVH order with
/// their shading attributes, the emissive triangles to sample, the punctual lights and the camera.
/// </summary>
/// <remarks>
/// <para>Triangles are emitted so that cross(V1 − V0, V2 − V0) points to the front side: nodes whose world
/// transform mirrors (negative determinant) are re-wound.</para>
/// <para>Normals: vertex normals when present, otherwise the flat face normal repeated on all three vertices.
/// Tangents: vertex tangents when present; otherwise, for materials with a normal texture, per-triangle tangents
/// from the UV gradient, orthogonalised against each vertex normal, with w = +1 when the bitangent cross(N, T)
/// points along decreasing glTF v (the MikkTSpace/Blender convention); where UVs are absent or degenerate the
/// tangents stay zero.</para>
/// <para>Shared meshes (<see cref="SceneDescription.SharedMeshes"/>) are not flattened: each is packed once in its own space
/// (<see cref="SharedMeshGeometry"/>) and each node instance drawing it becomes a <see cref="GpuInstance"/> of a top-level
/// BVH, with the flattened triangles as one more instance whose transform is the identity. A node instance whose world
/// transform is singular at the frame (scaled to zero along an axis) has no inverse to carry rays into its space, so
/// its triangles are flattened at that frame instead.</para>
/// </remarks>
internal static class GpuSceneBuilder
{
    /// <summary>
    /// Flattens <paramref name="scene"/> in <paramref name="pose"/> to world space, builds the BVH and packs
    /// everything for the GPU. Width, height, seed, frame and max bounces are left 0.
    /// </summary>
    /// <param name="scene">The scene.</param>
    /// <param name="pose">Its pose at the frame's time.</param>
    /// <param name="bounds">The rest-pose bounds the default camera frames when the scene has no camera.</param>
    /// <param name="imageAspectRatio">Image width divided by height.</param>
    /// <param name="cameraIndex">A valid index into the scene's cameras, or 0 when it has none.</param>
    /// <param name="shared">
    /// The scene's shared meshes packed (<see cref="SharedMeshGeometry.BuildAll"/>), drawn through instances; null to
    /// flatten every mesh, shared or not, as a scene without shared meshes is.
    /// </param>
    /// <exception cref="UserInputException">The triangles to flatten at this frame exceed <see cref="SceneLimits.MaxTriangles"/>.</exception>
    public static GpuSceneData Build(
        SceneDescription scene,
        ScenePose pose,
        (Vector3 Min, Vector3 Max) bounds,
        float imageAspectRatio,
        int cameraIndex,
        SharedMeshGeometry[]? shared = null)
    {
        if (shared is not null && scene.SharedMeshes.Length > 0)
        {
            return InstancedSceneBuilder.Build(scene, pose, bounds, imageAspectRatio, cameraIndex, shared);
        }

        if (scene.TriangleCount > SceneLimits.MaxTriangles)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{scene.Name}' flattened draws {scene.TriangleCount} triangles; the limit is {SceneLimits.MaxTriangles}."));
        }

        (Vector3[] vertices, GpuTriangleShading[] shading, uint[] materials) = Flatten(scene, pose);
        Matrix4x4[] world = pose.World;
        Bvh bvh = Bvh.Build(vertices);
        var triangles = new GpuTriangle[bvh.TriangleOrder.Length];
        var orderedShading = new GpuTriangleShading[triangles.Length];
        WriteInBvhOrder(bvh.TriangleOrder, vertices, shading, materials, triangles, orderedShading);

        GpuEmitter[] emitters = BuildEmitters(scene.Materials, triangles);
        GpuLight[] lights = BuildLights(scene.Lights, world);
        GpuFrameParams frame = BuildCamera(scene.Cameras, world, bounds, imageAspectRatio, cameraIndex);
        frame.EmitterCount = (uint)emitters.Length;
        frame.LightCount = (uint)lights.Length;
        return new GpuSceneData
        {
            Nodes = bvh.Nodes,
            Triangles = triangles,
            Shading = orderedShading,
            Materials = scene.Materials,
            Textures = scene.Textures,
            Texels = scene.Texels,
            Emitters = emitters,
            Lights = lights,
            FrameParams = frame,
        };
    }

    /// <summary>The bounds of every drawn vertex of <paramref name="scene"/> in <paramref name="pose"/>.</summary>
    public static (Vector3 Min, Vector3 Max) Bounds(SceneDescription scene, ScenePose pose)
    {
        var min = new Vector3(float.PositiveInfinity);
        var max = new Vector3(float.NegativeInfinity);
        bool[]? flatten = scene.SharedMeshes.Length == 0 ? null : Array.ConvertAll(scene.Nodes, n => n.SharedMesh < 0);
        foreach (Vector3 p in Flatten(scene, pose, flatten).Vertices)
        {
            min = Vector3.Min(min, p);
            max = Vector3.Max(max, p);
        }

        // Shared meshes' vertices as flattening would place them (a rigid node's world matrix), without storing them.
        for (int i = 0; flatten is not null && i < scene.Nodes.Length; i++)
        {
            if (flatten[i])
            {
                continue;
            }

            Matrix4x4 m = pose.World[i];
            foreach (MeshPart part in scene.Nodes[i].Parts)
            {
                foreach (int index in part.Indices)
                {
                    Vector3 p = Vector3.Transform(part.Positions[index], m);
                    min = Vector3.Min(min, p);
                    max = Vector3.Max(max, p);
                }
            }
        }

        return (min, max);
    }

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

    /// <summary>
    /// Writes flattened triangles (three vertices each) and their shading into the order a BVH build chose, from the
    /// start of the destination arrays.
    /// </summary>
    internal static void WriteInBvhOrder(
        int[] order,
        Vector3[] vertices,
        GpuTriangleShading[] shading,
        uint[] materials,
        GpuTriangle[] triangles,
        GpuTriangleShading[] orderedShading)
    {
        for (int i = 0; i < order.Length; i++)
        {
            int source = order[i];
            triangles[i] = new GpuTriangle
            {
                V0 = vertices[3 * source],
                V1 = vertices[(3 * source) + 1],
                V2 = vertices[(3 * source) + 2],
                Material = materials[source],
            };
            orderedShading[i] = shading[source];
        }
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

    // Per-triangle tangent from the UV gradient; w = +1 when cross(N, T) runs along decreasing v.
    // TEXCOORD_1 (beside TEXCOORD_0 of vertex 2, and in its own vector) and COLOR_0, packed as the shader reads them.
    private static void SecondSetAndColors(ref GpuTriangleShading s, MeshPart part, int a, int b, int c)
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

    private static void GenerateTangents(ref GpuTriangleShading s, Vector3 p0, Vector3 p1, Vector3 p2, Vector2 uv0, Vector2 uv1, Vector2 uv2)
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

    private static Vector3 SafeNormalize(Vector3 v)
    {
        float length = v.Length();
        return length > 0 && float.IsFinite(length) ? v / length : Vector3.Zero;
    }

    internal static GpuEmitter[] BuildEmitters(GpuMaterial[] materials, GpuTriangle[] triangles)
    {
        var emitters = new List<GpuEmitter>();
        var weights = new List<double>();
        double total = 0;
        for (int i = 0; i < triangles.Length; i++)
        {
            Vector4 emissive = materials[triangles[i].Material].Emissive;
            if (Math.Max(emissive.X, Math.Max(emissive.Y, emissive.Z)) <= 0)
            {
                continue;
            }

            ref readonly GpuTriangle t = ref triangles[i];
            float area = 0.5f * Vector3.Cross(t.V1 - t.V0, t.V2 - t.V0).Length();
            double weight = area * ((0.2126 * emissive.X) + (0.7152 * emissive.Y) + (0.0722 * emissive.Z));

            // A zero-area triangle can never be hit or sampled, so it does not emit.
            if (!(weight > 0) || !double.IsFinite(weight))
            {
                continue;
            }

            emitters.Add(new GpuEmitter { Triangle = (uint)i, Area = area });
            weights.Add(weight);
            total += weight;
        }

        GpuEmitter[] result = [.. emitters];
        double cumulative = 0;
        for (int i = 0; i < result.Length; i++)
        {
            cumulative += weights[i];
            result[i].Probability = (float)(weights[i] / total);
            result[i].Cdf = i == result.Length - 1 ? 1f : (float)(cumulative / total);
        }

        return result;
    }

    internal static GpuLight[] BuildLights(LightInfo[] sources, Matrix4x4[] world)
    {
        var lights = new GpuLight[sources.Length];
        for (int i = 0; i < lights.Length; i++)
        {
            LightInfo info = sources[i];
            Matrix4x4 m = world[info.Node];
            lights[i] = new GpuLight
            {
                Position = m.Translation,
                Type = info.Type switch
                {
                    PunctualLightType.Spot => GpuLight.TypeSpot,
                    PunctualLightType.Directional => GpuLight.TypeDirectional,
                    _ => GpuLight.TypePoint,
                },
                Direction = SafeNormalize(Vector3.TransformNormal(-Vector3.UnitZ, m)),
                Range = info.Range,
                Intensity = info.Intensity,
                InnerConeCos = info.Type == PunctualLightType.Spot ? info.InnerConeCos : 0,
                OuterConeCos = info.Type == PunctualLightType.Spot ? info.OuterConeCos : 0,
                SpotSmooth = info.Type == PunctualLightType.Spot ? SpotSmooth(info.InnerConeCos, info.OuterConeCos) : 0,
            };
        }

        return lights;
    }

    // Blender's importer sets spot_blend = 1 − inner / outer (angles), and Cycles fades the cone's edge over
    // (1 − cos outer) · spot_blend of the cosine.
    private static float SpotSmooth(float innerConeCos, float outerConeCos)
    {
        float outer = MathF.Acos(Math.Clamp(outerConeCos, -1f, 1f));
        float blend = outer > 0 ? Math.Clamp(1f - (MathF.Acos(Math.Clamp(innerConeCos, -1f, 1f)) / outer), 0f, 1f) : 1f;
        return (1f - outerConeCos) * blend;
    }

    internal static GpuFrameParams BuildCamera(
        CameraInfo[] cameras, Matrix4x4[] world, (Vector3 Min, Vector3 Max) bounds, float aspect, int cameraIndex)
    {
        if (cameras.Length == 0)
        {
            // Frame the time-0 bounding sphere with a 40° camera on the +Z side looking down -Z.
            Vector3 centre = (bounds.Min + bounds.Max) * 0.5f;
            float radius = Math.Max((bounds.Max - bounds.Min).Length() * 0.5f, 1e-6f);
            float tanHalf = MathF.Tan(SceneImporter.DefaultVerticalFov / 2);
            float limitingHalfAngle = MathF.Atan(tanHalf * Math.Min(1, aspect));
            float distance = radius / MathF.Sin(limitingHalfAngle);
            return new GpuFrameParams
            {
                CameraOrigin = new Vector4(centre + new Vector3(0, 0, distance), 0),
                CameraRight = new Vector4(Vector3.UnitX * tanHalf * aspect, 0),
                CameraUp = new Vector4(Vector3.UnitY * tanHalf, 0),
                CameraForward = new Vector4(-Vector3.UnitZ, 0),
            };
        }

        CameraInfo camera = cameras[cameraIndex];
        Matrix4x4 m = world[camera.Node];

        // Orthonormalise the node's axes so scale or shear in the hierarchy does not distort the view.
        Vector3 forward = SafeNormalize(Vector3.TransformNormal(-Vector3.UnitZ, m));
        Vector3 right = Vector3.TransformNormal(Vector3.UnitX, m);
        right = SafeNormalize(right - (forward * Vector3.Dot(forward, right)));
        Vector3 up = Vector3.TransformNormal(Vector3.UnitY, m);
        up = SafeNormalize(up - (forward * Vector3.Dot(forward, up)) - (right * Vector3.Dot(right, up)));
        var frame = new GpuFrameParams
        {
            CameraOrigin = new Vector4(m.Translation, 0),
            CameraForward = new Vector4(forward, 0),
        };
        if (camera.Orthographic)
        {
            // ymag fixes the half-height; the half-width follows the image so pixels stay square (xmag is ignored).
            frame.Flags = GpuFrameParams.FlagOrthographic;
            frame.CameraRight = new Vector4(right * camera.YMag * aspect, 0);
            frame.CameraUp = new Vector4(up * camera.YMag, 0);
        }
        else
        {
            (float tanHalfX, float tanHalfY) = CameraFit.TanHalfAngles(camera.YFov, camera.AspectRatio, aspect);
            frame.CameraRight = new Vector4(right * tanHalfX, 0);
            frame.CameraUp = new Vector4(up * tanHalfY, 0);
        }

        return frame;
    }
}
