using System.Globalization;
using System.Security.Cryptography;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Client;

/// <summary>
/// Brings a job's verified frames into a folder as <c>frame_NNNN.png</c> (<c>.exr</c> for an EXR job). Resumable: a
/// frame already there with the SHA-256 the coordinator lists is not downloaded again, and every download is checked
/// against that SHA-256 before it takes the frame's name. A caller may derive the written file from the verified
/// bytes (the command line denoises there); such frames are always downloaded again.
/// </summary>
public sealed class FrameDownloader
{
    private readonly CoordinatorClient _client;
    private readonly string _folder;
    private readonly Func<int, string>? _fileName;
    private readonly Func<int, byte[], string, CancellationToken, Task>? _write;
    private readonly HashSet<int> _handled = [];

    /// <summary>Creates a downloader into <paramref name="folder"/> (created when missing).</summary>
    /// <param name="client">The coordinator.</param>
    /// <param name="folder">The output folder.</param>
    /// <param name="fileName">The file name of a frame; <see cref="FrameFileName(int, RenderFarm.Core.FrameFormat)"/> of the job's format when null.</param>
    /// <param name="write">
    /// Writes the file of a frame (number, verified bytes, path) in place of the bytes themselves; null writes the bytes.
    /// </param>
    public FrameDownloader(CoordinatorClient client, string folder, Func<int, string>? fileName = null, Func<int, byte[], string, CancellationToken, Task>? write = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        _client = client;
        _folder = folder;
        _fileName = fileName;
        _write = write;
    }

    /// <summary>Frames written by this downloader.</summary>
    public int Downloaded { get; private set; }

    /// <summary>Frames found already in the folder with the right SHA-256.</summary>
    public int Skipped { get; private set; }

    /// <summary>Frames downloaded or found so far.</summary>
    public int Handled => _handled.Count;

    /// <summary>The file name of a frame: <c>frame_0001.png</c>.</summary>
    public static string FrameFileName(int frame) => FrameFileName(frame, Core.FrameFormat.Png);

    /// <summary>The file name of a frame in <paramref name="format"/>: <c>frame_0001.png</c> or <c>frame_0001.exr</c>.</summary>
    public static string FrameFileName(int frame, Core.FrameFormat format) =>
        string.Create(CultureInfo.InvariantCulture, $"frame_{frame:D4}.{(format == Core.FrameFormat.Exr ? "exr" : "png")}");

    /// <summary>Downloads every verified frame of <paramref name="job"/> not handled yet; returns the frames handled by this call.</summary>
    /// <exception cref="CoordinatorRequestException">A download failed, or its bytes are not the frame the coordinator listed.</exception>
    public async Task<IReadOnlyList<int>> SyncAsync(JobDetails job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        Directory.CreateDirectory(_folder);
        var now = new List<int>();
        foreach (FrameLink frame in job.Tasks.SelectMany(t => t.Frames).OrderBy(f => f.Frame))
        {
            if (_handled.Contains(frame.Frame))
            {
                continue;
            }

            string path = Path.Combine(_folder, _fileName?.Invoke(frame.Frame) ?? FrameFileName(frame.Frame, job.Settings.Format));
            if (_write is null && File.Exists(path) && string.Equals(await HashFileAsync(path, cancellationToken).ConfigureAwait(false), frame.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                Skipped++;
            }
            else
            {
                byte[] bytes = await _client.DownloadAsync(frame.Url, cancellationToken).ConfigureAwait(false);
                string actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
                if (!string.Equals(actual, frame.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new CoordinatorRequestException(
                        CoordinatorFailure.ServerError, null, $"frame {frame.Frame} of job {job.Job.Id} downloaded with SHA-256 {actual}, not the {frame.Sha256} the coordinator listed.");
                }

                if (_write is not null)
                {
                    await _write(frame.Frame, bytes, path, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    string partial = path + ".partial";
                    await File.WriteAllBytesAsync(partial, bytes, cancellationToken).ConfigureAwait(false);
                    File.Move(partial, path, overwrite: true);
                }

                Downloaded++;
            }

            _handled.Add(frame.Frame);
            now.Add(frame.Frame);
        }

        return now;
    }

    private static async Task<string> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        await using FileStream file = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
    }
}
