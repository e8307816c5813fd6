namespace RenderFarm.Coordinator;

/// <summary>Settings of the coordinator, bound from the configuration section <see cref="SectionName"/>.</summary>
public sealed class CoordinatorOptions
{
    /// <summary>The configuration section the options are read from.</summary>
    public const string SectionName = "Coordinator";

    /// <summary>
    /// Secret (at least 32 characters; e.g. <c>openssl rand -hex 32</c>) that signs login challenges and provider
    /// tokens. Required outside Development (see <see cref="CoordinatorSecrets"/>); in Development an empty one is
    /// generated once and kept in the farm store, so tokens outlive a restart.
    /// </summary>
    public string TokenSigningKey { get; set; } = "";

    /// <summary>How long a login challenge may be used.</summary>
    public TimeSpan ChallengeLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest <see cref="TokenLifetime"/> accepted: a stolen token must not work for days.</summary>
    public static readonly TimeSpan MaxTokenLifetime = TimeSpan.FromHours(24);

    /// <summary>How long a provider token works; at most <see cref="MaxTokenLifetime"/>.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long a lease lasts without a heartbeat.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often providers are told to send heartbeats; well below <see cref="LeaseDuration"/>.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Largest scene upload accepted, in bytes.</summary>
    public long MaxSceneBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Largest frame a provider may upload through the coordinator's object endpoint, in bytes.</summary>
    public long MaxObjectBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Most tasks one job may be split into.</summary>
    public int MaxTasksPerJob { get; set; } = 10_000;

    /// <summary>
    /// A task fails for good once this many distinct providers with standing failed it (or let its lease lapse); see
    /// <see cref="ProviderLimits"/> for standing and for failures from fresh providers.
    /// </summary>
    public int MaxFailuresPerTask { get; set; } = 3;

    /// <summary>A provider that failed this many of a job's tasks gets no more tasks of that job.</summary>
    public int MaxFailuresPerProviderPerJob { get; set; } = 2;

    /// <summary>Lifetime of the presigned URLs handed to providers.</summary>
    public TimeSpan PresignedUrlLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Cron expression (seconds allowed) of the maintenance run that puts lapsed leases back.</summary>
    public string MaintenanceCron { get; set; } = "*/10 * * * * *";

    /// <summary>Providers whose last request is older than this disappear from the dashboard's servers.</summary>
    public TimeSpan ProviderTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How many of the newest jobs the maintenance run scans for lapsed leases.</summary>
    public int MaintenanceJobScanLimit { get; set; } = 1000;

    /// <summary>
    /// Key operators present to open the Hangfire dashboard outside Development: HTTP basic
    /// authentication with any user name and this password, or the <c>X-Operator-Key</c> header.
    /// Required (at least 16 characters) outside Development, where the dashboard needs no key.
    /// </summary>
    public string OperatorKey { get; set; } = "";

    /// <summary>
    /// The URL providers reach this coordinator at, for presigned URLs of the local-directory object
    /// store (e.g. <c>http://coordinator:8080/</c>). When empty the first address the server bound is used.
    /// </summary>
    public Uri? PublicUrl { get; set; }

    /// <summary>
    /// Whether every delivered frame is spot-checked by another provider before its task counts as done (and its
    /// provider may be paid). On by default; a farm with a single provider cannot finish jobs with it on.
    /// </summary>
    public bool SpotChecks { get; set; } = true;

    /// <summary>Providers the operator trusts: their frames skip cross-checks (<see cref="Leasing.ProviderTrustOptions"/>).</summary>
    public Leasing.ProviderTrustOptions Providers { get; } = new();

    /// <summary>
    /// Secret (at least 16 characters) that decides which tiles of a frame are spot-checked and seals lease ids; never
    /// shown to providers. Required outside Development; in Development an empty one is generated once and kept in the
    /// farm store, so lease ids outlive a restart.
    /// </summary>
    public string SpotCheckSecret { get; set; } = "";

    /// <summary>Side of a spot-checked tile in pixels.</summary>
    public int SpotCheckTileSize { get; set; } = 8;

    /// <summary>Largest share of a frame's pixels a spot check re-renders (frames too small for one tile within it get one tile).</summary>
    public double SpotCheckMaxCostShare { get; set; } = 0.03;

    /// <summary>Most spot checks of one delivered frame; when they still disagree, the output is redone without blame.</summary>
    public int MaxChecksPerFrame { get; set; } = 4;

    /// <summary>Whole tokens of stake slashed from a provider proven to cheat on a job (at most its stake).</summary>
    public long SlashTokens { get; set; } = 10;

    /// <summary>
    /// Whole tokens a provider must have staked on the ledger to sign in; 0 lets anyone in. Only checked when the
    /// coordinator has a ledger.
    /// </summary>
    public long MinimumStakeTokens { get; set; }

