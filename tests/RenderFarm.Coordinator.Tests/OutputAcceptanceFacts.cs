using System.Net;
using System.Net.Http.Json;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// Every uploaded output is decoded at acceptance, whatever the check settings (the test farm runs with spot checks
/// off): a PNG of the job's size and depth, a .npy of the model's output. Anything else is the provider's failure.
/// </summary>
public sealed class OutputAcceptanceFacts
{
    // The 12-byte "PNG" that only the signature check saw: accepted and delivered before outputs were decoded.
    private static readonly byte[] s_evil = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, (byte)'E', (byte)'V', (byte)'I', (byte)'L'];

    public static TheoryData<string> WrongFrames => ["evil", "16x32", "16-bit", "grey", "truncated", "jpeg"];

    [Theory]
    [MemberData(nameof(WrongFrames))]
    public async Task A_frame_that_is_not_the_jobs_png_is_refused_as_the_providers_failure(string kind)
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();

        byte[] bytes = WrongFrame(kind);
        CompleteRequest report = await UploadAsync(farm, grant, bytes);
        string detail = await TestFarm.ExpectProblemAsync(await provider.CompleteAsync(grant.LeaseId, report), HttpStatusCode.UnprocessableEntity);

        Assert.Contains("Frame 1", detail, StringComparison.Ordinal);
        JobDetails details = await farm.GetJobAsync(job.Id);
        TaskDetails task = Assert.Single(details.Tasks);
        Assert.Equal(FarmTaskState.Queued, task.State);
        Assert.Empty(task.Frames);
        Assert.Contains("Output refused", task.Error, StringComparison.Ordinal);
        await TestFarm.ExpectProblemAsync(await farm.Client.GetAsync($"api/jobs/{job.Id}/frames/1"), HttpStatusCode.NotFound);

        // The lease ended with the refusal; another provider's real frame is accepted.
        TestProvider honest = await farm.LoginAsync();
        LeaseGrant again = await honest.LeaseRequiredAsync();
        await TestFarm.ExpectAsync(await honest.CompleteAsync(again.LeaseId, await honest.UploadFramesAsync(again)), HttpStatusCode.OK);
        Assert.Equal(JobState.Completed, (await farm.GetJobAsync(job.Id)).Job.State);
    }

    [Fact]
    public async Task A_sixteen_bit_job_takes_sixteen_bit_frames_only()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        SceneUploaded scene = await farm.UploadSceneAsync();
        using HttpResponseMessage submitted = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, "1-2", 1, "32x32", 4, SixteenBit: true), TestFarm.Json);
        await TestFarm.ExpectAsync(submitted, HttpStatusCode.Created);
        TestProvider provider = await farm.LoginAsync();

        LeaseGrant eight = await provider.LeaseRequiredAsync();
        string detail = await TestFarm.ExpectProblemAsync(
            await provider.CompleteAsync(eight.LeaseId, await UploadAsync(farm, eight, TestFarm.NoisePng(32, 32, sixteenBit: false, seed: 1))), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("16-bit", detail, StringComparison.Ordinal);

        LeaseGrant sixteen = await provider.LeaseRequiredAsync();
        await TestFarm.ExpectAsync(
            await provider.CompleteAsync(sixteen.LeaseId, await UploadAsync(farm, sixteen, TestFarm.NoisePng(32, 32, sixteenBit: true, seed: 2))), HttpStatusCode.OK);
    }

    [Fact]
    public async Task An_inference_output_must_be_float32_in_the_models_output_shape()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        ModelUploaded model = await farm.UploadAsync<ModelUploaded>("models", "edge-detect.onnx", await File.ReadAllBytesAsync(RepositoryPaths.Combine("samples/edge-detect/edge-detect.onnx")));
        InputUploaded input = await farm.UploadAsync<InputUploaded>("inputs", "item.npy", NpyFile.Format(new Tensor([1, 3, 24, 24], new float[3 * 24 * 24])));
        using HttpResponseMessage submitted = await farm.Client.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, [input.Sha256, input.Sha256, input.Sha256]));
        await TestFarm.ExpectAsync(submitted, HttpStatusCode.Created);
        TestProvider provider = await farm.LoginAsync();
        int[] shape = [.. model.OutputShape.Select(d => d ?? 1)];
        int count = shape.Aggregate(1, (a, b) => a * b);

        LeaseGrant wrongShape = (await provider.LeaseAsync(5, "inference"))!;
        string shapeDetail = await TestFarm.ExpectProblemAsync(
            await provider.CompleteAsync(wrongShape.LeaseId, await UploadAsync(farm, wrongShape, NpyFile.Format(new Tensor([count], new float[count])))), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("shape", shapeDetail, StringComparison.Ordinal);

        LeaseGrant notNpy = (await provider.LeaseAsync(5, "inference"))!;
        byte[] truncated = NpyFile.Format(new Tensor(shape, new float[count]))[..^4];
        await TestFarm.ExpectProblemAsync(await provider.CompleteAsync(notNpy.LeaseId, await UploadAsync(farm, notNpy, truncated)), HttpStatusCode.UnprocessableEntity);

        // Two refusals block the provider from the job; another one delivers.
        TestProvider honest = await farm.LoginAsync();
        LeaseGrant right = (await honest.LeaseAsync(5, "inference"))!;
        await TestFarm.ExpectAsync(
            await honest.CompleteAsync(right.LeaseId, await UploadAsync(farm, right, NpyFile.Format(new Tensor(shape, new float[count])))), HttpStatusCode.OK);
    }

    /// <summary>
    /// A model with several outputs takes an .npz item file holding each output once, in its model type and shape:
    /// a missing output, a float in place of an int64 output and an archive that inflates past its own size (a few
    /// hundred bytes declaring a megabyte) are refused. Before, only one float32 .npy output was ever taken.
    /// </summary>
    [Fact]
    public void An_archive_of_every_output_in_its_type_is_taken_and_anything_else_refused()
    {
        TensorInfo[] expected = [new("scores", [null, 4]), new("label", [null], TensorElementType.Int64)];
        var scores = new Tensor([2, 4], new float[8]);
        var label = new Tensor([2], [3, 1], TensorElementType.Int64);
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, ItemFiles.Format(expected, new Dictionary<string, Tensor> { ["scores"] = scores, ["label"] = label }));
            Assert.Null(OutputAcceptance.CheckTensors(path, expected));

            File.WriteAllBytes(path, NpzFile.Format([new("scores", scores)]));
            Assert.Contains("holds 'scores' but the model's are 'scores', 'label'", OutputAcceptance.CheckTensors(path, expected), StringComparison.Ordinal);

            File.WriteAllBytes(path, NpzFile.Format([new("scores", scores), new("label", new Tensor([2], [3, 1]))]));
            Assert.Contains("'label' is float32; the model's is int64", OutputAcceptance.CheckTensors(path, expected), StringComparison.Ordinal);

            File.WriteAllBytes(path, NpyFile.Format(scores));
            Assert.Contains("must be an .npz archive", OutputAcceptance.CheckTensors(path, expected), StringComparison.Ordinal);

            using (var buffer = new MemoryStream())
            {
                using (var zip = new System.IO.Compression.ZipArchive(buffer, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
                {
                    foreach ((string name, Tensor tensor) in new[] { ("scores", new Tensor([2, 131072], new float[2 * 131072])), ("label", label) })
                    {
                        using Stream entry = zip.CreateEntry(name + ".npy", System.IO.Compression.CompressionLevel.SmallestSize).Open();
                        entry.Write(NpyFile.Format(tensor));
                    }
                }

                Assert.True(buffer.Length < 8192, $"the compressed archive is {buffer.Length} bytes");
                File.WriteAllBytes(path, buffer.ToArray());
            }

            Assert.Contains("inflate to more than the archive's", OutputAcceptance.CheckTensors(path, [new("scores", [null, 131072]), expected[1]]), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_npy_of_another_dtype_or_rank_is_refused()
    {
        string path = Path.GetTempFileName();
        try
        {
            var expected = new TensorInfo("y", [null, 1, 24, 24]);
            File.WriteAllBytes(path, NpyFile.Format(new Tensor([2, 1, 24, 24], new float[2 * 24 * 24])));
            Assert.Null(OutputAcceptance.CheckTensors(path, [expected]));

            File.WriteAllBytes(path, NpyFile.Format(new Tensor([1, 2, 24, 24], new float[2 * 24 * 24])));
            Assert.Contains("shape [1, 2, 24, 24]", OutputAcceptance.CheckTensors(path, [expected]), StringComparison.Ordinal);

            // float64 with the right shape: '<f8' in the header, 8 bytes per element.
            byte[] f4 = NpyFile.Format(new Tensor([1, 1, 24, 24], new float[24 * 24]));
            string text = System.Text.Encoding.ASCII.GetString(f4, 10, f4[8] | (f4[9] << 8)).Replace("<f4", "<f8", StringComparison.Ordinal);
            File.WriteAllBytes(path, [.. f4[..10], .. System.Text.Encoding.ASCII.GetBytes(text), .. new byte[24 * 24 * 8]]);
            Assert.Contains("Float64", OutputAcceptance.CheckTensors(path, [expected]), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_small_png_declaring_a_huge_image_is_refused_from_its_header_without_a_decode()
    {
        // 1x1 pixels of data under an IHDR that says 16384x16384: decoded, it would take a gigabyte.
        byte[] bomb = TestFarm.NoisePng(1, 1, sixteenBit: false, seed: 1);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bomb.AsSpan(16), 16384);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bomb.AsSpan(20), 16384);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bomb.AsSpan(29), RenderFarm.Testing.TestGltf.PngCrc32(bomb.AsSpan(12, 17)));

        Assert.Contains("16384x16384", OutputAcceptance.CheckPngHeader(bomb, 32, 32), StringComparison.Ordinal);
        string path = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(path, bomb);
            // The refusal comes from the header, before any await: measured on this thread alone.
            long before = GC.GetAllocatedBytesForCurrentThread();
            Task<string?> check = OutputAcceptance.CheckPngAsync(path, new ImageSize(32, 32), sixteenBit: false, CancellationToken.None);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.True(check.IsCompleted);
            Assert.Contains("16384x16384", await check, StringComparison.Ordinal);
            Assert.InRange(allocated, 0, 16L * 1024 * 1024);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] WrongFrame(string kind)
    {
        switch (kind)
        {
            case "evil":
                return s_evil;
            case "16x32":
                return TestFarm.NoisePng(16, 32, sixteenBit: false, seed: 1);
            case "16-bit":
                return TestFarm.NoisePng(32, 32, sixteenBit: true, seed: 1);
            case "grey":
            {
                using var grey = new Image<L8>(32, 32);
                using var stream = new MemoryStream();
                grey.SaveAsPng(stream, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
                return stream.ToArray();
            }

            case "truncated":
            {
                // A valid header and the start of the image data, cut in the middle of it.
                byte[] png = TestFarm.NoisePng(32, 32, sixteenBit: false, seed: 1);
                return png[..(png.Length / 2)];
            }

            default:
            {
                using var image = new Image<Rgb24>(32, 32);
                using var stream = new MemoryStream();
                image.SaveAsJpeg(stream);
                return stream.ToArray();
            }
        }
    }

    private static async Task<CompleteRequest> UploadAsync(TestFarm farm, LeaseGrant grant, byte[] bytes)
    {
        FrameUpload upload = Assert.Single(grant.Uploads);
        using HttpResponseMessage put = await farm.Client.PutAsync(upload.Upload.Url, new ByteArrayContent(bytes));
        await TestFarm.ExpectAsync(put, HttpStatusCode.OK);
        return new CompleteRequest([new CompletedFrame(upload.Frame, TestFarm.Sha256(bytes), bytes.Length, 0.5)]);
    }
}
