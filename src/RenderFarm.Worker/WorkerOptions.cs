namespace RenderFarm.Worker;

/// <summary>How a provider's worker connects and where it keeps its files.</summary>
public sealed record WorkerOptions
{
    /// <summary>The coordinator's base URL, e.g. <c>https://farm.example.com/</c>.</summary>
    public required Uri Coordinator { get; init; }

    /// <summary>The file holding the provider's Ethereum private key; created when missing.</summary>
    public required string KeyFile { get; init; }

    /// <summary>The Vulkan device to render on, or null to choose automatically.</summary>
    public int? DeviceIndex { get; init; }

    /// <summary>Where downloaded scenes and frames being uploaded are kept.</summary>
    public string CacheDirectory { get; init; } = DefaultCacheDirectory;

    /// <summary>
    /// The queues to take tasks from: <c>render</c> (frames), <c>inference</c> (batch items) and <c>validate</c> (spot
    /// checks of other providers' work). <c>validate</c> is served only when the renderer can render tiles
    /// (<see cref="ITileRenderer"/>), <c>inference</c> only with an <see cref="IInferenceRunner"/>.
    /// </summary>
    public IReadOnlyList<string> Queues { get; init; } = ["render", "inference", "validate"];

    /// <summary>A name for this worker, shown by the coordinator next to the device.</summary>
    public string? Name { get; init; }

    /// <summary>How long one lease request waits for a task (the coordinator allows at most 30).</summary>
    public int LeaseWaitSeconds { get; init; } = 20;

    /// <summary>The per-user cache folder, e.g. <c>~/.local/share/renderfarm/worker</c>.</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            string root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            return Path.Combine(root.Length > 0 ? root : Path.GetTempPath(), "renderfarm", "worker");
        }
    }
}
