namespace RenderFarm.Storage;

/// <summary>What a stored provider sample-count evidence must hold.</summary>
internal static class SampleEvidenceRules
{
    /// <summary>Most sums one provider's evidence may hold (one per snapshot count; six today).</summary>
    public const int MaxSums = 16;

    /// <summary>Checks a provider's new sample-count evidence: more checks than before, at most <see cref="MaxSums"/> finite, non-negative sums.</summary>
    public static IReadOnlyList<double> Validate(long storedChecks, (long Checks, IReadOnlyList<double> Sums) updated)
    {
        if (updated.Checks <= storedChecks || updated.Sums is null || updated.Sums.Count > MaxSums || updated.Sums.Any(s => !double.IsFinite(s) || s < 0))
        {
            throw new ArgumentException($"Sample-count evidence must count more checks than before and hold at most {MaxSums} finite, non-negative sums.", nameof(updated));
        }

        // A copy: the caller's list must not change what is stored.
        return [.. updated.Sums];
    }
}
