using System.Globalization;

namespace RenderFarm.Inference;

/// <summary>The name, declared shape and element type of a model input or output.</summary>
/// <param name="Name">The tensor's name in the graph.</param>
/// <param name="Shape">The size of each dimension, outermost first; null where the model leaves it dynamic or symbolic.</param>
/// <param name="ElementType">The element type the model declares.</param>
public sealed record TensorInfo(string Name, IReadOnlyList<int?> Shape, TensorElementType ElementType = TensorElementType.Float32)
{
    /// <summary>
    /// Whether the model declares the shape; false where it leaves it to shape inference (then <see cref="Shape"/> is
    /// empty and says nothing, and a tensor of any shape may be it).
    /// </summary>
    public bool HasShape { get; init; } = true;

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}{(ElementType == TensorElementType.Float32 ? string.Empty : " " + TensorTypes.Name(ElementType))} [{string.Join(", ", Shape.Select(d => d?.ToString(CultureInfo.InvariantCulture) ?? "?"))}]";
}
