using System.Numerics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Testing;
using Xunit;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// The path tracer's buffers are declared twice, as C# structs in GpuLayout.cs and as std430 blocks in shaders/*.glsl.
/// These facts parse every GLSL struct, storage block and push-constant block, lay them out by the std430 rules, and
/// require each matching C# struct to have the same members in the same order at the same offsets and sizes, with
/// the same scalar kind (float, int, uint), and the same total size. Before, only a comment said they agree.
/// </summary>
public sealed partial class GpuLayoutFacts
{
    // GLSL name → C# struct. Every GLSL struct or block with members must be listed, and every Gpu* struct of the
    // layout file must be matched, so a type added on one side alone fails the facts below.
    private static readonly Dictionary<string, Type> s_pairs = new(StringComparer.Ordinal)
    {
        ["BvhNode"] = typeof(GpuBvhNode),
        ["Triangle"] = typeof(GpuTriangle),
        ["TriangleShading"] = typeof(GpuTriangleShading),
        ["Material"] = typeof(GpuMaterial),
        ["Texture"] = typeof(GpuTexture),
        ["Emitter"] = typeof(GpuEmitter),
        ["Light"] = typeof(GpuLight),
        ["FrameBlock"] = typeof(GpuFrameParams),
        ["TilePush"] = typeof(GpuTilePush),
    };

    // Structs the shader keeps to itself (locals, never in a buffer).
    private static readonly HashSet<string> s_shaderOnly = new(StringComparer.Ordinal) { "Hit", "SurfacePoint" };

    [Fact]
    public void Every_shared_struct_has_the_same_layout_in_CSharp_and_GLSL()
    {
        Dictionary<string, GlslStruct> glsl = Parse(ShaderSources());
        Assert.NotEmpty(glsl);

        foreach ((string name, Type type) in s_pairs)
        {
            Assert.True(glsl.ContainsKey(name), $"shaders/*.glsl declare no struct or block '{name}' (the C# side has {type.Name}).");
            IReadOnlyList<string> differences = Compare(glsl[name], type, glsl);
            Assert.True(differences.Count == 0, $"{name} ↔ {type.Name}:\n{string.Join('\n', differences)}");
        }
    }

    [Fact]
    public void No_struct_is_declared_on_one_side_only()
    {
        Dictionary<string, GlslStruct> glsl = Parse(ShaderSources());
        string[] unpaired = [.. glsl.Keys.Where(name => !s_pairs.ContainsKey(name) && !s_shaderOnly.Contains(name))];
        Assert.True(unpaired.Length == 0, $"GLSL structs or blocks without a C# twin in this test: {string.Join(", ", unpaired)}");

        Type[] csharp = [.. typeof(GpuMaterial).Assembly.GetTypes().Where(t => t.IsValueType && t.IsPublic
            && t.Namespace == typeof(GpuMaterial).Namespace && t.Name.StartsWith("Gpu", StringComparison.Ordinal)
            && t.StructLayoutAttribute?.Value == LayoutKind.Sequential)];
        Assert.NotEmpty(csharp);
        Type[] missing = [.. csharp.Where(t => !s_pairs.ContainsValue(t))];
        Assert.True(missing.Length == 0, $"C# buffer structs without a GLSL twin in this test: {string.Join(", ", missing.Select(t => t.Name))}");
    }

    // Guards the comparison itself: a swapped pair of different kinds, a missing member, a uint where a float belongs
    // and a vec4 where a vec3 belongs are all found. (Two members of one type swapped keep the layout; names differ
    // by convention between the two languages, so they are not compared.)
    [Theory]
    [InlineData("struct Emitter { float triangle; uint area; float cdf; float probability; };", "Triangle")]
    [InlineData("struct Emitter { uint triangle; float area; float cdf; };", "member count")]
    [InlineData("struct Emitter { uint triangle; float area; float cdf; uint probability; };", "Probability")]
    [InlineData("struct BvhNode { vec4 bmin; uint leftOrFirst; vec3 bmax; uint count; };", "LeftOrFirst")]
    public void A_mismatch_is_reported(string declaration, string named)
    {
        Dictionary<string, GlslStruct> glsl = Parse([declaration]);
        GlslStruct parsed = Assert.Single(glsl.Values);

        IReadOnlyList<string> differences = Compare(parsed, s_pairs[parsed.Name], glsl);

        Assert.Contains(differences, d => d.Contains(named, StringComparison.Ordinal));
    }

    private static IEnumerable<string> ShaderSources()
    {
        string[] files = Directory.GetFiles(RepositoryPaths.Combine("shaders"), "*.glsl");
        Assert.NotEmpty(files);
        return files.Select(File.ReadAllText);
    }

    private sealed record GlslMember(string Name, string Type, int ArrayLength);

    private sealed record GlslStruct(string Name, IReadOnlyList<GlslMember> Members);

    private sealed record Placed(string Name, int Offset, int Size, char Kind);

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comments();

    // `struct Name { ... };`, `layout(std430 ...) ... buffer Name { ... }` and `layout(push_constant) uniform Name { ... }`.
    [GeneratedRegex(@"(?:\bstruct\s+(?<name>\w+)|layout\s*\((?<layout>[^)]*)\)\s*(?:\w+\s+)*?(?:buffer|uniform)\s+(?<name>\w+))\s*\{(?<body>[^{}]*)\}")]
    private static partial Regex Declarations();

    [GeneratedRegex(@"^(?<type>\w+)\s+(?<names>[\w\s,\[\]]+)$")]
    private static partial Regex MemberLine();

