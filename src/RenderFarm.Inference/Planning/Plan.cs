namespace RenderFarm.Inference.Planning;

/// <summary>
/// A logical GPU tensor buffer of the plan. Intermediate slots share physical buffers when their lifetimes
/// (first write to last use, in steps) do not overlap; inputs, outputs and constants have their own lifetimes.
/// </summary>
internal sealed class Slot
{
    public const int Unset = int.MinValue;

    public Slot(int id, long bytes, SlotKind kind)
    {
        Id = id;
        Bytes = Math.Max(4, bytes);
        Kind = kind;
    }

    public int Id { get; }

    public long Bytes { get; }

    public SlotKind Kind { get; }

    /// <summary>The first step that writes the slot (-1 for inputs, written by the upload before any step).</summary>
    public int FirstWrite { get; set; } = Unset;

    /// <summary>The last step that reads or writes the slot (int.MaxValue for outputs, read by the download after every step).</summary>
    public int LastUse { get; set; } = Unset;

    /// <summary>Bytes to upload once when the plan is built (constants only).</summary>
    public byte[]? ConstantData { get; init; }

    /// <summary>
    /// The tensor a constant slot was uploaded from, when that tensor is the same object in every plan of the session
    /// (initializers, Constant nodes, folded weights): plans for other input shapes share its buffer.
    /// </summary>
    public CpuTensor? Source { get; init; }

    /// <summary>The index of the physical buffer the slot lives in, assigned by <see cref="PlanBuilder"/>'s allocation.</summary>
    public int Physical { get; set; } = -1;
}

internal enum SlotKind
{
    Intermediate,
    Input,
    Constant,
}

/// <summary>One kernel dispatch of the plan, over slots.</summary>
/// <param name="Kernel">The kernel.</param>
/// <param name="Buffers">The slots it binds, those it writes last.</param>
/// <param name="PushConstants">Its push-constant bytes.</param>
/// <param name="GroupsX">Workgroups in X.</param>
/// <param name="GroupsY">Workgroups in Y.</param>
/// <param name="GroupsZ">Workgroups in Z.</param>
/// <param name="Node">The node it runs, for messages.</param>
/// <param name="Roundings">
/// How many roundings each element it writes goes through, in units of float32's unit roundoff: the terms summed into it
/// (a matrix product's depth, a convolution's window times its input channels, a reduction's length), 1 for elementwise
/// arithmetic, more for functions whose precision Vulkan bounds more loosely, 0 for data movement.
/// See <see cref="OutputTolerance"/>.
/// </param>
/// <param name="Writes">How many of the last <paramref name="Buffers"/> it writes (TopK: values and indices).</param>
internal sealed record PlanStep(KernelKind Kernel, Slot[] Buffers, byte[] PushConstants, uint GroupsX, uint GroupsY, uint GroupsZ, string Node, long Roundings = 1, int Writes = 1);

/// <summary>A value of the graph while planning: a CPU constant, or a GPU tensor in a slot.</summary>
internal sealed class PlanValue
{
    private readonly bool _integer;

    private PlanValue(int[] shape, CpuTensor? constant, Slot? slot, bool integer)
    {
        Shape = shape;
        Constant = constant;
        Slot = slot;
        _integer = integer;
    }

    public int[] Shape { get; }

    public CpuTensor? Constant { get; }

    public Slot? Slot { get; }

    public long Count => ShapeMath.Count(Shape);

    /// <summary>
    /// True for integer and boolean tensors. On the GPU every tensor is float32; integers are carried exactly up to
    /// 2^24, and the flag makes division truncate and integer casts round as ONNX defines.
    /// </summary>
    public bool IsInteger => Constant?.IsInteger ?? _integer;

    public static PlanValue Of(CpuTensor constant) => new(constant.Shape, constant, null, constant.IsInteger);

    public static PlanValue OnGpu(int[] shape, Slot slot, bool isInteger = false) => new(shape, null, slot, isInteger);
}

/// <summary>What the plan's memory planning achieved, for tests and diagnostics.</summary>
/// <param name="IntermediateBytes">Bytes that inputs and intermediate tensors would take with one buffer each.</param>
/// <param name="AllocatedBytes">Bytes of the physical buffers actually allocated for them (after reuse by liveness).</param>
/// <param name="ConstantBytes">Bytes of weights and other constants uploaded once.</param>
/// <param name="Dispatches">Kernel dispatches per run (all recorded into one submission).</param>
/// <param name="FoldedNodes">Nodes evaluated on the CPU while planning (shape arithmetic and other constants).</param>
internal sealed record PlanStatistics(long IntermediateBytes, long AllocatedBytes, long ConstantBytes, int Dispatches, int FoldedNodes);
