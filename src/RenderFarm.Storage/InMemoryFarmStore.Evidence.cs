namespace RenderFarm.Storage;

/// <summary>Providers' sample-count evidence, in memory.</summary>
public sealed partial class InMemoryFarmStore
{
    private readonly Dictionary<string, (long Checks, IReadOnlyList<double> Sums)> _sampleEvidence = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public Task<(long Checks, IReadOnlyList<double> Sums)> GetProviderSampleEvidenceAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_sampleEvidence.TryGetValue(address.ToLowerInvariant(), out var stored) ? stored : (0L, (IReadOnlyList<double>)[]));
        }
    }

    /// <inheritdoc/>
    public Task<(long Checks, IReadOnlyList<double> Sums)> UpdateProviderSampleEvidenceAsync(
        string address,
        Func<(long Checks, IReadOnlyList<double> Sums), (long Checks, IReadOnlyList<double> Sums)> update,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentNullException.ThrowIfNull(update);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            string key = address.ToLowerInvariant();
            (long Checks, IReadOnlyList<double> Sums) stored = _sampleEvidence.TryGetValue(key, out var found) ? found : (0L, []);
            (long Checks, IReadOnlyList<double> Sums) updated = update(stored);
            updated = (updated.Checks, SampleEvidenceRules.Validate(stored.Checks, updated));
            _sampleEvidence[key] = updated;
            return Task.FromResult(updated);
        }
    }
}
