using System.Collections.Frozen;
using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// One operator the engine runs: how it is lowered while planning, what the support check refuses before any shape is
/// known, and whether it is evaluated only on the CPU (its inputs must be known while planning).
/// </summary>
/// <param name="Domain">The operator's domain: empty for the default ONNX domain, "com.microsoft" for ONNX Runtime's.</param>
/// <param name="OpType">The operator's name.</param>
/// <param name="Lower">Plans one node: sets its outputs from its inputs, emitting kernels where a value is computed at run time.</param>
/// <param name="Check">Returns why a node cannot run (an attribute value, a computed input that must be constant), or null.</param>
/// <param name="FoldOnly">True when the operator has no kernel and is folded on constants only.</param>
internal sealed record OperatorLowering(
    string Domain, string OpType, Action<PlanBuilder, NodeProto> Lower, Func<SupportQuery, string?>? Check, bool FoldOnly);

/// <summary>What a support check knows about a node before shapes are known.</summary>
internal sealed class SupportQuery
{
    private readonly IReadOnlySet<string> _known;

    public SupportQuery(NodeProto node, int opset, IReadOnlySet<string> known)
    {
        Node = node;
        Opset = opset;
        _known = known;
        AllKnown = node.Input.Where(i => i.Length > 0).All(known.Contains);
    }

    public NodeProto Node { get; }

    public int Opset { get; }

    /// <summary>True when every input is known while planning (the node folds on the CPU).</summary>
    public bool AllKnown { get; }

    /// <summary>A refusal naming the first of <paramref name="indices"/> that is computed at run time, or null.</summary>
    public string? NeedKnown(params int[] indices)
    {
        foreach (int index in indices)
        {
            string? name = Node.InputAt(index);
            if (name is not null && !_known.Contains(name))
            {
                return $"input {index} '{name}' is computed at run time; the engine needs it constant";
            }
        }

        return null;
    }

    /// <summary>A refusal when any output past the first is used.</summary>
    public string? OnlyFirstOutput(string what) => Node.Output.Skip(1).Any(o => o.Length > 0) ? $"the {what} output is not supported" : null;
}

/// <summary>The registry of operator lowerings: the one list of what the engine runs.</summary>
internal sealed partial class PlanBuilder
{
    /// <summary>The domain of ONNX Runtime's contrib operators.</summary>
    public const string MicrosoftDomain = "com.microsoft";

    private static readonly FrozenDictionary<string, OperatorLowering> s_lowerings = Register();

    /// <summary>Every operator the engine runs, keyed by <see cref="KeyOf"/>.</summary>
    public static IReadOnlyDictionary<string, OperatorLowering> Lowerings => s_lowerings;

    /// <summary>The registry key of an operator: its name in the default domain, "domain:name" elsewhere.</summary>
    public static string KeyOf(string domain, string opType) => domain is "" or "ai.onnx" ? opType : $"{domain}:{opType}";

    /// <summary>The lowering of <paramref name="node"/>'s operator, or null when the engine does not run it.</summary>
    public static OperatorLowering? Find(NodeProto node) => s_lowerings.GetValueOrDefault(KeyOf(node.Domain, node.OpType));

    private void PlanNode(NodeProto node)
    {
        OperatorLowering lowering = Find(node) ?? throw new PlanException("the operator is not supported.");
        lowering.Lower(this, node);
    }

