using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;
using static RenderFarm.Rendering.Scene.VectorMath;

namespace RenderFarm.Rendering.Scene;

/// <summary>Packs the emissive triangles to sample and the punctual lights for the path tracer.</summary>
internal static class LightPacker
{
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
}
