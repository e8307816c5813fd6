using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Terminal;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;

namespace RenderFarm.Cli.Farm;

/// <summary>One batch item of a farm job: what names its outputs, and its inputs as the model receives them.</summary>
/// <param name="Stem">Names the item's upload and outputs (a plain file name without extension).</param>
/// <param name="Source">Names the item in messages (its file, or its line of text).</param>
/// <param name="Load">Reads the item's inputs by name, each shaped as the model receives it (batch dimension of 1 included).</param>
internal sealed record FarmItem(string Stem, string Source, Func<IReadOnlyDictionary<string, Tensor>> Load);

/// <summary>
/// The client side of a batch-inference job on a farm: uploads the model and one item file per item (a .npy array
/// for a model with one input, else an .npz archive of its inputs by name), submits the job, follows it with a
/// progress bar and hands every verified item's outputs, by name, to the caller as soon as it is listed.
/// </summary>
internal sealed class InferenceJobRunner(CoordinatorClient http, ProgressBar bar)
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs the model over <paramref name="items"/> on the farm and returns the finished job.</summary>
    /// <param name="modelPath">The ONNX model.</param>
    /// <param name="model">The model, loaded from <paramref name="modelPath"/>: its inputs and outputs name the item files' tensors.</param>
    /// <param name="items">The items, in order; output <c>n</c> of the job belongs to item <c>n - 1</c>.</param>
    /// <param name="itemsPerTask">Items per task.</param>
    /// <param name="received">Called once per verified item with its outputs by name, each checked to be the model's.</param>
    /// <param name="cancellationToken">Cancels the job on the farm too.</param>
    /// <exception cref="JobFailedException">The job failed or was cancelled on the farm.</exception>
    public async Task<JobDetails> RunAsync(
        string modelPath,
        OnnxModel model,
        IReadOnlyList<FarmItem> items,
        int itemsPerTask,
        Action<FarmItem, IReadOnlyDictionary<string, Tensor>> received,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(received);

        ModelUploaded uploaded = await UploadModelAsync(modelPath, cancellationToken).ConfigureAwait(false);
        bar.WriteLine($"uploaded {uploaded.FileName} ({uploaded.Size} bytes)");
        string extension = ItemFiles.Extension(model.Inputs.Count);
        var inputs = new List<string>(items.Count);
        foreach (FarmItem item in items)
        {
            // Each input in its model type, checked here as the engine would (whole numbers for integer inputs), so
            // the coordinator's type check never refuses what runs locally.
            IReadOnlyDictionary<string, Tensor> loaded = item.Load();
            var typed = model.Inputs.ToDictionary(
                info => info.Name,
                info => new Tensor(loaded[info.Name].Shape, TensorTypes.ToDevice(info.Name, info.ElementType, loaded[info.Name]), info.ElementType),
                StringComparer.Ordinal);
            byte[] file = ItemFiles.Format(model.Inputs, typed);
            InputUploaded input = await UploadAsync<InputUploaded>($"api/inputs?name={Uri.EscapeDataString(item.Stem + extension)}", new ByteArrayContent(file), cancellationToken).ConfigureAwait(false);
            inputs.Add(input.Sha256);
            bar.Update((double)inputs.Count / items.Count, $"uploading {inputs.Count}/{items.Count} inputs");
        }

        var request = new SubmitInferenceJobRequest(uploaded.Sha256, inputs, itemsPerTask);
        JobSummary job = await http.SubmitInferenceAsync(request, cancellationToken).ConfigureAwait(false);
        bar.WriteLine(string.Create(CultureInfo.InvariantCulture, $"job {job.Id}: {items.Count} item(s) in {job.TasksTotal} task(s)"));
        try
        {
            if (job.State == JobState.AwaitingEscrow)
            {
                throw new UserInputException($"The coordinator holds job {job.Id} until a budget is locked in escrow; 'renderfarm infer' submits unpaid jobs only.");
            }

            return await FollowAsync(job.Id, model.Outputs, items, received, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or UserInputException)
        {
            // Ctrl-C, or a job this client cannot finish: tell the farm so providers stop spending work on it.
            await CancelAsync(job.Id).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<JobDetails> FollowAsync(
        Guid jobId, IReadOnlyList<TensorInfo> outputs, IReadOnlyList<FarmItem> items, Action<FarmItem, IReadOnlyDictionary<string, Tensor>> received, CancellationToken cancellationToken)
    {
        var written = new HashSet<int>();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            JobDetails details = await http.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
            foreach (FrameLink output in details.Tasks.SelectMany(t => t.Frames))
            {
                if (output.Frame < 1 || output.Frame > items.Count)
                {
                    throw new CoordinatorRequestException(
                        CoordinatorFailure.ServerError, null, string.Create(CultureInfo.InvariantCulture, $"The coordinator listed output {output.Frame} of job {jobId}, which has {items.Count} item(s)."));
                }

                if (written.Add(output.Frame))
                {
                    // The coordinator checked the item file against the model; checked again here, as any download.
                    FarmItem item = items[output.Frame - 1];
                    byte[] file = await http.DownloadAsync(output.Url, cancellationToken).ConfigureAwait(false);
                    received(item, ItemFiles.Parse(file, outputs, $"the outputs of {item.Source}"));
                }
            }

            double rate = written.Count / clock.Elapsed.TotalSeconds;
            bar.Update((double)written.Count / items.Count, string.Create(CultureInfo.InvariantCulture, $"{written.Count}/{items.Count} items  {rate:F1} items/s"));
            if (CoordinatorClient.IsCompleted(details))
            {
                return details;
            }

            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task CancelAsync(Guid jobId) => http.TryCancelAsync(jobId);

    private async Task<ModelUploaded> UploadModelAsync(string modelPath, CancellationToken cancellationToken)
    {
        FileStream file;
        try
        {
            file = File.OpenRead(modelPath);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Cannot read model '{modelPath}': {exception.Message}", exception);
        }

        await using (file.ConfigureAwait(false))
        {
            string name = Uri.EscapeDataString(Path.GetFileName(modelPath));
            return await UploadAsync<ModelUploaded>($"api/models?name={name}", new StreamContent(file), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<T> UploadAsync<T>(string path, HttpContent content, CancellationToken cancellationToken)
    {
        using (content)
        {
            return await http.UploadAsync<T>(path, content, cancellationToken).ConfigureAwait(false);
        }
    }
}
