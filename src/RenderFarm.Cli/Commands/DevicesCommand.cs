using System.CommandLine;
using RenderFarm.Gpu;

namespace RenderFarm.Cli.Commands;

/// <summary><c>renderfarm devices</c>: lists the Vulkan devices and which one a render would use.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var command = new Command("devices", "List the Vulkan compute devices and the one chosen by default.");
        command.SetAction((_, cancellationToken) => CommandRunner.RunAsync(
            () =>
            {
                IReadOnlyList<GpuDeviceInfo> devices = ComputeDevice.EnumerateDevices();
                using ComputeDevice chosen = ComputeDevice.Open();
                foreach (GpuDeviceInfo device in devices)
                {
                    string marker = device.Index == chosen.Info.Index ? "*" : " ";
                    Console.WriteLine($"{marker} {device}");
                }

                Console.WriteLine($"(* = default; choose another with --device N or {ComputeDevice.DeviceEnvironmentVariable}=N)");
                return Task.FromResult(0);
            },
            cancellationToken));
        return command;
    }
}
