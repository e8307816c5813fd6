namespace RenderFarm.Inference;

/// <summary>The name and declared shape of a model input or output.</summary>
/// <param name="Name">The tensor's name in the graph.</param>
/// <param name="Shape">The size of each dimension, outermost first; null where the model leaves it dynamic or symbolic.</param>
public sealed record TensorInfo(string Name, IReadOnlyList<int?> Shape)
{
    /// <inheritdoc />
    public override string ToString() => $"{Name} [{string.Join(", ", Shape.Select(d => d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"))}]";
}
