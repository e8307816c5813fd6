using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// Decides from the model alone, before any shapes are known, whether the engine can run it: every operator must be
/// implemented, every attribute value supported, and every input the engine needs as a constant (shapes, axes,
/// indices, pads, scales) must be computable while planning.
/// </summary>
internal static class OperatorSupport
{
    /// <summary>Operators with GPU kernels or that only move or reinterpret data.</summary>
    public static readonly IReadOnlySet<string> Operators = new HashSet<string>(StringComparer.Ordinal)
    {
        "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "InstanceNormalization",
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu",
        "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Erf", "Gelu", "Softplus", "PRelu", "LayerNormalization",
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min",
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
        "Softmax", "LogSoftmax",
        "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Slice", "Gather", "Expand",
        "Resize", "DepthToSpace", "SpaceToDepth", "Pad",
        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin",
        "Constant", "Identity", "Dropout", "Shape", "Cast",
        "ConstantOfShape", "Range", "Split", "Sum", "Mean",
        "Equal", "Less", "Greater", "Where", "Not", "Floor", "Ceil",
    };

    /// <summary>Operators evaluated only on the CPU while planning: their inputs must be known then.</summary>
    public static readonly IReadOnlySet<string> FoldOnly = new HashSet<string>(StringComparer.Ordinal)
    {
        "ConstantOfShape", "Range", "Equal", "Less", "Greater", "Where", "Not", "Floor", "Ceil",
    };

    public static (IReadOnlyList<string> Operators, List<string> Problems) Analyze(OnnxModel model)
    {
        var unsupported = new List<string>();
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);

        if (model.Opset < OnnxModel.MinimumOpset || model.Opset > OnnxModel.MaximumOpset)
        {
            problems.Add($"opset {model.Opset} of the default domain is outside the supported {OnnxModel.MinimumOpset}–{OnnxModel.MaximumOpset}");
        }

        var initializerNames = model.Initializers.Keys.ToHashSet(StringComparer.Ordinal);
        foreach (ValueInfoProto input in model.Graph.Input)
        {
            if (initializerNames.Contains(input.Name))
            {
                continue;
            }

            int type = input.Type?.TensorType?.ElemType ?? 0;
            if (type != (int)TensorProto.Types.DataType.Float)
            {
                problems.Add($"input '{input.Name}' has element type {(TensorProto.Types.DataType)type}; inputs must be float32");
            }
        }

        foreach (ValueInfoProto output in model.Graph.Output)
        {
            int type = output.Type?.TensorType?.ElemType ?? (int)TensorProto.Types.DataType.Float;
            if (type != (int)TensorProto.Types.DataType.Float)
            {
                problems.Add($"output '{output.Name}' has element type {(TensorProto.Types.DataType)type}; outputs must be float32");
            }
        }

        // Values known while planning: initializers, Constant outputs, Shape outputs (input shapes are known by then)
        // and everything computed from known values only.
        var known = new HashSet<string>(initializerNames, StringComparer.Ordinal);
        foreach (NodeProto node in model.Graph.Node)
        {
            string domain = node.Domain is "" or "ai.onnx" ? string.Empty : node.Domain;
            if (domain.Length > 0 || !Operators.Contains(node.OpType))
            {
                string key = $"{node.OpType}|{domain}";
                if (seen.Add(key))
                {
                    string entry = $"{node.OpType} (domain '{(domain.Length == 0 ? "ai.onnx" : domain)}', first used by {node.Describe()})";
                    unsupported.Add(entry);
                    problems.Add($"unsupported operator {entry}");
                }

                continue;
            }

            bool allKnown = node.Input.Where(i => i.Length > 0).All(known.Contains);
            string? reason = CheckNode(node, model.Opset, known, allKnown);
            if (reason is not null)
            {
                string entry = $"{node.OpType} ({reason}, {node.Describe()})";
                unsupported.Add(entry);
                problems.Add($"unsupported use of {entry}");
                continue;
            }

            if (node.OpType is "Constant" or "Shape" || allKnown)
            {
                foreach (string output in node.Output)
                {
                    known.Add(output);
                }
            }
        }

