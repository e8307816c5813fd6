using System.Text.Json;
using RenderFarm.Core;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// The client's settings file, JSON: <c>{"coordinator": "https://farm.example", "apiKey": "rfk_…", "keyFile": "…"}</c>,
/// every member optional. It lives at <c>$RENDERFARM_CONFIG</c>, else <c>$XDG_CONFIG_HOME/renderfarm/config.json</c>,
/// else <c>~/.config/renderfarm/config.json</c>; a missing file is an empty one. Options and environment variables
/// override it.
/// </summary>
/// <param name="Coordinator">The coordinator's address.</param>
/// <param name="ApiKey">An API key to sign in with.</param>
/// <param name="KeyFile">An Ethereum key file to sign in with (relative to the settings file's folder).</param>
internal sealed record ClientConfig(string? Coordinator, string? ApiKey, string? KeyFile)
{
    /// <summary>The variable that names the settings file.</summary>
    public const string PathVariable = "RENDERFARM_CONFIG";

    // A settings file is a few lines; anything larger is not one.
    private const long MaxBytes = 64 * 1024;

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web) { ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Where the settings file is looked for.</summary>
    public static string DefaultPath()
    {
        if (Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } named)
        {
            return named;
        }

        string? xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        string root = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config") : xdg;
        return Path.Combine(root, "renderfarm", "config.json");
    }

    /// <summary>Reads the settings file at <paramref name="path"/>; an empty config when there is none.</summary>
    /// <exception cref="UserInputException">The file cannot be read or is not the JSON expected.</exception>
    public static ClientConfig Load(string path)
    {
        try
        {
            var file = new FileInfo(path);
            if (!file.Exists)
            {
                return new ClientConfig(null, null, null);
            }

            if (file.Length > MaxBytes)
            {
                throw new UserInputException($"Settings file '{path}' is {file.Length} bytes; a settings file is at most {MaxBytes}.");
            }

            ClientConfig config = JsonSerializer.Deserialize<ClientConfig>(File.ReadAllText(path), s_json) ?? new ClientConfig(null, null, null);
            string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            return config with { KeyFile = string.IsNullOrWhiteSpace(config.KeyFile) ? null : Path.Combine(folder, config.KeyFile) };
        }
        catch (Exception exception) when (exception is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Cannot read settings file '{path}': {exception.Message}", exception);
        }
    }
}
