namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Hangfire queue names. Providers ask for a kind of work ("render"); each kind is served from three
/// Hangfire queues, one per priority band, fetched highest first.
/// </summary>
/// <remarks>
/// Hangfire.InMemory takes from the queues in the order of the array given to FetchNextJob, while
/// Hangfire.PostgreSql orders by queue name (<c>ORDER BY fetchedat NULLS FIRST, queue, jobid</c>) and
/// ignores that order. The band names therefore sort alphabetically in priority order under any
/// collation (they differ first in a digit), and the array is passed in that order too, so both
/// storages serve the high band first.
/// </remarks>
internal static class FarmQueues
{
    /// <summary>The kind of work providers ask for.</summary>
    public const string Render = "render";

    /// <summary>Batch-inference tasks (one Hangfire queue of that name).</summary>
    public const string Inference = "inference";

    /// <summary>Spot checks of delivered frames, taken by providers (one Hangfire queue of that name).</summary>
    public const string Validate = "validate";

    /// <summary>Where jobs are split into tasks (coordinator server).</summary>
    public const string Split = "split";

    /// <summary>Settlement of completed jobs on the ledger (coordinator server).</summary>
    public const string Settle = "settle";

    /// <summary>Lease expiry and other upkeep (coordinator server).</summary>
    public const string Maintenance = "maintenance";

    /// <summary>Priority above zero.</summary>
    public const string RenderHigh = "render_0_high";

    /// <summary>Priority zero.</summary>
    public const string RenderNormal = "render_1_normal";

    /// <summary>Priority below zero.</summary>
    public const string RenderLow = "render_2_low";

    /// <summary>Queues a coordinator's own Hangfire server processes; never the provider queues.</summary>
    public static readonly string[] CoordinatorQueues = [Split, Settle, Maintenance];

    private static readonly string[] s_renderQueues = [RenderHigh, RenderNormal, RenderLow];

    /// <summary>The Hangfire queue of a task of a job: <see cref="Inference"/>, or the render band of its priority.</summary>
    public static string For(Core.Farm.RenderJobSpec spec) => spec.Inference is null ? ForPriority(spec.Priority) : Inference;

    /// <summary>The Hangfire queue of a render task of a job with <paramref name="priority"/>.</summary>
    public static string ForPriority(int priority) => priority switch
    {
        > 0 => RenderHigh,
        0 => RenderNormal,
        _ => RenderLow,
    };

    /// <summary>The Hangfire queues behind the kinds of work a provider asked for, highest priority first.</summary>
    /// <exception cref="CoordinatorException">A kind is unknown.</exception>
    public static string[] Expand(IReadOnlyList<string> kinds)
    {
        if (kinds.Count == 0)
        {
            throw new CoordinatorException(400, "Queues must name at least one kind of work, e.g. [\"render\"].");
        }

        bool render = false, validate = false, inference = false;
        foreach (string kind in kinds)
        {
            switch (kind)
            {
                case Render:
                    render = true;
                    break;
                case Validate:
                    validate = true;
                    break;
                case Inference:
                    inference = true;
                    break;
                default:
                    throw new CoordinatorException(400, $"Unknown queue '{kind}'; this coordinator serves [\"render\", \"inference\", \"validate\"].");
            }
        }

        // Spot checks first: they are small and each one holds back a finished frame.
        return [.. validate ? [Validate] : Array.Empty<string>(), .. inference ? [Inference] : Array.Empty<string>(), .. render ? s_renderQueues : []];
    }
}
