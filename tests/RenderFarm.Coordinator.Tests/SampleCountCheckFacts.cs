using System.Net;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Verification;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

using static RenderFarm.Coordinator.Tests.CheckFrames;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Tile checks whose validator kept its tiles at earlier sample counts (frames made here, no GPU).</summary>
public sealed class SampleCountCheckFacts
{
    private static readonly Dictionary<string, string?> s_tilesOnly = new()
    {
        ["Coordinator:SpotChecks"] = "true",
        ["Coordinator:WholeFrameSamples"] = "false",
    };

    [Fact]
    public async Task A_frame_that_stopped_at_an_earlier_sample_count_fails_its_check_and_an_honest_one_passes()
    {
        // Guards the fewer-samples gap: the cheat's pixels differ from the validator's by a few 8-bit steps, unbiased,
        // which passed the count and bias rules; it fails only because they follow the validator's earlier snapshot.
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        JobSummary job = await farm.SubmitAsync(frames: "1-2");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        Renders renders = Renders.Draw(seed: 5, samplesPerPixel: 4);

        LeaseGrant honest = await renderer.LeaseRequiredAsync();
        await CompleteWithImageAsync(farm, renderer, honest, renders.Delivered(renders.Full));
        LeaseGrant cheat = await renderer.LeaseRequiredAsync();
        await CompleteWithImageAsync(farm, renderer, cheat, renders.Delivered(renders.Snapshots[0]));

        for (int i = 0; i < 2; i++)
        {
            LeaseGrant check = (await validator.LeaseAsync(5, "validate"))!;
            Assert.Equal(4, check.Settings.SamplesPerPixel);
            await TestFarm.ExpectAsync(await validator.CompleteAsync(check.LeaseId, renders.DeepStrip(check)), HttpStatusCode.OK);
        }

        JobDetails details = await farm.GetJobAsync(job.Id);
        SpotCheckRecord passed = details.Tasks[honest.TaskIndex].Checks![0];
        SpotCheckRecord failed = details.Tasks[cheat.TaskIndex].Checks![0];
        Assert.Equal(SpotCheckState.Passed, passed.State);
        Assert.Contains("sample-count z", passed.Verdict, StringComparison.Ordinal);
        Assert.Equal(SpotCheckState.Failed, failed.State);
        Assert.Contains("sample-count z", failed.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_strip_without_the_snapshot_bands_its_sample_count_needs_is_refused()
    {
        // Guards the collusion hole: a validator that reported only the band of tiles skipped the sample-count rule, so a
        // renderer's accomplice could pass a frame with fewer samples. The short strip is refused in one line (422, like
        // any malformed report; the lease stays the validator's) and the full strip is then judged.
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        Renders renders = Renders.Draw(seed: 6, samplesPerPixel: 4);
        LeaseGrant cheat = await renderer.LeaseRequiredAsync();
        await CompleteWithImageAsync(farm, renderer, cheat, renders.Delivered(renders.Snapshots[0]));

        LeaseGrant check = (await validator.LeaseAsync(5, "validate"))!;
        string problem = await TestFarm.ExpectProblemAsync(
            await validator.CompleteAsync(check.LeaseId, TilesOf(renders.Delivered(renders.Full), check, snapshots: false)), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("snapshot bands", problem, StringComparison.Ordinal);
        Assert.Equal(SpotCheckState.Leased, (await farm.GetJobAsync(job.Id)).Tasks[cheat.TaskIndex].Checks![0].State);

        await TestFarm.ExpectAsync(await validator.CompleteAsync(check.LeaseId, renders.DeepStrip(check)), HttpStatusCode.OK);
        SpotCheckRecord judged = (await farm.GetJobAsync(job.Id)).Tasks[cheat.TaskIndex].Checks![0];
        Assert.Equal(SpotCheckState.Failed, judged.State);
        Assert.Contains("sample-count z", judged.Verdict, StringComparison.Ordinal);
    }

    /// <summary>
    /// A validator's 16-bit renders of a 32×32 frame: the final one and one snapshot per count of
    /// <see cref="SampleCountTest.SnapshotCounts"/>, each the final render plus a fixed noise pattern scaled by the
    /// samples still to come, as the running mean of deterministic samples behaves.
    /// </summary>
    internal sealed class Renders
    {
        private Renders(Rgb48[,] full, IReadOnlyList<Rgb48[,]> snapshots)
        {
            Full = full;
            Snapshots = snapshots;
        }

        public Rgb48[,] Full { get; }

        public IReadOnlyList<Rgb48[,]> Snapshots { get; }

        public static Renders Draw(int seed, int samplesPerPixel)
        {
            var random = new Random(seed);
            var full = new Rgb48[32, 32];
            var noise = new int[32, 32, 3];
            for (int y = 0; y < 32; y++)
            {
                for (int x = 0; x < 32; x++)
                {
                    full[x, y] = new Rgb48((ushort)random.Next(12_000, 52_000), (ushort)random.Next(12_000, 52_000), (ushort)random.Next(12_000, 52_000));
                    for (int c = 0; c < 3; c++)
                    {
                        noise[x, y, c] = random.Next(-500, 500);
                    }
                }
            }

            IReadOnlyList<int> counts = SampleCountTest.SnapshotCounts(samplesPerPixel);
            Assert.NotEmpty(counts);
            var snapshots = new List<Rgb48[,]>();
            foreach (int count in counts)
            {
                double scale = (double)(samplesPerPixel - count) / samplesPerPixel * 4;
                var snapshot = new Rgb48[32, 32];
                for (int y = 0; y < 32; y++)
                {
                    for (int x = 0; x < 32; x++)
                    {
                        Rgb48 f = full[x, y];
                        snapshot[x, y] = new Rgb48(Shift(f.R, noise[x, y, 0] * scale), Shift(f.G, noise[x, y, 1] * scale), Shift(f.B, noise[x, y, 2] * scale));
                    }
                }

                snapshots.Add(snapshot);
            }

            return new Renders(full, snapshots);
        }

        // The frame a provider delivers: the render rounded to 8 bits.
        public Image<Rgb24> Delivered(Rgb48[,] render)
        {
            var image = new Image<Rgb24>(32, 32);
            for (int y = 0; y < 32; y++)
            {
                for (int x = 0; x < 32; x++)
                {
                    Rgb48 v = render[x, y];
                    image[x, y] = new Rgb24(To8(v.R), To8(v.G), To8(v.B));
                }
            }

            return image;
        }

        // The validator's report: the tiles at 8 bits (widened), then each snapshot and the final render at 16 bits.
        public CompleteRequest DeepStrip(LeaseGrant check)
        {
            IReadOnlyList<PixelTile> tiles = check.Validation!.Tiles;
            int height = tiles.Max(t => t.Height);
            Rgb48[][,] bands = [Full, .. Snapshots, Full];
            using var strip = new Image<Rgb48>(tiles.Sum(t => t.Width), height * bands.Length);
            for (int b = 0; b < bands.Length; b++)
            {
                int left = 0;
                foreach (PixelTile tile in tiles)
                {
                    for (int y = 0; y < tile.Height; y++)
                    {
                        for (int x = 0; x < tile.Width; x++)
                        {
                            Rgb48 v = bands[b][tile.X + x, tile.Y + y];
                            strip[left + x, (b * height) + y] = b == 0 ? new Rgb48(Widen(v.R), Widen(v.G), Widen(v.B)) : v;
                        }
                    }

                    left += tile.Width;
                }
            }

            using var stream = new MemoryStream();
            strip.SaveAsPng(stream, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit16 });
            return new CompleteRequest([], Convert.ToBase64String(stream.ToArray()));
        }

        private static ushort Shift(ushort value, double by) => (ushort)Math.Clamp(Math.Round(value + by), 0, 65_535);

        private static byte To8(ushort value) => (byte)Math.Round(value / 257.0);

        private static ushort Widen(ushort value) => (ushort)(To8(value) * 257);
    }
}
