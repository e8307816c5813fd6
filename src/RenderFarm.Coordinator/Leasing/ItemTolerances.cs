using System.Collections.Concurrent;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Storage;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Verification;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The tolerance of each float output of an inference item (<see cref="OutputTolerance"/>): the roundings its model
/// puts each output through for the item's input shapes, times its magnitude in the reference execution. Roundings
/// come from planning the job's model (no GPU) once per model and set of input shapes; a model or item that cannot be
/// read or planned leaves the fixed default tolerance of <see cref="TensorComparison"/>.
/// </summary>
internal sealed class ItemTolerances
{
    // Plans are cheap next to an execution but not free; a farm sees few (model, shapes) pairs.
    private const int MaxCached = 256;

    private readonly IObjectStore _objects;
    private readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, long>?> _roundings = new(StringComparer.Ordinal);

    public ItemTolerances(IObjectStore objects)
    {
        _objects = objects;
    }

    /// <summary>The comparison of each float output of item <paramref name="item"/> of <paramref name="job"/>, or null to keep the default.</summary>
    public async Task<Func<ItemTensor, TensorComparison?>?> ForItemAsync(JobRecord job, int item, CancellationToken cancellationToken)
    {
        if (job.Spec.Inference is not { } inference || item < 1 || item > inference.Inputs.Count)
        {
            return null;
        }

        try
        {
            byte[]? input = await _objects.ReadAllBytesAsync(inference.Inputs[item - 1].Key, cancellationToken);
            if (input is null)
            {
                return null;
            }

            IReadOnlyList<KeyValuePair<string, Tensor>> tensors = ItemFiles.ParseAny(input, "an inference input");
            string key = job.Spec.SceneSha256 + "|" + string.Join(";", tensors.Select(t => t.Key + ":" + string.Join(",", t.Value.Shape)));
            if (!_roundings.TryGetValue(key, out IReadOnlyDictionary<string, long>? roundings))
            {
                roundings = await PlanAsync(job.Spec.SceneKey, tensors, cancellationToken);
                if (_roundings.Count >= MaxCached)
                {
                    _roundings.Clear();
                }

                _roundings[key] = roundings;
            }

            if (roundings is null)
            {
                return null;
            }

            // A .npy item holds the model's one output under the empty name.
            long? only = roundings.Count == 1 ? roundings.Values.Single() : null;
            return reference => (reference.Name.Length == 0 ? only : roundings.TryGetValue(reference.Name, out long r) ? r : null) is { } found
                ? new TensorComparison(OutputTolerance.Bound(found, reference.Data), 0)
                : null;
        }
        catch (UserInputException)
        {
            return null;
        }
    }

    private async Task<IReadOnlyDictionary<string, long>?> PlanAsync(string modelKey, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, CancellationToken cancellationToken)
    {
        byte[]? bytes = await _objects.ReadAllBytesAsync(modelKey, cancellationToken);
        if (bytes is null)
        {
            return null;
        }

        OnnxModel model = OnnxModel.Parse(bytes);
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach ((string name, Tensor tensor) in tensors)
        {
            string input = name.Length == 0 && model.Inputs.Count == 1 ? model.Inputs[0].Name : name;
            shapes[input] = [.. tensor.Shape];
        }

        if (model.Inputs.Any(i => !shapes.ContainsKey(i.Name)))
        {
            return null;
        }

        return OutputTolerance.Roundings(model, shapes);
    }
}
