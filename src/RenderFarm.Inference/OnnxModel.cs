using Google.Protobuf;
using RenderFarm.Core;
using RenderFarm.Inference.Onnx;
using RenderFarm.Inference.Planning;

namespace RenderFarm.Inference;

/// <summary>
/// An ONNX model read from its protobuf encoding: its inputs, outputs and whether the engine can run every operator.
/// </summary>
public sealed class OnnxModel
{
    /// <summary>The oldest default-domain opset the engine runs (models before 11 are upgraded at load).</summary>
    public const int MinimumOpset = 7;

    /// <summary>The newest default-domain opset the engine runs.</summary>
    public const int MaximumOpset = 21;

    private readonly List<string> _problems;

    private OnnxModel(ModelProto proto)
    {
        Proto = proto;
        GraphProto graph = proto.Graph ?? throw new UserInputException("The ONNX model has no graph.");
        if (graph.Node.Count == 0 && graph.Output.Count == 0)
        {
            throw new UserInputException("The ONNX model's graph is empty.");
        }

        Opset = 0;
        bool hasDefault = false;
        foreach (OperatorSetIdProto import in proto.OpsetImport)
        {
            if (import.Domain is "" or "ai.onnx")
            {
                Opset = (int)import.Version;
                hasDefault = true;
            }
        }

        if (!hasDefault)
        {
            // IR version 3+ models must import the default domain; older ones implied opset 1.
            Opset = 1;
        }

        var initializers = new Dictionary<string, CpuTensor>(StringComparer.Ordinal);
        foreach (TensorProto tensor in graph.Initializer)
        {
            initializers[tensor.Name] = CpuTensor.FromProto(tensor);
        }

        DeclaredOpset = Opset;
        List<string> upgradeProblems = [];
        if (Opset is >= MinimumOpset and < OpsetUpgrade.Target)
        {
            upgradeProblems = OpsetUpgrade.Apply(graph, initializers, Opset);
            Opset = OpsetUpgrade.Target;
        }

        Initializers = initializers;

        // The tensors now live in Initializers; dropping the protobuf copies halves the model's host memory.
        graph.Initializer.Clear();
        Inputs = graph.Input.Where(i => !initializers.ContainsKey(i.Name)).Select(Describe).ToArray();
        Outputs = graph.Output.Select(Describe).ToArray();
        if (Outputs.Count == 0)
        {
            throw new UserInputException("The ONNX model's graph declares no outputs.");
        }

        (IReadOnlyList<string> unsupported, _problems) = OperatorSupport.Analyze(this);
        _problems.AddRange(upgradeProblems);
        UnsupportedOperators = [.. unsupported, .. upgradeProblems.Select(p => p["unsupported use of ".Length..])];
    }

    /// <summary>The graph inputs the caller must supply (inputs that are not initializers), in declaration order.</summary>
    public IReadOnlyList<TensorInfo> Inputs { get; }

    /// <summary>The graph outputs, in declaration order.</summary>
    public IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>
    /// One entry per operator (op type and domain) the engine cannot run, naming the first node that uses it,
    /// per supported operator used in a way the engine cannot run (an attribute value, a computed shape input), and
    /// per model-level problem (an opset outside <see cref="MinimumOpset"/>–<see cref="MaximumOpset"/>, an input or
    /// output of an element type other than float32, float16, int64, int32, uint8 and bool). Empty exactly when the model can run.
    /// </summary>
    public IReadOnlyList<string> UnsupportedOperators { get; }

    internal ModelProto Proto { get; }

    internal GraphProto Graph => Proto.Graph;

    /// <summary>The default-domain opset whose semantics the graph follows (after the upgrade of models before 11).</summary>
    internal int Opset { get; }

    /// <summary>The default-domain opset the model was exported at.</summary>
    internal int DeclaredOpset { get; }

    internal IReadOnlyDictionary<string, CpuTensor> Initializers { get; }

    /// <summary>Reads an .onnx file.</summary>
    /// <exception cref="UserInputException">The file is missing, unreadable, not an ONNX model or malformed.</exception>
    public static OnnxModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserInputException($"Model file '{path}' does not exist.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Model file '{path}' cannot be read: {e.Message}", e);
        }

        try
        {
            return Parse(bytes);
        }
        catch (UserInputException e)
        {
            throw new UserInputException($"'{path}': {e.Message}", e);
        }
    }

    /// <summary>Reads a model from its protobuf bytes.</summary>
    /// <exception cref="UserInputException">The bytes are not an ONNX model or the model is malformed.</exception>
    public static OnnxModel Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            throw new UserInputException("The model is empty, not an ONNX file.");
        }

        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new UserInputException($"Not an ONNX model (the protobuf does not parse: {e.Message}).", e);
        }

        if (proto.Graph is null || proto.IrVersion <= 0)
        {
            throw new UserInputException("Not an ONNX model (no IR version or graph).");
        }

        return new OnnxModel(proto);
    }

    /// <summary>Refuses a model the engine cannot run, before any work is scheduled for it.</summary>
    /// <exception cref="UserInputException">Names every unsupported operator (op type, domain, first node) and other problem.</exception>
    public void EnsureSupported()
    {
        if (_problems.Count > 0)
        {
            throw new UserInputException($"The model cannot run on this engine: {string.Join("; ", _problems)}.");
        }
    }

    /// <summary>
    /// Refuses a model whose items the farm cannot carry: each item travels as one file of named tensors
    /// (<see cref="IO.ItemFiles"/>), so the model has at most <see cref="IO.NpzFile.MaxArrays"/> inputs and outputs,
    /// each with a distinct name that is a plain archive entry name of at most 200 characters.
    /// </summary>
    /// <exception cref="UserInputException">Names the first input or output the farm cannot carry.</exception>
    public void EnsureFarmCompatible()
    {
        foreach ((string side, IReadOnlyList<TensorInfo> tensors) in new[] { ("inputs", Inputs), ("outputs", Outputs) })
        {
            if (tensors.Count is 0 or > IO.NpzFile.MaxArrays)
            {
                throw new UserInputException($"The farm carries models with 1 to {IO.NpzFile.MaxArrays} {side}; this one has {tensors.Count}.");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (TensorInfo tensor in tensors)
            {
                string name = tensor.Name;
                if (name.Length is 0 or > 200 || name.Any(c => char.IsControl(c) || c is '/' or '\\') || !seen.Add(name))
                {
                    throw new UserInputException(
                        $"The farm names each item's tensors after the model's {side}, so each must be a distinct plain name of 1 to 200 characters; '{new string([.. name.Take(64).Select(c => char.IsControl(c) ? '?' : c)])}' is not.");
                }
            }
        }
    }

    private static TensorInfo Describe(ValueInfoProto value)
    {
        TensorElementType type = TensorTypes.FromOnnx(value.Type?.TensorType?.ElemType ?? (int)TensorProto.Types.DataType.Float) ?? TensorElementType.Float32;
        TensorShapeProto? shape = value.Type?.TensorType?.Shape;
        if (shape is null)
        {
            return new TensorInfo(value.Name, [], type) { HasShape = false };
        }

        var dims = new int?[shape.Dim.Count];
        for (int i = 0; i < dims.Length; i++)
        {
            TensorShapeProto.Types.Dimension dim = shape.Dim[i];
            dims[i] = dim.HasDimValue && dim.DimValue >= 0 && dim.DimValue <= int.MaxValue ? (int)dim.DimValue : null;
        }

        return new TensorInfo(value.Name, dims, type);
    }
}
