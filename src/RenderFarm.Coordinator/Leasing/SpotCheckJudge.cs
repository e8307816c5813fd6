using System.Globalization;
using System.Security.Cryptography;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Storage;
using RenderFarm.Verification;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>What a judge found when it compared a validator's execution with the delivered output.</summary>
/// <param name="Pass">The execution matches the delivered output.</param>
/// <param name="TilesCompared">Tiles (or blocks, or items) compared.</param>
/// <param name="TilesFailed">Of those, how many differ.</param>
/// <param name="MinPsnr">Lowest PSNR over the tiles, when finite.</param>
/// <param name="MaxDifference">Largest absolute difference.</param>
/// <param name="MaxShare">Largest share of values beyond tolerance.</param>
/// <param name="PHashDistance">Perceptual-hash distance of a whole frame, or null.</param>
/// <param name="AgreesWithArbitrated">For a third execution: whether it agrees with the first validator's.</param>
/// <param name="OutputUnusable">The delivered output itself cannot be read: the provider is wrong without a vote.</param>
/// <param name="Text">One line for the record.</param>
/// <param name="BiasZ">For a render check: the signed-mean bias statistic of the compared pixels, or null.</param>
/// <param name="SampleZ">For a tile check with snapshots: the sample-count statistic per snapshot count (smallest first), or null.</param>
internal sealed record Verdict(
    bool Pass,
    int TilesCompared,
    int TilesFailed,
    double? MinPsnr,
    double MaxDifference,
    double MaxShare,
    int? PHashDistance,
    bool? AgreesWithArbitrated,
    bool OutputUnusable,
    string Text,
    double? BiasZ = null,
    IReadOnlyList<double>? SampleZ = null);

/// <summary>
/// Judges a check's execution: a validator's tiles or whole frame against the same pixels of the delivered PNG (and,
/// for a third execution, against the first validator's), or an inference item's tensor against the delivered one.
/// Reads objects and compares; decides nothing about the task (see <see cref="Arbitration"/>).
/// </summary>
internal sealed class SpotCheckJudge
{
    private static readonly PixelComparison s_comparison = new();
    private static readonly ItemComparison s_items = new(new TensorComparison());

    private readonly IObjectStore _objects;
    private readonly CoordinatorOptions _options;
    private readonly WholeFrameComparison _wholeFrame;
    private readonly ItemTolerances _tolerances;

    public SpotCheckJudge(IObjectStore objects, CoordinatorOptions options)
    {
        _objects = objects;
        _tolerances = new ItemTolerances(objects);
        _options = options;
        _wholeFrame = new WholeFrameComparison(s_comparison, options.SpotCheckTileSize, options.MaxWholeFramePHashDistance);
    }

