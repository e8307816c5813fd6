using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

/// <summary>
/// The descriptor sets of one recording: a pool sized for it, one set per dispatch that binds buffers, all freed
/// together when the recording has completed.
/// </summary>
internal sealed unsafe class DescriptorArena : IDisposable
{
    private readonly Vk _vk;
    private readonly Device _device;
    private readonly DescriptorPool _pool;

    public DescriptorArena(Vk vk, Device device, uint setCount, uint descriptorCount)
    {
        _vk = vk;
        _device = device;
        if (setCount == 0)
        {
            return;
        }

        var poolSize = new DescriptorPoolSize(DescriptorType.StorageBuffer, descriptorCount);
        var poolInfo = new DescriptorPoolCreateInfo
        {
            SType = StructureType.DescriptorPoolCreateInfo,
            MaxSets = setCount,
            PoolSizeCount = 1,
            PPoolSizes = &poolSize,
        };
        DescriptorPool pool;
        VulkanCheck.Check(_vk.CreateDescriptorPool(_device, &poolInfo, null, &pool), "vkCreateDescriptorPool");
        _pool = pool;
    }

    /// <summary>Allocates a set of <paramref name="layout"/> with <paramref name="buffers"/>[i] at binding i.</summary>
    public DescriptorSet Bind(DescriptorSetLayout layout, IReadOnlyList<GpuBuffer> buffers)
    {
        var allocateInfo = new DescriptorSetAllocateInfo
        {
            SType = StructureType.DescriptorSetAllocateInfo,
            DescriptorPool = _pool,
            DescriptorSetCount = 1,
            PSetLayouts = &layout,
        };
        DescriptorSet set;
        VulkanCheck.Check(_vk.AllocateDescriptorSets(_device, &allocateInfo, &set), "vkAllocateDescriptorSets");

        // Arrays, not stackalloc: the count is bounded only by the device's limit, which may be large.
        var infos = new DescriptorBufferInfo[buffers.Count];
        var writes = new WriteDescriptorSet[buffers.Count];
        fixed (DescriptorBufferInfo* pInfos = infos)
        fixed (WriteDescriptorSet* pWrites = writes)
        {
            for (int i = 0; i < buffers.Count; i++)
            {
                pInfos[i] = new DescriptorBufferInfo(buffers[i].Handle, 0, Vk.WholeSize);
                pWrites[i] = new WriteDescriptorSet
                {
                    SType = StructureType.WriteDescriptorSet,
                    DstSet = set,
                    DstBinding = (uint)i,
                    DescriptorCount = 1,
                    DescriptorType = DescriptorType.StorageBuffer,
                    PBufferInfo = &pInfos[i],
                };
            }

            _vk.UpdateDescriptorSets(_device, (uint)buffers.Count, pWrites, 0, null);
        }

        return set;
    }

    /// <summary>Frees every set of the arena; the recording that used them must have completed.</summary>
    public void Dispose()
    {
        if (_pool.Handle != 0)
        {
            _vk.DestroyDescriptorPool(_device, _pool, null);
        }
    }
}
