namespace RenderFarm.Testing;

/// <summary>Locates files of the checkout the tests were built from.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The folder holding RenderFarm.sln.</summary>
    public static string Root => s_root.Value;

    /// <summary>A path inside the repository, from forward-slash parts.</summary>
    public static string Combine(string relativePath) => Path.Combine(Root, relativePath.Replace('/', Path.DirectorySeparatorChar));

    private static string FindRoot()
    {
        for (DirectoryInfo? folder = new(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "RenderFarm.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No RenderFarm.sln above {AppContext.BaseDirectory}.");
    }
}
