using System.Reflection;
using RenderFarm.Coordinator.Hosting;

namespace RenderFarm.Coordinator.Tests;

/// <summary>The coordinator parses scenes and models without the GPU runtime the workers need.</summary>
public sealed class LayeringFacts
{
    // Guards the layering: RenderFarm.Rendering (the path tracer) and RenderFarm.Inference (the inference session)
    // referenced RenderFarm.Gpu, so the coordinator, which only imports scenes and checks models, carried the Vulkan
    // runtime (Silk.NET) in its reference closure. On a build where they still do, this fact fails.
    [Fact]
    public void The_coordinator_reference_closure_holds_no_gpu_runtime()
    {
        Assembly coordinator = typeof(CoordinatorHost).Assembly;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { coordinator.GetName().Name! };
        var unresolved = new List<string>();
        var pending = new Stack<Assembly>([coordinator]);
        while (pending.TryPop(out Assembly? assembly))
        {
            foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
            {
                if (reference.Name is not { } name || !seen.Add(name))
                {
                    continue;
                }

                try
                {
                    pending.Push(Assembly.Load(reference));
                }
                catch (Exception exception) when (exception is FileNotFoundException or FileLoadException)
                {
                    unresolved.Add(name);
                }
            }
        }

        // The walk reaches the projects that used to bring the GPU runtime in, and none of the product's assemblies is left unread.
        Assert.Contains("RenderFarm.Rendering", seen);
        Assert.Contains("RenderFarm.Inference", seen);
        Assert.DoesNotContain(unresolved, name => name.StartsWith("RenderFarm.", StringComparison.Ordinal));

        string[] gpu = [.. seen.Where(name => name.Equals("RenderFarm.Gpu", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("RenderFarm.Rendering.Vulkan", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("RenderFarm.Inference.Vulkan", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("Silk.NET", StringComparison.OrdinalIgnoreCase))];
        Assert.True(gpu.Length == 0, $"The coordinator references the GPU runtime through: {string.Join(", ", gpu)}.");
    }
}
