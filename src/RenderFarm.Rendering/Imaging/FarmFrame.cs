using RenderFarm.Core;

namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// The EXR a provider delivers for a frame of an EXR job, and what the coordinator and the client derive from it. It
/// holds the noisy frame exactly as rendered (<c>R</c>, <c>G</c>, <c>B</c>) and every AOV the denoiser reads: the
/// compositing AOVs of <see cref="ExrFrame"/> plus the first hit's <c>emission.R/G/B</c> and <c>coverage</c>. The
/// frame is what the farm verifies (its tone-mapped PNG, <see cref="ToPng"/>, is judged as a PNG job's frame is);
/// the denoised frame is derived from this file alone, so the client that denoises it gets what a denoise of the
/// same linear frame on the provider's machine would give.
/// </summary>
public static class FarmFrame
{
    /// <summary>The file's channels, sorted by name as OpenEXR stores them.</summary>
    public static IReadOnlyList<string> ChannelNames { get; } =
        ["B", "G", "N.X", "N.Y", "N.Z", "R", "Z", "albedo.B", "albedo.G", "albedo.R", "coverage", "emission.B", "emission.G", "emission.R"];

    // A header with these channels and the eight required attributes takes under 1 KiB; this leaves room for more.
    private const long HeaderAllowance = 64 * 1024;

    /// <summary>The OpenEXR magic number, the first four bytes of every EXR file.</summary>
    public static ReadOnlySpan<byte> Signature => [0x76, 0x2F, 0x31, 0x01];

    /// <summary>The channels of a delivered frame: <paramref name="image"/>, its AOVs, the guides, at <paramref name="depth"/> (Z always float).</summary>
    public static IReadOnlyList<ExrChannel> Channels(HdrImage image, FrameAovs aovs, ExrDepth depth)
    {
        ArgumentNullException.ThrowIfNull(aovs);
        ExrPixelType type = PixelType(depth);
        var channels = new List<ExrChannel>(ExrFrame.Channels(image, aovs, type));
        int pixels = aovs.Width * aovs.Height;
        for (int c = 0; c < 3; c++)
        {
            var values = new float[pixels];
            for (int i = 0; i < pixels; i++)
            {
                values[i] = aovs.Emission[(i * 3) + c];
            }

            channels.Add(new ExrChannel("emission." + "RGB"[c], type, values));
        }

        channels.Add(new ExrChannel("coverage", type, (float[])aovs.Coverage.Clone()));
        return channels;
    }

    /// <summary>Writes the delivered frame to <paramref name="path"/>, ZIP-compressed, replacing it atomically.</summary>
    public static void Write(string path, HdrImage image, FrameAovs aovs, ExrDepth depth)
    {
        ArgumentNullException.ThrowIfNull(image);
        ExrWriter.Write(path, image.Width, image.Height, Channels(image, aovs, depth), ExrCompression.Zip);
    }

    /// <summary>The pixel type of <paramref name="depth"/>.</summary>
    public static ExrPixelType PixelType(ExrDepth depth) => depth == ExrDepth.Float ? ExrPixelType.Float : ExrPixelType.Half;

