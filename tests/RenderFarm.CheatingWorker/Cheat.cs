namespace RenderFarm.CheatingWorker;

/// <summary>The ways a dishonest provider can fake a frame; <see cref="CheatNames"/> holds their command-line names.</summary>
internal enum Cheat
{
    /// <summary>A black frame, nothing rendered.</summary>
    Blank,

    /// <summary>Uniform random pixels, nothing rendered.</summary>
    Noise,

    /// <summary>An honest render of the neighbouring frame of the animation (the previous one; the next one for frame 1).</summary>
    OtherFrame,

    /// <summary>An honest render flipped left to right.</summary>
    Mirrored,

    /// <summary>An honest render moved <see cref="CheatingFrameRenderer.ShiftPixels"/> pixels right and down, edges repeated.</summary>
    Shifted,

    /// <summary>A render with an eighth of the samples per pixel (at least one).</summary>
    LowSpp,

    /// <summary>An honest render at half the width and height, scaled back up bilinearly.</summary>
    Downscaled,

    /// <summary>The first frame this provider ever rendered, honestly, for another job, delivered for every other job.</summary>
    OtherJob,

    /// <summary>An honest render passed through JPEG at <see cref="CheatingFrameRenderer.JpegQuality"/> and back to PNG.</summary>
    Reencoded,
}

/// <summary>The command-line names of the cheats.</summary>
internal static class CheatNames
{
    private static readonly Dictionary<string, Cheat> s_byName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["blank"] = Cheat.Blank,
        ["noise"] = Cheat.Noise,
        ["other-frame"] = Cheat.OtherFrame,
        ["mirrored"] = Cheat.Mirrored,
        ["shifted"] = Cheat.Shifted,
        ["low-spp"] = Cheat.LowSpp,
        ["downscaled"] = Cheat.Downscaled,
        ["other-job"] = Cheat.OtherJob,
        ["reencoded"] = Cheat.Reencoded,
    };

    /// <summary>Every name, in the order of <see cref="Cheat"/>.</summary>
    public static IReadOnlyList<string> All { get; } = [.. s_byName.OrderBy(p => p.Value).Select(p => p.Key)];

    /// <summary>The cheat called <paramref name="name"/>, or null.</summary>
    public static Cheat? Parse(string name) => s_byName.TryGetValue(name, out Cheat cheat) ? cheat : null;

    /// <summary>The command-line name of <paramref name="cheat"/>.</summary>
    public static string NameOf(Cheat cheat) => s_byName.First(p => p.Value == cheat).Key;
}
