using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>Finds files that ship with the repository (samples, tools) when running from a checkout.</summary>
internal static class RepositoryFiles
{
    /// <summary>Finds a file of the repository from the working directory or the program's folder upwards.</summary>
    public static string Find(string relativePath)
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? folder = new(start); folder is not null; folder = folder.Parent)
            {
                string candidate = Path.Combine(folder.FullName, relativePath);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new UserInputException($"Cannot find {relativePath}; run this from the repository.");
    }
}
