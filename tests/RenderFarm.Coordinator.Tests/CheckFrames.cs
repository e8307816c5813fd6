using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Verification;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Frames made here (no GPU) and the provider-side steps of delivering and checking them, for the check facts.</summary>
internal static class CheckFrames
{
    /// <summary>On the farm's offline ledger: the job's client locks 100 tokens for it and the provider stakes 50.</summary>
    internal static async Task LockBudgetAndStakeAsync(TestFarm farm, JobSummary job, TestProvider provider)
    {
        var ledger = (RenderFarm.Ledger.OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        await ledger.MintAsync(farm.ClientAddress, TokenUnits.FromTokens(100));
        await ledger.Account(farm.ClientAddress).LockAsync(job.Id, TokenUnits.FromTokens(100));
        await ledger.MintAsync(provider.Address, TokenUnits.FromTokens(50));
        await ledger.Account(provider.Address).StakeAsync(TokenUnits.FromTokens(50));
    }

    internal static async Task<JobDetails> WaitForSettlementAsync(TestFarm farm, Guid jobId)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            JobDetails details = await farm.GetJobAsync(jobId);
            if (details.Settlement is not null)
            {
                return details;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Not settled; job is {details.Job.State}: {string.Join(", ", details.Tasks.Select(t => $"{t.Index} {t.State} {t.Provider}"))}");
            await Task.Delay(100);
        }
    }

    // A 32x32 frame of seeded noise, as the job's frames are 32x32.
    internal static Image<Rgb24> Noise(int seed)
    {
        var random = new Random(seed);
        var image = new Image<Rgb24>(32, 32);
        for (int y = 0; y < 32; y++)
        {
            for (int x = 0; x < 32; x++)
            {
                image[x, y] = new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
            }
        }

        return image;
    }

    // A 32x32 stand-in for a rendered animation frame: a lit gradient with a disk that moves 2 px per frame, and noise that
    // differs per frame as Monte Carlo noise does.
    internal static Image<Rgb24> Scene(int frame)
    {
        var random = new Random(1000 + frame);
        var image = new Image<Rgb24>(32, 32);
        for (int y = 0; y < 32; y++)
        {
            for (int x = 0; x < 32; x++)
            {
                double dx = x - (8 + (2 * frame)), dy = y - 14;
                bool disk = (dx * dx) + (dy * dy) < 36;
                int noise = random.Next(-20, 21);
                int r = disk ? 230 : 40 + (4 * x), g = disk ? 200 : 60 + (3 * y), b = disk ? 60 : 140;
                image[x, y] = new Rgb24((byte)Math.Clamp(r + noise, 0, 255), (byte)Math.Clamp(g + noise, 0, 255), (byte)Math.Clamp(b + noise, 0, 255));
            }
        }

        return image;
    }

    internal static Image<Rgb24> Mirrored(Image<Rgb24> image)
    {
        image.Mutate(c => c.Flip(FlipMode.Horizontal));
        return image;
    }

    internal static async Task CompleteWithImageAsync(TestFarm farm, TestProvider provider, LeaseGrant grant, Image<Rgb24> frame) =>
        await TestFarm.ExpectAsync(await provider.CompleteAsync(grant.LeaseId, await UploadFrameAsync(farm, frame, grant)), HttpStatusCode.OK);

    internal static async Task CompleteWithNoiseAsync(TestFarm farm, TestProvider provider, LeaseGrant grant, int seed)
    {
        var frames = new List<CompletedFrame>();
        foreach (FrameUpload upload in grant.Uploads)
        {
            using Image<Rgb24> image = Noise(seed);
            using var stream = new MemoryStream();
            await image.SaveAsPngAsync(stream);
            byte[] png = stream.ToArray();
            using HttpResponseMessage put = await farm.Client.PutAsync(upload.Upload.Url, new ByteArrayContent(png));
            await TestFarm.ExpectAsync(put, HttpStatusCode.OK);
            frames.Add(new CompletedFrame(upload.Frame, TestFarm.Sha256(png), png.Length, 0.5));
        }

        await TestFarm.ExpectAsync(await provider.CompleteAsync(grant.LeaseId, new CompleteRequest(frames)), HttpStatusCode.OK);
    }

    // Leases the two checks of one delivered frame (a provider's first of the job): the whole-frame sample and the tile check, in either order.
    internal static async Task<(LeaseGrant Whole, LeaseGrant Tiles)> LeaseBothChecksAsync(TestProvider validator)
    {
        LeaseGrant first = (await validator.LeaseAsync(5, "validate"))!;
        LeaseGrant second = (await validator.LeaseAsync(5, "validate"))!;
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.True(first.Validation is null ^ second.Validation is null, "One whole-frame sample and one tile check");
        return first.Validation is null ? (first, second) : (second, first);
    }

    // The report of either kind of check: tiles for a tile check, the uploaded frame for a whole-frame one.
    internal static async Task<CompleteRequest> CheckReportAsync(TestFarm farm, Image<Rgb24> frame, LeaseGrant check) =>
        check.Validation is null ? await UploadFrameAsync(farm, frame, check) : TilesOf(frame, check);

    // Uploads a frame to a grant's presigned PUT (a render task or a whole-frame check) and returns the report.
    internal static async Task<CompleteRequest> UploadFrameAsync(TestFarm farm, Image<Rgb24> frame, LeaseGrant grant)
    {
        using (frame)
        {
            FrameUpload upload = Assert.Single(grant.Uploads);
            Assert.Equal((upload.Frame, upload.Frame), (grant.FirstFrame, grant.LastFrame));
            using var stream = new MemoryStream();
            await frame.SaveAsPngAsync(stream);
            byte[] png = stream.ToArray();
            using HttpResponseMessage put = await farm.Client.PutAsync(upload.Upload.Url, new ByteArrayContent(png));
            await TestFarm.ExpectAsync(put, HttpStatusCode.OK);
            return new CompleteRequest([new CompletedFrame(upload.Frame, TestFarm.Sha256(png), png.Length, 0.5)]);
        }
    }

    // A validator's report of the frame's tiles: the band of tiles, and below it as many copies as the job's sample count
    // has snapshot bands (a frame made here has no earlier sample counts, so its snapshots equal its tiles), unless
    // `snapshots` is false (one band, which the coordinator refuses when snapshots are due).
    internal static CompleteRequest TilesOf(Image<Rgb24> frame, LeaseGrant check, bool snapshots = true)
    {
        using (frame)
        {
            IReadOnlyList<PixelTile> tiles = check.Validation!.Tiles;
            IReadOnlyList<int> counts = SampleCountTest.SnapshotCounts(check.Settings.SamplesPerPixel);
            int bands = snapshots && counts.Count > 0 ? counts.Count + 2 : 1;
            int height = tiles.Max(t => t.Height);
            using var strip = new Image<Rgb24>(tiles.Sum(t => t.Width), height * bands);
            int left = 0;
            foreach (PixelTile tile in tiles)
            {
                for (int band = 0; band < bands; band++)
                {
                    for (int y = 0; y < tile.Height; y++)
                    {
                        for (int x = 0; x < tile.Width; x++)
                        {
                            strip[left + x, (band * height) + y] = frame[tile.X + x, tile.Y + y];
                        }
                    }
                }

                left += tile.Width;
            }

            using var stream = new MemoryStream();
            strip.SaveAsPng(stream);
            return new CompleteRequest([], Convert.ToBase64String(stream.ToArray()));
        }
    }
}
