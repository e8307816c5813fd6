using System.Runtime.InteropServices;
using Google.Protobuf;
using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Tests.Models;

/// <summary>
/// Builds ONNX models in code: float inputs and outputs, float and int64 initializers, and nodes with attributes.
/// <code>
/// var model = new ModelBuilder(opset: 17)
///     .Input("x", 1, 3, 8, 8)
///     .Initializer("w", [4, 3, 3, 3], weights)
///     .Node("Conv", ["x", "w"], ["y"], a => a.Ints("pads", 1, 1, 1, 1))
///     .Output("y")
///     .ToBytes();
/// </code>
/// </summary>
internal sealed class ModelBuilder
{
    private readonly ModelProto _model;
    private readonly GraphProto _graph;
    private int _nodeCount;

    public ModelBuilder(int opset = 17, string graphName = "test")
    {
        _graph = new GraphProto { Name = graphName };
        _model = new ModelProto
        {
            IrVersion = opset >= 21 ? 10 : opset >= 19 ? 9 : 8,
            ProducerName = "RenderFarm.Inference.Tests",
            Graph = _graph,
        };
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
    }

    /// <summary>Adds a float32 graph input of fixed shape.</summary>
    public ModelBuilder Input(string name, params int[] shape) => Input(name, shape.Select(d => (int?)d).ToArray());

    /// <summary>Adds a float32 graph input; a null dimension is symbolic (named after the input and axis).</summary>
    public ModelBuilder Input(string name, params int?[] shape)
    {
        _graph.Input.Add(ValueInfo(name, shape, TensorProto.Types.DataType.Float));
        return this;
    }

    /// <summary>Adds a graph input of another element type (for refusal tests).</summary>
    public ModelBuilder TypedInput(string name, TensorProto.Types.DataType type, params int?[] shape)
    {
        _graph.Input.Add(ValueInfo(name, shape, type));
        return this;
    }

    /// <summary>Adds a float32 graph output; without a shape, ONNX Runtime and the engine infer it.</summary>
    public ModelBuilder Output(string name, params int?[]? shape)
    {
        _graph.Output.Add(ValueInfo(name, shape is { Length: > 0 } ? shape : null, TensorProto.Types.DataType.Float));
        return this;
    }

    /// <summary>Adds a graph output of another element type, shape left to inference.</summary>
    public ModelBuilder TypedOutput(string name, TensorProto.Types.DataType type)
    {
        _graph.Output.Add(ValueInfo(name, null, type));
        return this;
    }

    /// <summary>Adds a graph output of another element type and a declared shape (a null dimension is symbolic).</summary>
    public ModelBuilder TypedOutput(string name, TensorProto.Types.DataType type, params int?[] shape)
    {
        _graph.Output.Add(ValueInfo(name, shape, type));
        return this;
    }

    /// <summary>Adds a ONNX Runtime contrib (com.microsoft) opset import, for its fused operators.</summary>
    public ModelBuilder WithMicrosoftDomain()
    {
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return this;
    }

    public ModelBuilder Initializer(string name, int[] shape, float[] data)
    {
        _graph.Initializer.Add(FloatTensor(name, shape, data));
        return this;
    }

    public ModelBuilder Initializer(string name, int[] shape, long[] data)
    {
        _graph.Initializer.Add(Int64Tensor(name, shape, data));
        return this;
    }

    /// <summary>An int64 vector initializer (shapes, axes, pads, slice bounds).</summary>
    public ModelBuilder Int64s(string name, params long[] values) => Initializer(name, [values.Length], values);

    /// <summary>A float vector initializer; empty for an absent-but-positional input such as Resize's roi.</summary>
    public ModelBuilder Floats(string name, params float[] values) => Initializer(name, [values.Length], values);

    /// <summary>Adds a node; an empty input name leaves an optional input out.</summary>
    public ModelBuilder Node(string opType, string[] inputs, string[] outputs, Action<AttributeBuilder>? attributes = null, string? name = null, string domain = "")
    {
        var node = new NodeProto { OpType = opType, Name = name ?? $"{opType.ToLowerInvariant()}_{_nodeCount}", Domain = domain };
        _nodeCount++;
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        attributes?.Invoke(new AttributeBuilder(node));
        _graph.Node.Add(node);
        return this;
    }

    /// <summary>The graph being built, as a branch of an If node.</summary>
    public GraphProto Graph => _graph;

    public byte[] ToBytes() => _model.ToByteArray();

    public OnnxModel Build() => OnnxModel.Parse(ToBytes());

    /// <summary>Writes the model to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    internal static TensorProto FloatTensor(string name, int[] shape, float[] data)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(shape.Select(d => (long)d));
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan()));
        return tensor;
    }

    internal static TensorProto Int64Tensor(string name, int[] shape, long[] data)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(shape.Select(d => (long)d));
        tensor.Int64Data.AddRange(data);
        return tensor;
    }

    private static ValueInfoProto ValueInfo(string name, int?[]? shape, TensorProto.Types.DataType type)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (shape is not null)
        {
            tensorType.Shape = new TensorShapeProto();
            for (int i = 0; i < shape.Length; i++)
            {
                tensorType.Shape.Dim.Add(shape[i] is int d
                    ? new TensorShapeProto.Types.Dimension { DimValue = d }
                    : new TensorShapeProto.Types.Dimension { DimParam = $"{name}_d{i}" });
            }
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }
}

/// <summary>Sets attributes of one node.</summary>
internal sealed class AttributeBuilder
{
    private readonly NodeProto _node;

    public AttributeBuilder(NodeProto node)
    {
        _node = node;
    }

    public AttributeBuilder Int(string name, long value) => Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });

    public AttributeBuilder Float(string name, float value) => Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value });

    public AttributeBuilder String(string name, string value) =>
        Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });

    public AttributeBuilder Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return Add(attribute);
    }

    public AttributeBuilder Floats(string name, params float[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        attribute.Floats.AddRange(values);
        return Add(attribute);
    }

    public AttributeBuilder Graph(string name, GraphProto value) =>
        Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = value });

    public AttributeBuilder Tensor(string name, TensorProto value) =>
        Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value });

    private AttributeBuilder Add(AttributeProto attribute)
    {
        _node.Attribute.Add(attribute);
        return this;
    }
}