    // For a tile check `rendered` is the validator's strip of tiles; for a whole-frame check the validator's frame.
    public async Task<Verdict> JudgeAsync(JobRecord job, TaskRecord task, SpotCheckRecord check, Image rendered, CancellationToken cancellationToken)
    {
        string? deliveredKey = task.Outputs.FirstOrDefault(output => output.Frame == check.Frame)?.Key;
        byte[]? delivered = deliveredKey is null ? null : await _objects.ReadAllBytesAsync(deliveredKey, cancellationToken);
        if (delivered is null || Convert.ToHexStringLower(SHA256.HashData(delivered)) != check.OutputSha256)
        {
            // The checked output was replaced in the meantime (its task was redone): nothing to judge.
            return new Verdict(false, 0, 0, null, 0, 0, null, null, false, "stale: the checked output is no longer stored");
        }

        using Image? frame = DeliveredFrames.Load(delivered, job.Spec.Settings);
        if (frame is null || frame.Width != job.Spec.Settings.Size.Width || frame.Height != job.Spec.Settings.Size.Height)
        {
            return new Verdict(false, check.Tiles.Count, check.Tiles.Count, null, 1, 1, null, null, true, "the delivered PNG cannot be decoded at the job's frame size");
        }

        // Honest divergence between devices puts more pixels beyond the tolerance at higher sample counts.
        SpotCheckDecision decision = SpotCheckDecision.ForSamples(job.Spec.Settings.SamplesPerPixel);
        int compared, failed;
        double? minPsnr;
        double maxDiff, maxShare, biasZ;
        double? sampleZ = null;
        IReadOnlyList<double>? sampleZs = null;
        int? distance = null;
        string kind = "tiles";
        if (check.WholeFrame)
        {
            WholeFrameDifference whole = _wholeFrame.Compare(rendered, frame, decision);
            (compared, failed, maxDiff, maxShare, distance, kind) = (whole.Blocks, whole.Pixels.Pass ? 0 : Math.Max(1, whole.BlocksFailed), whole.MaxAbsoluteDifference, whole.MaxShareBeyondTolerance, whole.PHashDistance, "blocks");
            biasZ = whole.Pixels.EvidenceZ;
            minPsnr = double.IsFinite(whole.MinPsnr) ? whole.MinPsnr : null;
        }
        else
        {
            compared = check.Tiles.Count;
            SampleCountStatistic? samples = MeasureSnapshots(rendered, frame, check.Tiles, job.Spec.Settings.SamplesPerPixel);
            sampleZ = samples?.MaxAbsZ;
            sampleZs = samples?.Z;
            (failed, minPsnr, maxDiff, maxShare, biasZ) = JudgeTiles(decision, rendered, frame, check.Tiles, offsetTiles: true, samples);
        }

        bool pass = failed == 0 && (distance ?? 0) <= _options.MaxWholeFramePHashDistance;
        bool? agrees = null;
        string text = string.Create(
            CultureInfo.InvariantCulture,
            $"{(pass ? "pass" : "fail")}: {failed} of {compared} {kind} differ; min PSNR {(minPsnr is { } p ? p.ToString("0.0", CultureInfo.InvariantCulture) + " dB" : "inf")}, max diff {maxDiff:0.0000}, max share beyond tolerance {maxShare:P1}, bias z beyond {decision.MinBiasEffect:G2} {biasZ:0.0}");
        if (sampleZ is { } z)
        {
            text += string.Create(CultureInfo.InvariantCulture, $", sample-count z {z:0.0} (at most {decision.MaxSampleZ:0.0})");
        }

        if (distance is { } d)
        {
            text += string.Create(CultureInfo.InvariantCulture, $", pHash distance {d} (at most {_options.MaxWholeFramePHashDistance})");
        }

        if (check.Arbitrates is { } arbitrated
            && task.Checks.FirstOrDefault(c => c.Number == arbitrated)?.TilesKey is { } firstKey
            && await _objects.ReadAllBytesAsync(firstKey, cancellationToken) is { } firstBytes
            && LoadImage(firstBytes) is { } first)
        {
            using (first)
            {
                // Strips compare their first band, with or without snapshot bands below it.
                bool sameSize = first.Width == rendered.Width
                    && (first.Height == rendered.Height || (!check.WholeFrame && Math.Min(first.Height, rendered.Height) >= check.Tiles.Max(t => t.Height)));
                agrees = sameSize && (check.WholeFrame
                    ? _wholeFrame.Compare(rendered, first, decision).IsMatch
                    : JudgeTiles(decision, rendered, first, check.Tiles, offsetTiles: false, samples: null).Failed == 0);
                text += agrees.Value ? $"; agrees with check {arbitrated}" : $"; disagrees with check {arbitrated}";
            }
        }

        return new Verdict(pass, compared, failed, minPsnr, maxDiff, maxShare, distance, agrees, false, text, biasZ, sampleZs);
    }

    // An inference item: the validator's output tensor against the delivered one, and for a third execution against the
    // first validator's; float outputs within the tolerance their model's roundings and magnitude allow (ItemTolerances).
    public async Task<Verdict> JudgeItemAsync(JobRecord job, TaskRecord task, SpotCheckRecord check, byte[] executed, CancellationToken cancellationToken)
    {
        string? deliveredKey = task.Outputs.FirstOrDefault(output => output.Frame == check.Frame)?.Key;
        byte[]? delivered = deliveredKey is null ? null : await _objects.ReadAllBytesAsync(deliveredKey, cancellationToken);
        if (delivered is null || Convert.ToHexStringLower(SHA256.HashData(delivered)) != check.OutputSha256)
        {
            return new Verdict(false, 0, 0, null, 0, 0, null, null, false, "stale: the checked output is no longer stored");
        }

        IReadOnlyList<ItemTensor>? mine = ParseItem(executed);
        IReadOnlyList<ItemTensor>? theirs = ParseItem(delivered);
        if (mine is null)
        {
            throw new CoordinatorException(422, $"Item {check.Frame}: the upload is not a readable .npy or .npz item file.");
        }

        if (theirs is null)
        {
            return new Verdict(false, 1, 1, null, 1, 1, null, null, true, "the delivered output is not a readable .npy or .npz item file");
        }

        Func<ItemTensor, TensorComparison?>? tolerances = await _tolerances.ForItemAsync(job, check.Frame, cancellationToken);
        ItemDifference difference = s_items.Compare(theirs, mine, tolerances);
        string text = $"{(difference.IsMatch ? "pass" : "fail")}: {difference.Summary}";
        bool? agrees = null;
        if (check.Arbitrates is { } arbitrated
            && task.Checks.FirstOrDefault(c => c.Number == arbitrated)?.TilesKey is { } firstKey
            && await _objects.ReadAllBytesAsync(firstKey, cancellationToken) is { } firstBytes
            && ParseItem(firstBytes) is { } first)
        {
            agrees = s_items.Compare(mine, first, tolerances).IsMatch;
            text += agrees.Value ? $"; agrees with check {arbitrated}" : $"; disagrees with check {arbitrated}";
        }

        return new Verdict(difference.IsMatch, 1, difference.IsMatch ? 0 : 1, null, difference.MaxAbsoluteDifference, difference.ShareBeyondTolerance, null, agrees, false, text);
    }