    private static FrozenDictionary<string, OperatorLowering> Register()
    {
        var all = new Dictionary<string, OperatorLowering>(StringComparer.Ordinal);
        void Add(string op, Action<PlanBuilder, NodeProto> lower, Func<SupportQuery, string?>? check = null, bool foldOnly = false, string domain = "")
        {
            all.Add(KeyOf(domain, op), new OperatorLowering(domain, op, lower, check, foldOnly));
        }

        void Unary(string op, UnaryOp code) => Add(op, (b, n) => b.SetOutput(n, b.Unary(code, b.Input(n, 0))));
        void Binary(string op, BinaryOp code) => Add(op, (b, n) => b.SetOutput(n, b.Binary(code, b.Input(n, 0), b.Input(n, 1))));

        // Data that is only described, moved or reinterpreted.
        Add("Constant", (b, n) => b.SetOutput(n, PlanValue.Of(b._memo.Get(n, () => ConstantAttribute(n)))), q =>
            q.Node.Attribute.Any(a => a.Name is "value" or "value_float" or "value_floats" or "value_int" or "value_ints")
                ? null
                : "only tensor, float and int constants are supported (not sparse or string ones)");
        Add("Identity", (b, n) => b.SetOutput(n, b.Input(n, 0)));
        Add("Dropout", (b, n) => b.SetOutput(n, b.Input(n, 0)), q => q.OnlyFirstOutput("mask") ?? q.NeedKnown(2));
        Add("Cast", (b, n) => b.SetOutput(n, b.Cast(b.Input(n, 0), n.Int("to", 1))), q =>
            TensorTypes.FromOnnx((int)q.Node.Int("to", 0)) is null && q.Node.Int("to", 0) is not ((long)TensorProto.Types.DataType.Double or
                (long)TensorProto.Types.DataType.Int8 or (long)TensorProto.Types.DataType.Int16 or (long)TensorProto.Types.DataType.Uint16 or
                (long)TensorProto.Types.DataType.Uint32 or (long)TensorProto.Types.DataType.Uint64 or (long)TensorProto.Types.DataType.Bfloat16)
                ? $"casting to element type {(TensorProto.Types.DataType)q.Node.Int("to", 0)} is not supported"
                : null);
        Add("Shape", (b, n) => b.SetOutput(n, b.ShapeOf(n)));
        Add("ConstantOfShape", (b, n) => b.SetOutput(n, b.ConstantOfShape(n)), foldOnly: true);
        Add("Range", (b, n) => b.SetOutput(n, b.Range(n)), foldOnly: true);
        Add("Reshape", (b, n) => b.SetOutput(n, b.Reshape(n)), q => q.NeedKnown(1));
        Add("Flatten", (b, n) => b.SetOutput(n, b.Flatten(n)));
        Add("Squeeze", (b, n) => b.SetOutput(n, b.Squeeze(n)), q => q.NeedKnown(1));
        Add("Unsqueeze", (b, n) => b.SetOutput(n, b.Unsqueeze(n)), q => q.NeedKnown(1));
        Add("Transpose", (b, n) => b.SetOutput(n, b.Transpose(n)));
        Add("Concat", (b, n) => b.SetOutput(n, b.Concat(n)));
        Add("Slice", (b, n) => b.SetOutput(n, b.Slice(n)), q => q.NeedKnown(1, 2, 3, 4));
        Add("Split", (b, n) => b.Split(n), q => q.NeedKnown(1));
        Add("Gather", (b, n) => b.SetOutput(n, b.Gather(n)));
        Add("Expand", (b, n) => b.SetOutput(n, b.Expand(n)), q => q.NeedKnown(1));
        Add("DepthToSpace", (b, n) => b.SetOutput(n, b.DepthSpace(n)), q =>
            q.Node.String("mode", "DCR") is "DCR" or "CRD" ? null : $"mode '{q.Node.String("mode", "DCR")}' is not supported");
        Add("SpaceToDepth", (b, n) => b.SetOutput(n, b.DepthSpace(n)));
        Add("Pad", (b, n) => b.SetOutput(n, b.Pad(n)), CheckPad);
        Add("Resize", (b, n) => b.SetOutput(n, b.Resize(n)), CheckResize);

        // Elementwise.
        Unary("Relu", UnaryOp.Relu);
        Unary("Sigmoid", UnaryOp.Sigmoid);
        Unary("Tanh", UnaryOp.Tanh);
        Unary("HardSwish", UnaryOp.HardSwish);
        Unary("Sqrt", UnaryOp.Sqrt);
        Unary("Exp", UnaryOp.Exp);
        Unary("Log", UnaryOp.Log);
        Unary("Neg", UnaryOp.Neg);
        Unary("Abs", UnaryOp.Abs);
        Unary("Erf", UnaryOp.Erf);
        Unary("Softplus", UnaryOp.Softplus);
        Unary("Reciprocal", UnaryOp.Reciprocal);
        Add("LeakyRelu", (b, n) => b.SetOutput(n, b.Unary(UnaryOp.LeakyRelu, b.Input(n, 0), n.Float("alpha", 0.01f))));
        Add("Elu", (b, n) => b.SetOutput(n, b.Unary(UnaryOp.Elu, b.Input(n, 0), n.Float("alpha", 1f))));
        Add("HardSigmoid", (b, n) => b.SetOutput(n, b.Unary(UnaryOp.HardSigmoid, b.Input(n, 0), n.Float("alpha", 0.2f), n.Float("beta", 0.5f))));
        Add("Gelu", (b, n) => b.SetOutput(n, b.Unary(n.String("approximate", "none") == "tanh" ? UnaryOp.GeluTanh : UnaryOp.Gelu, b.Input(n, 0))));
        Add("Clip", (b, n) => b.SetOutput(n, b.Clip(n)), q => q.NeedKnown(1, 2));
        Binary("Add", BinaryOp.Add);
        Binary("Sub", BinaryOp.Sub);
        Binary("Mul", BinaryOp.Mul);
        Binary("Div", BinaryOp.Div);
        Binary("Pow", BinaryOp.Pow);
        Binary("PRelu", BinaryOp.PRelu);
        Add("Sum", (b, n) => b.SetOutput(n, b.Variadic(n, BinaryOp.Add, mean: false)), CheckVariadic);
        Add("Mean", (b, n) => b.SetOutput(n, b.Variadic(n, BinaryOp.Add, mean: true)), CheckVariadic);
        Add("Max", (b, n) => b.SetOutput(n, b.Variadic(n, BinaryOp.Max, mean: false)), CheckVariadic);
        Add("Min", (b, n) => b.SetOutput(n, b.Variadic(n, BinaryOp.Min, mean: false)), CheckVariadic);
        Unary("Not", UnaryOp.Not);
        Unary("Floor", UnaryOp.Floor);
        Unary("Ceil", UnaryOp.Ceil);
        Unary("Round", UnaryOp.Round);
        Unary("Sign", UnaryOp.Sign);
        Unary("Sin", UnaryOp.Sin);
        Unary("Cos", UnaryOp.Cos);
        Binary("Equal", BinaryOp.Equal);
        Binary("Less", BinaryOp.Less);
        Binary("Greater", BinaryOp.Greater);
        Binary("LessOrEqual", BinaryOp.LessOrEqual);
        Binary("GreaterOrEqual", BinaryOp.GreaterOrEqual);
        Binary("And", BinaryOp.And);
        Binary("Or", BinaryOp.Or);
        Binary("Xor", BinaryOp.Xor);
        Add("Mod", (b, n) => b.SetOutput(n, b.Binary(n.Int("fmod", 0) != 0 ? BinaryOp.Fmod : BinaryOp.FloorMod, b.Input(n, 0), b.Input(n, 1))));
        Add("Where", (b, n) => b.SetOutput(n, b.Where(n)));

        // Arithmetic-heavy operators.
        Add("Conv", (b, n) => b.Conv(n), CheckConv);
        Add("ConvTranspose", (b, n) => b.SetOutput(n, b.ConvTranspose(n)), CheckConv);
        Add("Gemm", (b, n) => b.SetOutput(n, b.Gemm(n)));
        Add("MatMul", (b, n) => b.SetOutput(n, b.MatMul(b.Input(n, 0), b.Input(n, 1))));
        Add("BatchNormalization", (b, n) => b.SetOutput(n, b.BatchNormalization(n)), q =>
            q.Node.Int("training_mode", 0) != 0 || q.Node.Output.Count(o => o.Length > 0) > 1
                ? "training mode is not supported"
                : q.NeedKnown(1, 2, 3, 4));
        Add("InstanceNormalization", (b, n) => b.SetOutput(n, b.InstanceNormalization(n)));
        Add("LayerNormalization", (b, n) => b.SetOutput(n, b.LayerNormalization(n)), q => q.OnlyFirstOutput("Mean and InvStdDev"));
        Add("MaxPool", (b, n) => b.SetOutput(n, b.Pool(n, global: false)), CheckPool);
        Add("AveragePool", (b, n) => b.SetOutput(n, b.Pool(n, global: false)), CheckPool);
        Add("GlobalAveragePool", (b, n) => b.SetOutput(n, b.Pool(n, global: true)));
        Add("GlobalMaxPool", (b, n) => b.SetOutput(n, b.Pool(n, global: true)));
        Add("Softmax", (b, n) => b.SetOutput(n, b.Softmax(n)));
        Add("LogSoftmax", (b, n) => b.SetOutput(n, b.Softmax(n)));
        foreach (string op in new[] { "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin" })
        {
            Add(op, (b, n) => b.SetOutput(n, b.Reduce(n)), q => q.NeedKnown(1));
        }

        // Index-valued and scan operators of detector heads and decoders.
        Add("ArgMax", (b, n) => b.SetOutput(n, b.ArgExtreme(n)));
        Add("ArgMin", (b, n) => b.SetOutput(n, b.ArgExtreme(n)));
        Add("TopK", (b, n) => b.TopK(n), q => q.NeedKnown(1));
        Add("CumSum", (b, n) => b.SetOutput(n, b.CumSum(n)), q => q.NeedKnown(1));
        Add("Einsum", (b, n) => b.SetOutput(n, b.Einsum(n)), q =>
        {
            try
            {
                ParseEinsum(q.Node.String("equation", string.Empty));
                return null;
            }
            catch (PlanException e)
            {
                return e.Message.TrimEnd('.');
            }
        });

        // Control flow: branches are planned like the main graph (their nodes are checked with it).
        Add("If", (b, n) => b.If(n), q =>
            q.Node.Attribute("then_branch")?.G is null || q.Node.Attribute("else_branch")?.G is null ? "a branch is missing" : null);

        // ONNX Runtime's fused operators, as its transformer optimizer writes them.
        Add("Attention", (b, n) => b.SetOutput(n, b.Attention(n)), CheckAttention, domain: MicrosoftDomain);
        Add("SkipLayerNormalization", (b, n) => b.SkipLayerNormalization(n), q =>
            q.Node.Output.Skip(1).Take(2).Any(o => o.Length > 0) ? "the mean and inv_std_var outputs are not supported" : null, domain: MicrosoftDomain);
        Add("FastGelu", (b, n) => b.SetOutput(n, b.Unary(UnaryOp.GeluTanh, b.WithBias(n))), domain: MicrosoftDomain);
        Add("BiasGelu", (b, n) => b.SetOutput(n, b.Unary(UnaryOp.Gelu, b.WithBias(n))), domain: MicrosoftDomain);
        Add("Gelu", (b, n) => b.SetOutput(n, b.Unary(UnaryOp.Gelu, b.Input(n, 0))), domain: MicrosoftDomain);

        return all.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Input 0 plus the optional bias of input 1.</summary>
    private PlanValue WithBias(NodeProto node) =>
        OptionalInput(node, 1) is PlanValue bias ? Binary(BinaryOp.Add, Input(node, 0), bias) : Input(node, 0);

    private static string? CheckAttention(SupportQuery q)
    {
        NodeProto node = q.Node;
        if (node.InputAt(4) is not null || node.InputAt(5) is not null || node.Input.Skip(6).Any(i => i.Length > 0))
        {
            return "past state and attention biases are not supported";
        }

        if (node.Output.Skip(1).Any(o => o.Length > 0))
        {
            return "the present output is not supported";
        }

        if (node.Int("unidirectional", 0) != 0)
        {
            return "unidirectional (causal) attention is not supported";
        }

        long[]? sizes = node.Ints("qkv_hidden_sizes");
        if (sizes is not null && sizes.Distinct().Count() > 1)
        {
            return "unequal qkv_hidden_sizes are not supported";
        }

        return node.Attribute("do_rotary") is { I: not 0 } ? "rotary embeddings are not supported" : null;
    }

    private static string? CheckVariadic(SupportQuery q) => q.Node.Input.Count >= 1 ? null : "it has no inputs";

    private static string? CheckConv(SupportQuery q)
    {
        long[]? kernel = q.Node.Ints("kernel_shape");
        return kernel is not null && kernel.Length > 2 ? $"{kernel.Length}-D kernels are not supported (1-D and 2-D are)" : null;
    }

    private static string? CheckPool(SupportQuery q)
    {
        long[]? kernel = q.Node.Ints("kernel_shape");
        if (kernel is null || kernel.Length > 2)
        {
            return "only 1-D and 2-D pooling is supported";
        }

        return q.Node.OpType == "MaxPool" ? q.OnlyFirstOutput("Indices") : null;
    }

    private static string? CheckPad(SupportQuery q)
    {
        string mode = q.Node.String("mode", "constant");
        return mode is "constant" or "reflect" or "edge" ? q.NeedKnown(1, 2, 3) : $"mode '{mode}' is not supported";
    }

    private static string? CheckResize(SupportQuery q)
    {
        NodeProto node = q.Node;
        string mode = node.String("mode", "nearest");
        if (mode is not ("nearest" or "linear"))
        {
            return $"mode '{mode}' is not supported";
        }

        string coordinates = node.String("coordinate_transformation_mode", "half_pixel");
        if (coordinates is not ("half_pixel" or "asymmetric" or "align_corners" or "pytorch_half_pixel"))
        {
            return $"coordinate_transformation_mode '{coordinates}' is not supported";
        }

        if (node.Int("antialias", 0) != 0)
        {
            return "antialias is not supported";
        }

        if (node.Attribute("axes") is not null)
        {
            return "the axes attribute is not supported";
        }

        string policy = node.String("keep_aspect_ratio_policy", "stretch");
        return policy != "stretch" ? $"keep_aspect_ratio_policy '{policy}' is not supported" : q.NeedKnown(1, 2, 3);
    }
}
