using System.Runtime.InteropServices;
using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// Turns a model and concrete input shapes into a list of kernel dispatches over slots: walks the (topologically
/// sorted) nodes, folds every node whose inputs are known on the CPU (Shape→Gather→Concat→Reshape chains and any
/// other constant subgraph), turns reshapes into aliases, and assigns slots to physical buffers by liveness.
/// </summary>
internal sealed partial class PlanBuilder
{
    private readonly OnnxModel _model;
    private readonly Dictionary<string, PlanValue> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<CpuTensor, Slot> _uploaded = new(ReferenceEqualityComparer.Instance);
    private readonly List<Slot> _slots = [];
    private readonly List<PlanStep> _steps = [];
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _graphOutputs = new(StringComparer.Ordinal);
    private readonly HashSet<NodeProto> _absorbed = new(ReferenceEqualityComparer.Instance);
    private int _folded;
    private string _node = string.Empty;

    private readonly ConstantMemo _memo;

    public PlanBuilder(OnnxModel model, ConstantMemo memo)
    {
        _model = model;
        _memo = memo;
    }

    public OnnxModel Model => _model;

    public IReadOnlyList<PlanStep> Steps => _steps;

    public IReadOnlyList<Slot> Slots => _slots;

    public Dictionary<string, Slot> InputSlots { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, PlanValue> OutputValues { get; } = new(StringComparer.Ordinal);

    /// <summary>Physical buffer sizes for intermediates and inputs, indexed by <see cref="Slot.Physical"/>.</summary>
    public List<long> PhysicalSizes { get; } = [];

    public PlanStatistics Statistics { get; private set; } = new(0, 0, 0, 0, 0);

    public void Build(IReadOnlyDictionary<string, int[]> inputShapes)
    {
        foreach ((string name, CpuTensor tensor) in _model.Initializers)
        {
            _values[name] = PlanValue.Of(tensor);
        }

        foreach (TensorInfo input in _model.Inputs)
        {
            int[] shape = inputShapes[input.Name];
            Slot slot = NewSlot(ShapeMath.Count(shape) * 4, SlotKind.Input);
            slot.FirstWrite = -1;
            slot.LastUse = -1;
            InputSlots[input.Name] = slot;
            _values[input.Name] = PlanValue.OnGpu(shape, slot, TensorTypes.IsInteger(input.ElementType));
        }

        CountConsumers(_model.Graph.Node);

        foreach (ValueInfoProto output in _model.Graph.Output)
        {
            _graphOutputs.Add(output.Name);
        }

        foreach (NodeProto node in _model.Graph.Node)
        {
            _node = node.Describe();
            if (_absorbed.Contains(node))
            {
                // Fused into the node that produces its input (an activation or BatchNormalization after a Conv).
                continue;
            }

            try
            {
                PlanNode(node);
                if (node.Output.Where(o => o.Length > 0).All(o => _values.TryGetValue(o, out PlanValue? v) && v.Constant is not null))
                {
                    _folded++;
                }
            }
            catch (PlanException e)
            {
                throw new PlanException($"{node.OpType} ({_node}): {e.Message}");
            }
        }

        foreach (ValueInfoProto output in _model.Graph.Output)
        {
            if (!_values.TryGetValue(output.Name, out PlanValue? value))
            {
                throw new PlanException($"Graph output '{output.Name}' is not produced by any node.");
            }

            OutputValues[output.Name] = value;
            if (value.Slot is not null)
            {
                value.Slot.LastUse = int.MaxValue;
            }
        }

        Allocate();
    }

    /// <summary>Records who reads each value, branches of If included (a value read in a branch is never fused away).</summary>
    private void CountConsumers(IEnumerable<NodeProto> nodes)
    {
        foreach (NodeProto node in nodes)
        {
            foreach (string input in node.Input.Where(i => i.Length > 0))
            {
                if (!_consumers.TryGetValue(input, out List<NodeProto>? list))
                {
                    _consumers[input] = list = [];
                }

                list.Add(node);
            }

            foreach (AttributeProto attribute in node.Attribute.Where(a => a.G is not null))
            {
                foreach (NodeProto inner in attribute.G.Node)
                {
                    // Outer values a branch reads count as read by the If node itself.
                    foreach (string input in inner.Input.Where(i => i.Length > 0))
                    {
                        if (!_consumers.TryGetValue(input, out List<NodeProto>? list))
                        {
                            _consumers[input] = list = [];
                        }

                        list.Add(node);
                    }
                }

                CountConsumers(attribute.G.Node);
            }
        }
    }

    private void Allocate()
    {
        // Greedy interval assignment in order of first write: a physical buffer is free again once the last use
        // of its current slot lies before the new slot's first write (so a step never reads and writes one buffer).
        var ordered = _slots.Where(s => s.Kind != SlotKind.Constant).OrderBy(s => s.FirstWrite == Slot.Unset ? 0 : s.FirstWrite).ThenBy(s => s.Id).ToList();
        var owner = new List<Slot?>();
        long intermediate = 0;
        foreach (Slot slot in ordered)
        {
            if (slot.FirstWrite == Slot.Unset)
            {
                // Never written or read (an empty tensor, an unused input): it still needs a buffer to bind.
                slot.FirstWrite = 0;
            }

            if (slot.LastUse == Slot.Unset || slot.LastUse < slot.FirstWrite)
            {
                slot.LastUse = slot.FirstWrite;
            }

            intermediate += slot.Bytes;
            int best = -1;
            for (int p = 0; p < owner.Count; p++)
            {
                Slot? current = owner[p];
                if (current is not null && current.LastUse >= slot.FirstWrite)
                {
                    continue;
                }

                // Smallest free buffer that fits; otherwise the largest free one, grown.
                if (best < 0)
                {
                    best = p;
                    continue;
                }

                bool fits = PhysicalSizes[p] >= slot.Bytes;
                bool bestFits = PhysicalSizes[best] >= slot.Bytes;
                if ((fits && (!bestFits || PhysicalSizes[p] < PhysicalSizes[best])) || (!fits && !bestFits && PhysicalSizes[p] > PhysicalSizes[best]))
                {
                    best = p;
                }
            }

            if (best < 0)
            {
                best = owner.Count;
                owner.Add(null);
                PhysicalSizes.Add(0);
            }

            owner[best] = slot;
            PhysicalSizes[best] = Math.Max(PhysicalSizes[best], slot.Bytes);
            slot.Physical = best;
        }

        long constants = _slots.Where(s => s.Kind == SlotKind.Constant).Sum(s => s.Bytes);
        Statistics = new PlanStatistics(intermediate, PhysicalSizes.Sum(), constants, _steps.Count, _folded);
    }

    /// <summary>The only node reading <paramref name="value"/>, when it has exactly one reader and is no graph output.</summary>
    private NodeProto? SoleConsumer(string value) =>
        !_graphOutputs.Contains(value) && _consumers.TryGetValue(value, out List<NodeProto>? list) && list.Count == 1 ? list[0] : null;

    private PlanValue Input(NodeProto node, int index)
    {
        string name = node.InputAt(index) ?? throw new PlanException($"input {index} is missing.");
        return _values.TryGetValue(name, out PlanValue? value)
            ? value
            : throw new PlanException($"input '{name}' is not produced by any earlier node or initializer.");
    }

    private PlanValue? OptionalInput(NodeProto node, int index) => node.InputAt(index) is null ? null : Input(node, index);

    private CpuTensor ConstantInput(NodeProto node, int index) =>
        Input(node, index).Constant ?? throw new PlanException($"input {index} '{node.Input[index]}' must be a constant.");

    private CpuTensor? OptionalConstant(NodeProto node, int index)
    {
        PlanValue? value = OptionalInput(node, index);
        if (value is null)
        {
            return null;
        }

        return value.Constant ?? throw new PlanException($"input {index} '{node.Input[index]}' must be a constant.");
    }

    private void SetOutput(NodeProto node, PlanValue value, int index = 0)
    {
        if (index < node.Output.Count && node.Output[index].Length > 0)
        {
            _values[node.Output[index]] = value;
        }
    }

    private Slot NewSlot(long bytes, SlotKind kind, byte[]? constant = null, CpuTensor? source = null)
    {
        var slot = new Slot(_slots.Count, bytes, kind) { ConstantData = constant, Source = source };
        _slots.Add(slot);
        return slot;
    }

    private PlanValue NewGpu(int[] shape, bool isInteger = false) =>
        PlanValue.OnGpu(shape, NewSlot(ShapeMath.Count(shape) * 4, SlotKind.Intermediate), isInteger);

    /// <summary>The slot of a value, uploading a constant (as float32) the first time a kernel needs it.</summary>
    private Slot Gpu(PlanValue value)
    {
        if (value.Slot is not null)
        {
            return value.Slot;
        }

        CpuTensor constant = value.Constant!;
        if (!_uploaded.TryGetValue(constant, out Slot? slot))
        {
            float[] floats = constant.ToFloats();
            slot = NewSlot((long)floats.Length * 4, SlotKind.Constant, MemoryMarshal.AsBytes(floats.AsSpan()).ToArray(), constant);
            _uploaded[constant] = slot;
        }

        return slot;
    }

    private Slot UploadWords(uint[] words) =>
        NewSlot((long)words.Length * 4, SlotKind.Constant, MemoryMarshal.AsBytes(words.AsSpan()).ToArray());

    private Slot Gpu(float[] values) =>
        NewSlot((long)values.Length * 4, SlotKind.Constant, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>
    /// Records a dispatch; the last buffer is the one written (the last two for TopK). <paramref name="roundings"/> is
    /// the step's share of the outputs' rounding error (<see cref="PlanStep.Roundings"/>), by default 1 for arithmetic
    /// and 0 for data movement.
    /// </summary>
    private void Emit(KernelKind kernel, Slot[] buffers, PushConstants push, uint groupsX, uint groupsY = 1, uint groupsZ = 1, long roundings = -1)
    {
        int step = _steps.Count;
        foreach (Slot slot in buffers)
        {
            if (slot.Kind == SlotKind.Constant)
            {
                continue;
            }

            if (slot.FirstWrite == Slot.Unset)
            {
                slot.FirstWrite = step;
            }

            slot.LastUse = step;
        }

        if (roundings < 0)
        {
            roundings = kernel is KernelKind.StridedCopy or KernelKind.Pad or KernelKind.Gather or KernelKind.GatherIndices
                or KernelKind.Where or KernelKind.TopK ? 0 : 1;
        }

        _steps.Add(new PlanStep(kernel, buffers, push.ToBytes(), groupsX, groupsY, groupsZ, _node, roundings, kernel == KernelKind.TopK ? 2 : 1));
    }

    /// <summary>Records a one-dimensional dispatch of <paramref name="invocations"/> invocations (nothing when zero).</summary>
    private void Emit1D(KernelKind kernel, Slot[] buffers, PushConstants push, long invocations, long roundings = -1)
    {
        if (invocations == 0)
        {
            return;
        }

        (uint x, uint y) = KernelGroups.Groups(invocations);
        Emit(kernel, buffers, push, x, y, roundings: roundings);
    }
}
