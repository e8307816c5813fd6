using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Storage;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// Makes each accepted frame's thumbnail once, in the background, and stores it beside the frame
/// (<c>…/frames/000001.LEASE.png</c> → <c>…/frames/000001.LEASE.thumb.jpg</c>). The frame was checked at acceptance to
/// decode at the job's size, so a decode here is bounded by that; one runs at a time.
/// </summary>
internal sealed partial class Thumbnails(IObjectStore objects, ILogger<Thumbnails> logger) : BackgroundService
{
    /// <summary>The longest side of a thumbnail, in pixels.</summary>
    public const int MaxSide = 256;

    // Bounded: a burst beyond it drops thumbnails (the page then shows the frame's state in words), never memory.
    private readonly Channel<FrameOutput> _queue = Channel.CreateBounded<FrameOutput>(
        new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <summary>The thumbnail's object key for a frame's key.</summary>
    public static string KeyFor(string frameKey) =>
        frameKey.EndsWith(".png", StringComparison.Ordinal) ? frameKey[..^".png".Length] + ".thumb.jpg" : frameKey + ".thumb.jpg";

    /// <summary>Whether an output has a thumbnail: PNG frames, and EXR frames through their preview; other outputs have none.</summary>
    public static bool HasThumbnail(FrameOutput output) =>
        output.Key.EndsWith(".png", StringComparison.Ordinal) || output.Key.EndsWith(".exr", StringComparison.Ordinal);

    /// <summary>Queues thumbnails for accepted outputs (PNG frames; other outputs have none).</summary>
    public void Enqueue(IEnumerable<FrameOutput> outputs)
    {
        foreach (FrameOutput output in outputs.Where(HasThumbnail))
        {
            _queue.Writer.TryWrite(output);
        }
    }

    /// <summary>Makes one thumbnail now; the background loop calls this for every queued frame.</summary>
    public async Task MakeAsync(FrameOutput output, CancellationToken cancellationToken)
    {
        using var jpeg = new MemoryStream();
        // An EXR frame's picture is the PNG preview made beside it at acceptance.
        string source = output.Key.EndsWith(".exr", StringComparison.Ordinal) ? FarmKeys.Preview(output.Key) : output.Key;
        await using (Stream png = await objects.OpenReadAsync(source, cancellationToken).ConfigureAwait(false))
        {
            using Image<Rgb24> image = await Image.LoadAsync<Rgb24>(png, cancellationToken).ConfigureAwait(false);
            double scale = Math.Min(1.0, (double)MaxSide / Math.Max(image.Width, image.Height));
            image.Mutate(x => x.Resize(Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale))));
            await image.SaveAsJpegAsync(jpeg, new JpegEncoder { Quality = 80 }, cancellationToken).ConfigureAwait(false);
        }

        jpeg.Position = 0;
        await objects.PutAsync(KeyFor(output.Key), jpeg, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (FrameOutput output in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await MakeAsync(output, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OperationCanceledException and not OutOfMemoryException)
                {
                    LogThumbnailFailed(output.Key, exception);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The thumbnail of {Key} could not be made.")]
    private partial void LogThumbnailFailed(string key, Exception exception);
}
