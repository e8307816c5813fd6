using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// Decides from the model alone, before any shapes are known, whether the engine can run it: every operator must be
/// implemented, every attribute value supported, and every input the engine needs as a constant (shapes, axes,
/// indices, pads, scales) must be computable while planning.
/// </summary>
internal static class OperatorSupport
{
    private const string Supported = "float32, float16, int64, int32, uint8 or bool";

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
            if (TensorTypes.FromOnnx(type) is null)
            {
                problems.Add($"input '{input.Name}' has element type {(TensorProto.Types.DataType)type}; inputs must be {Supported}");
            }
        }

        foreach (ValueInfoProto output in model.Graph.Output)
        {
            int type = output.Type?.TensorType?.ElemType ?? (int)TensorProto.Types.DataType.Float;
            if (TensorTypes.FromOnnx(type) is null)
            {
                problems.Add($"output '{output.Name}' has element type {(TensorProto.Types.DataType)type}; outputs must be {Supported}");
            }
        }

        // Values known while planning: initializers, Constant outputs, Shape outputs (input shapes are known by then)
        // and everything computed from known values only.
        var known = new HashSet<string>(initializerNames, StringComparer.Ordinal);
        void Check(IEnumerable<NodeProto> nodes, HashSet<string> known)
        {
            foreach (NodeProto node in nodes)
            {
                OperatorLowering? lowering = PlanBuilder.Find(node);
                if (lowering is null)
                {
                    string domain = node.Domain is "" or "ai.onnx" ? string.Empty : node.Domain;
                    string key = $"{node.OpType}|{domain}";
                    if (seen.Add(key))
                    {
                        string entry = $"{node.OpType} (domain '{(domain.Length == 0 ? "ai.onnx" : domain)}', first used by {node.Describe()})";
                        unsupported.Add(entry);
                        problems.Add($"unsupported operator {entry}");
                    }

                    continue;
                }

                var query = new SupportQuery(node, model.Opset, known);
                string? reason = lowering.FoldOnly && !query.AllKnown
                    ? "its inputs are computed at run time; the engine folds it only on constants"
                    : lowering.Check?.Invoke(query);
                if (reason is not null)
                {
                    string entry = $"{node.OpType} ({reason}, {node.Describe()})";
                    unsupported.Add(entry);
                    problems.Add($"unsupported use of {entry}");
                    continue;
                }

                // Branches see every value of the enclosing graph; what they compute is known only when they fold.
                foreach (AttributeProto attribute in node.Attribute.Where(a => a.G is not null))
                {
                    var inner = new HashSet<string>(known, StringComparer.Ordinal);
                    inner.UnionWith(attribute.G.Initializer.Select(t => t.Name));
                    Check(attribute.G.Node, inner);
                }

                if (node.OpType is "Constant" or "Shape" || (query.AllKnown && node.OpType != "If"))
                {
                    foreach (string output in node.Output)
                    {
                        known.Add(output);
                    }
                }
            }
        }

        Check(model.Graph.Node, known);

        // Problems that are not about one operator (opset, input and output types) are listed too, so the list is
        // empty exactly when the model can run.
        unsupported.AddRange(problems.Where(p => !p.StartsWith("unsupported ", StringComparison.Ordinal)));
        return (unsupported, problems);
    }
}
