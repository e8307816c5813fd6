namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// A rendered frame as a multi-channel OpenEXR file for compositing: linear <c>R</c>, <c>G</c>, <c>B</c> in scene
/// radiance (no exposure, no tone mapping) and, when given, the AOVs as <c>albedo.R/G/B</c>, <c>N.X/Y/Z</c> (world
/// space) and <c>Z</c> (camera distance, always FLOAT: half floats hold only 11 bits of a distance); a denoised frame
/// keeps the rendered one beside it as <c>noisy.R/G/B</c>.
/// </summary>
public static class ExrFrame
{
    /// <summary>The file's channels for <paramref name="image"/> and <paramref name="aovs"/> at <paramref name="type"/>.</summary>
    /// <param name="image">The frame: R, G, B.</param>
    /// <param name="aovs">Its AOVs, or null.</param>
    /// <param name="type">HALF or FLOAT for every channel but Z.</param>
    /// <param name="noisy">When <paramref name="image"/> is denoised, the frame as rendered; else null.</param>
    public static IReadOnlyList<ExrChannel> Channels(HdrImage image, FrameAovs? aovs, ExrPixelType type, HdrImage? noisy = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var channels = new List<ExrChannel>(10);
        AddInterleaved(channels, image.Pixels, ["R", "G", "B"], type);
        if (aovs is not null)
        {
            if (aovs.Width != image.Width || aovs.Height != image.Height)
            {
                throw new ArgumentException($"AOVs of {aovs.Width}x{aovs.Height} do not match the {image.Width}x{image.Height} frame.", nameof(aovs));
            }

            AddInterleaved(channels, aovs.Albedo, ["albedo.R", "albedo.G", "albedo.B"], type);
            AddInterleaved(channels, aovs.Normal, ["N.X", "N.Y", "N.Z"], type);
            channels.Add(new ExrChannel("Z", ExrPixelType.Float, (float[])aovs.Depth.Clone()));
        }

        if (noisy is not null)
        {
            if (noisy.Width != image.Width || noisy.Height != image.Height)
            {
                throw new ArgumentException("The noisy frame must have the denoised frame's size.", nameof(noisy));
            }

            AddInterleaved(channels, noisy.Pixels, ["noisy.R", "noisy.G", "noisy.B"], type);
        }

        return channels;
    }

    /// <summary>Writes the frame (and its AOVs) to <paramref name="path"/>, ZIP-compressed, replacing it atomically.</summary>
    public static void Write(string path, HdrImage image, FrameAovs? aovs, ExrPixelType type, HdrImage? noisy = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ExrWriter.Write(path, image.Width, image.Height, Channels(image, aovs, type, noisy), ExrCompression.Zip);
    }

    private static void AddInterleaved(List<ExrChannel> channels, float[] interleaved, string[] names, ExrPixelType type)
    {
        int pixels = interleaved.Length / names.Length;
        for (int c = 0; c < names.Length; c++)
        {
            var values = new float[pixels];
            for (int i = 0; i < pixels; i++)
            {
                values[i] = interleaved[(i * names.Length) + c];
            }

            channels.Add(new ExrChannel(names[c], type, values));
        }
    }
}
