using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// Batch inference through the whole farm: <c>renderfarm infer --coordinator</c> as a client process against a
/// coordinator and two provider workers, each a separate process, on the local Vulkan device (lavapipe here).
/// </summary>
[Collection(FarmCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class InferenceFacts
{
    private const string Model = "samples/edge-detect/edge-detect.onnx";
    private static readonly string[] s_images = ["samples/edge-detect/cornell-box.png", "samples/edge-detect/textured-cube.png"];
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromMinutes(2);

    private readonly PostgresFixture _postgres;
    private readonly S3Fixture _s3;
    private readonly ITestOutputHelper _output;

    public InferenceFacts(PostgresFixture postgres, S3Fixture s3, ITestOutputHelper output)
    {
        _postgres = postgres;
        _s3 = s3;
        _output = output;
    }

    [Fact]
    public async Task Infer_with_a_coordinator_writes_the_same_outputs_as_the_local_run()
    {
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.Fast);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b"));
            string[] inputs = [RepositoryPaths.Combine(Model), .. s_images.Select(RepositoryPaths.Combine)];
            string remote = Path.Combine(farm.Folder, "farm-out");
            string local = Path.Combine(farm.Folder, "local-out");

            CommandResult client = await farm.RunCommandAsync(
                "client", ["infer", .. inputs, "--coordinator", farm.Address.AbsoluteUri, "--out", remote], s_commandTimeout);
            CommandResult reference = await farm.RunCommandAsync("local", ["infer", .. inputs, "--out", local], s_commandTimeout);

            Assert.Equal(0, client.ExitCode);
            Assert.Equal(0, reference.ExitCode);
            Assert.Contains("2 item(s) in", client.Output, StringComparison.Ordinal);
            string[] expected = ["cornell-box.edges.npy", "cornell-box.edges.png", "textured-cube.edges.npy", "textured-cube.edges.png"];
            Assert.Equal(expected, Directory.GetFiles(remote).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(expected, Directory.GetFiles(local).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            foreach (string file in expected)
            {
                byte[] fromFarm = await File.ReadAllBytesAsync(Path.Combine(remote, file));
                byte[] fromDevice = await File.ReadAllBytesAsync(Path.Combine(local, file));
                Assert.True(fromFarm.AsSpan().SequenceEqual(fromDevice), $"{file} from the farm ({fromFarm.Length} bytes) differs from the local run's ({fromDevice.Length} bytes).");
            }
        });
    }
}
