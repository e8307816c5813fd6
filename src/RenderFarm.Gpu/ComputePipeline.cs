using System.Runtime.InteropServices;
using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

/// <summary>
/// A compute kernel compiled for one device, with the layout its <see cref="Description"/> names: storage buffers at
/// set 0, bindings 0..<see cref="StorageBufferCount"/>-1, and a push-constant block of <see cref="PushConstantBytes"/>
/// bytes. Created by <see cref="ComputeDevice.CreatePipeline(ReadOnlySpan{byte}, KernelDescription)"/> or taken from
/// <see cref="ComputeDevice.Kernels"/>. Disposing the device releases the pipeline too; disposing it afterwards is harmless.
/// </summary>
public sealed unsafe class ComputePipeline : IDisposable, IDeviceChild
{
    private readonly Vk _vk;
    private readonly Device _device;

    private ComputePipeline(ComputeDevice owner, Vk vk, Device device, KernelDescription description, Pipeline handle, PipelineLayout layout, DescriptorSetLayout setLayout)
    {
        Owner = owner;
        _vk = vk;
        _device = device;
        Description = description;
        Handle = handle;
        Layout = layout;
        SetLayout = setLayout;
    }

    /// <summary>The kernel's name and what it binds.</summary>
    public KernelDescription Description { get; }

    /// <summary>How many storage buffers a dispatch of it must bind.</summary>
    public int StorageBufferCount => Description.StorageBufferCount;

    /// <summary>The size of the push-constant block, in bytes (a multiple of 4; 0 when there is none).</summary>
    public int PushConstantBytes => Description.PushConstantBytes;

    internal ComputeDevice Owner { get; }

    internal Pipeline Handle { get; }

    internal PipelineLayout Layout { get; }

    /// <summary>The layout of set 0 (default when the pipeline has no buffers), for the sets each recording allocates.</summary>
    internal DescriptorSetLayout SetLayout { get; }

    internal bool IsDisposed { get; private set; }

    /// <summary>Releases the pipeline. Safe to call more than once, and after the device was disposed.</summary>
    public void Dispose() => Owner.Release(this);

    /// <summary>Compiles already validated SPIR-V with the layout of <paramref name="description"/>.</summary>
    internal static ComputePipeline Create(ComputeDevice owner, Vk vk, Device device, ReadOnlySpan<byte> spirv, KernelDescription description)
    {
        // vkCreateShaderModule wants 4-byte aligned words; the caller's bytes may sit anywhere.
        uint[] code = MemoryMarshal.Cast<byte, uint>(spirv).ToArray();
        int bufferCount = description.StorageBufferCount;
        int pushBytes = description.PushConstantBytes;

        ShaderModule module = default;
        DescriptorSetLayout setLayout = default;
        PipelineLayout layout = default;
        Pipeline pipeline = default;
        nint entryPointName = Marshal.StringToCoTaskMemUTF8(description.EntryPoint);
        try
        {
            fixed (uint* pCode = code)
            {
                var moduleInfo = new ShaderModuleCreateInfo
                {
                    SType = StructureType.ShaderModuleCreateInfo,
                    CodeSize = (nuint)spirv.Length,
                    PCode = pCode,
                };
                VulkanCheck.Check(vk.CreateShaderModule(device, &moduleInfo, null, &module), "vkCreateShaderModule");
            }

            if (bufferCount > 0)
            {
                // An array, not stackalloc: the count is bounded only by the device's limit, which may be large.
                var bindings = new DescriptorSetLayoutBinding[bufferCount];
                for (int i = 0; i < bufferCount; i++)
                {
                    bindings[i] = new DescriptorSetLayoutBinding
                    {
                        Binding = (uint)i,
                        DescriptorType = DescriptorType.StorageBuffer,
                        DescriptorCount = 1,
                        StageFlags = ShaderStageFlags.ComputeBit,
                    };
                }

                fixed (DescriptorSetLayoutBinding* pBindings = bindings)
                {
                    var setLayoutInfo = new DescriptorSetLayoutCreateInfo
                    {
                        SType = StructureType.DescriptorSetLayoutCreateInfo,
                        BindingCount = (uint)bufferCount,
                        PBindings = pBindings,
                    };
                    VulkanCheck.Check(vk.CreateDescriptorSetLayout(device, &setLayoutInfo, null, &setLayout), "vkCreateDescriptorSetLayout");
                }
            }

            var pushRange = new PushConstantRange(ShaderStageFlags.ComputeBit, 0, (uint)pushBytes);
            var layoutInfo = new PipelineLayoutCreateInfo
            {
                SType = StructureType.PipelineLayoutCreateInfo,
                SetLayoutCount = bufferCount > 0 ? 1u : 0u,
                PSetLayouts = bufferCount > 0 ? &setLayout : null,
                PushConstantRangeCount = pushBytes > 0 ? 1u : 0u,
                PPushConstantRanges = pushBytes > 0 ? &pushRange : null,
            };
            VulkanCheck.Check(vk.CreatePipelineLayout(device, &layoutInfo, null, &layout), "vkCreatePipelineLayout");

            // Constant i is constant_id i, four bytes at offset 4i of the data.
            uint[] constants = description.SpecializationConstants.IsDefault ? [] : [.. description.SpecializationConstants];
            var entries = new SpecializationMapEntry[constants.Length];
            for (int i = 0; i < constants.Length; i++)
            {
                entries[i] = new SpecializationMapEntry((uint)i, (uint)(i * sizeof(uint)), sizeof(uint));
            }

            fixed (uint* pConstants = constants)
            fixed (SpecializationMapEntry* pEntries = entries)
            {
                var specialization = new SpecializationInfo
                {
                    MapEntryCount = (uint)constants.Length,
                    PMapEntries = pEntries,
                    DataSize = (nuint)(constants.Length * sizeof(uint)),
                    PData = pConstants,
                };
                var pipelineInfo = new ComputePipelineCreateInfo
                {
                    SType = StructureType.ComputePipelineCreateInfo,
                    Stage = new PipelineShaderStageCreateInfo
                    {
                        SType = StructureType.PipelineShaderStageCreateInfo,
                        Stage = ShaderStageFlags.ComputeBit,
                        Module = module,
                        PName = (byte*)entryPointName,
                        PSpecializationInfo = constants.Length > 0 ? &specialization : null,
                    },
                    Layout = layout,
                };
                VulkanCheck.Check(vk.CreateComputePipelines(device, default, 1, &pipelineInfo, null, &pipeline), "vkCreateComputePipelines");
            }

            return new ComputePipeline(owner, vk, device, description, pipeline, layout, setLayout);
        }
        catch
        {
            if (pipeline.Handle != 0)
            {
                vk.DestroyPipeline(device, pipeline, null);
            }

            if (layout.Handle != 0)
            {
                vk.DestroyPipelineLayout(device, layout, null);
            }

            if (setLayout.Handle != 0)
            {
                vk.DestroyDescriptorSetLayout(device, setLayout, null);
            }

            throw;
        }
        finally
        {
            // The pipeline keeps what it needs; the module is only an input to its creation.
            if (module.Handle != 0)
            {
                vk.DestroyShaderModule(device, module, null);
            }

            Marshal.FreeCoTaskMem(entryPointName);
        }
    }

    void IDeviceChild.DestroyHandles()
    {
        IsDisposed = true;
        _vk.DestroyPipeline(_device, Handle, null);
        _vk.DestroyPipelineLayout(_device, Layout, null);
        if (SetLayout.Handle != 0)
        {
            _vk.DestroyDescriptorSetLayout(_device, SetLayout, null);
        }
    }
}
