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
    private string? _inputName;

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
                Tensor input = NpyFile.Parse(inputNpy, "the task's input");
                lock (_sync)
                {
                    (InferenceSession session, string inputName) = Open(modelPath);
                    var clock = Stopwatch.StartNew();
                    Tensor output = session.Run(new Dictionary<string, Tensor> { [inputName] = input }).Values.Single();
                    return new InferredItem(NpyFile.Format(output), clock.Elapsed);
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

    private (InferenceSession Session, string InputName) Open(string modelPath)
    {
        if (_session is null || _modelPath != modelPath)
        {
            _session?.Dispose();
            _session = null;
            OnnxModel model = OnnxModel.Load(modelPath);
            _session = new InferenceSession(_device, model);
            _modelPath = modelPath;
            _inputName = model.Inputs.Single().Name;
        }

        return (_session, _inputName!);
    }
}
