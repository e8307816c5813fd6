using System.Reflection;
using System.Runtime.CompilerServices;
using RenderFarm.Gpu;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// Names the inference kernels and their embedded SPIR-V; their pipelines live in the device's
/// <see cref="ComputeDevice.Kernels"/>, so sessions on one device (and the path tracer) share one cache.
/// </summary>
internal sealed class KernelLibrary
{
    private static readonly ConditionalWeakTable<ComputeDevice, KernelLibrary> s_libraries = new();

    private readonly ComputeDevice _device;

    private KernelLibrary(ComputeDevice device)
    {
        _device = device;
    }

    public static KernelLibrary For(ComputeDevice device) => s_libraries.GetValue(device, d => new KernelLibrary(d));

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
        return _device.Kernels.Get(new KernelDescription($"inference/{name}", buffers, push), () => LoadSpirv(name));
    }
}
