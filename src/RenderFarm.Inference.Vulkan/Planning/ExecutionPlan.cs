using RenderFarm.Core;
using RenderFarm.Gpu;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// A compiled plan for one set of input shapes: physical GPU buffers (constants uploaded once), and the recorded
/// dispatches. A run uploads the inputs, submits every dispatch in one command buffer and downloads the outputs.
/// </summary>
internal sealed class ExecutionPlan : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly List<GpuBuffer> _buffers = [];
    private readonly Dictionary<string, (GpuBuffer Buffer, TensorElementType Type)> _inputs = new(StringComparer.Ordinal);
    private readonly List<(string Name, PlanValue Value, GpuBuffer? Buffer, TensorElementType Type)> _outputs = [];
    private readonly List<ComputeDispatch> _dispatches = [];

    /// <param name="device">The device to run on.</param>
    /// <param name="kernels">The device's pipelines.</param>
    /// <param name="builder">The built plan.</param>
    /// <param name="shared">Buffers of constants shared by all plans of a session (owned by the session).</param>
    public ExecutionPlan(ComputeDevice device, KernelLibrary kernels, PlanBuilder builder, SharedConstants shared)
    {
        _device = device;
        Statistics = builder.Statistics;
        try
        {
            var physical = new GpuBuffer[builder.PhysicalSizes.Count];
            for (int i = 0; i < physical.Length; i++)
            {
                physical[i] = Create(_device, builder.PhysicalSizes[i]);
                _buffers.Add(physical[i]);
            }

            var constants = new Dictionary<Slot, GpuBuffer>();
            GpuBuffer Resolve(Slot slot)
            {
                if (slot.Kind != SlotKind.Constant)
                {
                    return physical[slot.Physical];
                }

                if (slot.Source is not null)
                {
                    return shared.Get(slot);
                }

                if (!constants.TryGetValue(slot, out GpuBuffer? buffer))
                {
                    buffer = Create(_device, slot.Bytes);
                    _buffers.Add(buffer);
                    _device.Upload<byte>(buffer, slot.ConstantData);
                    constants[slot] = buffer;
                }

                return buffer;
            }

            foreach ((string name, Slot slot) in builder.InputSlots)
            {
                _inputs[name] = (Resolve(slot), builder.Model.Inputs.First(i => i.Name == name).ElementType);
            }

            foreach ((string name, PlanValue value) in builder.OutputValues)
            {
                TensorElementType type = builder.Model.Outputs.First(o => o.Name == name).ElementType;
                _outputs.Add((name, value, value.Slot is null ? null : Resolve(value.Slot), type));
            }

            foreach (PlanStep step in builder.Steps)
            {
                GpuBuffer[] buffers = step.Buffers.Select(Resolve).ToArray();
                _dispatches.Add(new ComputeDispatch(kernels.Get(step.Kernel), buffers, step.PushConstants, step.GroupsX, step.GroupsY, step.GroupsZ));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public PlanStatistics Statistics { get; }

    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        foreach ((string name, (GpuBuffer buffer, TensorElementType type)) in _inputs)
        {
            _device.Upload<float>(buffer, TensorTypes.ToDevice(name, type, inputs[name]));
        }

        _device.DispatchSequence(_dispatches);
        var results = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach ((string name, PlanValue value, GpuBuffer? buffer, TensorElementType type) in _outputs)
        {
            float[] data = value.Constant?.ToFloats() ?? new float[value.Count];
            if (buffer is not null && data.Length > 0)
            {
                _device.Download<float>(buffer, data);
            }

            results[name] = TensorTypes.FromDevice(value.Shape, data, type);
        }

        return results;
    }

    public void Dispose()
    {
        foreach (GpuBuffer buffer in _buffers)
        {
            buffer.Dispose();
        }

        _buffers.Clear();
    }

    public static GpuBuffer Create(ComputeDevice device, long bytes)
    {
        try
        {
            return device.CreateBuffer((ulong)bytes);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new UserInputException(
                $"The model needs a tensor buffer of {bytes / (1024.0 * 1024.0):F1} MiB, more than {device.Info.Name} allows in one storage buffer.", e);
        }
    }
}

/// <summary>GPU buffers of the constants every plan of a session uses, uploaded once per session.</summary>
internal sealed class SharedConstants : IDisposable
{
    private readonly ComputeDevice _device;
    private readonly Dictionary<CpuTensor, GpuBuffer> _buffers = new(ReferenceEqualityComparer.Instance);

    public SharedConstants(ComputeDevice device)
    {
        _device = device;
    }

    /// <summary>Bytes held, for tests and diagnostics.</summary>
    public long Bytes => _buffers.Values.Sum(b => (long)b.SizeBytes);

    public GpuBuffer Get(Slot slot)
    {
        CpuTensor source = slot.Source!;
        if (!_buffers.TryGetValue(source, out GpuBuffer? buffer))
        {
            buffer = ExecutionPlan.Create(_device, slot.Bytes);
            try
            {
                _device.Upload<byte>(buffer, slot.ConstantData);
            }
            catch
            {
                buffer.Dispose();
                throw;
            }

            _buffers[source] = buffer;
        }

        return buffer;
    }

    public void Dispose()
    {
        foreach (GpuBuffer buffer in _buffers.Values)
        {
            buffer.Dispose();
        }

        _buffers.Clear();
    }
}
