using System.Globalization;

namespace RenderFarm.Verification;

/// <summary>One named output tensor of an inference item, as verification reads it.</summary>
/// <param name="Name">The output's name (empty for the one output of a .npy item).</param>
/// <param name="Exact">Whether its element type is integer or boolean: whole numbers the engine computes exactly.</param>
/// <param name="Shape">Its shape.</param>
/// <param name="Data">Its elements as floats.</param>
public sealed record ItemTensor(string Name, bool Exact, IReadOnlyList<int> Shape, float[] Data);

/// <summary>How two executions of one inference item differ over all of its outputs.</summary>
/// <param name="IsMatch">Whether every output matches.</param>
/// <param name="MaxAbsoluteDifference">Largest |a − b| over every output.</param>
/// <param name="ShareBeyondTolerance">Largest share of an output's elements beyond its tolerance.</param>
/// <param name="Summary">One line: the failing outputs and why, or the largest difference.</param>
public sealed record ItemDifference(bool IsMatch, double MaxAbsoluteDifference, double ShareBeyondTolerance, string Summary);

/// <summary>
/// Compares two executions of one inference item output by output: the same output names, and each output compared
/// by its type — integer and boolean outputs (class indices, masks, token ids) exactly, floating-point outputs within
/// <see cref="Floats"/>.
/// </summary>
/// <param name="Floats">The comparison of floating-point outputs.</param>
public sealed record ItemComparison(TensorComparison Floats)
{
    private static readonly TensorComparison s_exact = new(0, 0);

    /// <summary>
    /// Compares <paramref name="actual"/> with the reference <paramref name="expected"/>; <paramref name="floatsFor"/>
    /// may give a floating-point output its own tolerance (from its reference tensor), else <see cref="Floats"/> applies.
    /// </summary>
    public ItemDifference Compare(IReadOnlyList<ItemTensor> actual, IReadOnlyList<ItemTensor> expected, Func<ItemTensor, TensorComparison?>? floatsFor = null)
    {
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(expected);
        if (actual.Count != expected.Count || actual.Count == 0 || !actual.Select(t => t.Name).Order(StringComparer.Ordinal).SequenceEqual(expected.Select(t => t.Name).Order(StringComparer.Ordinal), StringComparer.Ordinal))
        {
            return new ItemDifference(false, double.PositiveInfinity, 1, string.Create(
                CultureInfo.InvariantCulture, $"outputs {Names(actual)} delivered, {Names(expected)} re-executed"));
        }

        double maxDifference = 0;
        double maxShare = 0;
        var failures = new List<string>();
        foreach (ItemTensor reference in expected)
        {
            ItemTensor other = actual.First(t => t.Name == reference.Name);
            string label = reference.Name.Length == 0 ? "the output" : $"'{reference.Name}'";
            if (other.Exact != reference.Exact)
            {
                failures.Add($"{label} is {(other.Exact ? "integer" : "floating-point")} delivered, {(reference.Exact ? "integer" : "floating-point")} re-executed");
                maxDifference = double.PositiveInfinity;
                maxShare = 1;
                continue;
            }

            TensorDifference difference = (reference.Exact ? s_exact : floatsFor?.Invoke(reference) ?? Floats).Compare(other.Shape, other.Data, reference.Shape, reference.Data);
            maxDifference = Math.Max(maxDifference, difference.MaxAbsoluteDifference);
            maxShare = Math.Max(maxShare, difference.ShareBeyondTolerance);
            if (!difference.IsMatch)
            {
                failures.Add(difference.SameShape
                    ? string.Create(CultureInfo.InvariantCulture, $"{label}: max |diff| {difference.MaxAbsoluteDifference:G3}, {difference.ShareBeyondTolerance:P1} beyond {(reference.Exact ? "exact" : "tolerance")}")
                    : $"{label}: shape [{string.Join(", ", other.Shape)}] delivered, [{string.Join(", ", reference.Shape)}] re-executed");
            }
        }

        string summary = failures.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{expected.Count} output(s), max |diff| {maxDifference:G3}")
            : string.Join("; ", failures.Take(4)) + (failures.Count > 4 ? $"; {failures.Count - 4} more" : string.Empty);
        return new ItemDifference(failures.Count == 0, maxDifference, maxShare, summary);
    }

    private static string Names(IReadOnlyList<ItemTensor> tensors) =>
        "(" + string.Join(", ", tensors.Take(8).Select(t => new string([.. t.Name.Take(64).Select(c => char.IsControl(c) ? '?' : c)]))) + (tensors.Count > 8 ? ", …" : string.Empty) + ")";
}
