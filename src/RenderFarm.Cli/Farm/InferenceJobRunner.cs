using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Terminal;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Inference.IO;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// The client side of a batch-inference job on a farm: uploads the model and one .npy tensor per item, submits
/// the job, follows it with a progress bar and hands every verified output to the caller as soon as it is listed.
/// </summary>
internal sealed class InferenceJobRunner(CoordinatorClient http, ProgressBar bar)
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Runs the model over <paramref name="items"/> on the farm and returns the finished job.</summary>
    /// <param name="modelPath">The ONNX model.</param>
    /// <param name="batching">Reads each item as the model's input receives it (batch dimension of 1 included).</param>
    /// <param name="items">The items, in order; output <c>n</c> of the job belongs to item <c>n - 1</c>.</param>
    /// <param name="itemsPerTask">Items per task.</param>
    /// <param name="received">Called once per verified output with its item and the output's .npy bytes.</param>
    /// <param name="cancellationToken">Cancels the job on the farm too.</param>
    /// <exception cref="JobFailedException">The job failed or was cancelled on the farm.</exception>
    public async Task<JobDetails> RunAsync(
        string modelPath,
        InputBatching batching,
        IReadOnlyList<InputItem> items,
        int itemsPerTask,
        Action<InputItem, byte[]> received,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batching);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(received);

        ModelUploaded model = await UploadModelAsync(modelPath, cancellationToken).ConfigureAwait(false);
        bar.WriteLine($"uploaded {model.FileName} ({model.Size} bytes)");
        var inputs = new List<string>(items.Count);
        foreach (InputItem item in items)
        {
            byte[] npy = NpyFile.Format(batching.Load(item));
            InputUploaded input = await UploadAsync<InputUploaded>($"api/inputs?name={Uri.EscapeDataString(item.Stem + NpyFile.Extension)}", new ByteArrayContent(npy), cancellationToken).ConfigureAwait(false);
            inputs.Add(input.Sha256);
            bar.Update((double)inputs.Count / items.Count, $"uploading {inputs.Count}/{items.Count} inputs");
        }

        var request = new SubmitInferenceJobRequest(model.Sha256, inputs, itemsPerTask);
        JobSummary job = await http.SubmitInferenceAsync(request, cancellationToken).ConfigureAwait(false);
        bar.WriteLine(string.Create(CultureInfo.InvariantCulture, $"job {job.Id}: {items.Count} item(s) in {job.TasksTotal} task(s)"));
        try
        {
            if (job.State == JobState.AwaitingEscrow)
            {
                throw new UserInputException($"The coordinator holds job {job.Id} until a budget is locked in escrow; 'renderfarm infer' submits unpaid jobs only.");
            }

            return await FollowAsync(job.Id, items, received, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or UserInputException)
        {
            // Ctrl-C, or a job this client cannot finish: tell the farm so providers stop spending work on it.
            await CancelAsync(job.Id).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<JobDetails> FollowAsync(Guid jobId, IReadOnlyList<InputItem> items, Action<InputItem, byte[]> received, CancellationToken cancellationToken)
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
                    received(items[output.Frame - 1], await http.DownloadAsync(output.Url, cancellationToken).ConfigureAwait(false));
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
