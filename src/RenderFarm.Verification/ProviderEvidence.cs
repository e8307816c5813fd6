namespace RenderFarm.Verification;

/// <summary>
/// A provider's accumulated bias evidence: a two-sided CUSUM over the bias statistics (<see cref="DifferenceStatistics.BiasZ"/>)
/// of its checked frames, across frames and jobs. A steady small bias that no single frame shows beyond its threshold
/// (an exposure nudge, a few bounces fewer) adds up frame after frame; honest divergence, whose statistic wanders
/// around zero, does not.
/// </summary>
/// <param name="Frames">Checked frames counted.</param>
/// <param name="Upper">The upper CUSUM: evidence that the provider's frames are brighter than the re-renders.</param>
/// <param name="Lower">The lower CUSUM: evidence that they are darker.</param>
public sealed record ProviderEvidence(long Frames, double Upper, double Lower)
{
    /// <summary>Allowance per frame, in standard errors: the drift an honest frame may show without adding evidence.</summary>
    public const double Allowance = 1;

    /// <summary>Evidence, in standard errors, at which the provider counts as biased.</summary>
    public const double Threshold = 12;

    /// <summary>Largest |statistic| one frame adds: one outlier frame is for the per-frame bias test, not for this one.</summary>
    public const double MaxStep = 6;

    /// <summary>No evidence yet.</summary>
    public static ProviderEvidence None { get; } = new(0, 0, 0);

    /// <summary>Whether the evidence reached <see cref="Threshold"/> on either side.</summary>
    public bool IsBiased => Upper >= Threshold || Lower >= Threshold;

    /// <summary>
    /// The evidence after one more checked frame with bias statistic <paramref name="biasZ"/>:
    /// <c>Upper' = max(0, Upper + z − k)</c> and <c>Lower' = max(0, Lower − z − k)</c> with z clamped to
    /// ±<see cref="MaxStep"/> and k = <see cref="Allowance"/>. A non-finite statistic (NaN) adds nothing but the frame.
    /// </summary>
    public static ProviderEvidence Update(ProviderEvidence evidence, double biasZ)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        double z = double.IsNaN(biasZ) ? 0 : Math.Clamp(biasZ, -MaxStep, MaxStep);
        return new ProviderEvidence(
            evidence.Frames + 1,
            Math.Max(0, evidence.Upper + z - Allowance),
            Math.Max(0, evidence.Lower - z - Allowance));
    }
}
