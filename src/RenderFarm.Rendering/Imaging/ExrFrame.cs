namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// A rendered frame as a multi-channel OpenEXR file for compositing: linear <c>R</c>, <c>G</c>, <c>B</c> in scene
/// radiance (no exposure, no tone mapping) and, when given, the AOVs as <c>albedo.R/G/B</c>, <c>N.X/Y/Z</c> (world
/// space) and <c>Z</c> (camera distance, always FLOAT: half floats hold only 11 bits of a distance).
/// </summary>
public static class ExrFrame
{
    /// <summary>The file's channels for <paramref name="image"/> and <paramref name="aovs"/> at <paramref name="type"/>.</summary>
    public static IReadOnlyList<ExrChannel> Channels(HdrImage image, FrameAovs? aovs, ExrPixelType type)
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

        return channels;
    }

    /// <summary>Writes the frame (and its AOVs) to <paramref name="path"/>, ZIP-compressed, replacing it atomically.</summary>
    public static void Write(string path, HdrImage image, FrameAovs? aovs, ExrPixelType type)
    {
        ArgumentNullException.ThrowIfNull(image);
        ExrWriter.Write(path, image.Width, image.Height, Channels(image, aovs, type), ExrCompression.Zip);
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
