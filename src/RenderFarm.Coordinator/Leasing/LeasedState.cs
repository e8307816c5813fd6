using System.Globalization;
using Hangfire.States;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The Hangfire state of a frame task a provider holds. Hangfire's own ProcessingState cannot be
/// made outside Hangfire (its constructor is internal), and a lease is not processing on a
/// coordinator server anyway; the dashboard shows this state's data on the job's page.
/// </summary>
internal sealed class LeasedState(string provider, string leaseId, DateTimeOffset leasedAt, DateTimeOffset expiresAt) : IState
{
    /// <summary>The state's name in Hangfire's storage.</summary>
    public const string StateName = "Leased";

    /// <inheritdoc/>
    public string Name => StateName;

    /// <inheritdoc/>
    public string Reason => $"Leased by {provider} until {expiresAt.ToString("u", CultureInfo.InvariantCulture)}";

    /// <inheritdoc/>
    public bool IsFinal => false;

    /// <inheritdoc/>
    public bool IgnoreJobLoadException => false;

    /// <inheritdoc/>
    public Dictionary<string, string> SerializeData() => new()
    {
        ["Provider"] = provider,
        ["LeaseId"] = leaseId,
        ["LeasedAt"] = leasedAt.ToString("O", CultureInfo.InvariantCulture),
        ["ExpiresAt"] = expiresAt.ToString("O", CultureInfo.InvariantCulture),
    };
}
