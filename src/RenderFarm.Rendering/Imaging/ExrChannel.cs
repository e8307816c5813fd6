namespace RenderFarm.Rendering.Imaging;

/// <summary>How an OpenEXR channel stores its values (the file's own numbering).</summary>
public enum ExrPixelType
{
    /// <summary>16-bit IEEE 754 half floats.</summary>
    Half = 1,

    /// <summary>32-bit IEEE 754 floats.</summary>
    Float = 2,
}

/// <summary>How the scanline blocks of an OpenEXR file are compressed (the file's own numbering).</summary>
public enum ExrCompression
{
    /// <summary>Raw scanlines, one per block.</summary>
    None = 0,

    /// <summary>zlib over blocks of 16 scanlines, after the byte split and delta predictor of OpenEXR's ZIP.</summary>
    Zip = 3,
}

/// <summary>One named channel of an OpenEXR image: a value per pixel, rows top to bottom.</summary>
/// <param name="Name">The channel name, e.g. <c>R</c>, <c>albedo.R</c> or <c>Z</c>.</param>
/// <param name="Type">How the file stores the values.</param>
/// <param name="Values"><c>Values[y * width + x]</c> for pixel (x, y).</param>
public sealed record ExrChannel(string Name, ExrPixelType Type, float[] Values);
