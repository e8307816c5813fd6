using System.CommandLine;
using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm demo</c>: the whole farm in one process on the Cornell box sample — a coordinator,
/// two workers leasing frame tasks over HTTP, uploads through presigned URLs, the budget locked in escrow
/// on an offline ledger, every frame spot-checked by the other worker, verified frames paid, the rest refunded.
/// </summary>
internal static class DemoCommand
{
    private const string Sample = "samples/cornell-box/cornell-box.glb";

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder for the PNG frames.", DefaultValueFactory = _ => "demo-frames" };
        var command = new Command("demo", "Render the Cornell box sample on an embedded farm with two workers: escrow, spot checks, payment and refund on an offline ledger.") { output };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            () => RenderCommand.RunAsync(
                new RenderRequest(
                    RepositoryFiles.Find(Sample),
                    new FrameRange(1, 8),
                    new RenderSettings { Size = new ImageSize(128, 128), SamplesPerPixel = 16 },
                    ChunkSize: 2,
                    result.GetValue(output)!),
                coordinator: null,
                workers: 2,
                deviceIndex: null,
                demoEconomy: true,
                cancellationToken),
            cancellationToken));
        return command;
    }
}