    /// <summary>
    /// The most bytes a delivered frame of <paramref name="size"/> at <paramref name="depth"/> can take whatever its
    /// pixels (a ZIP block that does not shrink is stored raw): the header allowance, the line offset table, and each
    /// block's line number, length and raw scanlines. Null when it does not fit in 64 bits.
    /// </summary>
    public static long? WorstCaseBytes(ImageSize size, ExrDepth depth)
    {
        try
        {
            int valueBytes = depth == ExrDepth.Float ? 4 : 2;
            long pixelBytes = ((ChannelNames.Count - 1) * valueBytes) + 4;
            long blocks = (size.Height + ExrWriter.ZipLinesPerBlock - 1) / ExrWriter.ZipLinesPerBlock;
            return checked(HeaderAllowance + (blocks * 16) + (size.Height * checked(size.Width * pixelBytes)));
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads a delivered frame: an EXR of exactly <paramref name="size"/> with exactly the channels of
    /// <see cref="ChannelNames"/> at <paramref name="depth"/> (Z at float). Decodes at most that many values.
    /// </summary>
    /// <exception cref="UserInputException">Anything else, in one line.</exception>
    public static (HdrImage Image, FrameAovs Aovs) Read(ReadOnlySpan<byte> file, ImageSize size, ExrDepth depth)
    {
        if (file.Length < Signature.Length || !file[..Signature.Length].SequenceEqual(Signature))
        {
            throw new UserInputException("the upload is not an OpenEXR file");
        }

        long most = WorstCaseBytes(size, depth) ?? long.MaxValue;
        if (file.Length > most)
        {
            throw new UserInputException($"the EXR holds {file.Length} bytes; a {size} frame at {depth.ToString().ToLowerInvariant()} takes at most {most}");
        }

        ExrImage exr;
        try
        {
            exr = ExrReader.Read(file, size.PixelCount * ChannelNames.Count);
        }
        catch (UserInputException ex)
        {
            throw new UserInputException($"the EXR does not decode ({ex.Message.TrimEnd('.')})", ex);
        }

        if (exr.Width != size.Width || exr.Height != size.Height)
        {
            throw new UserInputException($"the EXR is {exr.Width}x{exr.Height}; the job's frames are {size}");
        }

        ExrPixelType type = PixelType(depth);
        foreach (string name in ChannelNames)
        {
            ExrChannel? channel = exr.Channels.FirstOrDefault(c => c.Name == name);
            ExrPixelType expected = name == "Z" ? ExrPixelType.Float : type;
            if (channel is null || channel.Type != expected)
            {
                throw new UserInputException(channel is null
                    ? $"the EXR lacks channel '{name}'"
                    : $"the EXR's channel '{name}' is {channel.Type.ToString().ToLowerInvariant()}; the job asks for {expected.ToString().ToLowerInvariant()}");
            }
        }

        if (exr.Channels.Count != ChannelNames.Count)
        {
            string? extra = exr.Channels.FirstOrDefault(c => !ChannelNames.Contains(c.Name))?.Name;
            throw new UserInputException(extra is null ? "the EXR names a channel twice" : $"the EXR holds channel '{extra}', which a delivered frame does not");
        }

        var image = new HdrImage(size.Width, size.Height);
        var aovs = new FrameAovs(size.Width, size.Height);
        Interleave(exr, ["R", "G", "B"], image.Pixels);
        Interleave(exr, ["albedo.R", "albedo.G", "albedo.B"], aovs.Albedo);
        Interleave(exr, ["N.X", "N.Y", "N.Z"], aovs.Normal);
        Interleave(exr, ["emission.R", "emission.G", "emission.B"], aovs.Emission);
        exr.Channel("Z").Values.CopyTo(aovs.Depth, 0);
        exr.Channel("coverage").Values.CopyTo(aovs.Coverage, 0);
        return (image, aovs);
    }

    /// <summary>
    /// The PNG a PNG job with these settings delivers for the same linear frame: the settings' view transform,
    /// exposure and bit depth applied to <paramref name="image"/>. What the farm's checks judge for an EXR job.
    /// </summary>
    public static byte[] ToPng(HdrImage image, RenderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        using var png = new MemoryStream();
        PngFrameWriter.Write(image, png, settings.ToneMapping, settings.ExposureStops, settings.SixteenBit);
        return png.ToArray();
    }

    private static void Interleave(ExrImage exr, string[] names, float[] destination)
    {
        for (int c = 0; c < names.Length; c++)
        {
            float[] values = exr.Channel(names[c]).Values;
            for (int i = 0; i < values.Length; i++)
            {
                destination[(i * names.Length) + c] = values[i];
            }
        }
    }
}
