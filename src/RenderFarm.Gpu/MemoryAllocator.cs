using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace RenderFarm.Gpu;

/// <summary>Creates buffers bound to their own memory, of the best memory type the device offers for their use.</summary>
internal sealed unsafe class MemoryAllocator
{
    private readonly Vk _vk;
    private readonly Device _device;
    private readonly PhysicalDeviceMemoryProperties _properties;
    private readonly string _deviceName;

    public MemoryAllocator(Vk vk, Device device, PhysicalDeviceMemoryProperties properties, string deviceName)
    {
        _vk = vk;
        _device = device;
        _properties = properties;
        _deviceName = deviceName;
    }

    /// <summary>
    /// Creates a buffer bound to fresh memory of a type having <paramref name="required"/> flags, preferring one
    /// that also has <paramref name="preferred"/>.
    /// </summary>
    public (VkBuffer Buffer, DeviceMemory Memory, MemoryPropertyFlags Flags) CreateBuffer(
        ulong size, BufferUsageFlags usage, MemoryPropertyFlags required, MemoryPropertyFlags preferred)
    {
        var bufferInfo = new BufferCreateInfo
        {
            SType = StructureType.BufferCreateInfo,
            Size = size,
            Usage = usage,
            SharingMode = SharingMode.Exclusive,
        };

        VkBuffer buffer;
        VulkanCheck.Check(_vk.CreateBuffer(_device, &bufferInfo, null, &buffer), "vkCreateBuffer");

        DeviceMemory memory = default;
        try
        {
            MemoryRequirements requirements;
            _vk.GetBufferMemoryRequirements(_device, buffer, &requirements);

            int type = FindMemoryType(requirements.MemoryTypeBits, preferred);
            if (type < 0)
            {
                type = FindMemoryType(requirements.MemoryTypeBits, required);
            }

            if (type < 0 && required == MemoryPropertyFlags.DeviceLocalBit)
            {
                // Device-local is a preference for storage buffers; any memory the buffer accepts will do.
                type = FindMemoryType(requirements.MemoryTypeBits, 0);
            }

            if (type < 0)
            {
                throw new InvalidOperationException($"{_deviceName} has no memory type with {required} for a buffer.");
            }

            var allocateInfo = new MemoryAllocateInfo
            {
                SType = StructureType.MemoryAllocateInfo,
                AllocationSize = requirements.Size,
                MemoryTypeIndex = (uint)type,
            };
            VulkanCheck.Check(_vk.AllocateMemory(_device, &allocateInfo, null, &memory), "vkAllocateMemory");
            VulkanCheck.Check(_vk.BindBufferMemory(_device, buffer, memory, 0), "vkBindBufferMemory");
            return (buffer, memory, _properties.MemoryTypes[type].PropertyFlags);
        }
        catch
        {
            Destroy(buffer, memory);
            throw;
        }
    }

    /// <summary>Maps the whole of <paramref name="memory"/>; on failure destroys the buffer and its memory.</summary>
    public byte* MapOrDestroy(VkBuffer buffer, DeviceMemory memory)
    {
        void* pointer;
        Result result = _vk.MapMemory(_device, memory, 0, Vk.WholeSize, 0, &pointer);
        if (result != Result.Success)
        {
            Destroy(buffer, memory);
            throw VulkanCheck.Failure(result, "vkMapMemory");
        }

        return (byte*)pointer;
    }

    public void Destroy(VkBuffer buffer, DeviceMemory memory)
    {
        if (buffer.Handle != 0)
        {
            _vk.DestroyBuffer(_device, buffer, null);
        }

        if (memory.Handle != 0)
        {
            // Freeing memory also unmaps it.
            _vk.FreeMemory(_device, memory, null);
        }
    }

    private int FindMemoryType(uint typeBits, MemoryPropertyFlags flags)
    {
        for (int i = 0; i < (int)_properties.MemoryTypeCount; i++)
        {
            if ((typeBits & (1u << i)) != 0 && (_properties.MemoryTypes[i].PropertyFlags & flags) == flags)
            {
                return i;
            }
        }

        return -1;
    }
}
