using System.Runtime.CompilerServices;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>A frame's device buffers (the scene's, uploaded once per scene and map, and the frame's own) and the pipeline specialized to its features.</summary>
public sealed partial class PathTracer
{
    // Internal for the AOV pass, which shares the scene's buffers.
    internal FrameBuffers PrepareFrame(SceneAsset scene, int frame, RenderSettings settings)
    {
        ImageSize size = settings.Size;
        GpuSceneData data = scene.BuildFrame(settings.TimeOfFrame(frame), size.AspectRatio, scene.CameraIndex(settings.Camera));
        DeviceFit.ThrowIfTooLarge(_device, scene.Name, data, (ulong)TileSize * TileSize * 20);
        UploadSceneConstants(scene, data);

        GpuFrameParams frameParams = data.FrameParams;
        frameParams.Width = (uint)size.Width;
        frameParams.Height = (uint)size.Height;
        frameParams.Seed = settings.Seed;
        frameParams.Frame = (uint)frame;
        frameParams.MaxBounces = (uint)settings.MaxBounces;
        frameParams.EmitterCount = (uint)data.Emitters.Length;
        frameParams.LightCount = (uint)data.Lights.Length;
        frameParams.Environment = new System.Numerics.Vector4(settings.Background.R, settings.Background.G, settings.Background.B, 0);
        UploadEnvironment();
        if (Environment is { } environment)
        {
            float angle = environment.RotationDegrees * MathF.PI / 180f;
            frameParams.EnvironmentRotation = new System.Numerics.Vector4(
                MathF.Cos(angle), MathF.Sin(angle), environment.Strength, environment.CanSample ? 1 : 0);
            frameParams.EnvironmentWidth = (uint)environment.Image.Width;
            frameParams.EnvironmentHeight = (uint)environment.Image.Height;
        }

        if (settings.Bsdf == BsdfModel.Gltf)
        {
            frameParams.Flags |= GpuFrameParams.FlagGltfBsdf;
        }

        if (settings.Sampler == SamplerKind.Stratified)
        {
            frameParams.Flags |= GpuFrameParams.FlagStratified;
        }

        // The shader weighs BSDF-sampled hits on emitters by the light-sampling pdf, so each
        // triangle carries its emitter selection probability.
        GpuTriangle[] triangles = (GpuTriangle[])data.Triangles.Clone();
        foreach (GpuEmitter emitter in data.Emitters)
        {
            triangles[emitter.Triangle].Padding1 = BitConverter.SingleToUInt32Bits(emitter.Probability);
        }

        var owned = new List<GpuBuffer>();
        try
        {
            GpuBuffer Own(GpuBuffer buffer)
            {
                owned.Add(buffer);
                return buffer;
            }

            GpuBuffer frameBuffer = Own(CreateFilled([frameParams]));
            GpuBuffer nodes = Own(CreateFilled(data.Nodes));
            GpuBuffer triangleBuffer = Own(CreateFilled(triangles));
            GpuBuffer shading = Own(CreateFilled(data.Shading));
            GpuBuffer emitters = Own(CreateFilled(data.Emitters));
            GpuBuffer lights = Own(CreateFilled(data.Lights));
            GpuBuffer accumulation = Own(_device.CreateBuffer((ulong)TileSize * TileSize * 16));
            GpuBuffer rayCounts = Own(_device.CreateBuffer((ulong)TileSize * TileSize * 4));
            GpuBuffer instances = Own(CreateFilled(data.Instances));
            GpuBuffer[] buffers =
            [
                frameBuffer, nodes, triangleBuffer, shading, _materials!, _textures!, _texels!, emitters, lights, accumulation, rayCounts,
                _environmentTexels!, _environmentCdf!, instances,
            ];
            return new FrameBuffers(buffers, owned)
            {
                Features = FeaturesOverride ?? SceneFeatureDetection.Detect(data, settings.Bsdf, Environment is not null),
            };
        }
        catch
        {
            owned.ForEach(buffer => buffer.Dispose());
            throw;
        }
    }

    /// <summary>
    /// The path tracer's pipeline specialized to <paramref name="features"/>, from the device's kernel cache, which owns
    /// it and shares it with every path tracer on the device; created (and compiled by the driver) on first use.
    /// </summary>
    internal ComputePipeline Pipeline(SceneFeatures features)
    {
        string resource = _shaderResource;
        var description = new KernelDescription(resource, StorageBufferCount: StorageBufferCount, PushConstantBytes: Unsafe.SizeOf<GpuTilePush>())
        {
            SpecializationConstants = [.. SceneFeatureDetection.SpecializationConstants(features)],
        };
        return _device.Kernels.Get(description, () => LoadShader(resource));
    }

    /// <summary>The SPIR-V of an embedded shader of this assembly.</summary>
    internal static byte[] LoadShader(string resource)
    {
        using Stream stream = typeof(PathTracer).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The build did not embed {resource}; run scripts/compile-shaders.sh.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private void UploadSceneConstants(SceneAsset scene, GpuSceneData data)
    {
        if (ReferenceEquals(scene, _uploadedScene))
        {
            return;
        }

        _materials?.Dispose();
        _textures?.Dispose();
        _texels?.Dispose();
        _materials = CreateFilled(data.Materials);
        _textures = CreateFilled(data.Textures);
        _texels = CreateFilled(data.Texels);
        _uploadedScene = scene;
    }

    // The map's texels and its sampling tables (marginal CDF, then the rows' conditional CDFs), kept while the map stays.
    private void UploadEnvironment()
    {
        if (_environmentTexels is not null && ReferenceEquals(Environment, _uploadedEnvironment))
        {
            return;
        }

        _environmentTexels?.Dispose();
        _environmentCdf?.Dispose();
        _environmentTexels = null;
        _environmentCdf = null;
        EnvironmentLight? environment = Environment;
        _environmentTexels = CreateFilled<float>(environment?.Image.Pixels ?? []);
        _environmentCdf = CreateFilled<float>(environment?.SamplingTables() ?? []);
        _uploadedEnvironment = environment;
    }

    // Vulkan buffers cannot be empty, so an empty array becomes one zeroed element.
    private GpuBuffer CreateFilled<T>(T[] items)
        where T : unmanaged
    {
        ReadOnlySpan<T> span = items.Length > 0 ? items : [default];
        GpuBuffer buffer = _device.CreateBuffer((ulong)(span.Length * Unsafe.SizeOf<T>()));
        _device.Upload(buffer, span);
        return buffer;
    }

    internal sealed class FrameBuffers(GpuBuffer[] buffers, List<GpuBuffer> owned) : IDisposable
    {
        public GpuBuffer[] Buffers { get; } = buffers;

        /// <summary>The shader features the frame uses: its pipeline is specialized to them.</summary>
        public SceneFeatures Features { get; init; } = SceneFeatures.All;

        public void Dispose() => owned.ForEach(buffer => buffer.Dispose());
    }
}
