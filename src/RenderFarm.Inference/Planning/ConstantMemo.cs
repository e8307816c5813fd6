namespace RenderFarm.Inference.Planning;

/// <summary>
/// Constants a session derives from its model once (Constant node values, BatchNormalization folded into
/// convolution weights), keyed by the node, so every plan of the session gets the same tensor objects and can share
/// their GPU buffers.
/// </summary>
internal sealed class ConstantMemo
{
    private readonly Dictionary<(object Node, Type Kind), object> _values = [];

    public T Get<T>(object node, Func<T> create)
        where T : notnull
    {
        if (!_values.TryGetValue((node, typeof(T)), out object? value))
        {
            value = create();
            _values[(node, typeof(T))] = value;
        }

        return (T)value;
    }
}
