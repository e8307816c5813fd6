namespace RenderFarm.Verification;

/// <summary>How often the checks catch one class of cheat, as measured by the divergence bench.</summary>
/// <param name="Cheat">The cheat class, as the job report names it.</param>
/// <param name="TileCatch">Probability that a checked tile lying wholly in the cheated part fails on its own.</param>
/// <param name="FrameCatch">Probability that the tile check of a frame cheated all over fails (tiles, share, bias or sample count).</param>
/// <param name="WholeFrameCatch">Probability that a whole-frame check of such a frame fails, when it differs from <paramref name="FrameCatch"/> (whole-frame re-renders keep no snapshots).</param>
/// <param name="JobCatch">
/// Probability that a job of <see cref="CheatCatchRates.JobFrames"/> spot-checked frames, every one carrying the cheat,
/// is caught: a check fails, or the provider's bias or sample-count evidence crosses its threshold; with checks of 8
/// tiles; null when not measured. For <see cref="CheatCatchRates.WrongPixels"/> it is the catch of wrong pixels over a
/// tenth of every frame (a band or the 2-pixel border at a quarter of the samples).
/// </param>
/// <param name="WideJobCatch">The same with checks of <see cref="CheatCatchRates.WideCheckTiles"/> tiles or more (a 256×256 frame's 30); null when not measured.</param>
public sealed record CheatCatchRate(string Cheat, double TileCatch, double FrameCatch, double? WholeFrameCatch = null, double? JobCatch = null, double? WideJobCatch = null)
{
    /// <summary>The job catch for checks of <paramref name="tilesPerCheck"/> tiles: <see cref="WideJobCatch"/> from <see cref="CheatCatchRates.WideCheckTiles"/> tiles on, else <see cref="JobCatch"/>.</summary>
    public double? JobCatchFor(int tilesPerCheck) => tilesPerCheck >= CheatCatchRates.WideCheckTiles ? WideJobCatch ?? JobCatch : JobCatch;

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
/// samples is taken as 0. Jobs of 24 checked frames with every frame cheated (<c>divergence --jobs 2000</c>, the lowest over
/// both scenes at 64, 256 and 1,024 spp), counting the provider's accumulated evidence (<see cref="SampleCountEvidence"/>,
/// <see cref="ProviderEvidence"/>): wrong pixels over a tenth of each frame (a band or the 2-pixel border at a quarter of
/// the samples) 0.60 with 8-tile checks (the Cornell box's border at 1,024 spp, 1,201 of 2,000) and every job with
/// 28-tile checks; exposure and 6 % fewer samples every job; one sample fewer none at 1,024 spp. Job catches are capped at
/// <see cref="MaxJobCatch"/>. Bounces, and samples skipped mid-stream or spread, have no job figure.
/// </summary>
public static class CheatCatchRates
{
    /// <summary>Spot-checked frames of the measured jobs (<see cref="CheatCatchRate.JobCatch"/>): a longer job is caught at least as often.</summary>
    public const int JobFrames = 24;

    /// <summary>Tiles per check from which <see cref="CheatCatchRate.WideJobCatch"/> applies.</summary>
    public const int WideCheckTiles = 28;

    /// <summary>Highest job catch claimed: 2,000 simulated jobs per row, drawn from 400 plans of one frame, show no more.</summary>
    public const double MaxJobCatch = 0.998;

    /// <summary>Wrong pixels: a quarter of the samples or fewer, another frame, seed or picture.</summary>
    public const string WrongPixels = "wrong pixels";

    /// <summary>The measured classes, <see cref="WrongPixels"/> first.</summary>
    public static IReadOnlyList<CheatCatchRate> Measured { get; } =
    [
        new(WrongPixels, 0.0001, 0.99, WholeFrameCatch: 0, JobCatch: 0.60, WideJobCatch: MaxJobCatch),
        new("exposure ±0.05 stop", 0, 0.75, JobCatch: MaxJobCatch),
        new("bounces cut 8 → 4", 0, 0.58),
        new("6 % fewer samples", 0, 0.50, WholeFrameCatch: 0, JobCatch: MaxJobCatch),
        new("one sample fewer", 0, 0, JobCatch: 0, WideJobCatch: 0),
        new("samples skipped mid-stream or spread (changed worker)", 0, 0),
    ];

    /// <summary>The rate of <see cref="WrongPixels"/>.</summary>
    public static CheatCatchRate WrongPixelsRate => Measured[0];
}
