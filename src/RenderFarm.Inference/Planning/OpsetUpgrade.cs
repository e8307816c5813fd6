using Google.Protobuf;
using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// Rewrites a model exported at opset 7–10 to the semantics of opset 11, the oldest the planner reads: every operator
/// whose meaning changed on the way (attributes that became inputs, Upsample and the first Resize that became
/// today's Resize, BatchNormalization's spatial mode) is rewritten node by node, so one lowering serves every opset.
/// </summary>
/// <remarks>
/// Operators whose semantics did not change before 11 (Softmax's 2-D coercion, Squeeze's axes attribute, Split's
/// split attribute) stay as they are: the planner reads them by the effective opset 11 as it reads a model exported
/// at 11. Values an attribute held become constants of the model, named after the node, never clashing with a graph name.
/// </remarks>
internal static class OpsetUpgrade
{
    /// <summary>The opset the rewritten graph follows.</summary>
    public const int Target = 11;

    /// <summary>Rewrites <paramref name="graph"/> in place and returns what could not be rewritten.</summary>
    /// <param name="graph">The model's graph.</param>
    /// <param name="initializers">The model's constants, which gain the values of rewritten attributes.</param>
    /// <param name="opset">The default-domain opset the model declares (7–10).</param>
    public static List<string> Apply(GraphProto graph, Dictionary<string, CpuTensor> initializers, int opset)
    {
        var problems = new List<string>();
        var names = new HashSet<string>(initializers.Keys, StringComparer.Ordinal);
        foreach (NodeProto node in graph.Node)
        {
            names.UnionWith(node.Output);
        }

        names.UnionWith(graph.Input.Select(i => i.Name));
        int counter = 0;
        string AddConstant(NodeProto node, string role, CpuTensor value)
        {
            string name;
            do
            {
                name = $"{(node.Name.Length > 0 ? node.Name : node.OpType)}/{role}{(counter++ == 0 ? string.Empty : counter.ToString(System.Globalization.CultureInfo.InvariantCulture))}";
            }
            while (!names.Add(name));

            initializers[name] = value;
            return name;
        }

        foreach (NodeProto node in graph.Node)
        {
            if (node.Domain is not ("" or "ai.onnx"))
            {
                continue;
            }

            switch (node.OpType)
            {
                case "Clip":
                {
                    // Opset 11: min and max moved from attributes to optional inputs.
                    float min = node.Float("min", float.NegativeInfinity);
                    float max = node.Float("max", float.PositiveInfinity);
                    RemoveAttributes(node, "min", "max");
                    node.Input.Add(AddConstant(node, "min", CpuTensor.Scalar(min, false)));
                    node.Input.Add(AddConstant(node, "max", CpuTensor.Scalar(max, false)));
                    break;
                }

                case "Slice" when opset < 10:
                {
                    // Opset 10: starts, ends and axes moved to inputs (and steps appeared).
                    long[] starts = node.Ints("starts") ?? [];
                    long[] ends = node.Ints("ends") ?? [];
                    long[]? axes = node.Ints("axes");
                    RemoveAttributes(node, "starts", "ends", "axes");
                    node.Input.Add(AddConstant(node, "starts", CpuTensor.Vector(starts)));
                    node.Input.Add(AddConstant(node, "ends", CpuTensor.Vector(ends)));
                    if (axes is not null)
                    {
                        node.Input.Add(AddConstant(node, "axes", CpuTensor.Vector(axes)));
                    }

                    break;
                }

                case "Pad":
                {
                    // Opset 11: pads and the constant value moved to inputs.
                    long[] pads = node.Ints("pads") ?? node.Ints("paddings") ?? [];
                    float value = node.Float("value", 0f);
                    RemoveAttributes(node, "pads", "paddings", "value");
                    node.Input.Add(AddConstant(node, "pads", CpuTensor.Vector(pads)));
                    node.Input.Add(AddConstant(node, "value", CpuTensor.Scalar(value, false)));
                    break;
                }

                case "Upsample":
                {
                    // Upsample (7: scales attribute; 9: scales input) is Resize with asymmetric coordinates and nearest
                    // rounding down, which is what opset 10's Resize and today's Resize with those modes compute.
                    string mode = node.String("mode", "nearest");
                    float[]? scales = node.Attribute("scales")?.Floats.ToArray();
                    RemoveAttributes(node, "scales", "mode", "height_scale", "width_scale");
                    node.OpType = "Resize";
                    string x = node.Input[0];
                    string scalesInput = scales is not null
                        ? AddConstant(node, "scales", new CpuTensor([scales.Length], scales.Select(s => (double)s).ToArray(), false))
                        : node.InputAt(1) ?? string.Empty;
                    node.Input.Clear();
                    node.Input.Add(x);
                    node.Input.Add(string.Empty);
                    node.Input.Add(scalesInput);
                    SetResizeModes(node, mode is "bilinear" ? "linear" : mode);
                    break;
                }

                case "Resize":
                {
                    // Opset 10: inputs (X, scales), asymmetric coordinates, nearest rounds down; 11 inserted roi.
                    string x = node.Input[0];
                    string scalesInput = node.InputAt(1) ?? string.Empty;
                    string mode = node.String("mode", "nearest");
                    RemoveAttributes(node, "mode");
                    node.Input.Clear();
                    node.Input.Add(x);
                    node.Input.Add(string.Empty);
                    node.Input.Add(scalesInput);
                    SetResizeModes(node, mode);
                    break;
                }

                case "BatchNormalization":
                {
                    // Opset 9 dropped spatial (per-channel statistics, the default); 7 dropped is_test.
                    if (node.Int("spatial", 1) == 0)
                    {
                        problems.Add($"unsupported use of BatchNormalization (spatial=0, per-element statistics, is not supported, {node.Describe()})");
                    }

                    RemoveAttributes(node, "spatial", "momentum");
                    break;
                }

                case "Dropout":
                    // Inference is the identity; ratio (an attribute until 12) does not matter.
                    RemoveAttributes(node, "ratio", "is_test");
                    break;
                case "TopK" when opset < 10:
                {
                    // Opset 10: k moved from an attribute to an input.
                    long k = node.Int("k", 0);
                    RemoveAttributes(node, "k");
                    node.Input.Add(AddConstant(node, "k", CpuTensor.Vector([k])));
                    break;
                }

                default:
                    break;
            }
        }

        return problems;
    }

    private static void SetResizeModes(NodeProto node, string mode)
    {
        node.Attribute.Add(Text("mode", mode));
        node.Attribute.Add(Text("coordinate_transformation_mode", "asymmetric"));
        node.Attribute.Add(Text("nearest_mode", "floor"));
    }

    private static AttributeProto Text(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private static void RemoveAttributes(NodeProto node, params string[] names)
    {
        for (int i = node.Attribute.Count - 1; i >= 0; i--)
        {
            if (names.Contains(node.Attribute[i].Name))
            {
                node.Attribute.RemoveAt(i);
            }
        }
    }
}
