using System.Buffers.Binary;
using System.Text;

namespace RenderFarm.Gpu;

/// <summary>
/// Checks that bytes are a SPIR-V module with the named compute entry point before a driver sees them: a missing
/// entry point is undefined behaviour in the driver (lavapipe crashes), so it is refused here in one clear line.
/// </summary>
internal static class SpirvValidation
{
    private const uint SpirvMagic = 0x07230203;
    private const uint OpEntryPoint = 15;
    private const uint ExecutionModelGLCompute = 5;

    /// <exception cref="ArgumentException">The code is not SPIR-V or has no compute entry point of that name.</exception>
    public static void Validate(ReadOnlySpan<byte> spirv, string entryPoint)
    {
        ArgumentException.ThrowIfNullOrEmpty(entryPoint);
        if (spirv.IsEmpty)
        {
            throw new ArgumentException("The SPIR-V code is empty.", nameof(spirv));
        }

        if (spirv.Length % 4 != 0)
        {
            throw new ArgumentException(
                $"SPIR-V code is a sequence of 4-byte words, but {spirv.Length} bytes were passed.", nameof(spirv));
        }

        // Header: magic, version, generator, bound, schema; then instructions.
        if (spirv.Length < 20 || BinaryPrimitives.ReadUInt32LittleEndian(spirv) != SpirvMagic)
        {
            throw new ArgumentException(
                $"The code is not little-endian SPIR-V (it must start with the magic number 0x{SpirvMagic:X8}).", nameof(spirv));
        }

        var names = new List<string>();
        for (int offset = 20; offset + 4 <= spirv.Length;)
        {
            uint word = BinaryPrimitives.ReadUInt32LittleEndian(spirv[offset..]);
            int wordCount = (int)(word >> 16);
            if (wordCount == 0 || offset + (wordCount * 4) > spirv.Length)
            {
                throw new ArgumentException($"The SPIR-V code is malformed (bad instruction at byte {offset}).", nameof(spirv));
            }

            if ((word & 0xFFFF) == OpEntryPoint && wordCount >= 4 &&
                BinaryPrimitives.ReadUInt32LittleEndian(spirv[(offset + 4)..]) == ExecutionModelGLCompute)
            {
                ReadOnlySpan<byte> literal = spirv.Slice(offset + 12, (wordCount - 3) * 4);
                int end = literal.IndexOf((byte)0);
                string name = Encoding.UTF8.GetString(end < 0 ? literal : literal[..end]);
                if (name == entryPoint)
                {
                    return;
                }

                names.Add(name);
            }

            offset += wordCount * 4;
        }

        throw new ArgumentException(
            names.Count == 0
                ? "The SPIR-V code has no compute (GLCompute) entry point."
                : $"The SPIR-V code has no compute entry point '{entryPoint}' (it has: {string.Join(", ", names)}).",
            nameof(entryPoint));
    }
}
