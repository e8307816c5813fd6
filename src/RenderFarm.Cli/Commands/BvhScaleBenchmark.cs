using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Acceleration;
using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm bench --bvh 1000000,10000000</c>: builds the BVH of synthetic triangle soups generated in memory and
/// prints build time, host memory and the device memory the scene's geometry buffers take, and whether it fits.
/// </summary>
internal static class BvhScaleBenchmark
{
    private const double MiB = 1024.0 * 1024.0;

    public static int Run(IReadOnlyList<int> triangleCounts, int? deviceIndex)
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

        Console.WriteLine($"| triangles | build wall (CPU) | nodes | depth | host memory | device buffers (nodes + triangles + shading) | fits {deviceName} |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (int count in triangleCounts)
        {
            Vector3[] vertices = Soup(count, seed: 12_345);
            long before = GC.GetTotalAllocatedBytes(precise: true);
            TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            Bvh bvh = Bvh.Build(vertices);
            clock.Stop();

            // CPU time too: on a shared machine the wall time mostly measures the other processes.
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            ulong nodes = (ulong)bvh.Nodes.Length * (ulong)Unsafe.SizeOf<GpuBvhNode>();
            ulong triangles = (ulong)count * (ulong)Unsafe.SizeOf<GpuTriangle>();
            ulong shading = (ulong)count * (ulong)Unsafe.SizeOf<GpuTriangleShading>();
            string fits = limits is null
                ? "-"
                : DeviceFit.Refusal(limits, deviceName, F($"{count:N0} triangles"), [("BVH nodes", nodes), ("triangles", triangles), ("triangle shading", shading)]) is { } refusal
                    ? "no: " + refusal
                    : "yes";
            Console.WriteLine(F(
                $"| {count:N0} | {clock.Elapsed.TotalSeconds:F2} s ({cpu.TotalSeconds:F2} s CPU) | {bvh.Nodes.Length:N0} | {bvh.MaxDepth} | {allocated / MiB:F0} MiB allocated by the build, input ({vertices.Length * 12L / MiB:F0} MiB of vertices) | {(nodes + triangles + shading) / MiB:F0} MiB ({nodes / MiB:F0} + {triangles / MiB:F0} + {shading / MiB:F0}) | {fits} |"));
            GC.KeepAlive(bvh);
        }

        return 0;
    }

    // Small triangles scattered through a unit cube, clustered so the tree is not trivially uniform.
    private static Vector3[] Soup(int count, int seed)
    {
        var random = new Random(seed);
        var vertices = new Vector3[checked(count * 3)];
        var center = Vector3.Zero;
        for (int i = 0; i < count; i++)
        {
            if (i % 1024 == 0)
            {
                center = new Vector3(random.NextSingle(), random.NextSingle(), random.NextSingle());
            }

            Vector3 a = center + (new Vector3(random.NextSingle(), random.NextSingle(), random.NextSingle()) * 0.02f);
            vertices[3 * i] = a;
            vertices[(3 * i) + 1] = a + (new Vector3(random.NextSingle(), random.NextSingle(), 0) * 0.002f);
            vertices[(3 * i) + 2] = a + (new Vector3(0, random.NextSingle(), random.NextSingle()) * 0.002f);
        }

        return vertices;
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
