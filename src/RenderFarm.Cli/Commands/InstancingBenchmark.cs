using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm bench --instancing 100000x120</c>: writes a .glb whose one mesh of N triangles is drawn by K nodes, loads
/// it, and prints what a frame costs drawn through instances (two-level BVH) and flattened to world space: build time of
/// the frame (the shared mesh's BVH on the first frame, then the top level only), host allocation, and the device buffers,
/// or the line a scene too large to flatten is refused with.
/// </summary>
internal static class InstancingBenchmark
{
    private const double MiB = 1024.0 * 1024.0;

    public static int Run(IReadOnlyList<(int Triangles, int Instances)> cases, int? deviceIndex)
    {
        DeviceLimits? limits = null;
        string deviceName = "no Vulkan device";
        try
        {
            using ComputeDevice device = ComputeDevice.Open(deviceIndex);
            limits = device.Limits;
            deviceName = device.Info.Name;
        }
        catch (GpuUnavailableException ex)
        {
            Console.Error.WriteLine(ex.Message);
        }

        Console.WriteLine($"| mesh triangles x instances | drawn triangles | frame | first frame build (CPU) | next frame build (CPU) | host memory of a frame | device buffers | fits {deviceName} |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        string folder = Directory.CreateTempSubdirectory("renderfarm-instancing-").FullName;
        try
        {
            foreach ((int triangles, int instances) in cases)
            {
                string path = Path.Combine(folder, F($"instanced-{triangles}x{instances}.glb"));
                File.WriteAllBytes(path, Glb(triangles, instances, seed: 12_345));
                foreach (bool flatten in new[] { false, true })
                {
                    // A fresh load each time, so the instanced row's first frame includes the shared mesh's BVH.
                    SceneAsset scene = SceneAsset.Load(path);
                    scene.FlattenSharedMeshes = flatten;
                    Console.WriteLine(Row(scene, triangles, instances, flatten, limits, deviceName));
                }
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        return 0;
    }

    private static string Row(SceneAsset scene, int triangles, int instances, bool flatten, DeviceLimits? limits, string deviceName)
    {
        string label = F($"| {triangles:N0} x {instances:N0} | {scene.TriangleCount:N0} | {(flatten ? "flattened" : "instanced")} |");
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        GpuSceneData data;
        try
        {
            data = scene.BuildFrame(0, 1);
        }
        catch (UserInputException ex)
        {
            return label + F($" refused: {ex.Message} | - | - | - | - |");
        }

        clock.Stop();
        TimeSpan firstCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        TimeSpan first = clock.Elapsed;
        cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        clock.Restart();
        GpuSceneData next = scene.BuildFrame(0, 1);
        clock.Stop();
        TimeSpan nextCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        GC.KeepAlive(next);

        // Tile buffers as the path tracer allocates them (256×256 pixels, 20 bytes each).
        IReadOnlyList<(string Name, ulong Bytes)> buffers = DeviceFit.Buffers(data, 256UL * 256 * 20);
        ulong total = buffers.Aggregate(0UL, (sum, b) => sum + b.Bytes);
        string parts = string.Join(", ", buffers.Where(b => b.Name is "BVH nodes" or "triangles" or "triangle shading" or "instances").Select(b => b.Name == "instances" ? F($"{b.Name} {b.Bytes / 1024.0:F1} KiB") : F($"{b.Name} {b.Bytes / MiB:F1}")));
        string fits = limits is null ? "-" : DeviceFit.Refusal(limits, deviceName, scene.Name, buffers) is { } refusal ? "no: " + refusal : "yes";
        return label + F($" {first.TotalSeconds:F2} s ({firstCpu.TotalSeconds:F2} s) | {clock.Elapsed.TotalSeconds:F2} s ({nextCpu.TotalSeconds:F2} s) | {allocated / MiB:F0} MiB allocated | {total / MiB:F1} MiB ({parts}) | {fits} |");
    }

    // A binary glTF: one mesh of `triangles` small triangles clustered in a unit cube (non-indexed POSITION), drawn by
    // `instances` nodes on a square grid, each turned about Y.
    internal static byte[] Glb(int triangles, int instances, int seed)
    {
        var random = new Random(seed);
        var positions = new byte[checked(triangles * 36)];
        var min = new float[] { float.MaxValue, float.MaxValue, float.MaxValue };
        var max = new float[] { float.MinValue, float.MinValue, float.MinValue };
        float cx = 0, cy = 0, cz = 0;
        int offset = 0;
        for (int i = 0; i < triangles; i++)
        {
            if (i % 1024 == 0)
            {
                cx = random.NextSingle();
                cy = random.NextSingle();
                cz = random.NextSingle();
            }

            float ax = cx + (random.NextSingle() * 0.02f), ay = cy + (random.NextSingle() * 0.02f), az = cz + (random.NextSingle() * 0.02f);
            ReadOnlySpan<float> vertices =
            [
                ax, ay, az,
                ax + (random.NextSingle() * 0.002f), ay + (random.NextSingle() * 0.002f), az,
                ax, ay + (random.NextSingle() * 0.002f), az + (random.NextSingle() * 0.002f),
            ];
            for (int k = 0; k < 9; k++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(positions.AsSpan(offset), vertices[k]);
                offset += 4;
                min[k % 3] = Math.Min(min[k % 3], vertices[k]);
                max[k % 3] = Math.Max(max[k % 3], vertices[k]);
            }
        }

        int side = (int)Math.Ceiling(Math.Sqrt(instances));
        var nodes = new StringBuilder();
        var roots = new StringBuilder();
        for (int i = 0; i < instances; i++)
        {
            float angle = 0.7f * i;
            string separator = i > 0 ? "," : "";
            nodes.Append(F($"{separator}{{\"mesh\":0,\"translation\":[{1.5f * (i % side)},0,{1.5f * (i / side)}],\"rotation\":[0,{MathF.Sin(angle / 2)},0,{MathF.Cos(angle / 2)}]}}"));
            roots.Append(F($"{separator}{i}"));
        }

        string json = F($"{{\"asset\":{{\"version\":\"2.0\"}},\"scene\":0,\"scenes\":[{{\"nodes\":[{roots}]}}],\"nodes\":[{nodes}],")
            + F($"\"meshes\":[{{\"primitives\":[{{\"attributes\":{{\"POSITION\":0}}}}]}}],")
            + F($"\"accessors\":[{{\"bufferView\":0,\"componentType\":5126,\"count\":{3 * triangles},\"type\":\"VEC3\",\"min\":[{min[0]},{min[1]},{min[2]}],\"max\":[{max[0]},{max[1]},{max[2]}]}}],")
            + F($"\"bufferViews\":[{{\"buffer\":0,\"byteLength\":{positions.Length}}}],\"buffers\":[{{\"byteLength\":{positions.Length}}}]}}");
        byte[] jsonBytes = Encoding.UTF8.GetBytes(json);
        int jsonPadded = (jsonBytes.Length + 3) & ~3;
        int binPadded = (positions.Length + 3) & ~3;
        var glb = new byte[12 + 8 + jsonPadded + 8 + binPadded];
        BinaryPrimitives.WriteUInt32LittleEndian(glb, 0x46546C67);
        BinaryPrimitives.WriteUInt32LittleEndian(glb.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(glb.AsSpan(8), (uint)glb.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(glb.AsSpan(12), (uint)jsonPadded);
        BinaryPrimitives.WriteUInt32LittleEndian(glb.AsSpan(16), 0x4E4F534A);
        jsonBytes.CopyTo(glb.AsSpan(20));
        glb.AsSpan(20 + jsonBytes.Length, jsonPadded - jsonBytes.Length).Fill((byte)' ');
        int bin = 20 + jsonPadded;
        BinaryPrimitives.WriteUInt32LittleEndian(glb.AsSpan(bin), (uint)binPadded);
        BinaryPrimitives.WriteUInt32LittleEndian(glb.AsSpan(bin + 4), 0x004E4942);
        positions.CopyTo(glb.AsSpan(bin + 8));
        return glb;
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
