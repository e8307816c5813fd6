using System.Collections.Concurrent;
using System.Diagnostics;
using RenderFarm.Core;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Worker.Tests;

/// <summary>Writes a small real PNG per frame, optionally slowly or failing, and records what it was asked.</summary>
internal sealed class FakeRenderer : IFrameRenderer
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string DeviceName => "Fake renderer [Cpu]";

    /// <summary>How long each frame takes; cancellation cuts it short.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Frames of the first <c>n</c> calls take <see cref="Delay"/>; later ones are immediate.</summary>
    public int SlowCalls { get; set; } = int.MaxValue;

    /// <summary>Thrown by the first call when set.</summary>
    public Exception? FirstCallThrows { get; set; }

    public ConcurrentQueue<(string ScenePath, int Frame)> Calls { get; } = new();

    public int Cancellations;

    public Task Started => _started.Task;

    public async Task<RenderedFrame> RenderAsync(string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken)
    {
        Calls.Enqueue((scenePath, frame));
        bool first = Calls.Count == 1;
        _started.TrySetResult();
        var watch = Stopwatch.StartNew();
        if (first && FirstCallThrows is { } error)
        {
            throw error;
        }

        try
        {
            if (Calls.Count <= SlowCalls)
            {
                await Task.Delay(Delay, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref Cancellations);
            throw;
        }

        using var image = new Image<Rgb24>(settings.Size.Width, settings.Size.Height, new Rgb24((byte)(frame * 40), 128, 200));
        await image.SaveAsPngAsync(pngPath, cancellationToken);
        return new RenderedFrame(watch.Elapsed, settings.Size.PixelCount * settings.SamplesPerPixel);
    }
}
