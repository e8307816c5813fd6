using System.Text.RegularExpressions;
using Hangfire;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Providers the operator trusts (<c>Coordinator:Providers:Trusted</c>, a list of addresses): a private farm's own
/// machines. Their frames are accepted without cross-checks, so a farm of one trusted worker finishes its jobs; they
/// may still check other providers' frames.
/// </summary>
public sealed partial class ProviderTrustOptions
{
    /// <summary>The providers' addresses (0x and 40 hex digits), in any letter case.</summary>
    public IList<string> Trusted { get; } = [];

    /// <summary>Throws when an entry is not an address, naming it.</summary>
    internal void Validate()
    {
        foreach (string address in Trusted)
        {
            if (!AddressPattern().IsMatch(address ?? ""))
            {
                string shown = (address ?? "").Length > 64 ? address![..64] + "…" : address ?? "";
                throw new InvalidOperationException($"{CoordinatorOptions.SectionName}:Providers:Trusted holds '{shown}', which is not a provider address (0x and 40 hex digits).");
            }
        }
    }

    [GeneratedRegex("^0x[0-9a-fA-F]{40}$")]
    private static partial Regex AddressPattern();
}

/// <summary>Whose frames need cross-checks, and what a client should know when a job will wait for a second provider.</summary>
internal static class ProviderTrust
{
    // The Hangfire server name every provider that asks for work keeps alive (LeaseService.TouchProvider).
    private const string ProviderServerPrefix = "provider:";

    /// <summary>Whether <paramref name="provider"/>'s outputs get spot checks and whole-frame samples.</summary>
    public static bool NeedsChecks(CoordinatorOptions options, string provider) =>
        options.SpotChecks && !IsTrusted(options, provider);

    /// <summary>Whether the operator lists <paramref name="provider"/> as trusted.</summary>
    public static bool IsTrusted(CoordinatorOptions options, string? provider) =>
        provider is not null && options.Providers.Trusted.Any(t => string.Equals(t, provider, StringComparison.OrdinalIgnoreCase));

    /// <summary>The providers that asked for work lately (their Hangfire server entries have not timed out).</summary>
    public static IReadOnlyList<string> SignedInProviders(JobStorage storage) =>
        [.. storage.GetMonitoringApi().Servers()
            .Select(server => server.Name)
            .Where(name => name.StartsWith(ProviderServerPrefix, StringComparison.Ordinal))
            .Select(name => name[ProviderServerPrefix.Length..])];

    /// <summary>
    /// Why an open job will wait, or null: with cross-checks on, an untrusted provider's frames need another provider
    /// to check them, so a farm whose only signed-in provider is untrusted (or that has none) cannot finish a job.
    /// </summary>
    public static string? WaitingWarning(CoordinatorOptions options, IReadOnlyCollection<string> signedIn)
    {
        if (!options.SpotChecks || signedIn.Any(p => IsTrusted(options, p)) || signedIn.Count >= 2)
        {
            return null;
        }

        return signedIn.Count == 0
            ? "No provider is signed in to this farm yet, and each provider's frames are checked by a second one: the job waits for at least two providers (or one the operator trusts, Coordinator:Providers:Trusted)."
            : $"Only one provider ({signedIn.First()}) is signed in to this farm, and its frames are checked by a second one: the job waits for a second provider (or for the operator to trust this one, Coordinator:Providers:Trusted).";
    }
}
