using System.Text;
using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>Attribute and input access on ONNX nodes.</summary>
internal static class NodeExtensions
{
    public static AttributeProto? Attribute(this NodeProto node, string name)
    {
        foreach (AttributeProto attribute in node.Attribute)
        {
            if (attribute.Name == name)
            {
                return attribute;
            }
        }

        return null;
    }

    public static long Int(this NodeProto node, string name, long fallback) => node.Attribute(name)?.I ?? fallback;

    public static float Float(this NodeProto node, string name, float fallback) => node.Attribute(name)?.F ?? fallback;

    public static string String(this NodeProto node, string name, string fallback)
    {
        AttributeProto? attribute = node.Attribute(name);
        return attribute is null ? fallback : Encoding.UTF8.GetString(attribute.S.Span);
    }

    public static long[]? Ints(this NodeProto node, string name) => node.Attribute(name)?.Ints.ToArray();

    /// <summary>The name of input <paramref name="index"/>, or null when it is absent or left empty (an omitted optional input).</summary>
    public static string? InputAt(this NodeProto node, int index) =>
        index < node.Input.Count && !string.IsNullOrEmpty(node.Input[index]) ? node.Input[index] : null;

    public static string Describe(this NodeProto node) =>
        string.IsNullOrEmpty(node.Name) ? $"{node.OpType} node producing '{node.Output.FirstOrDefault()}'" : $"node '{node.Name}'";
}
