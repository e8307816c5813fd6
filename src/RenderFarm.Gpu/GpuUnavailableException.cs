using RenderFarm.Core;

namespace RenderFarm.Gpu;

/// <summary>
/// Thrown when no usable Vulkan loader, driver or device exists, or the requested device does not exist.
/// The message tells the user what to install or which devices there are.
/// </summary>
public sealed class GpuUnavailableException : UserInputException
{
    /// <summary>Creates the exception with a message written for the user.</summary>
    public GpuUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message written for the user and the underlying cause.</summary>
    public GpuUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
