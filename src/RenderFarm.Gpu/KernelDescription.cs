namespace RenderFarm.Gpu;

/// <summary>
/// What a compute kernel binds, independent of the API that runs it: its storage buffers at set 0, bindings
/// 0..<see cref="StorageBufferCount"/>-1, and a push-constant block of <see cref="PushConstantBytes"/> bytes.
/// The SPIR-V (or another backend's code) is given next to it; the name identifies the kernel in caches and errors.
/// </summary>
/// <param name="Name">The kernel's name, e.g. <c>pathtrace</c> or <c>inference/matmul</c>: unique per code.</param>
/// <param name="StorageBufferCount">How many storage buffers the kernel declares.</param>
/// <param name="PushConstantBytes">The size of its push-constant block: a multiple of 4, 0 when it has none.</param>
/// <param name="EntryPoint">The name of its compute entry point.</param>
public sealed record KernelDescription(string Name, int StorageBufferCount, int PushConstantBytes, string EntryPoint = "main");
