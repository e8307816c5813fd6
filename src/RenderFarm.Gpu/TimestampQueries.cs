using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

/// <summary>
/// Two timestamp queries around the work of one recording, read back as GPU execution time. Created only on
/// queues that can write timestamps.
/// </summary>
internal sealed unsafe class TimestampQueries : IDisposable
{
    private readonly Vk _vk;
    private readonly Device _device;
    private readonly QueryPool _pool;
    private readonly float _periodNs;
    private readonly ulong _mask;

    public TimestampQueries(Vk vk, Device device, float periodNs, uint validBits)
    {
        _vk = vk;
        _device = device;
        _periodNs = periodNs;
        _mask = validBits >= 64 ? ulong.MaxValue : (1UL << (int)validBits) - 1;
        var queryInfo = new QueryPoolCreateInfo
        {
            SType = StructureType.QueryPoolCreateInfo,
            QueryType = QueryType.Timestamp,
            QueryCount = 2,
        };
        QueryPool pool;
        VulkanCheck.Check(_vk.CreateQueryPool(_device, &queryInfo, null, &pool), "vkCreateQueryPool");
        _pool = pool;
    }

    /// <summary>Records the reset of both queries and the start stamp, before the timed work.</summary>
    public void WriteStart(CommandBuffer commands)
    {
        _vk.CmdResetQueryPool(commands, _pool, 0, 2);
        _vk.CmdWriteTimestamp(commands, PipelineStageFlags.TopOfPipeBit, _pool, 0);
    }

    /// <summary>Records the end stamp, after the timed work.</summary>
    public void WriteEnd(CommandBuffer commands) =>
        _vk.CmdWriteTimestamp(commands, PipelineStageFlags.BottomOfPipeBit, _pool, 1);

    /// <summary>The time between the two stamps of the last submission, rounded up to 100 ns ticks.</summary>
    public TimeSpan Read()
    {
        ulong* stamps = stackalloc ulong[2];
        VulkanCheck.Check(
            _vk.GetQueryPoolResults(
                _device, _pool, 0, 2, 2 * sizeof(ulong), stamps, sizeof(ulong), QueryResultFlags.Result64Bit | QueryResultFlags.ResultWaitBit),
            "vkGetQueryPoolResults");

        // Masking the difference keeps it right when a counter narrower than 64 bits wraps.
        ulong ticks = (stamps[1] - stamps[0]) & _mask;
        double nanoseconds = ticks * (double)_periodNs;

        // Rounded up so a real but sub-100 ns measurement does not read as zero time.
        return TimeSpan.FromTicks((long)Math.Ceiling(nanoseconds / 100.0));
    }

    public void Dispose() => _vk.DestroyQueryPool(_device, _pool, null);
}
