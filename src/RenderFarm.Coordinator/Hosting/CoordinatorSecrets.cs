using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator;

/// <summary>
/// The coordinator's secrets in one place: which settings they are, what makes a value acceptable, and where a
/// zero-configuration farm gets them. Outside Development every secret must be configured, long enough and not a
/// well-known placeholder; in Development a missing key is generated once and kept in the farm store, so lease ids
/// and tokens outlive a restart.
/// </summary>
public static class CoordinatorSecrets
{
    /// <summary>How an operator makes a good value; named in every refusal.</summary>
    public const string GenerateHint = "openssl rand -hex 32";

    // Values published in this repository's samples, docs and compose files, and the usual stand-ins. Anyone can
    // read them, so a coordinator keyed with one lets anyone forge tokens or predict spot checks.
    private static readonly HashSet<string> s_knownPlaceholders = new(StringComparer.OrdinalIgnoreCase)
    {
        "change-me-to-a-long-random-secret-of-32+-chars",
        "change-me-operator-key",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "renderfarm",
        "renderfarm-secret",
        "let-me-in",
    };

    // Fragments that mark a value as a stand-in whatever surrounds them.
    private static readonly string[] s_placeholderMarkers = ["changeme", "change-me", "change_me", "replace-me", "replace_me", "placeholder", "your-secret", "example"];

    // A generated key shows many distinct characters (64 hex digits show about 16); a value with few is typed, not drawn.
    private const int MinDistinctCharacters = 8;

    /// <summary>The secret settings: name in the <c>Coordinator</c> section, least length, how to read it, and whether Development generates it.</summary>
    internal static readonly IReadOnlyList<SecretSetting> Settings =
    [
        new(nameof(CoordinatorOptions.TokenSigningKey), 32, o => o.TokenSigningKey, GeneratedInDevelopment: true),
        new(nameof(CoordinatorOptions.SpotCheckSecret), 16, o => o.SpotCheckSecret, GeneratedInDevelopment: true),

        // Development opens the dashboard without a key, so none is generated there.
        new(nameof(CoordinatorOptions.OperatorKey), 16, o => o.OperatorKey, GeneratedInDevelopment: false),
    ];

    /// <summary>
    /// Fresh random values for every secret, as configuration keys (<c>Coordinator:TokenSigningKey</c>, ...): for a farm
    /// whose records live no longer than this process, such as the embedded farm.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> Generate() =>
        Settings.ToDictionary(s => s.Key, string? (_) => NewValue());

    /// <summary>Throws, in one line naming the setting and how to make one, when a secret is unusable.</summary>
    /// <param name="options">The bound options.</param>
    /// <param name="isDevelopment">Whether the host runs in Development, where missing secrets and placeholders are allowed.</param>
    internal static void Validate(CoordinatorOptions options, bool isDevelopment)
    {
        foreach (SecretSetting setting in Settings)
        {
            string value = setting.Read(options);
            string? problem = value.Length == 0
                ? isDevelopment ? null : "is missing"
                : value.Length < setting.MinimumLength ? $"must hold at least {setting.MinimumLength} characters"
                : !isDevelopment && IsPlaceholder(value) ? "is a well-known placeholder"
                : null;
            if (problem is not null)
            {
                throw new InvalidOperationException(
                    $"{setting.Key} {problem}: outside Development set it (environment variable {setting.EnvironmentVariable}) to a random value, e.g. from `{GenerateHint}`.");
            }
        }
    }

    /// <summary>Whether <paramref name="value"/> is a published placeholder or looks typed rather than generated.</summary>
    internal static bool IsPlaceholder(string value)
    {
        string trimmed = value.Trim();
        return s_knownPlaceholders.Contains(trimmed)
            || s_placeholderMarkers.Any(marker => trimmed.Contains(marker, StringComparison.OrdinalIgnoreCase))
            || trimmed.Distinct().Count() < MinDistinctCharacters;
    }

    /// <summary>
    /// In Development, the secrets the configuration leaves empty, from <paramref name="store"/> (generated and stored by
    /// the first coordinator of the farm that needed them), as configuration keys to lay over <paramref name="configuration"/>.
    /// </summary>
    internal static async Task<Dictionary<string, string?>> LoadMissingAsync(IConfiguration configuration, IFarmStore store, CancellationToken cancellationToken)
    {
        var loaded = new Dictionary<string, string?>();
        foreach (SecretSetting setting in Settings.Where(s => s.GeneratedInDevelopment))
        {
            if (string.IsNullOrEmpty(configuration[setting.Key]))
            {
                loaded[setting.Key] = await store.GetOrAddSecretAsync(setting.Key, NewValue(), cancellationToken).ConfigureAwait(false);
            }
        }

        return loaded;
    }

    private static string NewValue() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>One secret setting.</summary>
    /// <param name="Name">The property of <see cref="CoordinatorOptions"/>.</param>
    /// <param name="MinimumLength">Fewest characters accepted.</param>
    /// <param name="Read">Reads it from bound options.</param>
    /// <param name="GeneratedInDevelopment">Whether Development generates and stores it when missing.</param>
    internal sealed record SecretSetting(string Name, int MinimumLength, Func<CoordinatorOptions, string> Read, bool GeneratedInDevelopment)
    {
        /// <summary>The configuration key, e.g. <c>Coordinator:TokenSigningKey</c>.</summary>
        public string Key => $"{CoordinatorOptions.SectionName}:{Name}";

        /// <summary>The environment variable that sets it, e.g. <c>Coordinator__TokenSigningKey</c>.</summary>
        public string EnvironmentVariable => $"{CoordinatorOptions.SectionName}__{Name}";
    }
}
