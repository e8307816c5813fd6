namespace RenderFarm.Verification;

/// <summary>How often the checks catch one class of cheat, as measured by the divergence bench.</summary>
/// <param name="Cheat">The cheat class, as the job report names it.</param>
/// <param name="TileCatch">Probability that a checked tile lying wholly in the cheated part fails on its own.</param>
/// <param name="FrameCatch">Probability that the tile check of a frame cheated all over fails (tiles, share, bias or sample count).</param>
/// <param name="WholeFrameCatch">Probability that a whole-frame check of such a frame fails, when it differs from <paramref name="FrameCatch"/> (whole-frame re-renders keep no snapshots).</param>
public sealed record CheatCatchRate(string Cheat, double TileCatch, double FrameCatch, double? WholeFrameCatch = null)
{
    /// <summary>The catch of a whole-frame check: <see cref="WholeFrameCatch"/>, or <see cref="FrameCatch"/> when not given.</summary>
    public double WholeCatch => WholeFrameCatch ?? FrameCatch;

    /// <summary>Whether the checks catch this cheat at all in one frame; a report's odds for it are then a bound.</summary>
    public bool Bounded => FrameCatch > 0;
}

/// <summary>
/// Per-cheat catch rates of <see cref="SpotCheckDecision"/>'s defaults for the frame's sample count
/// (<see cref="SpotCheckDecision.ForSamples"/>), measured with
/// <c>dotnet run -c Release --project bench/RenderFarm.Benchmarks -- divergence</c> (docs/verification.md gives the runs):
/// the validator renders on the simulated other conforming device, the provider cheats on this one; 64×64 frames of the
/// Cornell box and the textured cube at 64, 256 and 1,024 spp, eight tiles per check, the lowest over those. Wrong
/// pixels: a checked tile of a quarter-sample frame fails at 0.0001 (the cube at 1,024 spp, 2 of 14,400 tiles: its smooth
/// pixels change little, under the honest rate the Cornell box needs; 0.17 at 256 spp), a check of such a frame at 0.99
/// (the cube at 1,024 spp, 396 of 400, by the sample-count rule with its snapshots at n/2 and n/4; 0.80 before them), a
/// whole-frame check at 0 (the cube at 1,024 spp passed it: whole-frame samples keep no snapshots). Exposure: 0.75 (the
/// Cornell box at 64 spp). Bounces 8 → 4: 0.58, an earlier run at 64 spp (1.0 since). Fewer samples: the sample-count
/// rule, 0.50 of checks at 1,024 spp (the Cornell box); whole-frame samples keep no snapshots, so their catch of fewer
/// samples is taken as 0.
/// </summary>
public static class CheatCatchRates
{
    /// <summary>Wrong pixels: a quarter of the samples or fewer, another frame, seed or picture.</summary>
    public const string WrongPixels = "wrong pixels";

    /// <summary>The measured classes, <see cref="WrongPixels"/> first.</summary>
    public static IReadOnlyList<CheatCatchRate> Measured { get; } =
    [
        new(WrongPixels, 0.0001, 0.99, WholeFrameCatch: 0),
        new("exposure ±0.05 stop", 0, 0.75),
        new("bounces cut 8 → 4", 0, 0.58),
        new("6 % fewer samples", 0, 0.50, WholeFrameCatch: 0),
        new("one sample fewer", 0, 0),
        new("samples skipped mid-stream or spread (changed worker)", 0, 0),
    ];

    /// <summary>The rate of <see cref="WrongPixels"/>.</summary>
    public static CheatCatchRate WrongPixelsRate => Measured[0];
}
