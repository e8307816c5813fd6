namespace RenderFarm.Worker;

/// <summary>
/// Where a worker keeps a job's environment map: beside the scene in the content-addressed cache, named by the map's
/// SHA-256, so a renderer given a scene path and settings that name a map finds it without another argument.
/// </summary>
public static class EnvironmentCache
{
    /// <summary>The file name extension of a cached map (its format is told by its bytes).</summary>
    public const string Extension = ".environment";

    /// <summary>The cached map named <paramref name="sha256"/> beside the scene at <paramref name="scenePath"/>.</summary>
    public static string PathBeside(string scenePath, string sha256)
    {
        ArgumentNullException.ThrowIfNull(scenePath);
        ArgumentNullException.ThrowIfNull(sha256);
        return Path.Combine(Path.GetDirectoryName(Path.GetFullPath(scenePath))!, sha256 + Extension);
    }
}