        // Problems that are not about one operator (opset, input and output types) are listed too, so the list is
        // empty exactly when the model can run.
        unsupported.AddRange(problems.Where(p => !p.StartsWith("unsupported ", StringComparison.Ordinal)));
        return (unsupported, problems);
    }

    private static string? CheckNode(NodeProto node, int opset, HashSet<string> known, bool allKnown)
    {
        string? NeedKnown(params int[] indices)
        {
            foreach (int index in indices)
            {
                string? name = node.InputAt(index);
                if (name is not null && !known.Contains(name))
                {
                    return $"input {index} '{name}' is computed at run time; the engine needs it constant";
                }
            }

            return null;
        }

        if (FoldOnly.Contains(node.OpType) && !allKnown)
        {
            return "its inputs are computed at run time; the engine folds it only on constants";
        }

        switch (node.OpType)
        {
            case "Conv" or "ConvTranspose":
            {
                long[]? kernel = node.Ints("kernel_shape");
                if (kernel is not null && kernel.Length > 2)
                {
                    return $"{kernel.Length}-D kernels are not supported (1-D and 2-D are)";
                }

                return null;
            }

            case "MaxPool" or "AveragePool":
            {
                long[]? kernel = node.Ints("kernel_shape");
                if (kernel is null || kernel.Length > 2)
                {
                    return "only 1-D and 2-D pooling is supported";
                }

                if (node.OpType == "MaxPool" && node.Output.Count > 1 && node.Output[1].Length > 0)
                {
                    return "the Indices output is not supported";
                }

                return null;
            }

            case "BatchNormalization":
                if (node.Int("training_mode", 0) != 0 || node.Output.Count(o => o.Length > 0) > 1)
                {
                    return "training mode is not supported";
                }

                return NeedKnown(1, 2, 3, 4);
            case "LayerNormalization":
                return node.Output.Skip(1).Any(o => o.Length > 0) ? "the Mean and InvStdDev outputs are not supported" : null;
            case "Dropout":
                if (node.Output.Count > 1 && node.Output[1].Length > 0)
                {
                    return "the mask output is not supported";
                }

                return NeedKnown(2);
            case "Clip":
                return NeedKnown(1, 2);
            case "Reshape" or "Expand":
                return NeedKnown(1);
            case "Squeeze" or "Unsqueeze" or "ReduceSum" or "ReduceMean" or "ReduceMax" or "ReduceMin":
                return NeedKnown(1);
            case "Slice":
                return NeedKnown(1, 2, 3, 4);
            case "Split":
                return NeedKnown(1);
            case "Gather":
                return NeedKnown(1);
            case "Pad":
            {
                string mode = node.String("mode", "constant");
                if (mode is not ("constant" or "reflect" or "edge"))
                {
                    return $"mode '{mode}' is not supported";
                }

                return NeedKnown(1, 2, 3);
            }

            case "Resize":
            {
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
                if (policy != "stretch")
                {
                    return $"keep_aspect_ratio_policy '{policy}' is not supported";
                }

                return NeedKnown(1, 2, 3);
            }

            case "Cast":
            {
                long to = node.Int("to", 0);
                if (!allKnown && to != (long)TensorProto.Types.DataType.Float)
                {
                    return "casting a computed tensor to a type other than float is not supported";
                }

                return null;
            }

            case "DepthToSpace":
            {
                string mode = node.String("mode", "DCR");
                return mode is "DCR" or "CRD" ? null : $"mode '{mode}' is not supported";
            }

            case "Max" or "Min" or "Sum" or "Mean":
                return node.Input.Count is >= 1 ? null : "it has no inputs";
            case "Constant":
                return node.Attribute.Any(a => a.Name is "value" or "value_float" or "value_floats" or "value_int" or "value_ints")
                    ? null
                    : "only tensor, float and int constants are supported (not sparse or string ones)";
            default:
                return null;
        }
    }
}
