using System.Net;
using System.Net.Http.Json;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Job submissions past the farm's budgets are refused at once with a 400 naming the limit.</summary>
public sealed class SubmissionLimitFacts
{
    [Theory]
    // Before the limits, "2147483647" was accepted and its lease looped "frame <= int.MaxValue" until the coordinator died.
    [InlineData("2147483647", 1)]
    // Before the checked split, this made a task whose last frame was negative.
    [InlineData("2147483000-2147483647", 1000)]
    // Past the farm's default largest frame number (1,000,000), though a valid frame range.
    [InlineData("1000001", 1)]
    public async Task Frame_numbers_near_the_integer_limit_are_refused(string frames, int chunkSize)
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        SceneUploaded scene = await farm.UploadSceneAsync();

        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, frames, chunkSize, "32x32", 4), TestFarm.Json);

        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("largest frame number", detail, StringComparison.Ordinal);
        Assert.Empty(await farm.ListJobsAsync());
    }

    [Fact]
    public async Task A_task_at_the_largest_frame_number_is_leased_with_exactly_its_frames()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Limits:MaxFrameNumber"] = FrameRange.MaxFrameNumber.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await farm.SubmitAsync($"{FrameRange.MaxFrameNumber - 2}-{FrameRange.MaxFrameNumber}", chunkSize: 2);
        TestProvider provider = await farm.LoginAsync();

        LeaseGrant first = await provider.LeaseRequiredAsync();
        LeaseGrant second = await provider.LeaseRequiredAsync();

        Assert.Equal(
            [FrameRange.MaxFrameNumber - 2, FrameRange.MaxFrameNumber - 1, FrameRange.MaxFrameNumber],
            first.Uploads.Concat(second.Uploads).Select(u => u.Frame).Order());
        Assert.All([first, second], g => Assert.InRange(g.LastFrame, g.FirstFrame, FrameRange.MaxFrameNumber));
    }

    [Theory]
    [InlineData("1-10", "32x32", 256, false, "samples per pixel")]
    [InlineData("1-10", "2048x2048", 4, false, "pixels")]
    [InlineData("1-10", "4096x16", 4, false, "wide")]
    [InlineData("1-1000", "256x256", 100, false, "samples; this farm allows")]
    public async Task Configured_limits_are_refused_with_the_limit_named(string frames, string size, int spp, bool sixteenBit, string expected)
    {
        await using TestFarm farm = await TestFarm.StartAsync(new()
        {
            ["Coordinator:Limits:MaxSamplesPerPixel"] = "128",
            ["Coordinator:Limits:MaxWidth"] = "2048",
            ["Coordinator:Limits:MaxPixels"] = "1000000",
            ["Coordinator:Limits:MaxSamplesPerJob"] = "1000000000",
        });
        SceneUploaded scene = await farm.UploadSceneAsync();

        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, frames, 10, size, spp, SixteenBit: sixteenBit), TestFarm.Json);

        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, detail, StringComparison.Ordinal);
        Assert.Empty(await farm.ListJobsAsync());
    }

    [Fact]
    public async Task A_frame_larger_than_the_upload_limit_is_refused_before_any_render()
    {
        // A 16-bit 1024x1024 frame may take 6 MiB; providers may upload 4 MiB here. Before, the job was accepted and
        // every provider's upload was refused in turn until the task failed.
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:MaxObjectBytes"] = (4 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        SceneUploaded scene = await farm.UploadSceneAsync();

        using HttpResponseMessage sixteen = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, "1", Size: "1024x1024", SamplesPerPixel: 4, SixteenBit: true), TestFarm.Json);
        string detail = await TestFarm.ExpectProblemAsync(sixteen, HttpStatusCode.BadRequest);
        Assert.Contains("could not be delivered", detail, StringComparison.Ordinal);
        Assert.Empty(await farm.ListJobsAsync());

        // The same frame in 8 bits (3 MiB at most) fits.
        using HttpResponseMessage eight = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, "1", Size: "1024x1024", SamplesPerPixel: 4), TestFarm.Json);
        await TestFarm.ExpectAsync(eight, HttpStatusCode.Created);
    }
    // Before per-account limits, one account could queue any number of jobs of the largest size and fill the farm.
    [Fact]
    public async Task An_account_past_its_open_work_is_refused_while_another_account_still_submits()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new()
        {
            ["Coordinator:Limits:MaxOpenJobsPerAccount"] = "3",
            ["Coordinator:Limits:MaxOpenSamplesPerAccount"] = "100000",
        });
        SceneUploaded scene = await farm.UploadSceneAsync();

        // 32x32 at 4 spp is 4,096 samples a frame: two jobs of 10 frames (81,920) fit, a third of 10 does not.
        await farm.SubmitAsync("1-10");
        await farm.SubmitAsync("1-10");
        string tooMuch = await TestFarm.ExpectProblemAsync(
            await farm.Client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(scene.Sha256, "1-10", 1, "32x32", 4), TestFarm.Json),
            HttpStatusCode.TooManyRequests);
        Assert.Contains("100000 open per account", tooMuch, StringComparison.Ordinal);

        await farm.SubmitAsync("1");
        string tooMany = await TestFarm.ExpectProblemAsync(
            await farm.Client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(scene.Sha256, "1", 1, "32x32", 4), TestFarm.Json),
            HttpStatusCode.TooManyRequests);
        Assert.Contains("3 at once", tooMany, StringComparison.Ordinal);

        // Another account is not held back by the first one's jobs.
        HttpClient other = farm.NewClient();
        JobSummary theirs = await farm.SubmitAsync("1-10", client: other);
        Assert.NotEqual(JobState.Failed, theirs.State);
    }
}