    private static Dictionary<string, GlslStruct> Parse(IEnumerable<string> sources)
    {
        var result = new Dictionary<string, GlslStruct>(StringComparer.Ordinal);
        foreach (string source in sources)
        {
            foreach (Match match in Declarations().Matches(Comments().Replace(source, " ")))
            {
                string layout = match.Groups["layout"].Value;
                if (match.Groups["layout"].Success && !layout.Contains("std430", StringComparison.Ordinal) && !layout.Contains("push_constant", StringComparison.Ordinal))
                {
                    continue;
                }

                var members = new List<GlslMember>();
                foreach (string statement in match.Groups["body"].Value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    Match line = MemberLine().Match(Regex.Replace(statement, @"\s+", " "));
                    Assert.True(line.Success, $"cannot read the member declaration '{statement}' of {match.Groups["name"].Value}");
                    foreach (string declared in line.Groups["names"].Value.Split(',', StringSplitOptions.TrimEntries))
                    {
                        Match array = Regex.Match(declared, @"^(\w+)\s*(?:\[(\d*)\])?$");
                        Assert.True(array.Success, $"cannot read '{declared}' in {match.Groups["name"].Value}");
                        int length = !array.Groups[2].Success ? 0 : array.Groups[2].Value.Length == 0 ? -1 : int.Parse(array.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
                        members.Add(new GlslMember(array.Groups[1].Value, line.Groups["type"].Value, length));
                    }
                }

                // A block that only holds a runtime array of a struct is that struct's buffer, not a layout of its own.
                if (members.Count == 1 && members[0].ArrayLength == -1)
                {
                    continue;
                }

                result[match.Groups["name"].Value] = new GlslStruct(match.Groups["name"].Value, members);
            }
        }

        return result;
    }

    // std430: scalars align to 4, vec2 to 8, vec3 and vec4 to 16 (a vec3 is 12 bytes, so a scalar may follow in its
    // last 4), matrices as arrays of column vectors, structs to their largest member, arrays to their element.
    private static (int Size, int Align, char Kind) Std430(string type, Dictionary<string, GlslStruct> structs)
    {
        switch (type)
        {
            case "float": return (4, 4, 'f');
            case "int": return (4, 4, 'i');
            case "uint" or "bool": return (4, 4, 'u');
            case "mat4": return (64, 16, 'f');
            case "mat3": return (48, 16, 'f');
        }

        Match vector = Regex.Match(type, @"^([iu]?)vec([234])$");
        if (vector.Success)
        {
            int n = int.Parse(vector.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            char kind = vector.Groups[1].Value switch { "i" => 'i', "u" => 'u', _ => 'f' };
            return (4 * n, n == 2 ? 8 : 16, kind);
        }

        Assert.True(structs.ContainsKey(type), $"unknown GLSL type '{type}'");
        (IReadOnlyList<Placed> placed, int size, int align) = Layout(structs[type], structs);
        return (size, align, 's');
    }

    private static (IReadOnlyList<Placed> Members, int Size, int Align) Layout(GlslStruct glsl, Dictionary<string, GlslStruct> structs)
    {
        var placed = new List<Placed>();
        int offset = 0;
        int structAlign = 4;
        foreach (GlslMember member in glsl.Members)
        {
            (int size, int align, char kind) = Std430(member.Type, structs);
            if (member.ArrayLength > 0)
            {
                size = RoundUp(size, align) * member.ArrayLength;
            }

            offset = RoundUp(offset, align);
            placed.Add(new Placed(member.Name, offset, size, kind));
            offset += size;
            structAlign = Math.Max(structAlign, align);
        }

        return (placed, RoundUp(offset, structAlign), structAlign);
    }

    private static int RoundUp(int value, int align) => (value + align - 1) / align * align;

    private static IReadOnlyList<string> Compare(GlslStruct glsl, Type type, Dictionary<string, GlslStruct> structs)
    {
        var differences = new List<string>();
        (IReadOnlyList<Placed> shader, int shaderSize, _) = Layout(glsl, structs);
        Placed[] csharp = [.. type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => new Placed(f.Name, (int)Marshal.OffsetOf(type, f.Name), Marshal.SizeOf(f.FieldType), Kind(f.FieldType)))
            .OrderBy(p => p.Offset)];
        if (csharp.Length != shader.Count)
        {
            differences.Add($"member count: C# {csharp.Length}, GLSL {shader.Count}");
        }

        for (int i = 0; i < Math.Min(csharp.Length, shader.Count); i++)
        {
            Placed c = csharp[i];
            Placed g = shader[i];
            if (c.Offset != g.Offset || c.Size != g.Size || (c.Kind != g.Kind && g.Kind != 's'))
            {
                differences.Add($"member {i}: C# {c.Name} at {c.Offset}, {c.Size} bytes of '{c.Kind}'; GLSL {g.Name} at {g.Offset}, {g.Size} bytes of '{g.Kind}'");
            }
        }

        int size = Marshal.SizeOf(type);
        if (size != shaderSize)
        {
            differences.Add($"size: C# {size}, GLSL (std430) {shaderSize}");
        }

        return differences;
    }

    private static char Kind(Type type) => type == typeof(int) ? 'i'
        : type == typeof(uint) ? 'u'
        : type == typeof(float) || type == typeof(Vector2) || type == typeof(Vector3) || type == typeof(Vector4) || type == typeof(Matrix4x4) ? 'f'
        : 's';
}
