namespace RenderFarm.Storage;

/// <summary>Providers' sample-count evidence, in PostgreSQL (<c>provider_sample_evidence</c>).</summary>
public sealed partial class PostgresFarmStore
{
    /// <inheritdoc/>
    public async Task<(long Checks, IReadOnlyList<double> Sums)> GetProviderSampleEvidenceAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        IReadOnlyList<(long, IReadOnlyList<double>)> rows = await QueryAsync(
            $"SELECT checks, sums FROM {Schema}.provider_sample_evidence WHERE address_key = @key",
            reader => (reader.GetInt64(0), (IReadOnlyList<double>)reader.GetFieldValue<double[]>(1)),
            cancellationToken,
            ("key", address.ToLowerInvariant())).ConfigureAwait(false);
        return rows.Count == 0 ? (0, []) : rows[0];
    }

    /// <inheritdoc/>
    public async Task<(long Checks, IReadOnlyList<double> Sums)> UpdateProviderSampleEvidenceAsync(
        string address,
        Func<(long Checks, IReadOnlyList<double> Sums), (long Checks, IReadOnlyList<double> Sums)> update,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentNullException.ThrowIfNull(update);
        string key = address.ToLowerInvariant();
        while (true)
        {
            // The check count is the row's version: an update applies only to the evidence it was computed from.
            (long Checks, IReadOnlyList<double> Sums) stored = await GetProviderSampleEvidenceAsync(address, cancellationToken).ConfigureAwait(false);
            (long Checks, IReadOnlyList<double> Sums) updated = update(stored);
            IReadOnlyList<double> sums = SampleEvidenceRules.Validate(stored.Checks, updated);
            int changed = await ExecuteAsync(
                $"""
                INSERT INTO {Schema}.provider_sample_evidence AS e (address_key, checks, sums)
                VALUES (@key, @checks, @sums)
                ON CONFLICT (address_key) DO UPDATE SET checks = EXCLUDED.checks, sums = EXCLUDED.sums
                WHERE e.checks = @stored
                """,
                cancellationToken,
                ("key", key),
                ("checks", updated.Checks),
                ("sums", sums.ToArray()),
                ("stored", stored.Checks)).ConfigureAwait(false);
            if (changed == 1)
            {
                return (updated.Checks, sums);
            }
        }
    }
}
