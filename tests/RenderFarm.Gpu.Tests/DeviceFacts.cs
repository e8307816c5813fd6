using RenderFarm.Gpu;
using Xunit;

namespace RenderFarm.Gpu.Tests;

[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class DeviceFacts
{
    [Fact]
    public void EnumerateDevices_lists_the_cpu_renderer_with_sane_fields()
    {
        IReadOnlyList<GpuDeviceInfo> devices = ComputeDevice.EnumerateDevices();

        Assert.NotEmpty(devices);
        for (int i = 0; i < devices.Count; i++)
        {
            GpuDeviceInfo device = devices[i];
            Assert.Equal(i, device.Index);
            Assert.False(string.IsNullOrWhiteSpace(device.Name));
            Assert.Matches(@"^\d+\.\d+\.\d+$", device.ApiVersion);
            Assert.StartsWith($"{i}: {device.Name} [{device.Kind}", device.ToString(), StringComparison.Ordinal);
        }

        // This machine (and CI) renders with Mesa lavapipe; production GPUs add to the list.
        GpuDeviceInfo lavapipe = Assert.Single(devices, d => d.Name.StartsWith("llvmpipe", StringComparison.Ordinal));
        Assert.Equal(GpuDeviceKind.Cpu, lavapipe.Kind);
        Assert.Equal("llvmpipe", lavapipe.DriverName);
        Assert.StartsWith("Mesa ", lavapipe.DriverInfo, StringComparison.Ordinal);
        Assert.Equal(0x10005u, lavapipe.VendorId);
        Assert.True(lavapipe.DeviceLocalMemoryBytes > 0);
        Assert.True(lavapipe.SupportsTimestamps);
        Assert.True(new Version(lavapipe.ApiVersion) >= new Version(1, 2), lavapipe.ApiVersion);
        Assert.Contains("[Cpu, llvmpipe Mesa ", lavapipe.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Open_without_index_picks_the_most_capable_device()
    {
        IReadOnlyList<GpuDeviceInfo> devices = ComputeDevice.EnumerateDevices();
        using var environment = new EnvironmentVariableScope(ComputeDevice.DeviceEnvironmentVariable, null);

        using ComputeDevice device = ComputeDevice.Open();

        GpuDeviceKind[] preference = [GpuDeviceKind.DiscreteGpu, GpuDeviceKind.IntegratedGpu, GpuDeviceKind.VirtualGpu, GpuDeviceKind.Cpu, GpuDeviceKind.Other];
        GpuDeviceKind best = preference.First(kind => devices.Any(d => d.Kind == kind));
        Assert.Equal(best, device.Info.Kind);
        Assert.Equal(devices[device.Info.Index], device.Info);
    }

    [Fact]
    public void Open_with_an_index_opens_that_device()
    {
        using ComputeDevice device = ComputeDevice.Open(0);

        Assert.Equal(ComputeDevice.EnumerateDevices()[0], device.Info);
    }

    [Fact]
    public void Open_with_a_missing_index_lists_the_devices()
    {
        var ex = Assert.Throws<GpuUnavailableException>(() => ComputeDevice.Open(99));

        Assert.Contains("99 does not exist", ex.Message, StringComparison.Ordinal);
        foreach (GpuDeviceInfo device in ComputeDevice.EnumerateDevices())
        {
            Assert.Contains(device.ToString(), ex.Message, StringComparison.Ordinal);
        }

        Assert.IsAssignableFrom<Core.UserInputException>(ex);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Open_with_a_negative_index_lists_the_devices()
    {
        var ex = Assert.Throws<GpuUnavailableException>(() => ComputeDevice.Open(-1));

        Assert.Contains("Available devices: 0: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variable_chooses_the_device_when_no_index_is_given()
    {
        int last = ComputeDevice.EnumerateDevices().Count - 1;
        using var environment = new EnvironmentVariableScope(ComputeDevice.DeviceEnvironmentVariable, last.ToString(System.Globalization.CultureInfo.InvariantCulture));

        using ComputeDevice device = ComputeDevice.Open();

        Assert.Equal(last, device.Info.Index);
    }

    [Fact]
    public void Environment_variable_with_a_missing_index_names_the_variable()
    {
        using var environment = new EnvironmentVariableScope(ComputeDevice.DeviceEnvironmentVariable, "99");

        var ex = Assert.Throws<GpuUnavailableException>(() => ComputeDevice.Open());

        Assert.Contains($"{ComputeDevice.DeviceEnvironmentVariable}=99 does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Available devices: 0: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variable_that_is_not_a_number_is_rejected()
    {
        using var environment = new EnvironmentVariableScope(ComputeDevice.DeviceEnvironmentVariable, "fast");

        var ex = Assert.Throws<GpuUnavailableException>(() => ComputeDevice.Open());

        Assert.Contains($"{ComputeDevice.DeviceEnvironmentVariable}='fast' is not a device index", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Explicit_index_wins_over_the_environment_variable()
    {
        using var environment = new EnvironmentVariableScope(ComputeDevice.DeviceEnvironmentVariable, "99");

        using ComputeDevice device = ComputeDevice.Open(0);

        Assert.Equal(0, device.Info.Index);
    }

    private sealed class EnvironmentVariableScope : IDisposable
    {
        private readonly string _name;
        private readonly string? _previous;

        public EnvironmentVariableScope(string name, string? value)
        {
            _name = name;
            _previous = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, value);
        }

        public void Dispose() => Environment.SetEnvironmentVariable(_name, _previous);
    }
}
