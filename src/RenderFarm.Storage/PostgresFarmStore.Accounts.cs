using Npgsql;
using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <content>Providers, API keys, secrets and one-time values.</content>
public sealed partial class PostgresFarmStore
{
    /// <inheritdoc/>
    public async Task UpsertProviderAsync(ProviderRecord provider, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateProvider(provider);
        await ExecuteAsync(
            $"""
            INSERT INTO {Schema}.providers (address_key, address, registered_at, last_seen_at, device, verified_frames, times_caught)
            VALUES (@key, @address, @registered, @seen, @device, @verified, @caught)
            ON CONFLICT (address_key) DO UPDATE SET
                address = EXCLUDED.address, registered_at = EXCLUDED.registered_at,
                last_seen_at = EXCLUDED.last_seen_at, device = EXCLUDED.device
            """,
            cancellationToken,
            ("key", provider.Address.ToLowerInvariant()),
            ("address", provider.Address),
            ("registered", provider.RegisteredAt.ToUniversalTime()),
            ("seen", provider.LastSeenAt.ToUniversalTime()),
            ("device", provider.Device),
            ("verified", provider.VerifiedFrames),
            ("caught", provider.TimesCaught)).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<ProviderRecord> AddProviderCountsAsync(string address, long verifiedFrames, int timesCaught, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateProviderCounts(address, verifiedFrames, timesCaught);

        // One statement: the row lock of the upsert makes concurrent additions add up.
        IReadOnlyList<ProviderRecord> providers = await QueryAsync(
            $"""
            INSERT INTO {Schema}.providers AS p (address_key, address, registered_at, last_seen_at, device, verified_frames, times_caught)
            VALUES (@key, @address, @now, @now, NULL, @verified, @caught)
            ON CONFLICT (address_key) DO UPDATE SET
                verified_frames = p.verified_frames + EXCLUDED.verified_frames,
                times_caught = p.times_caught + EXCLUDED.times_caught
            RETURNING {ProviderColumns}
            """,
            ReadProvider,
            cancellationToken,
            ("key", address.ToLowerInvariant()),
            ("address", address),
            ("now", _timeProvider.GetUtcNow().ToUniversalTime()),
            ("verified", verifiedFrames),
            ("caught", timesCaught)).ConfigureAwait(false);
        return providers[0];
    }

    /// <inheritdoc/>
    public async Task<ProviderRecord?> GetProviderAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        IReadOnlyList<ProviderRecord> providers = await QueryAsync(
            $"SELECT {ProviderColumns} FROM {Schema}.providers WHERE address_key = @key",
            ReadProvider,
            cancellationToken,
            ("key", address.ToLowerInvariant())).ConfigureAwait(false);
        return providers.Count == 0 ? null : providers[0];
    }

