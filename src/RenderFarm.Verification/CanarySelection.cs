namespace RenderFarm.Verification;

/// <summary>Whether one verified output goes back into the work queue as a known-answer canary, and why.</summary>
/// <param name="Chosen">Whether it becomes a canary.</param>
/// <param name="Rate">The canary rate that applied.</param>
/// <param name="FirstInJob">Whether it was chosen as the job's first known answer.</param>
/// <param name="Draw">The keyed draw in [0, 1) compared with <paramref name="Rate"/>.</param>
public sealed record CanaryDecision(bool Chosen, double Rate, bool FirstInJob, double Draw)
{
    /// <summary>The reason, for people.</summary>
    public string Reason => FirstInJob
        ? FormattableString.Invariant($"canary: the job's first known answer (rate {Rate:0.###})")
        : FormattableString.Invariant($"canary: drawn at rate {Rate:0.###}");
}

/// <summary>
/// Which verified outputs are sent again, as known-answer canaries, to providers that had no part in them. A known
/// answer is an output two providers agree on: it passed its whole-output re-execution and its task was verified. A
/// canary is granted exactly like a one-frame task, so a provider cannot tell it from paid work by the grant; its answer
/// is compared with the known one, and a wrong answer is proof on its own: the known answer already holds two of
/// three votes. The job's first known answer always becomes a canary (when the rate is above 0), every later one with
/// the rate, drawn with <c>HMAC-SHA256(secret, …)</c> over (job, frame, output hash) like the whole-frame samples.
/// </summary>
public sealed class CanarySelection
{
    /// <summary>Default share of known answers sent again as canaries.</summary>
    public const double DefaultRate = 0.2;

    private static readonly byte[] s_context = "RenderFarm.Canary/1"u8.ToArray();

    private readonly byte[] _secret;

    /// <summary>Creates a policy.</summary>
    /// <param name="secret">The coordinator's secret, at least <see cref="SpotCheckPlan.MinSecretLength"/> bytes.</param>
    /// <param name="rate">Share of known answers sent as canaries, in [0, 1]; 0 sends none, not even the first.</param>
    public CanarySelection(ReadOnlySpan<byte> secret, double rate = DefaultRate)
    {
        if (secret.Length < SpotCheckPlan.MinSecretLength)
        {
            throw new ArgumentException($"The secret must hold at least {SpotCheckPlan.MinSecretLength} bytes.", nameof(secret));
        }

        if (!(rate >= 0 && rate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "A canary rate must lie in [0, 1].");
        }

        _secret = secret.ToArray();
        Rate = rate;
    }

    /// <summary>Share of known answers sent as canaries.</summary>
    public double Rate { get; }

    /// <summary>Decides for one known answer.</summary>
    /// <param name="jobId">The job.</param>
    /// <param name="frame">The frame (or inference item).</param>
    /// <param name="outputSha256">SHA-256 of the agreed output, so a redone frame gets a fresh draw.</param>
    /// <param name="firstInJob">Whether the job has no canary yet.</param>
    public CanaryDecision Decide(Guid jobId, int frame, string outputSha256, bool firstInJob)
    {
        ArgumentNullException.ThrowIfNull(outputSha256);
        double draw = KeyedDraw.Of(_secret, s_context, jobId, frame, outputSha256.ToLowerInvariant());
        bool first = firstInJob && Rate > 0;
        return new CanaryDecision(first || draw < Rate, Rate, first, draw);
    }
}
