using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Lighting;

/// <summary>
/// Reads an equirectangular environment map: Radiance RGBE (.hdr, flat or run-length encoded) or OpenEXR (single
/// part, scanlines, uncompressed, RLE, ZIPS or ZIP, half/float/uint RGB channels). Every file is hostile: sizes are
/// bounded before memory is spent, arithmetic is checked, and anything else is refused in one line.
/// </summary>
public static class EnvironmentFile
{
    /// <summary>The longest side accepted.</summary>
    public const int MaxSide = 16_384;

    /// <summary>The most pixels accepted (4096 × 2048): their floats and sampling tables stay within device buffer limits.</summary>
    public const int MaxPixels = 4096 * 2048;

    /// <summary>The largest file read.</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary>Reads the file at <paramref name="path"/>.</summary>
    /// <exception cref="UserInputException">The file is missing, too large or not a supported, well-formed map.</exception>
    public static HdrImage Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new UserInputException($"Environment map {path} does not exist.");
        }

        if (info.Length > MaxFileBytes || info.Length == 0)
        {
            throw new UserInputException($"Environment map {path} is {info.Length} bytes; it must hold between 1 and {MaxFileBytes} bytes.");
        }

        return Read(File.ReadAllBytes(path), Path.GetFileName(path));
    }

    /// <summary>Reads a map held in memory; <paramref name="name"/> only labels messages.</summary>
    /// <exception cref="UserInputException">The bytes are not a supported, well-formed map within the limits.</exception>
    public static HdrImage Read(ReadOnlySpan<byte> data, string name)
    {
        if (data.Length > MaxFileBytes)
        {
            throw new UserInputException($"Environment map {name} is larger than {MaxFileBytes} bytes.");
        }

        try
        {
            if (data.Length >= 4 && data[0] == 0x76 && data[1] == 0x2F && data[2] == 0x31 && data[3] == 0x01)
            {
                return OpenExrReader.Read(data);
            }

            if (data.StartsWith("#?"u8))
            {
                return RadianceHdrReader.Read(data);
            }
        }
        catch (InvalidDataException exception)
        {
            throw new UserInputException($"Environment map {name}: {exception.Message}", exception);
        }

        throw new UserInputException($"Environment map {name} is neither a Radiance .hdr nor an OpenEXR file.");
    }

    /// <summary>Checks the size of a map built in memory against the same limits.</summary>
    /// <exception cref="UserInputException">The size is over the limits.</exception>
    internal static void CheckSizeForLight(int width, int height)
    {
        try
        {
            CheckSize(width, height);
        }
        catch (InvalidDataException exception)
        {
            throw new UserInputException($"The environment map: {exception.Message}", exception);
        }
    }

    /// <summary>Checks a declared size against the limits before any pixel memory is spent.</summary>
    /// <exception cref="InvalidDataException">The size is empty or over the limits.</exception>
    internal static void CheckSize(long width, long height)
    {
        if (width < 1 || height < 1 || width > MaxSide || height > MaxSide || width * height > MaxPixels)
        {
            throw new InvalidDataException(
                $"its size {width}x{height} is out of range (sides 1 to {MaxSide}, at most {MaxPixels} pixels).");
        }
    }
}
