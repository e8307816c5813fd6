using System.Collections.Immutable;
using System.Text;

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
public sealed record KernelDescription(string Name, int StorageBufferCount, int PushConstantBytes, string EntryPoint = "main")
{
    /// <summary>The most specialization constants a description may set.</summary>
    public const int MaxSpecializationConstants = 64;

    /// <summary>
    /// Values of the kernel's specialization constants: element i sets <c>constant_id = i</c>, 32 bits each (a bool
    /// constant takes 0 or 1). Empty, the default, keeps the values the code declares. Each set of values is its own
    /// pipeline, compiled once per device and cached apart.
    /// </summary>
    public ImmutableArray<uint> SpecializationConstants { get; init; } = [];

    /// <summary>The key of the compiled pipeline in a <see cref="KernelCache"/>: the name and the constants' values.</summary>
    internal string CacheKey =>
        SpecializationConstants.IsDefaultOrEmpty ? Name : $"{Name}[{string.Join(',', SpecializationConstants)}]";

    /// <inheritdoc/>
    public bool Equals(KernelDescription? other) =>
        other is not null
        && Name == other.Name
        && StorageBufferCount == other.StorageBufferCount
        && PushConstantBytes == other.PushConstantBytes
        && EntryPoint == other.EntryPoint
        && Constants.AsSpan().SequenceEqual(other.Constants.AsSpan());

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(CacheKey, StorageBufferCount, PushConstantBytes, EntryPoint);

    private ImmutableArray<uint> Constants => SpecializationConstants.IsDefault ? [] : SpecializationConstants;

    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Name = {Name}, StorageBufferCount = {StorageBufferCount}, PushConstantBytes = {PushConstantBytes}, EntryPoint = {EntryPoint}");
        if (!Constants.IsEmpty)
        {
            builder.Append($", SpecializationConstants = [{string.Join(", ", Constants)}]");
        }

        return true;
    }
}
