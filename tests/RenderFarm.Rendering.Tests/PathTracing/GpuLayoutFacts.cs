using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// The C# records of GpuLayout.cs and the shader's std430 declarations (shaders/pathtrace/layout.glsl) agree
/// member by member: same offsets, same sizes, same struct size. A field added on one side only would make
/// the shader read every later member, and every later record, from the wrong bytes.
/// </summary>
public partial class GpuLayoutFacts
{
    private static readonly string s_layout = File.ReadAllText(RepositoryPaths.Combine("shaders/pathtrace/layout.glsl"));

    public static TheoryData<string, Type> Blocks => new()
    {
        { "struct BvhNode", typeof(GpuBvhNode) },
        { "struct Triangle", typeof(GpuTriangle) },
        { "struct TriangleShading", typeof(GpuTriangleShading) },
        { "struct Material", typeof(GpuMaterial) },
        { "struct Texture", typeof(GpuTexture) },
        { "struct Emitter", typeof(GpuEmitter) },
        { "struct Light", typeof(GpuLight) },
        { "struct Instance", typeof(GpuInstance) },
        { "buffer FrameBlock", typeof(GpuFrameParams) },
        { "uniform TilePush", typeof(GpuTilePush) },
    };

    [Theory]
    [MemberData(nameof(Blocks))]
    public void Glsl_and_csharp_layouts_agree(string declaration, Type record)
    {
        List<(int Offset, int Size)> glsl = GlslMembers(declaration, out int glslSize);
        List<(int Offset, int Size)> csharp = CSharpMembers(record);

        Assert.Equal(glsl, csharp);
        Assert.Equal(glslSize, Marshal.SizeOf(record));
    }

    // std430: scalars align to 4, vec2 to 8, vec3 and vec4 to 16 (vec3 takes 12 bytes); a struct aligns to its
    // largest member and its size rounds up to that.
    private static List<(int Offset, int Size)> GlslMembers(string declaration, out int size)
    {
        Match block = Regex.Match(s_layout, Regex.Escape(declaration) + @"\s*\{(?<body>[^}]*)\}");
        Assert.True(block.Success, $"{declaration} is not declared in layout.glsl");
        string body = Regex.Replace(block.Groups["body"].Value, @"//[^\n]*", "");
        var members = new List<(int Offset, int Size)>();
        int offset = 0, largest = 4;
        foreach (Match member in MemberPattern().Matches(body))
        {
            (int memberSize, int align) = member.Groups["type"].Value switch
            {
                "float" or "int" or "uint" => (4, 4),
                "vec2" => (8, 8),
                "vec3" => (12, 16),
                "vec4" => (16, 16),
                string other => throw new InvalidOperationException($"{declaration}: type {other} is not handled"),
            };
            largest = Math.Max(largest, align);
            foreach (string _ in member.Groups["names"].Value.Split(','))
            {
                offset = (offset + align - 1) / align * align;
                members.Add((offset, memberSize));
                offset += memberSize;
            }
        }

        size = (offset + largest - 1) / largest * largest;
        return members;
    }

    private static List<(int Offset, int Size)> CSharpMembers(Type record) =>
        record.GetFields(BindingFlags.Public | BindingFlags.Instance)
            .Select(field => ((int)Marshal.OffsetOf(record, field.Name), Marshal.SizeOf(field.FieldType)))
            .OrderBy(member => member.Item1)
            .ToList();

    [GeneratedRegex(@"(?<type>\w+)\s+(?<names>\w+(\s*,\s*\w+)*)\s*;")]
    private static partial Regex MemberPattern();
}
