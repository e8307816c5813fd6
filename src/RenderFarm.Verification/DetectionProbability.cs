namespace RenderFarm.Verification;

/// <summary>
/// The odds that verification catches a cheating provider.
/// </summary>
/// <remarks>
/// <para>The model. A provider delivers <c>n</c> frames and cheats on a share <c>q</c> of them, so on
/// <c>m = q·n</c> frames. Each delivered frame, independently of the others and of whether it was cheated:</para>
/// <list type="bullet">
/// <item><description>is re-rendered whole with probability <c>p</c> (the sampling rate), and a whole-frame
/// comparison of a cheated frame catches it with probability <c>w</c> (1 for a pixel comparison; lower for a
/// perceptual hash alone, which is blind to cheap cheats);</description></item>
/// <item><description>is spot-checked, and the spot check of a cheated frame catches it with probability
/// <c>s</c> (see <see cref="SpotCheckCatchProbability(int, int, int, double)"/>).</description></item>
/// </list>
/// <para>A cheated frame escapes both with probability <c>e = (1 − p·w)·(1 − s)</c>, so the provider escapes
/// on all of its cheated frames with probability</para>
/// <para><c>P(escape) = ((1 − p·w)·(1 − s))^(q·n)</c></para>
/// <para>and is caught at least once with <c>1 − P(escape)</c>. With spot checks off (<c>s = 0</c>) and exact
/// whole-frame comparisons (<c>w = 1</c>) this is the familiar <c>(1 − p)^(q·n)</c>. When <c>q·n</c> is not a
/// whole number the exponent interpolates geometrically between the neighbouring whole numbers of cheated frames.</para>
/// </remarks>
public static class DetectionProbability
{
    /// <summary>The probability that a provider cheating on a share of its frames is never caught.</summary>
    /// <param name="frames">Frames delivered, <c>n ≥ 0</c>.</param>
    /// <param name="cheatedShare">Share of them cheated, <c>q</c> in [0, 1].</param>
    /// <param name="wholeFrameRate">Probability that a frame is re-rendered whole, <c>p</c> in [0, 1].</param>
    /// <param name="spotCheckCatch">Probability that the spot check of a cheated frame fails it, <c>s</c> in [0, 1].</param>
    /// <param name="wholeFrameCatch">Probability that a whole-frame comparison of a cheated frame fails it, <c>w</c> in [0, 1].</param>
    /// <returns><c>((1 − p·w)·(1 − s))^(q·n)</c>.</returns>
    public static double Escape(int frames, double cheatedShare, double wholeFrameRate, double spotCheckCatch, double wholeFrameCatch = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frames);
        CheckProbability(cheatedShare, nameof(cheatedShare));
        CheckProbability(wholeFrameRate, nameof(wholeFrameRate));
        CheckProbability(spotCheckCatch, nameof(spotCheckCatch));
        CheckProbability(wholeFrameCatch, nameof(wholeFrameCatch));
        double cheatedFrames = cheatedShare * frames;
        if (cheatedFrames == 0)
        {
            return 1;
        }

        double perFrame = (1 - (wholeFrameRate * wholeFrameCatch)) * (1 - spotCheckCatch);
        return Math.Pow(perFrame, cheatedFrames);
    }

    /// <summary>The probability that a provider cheating on a share of its frames is caught at least once: <c>1 − </c><see cref="Escape"/>.</summary>
    /// <inheritdoc cref="Escape" path="/param"/>
    public static double Detection(int frames, double cheatedShare, double wholeFrameRate, double spotCheckCatch, double wholeFrameCatch = 1) =>
        1 - Escape(frames, cheatedShare, wholeFrameRate, spotCheckCatch, wholeFrameCatch);

    /// <summary>
    /// The probability that at least one of <paramref name="checkedTiles"/> tiles, drawn without replacement
    /// from <paramref name="candidateTiles"/>, falls on one of <paramref name="cheatedTiles"/> cheated tiles,
    /// assuming every checked cheated tile fails its comparison:
    /// <c>1 − C(M − c, k) / C(M, k) = 1 − Π_{i=0}^{k−1} (M − c − i) / (M − i)</c>.
    /// A frame cheated everywhere (fewer samples, another frame) gives 1 for any <c>k ≥ 1</c>.
    /// </summary>
    public static double SpotCheckCatchProbability(int candidateTiles, int cheatedTiles, int checkedTiles)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(candidateTiles, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(cheatedTiles);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cheatedTiles, candidateTiles);
        ArgumentOutOfRangeException.ThrowIfNegative(checkedTiles);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(checkedTiles, candidateTiles);
        double missAll = 1;
        for (int i = 0; i < checkedTiles; i++)
        {
            missAll *= (double)(candidateTiles - cheatedTiles - i) / (candidateTiles - i);
            if (missAll <= 0)
            {
                return 1;
            }
        }

        return 1 - missAll;
    }

    /// <summary>
    /// The probability that a spot check catches a frame whose cheated tiles each fail with probability
    /// <paramref name="tileCatch"/> (measured per cheat class, <see cref="CheatCatchRates"/>) when checked:
    /// <c>1 − Σ_x H(x) · (1 − t)^x</c> over the hypergeometric number x of checked tiles among the
    /// <paramref name="cheatedTiles"/>. With <c>t = 1</c> this is <see cref="SpotCheckCatchProbability(int, int, int)"/>.
    /// </summary>
    public static double SpotCheckCatchProbability(int candidateTiles, int cheatedTiles, int checkedTiles, double tileCatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(candidateTiles, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(cheatedTiles);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cheatedTiles, candidateTiles);
        ArgumentOutOfRangeException.ThrowIfNegative(checkedTiles);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(checkedTiles, candidateTiles);
        CheckProbability(tileCatch, nameof(tileCatch));
        int honest = candidateTiles - cheatedTiles;
        int first = Math.Max(0, checkedTiles - honest), last = Math.Min(cheatedTiles, checkedTiles);
        double logH = LogChoose(cheatedTiles, first) + LogChoose(honest, checkedTiles - first) - LogChoose(candidateTiles, checkedTiles);
        double missAll = 0;
        for (int x = first; x <= last; x++)
        {
            missAll += Math.Exp(logH) * Math.Pow(1 - tileCatch, x);

            // H(x + 1) / H(x) = (c − x)(k − x) / ((x + 1)(M − c − k + x + 1)).
            logH += Math.Log((double)(cheatedTiles - x) * (checkedTiles - x)) - Math.Log((double)(x + 1) * (honest - checkedTiles + x + 1));
        }

        return Math.Clamp(1 - missAll, 0, 1);
    }

    private static double LogChoose(int n, int k)
    {
        k = Math.Min(k, n - k);
        double sum = 0;
        for (int i = 1; i <= k; i++)
        {
            sum += Math.Log((double)(n - k + i) / i);
        }

        return sum;
    }

    private static void CheckProbability(double value, string name)
    {
        if (!(value >= 0 && value <= 1))
        {
            throw new ArgumentOutOfRangeException(name, value, "A probability must lie in [0, 1].");
        }
    }
}
