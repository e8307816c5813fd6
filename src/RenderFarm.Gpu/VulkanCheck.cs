using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

/// <summary>Turns failed <see cref="Result"/> codes into exceptions that name the call.</summary>
internal static class VulkanCheck
{
    public static void Check(Result result, string call)
    {
        if (result != Result.Success)
        {
            throw Failure(result, call);
        }
    }

    public static InvalidOperationException Failure(Result result, string call) =>
        new($"{call} failed: {result} ({(int)result}).");
}
