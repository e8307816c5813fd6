using RenderFarm.Core;

namespace RenderFarm.Worker;

/// <summary>What running a model on one batch item produced.</summary>
/// <param name="OutputNpy">
/// The model's outputs for the item as one item file (<see cref="Inference.IO.ItemFiles"/>): a .npy array of the
/// output's type for a model with one output, else an .npz archive of every output by name.
/// </param>
/// <param name="RunTime">Wall time of the run, not counting file handling.</param>
public sealed record InferredItem(byte[] OutputNpy, TimeSpan RunTime);

/// <summary>
/// Runs an ONNX model on one batch item (queue <c>inference</c>, and the re-executions of sampled items on
/// <c>validate</c>). A worker with one serves inference tasks; narrow so that tests can swap it.
/// </summary>
public interface IInferenceRunner
{
    /// <summary>
    /// Runs the model in <paramref name="modelPath"/> on one item's inputs, <paramref name="inputNpy"/>: a .npy array
    /// for a model with one input, else an .npz archive of every input by name (<see cref="Inference.IO.ItemFiles"/>).
    /// </summary>
    /// <exception cref="UserInputException">The model or the input cannot be run.</exception>
    Task<InferredItem> RunAsync(string modelPath, byte[] inputNpy, CancellationToken cancellationToken);
}
