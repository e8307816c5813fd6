using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Inference.Planning;

namespace RenderFarm.Inference;

/// <summary>
/// Runs an <see cref="OnnxModel"/> on a <see cref="ComputeDevice"/> with the engine's own compute kernels.
/// The plan (constant folding, shapes, buffer reuse, recorded dispatches) is compiled once per set of input shapes:
/// in the constructor when every input shape is fixed, otherwise on the first run with new shapes.
/// </summary>
/// <remarks>Runs are serialized; a session may be shared between threads.</remarks>
public sealed class InferenceSession : IDisposable
{
    private readonly Lock _sync = new();
    private readonly ComputeDevice _device;
    private readonly OnnxModel _model;
    private readonly KernelLibrary _kernels;
    /// <summary>How many compiled plans (one per set of input shapes) a session keeps; the least recently used goes first.</summary>
    internal const int MaxPlans = 4;

    private readonly Dictionary<string, ExecutionPlan> _plans = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _planOrder = new();
    private readonly ConstantMemo _memo = new();
    private readonly SharedConstants _constants;
    private bool _disposed;

    /// <summary>Prepares <paramref name="model"/> to run on <paramref name="device"/>.</summary>
    /// <exception cref="UserInputException">The model uses an unsupported operator or cannot be planned.</exception>
    public InferenceSession(ComputeDevice device, OnnxModel model)
        : this(device, model, KernelBuilds.ForDevice)
    {
    }

    /// <summary>Prepares <paramref name="model"/> to run on <paramref name="device"/> with the given kernel builds.</summary>
    internal InferenceSession(ComputeDevice device, OnnxModel model, KernelBuilds builds)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(model);
        model.EnsureSupported();
        _device = device;
        _model = model;
        _kernels = KernelLibrary.For(device, builds);
        _constants = new SharedConstants(device);
        try
        {
            if (model.Inputs.All(i => i.Shape.All(d => d is not null)))
            {
                var shapes = model.Inputs.ToDictionary(i => i.Name, i => i.Shape.Select(d => d!.Value).ToArray(), StringComparer.Ordinal);
                GetPlan(shapes);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// A session whose kernels behave like another conforming Vulkan device (fused multiply-adds, other summation orders,
    /// exp/log/sqrt/division at their precision bounds; see shaders/inference/device.glsl), for measuring how far honest
    /// outputs move between devices. Never used to deliver outputs.
    /// </summary>
    /// <exception cref="UserInputException">The model uses an unsupported operator or cannot be planned.</exception>
    public static InferenceSession SimulatingOtherDevice(ComputeDevice device, OnnxModel model) => new(device, model, KernelBuilds.OtherDevice);

    /// <summary>Runs the model on one set of inputs and returns every graph output by name.</summary>
    /// <exception cref="UserInputException">An input is missing or unknown, or its shape does not fit the model.</exception>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        foreach (string name in inputs.Keys)
        {
            if (!_model.Inputs.Any(i => i.Name == name))
            {
                throw new UserInputException(
                    $"The model has no input '{name}'; its inputs are: {string.Join(", ", _model.Inputs)}.");
            }
        }

        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (TensorInfo input in _model.Inputs)
        {
            if (!inputs.TryGetValue(input.Name, out Tensor? tensor))
            {
                throw new UserInputException($"Input '{input.Name}' is missing; the model needs {string.Join(", ", _model.Inputs)}.");
            }

            ArgumentNullException.ThrowIfNull(tensor, input.Name);
            bool fits = tensor.Shape.Count == input.Shape.Count;
            for (int i = 0; fits && i < input.Shape.Count; i++)
            {
                fits = input.Shape[i] is null || input.Shape[i] == tensor.Shape[i];
            }

            if (!fits)
            {
                string expected = string.Join(", ", input.Shape.Select(d => d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"));
                throw new UserInputException(
                    $"Input '{input.Name}' has shape [{string.Join(", ", tensor.Shape)}] but the model expects [{expected}] (? = any size).");
            }

            shapes[input.Name] = [.. tensor.Shape];
        }

        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return GetPlan(shapes).Run(inputs);
        }
    }

    /// <summary>Releases the session's GPU buffers (not the device, nor the kernels it shares with other sessions).</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (ExecutionPlan plan in _plans.Values)
            {
                plan.Dispose();
            }

            _plans.Clear();
            _planOrder.Clear();
            _constants.Dispose();
        }
    }

    /// <summary>How many compiled plans the session holds.</summary>
    internal int PlanCount
    {
        get
        {
            lock (_sync)
            {
                return _plans.Count;
            }
        }
    }

    /// <summary>Bytes of constants uploaded for this session, shared by its plans.</summary>
    internal long SharedConstantBytes
    {
        get
        {
            lock (_sync)
            {
                return _constants.Bytes;
            }
        }
    }

    /// <summary>The plan statistics for the given input shapes, compiling the plan if needed.</summary>
    internal PlanStatistics GetStatistics(IReadOnlyDictionary<string, int[]> shapes)
    {
        lock (_sync)
        {
            return GetPlan(shapes).Statistics;
        }
    }

    private ExecutionPlan GetPlan(IReadOnlyDictionary<string, int[]> shapes)
    {
        string key = string.Join(";", _model.Inputs.Select(i => string.Join(",", shapes[i.Name])));
        if (_plans.TryGetValue(key, out ExecutionPlan? plan))
        {
            _planOrder.Remove(key);
            _planOrder.AddFirst(key);
            return plan;
        }

        var builder = new PlanBuilder(_model, _memo);
        try
        {
            builder.Build(shapes);
        }
        catch (PlanException e)
        {
            throw new UserInputException($"The model cannot run with inputs {FormatShapes(shapes)}: {e.Message}", e);
        }

        plan = new ExecutionPlan(_device, _kernels, builder, _constants);
        _plans[key] = plan;
        _planOrder.AddFirst(key);
        if (_planOrder.Count > MaxPlans)
        {
            // Dynamic shapes must not grow GPU memory without bound.
            string oldest = _planOrder.Last!.Value;
            _planOrder.RemoveLast();
            _plans.Remove(oldest, out ExecutionPlan? evicted);
            evicted?.Dispose();
        }

        return plan;
    }

    private string FormatShapes(IReadOnlyDictionary<string, int[]> shapes) =>
        string.Join(", ", _model.Inputs.Select(i => $"{i.Name} {ShapeMath.Format(shapes[i.Name])}"));
}
