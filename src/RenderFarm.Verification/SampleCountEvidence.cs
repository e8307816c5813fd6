namespace RenderFarm.Verification;

/// <summary>
/// A provider's accumulated sample-count evidence: one one-sided CUSUM per snapshot count (by position, smallest count
/// first) over the sample-count statistics (<see cref="SampleCountTest"/>) of its checked frames, across frames and jobs.
/// A cheat confined to part of each frame (a band, the border, rendered with fewer samples) moves the statistic of a
/// check by a few standard errors, under the per-check threshold, but the same way frame after frame; honest statistics
/// are symmetric about zero and add up to nothing.
/// </summary>
/// <remarks>
/// <para>Per count, <c>S ← max(0, S + min(z, <see cref="MaxStep"/>) − <see cref="Allowance"/>)</c>; the provider is a
/// suspect when any S reaches <see cref="Threshold"/>. Only the positive side counts: a frame with fewer samples follows
/// the validator's earlier image, which makes z positive.</para>
/// <para>Honest bound: given the magnitudes of a check's terms wᵢ, an honest z is a Rademacher sum Σ εᵢ|wᵢ| / √(Σ wᵢ²), so
/// E[exp(θz)] ≤ exp(θ²/2) (Hoeffding), independently across checks. With θ = 2k (k the allowance),
/// exp(θ·Σ(z − k)) is then a non-negative supermartingale from any start, and by Ville's inequality one excursion of a
/// CUSUM reaches h with probability at most exp(−2k·h). Each check can start at most one excursion per count, so over a
/// provider's N checks P(false alarm) ≤ 6·N·exp(−2k·h) (<see cref="FalseAlarmBound"/>): 7.6·10⁻⁷ for N = 10⁷ checks at
/// k = 1, h = 16. Clamping z from above keeps the bound and caps what one check (and one validator) can add.</para>
/// </remarks>
/// <param name="Checks">Checked frames counted.</param>
/// <param name="Sums">Per snapshot count (smallest first), the CUSUM; at most <see cref="Counts"/>, shorter until a check had that many counts.</param>
public sealed record SampleCountEvidence(long Checks, IReadOnlyList<double> Sums)
{
    /// <summary>Snapshot counts tracked: as many as <see cref="SampleCountTest.SnapshotCounts"/> gives at most.</summary>
    public const int Counts = 6;

    /// <summary>Allowance per check, in standard errors: what an honest check may add without adding evidence.</summary>
    public const double Allowance = 1;

    /// <summary>Evidence, in standard errors, at which the provider is a suspect.</summary>
    public const double Threshold = 16;

    /// <summary>Largest statistic one check adds; one check beyond the per-check threshold is that rule's to judge.</summary>
    public const double MaxStep = 6;

    /// <summary>No evidence yet.</summary>
    public static SampleCountEvidence None { get; } = new(0, []);

    /// <summary>Whether any count's evidence reached <see cref="Threshold"/>.</summary>
    public bool IsSuspect => Sums.Any(s => s >= Threshold);

    /// <summary>The largest evidence over the counts; 0 with none.</summary>
    public double Largest => Sums.Count == 0 ? 0 : Sums.Max();

    /// <summary>
    /// The evidence after one more checked frame whose sample-count statistic, per snapshot count (smallest first), is
    /// <paramref name="z"/>; counts beyond <see cref="Counts"/> are ignored, a non-finite z (NaN) adds nothing to its count.
    /// </summary>
    public static SampleCountEvidence Update(SampleCountEvidence evidence, IReadOnlyList<double> z)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        ArgumentNullException.ThrowIfNull(z);
        int length = Math.Min(Counts, Math.Max(evidence.Sums.Count, z.Count));
        var sums = new double[length];
        for (int k = 0; k < length; k++)
        {
            double stored = k < evidence.Sums.Count ? evidence.Sums[k] : 0;
            double step = k < z.Count && !double.IsNaN(z[k]) ? Math.Min(z[k], MaxStep) : 0;
            sums[k] = Math.Max(0, stored + step - Allowance);
        }

        return new SampleCountEvidence(evidence.Checks + 1, sums);
    }

    /// <summary>
    /// The bound on the chance that an honest provider's evidence ever reaches <see cref="Threshold"/> within
    /// <paramref name="checks"/> checks: <c>6·N·exp(−2·Allowance·Threshold)</c>, capped at 1.
    /// </summary>
    public static double FalseAlarmBound(long checks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(checks);
        return Math.Min(1, Counts * (double)checks * Math.Exp(-2 * Allowance * Threshold));
    }
}