    /// <summary>
    /// Whether a sampled share of delivered frames is re-rendered whole by another provider (queue <c>validate</c>)
    /// besides their spot check: every provider's first delivered frame of a job, and others at the rates below,
    /// chosen with <see cref="SpotCheckSecret"/>. Needs <see cref="SpotChecks"/>.
    /// </summary>
    public bool WholeFrameSamples { get; set; } = true;

    /// <summary>Share of an established provider's frames re-rendered whole.</summary>
    public double WholeFrameSampleRate { get; set; } = 0.05;

    /// <summary>Share re-rendered whole for providers with fewer than <see cref="NewProviderVerifiedFrames"/> verified frames.</summary>
    public double NewProviderSampleRate { get; set; } = 0.25;

    /// <summary>Verified frames (all jobs) below which a provider counts as new.</summary>
    public long NewProviderVerifiedFrames { get; set; } = 100;

    /// <summary>Share re-rendered whole for providers proven wrong before, as renderers or as validators.</summary>
    public double SuspectProviderSampleRate { get; set; } = 0.5;

    /// <summary>
    /// Largest pHash Hamming distance between a whole-frame re-render and the delivered frame. Honest renders measure 0;
    /// cheap cheats 0–6 (caught by the pixel blocks instead); wrong pictures 20 and more.
    /// </summary>
    public int MaxWholeFramePHashDistance { get; set; } = 10;

    /// <summary>
    /// Share of known answers (outputs whose task was verified and that passed a whole-output re-execution) sent again
    /// on the job's work queue as canaries to a provider that had no part in them; the job's first known answer always
    /// is. 0 sends none. Needs <see cref="WholeFrameSamples"/>, which make the known answers.
    /// </summary>
    public double CanaryRate { get; set; } = Verification.CanarySelection.DefaultRate;

    /// <summary>Throws when a value is out of range or a secret unusable (see <see cref="CoordinatorSecrets"/>), naming it.</summary>
    /// <param name="isDevelopment">Whether the host runs in Development, where secrets may be left empty.</param>
    internal void Validate(bool isDevelopment)
    {
        CoordinatorSecrets.Validate(this, isDevelopment);
        Providers.Validate();
        static void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                throw new InvalidOperationException($"{SectionName}:{name} must be positive; got {value}.");
            }
        }

        Positive(ChallengeLifetime, nameof(ChallengeLifetime));
        Positive(TokenLifetime, nameof(TokenLifetime));
        Positive(LeaseDuration, nameof(LeaseDuration));
        Positive(HeartbeatInterval, nameof(HeartbeatInterval));
        Positive(PresignedUrlLifetime, nameof(PresignedUrlLifetime));
        Positive(ProviderTimeout, nameof(ProviderTimeout));
        if (TokenLifetime > MaxTokenLifetime)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(TokenLifetime)} must be at most {MaxTokenLifetime}; got {TokenLifetime}.");
        }

        if (HeartbeatInterval >= LeaseDuration)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(HeartbeatInterval)} must be shorter than {nameof(LeaseDuration)}.");
        }

        if (MaxSceneBytes < 1 || MaxObjectBytes < 1 || MaxTasksPerJob < 1 || MaxFailuresPerTask < 1
            || MaxFailuresPerProviderPerJob < 1 || MaintenanceJobScanLimit < 1)
        {
            throw new InvalidOperationException($"{SectionName}: sizes, limits and failure counts must be at least 1.");
        }

        if (MinimumStakeTokens < 0)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MinimumStakeTokens)} must not be negative.");
        }

        if (SlashTokens < 0)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(SlashTokens)} must not be negative.");
        }

        if (SpotCheckTileSize < 1 || !(SpotCheckMaxCostShare > 0 && SpotCheckMaxCostShare <= 1) || MaxChecksPerFrame < 2)
        {
            throw new InvalidOperationException($"{SectionName}: spot checks need a tile size of at least 1, a cost share in (0, 1] and at least 2 checks per frame.");
        }

        if (!(WholeFrameSampleRate is >= 0 and <= 1) || !(NewProviderSampleRate is >= 0 and <= 1) || !(SuspectProviderSampleRate is >= 0 and <= 1)
            || NewProviderVerifiedFrames < 0 || MaxWholeFramePHashDistance is < 0 or > 64)
        {
            throw new InvalidOperationException($"{SectionName}: whole-frame sampling rates must lie in [0, 1], {nameof(NewProviderVerifiedFrames)} must not be negative and {nameof(MaxWholeFramePHashDistance)} must lie in [0, 64].");
        }

        if (!(CanaryRate is >= 0 and <= 1))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(CanaryRate)} must lie in [0, 1]; got {CanaryRate}.");
        }
    }
}