    // Every output of an item file, each compared by its own element type: integer and boolean outputs exactly.
    private static List<ItemTensor>? ParseItem(byte[] bytes)
    {
        try
        {
            return [.. Inference.IO.ItemFiles.ParseAny(bytes, "an inference output")
                .Select(pair => new ItemTensor(pair.Key, Inference.TensorTypes.IsInteger(pair.Value.ElementType), pair.Value.Shape, pair.Value.Data))];
        }
        catch (Core.UserInputException)
        {
            return null;
        }
    }

    // The strip's tiles against the same tiles of the frame (offsetTiles) or the same strip positions of another strip,
    // judged together; Failed is at least 1 when the check fails on share or bias alone. BiasZ is the bias beyond the
    // smallest effect that counts, which the provider's evidence accumulates.
    private static (int Failed, double? MinPsnr, double MaxDifference, double MaxShare, double BiasZ) JudgeTiles(
        SpotCheckDecision decision, Image strip, Image other, IReadOnlyList<PixelTile> tiles, bool offsetTiles, SampleCountStatistic? samples)
    {
        var inStrip = new List<Rectangle>(tiles.Count);
        var inOther = new List<Rectangle>(tiles.Count);
        int left = 0;
        foreach (PixelTile tile in tiles)
        {
            inStrip.Add(new Rectangle(left, 0, tile.Width, tile.Height));
            inOther.Add(offsetTiles ? new Rectangle(tile.X, tile.Y, tile.Width, tile.Height) : inStrip[^1]);
            left += tile.Width;
        }

        SpotCheckOutcome outcome = decision.Judge(
            DifferenceStatistics.Measure(strip, inStrip, other, inOther, decision.Tolerance), samples);
        DifferenceStatistics s = outcome.Statistics;
        int failed = outcome.Pass ? 0 : Math.Max(1, outcome.TilesFailed);
        return (failed, double.IsFinite(s.MinPsnr) ? s.MinPsnr : null, s.MaxAbsoluteDifference, s.MaxRegionShareBeyond, outcome.EvidenceZ);
    }

    /// <summary>Bands of a validator's strip when it carries snapshots (<c>TileStrip.EncodeWithSnapshots</c>): the final tiles, one band per count of <see cref="SampleCountTest.SnapshotCounts"/>, and the final tiles at 16 bits.</summary>
    public static int StripBands(int samplesPerPixel) =>
        SampleCountTest.SnapshotCounts(samplesPerPixel) is { Count: > 0 } counts ? counts.Count + 2 : 1;

    // The sample-count statistic of a strip with snapshot bands against the delivered frame's tiles; null when the job's
    // sample count has no snapshot counts (SpotChecks refuses a strip without the bands its sample count needs).
    private static SampleCountStatistic? MeasureSnapshots(Image strip, Image frame, IReadOnlyList<PixelTile> tiles, int samplesPerPixel)
    {
        IReadOnlyList<int> counts = SampleCountTest.SnapshotCounts(samplesPerPixel);
        int height = tiles.Max(t => t.Height);
        if (counts.Count == 0 || strip.Height != height * StripBands(samplesPerPixel))
        {
            return null;
        }

        var inStrip = new List<Rectangle>(tiles.Count);
        int left = 0;
        foreach (PixelTile tile in tiles)
        {
            inStrip.Add(new Rectangle(left, 0, tile.Width, tile.Height));
            left += tile.Width;
        }

        var bands = new Image[counts.Count + 1];
        try
        {
            for (int k = 0; k < bands.Length; k++)
            {
                int top = (k + 1) * height;
                bands[k] = strip.Clone(c => c.Crop(new Rectangle(0, top, strip.Width, height)));
            }

            return SampleCountTest.Measure(
                frame, [.. tiles.Select(t => new Rectangle(t.X, t.Y, t.Width, t.Height))], bands[^1], bands[..^1], inStrip, counts);
        }
        finally
        {
            Array.ForEach(bands, band => band?.Dispose());
        }
    }

    public static Image? LoadImage(byte[] bytes)
    {
        try
        {
            return Image.Load(bytes);
        }
        catch (Exception ex) when (ex is ImageFormatException or UnknownImageFormatException or InvalidImageContentException or NotSupportedException)
        {
            return null;
        }
    }
}