    /// <inheritdoc/>
    public async Task<(long Frames, double Upper, double Lower)> GetProviderEvidenceAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        IReadOnlyList<(long, double, double)> rows = await QueryAsync(
            $"SELECT frames, upper_sum, lower_sum FROM {Schema}.provider_evidence WHERE address_key = @key",
            reader => (reader.GetInt64(0), reader.GetDouble(1), reader.GetDouble(2)),
            cancellationToken,
            ("key", address.ToLowerInvariant())).ConfigureAwait(false);
        return rows.Count == 0 ? default : rows[0];
    }

    /// <inheritdoc/>
    public async Task<(long Frames, double Upper, double Lower)> UpdateProviderEvidenceAsync(
        string address,
        Func<(long Frames, double Upper, double Lower), (long Frames, double Upper, double Lower)> update,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentNullException.ThrowIfNull(update);
        string key = address.ToLowerInvariant();
        while (true)
        {
            // The frame count is the row's version: an update applies only to the evidence it was computed from.
            (long Frames, double Upper, double Lower) stored = await GetProviderEvidenceAsync(address, cancellationToken).ConfigureAwait(false);
            (long Frames, double Upper, double Lower) updated = update(stored);
            FarmRecordRules.ValidateEvidence(stored.Frames, updated);
            int changed = await ExecuteAsync(
                $"""
                INSERT INTO {Schema}.provider_evidence AS e (address_key, frames, upper_sum, lower_sum)
                VALUES (@key, @frames, @upper, @lower)
                ON CONFLICT (address_key) DO UPDATE SET frames = EXCLUDED.frames, upper_sum = EXCLUDED.upper_sum, lower_sum = EXCLUDED.lower_sum
                WHERE e.frames = @stored
                """,
                cancellationToken,
                ("key", key),
                ("frames", updated.Frames),
                ("upper", updated.Upper),
                ("lower", updated.Lower),
                ("stored", stored.Frames)).ConfigureAwait(false);
            if (changed == 1)
            {
                return updated;
            }
        }
    }

    private static ProviderRecord ReadProvider(NpgsqlDataReader reader) => new()
    {
        Address = reader.GetString(0),
        RegisteredAt = reader.GetFieldValue<DateTimeOffset>(1),
        LastSeenAt = reader.GetFieldValue<DateTimeOffset>(2),
        Device = NullableString(reader, 3),
        VerifiedFrames = reader.GetInt64(4),
        TimesCaught = reader.GetInt32(5),
    };

    /// <inheritdoc/>
    public async Task<bool> TryConsumeOnceAsync(string value, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);

        // A row still live blocks the insert; an expired one is taken over, as if it had been deleted.
        int rows = await ExecuteAsync(
            $"""
            INSERT INTO {Schema}.once_values AS o (value, expires_at) VALUES (@value, @expires)
            ON CONFLICT (value) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE o.expires_at < @now
            """,
            cancellationToken,
            ("value", value),
            ("expires", expiresAt.ToUniversalTime()),
            ("now", _timeProvider.GetUtcNow().ToUniversalTime())).ConfigureAwait(false);
        return rows == 1;
    }

    /// <inheritdoc/>
    public async Task CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateApiKey(key);
        try
        {
            await ExecuteAsync(
                $"INSERT INTO {Schema}.api_keys ({ApiKeyColumns}) VALUES (@id, @account, @sha256, @created, @revoked)",
                cancellationToken,
                ("id", key.Id),
                ("account", key.Account),
                ("sha256", key.Sha256),
                ("created", key.CreatedAt.ToUniversalTime()),
                ("revoked", key.RevokedAt?.ToUniversalTime())).ConfigureAwait(false);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new InvalidOperationException($"API key {key.Id} already exists.", exception);
        }
    }

    /// <inheritdoc/>
    public async Task<ApiKeyRecord?> GetApiKeyAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        IReadOnlyList<ApiKeyRecord> keys = await QueryAsync(
            $"SELECT {ApiKeyColumns} FROM {Schema}.api_keys WHERE id = @id",
            ReadApiKey,
            cancellationToken,
            ("id", id)).ConfigureAwait(false);
        return keys.Count == 0 ? null : keys[0];
    }

    /// <inheritdoc/>
    public async Task<bool> TryRevokeApiKeyAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        int rows = await ExecuteAsync(
            $"UPDATE {Schema}.api_keys SET revoked_at = @revoked WHERE id = @id AND revoked_at IS NULL",
            cancellationToken,
            ("id", id),
            ("revoked", revokedAt.ToUniversalTime())).ConfigureAwait(false);
        return rows == 1;
    }

    /// <inheritdoc/>
    public async Task<string> GetOrAddSecretAsync(string name, string candidate, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(candidate);

        // The no-op update makes RETURNING give the stored row when another insert came first.
        IReadOnlyList<string> stored = await QueryAsync(
            $"""
            INSERT INTO {Schema}.secrets AS s (name, value) VALUES (@name, @value)
            ON CONFLICT (name) DO UPDATE SET name = s.name
            RETURNING s.value
            """,
            reader => reader.GetString(0),
            cancellationToken,
            ("name", name),
            ("value", candidate)).ConfigureAwait(false);
        return stored[0];
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<ProviderRecord>> ListProvidersAsync(int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return QueryAsync(
            $"SELECT {ProviderColumns} FROM {Schema}.providers ORDER BY last_seen_at DESC, address_key LIMIT @limit",
            ReadProvider,
            cancellationToken,
            ("limit", limit));
    }

    /// <summary>Deletes one-time values past their expiry; a maintenance job calls it now and then.</summary>
    /// <returns>How many were deleted.</returns>
    public Task<int> DeleteExpiredOnceValuesAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            $"DELETE FROM {Schema}.once_values WHERE expires_at < @now",
            cancellationToken,
            ("now", _timeProvider.GetUtcNow().ToUniversalTime()));

    private static ApiKeyRecord ReadApiKey(NpgsqlDataReader reader) => new()
    {
        Id = reader.GetString(0),
        Account = reader.GetString(1),
        Sha256 = reader.GetString(2),
        CreatedAt = reader.GetFieldValue<DateTimeOffset>(3),
        RevokedAt = NullableTime(reader, 4),
    };
}
