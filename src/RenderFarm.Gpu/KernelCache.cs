namespace RenderFarm.Gpu;

/// <summary>
/// The compiled kernels of one <see cref="ComputeDevice"/>, created on first use and kept until the device is
/// disposed, so every user of the device (the path tracer, inference sessions) shares one pipeline per kernel.
/// Pipelines handed out here belong to the cache: callers must not dispose them.
/// </summary>
public sealed class KernelCache
{
    private readonly Lock _sync = new();
    private readonly ComputeDevice _device;
    private readonly Dictionary<string, ComputePipeline> _pipelines = new(StringComparer.Ordinal);

    internal KernelCache(ComputeDevice device)
    {
        _device = device;
    }

    /// <summary>How many kernels have been compiled on this device.</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _pipelines.Count;
            }
        }
    }

    /// <summary>
    /// Returns the pipeline of <paramref name="description"/>, creating it from the code <paramref name="loadSpirv"/>
    /// returns the first time the kernel is asked for with these specialization constants.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// A kernel of the same name and specialization constants was created before with a different description.
    /// </exception>
    public ComputePipeline Get(KernelDescription description, Func<byte[]> loadSpirv)
    {
        ArgumentNullException.ThrowIfNull(description);
        ArgumentNullException.ThrowIfNull(loadSpirv);
        lock (_sync)
        {
            if (_pipelines.TryGetValue(description.CacheKey, out ComputePipeline? existing) && !existing.IsDisposed)
            {
                if (existing.Description != description)
                {
                    throw new ArgumentException(
                        $"Kernel '{description.Name}' was created as {existing.Description}, not {description}.", nameof(description));
                }

                return existing;
            }

            ComputePipeline pipeline = _device.CreatePipeline(loadSpirv(), description);
            _pipelines[description.CacheKey] = pipeline;
            return pipeline;
        }
    }
}
