using System.Reflection;
using System.Runtime.CompilerServices;
using RenderFarm.Gpu;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// Names the inference kernels and their embedded SPIR-V; their pipelines live in the device's
/// <see cref="ComputeDevice.Kernels"/>, so sessions on one device (and the path tracer) share one cache.
/// </summary>
/// <remarks>
/// The other-device library picks each kernel's <c>*_other_device</c> build where one exists (shaders/inference/device.glsl:
/// fused multiply-adds, other summation orders, transcendental functions at their precision bounds), to measure honest
/// divergence between devices; kernels without arithmetic the specification leaves open have no such build.
/// On CPU-type devices (lavapipe) the default library picks a kernel's <c>*_cpu</c> build where one exists: the same
/// parameters, dispatch and per-output sums (bit for bit the same results) without shared memory or barriers, which a
/// CPU driver runs as SIMD lanes switched at every barrier.
/// </remarks>
internal sealed class KernelLibrary
{
    private const string OtherDeviceSuffix = "_other_device";
    private const string CpuSuffix = "_cpu";

    private static readonly ConditionalWeakTable<ComputeDevice, KernelLibrary>[] s_libraries = [new(), new(), new()];

    private readonly ComputeDevice _device;
    private readonly KernelBuilds _builds;

    private KernelLibrary(ComputeDevice device, KernelBuilds builds)
    {
        _device = device;
        _builds = builds == KernelBuilds.ForDevice && device.Info.Kind != GpuDeviceKind.Cpu ? KernelBuilds.Gpu : builds;
    }

    public static KernelLibrary For(ComputeDevice device, KernelBuilds builds = KernelBuilds.ForDevice) =>
        s_libraries[(int)builds].GetValue(device, d => new KernelLibrary(d, builds));

    /// <summary>Whether <paramref name="kind"/> has an other-device build.</summary>
    public static bool HasOtherDeviceBuild(KernelKind kind) => HasBuild(kind, OtherDeviceSuffix);

    /// <summary>Whether <paramref name="kind"/> has a build for CPU-type devices.</summary>
    public static bool HasCpuBuild(KernelKind kind) => HasBuild(kind, CpuSuffix);

    /// <summary>Storage buffers and push-constant bytes of each kernel, matching its GLSL declaration.</summary>
    public static (string Name, int Buffers, int PushBytes) Describe(KernelKind kind) => kind switch
    {
        KernelKind.Unary => ("unary", 2, 16),
        KernelKind.Binary => ("binary", 3, 80),
        KernelKind.Affine => ("affine", 4, 12),
        KernelKind.Conv => ("conv", 4, 76),
        KernelKind.ConvGemm => ("conv_gemm", 4, 80),
        KernelKind.ConvTranspose => ("conv_transpose", 4, 68),
        KernelKind.MatMul => ("matmul", 4, 88),
        KernelKind.Pool => ("pool", 2, 64),
        KernelKind.Reduce => ("reduce", 2, 16),
        KernelKind.InstanceNorm => ("instance_norm", 4, 20),
        KernelKind.StridedCopy => ("strided_copy", 2, 84),
        KernelKind.Pad => ("pad", 2, 84),
        KernelKind.Gather => ("gather", 3, 16),
        KernelKind.Resize => ("resize", 2, 40),
        KernelKind.Where => ("where", 4, 100),
        KernelKind.GatherIndices => ("gather_indices", 3, 16),
        KernelKind.TopK => ("topk", 3, 20),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static byte[] LoadSpirv(string name)
    {
        string resource = $"shaders/inference/{name}.spv";
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded shader {resource} is missing; run scripts/compile-shaders.sh and rebuild.");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    /// <summary>The kernel's pipeline, from the device's kernel cache (shared with every other user of the device).</summary>
    public ComputePipeline Get(KernelKind kind)
    {
        (string name, int buffers, int push) = Describe(kind);
        if (_builds == KernelBuilds.OtherDevice && HasOtherDeviceBuild(kind))
        {
            name += OtherDeviceSuffix;
        }
        else if (_builds == KernelBuilds.ForDevice && HasCpuBuild(kind))
        {
            name += CpuSuffix;
        }

        return _device.Kernels.Get(new KernelDescription($"inference/{name}", buffers, push), () => LoadSpirv(name));
    }

    private static bool HasBuild(KernelKind kind, string suffix) =>
        Assembly.GetExecutingAssembly().GetManifestResourceInfo($"shaders/inference/{Describe(kind).Name}{suffix}.spv") is not null;
}

/// <summary>Which builds of the kernels a session runs.</summary>
internal enum KernelBuilds
{
    /// <summary>The builds for the device's kind: <c>*_cpu</c> kernels on CPU-type devices, the GPU kernels elsewhere.</summary>
    ForDevice,

    /// <summary>The GPU kernels (shared-memory tiles) on every device, for comparisons.</summary>
    Gpu,

    /// <summary>The <c>*_other_device</c> builds: another conforming device's rounding, never used to deliver outputs.</summary>
    OtherDevice,
}
