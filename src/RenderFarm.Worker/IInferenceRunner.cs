using RenderFarm.Core;

namespace RenderFarm.Worker;

/// <summary>What running a model on one batch item produced.</summary>
/// <param name="OutputNpy">The model's output for the item as a float32 .npy file.</param>
/// <param name="RunTime">Wall time of the run, not counting file handling.</param>
public sealed record InferredItem(byte[] OutputNpy, TimeSpan RunTime);

/// <summary>
/// Runs an ONNX model on one batch item (queue <c>inference</c>, and the re-executions of sampled items on
/// <c>validate</c>). A worker with one serves inference tasks; narrow so that tests can swap it.
/// </summary>
public interface IInferenceRunner
{
    /// <summary>Runs the model in <paramref name="modelPath"/> (it has exactly one input and one output) on the .npy tensor <paramref name="inputNpy"/>.</summary>
    /// <exception cref="UserInputException">The model or the input cannot be run.</exception>
    Task<InferredItem> RunAsync(string modelPath, byte[] inputNpy, CancellationToken cancellationToken);
}
