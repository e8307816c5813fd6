using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RenderFarm.Gpu;

namespace RenderFarm.Inference.Planning;

/// <summary>The compute shaders of shaders/inference/, one generic kernel per family of operators.</summary>
internal enum KernelKind
{
    Unary,
    Binary,
    Affine,
    Conv,
    ConvGemm,
    ConvTranspose,
    MatMul,
    Pool,
    Reduce,
    InstanceNorm,
    StridedCopy,
    Pad,
    Gather,
    Resize,
}

/// <summary>Op codes of unary.comp.</summary>
internal enum UnaryOp : uint
{
    Copy = 0,
    Relu = 1,
    LeakyRelu = 2,
    Sigmoid = 3,
    Tanh = 4,
    Clip = 5,
    HardSigmoid = 6,
    HardSwish = 7,
    Sqrt = 8,
    Exp = 9,
    Neg = 10,
    Abs = 11,
    Log = 12,
    Reciprocal = 13,
    Affine = 14,
    Elu = 15,
    Erf = 16,
    Gelu = 17,
    GeluTanh = 18,
    Softplus = 19,
}

/// <summary>Op codes of binary.comp.</summary>
internal enum BinaryOp : uint
{
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
    Pow = 4,
    Max = 5,
    Min = 6,
    PRelu = 7,
}

/// <summary>
/// Loads the embedded SPIR-V of each kernel on first use and keeps its pipeline as long as the device lives (the
/// device releases its pipelines when disposed), so sessions on one device share compiled pipelines.
/// </summary>
internal sealed class KernelLibrary
{
    /// <summary>Invocations per workgroup of every one-dimensional kernel.</summary>
    public const int GroupSize = 256;

    /// <summary>The most workgroups per dimension every Vulkan device (and lavapipe) accepts.</summary>
    public const uint MaxGroups = 65535;

    private static readonly ConditionalWeakTable<ComputeDevice, KernelLibrary> s_libraries = new();

    private readonly Lock _sync = new();
    private readonly ComputeDevice _device;
    private readonly Dictionary<KernelKind, ComputePipeline> _pipelines = [];

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

    /// <summary>Workgroup counts covering <paramref name="invocations"/> one-dimensional invocations, spilling into Y past the X limit.</summary>
    public static (uint X, uint Y) Groups(long invocations, int groupSize = GroupSize)
    {
        long groups = Math.Max(1, (invocations + groupSize - 1) / groupSize);
        if (groups <= MaxGroups)
        {
            return ((uint)groups, 1);
        }

        long y = (groups + MaxGroups - 1) / MaxGroups;
        if (y > MaxGroups)
        {
            throw new PlanException($"A tensor of {invocations} elements is too large for one dispatch.");
        }

        return (MaxGroups, (uint)y);
    }

    public ComputePipeline Get(KernelKind kind)
    {
        lock (_sync)
        {
            if (!_pipelines.TryGetValue(kind, out ComputePipeline? pipeline))
            {
                (string name, int buffers, int push) = Describe(kind);
                pipeline = _device.CreatePipeline(LoadSpirv(name), buffers, push);
                _pipelines[kind] = pipeline;
            }

            return pipeline;
        }
    }
}

/// <summary>Packs a push-constant block as 4-byte words in declaration order.</summary>
internal sealed class PushConstants
{
    private readonly List<uint> _words = [];

    public PushConstants U(long value)
    {
        if (value < 0 || value > uint.MaxValue)
        {
            throw new PlanException($"The value {value} does not fit a kernel parameter.");
        }

        _words.Add((uint)value);
        return this;
    }

    public PushConstants I(long value)
    {
        if (value < int.MinValue || value > int.MaxValue)
        {
            throw new PlanException($"The value {value} does not fit a kernel parameter.");
        }

        _words.Add(unchecked((uint)(int)value));
        return this;
    }

    public PushConstants F(float value)
    {
        _words.Add(BitConverter.SingleToUInt32Bits(value));
        return this;
    }

    /// <summary>Appends <paramref name="values"/> right-aligned in <paramref name="length"/> words, left-filled with <paramref name="fill"/>.</summary>
    public PushConstants Array(IReadOnlyList<int> values, int length, int fill, bool signed)
    {
        if (values.Count > length)
        {
            throw new PlanException($"Tensors of rank {values.Count} are not supported by this kernel (at most {length}).");
        }

        for (int i = 0; i < length; i++)
        {
            int source = i - (length - values.Count);
            int value = source >= 0 ? values[source] : fill;
            if (signed)
            {
                I(value);
            }
            else
            {
                U(value);
            }
        }

        return this;
    }

    public PushConstants Append(PushConstants other)
    {
        _words.AddRange(other._words);
        return this;
    }

    public byte[] ToBytes() => MemoryMarshal.AsBytes(_words.ToArray().AsSpan()).ToArray();
}
