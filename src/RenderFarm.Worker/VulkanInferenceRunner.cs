using System.Diagnostics;
using RenderFarm.Gpu;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;

namespace RenderFarm.Worker;

/// <summary>Runs ONNX models with the engine's own Vulkan kernels on one device, kept open for the runner's life.</summary>
public sealed class VulkanInferenceRunner : IInferenceRunner, IDisposable
{
    private readonly ComputeDevice _device;
    private readonly Lock _sync = new();

    // Items of one job arrive back to back: keep the last model's compiled session.
    private string? _modelPath;
    private InferenceSession? _session;
    private OnnxModel? _model;

    /// <summary>Opens the device.</summary>
    /// <param name="deviceIndex">An index from <see cref="ComputeDevice.EnumerateDevices"/>, or null to choose automatically.</param>
    /// <exception cref="GpuUnavailableException">Vulkan or the device is not available.</exception>
    public VulkanInferenceRunner(int? deviceIndex = null) => _device = ComputeDevice.Open(deviceIndex);

    /// <inheritdoc/>
    public Task<InferredItem> RunAsync(string modelPath, byte[] inputNpy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentNullException.ThrowIfNull(inputNpy);

        // The engine blocks while the GPU works; keep that off the caller's thread.
        return Task.Run(
            () =>
            {
                lock (_sync)
                {
                    (InferenceSession session, OnnxModel model) = Open(modelPath);
                    Dictionary<string, Tensor> inputs = ItemFiles.Parse(inputNpy, model.Inputs, "the task's input");
                    var clock = Stopwatch.StartNew();
                    IReadOnlyDictionary<string, Tensor> outputs = session.Run(inputs);
                    TimeSpan elapsed = clock.Elapsed;
                    return new InferredItem(ItemFiles.Format(model.Outputs, outputs), elapsed);
                }
            },
            cancellationToken);
    }

    /// <summary>Releases the session and the device.</summary>
    public void Dispose()
    {
        _session?.Dispose();
        _device.Dispose();
    }

    private (InferenceSession Session, OnnxModel Model) Open(string modelPath)
    {
        if (_session is null || _modelPath != modelPath)
        {
            _session?.Dispose();
            _session = null;
            OnnxModel model = OnnxModel.Load(modelPath);
            _session = new InferenceSession(_device, model);
            _modelPath = modelPath;
            _model = model;
        }

        return (_session, _model!);
    }
}
