using System.Runtime.InteropServices;

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
    Where,
    GatherIndices,
    TopK,
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
    Not = 20,
    Floor = 21,
    Ceil = 22,
    Round = 23,
    Trunc = 24,
    ToBool = 25,
    Sign = 26,
    Sin = 27,
    Cos = 28,
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
    Equal = 8,
    Less = 9,
    Greater = 10,
    LessOrEqual = 11,
    GreaterOrEqual = 12,
    And = 13,
    Or = 14,
    Xor = 15,
    Fmod = 16,
    FloorMod = 17,
    IntDiv = 18,
}

/// <summary>
/// Workgroup arithmetic of the kernels: the plan sizes its dispatches with it, without a device, so that the
/// support checks and the plan stay free of the Vulkan runtime.
/// </summary>
internal static class KernelGroups
{
    /// <summary>Invocations per workgroup of every one-dimensional kernel.</summary>
    public const int GroupSize = 256;

    /// <summary>The most workgroups per dimension every Vulkan device (and lavapipe) accepts.</summary>
    public const uint MaxGroups = 65535;

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
