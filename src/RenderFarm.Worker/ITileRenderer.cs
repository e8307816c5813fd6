using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Worker;

/// <summary>
/// Re-renders a few tiles of a frame for a spot check (queue <c>validate</c>). A renderer that implements it lets
/// the worker serve the <c>validate</c> queue; one that does not serves <c>render</c> only.
/// </summary>
public interface ITileRenderer
{
    /// <summary>
    /// Renders <paramref name="tiles"/> of frame <paramref name="frame"/> with the same random streams as a full render
    /// and returns one PNG holding them side by side in order (tile i starts at the sum of the widths before it, row 0),
    /// tone-mapped and encoded exactly like a frame PNG with <paramref name="settings"/>.
    /// </summary>
    Task<byte[]> RenderTilesAsync(
        string scenePath, int frame, RenderSettings settings, IReadOnlyList<PixelTile> tiles, CancellationToken cancellationToken);
}
