using System.Globalization;
using RenderFarm.Core;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Picks a scene camera by name: one rule for the command line, the coordinator (which checks a job's camera against the
/// names it recorded at upload) and the workers.
/// </summary>
public static class CameraChoice
{
    // The list in a refusal is cut so that a scene of thousands of cameras still answers in one readable line.
    private const int Listed = 20;

    /// <summary>The index in <paramref name="cameras"/> of the first camera called <paramref name="name"/> (ordinal); 0 for null.</summary>
    /// <param name="cameras">The scene's camera names (<see cref="SceneAsset.CameraNames"/>).</param>
    /// <param name="name">The camera asked for, or null for the first (or the default camera of a scene without any).</param>
    /// <param name="sceneName">The scene, for the message.</param>
    /// <exception cref="UserInputException">No camera has that name; the one-line message lists the scene's cameras.</exception>
    public static int IndexOf(IReadOnlyList<string> cameras, string? name, string sceneName)
    {
        ArgumentNullException.ThrowIfNull(cameras);
        if (name is null)
        {
            return 0;
        }

        for (int i = 0; i < cameras.Count; i++)
        {
            if (string.Equals(cameras[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        if (cameras.Count == 0)
        {
            throw new UserInputException($"'{sceneName}' has no camera called '{Shorten(name)}': it has no cameras at all; leave the camera out to frame the whole scene.");
        }

        string list = string.Join(", ", cameras.Take(Listed).Select(c => $"'{Shorten(c)}'"));
        string more = cameras.Count > Listed ? string.Create(CultureInfo.InvariantCulture, $" and {cameras.Count - Listed} more") : string.Empty;
        throw new UserInputException($"'{sceneName}' has no camera called '{Shorten(name)}'; its cameras are {list}{more}.");
    }

    private static string Shorten(string text) => string.Concat(
        (text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "...")).Select(c => char.IsControl(c) ? '?' : c));
}
