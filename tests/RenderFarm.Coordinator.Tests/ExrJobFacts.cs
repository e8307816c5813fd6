using System.Net;
using System.Net.Http.Json;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// EXR jobs on the farm: the submit validates format, EXR depth and denoise in one line; an EXR frame is accepted only
/// as the job's size with exactly the delivered channels at the job's depth (a provider's malformed file is its
/// failure, like a wrong PNG); the accepted EXR downloads as <c>frame_NNNN.exr</c>; and the checks judge the PNG the
/// job's view makes of its R, G, B, which is the PNG a PNG job would deliver.
/// </summary>
public sealed class ExrJobFacts
{
    private const int Side = 32;

    public static TheoryData<string, string?, bool?, string> BadSettings => new()
    {
        { "tiff", null, null, "format must be \"png\" or \"exr\"" },
        { "exr", "double", null, "exrDepth must be \"half\" or \"float\"" },
        { "png", null, true, "need format \"exr\"" },
        { "png", "float", null, "need format \"exr\"" },
    };

    // Before, these fields did not exist: an EXR job could not be asked for, and a bad value must never become a 500.
    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Bad_output_settings_are_refused_in_one_line(string format, string? depth, bool? denoise, string expected)
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        SceneUploaded scene = await farm.UploadSceneAsync();

        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, "1", 1, $"{Side}x{Side}", 4, Format: format, ExrDepth: depth, Denoise: denoise), TestFarm.Json);

        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, detail, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', detail);
    }

    public static TheoryData<string> WrongFiles => ["png", "garbage", "wrong size", "missing coverage", "float for half", "extra channel", "truncated"];

    [Theory]
    [MemberData(nameof(WrongFiles))]
    public async Task An_upload_that_is_not_the_jobs_exr_is_refused_as_the_providers_failure(string kind)
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await SubmitExrAsync(farm, "half", denoise: true);
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        Assert.Equal((FrameFormat.Exr, ExrDepth.Half, true), (grant.Settings.Format, grant.Settings.ExrDepth, grant.Settings.Denoise));
        Assert.EndsWith(".exr", Assert.Single(grant.Uploads).Upload.Url.AbsolutePath, StringComparison.Ordinal);

        string detail = await TestFarm.ExpectProblemAsync(
            await provider.CompleteAsync(grant.LeaseId, await UploadAsync(farm, grant, WrongFile(kind))), HttpStatusCode.UnprocessableEntity);

        Assert.StartsWith("Frame 1:", detail, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', detail);
        TaskDetails task = Assert.Single((await farm.GetJobAsync(job.Id)).Tasks);
        Assert.Equal(FarmTaskState.Queued, task.State);
        Assert.Contains("Output refused", task.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_accepted_exr_downloads_as_frame_NNNN_exr_with_its_content_type()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await SubmitExrAsync(farm, "float", denoise: false);
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        byte[] exr = Exr(Side, Side, ExrDepth.Float, seed: 3);

        await TestFarm.ExpectAsync(await provider.CompleteAsync(grant.LeaseId, await UploadAsync(farm, grant, exr)), HttpStatusCode.OK);

        using HttpResponseMessage download = await farm.Client.GetAsync($"api/jobs/{job.Id}/frames/1");
        await TestFarm.ExpectAsync(download, HttpStatusCode.OK);
        Assert.Equal("image/x-exr", download.Content.Headers.ContentType?.MediaType);
        Assert.Equal("frame_0001.exr", download.Content.Headers.ContentDisposition?.FileName);
        Assert.Equal(exr, await download.Content.ReadAsByteArrayAsync());
        JobDetails details = await farm.GetJobAsync(job.Id);
        Assert.Equal((FrameFormat.Exr, ExrDepth.Float), (details.Settings.Format, details.Settings.ExrDepth));
    }

    // The checks judge an EXR job's frame through its view transform: the same picture, byte for byte, as the PNG a PNG
    // job with those settings delivers from the same linear frame (the worker writes PNGs with PngFrameWriter).
    [Theory]
    [InlineData(ToneMapping.Aces, false)]
    [InlineData(ToneMapping.Filmic, true)]
    public void The_judged_picture_of_a_float_exr_is_the_png_a_png_job_delivers(ToneMapping view, bool sixteenBit)
    {
        (HdrImage image, FrameAovs aovs) = Frame(Side, Side, seed: 5);
        var settings = new RenderSettings { Size = new ImageSize(Side, Side), ToneMapping = view, SixteenBit = sixteenBit, ExposureStops = 0.5f, Format = FrameFormat.Exr, ExrDepth = ExrDepth.Float };
        using var exr = new MemoryStream();
        ExrWriter.Write(exr, Side, Side, FarmFrame.Channels(image, aovs, ExrDepth.Float), ExrCompression.Zip);
        using var png = new MemoryStream();
        PngFrameWriter.Write(image, png, view, 0.5f, sixteenBit);

        Assert.Equal(png.ToArray(), DeliveredFrames.JudgedPng(exr.ToArray(), settings));
        Assert.Null(DeliveredFrames.JudgedPng(WrongFile("missing coverage"), settings));
    }

    [Fact]
    public void An_exr_job_whose_worst_case_frame_exceeds_the_upload_limit_is_refused()
    {
        var settings = new RenderSettings { Size = new ImageSize(1024, 1024), Format = FrameFormat.Exr, ExrDepth = ExrDepth.Float };
        long most = FarmFrame.WorstCaseBytes(settings.Size, ExrDepth.Float)!.Value;

        string? refusal = Jobs.JobBudget.Refusal(FrameRange.Parse("1"), settings, new JobLimits(), most - 1);

        Assert.Contains("EXR frame of 1024x1024", refusal, StringComparison.Ordinal);
        Assert.Null(Jobs.JobBudget.Refusal(FrameRange.Parse("1"), settings, new JobLimits(), most));
    }

    // The size bound refuses uploads before they are read; it must hold for honest frames of noise, which ZIP cannot
    // shrink (blocks stored raw), and reading back must give the written values (exactly, at float).
    [Theory]
    [InlineData(ExrDepth.Half)]
    [InlineData(ExrDepth.Float)]
    public void The_worst_case_size_holds_for_incompressible_frames_and_reading_gives_the_values_back(ExrDepth depth)
    {
        (HdrImage image, FrameAovs aovs) = Frame(33, 17, seed: 9);
        using var stream = new MemoryStream();
        ExrWriter.Write(stream, 33, 17, FarmFrame.Channels(image, aovs, depth), ExrCompression.Zip);
        var size = new ImageSize(33, 17);

        Assert.InRange(stream.Length, 1, FarmFrame.WorstCaseBytes(size, depth)!.Value);
        (HdrImage read, FrameAovs readAovs) = FarmFrame.Read(stream.ToArray(), size, depth);
        Assert.Equal(aovs.Depth, readAovs.Depth);
        if (depth == ExrDepth.Float)
        {
            Assert.Equal(image.Pixels, read.Pixels);
            Assert.Equal(aovs.Emission, readAovs.Emission);
            Assert.Equal(aovs.Coverage, readAovs.Coverage);
        }
        else
        {
            Assert.All(image.Pixels.Zip(read.Pixels), p => Assert.Equal(p.First, p.Second, p.First / 1024));
        }
    }

    private static async Task<JobSummary> SubmitExrAsync(TestFarm farm, string depth, bool denoise)
    {
        SceneUploaded scene = await farm.UploadSceneAsync();
        using HttpResponseMessage submitted = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, "1", 1, $"{Side}x{Side}", 4, Format: "exr", ExrDepth: depth, Denoise: denoise), TestFarm.Json);
        await TestFarm.ExpectAsync(submitted, HttpStatusCode.Created);
        return (await submitted.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
    }

    private static async Task<CompleteRequest> UploadAsync(TestFarm farm, LeaseGrant grant, byte[] bytes)
    {
        FrameUpload upload = Assert.Single(grant.Uploads);
        using HttpResponseMessage put = await farm.Client.PutAsync(upload.Upload.Url, new ByteArrayContent(bytes));
        await TestFarm.ExpectAsync(put, HttpStatusCode.OK);
        return new CompleteRequest([new CompletedFrame(upload.Frame, TestFarm.Sha256(bytes), bytes.Length, 0.5)]);
    }

    // A frame of noise with AOVs: every channel differs from pixel to pixel, so ZIP cannot hide a wrong one.
    private static (HdrImage Image, FrameAovs Aovs) Frame(int width, int height, int seed)
    {
        var random = new Random(seed);
        var image = new HdrImage(width, height);
        var aovs = new FrameAovs(width, height);
        foreach (float[] values in new[] { image.Pixels, aovs.Albedo, aovs.Normal, aovs.Emission, aovs.Depth, aovs.Coverage })
        {
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (float)random.NextDouble() * 4;
            }
        }

        return (image, aovs);
    }

    private static byte[] Exr(int width, int height, ExrDepth depth, int seed, Func<List<ExrChannel>, IReadOnlyList<ExrChannel>>? edit = null)
    {
        (HdrImage image, FrameAovs aovs) = Frame(width, height, seed);
        var channels = new List<ExrChannel>(FarmFrame.Channels(image, aovs, depth));
        using var stream = new MemoryStream();
        ExrWriter.Write(stream, width, height, edit?.Invoke(channels) ?? channels, ExrCompression.Zip);
        return stream.ToArray();
    }

    private static byte[] WrongFile(string kind) => kind switch
    {
        "png" => TestFarm.FakePng(1),
        "garbage" => [0x76, 0x2F, 0x31, 0x01, 2, 0, 0, 0, (byte)'E', (byte)'V', (byte)'I', (byte)'L'],
        "wrong size" => Exr(Side / 2, Side, ExrDepth.Half, seed: 1),
        "missing coverage" => Exr(Side, Side, ExrDepth.Half, seed: 1, c => [.. c.Where(x => x.Name != "coverage")]),
        "float for half" => Exr(Side, Side, ExrDepth.Float, seed: 1),
        "extra channel" => Exr(Side, Side, ExrDepth.Half, seed: 1, c => [.. c, new ExrChannel("secret", ExrPixelType.Half, new float[Side * Side])]),
        "truncated" => Exr(Side, Side, ExrDepth.Half, seed: 1)[..^100],
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
