using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Client;

/// <summary>Follows a job on the coordinator until it ends, bringing its verified frames in as they are listed.</summary>
public static class JobFollower
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Polls job <paramref name="jobId"/> until it completes and returns it.</summary>
    /// <param name="client">The coordinator.</param>
    /// <param name="jobId">The job.</param>
    /// <param name="downloader">Where verified frames go; null to only watch.</param>
    /// <param name="progress">Called after every poll with the job and the frames handled in it.</param>
    /// <param name="cancellationToken">Stops following; the job itself keeps running.</param>
    /// <exception cref="JobFailedException">The job failed or was cancelled.</exception>
    public static async Task<JobDetails> FollowAsync(
        CoordinatorClient client, Guid jobId, FrameDownloader? downloader, Action<JobDetails, IReadOnlyList<int>>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        while (true)
        {
            JobDetails details = await client.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<int> handled = downloader is null ? [] : await downloader.SyncAsync(details, cancellationToken).ConfigureAwait(false);
            progress?.Invoke(details, handled);
            if (CoordinatorClient.IsCompleted(details))
            {
                return details;
            }

            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the finished job <paramref name="jobId"/> is settled on the ledger and returns it.</summary>
    public static async Task<JobDetails> WaitForSettlementAsync(CoordinatorClient client, Guid jobId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        while (true)
        {
            JobDetails details = await client.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
            if (details.Settlement is not null)
            {
                return details;
            }

            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }
}
