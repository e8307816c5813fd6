namespace RenderFarm.Verification;

/// <summary>How a provider stands for whole-frame sampling, from its counters across all jobs.</summary>
public enum ProviderStanding
{
    /// <summary>Enough verified frames and never caught.</summary>
    Established,

    /// <summary>Fewer verified frames than the policy's threshold, never caught.</summary>
    New,

    /// <summary>Proven wrong at least once (as a renderer or as a validator).</summary>
    Suspect,
}

/// <summary>Whether one delivered frame is re-rendered whole, and why.</summary>
/// <param name="Sampled">Whether the frame gets a whole-frame re-render.</param>
/// <param name="Rate">The sampling rate that applied to the provider.</param>
/// <param name="Standing">The provider's standing that chose the rate.</param>
/// <param name="FirstInJob">Whether the frame was sampled as the provider's first delivered frame of the job.</param>
/// <param name="Draw">The keyed draw in [0, 1) compared with <paramref name="Rate"/>.</param>
public sealed record WholeFrameSampleDecision(bool Sampled, double Rate, ProviderStanding Standing, bool FirstInJob, double Draw)
{
    /// <summary>The reason, for people: the rate, the standing and whether the first-frame rule applied.</summary>
    public string Reason => FirstInJob
        ? FormattableString.Invariant($"first frame of the provider in the job (rate {Rate:0.###}, {Standing.ToString().ToLowerInvariant()} provider)")
        : FormattableString.Invariant($"{(Sampled ? "drawn" : "not drawn")} at rate {Rate:0.###} ({Standing.ToString().ToLowerInvariant()} provider)");
}

/// <summary>
/// Which delivered frames are re-rendered whole by another provider. Every provider's first delivered frame of a
/// job is; every other frame is with a rate that depends on the provider's standing: higher for providers with few
/// verified frames and highest for providers caught before. The draw is <c>HMAC-SHA256(secret, context)</c> over
/// (job, frame, provider address in lowercase), read as a 53-bit fraction: a provider without the coordinator's
/// secret cannot tell which of its frames will be sampled, and an auditor given the secret can recompute every
/// decision from the rates recorded with the checks.
/// </summary>
public sealed class WholeFrameSampling
{
    /// <summary>Default rate for established providers.</summary>
    public const double DefaultRate = 0.05;

    /// <summary>Default rate for providers with fewer than <see cref="DefaultNewProviderFrames"/> verified frames.</summary>
    public const double DefaultNewProviderRate = 0.25;

    /// <summary>Default rate for providers caught before.</summary>
    public const double DefaultSuspectProviderRate = 0.5;

    /// <summary>Default number of verified frames below which a provider counts as new.</summary>
    public const long DefaultNewProviderFrames = 100;

    private static readonly byte[] s_context = "RenderFarm.WholeFrameSample/1"u8.ToArray();

    private readonly byte[] _secret;

    /// <summary>Creates a policy.</summary>
    /// <param name="secret">The coordinator's secret, at least <see cref="SpotCheckPlan.MinSecretLength"/> bytes; never shown to providers.</param>
    /// <param name="rate">Rate for established providers, in [0, 1].</param>
    /// <param name="newProviderRate">Rate for new providers, in [0, 1].</param>
    /// <param name="suspectProviderRate">Rate for providers caught before, in [0, 1].</param>
    /// <param name="newProviderFrames">Verified frames below which a provider is new; 0 makes nobody new.</param>
    public WholeFrameSampling(
        ReadOnlySpan<byte> secret,
        double rate = DefaultRate,
        double newProviderRate = DefaultNewProviderRate,
        double suspectProviderRate = DefaultSuspectProviderRate,
        long newProviderFrames = DefaultNewProviderFrames)
    {
        if (secret.Length < SpotCheckPlan.MinSecretLength)
        {
            throw new ArgumentException($"The secret must hold at least {SpotCheckPlan.MinSecretLength} bytes.", nameof(secret));
        }

        CheckRate(rate, nameof(rate));
        CheckRate(newProviderRate, nameof(newProviderRate));
        CheckRate(suspectProviderRate, nameof(suspectProviderRate));
        ArgumentOutOfRangeException.ThrowIfNegative(newProviderFrames);
        _secret = secret.ToArray();
        Rate = rate;
        NewProviderRate = newProviderRate;
        SuspectProviderRate = suspectProviderRate;
        NewProviderFrames = newProviderFrames;
    }

    /// <summary>Rate for established providers.</summary>
    public double Rate { get; }

    /// <summary>Rate for new providers.</summary>
    public double NewProviderRate { get; }

    /// <summary>Rate for providers caught before.</summary>
    public double SuspectProviderRate { get; }

    /// <summary>Verified frames below which a provider is new.</summary>
    public long NewProviderFrames { get; }

    /// <summary>A provider's standing from its counters and whether its bias evidence crossed the threshold (<see cref="ProviderEvidence"/>).</summary>
    public ProviderStanding StandingOf(long verifiedFrames, int timesCaught, bool biased = false) =>
        timesCaught > 0 || biased ? ProviderStanding.Suspect
        : verifiedFrames < NewProviderFrames ? ProviderStanding.New
        : ProviderStanding.Established;

    /// <summary>The rate for a standing.</summary>
    public double RateOf(ProviderStanding standing) => standing switch
    {
        ProviderStanding.Suspect => SuspectProviderRate,
        ProviderStanding.New => NewProviderRate,
        _ => Rate,
    };

    /// <summary>Decides whether one delivered frame is re-rendered whole.</summary>
    /// <param name="jobId">The job.</param>
    /// <param name="frame">The frame.</param>
    /// <param name="provider">The provider that delivered it (compared without regard to case).</param>
    /// <param name="verifiedFrames">The provider's verified frames so far, all jobs.</param>
    /// <param name="timesCaught">How often the provider was proven wrong so far, all jobs.</param>
    /// <param name="firstInJob">Whether no whole-frame sample of this provider exists in the job yet.</param>
    /// <param name="biased">Whether the provider's bias evidence crossed the threshold (<see cref="ProviderEvidence.IsBiased"/>): sampled as a suspect.</param>
    public WholeFrameSampleDecision Decide(Guid jobId, int frame, string provider, long verifiedFrames, int timesCaught, bool firstInJob, bool biased = false)
    {
        ProviderStanding standing = StandingOf(verifiedFrames, timesCaught, biased);
        double rate = RateOf(standing);
        double draw = Draw(_secret, jobId, frame, provider);
        return new WholeFrameSampleDecision(firstInJob || draw < rate, rate, standing, firstInJob, draw);
    }

    /// <summary>The keyed draw in [0, 1) of one (job, frame, provider); a frame is sampled when it lies below the rate.</summary>
    public static double Draw(ReadOnlySpan<byte> secret, Guid jobId, int frame, string provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        return KeyedDraw.Of(secret, s_context, jobId, frame, provider.ToLowerInvariant());
    }

    private static void CheckRate(double rate, string name)
    {
        if (!(rate >= 0 && rate <= 1))
        {
            throw new ArgumentOutOfRangeException(name, rate, "A sampling rate must lie in [0, 1].");
        }
    }
}
